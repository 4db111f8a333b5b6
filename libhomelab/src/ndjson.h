/*
 * ndjson.h: a reader of newline-delimited JSON streams (Ollama's
 * application/x-ndjson answers), fed in whatever pieces the network gives.
 *
 * Each complete line (without its "\n", and without a "\r" before it) goes
 * to the callback; blank lines are skipped. A line longer than max_line is
 * an error, so a server cannot make the reader buffer without end. The
 * reader does not parse JSON: the callback does.
 */
#ifndef HL_NDJSON_H
#define HL_NDJSON_H

#include "hl.h"

/* Return 0 to go on, or a negative hl_error_code to stop the stream. The
 * line is NUL-terminated and lent for the call only. */
typedef int (*hl_ndjson__line_fn)(const char *line, size_t len, void *payload);

typedef struct {
	hl_buf part;          /* the unfinished line */
	size_t max_line;
	hl_ndjson__line_fn fn;
	void *payload;
	int err;              /* first error, sticky */
	size_t lines;         /* lines handed to fn */
} hl_ndjson;

void hl_ndjson__init(hl_ndjson *r, size_t max_line, hl_ndjson__line_fn fn, void *payload);
/* Feed bytes: 0, or the first error (the callback's, or HL_EINVALID for a
 * line that is too long, or HL_ENOMEM). */
int hl_ndjson__feed(hl_ndjson *r, const char *data, size_t n);
/* The stream ended: a last line without "\n" is still a line. */
int hl_ndjson__finish(hl_ndjson *r);
void hl_ndjson__dispose(hl_ndjson *r);

#endif
