/*
 * db.c: opening the inventory database, creating and migrating its schema,
 * and the small helpers every SQL-using file shares.
 *
 * The six tables of the original Python server (proxmox_hosts,
 * virtual_machines, services, credentials, network_config, audit_log) are a
 * contract: their names and columns never change. Migrations, keyed by
 * PRAGMA user_version, only add columns, tables and indexes, so a legacy
 * database keeps every row exactly as it was.
 */
#include "db.h"
#include "ipaddr.h"
#include "audit.h"
#include "token.h"
#include "vault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int hl_db__error_on(sqlite3 *db, const char *path, int rc, const char *what)
{
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return hl__oom();
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return hl__err(HL_EBUSY, HL_ERROR_DB, "%s: %s: database is locked by another writer", path, what);
	case SQLITE_READONLY:
		return hl__err(HL_EREADONLY, HL_ERROR_DB, "%s: %s: the database is read-only", path, what);
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return hl__err(HL_ECORRUPT, HL_ERROR_DB, "%s: %s: %s", path, what, msg);
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return hl__err(HL_EEXISTS, HL_ERROR_DB, "%s: %s", what, msg);
		return hl__err(HL_EINVALID, HL_ERROR_DB, "%s: %s", what, msg);
	case SQLITE_CANTOPEN:
		return hl__err(HL_ERROR, HL_ERROR_DB, "%s: cannot open the database file: %s", path, msg);
	case SQLITE_FULL:
		return hl__err(HL_ERROR, HL_ERROR_DB, "%s: %s: disk full", path, what);
	default:
		return hl__err(HL_ERROR, HL_ERROR_DB, "%s: %s: %s", path, what, msg);
	}
}

int hl_db__error(hl_ctx *ctx, int rc, const char *what)
{
	return hl_db__error_on(ctx ? ctx->db : NULL, ctx && ctx->path ? ctx->path : "database", rc, what);
}

int hl_db__prepare(hl_ctx *ctx, sqlite3_stmt **st, const char *sql)
{
	int rc = sqlite3_prepare_v2(ctx->db, sql, -1, st, NULL);
	if (rc != SQLITE_OK)
		return hl_db__error(ctx, rc, "query");
	return 0;
}

/* The statement cache: a small open-addressed table keyed by the SQL text.
 * Compiling a statement costs far more than running an indexed lookup
 * (measured: 58% of a by-name VM lookup was sqlite3_prepare_v2). */
#define STMT_SLOTS 128 /* a power of two; the library has fewer distinct statements */

struct hl_stmt_slot {
	char *sql;
	sqlite3_stmt *st;
	bool busy;
};

struct hl_stmt_cache {
	struct hl_stmt_slot slot[STMT_SLOTS];
};

static uint32_t sql_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

int hl_db__stmt(hl_ctx *ctx, sqlite3_stmt **st, const char *sql)
{
	struct hl_stmt_slot *s = NULL;
	uint32_t h = sql_hash(sql);
	int rc;

	*st = NULL;
	if (!ctx->stmts && !(ctx->stmts = calloc(1, sizeof(*ctx->stmts))))
		return hl_db__prepare(ctx, st, sql); /* no cache, still works */
	for (uint32_t i = 0; i < STMT_SLOTS; i++) {
		struct hl_stmt_slot *x = &ctx->stmts->slot[(h + i) & (STMT_SLOTS - 1)];
		if (!x->sql) {
			s = x;
			break;
		}
		if (!strcmp(x->sql, sql)) {
			if (x->busy)
				return hl_db__prepare(ctx, st, sql); /* nested use */
			x->busy = true;
			*st = x->st;
			return 0;
		}
	}
	if (!s || !(s->sql = strdup(sql)))
		return hl_db__prepare(ctx, st, sql); /* table full: uncached */
	rc = sqlite3_prepare_v3(ctx->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st, NULL);
	if (rc != SQLITE_OK) {
		free(s->sql);
		s->sql = NULL;
		s->st = NULL;
		return hl_db__error(ctx, rc, "query");
	}
	s->busy = true;
	*st = s->st;
	return 0;
}

