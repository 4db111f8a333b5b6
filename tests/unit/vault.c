/*
 * vault.c: the credentials vault: set/get/list/remove, encryption bound to
 * rows, legacy Fernet rows (fixtures made by Python), migration, key
 * rotation, "vault locked", and fail-closed auditing of every read.
 */
#include "testutil.h"
#include "support/fernet_fixtures.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vault.h"

/* A copy of a path that lives until exit (tu_path's buffers rotate). */
static const char *keep_path(const char *p)
{
	static char paths[64][512];
	static int next;
	char *b = paths[next++ % 64];

	snprintf(b, 512, "%s", p);
	return b;
}

static int nctx;

/* A context on path (NULL: a fresh demo inventory) with key (NULL: none). */
static hl_ctx *open_ctx(const char **path, const char *key, const char *audit, unsigned flags)
{
	hl_ctx_options o = HL_CTX_OPTIONS_INIT;
	hl_ctx *ctx = NULL;
	char name[32];
	bool fresh = !*path;
	int rc;

	if (fresh) {
		snprintf(name, sizeof(name), "v%d.db", nctx++);
		*path = keep_path(tu_path(name));
	}
	o.db_path = *path;
	o.db_key = key;
	o.audit_db_path = audit;
	o.flags = flags;
	o.principal = "tester";
	if ((rc = hl_ctx_open(&ctx, &o)) != 0)
		fail_msg("hl_ctx_open(%s): %s", *path, hl_error_last()->message);
	if (fresh && (rc = hl_inventory_load_demo(ctx)) != 0)
		fail_msg("demo: %s", hl_error_last()->message);
	return ctx;
}

static void set_pw(hl_ctx *ctx, const char *target, const char *user, const char *pw)
{
	hl_credential_spec s = HL_CREDENTIAL_SPEC_INIT;
	int rc;

	s.username = user;
	s.password = pw;
	if ((rc = hl_vault_set(NULL, ctx, target, &s)) != 0)
		fail_msg("hl_vault_set(%s): %s", target, hl_error_last()->message);
}

static char *get_pw(hl_ctx *ctx, const char *target)
{
	hl_credential *c = NULL;
	char *copy;
	int rc = hl_vault_get(&c, ctx, target, NULL);

	if (rc != 0)
		fail_msg("hl_vault_get(%s): %s", target, hl_error_last()->message);
	copy = c->password ? strdup(c->password) : NULL;
	hl_credential_free(c);
	return copy;
}

static const char *count(const char *db, const char *where)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log WHERE %s", where);
	return tu_sql_text(db, sql);
}

/* ------------------------------------------------------------ basics --- */

static void test_vault__set_get_roundtrip(void **state)
{
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE], kid[17];
	hl_ctx *ctx;
	hl_credential *c = NULL;

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	ctx = open_ctx(&db, key, NULL, 0);
	set_pw(ctx, "vm:whisper", "ccpm", "s3cret-whisper");
	assert_int_equal(hl_vault_get(&c, ctx, "vm:whisper", NULL), 0);
	assert_string_equal(c->password, "s3cret-whisper");
	assert_int_equal(c->password_len, 14);
	assert_string_equal(c->username, "ccpm");
	assert_string_equal(c->target_type, "vm");
	assert_int_equal(c->target_id, 101);
	assert_string_equal(c->target_name, "whisper");
	assert_string_equal(c->auth_type, "password");
	assert_int_equal(c->format, HL_CRED_FORMAT_V2);
	assert_int_equal(c->sealed, 1);
	assert_int_equal(hl_vault_key_id(kid, ctx), 0);
	assert_string_equal(c->key_id, kid);
	assert_non_null(c->updated_at);
	hl_credential_free(c);

	/* stored encrypted, never in clear */
	assert_non_null(tu_sql_text(db, "SELECT password_encrypted FROM credentials WHERE target_id = 101"));
	assert_non_null(strstr(tu_sql_text(db, "SELECT password_encrypted FROM credentials WHERE target_id = 101"),
	                       "hl2:"));
	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM credentials WHERE password_encrypted "
	                                "LIKE '%s3cret%'"), "0");
	/* two encryptions of one password differ (random nonce) */
	set_pw(ctx, "vm:harbor", "ccpm", "s3cret-whisper");
	{
		char first[512];
		snprintf(first, sizeof(first), "%s",
		         tu_sql_text(db, "SELECT password_encrypted FROM credentials WHERE target_id = 101"));
		assert_string_not_equal(first, tu_sql_text(db, "SELECT password_encrypted FROM credentials "
		                                           "WHERE target_id = 102"));
	}
	hl_ctx_free(ctx);
}

static void test_vault__targets(void **state)
{
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE], *pw;
	hl_ctx *ctx;
	hl_credential_spec s = HL_CREDENTIAL_SPEC_INIT;
	hl_credential *c = NULL;

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	ctx = open_ctx(&db, key, NULL, 0);
	set_pw(ctx, "host:pve", "root", "pve-pw");
	set_pw(ctx, "service:ollama", "admin", "ollama-pw");
	set_pw(ctx, "whisper", "ccpm", "w-pw");          /* a bare name */
	assert_string_equal((pw = get_pw(ctx, "host:1")), "pve-pw");
	free(pw);
	assert_string_equal((pw = get_pw(ctx, "pve")), "pve-pw");
	free(pw);
	assert_string_equal((pw = get_pw(ctx, "vm:101")), "w-pw");
	free(pw);
	assert_string_equal((pw = get_pw(ctx, "ollama")), "ollama-pw");
	free(pw);
	/* a credential id */
	assert_int_equal(hl_vault_get(&c, ctx, "vm:whisper", NULL), 0);
	{
		char id[32];
		snprintf(id, sizeof(id), "%lld", (long long)c->id);
		hl_credential_free(c);
		assert_string_equal((pw = get_pw(ctx, id)), "w-pw");
		free(pw);
	}

	tu_assert_error(hl_vault_get(&c, ctx, "vm:nosuch", NULL), HL_ENOTFOUND, "vm 'nosuch' not found");
	tu_assert_error(hl_vault_get(&c, ctx, "nosuch", NULL), HL_ENOTFOUND, "no VM, host or service");
	tu_assert_error(hl_vault_get(&c, ctx, "disk:x", NULL), HL_EINVALID, "must be vm, host or service");
	tu_assert_error(hl_vault_get(&c, ctx, "vm:", NULL), HL_EINVALID, "a name or id must follow");
	tu_assert_error(hl_vault_get(&c, ctx, "vm:harbor", NULL), HL_ENOTFOUND, "no credentials stored for vm:harbor");
	tu_assert_error(hl_vault_get(&c, ctx, "", NULL), HL_EINVALID, "target: required");
	assert_null(c);
	/* ambiguity: a host named like a VM */
	assert_int_equal(hl_host_add(NULL, ctx, &(hl_host_spec){ .version = HL_HOST_SPEC_VERSION, .name = "harbor" }), 0);
	tu_assert_error(hl_vault_get(&c, ctx, "harbor", NULL), HL_EINVALID, "ambiguous");
	/* a target must exist to get new credentials */
	s.username = "x";
	tu_assert_error(hl_vault_set(NULL, ctx, "vm:999", &s), HL_ENOTFOUND, "vm 999 not found in the inventory");
	hl_ctx_free(ctx);
}

