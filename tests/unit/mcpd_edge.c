/*
 * mcpd_edge.c: homelab-mcpd's rules at its network edge (mcpd/edge.c):
 * who may come in without a token, the per-peer connection cap, and one
 * audit row per peer per minute for refusals. Addresses here are only
 * text: nothing is contacted.
 */
#include "testutil.h"

#include "edge.h"

#include <stdio.h>
#include <string.h>

/* The review's defect: a failed token count let anyone in. */
static void test_edge__lookup_error_is_never_anonymous(void **state)
{
	(void)state;
	assert_int_equal(edge_auth_decide(true, 0, "127.0.0.1", false), EDGE_AUTH_UNAVAILABLE);
	assert_int_equal(edge_auth_decide(true, 3, "127.0.0.1", false), EDGE_AUTH_UNAVAILABLE);
	assert_int_equal(edge_auth_decide(true, 0, "203.0.113.9", false), EDGE_AUTH_UNAVAILABLE);
}

static void test_edge__tokens_mean_a_token_is_needed(void **state)
{
	(void)state;
	assert_int_equal(edge_auth_decide(false, 1, "127.0.0.1", false), EDGE_AUTH_TOKEN);
	assert_int_equal(edge_auth_decide(false, 1, "203.0.113.9", true), EDGE_AUTH_TOKEN);
}

/* Without tokens (the last one removed while the daemon listens on the
 * network), each request's own peer must be loopback. */
static void test_edge__no_tokens_loopback_peers_only(void **state)
{
	static const char *const local[] = { "127.0.0.1", "127.0.0.2", "127.255.0.1", "::1", "::ffff:127.0.0.1" };
	static const char *const remote[] = { "203.0.113.9", "198.51.100.7", "2001:db8::1", "::ffff:203.0.113.9",
	                                      "128.0.0.1", "0.0.0.0", "::", "localhost.example", "", "fe80::1" };

	(void)state;
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		assert_int_equal(edge_auth_decide(false, 0, local[i], false), EDGE_AUTH_OPEN);
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		print_message("remote %s\n", remote[i]);
		assert_int_equal(edge_auth_decide(false, 0, remote[i], false), EDGE_AUTH_REMOTE);
		assert_int_equal(edge_auth_decide(false, 0, remote[i], true), EDGE_AUTH_REMOTE);
	}
	assert_int_equal(edge_auth_decide(false, 0, NULL, false), EDGE_AUTH_REMOTE);
	assert_int_equal(edge_auth_decide(false, 0, "127.0.0.1", true), EDGE_AUTH_PROXIED);
}

static void test_edge__connection_cap_per_peer(void **state)
{
	struct edge e;

	(void)state;
	edge_init(&e, 3);
	for (int i = 0; i < 3; i++)
		assert_true(edge_conn_open(&e, "127.0.0.2"));
	assert_false(edge_conn_open(&e, "127.0.0.2")); /* the fourth */
	edge_conn_close(&e, "127.0.0.2");                /* which is closed again */
	assert_int_equal(edge_conns(&e, "127.0.0.2"), 3);
	assert_true(edge_conn_open(&e, "127.0.0.3"));   /* another peer has its own share */
	edge_conn_close(&e, "127.0.0.2");
	assert_true(edge_conn_open(&e, "127.0.0.2"));   /* room again */
	/* local clients and a local proxy are not capped */
	for (int i = 0; i < 10; i++) {
		assert_true(edge_conn_open(&e, "127.0.0.1"));
		assert_true(edge_conn_open(&e, "::1"));
	}
	assert_int_equal(edge_conns(&e, "127.0.0.1"), 10);
	for (int i = 0; i < 10; i++)
		edge_conn_close(&e, "127.0.0.1");
	assert_int_equal(edge_conns(&e, "127.0.0.1"), 0);
	edge_conn_close(&e, "127.0.0.9"); /* never seen: nothing happens */
	assert_int_equal(edge_conns(&e, "127.0.0.9"), 0);
	edge_destroy(&e);

	edge_init(&e, 0); /* no cap */
	for (int i = 0; i < 100; i++)
		assert_true(edge_conn_open(&e, "127.0.0.2"));
	edge_destroy(&e);
}

static void test_edge__long_peer_is_not_tracked(void **state)
{
	char peer[200];
	struct edge e;

	(void)state;
	memset(peer, 'a', sizeof(peer) - 1);
	peer[sizeof(peer) - 1] = '\0';
	edge_init(&e, 1);
	assert_true(edge_conn_open(&e, peer));
	assert_true(edge_conn_open(&e, peer));
	edge_conn_close(&e, peer);
	edge_destroy(&e);
}

