/*
 * cmd_audit.c: `homelab audit list|verify`, through the tools
 * homelab_audit_list and homelab_audit_verify: the CLI shows what an MCP
 * client or a Python script gets.
 */
#include "cli.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static int audit_list(struct cli *c, int argc, char **argv)
{
	static const char *const spec[] = { "limit=", "action=", "since=", NULL };
	char pairs[3][320];
	const char *p[3];
	struct cli_args a;
	int n = 0, rc;

	if ((rc = cli_parse(&a, argc, argv, spec)) != CLI_OK)
		return rc;
	if (a.npos)
		return cli_usage_error("usage: homelab audit list [--limit N] [--action A] [--since T]");
	/* the tool's schema types and checks the values (limit: 1-10000) */
	for (int i = 0; i < 3; i++) {
		static const char *const keys[] = { "limit", "action", "since" };
		const char *v = cli_opt(&a, keys[i]);
		if (!v)
			continue;
		snprintf(pairs[n], sizeof(pairs[n]), "%s=%s", keys[i], v);
		p[n] = pairs[n];
		n++;
	}
	return cli_call_tool(c, "homelab_audit_list", n, p);
}

static int audit_verify(struct cli *c, int argc, char **argv)
{
	struct json_object *r = NULL, *v;
	hl_buf out = HL_BUF_INIT;
	bool intact;
	int rc;

	(void)argv;
	if (argc)
		return cli_usage_error("usage: homelab audit verify");
	if ((rc = cli_tool_result(c, "homelab_audit_verify", NULL, &out)) != CLI_OK)
		return rc;
	r = json_tokener_parse(out.ptr);
	intact = json_object_object_get_ex(r, "intact", &v) && json_object_get_boolean(v);
	if (c->json) {
		puts(out.ptr);
	} else if (intact) {
		json_object_object_get_ex(r, "rows", &v);
		printf("audit log %s: intact, %lld rows\n", hl_audit_db_path(c->ctx), (long long)json_object_get_int64(v));
		if (json_object_object_get_ex(r, "head_hash", &v) && json_object_get_string(v)) {
			const char *hash = json_object_get_string(v);
			json_object_object_get_ex(r, "head_seq", &v);
			printf("head: row %lld, hash %s\n", (long long)json_object_get_int64(v), hash);
		}
	}
	if (!intact) {
		json_object_object_get_ex(r, "problem", &v);
		fprintf(stderr, "homelab: %s\n", v ? json_object_get_string(v) : "the audit log is not intact");
	}
	json_object_put(r);
	hl_buf_dispose(&out);
	return intact ? CLI_OK : CLI_ERROR;
}

int cmd_audit(struct cli *c, int argc, char **argv)
{
	if (!strcmp(argv[1], "list"))
		return audit_list(c, argc - 2, argv + 2);
	if (!strcmp(argv[1], "verify"))
		return audit_verify(c, argc - 2, argv + 2);
	return cli_usage_error("unknown subcommand 'audit %s' (try 'homelab audit --help')", argv[1]);
}
