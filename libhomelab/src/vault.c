/*
 * vault.c: credentials of VMs, hosts and services: set, get (decrypted and
 * audited), list, remove, migrate legacy Fernet rows, rotate the key.
 *
 * A credential is sealed in credentials.password_encrypted as "hl2:" (with a
 * password) or "hl2n:" (without one) + base64url(nonce || XChaCha20-Poly1305
 * ciphertext+tag), under the vault key's subkey 1, with the whole row as
 * associated data (row id, target, username, ssh_key_path, auth_type: see
 * hl_vault__ad2), and the key's fingerprint in credentials.key_id: a field
 * changed with plain SQL makes the read fail. Older rows stay readable:
 * "hl1:" binds only the password to its target (hl_vault__ad), a value
 * without a prefix is a legacy Fernet token of the Python server, and NULL
 * is no password; hl_vault_migrate() seals them all in the current format.
 * Once a vault has sealed rows, a row in an older format is refused (it was
 * downgraded, or written by another program).
 *
 * Decrypted passwords exist only in sodium_malloc'd memory and are wiped
 * when freed. Error messages and audit details name targets, rows and key
 * fingerprints, never a secret.
 */
#include "vault.h"
#include "audit.h"
#include "fernet.h"
#include "inventory.h"

#include <sodium.h>
#include <stdio.h>
#include <time.h>

#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define PREFIX_LEN (sizeof(HL_VAULT_V1_PREFIX) - 1)
#define V2_LEN (sizeof(HL_VAULT_V2_PREFIX) - 1)
#define V2N_LEN (sizeof(HL_VAULT_V2N_PREFIX) - 1)
#define MAX_PASSWORD 4096

/* ------------------------------------------------------------ context --- */

int hl_vault__ctx_init(hl_ctx *ctx, const hl_ctx_options *opts)
{
	if (!opts->db_key)
		return 0;
	if (!(ctx->db_key_opt = hl_secret__strndup(opts->db_key, strlen(opts->db_key))))
		return HL_ENOMEM;
	return 0;
}

void hl_vault__ctx_free(hl_ctx *ctx)
{
	hl_secret__free(ctx->db_key_opt);
	hl_key__free(ctx->vault_key);
	ctx->db_key_opt = NULL;
	ctx->vault_key = NULL;
}

int hl_vault__migrate(hl_ctx *ctx)
{
	int err;

	if (!hl_db__has_column(ctx, "credentials", "key_id") &&
	    (err = hl_db__exec(ctx, "ALTER TABLE credentials ADD COLUMN key_id TEXT")) < 0)
		return err;
	if (!hl_db__has_column(ctx, "credentials", "updated_at") &&
	    (err = hl_db__exec(ctx, "ALTER TABLE credentials ADD COLUMN updated_at TEXT")) < 0)
		return err;
	return 0;
}

int hl_vault_unlock(hl_ctx *ctx)
{
	struct hl_vault_key *key;

	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vault_unlock: ctx is required");
	return hl_key__get(&key, ctx);
}

int hl_vault_key_id(char out[17], hl_ctx *ctx)
{
	struct hl_vault_key *key;
	int err;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vault_key_id: out and ctx are required");
	if ((err = hl_key__get(&key, ctx)) < 0)
		return err;
	memcpy(out, key->id, 17);
	return 0;
}

/* --------------------------------------------------------- v1 format --- */

int hl_vault__ad(char *out, size_t size, const char *target_type, int64_t target_id)
{
	int n = snprintf(out, size, "homelab/vault/v1/%s/%lld/password", target_type, (long long)target_id);
	if (n < 0 || (size_t)n >= size)
		return hl__err(HL_EINVALID, HL_ERROR_VAULT, "target type '%.20s' is too long", target_type);
	return n;
}

