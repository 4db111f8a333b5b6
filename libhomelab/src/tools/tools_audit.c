/*
 * tools_audit.c: the audit log tools (list, verify), over the public audit
 * API.
 */
#include "registry.h"

#include <stdio.h>

int hl_tool__homelab_audit_list(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	hl_audit_filter f = HL_AUDIT_FILTER_INIT;
	hl_audit_array *list = NULL;
	int64_t limit;
	hl_jw w;
	int err;

	(void)opts;
	if (hl_json__get_int(args, "limit", &limit))
		f.limit = (size_t)limit;
	f.action = hl_json__get_str(args, "action");
	f.since = hl_json__get_str(args, "since");
	if ((err = hl_audit_list(&list, ctx, &f)) < 0)
		return err;
	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	hl_jw__key(&w, "entries");
	hl_jw__arr(&w);
	for (size_t i = 0; i < list->count && w.err == 0; i++) {
		const hl_audit_entry *e = list->items[i];
		hl_jw__obj(&w);
		hl_jw__kint_or_null(&w, "seq", e->seq);
		hl_jw__kstr(&w, "timestamp", e->timestamp);
		hl_jw__kstr(&w, "action", e->action);
		hl_jw__kstr(&w, "result", e->result);
		hl_jw__kstr(&w, "target_type", e->target_type);
		hl_jw__kstr(&w, "target_id", e->target_id);
		hl_jw__kstr(&w, "principal", e->principal);
		hl_jw__kstr(&w, "client", e->client_addr);
		hl_jw__kstr(&w, "details", e->details);
		hl_jw__end_obj(&w);
	}
	hl_jw__end_arr(&w);
	hl_jw__kint(&w, "count", (int64_t)list->count);
	hl_jw__end_obj(&w);
	hl_audit_array_free(list);
	return hl_jw__finish(&w);
}

int hl_tool__homelab_audit_verify(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	hl_audit_report *r = NULL;
	char head[96] = "";
	hl_jw w;
	int err;

	(void)opts;
	/* A broken chain is a result (intact: false), not a failure of the tool. */
	err = hl_audit_verify_head(&r, ctx, hl_json__get_str(args, "head"));
	if (err < 0 && err != HL_EINTEGRITY)
		return err;
	hl_error_clear();
	if (r->intact && r->head_hash)
		snprintf(head, sizeof(head), "%lld:%s", (long long)r->head_seq, r->head_hash);
	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	hl_jw__kbool(&w, "intact", r->intact);
	hl_jw__kint(&w, "rows", r->rows);
	hl_jw__kint(&w, "head_seq", r->head_seq);
	hl_jw__kstr(&w, "head_hash", r->head_hash);
	hl_jw__kstr(&w, "head", head[0] ? head : NULL);
	hl_jw__kstr(&w, "key_id", r->key_id);
	hl_jw__kint_or_null(&w, "bad_seq", r->intact ? 0 : r->bad_seq);
	hl_jw__kint_or_null(&w, "bad_id", r->intact ? 0 : r->bad_id);
	hl_jw__kstr(&w, "problem", r->problem);
	hl_jw__end_obj(&w);
	hl_audit_report_free(r);
	return hl_jw__finish(&w);
}
