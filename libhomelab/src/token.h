/*
 * token.h: the API tokens' internal API: the schema migration, and the
 * token format and hash (exposed for the tests).
 */
#ifndef HL_TOKEN_PRIVATE_H
#define HL_TOKEN_PRIVATE_H

#include "db.h"

/* Text: "hlt_" + id (8 of [a-z0-9]) + "_" + base64url, unpadded, of 32 bytes (43 characters). */
#define HL_TOKEN_PREFIX "hlt_"
#define HL_TOKEN_PREFIX_LEN 4
#define HL_TOKEN_SECRET_BYTES 32
#define HL_TOKEN_SECRET_TEXT_LEN 43
#define HL_TOKEN_HASH_BYTES 32

/* A token taken apart. The secret's bytes are secret: wipe them after use. */
struct hl_token__parsed {
	char id[HL_TOKEN_ID_LEN + 1];
	unsigned char secret[HL_TOKEN_SECRET_BYTES];
};

/* Migration 3: the api_tokens table and its index on name. The caller holds
 * a write transaction. */
int hl_token__migrate(hl_ctx *ctx);

/* Take a presented token apart. HL_EAUTH "malformed API token: <why>" (the
 * reason never quotes the text). */
int hl_token__parse(struct hl_token__parsed *out, const char *presented);

/* The stored hash: BLAKE2b-256 of "homelab-token-v1" 0x00 || id (8 bytes) ||
 * the secret's 32 bytes. */
void hl_token__hash(unsigned char out[HL_TOKEN_HASH_BYTES], const char *id,
                    const unsigned char secret[HL_TOKEN_SECRET_BYTES]);

/* Check and normalise a scope list (commas and/or spaces between scopes):
 * *out is the scopes joined by commas, duplicates dropped (malloc'd).
 * HL_EINVALID "scopes: ..." for an empty list or a bad scope. */
int hl_token__parse_scopes(char **out, const char *scopes);

/* Free the context's cache of verified tokens (hl_ctx_free). */
void hl_token__ctx_free(hl_ctx *ctx);

#endif
