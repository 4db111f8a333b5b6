/*
 * testutil.c: helpers for the cmocka unit tests.
 */
#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

static void cleanup_at_exit(void)
{
	tu_tmpdir_cleanup();
}

const char *tu_tmpdir(void)
{
	if (!*tmpdir) {
		const char *base = getenv("TMPDIR");
		snprintf(tmpdir, sizeof(tmpdir), "%s/hltest.XXXXXX", base && *base ? base : "/tmp");
		if (!mkdtemp(tmpdir))
			fail_msg("mkdtemp failed");
		atexit(cleanup_at_exit);
	}
	return tmpdir;
}

void tu_tmpdir_cleanup(void)
{
	char cmd[600];

	if (!*tmpdir)
		return;
	/* Files the tests made read-only must go too. */
	snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'", tmpdir, tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", tmpdir);
	*tmpdir = '\0';
}

const char *tu_path(const char *name)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, 512, "%s/%s", tu_tmpdir(), name);
	return b;
}

const char *tu_fixture(const char *name)
{
	static char b[512];
	const char *dir = getenv("HOMELAB_FIXTURES");

	if (!dir)
		fail_msg("HOMELAB_FIXTURES is not set (run the tests through ctest)");
	snprintf(b, sizeof(b), "%s/%s", dir, name);
	return b;
}

hl_ctx *tu_open(const char *path)
{
	static int n;
	char name[64];
	hl_ctx_options o = HL_CTX_OPTIONS_INIT;
	hl_ctx *ctx = NULL;
	int rc;

	if (!path) {
		snprintf(name, sizeof(name), "t%d.db", n++);
		path = tu_path(name);
	}
	o.db_path = path;
	rc = hl_ctx_open(&ctx, &o);
	if (rc != 0)
		fail_msg("hl_ctx_open(%s): %d %s", path, rc, hl_error_last()->message);
	return ctx;
}

hl_ctx *tu_open_demo(void)
{
	hl_ctx *ctx = tu_open(NULL);
	int rc = hl_inventory_load_demo(ctx);
	if (rc != 0)
		fail_msg("hl_inventory_load_demo: %d %s", rc, hl_error_last()->message);
	return ctx;
}

void tu_sql(const char *db_path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	if (sqlite3_open(db_path, &db) != SQLITE_OK)
		fail_msg("sqlite3_open(%s): %s", db_path, sqlite3_errmsg(db));
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		char copy[512];
		snprintf(copy, sizeof(copy), "%s", msg ? msg : "?");
		sqlite3_free(msg);
		sqlite3_close(db);
		fail_msg("sql failed: %s", copy);
	}
	sqlite3_close(db);
}

const char *tu_sql_text(const char *db_path, const char *sql)
{
	static char out[4096];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	const char *res = NULL;

	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		fail_msg("sqlite3_open(%s): %s", db_path, sqlite3_errmsg(db));
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		snprintf(out, sizeof(out), "%s", (const char *)sqlite3_column_text(st, 0));
		res = out;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return res;
}

void tu_assert_error_(int rc, int code, const char *needle, const char *file, int line)
{
	const hl_error *e = hl_error_last();

	if (rc != code) {
		print_error("ERROR: expected %s (%d), got %s (%d): %s\n", hl_error_name(code), code,
		            hl_error_name(rc) ? hl_error_name(rc) : "?", rc, e->message);
		_fail(file, line);
	}
	if (needle && !strstr(e->message, needle)) {
		print_error("ERROR: error message '%s' does not contain '%s'\n", e->message, needle);
		_fail(file, line);
	}
}

int tu_call(hl_buf *out, hl_ctx *ctx, const char *tool, const char *args)
{
	const hl_tool *t = hl_tool_lookup(tool);

	if (!t)
		fail_msg("no tool %s", tool);
	return hl_tool_call(out, ctx, t, args, NULL);
}
