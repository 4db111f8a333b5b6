/*
 * output.c: printing tool results. With --json the tool's JSON goes out
 * exactly as the library returned it; otherwise a result becomes aligned
 * tables (arrays of objects) and "key: value" lines (everything else),
 * every cell and key escaped (cli_safe). On a terminal a table fits its
 * width (long cells cut with "…") and its header is bold (cli_color's
 * rules); elsewhere nothing is cut. Nothing here knows any particular tool.
 */
#include "cli.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

const char *cli_safe(const char *s)
{
	/* a few at a time are alive: a cell is printed right after it is made */
	static hl_buf ring[8];
	static unsigned next;
	hl_buf *b = &ring[next++ % 8];

	hl_buf_dispose(b);
	if (hl_text_escape(b, s, 0) < 0)
		return "?";
	return b->ptr ? b->ptr : "";
}

/* Text of a scalar cell: null -> "-". Control characters, bidi overrides
 * and bytes that are not UTF-8 are escaped (a name or an audit row from a
 * database written by others must not act on the terminal). The pointer
 * lives until a few more cells are made. */
static const char *cell(struct json_object *v)
{
	if (!v)
		return "-";
	if (json_object_is_type(v, json_type_string))
		return cli_safe(json_object_get_string(v));
	if (json_object_is_type(v, json_type_array) || json_object_is_type(v, json_type_object))
		return cli_safe(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	return cli_safe(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

static bool is_scalar(struct json_object *v)
{
	return !v || (!json_object_is_type(v, json_type_object) && !json_object_is_type(v, json_type_array));
}

static bool is_object_array(struct json_object *v)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		return false;
	n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_object))
			return false;
	return true;
}

/* Display width of UTF-8 text (code points; good enough for names and IPs). */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void pad(FILE *f, size_t n)
{
	while (n--)
		fputc(' ', f);
}

#define MAX_COLS 32
#define MIN_CUT 4 /* a column is never cut narrower than this */

/* Print s in at most `cols` display columns: a longer s ends with "…". */
static void put_cut(FILE *f, const char *s, size_t cols)
{
	size_t w = width(s), n = 0;

	if (w <= cols) {
		fputs(s, f);
		return;
	}
	for (const char *p = s; *p && cols > 0; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80 && ++n == cols)
			break;
		fputc(*p, f);
	}
	if (cols > 0)
		fputs("\xe2\x80\xa6", f); /* … */
}

/* On a terminal of `avail` columns: narrow the widest columns, one column
 * of text at a time, until the row fits (or every column is at MIN_CUT). */
static void fit(size_t *w, size_t ncols, size_t avail)
{
	size_t total = 0;

	for (size_t c = 0; c < ncols; c++)
		total += w[c] + (c + 1 < ncols ? 2 : 0);
	while (total > avail) {
		size_t widest = 0;
		for (size_t c = 1; c < ncols; c++)
			if (w[c] > w[widest])
				widest = c;
		if (w[widest] <= MIN_CUT)
			break;
		w[widest]--;
		total--;
	}
}

/* One row: cells cut to their column; the whole line cut to `line` columns
 * when even the narrowest columns do not fit (a row is never wrapped). */
static void put_row(FILE *f, const char *indent, const char *const *cells, const size_t *w, size_t ncols,
                    size_t line, bool header)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (!m)
		return;
	fputs(indent, m);
	for (size_t c = 0; c < ncols; c++) {
		size_t cw = width(cells[c]);
		put_cut(m, cells[c], w[c]);
		if (c + 1 < ncols)
			pad(m, (cw < w[c] ? w[c] - cw : 0) + 2);
	}
	fclose(m);
	if (header)
		cli_sgr(f, "1");
	if (line)
		put_cut(f, text, line);
	else
		fputs(text, f);
	if (header)
		cli_sgr(f, "0");
	fputc('\n', f);
	free(text);
}

/* An array of objects as a table: one column per scalar key, in the order
 * of first appearance. On a terminal the table fits its width. */
