/*
 * tools.c: `homelab tools ...` and cli_call_tool(), which every read
 * command goes through: it builds a tool's JSON arguments from key=value
 * pairs, typing each value by the tool's own input schema.
 */
#include "cli.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Does the property schema allow JSON type `t`? */
static bool allows(struct json_object *prop, const char *t)
{
	struct json_object *type;

	if (!prop || !json_object_object_get_ex(prop, "type", &type))
		return false;
	if (json_object_is_type(type, json_type_string))
		return !strcmp(json_object_get_string(type), t);
	for (size_t i = 0; i < json_object_array_length(type); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(type, i)), t))
			return true;
	return false;
}

/* A value typed by its property schema; a value that does not convert stays
 * a string, so that the library's validator names the field in its error. */
static struct json_object *typed_value(struct json_object *prop, const char *s)
{
	char *end;

	if (allows(prop, "integer") && *s) {
		long long v;
		errno = 0;
		v = strtoll(s, &end, 10);
		if (!*end && !errno)
			return json_object_new_int64(v);
	}
	if (allows(prop, "number") && *s) {
		double d;
		errno = 0;
		d = strtod(s, &end);
		if (!*end && !errno)
			return json_object_new_double(d);
	}
	if (allows(prop, "boolean")) {
		if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "1"))
			return json_object_new_boolean(1);
		if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "0"))
			return json_object_new_boolean(0);
	}
	if ((allows(prop, "object") || allows(prop, "array")) && (*s == '{' || *s == '[')) {
		struct json_object *j = json_tokener_parse(s);
		if (j)
			return j;
	}
	return json_object_new_string(s);
}

static int call(struct cli *c, const hl_tool *t, const char *args, hl_buf *out)
{
	hl_call_options opts = HL_CALL_OPTIONS_INIT;
	bool progress = (hl_tool_flags(t) & HL_TOOL_PROGRESS) != 0, stoppable;
	struct cli_progress pr;
	hl_ctx *ctx;
	int rc = CLI_OK, err;

	if (!(ctx = cli_ctx(c, &rc)))
		return rc;
	if ((hl_tool_flags(t) & HL_TOOL_MUTATES) &&
	    !cli_confirm(c, "%s: %s with %s?", hl_tool_name(t), hl_tool_title(t), args))
		return CLI_ERROR;
	if (progress) {
		/* a bar on a terminal, status lines otherwise; Ctrl-C stops the tool */
		cli_progress_init(&pr, c, false);
		opts.progress = cli_progress_cb;
		opts.payload = &pr;
	}
	cli_call_log(c, &opts, progress ? &pr : NULL);
	stoppable = cli_call_stoppable(t, &opts);
	err = hl_tool_call(out, ctx, t, args, &opts);
	cli_call_done(stoppable);
	if (progress)
		cli_progress_end(&pr);
	if (err < 0)
		return cli_fail(err);
	return CLI_OK;
}

int cli_tool_result(struct cli *c, const char *tool, const char *args_json, hl_buf *out)
{
	const hl_tool *t = hl_tool_lookup(tool);

	if (!t)
		return fprintf(stderr, "homelab: no tool named '%s' (see 'homelab tools list')\n", tool), CLI_NOTFOUND;
	return call(c, t, args_json, out);
}

static int run_json(struct cli *c, const hl_tool *t, const char *args)
{
	hl_buf out = HL_BUF_INIT;
	int rc = call(c, t, args, &out);

	if (rc == CLI_OK && (hl_tool_flags(t) & HL_TOOL_CONTENT))
		rc = cli_print_content(c, out.ptr);
	else if (rc == CLI_OK)
		cli_print_result(c, out.ptr);
	hl_buf_dispose(&out);
	return rc;
}

int cli_call_tool(struct cli *c, const char *tool, int npairs, const char *const *pairs)
{
	const hl_tool *t = hl_tool_lookup(tool);
	struct json_object *schema = NULL, *props = NULL, *args = NULL;
	int rc;

	if (!t)
		return fprintf(stderr, "homelab: no tool named '%s' (see 'homelab tools list')\n", tool), CLI_NOTFOUND;
	schema = json_tokener_parse(hl_tool_input_schema(t));
	json_object_object_get_ex(schema, "properties", &props);
	args = json_object_new_object();
	for (int i = 0; i < npairs; i++) {
		const char *eq = strchr(pairs[i], '=');
		struct json_object *prop = NULL;
		char key[128];
		if (!eq || eq == pairs[i] || (size_t)(eq - pairs[i]) >= sizeof(key)) {
			rc = cli_usage_error("'%s' is not key=value", pairs[i]);
			goto out;
		}
		memcpy(key, pairs[i], (size_t)(eq - pairs[i]));
		key[eq - pairs[i]] = '\0';
		if (props)
			json_object_object_get_ex(props, key, &prop);
		json_object_object_add(args, key, typed_value(prop, eq + 1));
	}
	rc = run_json(c, t, json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN));
out:
	json_object_put(args);
	json_object_put(schema);
	return rc;
}

static const char *annotations(unsigned flags, char *buf, size_t n)
{
	static const struct {
		unsigned flag;
		const char *name;
	} names[] = {
		{ HL_TOOL_READONLY, "read-only" }, { HL_TOOL_DESTRUCTIVE, "destructive" },
		{ HL_TOOL_IDEMPOTENT, "idempotent" }, { HL_TOOL_OPEN_WORLD, "open-world" },
		{ HL_TOOL_AUDITED, "audited" }, { HL_TOOL_PROGRESS, "progress" }, { HL_TOOL_MUTATES, "mutates" },
	};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & names[i].flag)
			used += (size_t)snprintf(buf + used, used < n ? n - used : 0, "%s%s", used ? "," : "", names[i].name);
	return buf;
}

