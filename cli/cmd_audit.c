/*
 * cmd_audit.c: `homelab audit list|verify`.
 */
#include "cli.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static int audit_list(struct cli *c, int argc, char **argv)
{
	static const char *const spec[] = { "limit=", "action=", "since=", NULL };
	hl_audit_filter f = HL_AUDIT_FILTER_INIT;
	hl_audit_array *list = NULL;
	struct json_object *o, *arr;
	struct cli_args a;
	const char *limit;
	hl_ctx *ctx;
	int rc, err;

	if ((rc = cli_parse(&a, argc, argv, spec)) != CLI_OK)
		return rc;
	if (a.npos)
		return cli_usage_error("usage: homelab audit list [--limit N] [--action A] [--since T]");
	if ((limit = cli_opt(&a, "limit"))) {
		char *end;
		long n = strtol(limit, &end, 10);
		if (!*limit || *end || n < 1 || n > 1000000)
			return cli_usage_error("--limit: '%s' is not a number from 1 to 1000000", limit);
		f.limit = (size_t)n;
	}
	f.action = cli_opt(&a, "action");
	f.since = cli_opt(&a, "since");
	if (!(ctx = cli_ctx(c, &rc)))
		return rc;
	if ((err = hl_audit_list(&list, ctx, &f)) < 0)
		return cli_fail(err);
	o = json_object_new_object();
	arr = json_object_new_array();
	for (size_t i = 0; i < list->count; i++) {
		const hl_audit_entry *e = list->items[i];
		struct json_object *r = json_object_new_object();
		json_object_object_add(r, "seq", e->seq ? json_object_new_int64(e->seq) : NULL);
		json_object_object_add(r, "timestamp", cli_jstr(e->timestamp));
		json_object_object_add(r, "action", cli_jstr(e->action));
		json_object_object_add(r, "result", cli_jstr(e->result));
		json_object_object_add(r, "target_type", cli_jstr(e->target_type));
		json_object_object_add(r, "target_id", cli_jstr(e->target_id));
		json_object_object_add(r, "principal", cli_jstr(e->principal));
		json_object_object_add(r, "client", cli_jstr(e->client_addr));
		json_object_object_add(r, "details", cli_jstr(e->details));
		json_object_array_add(arr, r);
	}
	json_object_object_add(o, "entries", arr);
	json_object_object_add(o, "count", json_object_new_int64((int64_t)list->count));
	cli_print_object(c, o);
	hl_audit_array_free(list);
	return CLI_OK;
}

static int audit_verify(struct cli *c, int argc, char **argv)
{
	hl_audit_report *r = NULL;
	hl_ctx *ctx;
	int rc, err;

	(void)argv;
	if (argc)
		return cli_usage_error("usage: homelab audit verify");
	if (!(ctx = cli_ctx(c, &rc)))
		return rc;
	err = hl_audit_verify(&r, ctx);
	if (err < 0 && !r)
		return cli_fail(err);
	if (c->json) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "intact", json_object_new_boolean(r->intact));
		json_object_object_add(o, "rows", json_object_new_int64(r->rows));
		json_object_object_add(o, "head_seq", json_object_new_int64(r->head_seq));
		json_object_object_add(o, "head_hash", cli_jstr(r->head_hash));
		json_object_object_add(o, "bad_seq", r->intact ? NULL : json_object_new_int64(r->bad_seq));
		json_object_object_add(o, "bad_id", r->intact || !r->bad_id ? NULL : json_object_new_int64(r->bad_id));
		json_object_object_add(o, "problem", cli_jstr(r->problem));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else if (r->intact) {
		printf("audit log %s: intact, %lld rows\n", hl_audit_db_path(ctx), (long long)r->rows);
		if (r->head_hash)
			printf("head: row %lld, hash %s\n", (long long)r->head_seq, r->head_hash);
	}
	if (!r->intact)
		fprintf(stderr, "homelab: %s\n", r->problem);
	rc = r->intact ? CLI_OK : CLI_ERROR;
	hl_audit_report_free(r);
	return rc;
}

int cmd_audit(struct cli *c, int argc, char **argv)
{
	if (!strcmp(argv[1], "list"))
		return audit_list(c, argc - 2, argv + 2);
	if (!strcmp(argv[1], "verify"))
		return audit_verify(c, argc - 2, argv + 2);
	return cli_usage_error("unknown subcommand 'audit %s' (try 'homelab audit --help')", argv[1]);
}
