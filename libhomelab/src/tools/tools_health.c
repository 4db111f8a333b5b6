/*
 * tools_health.c: homelab_check_service_health and
 * homelab_check_all_services (health.c probes; many at once for the
 * second, results in name order, progress as the answers come in).
 */
#include "registry.h"
#include "health_priv.h"

#include <stdio.h>

static int timeout_of(struct json_object *args, const hl_call_options *opts)
{
	struct json_object *t;

	if (json_object_object_get_ex(args, "timeout_s", &t))
		return (int)(json_object_get_double(t) * 1000.0);
	return opts->timeout_ms > 0 ? opts->timeout_ms : 5000;
}

/* The fields of one probed service (inside its object). */
static void write_health(hl_jw *w, const hl_health *h)
{
	hl_jw__kstr(w, "url", h->url);
	hl_jw__kstr(w, "status", hl_health_state_name(h->state));
	hl_jw__kbool(w, "healthy", h->state == HL_HEALTH_HEALTHY);
	hl_jw__kint_or_null(w, "http_status", h->http_status);
	hl_jw__kdouble(w, "response_time_ms", (double)(int64_t)(h->elapsed_ms * 10) / 10.0);
	hl_jw__kstr(w, "check", h->tcp ? "tcp" : "http");
	if (h->https || h->ca_file || h->insecure) {
		hl_jw__key(w, "tls");
		hl_jw__obj(w);
		hl_jw__kbool(w, "verify", !h->insecure);
		hl_jw__kstr(w, "ca_file", h->ca_file);
		hl_jw__end_obj(w);
	}
	if (h->error)
		hl_jw__kstr(w, "error", h->error);
}

int hl_tool__homelab_check_service_health(hl_buf *out, hl_ctx *ctx, struct json_object *args,
                                          const hl_call_options *opts)
{
	hl_health *h = NULL;
	hl_jw w;
	int err;

	if ((err = hl_health_check(&h, ctx, hl_json__get_str(args, "name"), timeout_of(args, opts))) < 0)
		return err;
	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	hl_jw__kstr(&w, "service_name", h->service);
	write_health(&w, h);
	hl_jw__end_obj(&w);
	hl_health_free(h);
	return hl_jw__finish(&w);
}

struct report {
	const hl_call_options *opts;
	const hl_service_array *list;
};

static int report_next(size_t next, void *payload)
{
	struct report *r = payload;
	char line[200];
	hl_progress p = { line, (double)next, (double)r->list->count };

	if (hl_tool_should_stop(r->opts))
		return 1; /* the caller cancelled: the checks not answered yet are not waited for */
	if (next >= r->list->count || !r->opts->progress)
		return 0;
	snprintf(line, sizeof(line), "checking %.100s", r->list->items[next]->name);
	return r->opts->progress(&p, r->opts->payload);
}

int hl_tool__homelab_check_all_services(hl_buf *out, hl_ctx *ctx, struct json_object *args,
                                        const hl_call_options *opts)
{
	hl_service_array *list = NULL;
	hl_health_result *res = NULL;
	struct json_object *vm;
	int64_t counts[4] = { 0 }; /* healthy, unhealthy, unreachable, not checked */
	struct report rep;
	char num[32];
	const char *vm_ref = NULL;
	hl_jw w;
	int err;

	if (json_object_object_get_ex(args, "vm_id", &vm)) {
		if (json_object_is_type(vm, json_type_string)) {
			vm_ref = json_object_get_string(vm);
		} else {
			snprintf(num, sizeof(num), "%lld", (long long)json_object_get_int64(vm));
			vm_ref = num;
		}
	}
	if ((err = hl_service_list(&list, ctx, vm_ref)) < 0)
		return err;
	if (list->count && !(res = hl__calloc(list->count, sizeof(*res)))) {
		hl_service_array_free(list);
		return HL_ENOMEM;
	}
	rep.opts = opts;
	rep.list = list;
	if ((err = hl_health__probe_all(res, ctx, (const hl_service *const *)list->items, list->count,
	                                timeout_of(args, opts), report_next, &rep)) < 0)
		goto out;
	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	hl_jw__key(&w, "services");
	hl_jw__arr(&w);
	for (size_t i = 0; i < list->count; i++) {
		const hl_service *s = list->items[i];
		hl_jw__obj(&w);
		hl_jw__kstr(&w, "service_name", s->name);
		if (res[i].health) {
			const hl_health *h = res[i].health;
			write_health(&w, h);
			counts[h->state]++;
			if (h->http_status)
				hl_tool__log(opts, h->state == HL_HEALTH_HEALTHY ? HL_LOG_INFO : HL_LOG_WARNING, "health",
				             "%.100s: %s (HTTP %d in %.1f ms)", s->name, hl_health_state_name(h->state),
				             (int)h->http_status, h->elapsed_ms);
			else
				hl_tool__log(opts, h->state == HL_HEALTH_HEALTHY ? HL_LOG_INFO : HL_LOG_WARNING, "health",
				             "%.100s: %s (%.200s)", s->name, hl_health_state_name(h->state),
				             h->error ? h->error : h->tcp ? "TCP connect" : "no answer");
		} else {
			hl_tool__log(opts, HL_LOG_NOTICE, "health", "%.100s: not checked (%s)", s->name, res[i].not_checked);
			/* no URL to probe: a finding, not a failure of the whole check */
			hl_jw__kstr(&w, "url", s->url);
			hl_jw__kstr(&w, "status", "not_checked");
			hl_jw__kbool(&w, "healthy", false);
			hl_jw__kint_or_null(&w, "http_status", 0);
			hl_jw__key(&w, "response_time_ms");
			hl_jw__null(&w);
			hl_jw__kstr(&w, "error", res[i].not_checked);
			counts[3]++;
		}
		hl_jw__end_obj(&w);
	}
	hl_jw__end_arr(&w);
	hl_jw__kint(&w, "count", counts[0] + counts[1] + counts[2] + counts[3]);
	hl_jw__kint(&w, "healthy", counts[0]);
	hl_jw__kint(&w, "unhealthy", counts[1]);
	hl_jw__kint(&w, "unreachable", counts[2]);
	hl_jw__kint(&w, "not_checked", counts[3]);
	hl_jw__end_obj(&w);
	err = hl_jw__finish(&w);
out:
	hl_health__results_free(res, list->count);
	free(res);
	hl_service_array_free(list);
	return err;
}
