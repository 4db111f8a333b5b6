/*
 * edge.c: the rules at homelab-mcpd's network edge (see edge.h): the
 * anonymous-access decision, and a table of peer addresses with their open
 * connections and their refusal windows.
 */
#include "edge.h"

#include "mcpd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Peers the table tracks at most; past that, new peers are not capped or
 * rate-limited (their refusals are all written) rather than forgotten. */
#define EDGE_MAX_PEERS 65536

struct edge_peer {
	char addr[64];
	int conns;
	time_t window;        /* start of the refusal window; 0: none */
	uint64_t suppressed;  /* refusals of this window not written */
	struct edge_peer *next;
};

enum edge_auth edge_auth_decide(bool count_failed, int64_t ntokens, const char *peer, bool forwarded)
{
	if (count_failed)
		return EDGE_AUTH_UNAVAILABLE;
	if (ntokens > 0)
		return EDGE_AUTH_TOKEN;
	/* Without tokens only local clients may come in: checked per request,
	 * since the last token may be revoked while the daemon listens on the
	 * network. */
	if (!peer || !mcpd_is_loopback(peer))
		return EDGE_AUTH_REMOTE;
	return forwarded ? EDGE_AUTH_PROXIED : EDGE_AUTH_OPEN;
}

bool edge_origin_allowed(const char *origin, const char *listen_host, int port, const char *const *allowed,
                         int nallowed)
{
	char mine[3][96];

	snprintf(mine[0], sizeof(mine[0]), "http://127.0.0.1:%d", port);
	snprintf(mine[1], sizeof(mine[1]), "http://localhost:%d", port);
	snprintf(mine[2], sizeof(mine[2]), "http://%.60s:%d", listen_host, port);
	for (int i = 0; i < 3; i++)
		if (!strcmp(origin, mine[i]))
			return true;
	for (int i = 0; i < nallowed; i++)
		if (!strcmp(origin, allowed[i]))
			return true;
	return false;
}

/* s, at most 200 bytes of it, with control characters as '?': a header
 * quoted in a message stays one line. */
static const char *printable(const char *s, char out[201])
{
	size_t i;

	for (i = 0; s[i] && i < 200; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	out[i] = '\0';
	return out;
}

bool edge_origin_ok(const char *origin, const char *host, const char *listen_host, int port,
                    const char *const *allowed, int nallowed, char *why, size_t why_len)
{
	char shown[201];

	if (origin && strcmp(origin, "null") != 0) {
		if (!edge_origin_allowed(origin, listen_host, port, allowed, nallowed)) {
			printable(origin, shown);
			snprintf(why, why_len, "Origin %s is not allowed (start the daemon with --allow-origin %s)", shown,
			         shown);
			return false;
		}
	} else if (origin) {
		snprintf(why, why_len, "Origin null is not allowed");
		return false;
	}
	if (host && mcpd_is_loopback(listen_host)) {
		/* the name of "name", "name:port", "[v6]" or "[v6]:port" */
		char name[256];
		const char *end;
		size_t n;
		if (host[0] == '[') {
			end = strchr(host, ']');
			n = end ? (size_t)(end - host - 1) : 0;
			if (n >= sizeof(name))
				n = 0;
			memcpy(name, host + 1, n);
		} else {
			end = strrchr(host, ':');
			n = end ? (size_t)(end - host) : strlen(host);
			if (n >= sizeof(name))
				n = 0;
			memcpy(name, host, n);
		}
		name[n] = '\0';
		if (!mcpd_is_loopback(name)) {
			snprintf(why, why_len, "Host %s is not this loopback server", printable(host, shown));
			return false;
		}
	}
	return true;
}

bool edge_peer_exempt(const char *peer)
{
	return !strcmp(peer, "127.0.0.1") || !strcmp(peer, "::1") || !strcmp(peer, "::ffff:127.0.0.1");
}

void edge_init(struct edge *e, int max_conns)
{
	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->lock, NULL);
	e->max_conns = max_conns;
}

