/*
 * http.c: the HTTP transports on CivetWeb: Streamable HTTP at /mcp (and at
 * /sse, where the original server's documents point Open WebUI), the legacy
 * HTTP+SSE transport at /sse + /messages, /healthz and /metrics;
 * sessions, Origin/Host checks (DNS rebinding) and bearer tokens.
 *
 * CivetWeb runs each connection on a worker thread. Nothing here shares a
 * json-c tree or an hl_ctx between threads: requests borrow a context from
 * the pool, and sessions hold only text.
 */
#define _GNU_SOURCE /* accept4 */
#include "http.h"

#include "edge.h"
#include "subscribe.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SESSIONS 512
#define MAX_SESSIONS_PER_TOKEN 64 /* one token cannot evict every other client's sessions */
#define MAX_BATCH 64               /* messages in one JSON-RPC batch */
#define MAX_BATCH_REPLY (4u * 1024 * 1024)
#define MAX_QUEUED 256 /* replies waiting for a legacy stream that is not read */
#define SESSION_IDLE_S (24 * 3600)

/* A queued server-to-client message of a legacy SSE session. */
struct msg {
	char *text;
	struct msg *next;
};

struct session {
	char id[33];
	char version[32];
	char owner[80];           /* the token id that created it ("" without auth) */
	bool legacy;              /* /sse session: replies go to its stream */
	_Atomic time_t last_seen; /* written by streams under s->lock, read by the idle scan under h->lock */
	uint64_t serial;          /* creation order: of two used in the same second, the older goes first */
	_Atomic int log_level;    /* logging/setLevel */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct msg *head, *tail;  /* legacy: replies waiting for the stream */
	int queued;
	bool closed;              /* DELETEd or its stream ended */
	struct peer peer;         /* requests to the client, calls in flight, its capabilities */
	int refs;
	struct session *next;
};

struct http {
	struct mcpd *d;
	const struct mcpd_http_options *o;
	struct mg_context *mg;
	int port;
	pthread_mutex_t lock;     /* sessions and streams */
	struct session *sessions;
	int nsessions;
	uint64_t serial;          /* sessions created */
	int streams, max_streams; /* open event streams; each holds a worker thread */
	struct edge edge;         /* connections and refusals per peer address */
	pthread_t watchdog;       /* cuts bodies that arrive too slowly */
	pthread_cond_t watch_cond;
	struct body_watch *watches;
};

/*
 * The socket of each connection CivetWeb accepted, by descriptor, so that
 * a request whose body trickles in can be cut: CivetWeb's mg_read() goes on
 * waiting as long as each byte comes within the request timeout.
 */
#define TRACKED_FDS 8192
static struct {
	int port;
	char addr[64];
} tracked[TRACKED_FDS];
static pthread_mutex_t tracked_lock = PTHREAD_MUTEX_INITIALIZER;

/* A body being read, and when it must be complete. */
struct body_watch {
	int fd;
	struct timespec deadline;
	bool fired;
	struct body_watch *next;
};

static int connection_fd(const struct mg_connection *c);
static void watch_start(struct http *h, struct body_watch *w, int fd, int seconds);
static bool watch_end(struct http *h, struct body_watch *w);

/* ------------------------------------------------------------ replies --- */

/*
 * CivetWeb 1.15 formats every Date header with gmtime(), whose result all
 * threads share, in its own error answers too (a header that timed out gets
 * a 400 from CivetWeb): two workers at once could garble each other's Date
 * (found by TSan). This program's gmtime() comes before the C library's for
 * CivetWeb's calls, and gives each thread a result of its own.
 */
struct tm *gmtime(const time_t *t)
{
	static _Thread_local struct tm result;
	return gmtime_r(t, &result);
}

static void send_headers(struct mg_connection *c)
{
	mg_response_header_send(c);
}

static void count_status(struct http *h, int status)
{
	int cls = status >= 100 && status < 600 ? status / 100 - 1 : 5;
	metrics_count(&h->d->metrics, &h->d->metrics.http_requests[cls]);
}

static size_t cors_headers(char *out, size_t len, struct mg_connection *c, struct http *h);

/*
 * Send a whole response. extra: "Name: value" pairs, NULL-terminated.
 * The status line, the headers and the body go out in one write: CivetWeb's
 * mg_response_header_send() sends each header line with a send() of its own,
 * and with tcp_nodelay each is a TCP segment (8 per answer, the largest cost
 * of the daemon under load: bench/README.md). Date and Connection are the
 * ones CivetWeb would add; Connection says what CivetWeb will do after the
 * handler returns (close after a 401, or when the client asked for it).
 */
static int send_reply(struct mg_connection *c, struct http *h, int status, const char *ctype, const char *body,
                      const char *const *extra)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	const char *conn_hdr = mg_get_header(c, "Connection");
	size_t n = body ? strlen(body) : 0, cap = 1024, used = 0;
	char date[64], *buf;
	struct tm tm;
	time_t now = time(NULL);
	bool keep = status != 401 && (conn_hdr ? strcasestr(conn_hdr, "keep-alive") != NULL
	                                       : ri->http_version && !strcmp(ri->http_version, "1.1"));

	for (const char *const *e = extra; e && e[0]; e += 2)
		cap += strlen(e[0]) + strlen(e[1]) + 4;
	cap += mg_get_header(c, "Origin") ? strlen(mg_get_header(c, "Origin")) + 128 : 0;
	if (!(buf = malloc(cap + n))) {
		count_status(h, 500);
		return -1;
	}
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&now, &tm));
	used += (size_t)snprintf(buf + used, cap - used, "HTTP/1.1 %d %s\r\n", status, mg_get_response_code_text(c, status));
	if (ctype)
		used += (size_t)snprintf(buf + used, cap - used, "Content-Type: %s\r\n", ctype);
	used += (size_t)snprintf(buf + used, cap - used, "Content-Length: %zu\r\nCache-Control: no-store\r\n", n);
	used += cors_headers(buf + used, cap - used, c, h);
	for (; extra && extra[0]; extra += 2)
		used += (size_t)snprintf(buf + used, cap - used, "%s: %s\r\n", extra[0], extra[1]);
	used += (size_t)snprintf(buf + used, cap - used, "Date: %s\r\nConnection: %s\r\n\r\n", date,
	                         keep ? "keep-alive" : "close");
	if (used >= cap) {
		/* cannot happen: cap counts every part */
		free(buf);
		count_status(h, 500);
		return -1;
	}
	if (n)
		memcpy(buf + used, body, n);
	mg_write(c, buf, used + n);
	/* the body may carry a secret (homelab_get_credentials) */
	explicit_bzero(buf, used + n);
	free(buf);
	count_status(h, status);
	return status;
}

