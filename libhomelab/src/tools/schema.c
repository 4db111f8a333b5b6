/*
 * schema.c: a small JSON Schema validator (the subset listed in schema.h).
 *
 * Error messages name the field by its path from the top ("services[2].port")
 * and say what was expected, because they reach a model or a person who
 * must fix the call.
 */
#include "schema.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>

#define PATH_MAX_LEN 256

int hl_json__parse(struct json_object **out, const char *text, size_t len, const char *what)
{
	return hl_json__parse_with(NULL, out, text, len, what);
}

int hl_json__parse_with(struct json_tokener *reuse, struct json_object **out, const char *text, size_t len,
                        const char *what)
{
	struct json_tokener *tok = reuse;
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t off;

	*out = NULL;
	if (len > INT32_MAX)
		return hl__err(HL_EINVALID, HL_ERROR_JSON, "%s: JSON text too large", what);
	if (tok)
		json_tokener_reset(tok);
	else if (!(tok = json_tokener_new_ex(HL_JSON_DEPTH)))
		return hl__oom();
	obj = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	off = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue && !obj) {
		/* A top-level number or literal ("42", "true") only ends at the
		 * end of the input: tell the tokener that it has ended. */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok) == json_tokener_success ? json_tokener_success
		                                                           : json_tokener_continue;
		off = len;
	}
	if (tok != reuse)
		json_tokener_free(tok);
	if (jerr == json_tokener_continue) {
		json_object_put(obj);
		return hl__err(HL_EINVALID, HL_ERROR_JSON, "%s: JSON text ends too early", what);
	}
	if (jerr != json_tokener_success) {
		json_object_put(obj);
		return hl__err(HL_EINVALID, HL_ERROR_JSON, "%s: invalid JSON at byte %zu: %s", what, off,
		               json_tokener_error_desc(jerr));
	}
	/* Only whitespace may follow the value. */
	for (; off < len; off++) {
		char c = text[off];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			json_object_put(obj);
			return hl__err(HL_EINVALID, HL_ERROR_JSON, "%s: unexpected text after the JSON value at byte %zu",
			               what, off);
		}
	}
	*out = obj;
	return 0;
}

static const char *type_name(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "boolean";
	case json_type_double:
		return "number";
	case json_type_int:
		return "integer";
	case json_type_object:
		return "object";
	case json_type_array:
		return "array";
	case json_type_string:
		return "string";
	}
	return "unknown";
}

static bool is_integral(struct json_object *v)
{
	if (json_object_is_type(v, json_type_int))
		return true;
	if (json_object_is_type(v, json_type_double)) {
		double d = json_object_get_double(v);
		return isfinite(d) && d == floor(d) && fabs(d) < 9007199254740992.0;
	}
	return false;
}

static bool type_matches(const char *want, struct json_object *v)
{
	if (!strcmp(want, "integer"))
		return is_integral(v);
	if (!strcmp(want, "number"))
		return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
	return !strcmp(want, type_name(v));
}

/* Format the value briefly for a message. */
static void brief(char *out, size_t n, struct json_object *v)
{
	const char *s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len = strlen(s);

	if (len > 40)
		snprintf(out, n, "%.37s...", s);
	else
		snprintf(out, n, "%s", s);
}

static int fail(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const char *path, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: %s", path, msg);
}

static int validate(struct json_object *schema, struct json_object *v, const char *path);

static int check_type(struct json_object *schema, struct json_object *v, const char *path)
{
	struct json_object *t;
	char want[128] = "";

	if (!json_object_object_get_ex(schema, "type", &t))
		return 0;
	if (json_object_is_type(t, json_type_string))
		return type_matches(json_object_get_string(t), v)
		       ? 0 : fail(path, "must be %s %s, not %s", strchr("aeiou", json_object_get_string(t)[0]) ? "an" : "a",
		                  json_object_get_string(t), type_name(v));
	if (json_object_is_type(t, json_type_array)) {
		size_t n = json_object_array_length(t);
		for (size_t i = 0; i < n; i++) {
			const char *w = json_object_get_string(json_object_array_get_idx(t, i));
			if (w && type_matches(w, v))
				return 0;
			if (w) {
				size_t used = strlen(want);
				snprintf(want + used, sizeof(want) - used, "%s%s", i ? (i + 1 == n ? " or " : ", ") : "", w);
			}
		}
		return fail(path, "must be %s, not %s", want, type_name(v));
	}
	return 0;
}

static int check_enum(struct json_object *schema, struct json_object *v, const char *path)
{
	struct json_object *e, *c;
	char list[512] = "", got[64];

	if (json_object_object_get_ex(schema, "const", &c) && !json_object_equal(c, v)) {
		brief(got, sizeof(got), c);
		return fail(path, "must be %s", got);
	}
	if (!json_object_object_get_ex(schema, "enum", &e) || !json_object_is_type(e, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(e); i++) {
		struct json_object *x = json_object_array_get_idx(e, i);
		size_t used = strlen(list);
		if (json_object_equal(x, v))
			return 0;
		snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
		         json_object_is_type(x, json_type_string) ? json_object_get_string(x)
		                                                   : json_object_to_json_string(x));
	}
	brief(got, sizeof(got), v);
	return fail(path, "must be one of %s (got %s)", list, got);
}