int hl_vault__seal(char **out, const struct hl_vault_key *key, const char *target_type, int64_t target_id,
                   const char *password, size_t len)
{
	unsigned char *raw = NULL;
	char ad[96], *text = NULL;
	size_t raw_len = NONCE_BYTES + len + TAG_BYTES, text_size;
	unsigned long long ct_len = 0;
	int ad_len, err = 0;

	*out = NULL;
	if ((ad_len = hl_vault__ad(ad, sizeof(ad), target_type, target_id)) < 0)
		return ad_len;
	text_size = PREFIX_LEN + sodium_base64_encoded_len(raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (!(raw = hl__malloc(raw_len)) || !(text = hl__malloc(text_size))) {
		err = HL_ENOMEM;
		goto out;
	}
	randombytes_buf(raw, NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(raw + NONCE_BYTES, &ct_len, (const unsigned char *)password, len,
	                                           (const unsigned char *)ad, (unsigned long long)ad_len, NULL, raw,
	                                           key->aead);
	memcpy(text, HL_VAULT_V1_PREFIX, PREFIX_LEN);
	sodium_bin2base64(text + PREFIX_LEN, text_size - PREFIX_LEN, raw, NONCE_BYTES + (size_t)ct_len,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	*out = text;
	text = NULL;
out:
	free(raw);
	free(text);
	return err;
}

int hl_vault__unseal(char **out, size_t *out_len, const struct hl_vault_key *key, const char *target_type,
                     int64_t target_id, const char *stored, size_t stored_len)
{
	unsigned char *raw = NULL;
	char ad[96], *plain = NULL;
	size_t raw_len = 0, b64_len;
	unsigned long long plain_len = 0;
	const char *end = NULL;
	int ad_len, err = 0;

	*out = NULL;
	*out_len = 0;
	if ((ad_len = hl_vault__ad(ad, sizeof(ad), target_type, target_id)) < 0)
		return ad_len;
	if (stored_len < PREFIX_LEN || memcmp(stored, HL_VAULT_V1_PREFIX, PREFIX_LEN) != 0)
		return hl__err(HL_ECORRUPT, HL_ERROR_VAULT, "the stored password is not in the hl1 format");
	b64_len = stored_len - PREFIX_LEN;
	if (!(raw = hl__malloc(b64_len * 3 / 4 + 3)))
		return HL_ENOMEM;
	if (sodium_base642bin(raw, b64_len * 3 / 4 + 3, stored + PREFIX_LEN, b64_len, NULL, &raw_len, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || end != stored + stored_len) {
		/* Only base64 letters, yet no whole bytes: the text was cut. */
		err = hl__is_b64url(stored + PREFIX_LEN, b64_len)
		      ? hl__err(HL_ECORRUPT, HL_ERROR_VAULT, "the stored password is truncated (its base64 text ends "
		                "mid-byte)")
		      : hl__err(HL_ECORRUPT, HL_ERROR_VAULT, "the stored password is damaged (invalid base64)");
		goto out;
	}
	if (raw_len < NONCE_BYTES + TAG_BYTES) {
		err = hl__err(HL_ECORRUPT, HL_ERROR_VAULT, "the stored password is truncated (%zu bytes, at least %d "
		              "needed)", raw_len, (int)(NONCE_BYTES + TAG_BYTES));
		goto out;
	}
	if (!(plain = hl_secret__alloc(raw_len - NONCE_BYTES - TAG_BYTES))) {
		err = HL_ENOMEM;
		goto out;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)plain, &plain_len, NULL, raw + NONCE_BYTES,
	                                               raw_len - NONCE_BYTES, (const unsigned char *)ad,
	                                               (unsigned long long)ad_len, raw, key->aead) != 0) {
		err = hl__err(HL_EINTEGRITY, HL_ERROR_VAULT, "the stored password failed its integrity check: it was "
		              "altered, or moved here from another row");
		goto out;
	}
	plain[plain_len] = '\0';
	*out = plain;
	*out_len = (size_t)plain_len;
	plain = NULL;
out:
	hl_secret__free(plain);
	free(raw);
	return err;
}

/* --------------------------------------------------------- v2 format --- */

static int ad_put(hl_buf *b, const char *s)
{
	unsigned char h[5];
	size_t n = s ? strlen(s) : 0;

	if (!s) {
		h[0] = 0;
		return hl_buf__put(b, (const char *)h, 1);
	}
	h[0] = 1;
	h[1] = (unsigned char)(n >> 24);
	h[2] = (unsigned char)(n >> 16);
	h[3] = (unsigned char)(n >> 8);
	h[4] = (unsigned char)n;
	return hl_buf__put(b, (const char *)h, 5) < 0 ? HL_ENOMEM : hl_buf__put(b, s, n);
}

static int ad_put_i64(hl_buf *b, int64_t v)
{
	unsigned char h[8];

	for (int i = 0; i < 8; i++)
		h[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
	return hl_buf__put(b, (const char *)h, 8);
}

int hl_vault__ad2(hl_buf *out, const hl_credential *c, bool has_password)
{
	static const char domain[] = "homelab/vault/v2"; /* with its NUL */
	int err;

	hl_buf_dispose(out);
	if ((err = hl_buf__put(out, domain, sizeof(domain))) < 0 || (err = ad_put_i64(out, c->id)) < 0 ||
	    (err = ad_put(out, c->target_type)) < 0 || (err = ad_put_i64(out, c->target_id)) < 0 ||
	    (err = ad_put(out, c->username)) < 0 || (err = ad_put(out, c->ssh_key_path)) < 0 ||
	    (err = ad_put(out, c->auth_type)) < 0 || (err = hl_buf__put(out, has_password ? "\1" : "\0", 1)) < 0)
		return err;
	return 0;
}

int hl_vault__seal2(char **out, const struct hl_vault_key *key, const hl_credential *c, const char *password,
                    size_t len)
{
	const char *prefix = len ? HL_VAULT_V2_PREFIX : HL_VAULT_V2N_PREFIX;
	size_t plen = strlen(prefix), raw_len = NONCE_BYTES + len + TAG_BYTES, text_size;
	unsigned char *raw = NULL;
	char *text = NULL;
	hl_buf ad = HL_BUF_INIT;
	unsigned long long ct_len = 0;
	int err;

	*out = NULL;
	if ((err = hl_vault__ad2(&ad, c, len > 0)) < 0)
		goto out;
	text_size = plen + sodium_base64_encoded_len(raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (!(raw = hl__malloc(raw_len)) || !(text = hl__malloc(text_size))) {
		err = HL_ENOMEM;
		goto out;
	}
	randombytes_buf(raw, NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(raw + NONCE_BYTES, &ct_len, (const unsigned char *)password, len,
	                                           (const unsigned char *)ad.ptr, (unsigned long long)ad.size, NULL, raw,
	                                           key->aead);
	memcpy(text, prefix, plen);
	sodium_bin2base64(text + plen, text_size - plen, raw, NONCE_BYTES + (size_t)ct_len,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	*out = text;
	text = NULL;
out:
	hl_buf_dispose(&ad);
	free(raw);
	free(text);
	return err;
}

int hl_vault__unseal2(char **out, size_t *out_len, const struct hl_vault_key *key, const hl_credential *c,
                      const char *stored, size_t stored_len)
{
	bool has_pw = stored_len >= V2_LEN && !memcmp(stored, HL_VAULT_V2_PREFIX, V2_LEN);
	size_t plen = has_pw ? V2_LEN : V2N_LEN, raw_len = 0, b64_len;
	unsigned char *raw = NULL;
	char *plain = NULL;
	hl_buf ad = HL_BUF_INIT;
	unsigned long long plain_len = 0;
	const char *end = NULL;
	int err;

	*out = NULL;
	*out_len = 0;
	if (!has_pw && (stored_len < V2N_LEN || memcmp(stored, HL_VAULT_V2N_PREFIX, V2N_LEN) != 0))
		return hl__err(HL_ECORRUPT, HL_ERROR_VAULT, "the stored value is not in the hl2 format");
	if ((err = hl_vault__ad2(&ad, c, has_pw)) < 0)
		return err;
	b64_len = stored_len - plen;
	if (!(raw = hl__malloc(b64_len * 3 / 4 + 3))) {
		err = HL_ENOMEM;
		goto out;
	}
	if (sodium_base642bin(raw, b64_len * 3 / 4 + 3, stored + plen, b64_len, NULL, &raw_len, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || end != stored + stored_len) {
		err = hl__is_b64url(stored + plen, b64_len)
		      ? hl__err(HL_ECORRUPT, HL_ERROR_VAULT, "the stored value is truncated (its base64 text ends mid-byte)")
		      : hl__err(HL_ECORRUPT, HL_ERROR_VAULT, "the stored value is damaged (invalid base64)");
		goto out;
	}
	if (raw_len < NONCE_BYTES + TAG_BYTES) {
		err = hl__err(HL_ECORRUPT, HL_ERROR_VAULT, "the stored value is truncated (%zu bytes, at least %d needed)",
		              raw_len, (int)(NONCE_BYTES + TAG_BYTES));
		goto out;
	}
	if (!(plain = hl_secret__alloc(raw_len - NONCE_BYTES - TAG_BYTES))) {
		err = HL_ENOMEM;
		goto out;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)plain, &plain_len, NULL, raw + NONCE_BYTES,
	                                               raw_len - NONCE_BYTES, (const unsigned char *)ad.ptr,
	                                               (unsigned long long)ad.size, raw, key->aead) != 0 ||
	    (has_pw && plain_len == 0) || (!has_pw && plain_len != 0)) {
		err = hl__err(HL_EINTEGRITY, HL_ERROR_VAULT, "the row failed its integrity check: its username, "
		              "ssh_key_path, auth_type, target or id were changed outside libhomelab, or its sealed value "
		              "was altered or moved here from another row");
		goto out;
	}
	plain[plain_len] = '\0';
	*out = plain;
	*out_len = (size_t)plain_len;
	plain = NULL;
out:
	hl_secret__free(plain);
	hl_buf_dispose(&ad);
	free(raw);
	return err;
}

/* ------------------------------------------------------------ targets --- */

/* A resolved target: a type and id, or a credential's own id. */
struct target {
	char type[8];     /* "vm", "host", "service"; "" for a credential id */
	int64_t id;       /* the target's id, or the credential id when type is "" */
	char label[160];  /* "vm:whisper", for messages and the audit log */
};

static int check_type(const char *type)
{
	if (strcmp(type, "vm") && strcmp(type, "host") && strcmp(type, "service"))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "target type '%.20s' must be vm, host or service", type);
	return 0;
}

static int lookup(hl_ctx *ctx, const char *type, const char *ref, int64_t *id)
{
	if (!strcmp(type, "vm"))
		return hl_inv__vm_id(ctx, ref, id);
	if (!strcmp(type, "host"))
		return hl_inv__host_id(ctx, ref, id);
	{
		hl_service *s = NULL;
		int err = hl_service_lookup(&s, ctx, ref);
		if (err == 0)
			*id = s->id;
		hl_service_free(s);
		return err;
	}
}

/* Parse and resolve "vm:NAME", "host:ID", a bare name or a credential id. */
static int resolve(struct target *t, hl_ctx *ctx, const char *spec)
{
	static const char *const types[] = { "vm", "host", "service" };
	const char *colon;
	int64_t id;
	int found = 0, err;

	memset(t, 0, sizeof(*t));
	if (!spec || !*spec)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "target: required (vm:NAME, host:NAME, service:NAME or an id)");
	snprintf(t->label, sizeof(t->label), "%.150s", spec);
	if (strlen(spec) > 150)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "target: too long (at most 150 characters)");
	for (const char *p = spec; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "target: contains a control character");
	if ((colon = strchr(spec, ':'))) {
		size_t n = (size_t)(colon - spec);
		if (n >= sizeof(t->type))
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "target '%.150s': type must be vm, host or service", spec);
		memcpy(t->type, spec, n);
		if ((err = check_type(t->type)) < 0)
			return err;
		if (!colon[1])
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "target '%.150s': a name or id must follow '%s:'",
			               spec, t->type);
		/* "vm:101" names VMID 101 even when the VM left the inventory. */
		if (hl__parse_int64(colon + 1, &id)) {
			t->id = id;
			return 0;
		}
		return lookup(ctx, t->type, colon + 1, &t->id);
	}
	if (hl__parse_int64(spec, &id)) {
		t->id = id;
		snprintf(t->label, sizeof(t->label), "credential %lld", (long long)id);
		return 0;
	}
	for (size_t i = 0; i < 3; i++) {
		if (lookup(ctx, types[i], spec, &id) == 0) {
			if (found++ == 0) {
				snprintf(t->type, sizeof(t->type), "%s", types[i]);
				t->id = id;
			} else {
				return hl__err(HL_EINVALID, HL_ERROR_INVALID, "target '%.100s' is ambiguous: both a %s and a %s "
				               "have that name; write %s:%.100s or %s:%.100s", spec, t->type, types[i], t->type,
				               spec, types[i], spec);
			}
		} else if (hl__err_code() != HL_ENOTFOUND) {
			return hl__err_code();
		}
	}
	if (!found)
		return hl__err(HL_ENOTFOUND, HL_ERROR_VAULT, "target '%.100s' not found: no VM, host or service has that "
		               "name", spec);
	snprintf(t->label, sizeof(t->label), "%s:%.100s", t->type, spec);
	return 0;
}