static void test_vault__update_keeps_and_clears(void **state)
{
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE];
	hl_ctx *ctx;
	hl_credential_spec s = HL_CREDENTIAL_SPEC_INIT;
	hl_credential *c = NULL;

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	ctx = open_ctx(&db, key, NULL, 0);
	set_pw(ctx, "vm:whisper", "ccpm", "pw1");
	s.ssh_key_path = "/home/ccpm/.ssh/id_ed25519";
	s.auth_type = "key";
	assert_int_equal(hl_vault_set(&c, ctx, "vm:whisper", &s), 0);
	assert_string_equal(c->username, "ccpm");     /* kept */
	assert_string_equal(c->ssh_key_path, "/home/ccpm/.ssh/id_ed25519");
	assert_string_equal(c->auth_type, "key");
	assert_int_equal(c->format, HL_CRED_FORMAT_V2); /* the password is kept */
	assert_null(c->password);                       /* set never returns it */
	hl_credential_free(c);
	s = (hl_credential_spec)HL_CREDENTIAL_SPEC_INIT;
	s.password = "";
	assert_int_equal(hl_vault_set(&c, ctx, "vm:whisper", &s), 0);
	assert_int_equal(c->format, HL_CRED_FORMAT_NONE);
	assert_int_equal(c->sealed, 1); /* the fields stay sealed without a password */
	hl_credential_free(c);
	assert_int_equal(hl_vault_get(&c, ctx, "vm:whisper", NULL), 0);
	assert_null(c->password);
	hl_credential_free(c);
	/* key-only credential on a new target gets auth_type key */
	s = (hl_credential_spec)HL_CREDENTIAL_SPEC_INIT;
	s.ssh_key_path = "/k";
	assert_int_equal(hl_vault_set(&c, ctx, "host:pve", &s), 0);
	assert_string_equal(c->auth_type, "key");
	hl_credential_free(c);
	s.auth_type = "Bad Type";
	tu_assert_error(hl_vault_set(NULL, ctx, "host:pve", &s), HL_EINVALID, "auth_type");
	hl_ctx_free(ctx);
}

static void test_vault__list_never_has_secrets(void **state)
{
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE];
	hl_ctx *ctx, *locked;
	hl_credential_array *list = NULL;

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	ctx = open_ctx(&db, key, NULL, 0);
	set_pw(ctx, "vm:whisper", "ccpm", "pw1");
	set_pw(ctx, "host:pve", "root", "pw2");
	hl_ctx_free(ctx);

	locked = open_ctx(&db, NULL, NULL, 0); /* list needs no key */
	assert_int_equal(hl_vault_list(&list, locked, NULL), 0);
	assert_int_equal(list->count, 2);
	assert_string_equal(list->items[0]->target_type, "host");
	assert_string_equal(list->items[0]->target_name, "pve");
	assert_string_equal(list->items[1]->target_name, "whisper");
	for (size_t i = 0; i < list->count; i++) {
		assert_null(list->items[i]->password);
		assert_int_equal(list->items[i]->format, HL_CRED_FORMAT_V2);
	}
	hl_credential_array_free(list);
	assert_int_equal(hl_vault_list(&list, locked, "vm"), 0);
	assert_int_equal(list->count, 1);
	hl_credential_array_free(list);
	tu_assert_error(hl_vault_list(&list, locked, "disk"), HL_EINVALID, "must be vm, host or service");
	/* listing is not a read of a secret: no audit row */
	assert_string_equal(count(db, "action = 'credential_read'"), "0");
	hl_ctx_free(locked);
}

static void test_vault__remove(void **state)
{
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE];
	hl_ctx *ctx;
	hl_credential *c = NULL;

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	ctx = open_ctx(&db, key, NULL, 0);
	set_pw(ctx, "vm:whisper", "ccpm", "pw1");
	assert_int_equal(hl_vault_remove(ctx, "vm:whisper"), 0);
	tu_assert_error(hl_vault_get(&c, ctx, "vm:whisper", NULL), HL_ENOTFOUND, "no credentials stored");
	tu_assert_error(hl_vault_remove(ctx, "vm:whisper"), HL_ENOTFOUND, "no credentials stored for vm:whisper");
	assert_string_equal(count(db, "action = 'credential_delete'"), "1");
	assert_string_equal(count(db, "action = 'credential_set' AND details NOT LIKE '%pw1%'"), "1");
	hl_ctx_free(ctx);
}

/* -------------------------------------------------- locked, wrong key --- */

static void test_vault__locked(void **state)
{
	const char *db = NULL;
	hl_ctx *ctx;
	hl_credential *c = NULL;
	hl_credential_spec s = HL_CREDENTIAL_SPEC_INIT;

	(void)state;
	unsetenv("HOMELAB_DB_KEY");
	ctx = open_ctx(&db, NULL, NULL, 0);
	tu_assert_error(hl_vault_get(&c, ctx, "vm:whisper", NULL), HL_ELOCKED, "vault locked: no key");
	assert_null(c);
	tu_assert_error(hl_vault_unlock(ctx), HL_ELOCKED, "vault locked");
	s.password = "x";
	tu_assert_error(hl_vault_set(NULL, ctx, "vm:whisper", &s), HL_ELOCKED, "vault locked");
	tu_assert_error(hl_vault_migrate(ctx, NULL), HL_ELOCKED, "vault locked");
	/* the refusal is audited */
	assert_string_equal(count(db, "action = 'credential_read' AND result = 'refused' AND target_type = 'vm' "
	                          "AND target_id = '101' AND user = 'tester' AND ip_address = 'local' "
	                          "AND details LIKE 'vault locked%'"), "1");
	hl_ctx_free(ctx);
}

static void test_vault__key_from_environment_and_file(void **state)
{
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE], spec[600], *pw;
	hl_ctx *ctx;
	FILE *f;
	const char *path = tu_path("env.key");

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	setenv("HOMELAB_DB_KEY", key, 1);
	ctx = open_ctx(&db, NULL, NULL, 0);
	set_pw(ctx, "vm:whisper", "u", "from-env");
	hl_ctx_free(ctx);

	f = fopen(path, "w");
	fprintf(f, "%s\n", key);
	fclose(f);
	chmod(path, 0600);
	snprintf(spec, sizeof(spec), "file:%s", path);
	setenv("HOMELAB_DB_KEY", spec, 1);
	ctx = open_ctx(&db, NULL, NULL, 0);
	assert_string_equal((pw = get_pw(ctx, "vm:whisper")), "from-env");
	free(pw);
	hl_ctx_free(ctx);

	chmod(path, 0604);
	ctx = open_ctx(&db, NULL, NULL, 0);
	tu_assert_error(hl_vault_unlock(ctx), HL_EINVALID, "accessible by group or others");
	hl_ctx_free(ctx);
	setenv("HOMELAB_DB_KEY", "garbage", 1);
	ctx = open_ctx(&db, NULL, NULL, 0);
	tu_assert_error(hl_vault_unlock(ctx), HL_EINVALID, "HOMELAB_DB_KEY is not a valid key");
	assert_null(strstr(hl_error_last()->message, "garbage"));
	hl_ctx_free(ctx);
	unsetenv("HOMELAB_DB_KEY");
}