void hl_db__release(hl_ctx *ctx, sqlite3_stmt *st)
{
	if (!st)
		return;
	if (ctx->stmts) {
		const char *sql = sqlite3_sql(st);
		uint32_t h = sql ? sql_hash(sql) : 0;
		for (uint32_t i = 0; sql && i < STMT_SLOTS; i++) {
			struct hl_stmt_slot *x = &ctx->stmts->slot[(h + i) & (STMT_SLOTS - 1)];
			if (!x->sql)
				break;
			if (x->st == st) {
				sqlite3_reset(st);
				sqlite3_clear_bindings(st);
				x->busy = false;
				return;
			}
		}
	}
	sqlite3_finalize(st);
}

void hl_db__stmt_cache_free(hl_ctx *ctx)
{
	if (!ctx->stmts)
		return;
	for (size_t i = 0; i < STMT_SLOTS; i++) {
		sqlite3_finalize(ctx->stmts->slot[i].st);
		free(ctx->stmts->slot[i].sql);
	}
	free(ctx->stmts);
	ctx->stmts = NULL;
}

int hl_db__exec(hl_ctx *ctx, const char *sql)
{
	int rc = sqlite3_exec(ctx->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return hl_db__error(ctx, rc, "query");
	return 0;
}

int hl_db__begin_read(hl_ctx *ctx)
{
	return hl_db__exec(ctx, "BEGIN");
}

int hl_db__begin_write(hl_ctx *ctx)
{
	int rc = sqlite3_exec(ctx->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return hl_db__error(ctx, rc, "begin a write");
	return 0;
}

int hl_db__commit(hl_ctx *ctx)
{
	int rc = sqlite3_exec(ctx->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int err = hl_db__error(ctx, rc, "commit");
		hl_db__rollback(ctx);
		return err;
	}
	return 0;
}

void hl_db__rollback(hl_ctx *ctx)
{
	if (!sqlite3_get_autocommit(ctx->db))
		sqlite3_exec(ctx->db, "ROLLBACK", NULL, NULL, NULL);
}

int hl_db__writable(hl_ctx *ctx, const char *what)
{
	if (ctx->readonly)
		return hl__err(HL_EREADONLY, HL_ERROR_DB, "%s: cannot %s: the database is open read-only",
		               ctx->path, what);
	return 0;
}

int hl_db__bind_text(sqlite3_stmt *st, int idx, const char *s)
{
	if (!s)
		return sqlite3_bind_null(st, idx);
	return sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
}

bool hl_db__col_text(sqlite3_stmt *st, int col, char **out)
{
	const unsigned char *t;

	*out = NULL;
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return true;
	t = sqlite3_column_text(st, col);
	if (!t)
		return sqlite3_errcode(sqlite3_db_handle(st)) != SQLITE_NOMEM || (hl__oom(), false);
	*out = hl__strndup((const char *)t, (size_t)sqlite3_column_bytes(st, col));
	return *out != NULL;
}

bool hl_db__has_table_on(sqlite3 *db, const char *table)
{
	sqlite3_stmt *st = NULL;
	bool found = false;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1",
	                       -1, &st, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

bool hl_db__has_table(hl_ctx *ctx, const char *table)
{
	return hl_db__has_table_on(ctx->db, table);
}

bool hl_db__has_column_on(sqlite3 *db, const char *table, const char *column)
{
	sqlite3_stmt *st = NULL;
	bool found = false;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name=?2",
	                       -1, &st, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

bool hl_db__has_column(hl_ctx *ctx, const char *table, const char *column)
{
	return hl_db__has_column_on(ctx->db, table, column);
}

/* SQL function hl_ipv4_num(text): the IPv4 address as an integer, or NULL. */
static void sql_ipv4_num(sqlite3_context *c, int argc, sqlite3_value **argv)
{
	const unsigned char *s;
	uint32_t v;

	(void)argc;
	s = sqlite3_value_text(argv[0]);
	if (s && hl_ip__parse_v4((const char *)s, &v))
		sqlite3_result_int64(c, v);
	else
		sqlite3_result_null(c);
}

/* ------------------------------------------------------------ schema --- */

/* The seed tables, as a fresh database gets them. A legacy database already
 * has them (perhaps with other declarations); CREATE ... IF NOT EXISTS
 * leaves those untouched. */
static const char schema_seed[] =
	"CREATE TABLE IF NOT EXISTS proxmox_hosts ("
	" id INTEGER PRIMARY KEY,"
	" node_name TEXT NOT NULL,"
	" ip_address TEXT);"
	"CREATE TABLE IF NOT EXISTS virtual_machines ("
	" vm_id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" ip TEXT,"
	" status TEXT,"
	" host_id INTEGER REFERENCES proxmox_hosts(id));"
	"CREATE TABLE IF NOT EXISTS services ("
	" id INTEGER PRIMARY KEY,"
	" service_name TEXT NOT NULL,"
	" url TEXT,"
	" port INTEGER,"
	" protocol TEXT,"
	" health_endpoint TEXT,"
	" vm_id INTEGER REFERENCES virtual_machines(vm_id));"
	"CREATE TABLE IF NOT EXISTS credentials ("
	" id INTEGER PRIMARY KEY,"
	" target_type TEXT NOT NULL,"
	" target_id INTEGER NOT NULL,"
	" username TEXT,"
	" password_encrypted TEXT,"
	" ssh_key_path TEXT,"
	" auth_type TEXT);"
	"CREATE TABLE IF NOT EXISTS network_config ("
	" id INTEGER PRIMARY KEY,"
	" ip_address TEXT NOT NULL,"
	" hostname TEXT,"
	" allocated_to TEXT,"
	" type TEXT);"
	"CREATE TABLE IF NOT EXISTS audit_log ("
	" id INTEGER PRIMARY KEY,"
	" action TEXT NOT NULL,"
	" target_type TEXT,"
	" target_id TEXT,"
	" user TEXT,"
	" details TEXT,"
	" ip_address TEXT,"
	" timestamp TEXT DEFAULT CURRENT_TIMESTAMP);";

struct column_add {
	const char *table, *column, *decl;
};

/* Migration 1 columns: added only when missing. */
static const struct column_add v1_columns[] = {
	{ "virtual_machines", "ssh_user", "TEXT" },
	{ "virtual_machines", "ssh_port", "INTEGER" },
	{ "network_config", "ip_num", "INTEGER" },
};

struct index_def {
	const char *name, *table, *columns;
	bool unique; /* unique when the existing rows allow it, else plain */
};

static const struct index_def v1_indexes[] = {
	{ "hl_vm_name", "virtual_machines", "name COLLATE NOCASE", true },
	{ "hl_vm_ip", "virtual_machines", "ip", false },
	{ "hl_vm_status", "virtual_machines", "status", false },
	{ "hl_vm_host", "virtual_machines", "host_id", false },
	{ "hl_host_name", "proxmox_hosts", "node_name COLLATE NOCASE", true },
	{ "hl_host_ip", "proxmox_hosts", "ip_address", false },
	{ "hl_svc_name", "services", "service_name COLLATE NOCASE", true },
	{ "hl_svc_vm", "services", "vm_id", false },
	{ "hl_net_ip", "network_config", "ip_address", true },
	{ "hl_net_num", "network_config", "ip_num, ip_address", false },
	{ "hl_net_to", "network_config", "allocated_to", false },
	{ "hl_cred_target", "credentials", "target_type, target_id", false },
	{ "hl_audit_time", "audit_log", "timestamp", false },
	{ "hl_audit_action", "audit_log", "action", false },
};

static int migrate_v1(hl_ctx *ctx)
{
	char sql[512];
	int err;

	if ((err = hl_db__exec(ctx, schema_seed)) < 0)
		return err;
	for (size_t i = 0; i < sizeof(v1_columns) / sizeof(v1_columns[0]); i++) {
		const struct column_add *c = &v1_columns[i];
		if (hl_db__has_column(ctx, c->table, c->column))
			continue;
		snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s", c->table, c->column, c->decl);
		if ((err = hl_db__exec(ctx, sql)) < 0)
			return err;
	}
	/* Fill the numeric form of every IPv4 allocation; ip_address stays as written. */
	if ((err = hl_db__exec(ctx, "UPDATE network_config SET ip_num = hl_ipv4_num(ip_address) "
	                            "WHERE ip_num IS NULL")) < 0)
		return err;
	for (size_t i = 0; i < sizeof(v1_indexes) / sizeof(v1_indexes[0]); i++) {
		const struct index_def *x = &v1_indexes[i];
		int rc = SQLITE_CONSTRAINT;
		if (x->unique) {
			snprintf(sql, sizeof(sql), "CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s(%s)",
			         x->name, x->table, x->columns);
			rc = sqlite3_exec(ctx->db, sql, NULL, NULL, NULL);
		}
		/* A legacy table with duplicate names still migrates: the
		 * library refuses new duplicates itself, and the old rows stay. */
		if (rc == SQLITE_CONSTRAINT || (rc & 0xff) == SQLITE_CONSTRAINT) {
			snprintf(sql, sizeof(sql), "CREATE INDEX IF NOT EXISTS %s ON %s(%s)",
			         x->name, x->table, x->columns);
			rc = sqlite3_exec(ctx->db, sql, NULL, NULL, NULL);
		}
		if (rc != SQLITE_OK)
			return hl_db__error(ctx, rc, "create index");
	}
	return 0;
}

/* Migration 2: the audit chain's columns and the vault's columns (audit.c
 * and vault.c own their tables' shapes). */
static int migrate_v2(hl_ctx *ctx)
{
	int err;

	if ((err = hl_audit__migrate(ctx, ctx->db)) < 0)
		return err;
	return hl_vault__migrate(ctx);
}

/* Migration 3: the API tokens of the daemon (token.c owns the table). */
static int migrate_v3(hl_ctx *ctx)
{
	return hl_token__migrate(ctx);
}

/* Migration 4: the audit chain is keyed (audit.c): every row so far,
 * including those outside the chain, is chained under the audit key, once. */
static int migrate_v4(hl_ctx *ctx)
{
	int err;

	if ((err = hl_audit__migrate(ctx, ctx->db)) < 0)
		return err;
	return hl_audit__key_chain(ctx, ctx->db, ctx->path);
}

/* Migration 5: the allowed roots of the file tools per VM (sftp.c owns the table). */
static int migrate_v5(hl_ctx *ctx)
{
	return hl_sftp__migrate(ctx);
}

/* Migration 6: per-service TLS settings of the health checks (health.c):
 * a CA file to verify against, or verification explicitly off. */
static int migrate_v6(hl_ctx *ctx)
{
	int err;

	if (!hl_db__has_column(ctx, "services", "tls_ca_file") &&
	    (err = hl_db__exec(ctx, "ALTER TABLE services ADD COLUMN tls_ca_file TEXT")) < 0)
		return err;
	if (!hl_db__has_column(ctx, "services", "tls_insecure") &&
	    (err = hl_db__exec(ctx, "ALTER TABLE services ADD COLUMN tls_insecure INTEGER")) < 0)
		return err;
	return 0;
}

/* Bring the schema to HL_SCHEMA_VERSION in one transaction. */
static int migrate(hl_ctx *ctx, int from)
{
	char sql[64];
	int err;

	if ((err = hl_db__begin_write(ctx)) < 0)
		return err;
	if (from < 1 && (err = migrate_v1(ctx)) < 0)
		goto fail;
	if (from < 2 && (err = migrate_v2(ctx)) < 0)
		goto fail;
	if (from < 3 && (err = migrate_v3(ctx)) < 0)
		goto fail;
	if (from < 4 && (err = migrate_v4(ctx)) < 0)
		goto fail;
	if (from < 5 && (err = migrate_v5(ctx)) < 0)
		goto fail;
	if (from < 6 && (err = migrate_v6(ctx)) < 0)
		goto fail;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", HL_SCHEMA_VERSION);
	if ((err = hl_db__exec(ctx, sql)) < 0)
		goto fail;
	return hl_db__commit(ctx);
fail:
	hl_db__rollback(ctx);
	return err;
}

static const char *const seed_tables[] = {
	"proxmox_hosts", "virtual_machines", "services", "credentials", "network_config", "audit_log"
};

/* Read user_version and decide what the file is. */
static int inspect(hl_ctx *ctx, int *version, int *user_tables, int *seed_found)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(ctx->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return hl_db__error(ctx, rc, "read the schema version");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return hl_db__error(ctx, rc, "read the schema version");
	}
	*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);

	rc = sqlite3_prepare_v2(ctx->db, "SELECT count(*) FROM sqlite_master WHERE type='table' "
	                        "AND name NOT LIKE 'sqlite_%'", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return hl_db__error(ctx, rc, "read the schema");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return hl_db__error(ctx, rc, "read the schema");
	}
	*user_tables = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);

	*seed_found = 0;
	for (size_t i = 0; i < sizeof(seed_tables) / sizeof(seed_tables[0]); i++)
		*seed_found += hl_db__has_table(ctx, seed_tables[i]);
	return 0;
}

static int make_parent_dirs(const char *path)
{
	char *dir = hl__strdup(path);
	int err = 0;

	if (!dir)
		return HL_ENOMEM;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			err = hl__err(HL_ERROR, HL_ERROR_OS, "cannot create directory %s: %s", dir, strerror(errno));
			break;
		}
		*p = '/';
	}
	free(dir);
	return err;
}

