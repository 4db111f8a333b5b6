/*
 * audit.c: the hash-chained audit log: recording, listing, verifying, and
 * the tampering verify must catch (an edited, deleted or reordered row, a
 * cut end, a row slipped in), legacy rows chained by the migration, and a
 * process killed with SIGKILL while it reads secrets.
 */
#include "testutil.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"

/* A copy of a path that lives until exit (tu_path's buffers rotate). */
static const char *keep_path(const char *p)
{
	static char paths[64][512];
	static int next;
	char *b = paths[next++ % 64];

	snprintf(b, 512, "%s", p);
	return b;
}

static int ndb;

static hl_ctx *open_at(const char **path, const char *key)
{
	hl_ctx_options o = HL_CTX_OPTIONS_INIT;
	hl_ctx *ctx = NULL;
	char name[32];

	if (!*path) {
		snprintf(name, sizeof(name), "a%d.db", ndb++);
		*path = keep_path(tu_path(name));
	}
	o.db_path = *path;
	o.db_key = key;
	o.principal = "tester";
	if (hl_ctx_open(&ctx, &o) != 0)
		fail_msg("hl_ctx_open(%s): %s", *path, hl_error_last()->message);
	return ctx;
}

static void record(hl_ctx *ctx, const char *action, const char *target, const char *details)
{
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;

	ev.action = action;
	ev.target_type = target ? "vm" : NULL;
	ev.target_id = target;
	ev.details = details;
	if (hl_audit_record(ctx, &ev) != 0)
		fail_msg("hl_audit_record: %s", hl_error_last()->message);
}

/* A log of n rows, "ssh_command" with details "cmd <i>". */
static const char *log_of(int n)
{
	const char *db = NULL;
	hl_ctx *ctx = open_at(&db, NULL);
	char d[32];

	for (int i = 1; i <= n; i++) {
		snprintf(d, sizeof(d), "cmd %d", i);
		record(ctx, "ssh_command", "101", d);
	}
	hl_ctx_free(ctx);
	return db;
}

/* Verify, expecting a problem at seq `seq` whose text contains needle. */
static void expect_bad(const char *db, int64_t seq, const char *needle)
{
	hl_ctx *ctx = open_at(&db, NULL);
	hl_audit_report *r = NULL;

	tu_assert_error(hl_audit_verify(&r, ctx), HL_EINTEGRITY, needle);
	assert_non_null(r);
	assert_int_equal(r->intact, 0);
	assert_int_equal(r->bad_seq, seq);
	assert_non_null(strstr(r->problem, needle));
	hl_audit_report_free(r);
	hl_ctx_free(ctx);
}

static void expect_intact(const char *db, int64_t rows)
{
	hl_ctx *ctx = open_at(&db, NULL);
	hl_audit_report *r = NULL;

	if (hl_audit_verify(&r, ctx) != 0)
		fail_msg("verify: %s", hl_error_last()->message);
	assert_int_equal(r->intact, 1);
	assert_int_equal(r->rows, rows);
	assert_int_equal(r->head_seq, rows);
	assert_null(r->problem);
	if (rows)
		assert_int_equal(strlen(r->head_hash), 64);
	hl_audit_report_free(r);
	hl_ctx_free(ctx);
}

/* ------------------------------------------------------------- basics --- */