/* ---------------------------------------------------------------- rows --- */

/* A credentials row with its stored password (ciphertext, not secret). */
struct row {
	hl_credential *cred;
	char *stored;
	size_t stored_len;
};

static const char *cred_cols(hl_ctx *ctx)
{
	/* A read-only legacy database has no key_id / updated_at columns. */
	return hl_db__has_column(ctx, "credentials", "key_id")
	       ? ", c.key_id, c.updated_at"
	       : ", NULL, NULL";
}

#define CRED_SELECT \
	"SELECT c.rowid, c.target_type, c.target_id, " \
	"CASE c.target_type WHEN 'vm' THEN (SELECT name FROM virtual_machines WHERE vm_id = c.target_id) " \
	"WHEN 'host' THEN (SELECT node_name FROM proxmox_hosts WHERE id = c.target_id) " \
	"WHEN 'service' THEN (SELECT service_name FROM services WHERE rowid = c.target_id) END, " \
	"c.username, c.ssh_key_path, c.auth_type, c.password_encrypted"

void hl_credential_free(hl_credential *c)
{
	if (!c)
		return;
	free(c->target_type);
	free(c->target_name);
	free(c->username);
	free(c->ssh_key_path);
	free(c->auth_type);
	free(c->key_id);
	free(c->updated_at);
	hl_secret__free(c->password);
	free(c);
}

void hl_credential_array_free(hl_credential_array *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++)
		hl_credential_free(list->items[i]);
	free(list->items);
	free(list);
}

const char *hl_cred_format_name(int format)
{
	switch (format) {
	case HL_CRED_FORMAT_NONE:
		return "none";
	case HL_CRED_FORMAT_FERNET:
		return "fernet";
	case HL_CRED_FORMAT_V1:
		return "v1";
	case HL_CRED_FORMAT_V2:
		return "v2";
	default:
		return "unknown";
	}
}

