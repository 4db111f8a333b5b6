/*
 * sftp.c: files on inventory VMs over SFTP (libssh), inside allowed roots:
 * the whisper_list_files, whisper_read_file and whisper_write_file tools,
 * and the per-VM roots (table vm_file_roots).
 *
 * Every path is canonicalised by the server (SFTP realpath resolves
 * symlinks there) and checked against the canonical roots on a component
 * boundary. A write checks the parent directory the same way, never
 * follows a symlink at the final component, and is atomic: a temporary file
 * in the same directory, fsync, then rename over the target. SFTP version 3
 * (OpenSSH) cannot rename over an existing file and libssh 0.10 has no
 * posix-rename@openssh.com, so a replace renames with `mv -f` over the
 * same session (rename(2), atomic as well).
 */
#include "ssh.h"
#include "db.h"
#include "inventory.h"
#include "jw.h"
#include "json.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#define DEFAULT_READ_MAX (4u * 1024 * 1024)
#define WRITE_MAX (16u * 1024 * 1024)
#define LIST_MAX 10000
#define CHUNK 32768

/* ------------------------------------------------------------ roots --- */

int hl_sftp__migrate(hl_ctx *ctx)
{
	return hl_db__exec(ctx, "CREATE TABLE IF NOT EXISTS vm_file_roots ("
	                        " vm_id INTEGER NOT NULL REFERENCES virtual_machines(vm_id)"
	                        "  ON DELETE CASCADE ON UPDATE CASCADE,"
	                        " position INTEGER NOT NULL,"
	                        " path TEXT NOT NULL,"
	                        " PRIMARY KEY (vm_id, position));");
}

void hl_file_roots_free(hl_file_roots *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->count; i++)
		free(r->items[i]);
	free(r->items);
	free(r);
}

static int roots_of_id(hl_file_roots **out, hl_ctx *ctx, int64_t vm_id)
{
	hl_file_roots *r;
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	*out = NULL;
	if (!(r = hl__calloc(1, sizeof(*r))))
		return HL_ENOMEM;
	/* an older database that was not migrated has no roots table: defaults */
	if (!hl_db__has_table(ctx, "vm_file_roots")) {
		*out = r;
		return 0;
	}
	if ((err = hl_db__stmt(ctx, &st, "SELECT path FROM vm_file_roots WHERE vm_id = ?1 ORDER BY position")) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, vm_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char **items = hl__realloc(r->items, (r->count + 1) * sizeof(*items));
		if (!items) {
			err = HL_ENOMEM;
			goto fail;
		}
		r->items = items;
		if (!hl_db__col_text(st, 0, &r->items[r->count])) {
			err = HL_ENOMEM;
			goto fail;
		}
		if (r->items[r->count])
			r->count++;
	}
	if (rc != SQLITE_DONE) {
		err = hl_db__error(ctx, rc, "vm_file_roots");
		goto fail;
	}
	hl_db__release(ctx, st);
	*out = r;
	return 0;
fail:
	hl_db__release(ctx, st);
	hl_file_roots_free(r);
	return err;
}

int hl_vm_file_roots(hl_file_roots **out, hl_ctx *ctx, const char *vm)
{
	int64_t id;
	int err;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vm_file_roots: out and ctx are required");
	*out = NULL;
	if ((err = hl_inv__vm_id(ctx, vm, &id)) < 0)
		return err;
	return roots_of_id(out, ctx, id);
}