static int send_text(struct mg_connection *c, struct http *h, int status, const char *text)
{
	return send_reply(c, h, status, "text/plain; charset=utf-8", text, NULL);
}

/* A JSON-RPC error as an HTTP answer (status 400, 404, ...). */
static int send_rpc_error(struct mg_connection *c, struct http *h, int status, int code, const char *message)
{
	char *body = rpc_error(NULL, code, message);
	int rc = send_reply(c, h, status, "application/json", body ? body : "", NULL);

	free(body);
	return rc;
}

/* ----------------------------------------------------------- sessions --- */

static void session_unref(struct session *s)
{
	struct msg *m;
	bool last;

	pthread_mutex_lock(&s->lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&s->lock);
	if (!last)
		return;
	subscribe_forget(&s->peer);
	while ((m = s->head)) {
		s->head = m->next;
		explicit_bzero(m->text, strlen(m->text));
		free(m->text);
		free(m);
	}
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	peer_destroy(&s->peer);
	free(s);
}

/* Unlink (the caller holds h->lock) and drop the table's reference. */
static void session_unlink_locked(struct http *h, struct session *s)
{
	for (struct session **pp = &h->sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			h->nsessions--;
			pthread_mutex_lock(&s->lock);
			s->closed = true;
			pthread_cond_broadcast(&s->cond);
			pthread_mutex_unlock(&s->lock);
			/* a tool waiting for this client's answer, or running for it, ends */
			peer_set_gone(&s->peer);
			session_unref(s);
			return;
		}
}

/* Is a less recently used than b? */
static bool older(const struct session *a, const struct session *b)
{
	time_t ta = a->last_seen, tb = b->last_seen;
	return ta < tb || (ta == tb && a->serial < b->serial);
}

static bool session_notify(void *payload, const char *text);

static struct session *session_new(struct http *h, bool legacy, const char *version, const char *owner)
{
	unsigned char rnd[16];
	struct session *s;
	time_t now = time(NULL);

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return NULL;
	if (!(s = calloc(1, sizeof(*s))))
		return NULL;
	for (int i = 0; i < 16; i++)
		snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
	snprintf(s->version, sizeof(s->version), "%s", version);
	snprintf(s->owner, sizeof(s->owner), "%s", owner);
	s->legacy = legacy;
	s->last_seen = now;
	s->log_level = MCPD_DEFAULT_LOG_LEVEL;
	s->refs = 2; /* the table's and the caller's */
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	peer_init(&s->peer);
	subscribe_set_outlet(&s->peer, session_notify, s);
	pthread_mutex_lock(&h->lock);
	/* forget sessions idle for a day, and the oldest when full */
	for (struct session *x = h->sessions, *next; x; x = next) {
		next = x->next;
		if (now - x->last_seen > SESSION_IDLE_S)
			session_unlink_locked(h, x);
	}
	/* a token's own oldest sessions make room for its new one */
	for (;;) {
		struct session *oldest = NULL;
		int mine = 0;
		for (struct session *x = h->sessions; x; x = x->next)
			if (!strcmp(x->owner, owner)) {
				mine++;
				if (!oldest || older(x, oldest))
					oldest = x;
			}
		if (!*owner || mine < MAX_SESSIONS_PER_TOKEN)
			break;
		session_unlink_locked(h, oldest);
	}
	while (h->nsessions >= MAX_SESSIONS) {
		struct session *oldest = h->sessions;
		for (struct session *x = h->sessions; x; x = x->next)
			if (older(x, oldest))
				oldest = x;
		session_unlink_locked(h, oldest);
	}
	s->serial = ++h->serial;
	s->next = h->sessions;
	h->sessions = s;
	h->nsessions++;
	pthread_mutex_unlock(&h->lock);
	metrics_count(&h->d->metrics, &h->d->metrics.sessions_created);
	return s;
}

/* The session with this id that owner may use, with a reference for the
 * caller; NULL if none (another token's session is not found either). */
static struct session *session_find(struct http *h, const char *id, const char *owner)
{
	struct session *found = NULL;

	if (!id)
		return NULL;
	pthread_mutex_lock(&h->lock);
	for (struct session *s = h->sessions; s; s = s->next)
		if (!strcmp(s->id, id) && !strcmp(s->owner, owner)) {
			found = s;
			pthread_mutex_lock(&s->lock);
			s->refs++;
			s->last_seen = time(NULL);
			pthread_mutex_unlock(&s->lock);
			break;
		}
	pthread_mutex_unlock(&h->lock);
	return found;
}

static void session_remove(struct http *h, struct session *s)
{
	pthread_mutex_lock(&h->lock);
	session_unlink_locked(h, s);
	pthread_mutex_unlock(&h->lock);
}

/* Queue a message for a legacy session's stream (taking text). false when
 * the stream has fallen MAX_QUEUED messages behind (the text is freed). */
static bool session_push(struct session *s, char *text)
{
	struct msg *m = malloc(sizeof(*m));
	bool ok = false;

	pthread_mutex_lock(&s->lock);
	if (m && s->queued < MAX_QUEUED) {
		m->text = text;
		m->next = NULL;
		if (s->tail)
			s->tail->next = m;
		else
			s->head = m;
		s->tail = m;
		s->queued++;
		pthread_cond_signal(&s->cond);
		ok = true;
	}
	pthread_mutex_unlock(&s->lock);
	if (!ok) {
		free(m);
		explicit_bzero(text, strlen(text));
		free(text);
	}
	return ok;
}

/* A subscribed resource changed (subscribe.c): the notification goes to the
 * session's stream (its GET stream, or the legacy stream). */
static bool session_notify(void *payload, const char *text)
{
	char *copy = strdup(text);

	return copy && session_push(payload, copy);
}

/* A stream holds its worker thread until the client leaves: keep a quarter
 * of the workers (at least 2) for requests, or a few idle clients could
 * lock everyone out. false: answer 503 instead. */
static bool stream_enter(struct http *h)
{
	bool ok;

	pthread_mutex_lock(&h->lock);
	ok = h->streams < h->max_streams;
	if (ok)
		h->streams++;
	pthread_mutex_unlock(&h->lock);
	return ok;
}

static void stream_leave(struct http *h)
{
	pthread_mutex_lock(&h->lock);
	h->streams--;
	pthread_mutex_unlock(&h->lock);
}

static int send_busy(struct mg_connection *c, struct http *h)
{
	static const char *const hdr[] = { "Retry-After", "30", NULL };
	char text[200];

	snprintf(text, sizeof(text),
	         "too many open event streams (%d): each holds one of the %d worker threads (start with --threads)\n",
	         h->max_streams, h->o->threads);
	return send_reply(c, h, 503, "text/plain; charset=utf-8", text, hdr);
}

