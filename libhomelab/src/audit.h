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

/* Give db (the inventory's or the separate audit database) the chain
 * columns, index and head table, and chain the rows it already holds.
 * The caller holds a write transaction on db. */
int hl_audit__migrate(hl_ctx *ctx, struct sqlite3 *db);

/* Append an event and commit it (joining the caller's transaction when the
 * log shares the inventory's connection and one is open). 0 means the row
 * is committed; on error nothing was written. */
int hl_audit__record(hl_ctx *ctx, const hl_audit_event *ev);

/* Can the audit log be written? 0, or the error a write would get
 * (HL_EREADONLY with a message saying what to do). Opens the log. */
int hl_audit__writable(hl_ctx *ctx);

/*
 * The chain hash of one row: BLAKE2b-256 over the canonical encoding
 *   "homelab-audit-v1" 0x00 || seq (u64, big-endian) || prev (32 bytes) ||
 *   for each of the HL_AUDIT_NFIELDS fields: 0x00 when NULL, else
 *   0x01 || length (u32, big-endian) || bytes.
 * Text is hashed exactly as stored, so the encoding has one form per row.
 */
void hl_audit__hash(unsigned char out[HL_AUDIT_HASH_BYTES], int64_t seq,
                    const unsigned char prev[HL_AUDIT_HASH_BYTES], const char *const fields[HL_AUDIT_NFIELDS],
                    const size_t lens[HL_AUDIT_NFIELDS]);

#endif
