/*
 * pool.c: library contexts lent to requests, the /metrics counters, and
 * small helpers both transports use.
 */
#include "mcpd.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Each thread keeps one context of its own (a SQLite connection with its
 * prepared statements): a worker answers request after request on it with
 * no lock and no hand-off between threads. Statements are reset when given
 * back (hl_db__release) and every read is its own transaction, so a kept
 * connection holds no snapshot between requests and sees what another
 * process committed (tests/mcp/test_hotpath.py). A thread keeps one from
 * its third borrow on (a request borrows once or twice: to check the token,
 * then for the tool), so a thread that served a single request, or main's
 * start-up check, pins none: those share the list, and an idle daemon
 * holds one context, not one per thread that ever answered. A thread that
 * asks again while its own context is lent (nested use) borrows from the
 * shared list.
 */
#define KEEP_FROM_BORROW 3

static _Thread_local struct {
	struct ctx_pool *pool;
	hl_ctx *ctx;
	bool lent;
	unsigned borrows; /* before it kept one */
} mine;

/*
 * Memory back to the system once the daemon has been idle for a moment:
 * glibc keeps what was freed (the start-up checks, a burst of requests on
 * many threads, each with an arena of its own) touched and counted as the
 * process's anonymous memory, 0.4 MiB of an idle daemon's 4.2. A thread
 * looks every TRIM_EVERY_MS: requests since its last look (the flag every
 * borrow sets, read first so that busy workers do not write the shared
 * line) put the trim off; the first quiet look after them trims, once. A
 * loaded daemon never trims; nothing is trimmed twice for nothing.
 */
#define TRIM_EVERY_MS 250

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started, stop;
	int active; /* a borrow since the last look (relaxed atomics) */
} trim = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false, false, 0 };

static void *trim_run(void *arg)
{
	bool dirty = false;

	(void)arg;
	pthread_mutex_lock(&trim.lock);
	while (!trim.stop) {
		struct timespec at;
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_nsec += TRIM_EVERY_MS * 1000000L;
		at.tv_sec += at.tv_nsec / 1000000000L;
		at.tv_nsec %= 1000000000L;
		if (pthread_cond_timedwait(&trim.cond, &trim.lock, &at) == 0 || trim.stop)
			continue;
		if (__atomic_exchange_n(&trim.active, 0, __ATOMIC_RELAXED)) {
			dirty = true;
		} else if (dirty) {
			dirty = false;
			pthread_mutex_unlock(&trim.lock);
			malloc_trim(0);
			pthread_mutex_lock(&trim.lock);
		}
	}
	pthread_mutex_unlock(&trim.lock);
	return NULL;
}