int hl_default_db_path(hl_buf *out)
{
	const char *env = getenv("HOMELAB_DB_PATH");
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	hl_buf b = HL_BUF_INIT;
	int err;

	if (!out)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_default_db_path: out is NULL");
	if (env && *env)
		err = hl_buf__puts(&b, env);
	else if (xdg && *xdg == '/')
		err = hl_buf__printf(&b, "%s/homelab/homelab.db", xdg);
	else if (home && *home)
		err = hl_buf__printf(&b, "%s/.local/share/homelab/homelab.db", home);
	else
		return hl__err(HL_EINVALID, HL_ERROR_INVALID,
		               "no database path: set HOMELAB_DB_PATH, XDG_DATA_HOME or HOME");
	if (err < 0) {
		hl_buf_dispose(&b);
		return err;
	}
	hl_buf_dispose(out);
	*out = b;
	return 0;
}

int hl_ctx_options_init(hl_ctx_options *opts, unsigned int version)
{
	if (!opts || version != HL_CTX_OPTIONS_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_ctx_options version %u is not supported (want %d)",
		               version, HL_CTX_OPTIONS_VERSION);
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

int hl_schema_version(void)
{
	return HL_SCHEMA_VERSION;
}

/* True when any write permission bit (user, group, other) of path is set. */
static bool file_has_write_bit(const char *path)
{
	struct stat sb;

	return stat(path, &sb) != 0 || (sb.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)) != 0;
}

