/*
 * cmd_ollama.c: `homelab ollama ls|ps|show|pull|rm|cp|create`, through the
 * ollama_* tools: the CLI shows what an MCP client or a Python script gets
 * (--json prints the tool's result as is). Pull and create report progress:
 * a bar redrawn in place on a terminal, plain status lines otherwise.
 */
#include "cli.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The arguments object of a tool call, as JSON text (owned by o). */
static const char *args_text(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void add_str(struct json_object *o, const char *key, const char *v)
{
	if (v)
		json_object_object_add(o, key, json_object_new_string(v));
}

static const char *jget(struct json_object *o, const char *key)
{
	struct json_object *x;

	if (!json_object_object_get_ex(o, key, &x) || json_object_is_type(x, json_type_null))
		return NULL;
	return json_object_get_string(x);
}

static int64_t jint(struct json_object *o, const char *key)
{
	struct json_object *x;

	return json_object_object_get_ex(o, key, &x) ? json_object_get_int64(x) : 0;
}

/* 2019393189 -> "2.0 GB" (powers of 1000, as Ollama shows sizes). */
static const char *human(char *buf, size_t size, double bytes)
{
	static const char *const units[] = { "B", "KB", "MB", "GB", "TB" };
	int u = 0;

	while (bytes >= 1000 && u < 4) {
		bytes /= 1000;
		u++;
	}
	snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
	return buf;
}

/* Call tool with args; its result in *out. Errors are printed. */
static int call(struct cli *c, const char *tool, struct json_object *args, bool progress, hl_buf *out)
{
	hl_call_options opts = HL_CALL_OPTIONS_INIT;
	struct cli_progress pr;
	const hl_tool *t = hl_tool_lookup(tool);
	hl_ctx *ctx;
	int rc = CLI_OK, err;
	bool stoppable;

	if (!t)
		return fprintf(stderr, "homelab: this libhomelab has no tool %s\n", tool), CLI_ERROR;
	if (!(ctx = cli_ctx(c, &rc)))
		return rc;
	if (progress) {
		/* a bar on a terminal, status lines otherwise; Ctrl-C stops it */
		cli_progress_init(&pr, c, true);
		opts.progress = cli_progress_cb;
		opts.payload = &pr;
	}
	cli_call_log(c, &opts, progress ? &pr : NULL);
	stoppable = cli_call_stoppable(t, &opts);
	err = hl_tool_call(out, ctx, t, args_text(args), &opts);
	cli_call_done(stoppable);
	if (progress)
		cli_progress_end(&pr);
	return err < 0 ? cli_fail(err) : CLI_OK;
}

static void print_where(struct json_object *r)
{
	printf("%s (%s)\n", jget(r, "target"), jget(r, "endpoint"));
}

/* A row of the tables below: keys are the column headers. */
static void cell_str(struct json_object *row, const char *key, const char *v)
{
	json_object_object_add(row, key, v ? json_object_new_string(v) : NULL);
}

/* The tables fit the terminal (cli_print_table). */
static void print_models(struct json_object *r)
{
	struct json_object *models, *rows = json_object_new_array();
	char size[32], id[13];

	json_object_object_get_ex(r, "models", &models);
	for (size_t i = 0; i < json_object_array_length(models); i++) {
		struct json_object *m = json_object_array_get_idx(models, i), *row = json_object_new_object();
		const char *digest = jget(m, "digest");
		snprintf(id, sizeof(id), "%.12s", digest ? digest : "-");
		cell_str(row, "name", jget(m, "name"));
		cell_str(row, "id", id);
		cell_str(row, "size", human(size, sizeof(size), (double)jint(m, "size_bytes")));
		cell_str(row, "modified", jget(m, "modified"));
		json_object_array_add(rows, row);
	}
	cli_print_table(stdout, rows, "(no models)");
	json_object_put(rows);
}

static void print_running(struct json_object *r)
{
	struct json_object *models, *rows = json_object_new_array();
	char size[32], vram[32];

	json_object_object_get_ex(r, "models", &models);
	for (size_t i = 0; i < json_object_array_length(models); i++) {
		struct json_object *m = json_object_array_get_idx(models, i), *row = json_object_new_object();
		cell_str(row, "name", jget(m, "name"));
		cell_str(row, "size", human(size, sizeof(size), (double)jint(m, "size")));
		cell_str(row, "vram", human(vram, sizeof(vram), (double)jint(m, "size_vram")));
		json_object_object_add(row, "context", json_object_new_int64(jint(m, "context_length")));
		cell_str(row, "until", jget(m, "expires_at"));
		json_object_array_add(rows, row);
	}
	cli_print_table(stdout, rows, "(no models loaded)");
	json_object_put(rows);
}

static void print_show(struct json_object *r)
{
	struct json_object *d, *caps;
	static const char *const detail_keys[][2] = { { "family", "family" }, { "parameter_size", "parameters" },
		{ "quantization_level", "quantization" }, { "format", "format" } };

	printf("model          %s\n", jget(r, "model"));
	printf("on             %s (%s)\n", jget(r, "target"), jget(r, "endpoint"));
	if (json_object_object_get_ex(r, "details", &d))
		for (size_t i = 0; i < 4; i++)
			if (jget(d, detail_keys[i][0]) && *jget(d, detail_keys[i][0]))
				printf("%-14s %s\n", detail_keys[i][1], jget(d, detail_keys[i][0]));
	if (json_object_object_get_ex(r, "capabilities", &caps) && json_object_array_length(caps)) {
		printf("capabilities  ");
		for (size_t i = 0; i < json_object_array_length(caps); i++)
			printf(" %s", json_object_get_string(json_object_array_get_idx(caps, i)));
		putchar('\n');
	}
	if (jget(r, "system") && *jget(r, "system"))
		printf("system         %s\n", jget(r, "system"));
	if (jget(r, "modelfile"))
		printf("\n%s%s", jget(r, "modelfile"), strchr(jget(r, "modelfile"), '\n') ? "" : "\n");
}

/* The whole of a file, or of standard input for "-". NULL after printing why. */
static char *read_modelfile(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f) {
		fprintf(stderr, "homelab: cannot read %s: %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *p = realloc(buf, cap = cap ? cap * 2 : 8192);
			if (!p || cap > 2 * 1024 * 1024) {
				free(p ? p : buf);
				fprintf(stderr, "homelab: %s is too large for a Modelfile\n", path);
				if (f != stdin)
					fclose(f);
				return NULL;
			}
			buf = p;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "homelab: cannot read %s: %s\n", path, strerror(errno));
		free(buf);
		buf = NULL;
	} else {
		buf[len] = '\0';
	}
	if (f != stdin)
		fclose(f);
	return buf;
}

