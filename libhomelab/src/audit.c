/*
 * audit.c: the audit log: appending rows to a keyed hash chain, listing
 * them, and verifying the chain.
 *
 * Each row has a position (seq, from 1), the previous row's MAC and its own
 * MAC: BLAKE2b-256 keyed with the audit key over a canonical encoding of its
 * fields (see hl_audit__hash in audit.h). A one-row table, audit_head,
 * records the last seq and MAC with a MAC of its own, so that rows cut from
 * the end are noticed too, and verify can be given a head recorded elsewhere
 * (hl_audit_verify_head) to catch a log cut back or wiped to an earlier state.
 *
 * The audit key is $HOMELAB_AUDIT_KEY (a key as `homelab creds keygen`
 * prints, or file:PATH), else the file "<log database>.audit-key", created
 * 0600 with the log. Without the key no row can be made or re-chained; a
 * row inserted by another program stays outside the chain and verify names
 * it. Rows written before the chain was keyed (the Python server's, and the
 * unkeyed chain of earlier versions of this library) are chained once, by
 * the migration that keys the log (hl_audit__key_chain), never later.
 *
 * The log is in the inventory database, or in a database of its own
 * ($HOMELAB_AUDIT_DB) opened on first use with synchronous=FULL, so that a
 * committed row survives a crash of the machine, not only of the process.
 */
#include "audit.h"
#include "audit_actions.h"

#include <errno.h>
#include <fcntl.h>
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

static void put_u64(unsigned char *p, int64_t v)
{
	put_u32(p, (uint32_t)((uint64_t)v >> 32));
	put_u32(p + 4, (uint32_t)v);
}

void hl_audit__hash(unsigned char out[HL_AUDIT_HASH_BYTES], const struct hl_audit_key *key, int64_t seq,
                    const unsigned char prev[HL_AUDIT_HASH_BYTES], const char *const fields[HL_AUDIT_NFIELDS],
                    const size_t lens[HL_AUDIT_NFIELDS])
{
	/* hashed with their NUL */
	static const char v1[] = "homelab-audit-v1", v2[] = "homelab-audit-v2";
	crypto_generichash_state st;
	unsigned char b[8];

	crypto_generichash_init(&st, key ? key->mac : NULL, key ? sizeof(key->mac) : 0, HL_AUDIT_HASH_BYTES);
	if (key)
		crypto_generichash_update(&st, (const unsigned char *)v2, sizeof(v2));
	else
		crypto_generichash_update(&st, (const unsigned char *)v1, sizeof(v1));
	put_u64(b, seq);
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

void hl_audit__head_mac(unsigned char out[HL_AUDIT_HASH_BYTES], const struct hl_audit_key *key, int64_t seq,
                        const unsigned char hash[HL_AUDIT_HASH_BYTES])
{
	static const char domain[] = "homelab-audit-head-v2";
	crypto_generichash_state st;
	unsigned char b[8];

	crypto_generichash_init(&st, key->mac, sizeof(key->mac), HL_AUDIT_HASH_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)domain, sizeof(domain));
	put_u64(b, seq);
	crypto_generichash_update(&st, b, 8);
	crypto_generichash_update(&st, hash, HL_AUDIT_HASH_BYTES);
	crypto_generichash_final(&st, out, HL_AUDIT_HASH_BYTES);
}

/* The MAC (or, key NULL, the unkeyed hash) of the row st is on, whose
 * columns from `first` are FIELD_COLS. */
static void hash_row(unsigned char out[HL_AUDIT_HASH_BYTES], const struct hl_audit_key *key, sqlite3_stmt *st,
                     int first, int64_t seq, const unsigned char prev[HL_AUDIT_HASH_BYTES])
{
	const char *f[HL_AUDIT_NFIELDS];
	size_t n[HL_AUDIT_NFIELDS];

	for (int i = 0; i < HL_AUDIT_NFIELDS; i++) {
		/* text form first, then its length (the order SQLite documents) */
		f[i] = sqlite3_column_type(st, first + i) == SQLITE_NULL ? NULL
		                                                           : (const char *)sqlite3_column_text(st, first + i);
		n[i] = f[i] ? (size_t)sqlite3_column_bytes(st, first + i) : 0;
	}
	hl_audit__hash(out, key, seq, prev, f, n);
}

/* ----------------------------------------------------------------- key --- */

void hl_audit__key_free(struct hl_audit_key *key)
{
	hl_secret__free(key);
}

/* Create a key file with a new random key; an existing file is left as it is. */
static int create_key_file(const char *path)
{
	char *text = hl_secret__alloc(HL_VAULT_KEY_TEXT_SIZE + 1);
	size_t len, off = 0;
	int fd, err = 0;

	if (!text)
		return HL_ENOMEM;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		if (errno != EEXIST)
			err = hl__err(HL_ERROR, HL_ERROR_OS, "cannot create the audit key file %s: %s", path, strerror(errno));
		hl_secret__free(text);
		return err;
	}
	if ((err = hl_vault_keygen(text, HL_VAULT_KEY_TEXT_SIZE)) < 0)
		goto out;
	len = strlen(text);
	text[len++] = '\n';
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = hl__err(HL_ERROR, HL_ERROR_OS, "cannot write the audit key file %s: %s", path, strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (fchmod(fd, 0600) < 0 || fsync(fd) < 0)
		err = hl__err(HL_ERROR, HL_ERROR_OS, "cannot write the audit key file %s: %s", path, strerror(errno));
out:
	close(fd);
	if (err < 0)
		unlink(path);
	hl_secret__free(text);
	return err;
}