/* --------------------------------------------------- origin and auth --- */

/* Is origin one we serve, or one the operator allowed (--allow-origin)? */
static bool origin_allowed(struct http *h, const char *origin)
{
	return edge_origin_allowed(origin, h->o->host, h->port, h->o->origins, h->o->norigins);
}

/* An allowed browser origin may read our answers (CORS): without these a
 * page served from an --allow-origin could send requests but not read them. */
static void add_cors(struct mg_connection *c, struct http *h)
{
	const char *origin = mg_get_header(c, "Origin");

	if (!origin || !strcmp(origin, "null") || !origin_allowed(h, origin))
		return;
	mg_response_header_add(c, "Access-Control-Allow-Origin", origin, -1);
	mg_response_header_add(c, "Access-Control-Expose-Headers", "Mcp-Session-Id, WWW-Authenticate", -1);
	mg_response_header_add(c, "Vary", "Origin", -1);
}

/* The same headers as text (for send_reply); their length. */
static size_t cors_headers(char *out, size_t len, struct mg_connection *c, struct http *h)
{
	const char *origin = mg_get_header(c, "Origin");
	int n;

	if (!origin || !strcmp(origin, "null") || !origin_allowed(h, origin))
		return 0;
	n = snprintf(out, len, "Access-Control-Allow-Origin: %s\r\n"
	             "Access-Control-Expose-Headers: Mcp-Session-Id, WWW-Authenticate\r\nVary: Origin\r\n", origin);
	return n > 0 ? (size_t)n : 0;
}

/* A CORS preflight (OPTIONS) from an allowed origin. It carries no token:
 * it only asks what a request may send. */
static int preflight(struct mg_connection *c, struct http *h, const char *methods)
{
	const char *origin = mg_get_header(c, "Origin");
	const char *const hdr[] = {
		"Access-Control-Allow-Methods", methods,
		"Access-Control-Allow-Headers",
		"Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID",
		"Access-Control-Max-Age", "600",
		NULL
	};

	if (!origin || !strcmp(origin, "null") || !origin_allowed(h, origin))
		return send_text(c, h, 403, "a preflight from an origin that is not allowed (start the daemon with "
		                 "--allow-origin ORIGIN)\n");
	return send_reply(c, h, 204, NULL, NULL, hdr);
}

/* DNS rebinding protection: a browser page may only reach us from an
 * origin we serve (or one the operator allowed), and a loopback server
 * only answers to loopback Host names. */
static bool origin_ok(struct mg_connection *c, struct http *h, char *why, size_t why_len)
{
	return edge_origin_ok(mg_get_header(c, "Origin"), mg_get_header(c, "Host"), h->o->host, h->port,
	                      h->o->origins, h->o->norigins, why, why_len);
}

/* Audit a refused authentication (best effort: the refusal stands either
 * way), give ctx back and answer status with msg. A peer's refusals are
 * written once a minute: the first at once, the ones after it counted and
 * written with the next one (or at shutdown), so a flood of bad requests
 * cannot bury the log. */
static int refuse(struct mg_connection *c, struct http *h, hl_ctx *ctx, const struct caller *who, int status,
                  const char *msg)
{
	static const char *const hdr[] = { "WWW-Authenticate", "Bearer realm=\"homelab\"", NULL };
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;
	uint64_t before = 0;
	char text[320], details[400];

	if (edge_refusal(&h->edge, who->addr, time(NULL), &before)) {
		if (before)
			snprintf(details, sizeof(details), "%s (and %llu more refusals from this address in the minute "
			         "before, not written one by one)", msg, (unsigned long long)before);
		else
			snprintf(details, sizeof(details), "%s", msg);
		ev.action = "auth_refused";
		ev.result = "refused";
		ev.principal = "mcp";
		ev.client_addr = who->addr;
		ev.details = details;
		hl_audit_record(ctx, &ev);
	}
	pool_put(&h->d->pool, ctx);
	metrics_count(&h->d->metrics, &h->d->metrics.auth_refused);
	snprintf(text, sizeof(text), "%s\n", msg);
	return send_reply(c, h, status, "text/plain; charset=utf-8", text, status == 401 ? hdr : NULL);
}

/* At shutdown: the refusals of a peer that were counted, not yet written. */
static void audit_suppressed(const char *peer, uint64_t count, void *payload)
{
	struct http *h = payload;
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;
	hl_ctx *ctx = pool_get(&h->d->pool);
	char details[200];

	if (!ctx)
		return;
	snprintf(details, sizeof(details), "%llu more refusals from this address since its last audit row, "
	         "not written one by one", (unsigned long long)count);
	ev.action = "auth_refused";
	ev.result = "refused";
	ev.principal = "mcp";
	ev.client_addr = peer;
	ev.details = details;
	hl_audit_record(ctx, &ev);
	pool_put(&h->d->pool, ctx);
}

/* Fill who; 0 to go on, or the HTTP status already sent (401, 403). */
static int authenticate(struct mg_connection *c, struct http *h, struct caller *who)
{
	static const char *const forwarded[] = { "Forwarded", "X-Forwarded-For", "X-Real-IP" };
	const struct mg_request_info *ri = mg_get_request_info(c);
	const char *auth = mg_get_header(c, "Authorization");
	int64_t ntokens = 0;
	hl_token *tok = NULL;
	hl_ctx *ctx;
	char msg[300];

	memset(who, 0, sizeof(*who));
	snprintf(who->addr, sizeof(who->addr), "%s", ri->remote_addr);
	snprintf(who->principal, sizeof(who->principal), "mcp@%s", ri->remote_addr);
	if (!(ctx = pool_get(&h->d->pool)))
		return send_text(c, h, 503, "the inventory database cannot be opened\n");
	const char *proxy_header = NULL;
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]) && !proxy_header; i++)
		if (mg_get_header(c, forwarded[i]))
			proxy_header = forwarded[i];
	bool count_failed = hl_token_count(ctx, &ntokens) < 0;
	switch (edge_auth_decide(count_failed, ntokens, ri->remote_addr, proxy_header != NULL)) {
	case EDGE_AUTH_OPEN:
		pool_put(&h->d->pool, ctx);
		return 0;
	case EDGE_AUTH_UNAVAILABLE:
		/* never anonymous access because the token table could not be read */
		snprintf(msg, sizeof(msg), "cannot check API tokens now (%s); try again", hl_error_last()->message);
		mcpd_utf8_scrub(msg);
		pool_put(&h->d->pool, ctx);
		fprintf(stderr, "%s: %s\n", MCPD_NAME, msg);
		{
			static const char *const retry[] = { "Retry-After", "5", NULL };
			strncat(msg, "\n", sizeof(msg) - strlen(msg) - 1);
			return send_reply(c, h, 503, "text/plain; charset=utf-8", msg, retry);
		}
	case EDGE_AUTH_REMOTE:
		return refuse(c, h, ctx, who, 403,
		              "without API tokens the daemon serves only loopback clients: create one with "
		              "homelab tokens create NAME --scope inventory:read");
	case EDGE_AUTH_PROXIED:
		/* A reverse proxy on this machine makes every client look local. */
		snprintf(msg, sizeof(msg),
		         "this request came through a proxy (%s header); without API tokens the daemon serves "
		         "only local clients: create one with homelab tokens create NAME --scope inventory:read",
		         proxy_header);
		return refuse(c, h, ctx, who, 403, msg);
	case EDGE_AUTH_TOKEN:
		break;
	}
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return refuse(c, h, ctx, who, 401, "a bearer token is required");
	if (hl_token_verify(&tok, ctx, auth + 7) < 0) {
		snprintf(msg, sizeof(msg), "%s", hl_error_last()->message);
		return refuse(c, h, ctx, who, 401, msg);
	}
	pool_put(&h->d->pool, ctx);
	snprintf(who->principal, sizeof(who->principal), "%s", tok->name);
	who->token = tok;
	return 0;
}

