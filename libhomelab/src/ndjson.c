/*
 * ndjson.c: newline-delimited JSON stream reader (see ndjson.h).
 */
#include "ndjson.h"

void hl_ndjson__init(hl_ndjson *r, size_t max_line, hl_ndjson__line_fn fn, void *payload)
{
	memset(r, 0, sizeof(*r));
	r->max_line = max_line;
	r->fn = fn;
	r->payload = payload;
}

void hl_ndjson__dispose(hl_ndjson *r)
{
	hl_buf_dispose(&r->part);
}

/* Hand one line (without "\n") to the callback; skip blank ones. */
static int emit(hl_ndjson *r, char *line, size_t len)
{
	int err;

	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	for (size_t i = 0; i < len; i++) {
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
			r->lines++;
			if ((err = r->fn(line, len, r->payload)) < 0)
				return err;
			return 0;
		}
	}
	return 0;
}

static int too_long(hl_ndjson *r)
{
	return hl__err(HL_EINVALID, HL_ERROR_HTTP, "stream line %zu is longer than %zu bytes", r->lines + 1,
	               r->max_line);
}

int hl_ndjson__feed(hl_ndjson *r, const char *data, size_t n)
{
	const char *nl;

	if (r->err)
		return r->err;
	while (n) {
		size_t take;
		if (!(nl = memchr(data, '\n', n))) {
			if (r->part.size + n > r->max_line)
				return r->err = too_long(r);
			if ((r->err = hl_buf__put(&r->part, data, n)) < 0)
				return r->err;
			return 0;
		}
		take = (size_t)(nl - data);
		if (r->part.size + take > r->max_line)
			return r->err = too_long(r);
		/* the line may have begun in an earlier piece; the callback
		 * gets it whole and NUL-terminated */
		if ((r->err = hl_buf__put(&r->part, data, take)) < 0)
			return r->err;
		r->err = emit(r, r->part.ptr, r->part.size);
		r->part.size = 0;
		r->part.ptr[0] = '\0';
		if (r->err)
			return r->err;
		data = nl + 1;
		n -= take + 1;
	}
	return 0;
}

int hl_ndjson__finish(hl_ndjson *r)
{
	if (r->err)
		return r->err;
	if (r->part.size) {
		r->err = emit(r, r->part.ptr, r->part.size);
		r->part.size = 0;
		r->part.ptr[0] = '\0';
	}
	return r->err;
}
