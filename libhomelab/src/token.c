/*
 * token.c: API tokens for homelab-mcpd: create (the secret is shown once,
 * only its hash is stored), list, revoke, verify (constant-time compare),
 * and the scope check.
 *
 * A token's text is "hlt_<id>_<secret>" (see homelab/token.h). The row in
 * api_tokens holds the id in clear, for the lookup, and BLAKE2b-256 of the
 * id and the secret's bytes. The secret has 256 bits of entropy, so a plain
 * (unsalted, fast) hash is enough: nothing can be guessed from it.
 *
 * Creation and revocation are audited in the same transaction as the
 * change; a refused verification is not (the daemon audits it with the
 * client's address). No message ever quotes a presented token.
 */
#include "token.h"
#include "audit.h"
#include "inventory.h"
#include "key.h"

#include <sodium.h>
#include <stdio.h>
#include <time.h>

#define MAX_SCOPES 32
#define MAX_SCOPES_TEXT 1024
#define MAX_NOUN 32
#define MAX_EXPIRES ((int64_t)100 * 366 * 24 * 3600)
/* last_used is written at most this often (seconds): a verification is
 * otherwise a read, and the daemon verifies every request. */
#define LAST_USED_EVERY 60
/* How long a best-effort last_used write waits for another writer (ms). */
#define LAST_USED_BUSY_MS 100
/* A presented token longer than this is not even measured to the end. */
#define MAX_PRESENTED 1024

static const char id_alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";

/* ------------------------------------------------------------- schema --- */

int hl_token__migrate(hl_ctx *ctx)
{
	/* The name is unique among live tokens only, so that a revoked
	 * token's name can be given to its replacement. */
	return hl_db__exec(ctx, "CREATE TABLE IF NOT EXISTS api_tokens ("
	                        " id TEXT PRIMARY KEY,"
	                        " name TEXT NOT NULL,"
	                        " hash BLOB NOT NULL,"
	                        " scopes TEXT NOT NULL,"
	                        " created TEXT,"
	                        " last_used TEXT,"
	                        " expires TEXT,"
	                        " revoked INTEGER DEFAULT 0);"
	                        "CREATE UNIQUE INDEX IF NOT EXISTS hl_token_name ON api_tokens(name COLLATE NOCASE) "
	                        "WHERE revoked = 0;");
}

/* Does the database have the table? (A read-only or unmigrated older one
 * does not.) */
static bool have_table(hl_ctx *ctx)
{
	return ctx->schema_version >= 3 || hl_db__has_table(ctx, "api_tokens");
}

static int need_table(hl_ctx *ctx)
{
	if (have_table(ctx))
		return 0;
	return hl__err(HL_ECORRUPT, HL_ERROR_DB, "%s: the database has no api_tokens table (schema %d; open it "
	               "without HL_CTX_NO_MIGRATE)", ctx->path, ctx->schema_version);
}

/* ------------------------------------------------------------- format --- */

static int malformed(const char *why)
{
	return hl__err(HL_EAUTH, HL_ERROR_VAULT, "malformed API token: %s", why);
}

