/*
 * audit.c: the audit log: appending rows to a BLAKE2b hash chain, listing
 * them, and verifying the chain.
 *
 * Each row has a position (seq, from 1), the previous row's hash and its own
 * hash over a canonical encoding of its fields (see hl_audit__hash in
 * audit.h). A one-row table, audit_head, records the last seq and hash, so
 * that rows cut from the end are noticed too. Rows written by other programs
 * (the original Python server) are chained by the next write of this
 * library, in the order they were inserted.
 *
 * The log is in the inventory database, or in a database of its own
 * ($HOMELAB_AUDIT_DB) opened on first use with synchronous=FULL, so that a
 * committed row survives a crash of the machine, not only of the process.
 */
#include "audit.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "key.h"

static const unsigned char zero_hash[HL_AUDIT_HASH_BYTES];

/* The columns the hash covers, in hash order. */
#define FIELD_COLS "timestamp, action, result, target_type, target_id, user, ip_address, details"

/* ------------------------------------------------------------- helpers --- */

static const char *audit_path(const hl_ctx *ctx)
{
	return ctx->audit_path ? ctx->audit_path : ctx->path;
}

const char *hl_audit_db_path(const hl_ctx *ctx)
{
	return ctx ? audit_path(ctx) : NULL;
}

/* A SQLite error on the audit database as an hl error. */
static int audit_error(hl_ctx *ctx, sqlite3 *db, int rc, const char *what)
{
	char label[1100];

	snprintf(label, sizeof(label), "audit log %s", audit_path(ctx));
	return hl_db__error_on(db, label, rc, what);
}

static int prepare(hl_ctx *ctx, sqlite3 *db, sqlite3_stmt **st, const char *sql)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
	return rc == SQLITE_OK ? 0 : audit_error(ctx, db, rc, "query");
}

static int exec(hl_ctx *ctx, sqlite3 *db, const char *sql, const char *what)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : audit_error(ctx, db, rc, what);
}

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

void hl_audit__hash(unsigned char out[HL_AUDIT_HASH_BYTES], int64_t seq,
                    const unsigned char prev[HL_AUDIT_HASH_BYTES], const char *const fields[HL_AUDIT_NFIELDS],
                    const size_t lens[HL_AUDIT_NFIELDS])
{
	static const char domain[] = "homelab-audit-v1"; /* hashed with its NUL */
	crypto_generichash_state st;
	unsigned char b[8];

	crypto_generichash_init(&st, NULL, 0, HL_AUDIT_HASH_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)domain, sizeof(domain));
	put_u32(b, (uint32_t)((uint64_t)seq >> 32));
	put_u32(b + 4, (uint32_t)seq);
	crypto_generichash_update(&st, b, 8);
	crypto_generichash_update(&st, prev, HL_AUDIT_HASH_BYTES);
	for (int i = 0; i < HL_AUDIT_NFIELDS; i++) {
		if (!fields[i]) {
			b[0] = 0x00;
			crypto_generichash_update(&st, b, 1);
			continue;
		}
		b[0] = 0x01;
		put_u32(b + 1, (uint32_t)lens[i]);
		crypto_generichash_update(&st, b, 5);
		crypto_generichash_update(&st, (const unsigned char *)fields[i], lens[i]);
	}
	crypto_generichash_final(&st, out, HL_AUDIT_HASH_BYTES);
}

/* The hash of the row st is on, whose columns from `first` are FIELD_COLS. */
static void hash_row(unsigned char out[HL_AUDIT_HASH_BYTES], sqlite3_stmt *st, int first, int64_t seq,
                     const unsigned char prev[HL_AUDIT_HASH_BYTES])
{
	const char *f[HL_AUDIT_NFIELDS];
	size_t n[HL_AUDIT_NFIELDS];

	for (int i = 0; i < HL_AUDIT_NFIELDS; i++) {
		/* text form first, then its length (the order SQLite documents) */
		f[i] = sqlite3_column_type(st, first + i) == SQLITE_NULL ? NULL
		                                                           : (const char *)sqlite3_column_text(st, first + i);
		n[i] = f[i] ? (size_t)sqlite3_column_bytes(st, first + i) : 0;
	}
	hl_audit__hash(out, seq, prev, f, n);
}