/* No NUL (the caller's C string ends there) and no control characters. */
static int check_path_chars(const char *p, const char *what)
{
	for (const unsigned char *c = (const unsigned char *)p; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: control character 0x%02x refused", what, *c);
	return 0;
}

int hl_vm_set_file_roots(hl_ctx *ctx, const char *vm, const char *const *roots, size_t n)
{
	sqlite3_stmt *st = NULL;
	int64_t id;
	int err;

	if (!ctx || (n && !roots))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vm_set_file_roots: ctx and roots are required");
	if (n == 1 && roots[0] && !roots[0][0])
		n = 0;
	for (size_t i = 0; i < n; i++) {
		if (!roots[i] || roots[i][0] != '/')
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "file root '%.200s': must be an absolute path",
			               roots[i] ? roots[i] : "(null)");
		if (strlen(roots[i]) > 4096)
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "file root: longer than 4096 bytes");
		if ((err = check_path_chars(roots[i], "file root")) < 0)
			return err;
	}
	if ((err = hl_db__writable(ctx, "set file roots")) < 0)
		return err;
	if (!hl_db__has_table(ctx, "vm_file_roots"))
		return hl__err(HL_EREADONLY, HL_ERROR_DB, "%s has no vm_file_roots table (schema %d, not migrated)",
		               ctx->path, ctx->schema_version);
	if ((err = hl_db__begin_write(ctx)) < 0)
		return err;
	if ((err = hl_inv__vm_id(ctx, vm, &id)) < 0)
		goto fail;
	if ((err = hl_db__stmt(ctx, &st, "DELETE FROM vm_file_roots WHERE vm_id = ?1")) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		err = hl_db__error(ctx, sqlite3_errcode(ctx->db), "vm_file_roots");
		goto fail;
	}
	hl_db__release(ctx, st);
	st = NULL;
	for (size_t i = 0; i < n; i++) {
		if ((err = hl_db__stmt(ctx, &st, "INSERT INTO vm_file_roots (vm_id, position, path) VALUES (?1, ?2, ?3)")) < 0)
			goto fail;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, (int64_t)i);
		sqlite3_bind_text(st, 3, roots[i], -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			err = hl_db__error(ctx, sqlite3_errcode(ctx->db), "vm_file_roots");
			goto fail;
		}
		hl_db__release(ctx, st);
		st = NULL;
	}
	return hl_db__commit(ctx);
fail:
	hl_db__release(ctx, st);
	hl_db__rollback(ctx);
	return err;
}

/* ---------------------------------------------------- SFTP sessions --- */

struct fs {
	hl_ctx *ctx;
	struct hl_ssh__target t;
	struct hl_ssh__conn *c;
	sftp_session sftp;
	char **roots;       /* canonical, on the server */
	size_t nroots;
	hl_buf roots_text;  /* for messages */
	bool broken;        /* the session failed: do not keep it */
};

/* An error from the SFTP layer, as an hl code with a message naming what. */
static int sftp_fail(struct fs *f, const char *what, const char *path)
{
	int e = f->sftp ? sftp_get_error(f->sftp) : -1;

	switch (e) {
	case SSH_FX_NO_SUCH_FILE:
	case SSH_FX_NO_SUCH_PATH:
		return hl__err(HL_ENOTFOUND, HL_ERROR_SSH, "%s: %s: no such file or directory on %s", what, path, f->t.name);
	case SSH_FX_PERMISSION_DENIED:
		return hl__err(HL_EAUTH, HL_ERROR_SSH, "%s: %s: permission denied on %s", what, path, f->t.name);
	case SSH_FX_FILE_ALREADY_EXISTS:
		return hl__err(HL_EEXISTS, HL_ERROR_SSH, "%s: %s: already exists on %s", what, path, f->t.name);
	default:
		if (!ssh_is_connected(f->c->s)) {
			f->broken = true;
			return hl__err(HL_EUNREACHABLE, HL_ERROR_SSH, "%s: %s: the connection to %s was lost", what, path,
			               f->t.name);
		}
		return hl__err(HL_ERROR, HL_ERROR_SSH, "%s: %s on %s: %s (SFTP status %d)", what, path, f->t.name,
		               ssh_get_error(f->c->s), e);
	}
}

static int open_sftp(struct fs *f)
{
	struct hl_ssh__conn *c = f->c;

	if (c->sftp)
		return 0;
	if (!(c->sftp = sftp_new(c->s)))
		return 1;
	if (sftp_init(c->sftp) != SSH_OK) {
		sftp_free(c->sftp);
		c->sftp = NULL;
		return 1;
	}
	return 0;
}

static bool inside(const char *root, const char *p)
{
	size_t n = strlen(root);

	if (n == 1 && root[0] == '/')
		return p[0] == '/';
	return !strncmp(p, root, n) && (p[n] == '\0' || p[n] == '/');
}

