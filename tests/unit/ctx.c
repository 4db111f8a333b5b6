/*
 * ctx.c: opening the inventory (hl_ctx_*), the default database path, and
 * the files that must be refused (not SQLite, another application's
 * database, a newer schema, a directory, an empty path).
 */
#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Environment variables the default path reads; saved and restored. */
static const char *const env_names[] = { "HOMELAB_DB_PATH", "XDG_DATA_HOME", "HOME" };
static char *env_saved[3];

static int save_env(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		const char *v = getenv(env_names[i]);
		env_saved[i] = v ? strdup(v) : NULL;
	}
	return 0;
}

static int restore_env(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		if (env_saved[i])
			setenv(env_names[i], env_saved[i], 1);
		else
			unsetenv(env_names[i]);
		free(env_saved[i]);
		env_saved[i] = NULL;
	}
	return 0;
}

static int open_path(hl_ctx **ctx, const char *path, unsigned int flags)
{
	hl_ctx_options o = HL_CTX_OPTIONS_INIT;

	o.db_path = path;
	o.flags = flags;
	return hl_ctx_open(ctx, &o);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void test_ctx__options_init(void **state)
{
	hl_ctx_options o;

	(void)state;
	memset(&o, 0xab, sizeof(o));
	assert_int_equal(hl_ctx_options_init(&o, HL_CTX_OPTIONS_VERSION), 0);
	assert_int_equal(o.version, HL_CTX_OPTIONS_VERSION);
	assert_null(o.db_path);
	assert_int_equal(o.flags, 0);
	assert_int_equal(o.busy_timeout_ms, 0);
	assert_null(o.principal);
	tu_assert_error(hl_ctx_options_init(&o, 99), HL_EINVALID, "version 99 is not supported");
	tu_assert_error(hl_ctx_options_init(NULL, HL_CTX_OPTIONS_VERSION), HL_EINVALID, "not supported");
}

static void test_ctx__options_version_mismatch(void **state)
{
	hl_ctx_options o = HL_CTX_OPTIONS_INIT;
	hl_ctx *ctx = (hl_ctx *)&o; /* must be reset to NULL */

	(void)state;
	o.version = 2;
	o.db_path = tu_path("vers.db");
	tu_assert_error(hl_ctx_open(&ctx, &o), HL_EINVALID, "hl_ctx_options version 2 is not supported");
	assert_null(ctx);
	assert_false(exists(tu_path("vers.db")));
	o.version = 0;
	tu_assert_error(hl_ctx_open(&ctx, &o), HL_EINVALID, "version 0");
	tu_assert_error(hl_ctx_open(NULL, NULL), HL_EINVALID, "out is NULL");
}

static void test_ctx__fresh_database(void **state)
{
	const char *path = tu_path("fresh/sub/dir/inv.db");
	hl_ctx *ctx = NULL;
	char want[32];

	(void)state;
	assert_int_equal(open_path(&ctx, path, 0), 0);
	assert_string_equal(hl_ctx_db_path(ctx), path);
	assert_int_equal(hl_ctx_readonly(ctx), 0);
	assert_int_equal(hl_ctx_schema_version(ctx), hl_schema_version());
	assert_true(hl_schema_version() >= 1);
	hl_ctx_free(ctx);
	/* Parent directories were created; the file is a WAL database with the seed tables. */
	assert_true(exists(path));
	snprintf(want, sizeof(want), "%d", hl_schema_version());
	assert_string_equal(tu_sql_text(path, "PRAGMA user_version"), want);
	assert_string_equal(tu_sql_text(path, "PRAGMA journal_mode"), "wal");
	assert_string_equal(tu_sql_text(path, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
	                                      "('proxmox_hosts','virtual_machines','services','credentials',"
	                                      "'network_config','audit_log')"), "6");
	/* Reopening does not migrate again or change the version. */
	assert_int_equal(open_path(&ctx, path, HL_CTX_NO_CREATE), 0);
	assert_int_equal(hl_ctx_schema_version(ctx), hl_schema_version());
	hl_ctx_free(ctx);
}

static void test_ctx__memory(void **state)
{
	hl_ctx *ctx = NULL;
	hl_host_spec hs = HL_HOST_SPEC_INIT;
	hl_host_array *hosts = NULL;

	(void)state;
	assert_int_equal(open_path(&ctx, ":memory:", 0), 0);
	assert_string_equal(hl_ctx_db_path(ctx), ":memory:");
	assert_int_equal(hl_ctx_schema_version(ctx), hl_schema_version());
	hs.name = "pve";
	assert_int_equal(hl_host_add(NULL, ctx, &hs), 0);
	assert_int_equal(hl_host_list(&hosts, ctx), 0);
	assert_int_equal(hosts->count, 1);
	assert_string_equal(hosts->items[0]->name, "pve");
	hl_host_array_free(hosts);
	hl_ctx_free(ctx);
	assert_false(exists(":memory:"));
}

static void test_ctx__free_and_getters_accept_null(void **state)
{
	(void)state;
	hl_ctx_free(NULL);
	assert_null(hl_ctx_db_path(NULL));
	assert_int_equal(hl_ctx_readonly(NULL), 0);
	assert_int_equal(hl_ctx_schema_version(NULL), 0);
}

static void test_ctx__default_path_from_env(void **state)
{
	hl_buf b = HL_BUF_INIT;
	hl_ctx *ctx = NULL;
	char want[512];

	(void)state;
	/* 1. HOMELAB_DB_PATH wins over everything. */
	setenv("HOMELAB_DB_PATH", tu_path("env/by-env.db"), 1);
	setenv("XDG_DATA_HOME", tu_path("xdg"), 1);
	setenv("HOME", tu_path("home"), 1);
	assert_int_equal(hl_default_db_path(&b), 0);
	assert_string_equal(b.ptr, tu_path("env/by-env.db"));
	assert_int_equal(b.size, strlen(b.ptr));
	assert_int_equal(hl_ctx_open(&ctx, NULL), 0);
	assert_string_equal(hl_ctx_db_path(ctx), tu_path("env/by-env.db"));
	hl_ctx_free(ctx);
	assert_true(exists(tu_path("env/by-env.db")));

	/* 2. Empty HOMELAB_DB_PATH: $XDG_DATA_HOME/homelab/homelab.db, parents created. */
	setenv("HOMELAB_DB_PATH", "", 1);
	assert_int_equal(hl_default_db_path(&b), 0); /* replaces the old contents */
	snprintf(want, sizeof(want), "%s/homelab/homelab.db", tu_path("xdg"));
	assert_string_equal(b.ptr, want);
	assert_false(exists(tu_path("xdg")));
	assert_int_equal(hl_ctx_open(&ctx, NULL), 0);
	assert_string_equal(hl_ctx_db_path(ctx), want);
	hl_ctx_free(ctx);
	assert_true(exists(want));

	/* 3. A relative XDG_DATA_HOME is invalid per the XDG spec: $HOME is used. */
	setenv("XDG_DATA_HOME", "relative/data", 1);
	assert_int_equal(hl_default_db_path(&b), 0);
	snprintf(want, sizeof(want), "%s/.local/share/homelab/homelab.db", tu_path("home"));
	assert_string_equal(b.ptr, want);
	unsetenv("XDG_DATA_HOME");
	assert_int_equal(hl_default_db_path(&b), 0);
	assert_string_equal(b.ptr, want);
	assert_int_equal(hl_ctx_open(&ctx, NULL), 0);
	hl_ctx_free(ctx);
	assert_true(exists(want));

	/* 4. Nothing set. */
	unsetenv("HOME");
	unsetenv("HOMELAB_DB_PATH");
	tu_assert_error(hl_default_db_path(&b), HL_EINVALID, "set HOMELAB_DB_PATH, XDG_DATA_HOME or HOME");
	assert_string_equal(b.ptr, want); /* untouched on error */
	tu_assert_error(hl_ctx_open(&ctx, NULL), HL_EINVALID, "no database path");
	assert_null(ctx);
	hl_buf_dispose(&b);
	tu_assert_error(hl_default_db_path(NULL), HL_EINVALID, "out is NULL");
}

static void test_ctx__no_create(void **state)
{
	hl_ctx *ctx = NULL;
	const char *path = tu_path("nocreate/missing.db");

	(void)state;
	tu_assert_error(open_path(&ctx, path, HL_CTX_NO_CREATE), HL_ENOTFOUND, "missing.db: no such database");
	assert_null(ctx);
	assert_false(exists(path));
	assert_false(exists(tu_path("nocreate")));
	tu_assert_error(open_path(&ctx, path, HL_CTX_READONLY), HL_ENOTFOUND, "cannot create it read-only");
	assert_false(exists(path));
}

static void test_ctx__garbage_file(void **state)
{
	unsigned char junk[4096];
	const char *path = tu_path("garbage.db");
	size_t n = 0;
	char *after;
	hl_ctx *ctx = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 7 + 13);
	write_bytes(path, junk, sizeof(junk));
	tu_assert_error(open_path(&ctx, path, 0), HL_ECORRUPT, "not a homelab database (the file is not SQLite");
	assert_non_null(strstr(hl_error_last()->message, path));
	assert_null(ctx);
	tu_assert_error(open_path(&ctx, path, HL_CTX_READONLY), HL_ECORRUPT, "the file is not SQLite");
	/* The file was not touched. */
	after = tu_read_file(path, &n);
	assert_non_null(after);
	assert_int_equal(n, sizeof(junk));
	assert_memory_equal(after, junk, sizeof(junk));
	free(after);
	assert_false(exists(tu_path("garbage.db-wal")));

	/* A short text file is no database either. */
	write_bytes(tu_path("notes.db"), "hello, world\n", 13);
	tu_assert_error(open_path(&ctx, tu_path("notes.db"), 0), HL_ECORRUPT, "not a homelab database");
}

