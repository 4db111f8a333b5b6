/*
 * escape.c: text made safe to store and show: control characters, bidi
 * overrides and bytes that are not UTF-8 written as visible escapes, so a
 * label from outside never moves a terminal's cursor, clears its screen or
 * hides text (an audit row "\e[2J...OK all clear\r" shows as just that).
 */
#include "hl.h"

#include <stdio.h>

/* Code points that are invisible or reorder text on a terminal: C1 controls,
 * the Arabic letter mark, zero-width and direction marks, line and paragraph
 * separators, embeddings and overrides, invisible operators and isolates,
 * and the byte order mark. */
static bool hidden(unsigned cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x61c || (cp >= 0x200b && cp <= 0x200f) ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

static unsigned decode(const unsigned char *p, size_t len)
{
	unsigned cp = p[0] & (0xff >> (len + 1));

	for (size_t i = 1; i < len; i++)
		cp = (cp << 6) | (p[i] & 0x3f);
	return cp;
}

int hl__escape(hl_buf *out, const char *s, size_t max, unsigned int flags, bool *cut)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	char unit[16];

	if (cut)
		*cut = false;
	while (n > 0) {
		size_t len = *p < 0x80 ? 1 : hl__utf8_len(p, n), ulen;
		const char *u = unit;

		if (*p == '\n' || *p == '\r' || *p == '\t') {
			snprintf(unit, sizeof(unit), "\\%c", *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't');
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(unit, sizeof(unit), "\\x%02x", *p);
		} else if (*p == '\\' && (flags & HL_ESCAPE_BACKSLASH)) {
			u = "\\\\";
		} else if (len == 0) {
			snprintf(unit, sizeof(unit), "\\x%02x", *p); /* not UTF-8 */
			len = 1;
		} else if (len > 1 && hidden(decode(p, len))) {
			snprintf(unit, sizeof(unit), "\\u%04x", decode(p, len));
		} else {
			u = (const char *)p;
		}
		ulen = u == (const char *)p ? len : strlen(u);
		if (max && out->size + ulen > max) {
			if (cut)
				*cut = true;
			return 0;
		}
		if (hl_buf__put(out, u, ulen) < 0)
			return HL_ENOMEM;
		p += len;
		n -= len;
	}
	return 0;
}

int hl_text_escape(hl_buf *out, const char *text, unsigned int flags)
{
	if (!out || !text)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_text_escape: out and text are required");
	if (flags & ~(unsigned)HL_ESCAPE_BACKSLASH)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_text_escape: unknown flags %#x", flags);
	return hl__escape(out, text, 0, flags, NULL);
}

bool hl__needs_escape(const char *s, unsigned int flags)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	while (n > 0) {
		size_t len = *p < 0x80 ? 1 : hl__utf8_len(p, n);
		if (*p < 0x20 || *p == 0x7f || (*p == '\\' && (flags & HL_ESCAPE_BACKSLASH)) || len == 0 ||
		    (len > 1 && hidden(decode(p, len))))
			return true;
		p += len;
		n -= len;
	}
	return false;
}