static int64_t get_int(struct json_object *schema, const char *key, int64_t dflt)
{
	struct json_object *x;
	return json_object_object_get_ex(schema, key, &x) ? json_object_get_int64(x) : dflt;
}

static int check_string(struct json_object *schema, struct json_object *v, const char *path)
{
	const char *s = json_object_get_string(v);
	size_t bytes = (size_t)json_object_get_string_len(v), chars = 0;
	struct json_object *pat;

	/* JSON Schema lengths count characters, not bytes. */
	for (size_t i = 0; i < bytes; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			chars++;
	if ((int64_t)chars < get_int(schema, "minLength", 0))
		return chars == 0 ? fail(path, "must not be empty")
		                  : fail(path, "must be at least %lld characters", (long long)get_int(schema, "minLength", 0));
	if ((int64_t)chars > get_int(schema, "maxLength", INT64_MAX))
		return fail(path, "must be at most %lld characters", (long long)get_int(schema, "maxLength", 0));
	if (strlen(s) != bytes)
		return fail(path, "must not contain a NUL character");
	if (json_object_object_get_ex(schema, "pattern", &pat)) {
		regex_t re;
		int rc;
		if (regcomp(&re, json_object_get_string(pat), REG_EXTENDED | REG_NOSUB) != 0)
			return hl__err(HL_ERROR, HL_ERROR_TOOL, "%s: the schema's pattern does not compile", path);
		rc = regexec(&re, s, 0, NULL, 0);
		regfree(&re);
		if (rc != 0)
			return fail(path, "'%.40s' does not match the pattern %s", s, json_object_get_string(pat));
	}
	return 0;
}

static int check_number(struct json_object *schema, struct json_object *v, const char *path)
{
	struct json_object *x;
	double d = json_object_get_double(v);

	if (json_object_object_get_ex(schema, "minimum", &x) && d < json_object_get_double(x))
		return fail(path, "must be at least %s", json_object_to_json_string(x));
	if (json_object_object_get_ex(schema, "maximum", &x) && d > json_object_get_double(x))
		return fail(path, "must be at most %s", json_object_to_json_string(x));
	return 0;
}

static int check_object(struct json_object *schema, struct json_object *v, const char *path, bool top)
{
	struct json_object *props = NULL, *req, *addl = NULL;
	char sub[PATH_MAX_LEN];
	int err;

	json_object_object_get_ex(schema, "properties", &props);
	json_object_object_get_ex(schema, "additionalProperties", &addl);
	if (json_object_object_get_ex(schema, "required", &req) && json_object_is_type(req, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(req); i++) {
			const char *k = json_object_get_string(json_object_array_get_idx(req, i));
			if (k && !json_object_object_get_ex(v, k, NULL)) {
				snprintf(sub, sizeof(sub), top ? "%s" : "%s.%s", top ? k : path, k);
				return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: is required", sub);
			}
		}
	}
	json_object_object_foreach(v, key, val) {
		struct json_object *ps = NULL;
		snprintf(sub, sizeof(sub), top ? "%s" : "%s.%s", top ? key : path, key);
		if (props && json_object_object_get_ex(props, key, &ps)) {
			if ((err = validate(ps, val, sub)) < 0)
				return err;
		} else if (addl && json_object_is_type(addl, json_type_boolean) && !json_object_get_boolean(addl)) {
			char known[512] = "";
			if (props) {
				json_object_object_foreach(props, pk, pv) {
					size_t used = strlen(known);
					(void)pv;
					snprintf(known + used, sizeof(known) - used, "%s%s", used ? ", " : "", pk);
				}
			}
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: unknown %s (expected %s)", sub,
			               top ? "argument" : "field", *known ? known : "none");
		} else if (addl && json_object_is_type(addl, json_type_object)) {
			if ((err = validate(addl, val, sub)) < 0)
				return err;
		}
	}
	return 0;
}

static int check_array(struct json_object *schema, struct json_object *v, const char *path)
{
	struct json_object *items;
	size_t n = json_object_array_length(v);
	char sub[PATH_MAX_LEN];
	int err;

	if ((int64_t)n < get_int(schema, "minItems", 0))
		return fail(path, "must have at least %lld items", (long long)get_int(schema, "minItems", 0));
	if ((int64_t)n > get_int(schema, "maxItems", INT64_MAX))
		return fail(path, "must have at most %lld items", (long long)get_int(schema, "maxItems", 0));
	if (!json_object_object_get_ex(schema, "items", &items) || !json_object_is_type(items, json_type_object))
		return 0;
	for (size_t i = 0; i < n; i++) {
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if ((err = validate(items, json_object_array_get_idx(v, i), sub)) < 0)
			return err;
	}
	return 0;
}

/* anyOf / oneOf: count the branches that accept v; report the first
 * branch's complaint when none does. */
