/*
 * key.c: the vault key. It is read from an option, $HOMELAB_DB_KEY or a
 * key file, checked, and turned into subkeys with crypto_kdf (BLAKE2b):
 * one for credential encryption, one for the key's public fingerprint.
 * Every copy of key material lives in sodium_malloc'd memory and is wiped
 * when freed; the text of a key never appears in an error message.
 */
#include "key.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_status = -1;

static void sodium_start(void)
{
	sodium_status = sodium_init() < 0 ? -1 : 0;
}

int hl_sodium__init(void)
{
	pthread_once(&sodium_once, sodium_start);
	if (sodium_status < 0)
		return hl__err(HL_ERROR, HL_ERROR_VAULT, "libsodium could not be initialised");
	return 0;
}

char *hl_secret__strndup(const char *s, size_t n)
{
	char *p;

	if (hl_sodium__init() < 0)
		return NULL;
	if (!(p = sodium_malloc(n + 1))) {
		hl__oom();
		return NULL;
	}
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *hl_secret__alloc(size_t n)
{
	char *p;

	if (hl_sodium__init() < 0)
		return NULL;
	if (!(p = sodium_malloc(n + 1))) {
		hl__oom();
		return NULL;
	}
	sodium_memzero(p, n + 1);
	return p;
}

void hl_secret__free(void *p)
{
	if (p)
		sodium_free(p); /* wipes the memory before releasing it */
}

void hl_key__free(struct hl_vault_key *key)
{
	hl_secret__free(key);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Decode 44 (or 43, unpadded) characters of URL-safe base64 into 32 bytes. */
static int decode_key(unsigned char out[HL_KEY_BYTES], const char *text, size_t len, const char *what)
{
	size_t n = 0;
	const char *end = NULL;
	int variant;

	while (len && is_space(text[len - 1]))
		len--;
	while (len && is_space(*text)) {
		text++;
		len--;
	}
	variant = len == 44 ? sodium_base64_VARIANT_URLSAFE : sodium_base64_VARIANT_URLSAFE_NO_PADDING;
	if ((len != 44 && len != 43) ||
	    sodium_base642bin(out, HL_KEY_BYTES, text, len, NULL, &n, &end, variant) != 0 ||
	    n != HL_KEY_BYTES || end != text + len) {
		sodium_memzero(out, HL_KEY_BYTES);
		return hl__err(HL_EINVALID, HL_ERROR_VAULT, "%s is not a valid key: expected 32 bytes in URL-safe "
		               "base64 (44 characters, as `homelab creds keygen` prints), or file:PATH", what);
	}
	return 0;
}

/* Read a key file into sodium memory, refusing one that others may read. */
static int read_key_file(unsigned char out[HL_KEY_BYTES], const char *path, const char *what)
{
	enum { MAX = 256 };
	struct stat sb;
	char *text = NULL;
	ssize_t got;
	size_t len = 0;
	int fd, err;

	if (!*path)
		return hl__err(HL_EINVALID, HL_ERROR_VAULT, "%s: file: needs a path", what);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return hl__err(errno == ENOENT ? HL_ENOTFOUND : HL_ERROR, HL_ERROR_OS, "%s: cannot open key file %s: %s",
		               what, path, strerror(errno));
	/* fstat on the open file, so the checked file is the one read. */
	if (fstat(fd, &sb) < 0) {
		err = hl__err(HL_ERROR, HL_ERROR_OS, "%s: cannot stat key file %s: %s", what, path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		err = hl__err(HL_EINVALID, HL_ERROR_VAULT, "%s: key file %s is not a regular file", what, path);
		goto out;
	}
	if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
		err = hl__err(HL_EINVALID, HL_ERROR_VAULT, "%s: key file %s is accessible by group or others "
		              "(mode %03o); refusing it: chmod 600 %s", what, path, (unsigned)(sb.st_mode & 0777), path);
		goto out;
	}
	if (!(text = hl_secret__alloc(MAX))) {
		err = HL_ENOMEM;
		goto out;
	}
	while (len < MAX && (got = read(fd, text + len, MAX - len)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			err = hl__err(HL_ERROR, HL_ERROR_OS, "%s: cannot read key file %s: %s", what, path, strerror(errno));
			goto out;
		}
		len += (size_t)got;
	}
	err = decode_key(out, text, len, what);
	if (err < 0)
		err = hl__err(HL_EINVALID, HL_ERROR_VAULT, "%s: key file %s does not hold a valid key: expected 32 bytes "
		              "in URL-safe base64 (44 characters, as `homelab creds keygen` prints)", what, path);
out:
	hl_secret__free(text);
	close(fd);
	return err;
}

int hl_key__parse(struct hl_vault_key **out, const char *spec, const char *what)
{
	struct hl_vault_key *k;
	unsigned char id[16];
	int err;

	*out = NULL;
	if ((err = hl_sodium__init()) < 0)
		return err;
	if (!(k = sodium_malloc(sizeof(*k))))
		return hl__oom();
	if (!strncmp(spec, "file:", 5))
		err = read_key_file(k->master, spec + 5, what);
	else
		err = decode_key(k->master, spec, strlen(spec), what);
	if (err < 0) {
		hl_key__free(k);
		return err;
	}
	crypto_kdf_derive_from_key(k->aead, sizeof(k->aead), HL_KEY_SUBKEY_AEAD, HL_KEY_KDF_CONTEXT, k->master);
	crypto_kdf_derive_from_key(id, sizeof(id), HL_KEY_SUBKEY_ID, HL_KEY_KDF_CONTEXT, k->master);
	sodium_bin2hex(k->id, sizeof(k->id), id, 8);
	sodium_memzero(id, sizeof(id));
	sodium_mprotect_readonly(k);
	*out = k;
	return 0;
}

int hl_key__get(struct hl_vault_key **out, hl_ctx *ctx)
{
	const char *spec = ctx->db_key_opt;
	const char *what = "the db_key option";
	int err;

	*out = NULL;
	if (ctx->vault_key) {
		*out = ctx->vault_key;
		return 0;
	}
	if (!spec) {
		spec = getenv("HOMELAB_DB_KEY");
		what = "HOMELAB_DB_KEY";
	}
	if (!spec || !*spec)
		return hl__err(HL_ELOCKED, HL_ERROR_VAULT, "vault locked: no key (set HOMELAB_DB_KEY to a key from "
		               "`homelab creds keygen`, or to file:PATH)");
	if ((err = hl_key__parse(&ctx->vault_key, spec, what)) < 0)
		return err;
	*out = ctx->vault_key;
	return 0;
}

int hl_vault_keygen(char *out, size_t size)
{
	unsigned char raw[HL_KEY_BYTES];
	int err;

	if (!out || size < HL_VAULT_KEY_TEXT_SIZE)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vault_keygen: out needs %d bytes",
		               HL_VAULT_KEY_TEXT_SIZE);
	if ((err = hl_sodium__init()) < 0)
		return err;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(out, size, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE);
	sodium_memzero(raw, sizeof(raw));
	return 0;
}