int hl_db__create_private(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		if (errno == EEXIST)
			return 0;
		return hl__err(HL_ERROR, HL_ERROR_OS, "%s: cannot create the database file: %s", path, strerror(errno));
	}
	close(fd);
	return 0;
}

void hl_db__check_private(hl_ctx *ctx, const char *path)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	hl_buf name = HL_BUF_INIT, msg = HL_BUF_INIT;
	struct stat sb;

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		hl_buf_dispose(&name);
		if (hl_buf__printf(&name, "%s%s", path, suffix[i]) < 0)
			break;
		if (stat(name.ptr, &sb) != 0 || !(sb.st_mode & (S_IRWXG | S_IRWXO)))
			continue;
		if (hl_buf__printf(&msg, "%s%s%s is readable or writable by group or others (mode %03o): it holds the "
		                   "inventory, the audit log, token hashes and encrypted credentials; chmod 600 %s%s",
		                   ctx->warning ? ctx->warning : "", ctx->warning ? "; " : "", name.ptr,
		                   (unsigned)(sb.st_mode & 0777), path, i ? suffix[i] : "*") == 0) {
			free(ctx->warning);
			ctx->warning = hl_buf__detach(&msg);
		}
		break;
	}
	hl_buf_dispose(&name);
	hl_buf_dispose(&msg);
}

