/*
 * audit.h: the audit log's internal API. Other modules (ssh, sftp, ollama,
 * the vault) call hl_audit__record() before or after an audited action; it
 * commits the row before returning, so "audit, then act" fails closed.
 */
#ifndef HL_AUDIT_PRIVATE_H
#define HL_AUDIT_PRIVATE_H

#include "db.h"

#define HL_AUDIT_HASH_BYTES 32
/* Number of row fields covered by the hash, in this order: timestamp,
 * action, result, target_type, target_id, user, ip_address, details. */
#define HL_AUDIT_NFIELDS 8
/* Longest details text kept; longer text is cut and marked "[truncated]". */
#define HL_AUDIT_DETAILS_MAX 4000

/* Remember hl_ctx_options.audit_db_path / $HOMELAB_AUDIT_DB. The database
 * itself is opened on first use. */
int hl_audit__ctx_init(hl_ctx *ctx, const hl_ctx_options *opts);
/* Close a separate audit database. */
void hl_audit__ctx_free(hl_ctx *ctx);

/* The audit key, in sodium memory (read-only once derived). */
struct hl_audit_key {
	unsigned char mac[HL_AUDIT_HASH_BYTES]; /* KDF subkey 1: the chain's BLAKE2b key */
	char id[17];                            /* KDF subkey 2, first 8 bytes in hex: the key's fingerprint */
};

/* crypto_kdf context of the audit key's subkeys (8 bytes). */
#define HL_AUDIT_KDF_CONTEXT "hlaudit1"
#define HL_AUDIT_SUBKEY_MAC 1
#define HL_AUDIT_SUBKEY_ID 2
/* The default key file: the log database's path with this appended. */
#define HL_AUDIT_KEY_SUFFIX ".audit-key"

/* Load the key of the log in database db_path: $HOMELAB_AUDIT_KEY, else the
 * file db_path + HL_AUDIT_KEY_SUFFIX (created 0600 when may_create and it is
 * missing); a random one for ":memory:". HL_ELOCKED when the file is missing
 * and may not be created. Free with hl_audit__key_free(). */
int hl_audit__key_load(struct hl_audit_key **out, const char *db_path, bool may_create);
void hl_audit__key_free(struct hl_audit_key *key);

/* Give db (the inventory's or the separate audit database) the chain
 * columns, index and head table. The caller holds a write transaction. */
int hl_audit__migrate(hl_ctx *ctx, struct sqlite3 *db);

/* Key the chain of the log in db (at db_path), once: when its head has no
 * key yet, every row (those chained without a key by earlier versions, then
 * those outside the chain in insertion order) is chained under the audit
 * key, and a row "audit_chain_keyed" says how many and whether the old
 * unkeyed chain verified. A log already keyed is left alone: rows that
 * appear outside its chain later are never adopted. The caller holds a
 * write transaction on db. */
int hl_audit__key_chain(hl_ctx *ctx, struct sqlite3 *db, const char *db_path);

/* Append an event and commit it (joining the caller's transaction when the
 * log shares the inventory's connection and one is open). 0 means the row
 * is committed; on error nothing was written. HL_EINTEGRITY when the log's
 * head does not verify (a cut or rewritten log is never extended). */
int hl_audit__record(hl_ctx *ctx, const hl_audit_event *ev);

/* Can the audit log be written? 0, or the error a write would get
 * (HL_EREADONLY with a message saying what to do). Opens the log. */
int hl_audit__writable(hl_ctx *ctx);

/*
 * The chain MAC of one row: BLAKE2b-256 keyed with key->mac over
 *   "homelab-audit-v2" 0x00 || seq (u64, big-endian) || prev (32 bytes) ||
 *   for each of the HL_AUDIT_NFIELDS fields: 0x00 when NULL, else
 *   0x01 || length (u32, big-endian) || bytes.
 * Text is hashed exactly as stored, so the encoding has one form per row.
 * key NULL gives the unkeyed hash of earlier versions ("homelab-audit-v1"),
 * used only to check an old chain before it is keyed.
 */
void hl_audit__hash(unsigned char out[HL_AUDIT_HASH_BYTES], const struct hl_audit_key *key, int64_t seq,
                    const unsigned char prev[HL_AUDIT_HASH_BYTES], const char *const fields[HL_AUDIT_NFIELDS],
                    const size_t lens[HL_AUDIT_NFIELDS]);

/* The MAC of the head record: BLAKE2b-256 keyed with key->mac over
 * "homelab-audit-head-v2" 0x00 || seq (u64, big-endian) || hash (32 bytes). */
void hl_audit__head_mac(unsigned char out[HL_AUDIT_HASH_BYTES], const struct hl_audit_key *key, int64_t seq,
                        const unsigned char hash[HL_AUDIT_HASH_BYTES]);

#endif
