/*
 * token.c: API tokens: create/list/revoke/verify, the secret never stored,
 * every byte of the secret compared, malformed/unknown/revoked/expired
 * refusals (never quoting the token), scopes and hl_token_allows, names,
 * read-only and busy databases, and the audit of creation and revocation.
 */
#include "testutil.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "token.h"

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

static const char *fresh_path(void)
{
	char name[32];

	snprintf(name, sizeof(name), "tok%d.db", ndb++);
	return keep_path(tu_path(name));
}

static hl_ctx *open_flags(const char *path, unsigned flags)
{
	hl_ctx_options o = HL_CTX_OPTIONS_INIT;
	hl_ctx *ctx = NULL;

	o.db_path = path;
	o.flags = flags;
	o.principal = "tester";
	if (hl_ctx_open(&ctx, &o) != 0)
		fail_msg("hl_ctx_open(%s): %s", path, hl_error_last()->message);
	return ctx;
}

/* Create a token; its text goes into text (HL_TOKEN_TEXT_LEN + 1 bytes). */
static hl_token *create(hl_ctx *ctx, const char *name, const char *scopes, int64_t expires, char *text)
{
	hl_token_spec s = HL_TOKEN_SPEC_INIT;
	hl_buf secret = HL_BUF_INIT;
	hl_token *t = NULL;
	int rc;

	s.name = name;
	s.scopes = scopes;
	s.expires = expires;
	if ((rc = hl_token_create(&secret, &t, ctx, &s)) != 0)
		fail_msg("hl_token_create(%s): %d %s", name, rc, hl_error_last()->message);
	assert_int_equal(secret.size, HL_TOKEN_TEXT_LEN);
	if (text)
		memcpy(text, secret.ptr, HL_TOKEN_TEXT_LEN + 1);
	hl_buf_dispose(&secret);
	return t;
}

/* The refusal's code, and a message that contains needle and never the
 * presented text (nor its secret part). */
static void refused(hl_ctx *ctx, const char *presented, const char *needle)
{
	hl_token *t = (hl_token *)1;
	int rc = hl_token_verify(&t, ctx, presented);

	tu_assert_error(rc, HL_EAUTH, needle);
	assert_null(t);
	if (presented && strlen(presented) > 13) {
		const char *msg = hl_error_last()->message;
		assert_null(strstr(msg, presented));
		assert_null(strstr(msg, presented + 13));
	}
}

static void verified(hl_ctx *ctx, const char *presented, const char *name)
{
	hl_token *t = NULL;
	int rc = hl_token_verify(&t, ctx, presented);

	if (rc != 0)
		fail_msg("hl_token_verify: %d %s", rc, hl_error_last()->message);
	assert_non_null(t);
	assert_string_equal(t->name, name);
	hl_token_free(t);
}

static bool contains(const char *hay, size_t n, const void *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (!memcmp(hay + i, needle, m))
			return true;
	return false;
}

/* ------------------------------------------------------------ basics --- */

