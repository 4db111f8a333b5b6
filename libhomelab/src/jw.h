/*
 * jw.h: a streaming JSON writer into an hl_buf.
 *
 * Tool results are written straight to text: building a json-c tree for a
 * 100k-VM list costs a million small allocations (measured: 9 us per VM,
 * most of it malloc and free). Errors are sticky: write everything, then
 * check hl_jw__finish() once.
 */
#ifndef HL_JW_H
#define HL_JW_H

#include "hl.h"

#define HL_JW_MAX_DEPTH 32

typedef struct {
	hl_buf *buf;
	int err;            /* first error (HL_ENOMEM, HL_EINVALID), sticky */
	int depth;
	bool after_key;     /* the next value follows a key: no comma */
	bool used[HL_JW_MAX_DEPTH]; /* something already written at this depth */
} hl_jw;

void hl_jw__init(hl_jw *w, hl_buf *buf);
/* 0, or the first error; the buffer holds the whole document on success. */
int hl_jw__finish(hl_jw *w);

void hl_jw__obj(hl_jw *w);
void hl_jw__end_obj(hl_jw *w);
void hl_jw__arr(hl_jw *w);
void hl_jw__end_arr(hl_jw *w);
void hl_jw__key(hl_jw *w, const char *key);

/* Values. Strings are escaped; invalid UTF-8 becomes U+FFFD, so the output
 * is always valid JSON whatever a database row holds. NULL writes null. */
void hl_jw__str(hl_jw *w, const char *s);
void hl_jw__strn(hl_jw *w, const char *s, size_t len);
void hl_jw__int(hl_jw *w, int64_t v);
void hl_jw__double(hl_jw *w, double v);
void hl_jw__bool(hl_jw *w, bool v);
void hl_jw__null(hl_jw *w);
/* A JSON text already known to be valid (e.g. a schema), copied as is. */
void hl_jw__raw(hl_jw *w, const char *json);

/* key: value shorthands. int_or_null writes null for 0. */
void hl_jw__kstr(hl_jw *w, const char *key, const char *s);
void hl_jw__kint(hl_jw *w, const char *key, int64_t v);
void hl_jw__kint_or_null(hl_jw *w, const char *key, int64_t v);
void hl_jw__kdouble(hl_jw *w, const char *key, double v);
void hl_jw__kbool(hl_jw *w, const char *key, bool v);

#endif
