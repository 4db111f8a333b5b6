/*
 * ssh.h: the SSH layer's internal API, shared by ssh.c (connections, the
 * session pool, commands), known_hosts.c (host keys) and sftp.c (files).
 */
#ifndef HL_SSH_PRIVATE_H
#define HL_SSH_PRIVATE_H

#include "hl.h"

#include <libssh/libssh.h>
#include <libssh/sftp.h>

/* Where and how to log in to a target (a VM of the inventory). */
struct hl_ssh__target {
	char *name;          /* the VM's name */
	int64_t vm_id;
	char *host;          /* its ip */
	int port;
	char *user;
	/* credentials (cred_id 0: none, use the default methods) */
	int64_t cred_id;
	char *auth_type;
	char *key_path;
	bool cred_secret;    /* a password (or passphrase) is stored: read it through the vault */
	char *pool_key;      /* what a kept session must match to be reused */
};

/* A connected, authenticated session, lent to one caller at a time. */
struct hl_ssh__conn {
	ssh_session s;
	sftp_session sftp;   /* opened on first use by sftp.c; NULL until then */
	ssh_channel spare;   /* a session channel opened in advance for the next command, or NULL */
	char *home;          /* the SFTP server's realpath("."), cached */
	char *key;
	double last_use;     /* monotonic seconds */
	bool reused;         /* taken from the pool (not a new handshake) */
	unsigned long gen;   /* the pool generation it was lent in (hl_ssh_forget bumps it) */
	struct hl_ssh__conn *next;
};

/* Resolve a target (NULL: $HOMELAB_DEFAULT_TARGET, else "whisper"):
 * HL_ENOTFOUND naming it, HL_EINVALID when it has no IP. */
int hl_ssh__resolve(struct hl_ssh__target *t, hl_ctx *ctx, const char *target);
void hl_ssh__target_dispose(struct hl_ssh__target *t);

/* A session to t: a kept one (fresh false) or a new one (connect, host key
 * check, login). Secrets read from the vault are audited under acc. */
int hl_ssh__acquire(struct hl_ssh__conn **out, hl_ctx *ctx, const struct hl_ssh__target *t,
                    const char *principal, const char *client_addr, bool fresh);
/* A new session: connect, and when do_login, check the host key and log in. */
int hl_ssh__connect(ssh_session *out, hl_ctx *ctx, const struct hl_ssh__target *t, const char *principal,
                    const char *client_addr, bool do_login);
/* Give a session back: keep it for reuse, or close it (keep false, or it
 * is no longer connected, or it was forgotten meanwhile). Accepts NULL. */
void hl_ssh__release(struct hl_ssh__conn *c, bool keep);

/* Run a command without the audit rows (for read-only tools such as the
 * GPU status); hl_ssh_exec() is this plus the audit. */
int hl_ssh__run(hl_ssh_result **out, hl_ctx *ctx, const struct hl_ssh__target *t, const char *command,
                const hl_ssh_exec_options *opts);

/* Run a short command on c's session and wait for it (at most timeout_s):
 * its exit status, or -1. Its stderr goes to err_out (may be NULL). */
int hl_ssh__conn_exec(struct hl_ssh__conn *c, const char *command, int timeout_s, hl_buf *err_out);

/* sftp.c: the file tools' work (results as the tools' JSON). */
int hl_sftp__list(hl_buf *out, hl_ctx *ctx, const char *target, const char *directory, const hl_call_options *opts);
int hl_sftp__read(hl_buf *out, hl_ctx *ctx, const char *target, const char *file_path, size_t max_bytes,
                  const hl_call_options *opts);
int hl_sftp__write(hl_buf *out, hl_ctx *ctx, const char *target, const char *file_path, const unsigned char *data,
                   size_t len, bool create_parents, const hl_call_options *opts);

/* known_hosts.c: check the server key of a connected session against the
 * known_hosts file: 0, or HL_EAUTH naming the fingerprints and the command
 * that trusts it. */
int hl_ssh__check_host_key(ssh_session s, const struct hl_ssh__target *t);
/* Fill a host key record from a connected session. */
int hl_ssh__host_key_of(hl_ssh_host_key **out, ssh_session s, const struct hl_ssh__target *t);
/* The known_hosts path in use: $HOMELAB_KNOWN_HOSTS or ~/.ssh/known_hosts (malloc'd). */
char *hl_ssh__known_hosts_path(void);
/* "[host]:port" (or host for port 22), as known_hosts names it. */
int hl_ssh__known_name(char *out, size_t size, const char *host, int port);

/* Monotonic seconds. */
double hl_ssh__now(void);

#endif
