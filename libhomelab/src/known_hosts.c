/*
 * known_hosts.c: host keys of SSH targets against the known_hosts file
 * ($HOMELAB_KNOWN_HOSTS, default ~/.ssh/known_hosts), in OpenSSH's format.
 *
 * Reading and matching entries (plain and hashed names, [host]:port) is
 * libssh's own known_hosts code (ssh_session_is_known_server,
 * ssh_known_hosts_parse_line); this file decides what to do with the
 * answer, names fingerprints in errors, and changes the file for
 * `homelab ssh trust` (append, or an atomic rewrite for --replace).
 */
#include "ssh.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

char *hl_ssh__known_hosts_path(void)
{
	const char *kh = getenv("HOMELAB_KNOWN_HOSTS");
	const char *home = getenv("HOME");
	hl_buf b = HL_BUF_INIT;

	if (kh && *kh)
		return hl__strdup(kh);
	char tmp[4096];
	struct passwd pw, *res = NULL;

	if (!home || !*home) {
		/* getpwuid_r: another thread may be looking up users too */
		if (getpwuid_r(getuid(), &pw, tmp, sizeof(tmp), &res) == 0 && res)
			home = res->pw_dir;
	}
	if (!home || !*home)
		return NULL;
	if (hl_buf__printf(&b, "%s/.ssh/known_hosts", home) < 0)
		return NULL;
	return hl_buf__detach(&b);
}

int hl_ssh__known_name(char *out, size_t size, const char *host, int port)
{
	int n = port == 22 ? snprintf(out, size, "%s", host) : snprintf(out, size, "[%s]:%d", host, port);

	if (n < 0 || (size_t)n >= size)
		return hl__err(HL_EINVALID, HL_ERROR_SSH, "host name too long");
	return 0;
}

/* "SHA256:..." of a key (malloc'd), or NULL. */
static char *fingerprint(const ssh_key key)
{
	unsigned char *hash = NULL;
	size_t len = 0;
	char *fp, *copy;

	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &len) != SSH_OK)
		return NULL;
	fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
	ssh_clean_pubkey_hash(&hash);
	copy = fp ? hl__strdup(fp) : NULL;
	ssh_string_free_char(fp);
	return copy;
}

/* Call fn for each entry of the file that names `name`. */
static int each_entry(const char *path, const char *name, void (*fn)(struct ssh_knownhosts_entry *e, void *arg),
                      void *arg)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;

	if (!f)
		return errno == ENOENT ? 0 : hl__err(HL_ERROR, HL_ERROR_OS, "%s: %s", path, strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		struct ssh_knownhosts_entry *e = NULL;
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		p[strcspn(p, "\r\n")] = '\0';
		if (!*p || *p == '#' || *p == '@')
			continue;
		if (ssh_known_hosts_parse_line(name, p, &e) == SSH_OK && e)
			fn(e, arg);
		ssh_knownhosts_entry_free(e);
	}
	free(line);
	fclose(f);
	return 0;
}

static void add_fp(struct ssh_knownhosts_entry *e, void *arg)
{
	hl_buf *b = arg;
	char *fp = e->publickey ? fingerprint(e->publickey) : NULL;

	hl_buf__printf(b, "%s%s (%s)", b->size ? ", " : "", fp ? fp : "?",
	               e->publickey ? ssh_key_type_to_char(ssh_key_type(e->publickey)) : "?");
	free(fp);
}

/* The fingerprints the file holds for name, comma-separated (malloc'd). */
static char *known_fps(const char *path, const char *name)
{
	hl_buf b = HL_BUF_INIT;

	each_entry(path, name, add_fp, &b);
	return b.size ? hl_buf__detach(&b) : hl__strdup("(none readable)");
}

