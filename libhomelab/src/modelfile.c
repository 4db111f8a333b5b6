/*
 * modelfile.c: Ollama Modelfile text -> the JSON body of POST /api/create
 * (the form of Ollama 0.5.5 and later). See homelab/modelfile.h.
 *
 * The grammar follows Ollama's parser (parser/parser.go): an instruction
 * name of letters, blanks, then a value that runs to a newline at which the
 * value read so far (trimmed) is complete: unquoted, or "..." closed, or
 * """...""" closed. So quoted values may span lines, and a quote that never
 * closes is an error naming the line it opened on.
 */
#include "hl.h"
#include "jw.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>

enum ptype { P_INT, P_FLOAT, P_BOOL, P_LIST, P_DROPPED };

/* Ollama's options (api/types.go Options and Runner) by JSON name. */
static const struct pdef {
	const char *name;
	enum ptype type;
} params[] = {
	{ "num_keep", P_INT }, { "seed", P_INT }, { "num_predict", P_INT }, { "top_k", P_INT },
	{ "top_p", P_FLOAT }, { "min_p", P_FLOAT }, { "typical_p", P_FLOAT }, { "repeat_last_n", P_INT },
	{ "temperature", P_FLOAT }, { "repeat_penalty", P_FLOAT }, { "presence_penalty", P_FLOAT },
	{ "frequency_penalty", P_FLOAT }, { "stop", P_LIST },
	{ "numa", P_BOOL }, { "num_ctx", P_INT }, { "num_batch", P_INT }, { "num_gpu", P_INT },
	{ "main_gpu", P_INT }, { "use_mmap", P_BOOL }, { "num_thread", P_INT },
	/* deprecated: Ollama's client drops them with a warning */
	{ "penalize_newline", P_DROPPED }, { "low_vram", P_DROPPED }, { "f16_kv", P_DROPPED },
	{ "logits_all", P_DROPPED }, { "vocab_only", P_DROPPED }, { "use_mlock", P_DROPPED },
	{ "mirostat", P_DROPPED }, { "mirostat_tau", P_DROPPED }, { "mirostat_eta", P_DROPPED },
};
#define NPARAMS (sizeof(params) / sizeof(params[0]))

enum instr { I_FROM, I_PARAMETER, I_TEMPLATE, I_SYSTEM, I_ADAPTER, I_LICENSE, I_MESSAGE, I_REQUIRES,
	     I_RENDERER, I_PARSER, I_DRAFT };
static const char *const instr_names[] = { "FROM", "PARAMETER", "TEMPLATE", "SYSTEM", "ADAPTER", "LICENSE",
	"MESSAGE", "REQUIRES", "RENDERER", "PARSER", "DRAFT" };
#define NINSTR (sizeof(instr_names) / sizeof(instr_names[0]))

/* A list of strings (licenses, stop words, message roles and contents). */
struct strs {
	char **v;
	size_t n;
};

/* One parameter of the request, in order of first appearance. */
struct param {
	const struct pdef *def;
	char num[40];      /* the JSON scalar (int, float, bool) */
	struct strs list;  /* P_LIST */
};

struct req {
	char *from, *template_, *system, *requires, *renderer, *parser;
	struct strs licenses, roles, contents;
	struct param p[NPARAMS];
	size_t np;
};

