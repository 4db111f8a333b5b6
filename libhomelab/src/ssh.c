/*
 * ssh.c: SSH connections to inventory VMs (libssh): resolving a target,
 * logging in, the process-wide pool of kept sessions, and running commands
 * with a timeout, an output cap, streaming callbacks and the audit log.
 *
 * A libssh session is used by one thread at a time: the pool lends each
 * session to one caller and takes it back afterwards, so concurrent callers
 * on one target get sessions of their own (up to POOL_PER_KEY are kept).
 */
#include "ssh.h"
#include "vault.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libssh/callbacks.h>

#define DEFAULT_TIMEOUT_MS 60000
#define DEFAULT_MAX_TIMEOUT_S 600
#define DEFAULT_MAX_OUTPUT (1024 * 1024)
#define DEFAULT_IDLE_S 300
#define CONNECT_TIMEOUT_S 10
#define POOL_PER_KEY 8
#define LINE_MAX_REPORT 512

double hl_ssh__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long env_long(const char *name, long def, long min, long max)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return def;
	errno = 0;
	n = strtol(v, &end, 10);
	if (*end || errno || n < min || n > max)
		return def;
	return n;
}

/* ---------------------------------------------------------- targets --- */

void hl_ssh__target_dispose(struct hl_ssh__target *t)
{
	if (!t)
		return;
	free(t->name);
	free(t->host);
	free(t->user);
	free(t->auth_type);
	free(t->key_path);
	free(t->pool_key);
	memset(t, 0, sizeof(*t));
}

int hl_ssh__resolve(struct hl_ssh__target *t, hl_ctx *ctx, const char *target)
{
	hl_credential_array *creds = NULL;
	hl_vm *vm = NULL;
	hl_buf key = HL_BUF_INIT;
	int err;

	memset(t, 0, sizeof(*t));
	if (!target || !*target)
		target = getenv("HOMELAB_DEFAULT_TARGET");
	if (!target || !*target)
		target = "whisper";
	if ((err = hl_vm_lookup(&vm, ctx, target)) < 0) {
		if (err == HL_ENOTFOUND)
			return hl__err(HL_ENOTFOUND, HL_ERROR_INVENTORY,
			               "target '%.100s': no VM with that name or vm_id in the inventory", target);
		return err;
	}
	if (!vm->ip || !*vm->ip) {
		err = hl__err(HL_EINVALID, HL_ERROR_INVENTORY,
		              "target '%.100s': VM %s has no IP address in the inventory (homelab vms set %s --ip IP)",
		              target, vm->name, vm->name);
		goto out;
	}
	{
		/* a literal address only: a name would be looked up in DNS */
		unsigned char addr[16];
		if (inet_pton(AF_INET, vm->ip, addr) != 1 && inet_pton(AF_INET6, vm->ip, addr) != 1) {
			err = hl__err(HL_EINVALID, HL_ERROR_INVENTORY, "target '%.100s': the ip of VM %.100s is not an IP address",
			              target, vm->name);
			goto out;
		}
	}
	t->vm_id = vm->vm_id;
	t->port = vm->ssh_port > 0 && vm->ssh_port < 65536 ? vm->ssh_port : 22;
	if (!(t->name = hl__strdup(vm->name)) || !(t->host = hl__strdup(vm->ip))) {
		err = HL_ENOMEM;
		goto out;
	}
	/* The credential's fields (no password, so no audit): the password
	 * itself is read through the vault only when a login needs it. The
	 * user name, key path and auth type decide where the login goes, so
	 * they are checked against their seal first (hl_vault_check): a key
	 * path changed with plain SQL is refused, never used. */
	if ((err = hl_vault_list(&creds, ctx, "vm")) < 0)
		goto out;
	for (size_t i = 0; i < creds->count; i++) {
		hl_credential *c = creds->items[i], *checked = NULL;
		char ref[32];
		if (c->target_id != vm->vm_id)
			continue;
		snprintf(ref, sizeof(ref), "vm:%lld", (long long)vm->vm_id);
		if ((err = hl_vault_check(&checked, ctx, ref, NULL)) == 0) {
			hl_credential_free(c);
			creds->items[i] = c = checked;
		} else if (err == HL_ELOCKED && !c->sealed) {
			/* a row of an older format and no key: nothing to check it with */
			err = 0;
		} else if (err == HL_ELOCKED) {
			err = hl__err(HL_ELOCKED, HL_ERROR_VAULT, "target '%.100s': the credentials of VM %s are sealed in the "
			              "vault and cannot be checked without its key (set HOMELAB_DB_KEY)", target, vm->name);
			goto out;
		} else {
			goto out; /* tampered with, or the audit of the refusal: never used */
		}
		t->cred_id = c->id;
		t->cred_secret = c->format != HL_CRED_FORMAT_NONE;
		if ((c->username && !(t->user = hl__strdup(c->username))) ||
		    (c->auth_type && !(t->auth_type = hl__strdup(c->auth_type))) ||
		    (c->ssh_key_path && !(t->key_path = hl__strdup(c->ssh_key_path)))) {
			err = HL_ENOMEM;
			goto out;
		}
		break;
	}
	if (!t->user && !(t->user = hl__strdup(vm->ssh_user && *vm->ssh_user ? vm->ssh_user : hl__local_user()))) {
		err = HL_ENOMEM;
		goto out;
	}
	{
		char *kh = hl_ssh__known_hosts_path();
		const char *dk = getenv("HOMELAB_SSH_KEY");
		err = hl_buf__printf(&key, "%s@%s:%d|cred=%lld|%s|key=%s|kh=%s", t->user, t->host, t->port,
		                     (long long)t->cred_id, t->auth_type ? t->auth_type : "",
		                     t->key_path ? t->key_path : (dk ? dk : ""), kh ? kh : "");
		free(kh);
		if (err < 0)
			goto out;
		t->pool_key = hl_buf__detach(&key);
	}
	err = 0;
out:
	hl_buf_dispose(&key);
	hl_credential_array_free(creds);
	hl_vm_free(vm);
	if (err < 0)
		hl_ssh__target_dispose(t);
	return err;
}

