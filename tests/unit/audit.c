/*
 * audit.c: the keyed, hash-chained audit log: recording, listing, verifying,
 * and the tampering verify must catch (an edited, deleted or reordered row,
 * a cut end, a row slipped in and never adopted, a row forged with the
 * unkeyed hash, a head rewritten after a cut, a wipe caught against a head
 * recorded elsewhere), the key file, legacy rows chained by the migration
 * only, and a process killed with SIGKILL while it reads secrets.
 */
#include "testutil.h"

#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

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
	record(ctx, "ollama_pull", "101", "llama3:8b");

	assert_int_equal(hl_audit_list(&list, ctx, NULL), 0);
	assert_int_equal(list->count, 3);
	assert_string_equal(list->items[0]->action, "ollama_pull"); /* newest first */
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

/* A label that would clear the screen and rewrite the line is stored escaped
 * (so are bells, C1 controls, bidi overrides and bytes that are not UTF-8). */
static void test_audit__labels_are_escaped(void **state)
{
	const char *db = NULL;
	hl_ctx *ctx = open_at(&db, NULL);
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;
	hl_audit_array *list = NULL;
	char *big = malloc(3000);

	(void)state;
	ev.action = "credential_read";
	ev.result = "refused";
	ev.target_type = "vm";
	ev.target_id = "\x1b[2J\x1b[H" "OK all clear\r";
	ev.principal = "token:\x07x";
	ev.client_addr = "127.0.0.1\n";
	ev.details = "C1 \xc2\x9b" "31m, bidi \xe2\x80\xae" "abc, bad \xff, tab\t, back\\slash, caf\xc3\xa9";
	assert_int_equal(hl_audit_record(ctx, &ev), 0);
	assert_int_equal(hl_audit_list(&list, ctx, NULL), 0);
	assert_string_equal(list->items[0]->target_id, "\\x1b[2J\\x1b[HOK all clear\\r");
	assert_string_equal(list->items[0]->principal, "token:\\x07x");
	assert_string_equal(list->items[0]->client_addr, "127.0.0.1\\n");
	assert_string_equal(list->items[0]->details, "C1 \\u009b31m, bidi \\u202eabc, bad \\xff, tab\\t, back\\\\slash, "
	                    "caf\xc3\xa9");
	hl_audit_array_free(list);
	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM audit_log WHERE instr(target_id, char(27)) > 0"), "0");
	/* escaping can lengthen details: they are still cut at the limit, between escapes */
	memset(big, '\x1b', 2999);
	big[2999] = '\0';
	record(ctx, "ssh_command", "101", big);
	assert_int_equal(hl_audit_list(&list, ctx, NULL), 0);
	assert_int_equal(strlen(list->items[0]->details), (HL_AUDIT_DETAILS_MAX / 4) * 4 + strlen(" [truncated]"));
	assert_int_equal(strncmp(list->items[0]->details, "\\x1b\\x1b", 8), 0);
	hl_audit_array_free(list);
	free(big);
	hl_ctx_free(ctx);
	expect_intact(db, 2);
}

static void test_audit__text_escape(void **state)
{
	hl_buf b = HL_BUF_INIT;

	(void)state;
	assert_int_equal(hl_text_escape(&b, "plain caf\xc3\xa9 \xf0\x9f\x90\xa7 a\\b", 0), 0);
	assert_string_equal(b.ptr, "plain caf\xc3\xa9 \xf0\x9f\x90\xa7 a\\b"); /* printable text as is */
	hl_buf_dispose(&b);
	assert_int_equal(hl_text_escape(&b, "a\\b\x7f\x01", HL_ESCAPE_BACKSLASH), 0);
	assert_string_equal(b.ptr, "a\\\\b\\x7f\\x01");
	hl_buf_dispose(&b);
	/* overlong, surrogate, cut short: bytes, not characters */
	assert_int_equal(hl_text_escape(&b, "\xc0\xaf \xed\xa0\x80 \xe2\x80", 0), 0);
	assert_string_equal(b.ptr, "\\xc0\\xaf \\xed\\xa0\\x80 \\xe2\\x80");
	hl_buf_dispose(&b);
	assert_int_equal(hl_text_escape(&b, "\xe2\x80\x8b\xef\xbb\xbf\xe2\x81\xa6", 0), 0);
	assert_string_equal(b.ptr, "\\u200b\\ufeff\\u2066");
	hl_buf_dispose(&b);
	assert_int_equal(hl_text_escape(&b, "", 0), 0);
	assert_int_equal(b.size, 0);
	tu_assert_error(hl_text_escape(NULL, "x", 0), HL_EINVALID, "out and text are required");
	tu_assert_error(hl_text_escape(&b, NULL, 0), HL_EINVALID, "out and text are required");
	tu_assert_error(hl_text_escape(&b, "x", 8), HL_EINVALID, "unknown flags");
	hl_buf_dispose(&b);
}