/* Parse a stored hex hash; false if it is not 64 hex digits. */
static bool parse_hash(unsigned char out[HL_AUDIT_HASH_BYTES], sqlite3_stmt *st, int col)
{
	const char *hex = (const char *)sqlite3_column_text(st, col);
	size_t n = 0;
	const char *end = NULL;

	if (!hex || sqlite3_column_bytes(st, col) != 2 * HL_AUDIT_HASH_BYTES)
		return false;
	return sodium_hex2bin(out, HL_AUDIT_HASH_BYTES, hex, 2 * HL_AUDIT_HASH_BYTES, NULL, &n, &end) == 0 &&
	       n == HL_AUDIT_HASH_BYTES;
}

static void to_hex(char out[2 * HL_AUDIT_HASH_BYTES + 1], const unsigned char h[HL_AUDIT_HASH_BYTES])
{
	sodium_bin2hex(out, 2 * HL_AUDIT_HASH_BYTES + 1, h, HL_AUDIT_HASH_BYTES);
}

/* "YYYY-MM-DD HH:MM:SS.mmm", UTC: SQLite's own strftime('%Y-%m-%d %H:%M:%f'). */
static void now_text(char out[64], time_t offset)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec -= offset;
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, 64, "%04d-%02d-%02d %02d:%02d:%02d.%03ld", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	         tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(ts.tv_nsec / 1000000) % 1000);
}

/* -------------------------------------------------------------- opening --- */

int hl_audit__ctx_init(hl_ctx *ctx, const hl_ctx_options *opts)
{
	const char *p = opts->audit_db_path;

	if (!p) {
		p = getenv("HOMELAB_AUDIT_DB");
		if (p && !*p)
			p = NULL;
	} else if (!*p) {
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "audit database path is empty");
	}
	if (!p || !strcmp(p, ctx->path))
		return 0;
	if (!strcmp(p, ":memory:"))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "the audit log cannot be an in-memory database");
	ctx->audit_path = hl__strdup(p);
	return ctx->audit_path ? 0 : HL_ENOMEM;
}

void hl_audit__ctx_free(hl_ctx *ctx)
{
	if (ctx->audit_db && ctx->audit_db != ctx->db)
		sqlite3_close_v2(ctx->audit_db);
	ctx->audit_db = NULL;
	free(ctx->audit_path);
	ctx->audit_path = NULL;
}

/* Is the separate audit file the inventory file under another name? */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The audit log's connection, opening (and creating) it on first use. */
static int audit_db(sqlite3 **out, hl_ctx *ctx)
{
	const char *path = ctx->audit_path;
	sqlite3 *db = NULL;
	bool exists, writable;
	int rc, err;

	*out = NULL;
	if (ctx->audit_db) {
		*out = ctx->audit_db;
		return 0;
	}
	if (!path || same_file(path, ctx->path)) {
		*out = ctx->audit_db = ctx->db;
		return 0;
	}
	exists = access(path, F_OK) == 0;
	writable = !exists || access(path, W_OK) == 0;
	if ((err = hl_db__open_file(&db, path, SQLITE_OPEN_NOMUTEX | (writable ? SQLITE_OPEN_READWRITE |
	                           SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY), ctx->busy_timeout_ms, false)) < 0)
		return err;
	if (!writable) {
		/* A WAL log in a read-only directory: read it as immutable. */
		rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
		if ((rc & 0xff) == SQLITE_READONLY || (rc & 0xff) == SQLITE_CANTOPEN) {
			sqlite3_close_v2(db);
			if ((err = hl_db__open_file(&db, path, SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_READONLY,
			                            ctx->busy_timeout_ms, true)) < 0)
				return err;
		}
	}
	if (writable) {
		sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
		if ((err = exec(ctx, db, "PRAGMA synchronous=FULL", "configure")) < 0 ||
		    (err = exec(ctx, db, "BEGIN IMMEDIATE", "begin a write")) < 0)
			goto fail;
		if ((err = hl_audit__migrate(ctx, db)) < 0) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			goto fail;
		}
		if ((err = exec(ctx, db, "COMMIT", "commit")) < 0) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			goto fail;
		}
	}
	*out = ctx->audit_db = db;
	return 0;