int hl_ssh__host_key_of(hl_ssh_host_key **out, ssh_session s, const struct hl_ssh__target *t)
{
	hl_ssh_host_key *k = NULL;
	ssh_key srv = NULL;
	char *entry = NULL, name[300];
	enum ssh_known_hosts_e state;
	int err = HL_ENOMEM;

	*out = NULL;
	if ((err = hl_ssh__known_name(name, sizeof(name), t->host, t->port)) < 0)
		return err;
	if (ssh_get_server_publickey(s, &srv) != SSH_OK)
		return hl__err(HL_EUNREACHABLE, HL_ERROR_SSH, "%s: no host key from the server: %s", t->name,
		               ssh_get_error(s));
	err = HL_ENOMEM;
	if (!(k = hl__calloc(1, sizeof(*k))) || !(k->target = hl__strdup(t->name)) || !(k->host = hl__strdup(t->host)) ||
	    !(k->key_type = hl__strdup(ssh_key_type_to_char(ssh_key_type(srv)))) || !(k->fingerprint = fingerprint(srv)) ||
	    !(k->known_hosts_path = hl_ssh__known_hosts_path()))
		goto fail;
	k->port = t->port;
	if (ssh_session_export_known_hosts_entry(s, &entry) != SSH_OK) {
		err = hl__err(HL_ERROR, HL_ERROR_SSH, "%s: cannot write the host key as a known_hosts line: %s", t->name,
		              ssh_get_error(s));
		goto fail;
	}
	entry[strcspn(entry, "\r\n")] = '\0';
	if (!(k->entry = hl__strdup(entry)))
		goto fail;
	state = ssh_session_is_known_server(s);
	switch (state) {
	case SSH_KNOWN_HOSTS_OK:
		k->state = HL_SSH_HOST_KNOWN;
		break;
	case SSH_KNOWN_HOSTS_CHANGED:
	case SSH_KNOWN_HOSTS_OTHER:
		k->state = HL_SSH_HOST_CHANGED;
		if (!(k->known_fingerprints = known_fps(k->known_hosts_path, name)))
			goto fail;
		break;
	case SSH_KNOWN_HOSTS_UNKNOWN:
	case SSH_KNOWN_HOSTS_NOT_FOUND:
		k->state = HL_SSH_HOST_UNKNOWN;
		break;
	default:
		err = hl__err(HL_ERROR, HL_ERROR_SSH, "%s: cannot read known_hosts %s: %s", t->name, k->known_hosts_path,
		              ssh_get_error(s));
		goto fail;
	}
	free(entry);
	ssh_key_free(srv);
	*out = k;
	return 0;
fail:
	free(entry);
	ssh_key_free(srv);
	hl_ssh_host_key_free(k);
	return err;
}

int hl_ssh__check_host_key(ssh_session s, const struct hl_ssh__target *t)
{
	hl_ssh_host_key *k = NULL;
	int err;

	if ((err = hl_ssh__host_key_of(&k, s, t)) < 0)
		return err;
	if (k->state == HL_SSH_HOST_UNKNOWN)
		err = hl__err(HL_EAUTH, HL_ERROR_SSH,
		              "host key of %s (%s:%d) is not known (%s): the server offers %s %s; check it, then trust it "
		              "with: homelab ssh trust %s",
		              t->name, t->host, t->port, k->known_hosts_path, k->key_type, k->fingerprint, t->name);
	else if (k->state == HL_SSH_HOST_CHANGED)
		err = hl__err(HL_EAUTH, HL_ERROR_SSH,
		              "HOST KEY CHANGED for %s (%s:%d): %s holds %s, the server offers %s %s; this may be an attack "
		              "(someone in the middle); if the change is expected: homelab ssh trust %s --replace",
		              t->name, t->host, t->port, k->known_hosts_path, k->known_fingerprints, k->key_type,
		              k->fingerprint, t->name);
	hl_ssh_host_key_free(k);
	return err;
}

void hl_ssh_host_key_free(hl_ssh_host_key *k)
{
	if (!k)
		return;
	free(k->target);
	free(k->host);
	free(k->key_type);
	free(k->fingerprint);
	free(k->known_fingerprints);
	free(k->known_hosts_path);
	free(k->entry);
	free(k);
}

int hl_ssh_host_key_get(hl_ssh_host_key **out, hl_ctx *ctx, const char *target)
{
	struct hl_ssh__target t;
	ssh_session s = NULL;
	int err;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_ssh_host_key_get: out and ctx are required");
	*out = NULL;
	if ((err = hl_ssh__resolve(&t, ctx, target)) < 0)
		return err;
	if ((err = hl_ssh__connect(&s, ctx, &t, NULL, NULL, false)) == 0) {
		err = hl_ssh__host_key_of(out, s, &t);
		ssh_disconnect(s);
		ssh_free(s);
	}
	hl_ssh__target_dispose(&t);
	return err;
}

/* ------------------------------------------------------------ trust --- */

struct match {
	ssh_key key;      /* the key being trusted */
	int same, other;  /* entries with that key / another key */
};

static void count_match(struct ssh_knownhosts_entry *e, void *arg)
{
	struct match *m = arg;

	if (e->publickey && ssh_key_cmp(e->publickey, m->key, SSH_KEY_CMP_PUBLIC) == 0)
		m->same++;
	else
		m->other++;
}

/* Create the file's directory (mode 0700) when it is missing. */
static int make_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	if (!(slash = strrchr(dir, '/')) || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return 0;
	return hl__err(HL_ERROR, HL_ERROR_OS, "%s: %s", dir, strerror(errno));
}

