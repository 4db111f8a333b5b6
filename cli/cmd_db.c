/*
 * cmd_db.c: `homelab db init|info|path`.
 */
#include "cli.h"

#include <json-c/json.h>
#include <string.h>

/* The "count" of a list tool's result. */
static int count(struct cli *c, const char *tool, long long *out)
{
	hl_buf b = HL_BUF_INIT;
	struct json_object *o, *n;
	int err = hl_tool_call(&b, c->ctx, hl_tool_lookup(tool), NULL, NULL);

	*out = -1;
	if (err < 0)
		return err;
	o = json_tokener_parse(b.ptr);
	if (json_object_object_get_ex(o, "count", &n))
		*out = json_object_get_int64(n);
	json_object_put(o);
	hl_buf_dispose(&b);
	return 0;
}

int cmd_db(struct cli *c, int argc, char **argv)
{
	static const char *const init_opts[] = { "demo", NULL };
	const char *sub = argv[1];
	struct cli_args a;
	hl_ctx *ctx;
	int rc = CLI_OK, err;

	if (!strcmp(sub, "path")) {
		hl_buf path = HL_BUF_INIT;
		if (argc > 2)
			return cli_usage_error("db path takes no arguments");
		if (c->db_path) {
			puts(c->db_path);
			return CLI_OK;
		}
		if ((err = hl_default_db_path(&path)) < 0)
			return cli_fail(err);
		puts(path.ptr);
		hl_buf_dispose(&path);
		return CLI_OK;
	}
	if (!strcmp(sub, "init")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, init_opts)) != CLI_OK)
			return rc;
		if (a.npos)
			return cli_usage_error("usage: homelab db init [--demo]");
		c->create_db = true;
		if (!(ctx = cli_ctx(c, &rc)))
			return rc;
		if (cli_flag(&a, "demo") && (err = hl_inventory_load_demo(ctx)) < 0)
			return cli_fail(err);
		printf("%s: schema version %d%s\n", hl_ctx_db_path(ctx), hl_ctx_schema_version(ctx),
		       cli_flag(&a, "demo") ? ", demo inventory loaded" : "");
		return CLI_OK;
	}
	if (!strcmp(sub, "info")) {
		long long vms, hosts, svcs, ips;
		if (argc > 2)
			return cli_usage_error("db info takes no arguments");
		if (!(ctx = cli_ctx(c, &rc)))
			return rc;
		if ((err = count(c, "homelab_list_vms", &vms)) < 0 || (err = count(c, "homelab_list_hosts", &hosts)) < 0 ||
		    (err = count(c, "homelab_list_services", &svcs)) < 0 || (err = count(c, "homelab_list_ips", &ips)) < 0)
			return cli_fail(err);
		if (c->json) {
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "path", json_object_new_string(hl_ctx_db_path(ctx)));
			json_object_object_add(o, "schema_version", json_object_new_int(hl_ctx_schema_version(ctx)));
			json_object_object_add(o, "read_only", json_object_new_boolean(hl_ctx_readonly(ctx)));
			json_object_object_add(o, "vms", json_object_new_int64(vms));
			json_object_object_add(o, "hosts", json_object_new_int64(hosts));
			json_object_object_add(o, "services", json_object_new_int64(svcs));
			json_object_object_add(o, "ip_allocations", json_object_new_int64(ips));
			puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(o);
		} else {
			printf("path:           %s\nschema version: %d\nread-only:      %s\nvms:            %lld\n"
			       "hosts:          %lld\nservices:       %lld\nip allocations: %lld\n", hl_ctx_db_path(ctx),
			       hl_ctx_schema_version(ctx), hl_ctx_readonly(ctx) ? "yes" : "no", vms, hosts, svcs, ips);
		}
		return CLI_OK;
	}
	return cli_usage_error("unknown subcommand 'db %s' (try 'homelab db --help')", sub);
}