int hl_audit__key_load(struct hl_audit_key **out, const char *db_path, bool may_create)
{
	const char *env = getenv("HOMELAB_AUDIT_KEY");
	struct hl_vault_key *vk = NULL;
	struct hl_audit_key *k;
	unsigned char id[16];
	hl_buf spec = HL_BUF_INIT;
	int err;

	*out = NULL;
	if ((err = hl_sodium__init()) < 0)
		return err;
	if (!(k = sodium_malloc(sizeof(*k))))
		return hl__oom();
	if (env && *env) {
		err = hl_key__parse(&vk, env, "HOMELAB_AUDIT_KEY");
	} else if (!strcmp(db_path, ":memory:")) {
		/* a private in-memory log lives as long as its key */
		randombytes_buf(k->mac, sizeof(k->mac));
		crypto_kdf_derive_from_key(id, sizeof(id), HL_AUDIT_SUBKEY_ID, HL_AUDIT_KDF_CONTEXT, k->mac);
		goto done;
	} else if ((err = hl_buf__printf(&spec, "file:%s" HL_AUDIT_KEY_SUFFIX, db_path)) == 0) {
		if (access(spec.ptr + 5, F_OK) != 0) {
			if (!may_create)
				err = hl__err(HL_ELOCKED, HL_ERROR_DB, "audit log %s: its key file %s is missing: restore it "
				              "(or set HOMELAB_AUDIT_KEY to the key); without it the log can neither be written "
				              "nor verified", db_path, spec.ptr + 5);
			else
				err = create_key_file(spec.ptr + 5);
		}
		if (err == 0)
			err = hl_key__parse(&vk, spec.ptr, "the audit key");
	}
	hl_buf_dispose(&spec);
	if (err < 0) {
		hl_audit__key_free(k);
		return err;
	}
	crypto_kdf_derive_from_key(k->mac, sizeof(k->mac), HL_AUDIT_SUBKEY_MAC, HL_AUDIT_KDF_CONTEXT, vk->master);
	crypto_kdf_derive_from_key(id, sizeof(id), HL_AUDIT_SUBKEY_ID, HL_AUDIT_KDF_CONTEXT, vk->master);
	hl_key__free(vk);
done:
	sodium_bin2hex(k->id, sizeof(k->id), id, 8);
	sodium_memzero(id, sizeof(id));
	sodium_mprotect_readonly(k);
	*out = k;
	return 0;
}

static bool same_file(const char *a, const char *b);

/* The database the context's log is in (its key file is named after it). */
static const char *log_db_path(const hl_ctx *ctx)
{
	return !ctx->audit_path || same_file(ctx->audit_path, ctx->path) ? ctx->path : ctx->audit_path;
}

/* The key of the context's log, loaded once. */
static int ctx_key(const struct hl_audit_key **out, hl_ctx *ctx, bool may_create)
{
	int err;

	*out = NULL;
	if (!ctx->audit_key && (err = hl_audit__key_load(&ctx->audit_key, log_db_path(ctx), may_create)) < 0)
		return err;
	*out = ctx->audit_key;
	return 0;
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
	if (!(ctx->audit_path = hl__strdup(p)))
		return HL_ENOMEM;
	if (access(p, F_OK) == 0)
		hl_db__check_private(ctx, p);
	return 0;
}

void hl_audit__ctx_free(hl_ctx *ctx)
{
	if (ctx->audit_db && ctx->audit_db != ctx->db)
		sqlite3_close_v2(ctx->audit_db);
	ctx->audit_db = NULL;
	hl_audit__key_free(ctx->audit_key);
	ctx->audit_key = NULL;
	free(ctx->audit_path);
	ctx->audit_path = NULL;
}

/* Is the separate audit file the inventory file under another name? */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int separate_version(hl_ctx *ctx, sqlite3 *db, int *version)
{
	sqlite3_stmt *st = NULL;
	int rc, err;

	if ((err = prepare(ctx, db, &st, "PRAGMA user_version")) < 0)
		return err;
	rc = sqlite3_step(st);
	*version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : audit_error(ctx, db, rc, "read the audit log's version");
}

