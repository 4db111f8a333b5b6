/*
 * homelab/audit.h: the tamper-evident audit log.
 *
 * Every credential read, SSH command, file write, Ollama change and refused
 * authentication is recorded with its principal, client address, details
 * (never a secret) and time. Each row carries a BLAKE2b hash over its
 * contents and the previous row's hash; hl_audit_verify() walks the chain
 * and names the first row that was altered, removed or reordered.
 *
 * The log lives in the inventory database, or in its own database when
 * hl_ctx_options.audit_db_path or $HOMELAB_AUDIT_DB names one (for an
 * inventory mounted read-only).
 *
 * The chain is keyed: each row's MAC is BLAKE2b under the audit key,
 * $HOMELAB_AUDIT_KEY (a key as hl_vault_keygen() makes, or "file:PATH"),
 * else the file "<log database>.audit-key", created mode 0600 beside the log
 * with its first row. Whoever can write the database but not read the key
 * cannot add, change, reorder or re-chain rows unnoticed; a row inserted
 * with plain SQL stays outside the chain and verify names it. Cutting rows
 * from the end or wiping the log is caught against a head recorded
 * elsewhere (hl_audit_verify_head); whoever holds the key (the user the
 * daemon runs as) can rewrite the log, so record heads off the host.
 */
#ifndef HOMELAB_AUDIT_H
#define HOMELAB_AUDIT_H

#include "common.h"
#include "ctx.h"

HL_BEGIN_DECL

/** An event to record. Only action is required. */
typedef struct {
	unsigned int version;
	const char *action;      /**< one of hl_audit_actions(): "credential_read", "ssh_command", "auth_refused", ... */
	const char *result;      /**< "granted", "refused", "failed", "ok", ...; NULL: "ok" */
	const char *target_type; /**< "vm", "host", "service", ...; may be NULL */
	const char *target_id;   /**< the target's id or name; may be NULL */
	const char *principal;   /**< who acted; NULL: the context's principal */
	const char *client_addr; /**< where from; NULL: "local" */
	const char *details;     /**< free text, never a secret; may be NULL */
} hl_audit_event;

#define HL_AUDIT_EVENT_VERSION 1
#define HL_AUDIT_EVENT_INIT { .version = HL_AUDIT_EVENT_VERSION }

/** The actions written to the log, NULL-terminated; hl_audit_record() refuses any other. Static. */
HL_EXTERN(const char *const *) hl_audit_actions(void);

/**
 * Append an event to the log. The row is committed (and synced, as the
 * database's synchronous setting says) when this returns 0; an action that
 * must be audited does not go ahead otherwise.
 * @return 0, HL_EINVALID (no action, or not one of hl_audit_actions()), HL_EREADONLY (the audit database is
 *         read-only), HL_EBUSY, HL_ERROR
 */
HL_EXTERN(int) hl_audit_record(hl_ctx *ctx, const hl_audit_event *event);

/** One row of the log. Strings are owned by the entry; NULL when empty. */
typedef struct hl_audit_entry {
	int64_t id;          /**< the row id */
	int64_t seq;         /**< position in the hash chain, from 1; 0 for a row outside it */
	char *timestamp;     /**< "YYYY-MM-DD HH:MM:SS[.mmm]", UTC */
	char *action;
	char *result;
	char *target_type;
	char *target_id;
	char *principal;     /**< column user */
	char *client_addr;   /**< column ip_address */
	char *details;
	char *hash;          /**< hex BLAKE2b-256 of the row; NULL outside the chain */
} hl_audit_entry;

typedef struct hl_audit_array {
	size_t count;
	hl_audit_entry **items;
} hl_audit_array;

typedef struct {
	unsigned int version;
	size_t limit;        /**< at most this many rows, newest first; 0: 100 */
	const char *action;  /**< only this action; NULL: all */
	/** only rows at or after this time: "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS]"
	 *  (a 'T' may separate date and time; UTC), or an age "30s", "15m", "2h", "7d". */
	const char *since;
} hl_audit_filter;

#define HL_AUDIT_FILTER_VERSION 1
#define HL_AUDIT_FILTER_INIT { .version = HL_AUDIT_FILTER_VERSION }

/**
 * List log rows, newest first.
 * @param filter  NULL: the newest 100
 * @param[out] out free with hl_audit_array_free()
 * @return 0, HL_EINVALID (bad since), HL_ERROR
 */
HL_EXTERN(int) hl_audit_list(hl_audit_array **out, hl_ctx *ctx, const hl_audit_filter *filter);

HL_EXTERN(void) hl_audit_array_free(hl_audit_array *list);

/** What hl_audit_verify() found. */
typedef struct hl_audit_report {
	int intact;          /**< 1: the chain verifies from its first row to its recorded head */
	int64_t rows;        /**< chained rows checked */
	int64_t head_seq;    /**< seq of the last row (0: empty log) */
	char *head_hash;     /**< its hash, hex; NULL for an empty log */
	int64_t bad_seq;     /**< the first bad position (0 when intact) */
	int64_t bad_id;      /**< the row id there, when there is a row (else 0) */
	char *problem;       /**< one line naming the first bad row; NULL when intact */
	char *key_id;        /**< fingerprint of the audit key (16 hex digits); NULL for a log never written */
} hl_audit_report;

/**
 * Verify the keyed chain of the whole log: every row's MAC, every link, no
 * gap in the sequence, rows in sequence order, no row outside the chain,
 * and the recorded head and its MAC.
 * @param[out] out  the report, set both on 0 and on HL_EINTEGRITY; free
 *                  with hl_audit_report_free()
 * @return 0 (intact), HL_EINTEGRITY (the message names the first altered,
 *         missing or reordered row), HL_ERROR
 */
HL_EXTERN(int) hl_audit_verify(hl_audit_report **out, hl_ctx *ctx);

/**
 * hl_audit_verify(), and check the chain against a head recorded earlier
 * (elsewhere): "SEQ:HASH", as head_seq and head_hash of an intact report
 * (`homelab audit head` prints it). The row at SEQ must still be there
 * with that MAC, so a log cut back, or wiped and started again, is caught.
 * @param head  NULL: as hl_audit_verify()
 * @return as hl_audit_verify(); HL_EINVALID for a malformed head;
 *         HL_ELOCKED when the log has rows and its key is missing
 */
HL_EXTERN(int) hl_audit_verify_head(hl_audit_report **out, hl_ctx *ctx, const char *head);

HL_EXTERN(void) hl_audit_report_free(hl_audit_report *report);

/** The audit database path in use (the inventory's when it is shared). Lent. */
HL_EXTERN(const char *) hl_audit_db_path(const hl_ctx *ctx);

HL_END_DECL

#endif