/* ------------------------------------------------------------ login --- */

/* The vault's password for the target (audited; fail-closed). */
static int vault_secret(hl_credential **out, hl_ctx *ctx, const struct hl_ssh__target *t, const char *principal,
                        const char *client_addr)
{
	hl_vault_access acc = HL_VAULT_ACCESS_INIT;
	char ref[64];

	acc.principal = principal;
	acc.client_addr = client_addr;
	snprintf(ref, sizeof(ref), "vm:%lld", (long long)t->vm_id);
	return hl_vault_get(out, ctx, ref, &acc);
}

/* Try one private key file; why says what happened (for the error). */
static int try_key_file(ssh_session s, const char *path, const char *passphrase, hl_buf *why, const char *label)
{
	ssh_key key = NULL;
	struct stat sb;
	int rc;

	if (stat(path, &sb) != 0) {
		hl_buf__printf(why, "%s%s %s: %s", why->size ? "; " : "", label, path, strerror(errno));
		return SSH_AUTH_DENIED;
	}
	rc = ssh_pki_import_privkey_file(path, passphrase, NULL, NULL, &key);
	if (rc != SSH_OK) {
		hl_buf__printf(why, "%s%s %s: cannot load the key (%s)", why->size ? "; " : "", label, path,
		               passphrase ? "wrong passphrase or not a private key" : "encrypted, or not a private key");
		return SSH_AUTH_DENIED;
	}
	rc = ssh_userauth_publickey(s, NULL, key);
	ssh_key_free(key);
	if (rc == SSH_AUTH_SUCCESS)
		return rc;
	if (rc == SSH_AUTH_ERROR)
		hl_buf__printf(why, "%s%s %s: %s", why->size ? "; " : "", label, path, ssh_get_error(s));
	else
		hl_buf__printf(why, "%s%s %s: refused by the server", why->size ? "; " : "", label, path);
	return rc;
}

static int login(ssh_session s, hl_ctx *ctx, const struct hl_ssh__target *t, const char *principal,
                 const char *client_addr)
{
	hl_buf why = HL_BUF_INIT;
	hl_credential *cred = NULL;
	int rc = SSH_AUTH_DENIED, err = 0;

	if (t->cred_id) {
		bool password = t->auth_type && !strcmp(t->auth_type, "password");
		if (t->cred_secret && (err = vault_secret(&cred, ctx, t, principal, client_addr)) < 0)
			goto out; /* the vault's own message: locked, audit failed, ... */
		if (password) {
			if (!cred || !cred->password) {
				hl_buf__printf(&why, "password (credentials of vm:%s): no password stored", t->name);
			} else {
				rc = ssh_userauth_password(s, NULL, cred->password);
				if (rc != SSH_AUTH_SUCCESS)
					hl_buf__printf(&why, "password (credentials of vm:%s): %s", t->name,
					               rc == SSH_AUTH_ERROR ? ssh_get_error(s) : "refused by the server");
			}
		} else if (t->key_path) {
			rc = try_key_file(s, t->key_path, cred ? cred->password : NULL, &why, "key (credentials)");
		} else {
			hl_buf__printf(&why, "credentials of vm:%s: auth_type '%s' without ssh_key_path", t->name,
			               t->auth_type ? t->auth_type : "");
		}
		goto done;
	}
	{
		const char *k = getenv("HOMELAB_SSH_KEY");
		const char *sock = getenv("SSH_AUTH_SOCK");
		const char *home = getenv("HOME");
		static const char *const names[] = { "id_ed25519", "id_ecdsa", "id_rsa" };
		if (k && *k) {
			rc = try_key_file(s, k, NULL, &why, "$HOMELAB_SSH_KEY");
			if (rc == SSH_AUTH_SUCCESS || rc == SSH_AUTH_ERROR)
				goto done;
		}
		if (sock && *sock) {
			rc = ssh_userauth_agent(s, NULL);
			if (rc == SSH_AUTH_SUCCESS)
				goto done;
			hl_buf__printf(&why, "%sssh-agent: %s", why.size ? "; " : "",
			               rc == SSH_AUTH_ERROR ? ssh_get_error(s) : "no key the server accepts");
			if (rc == SSH_AUTH_ERROR && !ssh_is_connected(s))
				goto done;
		} else {
			hl_buf__printf(&why, "%sssh-agent: not running (SSH_AUTH_SOCK unset)", why.size ? "; " : "");
		}
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && home && *home; i++) {
			char path[PATH_MAX];
			snprintf(path, sizeof(path), "%s/.ssh/%s", home, names[i]);
			rc = try_key_file(s, path, NULL, &why, "key");
			if (rc == SSH_AUTH_SUCCESS || rc == SSH_AUTH_ERROR)
				goto done;
		}
	}
