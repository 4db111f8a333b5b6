/*
 * mcpd_peer.c: the daemon's requests to its client (mcpd/peer.c), with real
 * threads: a "tool" thread asks (peer_elicit, peer_sample) and blocks; a
 * "client" thread reads the request the sink got and answers it through
 * peer_response, as the transports do. Sampling and elicitation results,
 * the client's error answers, time-outs, the session ending, cancellation,
 * capabilities, and answers nobody waits for.
 */
#include "testutil.h"

#include "mcpd.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The wire between the two threads: what the sink sent, one at a time. */
struct wire {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char sent[4096];
	int nsent;
	bool fail_emit;  /* the connection is gone when the request is sent */
};

static bool wire_emit(void *payload, const char *text)
{
	struct wire *w = payload;

	if (w->fail_emit)
		return false;
	pthread_mutex_lock(&w->lock);
	snprintf(w->sent, sizeof(w->sent), "%s", text);
	w->nsent++;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return true;
}

/* Wait (at most 5 s) for the n-th request; its id and method. */
static struct json_object *wire_wait(struct wire *w, int n)
{
	struct json_object *req;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&w->lock);
	while (w->nsent < n)
		assert_int_equal(pthread_cond_timedwait(&w->cond, &w->lock, &until), 0);
	req = json_tokener_parse(w->sent);
	pthread_mutex_unlock(&w->lock);
	assert_non_null(req);
	return req;
}