static void test_vault__wrong_key(void **state)
{
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE], other[HL_VAULT_KEY_TEXT_SIZE];
	hl_ctx *ctx;
	hl_credential *c = NULL;

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	hl_vault_keygen(other, sizeof(other));
	ctx = open_ctx(&db, key, NULL, 0);
	set_pw(ctx, "vm:whisper", "ccpm", "pw");
	hl_ctx_free(ctx);
	ctx = open_ctx(&db, other, NULL, 0);
	tu_assert_error(hl_vault_get(&c, ctx, "vm:whisper", NULL), HL_EAUTH, "wrong key: it was encrypted under key");
	assert_null(c);
	assert_string_equal(count(db, "action = 'credential_read' AND result = 'failed' AND details LIKE '%wrong key%'"),
	                    "1");
	hl_ctx_free(ctx);
}

/* Swap two columns' values between the rows of two targets. */
static void swap_ciphertexts(const char *db, int64_t a, int64_t b)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
	         "CREATE TEMP TABLE t AS SELECT target_id, password_encrypted FROM credentials;"
	         "UPDATE credentials SET password_encrypted = (SELECT password_encrypted FROM t WHERE target_id = %lld) "
	         "WHERE target_id = %lld;"
	         "UPDATE credentials SET password_encrypted = (SELECT password_encrypted FROM t WHERE target_id = %lld) "
	         "WHERE target_id = %lld;",
	         (long long)b, (long long)a, (long long)a, (long long)b);
	tu_sql(db, sql);
}

static void test_vault__swapped_ciphertexts_refused(void **state)
{
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE];
	hl_ctx *ctx;
	hl_credential *c = NULL;

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	ctx = open_ctx(&db, key, NULL, 0);
	set_pw(ctx, "vm:whisper", "ccpm", "whisper-pw");
	set_pw(ctx, "vm:harbor", "ccpm", "harbor-pw");
	hl_ctx_free(ctx);
	swap_ciphertexts(db, 101, 102);
	ctx = open_ctx(&db, key, NULL, 0);
	tu_assert_error(hl_vault_get(&c, ctx, "vm:whisper", NULL), HL_EINTEGRITY,
	                "credential vm:whisper (id 1): the row failed its integrity check: its username, ssh_key_path, "
	                "auth_type, target or id were changed outside libhomelab, or its sealed value was altered or "
	                "moved here from another row");
	assert_null(c);
	tu_assert_error(hl_vault_get(&c, ctx, "vm:harbor", NULL), HL_EINTEGRITY, "moved here from another row");
	/* a flipped character */
	tu_sql(db, "UPDATE credentials SET password_encrypted = substr(password_encrypted, 1, 20) || "
	           "CASE substr(password_encrypted, 21, 1) WHEN 'A' THEN 'B' ELSE 'A' END || "
	           "substr(password_encrypted, 22) WHERE target_id = 102");
	swap_ciphertexts(db, 101, 102); /* whisper gets its own back; harbor the flipped one */
	tu_assert_error(hl_vault_get(&c, ctx, "vm:whisper", NULL), HL_EINTEGRITY, "integrity");
	tu_sql(db, "UPDATE credentials SET password_encrypted = substr(password_encrypted, 1, 30) "
	           "WHERE target_id = 102");
	tu_assert_error(hl_vault_get(&c, ctx, "vm:harbor", NULL), HL_ECORRUPT, "the stored value is truncated");
	hl_ctx_free(ctx);
}

/* ------------------------------------------------------- legacy rows --- */

/* A legacy row as the Python server wrote it (no key_id, no updated_at). */
static void put_legacy(const char *db, const char *type, int64_t id, const char *user, const char *token)
{
	char sql[2048];

	snprintf(sql, sizeof(sql), "INSERT INTO credentials (target_type, target_id, username, password_encrypted, "
	         "auth_type) VALUES ('%s', %lld, '%s', '%s', 'password')", type, (long long)id, user, token);
	tu_sql(db, sql);
}

static void test_vault__legacy_fernet_rows(void **state)
{
	const char *db = NULL;
	struct ff_token all[16];
	size_t n = ff_tokens(all, 16);
	hl_ctx *ctx;
	hl_credential *c = NULL;

	(void)state;
	ctx = open_ctx(&db, ff_key("a"), NULL, 0);
	/* one legacy row per fixture token, on VMs 101, 102, 103, ... */
	for (size_t i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "legacy%zu", i);
		if (i >= 3)
			assert_int_equal(hl_vm_add(NULL, ctx, &(hl_vm_spec){ .version = HL_VM_SPEC_VERSION,
			                                                     .vm_id = (int64_t)(101 + i), .name = name }), 0);
		put_legacy(db, "vm", (int64_t)(101 + i), "ccpm", all[i].token);
	}
	for (size_t i = 0; i < n; i++) {
		char target[32];
		snprintf(target, sizeof(target), "vm:%zu", 101 + i);
		if (hl_vault_get(&c, ctx, target, NULL) != 0)
			fail_msg("%s (%s): %s", target, all[i].name, hl_error_last()->message);
		assert_int_equal(c->format, HL_CRED_FORMAT_FERNET);
		assert_null(c->key_id);
		assert_int_equal(c->password_len, all[i].plain_len);
		assert_memory_equal(c->password, all[i].plain, all[i].plain_len);
		hl_credential_free(c);
	}
	hl_ctx_free(ctx);
}

static void test_vault__legacy_errors_are_distinct(void **state)
{
	const char *db = NULL;
	const struct ff_token *good = ff_token("short"), *other = ff_token("long");
	char tampered[1024], truncated[1024];
	hl_ctx *ctx;
	hl_credential *c = NULL;

	(void)state;
	snprintf(tampered, sizeof(tampered), "%s", other->token);
	tampered[100] = tampered[100] == 'A' ? 'B' : 'A';
	snprintf(truncated, sizeof(truncated), "%.*s", (int)strlen(good->token) - 12, good->token);
	ctx = open_ctx(&db, ff_key("a"), NULL, 0);
	put_legacy(db, "vm", 101, "ccpm", good->token);
	put_legacy(db, "vm", 102, "ccpm", tampered);
	put_legacy(db, "vm", 103, "ccpm", truncated);
	/* the right key: a tampered token is an integrity error, a cut one is damaged */
	tu_assert_error(hl_vault_get(&c, ctx, "vm:harbor", NULL), HL_EINTEGRITY,
	                "credential vm:harbor (id 2): Fernet token failed its HMAC-SHA256 check");
	tu_assert_error(hl_vault_get(&c, ctx, "vm:sandbox", NULL), HL_ECORRUPT,
	                "credential vm:sandbox (id 3): Fernet token is truncated");
	assert_null(c);
	hl_ctx_free(ctx);
	/* a wrong key: no stored token verifies under it */
	ctx = open_ctx(&db, ff_key("b"), NULL, 0);
	tu_assert_error(hl_vault_get(&c, ctx, "vm:whisper", NULL), HL_EAUTH,
	                "credential vm:whisper (id 1): wrong key: the legacy Fernet token does not verify");
	tu_assert_error(hl_vault_get(&c, ctx, "vm:harbor", NULL), HL_EAUTH, "wrong key");
	hl_ctx_free(ctx);
}

