/*
 * stdio.c: MCP over stdin/stdout (Claude Desktop): one JSON-RPC message per
 * line in, one per line out; stdout carries nothing else.
 *
 * Two threads. The reader (the main thread) reads every line as it comes:
 * responses to the server's own requests (elicitation/create) go straight
 * to the tool call waiting for them, notifications/cancelled flags the call
 * it names; everything else is queued for the worker, which answers the
 * requests one after another, in the order they came (as before: a client
 * over one pipe gets its answers in order), and is the only thread that
 * writes to stdout. So a tool that waits for the person, or runs for ten
 * minutes, can still be answered or cancelled.
 */
#include "mcpd.h"
#include "subscribe.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_QUEUED_LINES 256 /* the reader waits beyond this: a flood is held back, not stored */

static volatile sig_atomic_t stop_signal;

struct line {
	char *text;
	size_t len;
	struct line *next;
};

struct stdio_state {
	struct mcpd *d;
	struct peer peer;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct line *head, *tail;
	int queued;
	bool eof;                  /* no more lines will come */
	bool stop;                 /* a signal: what is queued is not answered */
};

/* One message, one line: stdout is locked for it, as a resource's update
 * notification (subscribe.c) may come from another thread. */
static bool write_line(void *payload, const char *text)
{
	bool ok;

	(void)payload;
	flockfile(stdout);
	ok = fputs(text, stdout) >= 0 && fputc('\n', stdout) != EOF && fflush(stdout) == 0;
	funlockfile(stdout);
	return ok;
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void free_line(struct line *l)
{
	explicit_bzero(l->text, l->len);
	free(l->text);
	free(l);
}

/* Answer one queued line (the worker). */
static void handle_line(struct stdio_state *st, struct caller *who, char *version, size_t vlen, struct line *l)
{
	static const struct progress_sink sink = { write_line, NULL, NULL };
	struct json_object *msg;
	char *reply = NULL;

	if (l->len > MCPD_MAX_BODY) {
		reply = rpc_error(NULL, RPC_INVALID_REQUEST, "message larger than 4 MiB");
	} else {
		if (!mcpd_parse(&msg, l->text, l->len))
			reply = rpc_error(NULL, RPC_PARSE_ERROR, "Parse error: the line is not one JSON value");
		else if (json_object_is_type(msg, json_type_array))
			reply = rpc_error(NULL, RPC_INVALID_REQUEST, "batches are not supported over stdio");
		else
			rpc_handle(st->d, who, msg, &reply, version, vlen, &sink);
		json_object_put(msg);
	}
	if (reply) {
		write_line(NULL, reply);
		explicit_bzero(reply, strlen(reply));
		free(reply);
	}
}

static void *worker_run(void *arg)
{
	struct stdio_state *st = arg;
	_Atomic int log_level = MCPD_DEFAULT_LOG_LEVEL;
	struct caller who = { .principal = "stdio", .addr = "stdio", .token = NULL, .legacy_ok = true,
	                      .log_level = &log_level, .peer = &st->peer };
	char version[32] = MCPD_LATEST_PROTOCOL;

	for (;;) {
		struct line *l;
		bool stop;
		pthread_mutex_lock(&st->lock);
		while (!st->head && !st->eof)
			pthread_cond_wait(&st->cond, &st->lock);
		l = st->head;
		if (l) {
			st->head = l->next;
			if (!st->head)
				st->tail = NULL;
			st->queued--;
			pthread_cond_broadcast(&st->cond);
		}
		stop = st->stop;
		pthread_mutex_unlock(&st->lock);
		if (!l)
			break; /* the end of input, and everything before it answered */
		if (!stop)
			handle_line(st, &who, version, sizeof(version), l);
		free_line(l);
	}
	return NULL;
}

/* A cancel for a request that has not started yet: it is taken off the
 * queue, and never answered (MCP: a cancelled request gets no response). */
static void drop_queued(struct stdio_state *st, struct json_object *params)
{
	struct json_object *want = NULL;
	char key[128];

	if (!params || !json_object_object_get_ex(params, "requestId", &want) ||
	    (!json_object_is_type(want, json_type_string) && !json_object_is_type(want, json_type_int)))
		return;
	snprintf(key, sizeof(key), "%s", json_object_to_json_string_ext(want, JSON_C_TO_STRING_PLAIN));
	pthread_mutex_lock(&st->lock);
	for (struct line **pp = &st->head, *prev = NULL; *pp;) {
		struct line *l = *pp;
		struct json_object *msg = NULL, *id = NULL;
		bool match = l->len <= MCPD_MAX_BODY && mcpd_parse(&msg, l->text, l->len) &&
		             json_object_is_type(msg, json_type_object) && json_object_object_get_ex(msg, "method", NULL) &&
		             json_object_object_get_ex(msg, "id", &id) && id &&
		             !strcmp(json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN), key);
		json_object_put(msg);
		if (!match) {
			prev = l;
			pp = &l->next;
			continue;
		}
		*pp = l->next;
		if (st->tail == l)
			st->tail = prev;
		st->queued--;
		free_line(l);
		pthread_cond_broadcast(&st->cond);
		break;
	}
	pthread_mutex_unlock(&st->lock);
}