static void test_token__create_list_verify(void **state)
{
	const char *db = fresh_path();
	char text[HL_TOKEN_TEXT_LEN + 1], sql[256];
	hl_token_array *list = NULL;
	hl_token *t, *v = NULL;
	hl_ctx *ctx;
	int64_t n = -1;

	(void)state;
	ctx = open_flags(db, 0);
	assert_int_equal(hl_token_count(ctx, &n), 0);
	assert_int_equal(n, 0);
	t = create(ctx, "open-webui", "inventory:read, credentials:read", 0, text);
	/* hlt_ + id + _ + 43 characters of base64url */
	assert_int_equal(strlen(text), 56);
	assert_memory_equal(text, "hlt_", 4);
	assert_memory_equal(text + 4, t->id, 8);
	assert_int_equal(text[12], '_');
	for (size_t i = 0; i < 8; i++)
		assert_true((t->id[i] >= 'a' && t->id[i] <= 'z') || (t->id[i] >= '0' && t->id[i] <= '9'));
	for (size_t i = 13; i < 56; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", text[i]));
	assert_string_equal(t->name, "open-webui");
	assert_string_equal(t->scopes, "inventory:read,credentials:read");
	assert_non_null(t->created);
	assert_int_equal(strlen(t->created), 19);
	assert_null(t->last_used);
	assert_null(t->expires);
	assert_int_equal(t->revoked, 0);

	assert_int_equal(hl_token_list(&list, ctx), 0);
	assert_int_equal(list->count, 1);
	assert_string_equal(list->items[0]->id, t->id);
	assert_string_equal(list->items[0]->scopes, "inventory:read,credentials:read");
	assert_null(list->items[0]->last_used);
	hl_token_array_free(list);

	assert_int_equal(hl_token_verify(&v, ctx, text), 0);
	assert_string_equal(v->id, t->id);
	assert_string_equal(v->name, "open-webui");
	assert_true(hl_token_allows(v, "inventory:read"));
	assert_false(hl_token_allows(v, "ssh:exec"));
	assert_null(v->last_used); /* as it was before this use */
	hl_token_free(v);
	assert_int_equal(hl_token_verify(NULL, ctx, text), 0); /* out may be NULL */

	assert_int_equal(hl_token_list(&list, ctx), 0);
	assert_non_null(list->items[0]->last_used);
	hl_token_array_free(list);
	assert_int_equal(hl_token_count(ctx, &n), 0);
	assert_int_equal(n, 1);

	/* a second token, listed by name */
	hl_token_free(create(ctx, "claude", "*", 86400, NULL));
	assert_int_equal(hl_token_list(&list, ctx), 0);
	assert_int_equal(list->count, 2);
	assert_string_equal(list->items[0]->name, "claude");
	assert_non_null(list->items[0]->expires);
	assert_string_equal(list->items[1]->name, "open-webui");
	hl_token_array_free(list);

	/* creation is audited, naming the id and scopes, never the secret */
	snprintf(sql, sizeof(sql), "SELECT details FROM audit_log WHERE action = 'token_create' AND "
	         "target_type = 'token' AND target_id = '%s' AND user = 'tester'", t->id);
	assert_non_null(tu_sql_text(db, sql));
	assert_non_null(strstr(tu_sql_text(db, sql), "inventory:read,credentials:read"));
	assert_null(strstr(tu_sql_text(db, "SELECT group_concat(details) FROM audit_log"), text + 13));
	/* a verification is not audited by the library */
	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM audit_log WHERE action NOT IN "
	                                    "('token_create')"), "0");
	hl_token_free(t);
	hl_ctx_free(ctx);
	{
		hl_audit_report *r = NULL;
		ctx = open_flags(db, 0);
		assert_int_equal(hl_audit_verify(&r, ctx), 0);
		hl_audit_report_free(r);
		hl_ctx_free(ctx);
	}
}