static void test_audit__record_and_list(void **state)
{
	const char *db = NULL;
	hl_ctx *ctx = open_at(&db, NULL);
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;
	hl_audit_filter f = HL_AUDIT_FILTER_INIT;
	hl_audit_array *list = NULL;

	(void)state;
	ev.action = "auth_refused";
	ev.result = "refused";
	ev.principal = "token:unknown";
	ev.client_addr = "127.0.0.5";
	ev.details = "bad bearer token";
	assert_int_equal(hl_audit_record(ctx, &ev), 0);
	record(ctx, "ssh_command", "101", "nvidia-smi");
	record(ctx, "file_write", "101", "/home/ccpm/x");

	assert_int_equal(hl_audit_list(&list, ctx, NULL), 0);
	assert_int_equal(list->count, 3);
	assert_string_equal(list->items[0]->action, "file_write"); /* newest first */
	assert_int_equal(list->items[0]->seq, 3);
	assert_string_equal(list->items[0]->principal, "tester");  /* the context's */
	assert_string_equal(list->items[0]->client_addr, "local");
	assert_string_equal(list->items[0]->result, "ok");
	assert_int_equal(strlen(list->items[0]->hash), 64);
	assert_int_equal(strlen(list->items[0]->timestamp), 23);   /* YYYY-MM-DD HH:MM:SS.mmm */
	assert_string_equal(list->items[2]->principal, "token:unknown");
	assert_string_equal(list->items[2]->client_addr, "127.0.0.5");
	assert_string_equal(list->items[2]->result, "refused");
	assert_null(list->items[2]->target_type);
	hl_audit_array_free(list);

	f.action = "ssh_command";
	assert_int_equal(hl_audit_list(&list, ctx, &f), 0);
	assert_int_equal(list->count, 1);
	assert_string_equal(list->items[0]->details, "nvidia-smi");
	hl_audit_array_free(list);
	f.action = NULL;
	f.limit = 2;
	assert_int_equal(hl_audit_list(&list, ctx, &f), 0);
	assert_int_equal(list->count, 2);
	hl_audit_array_free(list);
	f.limit = 0;
	f.since = "1h";
	assert_int_equal(hl_audit_list(&list, ctx, &f), 0);
	assert_int_equal(list->count, 3);
	hl_audit_array_free(list);
	f.since = "2999-01-01";
	assert_int_equal(hl_audit_list(&list, ctx, &f), 0);
	assert_int_equal(list->count, 0);
	hl_audit_array_free(list);
	f.since = "2000-01-01T10:00";
	assert_int_equal(hl_audit_list(&list, ctx, &f), 0);
	assert_int_equal(list->count, 3);
	hl_audit_array_free(list);
	f.since = "yesterday";
	tu_assert_error(hl_audit_list(&list, ctx, &f), HL_EINVALID, "since: 'yesterday' is not a time");

	ev = (hl_audit_event)HL_AUDIT_EVENT_INIT;
	tu_assert_error(hl_audit_record(ctx, &ev), HL_EINVALID, "audit action '(null)'");
	ev.action = "Bad Action";
	tu_assert_error(hl_audit_record(ctx, &ev), HL_EINVALID, "must be 1-64 of [a-z0-9_.:-]");
	hl_ctx_free(ctx);
	expect_intact(db, 3);
}

static void test_audit__long_details_are_cut(void **state)
{
	const char *db = NULL;
	hl_ctx *ctx = open_at(&db, NULL);
	char *big = malloc(10000);
	hl_audit_array *list = NULL;

	(void)state;
	memset(big, 'x', 9999);
	big[9999] = '\0';
	record(ctx, "ssh_command", "101", big);
	assert_int_equal(hl_audit_list(&list, ctx, NULL), 0);
	assert_int_equal(strlen(list->items[0]->details), HL_AUDIT_DETAILS_MAX + strlen(" [truncated]"));
	hl_audit_array_free(list);
	free(big);
	hl_ctx_free(ctx);
	expect_intact(db, 1);
}

static void test_audit__canonical_encoding(void **state)
{
	unsigned char a[32], b[32], zero[32] = { 0 };
	const char *f1[HL_AUDIT_NFIELDS] = { "t", "ab", "c", NULL, NULL, NULL, NULL, NULL };
	const char *f2[HL_AUDIT_NFIELDS] = { "t", "a", "bc", NULL, NULL, NULL, NULL, NULL };
	const char *f3[HL_AUDIT_NFIELDS] = { "t", "ab", "c", "", NULL, NULL, NULL, NULL };
	size_t n1[HL_AUDIT_NFIELDS] = { 1, 2, 1 }, n2[HL_AUDIT_NFIELDS] = { 1, 1, 2 }, n3[HL_AUDIT_NFIELDS] = { 1, 2, 1, 0 };

	(void)state;
	assert_int_equal(sodium_init() >= 0, 1);
	hl_audit__hash(a, 1, zero, f1, n1);
	hl_audit__hash(b, 1, zero, f2, n2);
	assert_memory_not_equal(a, b, 32);  /* field boundaries count */
	hl_audit__hash(b, 1, zero, f3, n3);
	assert_memory_not_equal(a, b, 32);  /* NULL is not "" */
	hl_audit__hash(b, 2, zero, f1, n1);
	assert_memory_not_equal(a, b, 32);  /* the position counts */
	hl_audit__hash(b, 1, zero, f1, n1);
	assert_memory_equal(a, b, 32);      /* deterministic */
}

