/*
 * key.h: the vault key: where it comes from, its subkeys, its fingerprint.
 */
#ifndef HL_KEY_H
#define HL_KEY_H

#include "hl.h"

#define HL_KEY_BYTES 32

/* A loaded key. Lives in sodium_malloc'd memory (guard pages, excluded from
 * core dumps, wiped when freed), read-only once derived. */
struct hl_vault_key {
	unsigned char master[HL_KEY_BYTES]; /* as given: Fernet signing key || encryption key */
	unsigned char aead[HL_KEY_BYTES];   /* KDF subkey 1: credential encryption (XChaCha20-Poly1305) */
	char id[17];                        /* KDF subkey 2, first 8 bytes in hex: the key's fingerprint */
};

/* crypto_kdf context of every subkey of the vault key (8 bytes). */
#define HL_KEY_KDF_CONTEXT "hlvault1"
#define HL_KEY_SUBKEY_AEAD 1
#define HL_KEY_SUBKEY_ID 2

/* sodium_init() once per process. HL_ERROR if libsodium cannot start. */
int hl_sodium__init(void);

/*
 * Parse a key given as text (44 characters of URL-safe base64, padding
 * optional) or as "file:PATH" (a file that holds the text, not readable or
 * writable by group or others). `what` names the key in error messages
 * ("HOMELAB_DB_KEY"); the key itself never appears in them.
 * Returns 0, HL_EINVALID or HL_ERROR; *out is freed with hl_key__free().
 */
int hl_key__parse(struct hl_vault_key **out, const char *spec, const char *what);

/* Wipe and free a key. Accepts NULL. */
void hl_key__free(struct hl_vault_key *key);

/* The context's key, loading it on first use from hl_ctx_options.db_key or
 * $HOMELAB_DB_KEY. HL_ELOCKED ("vault locked: ...") when there is none. */
int hl_key__get(struct hl_vault_key **out, hl_ctx *ctx);

/* Copy of a secret string into sodium memory (NUL-terminated); NULL on OOM. */
char *hl_secret__strndup(const char *s, size_t n);
/* n + 1 zeroed bytes of sodium memory, for a secret of up to n bytes and
 * its NUL; NULL on OOM (error set). */
char *hl_secret__alloc(size_t n);
/* Free a sodium_malloc'd secret (wiped). Accepts NULL. */
void hl_secret__free(void *p);

#endif