static void strs_free(struct strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

static int strs_add(struct strs *s, char *str)
{
	char **v = hl__realloc(s->v, (s->n + 1) * sizeof(*v));

	if (!v) {
		free(str);
		return HL_ENOMEM;
	}
	s->v = v;
	s->v[s->n++] = str;
	return 0;
}

static void req_free(struct req *r)
{
	free(r->from);
	free(r->template_);
	free(r->system);
	free(r->requires);
	free(r->renderer);
	free(r->parser);
	strs_free(&r->licenses);
	strs_free(&r->roles);
	strs_free(&r->contents);
	for (size_t i = 0; i < r->np; i++)
		strs_free(&r->p[i].list);
}

/* Replace *slot with value (the last instruction wins). Takes value. */
static void set_last(char **slot, char *value)
{
	free(*slot);
	*slot = value;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_newline(char c)
{
	return c == '\n' || c == '\r';
}

/* Go's strings.TrimSpace, for the ASCII white space a Modelfile holds. */
static void trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* Is the value read so far complete? Then (inner, inner_n) is it, unquoted. */
static bool value_complete(const char *v, size_t n, const char **inner, size_t *inner_n)
{
	trim(&v, &n);
	if (n >= 3 && !memcmp(v, "\"\"\"", 3)) {
		if (n < 6 || memcmp(v + n - 3, "\"\"\"", 3))
			return false;
		*inner = v + 3;
		*inner_n = n - 6;
		return true;
	}
	if (n >= 1 && v[0] == '"') {
		if (n < 2 || v[n - 1] != '"')
			return false;
		*inner = v + 1;
		*inner_n = n - 2;
		return true;
	}
	*inner = v;
	*inner_n = n;
	return true;
}

/* A FROM value that names something on this machine's disk, the way
 * Ollama's client would read it: a path, or a weights file. */
static bool names_local_file(const char *v)
{
	size_t n = strlen(v);
	static const char *const suffixes[] = { ".gguf", ".bin", ".safetensors", ".pth" };

	if (v[0] == '/' || v[0] == '\\' || v[0] == '~' || !strcmp(v, ".") || !strcmp(v, "..") ||
	    !strncmp(v, "./", 2) || !strncmp(v, "../", 3) || !strncmp(v, ".\\", 2) || !strncmp(v, "..\\", 3))
		return true;
	if (n >= 3 && isalpha((unsigned char)v[0]) && v[1] == ':' && (v[2] == '\\' || v[2] == '/'))
		return true; /* C:\models */
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t k = strlen(suffixes[i]);
		if (n > k && !strcasecmp(v + n - k, suffixes[i]))
			return true;
	}
	return false;
}

/* golang.org/x/mod/semver's form, "v" optional: MAJOR[.MINOR[.PATCH]][-pre][+build]. */
static bool valid_semver(const char *v)
{
	int parts = 0;

	if (*v == 'v')
		v++;
	for (;;) {
		if (!isdigit((unsigned char)*v) || (*v == '0' && isdigit((unsigned char)v[1])))
			return false;
		while (isdigit((unsigned char)*v))
			v++;
		parts++;
		if (*v != '.' || parts == 3)
			break;
		v++;
	}
	if (parts == 3 && *v == '-') {
		if (!*++v)
			return false;
		while (isalnum((unsigned char)*v) || *v == '.' || *v == '-')
			v++;
	}
	if (parts == 3 && *v == '+') {
		if (!*++v)
			return false;
		while (isalnum((unsigned char)*v) || *v == '.' || *v == '-')
			v++;
	}
	return *v == '\0';
}

/* Value text quoted for a message, cut to a readable length. */
static const char *shown(char *buf, size_t size, const char *v)
{
	size_t n = strlen(v);

	if (n + 1 > size - 4)
		snprintf(buf, size, "%.*s...", (int)(size - 4), v);
	else
		snprintf(buf, size, "%s", v);
	hl__utf8_scrub(buf);
	return buf;
}

/* Format a parameter's value as Ollama's api.FormatParams types it. */
static int typed_value(struct param *p, const char *v, int line)
{
	char show[64], *end;

	switch (p->def->type) {
	case P_INT: {
		long long i;
		errno = 0;
		i = strtoll(v, &end, 10);
		if (!*v || *end || errno || isspace((unsigned char)*v))
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "line %d: invalid int value '%s' for parameter %s",
			               line, shown(show, sizeof(show), v), p->def->name);
		snprintf(p->num, sizeof(p->num), "%lld", i);
		return 0;
	}
	case P_FLOAT: {
		double d;
		float f;
		errno = 0;
		d = strtod(v, &end);
		f = (float)d;
		/* decimal numbers only: no hex, inf or nan (JSON has none) */
		if (!*v || *end || isspace((unsigned char)*v) || !isfinite(d) || !isfinite(f) || strpbrk(v, "xXnN"))
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "line %d: invalid float value '%s' for parameter %s",
			               line, shown(show, sizeof(show), v), p->def->name);
		/* the shortest text that reads back as the same float32, as Go
		 * prints a float32 */
		for (int prec = 1; prec <= 9; prec++) {
			snprintf(p->num, sizeof(p->num), "%.*g", prec, (double)f);
			if ((float)strtod(p->num, NULL) == f)
				break;
		}
		return 0;
	}
	case P_BOOL: {
		static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
		static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
		for (size_t i = 0; i < 6; i++) {
			if (!strcmp(v, yes[i])) {
				snprintf(p->num, sizeof(p->num), "true");
				return 0;
			}
			if (!strcmp(v, no[i])) {
				snprintf(p->num, sizeof(p->num), "false");
				return 0;
			}
		}
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "line %d: invalid bool value '%s' for parameter %s",
		               line, shown(show, sizeof(show), v), p->def->name);
	}
	default:
		return 0;
	}
}