done:
	if (rc != SSH_AUTH_SUCCESS)
		err = hl__err(HL_EAUTH, HL_ERROR_SSH, "login to %s as %s@%s:%d refused: tried %s", t->name, t->user, t->host,
		              t->port, why.size ? why.ptr : "nothing (no credentials, no key, no agent)");
out:
	hl_credential_free(cred);
	hl_buf_dispose(&why);
	return err;
}

int hl_ssh__connect(ssh_session *out, hl_ctx *ctx, const struct hl_ssh__target *t, const char *principal,
                       const char *client_addr, bool do_login)
{
	ssh_session s = ssh_new();
	char *kh = NULL;
	long timeout = CONNECT_TIMEOUT_S;
	int port = t->port, yes = 1, no = 0, err;

	*out = NULL;
	if (!s)
		return hl__oom();
	if (!(kh = hl_ssh__known_hosts_path())) {
		err = hl__err(HL_EINVALID, HL_ERROR_SSH, "no known_hosts file: set HOMELAB_KNOWN_HOSTS or HOME");
		goto fail;
	}
	/* Only what we set: no ~/.ssh/config, no /etc/ssh/ssh_config, no
	 * global known_hosts file. */
	if (ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no) < 0 || ssh_options_set(s, SSH_OPTIONS_HOST, t->host) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_PORT, &port) < 0 || ssh_options_set(s, SSH_OPTIONS_USER, t->user) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, kh) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout) < 0 ||
	    /* every channel request is a small write: without NODELAY each one
	     * waits for Nagle and the peer's delayed ACK (~40 ms) */
	    ssh_options_set(s, SSH_OPTIONS_NODELAY, &yes) < 0) {
		err = hl__err(HL_EINVALID, HL_ERROR_SSH, "target %s: bad SSH option: %s", t->name, ssh_get_error(s));
		goto fail;
	}
	if (ssh_connect(s) != SSH_OK) {
		err = hl__err(HL_EUNREACHABLE, HL_ERROR_SSH, "cannot connect to %s (%s:%d): %s", t->name, t->host, t->port,
		              ssh_get_error(s));
		goto fail;
	}
	{
		socket_t fd = ssh_get_fd(s);
		if (fd >= 0)
			setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &yes, sizeof(yes));
	}
	if (do_login) {
		if ((err = hl_ssh__check_host_key(s, t)) < 0 || (err = login(s, ctx, t, principal, client_addr)) < 0)
			goto fail;
	}
	free(kh);
	*out = s;
	return 0;
fail:
	free(kh);
	ssh_disconnect(s);
	ssh_free(s);
	return err;
}

/* ------------------------------------------------------------- pool --- */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hl_ssh__conn *pool_head;  /* idle sessions, newest first */
static unsigned long pool_generation;   /* bumped by hl_ssh_forget(): lent sessions from before close */
static double pool_idle_s = DEFAULT_IDLE_S; /* $HOMELAB_SSH_IDLE_S as the last caller read it */
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER; /* wakes the reaper */
static bool reaper_running;
static pthread_once_t ssh_once = PTHREAD_ONCE_INIT;

static void ssh_init_once(void)
{
	ssh_init();
}

static void conn_free(struct hl_ssh__conn *c)
{
	if (!c)
		return;
	if (c->sftp)
		sftp_free(c->sftp);
	if (c->spare)
		ssh_channel_free(c->spare);
	if (c->s) {
		ssh_disconnect(c->s);
		ssh_free(c->s);
	}
	free(c->home);
	free(c->key);
	free(c);
}

/* Unlink idle sessions past their time into *dead. Caller holds the lock. */
static void expire_locked(struct hl_ssh__conn **dead, double now)
{
	for (struct hl_ssh__conn **pp = &pool_head; *pp;) {
		struct hl_ssh__conn *c = *pp;
		if (now - c->last_use >= pool_idle_s) {
			*pp = c->next;
			c->next = *dead;
			*dead = c;
		} else {
			pp = &c->next;
		}
	}
}

static void free_list(struct hl_ssh__conn *c)
{
	while (c) {
		struct hl_ssh__conn *next = c->next;
		conn_free(c);
		c = next;
	}
}

/* The reaper: closes idle sessions when their time is up, also when no
 * call comes (a daemon's conversation that ended). It reads the idle time
 * the callers left in pool_idle_s, never the environment (getenv would
 * race with a caller's setenv). */
