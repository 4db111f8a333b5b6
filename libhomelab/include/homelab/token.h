/*
 * homelab/token.h: API tokens, the bearer tokens of homelab-mcpd.
 *
 * A token is created once (`homelab tokens create`), shown once, and then
 * exists in the database only as a hash. Its text is
 *
 *     hlt_<id>_<secret>
 *
 * where <id> is 8 characters of [a-z0-9], the token's public id (stored in
 * clear, shown by hl_token_list(), safe to log), and <secret> is 43
 * characters of URL-safe base64 (no padding) of 32 random bytes: 56
 * characters in all. The database keeps BLAKE2b-256 of the id and the
 * secret's bytes; hl_token_verify() compares hashes in constant time.
 *
 * Each token has a name (unique among the tokens that are not revoked;
 * 1-64 of [A-Za-z0-9._-], not all digits), a list of scopes, an optional
 * expiry, and may be revoked. A scope is "NOUN:ACCESS" with NOUN 1-32 of
 * [a-z] and ACCESS one of read, write, exec or "*" (all of the noun), or
 * "*" alone (everything): "inventory:read", "ollama:*". The scope each tool
 * needs is in homelab/tool.h.
 *
 * Creating and revoking a token is written to the audit log
 * (homelab/audit.h); a refused verification is not: the daemon, which knows
 * the client's address, records it.
 */
#ifndef HOMELAB_TOKEN_H
#define HOMELAB_TOKEN_H

#include <stdbool.h>

#include "common.h"
#include "buf.h"
#include "ctx.h"

HL_BEGIN_DECL

/** Length of a token's text, without a NUL. */
#define HL_TOKEN_TEXT_LEN 56
/** Length of a token's public id, without a NUL. */
#define HL_TOKEN_ID_LEN 8

/** A token's metadata (table api_tokens): never its secret. Strings are
 *  owned by the record. */
typedef struct hl_token {
	char *id;          /**< the public id: 8 of [a-z0-9] */
	char *name;
	char *scopes;      /**< normalised: comma-separated without spaces ("inventory:read,ssh:exec") */
	char *created;     /**< "YYYY-MM-DD HH:MM:SS", UTC */
	/** "YYYY-MM-DD HH:MM:SS" UTC of the last successful hl_token_verify(),
	 *  to the minute (it is written at most once a minute); NULL: never used. */
	char *last_used;
	char *expires;     /**< "YYYY-MM-DD HH:MM:SS" UTC; NULL: never expires */
	int revoked;       /**< 1 when revoked, else 0 */
} hl_token;

typedef struct hl_token_array {
	size_t count;
	hl_token **items;
} hl_token_array;

/** What hl_token_create() makes. */
typedef struct {
	unsigned int version;
	const char *name;    /**< required; unique among tokens that are not revoked (case-insensitively) */
	/** required: one or more scopes separated by commas and/or spaces,
	 *  e.g. "inventory:read,credentials:read"; duplicates are dropped */
	const char *scopes;
	/** lifetime in seconds from now (at most 100 years); 0: never expires */
	int64_t expires;
} hl_token_spec;

#define HL_TOKEN_SPEC_VERSION 1
#define HL_TOKEN_SPEC_INIT { .version = HL_TOKEN_SPEC_VERSION }

/**
 * Create a token. Its text goes into `secret`, once: only its hash is
 * stored, and nothing can show it again. Audited as "token_create" (the
 * details name the id and scopes, never the secret); if the audit row
 * cannot be written, no token is created.
 *
 * @param[out] secret  the token's text (HL_TOKEN_TEXT_LEN characters);
 *                     release with hl_buf_dispose(), which wipes it
 * @param[out] out     the token's metadata (may be NULL); free with hl_token_free()
 * @return 0; HL_EINVALID (the message names the field: name, scopes,
 *         expires); HL_EEXISTS (a token that is not revoked has that name);
 *         HL_EREADONLY; HL_ECORRUPT (the database has no api_tokens table:
 *         opened with HL_CTX_NO_MIGRATE); the audit log's errors
 */
HL_EXTERN(int) hl_token_create(hl_buf *secret, hl_token **out, hl_ctx *ctx, const hl_token_spec *spec);

/**
 * List every token, revoked and expired ones included, by name. Metadata only.
 * @param[out] out  free with hl_token_array_free()
 */
HL_EXTERN(int) hl_token_list(hl_token_array **out, hl_ctx *ctx);

/**
 * Revoke a token: it verifies no more, its row stays (listed as revoked)
 * and its name may be given to a new token. Audited as "token_revoke".
 * @param name_or_id  a token's public id (tried first) or the name of a
 *                    token that is not revoked
 * @return 0; HL_ENOTFOUND (no such token, or it is already revoked);
 *         HL_EINVALID; HL_EREADONLY; the audit log's errors
 */
HL_EXTERN(int) hl_token_revoke(hl_ctx *ctx, const char *name_or_id);

/**
 * Check a presented token: parse it, find it by its id, compare the hash of
 * its secret in constant time, and refuse it when revoked or expired. The
 * secret is checked before anything else is said about the token, and the
 * messages never contain the presented text (they may name the token's
 * id and name). On success last_used is updated, at most once a minute and
 * best-effort: a read-only or busy database still verifies.
 *
 * @param[out] out   the token's metadata (last_used as it was before this
 *                   use); free with hl_token_free(). NULL on refusal.
 * @param presented  the token's text, as the client sent it
 * @return 0, or HL_EAUTH with one message per cause: "malformed API token:
 *         ..." (empty, no hlt_ prefix, wrong length, bad id, bad base64),
 *         "unknown API token (id ...)" (no such id, or the secret does not
 *         match), "API token '...' (id ...) was revoked", "API token '...'
 *         (id ...) expired at ..."; HL_ERROR and others when the database
 *         cannot be read.
 */
HL_EXTERN(int) hl_token_verify(hl_token **out, hl_ctx *ctx, const char *presented);

/**
 * Does the token grant a scope? True when one of its scopes is the scope
 * itself, "NOUN:*" for the scope's noun, or "*". Looks at the scopes only
 * (hl_token_verify() checks revocation and expiry), except that a revoked
 * token grants nothing. False for NULL arguments.
 * @param scope  the scope a tool needs, e.g. "ssh:exec"
 */
HL_EXTERN(bool) hl_token_allows(const hl_token *t, const char *scope);

/**
 * How many tokens the database holds, revoked and expired ones included (so
 * that revoking every token does not turn authentication off). 0 means no
 * token was ever created, also for a database older than the api_tokens table.
 */
HL_EXTERN(int) hl_token_count(hl_ctx *ctx, int64_t *out);

/** Free a token record. Accepts NULL. */
HL_EXTERN(void) hl_token_free(hl_token *t);
/** Free a list of tokens. Accepts NULL. */
HL_EXTERN(void) hl_token_array_free(hl_token_array *list);

HL_END_DECL

#endif