static int add_parameter(struct req *r, const char *name, char *value, int line, hl_buf *warnings)
{
	const struct pdef *def = NULL;
	struct param *p = NULL;
	char show[64];
	int err;

	for (size_t i = 0; i < NPARAMS && !def; i++)
		if (!strcmp(params[i].name, name))
			def = &params[i];
	if (!def) {
		free(value);
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "line %d: unknown parameter '%s'", line,
		               shown(show, sizeof(show), name));
	}
	if (def->type == P_DROPPED) {
		free(value);
		if (warnings && hl_buf__printf(warnings, "line %d: parameter %s is deprecated and was dropped\n", line,
		                               def->name) < 0)
			return HL_ENOMEM;
		return 0;
	}
	for (size_t i = 0; i < r->np && !p; i++)
		if (r->p[i].def == def)
			p = &r->p[i];
	if (!p) {
		p = &r->p[r->np];
		memset(p, 0, sizeof(*p));
		p->def = def;
	}
	if (def->type == P_LIST) {
		if ((err = strs_add(&p->list, value)) < 0)
			return err;
	} else {
		err = typed_value(p, value, line);
		free(value);
		if (err < 0)
			return err;
	}
	if (p == &r->p[r->np])
		r->np++;
	return 0;
}

/* The reader's position in the text. */
struct cursor {
	const char *s;
	size_t n, i;
	int line;
};

static int peek(const struct cursor *c)
{
	return c->i < c->n ? (unsigned char)c->s[c->i] : -1;
}

/* Step over one character, counting lines ("\r\n" is one). */
static void step(struct cursor *c)
{
	char ch = c->s[c->i++];

	if (ch == '\n' || (ch == '\r' && !(c->i < c->n && c->s[c->i] == '\n')))
		c->line++;
}

/* Read a word of [A-Za-z] (plus digits and '_' when params) into buf. */
static size_t read_word(struct cursor *c, char *buf, size_t size, bool params_chars)
{
	size_t len = 0;
	int ch;

	while ((ch = peek(c)) >= 0 &&
	       (isalpha(ch) || (params_chars && (isdigit(ch) || ch == '_')))) {
		if (len + 1 < size)
			buf[len] = (char)ch;
		len++;
		c->i++;
	}
	buf[len < size ? len : size - 1] = '\0';
	return len;
}

/* The offending text at the cursor, for an error message. */
static const char *bad_text(char *buf, size_t size, const struct cursor *c, size_t from)
{
	size_t end = from;

	while (end < c->n && !isspace((unsigned char)c->s[end]) && end - from < size - 1)
		end++;
	snprintf(buf, size, "%.*s", (int)(end - from), c->s + from);
	hl__utf8_scrub(buf);
	return buf;
}

/* Read a value (after the blanks that follow its instruction) up to the
 * newline at which it is complete; unquote it into *out. */
static int read_value(char **out, struct cursor *c, const char *what, int line)
{
	hl_buf raw = HL_BUF_INIT;
	const char *inner;
	size_t inner_n;
	int ch, err = 0;

	*out = NULL;
	for (;;) {
		ch = peek(c);
		if (ch < 0 || is_newline((char)ch)) {
			if (value_complete(raw.ptr ? raw.ptr : "", raw.size, &inner, &inner_n))
				break;
			if (ch < 0) {
				hl_buf_dispose(&raw);
				return hl__err(HL_EINVALID, HL_ERROR_INVALID,
				               "line %d: the quoted value of %s is never closed", line, what);
			}
		}
		/* keep what Ollama keeps: printable text, blanks and newlines */
		if (ch >= 0x20 || ch == '\t' || ch == '\n' || ch == '\r') {
			if (ch != 0x7f && (err = hl_buf__put(&raw, c->s + c->i, 1)) < 0)
				break;
		}
		step(c);
	}
	if (err == 0 && !(*out = hl__strndup(inner, inner_n)))
		err = HL_ENOMEM;
	hl_buf_dispose(&raw);
	return err;
}