/* The audit log's connection, opening (and creating) it on first use. */
static int audit_db(sqlite3 **out, hl_ctx *ctx)
{
	const char *path = ctx->audit_path;
	sqlite3 *db = NULL;
	bool exists, writable;
	int rc, err, version = 0;

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
	if (!exists && (err = hl_db__create_private(path)) < 0)
		return err;
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
		/* The log's own version: 2 once its chain is keyed (never again). */
		if ((err = hl_audit__migrate(ctx, db)) < 0 || (err = separate_version(ctx, db, &version)) < 0 ||
		    (version < 2 && ((err = hl_audit__key_chain(ctx, db, path)) < 0 ||
		                     (err = exec(ctx, db, "PRAGMA user_version = 2", "mark the audit log keyed")) < 0))) {
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

/* What audit_head says, and the last row of the chain. */
struct head {
	bool have;                            /* an audit_head row exists */
	int64_t seq;
	unsigned char hash[HL_AUDIT_HASH_BYTES];
	bool hash_ok;                         /* hash parsed */
	char key_id[17];                      /* "" when the head has none (an unkeyed chain) */
	unsigned char mac[HL_AUDIT_HASH_BYTES];
	bool mac_ok;                          /* mac parsed */
	bool have_last;                       /* a chained row exists */
	int64_t last_seq, last_id;
	unsigned char last_hash[HL_AUDIT_HASH_BYTES];
	bool last_ok;
};

static int read_head(hl_ctx *ctx, sqlite3 *db, struct head *h)
{
	bool keyed = hl_db__has_column_on(db, "audit_head", "key_id");
	sqlite3_stmt *st = NULL;
	int rc, err;

	memset(h, 0, sizeof(*h));
	if ((err = prepare(ctx, db, &st, keyed ? "SELECT seq, hash, key_id, mac FROM audit_head WHERE id = 1"
	                                      : "SELECT seq, hash, NULL, NULL FROM audit_head WHERE id = 1")) < 0)
		return err;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *kid = (const char *)sqlite3_column_text(st, 2);
		h->have = true;
		h->seq = sqlite3_column_int64(st, 0);
		h->hash_ok = parse_hash(h->hash, st, 1);
		if (kid)
			snprintf(h->key_id, sizeof(h->key_id), "%s", kid);
		h->mac_ok = parse_hash(h->mac, st, 3);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return audit_error(ctx, db, rc, "read the chain head");
	if ((err = prepare(ctx, db, &st, "SELECT seq, hash, rowid FROM audit_log WHERE seq IS NOT NULL "
	                   "ORDER BY seq DESC LIMIT 1")) < 0)
		return err;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		h->have_last = true;
		h->last_seq = sqlite3_column_int64(st, 0);
		h->last_ok = parse_hash(h->last_hash, st, 1);
		h->last_id = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return audit_error(ctx, db, rc, "read the chain head");
	return 0;
}

/* Why the head and the last row do not agree under key; NULL when they do.
 * msg receives the text. */
static const char *head_problem(char *msg, size_t size, int64_t *bad, const struct head *h,
                                const struct hl_audit_key *key)
{
	unsigned char mac[HL_AUDIT_HASH_BYTES];

	*bad = h->have ? h->seq : h->last_seq;
	if (!h->have && !h->have_last)
		return NULL; /* an empty log */
	if (!h->have) {
		snprintf(msg, size, "the chain's head record (table audit_head) is missing, but the log has rows up to "
		         "row %lld (id %lld)", (long long)h->last_seq, (long long)h->last_id);
		return msg;
	}
	if (!h->key_id[0]) {
		snprintf(msg, size, "the chain's head record has no key: the log was chained without a key (a database "
		         "of a libhomelab before schema 4), or the head was replaced");
		return msg;
	}
	if (strcmp(h->key_id, key->id) != 0) {
		snprintf(msg, size, "the log was written under audit key %s, but the audit key in use is %s "
		         "(HOMELAB_AUDIT_KEY, or the log's .audit-key file)", h->key_id, key->id);
		return msg;
	}
	if (h->hash_ok && h->mac_ok)
		hl_audit__head_mac(mac, key, h->seq, h->hash);
	if (!h->hash_ok || !h->mac_ok || sodium_memcmp(mac, h->mac, sizeof(mac)) != 0) {
		snprintf(msg, size, "the chain's head record (row %lld) was altered: its MAC does not match (rows cut "
		         "from the end and the head rewritten?)", (long long)h->seq);
		return msg;
	}
	if (!h->have_last || h->seq > h->last_seq) {
		*bad = h->last_seq + 1;
		snprintf(msg, size, "audit rows %lld..%lld are missing at the end (the log was truncated)",
		         (long long)(h->have_last ? h->last_seq + 1 : 1), (long long)h->seq);
		return msg;
	}
	if (h->seq < h->last_seq) {
		*bad = h->seq + 1;
		snprintf(msg, size, "audit row %lld (id %lld) is past the recorded head (row %lld): rows were appended "
		         "without the chain's head", (long long)h->seq + 1, (long long)h->last_id, (long long)h->seq);
		return msg;
	}
	if (!h->last_ok || sodium_memcmp(h->hash, h->last_hash, sizeof(h->hash)) != 0) {
		snprintf(msg, size, "audit row %lld (id %lld) differs from the recorded head of the chain",
		         (long long)h->seq, (long long)h->last_id);
		return msg;
	}
	return NULL;
}

static int write_head(hl_ctx *ctx, sqlite3 *db, const struct hl_audit_key *key, int64_t seq,
                      const unsigned char hash[HL_AUDIT_HASH_BYTES])
{
	sqlite3_stmt *st = NULL;
	unsigned char mac[HL_AUDIT_HASH_BYTES];
	char hex[2 * HL_AUDIT_HASH_BYTES + 1], mac_hex[2 * HL_AUDIT_HASH_BYTES + 1];
	int rc, err;

	hl_audit__head_mac(mac, key, seq, hash);
	to_hex(hex, hash);
	to_hex(mac_hex, mac);
	if ((err = prepare(ctx, db, &st, "INSERT OR REPLACE INTO audit_head (id, seq, hash, key_id, mac) "
	                   "VALUES (1, ?1, ?2, ?3, ?4)")) < 0)
		return err;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, hex, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, key->id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, mac_hex, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : audit_error(ctx, db, rc, "write the chain head");
}

/* Append one row after the verified head. The caller holds a write
 * transaction on db. */
static int append(hl_ctx *ctx, sqlite3 *db, const struct hl_audit_key *key, const char *const f[HL_AUDIT_NFIELDS])
{
	sqlite3_stmt *st = NULL;
	struct head h;
	unsigned char prev[HL_AUDIT_HASH_BYTES], mac[HL_AUDIT_HASH_BYTES];
	char prev_hex[2 * HL_AUDIT_HASH_BYTES + 1], hex[2 * HL_AUDIT_HASH_BYTES + 1], msg[400];
	size_t n[HL_AUDIT_NFIELDS];
	int64_t seq = 0, bad;
	int rc, err;

	if ((err = read_head(ctx, db, &h)) < 0)
		return err;
	/* A log that was cut back or rewritten is never extended: the next row
	 * would make the damage look like an intact chain. */
	if (head_problem(msg, sizeof(msg), &bad, &h, key))
		return hl__err(HL_EINTEGRITY, HL_ERROR_DB, "audit log %s is damaged: %s; nothing more is recorded in it "
		               "(see `homelab audit verify`; to go on, keep it as evidence and point HOMELAB_AUDIT_DB at "
		               "a new log)", audit_path(ctx), msg);
	memcpy(prev, zero_hash, sizeof(prev));
	if (h.have) {
		seq = h.seq;
		memcpy(prev, h.hash, sizeof(prev));
	}
	for (int i = 0; i < HL_AUDIT_NFIELDS; i++)
		n[i] = f[i] ? strlen(f[i]) : 0;
	hl_audit__hash(mac, key, seq + 1, prev, f, n);
	to_hex(prev_hex, prev);
	to_hex(hex, mac);
	if ((err = prepare(ctx, db, &st, "INSERT INTO audit_log (" FIELD_COLS ", seq, prev_hash, hash) "
	                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")) < 0)
		return err;
	for (int i = 0; i < HL_AUDIT_NFIELDS; i++)
		f[i] ? sqlite3_bind_text(st, i + 1, f[i], (int)n[i], SQLITE_STATIC) : sqlite3_bind_null(st, i + 1);
	sqlite3_bind_int64(st, 9, seq + 1);
	sqlite3_bind_text(st, 10, prev_hex, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, hex, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return audit_error(ctx, db, rc, "write an audit row");
	return write_head(ctx, db, key, seq + 1, mac);
}

int hl_audit__migrate(hl_ctx *ctx, sqlite3 *db)
{
	static const struct {
		const char *table, *column, *decl;
	} cols[] = {
		{ "audit_log", "result", "TEXT" }, { "audit_log", "seq", "INTEGER" },
		{ "audit_log", "prev_hash", "TEXT" }, { "audit_log", "hash", "TEXT" },
		{ "audit_head", "key_id", "TEXT" }, { "audit_head", "mac", "TEXT" },
	};
	char sql[256];
	int err;

	/* A separate audit database starts with the seed table. */
	if ((err = exec(ctx, db, "CREATE TABLE IF NOT EXISTS audit_log ("
	                " id INTEGER PRIMARY KEY, action TEXT NOT NULL, target_type TEXT, target_id TEXT,"
	                " user TEXT, details TEXT, ip_address TEXT, timestamp TEXT DEFAULT CURRENT_TIMESTAMP);"
	                "CREATE TABLE IF NOT EXISTS audit_head ("
	                " id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL)",
	                "create the audit table")) < 0)
		return err;
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		if (hl_db__has_column_on(db, cols[i].table, cols[i].column))
			continue;
		snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s", cols[i].table, cols[i].column,
		         cols[i].decl);
		if ((err = exec(ctx, db, sql, "add audit columns")) < 0)
			return err;
	}
	return exec(ctx, db, "CREATE UNIQUE INDEX IF NOT EXISTS hl_audit_seq ON audit_log(seq);"
	            "CREATE INDEX IF NOT EXISTS hl_audit_time ON audit_log(timestamp);"
	            "CREATE INDEX IF NOT EXISTS hl_audit_action ON audit_log(action)", "create the audit chain");
}

/* Check the unkeyed chain of an earlier version in seq order: *ok, or
 * false with a description of its first problem in msg. */
static int check_unkeyed(hl_ctx *ctx, sqlite3 *db, const struct head *h, char *msg, size_t size, bool *ok)
{
	sqlite3_stmt *st = NULL;
	unsigned char prev[HL_AUDIT_HASH_BYTES], stored[HL_AUDIT_HASH_BYTES], hash[HL_AUDIT_HASH_BYTES];
	int64_t expect = 1;
	int rc, err;

	*ok = true;
	memcpy(prev, zero_hash, sizeof(prev));
	if ((err = prepare(ctx, db, &st, "SELECT rowid, seq, hash, " FIELD_COLS " FROM audit_log "
	                   "WHERE seq IS NOT NULL ORDER BY seq")) < 0)
		return err;
	while (*ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 1);
		hash_row(hash, NULL, st, 3, seq, prev);
		if (seq != expect || !parse_hash(stored, st, 2) || sodium_memcmp(stored, hash, sizeof(hash)) != 0) {
			snprintf(msg, size, "it was broken at row %lld (id %lld)", (long long)expect,
			         (long long)sqlite3_column_int64(st, 0));
			*ok = false;
		}
		memcpy(prev, hash, sizeof(prev));
		expect++;
	}
	sqlite3_finalize(st);
	if (*ok && rc != SQLITE_DONE)
		return audit_error(ctx, db, rc, "read the audit log");
	if (*ok && h->have && (h->seq != expect - 1 || !h->hash_ok || sodium_memcmp(h->hash, prev, sizeof(prev)))) {
		snprintf(msg, size, "its head record did not match its last row (row %lld)", (long long)expect - 1);
		*ok = false;
	}
	return 0;
}

/* Does any chained row's MAC verify under key (for its seq and stored link)? */
static int any_row_keyed(hl_ctx *ctx, sqlite3 *db, const struct hl_audit_key *key, bool *keyed)
{
	sqlite3_stmt *st = NULL;
	unsigned char prev[HL_AUDIT_HASH_BYTES], stored[HL_AUDIT_HASH_BYTES], mac[HL_AUDIT_HASH_BYTES];
	int rc, err;

	*keyed = false;
	if ((err = prepare(ctx, db, &st, "SELECT seq, prev_hash, hash, " FIELD_COLS " FROM audit_log "
	                   "WHERE seq IS NOT NULL ORDER BY seq")) < 0)
		return err;
	while (!*keyed && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!parse_hash(prev, st, 1) || !parse_hash(stored, st, 2))
			continue;
		hash_row(mac, key, st, 3, sqlite3_column_int64(st, 0), prev);
		*keyed = sodium_memcmp(mac, stored, sizeof(mac)) == 0;
	}
	sqlite3_finalize(st);
	return *keyed || rc == SQLITE_DONE ? 0 : audit_error(ctx, db, rc, "read the audit log");
}

int hl_audit__key_chain(hl_ctx *ctx, sqlite3 *db, const char *db_path)
{
	/* The context's own log keeps its key loaded (an in-memory log has no
	 * other copy); the inventory's log, when the context logs elsewhere,
	 * gets its key for the migration only. */
	bool mine = db != ctx->db || !strcmp(db_path, log_db_path(ctx));
	const struct hl_audit_key *key = NULL;
	struct hl_audit_key *tmp = NULL;
	sqlite3_stmt *st = NULL, *rd = NULL, *up = NULL;
	struct head h;
	unsigned char prev[HL_AUDIT_HASH_BYTES], mac[HL_AUDIT_HASH_BYTES];
	char prev_hex[2 * HL_AUDIT_HASH_BYTES + 1], hex[2 * HL_AUDIT_HASH_BYTES + 1], old[200], details[600], ts[64];
	const char *f[HL_AUDIT_NFIELDS] = { 0 };
	int64_t *ids = NULL, chained = 0, outside = 0;
	size_t n = 0, cap = 0;
	bool old_ok = true, keyed = false;
	int rc, err;

	if ((err = read_head(ctx, db, &h)) < 0)
		return err;
	if (h.key_id[0])
		return 0; /* keyed already: never adopt again */
	if (h.have_last && (err = check_unkeyed(ctx, db, &h, old, sizeof(old), &old_ok)) < 0)
		return err;
	/* Every row, in chain order, then the rows outside it in insertion order. */
	if ((err = prepare(ctx, db, &st, "SELECT rowid, seq IS NOT NULL FROM audit_log "
	                   "ORDER BY seq IS NULL, seq, rowid")) < 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			int64_t *p = hl__realloc(ids, (cap = cap ? cap * 2 : 64) * sizeof(*ids));
			if (!p) {
				err = HL_ENOMEM;
				goto out;
			}
			ids = p;
		}
		ids[n++] = sqlite3_column_int64(st, 0);
		if (sqlite3_column_int(st, 1))
			chained++;
		else
			outside++;
	}
	if (rc != SQLITE_DONE) {
		err = audit_error(ctx, db, rc, "read the audit log");
		goto out;
	}
	if (n == 0) {
		/* an empty log: its first row makes the key and starts the chain */
		err = exec(ctx, db, "DELETE FROM audit_head", "reset the chain head");
		goto out;
	}
	if (mine)
		err = ctx_key(&key, ctx, true);
	else if ((err = hl_audit__key_load(&tmp, db_path, true)) == 0)
		key = tmp;
	if (err < 0)
		goto out;
	/* A head stripped of its key (and the schema version set back) must not
	 * get forged rows adopted: a row that verifies under the key shows the
	 * log was keyed already. */
	if (chained && (err = any_row_keyed(ctx, db, key, &keyed)) < 0)
		goto out;
	if (keyed)
		goto out;
	if ((err = exec(ctx, db, "UPDATE audit_log SET seq = NULL", "renumber the audit log")) < 0 ||
	    (err = prepare(ctx, db, &rd, "SELECT " FIELD_COLS " FROM audit_log WHERE rowid = ?1")) < 0 ||
	    (err = prepare(ctx, db, &up, "UPDATE audit_log SET seq = ?1, prev_hash = ?2, hash = ?3 WHERE rowid = ?4")) < 0)
		goto out;
	memcpy(prev, zero_hash, sizeof(prev));
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(rd, 1, ids[i]);
		if ((rc = sqlite3_step(rd)) != SQLITE_ROW) {
			err = audit_error(ctx, db, rc, "read an audit row");
			goto out;
		}
		hash_row(mac, key, rd, 0, (int64_t)i + 1, prev);
		sqlite3_reset(rd);
		to_hex(prev_hex, prev);
		to_hex(hex, mac);
		sqlite3_bind_int64(up, 1, (int64_t)i + 1);
		sqlite3_bind_text(up, 2, prev_hex, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(up, 3, hex, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(up, 4, ids[i]);
		if ((rc = sqlite3_step(up)) != SQLITE_DONE) {
			err = audit_error(ctx, db, rc, "chain an audit row");
			goto out;
		}
		sqlite3_reset(up);
		memcpy(prev, mac, sizeof(prev));
	}
	if ((err = write_head(ctx, db, key, (int64_t)n, prev)) < 0)
		goto out;
	/* Say what was done, in the chain itself. */
	snprintf(details, sizeof(details), "%lld earlier rows chained under audit key %s: %lld from the unkeyed chain "
	         "of an earlier libhomelab (%s%s), %lld written outside any chain (by the Python server or another "
	         "program)", (long long)n, key->id, (long long)chained, chained == 0 ? "none" : old_ok ? "it verified "
	         "intact" : "it did not verify: ", chained && !old_ok ? old : "", (long long)outside);
	now_text(ts, 0);
	f[0] = ts;
	f[1] = "audit_chain_keyed";
	f[2] = "ok";
	f[5] = ctx->principal;
	f[6] = "local";
	f[7] = details;
	err = append(ctx, db, key, f);
out:
	sqlite3_finalize(st);
	sqlite3_finalize(rd);
	sqlite3_finalize(up);
	free(ids);
	hl_audit__key_free(tmp);
	return err;
}

/* ---------------------------------------------------------------- write --- */

/* No chained row and no head: a log that has never been written. */
static bool log_is_empty(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	bool empty = false;

	if (sqlite3_prepare_v2(db, "SELECT EXISTS (SELECT 1 FROM audit_head) OR "
	                       "EXISTS (SELECT 1 FROM audit_log WHERE seq IS NOT NULL)", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		empty = sqlite3_column_int(st, 0) == 0;
	sqlite3_finalize(st);
	return empty;
}

#define HL_AUDIT_ACTION_NAME_(name) #name,
static const char *const actions[] = { HL_AUDIT_ACTIONS(HL_AUDIT_ACTION_NAME_) NULL };

const char *const *hl_audit_actions(void)
{
	return actions;
}

static bool known_action(const char *a)
{
	for (size_t i = 0; actions[i]; i++)
		if (!strcmp(actions[i], a))
			return true;
	return false;
}

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
	const struct hl_audit_key *key;
	sqlite3 *db;
	char ts[64];
	const char *f[HL_AUDIT_NFIELDS];
	hl_buf esc[HL_AUDIT_NFIELDS] = { HL_BUF_INIT };
	bool own_txn;
	int err;

	if (!valid_action(ev->action))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "audit action '%.80s' must be 1-64 of [a-z0-9_.:-]",
		               ev->action ? ev->action : "(null)");
	if (!known_action(ev->action))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "audit action '%s' is not one of hl_audit_actions() "
		               "(libhomelab/src/audit_actions.h lists every action written)", ev->action);
	if ((err = hl_sodium__init()) < 0 || (err = hl_audit__writable(ctx)) < 0)
		return err;
	db = ctx->audit_db;

	/* On a shared connection inside the caller's transaction, the row
	 * commits with it; otherwise it gets a transaction of its own. */
	own_txn = sqlite3_get_autocommit(db) != 0;
	if (own_txn && (err = exec(ctx, db, "BEGIN IMMEDIATE", "begin a write")) < 0)
		goto out;
	/* The key file of a log that has no row yet may be made now; a log with
	 * rows whose key is gone is not silently given another. */
	if ((err = ctx_key(&key, ctx, !ctx->audit_key && log_is_empty(db))) < 0)
		goto fail;

	now_text(ts, 0);
	f[0] = ts;
	f[1] = ev->action;
	f[2] = ev->result ? ev->result : "ok";
	f[3] = ev->target_type;
	f[4] = ev->target_id;
	f[5] = ev->principal ? ev->principal : ctx->principal;
	f[6] = ev->client_addr ? ev->client_addr : "local";
	f[7] = ev->details;
	/* Labels come from outside (a target, a token name, a command): they
	 * are stored escaped, so that no row can act on the terminal that shows
	 * it, and long details are cut. */
	for (int i = 2; i < HL_AUDIT_NFIELDS; i++) {
		bool cut = false;
		if (!f[i] || (i < 7 && !hl__needs_escape(f[i], HL_ESCAPE_BACKSLASH)) ||
		    (i == 7 && !hl__needs_escape(f[i], HL_ESCAPE_BACKSLASH) && strlen(f[i]) <= HL_AUDIT_DETAILS_MAX))
			continue;
		if ((err = hl__escape(&esc[i], f[i], i == 7 ? HL_AUDIT_DETAILS_MAX : 0, HL_ESCAPE_BACKSLASH, &cut)) < 0 ||
		    (cut && (err = hl_buf__puts(&esc[i], " [truncated]")) < 0))
			goto fail;
		f[i] = esc[i].ptr ? esc[i].ptr : "";
	}
	if ((err = append(ctx, db, key, f)) < 0)
		goto fail;
	if (own_txn && (err = exec(ctx, db, "COMMIT", "commit an audit row")) < 0)
		goto fail;
	/* committed: readers of homelab://audit/recent see the row now (in a
	 * caller's transaction it shows only at the caller's commit: no word) */
	if (own_txn)
		hl_resource_notify_updated("homelab://audit/recent");
	goto out;
fail:
	if (own_txn && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out:
	for (int i = 0; i < HL_AUDIT_NFIELDS; i++)
		hl_buf_dispose(&esc[i]);
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
	free(r->key_id);
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

/* A column's text for a message: escaped (a forged row may hold anything),
 * at most size - 1 bytes, "-" for NULL. */
static const char *label(char *out, size_t size, const char *text)
{
	hl_buf b = HL_BUF_INIT;

	snprintf(out, size, "-");
	if (text && hl__escape(&b, text, size - 1, HL_ESCAPE_BACKSLASH, NULL) == 0)
		snprintf(out, size, "%s", b.ptr ? b.ptr : "");
	hl_buf_dispose(&b);
	return out;
}

/* Walk the chain in seq order; stop at the first problem. want_seq > 0:
 * also copy that row's MAC to want_hash (*found). */
static int walk(hl_ctx *ctx, sqlite3 *db, const struct hl_audit_key *key, hl_audit_report *r,
                unsigned char last[HL_AUDIT_HASH_BYTES], int64_t want_seq, unsigned char want_hash[HL_AUDIT_HASH_BYTES],
                int64_t *want_id, bool *found)
{
	sqlite3_stmt *st = NULL;
	unsigned char prev[HL_AUDIT_HASH_BYTES], stored_prev[HL_AUDIT_HASH_BYTES], stored[HL_AUDIT_HASH_BYTES];
	unsigned char h[HL_AUDIT_HASH_BYTES];
	int64_t expect = 1, last_id = INT64_MIN;
	int rc, err;

	*found = false;
	memcpy(prev, zero_hash, sizeof(prev));
	if ((err = prepare(ctx, db, &st, "SELECT rowid, seq, prev_hash, hash, " FIELD_COLS
	                   " FROM audit_log WHERE seq IS NOT NULL ORDER BY seq")) < 0)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0), seq = sqlite3_column_int64(st, 1);
		const char *action = (const char *)sqlite3_column_text(st, 5);
		char what[200], tt[48], act[48];

		snprintf(what, sizeof(what), "audit row %lld (id %lld, %s %s)", (long long)seq, (long long)id,
		         label(tt, sizeof(tt), (const char *)sqlite3_column_text(st, 7)), label(act, sizeof(act), action));
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
		hash_row(h, key, st, 4, seq, prev);
		if (!parse_hash(stored, st, 3) || sodium_memcmp(stored, h, sizeof(h)) != 0) {
			err = problem(r, seq, id, "%s was altered or forged: its contents do not match its MAC", what);
			goto out;
		}
		if (seq == want_seq) {
			memcpy(want_hash, h, HL_AUDIT_HASH_BYTES);
			*want_id = id;
			*found = true;
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
static int check_ends(hl_ctx *ctx, sqlite3 *db, const struct hl_audit_key *key, hl_audit_report *r)
{
	sqlite3_stmt *st = NULL;
	struct head h;
	char msg[400];
	int64_t bad;
	int rc, err;

	if ((err = read_head(ctx, db, &h)) < 0)
		return err;
	if (head_problem(msg, sizeof(msg), &bad, &h, key))
		return problem(r, bad, h.have_last && bad == h.last_seq ? h.last_id : 0, "%s", msg);
	if ((err = prepare(ctx, db, &st, "SELECT rowid, action FROM audit_log WHERE seq IS NULL ORDER BY rowid")) < 0)
		return err;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0), more = 0;
		char action[48];
		label(action, sizeof(action), (const char *)sqlite3_column_text(st, 1));
		while (sqlite3_step(st) == SQLITE_ROW)
			more++;
		sqlite3_finalize(st);
		return problem(r, 0, id, "audit row id %lld (%s) is not in the chain: forged, or written by another "
		               "program (the Python server?), after the chain was keyed%s", (long long)id, action,
		               more ? " (and more rows after it)" : "");
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : audit_error(ctx, db, rc, "read the audit log");
}

/* A log with no chained row and no head: only rows outside the chain can be wrong. */
static int check_ends_empty(hl_ctx *ctx, sqlite3 *db, hl_audit_report *r)
{
	sqlite3_stmt *st = NULL;
	int rc, err;

	if ((err = prepare(ctx, db, &st, "SELECT rowid FROM audit_log WHERE seq IS NULL ORDER BY rowid LIMIT 1")) < 0)
		return err;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		return problem(r, 0, id, "audit row id %lld is not in the chain: forged, or written by another program "
		               "(the Python server?), after the chain was keyed", (long long)id);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : audit_error(ctx, db, rc, "read the audit log");
}

/* Parse "SEQ:HEX" (as hl_audit_report's head prints). */
static int parse_head_arg(const char *s, int64_t *seq, unsigned char hash[HL_AUDIT_HASH_BYTES])
{
	const char *colon = s ? strchr(s, ':') : NULL;
	char num[24];
	size_t n = 0;
	const char *end = NULL;

	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(num))
		goto bad;
	memcpy(num, s, (size_t)(colon - s));
	num[colon - s] = '\0';
	if (!hl__parse_int64(num, seq) || *seq < 0 || strlen(colon + 1) != 2 * HL_AUDIT_HASH_BYTES ||
	    sodium_hex2bin(hash, HL_AUDIT_HASH_BYTES, colon + 1, 2 * HL_AUDIT_HASH_BYTES, NULL, &n, &end) != 0 ||
	    n != HL_AUDIT_HASH_BYTES)
		goto bad;
	return 0;
bad:
	return hl__err(HL_EINVALID, HL_ERROR_INVALID, "head '%.100s' is not SEQ:HASH (a row number, a colon and 64 hex "
	               "digits, as `homelab audit head` prints)", s ? s : "(null)");
}

int hl_audit_verify_head(hl_audit_report **out, hl_ctx *ctx, const char *head)
{
	const struct hl_audit_key *key = NULL;
	hl_audit_report *r;
	unsigned char last[HL_AUDIT_HASH_BYTES], want[HL_AUDIT_HASH_BYTES], got[HL_AUDIT_HASH_BYTES];
	char hex[2 * HL_AUDIT_HASH_BYTES + 1];
	int64_t want_seq = 0, want_id = 0;
	bool txn = false, found = false;
	sqlite3 *db;
	int err;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_audit_verify: out and ctx are required");
	*out = NULL;
	if (head && (err = parse_head_arg(head, &want_seq, want)) < 0)
		return err;
	if ((err = hl_sodium__init()) < 0 || (err = audit_db(&db, ctx)) < 0)
		return err;
	if (!(r = hl__calloc(1, sizeof(*r))))
		return HL_ENOMEM;
	r->intact = 1;
	if (!hl_db__has_column_on(db, "audit_log", "seq") || !hl_db__has_column_on(db, "audit_head", "key_id")) {
		/* A legacy log, read-only, never keyed. */
		err = problem(r, 0, 0, "the audit log %s has no keyed chain yet (a database of an earlier version opened "
		              "read-only): open it writable once to key it", audit_path(ctx));
		goto out;
	}
	/* One snapshot: a writer appending meanwhile must not look like damage. */
	if (sqlite3_get_autocommit(db)) {
		if ((err = exec(ctx, db, "BEGIN", "begin a read")) < 0)
			goto out;
		txn = true;
	}
	/* A log never written needs no key; any other does. */
	if (!log_is_empty(db) && (err = ctx_key(&key, ctx, false)) < 0)
		goto out;
	if (key) {
		/* a wrong key first: every MAC would differ */
		struct head h;
		if ((err = read_head(ctx, db, &h)) < 0)
			goto out;
		if (h.key_id[0] && strcmp(h.key_id, key->id) != 0) {
			err = problem(r, 0, 0, "the log was written under audit key %s, but the audit key in use is %s "
			              "(HOMELAB_AUDIT_KEY, or the log's .audit-key file)", h.key_id, key->id);
			goto out;
		}
	}
	if (key && (err = walk(ctx, db, key, r, last, want_seq, got, &want_id, &found)) < 0)
		goto out;
	if ((key && (err = check_ends(ctx, db, key, r)) < 0))
		goto out;
	if (!key && (err = check_ends_empty(ctx, db, r)) < 0)
		goto out;
	if (head && want_seq > r->head_seq) {
		err = problem(r, r->head_seq + 1, 0, "the log ends at row %lld, but the head recorded elsewhere is row "
		              "%lld: rows %lld..%lld were removed (the log was cut back or wiped)", (long long)r->head_seq,
		              (long long)want_seq, (long long)r->head_seq + 1, (long long)want_seq);
		goto out;
	}
	if (head && want_seq > 0 && (!found || sodium_memcmp(got, want, sizeof(want)) != 0)) {
		err = problem(r, want_seq, want_id, "audit row %lld (id %lld) is not the row the head recorded elsewhere "
		              "names: the log was rewritten from that row or earlier (or wiped and started again)",
		              (long long)want_seq, (long long)want_id);
		goto out;
	}
	if (r->rows > 0) {
		to_hex(hex, last);
		if (!(r->head_hash = hl__strdup(hex))) {
			err = HL_ENOMEM;
			goto out;
		}
	}
	if (key && !(r->key_id = hl__strdup(key->id)))
		err = HL_ENOMEM;
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

int hl_audit_verify(hl_audit_report **out, hl_ctx *ctx)
{
	return hl_audit_verify_head(out, ctx, NULL);
}