static void test_vault__migrate(void **state)
{
	const char *db = NULL;
	const struct ff_token *t1 = ff_token("short"), *t2 = ff_token("utf8");
	hl_ctx *ctx;
	hl_credential *c = NULL;
	size_t n = 99;
	char *pw;

	(void)state;
	ctx = open_ctx(&db, ff_key("a"), NULL, 0);
	put_legacy(db, "vm", 101, "ccpm", t1->token);
	put_legacy(db, "host", 1, "root", t2->token);
	set_pw(ctx, "vm:harbor", "ccpm", "already-new");
	/* a vault of older rows keeps their format for new ones until it is migrated */
	assert_string_equal(tu_sql_text(db, "SELECT substr(password_encrypted, 1, 4) FROM credentials "
	                                "WHERE target_id = 102"), "hl1:");
	assert_int_equal(hl_vault_migrate(ctx, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM credentials WHERE password_encrypted LIKE 'hl2:%' "
	                                "AND key_id IS NOT NULL"), "3");
	assert_string_equal((pw = get_pw(ctx, "vm:whisper")), "hunter2");
	free(pw);
	assert_int_equal(hl_vault_get(&c, ctx, "host:pve", NULL), 0);
	assert_int_equal(c->format, HL_CRED_FORMAT_V2);
	assert_memory_equal(c->password, t2->plain, t2->plain_len);
	hl_credential_free(c);
	assert_string_equal((pw = get_pw(ctx, "vm:harbor")), "already-new");
	free(pw);
	assert_int_equal(hl_vault_migrate(ctx, &n), 0);
	assert_int_equal(n, 0);
	assert_string_equal(count(db, "action = 'vault_migrate'"), "2");
	hl_ctx_free(ctx);
}

static void test_vault__migrate_is_all_or_nothing(void **state)
{
	const char *db = NULL;
	const struct ff_token *t1 = ff_token("short"), *t2 = ff_token("long");
	char bad[1024];
	hl_ctx *ctx;

	(void)state;
	snprintf(bad, sizeof(bad), "%s", t2->token);
	bad[100] = bad[100] == 'A' ? 'B' : 'A';
	ctx = open_ctx(&db, ff_key("a"), NULL, 0);
	put_legacy(db, "vm", 101, "ccpm", t1->token);
	put_legacy(db, "vm", 102, "ccpm", bad);
	tu_assert_error(hl_vault_migrate(ctx, NULL), HL_EINTEGRITY, "credential vm:102 (id 2)");
	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM credentials WHERE password_encrypted LIKE 'hl2%'"), "0");
	hl_ctx_free(ctx);
}

/* ------------------------------------------------------ sealed rows --- */

/* Plain SQL on a sealed row, then a read: refused, audited as refused. */
static void expect_tamper_refused(const char *db, const char *key, const char *target, const char *sql,
                                  const char *secret)
{
	hl_ctx *ctx;
	hl_credential *c = NULL;
	char before[16];

	tu_sql(db, sql);
	snprintf(before, sizeof(before), "%s", count(db, "action = 'credential_read' AND result = 'refused'"));
	ctx = open_ctx(&db, key, NULL, 0);
	tu_assert_error(hl_vault_get(&c, ctx, target, NULL), HL_EINTEGRITY, "the row failed its integrity check: its "
	                "username, ssh_key_path, auth_type, target or id were changed outside libhomelab");
	assert_null(c);
	assert_non_null(strstr(hl_error_last()->message, target));
	if (secret)
		assert_null(strstr(hl_error_last()->message, secret));
	hl_ctx_free(ctx);
	assert_int_equal(atoi(count(db, "action = 'credential_read' AND result = 'refused'")), atoi(before) + 1);
}

static void test_vault__sealed_fields_tampered_fail_closed(void **state)
{
	static const char *const attacks[] = {
		"UPDATE credentials SET ssh_key_path = '/tmp/evil_key' WHERE target_id = 101",
		"UPDATE credentials SET username = 'root' WHERE target_id = 101",
		"UPDATE credentials SET auth_type = 'password' WHERE target_id = 101",
		"UPDATE credentials SET ssh_key_path = NULL WHERE target_id = 101",
		/* the row moved to another id (its ciphertext and fields intact) */
		"UPDATE credentials SET id = 77 WHERE target_id = 101",
	};
	char key[HL_VAULT_KEY_TEXT_SIZE];
	hl_credential_spec s = HL_CREDENTIAL_SPEC_INIT;
	hl_ctx *ctx;

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		const char *db = NULL;
		char *pw;
		ctx = open_ctx(&db, key, NULL, 0);
		s.username = "ccpm";
		s.password = "whisper-secret";
		s.ssh_key_path = "/home/ccpm/.ssh/id_ed25519";
		s.auth_type = "key";
		assert_int_equal(hl_vault_set(NULL, ctx, "vm:whisper", &s), 0);
		assert_string_equal((pw = get_pw(ctx, "vm:whisper")), "whisper-secret");
		free(pw);
		hl_ctx_free(ctx);
		expect_tamper_refused(db, key, "vm:whisper", attacks[i], "whisper-secret");
	}
	/* a credential without a password is sealed too: its key path cannot be pointed elsewhere */
	{
		const char *db = NULL;
		hl_credential *c = NULL;
		ctx = open_ctx(&db, key, NULL, 0);
		s = (hl_credential_spec)HL_CREDENTIAL_SPEC_INIT;
		s.username = "root";
		s.ssh_key_path = "/root/.ssh/pve";
		assert_int_equal(hl_vault_set(NULL, ctx, "host:pve", &s), 0);
		assert_string_equal(tu_sql_text(db, "SELECT substr(password_encrypted, 1, 5) FROM credentials"), "hl2n:");
		assert_int_equal(hl_vault_get(&c, ctx, "host:pve", NULL), 0);
		assert_null(c->password);
		assert_int_equal(c->sealed, 1);
		assert_string_equal(c->ssh_key_path, "/root/.ssh/pve");
		hl_credential_free(c);
		hl_ctx_free(ctx);
		expect_tamper_refused(db, key, "host:pve", "UPDATE credentials SET ssh_key_path = '/tmp/evil'", NULL);
		/* nor moved to another target */
		db = NULL;
		ctx = open_ctx(&db, key, NULL, 0);
		assert_int_equal(hl_vault_set(NULL, ctx, "host:pve", &s), 0);
		hl_ctx_free(ctx);
		tu_sql(db, "UPDATE credentials SET target_type = 'vm', target_id = 101");
		expect_tamper_refused(db, key, "vm:whisper", "SELECT 1", NULL);
	}
}

