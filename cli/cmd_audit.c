/*
 * cmd_audit.c: `homelab audit list|verify|head`, through the tools
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

/* `audit verify [--head H]` and `audit head`: both check the whole chain. */
static int audit_verify(struct cli *c, int argc, char **argv, bool head_only)
{
	static const char *const spec[] = { "head=", NULL };
	struct json_object *r = NULL, *v, *args;
	hl_buf out = HL_BUF_INIT;
	struct cli_args a;
	const char *head = NULL, *given;
	bool intact;
	int rc;

	if ((rc = cli_parse(&a, argc, argv, head_only ? spec + 1 : spec)) != CLI_OK)
		return rc;
	if (a.npos)
		return cli_usage_error(head_only ? "usage: homelab audit head" : "usage: homelab audit verify [--head SEQ:HASH]");
	given = cli_opt(&a, "head");
	args = json_object_new_object();
	if (given)
		json_object_object_add(args, "head", json_object_new_string(given));
	rc = cli_tool_result(c, "homelab_audit_verify", json_object_to_json_string(args), &out);
	json_object_put(args);
	if (rc != CLI_OK)
		return rc;
	r = json_tokener_parse(out.ptr);
	intact = json_object_object_get_ex(r, "intact", &v) && json_object_get_boolean(v);
	if (json_object_object_get_ex(r, "head", &v) && json_object_get_string(v))
		head = json_object_get_string(v);
	if (c->json) {
		puts(out.ptr);
	} else if (intact && head_only) {
		puts(head ? head : "0:");
	} else if (intact) {
		json_object_object_get_ex(r, "rows", &v);
		printf("audit log %s: intact, %lld rows%s\n", hl_audit_db_path(c->ctx), (long long)json_object_get_int64(v),
		       given ? ", and it still holds the head given" : "");
		if (head)
			printf("head: %s\n", head);
		if (!given)
			printf("(checked against the head kept in the database; record the head elsewhere and check with "
			       "--head to catch a log cut back or wiped)\n");
	}
	if (!intact) {
		json_object_object_get_ex(r, "problem", &v);
		fprintf(stderr, "homelab: %s\n", v ? cli_safe(json_object_get_string(v)) : "the audit log is not intact");
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
		return audit_verify(c, argc - 2, argv + 2, false);
	if (!strcmp(argv[1], "head"))
		return audit_verify(c, argc - 2, argv + 2, true);
	return cli_usage_error("unknown subcommand 'audit %s' (try 'homelab audit --help')", argv[1]);
}
