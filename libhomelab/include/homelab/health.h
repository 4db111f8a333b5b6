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
} hl_health;

/**
 * Probe a service by name or id: GET its health_endpoint (a path joined to
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

HL_END_DECL

#endif
