/*
 * fernet.c: decrypting legacy Fernet tokens.
 *
 * Token = base64url(0x80 || timestamp[8] || IV[16] || ciphertext || HMAC[32]),
 * HMAC = HMAC-SHA256(key[0..16), everything before it), ciphertext =
 * AES-128-CBC(key[16..32), IV, PKCS#7-padded plaintext). The HMAC is always
 * checked (in constant time) before anything is decrypted. AES comes from
 * libcrypto, the one job libcrypto has in this library; HMAC and memory
 * handling come from libsodium.
 */
#include "fernet.h"
#include "key.h"

#include <openssl/evp.h>
#include <sodium.h>


bool hl_fernet__looks_like(const char *s, size_t len)
{
	return s && len >= 6 && !memcmp(s, "gAAAAA", 6);
}

/* Decode the token into a malloc'd buffer (not secret: it is ciphertext)
 * and check its framing. */
static int decode(unsigned char **out, size_t *out_len, const char *token, size_t len)
{
	unsigned char *raw;
	size_t n = 0, ct;
	const char *end = NULL;

	*out = NULL;
	while (len && (token[len - 1] == '\n' || token[len - 1] == '\r' || token[len - 1] == ' '))
		len--;
	/* Python writes padding; accept a token without it too. */
	while (len && token[len - 1] == '=')
		len--;
	if (!(raw = hl__malloc(len * 3 / 4 + 3)))
		return HL_ENOMEM;
	if (sodium_base642bin(raw, len * 3 / 4 + 3, token, len, NULL, &n, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || end != token + len) {
		free(raw);
		/* Only base64 letters, yet no whole bytes: the text was cut. */
		if (len && hl__is_b64url(token, len))
			return hl__err(HL_ECORRUPT, HL_ERROR_VAULT, "Fernet token is truncated (its base64 text ends "
			               "mid-byte)");
		return hl__err(HL_ECORRUPT, HL_ERROR_VAULT, "not a Fernet token (invalid URL-safe base64)");
	}
	if (n > 0 && raw[0] != 0x80) {
		int v = raw[0];
		free(raw);
		return hl__err(HL_ECORRUPT, HL_ERROR_VAULT, "not a Fernet token (version byte 0x%02x, expected 0x80)", v);
	}
	if (n < HL_FERNET_MIN_BYTES) {
		free(raw);
		return hl__err(HL_ECORRUPT, HL_ERROR_VAULT, "Fernet token is truncated (%zu bytes, at least %d needed)",
		               n, HL_FERNET_MIN_BYTES);
	}
	ct = n - (1 + 8 + 16 + 32);
	if (ct % 16 != 0) {
		free(raw);
		return hl__err(HL_ECORRUPT, HL_ERROR_VAULT, "Fernet token is truncated (its ciphertext is %zu bytes, "
		               "not a whole number of AES blocks)", ct);
	}
	*out = raw;
	*out_len = n;
	return 0;
}

static int check_hmac(const unsigned char key[32], const unsigned char *raw, size_t n)
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[32];
	int ok;

	crypto_auth_hmacsha256_init(&st, key, 16);
	crypto_auth_hmacsha256_update(&st, raw, n - 32);
	crypto_auth_hmacsha256_final(&st, mac);
	ok = crypto_verify_32(mac, raw + n - 32) == 0;
	sodium_memzero(&st, sizeof(st));
	if (!ok)
		return hl__err(HL_EINTEGRITY, HL_ERROR_VAULT, "Fernet token failed its HMAC-SHA256 check "
		               "(a wrong key, or the token was altered)");
	return 0;
}

int hl_fernet__verify(const unsigned char key[32], const char *token, size_t len)
{
	unsigned char *raw = NULL;
	size_t n = 0;
	int err;

	if ((err = hl_sodium__init()) < 0 || (err = decode(&raw, &n, token, len)) < 0)
		return err;
	err = check_hmac(key, raw, n);
	free(raw);
	return err;
}

int hl_fernet__decrypt(char **out, size_t *out_len, const unsigned char key[32], const char *token, size_t len)
{
	unsigned char *raw = NULL;
	EVP_CIPHER_CTX *c = NULL;
	char *plain = NULL;
	size_t n = 0, ct_len;
	int got = 0, fin = 0, err;

	*out = NULL;
	*out_len = 0;
	if ((err = hl_sodium__init()) < 0 || (err = decode(&raw, &n, token, len)) < 0)
		return err;
	if ((err = check_hmac(key, raw, n)) < 0)
		goto out;
	ct_len = n - (1 + 8 + 16 + 32);
	/* One spare block: EVP may write up to a block past the input. */
	if (!(plain = hl_secret__alloc(ct_len + 16))) {
		err = HL_ENOMEM;
		goto out;
	}
	if (!(c = EVP_CIPHER_CTX_new())) {
		err = hl__oom();
		goto out;
	}
	if (EVP_DecryptInit_ex(c, EVP_aes_128_cbc(), NULL, key + 16, raw + 9) != 1 ||
	    EVP_DecryptUpdate(c, (unsigned char *)plain, &got, raw + 25, (int)ct_len) != 1) {
		err = hl__err(HL_ERROR, HL_ERROR_VAULT, "AES-128-CBC decryption failed (libcrypto)");
		goto out;
	}
	if (EVP_DecryptFinal_ex(c, (unsigned char *)plain + got, &fin) != 1) {
		err = hl__err(HL_EINTEGRITY, HL_ERROR_VAULT, "Fernet token has bad padding although its HMAC "
		              "is valid (written by a broken encryptor?)");
		goto out;
	}
	plain[got + fin] = '\0';
	*out_len = (size_t)(got + fin);
	*out = plain;
	plain = NULL;
out:
	EVP_CIPHER_CTX_free(c); /* cleanses the key schedule */
	hl_secret__free(plain);
	free(raw);
	return err;
}