fail:
	sqlite3_close_v2(db);
	return err;
}

static int refuse_readonly(hl_ctx *ctx)
{
	if (!ctx->audit_path)
		return hl__err(HL_EREADONLY, HL_ERROR_DB, "audit log %s is read-only (the inventory is open read-only); "
		               "set HOMELAB_AUDIT_DB to a writable database for the audit log", ctx->path);
	return hl__err(HL_EREADONLY, HL_ERROR_DB, "audit log %s is read-only", ctx->audit_path);
}

int hl_audit__writable(hl_ctx *ctx)
{
	sqlite3 *db;
	int err;

	if ((err = audit_db(&db, ctx)) < 0)
		return err;
	if ((db == ctx->db && ctx->readonly) || sqlite3_db_readonly(db, "main") == 1)
		return refuse_readonly(ctx);
	return 0;
}

/* ---------------------------------------------------------------- chain --- */

/* The last link: from audit_head, else from the highest seq (a log whose
 * head row was lost), else the genesis (0, zeros). */
static int read_head(hl_ctx *ctx, sqlite3 *db, int64_t *seq, unsigned char hash[HL_AUDIT_HASH_BYTES])
{
	static const char *const sql[] = {
		"SELECT seq, hash FROM audit_head WHERE id = 1",
		"SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1",
	};
	sqlite3_stmt *st = NULL;
	int rc, err;

	*seq = 0;
	memcpy(hash, zero_hash, HL_AUDIT_HASH_BYTES);
	for (size_t i = 0; i < 2; i++) {
		if ((err = prepare(ctx, db, &st, sql[i])) < 0)
			return err;
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*seq = sqlite3_column_int64(st, 0);
			if (!parse_hash(hash, st, 1)) {
				sqlite3_finalize(st);
				return hl__err(HL_EINTEGRITY, HL_ERROR_DB, "audit log %s: the hash of its last row (seq %lld) "
				               "is damaged; run `homelab audit verify`", audit_path(ctx), (long long)*seq);
			}
			sqlite3_finalize(st);
			return 0;
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return audit_error(ctx, db, rc, "read the chain head");
	}
	return 0;
}

static int write_head(hl_ctx *ctx, sqlite3 *db, int64_t seq, const char *hex)
{
	sqlite3_stmt *st = NULL;
	int rc, err;

	if ((err = prepare(ctx, db, &st, "INSERT OR REPLACE INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2)")) < 0)
		return err;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, hex, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : audit_error(ctx, db, rc, "write the chain head");
}

/* Chain the rows that have no place in it yet (written by other programs),
 * in insertion order. The caller holds a write transaction. */
