/*
 * health.c: HTTP health checks against a loopback HTTP server started by
 * the test (127.0.0.1 only): healthy, unhealthy, redirects not followed,
 * refused, closed, timed out, and how the probed URL is built.
 */
#include "testutil.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int setup(void **state)
{
	/* A proxy from the environment must not swallow loopback requests. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	*state = tu_open(NULL);
	return 0;
}

static int teardown(void **state)
{
	hl_ctx_free(*state);
	return 0;
}

static void add_service(hl_ctx *ctx, const char *name, const char *url, const char *endpoint)
{
	hl_service_spec s = HL_SERVICE_SPEC_INIT;

	s.name = name;
	s.url = url;
	s.health_endpoint = endpoint;
	if (hl_service_add(NULL, ctx, &s) != 0)
		fail_msg("add service %s: %s", name, hl_error_last()->message);
}

/* Check service `name` against a server answering `status`. */
static hl_health *probe(hl_ctx *ctx, tu_http *srv, int status, const char *name, const char *endpoint)
{
	char url[128];
	hl_health *h = NULL;
	int rc;

	tu_http_start(srv, status, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv->port);
	add_service(ctx, name, url, endpoint);
	rc = hl_health_check(&h, ctx, name, 3000);
	if (rc != 0) {
		tu_http_stop(srv);
		fail_msg("health check %s: %s", name, hl_error_last()->message);
	}
	return h;
}

static void test_health__healthy(void **state)
{
	hl_ctx *ctx = *state;
	tu_http srv;
	hl_health *h = probe(ctx, &srv, 200, "web", "/health");
	char want[128];

	snprintf(want, sizeof(want), "http://127.0.0.1:%d/health", srv.port);
	assert_string_equal(h->service, "web");
	assert_string_equal(h->url, want);
	assert_int_equal(h->state, HL_HEALTH_HEALTHY);
	assert_int_equal(h->http_status, 200);
	assert_null(h->error);
	assert_true(h->elapsed_ms > 0 && h->elapsed_ms < 3000);
	assert_string_equal(tu_http_requests(&srv), "GET /health HTTP/1.1\n");
	hl_health_free(h);
	tu_http_stop(&srv);
	hl_health_free(NULL);
}

static void test_health__unhealthy(void **state)
{
	hl_ctx *ctx = *state;
	tu_http srv;
	hl_health *h = probe(ctx, &srv, 500, "broken", "/health");

	assert_int_equal(h->state, HL_HEALTH_UNHEALTHY);
	assert_int_equal(h->http_status, 500);
	assert_string_equal(h->error, "HTTP status 500");
	hl_health_free(h);
	tu_http_stop(&srv);

	h = probe(ctx, &srv, 404, "missing", "/nope");
	assert_int_equal(h->state, HL_HEALTH_UNHEALTHY);
	assert_int_equal(h->http_status, 404);
	assert_string_equal(h->error, "HTTP status 404");
	hl_health_free(h);
	tu_http_stop(&srv);
}

static void test_health__redirect_not_followed(void **state)
{
	hl_ctx *ctx = *state;
	tu_http srv;
	hl_health *h = probe(ctx, &srv, 302, "moved", "/login");

	/* health.h: a 3xx answer is healthy, and the redirect is not followed. */
	assert_int_equal(h->state, HL_HEALTH_HEALTHY);
	assert_int_equal(h->http_status, 302);
	assert_null(h->error);
	assert_string_equal(tu_http_requests(&srv), "GET /login HTTP/1.1\n");
	hl_health_free(h);
	tu_http_stop(&srv);
}

static void test_health__unreachable(void **state)
{
	hl_ctx *ctx = *state;
	hl_health *h = NULL;
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", tu_closed_port());
	add_service(ctx, "gone", url, "/health");
	assert_int_equal(hl_health_check(&h, ctx, "gone", 2000), 0);
	assert_int_equal(h->state, HL_HEALTH_UNREACHABLE);
	assert_int_equal(h->http_status, 0);
	assert_non_null(h->error);
	assert_non_null(strstr(h->error, "onnect"));
	hl_health_free(h);
}

static void test_health__closed_without_answer(void **state)
{
	hl_ctx *ctx = *state;
	tu_http srv;
	hl_health *h = probe(ctx, &srv, TU_HTTP_CLOSE, "mute", "/health");

	assert_int_equal(h->state, HL_HEALTH_UNREACHABLE);
	assert_int_equal(h->http_status, 0);
	assert_non_null(h->error);
	assert_string_equal(tu_http_requests(&srv), "GET /health HTTP/1.1\n");
	hl_health_free(h);
	tu_http_stop(&srv);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void test_health__timeout(void **state)
{
	hl_ctx *ctx = *state;
	tu_http srv;
	hl_health *h = NULL;
	char url[128];
	double t0, took;

	tu_http_start(&srv, TU_HTTP_SILENT, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
	add_service(ctx, "sleepy", url, "/health");
	t0 = now_ms();
	assert_int_equal(hl_health_check(&h, ctx, "sleepy", 300), 0);
	took = now_ms() - t0;
	tu_http_stop(&srv);
	assert_int_equal(h->state, HL_HEALTH_UNREACHABLE);
	assert_int_equal(h->http_status, 0);
	assert_non_null(h->error);
	assert_non_null(strstr(h->error, "imed out"));
	assert_true(took >= 280 && took < 2000);
	assert_true(h->elapsed_ms >= 280 && h->elapsed_ms < 2000);
	hl_health_free(h);
}

static void test_health__probe_urls(void **state)
{
	hl_ctx *ctx = *state;
	tu_http srv;
	hl_health *h = NULL;
	hl_service_spec s = HL_SERVICE_SPEC_INIT;
	hl_vm_spec vs = HL_VM_SPEC_INIT;
	char url[128], ep[128], want[128];

	tu_http_start(&srv, 200, 0);
	/* A full URL as health_endpoint wins over url. */
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/status", srv.port);
	add_service(ctx, "full", "http://127.0.0.1:1/", ep);
	assert_int_equal(hl_health_check(&h, ctx, "full", 2000), 0);
	assert_string_equal(h->url, ep);
	assert_int_equal(h->state, HL_HEALTH_HEALTHY);
	hl_health_free(h);
	/* A path without its slash is joined with one; trailing slashes of url go. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d//", srv.port);
	add_service(ctx, "joined", url, "healthz");
	assert_int_equal(hl_health_check(&h, ctx, "joined", 2000), 0);
	snprintf(want, sizeof(want), "http://127.0.0.1:%d/healthz", srv.port);
	assert_string_equal(h->url, want);
	hl_health_free(h);
	/* No endpoint: the url itself. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/app", srv.port);
	add_service(ctx, "plain", url, NULL);
	assert_int_equal(hl_health_check(&h, ctx, "PLAIN", 2000), 0);
	assert_string_equal(h->url, url);
	assert_string_equal(h->service, "plain");
	hl_health_free(h);
	/* No url: the VM's address and the service's port. */
	vs.name = "box";
	vs.ip = "127.0.0.1";
	assert_int_equal(hl_vm_add(NULL, ctx, &vs), 0);
	s.name = "onvm";
	s.port = srv.port;
	s.health_endpoint = "/ping";
	s.vm = "box";
	assert_int_equal(hl_service_add(NULL, ctx, &s), 0);
	assert_int_equal(hl_health_check(&h, ctx, "onvm", 2000), 0);
	snprintf(want, sizeof(want), "http://127.0.0.1:%d/ping", srv.port);
	assert_string_equal(h->url, want);
	assert_int_equal(h->state, HL_HEALTH_HEALTHY);
	hl_health_free(h);
	assert_string_equal(tu_http_requests(&srv), "GET /status HTTP/1.1\nGET /healthz HTTP/1.1\n"
	                                            "GET /app HTTP/1.1\nGET /ping HTTP/1.1\n");
	tu_http_stop(&srv);
}

static void test_health__errors(void **state)
{
	hl_ctx *ctx = *state;
	hl_health *h = (hl_health *)ctx;
	hl_service_spec s = HL_SERVICE_SPEC_INIT;

	s.name = "nourl";
	s.health_endpoint = "/health";
	assert_int_equal(hl_service_add(NULL, ctx, &s), 0);
	tu_assert_error(hl_health_check(&h, ctx, "nourl", 1000), HL_EINVALID,
	                "service 'nourl' has no url to probe (set its url, or its vm and port)");
	assert_null(h);
	tu_assert_error(hl_health_check(&h, ctx, "nope", 1000), HL_ENOTFOUND, "service 'nope' not found");
	tu_assert_error(hl_health_check(&h, ctx, "", 1000), HL_EINVALID, "a name or id is required");
	tu_assert_error(hl_health_check(&h, ctx, "nourl", -1), HL_EINVALID, "timeout_ms: -1 is negative");
	tu_assert_error(hl_health_check(NULL, ctx, "nourl", 0), HL_EINVALID, "out and ctx are required");
	tu_assert_error(hl_health_check(&h, NULL, "nourl", 0), HL_EINVALID, "out and ctx are required");
	assert_string_equal(hl_health_state_name(HL_HEALTH_HEALTHY), "healthy");
	assert_string_equal(hl_health_state_name(HL_HEALTH_UNHEALTHY), "unhealthy");
	assert_string_equal(hl_health_state_name(HL_HEALTH_UNREACHABLE), "unreachable");
	assert_string_equal(hl_health_state_name(99), "unknown");
	assert_string_equal(hl_health_state_name(-1), "unknown");
}

static void test_health__tool(void **state)
{
	hl_ctx *ctx = *state;
	tu_http srv;
	struct json_object *r;
	char url[128];
	hl_buf out = HL_BUF_INIT;

	tu_http_start(&srv, 503, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
	add_service(ctx, "api", url, "/ready");
	r = tu_call_ok(ctx, "homelab_check_service_health", "{\"name\":\"api\",\"timeout_s\":2}");
	assert_string_equal(tu_jstr(r, "service_name"), "api");
	assert_string_equal(tu_jstr(r, "status"), "unhealthy");
	assert_string_equal(tu_jstr(r, "healthy"), "false");
	assert_string_equal(tu_jstr(r, "http_status"), "503");
	assert_string_equal(tu_jstr(r, "error"), "HTTP status 503");
	json_object_put(r);
	tu_http_stop(&srv);
	/* Now nothing listens there. */
	r = tu_call_ok(ctx, "homelab_check_service_health", "{\"name\":\"api\",\"timeout_s\":2}");
	assert_string_equal(tu_jstr(r, "status"), "unreachable");
	assert_null(tu_jstr(r, "http_status"));
	assert_non_null(tu_jstr(r, "error"));
	json_object_put(r);
	tu_assert_error(tu_call(&out, ctx, "homelab_check_service_health", "{\"name\":\"nope\"}"), HL_ENOTFOUND,
	                "service 'nope' not found");
}

struct progress_log {
	int calls, stop_at;
	double completed[8], total[8];
	char messages[512];
};

static int record_progress(const hl_progress *p, void *payload)
{
	struct progress_log *log = payload;

	if (log->calls < 8) {
		log->completed[log->calls] = p->completed;
		log->total[log->calls] = p->total;
	}
	log->calls++;
	strncat(log->messages, p->message ? p->message : "(null)", sizeof(log->messages) - strlen(log->messages) - 2);
	strcat(log->messages, "\n");
	return log->calls == log->stop_at;
}

/* homelab_check_all_services: each service once, results in name order,
 * every outcome counted, progress as the answers come in ("checking X": the
 * next one waited for), and a callback can stop it. */
static void test_health__check_all(void **state)
{
	hl_ctx *ctx = *state;
	hl_call_options opts = HL_CALL_OPTIONS_INIT;
	struct progress_log log = { 0 };
	tu_http ok, bad;
	hl_buf out = HL_BUF_INIT;
	struct json_object *r;
	char url[128];

	tu_http_start(&ok, 204, 0);
	tu_http_start(&bad, 500, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ok.port);
	add_service(ctx, "web", url, "/health");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", bad.port);
	add_service(ctx, "api", url, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", tu_closed_port());
	add_service(ctx, "gone", url, NULL);
	add_service(ctx, "mqtt", NULL, NULL);

	opts.progress = record_progress;
	opts.payload = &log;
	assert_int_equal(hl_tool_call(&out, ctx, hl_tool_lookup("homelab_check_all_services"), "{\"timeout_s\":3}",
	                              &opts), 0);
	tu_check_output("homelab_check_all_services", out.ptr);
	r = json_tokener_parse(out.ptr);
	assert_string_equal(tu_jstr(r, "count"), "4");
	assert_string_equal(tu_jstr(r, "healthy"), "1");
	assert_string_equal(tu_jstr(r, "unhealthy"), "1");
	assert_string_equal(tu_jstr(r, "unreachable"), "1");
	assert_string_equal(tu_jstr(r, "not_checked"), "1");
	assert_string_equal(tu_jstr(r, "services.0.service_name"), "api");
	assert_string_equal(tu_jstr(r, "services.0.http_status"), "500");
	assert_string_equal(tu_jstr(r, "services.1.status"), "unreachable");
	assert_string_equal(tu_jstr(r, "services.2.service_name"), "mqtt");
	assert_string_equal(tu_jstr(r, "services.2.status"), "not_checked");
	assert_null(tu_jstr(r, "services.2.url"));
	assert_non_null(strstr(tu_jstr(r, "services.2.error"), "has no url to probe"));
	assert_string_equal(tu_jstr(r, "services.3.status"), "healthy");
	assert_string_equal(tu_jstr(r, "services.3.healthy"), "true");
	json_object_put(r);
	assert_int_equal(log.calls, 4); /* before each service: what is being waited for */
	for (int i = 0; i < 4; i++) {
		assert_true(log.completed[i] == i);
		assert_true(log.total[i] == 4);
	}
	assert_string_equal(log.messages, "checking api\nchecking gone\nchecking mqtt\nchecking web\n");
	assert_string_equal(tu_http_requests(&ok), "GET /health HTTP/1.1\n");

	/* a callback that says stop at once (the first report comes before any
	 * request is sent): nothing is probed */
	memset(&log, 0, sizeof(log));
	log.stop_at = 1;
	tu_assert_error(hl_tool_call(&out, ctx, hl_tool_lookup("homelab_check_all_services"), NULL, &opts), HL_EUSER,
	                "stopped after 0 of 4 services");
	assert_int_equal(log.calls, 1);
	assert_string_equal(tu_http_requests(&ok), "GET /health HTTP/1.1\n"); /* still only the first run's */
	/* stop at the second report: the transfers under way are ended, the call returns */
	memset(&log, 0, sizeof(log));
	log.stop_at = 2;
	tu_assert_error(hl_tool_call(&out, ctx, hl_tool_lookup("homelab_check_all_services"), NULL, &opts), HL_EUSER,
	                "stopped after 1 of 4 services");
	assert_int_equal(log.calls, 2);

	/* one VM's services; an unknown VM is an error naming it */
	{
		hl_vm_spec vm = HL_VM_SPEC_INIT;
		vm.name = "harbor";
		assert_int_equal(hl_vm_add(NULL, ctx, &vm), 0);
	}
	r = tu_call_ok(ctx, "homelab_check_all_services", "{\"vm_id\":\"harbor\"}");
	assert_string_equal(tu_jstr(r, "count"), "0");
	json_object_put(r);
	tu_assert_error(tu_call(&out, ctx, "homelab_check_all_services", "{\"vm_id\":\"nope\"}"), HL_ENOTFOUND, "nope");
	tu_assert_error(tu_call(&out, ctx, "homelab_check_all_services", "{\"timeout_s\":0}"), HL_EINVALID, "timeout_s");
	hl_buf_dispose(&out);
	tu_http_stop(&ok);
	tu_http_stop(&bad);
}

/* A port without a URL, protocol or endpoint: a TCP connect check on the
 * VM's address (healthy when it accepts; nothing is sent). */
static void test_health__tcp_connect(void **state)
{
	hl_ctx *ctx = *state;
	hl_vm_spec vs = HL_VM_SPEC_INIT;
	hl_service_spec s = HL_SERVICE_SPEC_INIT;
	hl_health *h = NULL;
	tu_http srv;
	char want[64];

	tu_http_start(&srv, 200, 0);
	vs.name = "broker";
	vs.ip = "127.0.0.1";
	assert_int_equal(hl_vm_add(NULL, ctx, &vs), 0);
	s.name = "mqtt";
	s.port = srv.port;
	s.vm = "broker";
	assert_int_equal(hl_service_add(NULL, ctx, &s), 0);
	s.name = "closed";
	s.port = tu_closed_port();
	assert_int_equal(hl_service_add(NULL, ctx, &s), 0);

	assert_int_equal(hl_health_check(&h, ctx, "mqtt", 2000), 0);
	snprintf(want, sizeof(want), "tcp://127.0.0.1:%d", srv.port);
	assert_string_equal(h->url, want);
	assert_int_equal(h->tcp, 1);
	assert_int_equal(h->state, HL_HEALTH_HEALTHY);
	assert_int_equal(h->http_status, 0);
	assert_null(h->error);
	hl_health_free(h);
	assert_int_equal(hl_health_check(&h, ctx, "closed", 2000), 0);
	assert_int_equal(h->state, HL_HEALTH_UNREACHABLE);
	assert_non_null(h->error);
	hl_health_free(h);
	tu_http_stop(&srv);
	{
		struct json_object *r = tu_call_ok(ctx, "homelab_check_service_health", "{\"name\":\"mqtt\"}");
		assert_string_equal(tu_jstr(r, "check"), "tcp");
		assert_string_equal(tu_jstr(r, "status"), "unreachable"); /* the server is gone now */
		json_object_put(r);
	}
}

/* hl_health_set_tls / hl_health_get_tls: a CA file or insecure, checked. */
static void test_health__tls_settings(void **state)
{
	hl_ctx *ctx = *state;
	hl_health_tls tls = HL_HEALTH_TLS_INIT;
	char *ca = NULL, path[512];
	int insecure = -1;
	FILE *f;

	add_service(ctx, "secure", "https://127.0.0.1:1", NULL);
	assert_int_equal(hl_health_get_tls(&ca, &insecure, ctx, "secure"), 0);
	assert_null(ca);
	assert_int_equal(insecure, 0);
	snprintf(path, sizeof(path), "%s", tu_path("ca.pem"));
	assert_non_null(f = fopen(path, "w"));
	fputs("not really a certificate\n", f);
	fclose(f);
	tls.ca_file = path;
	assert_int_equal(hl_health_set_tls(ctx, "secure", &tls), 0);
	assert_int_equal(hl_health_get_tls(&ca, &insecure, ctx, "SECURE"), 0);
	assert_string_equal(ca, path);
	assert_int_equal(insecure, 0);
	hl_health_string_free(ca);
	tls.ca_file = NULL;
	tls.insecure = 1;
	assert_int_equal(hl_health_set_tls(ctx, "secure", &tls), 0);
	assert_int_equal(hl_health_get_tls(&ca, &insecure, ctx, "secure"), 0);
	assert_null(ca);
	assert_int_equal(insecure, 1);
	tls.ca_file = path;
	tu_assert_error(hl_health_set_tls(ctx, "secure", &tls), HL_EINVALID, "exclude each other");
	tls.insecure = 0;
	tls.ca_file = "relative.pem";
	tu_assert_error(hl_health_set_tls(ctx, "secure", &tls), HL_EINVALID, "is not an absolute path");
	tls.ca_file = "/nonexistent/ca.pem";
	tu_assert_error(hl_health_set_tls(ctx, "secure", &tls), HL_EINVALID, "cannot be read");
	tls.ca_file = NULL;
	tu_assert_error(hl_health_set_tls(ctx, "nosuch", &tls), HL_ENOTFOUND, "nosuch");
	tls.version = 7;
	tu_assert_error(hl_health_set_tls(ctx, "secure", &tls), HL_EINVALID, "version 7");
	tu_assert_error(hl_health_set_tls(ctx, "secure", NULL), HL_EINVALID, "required");
	tu_assert_error(hl_health_get_tls(NULL, &insecure, ctx, "secure"), HL_EINVALID, "required");
	/* the check's result says what it used */
	{
		struct json_object *r = tu_call_ok(ctx, "homelab_check_service_health", "{\"name\":\"secure\"}");
		assert_string_equal(tu_jstr(r, "tls.verify"), "false");
		assert_string_equal(tu_jstr(r, "status"), "unreachable"); /* nothing listens on port 1 */
		json_object_put(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_health__healthy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health__tcp_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health__tls_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health__unhealthy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health__redirect_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health__unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health__closed_without_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health__timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health__probe_urls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health__errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health__tool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health__check_all, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
