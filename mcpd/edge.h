/*
 * edge.h: what homelab-mcpd decides at its network edge, before a request
 * reaches MCP: who may come in without a token, how many connections one
 * peer address may hold, and how often its refusals are written to the
 * audit log. No CivetWeb here, so the rules are tested on their own.
 */
#ifndef HOMELAB_MCPD_EDGE_H
#define HOMELAB_MCPD_EDGE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* The length of a refusal window: one audit row per peer per window. */
#define EDGE_REFUSAL_WINDOW_S 60

enum edge_auth {
	EDGE_AUTH_OPEN,         /* no tokens, a loopback peer: in without a token */
	EDGE_AUTH_TOKEN,        /* tokens exist: the request needs one */
	EDGE_AUTH_UNAVAILABLE,  /* the token table could not be read: 503, never anonymous */
	EDGE_AUTH_REMOTE,       /* no tokens and a peer that is not loopback: 403 */
	EDGE_AUTH_PROXIED       /* no tokens and a request a proxy forwarded: 403 */
};

/* Decide how a request is let in. count_failed: the token count could not
 * be read; ntokens: how many tokens exist; peer: the connection's address;
 * forwarded: it carries Forwarded, X-Forwarded-For or X-Real-IP. */
enum edge_auth edge_auth_decide(bool count_failed, int64_t ntokens, const char *peer, bool forwarded);

/* Is origin (an Origin header) one this server serves at listen_host:port,
 * or one of the allowed ones (--allow-origin)? */
bool edge_origin_allowed(const char *origin, const char *listen_host, int port, const char *const *allowed,
                         int nallowed);

/* DNS rebinding protection: may a request with these Origin and Host
 * headers (either NULL when absent) be served? A browser page only from an
 * origin we serve or allow; a server listening on loopback only under a
 * loopback Host name. false with the reason in why. */
bool edge_origin_ok(const char *origin, const char *host, const char *listen_host, int port,
                    const char *const *allowed, int nallowed, char *why, size_t why_len);

struct edge_peer;

struct edge {
	pthread_mutex_t lock;
	struct edge_peer *buckets[256];
	int npeers;
	int max_conns;       /* per peer address; 0: no cap */
};

void edge_init(struct edge *e, int max_conns);
void edge_destroy(struct edge *e);

/* Is peer exempt from the per-peer cap? 127.0.0.1 and ::1 are the addresses
 * of local clients and of a reverse proxy on this machine. */
bool edge_peer_exempt(const char *peer);

/* A connection from peer opened: false when peer already holds max_conns
 * (the connection is counted either way; edge_conn_close undoes it). */
bool edge_conn_open(struct edge *e, const char *peer);
void edge_conn_close(struct edge *e, const char *peer);
/* Connections peer holds now. */
int edge_conns(struct edge *e, const char *peer);

/* A refusal from peer at now: true when it is to be written to the audit
 * log (the first of its window), with *suppressed set to the refusals of
 * the previous window that were counted, not written. false: counted. */
bool edge_refusal(struct edge *e, const char *peer, time_t now, uint64_t *suppressed);

/* Refusals counted and not yet written, per peer, for a last audit row at
 * shutdown: calls fn(peer, count, payload) for each, and forgets them. */
void edge_flush(struct edge *e, void (*fn)(const char *peer, uint64_t count, void *payload), void *payload);

#endif
