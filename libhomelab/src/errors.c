/*
 * errors.c: the per-thread last error, error names and static texts.
 *
 * Messages live in a thread-local buffer, so reading hl_error_last() never
 * races with another thread. Out-of-memory is reported with a static error
 * that needs no allocation.
 */
#include "hl.h"

#include <stdio.h>

#define HL_ERRMSG_MAX 1024

static _Thread_local char tl_message[HL_ERRMSG_MAX];
static _Thread_local hl_error tl_error = { "no error", HL_ERROR_NONE, HL_OK };

/* Format the thread's message, on one line (a message that spans lines
 * confuses every front end) and in valid UTF-8 (it goes into JSON: a value
 * quoted from the input, or cut by the buffer's size, may not be). */
static int set_error(int code, int klass, const char *fmt, va_list ap)
{
	vsnprintf(tl_message, sizeof(tl_message), fmt ? fmt : "", ap);
	for (char *p = tl_message; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	hl__utf8_scrub(tl_message);
	tl_error.message = tl_message;
	tl_error.klass = klass;
	tl_error.code = code;
	return code;
}

int hl__err(int code, int klass, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(code, klass, fmt, ap);
	va_end(ap);
	return code;
}

int hl__oom(void)
{
	tl_error.message = "out of memory";
	tl_error.klass = HL_ERROR_NOMEMORY;
	tl_error.code = HL_ENOMEM;
	return HL_ENOMEM;
}

int hl__err_code(void)
{
	return tl_error.code;
}

const hl_error *hl_error_last(void)
{
	return &tl_error;
}

void hl_error_clear(void)
{
	tl_error.message = "no error";
	tl_error.klass = HL_ERROR_NONE;
	tl_error.code = HL_OK;
}

int hl_error_set(int code, int klass, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(code, klass, fmt, ap);
	va_end(ap);
	return code;
}

static const struct {
	int code;
	const char *name;
	const char *text;
} codes[] = {
	{ HL_OK, "HL_OK", "no error" },
	{ HL_ERROR, "HL_ERROR", "error" },
	{ HL_ENOMEM, "HL_ENOMEM", "out of memory" },
	{ HL_ENOTFOUND, "HL_ENOTFOUND", "not found" },
	{ HL_EEXISTS, "HL_EEXISTS", "already exists" },
	{ HL_EINVALID, "HL_EINVALID", "invalid argument" },
	{ HL_EAUTH, "HL_EAUTH", "authentication refused" },
	{ HL_ETIMEOUT, "HL_ETIMEOUT", "timed out" },
	{ HL_EUNREACHABLE, "HL_EUNREACHABLE", "unreachable" },
	{ HL_EUSER, "HL_EUSER", "stopped by a callback" },
	{ HL_EREADONLY, "HL_EREADONLY", "read-only database" },
	{ HL_ECORRUPT, "HL_ECORRUPT", "not a homelab database, or damaged" },
	{ HL_EFULL, "HL_EFULL", "no free address" },
	{ HL_EBUSY, "HL_EBUSY", "database busy" },
	{ HL_EINUSE, "HL_EINUSE", "still in use" },
	{ HL_ELOCKED, "HL_ELOCKED", "vault locked" },
	{ HL_EINTEGRITY, "HL_EINTEGRITY", "integrity check failed" },
	{ HL_EUNSUPPORTED, "HL_EUNSUPPORTED", "not supported by the client" },
	{ HL_EDECLINED, "HL_EDECLINED", "declined: nothing was run" },
};

const char *hl_strerror(int code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].text;
	return "unknown error code";
}

const char *hl_error_name(int code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].name;
	return NULL;
}
