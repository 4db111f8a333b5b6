/*
 * tools_audit.c: the audit log tools (list, verify), over the public audit
 * API.
 */
#include "registry.h"

int hl_tool__homelab_audit_list(struct json_object **out, hl_ctx *ctx, struct json_object *args,
                                const hl_call_options *opts)
{
	hl_audit_filter f = HL_AUDIT_FILTER_INIT;
	hl_audit_array *list = NULL;
	struct json_object *o = NULL, *arr = NULL;
	int64_t limit;
	int err;

	(void)opts;
	if (hl_json__get_int(args, "limit", &limit))
		f.limit = (size_t)limit;
	f.action = hl_json__get_str(args, "action");
	f.since = hl_json__get_str(args, "since");
	if ((err = hl_audit_list(&list, ctx, &f)) < 0)
		return err;
	if (!(o = json_object_new_object()) || !(arr = json_object_new_array_ext((int)list->count))) {
		err = hl__oom();
		goto out;
	}
	for (size_t i = 0; i < list->count && err == 0; i++) {
		const hl_audit_entry *e = list->items[i];
		struct json_object *r = json_object_new_object();
		if (!r) {
			err = hl__oom();
			break;
		}
		if ((err = hl_json__put_int_or_null(r, "seq", e->seq)) < 0 ||
		    (err = hl_json__put_str(r, "timestamp", e->timestamp)) < 0 ||
		    (err = hl_json__put_str(r, "action", e->action)) < 0 ||
		    (err = hl_json__put_str(r, "result", e->result)) < 0 ||
		    (err = hl_json__put_str(r, "target_type", e->target_type)) < 0 ||
		    (err = hl_json__put_str(r, "target_id", e->target_id)) < 0 ||
		    (err = hl_json__put_str(r, "principal", e->principal)) < 0 ||
		    (err = hl_json__put_str(r, "client", e->client_addr)) < 0 ||
		    (err = hl_json__put_str(r, "details", e->details)) < 0) {
			json_object_put(r);
			break;
		}
		err = hl_json__append(arr, r);
	}
	if (err == 0) {
		err = hl_json__put(o, "entries", arr);
		arr = NULL;
	}
	if (err == 0)
		err = hl_json__put_int(o, "count", (int64_t)list->count);
out:
	json_object_put(arr);
	hl_audit_array_free(list);
	if (err < 0)
		json_object_put(o);
	else
		*out = o;
	return err;
}

int hl_tool__homelab_audit_verify(struct json_object **out, hl_ctx *ctx, struct json_object *args,
                                  const hl_call_options *opts)
{
	hl_audit_report *r = NULL;
	struct json_object *o = NULL;
	int err;

	(void)args;
	(void)opts;
	/* A broken chain is a result (intact: false), not a failure of the tool. */
	err = hl_audit_verify(&r, ctx);
	if (err < 0 && err != HL_EINTEGRITY)
		return err;
	hl_error_clear();
	if (!(o = json_object_new_object()) || (err = hl_json__put_bool(o, "intact", r->intact)) < 0 ||
	    (err = hl_json__put_int(o, "rows", r->rows)) < 0 || (err = hl_json__put_int(o, "head_seq", r->head_seq)) < 0 ||
	    (err = hl_json__put_str(o, "head_hash", r->head_hash)) < 0 ||
	    (err = hl_json__put_int_or_null(o, "bad_seq", r->intact ? 0 : r->bad_seq)) < 0 ||
	    (err = hl_json__put_str(o, "problem", r->problem)) < 0) {
		if (!o)
			err = hl__oom();
		json_object_put(o);
		hl_audit_report_free(r);
		return err;
	}
	hl_audit_report_free(r);
	*out = o;
	return 0;
}