int hl_db__open_file(sqlite3 **out, const char *path, int oflags, int busy_ms, bool immutable)
{
	hl_buf uri = HL_BUF_INIT;
	int rc, err = 0;

	*out = NULL;
	if (immutable) {
		/* file: URI with the path percent-encoded where URIs need it */
		if ((err = hl_buf__puts(&uri, "file:")) < 0)
			return err;
		for (const char *p = path; *p && err == 0; p++)
			err = (*p == '?' || *p == '#' || *p == '%') ? hl_buf__printf(&uri, "%%%02X", (unsigned char)*p)
			                                             : hl_buf__put(&uri, p, 1);
		if (err == 0)
			err = hl_buf__puts(&uri, "?immutable=1");
		if (err < 0) {
			hl_buf_dispose(&uri);
			return err;
		}
		oflags |= SQLITE_OPEN_URI;
	}
	rc = sqlite3_open_v2(immutable ? uri.ptr : path, out, oflags, NULL);
	hl_buf_dispose(&uri);
	if (rc != SQLITE_OK) {
		err = hl_db__error_on(*out, path, rc, "open");
		sqlite3_close_v2(*out);
		*out = NULL;
		return err;
	}
	sqlite3_extended_result_codes(*out, 1);
	sqlite3_busy_timeout(*out, busy_ms > 0 ? busy_ms : 5000);
	/* A 100k-VM inventory does not fit SQLite's default 2 MB page cache;
	 * map the file instead of copying pages (reads only; writes still go
	 * through the journal). */
	sqlite3_exec(*out, "PRAGMA cache_size=-16384; PRAGMA mmap_size=268435456", NULL, NULL, NULL);
	rc = sqlite3_create_function(*out, "hl_ipv4_num", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
	                             NULL, sql_ipv4_num, NULL, NULL);
	if (rc != SQLITE_OK) {
		err = hl_db__error_on(*out, path, rc, "register functions");
		sqlite3_close_v2(*out);
		*out = NULL;
		return err;
	}
	return 0;
}