static void skip_blanks(struct cursor *c)
{
	while (c->i < c->n && is_blank(c->s[c->i]))
		c->i++;
}

/* One instruction at the cursor (not blank, not a comment). */
static int parse_instruction(struct req *r, struct cursor *c, hl_buf *warnings)
{
	char name[16], sub[80], show[80], what[100], *value = NULL;
	size_t start = c->i, len;
	int line = c->line, ch, err;
	size_t k;

	len = read_word(c, name, sizeof(name), false);
	for (k = 0; k < NINSTR; k++)
		if (len < sizeof(name) && !strcasecmp(name, instr_names[k]))
			break;
	ch = peek(c);
	if (len == 0 || k == NINSTR || (ch >= 0 && !is_blank((char)ch) && !is_newline((char)ch)))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID,
		               "line %d: unknown instruction '%s' (expected FROM, PARAMETER, TEMPLATE, SYSTEM, "
		               "ADAPTER, LICENSE, MESSAGE, REQUIRES, RENDERER or PARSER)",
		               line, bad_text(show, sizeof(show), c, start));
	if (ch < 0 || is_newline((char)ch))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "line %d: %s needs a value", line, instr_names[k]);
	skip_blanks(c);
	snprintf(what, sizeof(what), "%s", instr_names[k]);

	if (k == I_PARAMETER || k == I_MESSAGE) {
		size_t sub_start = c->i;
		len = read_word(c, sub, sizeof(sub), k == I_PARAMETER);
		ch = peek(c);
		if (len == 0 || (ch >= 0 && !is_blank((char)ch) && !is_newline((char)ch)))
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "line %d: %s: '%s' is not a %s", line,
			               instr_names[k], bad_text(show, sizeof(show), c, sub_start),
			               k == I_PARAMETER ? "parameter name" : "message role");
		if (k == I_MESSAGE && strcmp(sub, "system") && strcmp(sub, "user") && strcmp(sub, "assistant"))
			return hl__err(HL_EINVALID, HL_ERROR_INVALID,
			               "line %d: message role '%s' must be one of \"system\", \"user\", or \"assistant\"",
			               line, bad_text(show, sizeof(show), c, sub_start));
		if (ch < 0 || is_newline((char)ch))
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "line %d: %s %s needs a value", line,
			               instr_names[k], sub);
		skip_blanks(c);
		snprintf(what, sizeof(what), "%s %s", instr_names[k], sub);
	}
	if ((err = read_value(&value, c, what, line)) < 0)
		return err;

	switch (k) {
	case I_FROM:
		if (!*value) {
			free(value);
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "line %d: FROM needs a model name", line);
		}
		if (names_local_file(value)) {
			err = hl__err(HL_EINVALID, HL_ERROR_INVALID,
			              "line %d: FROM %s names a local file: not supported: upload the file to the VM "
			              "first and create the model there, or FROM a model the server has",
			              line, shown(show, sizeof(show), value));
			free(value);
			return err;
		}
		set_last(&r->from, value);
		return 0;
	case I_ADAPTER:
	case I_DRAFT:
		err = hl__err(HL_EINVALID, HL_ERROR_INVALID,
		              "line %d: %s %s names a local file: not supported: upload the file to the VM first "
		              "and create the model there", line, instr_names[k], shown(show, sizeof(show), value));
		free(value);
		return err;
	case I_PARAMETER:
		return add_parameter(r, sub, value, line, warnings);
	case I_TEMPLATE:
		set_last(&r->template_, value);
		return 0;
	case I_SYSTEM:
		set_last(&r->system, value);
		return 0;
	case I_LICENSE:
		return strs_add(&r->licenses, value);
	case I_MESSAGE: {
		char *role = hl__strdup(sub);
		if (!role) {
			free(value);
			return HL_ENOMEM;
		}
		if ((err = strs_add(&r->roles, role)) < 0) {
			free(value);
			return err;
		}
		return strs_add(&r->contents, value);
	}
	case I_REQUIRES:
		if (!valid_semver(value)) {
			err = hl__err(HL_EINVALID, HL_ERROR_INVALID,
			              "line %d: REQUIRES '%s' must be a valid semver (e.g. 0.14.0)", line,
			              shown(show, sizeof(show), value));
			free(value);
			return err;
		}
		if (value[0] == 'v')
			memmove(value, value + 1, strlen(value));
		set_last(&r->requires, value);
		return 0;
	case I_RENDERER:
		set_last(&r->renderer, value);
		return 0;
	default:
		set_last(&r->parser, value);
		return 0;
	}
}

