/*
 * cmd_tokens.c: `homelab tokens create|list|revoke`: the bearer tokens that
 * clients of homelab-mcpd present.
 *
 * A token's text is printed once, when it is created, on stdout (so that it
 * can be piped into a secret store) and never again: the library keeps only
 * its hash. Listing shows metadata only. A token is never read from the
 * command line: `revoke` takes its name or public id.
 */
#include "cli.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DAYS 36500

/* Every --scope value, joined with commas (malloc'd), or NULL on OOM. */
static char *joined_scopes(const struct cli_args *a, int *count)
{
	size_t len = 0;
	char *out;

	*count = 0;
	for (int i = 0; i < a->nopts; i++)
		if (!strcmp(a->names[i], "scope="))
			len += strlen(a->values[i]) + 1;
	if (!(out = calloc(1, len + 1)))
		return NULL;
	for (int i = 0; i < a->nopts; i++) {
		if (strcmp(a->names[i], "scope=") != 0)
			continue;
		if ((*count)++)
			strcat(out, ",");
		strcat(out, a->values[i]);
	}
	return out;
}

static int parse_days(const char *s, int64_t *days)
{
	char *end = NULL;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < 1 || v > MAX_DAYS)
		return cli_usage_error("--expires-days: '%.40s' is not a number of days from 1 to %d", s, MAX_DAYS);
	*days = v;
	return CLI_OK;
}

static int tokens_create(struct cli *c, int argc, char **argv)
{
	static const char *const spec[] = { "scope=", "expires-days=", NULL };
	hl_token_spec s = HL_TOKEN_SPEC_INIT;
	hl_buf secret = HL_BUF_INIT;
	hl_token *t = NULL;
	struct cli_args a;
	const char *days_opt;
	char *scopes;
	int64_t days = 0;
	int rc, err, nscopes = 0;
	bool printed;

	if ((rc = cli_parse(&a, argc, argv, spec)) != CLI_OK)
		return rc;
	if (a.npos != 1)
		return cli_usage_error("usage: homelab tokens create NAME --scope S [--scope S ...] [--expires-days N]");
	if ((days_opt = cli_opt(&a, "expires-days")) && (rc = parse_days(days_opt, &days)) != CLI_OK)
		return rc;
	if (!(scopes = joined_scopes(&a, &nscopes))) {
		fprintf(stderr, "homelab: out of memory\n");
		return CLI_ERROR;
	}
	if (nscopes == 0) {
		free(scopes);
		return cli_usage_error("give at least one --scope (e.g. --scope inventory:read; '*' grants everything)");
	}
	if (!cli_ctx(c, &rc)) {
		free(scopes);
		return rc;
	}
	s.name = a.pos[0];
	s.scopes = scopes;
	s.expires = days * 86400;
	err = hl_token_create(&secret, &t, c->ctx, &s);
	free(scopes);
	if (err < 0)
		return cli_fail(err);
	/* Names, ids, scopes and the token's text need no JSON escaping:
	 * printed directly, the token leaves no unwiped copy in a JSON tree. */
	if (c->json)
		printf("{\"name\":\"%s\",\"id\":\"%s\",\"token\":\"%s\",\"scopes\":\"%s\",\"expires\":%s%s%s}\n",
		       t->name, t->id, secret.ptr, t->scopes, t->expires ? "\"" : "", t->expires ? t->expires : "null",
		       t->expires ? "\"" : "");
	else
		printf("%s\n", secret.ptr);
	printed = fflush(stdout) == 0 && !ferror(stdout);
	hl_buf_dispose(&secret);
	if (!printed)
		fprintf(stderr, "homelab: could not print the new token; revoke it: homelab tokens revoke %s\n", t->id);
	else
		fprintf(stderr, "created API token '%s' (id %s, scopes %s, expires %s%s)\n"
		        "This is the only time the token is shown: store it now (only its hash is kept).\n",
		        t->name, t->id, t->scopes, t->expires ? t->expires : "never", t->expires ? " UTC" : "");
	hl_token_free(t);
	return printed ? CLI_OK : CLI_ERROR;
}

/* "active", "revoked" or "expired" (times are "YYYY-MM-DD HH:MM:SS" UTC). */
static const char *status_of(const hl_token *t, const char *now)
{
	if (t->revoked)
		return "revoked";
	if (t->expires && strcmp(now, t->expires) >= 0)
		return "expired";
	return "active";
}

static int tokens_list(struct cli *c, int argc, char **argv)
{
	hl_token_array *list = NULL;
	struct json_object *o, *arr;
	struct cli_args a;
	char now[32];
	time_t tnow = time(NULL);
	struct tm tm;
	hl_ctx *ctx;
	int rc, err;

	if ((rc = cli_parse(&a, argc, argv, NULL)) != CLI_OK)
		return rc;
	if (a.npos)
		return cli_usage_error("usage: homelab tokens list");
	if (!(ctx = cli_ctx(c, &rc)))
		return rc;
	if ((err = hl_token_list(&list, ctx)) < 0)
		return cli_fail(err);
	gmtime_r(&tnow, &tm);
	strftime(now, sizeof(now), "%Y-%m-%d %H:%M:%S", &tm);
	o = json_object_new_object();
	arr = json_object_new_array();
	for (size_t i = 0; i < list->count; i++) {
		const hl_token *t = list->items[i];
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "name", json_object_new_string(t->name));
		json_object_object_add(e, "id", json_object_new_string(t->id));
		json_object_object_add(e, "scopes", json_object_new_string(t->scopes));
		json_object_object_add(e, "status", json_object_new_string(status_of(t, now)));
		json_object_object_add(e, "created", cli_jstr(t->created));
		json_object_object_add(e, "last_used", cli_jstr(t->last_used));
		json_object_object_add(e, "expires", cli_jstr(t->expires));
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "tokens", arr);
	json_object_object_add(o, "count", json_object_new_int64((int64_t)list->count));
	cli_print_object(c, o);
	hl_token_array_free(list);
	return CLI_OK;
}

static int tokens_revoke(struct cli *c, int argc, char **argv)
{
	struct cli_args a;
	hl_ctx *ctx;
	int rc, err;

	if ((rc = cli_parse(&a, argc, argv, NULL)) != CLI_OK)
		return rc;
	if (a.npos != 1)
		return cli_usage_error("usage: homelab tokens revoke NAME|ID");
	if (!(ctx = cli_ctx(c, &rc)))
		return rc;
	if (!cli_confirm(c, "Revoke API token %s? Clients that use it will be refused.", a.pos[0]))
		return CLI_ERROR;
	if ((err = hl_token_revoke(ctx, a.pos[0])) < 0)
		return cli_fail(err);
	cli_done(c, "revoked", "token", a.pos[0]);
	return CLI_OK;
}

int cmd_tokens(struct cli *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct cli *, int, char **);
	} subs[] = {
		{ "create", tokens_create }, { "list", tokens_list }, { "revoke", tokens_revoke },
	};

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(c, argc - 2, argv + 2);
	return cli_usage_error("unknown subcommand 'tokens %s' (try 'homelab tokens --help')", argv[1]);
}