/* Stripping the seal (the row made to look like an older one) is refused too. */
static void test_vault__downgraded_row_refused(void **state)
{
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE], sql[1024];
	hl_ctx *ctx;
	hl_credential *c = NULL;
	hl_credential_spec s = HL_CREDENTIAL_SPEC_INIT;

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	ctx = open_ctx(&db, key, NULL, 0);
	set_pw(ctx, "vm:whisper", "ccpm", "pw1");
	set_pw(ctx, "vm:harbor", "ccpm", "pw2");
	set_pw(ctx, "host:pve", "root", "pw3"); /* stays sealed (a vault with no sealed row left looks older) */
	hl_ctx_free(ctx);
	tu_sql(db, "UPDATE credentials SET password_encrypted = NULL, key_id = NULL, ssh_key_path = '/tmp/evil', "
	           "auth_type = 'key' WHERE target_id = 101");
	ctx = open_ctx(&db, key, NULL, 0);
	tu_assert_error(hl_vault_get(&c, ctx, "vm:whisper", NULL), HL_EINTEGRITY, "credential vm:whisper (id 1) is not "
	                "sealed to its row (format none) in a vault whose rows are: it was downgraded");
	assert_null(c);
	assert_string_equal(count(db, "action = 'credential_read' AND result = 'refused' AND target_id = '101'"), "1");
	/* nor does a change through the library seal the downgraded row's fields */
	s.password = "new";
	tu_assert_error(hl_vault_set(NULL, ctx, "vm:whisper", &s), HL_EINTEGRITY, "is not sealed to its row");
	hl_ctx_free(ctx);
	/* a v1 value (bound only to its target) put in place of the sealed one */
	{
		struct hl_vault_key *k = NULL;
		char *v1 = NULL;
		assert_int_equal(hl_key__parse(&k, key, "test"), 0);
		assert_int_equal(hl_vault__seal(&v1, k, "vm", 102, "pw2", 3), 0);
		snprintf(sql, sizeof(sql), "UPDATE credentials SET password_encrypted = '%s', ssh_key_path = '/tmp/evil' "
		         "WHERE target_id = 102", v1);
		tu_sql(db, sql);
		free(v1);
		hl_key__free(k);
	}
	ctx = open_ctx(&db, key, NULL, 0);
	tu_assert_error(hl_vault_get(&c, ctx, "vm:harbor", NULL), HL_EINTEGRITY, "(format v1) in a vault whose rows are");
	hl_ctx_free(ctx);
}

/* Older rows stay readable; the vault keeps their format until migrate
 * seals all of them, rows without a password included. */
static void test_vault__older_rows_until_migrate(void **state)
{
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE], sql[1024];
	struct hl_vault_key *k = NULL;
	hl_credential_spec s = HL_CREDENTIAL_SPEC_INIT;
	hl_credential *c = NULL;
	hl_ctx *ctx;
	char *v1 = NULL, *pw;
	size_t n = 0;

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	ctx = open_ctx(&db, key, NULL, 0);
	assert_int_equal(hl_key__parse(&k, key, "test"), 0);
	assert_int_equal(hl_vault__seal(&v1, k, "vm", 101, "v1-pw", 5), 0);
	hl_key__free(k);
	snprintf(sql, sizeof(sql), "INSERT INTO credentials (target_type, target_id, username, password_encrypted, "
	         "auth_type) VALUES ('vm', 101, 'ccpm', '%s', 'password');"
	         "INSERT INTO credentials (target_type, target_id, username, ssh_key_path, auth_type) "
	         "VALUES ('host', 1, 'root', '/root/.ssh/id', 'key')", v1);
	free(v1);
	tu_sql(db, sql);
	assert_string_equal((pw = get_pw(ctx, "vm:whisper")), "v1-pw");
	free(pw);
	assert_int_equal(hl_vault_get(&c, ctx, "host:pve", NULL), 0);
	assert_int_equal(c->sealed, 0);
	assert_string_equal(c->ssh_key_path, "/root/.ssh/id");
	hl_credential_free(c);
	/* a change keeps the older format (never a vault of both kinds) */
	s.username = "ccpm2";
	assert_int_equal(hl_vault_set(NULL, ctx, "vm:whisper", &s), 0);
	assert_string_equal(tu_sql_text(db, "SELECT substr(password_encrypted, 1, 4) FROM credentials "
	                                "WHERE target_id = 101"), "hl1:");
	assert_int_equal(hl_vault_migrate(ctx, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(tu_sql_text(db, "SELECT group_concat(substr(password_encrypted, 1, instr(password_encrypted, "
	                                "':')), ',') FROM (SELECT password_encrypted FROM credentials ORDER BY rowid)"),
	                    "hl2:,hl2n:");
	assert_string_equal(count(db, "action = 'vault_migrate' AND details = '2 rows of an older format sealed'"), "1");
	assert_string_equal((pw = get_pw(ctx, "vm:whisper")), "v1-pw");
	free(pw);
	hl_ctx_free(ctx);
	expect_tamper_refused(db, key, "host:pve", "UPDATE credentials SET ssh_key_path = '/tmp/evil' "
	                      "WHERE target_type = 'host'", NULL);
}

/* hl_vault_check: the fields an SSH login uses, checked, without the password. */
static void test_vault__check_fields_without_password(void **state)
{
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE];
	hl_credential_spec s = HL_CREDENTIAL_SPEC_INIT;
	hl_credential *c = NULL;
	hl_ctx *ctx, *locked;

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	ctx = open_ctx(&db, key, NULL, 0);
	s.username = "ccpm";
	s.ssh_key_path = "/home/ccpm/.ssh/id_ed25519";
	assert_int_equal(hl_vault_set(NULL, ctx, "vm:whisper", &s), 0);
	s.password = "harbor-pw";
	assert_int_equal(hl_vault_set(NULL, ctx, "vm:harbor", &s), 0);
	assert_int_equal(hl_vault_check(&c, ctx, "vm:whisper", NULL), 0);
	assert_string_equal(c->ssh_key_path, "/home/ccpm/.ssh/id_ed25519");
	assert_int_equal(c->sealed, 1);
	assert_null(c->password);
	hl_credential_free(c);
	assert_int_equal(hl_vault_check(&c, ctx, "vm:harbor", NULL), 0);
	assert_null(c->password); /* never returned, so not audited */
	hl_credential_free(c);
	assert_string_equal(count(db, "action = 'credential_read'"), "0");
	tu_assert_error(hl_vault_check(&c, ctx, "vm:nosuch", NULL), HL_ENOTFOUND, "not found");
	tu_assert_error(hl_vault_check(NULL, ctx, "vm:whisper", NULL), HL_EINVALID, "out and ctx are required");
	locked = open_ctx(&db, NULL, NULL, 0);
	tu_assert_error(hl_vault_check(&c, locked, "vm:whisper", NULL), HL_ELOCKED, "vault locked");
	hl_ctx_free(locked);
	/* the key path pointed elsewhere with plain SQL: refused, and audited */
	tu_sql(db, "UPDATE credentials SET ssh_key_path = '/tmp/evil' WHERE target_id = 101");
	tu_assert_error(hl_vault_check(&c, ctx, "vm:whisper", NULL), HL_EINTEGRITY, "changed outside libhomelab");
	assert_null(c);
	assert_string_equal(count(db, "action = 'credential_read' AND result = 'refused'"), "1");
	tu_sql(db, "UPDATE credentials SET password_encrypted = NULL WHERE target_id = 101");
	tu_assert_error(hl_vault_check(&c, ctx, "vm:whisper", NULL), HL_EINTEGRITY, "is not sealed to its row");
	hl_ctx_free(ctx);
}