static int format_of(const char *stored, size_t len, int *sealed)
{
	*sealed = 0;
	if (!stored || len == 0)
		return HL_CRED_FORMAT_NONE;
	if (len >= V2N_LEN && !memcmp(stored, HL_VAULT_V2N_PREFIX, V2N_LEN)) {
		*sealed = 1;
		return HL_CRED_FORMAT_NONE;
	}
	if (len >= V2_LEN && !memcmp(stored, HL_VAULT_V2_PREFIX, V2_LEN)) {
		*sealed = 1;
		return HL_CRED_FORMAT_V2;
	}
	if (len >= PREFIX_LEN && !memcmp(stored, HL_VAULT_V1_PREFIX, PREFIX_LEN))
		return HL_CRED_FORMAT_V1;
	return HL_CRED_FORMAT_FERNET;
}

/* Read the row st is on (CRED_SELECT + cred_cols). */
static int read_row(struct row *r, sqlite3_stmt *st)
{
	hl_credential *c;
	const void *blob;

	memset(r, 0, sizeof(*r));
	if (!(c = hl__calloc(1, sizeof(*c))))
		return HL_ENOMEM;
	r->cred = c;
	c->id = sqlite3_column_int64(st, 0);
	c->target_id = sqlite3_column_int64(st, 2);
	if (!hl_db__col_text(st, 1, &c->target_type) || !hl_db__col_text(st, 3, &c->target_name) ||
	    !hl_db__col_text(st, 4, &c->username) || !hl_db__col_text(st, 5, &c->ssh_key_path) ||
	    !hl_db__col_text(st, 6, &c->auth_type) || !hl_db__col_text(st, 8, &c->key_id) ||
	    !hl_db__col_text(st, 9, &c->updated_at))
		return HL_ENOMEM;
	/* The Python server may have stored the token as text or as bytes. */
	if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
		blob = sqlite3_column_blob(st, 7);
		r->stored_len = (size_t)sqlite3_column_bytes(st, 7);
		if (!(r->stored = hl__strndup(blob ? blob : "", r->stored_len)))
			return HL_ENOMEM;
	}
	if (!c->target_type && !(c->target_type = hl__strdup("")))
		return HL_ENOMEM;
	c->format = format_of(r->stored, r->stored_len, &c->sealed);
	return 0;
}

static void row_dispose(struct row *r)
{
	hl_credential_free(r->cred);
	free(r->stored);
	memset(r, 0, sizeof(*r));
}

