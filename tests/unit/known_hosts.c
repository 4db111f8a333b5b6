/*
 * known_hosts.c: hl_ssh_trust() on known_hosts files as people and programs
 * leave them: comments, markers, hashed names, [host]:port entries, CRLF,
 * no final newline, lines that are not entries, binary junk. No server is
 * needed: the host key record is filled here as hl_ssh_host_key_get() would.
 */
#include "testutil.h"

#include <libssh/libssh.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* "ssh-ed25519 AAAA..." of a new key. */
static void new_key(char *out, size_t size)
{
	ssh_key k = NULL;
	char *b64 = NULL;

	assert_int_equal(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &k), SSH_OK);
	assert_int_equal(ssh_pki_export_pubkey_base64(k, &b64), SSH_OK);
	snprintf(out, size, "ssh-ed25519 %s", b64);
	ssh_string_free_char(b64);
	ssh_key_free(k);
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

/* A host key record for [127.0.0.1]:2222 with key `key`. */
static hl_ssh_host_key *record(const char *kh, const char *key)
{
	static char entry[512], path[512];
	static hl_ssh_host_key k;

	snprintf(entry, sizeof(entry), "[127.0.0.1]:2222 %s", key);
	snprintf(path, sizeof(path), "%s", kh);
	memset(&k, 0, sizeof(k));
	k.target = NULL; /* no target: nothing to forget */
	k.host = (char *)"127.0.0.1";
	k.port = 2222;
	k.key_type = (char *)"ssh-ed25519";
	k.entry = entry;
	k.known_hosts_path = path;
	return &k;
}

/* ssh-keygen -H: the file's names hashed, as HashKnownHosts leaves them. */
static void hash_file(const char *path)
{
	char cmd[1024], old[600];

	snprintf(cmd, sizeof(cmd), "ssh-keygen -q -H -f '%s' >/dev/null 2>&1", path);
	assert_int_equal(system(cmd), 0);
	snprintf(old, sizeof(old), "%s.old", path);
	remove(old);
}

static void test_known_hosts__append_to_missing_file_and_dir(void **state)
{
	hl_ctx *ctx = *state;
	char key[200], path[512], *text;

	new_key(key, sizeof(key));
	snprintf(path, sizeof(path), "%s/newdir/known_hosts", tu_tmpdir());
	assert_int_equal(hl_ssh_trust(ctx, record(path, key), 0), 0);
	text = tu_read_file(path, NULL);
	assert_non_null(strstr(text, "[127.0.0.1]:2222 ssh-ed25519 "));
	assert_int_equal(text[strlen(text) - 1], '\n');
	free(text);
	/* the same key again: nothing added */
	assert_int_equal(hl_ssh_trust(ctx, record(path, key), 0), 0);
	text = tu_read_file(path, NULL);
	assert_null(strstr(strstr(text, "2222") + 4, "2222"));
	free(text);
}

static void test_known_hosts__no_final_newline(void **state)
{
	hl_ctx *ctx = *state;
	char key[200], other[200], text[600], path[512], *got;

	new_key(key, sizeof(key));
	new_key(other, sizeof(other));
	snprintf(path, sizeof(path), "%s/kh_nonl", tu_tmpdir());
	snprintf(text, sizeof(text), "example.invalid %s", other);
	write_file(path, text, strlen(text));
	assert_int_equal(hl_ssh_trust(ctx, record(path, key), 0), 0);
	got = tu_read_file(path, NULL);
	/* the old last line stays whole; the new entry is a line of its own */
	assert_true(!strncmp(got, text, strlen(text)) && got[strlen(text)] == '\n');
	assert_non_null(strstr(got, "\n[127.0.0.1]:2222 ssh-ed25519 "));
	free(got);
}