/* ----------------------------------------------------------- rotation --- */

static void test_vault__rotate_key(void **state)
{
	const char *db = NULL;
	char k1[HL_VAULT_KEY_TEXT_SIZE], k2[HL_VAULT_KEY_TEXT_SIZE], id1[17], id2[17], *pw;
	hl_ctx *ctx;
	hl_credential *c = NULL;
	size_t n = 0;

	(void)state;
	hl_vault_keygen(k1, sizeof(k1));
	hl_vault_keygen(k2, sizeof(k2));
	ctx = open_ctx(&db, ff_key("a"), NULL, 0);
	put_legacy(db, "vm", 101, "ccpm", ff_token("short")->token);
	set_pw(ctx, "vm:harbor", "ccpm", "harbor-pw");
	set_pw(ctx, "host:pve", "root", "pve-pw");
	hl_vault_key_id(id1, ctx);
	tu_assert_error(hl_vault_rotate_key(ctx, ff_key("a"), &n), HL_EINVALID, "the new key is the current key");
	tu_assert_error(hl_vault_rotate_key(ctx, "nope", &n), HL_EINVALID, "the new key is not a valid key");
	assert_int_equal(hl_vault_rotate_key(ctx, k2, &n), 0);
	assert_int_equal(n, 3);
	hl_vault_key_id(id2, ctx);
	assert_string_not_equal(id1, id2);
	/* the context now uses the new key */
	assert_string_equal((pw = get_pw(ctx, "vm:whisper")), "hunter2");
	free(pw);
	hl_ctx_free(ctx);
	/* the old key reads nothing any more; the new one everything */
	ctx = open_ctx(&db, ff_key("a"), NULL, 0);
	tu_assert_error(hl_vault_get(&c, ctx, "vm:harbor", NULL), HL_EAUTH, "wrong key");
	hl_ctx_free(ctx);
	ctx = open_ctx(&db, k2, NULL, 0);
	assert_string_equal((pw = get_pw(ctx, "vm:harbor")), "harbor-pw");
	free(pw);
	assert_string_equal((pw = get_pw(ctx, "host:pve")), "pve-pw");
	free(pw);
	assert_string_equal(tu_sql_text(db, "SELECT count(DISTINCT key_id) FROM credentials"), "1");
	assert_string_equal(count(db, "action = 'vault_rotate_key' AND details LIKE '3 rows re-encrypted from key%'"),
	                    "1");
	hl_ctx_free(ctx);
}

static void test_vault__failed_rotation_changes_nothing(void **state)
{
	const char *db = NULL;
	char k2[HL_VAULT_KEY_TEXT_SIZE], *pw, before[4096];
	hl_ctx *ctx;

	(void)state;
	hl_vault_keygen(k2, sizeof(k2));
	ctx = open_ctx(&db, ff_key("a"), NULL, 0);
	set_pw(ctx, "vm:whisper", "ccpm", "w-pw");
	set_pw(ctx, "vm:harbor", "ccpm", "h-pw");
	put_legacy(db, "vm", 103, "x", "gAAAAABtruncated");
	snprintf(before, sizeof(before), "%s", tu_sql_text(db, "SELECT group_concat(password_encrypted) FROM credentials"));
	tu_assert_error(hl_vault_rotate_key(ctx, k2, NULL), HL_ECORRUPT,
	                "nothing was changed, the old key still reads every row");
	assert_string_equal(tu_sql_text(db, "SELECT group_concat(password_encrypted) FROM credentials"), before);
	assert_string_equal((pw = get_pw(ctx, "vm:whisper")), "w-pw");
	free(pw);
	hl_ctx_free(ctx);
}

/* A rotation killed in the middle (SIGKILL during its transaction) leaves
 * every row readable with the old key. */
static void test_vault__rotation_killed_midway(void **state)
{
	const char *db = NULL;
	char k1[HL_VAULT_KEY_TEXT_SIZE], k2[HL_VAULT_KEY_TEXT_SIZE];
	hl_ctx *ctx;
	pid_t pid;
	int status, fds[2];

	(void)state;
	hl_vault_keygen(k1, sizeof(k1));
	hl_vault_keygen(k2, sizeof(k2));
	ctx = open_ctx(&db, k1, NULL, 0);
	/* enough rows that the rotation takes a while */
	for (int i = 0; i < 400; i++) {
		char name[32], pw[32];
		snprintf(name, sizeof(name), "vm%d", i);
		snprintf(pw, sizeof(pw), "pw-%d", i);
		assert_int_equal(hl_vm_add(NULL, ctx, &(hl_vm_spec){ .version = HL_VM_SPEC_VERSION,
		                                                     .vm_id = 1000 + i, .name = name }), 0);
		set_pw(ctx, name, "u", pw);
	}
	hl_ctx_free(ctx);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		hl_ctx *child = open_ctx(&db, k1, NULL, 0);
		close(fds[0]);
		if (write(fds[1], "go", 2) != 2)
			_exit(2);
		hl_vault_rotate_key(child, k2, NULL);
		_exit(0);
	}
	close(fds[1]);
	{
		char b[2];
		assert_int_equal(read(fds[0], b, 2), 2);
	}
	usleep(20000);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(fds[0]);
	/* all rows under one key: the old one if the kill came first, else the new */
	assert_string_equal(tu_sql_text(db, "SELECT count(DISTINCT key_id) FROM credentials"), "1");
	{
		hl_ctx *a = open_ctx(&db, k1, NULL, 0), *b = open_ctx(&db, k2, NULL, 0);
		hl_credential *c = NULL;
		int ra = hl_vault_get(&c, a, "vm:vm399", NULL);
		hl_credential_free(c);
		c = NULL;
		int rb = hl_vault_get(&c, b, "vm:vm399", NULL);
		hl_credential_free(c);
		print_message("rotation %s before the kill\n", rb == 0 ? "committed" : "had not committed");
		assert_true((ra == 0) != (rb == 0));
		hl_ctx_free(a);
		hl_ctx_free(b);
	}
}