static bool is_id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int hl_token__parse(struct hl_token__parsed *out, const char *s)
{
	const char *end = NULL;
	size_t n, len = 0;
	char why[80];

	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return malformed("empty");
	n = strnlen(s, MAX_PRESENTED + 1);
	if (n < HL_TOKEN_PREFIX_LEN || memcmp(s, HL_TOKEN_PREFIX, HL_TOKEN_PREFIX_LEN) != 0)
		return malformed("it does not start with " HL_TOKEN_PREFIX);
	if (n != HL_TOKEN_TEXT_LEN) {
		if (n > MAX_PRESENTED)
			snprintf(why, sizeof(why), "it is longer than %d characters, not %d", MAX_PRESENTED,
			         HL_TOKEN_TEXT_LEN);
		else
			snprintf(why, sizeof(why), "it is %zu characters long, not %d", n, HL_TOKEN_TEXT_LEN);
		return malformed(why);
	}
	for (size_t i = 0; i < HL_TOKEN_ID_LEN; i++)
		if (!is_id_char(s[HL_TOKEN_PREFIX_LEN + i]))
			return malformed("its id is not 8 characters of [a-z0-9]");
	if (s[HL_TOKEN_PREFIX_LEN + HL_TOKEN_ID_LEN] != '_')
		return malformed("its id is not followed by '_'");
	/* libsodium also refuses non-zero bits after the last byte, so each
	 * secret has exactly one text. */
	if (sodium_base642bin(out->secret, sizeof(out->secret), s + HL_TOKEN_TEXT_LEN - HL_TOKEN_SECRET_TEXT_LEN,
	                      HL_TOKEN_SECRET_TEXT_LEN, NULL, &len, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    len != HL_TOKEN_SECRET_BYTES || end != s + HL_TOKEN_TEXT_LEN) {
		sodium_memzero(out->secret, sizeof(out->secret));
		return malformed("its secret is not 43 characters of URL-safe base64 (32 bytes)");
	}
	memcpy(out->id, s + HL_TOKEN_PREFIX_LEN, HL_TOKEN_ID_LEN);
	out->id[HL_TOKEN_ID_LEN] = '\0';
	return 0;
}

void hl_token__hash(unsigned char out[HL_TOKEN_HASH_BYTES], const char *id,
                    const unsigned char secret[HL_TOKEN_SECRET_BYTES])
{
	static const char domain[] = "homelab-token-v1"; /* hashed with its NUL */
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, HL_TOKEN_HASH_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)domain, sizeof(domain));
	crypto_generichash_update(&st, (const unsigned char *)id, HL_TOKEN_ID_LEN);
	crypto_generichash_update(&st, secret, HL_TOKEN_SECRET_BYTES);
	crypto_generichash_final(&st, out, HL_TOKEN_HASH_BYTES);
	sodium_memzero(&st, sizeof(st));
}

/* ------------------------------------------------------------- scopes --- */

static bool is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t';
}

/* Is s[0..n) a scope: "*" or NOUN:(read|write|exec|*)? */
static bool valid_scope(const char *s, size_t n)
{
	static const char *const access[] = { "read", "write", "exec", "*" };
	size_t noun = 0;

	if (n == 1 && s[0] == '*')
		return true;
	while (noun < n && s[noun] >= 'a' && s[noun] <= 'z')
		noun++;
	if (noun == 0 || noun > MAX_NOUN || noun == n || s[noun] != ':')
		return false;
	for (size_t i = 0; i < sizeof(access) / sizeof(access[0]); i++)
		if (n - noun - 1 == strlen(access[i]) && !memcmp(s + noun + 1, access[i], n - noun - 1))
			return true;
	return false;
}

/* Is s[0..n) already one of the comma-separated scopes in list? */
static bool in_list(const char *list, size_t list_len, const char *s, size_t n)
{
	const char *p = list, *end;

	if (!list)
		return false; /* nothing yet (and no arithmetic on NULL) */
	end = list + list_len;

	while (p < end) {
		const char *q = memchr(p, ',', (size_t)(end - p));
		size_t len = q ? (size_t)(q - p) : (size_t)(end - p);
		if (len == n && !memcmp(p, s, n))
			return true;
		p += len + 1;
	}
	return false;
}

int hl_token__parse_scopes(char **out, const char *scopes)
{
	hl_buf b = HL_BUF_INIT;
	int count = 0, err = 0;

	*out = NULL;
	if (!scopes)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "scopes: at least one scope is required "
		               "(e.g. inventory:read)");
	if (strlen(scopes) > MAX_SCOPES_TEXT)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "scopes: longer than %d characters", MAX_SCOPES_TEXT);
	for (const char *p = scopes; *p;) {
		size_t n = 0;
		bool printable = true;

		if (is_sep(*p)) {
			p++;
			continue;
		}
		while (p[n] && !is_sep(p[n])) {
			if ((unsigned char)p[n] < 0x21 || (unsigned char)p[n] > 0x7e)
				printable = false;
			n++;
		}
		if (!valid_scope(p, n)) {
			if (printable)
				err = hl__err(HL_EINVALID, HL_ERROR_INVALID, "scopes: '%.*s' is not a scope (NOUN:read, "
				              "NOUN:write, NOUN:exec, NOUN:* or *, NOUN in a-z)", (int)(n > 64 ? 64 : n), p);
			else
				err = hl__err(HL_EINVALID, HL_ERROR_INVALID, "scopes: a scope contains a character that is "
				              "not allowed (NOUN:read, NOUN:write, NOUN:exec, NOUN:* or *, NOUN in a-z)");
			goto out;
		}
		if (!in_list(b.ptr, b.size, p, n)) {
			if (++count > MAX_SCOPES) {
				err = hl__err(HL_EINVALID, HL_ERROR_INVALID, "scopes: more than %d scopes", MAX_SCOPES);
				goto out;
			}
			if ((b.size && (err = hl_buf__put(&b, ",", 1)) < 0) || (err = hl_buf__put(&b, p, n)) < 0)
				goto out;
		}
		p += n;
	}
	if (count == 0) {
		err = hl__err(HL_EINVALID, HL_ERROR_INVALID, "scopes: at least one scope is required (e.g. inventory:read)");
		goto out;
	}
	*out = hl_buf__detach(&b);
	if (!*out)
		err = hl__oom();