static int adopt(hl_ctx *ctx, sqlite3 *db, int64_t *seq, unsigned char hash[HL_AUDIT_HASH_BYTES])
{
	sqlite3_stmt *st = NULL, *up = NULL;
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	char hex[2 * HL_AUDIT_HASH_BYTES + 1];
	int rc, err;

	/* Collect first: updating seq while walking its index could revisit rows. */
	if ((err = prepare(ctx, db, &st, "SELECT rowid FROM audit_log WHERE seq IS NULL ORDER BY rowid")) < 0)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			int64_t *p = hl__realloc(ids, (cap = cap ? cap * 2 : 16) * sizeof(*ids));
			if (!p) {
				err = HL_ENOMEM;
				goto out;
			}
			ids = p;
		}
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	if (rc != SQLITE_DONE) {
		err = audit_error(ctx, db, rc, "find unchained rows");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (n == 0)
		goto out;
	if ((err = prepare(ctx, db, &st, "SELECT " FIELD_COLS " FROM audit_log WHERE rowid = ?1")) < 0 ||
	    (err = prepare(ctx, db, &up, "UPDATE audit_log SET seq = ?1, prev_hash = ?2, hash = ?3 WHERE rowid = ?4")) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		unsigned char h[HL_AUDIT_HASH_BYTES];
		char prev_hex[2 * HL_AUDIT_HASH_BYTES + 1];

		sqlite3_bind_int64(st, 1, ids[i]);
		if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
			err = audit_error(ctx, db, rc, "read an unchained row");
			goto out;
		}
		hash_row(h, st, 0, *seq + 1, hash);
		sqlite3_reset(st);
		to_hex(prev_hex, hash);
		to_hex(hex, h);
		sqlite3_bind_int64(up, 1, *seq + 1);
		sqlite3_bind_text(up, 2, prev_hex, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(up, 3, hex, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(up, 4, ids[i]);
		if ((rc = sqlite3_step(up)) != SQLITE_DONE) {
			err = audit_error(ctx, db, rc, "chain a row");
			goto out;
		}
		sqlite3_reset(up);
		*seq += 1;
		memcpy(hash, h, HL_AUDIT_HASH_BYTES);
	}
	err = write_head(ctx, db, *seq, hex);
out:
	sqlite3_finalize(st);
	sqlite3_finalize(up);
	free(ids);
	return err;
}

int hl_audit__migrate(hl_ctx *ctx, sqlite3 *db)
{
	static const struct {
		const char *column, *decl;
	} cols[] = {
		{ "result", "TEXT" }, { "seq", "INTEGER" }, { "prev_hash", "TEXT" }, { "hash", "TEXT" },
	};
	char sql[256];
	unsigned char hash[HL_AUDIT_HASH_BYTES];
	int64_t seq;
	int err;

	/* A separate audit database starts with the seed table. */
	if ((err = exec(ctx, db, "CREATE TABLE IF NOT EXISTS audit_log ("
	                " id INTEGER PRIMARY KEY, action TEXT NOT NULL, target_type TEXT, target_id TEXT,"
	                " user TEXT, details TEXT, ip_address TEXT, timestamp TEXT DEFAULT CURRENT_TIMESTAMP)",
	                "create the audit table")) < 0)
		return err;
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		if (hl_db__has_column_on(db, "audit_log", cols[i].column))
			continue;
		snprintf(sql, sizeof(sql), "ALTER TABLE audit_log ADD COLUMN %s %s", cols[i].column, cols[i].decl);
		if ((err = exec(ctx, db, sql, "add audit columns")) < 0)
			return err;
	}
	if ((err = exec(ctx, db, "CREATE UNIQUE INDEX IF NOT EXISTS hl_audit_seq ON audit_log(seq);"
	                "CREATE INDEX IF NOT EXISTS hl_audit_time ON audit_log(timestamp);"
	                "CREATE INDEX IF NOT EXISTS hl_audit_action ON audit_log(action);"
	                "CREATE TABLE IF NOT EXISTS audit_head ("
	                " id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL)",
	                "create the audit chain")) < 0)
		return err;
	if ((err = read_head(ctx, db, &seq, hash)) < 0)
		return err;
	return adopt(ctx, db, &seq, hash);
}

/* ---------------------------------------------------------------- write --- */

static bool valid_action(const char *a)
{
	size_t n = a ? strlen(a) : 0;

	if (n == 0 || n > 64)
		return false;
	for (; *a; a++)
		if (!((*a >= 'a' && *a <= 'z') || (*a >= '0' && *a <= '9') || *a == '_' || *a == '.' || *a == ':' ||
		      *a == '-'))
			return false;
	return true;
}

