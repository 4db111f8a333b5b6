/*
 * fuzz_escape.c: hl_text_escape on any bytes, as labels reach the audit log
 * and the CLI's tables. Properties: the output is valid UTF-8 with no C0
 * control, DEL, C1 control or bidi override left; printable input comes out
 * unchanged; with HL_ESCAPE_BACKSLASH every backslash starts an escape, so
 * the output decodes back to the input; the limited form used for audit
 * details never goes past its limit and is a prefix of the whole.
 */
#include "hl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Undo HL_ESCAPE_BACKSLASH escaping; -1 if the text is not such output. */
static long unescape(const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			out[o++] = s[i];
			continue;
		}
		if (++i >= n)
			return -1;
		switch (s[i]) {
		case '\\': out[o++] = '\\'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case 'x':
			if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return -1;
			out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
			break;
		case 'u': {
			unsigned cp = 0;
			if (i + 4 >= n)
				return -1;
			for (int k = 1; k <= 4; k++) {
				if (hexval(s[i + k]) < 0)
					return -1;
				cp = cp * 16 + (unsigned)hexval(s[i + k]);
			}
			i += 4;
			if (cp < 0x800) {
				out[o++] = (char)(0xc0 | (cp >> 6));
			} else {
				out[o++] = (char)(0xe0 | (cp >> 12));
				out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			}
			out[o++] = (char)(0x80 | (cp & 0x3f));
			break;
		}
		default:
			return -1;
		}
	}
	return (long)o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hl_buf a = HL_BUF_INIT, b = HL_BUF_INIT, c = HL_BUF_INIT;
	char *in, *back;
	size_t n, max;
	bool cut = false;
	long m;

	if (size > 4096)
		return 0;
	in = malloc(size + 1);
	memcpy(in, data, size);
	in[size] = '\0';
	n = strlen(in);
	if (hl_text_escape(&a, in, 0) != 0 || hl_text_escape(&b, in, HL_ESCAPE_BACKSLASH) != 0)
		abort();
	for (const hl_buf *x = &a; x; x = x == &a ? &b : NULL) {
		const unsigned char *p = (const unsigned char *)(x->ptr ? x->ptr : "");
		size_t left = x->size;
		while (left) {
			size_t len = *p < 0x80 ? 1 : hl__utf8_len(p, left);
			if (len == 0 || *p < 0x20 || *p == 0x7f)
				abort(); /* not UTF-8, or a control left */
			if (len == 2 && p[0] == 0xc2 && p[1] < 0xa0)
				abort(); /* a C1 control left */
			if (len == 3 && p[0] == 0xe2 && p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae)
				abort(); /* a bidi override left */
			p += len;
			left -= len;
		}
	}
	if (!hl__needs_escape(in, 0) && (a.size != n || memcmp(a.ptr ? a.ptr : "", in, n)))
		abort();
	back = malloc(b.size + 1);
	m = unescape(b.ptr ? b.ptr : "", b.size, back);
	if (m != (long)n || memcmp(back, in, n))
		abort();
	free(back);
	max = size ? data[0] * 4u + 1 : 1;
	if (hl__escape(&c, in, max, HL_ESCAPE_BACKSLASH, &cut) != 0 || c.size > max ||
	    (c.size && memcmp(c.ptr, b.ptr, c.size)) || cut != (c.size < b.size))
		abort();
	hl_buf_dispose(&a);
	hl_buf_dispose(&b);
	hl_buf_dispose(&c);
	free(in);
	return 0;
}
