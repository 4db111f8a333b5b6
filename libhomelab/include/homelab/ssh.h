/*
 * homelab/ssh.h: commands on inventory VMs over SSH (libssh), and their
 * host keys.
 *
 * A target is a VM name or vm_id. Its address is the VM's ip and ssh_port
 * (default 22). User and authentication come from the VM's credentials
 * (read through the vault, so the read is audited and fail-closed): auth
 * type "key" uses ssh_key_path (a stored password is the key's
 * passphrase), "password" the decrypted password. Without credentials: the
 * VM's ssh_user (else the local user name) with $HOMELAB_SSH_KEY, then
 * ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa.
 *
 * Host keys are checked against $HOMELAB_KNOWN_HOSTS (default
 * ~/.ssh/known_hosts) in OpenSSH's format, hashed names and [host]:port
 * entries included. An unknown or changed key is refused (HL_EAUTH) with
 * the fingerprints and the command that trusts it; nothing is accepted
 * silently.
 *
 * Sessions are kept per target inside the library, for every context of
 * the process, and reused: a conversation of ten commands pays one
 * handshake. A kept session that died is replaced once, transparently,
 * before anything ran on it. Idle sessions close after
 * $HOMELAB_SSH_IDLE_S seconds (default 300). All of it is thread-safe
 * (a session serves one caller at a time).
 */
#ifndef HOMELAB_SSH_H
#define HOMELAB_SSH_H

#include "common.h"
#include "ctx.h"
#include "tool.h"

HL_BEGIN_DECL

/** The outcome of a command. Output buffers hold raw bytes (NUL-terminated
 *  for convenience; they may contain NULs and invalid UTF-8). */
typedef struct hl_ssh_result {
	char *target;          /**< the VM's name */
	int exit_status;       /**< the remote exit status; -1 when there was none (signal, timeout) */
	char *signal;          /**< the signal that ended it ("TERM", "KILL", ...), else NULL */
	char *out;             /**< stdout, at most max_output bytes */
	size_t out_len;
	char *err;             /**< stderr, at most max_output bytes */
	size_t err_len;
	int timed_out;         /**< 1: the timeout ended the command */
	int out_truncated;     /**< 1: stdout was longer than max_output */
	int err_truncated;     /**< 1: stderr was longer than max_output */
	double duration_ms;    /**< from the start of the command to its end */
	int reused;            /**< 1: ran on a kept session (no new handshake) */
} hl_ssh_result;

/** Output as it arrives: stream 1 is stdout, 2 stderr. Return non-zero to
 *  end the command (hl_ssh_exec then returns HL_EUSER). While the command is
 *  silent it is also called with len 0 at least every half second, so that
 *  a caller (Ctrl-C in the CLI) can end a command that prints nothing. */
typedef int (*hl_ssh_output_cb)(int stream, const char *data, size_t len, void *payload);

typedef struct {
	unsigned int version;
	int timeout_ms;             /**< 0: 60000; at most $HOMELAB_SSH_MAX_TIMEOUT_S (default 600) seconds */
	size_t max_output;          /**< bytes kept per stream; 0: 1 MiB */
	hl_ssh_output_cb output;    /**< raw output as it arrives (all of it, past the cap too); may be NULL */
	void *output_payload;
	hl_progress_cb progress;    /**< the latest complete output line as message; non-zero stops */
	void *payload;
	const char *principal;      /**< who runs it, for the audit log; NULL: the context's */
	const char *client_addr;    /**< NULL: "local" */
} hl_ssh_exec_options;

#define HL_SSH_EXEC_OPTIONS_VERSION 1
#define HL_SSH_EXEC_OPTIONS_INIT { .version = HL_SSH_EXEC_OPTIONS_VERSION }

/**
 * Run a command on a target (through the remote user's shell, as ssh does).
 * The audit row (action "ssh_command", result "started": target, command,
 * principal, client address) is committed before anything is sent; if it
 * cannot be written, nothing runs. The end (exit status, signal, timeout)
 * is audited too. On timeout the remote command's process group gets TERM,
 * then KILL, and the channel is closed; the result says timed_out.
 *
 * @param target   VM name or vm_id; NULL: $HOMELAB_DEFAULT_TARGET, else "whisper"
 * @param[out] out free with hl_ssh_result_free(); set when 0 is returned
 * @return 0 (whatever the remote exit status), HL_ENOTFOUND (no such VM),
 *         HL_EINVALID (no IP, bad command or options), HL_EUNREACHABLE
 *         (cannot connect, or the connection was lost), HL_EAUTH (host key
 *         unknown or changed, login refused), HL_EUSER (a callback stopped
 *         it), HL_EREADONLY/HL_EBUSY/HL_ERROR (the audit row could not be
 *         written: nothing ran)
 */
HL_EXTERN(int) hl_ssh_exec(hl_ssh_result **out, hl_ctx *ctx, const char *target, const char *command,
                           const hl_ssh_exec_options *opts);

HL_EXTERN(void) hl_ssh_result_free(hl_ssh_result *r);

/** hl_ssh_host_key.state */
typedef enum {
	HL_SSH_HOST_KNOWN = 0,   /**< the key is in known_hosts */
	HL_SSH_HOST_UNKNOWN = 1, /**< no key for this host */
	HL_SSH_HOST_CHANGED = 2  /**< known_hosts has another key (or another key type) for this host */
} hl_ssh_host_state;

/** A server's host key, as hl_ssh_host_key_get() found it. */
typedef struct hl_ssh_host_key {
	char *target;            /**< the VM's name */
	char *host;              /**< address connected to */
	int port;
	char *key_type;          /**< "ssh-ed25519", ... */
	char *fingerprint;       /**< "SHA256:..." of the server's key */
	int state;               /**< an hl_ssh_host_state */
	char *known_fingerprints;/**< CHANGED: the fingerprints known_hosts holds for the host, comma-separated */
	char *known_hosts_path;  /**< the file checked */
	char *entry;             /**< the known_hosts line that trusts the key (no newline) */
} hl_ssh_host_key;

/**
 * Connect to a target and read its host key (no login), and compare it with
 * known_hosts.
 * @param[out] out  free with hl_ssh_host_key_free()
 * @return 0 (look at state), HL_ENOTFOUND, HL_EINVALID, HL_EUNREACHABLE
 */
HL_EXTERN(int) hl_ssh_host_key_get(hl_ssh_host_key **out, hl_ctx *ctx, const char *target);

/** hl_ssh_trust() flags */
enum {
	HL_SSH_TRUST_REPLACE = 1u << 0 /**< drop the host's other entries first (a changed key) */
};

/**
 * Add a host key (from hl_ssh_host_key_get()) to known_hosts. A host whose
 * known key differs is refused with HL_EEXISTS unless HL_SSH_TRUST_REPLACE
 * is given; then its old entries are removed (the file is rewritten
 * atomically) and the new one appended. Kept sessions to the host are
 * dropped.
 * @return 0, HL_EEXISTS, HL_EINVALID, HL_ERROR (file not writable)
 */
HL_EXTERN(int) hl_ssh_trust(hl_ctx *ctx, const hl_ssh_host_key *key, unsigned int flags);

HL_EXTERN(void) hl_ssh_host_key_free(hl_ssh_host_key *key);

/**
 * Close the kept sessions to a target (NULL: to every target). Sessions in
 * use close when their command ends.
 * @param[out] closed  how many were closed now (may be NULL)
 * @return 0, HL_ENOTFOUND, HL_EINVALID
 */
HL_EXTERN(int) hl_ssh_forget(hl_ctx *ctx, const char *target, size_t *closed);

HL_END_DECL

#endif