/* --------------------------------------------------- fail-closed audit --- */

static void test_vault__every_read_is_audited(void **state)
{
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE];
	hl_ctx *ctx;
	hl_credential *c = NULL;
	hl_vault_access acc = HL_VAULT_ACCESS_INIT;

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	ctx = open_ctx(&db, key, NULL, 0);
	set_pw(ctx, "vm:whisper", "ccpm", "topsecret");
	acc.principal = "token:open-webui";
	acc.client_addr = "127.0.0.7";
	assert_int_equal(hl_vault_get(&c, ctx, "vm:whisper", &acc), 0);
	hl_credential_free(c);
	assert_int_not_equal(hl_vault_get(&c, ctx, "vm:harbor", &acc), 0);
	assert_int_not_equal(hl_vault_get(&c, ctx, "nosuch", &acc), 0);
	assert_string_equal(count(db, "action = 'credential_read' AND result = 'granted' AND user = 'token:open-webui' "
	                          "AND ip_address = '127.0.0.7' AND target_type = 'vm' AND target_id = '101'"), "1");
	assert_string_equal(count(db, "action = 'credential_read' AND result = 'failed'"), "2");
	/* never a secret in the log */
	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM audit_log WHERE coalesce(details, '') LIKE "
	                                "'%topsecret%'"), "0");
	hl_ctx_free(ctx);
}

static void test_vault__read_only_inventory_refuses_reads(void **state)
{
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE];
	hl_ctx *ctx;
	hl_credential *c = NULL;
	const char *before;
	char saved[32];

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	ctx = open_ctx(&db, key, NULL, 0);
	set_pw(ctx, "vm:whisper", "ccpm", "topsecret");
	hl_ctx_free(ctx);
	before = count(db, "1");
	snprintf(saved, sizeof(saved), "%s", before);
	ctx = open_ctx(&db, key, NULL, HL_CTX_READONLY);
	tu_assert_error(hl_vault_get(&c, ctx, "vm:whisper", NULL), HL_EREADONLY,
	                "credential vm:whisper not returned: the audit log could not be written: audit log");
	assert_non_null(strstr(hl_error_last()->message, "set HOMELAB_AUDIT_DB"));
	assert_null(c);
	hl_ctx_free(ctx);
	assert_string_equal(count(db, "1"), saved);
}

/* A separate audit database: the inventory may be read-only then. */
static void test_vault__separate_audit_database(void **state)
{
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE], audit[512], *pw;
	hl_ctx *ctx;

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	snprintf(audit, sizeof(audit), "%s", tu_path("separate-audit.db"));
	ctx = open_ctx(&db, key, NULL, 0);
	set_pw(ctx, "vm:whisper", "ccpm", "topsecret");
	hl_ctx_free(ctx);
	ctx = open_ctx(&db, key, audit, HL_CTX_READONLY);
	assert_string_equal(hl_audit_db_path(ctx), audit);
	assert_string_equal((pw = get_pw(ctx, "vm:whisper")), "topsecret");
	free(pw);
	hl_ctx_free(ctx);
	assert_string_equal(count(audit, "action = 'credential_read' AND result = 'granted'"), "1");
	assert_string_equal(count(db, "action = 'credential_read'"), "0");
	/* $HOMELAB_AUDIT_DB does the same */
	setenv("HOMELAB_AUDIT_DB", audit, 1);
	ctx = open_ctx(&db, key, NULL, HL_CTX_READONLY);
	free(get_pw(ctx, "vm:whisper"));
	hl_ctx_free(ctx);
	unsetenv("HOMELAB_AUDIT_DB");
	assert_string_equal(count(audit, "action = 'credential_read' AND result = 'granted'"), "2");
}

/* The audit database itself read-only: the read is refused, nothing is
 * returned. Root ignores file modes, so the check runs as nobody then. */
