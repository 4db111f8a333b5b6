/*
 * mcp_load.c: the load generator of bench/mcp_bench.py, a lean MCP client
 * over Streamable HTTP (HTTP/1.1 keep-alive, 127.0.0.1 only).
 *
 *   mcp_load --port P --mode call --conns N --body JSON [options]
 *       N connections, each with its own MCP session (initialize, then
 *       notifications/initialized), each sending BODY again as soon as the
 *       answer is in (closed loop), spread over --threads epoll threads.
 *   mcp_load --port P --mode turn --conns N --call JSON [options]
 *       N clients (one thread each) doing chat turns the way Open WebUI
 *       does: initialize, notifications/initialized, GET event stream
 *       opened (second connection), tools/list, tools/call CALL, DELETE,
 *       stream closed; a new session each turn.
 *
 * Options: --threads T (call mode, default 2), --seconds S (measured, default
 * 5), --warmup S (default 1), --expect
 * TEXT (every answer's body must contain it, else it counts as an error).
 * Prints one line: mode conns requests errors seconds rps p50_us p99_us
 * max_us (a turn counts as one request). Exit 1 on a setup failure.
 * The bearer token, if any, comes from $MCP_LOAD_TOKEN (never the command
 * line, where any user could read it).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HIST_US (1u << 21) /* latencies up to ~2 s at 1 us resolution; longer ones land in the last bucket */
#define PROTO "2025-11-25"

static int port;
static const char *token;
static const char *expect;
static double seconds = 5, warmup = 1;
static uint64_t t_measure, t_end; /* ns, CLOCK_MONOTONIC */