static const char *owner_of(const struct caller *who)
{
	return who->token ? who->token->id : "";
}

static void caller_done(struct caller *who)
{
	hl_token_free((hl_token *)who->token);
	who->token = NULL;
}

/* ---------------------------------------------------------- requests --- */

/* Read the body (at most MCPD_MAX_BODY bytes). NULL and *status set on
 * failure. The result is NUL-terminated. */
static char *read_body(struct mg_connection *c, struct http *h, size_t *len, int *status)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	bool known = ri->content_length >= 0;
	size_t cap = known ? (size_t)ri->content_length : 4096, n = 0;
	struct body_watch watch;
	bool late;
	char *buf;

	*status = 0;
	if (known && ri->content_length > (long long)MCPD_MAX_BODY) {
		*status = 413;
		return NULL;
	}
	if (!(buf = malloc(cap + 1))) {
		*status = 500;
		return NULL;
	}
	/* each read waits at most the request timeout, and the whole body gets
	 * twice that: a client that trickles cannot keep the worker */
	watch_start(h, &watch, connection_fd(c), 2 * h->o->request_timeout_s);
	for (;;) {
		int r;
		if (n == cap) {
			char *p;
			if (known)
				break; /* all of Content-Length read */
			if (cap > MCPD_MAX_BODY) {
				watch_end(h, &watch);
				free(buf);
				*status = 413;
				return NULL;
			}
			/* one byte past the limit tells an over-long chunked body */
			cap = cap * 2 > MCPD_MAX_BODY ? MCPD_MAX_BODY + 1 : cap * 2;
			if (!(p = realloc(buf, cap + 1))) {
				watch_end(h, &watch);
				free(buf);
				*status = 500;
				return NULL;
			}
			buf = p;
		}
		r = mg_read(c, buf + n, cap - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	late = watch_end(h, &watch);
	if (late || (known && n < cap)) {
		/* too slow, or the client stopped before Content-Length */
		mg_disable_keep_alive(c);
		free(buf);
		*status = 408;
		return NULL;
	}
	if (n > MCPD_MAX_BODY) {
		free(buf);
		*status = 413;
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static bool accepts(struct mg_connection *c, const char *type)
{
	const char *a = mg_get_header(c, "Accept");
	return !a || strstr(a, type) || strstr(a, "*/*");
}

static bool is_initialize(struct json_object *msg)
{
	struct json_object *m;
	return json_object_is_type(msg, json_type_object) && json_object_object_get_ex(msg, "method", &m) &&
	       json_object_is_type(m, json_type_string) && !strcmp(json_object_get_string(m), "initialize");
}

/* Handle one message or a batch; the reply text (NULL: 202) and status.
 * Progress goes to sink (single messages only). */
static char *dispatch(struct http *h, const struct caller *who, struct json_object *msg, char *version,
                      size_t vlen, int *status, const struct progress_sink *sink)
{
	char *reply = NULL;

	if (!json_object_is_type(msg, json_type_array)) {
		*status = rpc_handle(h->d, who, msg, &reply, version, vlen, sink);
		return reply;
	}
	/* A batch: only protocol 2025-03-26 (and the legacy transport) had
	 * them; the answers, in order, as an array. */
	size_t n = json_object_array_length(msg), used = 1, cap = 256;
	char *out, text[200];
	bool any = false;
	*status = 200;
	if (strcmp(version, "2025-03-26") != 0 && strcmp(version, MCPD_LEGACY_PROTOCOL) != 0) {
		snprintf(text, sizeof(text), "JSON-RPC batches are not part of MCP %s: send one message per request",
		         version);
		return rpc_error(NULL, RPC_INVALID_REQUEST, text);
	}
	if (n > MAX_BATCH) {
		snprintf(text, sizeof(text), "a batch of %zu messages: at most %d are taken at once", n, MAX_BATCH);
		return rpc_error(NULL, RPC_INVALID_REQUEST, text);
	}
	if (!(out = malloc(cap)) || n == 0) {
		free(out);
		return rpc_error(NULL, RPC_INVALID_REQUEST, "an empty batch");
	}
	out[0] = '[';
	*status = 200;
	for (size_t i = 0; i < n; i++) {
		struct json_object *entry = json_object_array_get_idx(msg, i), *id = NULL;
		char *r = NULL;
		int st = 200;
		if (used > MAX_BATCH_REPLY) {
			/* the answers so far are as much as one reply may hold: the
			 * rest are not run */
			if (json_object_is_type(entry, json_type_object) && json_object_object_get_ex(entry, "id", &id))
				r = rpc_error(id, RPC_INTERNAL_ERROR, "not run: the batch's answers passed 4 MiB; "
				              "send the rest in another request");
		} else {
			st = rpc_handle(h->d, who, entry, &r, version, vlen, NULL);
		}
		if (st == 403)
			*status = 403;
		if (!r)
			continue;
		size_t rl = strlen(r);
		if (used + rl + 3 > cap) {
			char *p;
			while (used + rl + 3 > cap)
				cap *= 2;
			if (!(p = realloc(out, cap))) {
				free(r);
				free(out);
				return NULL;
			}
			out = p;
		}
		if (any)
			out[used++] = ',';
		memcpy(out + used, r, rl);
		used += rl;
		any = true;
		free(r);
	}
	out[used++] = ']';
	out[used] = '\0';
	if (!any) {
		free(out);
		*status = 202;
		return NULL;
	}
	return out;
}

/* The Streamable HTTP session a request names, with a reference; NULL
 * after answering 400 (no Mcp-Session-Id) or 404 (unknown, ended, or
 * another token's), with that status in *rc. */
static struct session *request_session(struct mg_connection *c, struct http *h, const struct caller *who, int *rc)
{
	const char *sid = mg_get_header(c, "Mcp-Session-Id");
	struct session *s;

	if (!sid) {
		*rc = send_rpc_error(c, h, 400, RPC_INVALID_REQUEST, "Bad Request: Mcp-Session-Id header is required");
		return NULL;
	}
	if (!(s = session_find(h, sid, owner_of(who))) || s->legacy) {
		if (s)
			session_unref(s);
		*rc = send_rpc_error(c, h, 404, RPC_INVALID_REQUEST, "Session not found");
		return NULL;
	}
	return s;
}

static bool sse_write(struct mg_connection *c, const char *text);
static void sse_headers(struct mg_connection *c, struct http *h, const char *session_id, int status);

/* Did the client name type in Accept (not only through a wildcard)? */
static bool accepts_explicitly(struct mg_connection *c, const char *type)
{
	const char *a = mg_get_header(c, "Accept");
	return a && strstr(a, type);
}

/* A POST answered as an event stream, opened at the first progress report;
 * the answer is its last event. */
struct post_stream {
	struct mg_connection *c;
	struct http *h;
	bool started, alive;
	int fd; /* the connection's socket; -2: not looked up yet, -1: unknown */
};

/* Has the peer closed (or reset) the connection of fd? */
static bool fd_hung_up(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLRDHUP };

	return fd >= 0 && poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* Is the client of a POST whose answer is pending still connected? */
static bool post_stream_alive(void *payload)
{
	struct post_stream *ps = payload;

	if (ps->fd == -2)
		ps->fd = connection_fd(ps->c);
	if (ps->alive && fd_hung_up(ps->fd))
		ps->alive = false;
	return ps->alive;
}

static bool post_stream_emit(void *payload, const char *notification)
{
	struct post_stream *ps = payload;

	if (!ps->started) {
		sse_headers(ps->c, ps->h, NULL, 200);
		ps->started = true;
	}
	ps->alive = ps->alive && sse_write(ps->c, "event: message\ndata: ") && sse_write(ps->c, notification) &&
	            sse_write(ps->c, "\n\n");
	return ps->alive;
}

static int mcp_post(struct mg_connection *c, struct http *h, struct caller *who)
{
	const char *pv = mg_get_header(c, "MCP-Protocol-Version");
	struct session *s = NULL;
	struct json_object *msg = NULL;
	char version[32] = "2025-03-26", *body, *reply = NULL, err[160];
	bool parsed;
	size_t len = 0;
	int status, rc;

	if (!accepts(c, "application/json") && !accepts(c, "text/event-stream"))
		return send_rpc_error(c, h, 406, RPC_INVALID_REQUEST,
		                      "Not Acceptable: the client must accept application/json or text/event-stream");
	if (!(body = read_body(c, h, &len, &status)))
		return status == 413 ? send_rpc_error(c, h, 413, RPC_INVALID_REQUEST, "request body larger than 4 MiB")
		       : status == 408 ? send_text(c, h, 408, "the request body did not arrive in time\n")
		                       : send_text(c, h, status, "cannot read the request\n");
	parsed = mcpd_parse(&msg, body, len);
	free(body);
	if (!parsed)
		return send_rpc_error(c, h, 400, RPC_PARSE_ERROR, "Parse error: the body is not one JSON value");
	if (is_initialize(msg)) {
		/* a new session; the client learns its id from the header */
		struct json_object *params = NULL;
		reply = dispatch(h, who, msg, version, sizeof(version), &status, NULL);
		if (!reply) {
			json_object_put(msg);
			return send_text(c, h, 500, "out of memory\n");
		}
		if (!(s = session_new(h, false, version, owner_of(who)))) {
			json_object_put(msg);
			free(reply);
			return send_text(c, h, 503, "cannot create a session\n");
		}
		json_object_object_get_ex(msg, "params", &params);
		peer_set_caps(&s->peer, params);
		json_object_put(msg);
		const char *const hdr[] = { "Mcp-Session-Id", s->id, NULL };
		rc = send_reply(c, h, status, "application/json", reply, hdr);
		session_unref(s);
		free(reply);
		return rc;
	}
	if (!(s = request_session(c, h, who, &rc))) {
		json_object_put(msg);
		return rc;
	}
	if (pv && !rpc_version_streamable(pv)) {
		snprintf(err, sizeof(err), "Bad Request: unsupported MCP-Protocol-Version %.40s", pv);
		json_object_put(msg);
		session_unref(s);
		return send_rpc_error(c, h, 400, RPC_INVALID_REQUEST, err);
	}
	snprintf(version, sizeof(version), "%s", s->version);
	who->log_level = &s->log_level;
	who->peer = &s->peer;
	/* A tool call from a client that takes an event stream: the answer
	 * becomes a stream at the first progress report, log message or
	 * request to the client (elicitation/create). */
	struct post_stream ps = { c, h, false, true, -2 };
	const struct progress_sink sink = { post_stream_emit, &ps, post_stream_alive };
	bool stream = accepts_explicitly(c, "text/event-stream") && rpc_is_tool_call(msg);
	reply = dispatch(h, who, msg, version, sizeof(version), &status, stream ? &sink : NULL);
	json_object_put(msg);
	session_unref(s);
	if (ps.started) {
		if (reply)
			post_stream_emit(&ps, reply); /* the answer ends the stream (a cancelled call has none) */
		rc = 200;
	} else if (status == MCPD_CANCELLED && stream) {
		/* cancelled before anything was sent: a stream without an answer */
		sse_headers(c, h, NULL, 200);
		rc = 200;
	} else if (status == 202 || !reply) {
		free(reply);
		return send_reply(c, h, 202, NULL, NULL, NULL);
	} else if (!accepts(c, "application/json")) {
		/* the client takes only an event stream: one message, then the end */
		sse_headers(c, h, NULL, status);
		sse_write(c, "event: message\ndata: ");
		sse_write(c, reply);
		sse_write(c, "\n\n");
		rc = status;
	} else {
		rc = send_reply(c, h, status, "application/json", reply, NULL);
	}
	if (reply)
		explicit_bzero(reply, strlen(reply));
	free(reply);
	return rc;
}

/* Write an SSE chunk; false when the client is gone. */
static bool sse_write(struct mg_connection *c, const char *text)
{
	size_t n = strlen(text);
	return mg_write(c, text, n) == (int)n;
}

/* Start an event stream. It ends when the connection closes: a stream has
 * no length, so the connection is not kept alive after it. */
static void sse_headers(struct mg_connection *c, struct http *h, const char *session_id, int status)
{
	mg_response_header_start(c, status);
	mg_response_header_add(c, "Content-Type", "text/event-stream", -1);
	mg_response_header_add(c, "Cache-Control", "no-cache", -1);
	mg_response_header_add(c, "X-Accel-Buffering", "no", -1);
	mg_response_header_add(c, "Connection", "close", -1);
	add_cors(c, h);
	if (session_id)
		mg_response_header_add(c, "Mcp-Session-Id", session_id, -1);
	send_headers(c);
	mg_disable_keep_alive(c);
	count_status(h, status);
}

/* Serve a stream until the client leaves, the session ends or we stop:
 * queued messages as "message" events, else a keep-alive comment (Open
 * WebUI reconnects in a tight loop when a stream ends). */
static void sse_loop(struct mg_connection *c, struct http *h, struct session *s)
{
	bool alive = true, hung = false;
	int fd = connection_fd(c);

	while (alive && !h->d->stopping) {
		struct timespec until;
		struct msg *m;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += h->o->keepalive_s;
		pthread_mutex_lock(&s->lock);
		while (!s->head && !s->closed && !h->d->stopping) {
			/* wake at least every second to notice a stop */
			struct timespec tick;
			clock_gettime(CLOCK_REALTIME, &tick);
			tick.tv_sec += 1;
			if (tick.tv_sec > until.tv_sec || (tick.tv_sec == until.tv_sec && tick.tv_nsec > until.tv_nsec))
				tick = until;
			if (pthread_cond_timedwait(&s->cond, &s->lock, &tick) == ETIMEDOUT) {
				struct timespec now;
				clock_gettime(CLOCK_REALTIME, &now);
				if (now.tv_sec > until.tv_sec || (now.tv_sec == until.tv_sec && now.tv_nsec >= until.tv_nsec))
					break;
				/* a client that went away ends its stream within a second,
				 * not at the next keep-alive: its session (and what waits
				 * for it) ends */
				if ((hung = fd_hung_up(fd)))
					break;
			}
		}
		m = s->head;
		if (m) {
			s->head = m->next;
			if (!s->head)
				s->tail = NULL;
			s->queued--;
		}
		bool closed = s->closed;
		s->last_seen = time(NULL);
		pthread_mutex_unlock(&s->lock);
		if (!m && hung)
			break;
		if (m) {
			alive = sse_write(c, "event: message\ndata: ") && sse_write(c, m->text) && sse_write(c, "\n\n");
			explicit_bzero(m->text, strlen(m->text));
			free(m->text);
			free(m);
		} else if (closed) {
			break;
		} else if (!h->d->stopping) {
			alive = sse_write(c, ": keep-alive\n\n");
		}
	}
}

static int mcp_get(struct mg_connection *c, struct http *h, const struct caller *who)
{
	struct session *s;
	int rc;

	if (!accepts(c, "text/event-stream"))
		return send_text(c, h, 406, "Not Acceptable: GET /mcp serves text/event-stream\n");
	if (!(s = request_session(c, h, who, &rc)))
		return rc;
	if (!stream_enter(h)) {
		session_unref(s);
		return send_busy(c, h);
	}
	sse_headers(c, h, NULL, 200);
	sse_write(c, ": stream open\n\n");
	sse_loop(c, h, s);
	stream_leave(h);
	session_unref(s);
	return 200;
}

static int mcp_delete(struct mg_connection *c, struct http *h, const struct caller *who)
{
	struct session *s;
	int rc;

	if (!(s = request_session(c, h, who, &rc)))
		return rc;
	session_remove(h, s);
	session_unref(s);
	return send_reply(c, h, 200, NULL, NULL, NULL);
}

/* CivetWeb's authorization step: every request goes to a handler, which
 * checks the token (guard). */
static int allow_request(struct mg_connection *c, void *data)
{
	(void)c;
	(void)data;
	return 1;
}

/* Checks every MCP endpoint shares: Origin/Host, then the bearer token. */
static int guard(struct mg_connection *c, struct http *h, struct caller *who)
{
	char why[512];
	int rc;

	if (!origin_ok(c, h, why, sizeof(why))) {
		strncat(why, "\n", sizeof(why) - strlen(why) - 1);
		return send_text(c, h, 403, why);
	}
	if ((rc = authenticate(c, h, who)) != 0)
		return rc;
	return 0;
}

/* Legacy transport: GET /sse opens the stream and names the endpoint. */
static int legacy_stream(struct mg_connection *c, struct http *h, struct caller *who)
{
	struct session *s;
	char endpoint[128];

	if (!stream_enter(h))
		return send_busy(c, h);
	s = session_new(h, true, MCPD_LEGACY_PROTOCOL, owner_of(who));
	if (!s) {
		stream_leave(h);
		return send_text(c, h, 503, "cannot create a session\n");
	}
	sse_headers(c, h, NULL, 200);
	snprintf(endpoint, sizeof(endpoint), "event: endpoint\ndata: /messages?session_id=%s\n\n", s->id);
	if (sse_write(c, endpoint))
		sse_loop(c, h, s);
	stream_leave(h);
	session_remove(h, s);
	session_unref(s);
	return 200;
}

/* Streamable HTTP, on /mcp and on /sse: the original server's documents
 * configure Open WebUI as Streamable HTTP at /sse, and old clients open the
 * legacy stream there. On /sse (legacy_get) a GET without a session id
 * opens a legacy stream; everything else is handled exactly as on /mcp. */
static int serve(struct mg_connection *c, struct http *h, bool legacy_get)
{
	const char *method = mg_get_request_info(c)->request_method;
	struct caller who;
	int rc;

	if (!strcmp(method, "OPTIONS"))
		return preflight(c, h, "GET, POST, DELETE");
	if ((rc = guard(c, h, &who)) != 0)
		return rc;
	if (!strcmp(method, "POST"))
		rc = mcp_post(c, h, &who);
	else if (!strcmp(method, "DELETE"))
		rc = mcp_delete(c, h, &who);
	else if (!strcmp(method, "GET") && legacy_get && !mg_get_header(c, "Mcp-Session-Id"))
		rc = legacy_stream(c, h, &who);
	else if (!strcmp(method, "GET"))
		rc = mcp_get(c, h, &who);
	else {
		static const char *const hdr[] = { "Allow", "GET, POST, DELETE", NULL };
		rc = send_reply(c, h, 405, "text/plain; charset=utf-8", "Method Not Allowed\n", hdr);
	}
	caller_done(&who);
	return rc;
}

static int on_mcp(struct mg_connection *c, void *data)
{
	return serve(c, data, false);
}

static int on_sse(struct mg_connection *c, void *data)
{
	return serve(c, data, true);
}

/* Legacy transport: progress goes to the session's stream like replies. */
static bool legacy_emit(void *payload, const char *notification)
{
	char *copy = strdup(notification);
	return copy && session_push(payload, copy);
}

/* ... as long as the stream is open. */
static bool legacy_alive(void *payload)
{
	struct session *s = payload;
	bool alive;

	pthread_mutex_lock(&s->lock);
	alive = !s->closed;
	pthread_mutex_unlock(&s->lock);
	return alive;
}

static int on_messages(struct mg_connection *c, void *data)
{
	struct http *h = data;
	const char *qs = mg_get_request_info(c)->query_string;
	char sid[40] = "", version[32], *body, *reply;
	struct json_object *msg = NULL;
	bool parsed;
	struct caller who;
	struct session *s;
	size_t len = 0;
	int rc, status;

	if (!strcmp(mg_get_request_info(c)->request_method, "OPTIONS"))
		return preflight(c, h, "POST");
	if ((rc = guard(c, h, &who)) != 0)
		return rc;
	if (strcmp(mg_get_request_info(c)->request_method, "POST") != 0) {
		caller_done(&who);
		return send_text(c, h, 405, "Method Not Allowed\n");
	}
	if (!qs || mg_get_var(qs, strlen(qs), "session_id", sid, sizeof(sid)) <= 0) {
		caller_done(&who);
		return send_text(c, h, 400, "session_id is required\n");
	}
	who.legacy_ok = true;
	if (!(s = session_find(h, sid, owner_of(&who))) || !s->legacy) {
		if (s)
			session_unref(s);
		caller_done(&who);
		return send_text(c, h, 404, "Could not find session\n");
	}
	if (!(body = read_body(c, h, &len, &status))) {
		session_unref(s);
		caller_done(&who);
		return send_text(c, h, status, status == 413 ? "request body larger than 4 MiB\n"
		                               : status == 408 ? "the request body did not arrive in time\n"
		                                               : "cannot read\n");
	}
	parsed = mcpd_parse(&msg, body, len);
	free(body);
	snprintf(version, sizeof(version), "%s", s->version);
	who.log_level = &s->log_level;
	who.peer = &s->peer;
	const struct progress_sink sink = { legacy_emit, s, legacy_alive };
	if (!parsed)
		reply = rpc_error(NULL, RPC_PARSE_ERROR, "Parse error: the body is not one JSON value");
	else
		reply = dispatch(h, &who, msg, version, sizeof(version), &status, &sink);
	json_object_put(msg);
	caller_done(&who);
	if (reply && !session_push(s, reply)) {
		session_unref(s);
		return send_text(c, h, 503, "the session's event stream is not being read\n");
	}
	session_unref(s);
	return send_text(c, h, 202, "Accepted\n");
}

static int on_healthz(struct mg_connection *c, void *data)
{
	return send_text(c, data, 200, "ok\n");
}

static int on_metrics(struct mg_connection *c, void *data)
{
	struct http *h = data;
	char buf[4096];
	int sessions, streams;

	pthread_mutex_lock(&h->lock);
	sessions = h->nsessions;
	streams = h->streams;
	pthread_mutex_unlock(&h->lock);
	metrics_text(&h->d->metrics, buf, sizeof(buf), sessions, streams, h->max_streams);
	return send_reply(c, h, 200, "text/plain; version=0.0.4; charset=utf-8", buf, NULL);
}

/* ------------------------------------------------ connections per peer --- */

/*
 * CivetWeb reads a connection's request header before anything of ours
 * runs, and cannot refuse a connection itself, so a peer's cap is kept
 * where connections come in: this program's accept(), which CivetWeb's
 * listener thread calls (an executable's definition comes before the C
 * library's). It takes the connection with accept4() and closes at once one
 * from a peer that already holds its share of the workers; CivetWeb treats
 * the failed accept as nothing to do. Each connection it passes on is
 * counted until CivetWeb closes it (on_connection_close).
 */
/* The port of an IP socket address, or -1. */
static int sock_port(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return -1;
}

static struct http *_Atomic accepting; /* the server whose connections are counted */

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct http *h = accepting;
	char peer[64];
	int s = accept4(fd, addr, len, 0);

	if (s < 0 || !h || !addr || !len ||
	    getnameinfo(addr, *len, peer, sizeof(peer), NULL, 0, NI_NUMERICHOST) != 0)
		return s;
	if (!edge_conn_open(&h->edge, peer)) {
		edge_conn_close(&h->edge, peer);
		close(s);
		metrics_count(&h->d->metrics, &h->d->metrics.peer_refused);
		errno = ECONNABORTED;
		return -1;
	}
	if (s < TRACKED_FDS) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		pthread_mutex_lock(&tracked_lock);
		tracked[s].port = getpeername(s, (struct sockaddr *)&ss, &sl) == 0 ? sock_port(&ss) : -1;
		snprintf(tracked[s].addr, sizeof(tracked[s].addr), "%s", peer);
		pthread_mutex_unlock(&tracked_lock);
	}
	return s;
}

/* The descriptor of c's socket, or -1 when it is not known. */
static int connection_fd(const struct mg_connection *c)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	int fd = -1;

	pthread_mutex_lock(&tracked_lock);
	for (int i = 3; i < TRACKED_FDS && fd < 0; i++)
		if (tracked[i].port == ri->remote_port && !strcmp(tracked[i].addr, ri->remote_addr))
			fd = i;
	pthread_mutex_unlock(&tracked_lock);
	if (fd >= 0) {
		/* a descriptor reused since: make sure it is this connection */
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0 || sock_port(&ss) != ri->remote_port)
			fd = -1;
	}
	return fd;
}