static void test_token__secret_never_stored(void **state)
{
	const char *db = fresh_path();
	char text[HL_TOKEN_TEXT_LEN + 1], wal[600];
	unsigned char raw[32];
	size_t raw_len = 0, n = 0;
	hl_ctx *ctx;
	char *bytes;

	(void)state;
	ctx = open_flags(db, 0);
	hl_token_free(create(ctx, "ci", "inventory:read", 0, text));
	verified(ctx, text, "ci");
	assert_int_equal(sodium_base642bin(raw, sizeof(raw), text + 13, 43, NULL, &raw_len, NULL,
	                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
	assert_int_equal(raw_len, 32);

	/* while open (pages in the WAL) and after closing (checkpointed) */
	for (int pass = 0; pass < 2; pass++) {
		const char *files[2] = { db, wal };
		snprintf(wal, sizeof(wal), "%s-wal", db);
		for (int f = 0; f < 2; f++) {
			if (!(bytes = tu_read_file(files[f], &n)))
				continue;
			assert_false(contains(bytes, n, text, 56));
			assert_false(contains(bytes, n, text + 13, 43));
			assert_false(contains(bytes, n, raw, 32));
			assert_true(f == 1 || contains(bytes, n, text + 4, 8) || pass == 0); /* the id is stored */
			free(bytes);
		}
		hl_ctx_free(ctx);
		ctx = NULL;
	}
	/* the stored hash is BLAKE2b of the id and the secret's bytes */
	{
		unsigned char h[32];
		char hex[65], sql[200];
		hl_token__hash(h, text + 4, raw);
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		snprintf(sql, sizeof(sql), "SELECT lower(hex(hash)) FROM api_tokens WHERE id = '%.8s'", text + 4);
		assert_string_equal(tu_sql_text(db, sql), hex);
	}
}

/* ------------------------------------------------------------ refusals --- */

static void test_token__every_byte_of_the_secret_counts(void **state)
{
	const char *db = fresh_path();
	char text[HL_TOKEN_TEXT_LEN + 1], bad[HL_TOKEN_TEXT_LEN + 1], want[64];
	hl_ctx *ctx;
	hl_token *t;

	(void)state;
	ctx = open_flags(db, 0);
	t = create(ctx, "ci", "inventory:read", 0, text);
	snprintf(want, sizeof(want), "unknown API token (id %s)", t->id);
	/* Change each character of the secret (keeping it valid base64url):
	 * the compare looks at all of them, not at a prefix. The last one
	 * carries 4 bits and 2 zero bits, so it moves by 4. */
	for (size_t i = 13; i < 56; i++) {
		memcpy(bad, text, sizeof(bad));
		if (i == 55)
			bad[i] = text[i] == 'A' ? 'E' : 'A';
		else
			bad[i] = text[i] == 'A' ? 'B' : 'A';
		refused(ctx, bad, want);
	}
	/* the right secret under another id */
	memcpy(bad, text, sizeof(bad));
	bad[4] = text[4] == 'a' ? 'b' : 'a';
	refused(ctx, bad, "unknown API token (id ");
	/* a wrong secret with a valid id says no more than an unknown id */
	memcpy(bad, text, sizeof(bad));
	memcpy(bad + 4, "zzzzzzzz", 8);
	refused(ctx, bad, "unknown API token (id zzzzzzzz)");
	verified(ctx, text, "ci");

	/* the hash binds the id */
	{
		unsigned char s[32] = { 1 }, h1[32], h2[32];
		hl_token__hash(h1, "aaaaaaaa", s);
		hl_token__hash(h2, "aaaaaaab", s);
		assert_memory_not_equal(h1, h2, 32);
		s[31] ^= 1;
		hl_token__hash(h2, "aaaaaaaa", s);
		assert_memory_not_equal(h1, h2, 32);
	}
	hl_token_free(t);
	hl_ctx_free(ctx);
}

static void test_token__malformed(void **state)
{
	const char *db = fresh_path();
	char text[HL_TOKEN_TEXT_LEN + 1], bad[128], *huge;
	hl_ctx *ctx;

	(void)state;
	ctx = open_flags(db, 0);
	hl_token_free(create(ctx, "ci", "inventory:read", 0, text));

	refused(ctx, NULL, "malformed API token: empty");
	refused(ctx, "", "malformed API token: empty");
	refused(ctx, "hl", "malformed API token: it does not start with hlt_");
	snprintf(bad, sizeof(bad), "Bearer %s", text);
	refused(ctx, bad, "malformed API token: it does not start with hlt_");
	refused(ctx, text + 4, "malformed API token: it does not start with hlt_"); /* no prefix */
	refused(ctx, "hlt_", "malformed API token: it is 4 characters long, not 56");
	snprintf(bad, sizeof(bad), "%.50s", text); /* too short */
	refused(ctx, bad, "malformed API token: it is 50 characters long, not 56");
	snprintf(bad, sizeof(bad), "%sA", text); /* overlong */
	refused(ctx, bad, "malformed API token: it is 57 characters long, not 56");
	snprintf(bad, sizeof(bad), "%s\n", text); /* a trailing newline is not trimmed */
	refused(ctx, bad, "malformed API token: it is 57 characters long, not 56");
	huge = malloc(100000);
	memset(huge, 'A', 99999);
	memcpy(huge, text, 56);
	huge[99999] = '\0';
	refused(ctx, huge, "malformed API token: it is longer than 1024 characters, not 56");
	free(huge);
	memcpy(bad, text, 57);
	bad[5] = 'Q'; /* upper case in the id */
	refused(ctx, bad, "malformed API token: its id is not 8 characters of [a-z0-9]");
	memcpy(bad, text, 57);
	bad[12] = '-';
	refused(ctx, bad, "malformed API token: its id is not followed by '_'");
	memcpy(bad, text, 57);
	bad[30] = '!'; /* not base64url */
	refused(ctx, bad, "malformed API token: its secret is not 43 characters of URL-safe base64 (32 bytes)");
	memcpy(bad, text, 57);
	bad[30] = '+'; /* standard base64, not URL-safe */
	refused(ctx, bad, "malformed API token: its secret is not");
	memcpy(bad, text, 57);
	bad[55] = text[55] == 'B' ? 'C' : 'B'; /* non-zero bits after the last byte */
	refused(ctx, bad, "malformed API token: its secret is not");
	memcpy(bad, text, 57);
	bad[40] = '\x01';
	refused(ctx, bad, "malformed API token: its secret is not");

	verified(ctx, text, "ci");
	{
		struct hl_token__parsed p;
		assert_int_equal(hl_token__parse(&p, text), 0);
		assert_memory_equal(p.id, text + 4, 8);
		tu_assert_error(hl_token__parse(&p, "x"), HL_EAUTH, "malformed");
	}
	tu_assert_error(hl_token_verify(NULL, NULL, text), HL_EINVALID, "ctx is required");
	hl_ctx_free(ctx);
}

static void test_token__expired(void **state)
{
	const char *db = fresh_path();
	char text[HL_TOKEN_TEXT_LEN + 1], sql[256], want[128], soon[32];
	hl_ctx *ctx;
	hl_token *t;
	time_t now = time(NULL);
	struct tm tm;

	(void)state;
	ctx = open_flags(db, 0);
	t = create(ctx, "short", "inventory:read", 3600, text);
	assert_non_null(t->expires);
	/* an hour from now, give or take the second the test took */
	gmtime_r(&(time_t){ now + 3600 }, &tm);
	strftime(soon, sizeof(soon), "%Y-%m-%d %H:%M", &tm);
	assert_memory_equal(t->expires, soon, 16);
	verified(ctx, text, "short");

	snprintf(sql, sizeof(sql), "UPDATE api_tokens SET expires = '2000-01-01 00:00:00' WHERE id = '%s'", t->id);
	tu_sql(db, sql);
	snprintf(want, sizeof(want), "API token 'short' (id %s) expired at 2000-01-01 00:00:00 UTC", t->id);
	refused(ctx, text, want);
	/* an expiry that is not a time fails closed */
	snprintf(sql, sizeof(sql), "UPDATE api_tokens SET expires = 'tomorrow' WHERE id = '%s'", t->id);
	tu_sql(db, sql);
	refused(ctx, text, "expired (its expiry is not a time)");
	/* with a wrong secret, nothing about the token's state is told */
	text[20] = text[20] == 'A' ? 'B' : 'A';
	refused(ctx, text, "unknown API token");

	/* a real expiry of one second */
	hl_token_free(t);
	t = create(ctx, "blink", "inventory:read", 1, text);
	sleep(2);
	refused(ctx, text, "expired at");
	hl_token_free(t);
	hl_ctx_free(ctx);
}

static void test_token__revoked(void **state)
{
	const char *db = fresh_path();
	char text[HL_TOKEN_TEXT_LEN + 1], text2[HL_TOKEN_TEXT_LEN + 1], text3[HL_TOKEN_TEXT_LEN + 1], want[128];
	hl_token_array *list = NULL;
	hl_ctx *ctx;
	hl_token *t, *t2, *t3;
	int64_t n = 0;

	(void)state;
	ctx = open_flags(db, 0);
	t = create(ctx, "webui", "inventory:read", 0, text);
	t2 = create(ctx, "claude", "inventory:read", 0, text2);
	assert_int_equal(hl_token_revoke(ctx, "WebUI"), 0); /* names are case-insensitive */
	snprintf(want, sizeof(want), "API token 'webui' (id %s) was revoked", t->id);
	refused(ctx, text, want);
	tu_assert_error(hl_token_revoke(ctx, "webui"), HL_ENOTFOUND, "API token 'webui' is already revoked");
	tu_assert_error(hl_token_revoke(ctx, t->id), HL_ENOTFOUND, "is already revoked");
	tu_assert_error(hl_token_revoke(ctx, "nosuch"), HL_ENOTFOUND, "no API token has the name or id 'nosuch'");
	tu_assert_error(hl_token_revoke(ctx, ""), HL_EINVALID, "token: a name or id is required");
	tu_assert_error(hl_token_revoke(ctx, NULL), HL_EINVALID, "token: a name or id is required");
	/* the token itself is refused, and never echoed */
	tu_assert_error(hl_token_revoke(ctx, text2), HL_EINVALID, "not the token itself");
	assert_null(strstr(hl_error_last()->message, text2 + 13));
	verified(ctx, text2, "claude");

	/* by id */
	assert_int_equal(hl_token_revoke(ctx, t2->id), 0);
	refused(ctx, text2, "was revoked");

	/* a revoked token's name can be given again; the old one stays revoked */
	t3 = create(ctx, "webui", "ollama:*", 0, text3);
	verified(ctx, text3, "webui");
	refused(ctx, text, "was revoked");
	assert_int_equal(hl_token_list(&list, ctx), 0);
	assert_int_equal(list->count, 3);
	assert_string_equal(list->items[1]->name, "webui");
	assert_int_equal(list->items[1]->revoked, 0);
	assert_string_equal(list->items[2]->name, "webui");
	assert_int_equal(list->items[2]->revoked, 1);
	assert_false(hl_token_allows(list->items[2], "inventory:read")); /* revoked grants nothing */
	hl_token_array_free(list);
	/* revoking by name hits the live one */
	assert_int_equal(hl_token_revoke(ctx, "webui"), 0);
	refused(ctx, text3, "was revoked");
	/* count includes revoked tokens: authentication stays on */
	assert_int_equal(hl_token_count(ctx, &n), 0);
	assert_int_equal(n, 3);

	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM audit_log WHERE action = 'token_revoke'"), "3");
	{
		char sql[200];
		snprintf(sql, sizeof(sql), "SELECT details FROM audit_log WHERE action = 'token_revoke' AND target_id = '%s'",
		         t2->id);
		assert_string_equal(tu_sql_text(db, sql), "revoked API token 'claude'");
	}
	hl_token_free(t);
	hl_token_free(t2);
	hl_token_free(t3);
	hl_ctx_free(ctx);
}

/* ------------------------------------------------------------- scopes --- */

static void test_token__scopes(void **state)
{
	static const char *const bad[] = {
		"inventory", "Inventory:read", "inventory:delete", "inventory:read:x", ":read", "inv1:read", "inventory:",
		"**", "*:read", "inventory:READ", "a:read,b:reads", "abcdefghijklmnopqrstuvwxyzabcdefg:read",
	};
	const char *db = fresh_path();
	char *norm = NULL, many[1200];
	hl_token_spec s = HL_TOKEN_SPEC_INIT;
	hl_buf secret = HL_BUF_INIT;
	hl_token *t;
	hl_ctx *ctx;

	(void)state;
	assert_int_equal(hl_token__parse_scopes(&norm, " a:read b:write,,a:read\tc:*, "), 0);
	assert_string_equal(norm, "a:read,b:write,c:*");
	free(norm);
	assert_int_equal(hl_token__parse_scopes(&norm, "*"), 0);
	assert_string_equal(norm, "*");
	free(norm);
	assert_int_equal(hl_token__parse_scopes(&norm, "ssh:exec"), 0);
	free(norm);
	tu_assert_error(hl_token__parse_scopes(&norm, ""), HL_EINVALID, "scopes: at least one scope is required");
	tu_assert_error(hl_token__parse_scopes(&norm, " , ,"), HL_EINVALID, "scopes: at least one scope is required");
	tu_assert_error(hl_token__parse_scopes(&norm, NULL), HL_EINVALID, "scopes: at least one scope is required");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = hl_token__parse_scopes(&norm, bad[i]);
		if (rc != HL_EINVALID)
			fail_msg("scope '%s' was accepted", bad[i]);
		assert_null(norm);
		assert_non_null(strstr(hl_error_last()->message, "scopes: '"));
		assert_non_null(strstr(hl_error_last()->message, "is not a scope"));
	}
	tu_assert_error(hl_token__parse_scopes(&norm, "a:read\x01"), HL_EINVALID, "scopes: a scope contains a character");
	many[0] = '\0';
	for (int i = 0; i < 33; i++) {
		char one[16];
		snprintf(one, sizeof(one), "%s%c%c:read", i ? "," : "", 'a' + i % 26, 'a' + i / 26);
		strcat(many, one);
	}
	tu_assert_error(hl_token__parse_scopes(&norm, many), HL_EINVALID, "scopes: more than 32 scopes");
	memset(many, ' ', sizeof(many) - 1);
	many[sizeof(many) - 1] = '\0';
	tu_assert_error(hl_token__parse_scopes(&norm, many), HL_EINVALID, "scopes: longer than 1024 characters");

	/* through hl_token_create */
	ctx = open_flags(db, 0);
	s.name = "x";
	s.scopes = "inventory:delete";
	tu_assert_error(hl_token_create(&secret, NULL, ctx, &s), HL_EINVALID, "scopes: 'inventory:delete' is not a scope");
	assert_null(secret.ptr);
	s.scopes = NULL;
	tu_assert_error(hl_token_create(&secret, NULL, ctx, &s), HL_EINVALID, "scopes: at least one scope");

	/* hl_token_allows */
	t = create(ctx, "mixed", "inventory:read,ollama:*", 0, NULL);
	assert_true(hl_token_allows(t, "inventory:read"));
	assert_false(hl_token_allows(t, "inventory:write"));
	assert_true(hl_token_allows(t, "ollama:read"));
	assert_true(hl_token_allows(t, "ollama:write"));
	assert_true(hl_token_allows(t, "ollama:*"));
	assert_false(hl_token_allows(t, "ollamax:read"));
	assert_false(hl_token_allows(t, "olla:read"));
	assert_false(hl_token_allows(t, "ollama"));
	assert_false(hl_token_allows(t, "ssh:exec"));
	assert_false(hl_token_allows(t, "credentials:read"));
	assert_false(hl_token_allows(t, "inventory:read,ssh:exec"));
	assert_false(hl_token_allows(t, "*"));
	assert_false(hl_token_allows(t, ""));
	assert_false(hl_token_allows(t, NULL));
	assert_false(hl_token_allows(NULL, "inventory:read"));
	hl_token_free(t);
	t = create(ctx, "admin", "*", 0, NULL);
	assert_true(hl_token_allows(t, "ssh:exec"));
	assert_true(hl_token_allows(t, "credentials:read"));
	assert_true(hl_token_allows(t, "*"));
	hl_token_free(t);
	t = create(ctx, "reader", "files:read ssh:exec", 0, NULL);
	assert_string_equal(t->scopes, "files:read,ssh:exec");
	assert_true(hl_token_allows(t, "ssh:exec"));
	assert_false(hl_token_allows(t, "files:write"));
	hl_token_free(t);
	hl_ctx_free(ctx);
}

/* -------------------------------------------------------------- names --- */

static void test_token__names_and_arguments(void **state)
{
	const char *db = fresh_path();
	hl_token_spec s = HL_TOKEN_SPEC_INIT;
	hl_buf secret = HL_BUF_INIT;
	hl_token *t = NULL;
	hl_ctx *ctx;
	int64_t n = 0;
	char longname[80];

	(void)state;
	ctx = open_flags(db, 0);
	hl_token_free(create(ctx, "ci", "inventory:read", 0, NULL));
	s.scopes = "inventory:read";
	s.name = "CI";
	tu_assert_error(hl_token_create(&secret, &t, ctx, &s), HL_EEXISTS, "API token 'CI' already exists (id ");
	assert_null(t);
	assert_null(secret.ptr);
	s.name = "";
	tu_assert_error(hl_token_create(&secret, &t, ctx, &s), HL_EINVALID, "name: a name is required");
	s.name = NULL;
	tu_assert_error(hl_token_create(&secret, &t, ctx, &s), HL_EINVALID, "name: a name is required");
	s.name = "a b";
	tu_assert_error(hl_token_create(&secret, &t, ctx, &s), HL_EINVALID, "name: 'a b' may contain only");
	s.name = "1234";
	tu_assert_error(hl_token_create(&secret, &t, ctx, &s), HL_EINVALID, "name: '1234' is all digits");
	memset(longname, 'x', 65);
	longname[65] = '\0';
	s.name = longname;
	tu_assert_error(hl_token_create(&secret, &t, ctx, &s), HL_EINVALID, "longer than 64 characters");
	s.name = "ok";
	s.expires = -1;
	tu_assert_error(hl_token_create(&secret, &t, ctx, &s), HL_EINVALID, "expires: -1 seconds");
	s.expires = (int64_t)200 * 366 * 86400;
	tu_assert_error(hl_token_create(&secret, &t, ctx, &s), HL_EINVALID, "expires:");
	s.expires = 0;
	s.version = 99;
	tu_assert_error(hl_token_create(&secret, &t, ctx, &s), HL_EINVALID, "hl_token_spec version 99");
	s.version = HL_TOKEN_SPEC_VERSION;
	tu_assert_error(hl_token_create(NULL, &t, ctx, &s), HL_EINVALID, "are required");
	tu_assert_error(hl_token_create(&secret, &t, ctx, NULL), HL_EINVALID, "are required");
	tu_assert_error(hl_token_list(NULL, ctx), HL_EINVALID, "required");
	tu_assert_error(hl_token_count(ctx, NULL), HL_EINVALID, "required");
	assert_int_equal(hl_token_count(ctx, &n), 0);
	assert_int_equal(n, 1);
	/* the buffer given to create gets the secret (its old contents go) */
	assert_int_equal(hl_buf_set(&secret, "old", 3), 0);
	assert_int_equal(hl_token_create(&secret, NULL, ctx, &s), 0);
	assert_int_equal(secret.size, 56);
	verified(ctx, secret.ptr, "ok");
	hl_buf_dispose(&secret);
	hl_token_free(NULL);
	hl_token_array_free(NULL);
	hl_ctx_free(ctx);
}

/* ------------------------------------------------ databases and audit --- */

static void test_token__read_only_database_verifies(void **state)
{
	const char *db = fresh_path();
	char text[HL_TOKEN_TEXT_LEN + 1];
	hl_token_spec s = HL_TOKEN_SPEC_INIT;
	hl_buf secret = HL_BUF_INIT;
	hl_token_array *list = NULL;
	hl_ctx *ctx;
	int64_t n = 0;

	(void)state;
	ctx = open_flags(db, 0);
	hl_token_free(create(ctx, "ci", "inventory:read", 0, text));
	hl_token_free(create(ctx, "old", "inventory:read", 0, NULL));
	assert_int_equal(hl_token_revoke(ctx, "old"), 0);
	hl_ctx_free(ctx);

	/* a file without write permission (also for root: the library looks at the mode bits) */
	assert_int_equal(chmod(db, 0444), 0);
	ctx = open_flags(db, 0);
	assert_int_equal(hl_ctx_readonly(ctx), 1);
	verified(ctx, text, "ci");
	verified(ctx, text, "ci");
	assert_int_equal(hl_token_count(ctx, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(hl_token_list(&list, ctx), 0);
	assert_int_equal(list->count, 2);
	assert_null(list->items[0]->last_used); /* not written */
	hl_token_array_free(list);
	s.name = "new";
	s.scopes = "inventory:read";
	tu_assert_error(hl_token_create(&secret, NULL, ctx, &s), HL_EREADONLY, "cannot create an API token");
	tu_assert_error(hl_token_revoke(ctx, "ci"), HL_EREADONLY, "cannot revoke an API token");
	hl_ctx_free(ctx);
	assert_int_equal(chmod(db, 0644), 0);

	/* HL_CTX_READONLY on a writable file */
	ctx = open_flags(db, HL_CTX_READONLY);
	verified(ctx, text, "ci");
	hl_ctx_free(ctx);
	assert_null(tu_sql_text(db, "SELECT last_used FROM api_tokens WHERE name = 'ci'"));
}

static void test_token__busy_database_verifies(void **state)
{
	const char *db = fresh_path();
	char text[HL_TOKEN_TEXT_LEN + 1];
	sqlite3 *other = NULL;
	struct timespec t0, t1;
	hl_ctx *ctx;

	(void)state;
	ctx = open_flags(db, 0);
	hl_token_free(create(ctx, "ci", "inventory:read", 0, text));
	/* another writer holds the lock: the last_used write is skipped, fast */
	assert_int_equal(sqlite3_open(db, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE; UPDATE proxmox_hosts SET id = id", NULL, NULL, NULL),
	                 SQLITE_OK);
	hl_error_clear();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	verified(ctx, text, "ci");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 2000);
	assert_int_equal(hl_error_last()->code, HL_OK); /* no error left behind */
	assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	assert_null(tu_sql_text(db, "SELECT last_used FROM api_tokens"));
	/* the next verification writes it; then not again within the minute */
	verified(ctx, text, "ci");
	assert_non_null(tu_sql_text(db, "SELECT last_used FROM api_tokens"));
	tu_sql(db, "UPDATE api_tokens SET last_used = '2000-01-01 00:00:00'");
	verified(ctx, text, "ci");
	assert_string_not_equal(tu_sql_text(db, "SELECT last_used FROM api_tokens"), "2000-01-01 00:00:00");
	hl_ctx_free(ctx);
}

static void test_token__audit_failure_creates_nothing(void **state)
{
	const char *db = fresh_path();
	hl_token_spec s = HL_TOKEN_SPEC_INIT;
	hl_buf secret = HL_BUF_INIT;
	hl_token *t = NULL;
	char text[HL_TOKEN_TEXT_LEN + 1];
	hl_ctx *ctx;

	(void)state;
	ctx = open_flags(db, 0);
	hl_token_free(create(ctx, "keep", "inventory:read", 0, text));
	hl_ctx_free(ctx);
	tu_sql(db, "CREATE TRIGGER no_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused'); END");
	ctx = open_flags(db, 0);
	s.name = "new";
	s.scopes = "inventory:read";
	assert_true(hl_token_create(&secret, &t, ctx, &s) < 0);
	assert_null(secret.ptr);
	assert_null(t);
	assert_true(hl_token_revoke(ctx, "keep") < 0);
	hl_ctx_free(ctx);
	assert_string_equal(tu_sql_text(db, "SELECT group_concat(name) FROM api_tokens"), "keep");
	assert_string_equal(tu_sql_text(db, "SELECT revoked FROM api_tokens"), "0");
}

static void test_token__database_without_the_table(void **state)
{
	const char *db = fresh_path();
	char text[HL_TOKEN_TEXT_LEN + 1];
	hl_token_spec s = HL_TOKEN_SPEC_INIT;
	hl_buf secret = HL_BUF_INIT;
	hl_token_array *list = NULL;
	hl_ctx *ctx;
	int64_t n = -1;

	(void)state;
	/* a token made elsewhere, presented to an older database */
	ctx = open_flags(fresh_path(), 0);
	hl_token_free(create(ctx, "ci", "inventory:read", 0, text));
	hl_ctx_free(ctx);

	tu_sql_fixture(db, "legacy-seed.sql");
	ctx = open_flags(db, HL_CTX_NO_MIGRATE);
	assert_int_equal(hl_ctx_schema_version(ctx), 0);
	assert_int_equal(hl_token_count(ctx, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(hl_token_list(&list, ctx), 0);
	assert_int_equal(list->count, 0);
	hl_token_array_free(list);
	refused(ctx, text, "unknown API token");
	s.name = "x";
	s.scopes = "*";
	tu_assert_error(hl_token_create(&secret, NULL, ctx, &s), HL_ECORRUPT, "has no api_tokens table");
	tu_assert_error(hl_token_revoke(ctx, "ci"), HL_ENOTFOUND, "no API token");
	hl_ctx_free(ctx);

	/* migrating adds the table and its index, and keeps the rows */
	ctx = open_flags(db, 0);
	assert_int_equal(hl_ctx_schema_version(ctx), hl_schema_version());
	hl_token_free(create(ctx, "ci", "inventory:read", 0, NULL));
	hl_ctx_free(ctx);
	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
	                                    "name = 'hl_token_name'"), "1");
	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM virtual_machines"), "4");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token__create_list_verify),
		cmocka_unit_test(test_token__secret_never_stored),
		cmocka_unit_test(test_token__every_byte_of_the_secret_counts),
		cmocka_unit_test(test_token__malformed),
		cmocka_unit_test(test_token__expired),
		cmocka_unit_test(test_token__revoked),
		cmocka_unit_test(test_token__scopes),
		cmocka_unit_test(test_token__names_and_arguments),
		cmocka_unit_test(test_token__read_only_database_verifies),
		cmocka_unit_test(test_token__busy_database_verifies),
		cmocka_unit_test(test_token__audit_failure_creates_nothing),
		cmocka_unit_test(test_token__database_without_the_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
