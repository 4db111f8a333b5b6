/*
 * fernet.c: legacy Fernet tokens made by Python's cryptography (fixtures in
 * tests/fixtures/fernet) decrypt in C; damaged ones are refused with
 * distinct errors. Also the vault key's parsing (key.c).
 */
#include "testutil.h"
#include "support/fernet_fixtures.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fernet.h"
#include "key.h"

static struct hl_vault_key *key_of(const char *text)
{
	struct hl_vault_key *k = NULL;
	int rc = hl_key__parse(&k, text, "test key");
	if (rc != 0)
		fail_msg("hl_key__parse: %s", hl_error_last()->message);
	return k;
}

static void test_fernet__python_tokens_decrypt(void **state)
{
	struct ff_token all[16];
	size_t n = ff_tokens(all, 16);

	(void)state;
	assert_true(n >= 5);
	for (size_t i = 0; i < n; i++) {
		struct hl_vault_key *k = key_of(all[i].key);
		char *plain = NULL;
		size_t len = 99;
		int rc = hl_fernet__decrypt(&plain, &len, k->master, all[i].token, strlen(all[i].token));
		if (rc != 0)
			fail_msg("token %s: %s", all[i].name, hl_error_last()->message);
		assert_int_equal(len, all[i].plain_len);
		assert_memory_equal(plain, all[i].plain, len);
		assert_int_equal(plain[len], '\0');
		assert_int_equal(hl_fernet__verify(k->master, all[i].token, strlen(all[i].token)), 0);
		hl_secret__free(plain);
		hl_key__free(k);
	}
}

static void test_fernet__without_padding(void **state)
{
	const struct ff_token *t = ff_token("short");
	struct hl_vault_key *k = key_of(t->key);
	char tok[1024], *plain = NULL;
	size_t len;

	(void)state;
	snprintf(tok, sizeof(tok), "%s", t->token);
	while (tok[strlen(tok) - 1] == '=')
		tok[strlen(tok) - 1] = '\0';
	assert_int_equal(hl_fernet__decrypt(&plain, &len, k->master, tok, strlen(tok)), 0);
	assert_string_equal(plain, "hunter2");
	hl_secret__free(plain);
	hl_key__free(k);
}

/* Flip one base64 character at position pos to another valid one. */
static void flip(char *tok, size_t pos)
{
	tok[pos] = tok[pos] == 'A' ? 'B' : 'A';
}

static void test_fernet__tampered(void **state)
{
	const struct ff_token *t = ff_token("long");
	struct hl_vault_key *k = key_of(t->key);
	char tok[1024], *plain = (char *)1;
	size_t len;
	size_t positions[] = { 12, 40, 100, strlen(t->token) - 10 }; /* timestamp, IV, ciphertext, HMAC */

	(void)state;
	for (size_t i = 0; i < sizeof(positions) / sizeof(positions[0]); i++) {
		snprintf(tok, sizeof(tok), "%s", t->token);
		flip(tok, positions[i]);
		tu_assert_error(hl_fernet__decrypt(&plain, &len, k->master, tok, strlen(tok)), HL_EINTEGRITY,
		                "failed its HMAC-SHA256 check");
		assert_null(plain);
	}
	hl_key__free(k);
}

static void test_fernet__wrong_key(void **state)
{
	const struct ff_token *t = ff_token("short");
	struct hl_vault_key *k = key_of(ff_key("b"));
	char *plain = (char *)1;
	size_t len;

	(void)state;
	tu_assert_error(hl_fernet__decrypt(&plain, &len, k->master, t->token, strlen(t->token)), HL_EINTEGRITY,
	                "a wrong key, or the token was altered");
	assert_null(plain);
	tu_assert_error(hl_fernet__verify(k->master, t->token, strlen(t->token)), HL_EINTEGRITY, "HMAC");
	hl_key__free(k);
}

static void test_fernet__truncated(void **state)
{
	const struct ff_token *t = ff_token("long");
	struct hl_vault_key *k = key_of(t->key);
	char tok[1024], *plain = (char *)1;
	size_t len;

	(void)state;
	/* cut inside the HMAC: the ciphertext no longer fills whole blocks */
	snprintf(tok, sizeof(tok), "%.*s", (int)strlen(t->token) - 12, t->token);
	tu_assert_error(hl_fernet__decrypt(&plain, &len, k->master, tok, strlen(tok)), HL_ECORRUPT,
	                "Fernet token is truncated (its ciphertext is");
	assert_null(plain);
	/* shorter than any token */
	snprintf(tok, sizeof(tok), "%.40s", t->token);
	tu_assert_error(hl_fernet__decrypt(&plain, &len, k->master, tok, strlen(tok)), HL_ECORRUPT,
	                "Fernet token is truncated (30 bytes, at least 73 needed)");
	tu_assert_error(hl_fernet__decrypt(&plain, &len, k->master, "", 0), HL_ECORRUPT, "truncated");
	hl_key__free(k);
}

static void test_fernet__not_a_token(void **state)
{
	const struct ff_token *t = ff_token("short");
	struct hl_vault_key *k = key_of(t->key);
	char tok[1024], *plain = NULL;
	size_t len;

	(void)state;
	tu_assert_error(hl_fernet__decrypt(&plain, &len, k->master, "not base64!", 11), HL_ECORRUPT,
	                "not a Fernet token (invalid URL-safe base64)");
	snprintf(tok, sizeof(tok), "%s", t->token);
	tok[0] = 'A'; /* version byte 0x00 */
	tu_assert_error(hl_fernet__decrypt(&plain, &len, k->master, tok, strlen(tok)), HL_ECORRUPT,
	                "version byte 0x00, expected 0x80");
	assert_true(hl_fernet__looks_like(t->token, strlen(t->token)));
	assert_false(hl_fernet__looks_like("hl1:abc", 7));
	hl_key__free(k);
}

