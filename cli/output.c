/*
 * output.c: printing tool results. With --json the tool's JSON goes out
 * exactly as the library returned it; otherwise a result becomes aligned
 * tables (arrays of objects) and "key: value" lines (everything else),
 * every cell and key escaped (cli_safe). Nothing here knows any particular
 * tool.
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

static void print_upper(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(toupper((unsigned char)*s), f);
}

#define MAX_COLS 32

/* An array of objects as a table: one column per scalar key, in the order
 * of first appearance. */
static void print_table(FILE *f, struct json_object *arr, const char *indent)
{
	const char *cols[MAX_COLS];
	size_t w[MAX_COLS], ncols = 0, n = json_object_array_length(arr);

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
	fputs(indent, f);
	for (size_t c = 0; c < ncols; c++) {
		const char *k = cli_safe(cols[c]);
		print_upper(f, k);
		if (c + 1 < ncols)
			pad(f, w[c] - width(k) + 2);
	}
	fputc('\n', f);
	for (size_t i = 0; i < n; i++) {
		struct json_object *row = json_object_array_get_idx(arr, i);
		fputs(indent, f);
		for (size_t c = 0; c < ncols; c++) {
			struct json_object *v = NULL;
			const char *s;
			json_object_object_get_ex(row, cols[c], &v);
			s = cell(v);
			fputs(s, f);
			if (c + 1 < ncols)
				pad(f, w[c] - width(s) + 2);
		}
		fputc('\n', f);
	}
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