static _Noreturn void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("mcp_load: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ results --- */

struct stats {
	uint32_t *hist;
	uint64_t requests, errors, max_us;
};

static void stats_init(struct stats *s)
{
	memset(s, 0, sizeof(*s));
	if (!(s->hist = calloc(HIST_US, sizeof(*s->hist))))
		die("out of memory");
}

static void stats_add(struct stats *s, uint64_t t0, uint64_t t1, bool ok)
{
	uint64_t us = (t1 - t0) / 1000;

	if (t1 < t_measure || t1 > t_end)
		return;
	if (!ok) {
		s->errors++;
		return;
	}
	s->requests++;
	if (us > s->max_us)
		s->max_us = us;
	s->hist[us < HIST_US ? us : HIST_US - 1]++;
}

static double percentile(const struct stats *s, double p)
{
	uint64_t want = (uint64_t)(p * (double)s->requests), seen = 0;

	if (!s->requests)
		return 0;
	for (uint32_t i = 0; i < HIST_US; i++)
		if ((seen += s->hist[i]) > want)
			return i + 0.5;
	return HIST_US;
}

/* --------------------------------------------------------------- HTTP --- */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_need(struct buf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	while (b->len + more + 1 > b->cap)
		b->cap = b->cap ? b->cap * 2 : 65536;
	if (!(b->p = realloc(b->p, b->cap)))
		die("out of memory");
}

struct resp {
	int status;
	size_t total;       /* bytes of the whole answer */
	char session[128];  /* Mcp-Session-Id, if any */
};

/* Is the header line [p, e) named name? */
static const char *header_value(const char *p, const char *e, const char *name)
{
	size_t n = strlen(name);

	if ((size_t)(e - p) > n + 1 && !strncasecmp(p, name, n) && p[n] == ':') {
		p += n + 1;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		return p;
	}
	return NULL;
}

/*
 * Parse one HTTP answer at the start of b. 1: complete (r filled), 0: more
 * bytes needed, -1: malformed. headers_only: complete at the end of the
 * header (an event stream's body never ends).
 */
static int parse_resp(const char *b, size_t len, struct resp *r, bool headers_only)
{
	const char *end = memmem(b, len, "\r\n\r\n", 4), *p, *e, *v;
	long long clen = -1;
	bool chunked = false;
	size_t at;

	if (!end)
		return 0;
	if (len < 12 || strncmp(b, "HTTP/1.", 7))
		return -1;
	r->status = atoi(b + 9);
	r->session[0] = '\0';
	for (p = memchr(b, '\n', (size_t)(end - b)) + 1; p < end; p = e + 2) {
		if (!(e = memmem(p, (size_t)(end + 2 - p), "\r\n", 2)))
			break;
		if ((v = header_value(p, e, "Content-Length")))
			clen = atoll(v);
		else if ((v = header_value(p, e, "Transfer-Encoding")))
			chunked = !strncasecmp(v, "chunked", 7);
		else if ((v = header_value(p, e, "Mcp-Session-Id"))) {
			size_t n = (size_t)(e - v);
			if (n >= sizeof(r->session))
				return -1;
			memcpy(r->session, v, n);
			r->session[n] = '\0';
		}
	}
	at = (size_t)(end + 4 - b);
	if (headers_only || r->status == 204 || r->status == 304) {
		r->total = at;
		return 1;
	}
	if (!chunked) {
		if (clen < 0)
			return -1; /* would need the close to see the end: not keep-alive */
		if (len < at + (size_t)clen)
			return 0;
		r->total = at + (size_t)clen;
		return 1;
	}
	for (;;) {
		char *after;
		const char *nl = memmem(b + at, len - at, "\r\n", 2);
		unsigned long long n;
		if (!nl)
			return 0;
		n = strtoull(b + at, &after, 16);
		if (after == b + at)
			return -1;
		at = (size_t)(nl + 2 - b);
		if (n == 0) {
			/* no trailers from these servers: the last CRLF */
			if (len < at + 2)
				return 0;
			r->total = at + 2;
			return 1;
		}
		if (len < at + n + 2)
			return 0;
		at += n + 2;
	}
}

static int connect_to(bool nonblock)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	if (nonblock)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* The text of one request. */
static void build_req(struct buf *out, const char *method, const char *session, const char *body)
{
	size_t blen = body ? strlen(body) : 0;
	int n;

	out->len = 0;
	buf_need(out, 1024 + blen + (token ? strlen(token) : 0));
	n = snprintf(out->p, out->cap,
	             "%s /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: application/json, text/event-stream\r\n"
	             "%s%s%s%s%s%s%s%s%s",
	             method, port, body ? "Content-Type: application/json\r\n" : "",
	             session ? "MCP-Protocol-Version: " PROTO "\r\n" : "",
	             session ? "Mcp-Session-Id: " : "", session ? session : "", session ? "\r\n" : "",
	             token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "",
	             body ? "" : "\r\n");
	out->len = (size_t)n;
	if (body) {
		out->len += (size_t)snprintf(out->p + out->len, out->cap - out->len, "Content-Length: %zu\r\n\r\n", blen);
		memcpy(out->p + out->len, body, blen);
		out->len += blen;
	}
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* A blocking round trip on fd: send req, read one answer into in. */
static bool round_trip(int fd, const struct buf *req, struct buf *in, struct resp *r, bool headers_only)
{
	int rc;

	if (!write_all(fd, req->p, req->len))
		return false;
	in->len = 0;
	for (;;) {
		ssize_t got;
		buf_need(in, 16384);
		got = read(fd, in->p + in->len, in->cap - in->len - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return false;
		in->len += (size_t)got;
		in->p[in->len] = '\0';
		if ((rc = parse_resp(in->p, in->len, r, headers_only)) < 0)
			return false;
		if (rc)
			return true;
	}
}

static bool body_ok(const struct buf *in, const struct resp *r)
{
	return r->status == 200 && (!expect || memmem(in->p, r->total, expect, strlen(expect)));
}

static const char init_body[] =
	"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"" PROTO "\","
	"\"capabilities\":{},\"clientInfo\":{\"name\":\"mcp_load\",\"version\":\"1\"}}}";
static const char initialized_body[] = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
static const char list_body[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}";

/* initialize + notifications/initialized on fd: the new session's id in sid. */
static bool open_session(int fd, struct buf *req, struct buf *in, char *sid, size_t sid_len)
{
	struct resp r;

	build_req(req, "POST", NULL, init_body);
	if (!round_trip(fd, req, in, &r, false) || r.status != 200 || !r.session[0] || strlen(r.session) >= sid_len)
		return false;
	strcpy(sid, r.session);
	build_req(req, "POST", sid, initialized_body);
	return round_trip(fd, req, in, &r, false) && r.status == 202;
}

static bool end_session(int fd, struct buf *req, struct buf *in, const char *sid)
{
	struct resp r;

	build_req(req, "DELETE", sid, NULL);
	return round_trip(fd, req, in, &r, false) && (r.status == 200 || r.status == 204);
}

/* ---------------------------------------------------------- call mode --- */

struct conn {
	int fd;
	char sid[128];
	struct buf req, in;
	uint64_t t0;
};

struct worker {
	pthread_t thread;
	struct conn *conns;
	int nconns;
	struct stats st;
};

static void conn_send(struct conn *c)
{
	c->in.len = 0;
	c->t0 = now_ns();
	if (!write_all(c->fd, c->req.p, c->req.len)) {
		/* the socket buffer of a fresh keep-alive connection takes a
		 * small request whole; anything else is a broken connection,
		 * seen by the next read */
	}
}

static void *call_worker(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev, evs[64];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		die("epoll: %s", strerror(errno));
	for (int i = 0; i < w->nconns; i++) {
		ev.events = EPOLLIN;
		ev.data.ptr = &w->conns[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, w->conns[i].fd, &ev);
		conn_send(&w->conns[i]);
	}
	while (now_ns() < t_end) {
		int n = epoll_wait(ep, evs, 64, 100);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			struct resp r;
			int rc = 0;
			for (;;) {
				ssize_t got;
				buf_need(&c->in, 16384);
				got = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len - 1);
				if (got > 0) {
					c->in.len += (size_t)got;
					continue;
				}
				if (got < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				rc = -1; /* closed or failed */
				break;
			}
			if (rc == 0) {
				c->in.p[c->in.len] = '\0';
				rc = parse_resp(c->in.p, c->in.len, &r, false);
			}
			if (rc == 0)
				continue;
			stats_add(&w->st, c->t0, now_ns(), rc > 0 && body_ok(&c->in, &r) && r.total == c->in.len);
			if (rc < 0) {
				/* reconnect, same session */
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				if ((c->fd = connect_to(true)) < 0)
					die("reconnect failed");
				ev.events = EPOLLIN;
				ev.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
			}
			conn_send(c);
		}
	}
	close(ep);
	return NULL;
}

static void run_call(int nconns, int nthreads, const char *body)
{
	struct conn *conns = calloc((size_t)nconns, sizeof(*conns));
	struct worker *ws = calloc((size_t)nthreads, sizeof(*ws));
	struct stats all;
	struct buf req = { 0 }, in = { 0 };

	if (!conns || !ws)
		die("out of memory");
	for (int i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];
		if ((c->fd = connect_to(false)) < 0)
			die("cannot connect to 127.0.0.1:%d", port);
		if (!open_session(c->fd, &req, &in, c->sid, sizeof(c->sid)))
			die("cannot open a session (answer: %.300s)", in.p ? in.p : "");
		build_req(&c->req, "POST", c->sid, body);
		/* one check before the clock starts: the answer is what we expect */
		{
			struct resp r;
			if (!round_trip(c->fd, &c->req, &in, &r, false) || !body_ok(&in, &r))
				die("unexpected answer: %.400s", in.p ? in.p : "");
		}
		fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	}
	t_measure = now_ns() + (uint64_t)(warmup * 1e9);
	t_end = t_measure + (uint64_t)(seconds * 1e9);
	for (int t = 0; t < nthreads; t++) {
		ws[t].conns = conns + t * nconns / nthreads;
		ws[t].nconns = (t + 1) * nconns / nthreads - t * nconns / nthreads;
		stats_init(&ws[t].st);
		if (pthread_create(&ws[t].thread, NULL, call_worker, &ws[t]))
			die("pthread_create");
	}
	stats_init(&all);
	for (int t = 0; t < nthreads; t++) {
		pthread_join(ws[t].thread, NULL);
		all.requests += ws[t].st.requests;
		all.errors += ws[t].st.errors;
		if (ws[t].st.max_us > all.max_us)
			all.max_us = ws[t].st.max_us;
		for (uint32_t i = 0; i < HIST_US; i++)
			all.hist[i] += ws[t].st.hist[i];
		free(ws[t].st.hist);
	}
	/* end the sessions, on fresh connections (the old ones may hold an
	 * answer in flight) */
	for (int i = 0; i < nconns; i++) {
		int fd;
		close(conns[i].fd);
		if ((fd = connect_to(false)) >= 0) {
			end_session(fd, &req, &in, conns[i].sid);
			close(fd);
		}
		free(conns[i].req.p);
		free(conns[i].in.p);
	}
	printf("mode=call conns=%d requests=%llu errors=%llu seconds=%.2f rps=%.1f p50_us=%.1f p99_us=%.1f max_us=%llu\n",
	       nconns, (unsigned long long)all.requests, (unsigned long long)all.errors, seconds,
	       (double)all.requests / seconds, percentile(&all, 0.50), percentile(&all, 0.99),
	       (unsigned long long)all.max_us);
	free(all.hist);
	free(conns);
	free(ws);
	free(req.p);
	free(in.p);
}

/* ---------------------------------------------------------- turn mode --- */

struct turner {
	pthread_t thread;
	const char *call;
	struct stats st;
};

/* One chat turn; false on any unexpected answer. */
static bool turn(int *fd, const char *call, struct buf *req, struct buf *in)
{
	char sid[128];
	struct resp r;
	int stream;
	bool ok;

	if (*fd < 0 && (*fd = connect_to(false)) < 0)
		return false;
	if (!open_session(*fd, req, in, sid, sizeof(sid)))
		return false;
	if ((stream = connect_to(false)) < 0)
		return false;
	build_req(req, "GET", sid, NULL);
	ok = round_trip(stream, req, in, &r, true) && r.status == 200;
	if (ok) {
		build_req(req, "POST", sid, list_body);
		ok = round_trip(*fd, req, in, &r, false) && r.status == 200 && memmem(in->p, r.total, "\"result\"", 8);
	}
	if (ok) {
		build_req(req, "POST", sid, call);
		ok = round_trip(*fd, req, in, &r, false) && body_ok(in, &r);
	}
	ok = end_session(*fd, req, in, sid) && ok;
	close(stream);
	return ok;
}

static void *turn_worker(void *arg)
{
	struct turner *w = arg;
	struct buf req = { 0 }, in = { 0 };
	int fd = -1;

	while (now_ns() < t_end) {
		uint64_t t0 = now_ns();
		bool ok = turn(&fd, w->call, &req, &in);
		stats_add(&w->st, t0, now_ns(), ok);
		if (!ok && fd >= 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	free(req.p);
	free(in.p);
	return NULL;
}

static void run_turn(int nconns, const char *call)
{
	struct turner *ws = calloc((size_t)nconns, sizeof(*ws));
	struct stats all;

	if (!ws)
		die("out of memory");
	{
		/* one turn before the clock starts: the server answers as expected */
		struct buf req = { 0 }, in = { 0 };
		int fd = -1;
		t_measure = t_end = 0;
		if (!turn(&fd, call, &req, &in))
			die("a chat turn failed (last answer: %.400s)", in.p ? in.p : "");
		close(fd);
		free(req.p);
		free(in.p);
	}
	t_measure = now_ns() + (uint64_t)(warmup * 1e9);
	t_end = t_measure + (uint64_t)(seconds * 1e9);
	for (int t = 0; t < nconns; t++) {
		ws[t].call = call;
		stats_init(&ws[t].st);
		if (pthread_create(&ws[t].thread, NULL, turn_worker, &ws[t]))
			die("pthread_create");
	}
	stats_init(&all);
	for (int t = 0; t < nconns; t++) {
		pthread_join(ws[t].thread, NULL);
		all.requests += ws[t].st.requests;
		all.errors += ws[t].st.errors;
		if (ws[t].st.max_us > all.max_us)
			all.max_us = ws[t].st.max_us;
		for (uint32_t i = 0; i < HIST_US; i++)
			all.hist[i] += ws[t].st.hist[i];
		free(ws[t].st.hist);
	}
	printf("mode=turn conns=%d requests=%llu errors=%llu seconds=%.2f rps=%.1f p50_us=%.1f p99_us=%.1f max_us=%llu\n",
	       nconns, (unsigned long long)all.requests, (unsigned long long)all.errors, seconds,
	       (double)all.requests / seconds, percentile(&all, 0.50), percentile(&all, 0.99),
	       (unsigned long long)all.max_us);
	free(all.hist);
	free(ws);
}

int main(int argc, char **argv)
{
	const char *mode = "call", *body = NULL, *call = NULL;
	int conns = 1, threads = 2;

	if ((token = getenv("MCP_LOAD_TOKEN")) && !*token)
		token = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			die("%s needs a value", a);
		i++;
		if (!strcmp(a, "--port"))
			port = atoi(v);
		else if (!strcmp(a, "--mode"))
			mode = v;
		else if (!strcmp(a, "--conns"))
			conns = atoi(v);
		else if (!strcmp(a, "--threads"))
			threads = atoi(v);
		else if (!strcmp(a, "--seconds"))
			seconds = atof(v);
		else if (!strcmp(a, "--warmup"))
			warmup = atof(v);
		else if (!strcmp(a, "--expect"))
			expect = v;
		else if (!strcmp(a, "--body"))
			body = v;
		else if (!strcmp(a, "--call"))
			call = v;
		else
			die("unknown option %s", a);
	}
	if (port <= 0 || port > 65535 || conns < 1 || conns > 4096 || threads < 1 || seconds <= 0 || warmup < 0)
		die("bad arguments (see the comment at the top of bench/mcp_load.c)");
	if (threads > conns)
		threads = conns;
	if (!strcmp(mode, "call")) {
		if (!body)
			die("--mode call needs --body");
		run_call(conns, threads, body);
	} else if (!strcmp(mode, "turn")) {
		if (!call)
			die("--mode turn needs --call");
		run_turn(conns, call);
	} else {
		die("unknown mode %s", mode);
	}
	return 0;
}