int cmd_ollama(struct cli *c, int argc, char **argv)
{
	static const char *const spec[] = { "target=", "yes", "file=", "json", NULL };
	const char *sub = argv[1];
	char *args_v[CLI_MAX_POS + CLI_MAX_OPTS + 4];
	struct json_object *args = NULL, *r = NULL;
	hl_buf out = HL_BUF_INIT;
	struct cli_args a;
	char *text = NULL;
	int n = 0, rc;

	/* -f FILE is --file FILE */
	for (int i = 2; i < argc && n < (int)(sizeof(args_v) / sizeof(args_v[0])); i++)
		args_v[n++] = !strcmp(argv[i], "-f") ? (char *)"--file" : argv[i];
	if ((rc = cli_parse(&a, n, args_v, spec)) != CLI_OK)
		return rc;
	if (cli_flag(&a, "yes"))
		c->yes = true;
	if (cli_flag(&a, "json"))
		c->json = true;
	args = json_object_new_object();
	add_str(args, "target", cli_opt(&a, "target"));

#define WANT(want_n, usage) \
	do { \
		if (a.npos != (want_n)) { \
			rc = cli_usage_error("usage: homelab ollama " usage); \
			goto done; \
		} \
	} while (0)

	if (!strcmp(sub, "ls") || !strcmp(sub, "list")) {
		WANT(0, "ls [--target VM]");
		if ((rc = call(c, "ollama_list_models", args, false, &out)) != CLI_OK)
			goto done;
	} else if (!strcmp(sub, "ps")) {
		WANT(0, "ps [--target VM]");
		if ((rc = call(c, "ollama_running_models", args, false, &out)) != CLI_OK)
			goto done;
	} else if (!strcmp(sub, "show")) {
		WANT(1, "show MODEL [--target VM]");
		add_str(args, "model_name", a.pos[0]);
		if ((rc = call(c, "ollama_show_model", args, false, &out)) != CLI_OK)
			goto done;
	} else if (!strcmp(sub, "pull")) {
		WANT(1, "pull MODEL [--target VM]");
		add_str(args, "model_name", a.pos[0]);
		if ((rc = call(c, "ollama_pull_model", args, true, &out)) != CLI_OK)
			goto done;
	} else if (!strcmp(sub, "rm")) {
		WANT(1, "rm MODEL [--target VM] [--yes]");
		add_str(args, "model_name", a.pos[0]);
		if (!cli_confirm(c, "delete model %s from the Ollama of %s?", a.pos[0],
		                 cli_opt(&a, "target") ? cli_opt(&a, "target") : "the default target")) {
			rc = CLI_ERROR;
			goto done;
		}
		if ((rc = call(c, "ollama_delete_model", args, false, &out)) != CLI_OK)
			goto done;
	} else if (!strcmp(sub, "cp")) {
		WANT(2, "cp SOURCE DESTINATION [--target VM]");
		add_str(args, "source", a.pos[0]);
		add_str(args, "destination", a.pos[1]);
		if ((rc = call(c, "ollama_copy_model", args, false, &out)) != CLI_OK)
			goto done;
	} else if (!strcmp(sub, "create")) {
		WANT(1, "create NAME -f MODELFILE [--target VM]");
		if (!cli_opt(&a, "file")) {
			rc = cli_usage_error("usage: homelab ollama create NAME -f MODELFILE [--target VM] ('-' reads stdin)");
			goto done;
		}
		if (!(text = read_modelfile(cli_opt(&a, "file")))) {
			rc = CLI_ERROR;
			goto done;
		}
		add_str(args, "name", a.pos[0]);
		add_str(args, "modelfile", text);
		if ((rc = call(c, "ollama_create_model", args, true, &out)) != CLI_OK)
			goto done;
	} else {
		rc = cli_usage_error("unknown subcommand 'ollama %s' (try 'homelab ollama --help')", sub);
		goto done;
	}
#undef WANT

	if (c->json) {
		puts(out.ptr);
		goto done;
	}
	r = json_tokener_parse(out.ptr);
	if (!strcmp(sub, "ls") || !strcmp(sub, "list")) {
		print_models(r);
	} else if (!strcmp(sub, "ps")) {
		print_running(r);
	} else if (!strcmp(sub, "show")) {
		print_show(r);
	} else if (!strcmp(sub, "pull")) {
		char size[32];
		printf("pulled %s on %s: %s, %s, %.1f s\n", jget(r, "model"), jget(r, "target"), jget(r, "status"),
		       human(size, sizeof(size), (double)jint(r, "bytes")), (double)jint(r, "duration_ms") / 1000.0);
	} else if (!strcmp(sub, "rm")) {
		printf("deleted model %s on ", jget(r, "model"));
		print_where(r);
	} else if (!strcmp(sub, "cp")) {
		printf("copied %s to %s on ", jget(r, "source"), jget(r, "destination"));
		print_where(r);
	} else {
		struct json_object *w;
		if (json_object_object_get_ex(r, "warnings", &w))
			for (size_t i = 0; i < json_object_array_length(w); i++)
				fprintf(stderr, "homelab: warning: %s\n", json_object_get_string(json_object_array_get_idx(w, i)));
		printf("created %s on %s (ollama %s, %s request): %s\n", jget(r, "model"), jget(r, "target"),
		       jget(r, "server_version"), jget(r, "api"), jget(r, "status"));
	}
done:
	json_object_put(r);
	json_object_put(args);
	hl_buf_dispose(&out);
	free(text);
	return rc;
}