static void test_edge__origin_and_host(void **state)
{
	static const char *const allowed[] = { "http://webui.example:3000" };
	char why[512];

	(void)state;
	/* no Origin (not a browser), a loopback Host */
	assert_true(edge_origin_ok(NULL, "127.0.0.1:8080", "127.0.0.1", 8080, allowed, 1, why, sizeof(why)));
	assert_true(edge_origin_ok(NULL, NULL, "127.0.0.1", 8080, allowed, 1, why, sizeof(why)));
	assert_true(edge_origin_ok(NULL, "localhost", "127.0.0.1", 8080, allowed, 1, why, sizeof(why)));
	assert_true(edge_origin_ok(NULL, "[::1]:8080", "127.0.0.1", 8080, allowed, 1, why, sizeof(why)));
	/* our own origins and the allowed one */
	assert_true(edge_origin_ok("http://127.0.0.1:8080", "127.0.0.1:8080", "127.0.0.1", 8080, allowed, 1, why,
	                           sizeof(why)));
	assert_true(edge_origin_ok("http://localhost:8080", "localhost:8080", "127.0.0.1", 8080, allowed, 1, why,
	                           sizeof(why)));
	assert_true(edge_origin_ok("http://webui.example:3000", "127.0.0.1:8080", "127.0.0.1", 8080, allowed, 1, why,
	                           sizeof(why)));
	/* DNS rebinding: a foreign origin, a foreign Host name */
	assert_false(edge_origin_ok("http://evil.example", "127.0.0.1:8080", "127.0.0.1", 8080, allowed, 1, why,
	                            sizeof(why)));
	assert_non_null(strstr(why, "Origin http://evil.example is not allowed (start the daemon with --allow-origin"));
	assert_false(edge_origin_ok("null", "127.0.0.1:8080", "127.0.0.1", 8080, allowed, 1, why, sizeof(why)));
	assert_string_equal(why, "Origin null is not allowed");
	assert_false(edge_origin_ok("http://127.0.0.1:9999", NULL, "127.0.0.1", 8080, allowed, 1, why, sizeof(why)));
	assert_false(edge_origin_ok(NULL, "evil.example:8080", "127.0.0.1", 8080, allowed, 1, why, sizeof(why)));
	assert_string_equal(why, "Host evil.example:8080 is not this loopback server");
	assert_false(edge_origin_ok(NULL, "127.attacker.example", "127.0.0.1", 8080, allowed, 1, why, sizeof(why)));
	/* bad Host values */
	assert_false(edge_origin_ok(NULL, "[::1", "127.0.0.1", 8080, allowed, 1, why, sizeof(why)));
	assert_false(edge_origin_ok(NULL, "", "127.0.0.1", 8080, allowed, 1, why, sizeof(why)));
	assert_false(edge_origin_ok(NULL, ":8080", "127.0.0.1", 8080, allowed, 1, why, sizeof(why)));
	{
		char longhost[400];
		memset(longhost, '1', sizeof(longhost) - 1);
		longhost[sizeof(longhost) - 1] = '\0';
		assert_false(edge_origin_ok(NULL, longhost, "127.0.0.1", 8080, allowed, 1, why, sizeof(why)));
		longhost[0] = '[';
		assert_false(edge_origin_ok(NULL, longhost, "127.0.0.1", 8080, allowed, 1, why, sizeof(why)));
	}
	/* a daemon on another address (with tokens) checks no Host name */
	assert_true(edge_origin_ok(NULL, "homelab.lan:8080", "0.0.0.0", 8080, allowed, 1, why, sizeof(why)));
}

struct flushed {
	char peer[64];
	uint64_t count;
	int calls;
};

static void on_flush(const char *peer, uint64_t count, void *payload)
{
	struct flushed *f = payload;
	snprintf(f->peer, sizeof(f->peer), "%s", peer);
	f->count = count;
	f->calls++;
}

static void test_edge__refusals_one_row_a_minute(void **state)
{
	struct flushed f = { "", 0, 0 };
	uint64_t before = 99;
	struct edge e;
	time_t t = 1700000000;

	(void)state;
	edge_init(&e, 0);
	assert_true(edge_refusal(&e, "127.0.0.2", t, &before)); /* the first is written */
	assert_int_equal(before, 0);
	for (int i = 1; i <= 500; i++)
		assert_false(edge_refusal(&e, "127.0.0.2", t + i % 60, &before)); /* counted */
	assert_true(edge_refusal(&e, "127.0.0.3", t + 5, &before)); /* another peer's first */
	assert_int_equal(before, 0);
	/* the next minute: written, with the count of the one before */
	assert_true(edge_refusal(&e, "127.0.0.2", t + 60, &before));
	assert_int_equal(before, 500);
	assert_false(edge_refusal(&e, "127.0.0.2", t + 61, &before));
	assert_false(edge_refusal(&e, "127.0.0.2", t + 62, &before));
	/* a clock that went back starts a new window rather than counting forever */
	assert_true(edge_refusal(&e, "127.0.0.2", t - 3600, &before));
	assert_int_equal(before, 2);
	assert_false(edge_refusal(&e, "127.0.0.2", t - 3599, &before));
	/* at shutdown, what was counted is handed out once */
	edge_flush(&e, on_flush, &f);
	assert_int_equal(f.calls, 1);
	assert_string_equal(f.peer, "127.0.0.2");
	assert_int_equal(f.count, 1);
	edge_flush(&e, on_flush, &f);
	assert_int_equal(f.calls, 1);
	edge_destroy(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edge__lookup_error_is_never_anonymous),
		cmocka_unit_test(test_edge__tokens_mean_a_token_is_needed),
		cmocka_unit_test(test_edge__no_tokens_loopback_peers_only),
		cmocka_unit_test(test_edge__connection_cap_per_peer),
		cmocka_unit_test(test_edge__long_peer_is_not_tracked),
		cmocka_unit_test(test_edge__origin_and_host),
		cmocka_unit_test(test_edge__refusals_one_row_a_minute),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