/* Rewrite path without the entries for name (atomically: temp + rename). */
static int drop_entries(const char *path, const char *name)
{
	char tmp[PATH_MAX];
	FILE *in = fopen(path, "r"), *outf = NULL;
	char *line = NULL;
	size_t cap = 0;
	struct stat sb;
	int fd, err = 0;

	if (!in)
		return errno == ENOENT ? 0 : hl__err(HL_ERROR, HL_ERROR_OS, "%s: %s", path, strerror(errno));
	if (snprintf(tmp, sizeof(tmp), "%s.hlXXXXXX", path) >= (int)sizeof(tmp) || (fd = mkstemp(tmp)) < 0) {
		fclose(in);
		return hl__err(HL_ERROR, HL_ERROR_OS, "%s: cannot create a temporary file: %s", path, strerror(errno));
	}
	if (fstat(fileno(in), &sb) == 0)
		fchmod(fd, sb.st_mode & 07777);
	outf = fdopen(fd, "w");
	while (outf && getline(&line, &cap, in) > 0) {
		struct ssh_knownhosts_entry *e = NULL;
		char *copy = hl__strdup(line), *p;
		bool drop = false;
		if (!copy) {
			err = HL_ENOMEM;
			break;
		}
		for (p = copy; *p == ' ' || *p == '\t'; p++)
			;
		p[strcspn(p, "\r\n")] = '\0';
		if (*p && *p != '#' && *p != '@' && ssh_known_hosts_parse_line(name, p, &e) == SSH_OK && e)
			drop = true;
		ssh_knownhosts_entry_free(e);
		free(copy);
		if (!drop && fputs(line, outf) == EOF) {
			err = hl__err(HL_ERROR, HL_ERROR_OS, "%s: %s", tmp, strerror(errno));
			break;
		}
	}
	free(line);
	fclose(in);
	if (!outf) {
		close(fd);
		err = hl__err(HL_ERROR, HL_ERROR_OS, "%s: %s", tmp, strerror(errno));
	} else if (err == 0 && (fflush(outf) != 0 || fsync(fileno(outf)) != 0)) {
		err = hl__err(HL_ERROR, HL_ERROR_OS, "%s: %s", tmp, strerror(errno));
	}
	if (outf && fclose(outf) != 0 && err == 0)
		err = hl__err(HL_ERROR, HL_ERROR_OS, "%s: %s", tmp, strerror(errno));
	if (err == 0 && rename(tmp, path) != 0)
		err = hl__err(HL_ERROR, HL_ERROR_OS, "%s: %s", path, strerror(errno));
	if (err < 0)
		unlink(tmp);
	return err;
}

static int append_entry(const char *path, const char *entry)
{
	int fd, err = 0;
	char last = '\n';
	hl_buf b = HL_BUF_INIT;

	if ((err = make_parent(path)) < 0)
		return err;
	if ((fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return hl__err(HL_ERROR, HL_ERROR_OS, "%s: %s", path, strerror(errno));
	if (lseek(fd, -1, SEEK_END) >= 0 && read(fd, &last, 1) != 1)
		last = '\n';
	if ((err = hl_buf__printf(&b, "%s%s\n", last == '\n' ? "" : "\n", entry)) == 0 &&
	    (write(fd, b.ptr, b.size) != (ssize_t)b.size || fsync(fd) != 0))
		err = hl__err(HL_ERROR, HL_ERROR_OS, "%s: %s", path, strerror(errno));
	close(fd);
	hl_buf_dispose(&b);
	return err;
}

int hl_ssh_trust(hl_ctx *ctx, const hl_ssh_host_key *k, unsigned int flags)
{
	struct ssh_knownhosts_entry *mine = NULL;
	struct match m = { 0 };
	char name[300];
	int err;

	if (!ctx || !k || !k->entry || !k->host || !k->known_hosts_path)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_ssh_trust: ctx and a host key are required");
	if ((err = hl_ssh__known_name(name, sizeof(name), k->host, k->port)) < 0)
		return err;
	if (ssh_known_hosts_parse_line(name, k->entry, &mine) != SSH_OK || !mine || !mine->publickey) {
		ssh_knownhosts_entry_free(mine);
		return hl__err(HL_EINVALID, HL_ERROR_SSH, "hl_ssh_trust: the entry does not name %s", name);
	}
	m.key = mine->publickey;
	err = each_entry(k->known_hosts_path, name, count_match, &m);
	ssh_knownhosts_entry_free(mine);
	if (err < 0)
		return err;
	if (m.other && !(flags & HL_SSH_TRUST_REPLACE))
		return hl__err(HL_EEXISTS, HL_ERROR_SSH,
		               "%s already holds another key for %s (%s); replace it only if the change is expected "
		               "(homelab ssh trust %s --replace)",
		               k->known_hosts_path, k->target ? k->target : name, name, k->target ? k->target : name);
	if (m.other && (err = drop_entries(k->known_hosts_path, name)) < 0)
		return err;
	if ((m.other || !m.same) && (err = append_entry(k->known_hosts_path, k->entry)) < 0)
		return err;
	if (k->target)
		hl_ssh_forget(ctx, k->target, NULL);
	return 0;
}