/* Every quarter second, shut the reading side of the sockets whose bodies
 * are late: the worker's mg_read() then returns at once. */
static void *watchdog_run(void *arg)
{
	struct http *h = arg;

	pthread_mutex_lock(&h->lock);
	while (!h->d->stopping) {
		struct timespec now, tick;
		clock_gettime(CLOCK_MONOTONIC, &now);
		for (struct body_watch *w = h->watches; w; w = w->next)
			if (!w->fired && (now.tv_sec > w->deadline.tv_sec ||
			                  (now.tv_sec == w->deadline.tv_sec && now.tv_nsec >= w->deadline.tv_nsec))) {
				shutdown(w->fd, SHUT_RD);
				w->fired = true;
			}
		clock_gettime(CLOCK_REALTIME, &tick);
		tick.tv_nsec += 250 * 1000 * 1000;
		if (tick.tv_nsec >= 1000000000) {
			tick.tv_sec++;
			tick.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&h->watch_cond, &h->lock, &tick);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static void watch_start(struct http *h, struct body_watch *w, int fd, int seconds)
{
	w->fd = fd;
	w->fired = false;
	clock_gettime(CLOCK_MONOTONIC, &w->deadline);
	w->deadline.tv_sec += seconds;
	if (fd < 0)
		return;
	pthread_mutex_lock(&h->lock);
	w->next = h->watches;
	h->watches = w;
	pthread_mutex_unlock(&h->lock);
}

/* Stop watching; true when the watchdog cut the body. */
static bool watch_end(struct http *h, struct body_watch *w)
{
	bool fired;

	if (w->fd < 0)
		return false;
	pthread_mutex_lock(&h->lock);
	for (struct body_watch **pp = &h->watches; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	fired = w->fired;
	pthread_mutex_unlock(&h->lock);
	return fired;
}

static void on_connection_close(const struct mg_connection *c)
{
	struct http *h = mg_get_user_data(mg_get_context(c));
	const struct mg_request_info *ri = mg_get_request_info(c);

	if (ri)
		edge_conn_close(&h->edge, ri->remote_addr);
}

static int log_message(const struct mg_connection *c, const char *message)
{
	(void)c;
	fprintf(stderr, "%s: %s\n", MCPD_NAME, message);
	return 1;
}

struct http *http_start(struct mcpd *d, const struct mcpd_http_options *o, char *err, size_t err_len)
{
	struct mg_callbacks cb = { 0 };
	struct mg_init_data init = { 0 };
	struct mg_error_data e = { 0 };
	struct mg_server_port ports[4];
	char listen[300], threads[16], errtext[256] = "", timeout[16], queue[16];
	unsigned code = 0;
	struct http *h = calloc(1, sizeof(*h));

	if (!h) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	h->d = d;
	h->o = o;
	h->max_streams = o->threads - (o->threads / 4 > 2 ? o->threads / 4 : 2);
	pthread_mutex_init(&h->lock, NULL);
	edge_init(&h->edge, o->peer_conns);
	snprintf(timeout, sizeof(timeout), "%d", o->request_timeout_s * 1000);
	snprintf(queue, sizeof(queue), "%d", o->threads);
	snprintf(listen, sizeof(listen), strchr(o->host, ':') ? "[%s]:%d" : "%s:%d", o->host, o->port);
	snprintf(threads, sizeof(threads), "%d", o->threads);
	const char *cfg[] = {
		"listening_ports", listen,
		"num_threads", threads,
		/* headers and body go in separate writes: without this, Nagle and
		 * delayed ACKs add ~40 ms to every keep-alive answer */
		"tcp_nodelay", "1",
		"enable_keep_alive", "yes",
		/* a request's header must arrive within this, and each read of
		 * its body; an idle keep-alive connection is closed after it */
		"request_timeout_ms", timeout,
		"keep_alive_timeout_ms", timeout,
		/* accepted connections waiting for a worker, and the kernel's
		 * backlog before them: bounded */
		"connection_queue", queue,
		"listen_backlog", "128",
		/* CivetWeb would answer every CORS preflight with "*" itself:
		 * ours answer only allowed origins (preflight()) */
		"access_control_allow_origin", "",
		"access_control_allow_methods", "",
		NULL
	};
	cb.log_message = log_message;
	cb.connection_close = on_connection_close;
	init.callbacks = &cb;
	init.user_data = h;
	init.configuration_options = cfg;
	e.code = &code;
	e.text = errtext;
	e.text_buffer_size = sizeof(errtext);
	mg_init_library(0);
	accepting = h;
	pthread_cond_init(&h->watch_cond, NULL);
	if (pthread_create(&h->watchdog, NULL, watchdog_run, h) != 0) {
		snprintf(err, err_len, "cannot start a thread");
		accepting = NULL;
		pthread_cond_destroy(&h->watch_cond);
		pthread_mutex_destroy(&h->lock);
		edge_destroy(&h->edge);
		free(h);
		return NULL;
	}
	if (!(h->mg = mg_start2(&init, &e))) {
		accepting = NULL;
		h->d->stopping = 1;
		pthread_mutex_lock(&h->lock);
		pthread_cond_signal(&h->watch_cond);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->watchdog, NULL);
		pthread_cond_destroy(&h->watch_cond);
		snprintf(err, err_len, "cannot listen on %s: %s", listen, *errtext ? errtext : "unknown error");
		pthread_mutex_destroy(&h->lock);
		edge_destroy(&h->edge);
		free(h);
		mg_exit_library();
		return NULL;
	}
	if (mg_get_server_ports(h->mg, 4, ports) > 0)
		h->port = ports[0].port;
	mg_set_request_handler(h->mg, "/mcp$", on_mcp, h);
	mg_set_request_handler(h->mg, "/sse$", on_sse, h);
	mg_set_request_handler(h->mg, "/messages$", on_messages, h);
	mg_set_request_handler(h->mg, "/healthz$", on_healthz, h);
	mg_set_request_handler(h->mg, "/metrics$", on_metrics, h);
	/* The handlers check tokens themselves: without an authorization
	 * handler CivetWeb looks for a .htpasswd on every request (with no
	 * document root: /.htpasswd of the host, one failing stat each time, and
	 * its digest authentication if that file ever appears). */
	mg_set_auth_handler(h->mg, "**", allow_request, NULL);
	return h;
}

int http_port(const struct http *h)
{
	return h->port;
}

void http_stop(struct http *h)
{
	if (!h)
		return;
	h->d->stopping = 1;
	accepting = NULL;
	pthread_mutex_lock(&h->lock);
	for (struct session *s = h->sessions; s; s = s->next) {
		pthread_mutex_lock(&s->lock);
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		/* a call waiting for its client's answer fails now, and a running
		 * tool stops (a remote command ends): mg_stop() waits for them */
		peer_set_gone(&s->peer);
	}
	pthread_mutex_unlock(&h->lock);
	mg_stop(h->mg);
	pthread_mutex_lock(&h->lock);
	pthread_cond_signal(&h->watch_cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->watchdog, NULL);
	pthread_cond_destroy(&h->watch_cond);
	pthread_mutex_lock(&h->lock);
	while (h->sessions)
		session_unlink_locked(h, h->sessions);
	pthread_mutex_unlock(&h->lock);
	pthread_mutex_destroy(&h->lock);
	/* refusals counted since each peer's last audit row: nothing is lost */
	edge_flush(&h->edge, audit_suppressed, h);
	edge_destroy(&h->edge);
	free(h);
	mg_exit_library();
}