static int connect(hl_ctx *ctx, int oflags, int busy_ms, bool immutable)
{
	return hl_db__open_file(&ctx->db, ctx->path, oflags, busy_ms, immutable);
}

static int open_db(hl_ctx *ctx, unsigned int flags, int busy_ms)
{
	bool memory = strcmp(ctx->path, ":memory:") == 0;
	bool exists = memory || access(ctx->path, F_OK) == 0;
	int oflags = SQLITE_OPEN_NOMUTEX;
	int err, version = 0, tables = 0, seeds = 0;

	if (!exists && (flags & HL_CTX_NO_CREATE))
		return hl__err(HL_ENOTFOUND, HL_ERROR_DB, "%s: no such database", ctx->path);
	if (!exists && (flags & HL_CTX_READONLY))
		return hl__err(HL_ENOTFOUND, HL_ERROR_DB, "%s: no such database (cannot create it read-only)", ctx->path);
	if (!memory && exists) {
		struct stat sb;
		if (stat(ctx->path, &sb) == 0 && S_ISDIR(sb.st_mode))
			return hl__err(HL_EINVALID, HL_ERROR_DB, "%s: is a directory, not a database", ctx->path);
	}
	/* A file without any write permission bit is read-only even for root
	 * (for whom access() always says writable): never migrate it. */
	ctx->readonly = (flags & HL_CTX_READONLY) ||
	                (exists && !memory && (access(ctx->path, W_OK) != 0 || !file_has_write_bit(ctx->path)));
	/* A new database is made 0600 before SQLite opens it: SQLite would make
	 * it 0644 under umask 022, and gives its -wal and -shm the file's mode. */
	if (!exists && ((err = make_parent_dirs(ctx->path)) < 0 || (err = hl_db__create_private(ctx->path)) < 0))
		return err;
	if (exists && !memory)
		hl_db__check_private(ctx, ctx->path);
	oflags |= ctx->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

	if ((err = connect(ctx, oflags, busy_ms, false)) < 0)
		return err;
	err = inspect(ctx, &version, &tables, &seeds);
	if (err == HL_EREADONLY && ctx->readonly) {
		/* A WAL database in a directory we cannot write (a read-only
		 * mount): SQLite cannot create the -shm index there. Read the
		 * file as immutable: correct as long as nobody else writes it
		 * while this context is open, which a read-only mount implies. */
		hl_db__stmt_cache_free(ctx);
		sqlite3_close_v2(ctx->db);
		ctx->db = NULL;
		if ((err = connect(ctx, oflags, busy_ms, true)) < 0)
			return err;
		err = inspect(ctx, &version, &tables, &seeds);
	}
	if (err < 0) {
		if (err == HL_ECORRUPT)
			return hl__err(HL_ECORRUPT, HL_ERROR_DB, "%s: not a homelab database (the file is not SQLite, "
			               "or is damaged)", ctx->path);
		return err;
	}
	/* Another application's database may have a user_version of its own:
	 * judge by the tables first, so it is never taken for (and migrated as)
	 * an inventory. */
	if (tables > 0 && seeds == 0)
		return hl__err(HL_ECORRUPT, HL_ERROR_DB, "%s: a SQLite database, but not a homelab inventory "
		               "(none of its tables is virtual_machines, proxmox_hosts, ...)", ctx->path);
	if (version > HL_SCHEMA_VERSION)
		return hl__err(HL_ECORRUPT, HL_ERROR_DB, "%s: schema version %d is newer than this libhomelab "
		               "understands (%d); upgrade libhomelab", ctx->path, version, HL_SCHEMA_VERSION);

	if (!ctx->readonly) {
		sqlite3_exec(ctx->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
		if ((err = hl_db__exec(ctx, "PRAGMA foreign_keys=ON")) < 0)
			return err;
		if (version < HL_SCHEMA_VERSION && !(flags & HL_CTX_NO_MIGRATE)) {
			if ((err = migrate(ctx, version)) < 0)
				return err;
			version = HL_SCHEMA_VERSION;
		}
	} else if (seeds < 6 && version == 0) {
		/* Serve what there is; missing tables read as empty. */
	}
	ctx->schema_version = version;
	ctx->has_ext_columns = hl_db__has_column(ctx, "virtual_machines", "ssh_user") &&
	                       hl_db__has_column(ctx, "network_config", "ip_num");
	if (version == 0 && tables == 0 && ctx->readonly)
		return hl__err(HL_ECORRUPT, HL_ERROR_DB, "%s: an empty database opened read-only", ctx->path);
	return 0;
}

int hl_ctx_open(hl_ctx **out, const hl_ctx_options *opts)
{
	hl_ctx_options defaults = HL_CTX_OPTIONS_INIT;
	hl_buf path = HL_BUF_INIT;
	hl_ctx *ctx;
	int err;

	if (!out)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_ctx_open: out is NULL");
	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (opts->version != HL_CTX_OPTIONS_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_ctx_options version %u is not supported (want %d)",
		               opts->version, HL_CTX_OPTIONS_VERSION);
	if (opts->db_path && !*opts->db_path)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "database path is empty");
	if (!opts->db_path && (err = hl_default_db_path(&path)) < 0)
		return err;

	ctx = hl__calloc(1, sizeof(*ctx));
	if (!ctx) {
		hl_buf_dispose(&path);
		return HL_ENOMEM;
	}
	ctx->path = opts->db_path ? hl__strdup(opts->db_path) : hl_buf__detach(&path);
	ctx->principal = hl__strdup(opts->principal ? opts->principal : hl__local_user());
	if (!ctx->path || !ctx->principal) {
		hl_ctx_free(ctx);
		return HL_ENOMEM;
	}
	ctx->busy_timeout_ms = opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 5000;
	if ((err = hl_vault__ctx_init(ctx, opts)) < 0 || (err = hl_audit__ctx_init(ctx, opts)) < 0) {
		hl_ctx_free(ctx);
		return err;
	}
	if ((err = open_db(ctx, opts->flags, opts->busy_timeout_ms)) < 0) {
		hl_ctx_free(ctx);
		return err;
	}
	*out = ctx;
	return 0;
}

void hl_ctx_free(hl_ctx *ctx)
{
	if (!ctx)
		return;
	hl_audit__ctx_free(ctx);
	hl_vault__ctx_free(ctx);
	hl_token__ctx_free(ctx);
	hl_tool__ctx_free(ctx);
	hl_db__stmt_cache_free(ctx);
	if (ctx->db)
		sqlite3_close_v2(ctx->db);
	free(ctx->path);
	free(ctx->principal);
	free(ctx->warning);
	free(ctx);
}

const char *hl_ctx_db_path(const hl_ctx *ctx)
{
	return ctx ? ctx->path : NULL;
}

const char *hl_ctx_warning(const hl_ctx *ctx)
{
	return ctx ? ctx->warning : NULL;
}

int hl_ctx_readonly(const hl_ctx *ctx)
{
	return ctx && ctx->readonly;
}

int hl_ctx_schema_version(const hl_ctx *ctx)
{
	return ctx ? ctx->schema_version : 0;
}