static void test_ctx__other_application(void **state)
{
	const char *path = tu_path("other.db");
	const char *path2 = tu_path("other2.db");
	hl_ctx *ctx = NULL;

	(void)state;
	tu_sql(path, "CREATE TABLE songs (id INTEGER PRIMARY KEY, title TEXT); INSERT INTO songs VALUES (1, 'x');");
	tu_assert_error(open_path(&ctx, path, 0), HL_ECORRUPT, "a SQLite database, but not a homelab inventory");
	assert_null(ctx);
	/* Nothing was added to it. */
	assert_string_equal(tu_sql_text(path, "SELECT count(*) FROM sqlite_master"), "1");
	assert_string_equal(tu_sql_text(path, "PRAGMA user_version"), "0");
	assert_string_equal(tu_sql_text(path, "PRAGMA journal_mode"), "delete");
	tu_assert_error(open_path(&ctx, path, HL_CTX_READONLY), HL_ECORRUPT, "not a homelab inventory");

	/* Another application that uses user_version too is still not ours. */
	tu_sql(path2, "CREATE TABLE songs (id INTEGER PRIMARY KEY); PRAGMA user_version = 1;");
	tu_assert_error(open_path(&ctx, path2, 0), HL_ECORRUPT, "not a homelab inventory");
	tu_sql(path2, "PRAGMA user_version = 42;");
	tu_assert_error(open_path(&ctx, path2, 0), HL_ECORRUPT, "not a homelab inventory");
	assert_string_equal(tu_sql_text(path2, "SELECT count(*) FROM sqlite_master"), "1");
}

