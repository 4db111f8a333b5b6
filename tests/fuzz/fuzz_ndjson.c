/*
 * fuzz_ndjson.c: the NDJSON stream reader, fed the input in pieces whose
 * sizes the input's first byte picks, hands over exactly the lines that
 * splitting the whole input at '\n' gives (without a trailing '\r', blank
 * lines skipped), or stops with an error for a line over its limit.
 */
#include "ndjson.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINE 256

struct expect {
	const char *text;   /* the whole input */
	size_t size, pos;   /* where the next expected line starts */
};

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* The next line the reader must hand over: [*start, *start + *len). */
static bool next_expected(struct expect *e, const char **start, size_t *len)
{
	while (e->pos < e->size) {
		const char *s = e->text + e->pos, *nl = memchr(s, '\n', e->size - e->pos);
		size_t n = nl ? (size_t)(nl - s) : e->size - e->pos;
		e->pos += n + (nl ? 1 : 0);
		if (n && s[n - 1] == '\r')
			n--;
		if (!blank(s, n)) {
			*start = s;
			*len = n;
			return true;
		}
	}
	return false;
}

static int on_line(const char *line, size_t len, void *payload)
{
	struct expect *e = payload;
	const char *want;
	size_t want_len;

	if (line[len] != '\0' || !next_expected(e, &want, &want_len) || want_len != len || memcmp(want, line, len))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct expect e;
	hl_ndjson r;
	size_t step, i;
	bool too_long = false;
	const char *s;
	size_t n;
	int rc = 0;

	if (size == 0)
		return 0;
	step = (size_t)data[0] % 17 + 1;
	e.text = (const char *)data + 1;
	e.size = size - 1;
	e.pos = 0;
	hl_ndjson__init(&r, MAX_LINE, on_line, &e);
	for (i = 0; i < e.size && rc == 0; i += step)
		rc = hl_ndjson__feed(&r, e.text + i, i + step <= e.size ? step : e.size - i);
	if (rc == 0)
		rc = hl_ndjson__finish(&r);
	/* an error only for a line longer than the limit */
	{
		struct expect all = { e.text, e.size, 0 };
		size_t pos = 0;
		while (pos < all.size) {
			s = all.text + pos;
			const char *nl = memchr(s, '\n', all.size - pos);
			n = nl ? (size_t)(nl - s) : all.size - pos;
			if (n > MAX_LINE)
				too_long = true;
			pos += n + 1;
		}
	}
	if (too_long != (rc != 0) || (rc != 0 && rc != HL_EINVALID))
		abort();
	if (rc == 0 && next_expected(&e, &s, &n))
		abort(); /* a line was not handed over */
	hl_ndjson__dispose(&r);
	return 0;
}
