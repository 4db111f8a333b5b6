/*
 * homelab/buf.h: an owned, NUL-terminated byte buffer.
 *
 * Text the library hands to the caller (JSON results, paths) comes back in an
 * hl_buf. Release it with hl_buf_dispose(); never free() it yourself.
 */
#ifndef HOMELAB_BUF_H
#define HOMELAB_BUF_H

#include "common.h"

HL_BEGIN_DECL

typedef struct {
	char *ptr;       /**< NUL-terminated contents, or NULL when empty */
	size_t size;     /**< length in bytes, not counting the NUL */
	size_t reserved; /**< allocated bytes; 0 for a buffer the library does not own */
} hl_buf;

#define HL_BUF_INIT { .ptr = NULL, .size = 0, .reserved = 0 }

/** Wipe and free the contents, and reset the buffer to HL_BUF_INIT. Accepts NULL. */
HL_EXTERN(void) hl_buf_dispose(hl_buf *buf);

/**
 * Copy len bytes of text into buf (replacing its contents) (a NUL is appended).
 * @return 0 or HL_ENOMEM
 */
HL_EXTERN(int) hl_buf_set(hl_buf *buf, const char *data, size_t len);

/** hl_text_escape() flags */
enum {
	HL_ESCAPE_BACKSLASH = 1u << 0 /**< also write '\' as "\\", so the escaped text reads back unambiguously */
};

/**
 * Append text to out with everything that could act on a terminal made
 * visible: newline, return and tab as \n \r \t, other control characters
 * (C0, DEL) and bytes that are not UTF-8 as \xNN, C1 controls, bidi
 * overrides and invisible marks as \uNNNN. Printable text is copied as is.
 * The audit log stores every label this way (with HL_ESCAPE_BACKSLASH);
 * `homelab` prints every table cell this way.
 * @return 0, HL_ENOMEM, HL_EINVALID (NULL argument, unknown flag)
 */
HL_EXTERN(int) hl_text_escape(hl_buf *out, const char *text, unsigned int flags);


HL_END_DECL

#endif