void edge_destroy(struct edge *e)
{
	for (size_t i = 0; i < sizeof(e->buckets) / sizeof(e->buckets[0]); i++)
		for (struct edge_peer *p = e->buckets[i], *next; p; p = next) {
			next = p->next;
			free(p);
		}
	pthread_mutex_destroy(&e->lock);
}

static unsigned bucket_of(const char *addr)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *addr; addr++)
		h = (h ^ (unsigned char)*addr) * 16777619u;
	return h & 255;
}

static bool idle(const struct edge_peer *p, time_t now)
{
	return p->conns == 0 && p->suppressed == 0 &&
	       (p->window == 0 || now - p->window >= EDGE_REFUSAL_WINDOW_S);
}

/* The peer's entry (made when create), dropping idle entries of its bucket
 * on the way. The caller holds e->lock. NULL: not there, or the table full. */
static struct edge_peer *peer_get(struct edge *e, const char *addr, bool create)
{
	struct edge_peer **pp = &e->buckets[bucket_of(addr)], *found = NULL;
	time_t now = time(NULL);

	while (*pp) {
		struct edge_peer *p = *pp;
		if (!strcmp(p->addr, addr)) {
			found = p;
			pp = &p->next;
		} else if (idle(p, now)) {
			*pp = p->next;
			free(p);
			e->npeers--;
		} else {
			pp = &p->next;
		}
	}
	if (found || !create || e->npeers >= EDGE_MAX_PEERS || strlen(addr) >= sizeof(found->addr))
		return found;
	if (!(found = calloc(1, sizeof(*found))))
		return NULL;
	strcpy(found->addr, addr);
	found->next = e->buckets[bucket_of(addr)];
	e->buckets[bucket_of(addr)] = found;
	e->npeers++;
	return found;
}

bool edge_conn_open(struct edge *e, const char *peer)
{
	struct edge_peer *p;
	bool ok = true;

	pthread_mutex_lock(&e->lock);
	if ((p = peer_get(e, peer, true))) {
		p->conns++;
		ok = e->max_conns <= 0 || edge_peer_exempt(peer) || p->conns <= e->max_conns;
	}
	pthread_mutex_unlock(&e->lock);
	return ok;
}

void edge_conn_close(struct edge *e, const char *peer)
{
	struct edge_peer *p;

	pthread_mutex_lock(&e->lock);
	if ((p = peer_get(e, peer, false)) && p->conns > 0)
		p->conns--;
	pthread_mutex_unlock(&e->lock);
}

int edge_conns(struct edge *e, const char *peer)
{
	struct edge_peer *p;
	int n;

	pthread_mutex_lock(&e->lock);
	n = (p = peer_get(e, peer, false)) ? p->conns : 0;
	pthread_mutex_unlock(&e->lock);
	return n;
}

bool edge_refusal(struct edge *e, const char *peer, time_t now, uint64_t *suppressed)
{
	struct edge_peer *p;
	bool write = true;

	*suppressed = 0;
	pthread_mutex_lock(&e->lock);
	if ((p = peer_get(e, peer, true))) {
		if (p->window && now - p->window < EDGE_REFUSAL_WINDOW_S && now >= p->window) {
			p->suppressed++;
			write = false;
		} else {
			/* a new window: its first refusal is written, with the count
			 * of the one before */
			*suppressed = p->suppressed;
			p->suppressed = 0;
			p->window = now;
		}
	}
	pthread_mutex_unlock(&e->lock);
	return write;
}

void edge_flush(struct edge *e, void (*fn)(const char *peer, uint64_t count, void *payload), void *payload)
{
	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < sizeof(e->buckets) / sizeof(e->buckets[0]); i++)
		for (struct edge_peer *p = e->buckets[i]; p; p = p->next)
			if (p->suppressed) {
				fn(p->addr, p->suppressed, payload);
				p->suppressed = 0;
			}
	pthread_mutex_unlock(&e->lock);
}