static void fs_close(struct fs *f)
{
	for (size_t i = 0; i < f->nroots; i++)
		free(f->roots[i]);
	free(f->roots);
	hl_buf_dispose(&f->roots_text);
	hl_ssh__release(f->c, !f->broken);
	hl_ssh__target_dispose(&f->t);
	memset(f, 0, sizeof(*f));
}

static int add_root(struct fs *f, char *canon)
{
	char **r = hl__realloc(f->roots, (f->nroots + 1) * sizeof(*r));

	if (!r) {
		free(canon);
		return HL_ENOMEM;
	}
	f->roots = r;
	f->roots[f->nroots++] = canon;
	return hl_buf__printf(&f->roots_text, "%s%s", f->roots_text.size ? ", " : "", canon);
}

static int fs_open(struct fs *f, hl_ctx *ctx, const char *target, const char *principal, const char *client_addr)
{
	hl_file_roots *roots = NULL;
	int err;

	memset(f, 0, sizeof(*f));
	f->ctx = ctx;
	if ((err = hl_ssh__resolve(&f->t, ctx, target)) < 0)
		return err;
	if ((err = roots_of_id(&roots, ctx, f->t.vm_id)) < 0)
		goto fail;
	if ((err = hl_ssh__acquire(&f->c, ctx, &f->t, principal, client_addr, false)) < 0)
		goto fail;
	if (open_sftp(f) != 0) {
		bool reused = f->c->reused;
		hl_ssh__release(f->c, false);
		f->c = NULL;
		if (!reused) {
			err = hl__err(HL_EUNREACHABLE, HL_ERROR_SSH, "%s: the SFTP subsystem did not start", f->t.name);
			goto fail;
		}
		/* a kept session that died: one new one */
		if ((err = hl_ssh__acquire(&f->c, ctx, &f->t, principal, client_addr, true)) < 0)
			goto fail;
		if (open_sftp(f) != 0) {
			f->broken = true;
			err = hl__err(HL_EUNREACHABLE, HL_ERROR_SSH, "%s: the SFTP subsystem did not start: %s", f->t.name,
			              ssh_get_error(f->c->s));
			goto fail;
		}
	}
	f->sftp = f->c->sftp;
	if (roots->count == 0) {
		if (!f->c->home) {
			char *home = sftp_canonicalize_path(f->sftp, ".");
			if (!home) {
				err = sftp_fail(f, "home directory", ".");
				goto fail;
			}
			f->c->home = hl__strdup(home);
			ssh_string_free_char(home);
			if (!f->c->home) {
				err = HL_ENOMEM;
				goto fail;
			}
		}
		if ((err = add_root(f, hl__strdup(f->c->home))) < 0)
			goto fail;
	}
	for (size_t i = 0; i < roots->count; i++) {
		char *canon = sftp_canonicalize_path(f->sftp, roots->items[i]);
		if (!canon) {
			if (!ssh_is_connected(f->c->s)) {
				err = sftp_fail(f, "file root", roots->items[i]);
				goto fail;
			}
			continue; /* a root that does not exist on this VM allows nothing */
		}
		err = add_root(f, hl__strdup(canon));
		ssh_string_free_char(canon);
		if (err < 0)
			goto fail;
	}
	if (!f->nroots) {
		err = hl__err(HL_ENOTFOUND, HL_ERROR_SSH, "%s: none of its file roots exists on the server", f->t.name);
		goto fail;
	}
	hl_file_roots_free(roots);
	return 0;
fail:
	hl_file_roots_free(roots);
	fs_close(f);
	return err;
}

/* The server's canonical form of path (relative: to the first root),
 * which must lie inside a root. */
