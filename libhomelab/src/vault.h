/*
 * vault.h: the vault's internal API: context setup, its schema migration,
 * and the v1 ciphertext format (exposed for the tests).
 */
#ifndef HL_VAULT_PRIVATE_H
#define HL_VAULT_PRIVATE_H

#include "db.h"
#include "key.h"

/* Stored form of a v1 password: "hl1:" + base64url(nonce[24] || ciphertext || tag[16]). */
#define HL_VAULT_V1_PREFIX "hl1:"
/* Stored form of a sealed row: "hl2:" (a password) or "hl2n:" (none, the
 * ciphertext is empty) + base64url(nonce[24] || ciphertext || tag[16]). */
#define HL_VAULT_V2_PREFIX "hl2:"
#define HL_VAULT_V2N_PREFIX "hl2n:"

/* Copy hl_ctx_options.db_key into guarded memory. */
int hl_vault__ctx_init(hl_ctx *ctx, const hl_ctx_options *opts);
/* Wipe the context's key material. */
void hl_vault__ctx_free(hl_ctx *ctx);
/* Migration 2: the credentials table's key_id and updated_at columns. */
int hl_vault__migrate(hl_ctx *ctx);

/* The associated data that binds a password to its row:
 * "homelab/vault/v1/<target_type>/<target_id>/password". */
int hl_vault__ad(char *out, size_t size, const char *target_type, int64_t target_id);

/* Encrypt a password for a row. *out is the stored text (malloc'd). */
int hl_vault__seal(char **out, const struct hl_vault_key *key, const char *target_type, int64_t target_id,
                   const char *password, size_t len);

/* Decrypt a v1 value for a row. *out is in sodium memory (hl_secret__free).
 * HL_ECORRUPT (malformed, truncated) or HL_EINTEGRITY (altered, or another
 * row's ciphertext). The caller checks the key id first. */
int hl_vault__unseal(char **out, size_t *out_len, const struct hl_vault_key *key, const char *target_type,
                     int64_t target_id, const char *stored, size_t stored_len);

/* The associated data that binds a sealed row (v2): "homelab/vault/v2" 0x00 ||
 * row id (i64, big-endian) || target_type || target_id (i64) || username ||
 * ssh_key_path || auth_type || has_password (one byte 0/1), each text as
 * 0x00 (NULL) or 0x01 || length (u32, big-endian) || bytes. */
int hl_vault__ad2(hl_buf *out, const hl_credential *c, bool has_password);

/* Seal a row (its fields as c has them, its password of len bytes, 0: none).
 * *out is the stored text (malloc'd). */
int hl_vault__seal2(char **out, const struct hl_vault_key *key, const hl_credential *c, const char *password,
                    size_t len);

/* Open a sealed row against its fields. *out is in sodium memory (empty for
 * "hl2n:"). HL_ECORRUPT (malformed) or HL_EINTEGRITY (a field, the id or
 * the value was changed). */
int hl_vault__unseal2(char **out, size_t *out_len, const struct hl_vault_key *key, const hl_credential *c,
                      const char *stored, size_t stored_len);

#endif
