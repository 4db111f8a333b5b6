/*
 * hl.h: what every private source file of libhomelab shares: the public API,
 * error helpers, allocation helpers and the context's internals.
 * Nothing here is exported; functions named hl_*__* are internal.
 */
#ifndef HL_PRIVATE_H
#define HL_PRIVATE_H

#include "homelab.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct sqlite3;

/* The context: one database connection and who acts through it. */
struct hl_ctx {
	struct sqlite3 *db;
	char *path;
	char *principal;
	bool readonly;
	int schema_version;     /* user_version as found (after migration) */
	bool has_ext_columns;   /* ssh_user, ssh_port, ip_num ... exist (schema >= 1) */
	char *warning;          /* hl_ctx_warning(): e.g. the database is readable by others; NULL */
	/* vault (vault.c, key.c) */
	char *db_key_opt;             /* hl_ctx_options.db_key, in sodium memory; NULL: $HOMELAB_DB_KEY */
	struct hl_vault_key *vault_key; /* the loaded key; NULL until first use */
	/* audit log (audit.c) */
	char *audit_path;             /* separate audit database; NULL: the inventory's */
	struct sqlite3 *audit_db;     /* its connection (ctx->db when shared); NULL until first use */
	struct hl_audit_key *audit_key; /* the chain's key (sodium memory); NULL until first use */
	int busy_timeout_ms;
	struct hl_stmt_cache *stmts;  /* prepared statements (db.c, hl_db__stmt) */
	/* API tokens (token.c): the last verified token, and the database's
	 * data_version as the last token read on this connection saw it */
	struct hl_token__cached *token_cache;
	long long token_version;
	unsigned long long token_version_ns; /* CLOCK_MONOTONIC of that read; 0: none */
	/* tool calls (tools/registry.c): the built-in tools' input schemas as
	 * parsed on this context, and its JSON tokener (json-c trees and
	 * tokeners stay with one thread at a time, as the context does) */
	struct json_object **tool_schemas;
	struct json_tokener *json_tok;
};

/* Free what tool calls kept on the context (tools/registry.c; hl_ctx_free). */
void hl_tool__ctx_free(hl_ctx *ctx);

/* Set the thread's last error and return code. */
int hl__err(int code, int klass, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The out-of-memory error: never allocates. Returns HL_ENOMEM. */
int hl__oom(void);
/* The last error's code on this thread (HL_OK when none). */
int hl__err_code(void);

/* Allocation helpers: NULL on failure, after setting the OOM error. */
void *hl__malloc(size_t n);
void *hl__calloc(size_t n, size_t size);
void *hl__realloc(void *p, size_t n);
char *hl__strdup(const char *s);         /* NULL in, NULL out (no error) */
char *hl__strndup(const char *s, size_t n);

/* Growable buffer helpers over the public hl_buf. */
int hl_buf__grow(hl_buf *buf, size_t extra);
int hl_buf__put(hl_buf *buf, const char *data, size_t len);
int hl_buf__puts(hl_buf *buf, const char *s);
int hl_buf__printf(hl_buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the buffer's contents to the caller as a plain malloc'd string. */
char *hl_buf__detach(hl_buf *buf);

/* True if s is a non-empty string of ASCII digits that fits an int64. */
bool hl__parse_int64(const char *s, int64_t *out);

/* Is every one of the n characters of s in the URL-safe base64 alphabet? */
bool hl__is_b64url(const char *s, size_t n);

/* Initialise libcurl once per process (thread-safe). */
int hl_http__init(void);

/* The local user name, for the audit log; never NULL (static or "unknown"). */
const char *hl__local_user(void);

/* Length of the valid UTF-8 sequence (not ASCII) at p, of at most n bytes;
 * 0 if it is not one (overlong, surrogate, past U+10FFFF, cut short). */
size_t hl__utf8_len(const unsigned char *p, size_t n);
/* Replace every byte of s that is not part of valid UTF-8 with '?'. */
void hl__utf8_scrub(char *s);
/* hl_text_escape() of s appended to out, stopping before the unit that
 * would make out longer than max bytes (0: no limit; *cut says so). */
int hl__escape(hl_buf *out, const char *s, size_t max, unsigned int flags, bool *cut);
/* Would hl_text_escape() change s? */
bool hl__needs_escape(const char *s, unsigned int flags);

#endif