static int resolve_inside(char **out, struct fs *f, const char *path, const char *what)
{
	hl_buf full = HL_BUF_INIT;
	char *canon;
	int err;

	*out = NULL;
	if ((err = check_path_chars(path, what)) < 0)
		return err;
	if (!*path)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: must not be empty", what);
	if ((err = path[0] == '/' ? hl_buf__puts(&full, path) : hl_buf__printf(&full, "%s/%s", f->roots[0], path)) < 0)
		return err;
	canon = sftp_canonicalize_path(f->sftp, full.ptr);
	if (!canon) {
		err = sftp_fail(f, what, full.ptr);
		hl_buf_dispose(&full);
		return err;
	}
	hl_buf_dispose(&full);
	*out = hl__strdup(canon);
	ssh_string_free_char(canon);
	if (!*out)
		return HL_ENOMEM;
	if ((err = check_path_chars(*out, what)) < 0)
		goto refuse;
	for (size_t i = 0; i < f->nroots; i++)
		if (inside(f->roots[i], *out))
			return 0;
	err = hl__err(HL_EAUTH, HL_ERROR_SSH, "%s: %s (on the server: %s) is outside the allowed roots of %s (%s)", what,
	              path, *out, f->t.name, f->roots_text.ptr);
refuse:
	free(*out);
	*out = NULL;
	return err;
}

static const char *type_name(const sftp_attributes a)
{
	switch (a->type) {
	case SSH_FILEXFER_TYPE_REGULAR:
		return "file";
	case SSH_FILEXFER_TYPE_DIRECTORY:
		return "dir";
	case SSH_FILEXFER_TYPE_SYMLINK:
		return "symlink";
	default:
		break;
	}
	switch (a->permissions & S_IFMT) {
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "dir";
	case S_IFLNK:
		return "symlink";
	default:
		return "other";
	}
}

static void iso_time(char out[32], uint64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void sha256_hex(char out[65], const unsigned char *data, size_t len)
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

/* ------------------------------------------------------------- list --- */

struct entry {
	char *name;
	sftp_attributes a;
	char *link;
};

static int cmp_entry(const void *x, const void *y)
{
	return strcmp(((const struct entry *)x)->name, ((const struct entry *)y)->name);
}

int hl_sftp__list(hl_buf *out, hl_ctx *ctx, const char *target, const char *directory, const hl_call_options *opts)
{
	struct fs f;
	struct entry *ents = NULL;
	size_t n = 0;
	bool truncated = false;
	char *dir = NULL;
	sftp_dir d = NULL;
	sftp_attributes a;
	hl_jw w;
	int err;

	if ((err = fs_open(&f, ctx, target, opts->principal, opts->client_addr)) < 0)
		return err;
	if ((err = resolve_inside(&dir, &f, directory, "directory")) < 0)
		goto out;
	if (!(d = sftp_opendir(f.sftp, dir))) {
		err = sftp_fail(&f, "directory", dir);
		goto out;
	}
	while ((a = sftp_readdir(f.sftp, d))) {
		struct entry *e;
		if (!strcmp(a->name, ".") || !strcmp(a->name, "..")) {
			sftp_attributes_free(a);
			continue;
		}
		if (n == LIST_MAX) {
			truncated = true;
			sftp_attributes_free(a);
			break;
		}
		if (!(e = hl__realloc(ents, (n + 1) * sizeof(*ents)))) {
			sftp_attributes_free(a);
			err = HL_ENOMEM;
			goto out;
		}
		ents = e;
		ents[n].a = a;
		ents[n].name = a->name;
		ents[n].link = NULL;
		n++;
	}
	if (!truncated && !sftp_dir_eof(d)) {
		err = sftp_fail(&f, "directory", dir);
		goto out;
	}
	qsort(ents, n, sizeof(*ents), cmp_entry);
	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	hl_jw__kstr(&w, "target", f.t.name);
	hl_jw__kstr(&w, "directory", dir);
	hl_jw__key(&w, "entries");
	hl_jw__arr(&w);
	for (size_t i = 0; i < n; i++) {
		const char *type = type_name(ents[i].a);
		char mode[16], mtime[32];
		hl_jw__obj(&w);
		hl_jw__kstr(&w, "name", ents[i].name);
		hl_jw__kstr(&w, "type", type);
		hl_jw__kint(&w, "size", (int64_t)ents[i].a->size);
		snprintf(mode, sizeof(mode), "%04o", (unsigned)(ents[i].a->permissions & 07777));
		hl_jw__kstr(&w, "mode", mode);
		iso_time(mtime, ents[i].a->mtime64 ? ents[i].a->mtime64 : ents[i].a->mtime);
		hl_jw__kstr(&w, "mtime", mtime);
		hl_jw__key(&w, "symlink_target");
		if (!strcmp(type, "symlink")) {
			hl_buf p = HL_BUF_INIT;
			char *link = NULL;
			if (hl_buf__printf(&p, "%s/%s", strcmp(dir, "/") ? dir : "", ents[i].name) == 0)
				link = sftp_readlink(f.sftp, p.ptr);
			hl_buf_dispose(&p);
			hl_jw__str(&w, link);
			ssh_string_free_char(link);
		} else {
			hl_jw__null(&w);
		}
		hl_jw__end_obj(&w);
	}
	hl_jw__end_arr(&w);
	hl_jw__kint(&w, "count", (int64_t)n);
	hl_jw__kbool(&w, "truncated", truncated);
	hl_jw__end_obj(&w);
	err = hl_jw__finish(&w);
out:
	for (size_t i = 0; i < n; i++)
		sftp_attributes_free(ents[i].a);
	free(ents);
	if (d)
		sftp_closedir(d);
	free(dir);
	fs_close(&f);
	return err;
}

/* ------------------------------------------------------------- read --- */

static bool valid_utf8(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (!(k = hl__utf8_len(p + i, n - i)))
			return false;
		i += k;
	}
	return true;
}