/* The first credentials row of a target. HL_ENOTFOUND when there is none. */
static int load_row(struct row *r, hl_ctx *ctx, const struct target *t)
{
	sqlite3_stmt *st = NULL;
	hl_buf sql = HL_BUF_INIT;
	int rc, err;

	memset(r, 0, sizeof(*r));
	if ((err = hl_buf__printf(&sql, CRED_SELECT "%s FROM credentials c WHERE %s ORDER BY c.rowid LIMIT 1",
	                          cred_cols(ctx), t->type[0] ? "c.target_type = ?1 AND c.target_id = ?2"
	                                                     : "c.rowid = ?2")) < 0)
		return err;
	err = hl_db__prepare(ctx, &st, sql.ptr);
	hl_buf_dispose(&sql);
	if (err < 0)
		return err;
	if (t->type[0])
		sqlite3_bind_text(st, 1, t->type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, t->id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = read_row(r, st);
	else if (rc == SQLITE_DONE)
		err = hl__err(HL_ENOTFOUND, HL_ERROR_VAULT, "no credentials stored for %s", t->label);
	else
		err = hl_db__error(ctx, rc, "read credentials");
	sqlite3_finalize(st);
	if (err < 0)
		row_dispose(r);
	return err;
}

/* Does the key decrypt anything else in the vault? Tells a wrong key from
 * an altered Fernet token, which the token alone cannot. */
static bool key_known_good(hl_ctx *ctx, const struct hl_vault_key *key, int64_t except)
{
	sqlite3_stmt *st = NULL;
	bool good = false;

	if (hl_db__has_column(ctx, "credentials", "key_id") &&
	    hl_db__prepare(ctx, &st, "SELECT 1 FROM credentials WHERE key_id = ?1 LIMIT 1") == 0) {
		sqlite3_bind_text(st, 1, key->id, -1, SQLITE_STATIC);
		good = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
	}
	if (good || hl_db__prepare(ctx, &st, "SELECT password_encrypted FROM credentials WHERE rowid != ?1 AND "
	                           "password_encrypted IS NOT NULL AND password_encrypted != '' AND "
	                           "substr(password_encrypted, 1, 4) != 'hl1:' LIMIT 200") < 0)
		return good;
	sqlite3_bind_int64(st, 1, except);
	while (!good && sqlite3_step(st) == SQLITE_ROW) {
		const char *tok = sqlite3_column_blob(st, 0);
		if (tok && hl_fernet__verify(key->master, tok, (size_t)sqlite3_column_bytes(st, 0)) == 0)
			good = true;
	}
	sqlite3_finalize(st);
	return good;
}

/* Decrypt a row's password under key. The message names the row. */
static int decrypt_row(char **out, size_t *out_len, hl_ctx *ctx, const struct hl_vault_key *key,
                       const struct row *r, const char *label)
{
	const hl_credential *c = r->cred;
	char msg[512];
	int err;

	*out = NULL;
	*out_len = 0;
	if (c->sealed || c->format == HL_CRED_FORMAT_V1) {
		if (c->key_id && strcmp(c->key_id, key->id) != 0)
			return hl__err(HL_EAUTH, HL_ERROR_VAULT, "credential %s (id %lld): wrong key: it was encrypted under "
			               "key %s, and the vault key is %s", label, (long long)c->id, c->key_id, key->id);
		if (c->sealed)
			err = hl_vault__unseal2(out, out_len, key, c, r->stored, r->stored_len);
		else
			err = hl_vault__unseal(out, out_len, key, c->target_type, c->target_id, r->stored, r->stored_len);
	} else if (c->format == HL_CRED_FORMAT_NONE) {
		return 0; /* no password, nothing sealed */
	} else {
		err = hl_fernet__decrypt(out, out_len, key->master, r->stored, r->stored_len);
		if (err == HL_EINTEGRITY && !key_known_good(ctx, key, c->id))
			return hl__err(HL_EAUTH, HL_ERROR_VAULT, "credential %s (id %lld): wrong key: the legacy Fernet "
			               "token does not verify under key %s, and no other stored password does either",
			               label, (long long)c->id, key->id);
	}
	if (err < 0 && err != HL_ENOMEM) {
		snprintf(msg, sizeof(msg), "%s", hl_error_last()->message);
		return hl__err(err, HL_ERROR_VAULT, "credential %s (id %lld): %s", label, (long long)c->id, msg);
	}
	return err;
}

/* Does the vault hold a sealed row (sealed = true), or a row that is not
 * sealed (false)? */
static bool vault_has(hl_ctx *ctx, bool sealed)
{
	sqlite3_stmt *st = NULL;
	bool found = false;

	if (hl_db__prepare(ctx, &st, sealed
	                   ? "SELECT 1 FROM credentials WHERE substr(password_encrypted, 1, 4) = 'hl2:' OR "
	                     "substr(password_encrypted, 1, 5) = 'hl2n:' LIMIT 1"
	                   : "SELECT 1 FROM credentials WHERE password_encrypted IS NULL OR NOT ("
	                     "substr(password_encrypted, 1, 4) = 'hl2:' OR substr(password_encrypted, 1, 5) = 'hl2n:') "
	                     "LIMIT 1") < 0)
		return sealed; /* on error, assume the strict answer */
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

/* A row in an older format where the vault's rows are sealed. */
static int refuse_unsealed(const struct row *r, const char *label)
{
	return hl__err(HL_EINTEGRITY, HL_ERROR_VAULT, "credential %s (id %lld) is not sealed to its row (format %s) in a "
	               "vault whose rows are: it was downgraded, or written by another program; nothing was returned "
	               "(`homelab creds migrate` seals it, if you trust its username, ssh_key_path and auth_type)",
	               label, (long long)r->cred->id, hl_cred_format_name(r->cred->format));
}

/* --------------------------------------------------------------- get --- */

/* Audit one credential read. On a failure path the original error (code and
 * message) is kept, with the audit's failure appended when it has one. */
static int audit_read(hl_ctx *ctx, const hl_vault_access *acc, const struct target *t, const char *result,
                      const char *details, int err)
{
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;
	char id[32], saved[600];
	int aerr;

	if (err < 0)
		snprintf(saved, sizeof(saved), "%s", hl_error_last()->message);
	ev.action = "credential_read";
	ev.result = result;
	ev.target_type = t->type[0] ? t->type : NULL;
	snprintf(id, sizeof(id), "%lld", (long long)t->id);
	/* the resolved id, else the reference as given ("vm:nosuch") */
	ev.target_id = t->id ? id : t->label;
	ev.principal = acc->principal;
	ev.client_addr = acc->client_addr;
	ev.details = details;
	aerr = hl_audit__record(ctx, &ev);
	if (err < 0) {
		if (aerr < 0) {
			char amsg[400];
			snprintf(amsg, sizeof(amsg), "%s", hl_error_last()->message);
			return hl__err(err, HL_ERROR_VAULT, "%s (and the audit row could not be written: %s)", saved, amsg);
		}
		return hl__err(err, HL_ERROR_VAULT, "%s", saved);
	}
	return aerr;
}

int hl_vault_get(hl_credential **out, hl_ctx *ctx, const char *target, const hl_vault_access *access)
{
	hl_vault_access defaults = HL_VAULT_ACCESS_INIT;
	struct hl_vault_key *key = NULL;
	struct target t;
	struct row r = { 0 };
	char *plain = NULL, amsg[400];
	size_t plain_len = 0;
	int err;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vault_get: out and ctx are required");
	*out = NULL;
	if (!access)
		access = &defaults;
	if (access->version != HL_VAULT_ACCESS_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vault_access version %u is not supported",
		               access->version);

	if ((err = resolve(&t, ctx, target)) < 0)
		return audit_read(ctx, access, &t, "failed", hl_error_last()->message, err);
	if ((err = hl_key__get(&key, ctx)) < 0)
		return audit_read(ctx, access, &t, "refused", hl_error_last()->message, err);
	if ((err = load_row(&r, ctx, &t)) < 0)
		return audit_read(ctx, access, &t, "failed", hl_error_last()->message, err);
	if (!r.cred->sealed && vault_has(ctx, true)) {
		err = refuse_unsealed(&r, t.label);
		err = audit_read(ctx, access, &t, "refused", hl_error_last()->message, err);
		goto out;
	}
	if ((err = decrypt_row(&plain, &plain_len, ctx, key, &r, t.label)) < 0) {
		/* a sealed row whose fields were changed is refused, not merely failed */
		err = audit_read(ctx, access, &t, r.cred->sealed && err == HL_EINTEGRITY ? "refused" : "failed",
		                 hl_error_last()->message, err);
		goto out;
	}
	if (plain && plain_len == 0 && r.cred->format == HL_CRED_FORMAT_NONE) {
		hl_secret__free(plain); /* a sealed row without a password */
		plain = NULL;
	}
	/* Fail closed: the password leaves only once its audit row is committed. */
	if ((err = audit_read(ctx, access, &t, "granted", NULL, 0)) < 0) {
		snprintf(amsg, sizeof(amsg), "%s", hl_error_last()->message);
		err = hl__err(err, HL_ERROR_VAULT, "credential %s not returned: the audit log could not be written: %s",
		              t.label, amsg);
		goto out;
	}
	r.cred->password = plain;
	r.cred->password_len = plain_len;
	plain = NULL;
	*out = r.cred;
	r.cred = NULL;
out:
	hl_secret__free(plain);
	row_dispose(&r);
	return err;
}

int hl_vault_check(hl_credential **out, hl_ctx *ctx, const char *target, const hl_vault_access *access)
{
	hl_vault_access defaults = HL_VAULT_ACCESS_INIT;
	struct hl_vault_key *key = NULL;
	struct target t;
	struct row r = { 0 };
	char *plain = NULL;
	size_t plain_len = 0;
	int err;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vault_check: out and ctx are required");
	*out = NULL;
	if (!access)
		access = &defaults;
	if (access->version != HL_VAULT_ACCESS_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vault_access version %u is not supported",
		               access->version);
	if ((err = resolve(&t, ctx, target)) < 0 || (err = hl_key__get(&key, ctx)) < 0 ||
	    (err = load_row(&r, ctx, &t)) < 0)
		return err;
	if (!r.cred->sealed && vault_has(ctx, true)) {
		err = refuse_unsealed(&r, t.label);
		err = audit_read(ctx, access, &t, "refused", hl_error_last()->message, err);
		goto out;
	}
	if ((err = decrypt_row(&plain, &plain_len, ctx, key, &r, t.label)) < 0) {
		if (err == HL_EINTEGRITY)
			err = audit_read(ctx, access, &t, "refused", hl_error_last()->message, err);
		goto out;
	}
	*out = r.cred;
	r.cred = NULL;
out:
	hl_secret__free(plain);
	row_dispose(&r);
	return err;
}

/* -------------------------------------------------------------- list --- */

int hl_vault_list(hl_credential_array **out, hl_ctx *ctx, const char *target_type)
{
	hl_credential_array *list = NULL;
	sqlite3_stmt *st = NULL;
	hl_buf sql = HL_BUF_INIT;
	size_t cap = 0;
	int rc, err = 0;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vault_list: out and ctx are required");
	*out = NULL;
	if (target_type && (err = check_type(target_type)) < 0)
		return err;
	if (!(list = hl__calloc(1, sizeof(*list))))
		return HL_ENOMEM;
	if (!hl_db__has_table(ctx, "credentials"))
		goto out;
	if ((err = hl_buf__printf(&sql, CRED_SELECT "%s FROM credentials c %s ORDER BY c.target_type, c.target_id, "
	                          "c.rowid", cred_cols(ctx), target_type ? "WHERE c.target_type = ?1" : "")) < 0 ||
	    (err = hl_db__prepare(ctx, &st, sql.ptr)) < 0)
		goto out;
	if (target_type)
		sqlite3_bind_text(st, 1, target_type, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct row r;
		if ((err = read_row(&r, st)) < 0) {
			row_dispose(&r);
			goto out;
		}
		if (list->count == cap) {
			hl_credential **p = hl__realloc(list->items, (cap = cap ? cap * 2 : 16) * sizeof(*p));
			if (!p) {
				row_dispose(&r);
				err = HL_ENOMEM;
				goto out;
			}
			list->items = p;
		}
		list->items[list->count++] = r.cred;
		r.cred = NULL;
		row_dispose(&r);
	}
	if (rc != SQLITE_DONE)
		err = hl_db__error(ctx, rc, "list credentials");
out:
	sqlite3_finalize(st);
	hl_buf_dispose(&sql);
	if (err < 0)
		hl_credential_array_free(list);
	else
		*out = list;
	return err;
}

/* --------------------------------------------------------------- set --- */

static int check_field(const char *s, size_t max, const char *what)
{
	if (!s)
		return 0;
	if (strlen(s) > max)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: too long (at most %zu bytes)", what, max);
	return hl_inv__check_text(s, max, what);
}

static int check_auth_type(const char *a)
{
	size_t n = a ? strlen(a) : 0;

	if (!a || !*a)
		return 0;
	if (n > 32)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "auth_type: at most 32 characters");
	for (; *a; a++)
		if (!((*a >= 'a' && *a <= 'z') || (*a >= '0' && *a <= '9') || *a == '_' || *a == '+' || *a == '-'))
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "auth_type: use only a-z, 0-9, _, + and - "
			               "(e.g. password, key)");
	return 0;
}