out:
	hl_buf_dispose(&b);
	return err;
}

bool hl_token_allows(const hl_token *t, const char *scope)
{
	const char *p, *colon;
	size_t scope_len, noun_len;

	if (!t || !t->scopes || !scope || !*scope || t->revoked)
		return false;
	scope_len = strlen(scope);
	colon = strchr(scope, ':');
	noun_len = colon ? (size_t)(colon - scope) : 0;
	for (p = t->scopes; *p;) {
		size_t n = strcspn(p, ",");
		if (n == 1 && p[0] == '*')
			return true;
		if (n == scope_len && !memcmp(p, scope, n))
			return true;
		/* "ns:*" grants every "ns:ACCESS" */
		if (colon && n == noun_len + 2 && !memcmp(p, scope, noun_len + 1) && p[n - 1] == '*')
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

/* ---------------------------------------------------------------- rows --- */

/* "YYYY-MM-DD HH:MM:SS", UTC, offset seconds from now. */
static void time_text(char out[32], int64_t offset)
{
	time_t t = time(NULL) + (time_t)offset;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
}

/* Is s a time as time_text() writes it? */
static bool well_formed_time(const char *s)
{
	static const char shape[] = "dddd-dd-dd dd:dd:dd";

	if (!s || strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return false;
	return true;
}

void hl_token_free(hl_token *t)
{
	if (!t)
		return;
	free(t->id);
	free(t->name);
	free(t->scopes);
	free(t->created);
	free(t->last_used);
	free(t->expires);
	free(t);
}

void hl_token_array_free(hl_token_array *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++)
		hl_token_free(list->items[i]);
	free(list->items);
	free(list);
}

#define TOKEN_COLS "id, name, scopes, created, last_used, expires, revoked"

/* Read the row st is on, whose columns from `first` are TOKEN_COLS. */
static int read_token(hl_token **out, sqlite3_stmt *st, int first)
{
	hl_token *t;

	*out = NULL;
	if (!(t = hl__calloc(1, sizeof(*t))))
		return HL_ENOMEM;
	if (!hl_db__col_text(st, first, &t->id) || !hl_db__col_text(st, first + 1, &t->name) ||
	    !hl_db__col_text(st, first + 2, &t->scopes) || !hl_db__col_text(st, first + 3, &t->created) ||
	    !hl_db__col_text(st, first + 4, &t->last_used) || !hl_db__col_text(st, first + 5, &t->expires)) {
		hl_token_free(t);
		return HL_ENOMEM;
	}
	t->revoked = sqlite3_column_int(st, first + 6) != 0;
	if ((!t->id && !(t->id = hl__strdup(""))) || (!t->name && !(t->name = hl__strdup(""))) ||
	    (!t->scopes && !(t->scopes = hl__strdup("")))) {
		hl_token_free(t);
		return HL_ENOMEM;
	}
	*out = t;
	return 0;
}

static int audit_token(hl_ctx *ctx, const char *action, const char *id, const char *details)
{
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;

	ev.action = action;
	ev.target_type = "token";
	ev.target_id = id;
	ev.details = details;
	return hl_audit__record(ctx, &ev);
}

/* ------------------------------------------------------------- create --- */

/* A random id that no token has yet. The caller holds the write lock. */
static int new_id(hl_ctx *ctx, char id[HL_TOKEN_ID_LEN + 1])
{
	sqlite3_stmt *st = NULL;
	int rc, err;

	if ((err = hl_db__stmt(ctx, &st, "SELECT 1 FROM api_tokens WHERE id = ?1")) < 0)
		return err;
	/* 36^8 ids: a collision is rare, eight in a row impossible in practice. */
	for (int attempt = 0; attempt < 8; attempt++) {
		for (int i = 0; i < HL_TOKEN_ID_LEN; i++)
			id[i] = id_alphabet[randombytes_uniform(sizeof(id_alphabet) - 1)];
		id[HL_TOKEN_ID_LEN] = '\0';
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc == SQLITE_DONE) {
			hl_db__release(ctx, st);
			return 0;
		}
		if (rc != SQLITE_ROW) {
			hl_db__release(ctx, st);
			return hl_db__error(ctx, rc, "choose a token id");
		}
	}
	hl_db__release(ctx, st);
	return hl__err(HL_ERROR, HL_ERROR_VAULT, "could not find a free API token id");
}

/* Refuse a name that a live token has. */
static int name_free(hl_ctx *ctx, const char *name)
{
	sqlite3_stmt *st = NULL;
	int rc, err;

	if ((err = hl_db__stmt(ctx, &st, "SELECT id FROM api_tokens WHERE name = ?1 COLLATE NOCASE AND revoked = 0 "
	                                 "LIMIT 1")) < 0)
		return err;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = hl__err(HL_EEXISTS, HL_ERROR_VAULT, "API token '%s' already exists (id %s)", name,
		              (const char *)sqlite3_column_text(st, 0));
	else if (rc != SQLITE_DONE)
		err = hl_db__error(ctx, rc, "check the token name");
	hl_db__release(ctx, st);
	return err;
}

int hl_token_create(hl_buf *secret, hl_token **out, hl_ctx *ctx, const hl_token_spec *spec)
{
	struct hl_token__parsed p;
	unsigned char hash[HL_TOKEN_HASH_BYTES];
	char text[HL_TOKEN_TEXT_LEN + 1], created[32], expires[32], details[MAX_SCOPES_TEXT + 256];
	char *scopes = NULL;
	hl_buf tmp = HL_BUF_INIT;
	hl_token *made = NULL;
	sqlite3_stmt *st = NULL;
	int rc, err;

	memset(&p, 0, sizeof(p));
	memset(hash, 0, sizeof(hash));
	expires[0] = '\0';
	if (out)
		*out = NULL;
	if (!secret || !ctx || !spec)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_token_create: secret, ctx and spec are required");
	if (spec->version != HL_TOKEN_SPEC_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_token_spec version %u is not supported (want %d)",
		               spec->version, HL_TOKEN_SPEC_VERSION);
	if ((err = hl_inv__check_name(spec->name, "name")) < 0)
		return err;
	if (spec->expires < 0 || spec->expires > MAX_EXPIRES)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "expires: %lld seconds is not a lifetime (0 for none, "
		               "at most 100 years)", (long long)spec->expires);
	if ((err = hl_token__parse_scopes(&scopes, spec->scopes)) < 0)
		return err;
	if ((err = hl_db__writable(ctx, "create an API token")) < 0 || (err = need_table(ctx)) < 0 ||
	    (err = hl_sodium__init()) < 0)
		goto out;

	if ((err = hl_db__begin_write(ctx)) < 0)
		goto out;
	if ((err = name_free(ctx, spec->name)) < 0 || (err = new_id(ctx, p.id)) < 0)
		goto fail;
	randombytes_buf(p.secret, sizeof(p.secret));
	hl_token__hash(hash, p.id, p.secret);
	/* The text is made (and can fail) before anything is committed: a
	 * token whose secret was lost would be of no use to anyone. */
	memcpy(text, HL_TOKEN_PREFIX, HL_TOKEN_PREFIX_LEN);
	memcpy(text + HL_TOKEN_PREFIX_LEN, p.id, HL_TOKEN_ID_LEN);
	text[HL_TOKEN_PREFIX_LEN + HL_TOKEN_ID_LEN] = '_';
	sodium_bin2base64(text + HL_TOKEN_TEXT_LEN - HL_TOKEN_SECRET_TEXT_LEN, HL_TOKEN_SECRET_TEXT_LEN + 1, p.secret,
	                  sizeof(p.secret), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(p.secret, sizeof(p.secret));
	err = hl_buf_set(&tmp, text, HL_TOKEN_TEXT_LEN);
	sodium_memzero(text, sizeof(text));
	if (err < 0)
		goto fail;

	time_text(created, 0);
	if (spec->expires)
		time_text(expires, spec->expires);
	if ((err = hl_db__stmt(ctx, &st, "INSERT INTO api_tokens (id, name, hash, scopes, created, last_used, expires, "
	                                 "revoked) VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, 0)")) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, p.id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, spec->name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, hash, sizeof(hash), SQLITE_STATIC);
	sqlite3_bind_text(st, 4, scopes, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, created, -1, SQLITE_STATIC);
	if (spec->expires)
		sqlite3_bind_text(st, 6, expires, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	hl_db__release(ctx, st);
	if (rc != SQLITE_DONE) {
		err = hl_db__error(ctx, rc, "store the API token");
		goto fail;
	}
	/* The record is made before the commit too: after it, nothing fails. */
	if (out && (!(made = hl__calloc(1, sizeof(*made))) || !(made->id = hl__strdup(p.id)) ||
	            !(made->name = hl__strdup(spec->name)) || !(made->scopes = hl__strdup(scopes)) ||
	            !(made->created = hl__strdup(created)) ||
	            (spec->expires && !(made->expires = hl__strdup(expires))))) {
		err = HL_ENOMEM;
		goto fail;
	}
	snprintf(details, sizeof(details), "created API token '%s'; scopes %s; expires %s", spec->name, scopes,
	         spec->expires ? expires : "never");
	if ((err = audit_token(ctx, "token_create", p.id, details)) < 0 || (err = hl_db__commit(ctx)) < 0)
		goto fail;

	hl_buf_dispose(secret);
	*secret = tmp;
	tmp = (hl_buf)HL_BUF_INIT;
	if (out) {
		*out = made;
		made = NULL;
	}
	goto out;
fail:
	hl_db__rollback(ctx);
out:
	sodium_memzero(&p, sizeof(p));
	sodium_memzero(hash, sizeof(hash));
	hl_buf_dispose(&tmp);
	hl_token_free(made);
	free(scopes);
	return err;
}

/* --------------------------------------------------------------- list --- */

int hl_token_list(hl_token_array **out, hl_ctx *ctx)
{
	hl_token_array *list = NULL;
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc, err = 0;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_token_list: out and ctx are required");
	*out = NULL;
	if (!(list = hl__calloc(1, sizeof(*list))))
		return HL_ENOMEM;
	if (!have_table(ctx))
		goto out;
	if ((err = hl_db__stmt(ctx, &st, "SELECT " TOKEN_COLS " FROM api_tokens "
	                                 "ORDER BY name COLLATE NOCASE, revoked, created, id")) < 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		hl_token *t = NULL;
		if ((err = read_token(&t, st, 0)) < 0 ||
		    (err = hl_inv__push((void ***)&list->items, &list->count, &cap, t)) < 0) {
			hl_token_free(t);
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		err = hl_db__error(ctx, rc, "list API tokens");
out:
	hl_db__release(ctx, st);
	if (err < 0)
		hl_token_array_free(list);
	else
		*out = list;
	return err;
}

/*
 * The cache of verified tokens: per context (so per connection), the last
 * token verified, keyed by the hash of the presented text. A hit needs all
 * of: the same hash (compared in constant time), filled less than
 * CACHE_TTL_NS ago, a hl_token_count() on this context since the last
 * verification and less than VERSION_FRESH_NS ago, and nothing committed
 * to the database between the cached verification's read and that count's
 * (PRAGMA data_version changes with every commit of another connection,
 * whatever the process; sqlite3_total_changes() with this connection's
 * own). So a verification answers from the cache only right after a fresh
 * read of the database: homelab-mcpd counts the tokens just before it
 * verifies one, on the same context, and a token revoked by another
 * process is refused on the very next request. A verification without a
 * count before it always reads the row. Expiry is checked on every hit.
 * Any failure drops the entry.
 */
#define CACHE_TTL_NS (5ull * 1000000000u)
#define VERSION_FRESH_NS (250ull * 1000000u)

struct hl_token__cached {
	unsigned char hash[HL_TOKEN_HASH_BYTES];
	hl_token *token;
	long long version;      /* data_version when filled */
	long long own_changes;  /* sqlite3_total_changes() when filled */
	unsigned long long filled_ns;
};

static unsigned long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000u + (unsigned long long)ts.tv_nsec;
}

/* The data version of the read transaction st runs in (call it while st
 * is on a row): what PRAGMA data_version answers, without compiling a
 * pragma statement each time. */
static long long data_version(hl_ctx *ctx)
{
	int v = 0;

	if (sqlite3_file_control(ctx->db, "main", SQLITE_FCNTL_DATA_VERSION, &v) != SQLITE_OK)
		return -1; /* never equal to a cached version: no hit */
	return v;
}

static void saw_version(hl_ctx *ctx, long long version)
{
	ctx->token_version = version;
	ctx->token_version_ns = version < 0 ? 0 : mono_ns();
}

static void cache_drop(hl_ctx *ctx)
{
	if (!ctx->token_cache)
		return;
	hl_token_free(ctx->token_cache->token);
	sodium_memzero(ctx->token_cache, sizeof(*ctx->token_cache));
	free(ctx->token_cache);
	ctx->token_cache = NULL;
}

void hl_token__ctx_free(hl_ctx *ctx)
{
	cache_drop(ctx);
}

static hl_token *token_dup(const hl_token *t)
{
	hl_token *c = hl__calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->revoked = t->revoked;
	if (!(c->id = hl__strdup(t->id)) || !(c->name = hl__strdup(t->name)) || !(c->scopes = hl__strdup(t->scopes)) ||
	    (t->created && !(c->created = hl__strdup(t->created))) ||
	    (t->last_used && !(c->last_used = hl__strdup(t->last_used))) ||
	    (t->expires && !(c->expires = hl__strdup(t->expires)))) {
		hl_token_free(c);
		hl__oom();
		return NULL;
	}
	return c;
}

/* The cached token for hash, if the cache may answer now; else NULL. */
static const hl_token *cache_hit(hl_ctx *ctx, const unsigned char hash[HL_TOKEN_HASH_BYTES])
{
	const struct hl_token__cached *c = ctx->token_cache;
	unsigned long long now = mono_ns();

	if (!c || sodium_memcmp(c->hash, hash, HL_TOKEN_HASH_BYTES) != 0)
		return NULL;
	if (now - c->filled_ns >= CACHE_TTL_NS || !ctx->token_version_ns || now - ctx->token_version_ns >= VERSION_FRESH_NS ||
	    ctx->token_version != c->version || sqlite3_total_changes64(ctx->db) != c->own_changes) {
		cache_drop(ctx);
		return NULL;
	}
	return c->token;
}

static void cache_fill(hl_ctx *ctx, const unsigned char hash[HL_TOKEN_HASH_BYTES], const hl_token *t,
                       long long version)
{
	struct hl_token__cached *c;

	cache_drop(ctx);
	if (!(c = calloc(1, sizeof(*c))) || !(c->token = token_dup(t))) {
		free(c);
		hl_error_clear(); /* only a cache: the verification stands */
		return;
	}
	memcpy(c->hash, hash, HL_TOKEN_HASH_BYTES);
	c->version = version;
	c->own_changes = sqlite3_total_changes64(ctx->db);
	c->filled_ns = mono_ns();
	ctx->token_cache = c;
}

/* Is t expired now? err set (and true) if so. */
static bool expired(const hl_token *t)
{
	char now[32];

	time_text(now, 0);
	/* An expiry that is not a time fails closed. */
	if (t->expires && !well_formed_time(t->expires)) {
		hl__err(HL_EAUTH, HL_ERROR_VAULT, "API token '%s' (id %s) expired (its expiry is not a time)", t->name,
		        t->id);
		return true;
	}
	if (t->expires && strcmp(now, t->expires) >= 0) {
		hl__err(HL_EAUTH, HL_ERROR_VAULT, "API token '%s' (id %s) expired at %s UTC", t->name, t->id, t->expires);
		return true;
	}
	return false;
}

int hl_token_count(hl_ctx *ctx, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc, err;

	if (!ctx || !out)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_token_count: ctx and out are required");
	*out = 0;
	if (!have_table(ctx))
		return 0;
	if ((err = hl_db__stmt(ctx, &st, "SELECT count(*) FROM api_tokens")) < 0)
		return err;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		saw_version(ctx, data_version(ctx));
	} else
		err = hl_db__error(ctx, rc, "count API tokens");
	hl_db__release(ctx, st);
	return err;
}

/* ------------------------------------------------------------- revoke --- */

/* The id of the live token ref names: its id first, then its name. */
static int find_live(hl_ctx *ctx, const char *ref, char id[HL_TOKEN_ID_LEN + 1], char *name, size_t name_size)
{
	static const char *const sql[] = {
		"SELECT id, name FROM api_tokens WHERE id = ?1 AND revoked = 0",
		"SELECT id, name FROM api_tokens WHERE name = ?1 COLLATE NOCASE AND revoked = 0 LIMIT 1",
		"SELECT 1 FROM api_tokens WHERE id = ?1 OR name = ?1 COLLATE NOCASE LIMIT 1",
	};
	sqlite3_stmt *st = NULL;
	int rc, err;

	for (size_t i = 0; i < 3; i++) {
		if ((err = hl_db__stmt(ctx, &st, sql[i])) < 0)
			return err;
		sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && i < 2) {
			snprintf(id, HL_TOKEN_ID_LEN + 1, "%s", (const char *)sqlite3_column_text(st, 0));
			snprintf(name, name_size, "%s", (const char *)sqlite3_column_text(st, 1));
			hl_db__release(ctx, st);
			return 0;
		}
		hl_db__release(ctx, st);
		if (rc == SQLITE_ROW)
			return hl__err(HL_ENOTFOUND, HL_ERROR_VAULT, "API token '%s' is already revoked", ref);
		if (rc != SQLITE_DONE)
			return hl_db__error(ctx, rc, "look up the API token");
	}
	return hl__err(HL_ENOTFOUND, HL_ERROR_VAULT, "no API token has the name or id '%s'", ref);
}

int hl_token_revoke(hl_ctx *ctx, const char *ref)
{
	sqlite3_stmt *st = NULL;
	char id[HL_TOKEN_ID_LEN + 1], name[128], details[200];
	int rc, err;

	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_token_revoke: ctx is required");
	if (!ref || !*ref)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "token: a name or id is required");
	/* Someone may paste the token itself: never echo it. */
	if (!strncmp(ref, HL_TOKEN_PREFIX, HL_TOKEN_PREFIX_LEN))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "token: give the token's name or id, not the token itself");
	if (strlen(ref) > 64)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "token: a name or id has at most 64 characters");
	if ((err = hl_inv__check_text(ref, 64, "token")) < 0)
		return err;
	if ((err = hl_db__writable(ctx, "revoke an API token")) < 0)
		return err;
	if (!have_table(ctx))
		return hl__err(HL_ENOTFOUND, HL_ERROR_VAULT, "no API token has the name or id '%s'", ref);
	if ((err = hl_db__begin_write(ctx)) < 0)
		return err;
	if ((err = find_live(ctx, ref, id, name, sizeof(name))) < 0)
		goto fail;
	if ((err = hl_db__stmt(ctx, &st, "UPDATE api_tokens SET revoked = 1 WHERE id = ?1")) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	hl_db__release(ctx, st);
	if (rc != SQLITE_DONE) {
		err = hl_db__error(ctx, rc, "revoke the API token");
		goto fail;
	}
	snprintf(details, sizeof(details), "revoked API token '%s'", name);
	if ((err = audit_token(ctx, "token_revoke", id, details)) < 0 || (err = hl_db__commit(ctx)) < 0)
		goto fail;
	return 0;
fail:
	hl_db__rollback(ctx);
	return err;
}