/* The actions written are one list: hl_audit_record() refuses others, and
 * homelab_audit_list's description names exactly these. */
static void test_audit__actions_are_one_list(void **state)
{
	const char *db = NULL;
	hl_ctx *ctx = open_at(&db, NULL);
	const char *const *a = hl_audit_actions();
	const char *desc = hl_tool_description(hl_tool_lookup("homelab_audit_list"));
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;
	size_t n = 0;
	char word[80];

	(void)state;
	assert_non_null(desc);
	for (; a[n]; n++) {
		snprintf(word, sizeof(word), " %s", a[n]);
		assert_non_null(strstr(desc, word));
		ev.action = a[n];
		assert_int_equal(hl_audit_record(ctx, &ev), 0);
	}
	assert_true(n >= 14);
	/* what the old description advertised, and nothing writes */
	assert_null(strstr(desc, "file write"));
	ev.action = "file_delete"; /* no tool deletes files (file_write is sftp.c's) */
	tu_assert_error(hl_audit_record(ctx, &ev), HL_EINVALID, "audit action 'file_delete' is not one of "
	                "hl_audit_actions()");
	ev.action = "get_credentials"; /* the Python server's: read, never written */
	tu_assert_error(hl_audit_record(ctx, &ev), HL_EINVALID, "is not one of");
	/* the description lists nothing else: every word after "written:" is an action */
	{
		const char *p = strstr(desc, "The actions written:");
		size_t words = 0;
		assert_non_null(p);
		p += strlen("The actions written:");
		while (p[0] == ' ' && p[1] != '(') {
			size_t len = strcspn(p + 1, " (");
			bool found = false;
			for (size_t i = 0; a[i]; i++)
				found |= strlen(a[i]) == len && !strncmp(a[i], p + 1, len);
			assert_true(found);
			words++;
			p += 1 + len;
		}
		assert_int_equal(words, n);
	}
	hl_ctx_free(ctx);
	expect_intact(db, (int64_t)n);
}

