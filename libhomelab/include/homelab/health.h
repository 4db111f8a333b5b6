/*
 * homelab/health.h: HTTP health checks of inventory services.
 */
#ifndef HOMELAB_HEALTH_H
#define HOMELAB_HEALTH_H

#include "common.h"
#include "ctx.h"

HL_BEGIN_DECL

typedef enum {
	HL_HEALTH_HEALTHY = 0,     /**< answered with a 2xx or 3xx status */
	HL_HEALTH_UNHEALTHY = 1,   /**< answered with another status */
	HL_HEALTH_UNREACHABLE = 2  /**< no answer: refused, timed out, DNS, TLS */
} hl_health_state;

typedef struct hl_health {
	char *service;        /**< service_name */
	char *url;            /**< the URL probed */
	int state;            /**< an hl_health_state */
	long http_status;     /**< 0 when unreachable */
	double elapsed_ms;    /**< time to the full answer */
	char *error;          /**< why it is unreachable or unhealthy; NULL when healthy */
	int tcp;              /**< 1: a TCP connect check (a port without a URL); url is tcp://IP:PORT */
	int https;            /**< 1: the probe used TLS */
	char *ca_file;        /**< the service's own CA file, NULL: the system's CAs */
	int insecure;         /**< 1: the certificate is not verified (explicitly set for the service) */
} hl_health;

/**
 * Probe a service by name or id. A service with a port but no URL, no
 * health endpoint and no http/https protocol gets a TCP connect check on
 * its VM's address instead (healthy when the port accepts).: GET its health_endpoint (a path joined to
 * its url, or a full URL), falling back to its url. Redirects are not
 * followed. A service that answers badly is still a successful check: look
 * at state.
 *
 * @param timeout_ms  0: 5000
 * @return 0, HL_ENOTFOUND (no such service), HL_EINVALID (no URL to probe)
 */
HL_EXTERN(int) hl_health_check(hl_health **out, hl_ctx *ctx, const char *service, int timeout_ms);

/** "healthy", "unhealthy" or "unreachable". */
HL_EXTERN(const char *) hl_health_state_name(int state);

HL_EXTERN(void) hl_health_free(hl_health *h);

/** TLS settings of a service's health check (HTTPS is verified by default). */
typedef struct {
	unsigned int version;
	const char *ca_file; /**< absolute path of a PEM CA file to verify against; NULL or "": the system's */
	int insecure;        /**< 1: do not verify the certificate (self-signed, no CA file); excludes ca_file */
} hl_health_tls;

#define HL_HEALTH_TLS_VERSION 1
#define HL_HEALTH_TLS_INIT { .version = HL_HEALTH_TLS_VERSION }

/**
 * Set a service's TLS settings (both fields replace the old ones; a zeroed
 * struct restores verification against the system's CAs).
 * @return 0, HL_ENOTFOUND, HL_EINVALID (both set, relative or unreadable
 *         CA file), HL_EREADONLY
 */
HL_EXTERN(int) hl_health_set_tls(hl_ctx *ctx, const char *service, const hl_health_tls *tls);

/**
 * A service's TLS settings.
 * @param[out] ca_file   the CA file (free with hl_health_string_free), NULL when none
 * @param[out] insecure  1 when verification is off
 */
HL_EXTERN(int) hl_health_get_tls(char **ca_file, int *insecure, hl_ctx *ctx, const char *service);

/** Free a string hl_health_get_tls returned. Accepts NULL. */
HL_EXTERN(void) hl_health_string_free(char *s);

HL_END_DECL

#endif