static void test_known_hosts__changed_key_needs_replace(void **state)
{
	hl_ctx *ctx = *state;
	char key[200], old[200], keep[1200], path[512], text[4096], *got, *before;
	struct stat sb;

	new_key(key, sizeof(key));
	new_key(old, sizeof(old));
	snprintf(path, sizeof(path), "%s/kh_changed", tu_tmpdir());
	snprintf(keep, sizeof(keep),
	         "# my hosts\r\n"
	         "\n"
	         "@cert-authority *.example.invalid %s\n"
	         "not an entry at all\n"
	         "example.invalid,10.0.0.1 %s\n"
	         "[127.0.0.1]:2223 %s\n",
	         old, old, old);
	snprintf(text, sizeof(text), "%s[127.0.0.1]:2222 %s\n", keep, old);
	write_file(path, text, strlen(text));
	chmod(path, 0640);
	before = tu_read_file(path, NULL);
	tu_assert_error(hl_ssh_trust(ctx, record(path, key), 0), HL_EEXISTS, "already holds another key");
	got = tu_read_file(path, NULL);
	assert_string_equal(got, before);
	free(got);
	assert_int_equal(hl_ssh_trust(ctx, record(path, key), HL_SSH_TRUST_REPLACE), 0);
	got = tu_read_file(path, NULL);
	/* every other line kept, byte for byte and in order; the old entry gone */
	assert_true(!strncmp(got, keep, strlen(keep)));
	assert_non_null(strstr(got + strlen(keep), key));
	assert_null(strstr(got + strlen(keep), old));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);
	free(got);
	free(before);
}

static void test_known_hosts__hashed_entry_replaced(void **state)
{
	hl_ctx *ctx = *state;
	char key[200], old[200], path[512], text[1024], *got;

	new_key(key, sizeof(key));
	new_key(old, sizeof(old));
	snprintf(path, sizeof(path), "%s/kh_hashed", tu_tmpdir());
	snprintf(text, sizeof(text), "[127.0.0.1]:2222 %s\nother.invalid %s\n", old, old);
	write_file(path, text, strlen(text));
	hash_file(path);
	got = tu_read_file(path, NULL);
	assert_true(!strncmp(got, "|1|", 3));
	free(got);
	tu_assert_error(hl_ssh_trust(ctx, record(path, key), 0), HL_EEXISTS, "another key");
	assert_int_equal(hl_ssh_trust(ctx, record(path, key), HL_SSH_TRUST_REPLACE), 0);
	got = tu_read_file(path, NULL);
	/* the hashed line of the other host stays, the target's is gone */
	assert_true(!strncmp(got, "|1|", 3));
	assert_non_null(strstr(got, key));
	assert_non_null(strchr(got, '\n'));
	assert_null(strstr(strchr(got, '\n') + 1, "|1|"));
	free(got);
}

static void test_known_hosts__binary_junk(void **state)
{
	hl_ctx *ctx = *state;
	char key[200], path[512];
	unsigned char junk[4096];
	size_t len;
	char *got;

	new_key(key, sizeof(key));
	snprintf(path, sizeof(path), "%s/kh_junk", tu_tmpdir());
	srand(7);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)rand();
	memcpy(junk + 100, "\n[127.0.0.1]:2222 ssh-ed25519 !!notbase64!!\n|1|x|y ssh-rsa \n", 60);
	write_file(path, (const char *)junk, sizeof(junk));
	/* nothing in it parses as a key for the host: trusted by appending */
	assert_int_equal(hl_ssh_trust(ctx, record(path, key), HL_SSH_TRUST_REPLACE), 0);
	got = tu_read_file(path, &len);
	assert_true(len > sizeof(junk));
	assert_memory_equal(got, junk, 100);
	free(got);
}

static void test_known_hosts__bad_records(void **state)
{
	hl_ctx *ctx = *state;
	hl_ssh_host_key *k;
	char path[512];

	snprintf(path, sizeof(path), "%s/kh_bad", tu_tmpdir());
	k = record(path, "ssh-ed25519 AAAA");
	tu_assert_error(hl_ssh_trust(ctx, k, 0), HL_EINVALID, "does not name");
	k = record(path, "not a key");
	k->entry = (char *)"[127.0.0.2]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA";
	tu_assert_error(hl_ssh_trust(ctx, k, 0), HL_EINVALID, "does not name");
	tu_assert_error(hl_ssh_trust(ctx, NULL, 0), HL_EINVALID, "required");
}

static int setup(void **state)
{
	*state = tu_open(":memory:");
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	hl_ctx_free(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_known_hosts__append_to_missing_file_and_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_known_hosts__no_final_newline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_known_hosts__changed_key_needs_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_known_hosts__hashed_entry_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_known_hosts__binary_junk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_known_hosts__bad_records, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	tu_tmpdir_cleanup();
	return rc;
}