/* ------------------------------------------------------------ keys --- */

static void test_key__parse(void **state)
{
	struct hl_vault_key *k = NULL, *k2 = NULL;
	char text[HL_VAULT_KEY_TEXT_SIZE], nopad[HL_VAULT_KEY_TEXT_SIZE];

	(void)state;
	assert_int_equal(hl_vault_keygen(text, sizeof(text)), 0);
	assert_int_equal(strlen(text), 44);
	assert_int_equal(text[43], '=');
	assert_int_equal(hl_key__parse(&k, text, "K"), 0);
	assert_int_equal(strlen(k->id), 16);
	/* the same key without padding, and with a trailing newline */
	snprintf(nopad, sizeof(nopad), "%.43s", text);
	assert_int_equal(hl_key__parse(&k2, nopad, "K"), 0);
	assert_string_equal(k->id, k2->id);
	assert_memory_equal(k->master, k2->master, 32);
	/* subkeys differ from the master key and from each other */
	assert_memory_not_equal(k->aead, k->master, 32);
	hl_key__free(k2);
	hl_key__free(k);
	tu_assert_error(hl_vault_keygen(text, 44), HL_EINVALID, "needs 45 bytes");
}

static void test_key__invalid_never_echoed(void **state)
{
	struct hl_vault_key *k = NULL;
	const char *bad[] = { "c2VjcmV0LWtleS10aGF0LWlzLXRvby1zaG9ydA==", "short", "",
	                      "iiQkBwoTIWrDR7wxbAfIB4ysDopYVENFRr+Xwv1R0Nk=" /* standard, not URL-safe */,
	                      "iiQkBwoTIWrDR7wxbAfIB4ysDopYVENFRr_Xwv1R0Nk=x" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tu_assert_error(hl_key__parse(&k, bad[i], "HOMELAB_DB_KEY"), HL_EINVALID,
		                "HOMELAB_DB_KEY is not a valid key: expected 32 bytes in URL-safe base64");
		assert_null(k);
		if (*bad[i])
			assert_null(strstr(hl_error_last()->message, bad[i]));
	}
}

static void test_key__file(void **state)
{
	struct hl_vault_key *k = NULL, *direct = NULL;
	char spec[600], text[HL_VAULT_KEY_TEXT_SIZE];
	const char *path = tu_path("vault.key");
	FILE *f;

	(void)state;
	assert_int_equal(hl_vault_keygen(text, sizeof(text)), 0);
	f = fopen(path, "w");
	fprintf(f, "%s\n", text);
	fclose(f);
	snprintf(spec, sizeof(spec), "file:%s", path);

	chmod(path, 0644);
	tu_assert_error(hl_key__parse(&k, spec, "HOMELAB_DB_KEY"), HL_EINVALID,
	                "is accessible by group or others (mode 644); refusing it: chmod 600");
	chmod(path, 0640);
	tu_assert_error(hl_key__parse(&k, spec, "HOMELAB_DB_KEY"), HL_EINVALID, "mode 640");
	chmod(path, 0600);
	assert_int_equal(hl_key__parse(&k, spec, "HOMELAB_DB_KEY"), 0);
	assert_int_equal(hl_key__parse(&direct, text, "K"), 0);
	assert_string_equal(k->id, direct->id);
	hl_key__free(k);
	hl_key__free(direct);

	tu_assert_error(hl_key__parse(&k, "file:/nonexistent/vault.key", "HOMELAB_DB_KEY"), HL_ENOTFOUND,
	                "cannot open key file /nonexistent/vault.key");
	f = fopen(path, "w");
	fprintf(f, "not a key\n");
	fclose(f);
	tu_assert_error(hl_key__parse(&k, spec, "HOMELAB_DB_KEY"), HL_EINVALID, "does not hold a valid key");
	assert_null(strstr(hl_error_last()->message, "not a key"));
	tu_assert_error(hl_key__parse(&k, "file:", "HOMELAB_DB_KEY"), HL_EINVALID, "file: needs a path");
}

static void test_key__in_guarded_memory(void **state)
{
	struct hl_vault_key *k = NULL;
	char text[HL_VAULT_KEY_TEXT_SIZE];

	(void)state;
	assert_int_equal(hl_vault_keygen(text, sizeof(text)), 0);
	assert_int_equal(hl_key__parse(&k, text, "K"), 0);
	/* sodium_malloc places the allocation right before a guard page; the
	 * key is mprotect'ed read-only: both are libsodium's, so only check that
	 * hl_key__free accepts it and NULL. */
	hl_key__free(k);
	hl_key__free(NULL);
	sodium_memzero(text, sizeof(text));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fernet__python_tokens_decrypt),
		cmocka_unit_test(test_fernet__without_padding),
		cmocka_unit_test(test_fernet__tampered),
		cmocka_unit_test(test_fernet__wrong_key),
		cmocka_unit_test(test_fernet__truncated),
		cmocka_unit_test(test_fernet__not_a_token),
		cmocka_unit_test(test_key__parse),
		cmocka_unit_test(test_key__invalid_never_echoed),
		cmocka_unit_test(test_key__file),
		cmocka_unit_test(test_key__in_guarded_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
