/*
 * cmd_files.c: `homelab files ls|cat|put`: the file tools (whisper_list_files,
 * whisper_read_file, whisper_write_file) from the command line.
 */
#include "cli.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bytes of the largest file the tools read or write. */
#define FILES_MAX (16 * 1024 * 1024)

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

static int files_ls(struct cli *c, const struct cli_args *a)
{
	struct json_object *args = json_object_new_object(), *r, *ents;
	hl_buf out = HL_BUF_INIT;
	int rc;

	json_object_object_add(args, "target", json_object_new_string(a->pos[0]));
	json_object_object_add(args, "directory", json_object_new_string(a->pos[1]));
	rc = cli_tool_result(c, "whisper_list_files", json_object_to_json_string(args), &out);
	json_object_put(args);
	if (rc != CLI_OK)
		return rc;
	if (c->json || !(r = json_tokener_parse(out.ptr))) {
		puts(out.ptr);
		hl_buf_dispose(&out);
		return CLI_OK;
	}
	ents = member(r, "entries");
	for (size_t i = 0; i < json_object_array_length(ents); i++) {
		struct json_object *e = json_object_array_get_idx(ents, i), *link = member(e, "symlink_target");
		const char *type = json_object_get_string(member(e, "type"));
		printf("%-7s %s %10lld  %s  %s%s%s\n", type, json_object_get_string(member(e, "mode")),
		       (long long)json_object_get_int64(member(e, "size")), json_object_get_string(member(e, "mtime")),
		       json_object_get_string(member(e, "name")), link && !json_object_is_type(link, json_type_null) ? " -> " : "",
		       link && !json_object_is_type(link, json_type_null) ? json_object_get_string(link) : "");
	}
	if (json_object_get_boolean(member(r, "truncated")))
		fprintf(stderr, "homelab: only the first %zu entries are listed\n", json_object_array_length(ents));
	json_object_put(r);
	hl_buf_dispose(&out);
	return CLI_OK;
}

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Decode the library's base64 (standard alphabet, padded). */
static unsigned char *unb64(const char *text, size_t *len)
{
	size_t n = strlen(text), m = 0;
	unsigned char *bin = malloc(n / 4 * 3 + 3);
	unsigned int acc = 0;
	int bits = 0;

	if (!bin)
		return NULL;
	for (size_t i = 0; i < n && text[i] != '='; i++) {
		const char *p = strchr(b64_alphabet, text[i]);
		if (!p)
			continue;
		acc = (acc << 6) | (unsigned int)(p - b64_alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			bin[m++] = (unsigned char)(acc >> bits);
		}
	}
	*len = m;
	return bin;
}

static int files_cat(struct cli *c, const struct cli_args *a)
{
	struct json_object *args = json_object_new_object(), *r = NULL;
	hl_buf out = HL_BUF_INIT;
	const char *content, *enc;
	int rc;

	json_object_object_add(args, "target", json_object_new_string(a->pos[0]));
	json_object_object_add(args, "file_path", json_object_new_string(a->pos[1]));
	json_object_object_add(args, "max_bytes", json_object_new_int64(FILES_MAX));
	rc = cli_tool_result(c, "whisper_read_file", json_object_to_json_string(args), &out);
	json_object_put(args);
	if (rc != CLI_OK)
		return rc;
	if (c->json) {
		puts(out.ptr);
		goto done;
	}
	if (!(r = json_tokener_parse(out.ptr))) {
		rc = CLI_ERROR;
		goto done;
	}
	content = json_object_get_string(member(r, "content"));
	enc = json_object_get_string(member(r, "encoding"));
	if (enc && !strcmp(enc, "base64")) {
		/* raw bytes, exactly as stored */
		size_t m = 0;
		unsigned char *bin = unb64(content, &m);
		if (!bin) {
			rc = CLI_ERROR;
			goto done;
		}
		fwrite(bin, 1, m, stdout);
		free(bin);
	} else {
		fwrite(content, 1, (size_t)json_object_get_string_len(member(r, "content")), stdout);
	}
	if (json_object_get_boolean(member(r, "truncated")))
		fprintf(stderr, "homelab: %s is larger than %d bytes: only the first ones were printed\n",
		        json_object_get_string(member(r, "path")), FILES_MAX);
done:
	json_object_put(r);
	hl_buf_dispose(&out);
	return rc;
}

