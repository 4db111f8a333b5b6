/*
 * uritmpl.c: RFC 6570 level 1 templates for registered resources (see
 * uritmpl.h). Matching backtracks over at most HL_URITMPL_MAX_VARS
 * expressions, each confined to one path segment, and gives up (no match)
 * after a fixed number of steps, so a hostile URI costs little.
 */
#include "uritmpl.h"
#include "jw.h"

#include <stdio.h>
#include <string.h>

static bool name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int hl_uritmpl__check(const char *tmpl, const char *what)
{
	const char *names[HL_URITMPL_MAX_VARS];
	size_t lens[HL_URITMPL_MAX_VARS];
	int nvars = 0;
	bool after_var = false;

	if (!tmpl || !*tmpl)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: the URI template is empty", what);
	for (const char *p = tmpl; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x21 || c > 0x7e)
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: a URI template holds only printable ASCII", what);
		if (c == '}')
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: '}' without '{' in the URI template", what);
		if (c != '{') {
			after_var = false;
			continue;
		}
		const char *name = p + 1, *q = name;
		while (name_char((unsigned char)*q))
			q++;
		if (*q != '}' || q == name || q - name > 32)
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: a URI template expression is {name}, the name "
			               "of 1 to 32 letters, digits or '_'", what);
		if (after_var)
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: two expressions next to each other in the URI "
			               "template", what);
		if (nvars == HL_URITMPL_MAX_VARS)
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: more than %d expressions in the URI template", what,
			               HL_URITMPL_MAX_VARS);
		for (int i = 0; i < nvars; i++)
			if (lens[i] == (size_t)(q - name) && !memcmp(names[i], name, lens[i]))
				return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: {%.*s} twice in the URI template", what,
				               (int)lens[i], name);
		names[nvars] = name;
		lens[nvars++] = (size_t)(q - name);
		after_var = true;
		p = q;
	}
	if (!nvars)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: a URI template needs an expression {name}", what);
	return 0;
}

struct span {
	const char *name, *value;
	size_t name_len, value_len;
};

/* Match tmpl from t against uri from u; spans[n...] get the values. Each
 * call spends one of *budget: a URI that would need more is no match. */
static bool match_at(const char *t, const char *u, struct span *spans, int n, long *budget)
{
	if (--*budget < 0)
		return false;
	while (*t && *t != '{') {
		if (*t != *u)
			return false;
		t++;
		u++;
	}
	if (!*t)
		return !*u;
	const char *name = t + 1, *close = strchr(name, '}');
	/* one or more characters of one segment; the longest first */
	size_t max = strcspn(u, "/?#");
	for (size_t len = max; len >= 1; len--) {
		spans[n] = (struct span){ name, u, (size_t)(close - name), len };
		if (match_at(close + 1, u + len, spans, n + 1, budget))
			return true;
	}
	return false;
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decode a value into out (256 bytes); false if it is not a value. */
static bool decode(char *out, const char *v, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)v[i];
		if (c == '%') {
			if (i + 2 >= len)
				return false;
			int h = hexval((unsigned char)v[i + 1]), l = hexval((unsigned char)v[i + 2]);
			if (h < 0 || l < 0)
				return false;
			c = h * 16 + l;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || n == 255)
			return false;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	/* UTF-8 text only */
	for (size_t i = 0; i < n;) {
		size_t l = (unsigned char)out[i] < 0x80 ? 1 : hl__utf8_len((const unsigned char *)out + i, n - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

int hl_uritmpl__match(const char *tmpl, const char *uri, hl_buf *vars)
{
	struct span spans[HL_URITMPL_MAX_VARS];
	long budget = 100000;
	int n = 0;
	hl_jw w;

	if (!tmpl || !uri || strlen(uri) > 4096 || !match_at(tmpl, uri, spans, 0, &budget))
		return 0;
	for (const char *p = tmpl; (p = strchr(p, '{')); p++)
		n++;
	if (vars) {
		hl_jw__init(&w, vars);
		hl_jw__obj(&w);
	}
	for (int i = 0; i < n; i++) {
		char value[256], name[33];
		if (!decode(value, spans[i].value, spans[i].value_len)) {
			if (vars)
				hl_buf_dispose(vars);
			return 0;
		}
		if (vars) {
			snprintf(name, sizeof(name), "%.*s", (int)spans[i].name_len, spans[i].name);
			hl_jw__kstr(&w, name, value);
		}
	}
	if (!vars)
		return 1;
	hl_jw__end_obj(&w);
	if ((n = hl_jw__finish(&w)) < 0) {
		/* a value that is not UTF-8 names nothing */
		hl_buf_dispose(vars);
		return n == HL_ENOMEM ? HL_ENOMEM : 0;
	}
	return 1;
}