static void *reaper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pool_lock);
	for (;;) {
		struct hl_ssh__conn *dead = NULL;
		struct timespec ts;
		double now = hl_ssh__now(), wait = 60;
		expire_locked(&dead, now);
		for (struct hl_ssh__conn *c = pool_head; c; c = c->next)
			if (c->last_use + pool_idle_s - now < wait)
				wait = c->last_use + pool_idle_s - now;
		if (dead) {
			pthread_mutex_unlock(&pool_lock);
			free_list(dead);
			pthread_mutex_lock(&pool_lock);
			continue;
		}
		if (wait < 0.05)
			wait = 0.05;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)wait;
		ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&pool_cond, &pool_lock, &ts);
	}
	return NULL;
}

/* Start the reaper once (caller holds pool_lock). Without a thread, idle
 * sessions still close at the next call. */
static void start_reaper_locked(void)
{
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;

	if (reaper_running)
		return;
	/* the thread takes no signal of the process */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		reaper_running = pthread_create(&th, &attr, reaper, NULL) == 0;
		pthread_attr_destroy(&attr);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void read_idle_setting(void)
{
	double idle = (double)env_long("HOMELAB_SSH_IDLE_S", DEFAULT_IDLE_S, 0, 86400 * 7);

	pthread_mutex_lock(&pool_lock);
	if (idle != pool_idle_s) {
		pool_idle_s = idle;
		pthread_cond_signal(&pool_cond);
	}
	pthread_mutex_unlock(&pool_lock);
}

int hl_ssh__acquire(struct hl_ssh__conn **out, hl_ctx *ctx, const struct hl_ssh__target *t, const char *principal,
                    const char *client_addr, bool fresh)
{
	struct hl_ssh__conn *c = NULL, *dead = NULL;
	ssh_session s = NULL;
	int err;

	*out = NULL;
	pthread_once(&ssh_once, ssh_init_once);
	read_idle_setting();
	pthread_mutex_lock(&pool_lock);
	expire_locked(&dead, hl_ssh__now());
	if (!fresh) {
		for (struct hl_ssh__conn **pp = &pool_head; *pp; pp = &(*pp)->next) {
			if (!strcmp((*pp)->key, t->pool_key)) {
				c = *pp;
				*pp = c->next;
				c->next = NULL;
				c->gen = pool_generation;
				break;
			}
		}
	}
	pthread_mutex_unlock(&pool_lock);
	free_list(dead);
	if (c) {
		if (ssh_is_connected(c->s)) {
			c->reused = true;
			*out = c;
			return 0;
		}
		conn_free(c);
	}
	if ((err = hl_ssh__connect(&s, ctx, t, principal, client_addr, true)) < 0)
		return err;
	if (!(c = hl__calloc(1, sizeof(*c))) || !(c->key = hl__strdup(t->pool_key))) {
		free(c);
		ssh_disconnect(s);
		ssh_free(s);
		return HL_ENOMEM;
	}
	c->s = s;
	pthread_mutex_lock(&pool_lock);
	c->gen = pool_generation;
	pthread_mutex_unlock(&pool_lock);
	*out = c;
	return 0;
}

void hl_ssh__release(struct hl_ssh__conn *c, bool keep)
{
	struct hl_ssh__conn *dead = NULL;
	int same = 0;

	if (!c)
		return;
	if (!keep || !ssh_is_connected(c->s)) {
		conn_free(c);
		return;
	}
	read_idle_setting();
	pthread_mutex_lock(&pool_lock);
	if (c->gen != pool_generation) {
		/* forgotten while it was lent */
		pthread_mutex_unlock(&pool_lock);
		conn_free(c);
		return;
	}
	c->last_use = hl_ssh__now();
	c->reused = false;
	c->next = pool_head;
	pool_head = c;
	/* keep at most POOL_PER_KEY idle sessions per key: drop the oldest */
	for (struct hl_ssh__conn **pp = &pool_head; *pp;) {
		if (!strcmp((*pp)->key, c->key) && ++same > POOL_PER_KEY) {
			struct hl_ssh__conn *x = *pp;
			*pp = x->next;
			x->next = dead;
			dead = x;
		} else {
			pp = &(*pp)->next;
		}
	}
	expire_locked(&dead, c->last_use);
	start_reaper_locked();
	pthread_cond_signal(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
	free_list(dead);
}

int hl_ssh_forget(hl_ctx *ctx, const char *target, size_t *closed)
{
	struct hl_ssh__target t;
	struct hl_ssh__conn *dead = NULL;
	char prefix[300] = "";
	size_t n = 0;
	int err;

	if (closed)
		*closed = 0;
	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_ssh_forget: ctx is required");
	if (target) {
		if ((err = hl_ssh__resolve(&t, ctx, target)) < 0)
			return err;
		/* every session to that address, whatever the login */
		snprintf(prefix, sizeof(prefix), "@%s:%d|", t.host, t.port);
		hl_ssh__target_dispose(&t);
	}
	pthread_mutex_lock(&pool_lock);
	for (struct hl_ssh__conn **pp = &pool_head; *pp;) {
		struct hl_ssh__conn *c = *pp;
		if (!*prefix || strstr(c->key, prefix)) {
			*pp = c->next;
			c->next = dead;
			dead = c;
			n++;
		} else {
			pp = &c->next;
		}
	}
	pool_generation++;
	pthread_mutex_unlock(&pool_lock);
	free_list(dead);
	if (closed)
		*closed = n;
	return 0;
}

/* --------------------------------------------------------- commands --- */

struct stream {
	char *data;
	size_t len, cap;
	bool truncated;
	char line[LINE_MAX_REPORT + 1];
	size_t line_len;
};

struct exec_state {
	const hl_ssh_exec_options *opts;
	size_t max_output;
	struct stream st[2];
	int exit_status;
	bool have_status;
	char *signal;
	bool eof, closed;
	bool stop;          /* a callback asked to stop */
	bool oom;
	double lines;
	/* The command line starts by printing its shell's pid (the process
	 * group sshd made for it) on stderr, behind a marker; it is taken out
	 * of stderr here and used to end the whole group on a timeout, where
	 * the SSH "signal" request is not honoured (sshd refuses it for root
	 * logins, and before OpenSSH 7.9). */
	bool marker_done;
	char marker[64];
	size_t marker_len;
	long pgid;
};

#define PID_MARKER "\036homelab-pgid "
#define PID_PREFIX "printf '\\036homelab-pgid %%d\\n' $$ >&2; "


static void keep_bytes(struct exec_state *x, struct stream *st, const char *data, size_t len)
{
	size_t room = x->max_output - st->len;

	if (len > room) {
		st->truncated = true;
		len = room;
	}
	if (!len)
		return;
	if (st->len + len + 1 > st->cap) {
		size_t cap = st->cap ? st->cap : 4096;
		char *p;
		while (cap < st->len + len + 1)
			cap *= 2;
		if (cap > x->max_output + 1)
			cap = x->max_output + 1;
		if (!(p = realloc(st->data, cap))) {
			x->oom = true;
			x->stop = true;
			return;
		}
		st->data = p;
		st->cap = cap;
	}
	memcpy(st->data + st->len, data, len);
	st->len += len;
	st->data[st->len] = '\0';
}

/* Report complete lines through the progress callback: each one, or only
 * the last when a chunk brings more than REPORT_LINES_MAX (a flood of
 * output must not become a flood of notifications). */
#define REPORT_LINES_MAX 16

static void report_lines(struct exec_state *x, struct stream *st, const char *data, size_t len)
{
	size_t newlines = 0, seen = 0;

	if (x->opts->progress)
		for (size_t i = 0; i < len; i++)
			newlines += data[i] == '\n';
	for (size_t i = 0; i < len && !x->stop; i++) {
		if (data[i] != '\n') {
			if (st->line_len < LINE_MAX_REPORT)
				st->line[st->line_len++] = data[i];
			continue;
		}
		x->lines++;
		seen++;
		if (st->line_len && st->line[st->line_len - 1] == '\r')
			st->line_len--;
		st->line[st->line_len] = '\0';
		if (x->opts->progress && (newlines <= REPORT_LINES_MAX || seen == newlines)) {
			hl_progress p = { st->line, x->lines, 0 };
			for (char *c = st->line; *c; c++)
				if ((unsigned char)*c < 0x20 && *c != '\t')
					*c = ' ';
			hl__utf8_scrub(st->line);
			if (x->opts->progress(&p, x->opts->payload) != 0)
				x->stop = true;
		}
		st->line_len = 0;
	}
}

/* Take the pid line off the front of stderr. Returns how many bytes of
 * data it consumed. */
static size_t take_marker(struct exec_state *x, const char *data, size_t len)
{
	size_t used = 0, mlen = sizeof(PID_MARKER) - 1;

	while (used < len && !x->marker_done) {
		char c = data[used];
		if (x->marker_len < mlen ? c != PID_MARKER[x->marker_len]
		                         : (c != '\n' && (c < '0' || c > '9' || x->marker_len >= sizeof(x->marker) - 1))) {
			/* not our line (a shell that is not POSIX): what was held back is output */
			x->marker_done = true;
			return used;
		}
		used++;
		if (c == '\n') {
			x->marker[x->marker_len] = '\0';
			x->pgid = strtol(x->marker + mlen, NULL, 10);
			x->marker_done = true;
			x->marker_len = 0;
			return used;
		}
		x->marker[x->marker_len++] = c;
	}
	return used;
}

static int on_data(ssh_session session, ssh_channel channel, void *data, uint32_t len, int is_stderr, void *userdata)
{
	struct exec_state *x = userdata;
	struct stream *st = &x->st[is_stderr ? 1 : 0];
	uint32_t total = len;

	(void)session;
	(void)channel;
	if (is_stderr && !x->marker_done) {
		size_t used = take_marker(x, data, len);
		if (x->marker_done && x->marker_len) {
			/* a false start: hand the held-back bytes on first */
			size_t held = x->marker_len;
			x->marker_len = 0;
			on_data(session, channel, x->marker, (uint32_t)held, 1, userdata);
		}
		data = (char *)data + used;
		len -= (uint32_t)used;
		if (!len)
			return (int)total;
	}
	if (x->opts->output && !x->stop && x->opts->output(is_stderr ? 2 : 1, data, len, x->opts->output_payload) != 0)
		x->stop = true;
	keep_bytes(x, st, data, len);
	if (!x->stop)
		report_lines(x, st, data, len);
	return (int)total;
}

static void on_eof(ssh_session session, ssh_channel channel, void *userdata)
{
	(void)session;
	(void)channel;
	((struct exec_state *)userdata)->eof = true;
}

static void on_close(ssh_session session, ssh_channel channel, void *userdata)
{
	(void)session;
	(void)channel;
	((struct exec_state *)userdata)->closed = true;
}

static void on_exit_status(ssh_session session, ssh_channel channel, int status, void *userdata)
{
	struct exec_state *x = userdata;

	(void)session;
	(void)channel;
	x->exit_status = status;
	x->have_status = true;
}

static void on_exit_signal(ssh_session session, ssh_channel channel, const char *signal, int core,
                           const char *errmsg, const char *lang, void *userdata)
{
	struct exec_state *x = userdata;

	(void)session;
	(void)channel;
	(void)core;
	(void)errmsg;
	(void)lang;
	free(x->signal);
	x->signal = signal ? strdup(signal) : NULL;
}

/* Poll the session for up to ms, handling what arrives (callbacks). */
static int pump(ssh_event ev, ssh_session s, int ms)
{
	if (ssh_event_dopoll(ev, ms) == SSH_ERROR || !ssh_is_connected(s))
		return -1;
	return 0;
}

/* Run a short helper command on another channel of the same session and
 * wait for it (at most timeout_s). */
static void run_helper(ssh_session s, const char *command, int timeout_s)
{
	ssh_channel ch = ssh_channel_new(s);
	char buf[256];
	double until = hl_ssh__now() + timeout_s;

	if (!ch)
		return;
	if (ssh_channel_open_session(ch) == SSH_OK && ssh_channel_request_exec(ch, command) == SSH_OK)
		while (hl_ssh__now() < until && ssh_channel_read_timeout(ch, buf, sizeof(buf), 0, 200) >= 0 &&
		       !ssh_channel_is_eof(ch))
			;
	ssh_channel_close(ch);
	ssh_channel_free(ch);
}

int hl_ssh__conn_exec(struct hl_ssh__conn *c, const char *command, int timeout_s, hl_buf *err_out)
{
	ssh_channel ch = ssh_channel_new(c->s);
	double until = hl_ssh__now() + timeout_s;
	char buf[1024];
	int status = -1;

	if (!ch)
		return -1;
	if (ssh_channel_open_session(ch) == SSH_OK && ssh_channel_request_exec(ch, command) == SSH_OK) {
		while (hl_ssh__now() < until && !ssh_channel_is_eof(ch)) {
			int n = ssh_channel_read_timeout(ch, buf, sizeof(buf), 1, 100);
			if (n > 0 && err_out && err_out->size < 4096)
				hl_buf__put(err_out, buf, (size_t)n);
			if (n == SSH_ERROR || ssh_channel_read_timeout(ch, buf, sizeof(buf), 0, 0) == SSH_ERROR)
				break;
		}
		if (ssh_channel_is_eof(ch))
			status = ssh_channel_get_exit_status(ch);
	}
	ssh_channel_close(ch);
	ssh_channel_free(ch);
	return status;
}

/* End a command that must stop (timeout, callback): TERM to its process
 * group, a moment to go, then KILL, then close the channel. */
static void end_command(ssh_event ev, ssh_session s, ssh_channel ch, struct exec_state *x)
{
	double until;

	ssh_channel_request_send_signal(ch, "TERM");
	for (until = hl_ssh__now() + 0.3; !x->closed && hl_ssh__now() < until;)
		if (pump(ev, s, 50) < 0)
			return;
	if (!x->closed && x->pgid > 1) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd),
		         "kill -TERM -- -%ld 2>/dev/null; i=0; while kill -0 -- -%ld 2>/dev/null && [ $i -lt 10 ]; do "
		         "sleep 0.1; i=$((i+1)); done; kill -KILL -- -%ld 2>/dev/null; true",
		         x->pgid, x->pgid, x->pgid);
		run_helper(s, cmd, 5);
	} else if (!x->closed) {
		ssh_channel_request_send_signal(ch, "KILL");
	}
	for (until = hl_ssh__now() + 1.0; !x->closed && hl_ssh__now() < until;)
		if (pump(ev, s, 100) < 0)
			return;
	ssh_channel_close(ch);
}