static void test_audit__canonical_encoding(void **state)
{
	unsigned char a[32], b[32], zero[32] = { 0 };
	struct hl_audit_key k1, k2;
	const char *f1[HL_AUDIT_NFIELDS] = { "t", "ab", "c", NULL, NULL, NULL, NULL, NULL };
	const char *f2[HL_AUDIT_NFIELDS] = { "t", "a", "bc", NULL, NULL, NULL, NULL, NULL };
	const char *f3[HL_AUDIT_NFIELDS] = { "t", "ab", "c", "", NULL, NULL, NULL, NULL };
	size_t n1[HL_AUDIT_NFIELDS] = { 1, 2, 1 }, n2[HL_AUDIT_NFIELDS] = { 1, 1, 2 }, n3[HL_AUDIT_NFIELDS] = { 1, 2, 1, 0 };

	(void)state;
	assert_int_equal(sodium_init() >= 0, 1);
	memset(&k1, 1, sizeof(k1));
	memset(&k2, 2, sizeof(k2));
	hl_audit__hash(a, &k1, 1, zero, f1, n1);
	hl_audit__hash(b, &k1, 1, zero, f2, n2);
	assert_memory_not_equal(a, b, 32);  /* field boundaries count */
	hl_audit__hash(b, &k1, 1, zero, f3, n3);
	assert_memory_not_equal(a, b, 32);  /* NULL is not "" */
	hl_audit__hash(b, &k1, 2, zero, f1, n1);
	assert_memory_not_equal(a, b, 32);  /* the position counts */
	hl_audit__hash(b, &k2, 1, zero, f1, n1);
	assert_memory_not_equal(a, b, 32);  /* the key counts */
	hl_audit__hash(b, NULL, 1, zero, f1, n1);
	assert_memory_not_equal(a, b, 32);  /* the public unkeyed hash is another value */
	hl_audit__hash(b, &k1, 1, zero, f1, n1);
	assert_memory_equal(a, b, 32);      /* deterministic */
	hl_audit__head_mac(a, &k1, 5, zero);
	hl_audit__head_mac(b, &k2, 5, zero);
	assert_memory_not_equal(a, b, 32);
	hl_audit__head_mac(b, &k1, 4, zero);
	assert_memory_not_equal(a, b, 32);
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
	expect_bad(db, 4, "ssh_command) was altered or forged: its contents do not match its MAC");
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

/* The verify report's head as "SEQ:HASH". */
static const char *head_of(const char *db)
{
	static char head[128];
	hl_ctx *ctx = open_at(&db, NULL);
	hl_audit_report *r = NULL;

	if (hl_audit_verify(&r, ctx) != 0)
		fail_msg("verify: %s", hl_error_last()->message);
	snprintf(head, sizeof(head), "%lld:%s", (long long)r->head_seq, r->head_hash ? r->head_hash : "");
	hl_audit_report_free(r);
	hl_ctx_free(ctx);
	return head;
}

static void expect_bad_against(const char *db, const char *head, int64_t seq, const char *needle)
{
	hl_ctx *ctx = open_at(&db, NULL);
	hl_audit_report *r = NULL;

	tu_assert_error(hl_audit_verify_head(&r, ctx, head), HL_EINTEGRITY, needle);
	assert_int_equal(r->intact, 0);
	assert_int_equal(r->bad_seq, seq);
	hl_audit_report_free(r);
	hl_ctx_free(ctx);
}

static void test_audit__row_slipped_in_is_never_adopted(void **state)
{
	const char *db = log_of(5);
	hl_ctx *ctx;
	hl_audit_report *r = NULL;

	(void)state;
	/* a row written the way the Python server writes them */
	tu_sql(db, "INSERT INTO audit_log (action, target_type, target_id, user, details, ip_address) "
	           "VALUES ('get_credentials', 'vm', '101', 'mcp-agent', NULL, 'docker')");
	expect_bad(db, 0, "audit row id 6 (get_credentials) is not in the chain: forged, or written by another program");
	/* the next write of this library does not chain it (the old code did) */
	ctx = open_at(&db, NULL);
	record(ctx, "ssh_command", "101", "after");
	tu_assert_error(hl_audit_verify(&r, ctx), HL_EINTEGRITY, "audit row id 6 (get_credentials) is not in the chain");
	assert_int_equal(r->bad_id, 6);
	assert_int_equal(r->rows, 6);
	hl_audit_report_free(r);
	hl_ctx_free(ctx);
	assert_string_equal(tu_sql_text(db, "SELECT coalesce(seq, 'null') FROM audit_log WHERE user = 'mcp-agent'"),
	                    "null");
	assert_string_equal(tu_sql_text(db, "SELECT seq FROM audit_log WHERE details = 'after'"), "6");
	/* nor does setting the schema version back (a migration re-run) adopt it */
	tu_sql(db, "PRAGMA user_version = 3");
	ctx = open_at(&db, NULL);
	hl_ctx_free(ctx);
	expect_bad(db, 0, "audit row id 6 (get_credentials) is not in the chain");
	/* nor a head stripped of its key as well: the keyed rows show the log was keyed */
	tu_sql(db, "UPDATE audit_head SET key_id = NULL, mac = NULL; PRAGMA user_version = 3");
	ctx = open_at(&db, NULL);
	hl_ctx_free(ctx);
	assert_string_equal(tu_sql_text(db, "SELECT coalesce(seq, 'null') FROM audit_log WHERE user = 'mcp-agent'"),
	                    "null");
	expect_bad(db, 6, "the chain's head record has no key");
}

/* The unkeyed hash of earlier versions is public: a row forged with it, and
 * a head to match, verified intact before the chain was keyed. */
static void test_audit__forged_row_with_public_hash(void **state)
{
	const char *db = log_of(5);
	unsigned char prev[32], h[32];
	char prev_hex[65], hex[65], sql[1024];
	const char *f[HL_AUDIT_NFIELDS] = { "2026-01-01 00:00:00.000", "credential_read", "granted", "vm", "101",
	                                    "admin", "local", "all fine" };
	size_t n[HL_AUDIT_NFIELDS];
	size_t len = 0;

	(void)state;
	assert_int_equal(sodium_init() >= 0, 1);
	snprintf(prev_hex, sizeof(prev_hex), "%s", tu_sql_text(db, "SELECT hash FROM audit_log WHERE seq = 5"));
	assert_int_equal(sodium_hex2bin(prev, 32, prev_hex, 64, NULL, &len, NULL), 0);
	for (int i = 0; i < HL_AUDIT_NFIELDS; i++)
		n[i] = strlen(f[i]);
	hl_audit__hash(h, NULL, 6, prev, f, n);
	sodium_bin2hex(hex, sizeof(hex), h, 32);
	snprintf(sql, sizeof(sql), "INSERT INTO audit_log (timestamp, action, result, target_type, target_id, user, "
	         "ip_address, details, seq, prev_hash, hash) VALUES ('%s', '%s', '%s', '%s', '%s', '%s', '%s', '%s', 6, "
	         "'%s', '%s'); UPDATE audit_head SET seq = 6, hash = '%s'", f[0], f[1], f[2], f[3], f[4], f[5], f[6],
	         f[7], prev_hex, hex, hex);
	tu_sql(db, sql);
	expect_bad(db, 6, "audit row 6 (id 6, vm credential_read) was altered or forged: its contents do not match its MAC");
}

/* Cut the last rows and point the head at the new last row: caught by the
 * head's MAC, and never extended by the next write. */
static void test_audit__truncated_and_head_rewritten(void **state)
{
	const char *db = log_of(10), *head = NULL;
	char saved[512], sql[1024];
	hl_ctx *ctx;
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;

	(void)state;
	tu_sql(db, "DELETE FROM audit_log WHERE seq >= 9;"
	           "UPDATE audit_head SET seq = 8, hash = (SELECT hash FROM audit_log WHERE seq = 8)");
	expect_bad(db, 8, "the chain's head record (row 8) was altered: its MAC does not match");
	ctx = open_at(&db, NULL);
	ev.action = "auth_refused";
	ev.result = "refused";
	tu_assert_error(hl_audit_record(ctx, &ev), HL_EINTEGRITY, "is damaged: the chain's head record (row 8) was "
	                "altered");
	hl_ctx_free(ctx);
	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM audit_log"), "8");

	/* a head saved from an earlier state and put back after the cut matches
	 * its MAC; the head recorded elsewhere catches it */
	db = log_of(8);
	snprintf(saved, sizeof(saved), "%s", tu_sql_text(db, "SELECT seq || ',' || quote(hash) || ',' || quote(key_id) "
	                                                 "|| ',' || quote(mac) FROM audit_head"));
	ctx = open_at(&db, NULL);
	record(ctx, "ssh_command", "101", "cmd 9");
	record(ctx, "ssh_command", "101", "cmd 10");
	hl_ctx_free(ctx);
	head = keep_path(head_of(db));
	assert_int_equal(strncmp(head, "10:", 3), 0);
	snprintf(sql, sizeof(sql), "DELETE FROM audit_log WHERE seq >= 9; DELETE FROM audit_head;"
	         "INSERT INTO audit_head (id, seq, hash, key_id, mac) VALUES (1, %s)", saved);
	tu_sql(db, sql);
	expect_intact(db, 8); /* without a head from elsewhere, a replayed head looks right */
	expect_bad_against(db, head, 9, "the log ends at row 8, but the head recorded elsewhere is row 10: rows 9..10 "
	                   "were removed");
}

static void test_audit__wipe_caught_by_recorded_head(void **state)
{
	const char *db = log_of(10), *head;
	char keyfile[600];
	hl_ctx *ctx;
	hl_audit_report *r = NULL;

	(void)state;
	head = keep_path(head_of(db));
	ctx = open_at(&db, NULL);
	assert_int_equal(hl_audit_verify_head(&r, ctx, head), 0);  /* the head recorded is this log's */
	assert_int_equal(r->intact, 1);
	hl_audit_report_free(r);
	tu_assert_error(hl_audit_verify_head(&r, ctx, "10:abc"), HL_EINVALID, "is not SEQ:HASH");
	tu_assert_error(hl_audit_verify_head(&r, ctx, "x"), HL_EINVALID, "is not SEQ:HASH");
	hl_ctx_free(ctx);

	tu_sql(db, "DELETE FROM audit_log; DELETE FROM audit_head");
	expect_intact(db, 0); /* alone, a wiped log looks like a new one */
	expect_bad_against(db, head, 1, "the log ends at row 0, but the head recorded elsewhere is row 10: rows 1..10 "
	                   "were removed (the log was cut back or wiped)");
	/* wiped, its key file removed, and ten rows written again */
	snprintf(keyfile, sizeof(keyfile), "%s.audit-key", db);
	assert_int_equal(unlink(keyfile), 0);
	ctx = open_at(&db, NULL);
	for (int i = 0; i < 10; i++)
		record(ctx, "ssh_command", "101", "again");
	hl_ctx_free(ctx);
	expect_intact(db, 10);
	expect_bad_against(db, head, 10, "audit row 10 (id 10) is not the row the head recorded elsewhere names");
}

static void test_audit__key_file(void **state)
{
	const char *db = NULL;
	char keyfile[600], other[HL_VAULT_KEY_TEXT_SIZE], env[HL_VAULT_KEY_TEXT_SIZE];
	struct stat sb;
	hl_ctx *ctx;
	hl_audit_report *r = NULL;
	mode_t old = umask(022);

	(void)state;
	ctx = open_at(&db, NULL);
	snprintf(keyfile, sizeof(keyfile), "%s.audit-key", db);
	assert_int_equal(stat(keyfile, &sb), -1); /* made with the first row, not before */
	record(ctx, "ssh_command", "101", "one");
	hl_ctx_free(ctx);
	assert_int_equal(stat(keyfile, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(sb.st_size, 45);

	/* a key file others may read is refused, as the vault's is */
	chmod(keyfile, 0644);
	ctx = open_at(&db, NULL);
	tu_assert_error(hl_audit_verify(&r, ctx), HL_EINVALID, "is accessible by group or others");
	hl_ctx_free(ctx);
	chmod(keyfile, 0600);

	/* the key is gone: nothing written or verified, nothing re-keyed */
	rename(keyfile, tu_path("moved-key"));
	ctx = open_at(&db, NULL);
	tu_assert_error(hl_audit_verify(&r, ctx), HL_ELOCKED, ".audit-key is missing: restore it");
	hl_ctx_free(ctx);
	ctx = open_at(&db, NULL);
	{
		hl_audit_event ev = HL_AUDIT_EVENT_INIT;
		ev.action = "ssh_command";
		tu_assert_error(hl_audit_record(ctx, &ev), HL_ELOCKED, "is missing");
	}
	hl_ctx_free(ctx);
	assert_int_equal(stat(keyfile, &sb), -1);
	rename(tu_path("moved-key"), keyfile);
	expect_intact(db, 1);

	/* HOMELAB_AUDIT_KEY: another key is named as such */
	hl_vault_keygen(other, sizeof(other));
	setenv("HOMELAB_AUDIT_KEY", other, 1);
	ctx = open_at(&db, NULL);
	tu_assert_error(hl_audit_verify(&r, ctx), HL_EINTEGRITY, "the log was written under audit key ");
	assert_non_null(strstr(r->problem, "but the audit key in use is "));
	hl_audit_report_free(r);
	hl_ctx_free(ctx);
	/* and a new log under it has no key file */
	db = NULL;
	ctx = open_at(&db, NULL);
	record(ctx, "ssh_command", "101", "env");
	hl_ctx_free(ctx);
	snprintf(keyfile, sizeof(keyfile), "%s.audit-key", db);
	assert_int_equal(stat(keyfile, &sb), -1);
	expect_intact(db, 1);
	snprintf(env, sizeof(env), "%s", other);
	env[3] = env[3] == 'A' ? 'B' : 'A';
	setenv("HOMELAB_AUDIT_KEY", env, 1);
	expect_bad(db, 0, "the log was written under audit key ");
	unsetenv("HOMELAB_AUDIT_KEY");
	umask(old);
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
	                                "FROM audit_log WHERE seq <= 2"), before);
	/* the two rows, then the migration's own row saying what it did */
	expect_intact(db, 3);
	assert_string_equal(tu_sql_text(db, "SELECT action FROM audit_log WHERE seq = 3"), "audit_chain_keyed");
	assert_non_null(strstr(tu_sql_text(db, "SELECT details FROM audit_log WHERE seq = 3"), "2 earlier rows chained "
	                       "under audit key "));
	assert_non_null(strstr(tu_sql_text(db, "SELECT details FROM audit_log WHERE seq = 3"), "2 written outside any "
	                       "chain"));
	tu_sql(db, "UPDATE audit_log SET details = 'edited' WHERE action = 'ssh_command'");
	expect_bad(db, 2, "was altered");
}

/* Turn a log into what a libhomelab of schema 3 left: the unkeyed chain, a
 * head without key, no key file. */
static void make_unkeyed(const char *db)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL, *up = NULL;
	unsigned char prev[32] = { 0 }, hash[32];
	char prev_hex[65], hex[65], keyfile[600], sql[300];
	int64_t seq = 0;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT seq, timestamp, action, result, target_type, target_id, user, "
	                                    "ip_address, details FROM audit_log ORDER BY seq", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "UPDATE audit_log SET prev_hash = ?1, hash = ?2 WHERE seq = ?3", -1, &up,
	                                    NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *f[HL_AUDIT_NFIELDS];
		size_t n[HL_AUDIT_NFIELDS];
		seq = sqlite3_column_int64(st, 0);
		for (int i = 0; i < HL_AUDIT_NFIELDS; i++) {
			f[i] = (const char *)sqlite3_column_text(st, i + 1);
			n[i] = f[i] ? (size_t)sqlite3_column_bytes(st, i + 1) : 0;
		}
		hl_audit__hash(hash, NULL, seq, prev, f, n);
		sodium_bin2hex(prev_hex, sizeof(prev_hex), prev, 32);
		sodium_bin2hex(hex, sizeof(hex), hash, 32);
		sqlite3_bind_text(up, 1, prev_hex, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(up, 2, hex, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(up, 3, seq);
		assert_int_equal(sqlite3_step(up), SQLITE_DONE);
		sqlite3_reset(up);
		memcpy(prev, hash, 32);
	}
	sqlite3_finalize(st);
	sqlite3_finalize(up);
	snprintf(sql, sizeof(sql), "UPDATE audit_head SET seq = %lld, hash = '%s', key_id = NULL, mac = NULL; "
	         "PRAGMA user_version = 3", (long long)seq, hex);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	snprintf(keyfile, sizeof(keyfile), "%s.audit-key", db);
	assert_int_equal(unlink(keyfile), 0);
}

/* The unkeyed chain of schema 3 is checked, then keyed, by the migration. */
static void test_audit__unkeyed_chain_keyed_by_migration(void **state)
{
	const char *db = log_of(3);
	hl_ctx *ctx;

	(void)state;
	assert_int_equal(sodium_init() >= 0, 1);
	make_unkeyed(db);
	ctx = open_at(&db, NULL);
	hl_ctx_free(ctx);
	expect_intact(db, 4);
	assert_non_null(strstr(tu_sql_text(db, "SELECT details FROM audit_log WHERE seq = 4"), "3 earlier rows chained "
	                       "under audit key "));
	assert_non_null(strstr(tu_sql_text(db, "SELECT details FROM audit_log WHERE seq = 4"), "3 from the unkeyed chain "
	                       "of an earlier libhomelab (it verified intact), 0 written outside"));
	/* an unkeyed chain that was already edited is keyed as it is, and says so */
	db = log_of(3);
	make_unkeyed(db);
	tu_sql(db, "UPDATE audit_log SET details = 'edited' WHERE seq = 2");
	ctx = open_at(&db, NULL);
	hl_ctx_free(ctx);
	expect_intact(db, 4);
	assert_non_null(strstr(tu_sql_text(db, "SELECT details FROM audit_log WHERE seq = 4"), "(it did not verify: it "
	                       "was broken at row 2 (id 2))"));
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
		cmocka_unit_test(test_audit__labels_are_escaped),
		cmocka_unit_test(test_audit__text_escape),
		cmocka_unit_test(test_audit__actions_are_one_list),
		cmocka_unit_test(test_audit__canonical_encoding),
		cmocka_unit_test(test_audit__verify_intact),
		cmocka_unit_test(test_audit__edited_row),
		cmocka_unit_test(test_audit__deleted_row),
		cmocka_unit_test(test_audit__truncated_end),
		cmocka_unit_test(test_audit__reordered_rows),
		cmocka_unit_test(test_audit__row_slipped_in_is_never_adopted),
		cmocka_unit_test(test_audit__forged_row_with_public_hash),
		cmocka_unit_test(test_audit__truncated_and_head_rewritten),
		cmocka_unit_test(test_audit__wipe_caught_by_recorded_head),
		cmocka_unit_test(test_audit__key_file),
		cmocka_unit_test(test_audit__legacy_rows_chained_by_migration),
		cmocka_unit_test(test_audit__unkeyed_chain_keyed_by_migration),
		cmocka_unit_test(test_audit__tools),
		cmocka_unit_test(test_audit__sigkill_during_audited_reads),
		cmocka_unit_test(test_audit__timings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
