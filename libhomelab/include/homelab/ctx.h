/*
 * homelab/ctx.h: the library context, one open inventory database.
 *
 * An hl_ctx must be used by one thread at a time. Open one per thread (they
 * may share the database file: SQLite serialises writers), or guard a shared
 * one with a lock.
 */
#ifndef HOMELAB_CTX_H
#define HOMELAB_CTX_H

#include "common.h"
#include "buf.h"

HL_BEGIN_DECL

typedef struct hl_ctx hl_ctx;

/** hl_ctx_options.flags */
enum {
	HL_CTX_READONLY = 1u << 0,  /**< open the database read-only (also chosen when the file is not writable) */
	HL_CTX_NO_CREATE = 1u << 1, /**< fail with HL_ENOTFOUND when the database file does not exist */
	HL_CTX_NO_MIGRATE = 1u << 2 /**< do not migrate an older schema; serve it as it is */
};

typedef struct {
	unsigned int version;
	/** Database path. NULL: $HOMELAB_DB_PATH, then $XDG_DATA_HOME/homelab/homelab.db
	 *  (~/.local/share/homelab/homelab.db). ":memory:" gives a private in-memory database. */
	const char *db_path;
	unsigned int flags;       /**< HL_CTX_* */
	int busy_timeout_ms;      /**< how long to wait for another writer; 0: 5000 */
	/** Who acts, for the audit log. NULL: the local user name. Copied. */
	const char *principal;
	/** The vault key: 32 bytes in URL-safe base64, or "file:PATH" (see
	 *  homelab/vault.h). NULL: $HOMELAB_DB_KEY. Copied into guarded memory. */
	const char *db_key;
	/** A separate database for the audit log. NULL: $HOMELAB_AUDIT_DB, and
	 *  when that is unset or empty, the inventory database. */
	const char *audit_db_path;
} hl_ctx_options;

#define HL_CTX_OPTIONS_VERSION 1
#define HL_CTX_OPTIONS_INIT { .version = HL_CTX_OPTIONS_VERSION }

/**
 * Initialise an options struct to its defaults.
 * @return 0, or HL_EINVALID if version is not one this library knows.
 */
HL_EXTERN(int) hl_ctx_options_init(hl_ctx_options *opts, unsigned int version);

/**
 * Open a context on the inventory database. A missing database is created
 * with the current schema (with its parent directory); an older schema,
 * including the one written by the original Python server, is migrated
 * forward unless the file is read-only.
 *
 * @param[out] out  the new context; free it with hl_ctx_free()
 * @param opts      options, or NULL for the defaults
 * @return 0, HL_ENOTFOUND (HL_CTX_NO_CREATE and no file), HL_ECORRUPT (not a
 *         homelab database), HL_EREADONLY, HL_EINVALID, HL_ERROR
 */
HL_EXTERN(int) hl_ctx_open(hl_ctx **out, const hl_ctx_options *opts);

/** Close the database and free the context. Accepts NULL. */
HL_EXTERN(void) hl_ctx_free(hl_ctx *ctx);

/** The database path in use. Lent: valid while ctx lives. */
HL_EXTERN(const char *) hl_ctx_db_path(const hl_ctx *ctx);

/**
 * A warning about the databases this context opened, or NULL: one line,
 * e.g. that the inventory (or its -wal, -shm, or the audit database) is
 * readable by group or others. New databases are created mode 0600 (and
 * their directory 0700); an existing one keeps its mode. Lent.
 */
HL_EXTERN(const char *) hl_ctx_warning(const hl_ctx *ctx);

/** 1 if the database was opened read-only, else 0. */
HL_EXTERN(int) hl_ctx_readonly(const hl_ctx *ctx);

/** The schema version of the open database (PRAGMA user_version). */
HL_EXTERN(int) hl_ctx_schema_version(const hl_ctx *ctx);

/** The schema version this library creates and migrates to. */
HL_EXTERN(int) hl_schema_version(void);

/**
 * The database path that a NULL db_path resolves to, after the environment.
 * @param[out] out  the path; release with hl_buf_dispose()
 */
HL_EXTERN(int) hl_default_db_path(hl_buf *out);

HL_END_DECL

#endif