static void write_request(hl_jw *w, const struct req *r, const char *model)
{
	hl_jw__obj(w);
	if (model)
		hl_jw__kstr(w, "model", model);
	hl_jw__kstr(w, "from", r->from);
	if (r->template_)
		hl_jw__kstr(w, "template", r->template_);
	if (r->system)
		hl_jw__kstr(w, "system", r->system);
	if (r->licenses.n) {
		hl_jw__key(w, "license");
		hl_jw__arr(w);
		for (size_t i = 0; i < r->licenses.n; i++)
			hl_jw__str(w, r->licenses.v[i]);
		hl_jw__end_arr(w);
	}
	if (r->np) {
		hl_jw__key(w, "parameters");
		hl_jw__obj(w);
		for (size_t i = 0; i < r->np; i++) {
			hl_jw__key(w, r->p[i].def->name);
			if (r->p[i].def->type == P_LIST) {
				hl_jw__arr(w);
				for (size_t j = 0; j < r->p[i].list.n; j++)
					hl_jw__str(w, r->p[i].list.v[j]);
				hl_jw__end_arr(w);
			} else {
				hl_jw__raw(w, r->p[i].num);
			}
		}
		hl_jw__end_obj(w);
	}
	if (r->roles.n) {
		hl_jw__key(w, "messages");
		hl_jw__arr(w);
		for (size_t i = 0; i < r->roles.n; i++) {
			hl_jw__obj(w);
			hl_jw__kstr(w, "role", r->roles.v[i]);
			hl_jw__kstr(w, "content", r->contents.v[i]);
			hl_jw__end_obj(w);
		}
		hl_jw__end_arr(w);
	}
	if (r->renderer)
		hl_jw__kstr(w, "renderer", r->renderer);
	if (r->parser)
		hl_jw__kstr(w, "parser", r->parser);
	if (r->requires)
		hl_jw__kstr(w, "requires", r->requires);
	hl_jw__end_obj(w);
}

int hl_modelfile_to_request(hl_buf *out, const char *text, size_t len, const hl_modelfile_options *opts)
{
	hl_modelfile_options defaults = HL_MODELFILE_OPTIONS_INIT;
	struct cursor c = { text, len, 0, 1 };
	struct req r;
	hl_buf json = HL_BUF_INIT;
	hl_jw w;
	int err = 0;

	if (!out || (!text && len))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_modelfile_to_request: out and text are required");
	if (!opts)
		opts = &defaults;
	if (opts->version != HL_MODELFILE_OPTIONS_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_modelfile_options version %u is not supported",
		               opts->version);
	if (opts->warnings && (err = hl_buf_set(opts->warnings, "", 0)) < 0)
		return err;
	memset(&r, 0, sizeof(r));
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		c.i = 3;
	while (err == 0 && c.i < c.n) {
		int ch = peek(&c);
		if (isspace(ch)) {
			step(&c);
		} else if (ch == '#') {
			while (c.i < c.n && !is_newline(c.s[c.i]))
				c.i++;
		} else {
			err = parse_instruction(&r, &c, opts->warnings);
		}
	}
	if (err == 0 && !r.from)
		err = hl__err(HL_EINVALID, HL_ERROR_INVALID, "no FROM line: a Modelfile needs FROM <model>");
	if (err == 0) {
		hl_jw__init(&w, &json);
		write_request(&w, &r, opts->model);
		if ((err = hl_jw__finish(&w)) == 0) {
			hl_buf_dispose(out);
			*out = json;
			json = (hl_buf)HL_BUF_INIT;
		}
	}
	hl_buf_dispose(&json);
	req_free(&r);
	return err;
}