static void test_vault__read_only_audit_database(void **state)
{
	char key[HL_VAULT_KEY_TEXT_SIZE], dir[] = "/tmp/hl-roaudit.XXXXXX", db[600], audit[600];
	const char *dbp;
	hl_ctx *ctx;
	pid_t pid;
	int status;

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	assert_non_null(mkdtemp(dir));
	chmod(dir, 0777);
	snprintf(db, sizeof(db), "%s/inv.db", dir);
	snprintf(audit, sizeof(audit), "%s/audit.db", dir);
	dbp = db;
	ctx = open_ctx(&dbp, key, NULL, 0);
	assert_int_equal(hl_inventory_load_demo(ctx), 0);
	set_pw(ctx, "vm:whisper", "ccpm", "topsecret");
	hl_ctx_free(ctx);
	ctx = open_ctx(&dbp, key, audit, 0); /* creates the audit database */
	{
		hl_audit_event ev = HL_AUDIT_EVENT_INIT;
		ev.action = "credential_set";
		assert_int_equal(hl_audit_record(ctx, &ev), 0);
	}
	hl_ctx_free(ctx);
	chmod(db, 0666);
	chmod(audit, 0444);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		hl_credential *c = NULL;
		int rc;
		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(10);
		ctx = open_ctx(&dbp, key, audit, 0);
		rc = hl_vault_get(&c, ctx, "vm:whisper", NULL);
		if (c)
			_exit(11); /* a secret came back */
		if (rc != HL_EREADONLY || !strstr(hl_error_last()->message, "not returned: the audit log could not be "
		                                  "written: audit log") || !strstr(hl_error_last()->message, "read-only")) {
			fprintf(stderr, "unexpected: %d %s\n", rc, hl_error_last()->message);
			_exit(12);
		}
		hl_ctx_free(ctx);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(count(audit, "action = 'credential_read'"), "0");
	{
		char cmd[700];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

/* --------------------------------------------------------------- tool --- */

static void test_vault__tool(void **state)
{
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE];
	hl_ctx *ctx;
	hl_buf out = HL_BUF_INIT;
	hl_call_options o = HL_CALL_OPTIONS_INIT;
	const hl_tool *t = hl_tool_lookup("homelab_get_credentials");

	(void)state;
	assert_non_null(t);
	assert_string_equal(hl_tool_scope(t), "credentials:read");
	assert_true(hl_tool_flags(t) & HL_TOOL_AUDITED);
	assert_true(hl_tool_flags(t) & HL_TOOL_READONLY);
	hl_vault_keygen(key, sizeof(key));
	ctx = open_ctx(&db, key, NULL, 0);
	set_pw(ctx, "vm:whisper", "ccpm", "tool-pw");
	o.principal = "token:claude";
	o.client_addr = "127.0.0.9";
	assert_int_equal(hl_tool_call(&out, ctx, t, "{\"target\":\"vm:whisper\"}", &o), 0);
	assert_non_null(strstr(out.ptr, "\"password\":\"tool-pw\""));
	assert_non_null(strstr(out.ptr, "\"target\":\"vm:whisper\""));
	assert_non_null(strstr(out.ptr, "\"username\":\"ccpm\""));
	hl_buf_dispose(&out);
	assert_string_equal(count(db, "user = 'token:claude' AND ip_address = '127.0.0.9' AND result = 'granted'"), "1");
	tu_assert_error(hl_tool_call(&out, ctx, t, "{}", &o), HL_EINVALID, "target");
	hl_ctx_free(ctx);
	ctx = open_ctx(&db, NULL, NULL, 0);
	tu_assert_error(hl_tool_call(&out, ctx, t, "{\"target\":\"vm:whisper\"}", &o), HL_ELOCKED, "vault locked");
	hl_ctx_free(ctx);
}

/* ------------------------------------------------------------- format --- */

static void test_vault__v1_format(void **state)
{
	struct hl_vault_key *k = NULL;
	char *sealed = NULL, *plain = NULL, ad[96];
	size_t len;

	(void)state;
	assert_int_equal(hl_key__parse(&k, ff_key("a"), "K"), 0);
	assert_int_equal(hl_vault__ad(ad, sizeof(ad), "vm", 101), 32);
	assert_string_equal(ad, "homelab/vault/v1/vm/101/password");
	assert_int_equal(hl_vault__seal(&sealed, k, "vm", 101, "pw", 2), 0);
	assert_int_equal(strncmp(sealed, "hl1:", 4), 0);
	/* 24-byte nonce + 2 + 16-byte tag = 42 bytes = 56 base64 characters */
	assert_int_equal(strlen(sealed), 4 + 56);
	assert_int_equal(hl_vault__unseal(&plain, &len, k, "vm", 101, sealed, strlen(sealed)), 0);
	assert_string_equal(plain, "pw");
	hl_secret__free(plain);
	tu_assert_error(hl_vault__unseal(&plain, &len, k, "vm", 102, sealed, strlen(sealed)), HL_EINTEGRITY,
	                "moved here from another row");
	tu_assert_error(hl_vault__unseal(&plain, &len, k, "host", 101, sealed, strlen(sealed)), HL_EINTEGRITY, NULL);
	free(sealed);
	hl_key__free(k);
}

/* Credentials are bound to their target's id: the inventory refuses to
 * remove or renumber a target that has some, so none is orphaned or
 * inherited by a new VM with the same VMID. */
static void test_vault__targets_with_credentials_stay(void **state)
{
	const char *db = NULL;
	char key[HL_VAULT_KEY_TEXT_SIZE];
	hl_vm_spec renumber = HL_VM_SPEC_INIT;
	hl_ctx *ctx;
	char *pw;

	(void)state;
	hl_vault_keygen(key, sizeof(key));
	ctx = open_ctx(&db, key, NULL, 0);
	set_pw(ctx, "vm:whisper", "ccpm", "w");
	set_pw(ctx, "service:open-webui", "admin", "o");
	set_pw(ctx, "host:pve", "root", "p");

	tu_assert_error(hl_vm_remove(ctx, "whisper", 0), HL_EINUSE,
	                "cannot remove vm 'whisper': it (or one of its services) has stored credentials");
	tu_assert_error(hl_vm_remove(ctx, "whisper", HL_REMOVE_CASCADE), HL_EINUSE, "homelab creds rm vm:whisper");
	/* harbor has none itself, but its service open-webui has */
	tu_assert_error(hl_vm_remove(ctx, "harbor", HL_REMOVE_CASCADE), HL_EINUSE, "cannot remove vm 'harbor'");
	tu_assert_error(hl_service_remove(ctx, "open-webui"), HL_EINUSE, "cannot remove service 'open-webui'");
	renumber.vm_id = 150;
	tu_assert_error(hl_vm_update(NULL, ctx, "whisper", &renumber), HL_EINUSE, "cannot renumber vm 'whisper'");
	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM credentials WHERE target_type = 'vm' AND target_id = 101"), "1");

	/* the VMs are all still there, and the secrets still decrypt */
	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM virtual_machines"), "3");
	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM services"), "3");
	pw = get_pw(ctx, "vm:whisper");
	assert_string_equal(pw, "w");
	free(pw);

	/* once the credentials are gone, the VM goes */
	assert_int_equal(hl_vault_remove(ctx, "vm:whisper"), 0);
	assert_int_equal(hl_vm_update(NULL, ctx, "whisper", &renumber), 0);
	assert_int_equal(hl_vm_remove(ctx, "150", HL_REMOVE_CASCADE), 0);
	assert_int_equal(hl_vault_remove(ctx, "host:pve"), 0);
	tu_assert_error(hl_host_remove(ctx, "pve"), HL_EINUSE, "still has 2 vms"); /* VMs still block it */
	hl_ctx_free(ctx);
}

static void test_vault__format_names(void **state)
{
	(void)state;
	assert_string_equal(hl_cred_format_name(HL_CRED_FORMAT_NONE), "none");
	assert_string_equal(hl_cred_format_name(HL_CRED_FORMAT_FERNET), "fernet");
	assert_string_equal(hl_cred_format_name(HL_CRED_FORMAT_V1), "v1");
	assert_string_equal(hl_cred_format_name(12345), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vault__format_names),
		cmocka_unit_test(test_vault__targets_with_credentials_stay),
		cmocka_unit_test(test_vault__set_get_roundtrip),
		cmocka_unit_test(test_vault__targets),
		cmocka_unit_test(test_vault__update_keeps_and_clears),
		cmocka_unit_test(test_vault__list_never_has_secrets),
		cmocka_unit_test(test_vault__remove),
		cmocka_unit_test(test_vault__locked),
		cmocka_unit_test(test_vault__key_from_environment_and_file),
		cmocka_unit_test(test_vault__wrong_key),
		cmocka_unit_test(test_vault__swapped_ciphertexts_refused),
		cmocka_unit_test(test_vault__legacy_fernet_rows),
		cmocka_unit_test(test_vault__legacy_errors_are_distinct),
		cmocka_unit_test(test_vault__migrate),
		cmocka_unit_test(test_vault__migrate_is_all_or_nothing),
		cmocka_unit_test(test_vault__sealed_fields_tampered_fail_closed),
		cmocka_unit_test(test_vault__downgraded_row_refused),
		cmocka_unit_test(test_vault__older_rows_until_migrate),
		cmocka_unit_test(test_vault__check_fields_without_password),
		cmocka_unit_test(test_vault__rotate_key),
		cmocka_unit_test(test_vault__failed_rotation_changes_nothing),
		cmocka_unit_test(test_vault__rotation_killed_midway),
		cmocka_unit_test(test_vault__every_read_is_audited),
		cmocka_unit_test(test_vault__read_only_inventory_refuses_reads),
		cmocka_unit_test(test_vault__separate_audit_database),
		cmocka_unit_test(test_vault__read_only_audit_database),
		cmocka_unit_test(test_vault__tool),
		cmocka_unit_test(test_vault__v1_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
