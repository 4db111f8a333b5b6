/*
 * jw.c: a streaming JSON writer into an hl_buf (see jw.h).
 */
#include "jw.h"

#include <math.h>
#include <stdio.h>

/* Room a writer starts with: a small result (homelab_lookup_ip's is under
 * 1 KiB) then needs no growth, a list a few doublings instead of six. */
#define JW_FIRST_ROOM 2048

void hl_jw__init(hl_jw *w, hl_buf *buf)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
}

int hl_jw__finish(hl_jw *w)
{
	if (w->err == 0 && w->depth != 0)
		w->err = hl__err(HL_ERROR, HL_ERROR_JSON, "JSON writer: %d unclosed containers", w->depth);
	return w->err;
}

static void put(hl_jw *w, const char *s, size_t n)
{
	hl_buf *b = w->buf;

	if (w->err != 0)
		return;
	if (!b->reserved && !b->ptr && hl_buf__grow(b, JW_FIRST_ROOM - 1 > n ? JW_FIRST_ROOM - 1 : n) < 0) {
		w->err = HL_ENOMEM;
		return;
	}
	/* the common case, room enough: no call to grow */
	if (b->reserved && b->reserved - b->size > n) {
		memcpy(b->ptr + b->size, s, n);
		b->size += n;
		b->ptr[b->size] = '\0';
	} else if (hl_buf__put(b, s, n) < 0) {
		w->err = HL_ENOMEM;
	}
}

/* The separator before a value or key at the current depth. */
static void sep(hl_jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->used[w->depth])
		put(w, ",", 1);
	w->used[w->depth] = true;
}

static void open_c(hl_jw *w, char c)
{
	sep(w);
	put(w, &c, 1);
	if (w->depth + 1 >= HL_JW_MAX_DEPTH) {
		if (w->err == 0)
			w->err = hl__err(HL_ERROR, HL_ERROR_JSON, "JSON writer: nested too deeply");
		return;
	}
	w->used[++w->depth] = false;
}

static void close_c(hl_jw *w, char c)
{
	if (w->depth == 0) {
		if (w->err == 0)
			w->err = hl__err(HL_ERROR, HL_ERROR_JSON, "JSON writer: close without open");
		return;
	}
	w->depth--;
	put(w, &c, 1);
}

void hl_jw__obj(hl_jw *w) { open_c(w, '{'); }
void hl_jw__end_obj(hl_jw *w) { close_c(w, '}'); }
void hl_jw__arr(hl_jw *w) { open_c(w, '['); }
void hl_jw__end_arr(hl_jw *w) { close_c(w, ']'); }

static void escaped(hl_jw *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	put(w, "\"", 1);
	while (p < end && w->err == 0) {
		const unsigned char *run = p;
		/* the common case: a run of printable ASCII copied at once */
		while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		if (p > run)
			put(w, (const char *)run, (size_t)(p - run));
		if (p == end)
			break;
		if (*p >= 0x80) {
			size_t len = hl__utf8_len(p, (size_t)(end - p));
			if (len) {
				put(w, (const char *)p, len);
				p += len;
			} else {
				put(w, "\xef\xbf\xbd", 3); /* U+FFFD for a byte that is not UTF-8 */
				p++;
			}
			continue;
		}
		switch (*p) {
		case '"':
			put(w, "\\\"", 2);
			break;
		case '\\':
			put(w, "\\\\", 2);
			break;
		case '\n':
			put(w, "\\n", 2);
			break;
		case '\r':
			put(w, "\\r", 2);
			break;
		case '\t':
			put(w, "\\t", 2);
			break;
		default: {
			char u[8];
			snprintf(u, sizeof(u), "\\u%04x", *p);
			put(w, u, 6);
		}
		}
		p++;
	}
	put(w, "\"", 1);
}

void hl_jw__key(hl_jw *w, const char *key)
{
	size_t n = strlen(key), i = 0;

	sep(w);
	while (i < n && key[i] >= 0x20 && key[i] != '"' && key[i] != '\\' && (unsigned char)key[i] < 0x80)
		i++;
	if (i == n && n <= 60) {
		/* a plain key (all of ours): "key": in one piece */
		char b[64];
		b[0] = '"';
		memcpy(b + 1, key, n);
		b[n + 1] = '"';
		b[n + 2] = ':';
		put(w, b, n + 3);
	} else {
		escaped(w, key, n);
		put(w, ":", 1);
	}
	w->after_key = true;
}

void hl_jw__strn(hl_jw *w, const char *s, size_t len)
{
	sep(w);
	escaped(w, s, len);
}

void hl_jw__str(hl_jw *w, const char *s)
{
	if (!s) {
		hl_jw__null(w);
		return;
	}
	hl_jw__strn(w, s, strlen(s));
}

void hl_jw__int(hl_jw *w, int64_t v)
{
	char b[24], *p = b + sizeof(b);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	sep(w);
	put(w, p, (size_t)(b + sizeof(b) - p));
}

void hl_jw__double(hl_jw *w, double v)
{
	char b[32];
	int n;

	sep(w);
	if (!isfinite(v)) {
		put(w, "null", 4); /* JSON has no NaN or infinity */
		return;
	}
	n = snprintf(b, sizeof(b), "%.17g", v);
	/* shortest form that reads back the same */
	for (int prec = 1; prec < 17; prec++) {
		char t[32];
		int m = snprintf(t, sizeof(t), "%.*g", prec, v);
		if (strtod(t, NULL) == v) {
			memcpy(b, t, (size_t)m + 1);
			n = m;
			break;
		}
	}
	put(w, b, (size_t)n);
}

void hl_jw__bool(hl_jw *w, bool v)
{
	sep(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void hl_jw__null(hl_jw *w)
{
	sep(w);
	put(w, "null", 4);
}

void hl_jw__raw(hl_jw *w, const char *json)
{
	sep(w);
	put(w, json, strlen(json));
}

void hl_jw__kstr(hl_jw *w, const char *key, const char *s)
{
	hl_jw__key(w, key);
	hl_jw__str(w, s);
}

void hl_jw__kint(hl_jw *w, const char *key, int64_t v)
{
	hl_jw__key(w, key);
	hl_jw__int(w, v);
}

void hl_jw__kint_or_null(hl_jw *w, const char *key, int64_t v)
{
	hl_jw__key(w, key);
	if (v)
		hl_jw__int(w, v);
	else
		hl_jw__null(w);
}

void hl_jw__kdouble(hl_jw *w, const char *key, double v)
{
	hl_jw__key(w, key);
	hl_jw__double(w, v);
}

void hl_jw__kbool(hl_jw *w, const char *key, bool v)
{
	hl_jw__key(w, key);
	hl_jw__bool(w, v);
}
