/*
 * util.c: the CLI's shared helpers: opening the database, errors and exit
 * codes, option parsing and confirmation prompts.
 */
#include "cli.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

hl_ctx *cli_ctx(struct cli *c, int *rc)
{
	hl_ctx_options opts = HL_CTX_OPTIONS_INIT;
	int err;

	if (c->ctx)
		return c->ctx;
	opts.db_path = c->db_path;
	/* Only `db init` makes a database: a mistyped --db is an error, never a
	 * new empty inventory that answers "(no vms)". */
	opts.flags = c->create_db ? 0 : HL_CTX_NO_CREATE;
	if ((err = hl_ctx_open(&c->ctx, &opts)) < 0) {
		hl_buf path = HL_BUF_INIT;
		if (err == HL_ENOTFOUND && !c->create_db && (c->db_path || hl_default_db_path(&path) == 0) &&
		    access(c->db_path ? c->db_path : path.ptr, F_OK) != 0) {
			fprintf(stderr, "homelab: no such database: %s (create it with homelab db init)\n",
			        c->db_path ? c->db_path : path.ptr);
			*rc = CLI_NOTFOUND;
		} else {
			*rc = cli_fail(err);
		}
		hl_buf_dispose(&path);
		return NULL;
	}
	if (hl_ctx_warning(c->ctx))
		fprintf(stderr, "homelab: warning: %s\n", hl_ctx_warning(c->ctx));
	return c->ctx;
}

int cli_exit_code(int code)
{
	switch (code) {
	case HL_OK:
		return CLI_OK;
	case HL_ENOTFOUND:
		return CLI_NOTFOUND;
	case HL_EINVALID:
		return CLI_USAGE;
	default:
		return CLI_ERROR;
	}
}

int cli_fail(int code)
{
	const hl_error *e = hl_error_last();

	fprintf(stderr, "homelab: %s\n", cli_safe(e->code == code && e->code != HL_OK ? e->message : hl_strerror(code)));
	return cli_exit_code(code);
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("homelab: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_USAGE;
}

static const char *find_spec(const char *const *spec, const char *name, size_t len, bool *takes_value)
{
	for (; spec && *spec; spec++) {
		size_t n = strcspn(*spec, "=");
		if (n == len && !strncmp(*spec, name, len)) {
			*takes_value = (*spec)[n] == '=';
			return *spec;
		}
	}
	return NULL;
}

int cli_parse(struct cli_args *a, int argc, char **argv, const char *const *spec)
{
	bool only_pos = false;

	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *value = NULL;
		bool takes_value;
		size_t len;

		if (only_pos || arg[0] != '-' || arg[1] != '-' || !arg[2]) {
			if (!only_pos && !strcmp(arg, "--")) {
				only_pos = true;
				continue;
			}
			if (a->npos == CLI_MAX_POS)
				return cli_usage_error("too many arguments");
			a->pos[a->npos++] = arg;
			continue;
		}
		name = arg + 2;
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		if (!find_spec(spec, name, len, &takes_value)) {
			const char *names[CLI_MAX_OPTS * 2];
			char typed[64], words[CLI_MAX_OPTS * 2][32];
			size_t n = 0;
			const char *near;
			for (const char *const *sp = spec; sp && *sp && n < CLI_MAX_OPTS * 2; sp++, n++) {
				snprintf(words[n], sizeof(words[n]), "%.*s", (int)strcspn(*sp, "="), *sp);
				names[n] = words[n];
			}
			snprintf(typed, sizeof(typed), "%.*s", (int)len, name);
			if ((near = cli_nearest(typed, names, n)))
				return cli_usage_error("unknown option '--%s'; did you mean '--%s'?", cli_safe(typed), near);
			return cli_usage_error("unknown option '--%s'", cli_safe(typed));
		}
		if (takes_value) {
			if (eq)
				value = eq + 1;
			else if (i + 1 < argc)
				value = argv[++i];
			else
				return cli_usage_error("option '--%.*s' needs a value", (int)len, name);
		} else {
			if (eq)
				return cli_usage_error("option '--%.*s' takes no value", (int)len, name);
			value = "1";
		}
		if (a->nopts == CLI_MAX_OPTS)
			return cli_usage_error("too many options");
		/* names point into argv: store the spec's name, which is NUL-terminated at '=' or end */
		for (const char *const *s = spec; *s; s++)
			if (strcspn(*s, "=") == len && !strncmp(*s, name, len)) {
				a->names[a->nopts] = *s;
				break;
			}
		a->values[a->nopts++] = value;
	}
	return CLI_OK;
}

/* Split a line into words: whitespace separates, '...' and "..." quote. */
int cli_split(char *line, char **argv, int max)
{
	int argc = 0;
	char *r = line, *w;

	while (*r) {
		while (*r == ' ' || *r == '\t')
			r++;
		if (!*r)
			break;
		if (argc == max)
			return -1;
		argv[argc++] = w = r;
		while (*r && *r != ' ' && *r != '\t') {
			if (*r == '\'' || *r == '"') {
				char q = *r++;
				while (*r && *r != q)
					*w++ = *r++;
				if (!*r)
					return -2;
				r++;
			} else {
				*w++ = *r++;
			}
		}
		if (*r)
			r++;
		*w = '\0';
	}
	return argc;
}

const char *cli_opt(const struct cli_args *a, const char *name)
{
	size_t len = strlen(name);
	const char *v = NULL;

	for (int i = 0; i < a->nopts; i++)
		if (strcspn(a->names[i], "=") == len && !strncmp(a->names[i], name, len))
			v = a->values[i]; /* the last one wins */
	return v;
}

bool cli_flag(const struct cli_args *a, const char *name)
{
	return cli_opt(a, name) != NULL;
}

bool cli_confirm(struct cli *c, const char *fmt, ...)
{
	char line[16];
	va_list ap;

	if (c->yes || !isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
		return true;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" [y/N] ", stderr);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		fputc('\n', stderr); /* end of input: end the prompt's line */
	else if (line[0] == 'y' || line[0] == 'Y')
		return true;
	fputs("homelab: not confirmed; nothing changed\n", stderr);
	return false;
}

void cli_done(struct cli *c, const char *verb, const char *kind, const char *ref)
{
	struct json_object *o;

	if (!c->json) {
		if (!c->quiet)
			printf("%s %s%s%s\n", verb, kind ? kind : "", kind ? " " : "", ref);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, verb, json_object_new_string(ref));
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* Optimal string alignment distance (a swap of two neighbours costs 1). */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[33][33];

	if (la > 32 || lb > 32)
		return (size_t)-1;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], v = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

const char *cli_nearest(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL, *prefixed = NULL;
	size_t bestd = (size_t)-1, len = strlen(word), nprefixed = 0;
	/* at most 2 edits, and fewer than half the word's letters */
	size_t limit = len <= 2 ? 1 : len <= 5 ? 2 : 3;

	if (!len)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t d = distance(word, candidates[i]);
		if (d < bestd) {
			bestd = d;
			best = candidates[i];
		}
		if (len >= 2 && !strncmp(candidates[i], word, len)) {
			prefixed = candidates[i];
			nprefixed++;
		}
	}
	if (bestd == 0)
		return NULL; /* the word is one of them: nothing to suggest */
	if (best && bestd <= limit)
		return best;
	return nprefixed == 1 ? prefixed : NULL;
}

struct json_object *cli_jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

void cli_print_object(struct cli *c, struct json_object *o)
{
	cli_print_result(c, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}