static void result_free_fields(hl_ssh_result *r)
{
	free(r->target);
	free(r->signal);
	free(r->out);
	free(r->err);
}

void hl_ssh_result_free(hl_ssh_result *r)
{
	if (!r)
		return;
	result_free_fields(r);
	free(r);
}

/* Open a session channel and start the command. Returns 1 when the
 * session itself failed before anything ran (worth one reconnect). A
 * channel opened in advance (c->spare) is used first. */
static int start_command(ssh_channel *out, struct hl_ssh__conn *c, const char *command, const char *name,
                         struct ssh_channel_callbacks_struct *cb)
{
	ssh_channel ch = c->spare;
	bool spare = ch != NULL;

	*out = NULL;
	c->spare = NULL;
	if (spare && !ssh_channel_is_open(ch)) {
		ssh_channel_free(ch);
		ch = NULL;
		spare = false;
	}
	if (!ch) {
		if (!(ch = ssh_channel_new(c->s)))
			return hl__err(HL_EUNREACHABLE, HL_ERROR_SSH, "%s: cannot open a channel: %s", name,
			               ssh_get_error(c->s)),
			       1;
		if (ssh_channel_open_session(ch) != SSH_OK) {
			hl__err(HL_EUNREACHABLE, HL_ERROR_SSH, "%s: cannot open a session channel: %s", name,
			        ssh_get_error(c->s));
			ssh_channel_free(ch);
			return 1;
		}
	}
	ssh_set_channel_callbacks(ch, cb);
	if (ssh_channel_request_exec(ch, command) != SSH_OK) {
		hl__err(HL_EUNREACHABLE, HL_ERROR_SSH, "%s: the server refused to run the command: %s", name,
		        ssh_get_error(c->s));
		ssh_remove_channel_callbacks(ch, cb);
		ssh_channel_free(ch);
		if (!ssh_is_connected(c->s))
			return 1;
		/* a channel opened in advance that the server dropped: a new one */
		return spare ? start_command(out, c, command, name, cb) : -1;
	}
	*out = ch;
	return 0;
}