static int tools_list(struct cli *c)
{
	struct json_object *res = json_object_new_object(), *arr = json_object_new_array();
	char ann[128];

	for (const hl_tool *t = hl_tool_next(NULL); t; t = hl_tool_next(t)) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(hl_tool_name(t)));
		json_object_object_add(o, "scope", json_object_new_string(hl_tool_scope(t)));
		json_object_object_add(o, "annotations", json_object_new_string(annotations(hl_tool_flags(t), ann, sizeof(ann))));
		json_object_object_add(o, "title", json_object_new_string(hl_tool_title(t)));
		json_object_array_add(arr, o);
	}
	json_object_object_add(res, "tools", arr);
	json_object_object_add(res, "count", json_object_new_int64((int64_t)hl_tool_count()));
	cli_print_object(c, res);
	return CLI_OK;
}

/* "integer" or "integer|string" for a schema's type. */
static const char *type_text(struct json_object *type)
{
	static char buf[128];
	size_t used = 0;

	if (json_object_is_type(type, json_type_string))
		return json_object_get_string(type);
	buf[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(type) && used < sizeof(buf); i++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s", i ? "|" : "",
		                         json_object_get_string(json_object_array_get_idx(type, i)));
	return buf;
}

/* Help for one tool, from its table entry: description and parameters. */
static void tool_help(FILE *f, const hl_tool *t)
{
	struct json_object *schema = json_tokener_parse(hl_tool_input_schema(t)), *props = NULL, *req = NULL;
	char ann[128];

	fprintf(f, "%s: %s\n\n%s\n\nscope: %s   annotations: %s\n", hl_tool_name(t), hl_tool_title(t),
	        hl_tool_description(t), hl_tool_scope(t), annotations(hl_tool_flags(t), ann, sizeof(ann)));
	json_object_object_get_ex(schema, "properties", &props);
	json_object_object_get_ex(schema, "required", &req);
	fprintf(f, "\narguments (key=value):\n");
	if (!props || json_object_object_length(props) == 0)
		fprintf(f, "  (none)\n");
	if (props) {
		json_object_object_foreach(props, k, p) {
			struct json_object *type = NULL, *desc = NULL, *en = NULL;
			bool required = false;
			for (size_t i = 0; req && i < json_object_array_length(req); i++)
				required |= !strcmp(json_object_get_string(json_object_array_get_idx(req, i)), k);
			json_object_object_get_ex(p, "type", &type);
			json_object_object_get_ex(p, "description", &desc);
			json_object_object_get_ex(p, "enum", &en);
			fprintf(f, "  %-14s %s%s", k, type ? type_text(type) : "any", required ? ", required" : "");
			if (en)
				fprintf(f, ", one of %s", json_object_to_json_string_ext(en, JSON_C_TO_STRING_PLAIN));
			if (desc)
				fprintf(f, ": %s", json_object_get_string(desc));
			fputc('\n', f);
		}
	}
	json_object_put(schema);
}

int cmd_tools(struct cli *c, int argc, char **argv)
{
	static const char *const schema_opts[] = { "output", NULL };
	static const char *const call_opts[] = { "args=", "help", NULL };
	struct cli_args a;
	const hl_tool *t;
	int rc;

	if (!strcmp(argv[1], "list")) {
		if (argc > 2)
			return cli_usage_error("tools list takes no arguments");
		return tools_list(c);
	}
	if (!strcmp(argv[1], "schema")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, schema_opts)) != CLI_OK)
			return rc;
		if (a.npos != 1)
			return cli_usage_error("usage: homelab tools schema NAME [--output]");
		if (!(t = hl_tool_lookup(a.pos[0])))
			return fprintf(stderr, "homelab: no tool named '%s' (see 'homelab tools list')\n", a.pos[0]),
			       CLI_NOTFOUND;
		{
			struct json_object *s = json_tokener_parse(cli_flag(&a, "output") ? hl_tool_output_schema(t)
			                                                                  : hl_tool_input_schema(t));
			puts(json_object_to_json_string_ext(s, c->json ? JSON_C_TO_STRING_PLAIN : JSON_C_TO_STRING_PRETTY));
			json_object_put(s);
		}
		return CLI_OK;
	}
	if (!strcmp(argv[1], "call")) {
		if (argc < 3)
			return cli_usage_error("usage: homelab tools call NAME [key=value ...]");
		if (!(t = hl_tool_lookup(argv[2])))
			return fprintf(stderr, "homelab: no tool named '%s' (see 'homelab tools list')\n", argv[2]),
			       CLI_NOTFOUND;
		if ((rc = cli_parse(&a, argc - 3, argv + 3, call_opts)) != CLI_OK)
			return rc;
		if (cli_flag(&a, "help")) {
			tool_help(stdout, t);
			return CLI_OK;
		}
		if (cli_opt(&a, "args")) {
			const char *json = cli_opt(&a, "args");
			char *in = NULL;
			if (a.npos)
				return cli_usage_error("give either --args JSON or key=value pairs, not both");
			if (!strcmp(json, "-")) {
				size_t cap = 0;
				ssize_t n = getdelim(&in, &cap, '\0', stdin);
				if (n < 0) {
					free(in);
					return cli_usage_error("--args -: nothing on standard input");
				}
				json = in;
			}
			rc = run_json(c, t, json);
			free(in);
			return rc;
		}
		return cli_call_tool(c, argv[2], a.npos, a.pos);
	}
	return cli_usage_error("unknown subcommand 'tools %s' (try 'homelab tools --help')", argv[1]);
}
