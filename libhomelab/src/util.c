/*
 * util.c: allocation helpers, hl_buf, small parsers and the version.
 */
#include "hl.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

const char *hl_version(void)
{
	return HOMELAB_VERSION;
}

void *hl__malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		hl__oom();
	return p;
}

void *hl__calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		hl__oom();
	return p;
}

void *hl__realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		hl__oom();
	return q;
}

char *hl__strdup(const char *s)
{
	if (!s)
		return NULL;
	return hl__strndup(s, strlen(s));
}

char *hl__strndup(const char *s, size_t n)
{
	char *p = hl__malloc(n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void hl_buf_dispose(hl_buf *buf)
{
	if (!buf)
		return;
	/* A tool result may carry a secret (homelab_get_credentials): wipe
	 * before giving the memory back. */
	if (buf->reserved) {
		explicit_bzero(buf->ptr, buf->reserved);
		free(buf->ptr);
	}
	buf->ptr = NULL;
	buf->size = 0;
	buf->reserved = 0;
}

int hl_buf__grow(hl_buf *buf, size_t extra)
{
	size_t need = buf->size + extra + 1;
	size_t cap;
	char *p;

	if (need < extra)
		return hl__oom();
	if (buf->reserved >= need)
		return 0;
	cap = buf->reserved ? buf->reserved : 64;
	while (cap < need)
		cap = cap * 2 > cap ? cap * 2 : need;
	if (!buf->reserved && buf->ptr) {
		/* a lent buffer: copy it into memory of our own */
		p = hl__malloc(cap);
		if (!p)
			return HL_ENOMEM;
		memcpy(p, buf->ptr, buf->size);
	} else {
		/* not realloc: a block it moves is freed unwiped, and a result may
		 * carry a secret */
		p = hl__malloc(cap);
		if (!p)
			return HL_ENOMEM;
		if (buf->ptr) {
			memcpy(p, buf->ptr, buf->size);
			explicit_bzero(buf->ptr, buf->reserved);
			free(buf->ptr);
		}
	}
	buf->ptr = p;
	buf->reserved = cap;
	return 0;
}

int hl_buf__put(hl_buf *buf, const char *data, size_t len)
{
	if (hl_buf__grow(buf, len) < 0)
		return HL_ENOMEM;
	if (len)
		memcpy(buf->ptr + buf->size, data, len);
	buf->size += len;
	buf->ptr[buf->size] = '\0';
	return 0;
}

int hl_buf__puts(hl_buf *buf, const char *s)
{
	return hl_buf__put(buf, s, strlen(s));
}

int hl_buf__printf(hl_buf *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return hl__err(HL_ERROR, HL_ERROR_OS, "cannot format text");
	if (hl_buf__grow(buf, (size_t)n) < 0)
		return HL_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(buf->ptr + buf->size, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf->size += (size_t)n;
	return 0;
}

char *hl_buf__detach(hl_buf *buf)
{
	char *p;

	if (!buf->reserved && hl_buf__grow(buf, 0) < 0)
		return NULL;
	p = buf->ptr;
	buf->ptr = NULL;
	buf->size = buf->reserved = 0;
	return p;
}

int hl_buf_set(hl_buf *buf, const char *data, size_t len)
{
	if (!buf)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_buf_set: buf is NULL");
	if (!data && len)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_buf_set: data is NULL");
	if (!buf->reserved) {
		buf->ptr = NULL;
		buf->size = 0;
	}
	buf->size = 0;
	return hl_buf__put(buf, data ? data : "", len);
}

bool hl__parse_int64(const char *s, int64_t *out)
{
	int64_t v = 0;

	if (!s || !*s)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		if (v > (INT64_MAX - (*p - '0')) / 10)
			return false;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return true;
}

const char *hl__local_user(void)
{
	static _Thread_local char name[64];
	struct passwd pw, *res = NULL;
	char tmp[1024];
	const char *env;

	if (getpwuid_r(getuid(), &pw, tmp, sizeof(tmp), &res) == 0 && res) {
		snprintf(name, sizeof(name), "%s", res->pw_name);
		return name;
	}
	env = getenv("USER");
	if (env && *env) {
		snprintf(name, sizeof(name), "%s", env);
		return name;
	}
	return "unknown";
}

bool hl__is_b64url(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

size_t hl__utf8_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len;
	unsigned cp;

	if (c < 0xc2 || c > 0xf4)
		return 0;
	len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	cp = c & (0xff >> (len + 1));
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* no overlong forms, no surrogates, nothing past U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void hl__utf8_scrub(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t n = strlen(s);

	while (n > 0) {
		size_t len = *p < 0x80 ? 1 : hl__utf8_len(p, n);
		if (!len) {
			*p = '?';
			len = 1;
		}
		p += len;
		n -= len;
	}
}