int hl_sftp__read(hl_buf *out, hl_ctx *ctx, const char *target, const char *file_path, size_t max_bytes,
                  const hl_call_options *opts)
{
	struct fs f;
	char *path = NULL, sha[65];
	unsigned char *data = NULL;
	size_t len = 0;
	sftp_attributes a = NULL;
	sftp_file fh = NULL;
	bool truncated = false;
	hl_jw w;
	int err;

	if (!max_bytes)
		max_bytes = DEFAULT_READ_MAX;
	if ((err = fs_open(&f, ctx, target, opts->principal, opts->client_addr)) < 0)
		return err;
	if ((err = resolve_inside(&path, &f, file_path, "file_path")) < 0)
		goto out;
	if (!(a = sftp_stat(f.sftp, path))) {
		err = sftp_fail(&f, "file_path", path);
		goto out;
	}
	if (strcmp(type_name(a), "file") != 0) {
		err = hl__err(HL_EINVALID, HL_ERROR_SSH, "file_path: %s is a %s, not a file", path, type_name(a));
		goto out;
	}
	if (!(fh = sftp_open(f.sftp, path, O_RDONLY, 0))) {
		err = sftp_fail(&f, "file_path", path);
		goto out;
	}
	if (!(data = hl__malloc(max_bytes + 1))) {
		err = HL_ENOMEM;
		goto out;
	}
	/* read one byte past the cap: a file that grew is cut too */
	while (len <= max_bytes) {
		size_t want = max_bytes + 1 - len;
		ssize_t got = sftp_read(fh, data + len, want > CHUNK ? CHUNK : want);
		if (got < 0) {
			err = sftp_fail(&f, "read", path);
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (len > max_bytes) {
		truncated = true;
		len = max_bytes;
	}
	sha256_hex(sha, data, len);
	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	hl_jw__kstr(&w, "target", f.t.name);
	hl_jw__kstr(&w, "path", path);
	if (valid_utf8(data, len) && !memchr(data, '\0', len)) {
		hl_jw__key(&w, "content");
		hl_jw__strn(&w, (const char *)data, len);
		hl_jw__kstr(&w, "encoding", "utf-8");
	} else {
		size_t b64 = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
		char *text = hl__malloc(b64);
		if (!text) {
			err = HL_ENOMEM;
			goto out;
		}
		sodium_bin2base64(text, b64, data, len, sodium_base64_VARIANT_ORIGINAL);
		hl_jw__kstr(&w, "content", text);
		free(text);
		hl_jw__kstr(&w, "encoding", "base64");
	}
	hl_jw__kint(&w, "size", (int64_t)a->size);
	hl_jw__kint(&w, "bytes", (int64_t)len);
	hl_jw__kbool(&w, "truncated", truncated || a->size > len);
	hl_jw__kstr(&w, "sha256", sha);
	hl_jw__end_obj(&w);
	err = hl_jw__finish(&w);
out:
	if (fh)
		sftp_close(fh);
	sftp_attributes_free(a);
	free(data);
	free(path);
	fs_close(&f);
	return err;
}

/* ------------------------------------------------------------ write --- */

/* 'text' quoted for a POSIX shell. */
static int shell_quote(hl_buf *b, const char *s)
{
	int err = hl_buf__puts(b, "'");

	for (; *s && err == 0; s++)
		err = *s == '\'' ? hl_buf__puts(b, "'\\''") : hl_buf__put(b, s, 1);
	return err ? err : hl_buf__puts(b, "'");
}

static bool is_dir(struct fs *f, const char *p)
{
	sftp_attributes a = sftp_stat(f->sftp, p);
	bool d = a && !strcmp(type_name(a), "dir");

	sftp_attributes_free(a);
	return d;
}

/* The canonical parent directory for a new or replaced file, inside a
 * root; with create_parents, missing directories are made (inside it). */
static int parent_dir(char **out, struct fs *f, const char *parent, bool create_parents)
{
	const char *missing[256];
	size_t nmissing = 0;
	char *canon = NULL, *copy = NULL;
	int err;

	*out = NULL;
	if ((err = resolve_inside(&canon, f, parent, "file_path")) == 0 && is_dir(f, canon)) {
		*out = canon;
		return 0;
	}
	free(canon);
	canon = NULL;
	if (err == HL_EAUTH || err == HL_EINVALID || err == HL_EUNREACHABLE || err == HL_ENOMEM)
		return err;
	if (!create_parents)
		return hl__err(HL_ENOTFOUND, HL_ERROR_SSH,
		               "file_path: the directory %s does not exist on %s (create_parents makes it)", parent, f->t.name);
	/* the deepest existing ancestor; the parts cut off are made below,
	 * one by one, each checked again on the server */
	if (!(copy = hl__strdup(parent)))
		return HL_ENOMEM;
	for (;;) {
		char *slash = strrchr(copy, '/');
		if (!slash || nmissing == sizeof(missing) / sizeof(missing[0])) {
			err = hl__err(HL_EINVALID, HL_ERROR_INVALID, "file_path: %s: no existing directory above it", parent);
			goto out;
		}
		*slash = '\0';
		if (slash[1])
			missing[nmissing++] = slash + 1;
		err = resolve_inside(&canon, f, *copy ? copy : "/", "file_path");
		if (err == 0 && is_dir(f, canon))
			break;
		free(canon);
		canon = NULL;
		if (err == HL_EAUTH || err == HL_EINVALID || err == HL_EUNREACHABLE || err == HL_ENOMEM)
			goto out;
		if (!*copy) {
			err = hl__err(HL_ENOTFOUND, HL_ERROR_SSH, "file_path: %s: no existing directory above it", parent);
			goto out;
		}
	}
	/* every part is checked before the first directory is made */
	for (size_t i = 0; i < nmissing; i++)
		if (!strcmp(missing[i], ".") || !strcmp(missing[i], "..")) {
			err = hl__err(HL_EINVALID, HL_ERROR_INVALID,
			              "file_path: %s: '%s' after a directory that does not exist yet; nothing made", parent,
			              missing[i]);
			goto out;
		}
	while (nmissing > 0) {
		const char *part = missing[--nmissing];
		hl_buf next = HL_BUF_INIT;
		if ((err = hl_buf__printf(&next, "%s/%s", strcmp(canon, "/") ? canon : "", part)) < 0)
			goto out;
		if (sftp_mkdir(f->sftp, next.ptr, 0755) != SSH_OK && !is_dir(f, next.ptr)) {
			err = sftp_fail(f, "create_parents", next.ptr);
			hl_buf_dispose(&next);
			goto out;
		}
		free(canon);
		canon = NULL;
		err = resolve_inside(&canon, f, next.ptr, "file_path");
		hl_buf_dispose(&next);
		if (err < 0)
			goto out;
	}
	*out = canon;
	canon = NULL;
	err = 0;
out:
	free(canon);
	free(copy);
	return err;
}

static void audit_write(struct fs *f, const hl_call_options *opts, const char *result, const char *details, int *err)
{
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;
	char id[32];
	int e;

	snprintf(id, sizeof(id), "%lld", (long long)f->t.vm_id);
	ev.action = "file_write";
	ev.result = result;
	ev.target_type = "vm";
	ev.target_id = id;
	ev.principal = opts->principal;
	ev.client_addr = opts->client_addr;
	ev.details = details;
	if ((e = hl_audit_record(f->ctx, &ev)) < 0 && err)
		*err = e;
}

int hl_sftp__write(hl_buf *out, hl_ctx *ctx, const char *target, const char *file_path, const unsigned char *data,
                   size_t len, bool create_parents, const hl_call_options *opts)
{
	struct fs f;
	char *parent = NULL, *dirpart = NULL, *base = NULL, sha[65], rnd[9];
	const char *name;
	hl_buf path = HL_BUF_INIT, tmp = HL_BUF_INIT, details = HL_BUF_INIT, cmd = HL_BUF_INIT;
	sftp_attributes a = NULL;
	sftp_file fh = NULL;
	unsigned int mode = 0644;
	bool replace = false, tmp_made = false;
	hl_jw w;
	int err, aerr = 0;

	if (len > WRITE_MAX)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "content: %zu bytes is over the cap of %u bytes; nothing written",
		               len, WRITE_MAX);
	if ((err = check_path_chars(file_path, "file_path")) < 0)
		return err;
	if (!*file_path)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "file_path: must not be empty");
	if ((err = fs_open(&f, ctx, target, opts->principal, opts->client_addr)) < 0)
		return err;
	/* split into directory and name (relative: to the first root) */
	if ((err = file_path[0] == '/' ? hl_buf__puts(&path, file_path)
	                               : hl_buf__printf(&path, "%s/%s", f.roots[0], file_path)) < 0)
		goto out;
	if (path.size > 1 && path.ptr[path.size - 1] == '/') {
		err = hl__err(HL_EINVALID, HL_ERROR_INVALID, "file_path: %s names a directory", file_path);
		goto out;
	}
	name = strrchr(path.ptr, '/') + 1;
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || strlen(name) > 255) {
		err = hl__err(HL_EINVALID, HL_ERROR_INVALID, "file_path: '%s' is not a file name", name);
		goto out;
	}
	if (!(dirpart = hl__strndup(path.ptr, (size_t)(name - path.ptr) - 1)) || !(base = hl__strdup(name)))
		goto oom;
	name = base;
	if ((err = parent_dir(&parent, &f, *dirpart ? dirpart : "/", create_parents)) < 0)
		goto out;
	hl_buf_dispose(&path);
	if ((err = hl_buf__printf(&path, "%s/%s", strcmp(parent, "/") ? parent : "", name)) < 0)
		goto out;
	/* never through a symlink at the final component */
	if ((a = sftp_lstat(f.sftp, path.ptr))) {
		const char *type = type_name(a);
		if (strcmp(type, "file") != 0) {
			err = hl__err(HL_EINVALID, HL_ERROR_SSH, "file_path: %s is a %s; only regular files are written%s",
			              path.ptr, type, !strcmp(type, "symlink") ? " (a write never follows a symlink)" : "");
			goto out;
		}
		replace = true;
		mode = a->permissions & 07777;
	} else if (sftp_get_error(f.sftp) != SSH_FX_NO_SUCH_FILE) {
		err = sftp_fail(&f, "file_path", path.ptr);
		goto out;
	}
	sha256_hex(sha, data, len);
	/* fail closed: nothing is written before this row is committed */
	if ((err = hl_buf__printf(&details, "path=%s size=%zu sha256=%s %s", path.ptr, len, sha,
	                          replace ? "replace" : "create")) < 0)
		goto out;
	audit_write(&f, opts, "started", details.ptr, &aerr);
	if (aerr < 0) {
		char why[512];
		snprintf(why, sizeof(why), "%s", hl_error_last()->message);
		err = hl__err(aerr, HL_ERROR_SSH, "%s: nothing written: the audit log could not be written: %s", f.t.name, why);
		goto out;
	}
	{
		unsigned char r[4];
		randombytes_buf(r, sizeof(r));
		sodium_bin2hex(rnd, sizeof(rnd), r, sizeof(r));
	}
	if ((err = hl_buf__printf(&tmp, "%s/.%.200s.hl-%s", strcmp(parent, "/") ? parent : "", name, rnd)) < 0)
		goto out;
	if (!(fh = sftp_open(f.sftp, tmp.ptr, O_WRONLY | O_CREAT | O_EXCL, replace ? 0600 : 0644))) {
		err = sftp_fail(&f, "temporary file", tmp.ptr);
		goto done;
	}
	tmp_made = true;
	for (size_t off = 0; off < len;) {
		size_t want = len - off > CHUNK ? CHUNK : len - off;
		ssize_t n = sftp_write(fh, data + off, want);
		if (n <= 0) {
			err = sftp_fail(&f, "write", tmp.ptr);
			goto done;
		}
		off += (size_t)n;
	}
	if (sftp_extension_supported(f.sftp, "fsync@openssh.com", "1") && sftp_fsync(fh) != 0) {
		err = sftp_fail(&f, "fsync", tmp.ptr);
		goto done;
	}
	if (sftp_close(fh) != SSH_OK) {
		fh = NULL;
		err = sftp_fail(&f, "close", tmp.ptr);
		goto done;
	}
	fh = NULL;
	if (replace) {
		struct sftp_attributes_struct attr;
		memset(&attr, 0, sizeof(attr));
		attr.flags = SSH_FILEXFER_ATTR_PERMISSIONS;
		attr.permissions = mode;
		if (sftp_setstat(f.sftp, tmp.ptr, &attr) != SSH_OK) {
			err = sftp_fail(&f, "keep the mode of", path.ptr);
			goto done;
		}
		if ((err = hl_buf__puts(&cmd, "mv -f -- ")) < 0 || (err = shell_quote(&cmd, tmp.ptr)) < 0 ||
		    (err = hl_buf__puts(&cmd, " ")) < 0 || (err = shell_quote(&cmd, path.ptr)) < 0)
			goto done;
		{
			hl_buf why = HL_BUF_INIT;
			int st = hl_ssh__conn_exec(f.c, cmd.ptr, 30, &why);
			if (st != 0) {
				err = hl__err(HL_ERROR, HL_ERROR_SSH, "%s: cannot rename %s over %s (mv exit %d): %.300s", f.t.name,
				              tmp.ptr, path.ptr, st, why.size ? why.ptr : "");
				hl_buf_dispose(&why);
				goto done;
			}
			hl_buf_dispose(&why);
		}
	} else if (sftp_rename(f.sftp, tmp.ptr, path.ptr) != SSH_OK) {
		err = sftp_fail(&f, "rename to", path.ptr);
		goto done;
	}
	tmp_made = false;
	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	hl_jw__kstr(&w, "target", f.t.name);
	hl_jw__kstr(&w, "path", path.ptr);
	hl_jw__kint(&w, "bytes_written", (int64_t)len);
	hl_jw__kstr(&w, "sha256", sha);
	hl_jw__kbool(&w, "created", !replace);
	hl_jw__kbool(&w, "replaced", replace);
	hl_jw__end_obj(&w);
	err = hl_jw__finish(&w);
done:
	if (fh)
		sftp_close(fh);
	if (tmp_made && !f.broken)
		sftp_unlink(f.sftp, tmp.ptr);
	{
		char why[600];
		snprintf(why, sizeof(why), "%s", err ? hl_error_last()->message : "");
		hl_buf_dispose(&details);
		if (hl_buf__printf(&details, "path=%s size=%zu sha256=%s %s%s%s", path.ptr, len, sha,
		                   replace ? "replaced" : "created", err ? ": " : "", why) == 0)
			audit_write(&f, opts, err ? "failed" : "ok", details.ptr, NULL);
		if (err)
			hl__err(err, HL_ERROR_SSH, "%s", why);
	}
	goto out;
oom:
	err = HL_ENOMEM;
out:
	sftp_attributes_free(a);
	free(parent);
	free(dirpart);
	free(base);
	hl_buf_dispose(&path);
	hl_buf_dispose(&tmp);
	hl_buf_dispose(&details);
	hl_buf_dispose(&cmd);
	fs_close(&f);
	return err;
}
