/*
 * homelab/vault.h: the credentials vault.
 *
 * Each VM, Proxmox host and service may have credentials: a user name, a
 * password (encrypted at rest), a private key path and an auth type. The
 * vault key comes from hl_ctx_options.db_key or $HOMELAB_DB_KEY: 32 bytes
 * in URL-safe base64 (the Fernet key format, as `homelab creds keygen`
 * prints), or "file:PATH" naming a file that holds such a key and that is
 * not readable by group or others. Without a key the vault is locked: every
 * call that needs a password answers HL_ELOCKED ("vault locked").
 *
 * Each row is sealed with XChaCha20-Poly1305 under a key derived from the
 * vault key: the password is encrypted, and the row's id, target, username,
 * ssh_key_path and auth_type are its associated data, so a field changed
 * with plain SQL, or a ciphertext copied to another row, makes
 * hl_vault_get() fail (HL_EINTEGRITY, audited as refused). Rows of older
 * formats (Fernet tokens of the original Python server, v1 rows that bind
 * only the password) are read as they are until hl_vault_migrate() seals
 * them; a vault keeps one kind: once it has sealed rows, a row of an older
 * format is refused (downgraded). A vault that is empty, or sealed, seals
 * every row hl_vault_set() writes, which then needs the key.
 *
 * A target names whose credentials: "vm:NAME", "host:NAME", "service:NAME"
 * (NAME may be the numeric id), a bare name (a VM, host or service with
 * that name, which must be unique among the three), or a bare number (the
 * credential's own id, as hl_vault_list() reports it).
 *
 * Every hl_vault_get() is written to the audit log (homelab/audit.h) before
 * the password is returned: granted, refused or failed. If the audit row
 * cannot be committed, the password is not returned.
 */
#ifndef HOMELAB_VAULT_H
#define HOMELAB_VAULT_H

#include "common.h"
#include "ctx.h"

HL_BEGIN_DECL

/** How a credential's password is stored (hl_credential.format). */
typedef enum {
	HL_CRED_FORMAT_NONE = 0,   /**< no password stored */
	HL_CRED_FORMAT_FERNET = 1, /**< a legacy Fernet token of the Python server */
	HL_CRED_FORMAT_V1 = 2,     /**< XChaCha20-Poly1305 bound to its target only (libhomelab before issue 8) */
	HL_CRED_FORMAT_V2 = 3      /**< XChaCha20-Poly1305 sealing the whole row: this library's format */
} hl_cred_format;

/** A credential (table credentials). Strings are owned by the record. */
typedef struct hl_credential {
	int64_t id;            /**< the credential's own id */
	char *target_type;     /**< "vm", "host" or "service" */
	int64_t target_id;     /**< vm_id, host id or service id */
	char *target_name;     /**< the target's name; NULL when it is not in the inventory */
	char *username;        /**< NULL when none */
	char *ssh_key_path;    /**< NULL when none */
	char *auth_type;       /**< "password", "key", ...; NULL when none */
	int format;            /**< an hl_cred_format */
	char *key_id;          /**< fingerprint of the key that encrypted it (HL_CRED_FORMAT_V1), else NULL */
	char *updated_at;      /**< "YYYY-MM-DD HH:MM:SS" UTC of the last hl_vault_set(); NULL for legacy rows */
	/** The decrypted password, NUL-terminated: set only by hl_vault_get(),
	 *  NULL otherwise. It lives in guarded memory that hl_credential_free()
	 *  wipes; do not copy it anywhere that is not wiped. */
	char *password;
	size_t password_len;   /**< bytes in password, not counting the NUL */
	/** 1 when the row is sealed (HL_CRED_FORMAT_V2, or a sealed row without
	 *  a password): hl_vault_get() has checked that username, ssh_key_path,
	 *  auth_type, target and id are as written by the library. 0 for a row
	 *  of an older format (run hl_vault_migrate()). */
	int sealed;
} hl_credential;

typedef struct hl_credential_array {
	size_t count;
	hl_credential **items;
} hl_credential_array;

/** Who reads a credential, for the audit log. */
typedef struct {
	unsigned int version;
	const char *principal;   /**< NULL: the context's principal */
	const char *client_addr; /**< NULL: "local" */
} hl_vault_access;

#define HL_VAULT_ACCESS_VERSION 1
#define HL_VAULT_ACCESS_INIT { .version = HL_VAULT_ACCESS_VERSION }

/** Fields for hl_vault_set(). NULL leaves a field as it is ("" clears it);
 *  for a new credential NULL means none. */
typedef struct {
	unsigned int version;
	const char *username;
	const char *password;     /**< never logged or stored in clear; "" clears it */
	size_t password_len;      /**< 0: strlen(password) */
	const char *ssh_key_path;
	/** "password", "key", ... (1-32 of [a-z0-9_+-]). NULL on a new credential:
	 *  "key" when only ssh_key_path is given, else "password". */
	const char *auth_type;
} hl_credential_spec;

#define HL_CREDENTIAL_SPEC_VERSION 1
#define HL_CREDENTIAL_SPEC_INIT { .version = HL_CREDENTIAL_SPEC_VERSION }

/** Length of a key in text form (hl_vault_keygen()), with its NUL. */
#define HL_VAULT_KEY_TEXT_SIZE 45

/**
 * Load and check the vault key now (it is otherwise loaded on first use).
 * @return 0, HL_ELOCKED (no key), HL_EINVALID (malformed key, unsafe key
 *         file permissions), HL_ERROR (key file unreadable)
 */