static void test_ctx__newer_schema_refused(void **state)
{
	const char *path = tu_path("newer.db");
	hl_ctx *ctx = tu_open(path);
	char sql[64], want[128];

	(void)state;
	hl_ctx_free(ctx);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", hl_schema_version() + 1);
	tu_sql(path, sql);
	ctx = NULL;
	snprintf(want, sizeof(want), "schema version %d is newer than this libhomelab understands (%d)",
	         hl_schema_version() + 1, hl_schema_version());
	tu_assert_error(open_path(&ctx, path, 0), HL_ECORRUPT, want);
	assert_null(ctx);
	tu_assert_error(open_path(&ctx, path, HL_CTX_READONLY), HL_ECORRUPT, "upgrade libhomelab");
	/* Not downgraded. */
	snprintf(sql, sizeof(sql), "%d", hl_schema_version() + 1);
	assert_string_equal(tu_sql_text(path, "PRAGMA user_version"), sql);
}

static void test_ctx__directory_and_empty_path(void **state)
{
	hl_ctx *ctx = NULL;

	(void)state;
	assert_int_equal(mkdir(tu_path("adir"), 0700), 0);
	tu_assert_error(open_path(&ctx, tu_path("adir"), 0), HL_EINVALID, "is a directory, not a database");
	tu_assert_error(open_path(&ctx, tu_path("adir"), HL_CTX_READONLY), HL_EINVALID, "is a directory");
	assert_null(ctx);
	tu_assert_error(open_path(&ctx, "", 0), HL_EINVALID, "database path is empty");
	assert_null(ctx);
}