static void trim_note_use(void)
{
	if (!__atomic_load_n(&trim.active, __ATOMIC_RELAXED))
		__atomic_store_n(&trim.active, 1, __ATOMIC_RELAXED);
	if (__atomic_load_n(&trim.started, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&trim.lock);
	if (!trim.started && !trim.stop && pthread_create(&trim.thread, NULL, trim_run, NULL) == 0)
		__atomic_store_n(&trim.started, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&trim.lock);
}

static void trim_stop(void)
{
	bool started;

	pthread_mutex_lock(&trim.lock);
	trim.stop = true;
	started = trim.started;
	pthread_cond_signal(&trim.cond);
	pthread_mutex_unlock(&trim.lock);
	if (started)
		pthread_join(trim.thread, NULL);
	pthread_mutex_lock(&trim.lock);
	trim.started = trim.stop = false;
	pthread_mutex_unlock(&trim.lock);
}

static hl_ctx *open_ctx(struct ctx_pool *p)
{
	hl_ctx_options opts = HL_CTX_OPTIONS_INIT;
	hl_ctx *ctx = NULL;

	opts.db_path = p->db_path;
	opts.flags = HL_CTX_NO_CREATE;
	if (hl_ctx_open(&ctx, &opts) < 0)
		return NULL;
	return ctx;
}

hl_ctx *pool_get(struct ctx_pool *p)
{
	hl_ctx *ctx = NULL;
	bool keep;

	trim_note_use();
	if (mine.pool == p && mine.ctx && !mine.lent) {
		mine.lent = true;
		return mine.ctx;
	}
	if (mine.pool != p)
		mine.pool = p, mine.ctx = NULL, mine.borrows = 0;
	/* the thread's third borrow (or later, while it has none): keep it */
	keep = !mine.ctx && ++mine.borrows >= KEEP_FROM_BORROW;
	pthread_mutex_lock(&p->lock);
	if (p->nfree > 0)
		ctx = p->free[--p->nfree];
	pthread_mutex_unlock(&p->lock);
	if (!ctx && !(ctx = open_ctx(p)))
		return NULL;
	if (keep) {
		pthread_mutex_lock(&p->lock);
		if (p->nthread < (int)(sizeof(p->thread) / sizeof(p->thread[0]))) {
			p->thread[p->nthread++] = ctx;
			mine.ctx = ctx;
			mine.lent = true;
		}
		pthread_mutex_unlock(&p->lock);
	}
	return ctx;
}

void pool_put(struct ctx_pool *p, hl_ctx *ctx)
{
	if (!ctx)
		return;
	if (mine.pool == p && ctx == mine.ctx) {
		mine.lent = false;
		return;
	}
	pthread_mutex_lock(&p->lock);
	if (p->nfree < (int)(sizeof(p->free) / sizeof(p->free[0]))) {
		p->free[p->nfree++] = ctx;
		ctx = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	hl_ctx_free(ctx);
}

/* After every thread that used the pool has stopped. */
void pool_destroy(struct ctx_pool *p)
{
	trim_stop();
	pthread_mutex_lock(&p->lock);
	while (p->nfree > 0)
		hl_ctx_free(p->free[--p->nfree]);
	while (p->nthread > 0)
		hl_ctx_free(p->thread[--p->nthread]);
	pthread_mutex_unlock(&p->lock);
	if (mine.pool == p)
		mine.pool = NULL, mine.ctx = NULL;
}

/* Relaxed atomics: every request counts two or three things, and a mutex
 * shared by all workers was one of the locks they queued on. */
void metrics_count(struct metrics *m, uint64_t *counter)
{
	(void)m;
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static unsigned long long load(const uint64_t *counter)
{
	return (unsigned long long)__atomic_load_n(counter, __ATOMIC_RELAXED);
}

void metrics_text(struct metrics *m, char *buf, size_t len, int sessions, int streams, int max_streams)
{
	static const char *const classes[] = { "1xx", "2xx", "3xx", "4xx", "5xx", "other" };
	size_t used = 0;

	used += (size_t)snprintf(buf + used, len - used,
	                         "# HELP homelab_mcpd_http_requests_total HTTP requests answered, by status class.\n"
	                         "# TYPE homelab_mcpd_http_requests_total counter\n");
	for (int i = 0; i < 6 && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "homelab_mcpd_http_requests_total{code=\"%s\"} %llu\n",
		                         classes[i], load(&m->http_requests[i]));
	if (used < len)
		snprintf(buf + used, len - used,
		         "# HELP homelab_mcpd_rpc_messages_total JSON-RPC messages handled.\n"
		         "# TYPE homelab_mcpd_rpc_messages_total counter\n"
		         "homelab_mcpd_rpc_messages_total %llu\n"
		         "# HELP homelab_mcpd_tool_calls_total Tool calls, by result.\n"
		         "# TYPE homelab_mcpd_tool_calls_total counter\n"
		         "homelab_mcpd_tool_calls_total{result=\"ok\"} %llu\n"
		         "homelab_mcpd_tool_calls_total{result=\"error\"} %llu\n"
		         "# HELP homelab_mcpd_auth_refused_total Requests refused for a missing, bad or too narrow token.\n"
		         "# TYPE homelab_mcpd_auth_refused_total counter\n"
		         "homelab_mcpd_auth_refused_total %llu\n"
		         "# HELP homelab_mcpd_peer_refused_total Connections cut for holding more than --peer-connections.\n"
		         "# TYPE homelab_mcpd_peer_refused_total counter\n"
		         "homelab_mcpd_peer_refused_total %llu\n"
		         "# HELP homelab_mcpd_sessions_created_total MCP sessions created.\n"
		         "# TYPE homelab_mcpd_sessions_created_total counter\n"
		         "homelab_mcpd_sessions_created_total %llu\n"
		         "# HELP homelab_mcpd_sessions Open MCP sessions.\n"
		         "# TYPE homelab_mcpd_sessions gauge\n"
		         "homelab_mcpd_sessions %d\n"
		         "# HELP homelab_mcpd_streams Open event streams (each holds a worker thread).\n"
		         "# TYPE homelab_mcpd_streams gauge\n"
		         "homelab_mcpd_streams %d\n"
		         "# HELP homelab_mcpd_streams_max Event streams allowed at once (--threads less those kept for requests).\n"
		         "# TYPE homelab_mcpd_streams_max gauge\n"
		         "homelab_mcpd_streams_max %d\n",
		         load(&m->rpc_requests), load(&m->tool_calls_ok), load(&m->tool_calls_error), load(&m->auth_refused),
		         load(&m->peer_refused), load(&m->sessions_created), sessions, streams, max_streams);
}

static size_t utf8_seq(const unsigned char *p);

/* A JSON tokener per thread, kept for the thread's life (a new one per
 * request was a tenth of the parse: its stack is allocated and cleared). */
static pthread_key_t tokener_key;
static pthread_once_t tokener_once = PTHREAD_ONCE_INIT;

static void tokener_free(void *tok)
{
	json_tokener_free(tok);
}

static void tokener_key_create(void)
{
	if (pthread_key_create(&tokener_key, tokener_free) != 0)
		abort();
}

static struct json_tokener *thread_tokener(void)
{
	struct json_tokener *tok;

	pthread_once(&tokener_once, tokener_key_create);
	if ((tok = pthread_getspecific(tokener_key)))
		return tok;
	if ((tok = json_tokener_new()) && pthread_setspecific(tokener_key, tok) != 0) {
		json_tokener_free(tok);
		tok = NULL;
	}
	return tok;
}

bool mcpd_parse(struct json_object **out, const char *body, size_t len)
{
	struct json_tokener *tok;
	bool ok;

	*out = NULL;
	if (len >= INT32_MAX)
		return false;
	/* JSON between systems is UTF-8 (RFC 8259): anything else is a parse
	 * error here, so every string a tool sees, and every id echoed back, is
	 * valid UTF-8. json-c's own check (JSON_TOKENER_VALIDATE_UTF8) lets
	 * overlong forms such as C0 93 through, as fuzz_rpc found. body is
	 * NUL-terminated, so a sequence cut at the end stops at the NUL. */
	for (size_t i = 0, n; i < len; i += n)
		if (!(n = body[i] ? utf8_seq((const unsigned char *)body + i) : 1))
			return false;
	if (!(tok = thread_tokener()))
		return false;
	/* Feed the terminating NUL too, so that a bare number is complete. */
	*out = json_tokener_parse_ex(tok, body, (int)len + 1);
	ok = json_tokener_get_error(tok) == json_tokener_success;
	for (size_t i = json_tokener_get_parse_end(tok); ok && i < len; i++)
		if (body[i] != ' ' && body[i] != '\n' && body[i] != '\r' && body[i] != '\t' && body[i] != '\0')
			ok = false;
	if (!ok) {
		json_object_put(*out);
		*out = NULL;
	}
	json_tokener_reset(tok); /* drops what a failed parse left */
	return ok;
}

/* Length of the valid UTF-8 sequence at p (NUL-terminated), 0 if none. */
static size_t utf8_seq(const unsigned char *p)
{
	size_t len = p[0] < 0x80 ? 1 : p[0] < 0xc2 ? 0 : p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : p[0] < 0xf5 ? 4 : 0;
	unsigned cp = p[0] & (0xff >> (len + 1));

	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0; /* cut short (the NUL stops here too) */
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0; /* overlong, past U+10FFFF, or a surrogate */
	return len;
}

void mcpd_utf8_scrub(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		size_t len = utf8_seq(p);
		if (len)
			p += len;
		else
			*p++ = '?';
	}
}

bool mcpd_is_loopback(const char *host)
{
	unsigned char a[16];

	if (!strcmp(host, "localhost"))
		return true;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, host, a) == 1)
		/* ::1, or an IPv4 loopback address mapped (::ffff:127.x.y.z: a
		 * local IPv4 client of a daemon listening on ::) */
		return !memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) ||
		       (!memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) && a[12] == 127);
	return false;
}