int hl_audit__record(hl_ctx *ctx, const hl_audit_event *ev)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	unsigned char prev[HL_AUDIT_HASH_BYTES], h[HL_AUDIT_HASH_BYTES];
	char prev_hex[2 * HL_AUDIT_HASH_BYTES + 1], hex[2 * HL_AUDIT_HASH_BYTES + 1], ts[64];
	const char *f[HL_AUDIT_NFIELDS];
	size_t n[HL_AUDIT_NFIELDS];
	char *details = NULL;
	bool own_txn;
	int64_t seq;
	int rc, err;

	if (!valid_action(ev->action))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "audit action '%.80s' must be 1-64 of [a-z0-9_.:-]",
		               ev->action ? ev->action : "(null)");
	if ((err = hl_sodium__init()) < 0 || (err = hl_audit__writable(ctx)) < 0)
		return err;
	db = ctx->audit_db;
	if (ev->details && strlen(ev->details) > HL_AUDIT_DETAILS_MAX) {
		if (!(details = hl__malloc(HL_AUDIT_DETAILS_MAX + 16)))
			return HL_ENOMEM;
		snprintf(details, HL_AUDIT_DETAILS_MAX + 16, "%.*s [truncated]", HL_AUDIT_DETAILS_MAX, ev->details);
	}

	/* On a shared connection inside the caller's transaction, the row
	 * commits with it; otherwise it gets a transaction of its own. */
	own_txn = sqlite3_get_autocommit(db) != 0;
	if (own_txn && (err = exec(ctx, db, "BEGIN IMMEDIATE", "begin a write")) < 0)
		goto out;
	if ((err = read_head(ctx, db, &seq, prev)) < 0 || (err = adopt(ctx, db, &seq, prev)) < 0)
		goto fail;

	now_text(ts, 0);
	f[0] = ts;
	f[1] = ev->action;
	f[2] = ev->result ? ev->result : "ok";
	f[3] = ev->target_type;
	f[4] = ev->target_id;
	f[5] = ev->principal ? ev->principal : ctx->principal;
	f[6] = ev->client_addr ? ev->client_addr : "local";
	f[7] = details ? details : ev->details;
	for (int i = 0; i < HL_AUDIT_NFIELDS; i++)
		n[i] = f[i] ? strlen(f[i]) : 0;
	hl_audit__hash(h, seq + 1, prev, f, n);
	to_hex(prev_hex, prev);
	to_hex(hex, h);

	if ((err = prepare(ctx, db, &st, "INSERT INTO audit_log (" FIELD_COLS ", seq, prev_hash, hash) "
	                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")) < 0)
		goto fail;
	for (int i = 0; i < HL_AUDIT_NFIELDS; i++)
		f[i] ? sqlite3_bind_text(st, i + 1, f[i], (int)n[i], SQLITE_STATIC) : sqlite3_bind_null(st, i + 1);
	sqlite3_bind_int64(st, 9, seq + 1);
	sqlite3_bind_text(st, 10, prev_hex, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, hex, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE) {
		err = audit_error(ctx, db, rc, "write an audit row");
		goto fail;
	}
	if ((err = write_head(ctx, db, seq + 1, hex)) < 0)
		goto fail;
	if (own_txn && (err = exec(ctx, db, "COMMIT", "commit an audit row")) < 0)
		goto fail;
	goto out;
fail:
	if (own_txn && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out:
	free(details);
	return err;
}

int hl_audit_record(hl_ctx *ctx, const hl_audit_event *event)
{
	if (!ctx || !event)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_audit_record: ctx and event are required");
	if (event->version != HL_AUDIT_EVENT_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_audit_event version %u is not supported", event->version);
	return hl_audit__record(ctx, event);
}

/* ----------------------------------------------------------------- read --- */

void hl_audit_array_free(hl_audit_array *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++) {
		hl_audit_entry *e = list->items[i];
		if (!e)
			continue;
		free(e->timestamp);
		free(e->action);
		free(e->result);
		free(e->target_type);
		free(e->target_id);
		free(e->principal);
		free(e->client_addr);
		free(e->details);
		free(e->hash);
		free(e);
	}
	free(list->items);
	free(list);
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Turn a --since value into the timestamp text it compares against. */
static int parse_since(char out[64], const char *s)
{
	size_t n = strlen(s);
	char unit = n ? s[n - 1] : 0;

	if (n >= 2 && n <= 10 && digits(s, n - 1) && (unit == 's' || unit == 'm' || unit == 'h' || unit == 'd')) {
		long long v = strtoll(s, NULL, 10);
		long long mult = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
		if (v > 100LL * 366 * 86400 / mult)
			v = 100LL * 366 * 86400 / mult;
		now_text(out, (time_t)(v * mult));
		return 0;
	}
	/* YYYY-MM-DD[( |T)HH:MM[:SS]] */
	if ((n == 10 || n == 16 || n == 19) && digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' &&
	    digits(s + 8, 2) &&
	    (n == 10 || ((s[10] == ' ' || s[10] == 'T') && digits(s + 11, 2) && s[13] == ':' && digits(s + 14, 2) &&
	                 (n == 16 || (s[16] == ':' && digits(s + 17, 2)))))) {
		snprintf(out, 64, "%s", s);
		if (n > 10)
			out[10] = ' ';
		return 0;
	}
	return hl__err(HL_EINVALID, HL_ERROR_INVALID, "since: '%.40s' is not a time: give YYYY-MM-DD, "
	               "YYYY-MM-DD HH:MM[:SS] (UTC), or an age such as 30m, 2h, 7d", s);
}

/* A column expression, or NULL when a legacy read-only table lacks it. */
static const char *col_or_null(sqlite3 *db, const char *col)
{
	return hl_db__has_column_on(db, "audit_log", col) ? col : "NULL";
}

int hl_audit_list(hl_audit_array **out, hl_ctx *ctx, const hl_audit_filter *filter)
{
	hl_audit_filter defaults = HL_AUDIT_FILTER_INIT;
	hl_audit_array *list = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	hl_buf sql = HL_BUF_INIT;
	char since[64];
	size_t cap = 0;
	int rc, err;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_audit_list: out and ctx are required");
	*out = NULL;
	if (!filter)
		filter = &defaults;
	if (filter->version != HL_AUDIT_FILTER_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_audit_filter version %u is not supported", filter->version);
	if (filter->since && (err = parse_since(since, filter->since)) < 0)
		return err;
	if ((err = audit_db(&db, ctx)) < 0)
		return err;
	if (!hl_db__has_table_on(db, "audit_log")) {
		*out = hl__calloc(1, sizeof(**out));
		return *out ? 0 : HL_ENOMEM;
	}
	if ((err = hl_buf__printf(&sql, "SELECT rowid, %s, timestamp, action, %s, target_type, target_id, user, "
	                          "ip_address, details, %s FROM audit_log WHERE 1", col_or_null(db, "seq"),
	                          col_or_null(db, "result"), col_or_null(db, "hash"))) < 0 ||
	    (filter->action && (err = hl_buf__puts(&sql, " AND action = ?1")) < 0) ||
	    (filter->since && (err = hl_buf__puts(&sql, " AND timestamp >= ?2")) < 0) ||
	    (err = hl_buf__puts(&sql, " ORDER BY rowid DESC LIMIT ?3")) < 0)
		goto out;
	if ((err = prepare(ctx, db, &st, sql.ptr)) < 0)
		goto out;
	if (filter->action)
		sqlite3_bind_text(st, 1, filter->action, -1, SQLITE_STATIC);
	if (filter->since)
		sqlite3_bind_text(st, 2, since, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, filter->limit ? (int64_t)filter->limit : 100);
	if (!(list = hl__calloc(1, sizeof(*list)))) {
		err = HL_ENOMEM;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		hl_audit_entry *e = hl__calloc(1, sizeof(*e));
		if (!e) {
			err = HL_ENOMEM;
			goto out;
		}
		if (list->count == cap) {
			hl_audit_entry **p = hl__realloc(list->items, (cap = cap ? cap * 2 : 16) * sizeof(*p));
			if (!p) {
				free(e);
				err = HL_ENOMEM;
				goto out;
			}
			list->items = p;
		}
		list->items[list->count++] = e;
		e->id = sqlite3_column_int64(st, 0);
		e->seq = sqlite3_column_int64(st, 1);
		if (!hl_db__col_text(st, 2, &e->timestamp) || !hl_db__col_text(st, 3, &e->action) ||
		    !hl_db__col_text(st, 4, &e->result) || !hl_db__col_text(st, 5, &e->target_type) ||
		    !hl_db__col_text(st, 6, &e->target_id) || !hl_db__col_text(st, 7, &e->principal) ||
		    !hl_db__col_text(st, 8, &e->client_addr) || !hl_db__col_text(st, 9, &e->details) ||
		    !hl_db__col_text(st, 10, &e->hash)) {
			err = HL_ENOMEM;
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		err = audit_error(ctx, db, rc, "list the audit log");
out:
	sqlite3_finalize(st);
	hl_buf_dispose(&sql);
	if (err < 0)
		hl_audit_array_free(list);
	else
		*out = list;
	return err;
}

/* --------------------------------------------------------------- verify --- */

void hl_audit_report_free(hl_audit_report *r)
{
	if (!r)
		return;
	free(r->head_hash);
	free(r->problem);
	free(r);
}

/* Record the first problem in the report and as the thread's error. */
static int problem(hl_audit_report *r, int64_t seq, int64_t id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int problem(hl_audit_report *r, int64_t seq, int64_t id, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->intact = 0;
	r->bad_seq = seq;
	r->bad_id = id;
	free(r->problem);
	if (!(r->problem = hl__strdup(msg)))
		return HL_ENOMEM;
	return hl__err(HL_EINTEGRITY, HL_ERROR_DB, "%s", msg);
}

/* Walk the chain in seq order; stop at the first problem. */
static int walk(hl_ctx *ctx, sqlite3 *db, hl_audit_report *r, unsigned char last[HL_AUDIT_HASH_BYTES])
{
	sqlite3_stmt *st = NULL;
	unsigned char prev[HL_AUDIT_HASH_BYTES], stored_prev[HL_AUDIT_HASH_BYTES], stored[HL_AUDIT_HASH_BYTES];
	unsigned char h[HL_AUDIT_HASH_BYTES];
	int64_t expect = 1, last_id = INT64_MIN;
	int rc, err;

	memcpy(prev, zero_hash, sizeof(prev));
	if ((err = prepare(ctx, db, &st, "SELECT rowid, seq, prev_hash, hash, " FIELD_COLS
	                   " FROM audit_log WHERE seq IS NOT NULL ORDER BY seq")) < 0)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0), seq = sqlite3_column_int64(st, 1);
		const char *action = (const char *)sqlite3_column_text(st, 5);
		char what[160];

		snprintf(what, sizeof(what), "audit row %lld (id %lld, %s %s)", (long long)seq, (long long)id,
		         sqlite3_column_text(st, 4) ? (const char *)sqlite3_column_text(st, 4) : "-",
		         action ? action : "-");
		if (seq > expect) {
			err = problem(r, expect, id, seq == expect + 1 ? "audit row %lld is missing (deleted): the chain goes "
			              "from row %lld to row %lld (id %lld)" : "audit rows %lld.. are missing (deleted): the "
			              "chain goes from row %lld to row %lld (id %lld)", (long long)expect,
			              (long long)expect - 1, (long long)seq, (long long)id);
			goto out;
		}
		if (seq < expect) {
			err = problem(r, seq, id, "%s repeats position %lld of the chain", what, (long long)seq);
			goto out;
		}
		if (id < last_id) {
			err = problem(r, seq, id, "%s is out of order: it is stored before row %lld (id %lld); rows were "
			              "reordered", what, (long long)seq - 1, (long long)last_id);
			goto out;
		}
		if (!parse_hash(stored_prev, st, 2) || sodium_memcmp(stored_prev, prev, sizeof(prev)) != 0) {
			err = problem(r, seq, id, "%s does not follow row %lld: its link to the previous row differs "
			              "(rows were reordered, or row %lld was replaced)", what, (long long)seq - 1,
			              (long long)seq - 1);
			goto out;
		}
		hash_row(h, st, 4, seq, prev);
		if (!parse_hash(stored, st, 3) || sodium_memcmp(stored, h, sizeof(h)) != 0) {
			err = problem(r, seq, id, "%s was altered: its contents do not match its hash", what);
			goto out;
		}
		memcpy(prev, h, sizeof(prev));
		r->rows++;
		r->head_seq = seq;
		last_id = id;
		expect++;
	}
	if (rc != SQLITE_DONE)
		err = audit_error(ctx, db, rc, "read the audit log");
	memcpy(last, prev, HL_AUDIT_HASH_BYTES);
out:
	sqlite3_finalize(st);
	return err;
}

/* The recorded head must be the last row walked; no row may be unchained. */
static int check_ends(hl_ctx *ctx, sqlite3 *db, hl_audit_report *r, const unsigned char last[HL_AUDIT_HASH_BYTES])
{
	sqlite3_stmt *st = NULL;
	unsigned char head[HL_AUDIT_HASH_BYTES];
	int64_t head_seq = 0;
	bool have_head;
	int rc, err;

	if ((err = prepare(ctx, db, &st, "SELECT seq, hash FROM audit_head WHERE id = 1")) < 0)
		return err;
	rc = sqlite3_step(st);
	have_head = rc == SQLITE_ROW;
	if (have_head) {
		head_seq = sqlite3_column_int64(st, 0);
		if (!parse_hash(head, st, 1))
			memset(head, 0xff, sizeof(head));
	}
	sqlite3_finalize(st);
	if (!have_head && rc != SQLITE_DONE)
		return audit_error(ctx, db, rc, "read the chain head");
	if (!have_head && r->rows > 0)
		return problem(r, r->head_seq, 0, "the chain's head record (table audit_head) is missing");
	if (have_head && head_seq > r->head_seq)
		return problem(r, r->head_seq + 1, 0, "audit rows %lld..%lld are missing at the end (the log was "
		               "truncated)", (long long)r->head_seq + 1, (long long)head_seq);
	if (have_head && head_seq < r->head_seq)
		return problem(r, head_seq + 1, 0, "audit row %lld is past the recorded head (row %lld): rows were "
		               "appended without the chain's head", (long long)head_seq + 1, (long long)head_seq);
	if (have_head && sodium_memcmp(head, last, sizeof(head)) != 0)
		return problem(r, head_seq, 0, "audit row %lld differs from the recorded head of the chain",
		               (long long)head_seq);

	if ((err = prepare(ctx, db, &st, "SELECT rowid FROM audit_log WHERE seq IS NULL ORDER BY rowid LIMIT 1")) < 0)
		return err;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		return problem(r, 0, id, "audit row id %lld is not in the hash chain (inserted by another program or "
		               "by hand)", (long long)id);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : audit_error(ctx, db, rc, "read the audit log");
}

int hl_audit_verify(hl_audit_report **out, hl_ctx *ctx)
{
	hl_audit_report *r;
	unsigned char last[HL_AUDIT_HASH_BYTES];
	char hex[2 * HL_AUDIT_HASH_BYTES + 1];
	sqlite3 *db;
	bool txn = false;
	int err;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_audit_verify: out and ctx are required");
	*out = NULL;
	if ((err = hl_sodium__init()) < 0 || (err = audit_db(&db, ctx)) < 0)
		return err;
	if (!(r = hl__calloc(1, sizeof(*r))))
		return HL_ENOMEM;
	r->intact = 1;
	if (!hl_db__has_column_on(db, "audit_log", "seq") || !hl_db__has_table_on(db, "audit_head")) {
		/* A legacy log, read-only, never chained. */
		err = problem(r, 0, 0, "the audit log %s has no hash chain yet (a legacy database opened read-only)",
		              audit_path(ctx));
		goto out;
	}
	/* One snapshot: a writer appending meanwhile must not look like damage. */
	if (sqlite3_get_autocommit(db)) {
		if ((err = exec(ctx, db, "BEGIN", "begin a read")) < 0)
			goto out;
		txn = true;
	}
	if ((err = walk(ctx, db, r, last)) < 0 || (err = check_ends(ctx, db, r, last)) < 0)
		goto out;
	if (r->rows > 0) {
		to_hex(hex, last);
		if (!(r->head_hash = hl__strdup(hex)))
			err = HL_ENOMEM;
	}
out:
	if (txn)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (err < 0 && err != HL_EINTEGRITY) {
		hl_audit_report_free(r);
		return err;
	}
	*out = r;
	return err;
}
