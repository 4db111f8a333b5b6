/*
 * http.h: the HTTP transports of homelab-mcpd.
 */
#ifndef HOMELAB_MCPD_HTTP_H
#define HOMELAB_MCPD_HTTP_H

#include "mcpd.h"

struct mcpd_http_options {
	const char *host;        /* bind address */
	int port;                /* 0: any free port */
	const char **origins;    /* extra allowed Origin values */
	int norigins;
	int keepalive_s;         /* keep-alive comment interval on streams */
	int threads;             /* CivetWeb worker threads (each open stream holds one) */
	int peer_conns;          /* connections one address may hold (0: no cap; 127.0.0.1 and ::1 exempt) */
	int request_timeout_s;   /* for a request's header, for each stall of its body, and between requests */
};

struct http;

/* Start serving; NULL with a message in err when it cannot listen. */
struct http *http_start(struct mcpd *d, const struct mcpd_http_options *o, char *err, size_t err_len);
int http_port(const struct http *h);
/* Stop serving, end every stream and session, free everything. */
void http_stop(struct http *h);

#endif