struct tool {
	struct peer *peer;
	struct peer_client pc;
	struct progress_sink sink;
	struct peer_call call;
	bool sample;
	int rc;
	char out[512], err[512];
	double took;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *tool_run(void *arg)
{
	struct tool *t = arg;
	hl_buf out = HL_BUF_INIT;
	double t0 = now_s();

	if (t->sample)
		t->rc = peer_sample(&out, "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":"
		                          "\"hi\"}}],\"maxTokens\":20}", &t->pc);
	else
		t->rc = peer_elicit(&out, "Allow it?", NULL, &t->pc);
	t->took = now_s() - t0;
	snprintf(t->out, sizeof(t->out), "%s", out.ptr ? out.ptr : "");
	snprintf(t->err, sizeof(t->err), "%s", t->rc < 0 ? hl_error_last()->message : "");
	hl_buf_dispose(&out);
	return NULL;
}

static void start(pthread_t *th, struct tool *t, struct peer *p, struct wire *w, bool sample, int timeout_s)
{
	memset(t, 0, sizeof(*t));
	t->peer = p;
	t->sample = sample;
	t->sink.emit = wire_emit;
	t->sink.payload = w;
	t->pc.peer = p;
	t->pc.call = &t->call;
	t->pc.sink = &t->sink;
	t->pc.timeout_s = timeout_s;
	{
		struct json_object *id = json_object_new_int(42);
		peer_call_begin(p, &t->call, id);
		json_object_put(id);
	}
	assert_int_equal(pthread_create(th, NULL, tool_run, t), 0);
}

static void finish(pthread_t th, struct tool *t)
{
	pthread_join(th, NULL);
	peer_call_end(t->peer, &t->call);
}

/* The client answers request n with text (its id put in). */
static void answer(struct peer *p, struct wire *w, int n, const char *method, const char *text)
{
	struct json_object *req = wire_wait(w, n), *id, *m, *resp;

	assert_true(json_object_object_get_ex(req, "id", &id));
	assert_true(json_object_object_get_ex(req, "method", &m));
	assert_string_equal(json_object_get_string(m), method);
	resp = json_tokener_parse(text);
	assert_non_null(resp);
	json_object_object_add(resp, "id", json_object_get(id));
	assert_true(peer_response(p, resp));
	/* the same answer twice: nobody waits for it any more */
	usleep(20000);
	assert_false(peer_response(p, resp));
	json_object_put(resp);
	json_object_put(req);
}

static void caps(struct peer *p, const char *json)
{
	struct json_object *o = json_tokener_parse(json);
	peer_set_caps(p, o);
	json_object_put(o);
}

static void test_peer__capabilities(void **state)
{
	struct peer p;

	(void)state;
	peer_init(&p);
	assert_false(peer_can(&p, false));
	caps(&p, "{\"capabilities\":{\"elicitation\":{},\"sampling\":{}}}");
	assert_true(peer_can(&p, false));
	assert_true(peer_can(&p, true));
	caps(&p, "{\"capabilities\":{\"elicitation\":{\"form\":{},\"url\":{}}}}");
	assert_true(peer_can(&p, false));
	assert_false(peer_can(&p, true));
	caps(&p, "{\"capabilities\":{\"elicitation\":{\"url\":{}}}}"); /* only URL mode: not what we ask with */
	assert_false(peer_can(&p, false));
	caps(&p, "{\"capabilities\":{\"elicitation\":true,\"sampling\":[]}}");
	assert_false(peer_can(&p, false));
	assert_false(peer_can(&p, true));
	peer_set_caps(&p, NULL);
	assert_false(peer_can(&p, false));
	caps(&p, "{\"capabilities\":{\"elicitation\":{}}}");
	peer_set_gone(&p);
	assert_false(peer_can(&p, false)); /* a client that is gone cannot be asked */
	peer_destroy(&p);
}

static void test_peer__sampling_and_elicitation_answers(void **state)
{
	struct wire w = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct peer p;
	struct tool t;
	pthread_t th;

	(void)state;
	peer_init(&p);
	caps(&p, "{\"capabilities\":{\"elicitation\":{},\"sampling\":{}}}");

	start(&th, &t, &p, &w, true, 5);
	answer(&p, &w, 1, "sampling/createMessage", "{\"jsonrpc\":\"2.0\",\"result\":{\"role\":\"assistant\","
	       "\"content\":{\"type\":\"text\",\"text\":\"hello\"},\"model\":\"m1\",\"stopReason\":\"endTurn\"}}");
	finish(th, &t);
	assert_int_equal(t.rc, 0);
	assert_string_equal(t.out, "{\"role\":\"assistant\",\"content\":{\"type\":\"text\",\"text\":\"hello\"},"
	                           "\"model\":\"m1\",\"stopReason\":\"endTurn\"}");
	{
		/* the request as sent: our id, the method, the tool's params */
		struct json_object *req = json_tokener_parse(w.sent), *params, *x;
		assert_true(json_object_object_get_ex(req, "id", &x) && json_object_is_type(x, json_type_string));
		assert_true(json_object_object_get_ex(req, "params", &params));
		assert_true(json_object_object_get_ex(params, "maxTokens", &x) && json_object_get_int(x) == 20);
		json_object_put(req);
	}

	start(&th, &t, &p, &w, false, 5);
	answer(&p, &w, 2, "elicitation/create", "{\"jsonrpc\":\"2.0\",\"result\":{\"action\":\"accept\","
	       "\"content\":{\"ok\":true}}}");
	finish(th, &t);
	assert_int_equal(t.rc, HL_ELICIT_ACCEPT);
	assert_string_equal(t.out, "{\"ok\":true}");

	start(&th, &t, &p, &w, false, 5);
	answer(&p, &w, 3, "elicitation/create", "{\"jsonrpc\":\"2.0\",\"result\":{\"action\":\"decline\"}}");
	finish(th, &t);
	assert_int_equal(t.rc, HL_ELICIT_DECLINE);

	start(&th, &t, &p, &w, false, 5);
	answer(&p, &w, 4, "elicitation/create", "{\"jsonrpc\":\"2.0\",\"result\":{\"action\":\"later\"}}");
	finish(th, &t);
	assert_int_equal(t.rc, HL_ERROR);
	assert_string_equal(t.err, "the client answered elicitation/create with action 'later' (accept, decline or "
	                           "cancel)");

	start(&th, &t, &p, &w, true, 5);
	answer(&p, &w, 5, "sampling/createMessage", "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-1,"
	       "\"message\":\"User rejected sampling request\"}}");
	finish(th, &t);
	assert_int_equal(t.rc, HL_ERROR);
	assert_string_equal(t.err, "the client answered sampling/createMessage with an error: User rejected sampling "
	                           "request");

	start(&th, &t, &p, &w, true, 5);
	answer(&p, &w, 6, "sampling/createMessage", "{\"jsonrpc\":\"2.0\",\"result\":[1]}");
	finish(th, &t);
	assert_int_equal(t.rc, HL_ERROR);
	assert_string_equal(t.err, "the client's answer to sampling/createMessage has no result object");
	peer_destroy(&p);
}

static void test_peer__no_answer(void **state)
{
	struct wire w = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct peer p;
	struct tool t;
	pthread_t th;

	(void)state;
	peer_init(&p);
	caps(&p, "{\"capabilities\":{\"elicitation\":{},\"sampling\":{}}}");

	/* the time-out */
	start(&th, &t, &p, &w, false, 1);
	json_object_put(wire_wait(&w, 1));
	finish(th, &t);
	assert_int_equal(t.rc, HL_ETIMEOUT);
	assert_string_equal(t.err, "the client did not answer elicitation/create within 1 s");
	assert_true(t.took >= 0.9 && t.took < 2.5);

	/* cancelled while it waits: at once */
	start(&th, &t, &p, &w, false, 60);
	json_object_put(wire_wait(&w, 2));
	{
		struct json_object *params = json_tokener_parse("{\"requestId\":42}");
		assert_false(peer_call_cancelled(&p, &t.call));
		assert_true(peer_cancel(&p, params));
		json_object_put(params);
	}
	finish(th, &t);
	assert_int_equal(t.rc, HL_EUSER);
	assert_true(t.took < 2);
	{
		/* the call is over: the same cancel is ignored */
		struct json_object *params = json_tokener_parse("{\"requestId\":42}");
		assert_false(peer_cancel(&p, params));
		json_object_put(params);
	}

	/* the connection is gone when the request goes out */
	w.fail_emit = true;
	start(&th, &t, &p, &w, true, 60);
	finish(th, &t);
	assert_int_equal(t.rc, HL_EUNREACHABLE);
	assert_string_equal(t.err, "the client is gone: sampling/createMessage was not sent");
	w.fail_emit = false;

	/* the session ends while it waits: at once */
	start(&th, &t, &p, &w, false, 60);
	json_object_put(wire_wait(&w, 3));
	peer_set_gone(&p);
	finish(th, &t);
	assert_int_equal(t.rc, HL_EUNREACHABLE);
	assert_string_equal(t.err, "the client went away before it answered elicitation/create");
	assert_true(t.took < 2);
	{
		struct peer_client pc = { &p, NULL, NULL, 1 };
		assert_true(peer_should_stop(&pc)); /* and tools stop */
	}
	peer_destroy(&p);
}

static void test_peer__without_capability(void **state)
{
	struct wire w = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct peer p;
	struct tool t;
	pthread_t th;

	(void)state;
	peer_init(&p);
	start(&th, &t, &p, &w, false, 5);
	finish(th, &t);
	assert_int_equal(t.rc, HL_EUNSUPPORTED);
	assert_string_equal(t.err, "the client did not declare elicitation");
	start(&th, &t, &p, &w, true, 5);
	finish(th, &t);
	assert_int_equal(t.rc, HL_EUNSUPPORTED);
	assert_int_equal(w.nsent, 0); /* nothing was sent */
	{
		/* answers with ids nobody waits for, or none at all */
		struct json_object *r = json_tokener_parse("{\"jsonrpc\":\"2.0\",\"id\":\"hl-1\",\"result\":{}}");
		assert_false(peer_response(&p, r));
		json_object_put(r);
		r = json_tokener_parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
		assert_false(peer_response(&p, r));
		json_object_put(r);
		r = json_tokener_parse("{\"jsonrpc\":\"2.0\",\"result\":{}}");
		assert_false(peer_response(&p, r));
		json_object_put(r);
	}
	peer_destroy(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer__capabilities),
		cmocka_unit_test(test_peer__sampling_and_elicitation_answers),
		cmocka_unit_test(test_peer__no_answer),
		cmocka_unit_test(test_peer__without_capability),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