/* Open the next command's channel now, while this one runs: the round trip
 * of the channel open then overlaps the command instead of delaying the
 * next one. Failing is harmless (the next command opens its own). */
static void open_spare(struct hl_ssh__conn *c)
{
	ssh_channel ch;

	if (c->spare || !(ch = ssh_channel_new(c->s)))
		return;
	if (ssh_channel_open_session(ch) == SSH_OK)
		c->spare = ch;
	else
		ssh_channel_free(ch);
}

int hl_ssh__run(hl_ssh_result **out, hl_ctx *ctx, const struct hl_ssh__target *t, const char *command,
                const hl_ssh_exec_options *opts)
{
	hl_ssh_exec_options defaults = HL_SSH_EXEC_OPTIONS_INIT;
	struct ssh_channel_callbacks_struct cb;
	struct exec_state x;
	struct hl_ssh__conn *c = NULL;
	ssh_channel ch = NULL;
	ssh_event ev = NULL;
	hl_ssh_result *r = NULL;
	hl_buf line = HL_BUF_INIT;
	long max_s = env_long("HOMELAB_SSH_MAX_TIMEOUT_S", DEFAULT_MAX_TIMEOUT_S, 1, 86400);
	double start, deadline;
	int timeout_ms, err = 0, rc;
	bool keep = false, lost = false, timed_out = false;

	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (opts->version != HL_SSH_EXEC_OPTIONS_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_ssh_exec_options version %u is not supported", opts->version);
	timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	if (timeout_ms < 0 || (long)timeout_ms > max_s * 1000)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "timeout_s: %g is over the limit of %ld s ($HOMELAB_SSH_MAX_TIMEOUT_S)",
		               timeout_ms / 1000.0, max_s);
	memset(&x, 0, sizeof(x));
	x.opts = opts;
	x.max_output = opts->max_output ? opts->max_output : DEFAULT_MAX_OUTPUT;
	x.exit_status = -1;
	memset(&cb, 0, sizeof(cb));
	cb.userdata = &x;
	cb.channel_data_function = on_data;
	cb.channel_eof_function = on_eof;
	cb.channel_close_function = on_close;
	cb.channel_exit_status_function = on_exit_status;
	cb.channel_exit_signal_function = on_exit_signal;
	ssh_callbacks_init(&cb);

	start = hl_ssh__now();
	if ((err = hl_ssh__acquire(&c, ctx, t, opts->principal, opts->client_addr, false)) < 0)
		return err;
	if ((err = hl_buf__printf(&line, PID_PREFIX "%s", command)) < 0)
		goto out;
	rc = start_command(&ch, c, line.ptr, t->name, &cb);
	if (rc == 1 && c->reused) {
		/* a kept session that died: one new session, nothing ran yet */
		hl_ssh__release(c, false);
		c = NULL;
		if ((err = hl_ssh__acquire(&c, ctx, t, opts->principal, opts->client_addr, true)) < 0)
			return err;
		rc = start_command(&ch, c, line.ptr, t->name, &cb);
	}
	if (rc != 0) {
		err = hl__err_code() ? hl__err_code() : HL_ERROR;
		goto out;
	}
	/* no input: a command that reads stdin sees its end at once (ssh -n),
	 * instead of waiting for the timeout */
	ssh_channel_send_eof(ch);
	open_spare(c);
	if (!(r = hl__calloc(1, sizeof(*r))) || !(r->target = hl__strdup(t->name)) || !(ev = ssh_event_new()) ||
	    ssh_event_add_session(ev, c->s) != SSH_OK) {
		err = hl__oom();
		goto out;
	}
	r->reused = c->reused;
	deadline = start + timeout_ms / 1000.0;
	while (!x.closed) {
		double left = deadline - hl_ssh__now();
		if (x.stop)
			break;
		if (left <= 0) {
			timed_out = true;
			break;
		}
		if (pump(ev, c->s, left > 0.5 ? 500 : (int)(left * 1000) + 1) < 0) {
			lost = true;
			break;
		}
		/* no output for a while: the caller may still stop the command */
		if (!x.stop && x.opts->output && x.opts->output(1, "", 0, x.opts->output_payload) != 0)
			x.stop = true;
	}
	if (lost) {
		err = hl__err(HL_EUNREACHABLE, HL_ERROR_SSH, "%s: the connection was lost during the command: %s", t->name,
		              ssh_get_error(c->s)[0] ? ssh_get_error(c->s) : "closed by the server");
		goto out;
	}
	if (timed_out || x.stop) {
		end_command(ev, c->s, ch, &x);
	} else {
		/* the exit status comes before the close; a clean end keeps the
		 * session for the next command */
		keep = true;
	}
	if (x.oom) {
		err = hl__oom();
		goto out;
	}
	if (x.stop && !timed_out) {
		err = hl__err(HL_EUSER, HL_ERROR_CALLBACK, "%s: the command was stopped by the caller", t->name);
		goto out;
	}
	r->exit_status = x.have_status ? x.exit_status : -1;
	r->signal = x.signal;
	x.signal = NULL;
	r->timed_out = timed_out;
	r->out = x.st[0].data;
	r->out_len = x.st[0].len;
	r->out_truncated = x.st[0].truncated;
	r->err = x.st[1].data;
	r->err_len = x.st[1].len;
	r->err_truncated = x.st[1].truncated;
	x.st[0].data = x.st[1].data = NULL;
	r->duration_ms = (hl_ssh__now() - start) * 1000.0;
	*out = r;
	r = NULL;
out:
	if (ev) {
		if (c)
			ssh_event_remove_session(ev, c->s);
		ssh_event_free(ev);
	}
	if (ch) {
		ssh_remove_channel_callbacks(ch, &cb);
		if (keep)
			ssh_channel_close(ch);
		ssh_channel_free(ch);
	}
	hl_ssh__release(c, keep && err == 0);
	hl_buf_dispose(&line);
	hl_ssh_result_free(r);
	free(x.signal);
	free(x.st[0].data);
	free(x.st[1].data);
	return err;
}