static int check_combinators(struct json_object *schema, struct json_object *v, const char *path)
{
	static const char *const kw[] = { "anyOf", "oneOf" };

	for (int k = 0; k < 2; k++) {
		struct json_object *arr;
		char first[512] = "";
		int ok = 0;
		if (!json_object_object_get_ex(schema, kw[k], &arr) || !json_object_is_type(arr, json_type_array))
			continue;
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			if (validate(json_object_array_get_idx(arr, i), v, path) == 0)
				ok++;
			else if (!*first)
				snprintf(first, sizeof(first), "%s", hl_error_last()->message);
		}
		if (ok == 0)
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s", first);
		if (k == 1 && ok > 1)
			return fail(path, "matches more than one of the allowed forms");
		/* the branches that did not match left their complaint behind */
		hl_error_clear();
	}
	return 0;
}

static int validate_at(struct json_object *schema, struct json_object *v, const char *path, bool top)
{
	int err;

	if (json_object_is_type(schema, json_type_boolean))
		return json_object_get_boolean(schema) ? 0 : fail(path, "is not allowed");
	if (!json_object_is_type(schema, json_type_object))
		return 0;
	if ((err = check_type(schema, v, path)) < 0 || (err = check_enum(schema, v, path)) < 0)
		return err;
	switch (json_object_get_type(v)) {
	case json_type_string:
		err = check_string(schema, v, path);
		break;
	case json_type_int:
	case json_type_double:
		err = check_number(schema, v, path);
		break;
	case json_type_object:
		err = check_object(schema, v, path, top);
		break;
	case json_type_array:
		err = check_array(schema, v, path);
		break;
	default:
		err = 0;
	}
	if (err < 0)
		return err;
	return check_combinators(schema, v, path);
}

static int validate(struct json_object *schema, struct json_object *v, const char *path)
{
	return validate_at(schema, v, path, false);
}

int hl_schema__validate(struct json_object *schema, struct json_object *value, const char *what)
{
	return validate_at(schema, value, what, true);
}

/* Keyword value types the validator relies on. */
static int check_keywords(struct json_object *s, const char *path, int depth)
{
	static const struct {
		const char *kw;
		json_type type;
	} kws[] = {
		{ "properties", json_type_object }, { "required", json_type_array }, { "enum", json_type_array },
		{ "minLength", json_type_int }, { "maxLength", json_type_int }, { "minItems", json_type_int },
		{ "maxItems", json_type_int }, { "pattern", json_type_string }, { "anyOf", json_type_array },
		{ "oneOf", json_type_array }, { "description", json_type_string },
	};
	struct json_object *x;
	char sub[PATH_MAX_LEN];
	int err;

	if (depth > 32)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: schema nested too deeply", path);
	if (json_object_is_type(s, json_type_boolean))
		return 0;
	if (!json_object_is_type(s, json_type_object))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: a schema must be an object", path);
	for (size_t i = 0; i < sizeof(kws) / sizeof(kws[0]); i++)
		if (json_object_object_get_ex(s, kws[i].kw, &x) && !json_object_is_type(x, kws[i].type))
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: \"%s\" must be a JSON %s", path, kws[i].kw,
			               json_type_to_name(kws[i].type));
	if (json_object_object_get_ex(s, "type", &x) && !json_object_is_type(x, json_type_string) &&
	    !json_object_is_type(x, json_type_array))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: \"type\" must be a string or an array", path);
	if (json_object_object_get_ex(s, "additionalProperties", &x) && !json_object_is_type(x, json_type_boolean) &&
	    !json_object_is_type(x, json_type_object))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: \"additionalProperties\" must be a boolean or a schema",
		               path);
	if (json_object_object_get_ex(s, "pattern", &x)) {
		regex_t re;
		if (regcomp(&re, json_object_get_string(x), REG_EXTENDED | REG_NOSUB) != 0)
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: pattern does not compile", path);
		regfree(&re);
	}
	if (json_object_object_get_ex(s, "properties", &x)) {
		json_object_object_foreach(x, k, v) {
			snprintf(sub, sizeof(sub), "%s.%s", path, k);
			if ((err = check_keywords(v, sub, depth + 1)) < 0)
				return err;
		}
	}
	if (json_object_object_get_ex(s, "items", &x)) {
		snprintf(sub, sizeof(sub), "%s[]", path);
		if ((err = check_keywords(x, sub, depth + 1)) < 0)
			return err;
	}
	return 0;
}

int hl_schema__check(const char *schema_text, const char *what)
{
	struct json_object *s = NULL, *t;
	int err;

	if (!schema_text)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: schema is missing", what);
	if ((err = hl_json__parse(&s, schema_text, strlen(schema_text), what)) < 0)
		return err;
	if (!json_object_is_type(s, json_type_object) || !json_object_object_get_ex(s, "type", &t) ||
	    !json_object_is_type(t, json_type_string) || strcmp(json_object_get_string(t), "object") != 0)
		err = hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: must be a schema of \"type\": \"object\"", what);
	else
		err = check_keywords(s, what, 0);
	json_object_put(s);
	return err;
}