/* The reader's share of a line: a response or a cancellation is taken here,
 * at once; false when the worker must have it. */
static bool take_now(struct stdio_state *st, const char *text, size_t len)
{
	struct json_object *msg = NULL, *m = NULL, *params = NULL;
	bool taken = false;

	/* cheap test first: most lines are requests */
	if (len > MCPD_MAX_BODY || (!strstr(text, "\"result\"") && !strstr(text, "\"error\"") &&
	                            !strstr(text, "notifications/cancelled")))
		return false;
	if (!mcpd_parse(&msg, text, len) || !json_object_is_type(msg, json_type_object)) {
		json_object_put(msg);
		return false;
	}
	if (!json_object_object_get_ex(msg, "method", &m)) {
		if (json_object_object_get_ex(msg, "result", NULL) || json_object_object_get_ex(msg, "error", NULL)) {
			peer_response(&st->peer, msg);
			taken = true;
		}
	} else if (json_object_is_type(m, json_type_string) &&
	           !strcmp(json_object_get_string(m), "notifications/cancelled") &&
	           !json_object_object_get_ex(msg, "id", NULL)) {
		json_object_object_get_ex(msg, "params", &params);
		if (!peer_cancel(&st->peer, params))
			drop_queued(st, params);
		taken = true;
	}
	json_object_put(msg);
	return taken;
}

int stdio_serve(struct mcpd *d)
{
	struct sigaction sa = { 0 };
	struct stdio_state st = { .d = d };
	sigset_t block, old;
	pthread_t worker;
	char *text = NULL;
	size_t cap = 0;
	ssize_t n;

	peer_init(&st.peer);
	subscribe_set_outlet(&st.peer, write_line, NULL);
	pthread_mutex_init(&st.lock, NULL);
	pthread_cond_init(&st.cond, NULL);
	/* SIGTERM/SIGINT end the loop (getline fails with EINTR: no SA_RESTART),
	 * and the daemon exits cleanly. Only this thread takes them. */
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	if (pthread_create(&worker, NULL, worker_run, &st) != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		fprintf(stderr, "%s: cannot start a thread\n", MCPD_NAME);
		return 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	while (!d->stopping && !stop_signal && (n = getline(&text, &cap, stdin)) >= 0) {
		struct line *l;
		while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
			text[--n] = '\0';
		if (n == 0 || take_now(&st, text, (size_t)n))
			continue;
		if (!(l = malloc(sizeof(*l)))) {
			fprintf(stderr, "%s: out of memory\n", MCPD_NAME);
			break;
		}
		/* the line's buffer goes to the worker; getline makes a new one */
		l->text = text;
		l->len = (size_t)n;
		l->next = NULL;
		text = NULL;
		cap = 0;
		pthread_mutex_lock(&st.lock);
		while (st.queued >= MAX_QUEUED_LINES && !stop_signal)
			pthread_cond_wait(&st.cond, &st.lock);
		if (st.tail)
			st.tail->next = l;
		else
			st.head = l;
		st.tail = l;
		st.queued++;
		pthread_cond_broadcast(&st.cond);
		pthread_mutex_unlock(&st.lock);
	}
	free(text);
	/* No more input: a question to the client can get no answer now, and a
	 * signal stops the tool that runs. What came before the end of input is
	 * still answered (a client may write its requests and close). */
	pthread_mutex_lock(&st.peer.lock);
	st.peer.no_input = true;
	pthread_cond_broadcast(&st.peer.cond);
	pthread_mutex_unlock(&st.peer.lock);
	if (stop_signal)
		peer_set_gone(&st.peer);
	pthread_mutex_lock(&st.lock);
	st.eof = true;
	st.stop = stop_signal != 0;
	pthread_cond_broadcast(&st.cond);
	pthread_mutex_unlock(&st.lock);
	pthread_join(worker, NULL);
	while (st.head) {
		struct line *l = st.head;
		st.head = l->next;
		free_line(l);
	}
	pthread_mutex_destroy(&st.lock);
	pthread_cond_destroy(&st.cond);
	subscribe_forget(&st.peer);
	peer_destroy(&st.peer);
	if (stop_signal)
		fprintf(stderr, "%s: %s, stopping\n", MCPD_NAME, stop_signal == SIGINT ? "interrupted" : "terminated");
	return 0;
}