/* ----------------------------------------------------------- tampering --- */

static void test_audit__verify_intact(void **state)
{
	(void)state;
	expect_intact(log_of(0), 0);
	expect_intact(log_of(25), 25);
}

static void test_audit__edited_row(void **state)
{
	const char *db = log_of(10);

	(void)state;
	tu_sql(db, "UPDATE audit_log SET details = 'rm -rf /' WHERE seq = 4");
	expect_bad(db, 4, "audit row 4 (id 4, ");
	expect_bad(db, 4, "ssh_command) was altered: its contents do not match its hash");
	/* so is a changed principal, or a changed time */
	db = log_of(10);
	tu_sql(db, "UPDATE audit_log SET user = 'someone-else' WHERE seq = 7");
	expect_bad(db, 7, "audit row 7 (id 7");
	db = log_of(10);
	tu_sql(db, "UPDATE audit_log SET timestamp = '2020-01-01 00:00:00' WHERE seq = 1");
	expect_bad(db, 1, "was altered");
	/* an edit that also recomputes nothing but the hash column is still caught */
	db = log_of(10);
	tu_sql(db, "UPDATE audit_log SET hash = '00' || substr(hash, 3) WHERE seq = 5");
	expect_bad(db, 5, "audit row 5");
}

static void test_audit__deleted_row(void **state)
{
	const char *db = log_of(10);

	(void)state;
	tu_sql(db, "DELETE FROM audit_log WHERE seq = 6");
	expect_bad(db, 6, "audit row 6 is missing (deleted): the chain goes from row 5 to row 7 (id 7)");
	db = log_of(10);
	tu_sql(db, "DELETE FROM audit_log WHERE seq IN (3, 4)");
	expect_bad(db, 3, "audit rows 3.. are missing");
	db = log_of(10);
	tu_sql(db, "DELETE FROM audit_log WHERE seq = 1");
	expect_bad(db, 1, "audit row 1 is missing");
}

static void test_audit__truncated_end(void **state)
{
	const char *db = log_of(10);

	(void)state;
	tu_sql(db, "DELETE FROM audit_log WHERE seq >= 9");
	expect_bad(db, 9, "audit rows 9..10 are missing at the end (the log was truncated)");
	db = log_of(10);
	tu_sql(db, "DELETE FROM audit_head");
	expect_bad(db, 10, "head record (table audit_head) is missing");
}

static void test_audit__reordered_rows(void **state)
{
	const char *db = log_of(10);

	(void)state;
	/* swap the positions of rows 4 and 5 */
	tu_sql(db, "UPDATE audit_log SET seq = -4 WHERE seq = 4; UPDATE audit_log SET seq = 4 WHERE seq = 5;"
	           "UPDATE audit_log SET seq = 5 WHERE seq = -4");
	expect_bad(db, 4, "audit row 4 (id 5, ");
	expect_bad(db, 4, "does not follow row 3: its link to the previous row differs (rows were reordered");
	/* swap where the rows are stored (their ids), keeping everything else */
	db = log_of(10);
	tu_sql(db, "UPDATE audit_log SET id = -6 WHERE id = 6; UPDATE audit_log SET id = 6 WHERE id = 7;"
	           "UPDATE audit_log SET id = 7 WHERE id = -6");
	expect_bad(db, 7, "audit row 7 (id 6, ");
	expect_bad(db, 7, "is out of order: it is stored before row 6 (id 7); rows were reordered");
}

static void test_audit__row_slipped_in(void **state)
{
	const char *db = log_of(5);
	hl_ctx *ctx;

	(void)state;
	/* a row written the way the Python server writes them */
	tu_sql(db, "INSERT INTO audit_log (action, target_type, target_id, user, details, ip_address) "
	           "VALUES ('get_credentials', 'vm', '101', 'mcp-agent', NULL, 'docker')");
	expect_bad(db, 0, "audit row id 6 is not in the hash chain (inserted by another program or by hand)");
	/* the next write of this library chains it, in insertion order */
	ctx = open_at(&db, NULL);
	record(ctx, "ssh_command", "101", "after");
	hl_ctx_free(ctx);
	expect_intact(db, 7);
	assert_string_equal(tu_sql_text(db, "SELECT seq FROM audit_log WHERE user = 'mcp-agent'"), "6");
}

