/*
 * db.h: SQLite plumbing shared by the inventory, vault and audit code.
 */
#ifndef HL_DB_H
#define HL_DB_H

#include "hl.h"
#include <sqlite3.h>

/* The schema version this library creates and migrates to. */
#define HL_SCHEMA_VERSION 6

/* Turn a SQLite result into an hl error (code and message naming what). */
int hl_db__error(hl_ctx *ctx, int rc, const char *what);
/* The same for any connection; path names the database in the message. */
int hl_db__error_on(sqlite3 *db, const char *path, int rc, const char *what);
int hl_db__prepare(hl_ctx *ctx, sqlite3_stmt **st, const char *sql);
int hl_db__exec(hl_ctx *ctx, const char *sql);
/* Migration 5 (sftp.c): the vm_file_roots table. */
int hl_sftp__migrate(hl_ctx *ctx);

/* Prepared statements cached per context: hl_db__stmt() hands out a ready
 * statement for sql, compiled once per context; give it back with
 * hl_db__release() (which resets it and clears its bindings). A statement
 * already handed out and not yet given back is compiled afresh, so nested
 * use of the same SQL stays correct. hl_db__release() accepts NULL and
 * statements from hl_db__prepare() (it finalizes those). */
int hl_db__stmt(hl_ctx *ctx, sqlite3_stmt **st, const char *sql);
void hl_db__release(hl_ctx *ctx, sqlite3_stmt *st);
/* Finalize every cached statement (before closing the connection). */
void hl_db__stmt_cache_free(hl_ctx *ctx);

/* Create path, empty and mode 0600, unless it exists (SQLite then takes it
 * as a new database, and gives its -wal and -shm files the same mode). */
int hl_db__create_private(const char *path);
/* Note in ctx->warning when path (or its -wal, -shm) may be read by group
 * or others. */
void hl_db__check_private(hl_ctx *ctx, const char *path);

/* Open a connection to path with the library's settings (extended codes,
 * busy timeout, cache, SQL functions). immutable opens it as a URI with
 * immutable=1: no locks and no WAL index, for files in a directory the
 * process cannot write (a read-only mount), where SQLite could not create
 * the -shm file a WAL database needs. */
int hl_db__open_file(sqlite3 **out, const char *path, int oflags, int busy_ms, bool immutable);

/* Transactions. begin_write takes the write lock at once (BEGIN IMMEDIATE),
 * so that check-then-insert sequences are atomic across processes. */
int hl_db__begin_read(hl_ctx *ctx);
int hl_db__begin_write(hl_ctx *ctx);
int hl_db__commit(hl_ctx *ctx);
void hl_db__rollback(hl_ctx *ctx);

/* Refuse a write on a read-only context with a clear message. */
int hl_db__writable(hl_ctx *ctx, const char *what);

/* Bind text, or NULL for NULL or "" when empty_is_null. */
int hl_db__bind_text(sqlite3_stmt *st, int idx, const char *s);
/* Copy a text column; NULL stays NULL. Returns false on OOM (error set). */
bool hl_db__col_text(sqlite3_stmt *st, int col, char **out);

/* Does table.column exist? */
bool hl_db__has_column(hl_ctx *ctx, const char *table, const char *column);
bool hl_db__has_table(hl_ctx *ctx, const char *table);
/* The same on any connection (the audit log's may be its own). */
bool hl_db__has_column_on(sqlite3 *db, const char *table, const char *column);
bool hl_db__has_table_on(sqlite3 *db, const char *table);

#endif