static void print_table(FILE *f, struct json_object *arr, const char *indent)
{
	const char *cols[MAX_COLS], *cells[MAX_COLS] = { 0 };
	char heads[MAX_COLS][64];
	size_t w[MAX_COLS] = { 0 }, ncols = 0, n = json_object_array_length(arr);
	int tw = cli_term_width(f);

	for (size_t i = 0; i < n; i++) {
		json_object_object_foreach(json_object_array_get_idx(arr, i), k, v) {
			size_t c;
			if (!is_scalar(v))
				continue;
			for (c = 0; c < ncols && strcmp(cols[c], k); c++)
				;
			if (c == ncols && ncols < MAX_COLS) {
				cols[ncols] = k;
				w[ncols++] = width(cli_safe(k));
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *row = json_object_array_get_idx(arr, i);
		for (size_t c = 0; c < ncols; c++) {
			struct json_object *v = NULL;
			size_t cw;
			json_object_object_get_ex(row, cols[c], &v);
			cw = width(cell(v));
			if (cw > w[c])
				w[c] = cw;
		}
	}
	if (tw > 0)
		fit(w, ncols, (size_t)tw > strlen(indent) ? (size_t)tw - strlen(indent) : 1);
	for (size_t c = 0; c < ncols; c++) {
		size_t j = 0;
		for (const char *k = cli_safe(cols[c]); *k && j + 1 < sizeof(heads[c]); k++)
			heads[c][j++] = (char)toupper((unsigned char)*k);
		heads[c][j] = '\0';
		cells[c] = heads[c];
	}
	put_row(f, indent, cells, w, ncols, tw > 0 ? (size_t)tw : 0, true);
	for (size_t i = 0; i < n; i++) {
		struct json_object *row = json_object_array_get_idx(arr, i);
		/* cell() keeps 8 results alive: copy each one */
		char *owned[MAX_COLS];
		for (size_t c = 0; c < ncols; c++) {
			struct json_object *v = NULL;
			json_object_object_get_ex(row, cols[c], &v);
			owned[c] = strdup(cell(v));
			cells[c] = owned[c] ? owned[c] : "?";
		}
		put_row(f, indent, cells, w, ncols, tw > 0 ? (size_t)tw : 0, false);
		for (size_t c = 0; c < ncols; c++)
			free(owned[c]);
	}
}

void cli_print_table(FILE *f, struct json_object *rows, const char *empty)
{
	if (json_object_array_length(rows) == 0) {
		if (empty)
			fprintf(f, "%s\n", empty);
		return;
	}
	print_table(f, rows, "");
}

static void print_object(FILE *f, struct json_object *o, const char *indent);

/* "key: value" lines for the scalars, then nested objects and tables. */
static void print_object(FILE *f, struct json_object *o, const char *indent)
{
	size_t kw = 0;
	char sub[64];

	json_object_object_foreach(o, k0, v0) {
		if ((is_scalar(v0) || !is_object_array(v0)) && width(cli_safe(k0)) > kw)
			kw = width(cli_safe(k0));
	}
	json_object_object_foreach(o, k, v) {
		if (is_scalar(v) || (json_object_is_type(v, json_type_array) && !is_object_array(v))) {
			const char *key = cli_safe(k);
			fprintf(f, "%s%s:", indent, key);
			pad(f, kw - width(key) + 1);
			if (json_object_is_type(v, json_type_array)) {
				size_t n = json_object_array_length(v);
				for (size_t i = 0; i < n; i++)
					fprintf(f, "%s%s", i ? ", " : "", cell(json_object_array_get_idx(v, i)));
				fputs(n ? "\n" : "-\n", f);
			} else {
				fprintf(f, "%s\n", cell(v));
			}
		}
	}
	snprintf(sub, sizeof(sub), "%s  ", indent);
	json_object_object_foreach(o, k2, v2) {
		if (json_object_is_type(v2, json_type_object)) {
			fprintf(f, "%s%s:\n", indent, cli_safe(k2));
			print_object(f, v2, sub);
		}
	}
	json_object_object_foreach(o, k3, v3) {
		if (json_object_is_type(v3, json_type_array) && is_object_array(v3)) {
			if (json_object_array_length(v3) == 0) {
				fprintf(f, "%s%s: (none)\n", indent, cli_safe(k3));
				continue;
			}
			fprintf(f, "%s%s:\n", indent, cli_safe(k3));
			print_table(f, v3, sub);
		}
	}
}

/* Text as lines, each escaped for the terminal (newlines kept). */
static void put_text(FILE *f, const char *text)
{
	const char *s = text;

	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		char *line = strndup(s, n);
		fprintf(f, "%s\n", line ? cli_safe(line) : "?");
		free(line);
		s += n + (nl ? 1 : 0);
	}
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
	               ? json_object_get_string(v) : NULL;
}

/* "1.2 KB" for base64 text of that many characters */
static const char *decoded_size(char *buf, size_t size, const char *b64)
{
	size_t len = b64 ? strlen(b64) : 0, pad = 0;
	double n;

	while (pad < 2 && len > pad && b64[len - 1 - pad] == '=')
		pad++;
	n = (double)(len / 4 * 3) + (len % 4 ? (double)(len % 4) - 1 : 0) - (double)pad;
	if (n < 0)
		n = 0;
	if (n < 1000)
		snprintf(buf, size, "%.0f bytes", n);
	else
		snprintf(buf, size, "%.1f KB", n / 1000);
	return buf;
}

int cli_print_content(struct cli *c, const char *json)
{
	struct json_object *o, *content, *err;
	bool is_error;
	FILE *f;

	o = json_tokener_parse(json);
	if (!o || !json_object_object_get_ex(o, "content", &content) || !json_object_is_type(content, json_type_array)) {
		json_object_put(o);
		fprintf(stderr, "homelab: the tool's result has no content list\n");
		return CLI_ERROR;
	}
	is_error = json_object_object_get_ex(o, "isError", &err) && json_object_get_boolean(err);
	if (c->json) {
		puts(json);
		json_object_put(o);
		return is_error ? CLI_ERROR : CLI_OK;
	}
	/* an error result is the tool's answer "this failed": on stderr, exit 1 */
	f = is_error ? stderr : stdout;
	if (is_error)
		fputs("homelab: the tool reports an error:\n", f);
	for (size_t i = 0; i < json_object_array_length(content); i++) {
		struct json_object *b = json_object_array_get_idx(content, i), *r;
		const char *type = jstr(b, "type");
		char size[32];

		if (!type) {
			fputs("[a block without a type]\n", f);
		} else if (!strcmp(type, "text")) {
			put_text(f, jstr(b, "text") ? jstr(b, "text") : "");
		} else if (!strcmp(type, "image") || !strcmp(type, "audio")) {
			fprintf(f, "[%s %s, %s]\n", type, cli_safe(jstr(b, "mimeType") ? jstr(b, "mimeType") : "?"),
			        decoded_size(size, sizeof(size), jstr(b, "data")));
		} else if (!strcmp(type, "resource") && json_object_object_get_ex(b, "resource", &r)) {
			const char *uri = jstr(r, "uri"), *mime = jstr(r, "mimeType");
			fprintf(f, "[resource %s", cli_safe(uri ? uri : "?"));
			fprintf(f, "%s%s", mime ? " " : "", mime ? cli_safe(mime) : "");
			if (jstr(r, "text")) {
				fputs("]\n", f);
				put_text(f, jstr(r, "text"));
			} else {
				fprintf(f, ", %s]\n", decoded_size(size, sizeof(size), jstr(r, "blob")));
			}
		} else if (!strcmp(type, "resource_link")) {
			fprintf(f, "[link %s]\n", cli_safe(jstr(b, "uri") ? jstr(b, "uri") : "?"));
		} else {
			fprintf(f, "[%s]\n", cli_safe(type));
		}
	}
	json_object_put(o);
	return is_error ? CLI_ERROR : CLI_OK;
}

void cli_print_result(struct cli *c, const char *json)
{
	struct json_object *o, *list = NULL;
	const char *list_key = NULL;
	int others = 0;

	if (c->json) {
		puts(json);
		return;
	}
	o = json_tokener_parse(json);
	if (!o || !json_object_is_type(o, json_type_object)) {
		puts(json);
		json_object_put(o);
		return;
	}
	/* A list result ({"vms": [...], "count": n}) prints as just its table. */
	json_object_object_foreach(o, k, v) {
		if (is_object_array(v) && !list) {
			list = v;
			list_key = k;
		} else if (strcmp(k, "count") != 0) {
			others++;
		}
	}
	if (list && others == 0) {
		if (json_object_array_length(list) == 0)
			printf("(no %s)\n", cli_safe(list_key));
		else
			print_table(stdout, list, "");
	} else {
		print_object(stdout, o, "");
	}
	json_object_put(o);
}
