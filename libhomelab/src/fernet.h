/*
 * fernet.h: reading the Fernet tokens of the original Python server
 * (cryptography's Fernet: AES-128-CBC + HMAC-SHA256, URL-safe base64).
 * Only decryption: new secrets are written in the vault's own format.
 */
#ifndef HL_FERNET_H
#define HL_FERNET_H

#include "hl.h"

/* Smallest decoded token: version, timestamp, IV, one block, HMAC. */
#define HL_FERNET_MIN_BYTES (1 + 8 + 16 + 16 + 32)

/* Does s start like a Fernet token ("gAAAAA", version byte 0x80)? */
bool hl_fernet__looks_like(const char *s, size_t len);

/*
 * Check a token's HMAC-SHA256 under key (the 32-byte Fernet key: signing
 * key || encryption key), without decrypting it.
 * Returns 0; HL_ECORRUPT (not base64, truncated, wrong version byte) or
 * HL_EINTEGRITY (HMAC mismatch: a wrong key or an altered token, which the
 * token alone cannot tell apart).
 */
int hl_fernet__verify(const unsigned char key[32], const char *token, size_t len);

/*
 * Verify, then decrypt a token. On success *out is the plaintext in
 * sodium memory (NUL-terminated; free with hl_secret__free) and *out_len its
 * length. Errors as hl_fernet__verify, plus HL_EINTEGRITY for bad padding.
 * The token's timestamp is not checked (the Python server set no TTL).
 */
int hl_fernet__decrypt(char **out, size_t *out_len, const unsigned char key[32], const char *token, size_t len);

#endif