static void test_ctx__parent_is_a_file(void **state)
{
	hl_ctx *ctx = NULL;

	(void)state;
	write_bytes(tu_path("plainfile"), "x", 1);
	tu_assert_error(open_path(&ctx, tu_path("plainfile/sub/inv.db"), 0), HL_ERROR, "cannot create directory");
	assert_null(ctx);
}

static void test_ctx__empty_file(void **state)
{
	const char *path = tu_path("empty.db");
	hl_ctx *ctx = NULL;

	(void)state;
	write_bytes(path, "", 0);
	tu_assert_error(open_path(&ctx, path, HL_CTX_READONLY), HL_ECORRUPT, "an empty database opened read-only");
	assert_null(ctx);
	/* Writable: an empty file is a new database. */
	assert_int_equal(open_path(&ctx, path, 0), 0);
	assert_int_equal(hl_ctx_schema_version(ctx), hl_schema_version());
	hl_ctx_free(ctx);
}

static unsigned mode_of(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) != 0)
		fail_msg("stat %s failed", path);
	return (unsigned)(sb.st_mode & 0777);
}

/* Under umask 022 SQLite alone makes 0644 files: the inventory, its -wal and
 * -shm, the audit database and its files are 0600, a new directory 0700. */
static void test_ctx__files_are_private(void **state)
{
	hl_ctx_options o = HL_CTX_OPTIONS_INIT;
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;
	mode_t old = umask(022);
	char dir[600], db[700], audit[700], name[800];
	hl_ctx *ctx = NULL;

	(void)state;
	snprintf(dir, sizeof(dir), "%s", tu_path("private"));
	snprintf(db, sizeof(db), "%s/sub/homelab.db", dir);
	snprintf(audit, sizeof(audit), "%s/audit.db", tu_tmpdir());
	o.db_path = db;
	o.audit_db_path = audit;
	assert_int_equal(hl_ctx_open(&ctx, &o), 0);
	assert_null(hl_ctx_warning(ctx));
	assert_int_equal(hl_inventory_load_demo(ctx), 0);
	ev.action = "ssh_command";
	assert_int_equal(hl_audit_record(ctx, &ev), 0);
	/* the files while the context has them open (WAL mode: -wal and -shm exist) */
	assert_int_equal(mode_of(dir), 0700);
	snprintf(name, sizeof(name), "%s/sub", dir);
	assert_int_equal(mode_of(name), 0700);
	assert_int_equal(mode_of(db), 0600);
	snprintf(name, sizeof(name), "%s-wal", db);
	assert_int_equal(mode_of(name), 0600);
	snprintf(name, sizeof(name), "%s-shm", db);
	assert_int_equal(mode_of(name), 0600);
	assert_int_equal(mode_of(audit), 0600);
	snprintf(name, sizeof(name), "%s-wal", audit);
	assert_int_equal(mode_of(name), 0600);
	snprintf(name, sizeof(name), "%s-shm", audit);
	assert_int_equal(mode_of(name), 0600);
	snprintf(name, sizeof(name), "%s.audit-key", audit);
	assert_int_equal(mode_of(name), 0600);
	hl_ctx_free(ctx);

	/* an existing database others may read is opened, with a warning */
	chmod(db, 0644);
	assert_int_equal(hl_ctx_open(&ctx, &o), 0);
	assert_non_null(hl_ctx_warning(ctx));
	assert_non_null(strstr(hl_ctx_warning(ctx), "homelab.db is readable or writable by group or others (mode 644)"));
	assert_non_null(strstr(hl_ctx_warning(ctx), "chmod 600 "));
	hl_ctx_free(ctx);
	chmod(db, 0600);
	chmod(audit, 0640);
	assert_int_equal(hl_ctx_open(&ctx, &o), 0);
	assert_non_null(strstr(hl_ctx_warning(ctx), "audit.db is readable or writable by group or others (mode 640)"));
	hl_ctx_free(ctx);
	chmod(audit, 0600);
	assert_int_equal(hl_ctx_open(&ctx, &o), 0);
	assert_null(hl_ctx_warning(ctx));
	hl_ctx_free(ctx);
	umask(old);
}

