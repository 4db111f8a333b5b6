/*
 * ollama.c: the ollama_* tools and hl_ollama_endpoint in C (so that ASan's
 * leak checker sees every path of the client), against the Ollama API
 * double of tests/ollama (a Python child on 127.0.0.1 that this test starts
 * and stops): results, progress, each fault, and the endpoint rules.
 */
#include "testutil.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct dbl {
	pid_t pid;
	int port;
	char url[64];
};

/* Start the double (version: its /api/version) and read the port it prints. */
static void double_start(struct dbl *d, const char *version, const char *host, const char *port)
{
	const char *src = getenv("HOMELAB_SOURCE_DIR");
	char script[1024], line[64];
	int fds[2];
	FILE *f;

	snprintf(script, sizeof(script), "%s/tests/ollama/ollama_double.py", src && *src ? src : ".");
	assert_int_equal(pipe(fds), 0);
	d->pid = fork();
	assert_true(d->pid >= 0);
	if (d->pid == 0) {
		/* stderr too goes away from ctest's pipe: a child left behind by a
		 * failed test must not keep ctest waiting */
		int null = open("/dev/null", O_WRONLY);
		dup2(fds[1], 1);
		if (null >= 0)
			dup2(null, 2);
		close(fds[0]);
		close(fds[1]);
		execl("/usr/bin/python3", "python3", script, "--version", version, "--host", host, "--port", port,
		      (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (!fgets(line, sizeof(line), f) || sscanf(line, "PORT %d", &d->port) != 1)
		fail_msg("the Ollama double (%s) did not start", script);
	fclose(f);
	snprintf(d->url, sizeof(d->url), "http://%s:%d", host, d->port);
}

static void double_stop(struct dbl *d)
{
	int status;

	kill(d->pid, SIGTERM);
	waitpid(d->pid, &status, 0);
}

struct fixture {
	hl_ctx *ctx;
	struct dbl d;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	hl_vm_spec vs = HL_VM_SPEC_INIT;
	hl_service_spec ss = HL_SERVICE_SPEC_INIT;

	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	unsetenv("HOMELAB_DEFAULT_TARGET");
	unsetenv("HOMELAB_OLLAMA_STALL_S");
	fx->ctx = tu_open(NULL);
	double_start(&fx->d, "0.12.6", "127.0.0.1", "0");
	vs.name = "whisper";
	vs.ip = "127.0.0.1";
	assert_int_equal(hl_vm_add(NULL, fx->ctx, &vs), 0);
	ss.name = "ollama";
	ss.url = fx->d.url;
	ss.vm = "whisper";
	assert_int_equal(hl_service_add(NULL, fx->ctx, &ss), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	double_stop(&fx->d);
	hl_ctx_free(fx->ctx);
	free(fx);
	return 0;
}

struct seen {
	int calls, stop_at;
	double last_completed, last_total;
	char last[100];
};

static int on_progress(const hl_progress *p, void *payload)
{
	struct seen *s = payload;

	s->calls++;
	s->last_completed = p->completed;
	s->last_total = p->total;
	snprintf(s->last, sizeof(s->last), "%s", p->message ? p->message : "");
	return s->stop_at && s->calls >= s->stop_at;
}

static int call(hl_buf *out, hl_ctx *ctx, const char *tool, const char *args, struct seen *seen)
{
	hl_call_options o = HL_CALL_OPTIONS_INIT;

	if (seen) {
		o.progress = on_progress;
		o.payload = seen;
	}
	return hl_tool_call(out, ctx, hl_tool_lookup(tool), args, &o);
}

static void test_ollama__reads(void **state)
{
	struct fixture *fx = *state;
	struct json_object *r;
	hl_buf out = HL_BUF_INIT;

	r = tu_call_ok(fx->ctx, "ollama_list_models", NULL);
	assert_string_equal(tu_jstr(r, "target"), "whisper");
	assert_string_equal(tu_jstr(r, "endpoint"), fx->d.url);
	assert_string_equal(tu_jstr(r, "count"), "2");
	assert_string_equal(tu_jstr(r, "models.0.name"), "llama3.2:latest");
	assert_string_equal(tu_jstr(r, "models.0.size_gb"), "2.02");
	assert_string_equal(tu_jstr(r, "models.1.quantization"), "Q4_0");
	json_object_put(r);
	r = tu_call_ok(fx->ctx, "ollama_running_models", NULL);
	assert_string_equal(tu_jstr(r, "models.0.context_length"), "4096");
	json_object_put(r);
	r = tu_call_ok(fx->ctx, "ollama_show_model", "{\"model_name\":\"gemma:2b\"}");
	assert_string_equal(tu_jstr(r, "details.family"), "gemma");
	assert_string_equal(tu_jstr(r, "capabilities.1"), "tools");
	json_object_put(r);
	tu_assert_error(call(&out, fx->ctx, "ollama_show_model", "{\"model_name\":\"nosuch\"}", NULL), HL_ENOTFOUND,
	                "model 'nosuch:latest' not found (ollama at http://127.0.0.1:");
	assert_null(out.ptr);
}

static void test_ollama__pull(void **state)
{
	struct fixture *fx = *state;
	struct seen seen = { 0 };
	hl_buf out = HL_BUF_INIT;
	struct json_object *r;

	assert_int_equal(call(&out, fx->ctx, "ollama_pull_model", "{\"model_name\":\"phi3\"}", &seen), 0);
	tu_check_output("ollama_pull_model", out.ptr);
	r = json_tokener_parse(out.ptr);
	assert_string_equal(tu_jstr(r, "status"), "success");
	assert_string_equal(tu_jstr(r, "bytes"), "2005300");
	json_object_put(r);
	assert_true(seen.calls >= 7);
	assert_string_equal(seen.last, "success");
	assert_true(seen.last_completed == 2005300 && seen.last_total == 2005300);
	hl_buf_dispose(&out);

	tu_assert_error(call(&out, fx->ctx, "ollama_pull_model", "{\"model_name\":\"nosuchmodel\"}", NULL),
	                HL_ENOTFOUND, "pull model manifest: file does not exist");
	tu_assert_error(call(&out, fx->ctx, "ollama_pull_model", "{\"model_name\":\"drop\"}", NULL), HL_EUNREACHABLE,
	                "dropped mid-stream at 'pulling 5bbbf644084d' (1000000 of 2000000 bytes)");
	tu_assert_error(call(&out, fx->ctx, "ollama_pull_model", "{\"model_name\":\"nosuccess\"}", NULL),
	                HL_EUNREACHABLE, "without 'success'");
	tu_assert_error(call(&out, fx->ctx, "ollama_pull_model", "{\"model_name\":\"garbage\"}", NULL), HL_ERROR,
	                "not a JSON object (line 2: this is not json)");
	setenv("HOMELAB_OLLAMA_STALL_S", "0.5", 1);
	tu_assert_error(call(&out, fx->ctx, "ollama_pull_model", "{\"model_name\":\"stall\"}", NULL), HL_ETIMEOUT,
	                "stalled: no progress for 0.5 s at 'pulling 5bbbf644084d' (1000000 of 2000000 bytes)");
	unsetenv("HOMELAB_OLLAMA_STALL_S");
	memset(&seen, 0, sizeof(seen));
	seen.stop_at = 2;
	tu_assert_error(call(&out, fx->ctx, "ollama_pull_model", "{\"model_name\":\"slow\"}", &seen), HL_EUSER,
	                "pull of slow stopped by the caller at 'pulling 5bbbf644084d'");
	assert_int_equal(seen.calls, 2);
	assert_null(out.ptr);
}

static void test_ollama__changes(void **state)
{
	struct fixture *fx = *state;
	struct json_object *r;
	hl_buf out = HL_BUF_INIT;
	struct dbl old;
	hl_service_spec ss = HL_SERVICE_SPEC_INIT;

	r = tu_call_ok(fx->ctx, "ollama_copy_model", "{\"source\":\"gemma:2b\",\"destination\":\"g\"}");
	assert_string_equal(tu_jstr(r, "copied"), "true");
	json_object_put(r);
	r = tu_call_ok(fx->ctx, "ollama_delete_model", "{\"model_name\":\"g\"}");
	assert_string_equal(tu_jstr(r, "deleted"), "true");
	json_object_put(r);
	tu_assert_error(call(&out, fx->ctx, "ollama_delete_model", "{\"model_name\":\"g\"}", NULL), HL_ENOTFOUND,
	                "model 'g' not found");
	tu_assert_error(call(&out, fx->ctx, "ollama_copy_model", "{\"source\":\"x\",\"destination\":\"y\"}", NULL),
	                HL_ENOTFOUND, "model \"x\" not found");
	r = tu_call_ok(fx->ctx, "ollama_create_model",
	               "{\"name\":\"bot\",\"modelfile\":\"FROM gemma:2b\\nPARAMETER mirostat 1\\nSYSTEM hi\"}");
	assert_string_equal(tu_jstr(r, "api"), "json");
	assert_string_equal(tu_jstr(r, "warnings.0"), "line 2: parameter mirostat is deprecated and was dropped");
	json_object_put(r);
	tu_assert_error(call(&out, fx->ctx, "ollama_create_model", "{\"name\":\"b\",\"modelfile\":\"FROM x\\nBAD\"}",
	                     NULL), HL_EINVALID, "modelfile: line 2: unknown instruction 'BAD'");
	tu_assert_error(call(&out, fx->ctx, "ollama_create_model", "{\"name\":\"b\",\"modelfile\":\"FROM nothere\"}",
	                     NULL), HL_ENOTFOUND, "create of b failed");
	/* an old server gets the Modelfile */
	double_start(&old, "0.5.4", "127.0.0.1", "0");
	ss.url = old.url;
	assert_int_equal(hl_service_update(NULL, fx->ctx, "ollama", &ss), 0);
	r = tu_call_ok(fx->ctx, "ollama_create_model", "{\"name\":\"bot\",\"modelfile\":\"FROM gemma:2b\"}");
	assert_string_equal(tu_jstr(r, "api"), "modelfile");
	assert_string_equal(tu_jstr(r, "server_version"), "0.5.4");
	json_object_put(r);
	double_stop(&old);
	/* and a server that is gone is unreachable, naming where */
	tu_assert_error(call(&out, fx->ctx, "ollama_list_models", NULL, NULL), HL_EUNREACHABLE, old.url);
	assert_null(out.ptr);
}

static void test_ollama__endpoint_rules(void **state)
{
	struct fixture *fx = *state;
	hl_vm_spec vs = HL_VM_SPEC_INIT;
	hl_service_spec ss = HL_SERVICE_SPEC_INIT;
	hl_buf ep = HL_BUF_INIT, name = HL_BUF_INIT;

	assert_int_equal(hl_ollama_endpoint(&ep, &name, fx->ctx, NULL), 0); /* default: whisper */
	assert_string_equal(ep.ptr, fx->d.url);
	assert_string_equal(name.ptr, "whisper");
	vs.name = "quasar";
	vs.ip = "127.0.9.9";
	assert_int_equal(hl_vm_add(NULL, fx->ctx, &vs), 0);
	assert_int_equal(hl_ollama_endpoint(&ep, NULL, fx->ctx, "quasar"), 0);
	assert_string_equal(ep.ptr, "http://127.0.9.9:11434");
	ss.name = "llm";
	ss.port = 11434;
	ss.protocol = "https";
	ss.vm = "quasar";
	assert_int_equal(hl_service_add(NULL, fx->ctx, &ss), 0);
	assert_int_equal(hl_ollama_endpoint(&ep, NULL, fx->ctx, "quasar"), 0);
	assert_string_equal(ep.ptr, "https://127.0.9.9:11434");
	ss.name = "OLLAMA-quasar";
	ss.port = 8000;
	ss.protocol = NULL;
	assert_int_equal(hl_service_add(NULL, fx->ctx, &ss), 0);
	assert_int_equal(hl_ollama_endpoint(&ep, NULL, fx->ctx, "quasar"), 0);
	assert_string_equal(ep.ptr, "http://127.0.9.9:8000");
	setenv("HOMELAB_DEFAULT_TARGET", "quasar", 1);
	assert_int_equal(hl_ollama_endpoint(&ep, &name, fx->ctx, NULL), 0);
	assert_string_equal(name.ptr, "quasar");
	unsetenv("HOMELAB_DEFAULT_TARGET");
	vs.name = "noip";
	vs.ip = NULL;
	assert_int_equal(hl_vm_add(NULL, fx->ctx, &vs), 0);
	tu_assert_error(hl_ollama_endpoint(&ep, NULL, fx->ctx, "noip"), HL_EINVALID,
	                "VM noip has no IP address and no ollama service");
	tu_assert_error(hl_ollama_endpoint(&ep, NULL, fx->ctx, "nosuchvm"), HL_ENOTFOUND, "nosuchvm");
	tu_assert_error(hl_ollama_endpoint(NULL, NULL, fx->ctx, NULL), HL_EINVALID, "required");
	hl_buf_dispose(&ep);
	hl_buf_dispose(&name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ollama__reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ollama__pull, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ollama__changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ollama__endpoint_rules, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