HL_EXTERN(int) hl_vault_unlock(hl_ctx *ctx);

/**
 * The fingerprint of the loaded key (16 hex digits), which hl_credential.key_id
 * reports for rows encrypted under it. Not secret.
 * @param[out] out  17 bytes
 * @return 0 or the error of hl_vault_unlock()
 */
HL_EXTERN(int) hl_vault_key_id(char out[17], hl_ctx *ctx);

/**
 * Read a credential with its decrypted password, and audit the read. The
 * audit row (action "credential_read", result "granted") is committed
 * before this returns 0; every refusal or failure is audited too.
 *
 * @param[out] out  the credential; free with hl_credential_free()
 * @param access    who reads (NULL: the context's principal, "local")
 * @return 0; HL_ELOCKED (no key); HL_ENOTFOUND (no such target, or it has
 *         no credentials); HL_EAUTH (the password was encrypted under
 *         another key); HL_EINTEGRITY (the stored password or a sealed field
 *         was altered, the row moved from another one, or downgraded);
 *         HL_ECORRUPT (it is truncated or not a
 *         token); HL_EREADONLY, HL_EBUSY or HL_ERROR when the audit row
 *         could not be written, in which case nothing is returned.
 */
HL_EXTERN(int) hl_vault_get(hl_credential **out, hl_ctx *ctx, const char *target, const hl_vault_access *access);

/**
 * A credential's fields (username, ssh_key_path, auth_type, ...), checked
 * against their seal, without its password: what a caller that uses the key
 * path or the user name (an SSH login) reads instead of hl_vault_list(),
 * which shows the table as it is. Needs the key; the password is decrypted
 * to check the seal and wiped, never returned, so a check that passes is not
 * audited; one that fails is (credential_read, refused).
 * @param[out] out  the credential, password NULL; free with hl_credential_free()
 * @return 0 (out->sealed is 0 for a row of an older format in a vault not
 *         yet migrated); HL_ELOCKED; HL_ENOTFOUND; HL_EAUTH (another key);
 *         HL_EINTEGRITY (a field or the row was changed outside the library,
 *         or the row was downgraded); HL_ECORRUPT
 */
HL_EXTERN(int) hl_vault_check(hl_credential **out, hl_ctx *ctx, const char *target, const hl_vault_access *access);

/**
 * List credentials without their passwords (needs no key; not audited).
 * @param target_type  "vm", "host", "service", or NULL for all
 * @param[out] out  free with hl_credential_array_free()
 */
HL_EXTERN(int) hl_vault_list(hl_credential_array **out, hl_ctx *ctx, const char *target_type);

/**
 * Create or change the credentials of a target. A new credential's target
 * must exist in the inventory; an existing credential may be changed even
 * after its target left the inventory ("vm:101", or its credential id).
 * Setting a password needs the key, and so does any change in a sealed vault
 * (the row is sealed again with its new fields). Audited as "credential_set", in the
 * same transaction when the log shares the inventory database.
 * @param[out] out  the credential as stored, without its password (may be NULL)
 * @return 0, HL_ELOCKED, HL_ENOTFOUND, HL_EINVALID, HL_EREADONLY
 */
HL_EXTERN(int) hl_vault_set(hl_credential **out, hl_ctx *ctx, const char *target, const hl_credential_spec *spec);

/**
 * Remove every credential of a target. Audited as "credential_delete".
 * @return 0, HL_ENOTFOUND, HL_EREADONLY
 */
HL_EXTERN(int) hl_vault_remove(hl_ctx *ctx, const char *target);

/**
 * Seal every row of an older format (legacy Fernet, v1, or no password at
 * all) in the current one, in one transaction: if one fails to decrypt,
 * nothing changes. Afterwards every field of every row is authenticated.
 * @param[out] migrated  how many rows were sealed (may be NULL)
 */
HL_EXTERN(int) hl_vault_migrate(hl_ctx *ctx, size_t *migrated);

/**
 * Re-encrypt every password under a new key, in one transaction: until it
 * commits, the old key reads everything; after it, the new one does. On
 * success the context uses the new key. Afterwards set HOMELAB_DB_KEY (or
 * the key file) to the new key.
 * @param new_key    a key in text form, or "file:PATH"
 * @param[out] count how many passwords were re-encrypted (may be NULL)
 * @return 0, HL_ELOCKED (no current key), HL_EINVALID (bad new key, or it is
 *         the current key), any error of hl_vault_get() for a row that does
 *         not decrypt under the current key
 */
HL_EXTERN(int) hl_vault_rotate_key(hl_ctx *ctx, const char *new_key, size_t *count);

/**
 * Make a new random key in text form (44 characters of URL-safe base64, the
 * Fernet key format, and a NUL). Wipe the buffer when done with it.
 * @param out   at least HL_VAULT_KEY_TEXT_SIZE bytes
 * @return 0 or HL_EINVALID (size too small)
 */
HL_EXTERN(int) hl_vault_keygen(char *out, size_t size);

/** Free a credential, wiping its password. Accepts NULL. */
HL_EXTERN(void) hl_credential_free(hl_credential *cred);
HL_EXTERN(void) hl_credential_array_free(hl_credential_array *list);

/** Static name of an hl_cred_format ("none", "fernet", "v1", "v2"). */
HL_EXTERN(const char *) hl_cred_format_name(int format);

HL_END_DECL

#endif
