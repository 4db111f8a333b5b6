/*
 * health_priv.h: concurrent health probes, shared by hl_health_check and
 * the health tools (tools_health.c).
 */
#ifndef HL_HEALTH_PRIVATE_H
#define HL_HEALTH_PRIVATE_H

#include "hl.h"

/* One service's outcome: health, or (not checked) the reason. */
typedef struct {
	hl_health *health;
	char *not_checked;
} hl_health_result;

/* Called with i (0..n-1) in order, once services 0..i-1 have answered, i = 0
 * at the start: service i is the next one waited for. Also with n about
 * every 100 ms while transfers run (no new report: a chance to stop, for
 * a caller that was cancelled). Non-zero stops. */
typedef int (*hl_health__report_fn)(size_t next, void *payload);

/* Probe n services at once (at most $HOMELAB_HEALTH_PARALLEL, default 16,
 * transfers in flight, started in order). res[i] is svcs[i]'s outcome. A
 * report that says stop ends every transfer: HL_EUSER. */
int hl_health__probe_all(hl_health_result *res, hl_ctx *ctx, const hl_service *const *svcs, size_t n,
                         int timeout_ms, hl_health__report_fn report, void *payload);
void hl_health__results_free(hl_health_result *res, size_t n);

#endif