static void now_text(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
}

/* Audit a change made in the caller's open transaction (the audit row
 * commits with it when the log shares the database). */
static int audit_change(hl_ctx *ctx, const char *action, const char *type, int64_t id, const char *details)
{
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;
	char num[32];

	snprintf(num, sizeof(num), "%lld", (long long)id);
	ev.action = action;
	ev.target_type = type;
	ev.target_id = type ? num : NULL;
	ev.details = details;
	return hl_audit__record(ctx, &ev);
}

/* The row of a credential id, as a type + id target. */
static int target_of_credential(struct target *t, hl_ctx *ctx)
{
	struct row r;
	int err;

	if ((err = load_row(&r, ctx, t)) < 0)
		return err;
	snprintf(t->type, sizeof(t->type), "%s", r.cred->target_type);
	t->id = r.cred->target_id;
	err = check_type(t->type);
	row_dispose(&r);
	return err;
}

/* Does the target exist in the inventory? "vm:101" may name a VM that is
 * not (yet) there only when it already has credentials. */
static int check_target_exists(hl_ctx *ctx, const struct target *t)
{
	static const char *const sql[] = {
		"SELECT 1 FROM virtual_machines WHERE vm_id = ?1", "SELECT 1 FROM proxmox_hosts WHERE id = ?1",
		"SELECT 1 FROM services WHERE rowid = ?1",
	};
	sqlite3_stmt *st = NULL;
	int i = !strcmp(t->type, "vm") ? 0 : !strcmp(t->type, "host") ? 1 : 2;
	int rc, err;

	if ((err = hl_db__prepare(ctx, &st, sql[i])) < 0)
		return err;
	sqlite3_bind_int64(st, 1, t->id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return hl_db__error(ctx, rc, "look up the target");
	return hl__err(HL_ENOTFOUND, HL_ERROR_VAULT, "%s %lld not found in the inventory", t->type, (long long)t->id);
}

/* Seal the row at rowid id as it now stands, with password (len 0: none). */
static int reseal(hl_ctx *ctx, const struct hl_vault_key *key, const struct target *t, int64_t id,
                  const char *password, size_t len)
{
	struct target byid = { .type = "", .id = id };
	struct row r = { 0 };
	sqlite3_stmt *st = NULL;
	char *sealed = NULL;
	int rc, err;

	snprintf(byid.label, sizeof(byid.label), "%s", t->label);
	if ((err = load_row(&r, ctx, &byid)) < 0 || (err = hl_vault__seal2(&sealed, key, r.cred, password, len)) < 0 ||
	    (err = hl_db__prepare(ctx, &st, "UPDATE credentials SET password_encrypted = ?1, key_id = ?2 "
	                          "WHERE rowid = ?3")) < 0)
		goto out;
	sqlite3_bind_text(st, 1, sealed, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		err = hl_db__error(ctx, rc, "store credentials");
out:
	row_dispose(&r);
	free(sealed);
	return err;
}

int hl_vault_set(hl_credential **out, hl_ctx *ctx, const char *target, const hl_credential_spec *spec)
{
	struct hl_vault_key *key = NULL;
	struct target t;
	struct row r = { 0 };
	sqlite3_stmt *st = NULL;
	char *sealed = NULL, *old_pw = NULL, ts[32], details[160];
	size_t pw_len = 0, old_len = 0;
	bool exists, set_pw, seal;
	int64_t id;
	int rc, err;

	if (out)
		*out = NULL;
	if (!ctx || !spec)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vault_set: ctx and spec are required");
	if (spec->version != HL_CREDENTIAL_SPEC_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_credential_spec version %u is not supported", spec->version);
	if ((err = check_field(spec->username, 128, "username")) < 0 ||
	    (err = check_field(spec->ssh_key_path, 4096, "ssh_key_path")) < 0 ||
	    (err = check_auth_type(spec->auth_type)) < 0)
		return err;
	set_pw = spec->password != NULL;
	if (set_pw) {
		pw_len = spec->password_len ? spec->password_len : strlen(spec->password);
		if (pw_len > MAX_PASSWORD)
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "password: too long (at most %d bytes)", MAX_PASSWORD);
	}
	if ((err = hl_db__writable(ctx, "store credentials")) < 0 || (err = resolve(&t, ctx, target)) < 0)
		return err;
	if (!t.type[0] && (err = target_of_credential(&t, ctx)) < 0)
		return err;

	if ((err = hl_db__begin_write(ctx)) < 0)
		goto out;
	err = load_row(&r, ctx, &t);
	exists = err == 0;
	if (err < 0 && err != HL_ENOTFOUND)
		goto fail;
	if (!exists && (err = check_target_exists(ctx, &t)) < 0)
		goto fail;
	/* A vault of sealed rows (or an empty one) seals every row it writes,
	 * which needs the key; one of older rows keeps their format until
	 * hl_vault_migrate(), so that it never holds both. */
	seal = vault_has(ctx, true) || !vault_has(ctx, false);
	if (seal || (set_pw && pw_len)) {
		if ((err = hl_key__get(&key, ctx)) < 0)
			goto fail;
	}
	if (seal && exists && !r.cred->sealed) {
		err = refuse_unsealed(&r, t.label);
		goto fail;
	}
	if (seal && exists && !set_pw && (err = decrypt_row(&old_pw, &old_len, ctx, key, &r, t.label)) < 0)
		goto fail;
	if (!seal && set_pw && pw_len && (err = hl_vault__seal(&sealed, key, t.type, t.id, spec->password, pw_len)) < 0)
		goto fail;
	now_text(ts);
	if (exists) {
		/* NULL keeps a field: COALESCE(?, column); "" clears it: NULLIF. */
		err = hl_db__prepare(ctx, &st, "UPDATE credentials SET "
		                     "username = NULLIF(COALESCE(?1, username), ''), "
		                     "ssh_key_path = NULLIF(COALESCE(?2, ssh_key_path), ''), "
		                     "auth_type = NULLIF(COALESCE(?3, auth_type), ''), "
		                     "password_encrypted = CASE WHEN ?7 THEN ?4 ELSE password_encrypted END, "
		                     "key_id = CASE WHEN ?7 THEN ?5 ELSE key_id END, "
		                     "updated_at = ?6 WHERE rowid = ?8");
	} else {
		err = hl_db__prepare(ctx, &st, "INSERT INTO credentials (username, ssh_key_path, auth_type, "
		                     "password_encrypted, key_id, updated_at, target_type, target_id) "
		                     "VALUES (NULLIF(?1, ''), NULLIF(?2, ''), NULLIF(?3, ''), ?4, ?5, ?6, ?9, ?10)");
	}
	if (err < 0)
		goto fail;
	hl_db__bind_text(st, 1, spec->username);
	hl_db__bind_text(st, 2, spec->ssh_key_path);
	if (!exists && !spec->auth_type)
		sqlite3_bind_text(st, 3, spec->ssh_key_path && *spec->ssh_key_path && !pw_len ? "key" : "password", -1,
		                  SQLITE_STATIC);
	else
		hl_db__bind_text(st, 3, spec->auth_type);
	hl_db__bind_text(st, 4, sealed);
	hl_db__bind_text(st, 5, sealed ? key->id : NULL);
	sqlite3_bind_text(st, 6, ts, -1, SQLITE_STATIC);
	if (exists) {
		sqlite3_bind_int(st, 7, set_pw);
		sqlite3_bind_int64(st, 8, r.cred->id);
	} else {
		sqlite3_bind_text(st, 9, t.type, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 10, t.id);
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		err = hl_db__error(ctx, rc, "store credentials");
		goto fail;
	}
	id = exists ? r.cred->id : sqlite3_last_insert_rowid(ctx->db);
	/* Seal the row as it now stands: its fields and id are the associated data. */
	if (seal && (err = reseal(ctx, key, &t, id, set_pw ? spec->password : old_pw, set_pw ? pw_len : old_len)) < 0)
		goto fail;
	snprintf(details, sizeof(details), "%s%s%s%s", exists ? "changed:" : "created:",
	         spec->username ? " username" : "", set_pw ? (pw_len ? " password" : " password(cleared)") : "",
	         spec->ssh_key_path ? " ssh_key_path" : "");
	if ((err = audit_change(ctx, "credential_set", t.type, t.id, details)) < 0 || (err = hl_db__commit(ctx)) < 0)
		goto fail;
	row_dispose(&r);
	if (out && (err = load_row(&r, ctx, &t)) == 0) {
		*out = r.cred;
		r.cred = NULL;
	}
	goto out;
fail:
	hl_db__rollback(ctx);
out:
	row_dispose(&r);
	hl_secret__free(old_pw);
	free(sealed);
	return err;
}

/* ------------------------------------------------------------ remove --- */

int hl_vault_remove(hl_ctx *ctx, const char *target)
{
	struct target t;
	sqlite3_stmt *st = NULL;
	char details[64];
	int rc, err, n;

	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vault_remove: ctx is required");
	if ((err = hl_db__writable(ctx, "remove credentials")) < 0 || (err = resolve(&t, ctx, target)) < 0)
		return err;
	if (!t.type[0] && (err = target_of_credential(&t, ctx)) < 0)
		return err;
	if ((err = hl_db__begin_write(ctx)) < 0)
		return err;
	if ((err = hl_db__prepare(ctx, &st, "DELETE FROM credentials WHERE target_type = ?1 AND target_id = ?2")) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, t.type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, t.id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		err = hl_db__error(ctx, rc, "remove credentials");
		goto fail;
	}
	if ((n = sqlite3_changes(ctx->db)) == 0) {
		err = hl__err(HL_ENOTFOUND, HL_ERROR_VAULT, "no credentials stored for %s", t.label);
		goto fail;
	}
	snprintf(details, sizeof(details), "%d row%s removed", n, n == 1 ? "" : "s");
	if ((err = audit_change(ctx, "credential_delete", t.type, t.id, details)) < 0 || (err = hl_db__commit(ctx)) < 0)
		goto fail;
	return 0;
fail:
	hl_db__rollback(ctx);
	return err;
}

/* ------------------------------------------------ migrate and rotate --- */

/* Seal rows in the open write transaction under key `to`, their passwords
 * read with key `from`: every row (all = true), or only those not sealed yet. */
static int reencrypt(hl_ctx *ctx, const struct hl_vault_key *from, const struct hl_vault_key *to, bool all,
                     size_t *count)
{
	sqlite3_stmt *st = NULL, *up = NULL;
	struct row *rows = NULL;
	size_t n = 0, cap = 0;
	hl_buf sql = HL_BUF_INIT;
	int rc, err;

	*count = 0;
	/* Read every row first; then rewrite them. */
	if ((err = hl_buf__printf(&sql, CRED_SELECT "%s FROM credentials c%s ORDER BY c.rowid", cred_cols(ctx),
	                          all ? "" : " WHERE c.password_encrypted IS NULL OR NOT ("
	                          "substr(c.password_encrypted, 1, 4) = 'hl2:' OR "
	                          "substr(c.password_encrypted, 1, 5) = 'hl2n:')")) < 0 ||
	    (err = hl_db__prepare(ctx, &st, sql.ptr)) < 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			struct row *p = hl__realloc(rows, (cap = cap ? cap * 2 : 16) * sizeof(*p));
			if (!p) {
				err = HL_ENOMEM;
				goto out;
			}
			rows = p;
		}
		if ((err = read_row(&rows[n++], st)) < 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		err = hl_db__error(ctx, rc, "read credentials");
		goto out;
	}
	if ((err = hl_db__prepare(ctx, &up, "UPDATE credentials SET password_encrypted = ?1, key_id = ?2 "
	                          "WHERE rowid = ?3")) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const hl_credential *c = rows[i].cred;
		char *plain = NULL, *sealed = NULL, label[64];
		size_t len = 0;

		snprintf(label, sizeof(label), "%s:%lld", c->target_type, (long long)c->target_id);
		if ((err = check_type(c->target_type)) < 0 ||
		    (err = decrypt_row(&plain, &len, ctx, from, &rows[i], label)) < 0)
			goto out;
		err = hl_vault__seal2(&sealed, to, c, plain ? plain : "", len);
		hl_secret__free(plain);
		if (err < 0)
			goto out;
		sqlite3_bind_text(up, 1, sealed, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(up, 2, to->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(up, 3, c->id);
		rc = sqlite3_step(up);
		sqlite3_reset(up);
		free(sealed);
		if (rc != SQLITE_DONE) {
			err = hl_db__error(ctx, rc, "re-encrypt credentials");
			goto out;
		}
		(*count)++;
	}
out:
	sqlite3_finalize(st);
	sqlite3_finalize(up);
	hl_buf_dispose(&sql);
	for (size_t i = 0; i < n; i++)
		row_dispose(&rows[i]);
	free(rows);
	return err;
}

int hl_vault_migrate(hl_ctx *ctx, size_t *migrated)
{
	struct hl_vault_key *key;
	char details[64];
	size_t n = 0;
	int err;

	if (migrated)
		*migrated = 0;
	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vault_migrate: ctx is required");
	if ((err = hl_db__writable(ctx, "migrate credentials")) < 0 || (err = hl_key__get(&key, ctx)) < 0)
		return err;
	if (!hl_db__has_column(ctx, "credentials", "key_id"))
		return hl__err(HL_ECORRUPT, HL_ERROR_VAULT, "%s: the credentials table lacks the key_id column "
		               "(schema %d; open the database without HL_CTX_NO_MIGRATE)", ctx->path, ctx->schema_version);
	if ((err = hl_db__begin_write(ctx)) < 0)
		return err;
	if ((err = reencrypt(ctx, key, key, false, &n)) < 0)
		goto fail;
	snprintf(details, sizeof(details), "%zu row%s of an older format sealed", n, n == 1 ? "" : "s");
	if ((err = audit_change(ctx, "vault_migrate", NULL, 0, details)) < 0 || (err = hl_db__commit(ctx)) < 0)
		goto fail;
	if (migrated)
		*migrated = n;
	return 0;
fail:
	hl_db__rollback(ctx);
	return err;
}

int hl_vault_rotate_key(hl_ctx *ctx, const char *new_key, size_t *count)
{
	struct hl_vault_key *old, *next = NULL;
	char details[128];
	size_t n = 0;
	int err;

	if (count)
		*count = 0;
	if (!ctx || !new_key)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vault_rotate_key: ctx and new_key are required");
	if ((err = hl_db__writable(ctx, "rotate the vault key")) < 0 || (err = hl_key__get(&old, ctx)) < 0)
		return err;
	if (!hl_db__has_column(ctx, "credentials", "key_id"))
		return hl__err(HL_ECORRUPT, HL_ERROR_VAULT, "%s: the credentials table lacks the key_id column "
		               "(schema %d; open the database without HL_CTX_NO_MIGRATE)", ctx->path, ctx->schema_version);
	if ((err = hl_key__parse(&next, new_key, "the new key")) < 0)
		return err;
	if (!strcmp(next->id, old->id)) {
		hl_key__free(next);
		return hl__err(HL_EINVALID, HL_ERROR_VAULT, "the new key is the current key (%s)", old->id);
	}
	/* One transaction: until COMMIT every row is still under the old key. */
	if ((err = hl_db__begin_write(ctx)) < 0)
		goto out;
	if ((err = reencrypt(ctx, old, next, true, &n)) < 0) {
		char msg[600];
		snprintf(msg, sizeof(msg), "%s", hl_error_last()->message);
		err = hl__err(err, HL_ERROR_VAULT, "%s; nothing was changed, the old key still reads every row", msg);
		goto fail;
	}
	snprintf(details, sizeof(details), "%zu row%s re-encrypted from key %s to key %s", n, n == 1 ? "" : "s",
	         old->id, next->id);
	if ((err = audit_change(ctx, "vault_rotate_key", NULL, 0, details)) < 0 || (err = hl_db__commit(ctx)) < 0)
		goto fail;
	hl_key__free(ctx->vault_key);
	ctx->vault_key = next;
	next = NULL;
	if (count)
		*count = n;
	goto out;
fail:
	hl_db__rollback(ctx);
out:
	hl_key__free(next);
	return err;
}