static void test_ctx__readonly_flag(void **state)
{
	const char *path = tu_path("roflag.db");
	hl_ctx *ctx = tu_open(path);
	hl_host_spec hs = HL_HOST_SPEC_INIT;
	hl_host *h = (hl_host *)&hs;

	(void)state;
	hl_ctx_free(ctx);
	assert_int_equal(open_path(&ctx, path, HL_CTX_READONLY), 0);
	assert_int_equal(hl_ctx_readonly(ctx), 1);
	assert_int_equal(hl_ctx_schema_version(ctx), hl_schema_version());
	hs.name = "pve";
	tu_assert_error(hl_host_add(&h, ctx, &hs), HL_EREADONLY, "cannot add a host: the database is open read-only");
	assert_null(h);
	tu_assert_error(hl_inventory_load_demo(ctx), HL_EREADONLY, "read-only");
	hl_ctx_free(ctx);
	assert_string_equal(tu_sql_text(path, "SELECT count(*) FROM proxmox_hosts"), "0");
}

static void test_ctx__busy_writer(void **state)
{
	const char *path = tu_path("busy.db");
	hl_ctx_options o = HL_CTX_OPTIONS_INIT;
	hl_ctx *ctx = tu_open(path);
	hl_host_spec hs = HL_HOST_SPEC_INIT;
	sqlite3 *db = NULL;

	(void)state;
	hl_ctx_free(ctx);
	o.db_path = path;
	o.busy_timeout_ms = 100;
	assert_int_equal(hl_ctx_open(&ctx, &o), 0);
	/* Another connection holds the write lock. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	hs.name = "pve";
	tu_assert_error(hl_host_add(NULL, ctx, &hs), HL_EBUSY, "locked by another writer");
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	/* Once the lock is gone the same context writes. */
	assert_int_equal(hl_host_add(NULL, ctx, &hs), 0);
	hl_ctx_free(ctx);
	assert_string_equal(tu_sql_text(path, "SELECT node_name FROM proxmox_hosts"), "pve");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctx__options_init),
		cmocka_unit_test(test_ctx__options_version_mismatch),
		cmocka_unit_test(test_ctx__fresh_database),
		cmocka_unit_test(test_ctx__memory),
		cmocka_unit_test(test_ctx__free_and_getters_accept_null),
		cmocka_unit_test_setup_teardown(test_ctx__default_path_from_env, save_env, restore_env),
		cmocka_unit_test(test_ctx__no_create),
		cmocka_unit_test(test_ctx__garbage_file),
		cmocka_unit_test(test_ctx__other_application),
		cmocka_unit_test(test_ctx__newer_schema_refused),
		cmocka_unit_test(test_ctx__directory_and_empty_path),
		cmocka_unit_test(test_ctx__parent_is_a_file),
		cmocka_unit_test(test_ctx__empty_file),
		cmocka_unit_test(test_ctx__files_are_private),
		cmocka_unit_test(test_ctx__readonly_flag),
		cmocka_unit_test(test_ctx__busy_writer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