/* The Python server's database: its audit rows are chained by migration 2,
 * their seed columns untouched. */
static void test_audit__legacy_rows_chained_by_migration(void **state)
{
	const char *db = NULL;
	char before[2048];
	hl_ctx *ctx;
	FILE *f;
	char *sql;
	long n;

	(void)state;
	db = keep_path(tu_path("legacy.db"));
	f = fopen(tu_fixture("legacy-seed.sql"), "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	sql = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(sql, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	tu_sql(db, sql);
	free(sql);
	snprintf(before, sizeof(before), "%s", tu_sql_text(db, "SELECT group_concat(action || user || details || "
	                                                   "timestamp, '|') FROM audit_log"));
	ctx = open_at(&db, NULL);
	assert_int_equal(hl_ctx_schema_version(ctx), hl_schema_version());
	hl_ctx_free(ctx);
	assert_string_equal(tu_sql_text(db, "SELECT group_concat(action || user || details || timestamp, '|') "
	                                "FROM audit_log"), before);
	expect_intact(db, 2);
	tu_sql(db, "UPDATE audit_log SET details = 'edited' WHERE action = 'ssh_command'");
	expect_bad(db, 2, "was altered");
}

static void test_audit__tools(void **state)
{
	const char *db = log_of(3);
	hl_ctx *ctx = open_at(&db, NULL);
	hl_buf out = HL_BUF_INIT;

	(void)state;
	assert_string_equal(hl_tool_scope(hl_tool_lookup("homelab_audit_list")), "audit:read");
	assert_int_equal(tu_call(&out, ctx, "homelab_audit_list", "{\"limit\":2,\"action\":\"ssh_command\"}"), 0);
	assert_non_null(strstr(out.ptr, "\"count\":2"));
	assert_non_null(strstr(out.ptr, "\"details\":\"cmd 3\""));
	hl_buf_dispose(&out);
	assert_int_equal(tu_call(&out, ctx, "homelab_audit_verify", NULL), 0);
	assert_non_null(strstr(out.ptr, "\"intact\":true"));
	assert_non_null(strstr(out.ptr, "\"rows\":3"));
	hl_buf_dispose(&out);
	tu_sql(db, "UPDATE audit_log SET details = 'x' WHERE seq = 2");
	assert_int_equal(tu_call(&out, ctx, "homelab_audit_verify", NULL), 0);
	assert_non_null(strstr(out.ptr, "\"intact\":false"));
	assert_non_null(strstr(out.ptr, "\"bad_seq\":2"));
	assert_non_null(strstr(out.ptr, "audit row 2 (id 2"));
	hl_buf_dispose(&out);
	tu_assert_error(tu_call(&out, ctx, "homelab_audit_list", "{\"since\":\"later\"}"), HL_EINVALID, "not a time");
	hl_ctx_free(ctx);
}

/* ---------------------------------------------------- crash and timing --- */

/* A child reads secrets in a loop and prints each one it got; it is killed
 * with SIGKILL. Every secret printed must have its committed audit row, and
 * the chain must verify. */
static void test_audit__sigkill_during_audited_reads(void **state)
{
	static const char *const targets[] = { "vm:whisper", "vm:harbor", "host:pve" };
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE], buf[65536];
	size_t got = 0;
	int fds[2], status, printed[3] = { 0 };
	hl_ctx *ctx;
	pid_t pid;

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	ctx = open_at(&db, key);
	assert_int_equal(hl_inventory_load_demo(ctx), 0);
	for (int i = 0; i < 3; i++) {
		hl_credential_spec s = HL_CREDENTIAL_SPEC_INIT;
		char pw[32];
		snprintf(pw, sizeof(pw), "secret-%d", i);
		s.username = "u";
		s.password = pw;
		assert_int_equal(hl_vault_set(NULL, ctx, targets[i], &s), 0);
	}
	hl_ctx_free(ctx);

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		hl_ctx *c = open_at(&db, key);
		close(fds[0]);
		for (unsigned i = 0;; i++) {
			hl_credential *cred = NULL;
			char line[128];
			int n;
			if (hl_vault_get(&cred, c, targets[i % 3], NULL) != 0)
				_exit(3);
			n = snprintf(line, sizeof(line), "%u %s\n", i % 3, cred->password);
			hl_credential_free(cred);
			if (write(fds[1], line, (size_t)n) != n)
				_exit(4);
		}
	}
	close(fds[1]);
	/* let it run until it has printed some secrets, then kill it mid-loop */
	while (got < 40 * 11) {
		ssize_t r = read(fds[0], buf + got, sizeof(buf) - 1 - got);
		assert_true(r > 0);
		got += (size_t)r;
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	for (ssize_t r; (r = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0;)
		got += (size_t)r;
	close(fds[0]);
	buf[got] = '\0';

	/* count whole lines; a torn last line was not printed */
	{
		char *p = buf, *nl;
		int total = 0;
		while ((nl = strchr(p, '\n'))) {
			unsigned t;
			char pw[64];
			*nl = '\0';
			assert_int_equal(sscanf(p, "%u %63s", &t, pw), 2);
			assert_true(t < 3);
			{
				char want[32];
				snprintf(want, sizeof(want), "secret-%u", t);
				assert_string_equal(pw, want);
			}
			printed[t]++;
			total++;
			p = nl + 1;
		}
		print_message("child printed %d secrets before SIGKILL\n", total);
	}
	expect_intact(db, atoi(tu_sql_text(db, "SELECT count(*) FROM audit_log")));
	for (int t = 0; t < 3; t++) {
		char sql[256];
		int rows;
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log WHERE action = 'credential_read' AND "
		         "result = 'granted' AND target_type = '%s' AND target_id = '%s'", t == 2 ? "host" : "vm",
		         t == 0 ? "101" : t == 1 ? "102" : "1");
		rows = atoi(tu_sql_text(db, sql));
		/* every printed secret was audited; at most one audited read was not printed */
		assert_true(rows >= printed[t]);
		assert_true(rows <= printed[t] + 1);
	}
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Not a benchmark, but the numbers are printed: the cost of one audited read
 * (one committed, synced transaction) and of verifying a long chain. */
static void test_audit__timings(void **state)
{
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE];
	hl_ctx *ctx;
	hl_audit_report *r = NULL;
	double t0, t1;
	int reads = 200, rows = 100000;

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	ctx = open_at(&db, key);
	assert_int_equal(hl_inventory_load_demo(ctx), 0);
	{
		hl_credential_spec s = HL_CREDENTIAL_SPEC_INIT;
		s.password = "pw";
		assert_int_equal(hl_vault_set(NULL, ctx, "vm:whisper", &s), 0);
	}
	t0 = now_ms();
	for (int i = 0; i < reads; i++) {
		hl_credential *c = NULL;
		assert_int_equal(hl_vault_get(&c, ctx, "vm:whisper", NULL), 0);
		hl_credential_free(c);
	}
	t1 = now_ms();
	print_message("audited read: %.3f ms each (%d reads, %s)\n", (t1 - t0) / reads, reads, tu_tmpdir());

	/* many rows in one transaction (a record joins an open one) */
	assert_int_equal(hl_db__begin_write(ctx), 0);
	for (int i = 0; i < rows; i++)
		record(ctx, "ssh_command", "101", "uptime");
	assert_int_equal(hl_db__commit(ctx), 0);
	t0 = now_ms();
	assert_int_equal(hl_audit_verify(&r, ctx), 0);
	t1 = now_ms();
	print_message("verify: %lld rows in %.1f ms (%.2f us/row)\n", (long long)r->rows, t1 - t0,
	              (t1 - t0) * 1000 / (double)r->rows);
	assert_int_equal(r->rows, rows + reads + 1);
	hl_audit_report_free(r);
	hl_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_audit__record_and_list),
		cmocka_unit_test(test_audit__long_details_are_cut),
		cmocka_unit_test(test_audit__canonical_encoding),
		cmocka_unit_test(test_audit__verify_intact),
		cmocka_unit_test(test_audit__edited_row),
		cmocka_unit_test(test_audit__deleted_row),
		cmocka_unit_test(test_audit__truncated_end),
		cmocka_unit_test(test_audit__reordered_rows),
		cmocka_unit_test(test_audit__row_slipped_in),
		cmocka_unit_test(test_audit__legacy_rows_chained_by_migration),
		cmocka_unit_test(test_audit__tools),
		cmocka_unit_test(test_audit__sigkill_during_audited_reads),
		cmocka_unit_test(test_audit__timings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