/* Details for the audit log: the command, cut to a sane length. */
static void audit_ssh(hl_ctx *ctx, const hl_ssh_exec_options *opts, const struct hl_ssh__target *t,
                      const char *result, const char *details, int *err)
{
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;
	char id[32];
	int e;

	snprintf(id, sizeof(id), "%lld", (long long)t->vm_id);
	ev.action = "ssh_command";
	ev.result = result;
	ev.target_type = "vm";
	ev.target_id = id;
	ev.principal = opts->principal;
	ev.client_addr = opts->client_addr;
	ev.details = details;
	if ((e = hl_audit_record(ctx, &ev)) < 0 && err)
		*err = e;
}

int hl_ssh_exec(hl_ssh_result **out, hl_ctx *ctx, const char *target, const char *command,
                const hl_ssh_exec_options *opts)
{
	hl_ssh_exec_options defaults = HL_SSH_EXEC_OPTIONS_INIT;
	struct hl_ssh__target t;
	hl_buf details = HL_BUF_INIT;
	int err, aerr = 0;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_ssh_exec: out and ctx are required");
	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (!command || !*command)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "command: must not be empty");
	if ((err = hl_ssh__resolve(&t, ctx, target)) < 0)
		return err;
	/* Fail closed: nothing is sent before this row is committed. */
	if ((err = hl_buf__printf(&details, "%s@%s:%d: %s", t.user, t.host, t.port, command)) < 0)
		goto out;
	audit_ssh(ctx, opts, &t, "started", details.ptr, &aerr);
	if (aerr < 0) {
		char why[512];
		snprintf(why, sizeof(why), "%s", hl_error_last()->message);
		err = hl__err(aerr, HL_ERROR_SSH, "%s: command not run: the audit log could not be written: %s", t.name, why);
		goto out;
	}
	err = hl_ssh__run(out, ctx, &t, command, opts);
	hl_buf_dispose(&details);
	if (err == 0) {
		const hl_ssh_result *r = *out;
		hl_buf__printf(&details, "exit_status=%d%s%s%s duration_ms=%.0f", r->exit_status, r->signal ? " signal=" : "",
		               r->signal ? r->signal : "", r->timed_out ? " timed_out" : "", r->duration_ms);
		audit_ssh(ctx, opts, &t, r->timed_out ? "timeout" : r->exit_status == 0 ? "ok" : "failed", details.ptr, NULL);
	} else {
		char why[600];
		snprintf(why, sizeof(why), "%s", hl_error_last()->message);
		audit_ssh(ctx, opts, &t, err == HL_EUSER ? "stopped" : "error", why, NULL);
		hl__err(err, HL_ERROR_SSH, "%s", why); /* the audit call may have replaced the message */
	}
out:
	hl_buf_dispose(&details);
	hl_ssh__target_dispose(&t);
	return err;
}
