/*
 * fuzz_edge.c: what reaches homelab-mcpd's edge before MCP does: the Origin
 * and Host headers of a request (DNS rebinding checks), its peer address
 * (anonymous access without tokens, the per-peer connection cap) and the
 * refusal windows of the audit log. The input is split at NUL bytes into
 * origin, host, peer, and a byte of flags. Properties: no crash; a refusal
 * always says why, in one line; a peer that is not loopback never gets in
 * without a token; a lookup error never lets anyone in; connection counts
 * come back to zero.
 */
#include "edge.h"
#include "mcpd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *next_part(const char **p, const char *end)
{
	const char *start = *p;

	while (*p < end && **p)
		(*p)++;
	if (*p < end)
		(*p)++; /* past the NUL */
	return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const allowed[] = { "http://webui.example:3000", "null" };
	char *text, why[512];
	const char *p, *end, *origin, *host, *peer;
	unsigned flags;
	struct edge e;
	uint64_t before;

	if (size > 4096 || !(text = malloc(size + 2)))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	text[size + 1] = '\0';
	p = text;
	end = text + size + 1;
	origin = next_part(&p, end);
	host = next_part(&p, end);
	peer = next_part(&p, end);
	flags = p < end ? (unsigned char)*p : 0;

	why[0] = '\0';
	if (!edge_origin_ok(flags & 1 ? origin : NULL, flags & 2 ? host : NULL, flags & 4 ? "0.0.0.0" : "127.0.0.1",
	                    8080, allowed, 2, why, sizeof(why)) &&
	    (!why[0] || strchr(why, '\n')))
		abort();

	enum edge_auth a = edge_auth_decide(false, 0, peer, flags & 8);
	if ((a == EDGE_AUTH_OPEN || a == EDGE_AUTH_PROXIED) && !mcpd_is_loopback(peer))
		abort();
	if (a == EDGE_AUTH_OPEN && (flags & 8))
		abort();
	if (edge_auth_decide(true, flags & 16, peer, false) != EDGE_AUTH_UNAVAILABLE)
		abort();

	edge_init(&e, flags & 3);
	int opened = (flags >> 4) + 1;
	for (int i = 0; i < opened; i++)
		edge_conn_open(&e, peer);
	for (int i = 0; i < opened; i++)
		edge_conn_close(&e, peer);
	if (edge_conns(&e, peer) != 0)
		abort();
	if (!edge_refusal(&e, peer, 1000, &before) || before != 0)
		abort();
	edge_destroy(&e);
	free(text);
	return 0;
}