/* ------------------------------------------------------------- verify --- */

/* Record the use, at most once a minute, without ever failing: a read-only
 * database, another writer or the caller's open transaction only skip it,
 * and no error is left behind. */
static void touch(hl_ctx *ctx, const hl_token *t)
{
	sqlite3_stmt *st = NULL;
	char now[32], recent[32];

	time_text(now, 0);
	time_text(recent, -LAST_USED_EVERY);
	if (ctx->readonly || !sqlite3_get_autocommit(ctx->db) || (t->last_used && strcmp(t->last_used, recent) > 0))
		return;
	if (sqlite3_prepare_v2(ctx->db, "UPDATE api_tokens SET last_used = ?1 WHERE id = ?2", -1, &st, NULL) !=
	    SQLITE_OK) {
		sqlite3_finalize(st);
		return;
	}
	sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, t->id, -1, SQLITE_STATIC);
	sqlite3_busy_timeout(ctx->db, LAST_USED_BUSY_MS);
	(void)sqlite3_step(st);
	sqlite3_busy_timeout(ctx->db, ctx->busy_timeout_ms);
	sqlite3_finalize(st);
}

int hl_token_verify(hl_token **out, hl_ctx *ctx, const char *presented)
{
	static const unsigned char nothing[HL_TOKEN_HASH_BYTES];
	struct hl_token__parsed p;
	unsigned char hash[HL_TOKEN_HASH_BYTES], stored[HL_TOKEN_HASH_BYTES];
	sqlite3_stmt *st = NULL;
	hl_token *t = NULL;
	const hl_token *cached;
	long long version = 0;
	bool found = false, match;
	int rc, err;

	if (out)
		*out = NULL;
	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_token_verify: ctx is required");
	if ((err = hl_sodium__init()) < 0)
		return err;
	if ((err = hl_token__parse(&p, presented)) < 0)
		return err;
	hl_token__hash(hash, p.id, p.secret);
	if ((cached = cache_hit(ctx, hash))) {
		if (expired(cached)) {
			err = HL_EAUTH;
			cache_drop(ctx);
		} else if (out && !(*out = token_dup(cached))) {
			err = HL_ENOMEM;
		}
		goto done;
	}
	memcpy(stored, nothing, sizeof(stored));
	if (have_table(ctx)) {
		if ((err = hl_db__stmt(ctx, &st, "SELECT hash, " TOKEN_COLS " FROM api_tokens WHERE id = ?1")) < 0)
			goto out;
		sqlite3_bind_text(st, 1, p.id, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const void *blob = sqlite3_column_blob(st, 0);
			if (blob && sqlite3_column_bytes(st, 0) == HL_TOKEN_HASH_BYTES) {
				memcpy(stored, blob, sizeof(stored));
				found = true;
			}
			version = data_version(ctx);
			if ((err = read_token(&t, st, 1)) < 0)
				goto out;
		} else if (rc != SQLITE_DONE) {
			err = hl_db__error(ctx, rc, "read API tokens");
			goto out;
		}
	}
	/* The same work whether or not the id exists; the secret decides
	 * before anything else about the token is said. */
	match = sodium_memcmp(hash, stored, sizeof(hash)) == 0;
	if (!found || !match) {
		err = hl__err(HL_EAUTH, HL_ERROR_VAULT, "unknown API token (id %s)", p.id);
		goto out;
	}
	if (t->revoked) {
		err = hl__err(HL_EAUTH, HL_ERROR_VAULT, "API token '%s' (id %s) was revoked", t->name, t->id);
		goto out;
	}
	if (expired(t)) {
		err = HL_EAUTH;
		goto out;
	}
	hl_db__release(ctx, st);
	st = NULL;
	touch(ctx, t);
	/* after touch(): its own write is in total_changes already */
	cache_fill(ctx, hash, t, version);
	if (out) {
		*out = t;
		t = NULL;
	}
out:
	if (err < 0)
		cache_drop(ctx);
	hl_db__release(ctx, st);
	hl_token_free(t);
done:
	ctx->token_version_ns = 0; /* the next hit needs a new count */
	sodium_memzero(&p, sizeof(p));
	sodium_memzero(hash, sizeof(hash));
	return err;
}