/* Read all of f (at most FILES_MAX + 1 bytes, to see it is too big). */
static unsigned char *slurp(FILE *f, size_t *len)
{
	size_t cap = 65536, n = 0;
	unsigned char *buf = malloc(cap);

	while (buf) {
		size_t got;
		if (n == cap) {
			unsigned char *p = cap > FILES_MAX ? NULL : realloc(buf, cap * 2);
			if (!p)
				break;
			buf = p;
			cap *= 2;
		}
		if ((got = fread(buf + n, 1, cap - n, f)) == 0)
			break;
		n += got;
	}
	*len = n;
	return buf;
}

static char *b64(const unsigned char *data, size_t len)
{
	const char *alphabet = b64_alphabet;
	char *out = malloc((len + 2) / 3 * 4 + 1), *p = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned int v = (unsigned int)data[i] << 16 | (i + 1 < len ? (unsigned int)data[i + 1] << 8 : 0) |
		                 (i + 2 < len ? data[i + 2] : 0);
		*p++ = alphabet[v >> 18 & 63];
		*p++ = alphabet[v >> 12 & 63];
		*p++ = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
		*p++ = i + 2 < len ? alphabet[v & 63] : '=';
	}
	*p = '\0';
	return out;
}

static int files_put(struct cli *c, const struct cli_args *a)
{
	const char *from = cli_opt(a, "from");
	struct json_object *args;
	hl_buf out = HL_BUF_INIT;
	unsigned char *data;
	char *text;
	size_t len;
	FILE *f = stdin;
	int rc;

	if (!from && isatty(STDIN_FILENO))
		return cli_usage_error("files put: give --from LOCAL, or the content on standard input");
	if (from && !(f = fopen(from, "rb")))
		return fprintf(stderr, "homelab: %s: cannot open\n", from), CLI_ERROR;
	data = slurp(f, &len);
	if (from)
		fclose(f);
	if (!data)
		return fprintf(stderr, "homelab: out of memory\n"), CLI_ERROR;
	if (len > FILES_MAX) {
		free(data);
		fprintf(stderr, "homelab: the content is larger than %d bytes; nothing written\n", FILES_MAX);
		return CLI_USAGE;
	}
	text = b64(data, len);
	free(data);
	if (!text)
		return fprintf(stderr, "homelab: out of memory\n"), CLI_ERROR;
	args = json_object_new_object();
	json_object_object_add(args, "target", json_object_new_string(a->pos[0]));
	json_object_object_add(args, "file_path", json_object_new_string(a->pos[1]));
	json_object_object_add(args, "content", json_object_new_string(text));
	json_object_object_add(args, "encoding", json_object_new_string("base64"));
	if (cli_flag(a, "create-parents"))
		json_object_object_add(args, "create_parents", json_object_new_boolean(1));
	free(text);
	if (cli_flag(a, "yes"))
		c->yes = true;
	/* ask here (on a terminal, without --yes), with the size instead of
	 * the tool's arguments, which hold the whole content */
	if (!cli_confirm(c, "write %zu bytes to %s on %s?", len, a->pos[1], a->pos[0])) {
		json_object_put(args);
		return CLI_ERROR;
	}
	c->yes = true;
	rc = cli_tool_result(c, "whisper_write_file", json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN), &out);
	json_object_put(args);
	if (rc == CLI_OK)
		cli_print_result(c, out.ptr);
	hl_buf_dispose(&out);
	return rc;
}

int cmd_files(struct cli *c, int argc, char **argv)
{
	static const char *const put_opts[] = { "from=", "yes", "create-parents", NULL };
	const char *sub = argv[1];
	struct cli_args a;
	int rc;

	if (!strcmp(sub, "ls") || !strcmp(sub, "cat")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, NULL)) != CLI_OK)
			return rc;
		if (a.npos != 2)
			return cli_usage_error("usage: homelab files %s TARGET %s", sub, !strcmp(sub, "ls") ? "DIR" : "PATH");
		return !strcmp(sub, "ls") ? files_ls(c, &a) : files_cat(c, &a);
	}
	if (!strcmp(sub, "put")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, put_opts)) != CLI_OK)
			return rc;
		if (a.npos != 2)
			return cli_usage_error("usage: homelab files put TARGET PATH [--from LOCAL] [--create-parents] [--yes]");
		return files_put(c, &a);
	}
	return cli_usage_error("unknown subcommand 'files %s' (try 'homelab files --help')", sub);
}
