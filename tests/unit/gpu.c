/*
 * gpu.c: hl_gpu_parse on every nvidia-smi output of
 * tests/fixtures/nvidia-smi/cases.json (real outputs of many drivers and
 * GPUs, a copy of ../shared/fixtures/nvidia-smi) and on our own bad inputs
 * in cases-ours.json (truncated and extra columns, huge, negative and
 * non-numeric numbers, CRLF, NUL bytes, invalid UTF-8, failures of every
 * kind). Both files are read at test time and every case in them is run.
 * The stand-in nvidia-smi script of the end-to-end tests is checked to
 * print exactly the fixture outputs.
 */
#include "testutil.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers --- */

static struct json_object *load_json(const char *name)
{
	size_t len = 0;
	char *text = tu_read_file(tu_fixture(name), &len);
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	if (!text)
		fail_msg("cannot read fixture %s", name);
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (!o)
		fail_msg("fixture %s is not JSON: %s", name, json_tokener_error_desc(json_tokener_get_error(tok)));
	json_tokener_free(tok);
	free(text);
	return o;
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	json_object_object_get_ex(o, key, &v);
	return v;
}

static bool has(struct json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

/* A string member as bytes (NUL bytes included); NULL when absent. */
static const char *str_of(struct json_object *o, const char *key, size_t *len)
{
	struct json_object *v = member(o, key);

	*len = 0;
	if (!v || !json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

/* An hl_gpu_output from {"stdout", "stderr", "exit_status"} (a case or a part of one). */
static hl_gpu_output output_of(struct json_object *o)
{
	hl_gpu_output out = { 0 };

	out.stdout_text = str_of(o, "stdout", &out.stdout_len);
	out.stderr_text = str_of(o, "stderr", &out.stderr_len);
	out.exit_status = json_object_get_int(member(o, "exit_status"));
	return out;
}

/* Assert that actual equals expected: null, numbers by value, strings byte for byte. */
static void assert_same(const char *where, struct json_object *expected, struct json_object *actual)
{
	enum json_type te = json_object_get_type(expected), ta = json_object_get_type(actual);

	if (te == json_type_null || ta == json_type_null) {
		if (te != ta)
			fail_msg("%s: expected %s, got %s", where, json_object_to_json_string(expected),
			         json_object_to_json_string(actual));
		return;
	}
	if (te == json_type_int || te == json_type_double) {
		if (ta != json_type_int && ta != json_type_double)
			fail_msg("%s: expected the number %s, got %s", where, json_object_to_json_string(expected),
			         json_object_to_json_string(actual));
		if (json_object_get_double(expected) != json_object_get_double(actual))
			fail_msg("%s: expected %s, got %s", where, json_object_to_json_string(expected),
			         json_object_to_json_string(actual));
		return;
	}
	if (te == json_type_string) {
		if (ta != json_type_string || json_object_get_string_len(expected) != json_object_get_string_len(actual) ||
		    memcmp(json_object_get_string(expected), json_object_get_string(actual),
		           (size_t)json_object_get_string_len(expected)) != 0)
			fail_msg("%s: expected %s, got %s", where, json_object_to_json_string(expected),
			         json_object_to_json_string(actual));
		return;
	}
	if (te == json_type_array) {
		size_t n = json_object_array_length(expected);
		if (ta != json_type_array || json_object_array_length(actual) != n)
			fail_msg("%s: expected %s, got %s", where, json_object_to_json_string(expected),
			         json_object_to_json_string(actual));
		for (size_t i = 0; i < n; i++) {
			char w[256];
			snprintf(w, sizeof(w), "%s[%zu]", where, i);
			assert_same(w, json_object_array_get_idx(expected, i), json_object_array_get_idx(actual, i));
		}
		return;
	}
	if (te == json_type_object) {
		if (ta != json_type_object)
			fail_msg("%s: expected an object, got %s", where, json_object_to_json_string(actual));
		json_object_object_foreach(expected, key, val) {
			char w[256];
			snprintf(w, sizeof(w), "%s.%s", where, key);
			if (!has(actual, key))
				fail_msg("%s: missing in %s", w, json_object_to_json_string(actual));
			assert_same(w, val, member(actual, key));
		}
		return;
	}
	fail_msg("%s: unexpected type in the fixture", where);
}

/* Every key a GPU object and a process object have, in the contract's order. */
static const char *gpu_keys[] = {
	"index", "name", "uuid", "utilization_percent", "memory_used_mb", "memory_total_mb", "memory_free_mb",
	"temperature_celsius", "power_draw_w", "power_limit_w", "processes", "error", NULL
};
static const char *proc_keys[] = { "pid", "name", "used_memory_mb", NULL };

/* Parse a successful result and check its shape: every key present, count
 * matches, warnings are strings. Release with json_object_put. */
static struct json_object *parse_result(const char *name, const hl_buf *out)
{
	struct json_object *r, *gpus, *warnings;

	if (!out->ptr || strlen(out->ptr) != out->size)
		fail_msg("%s: result is not one NUL-terminated string", name);
	r = json_tokener_parse(out->ptr);
	if (!r || !json_object_is_type(r, json_type_object))
		fail_msg("%s: result is not a JSON object: %s", name, out->ptr);
	gpus = member(r, "gpus");
	assert_true(json_object_is_type(gpus, json_type_array));
	assert_int_equal(json_object_get_int(member(r, "count")), json_object_array_length(gpus));
	assert_true(json_object_is_type(member(r, "unattached_processes"), json_type_array));
	warnings = member(r, "warnings");
	assert_true(json_object_is_type(warnings, json_type_array));
	for (size_t i = 0; i < json_object_array_length(warnings); i++)
		assert_true(json_object_is_type(json_object_array_get_idx(warnings, i), json_type_string));
	for (size_t i = 0; i < json_object_array_length(gpus); i++) {
		struct json_object *g = json_object_array_get_idx(gpus, i), *procs;
		for (const char **k = gpu_keys; *k; k++)
			if (!has(g, *k))
				fail_msg("%s: GPU %zu has no \"%s\": %s", name, i, *k, out->ptr);
		procs = member(g, "processes");
		for (size_t p = 0; procs && p < json_object_array_length(procs); p++)
			for (const char **k = proc_keys; *k; k++)
				if (!has(json_object_array_get_idx(procs, p), *k))
					fail_msg("%s: GPU %zu process %zu has no \"%s\"", name, i, p, *k);
	}
	return r;
}

/* All warnings joined, for "contains" checks (static buffer). */
static const char *warnings_text(struct json_object *r)
{
	static char b[8192];
	struct json_object *w = member(r, "warnings");

	b[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(w); i++) {
		strncat(b, json_object_get_string(json_object_array_get_idx(w, i)), sizeof(b) - strlen(b) - 2);
		strncat(b, "\n", sizeof(b) - strlen(b) - 1);
	}
	return b;
}

static int code_of(const char *name)
{
	for (int c = 0; c >= -64; c--)
		if (hl_error_name(c) && strcmp(hl_error_name(c), name) == 0)
			return c;
	fail_msg("unknown error code name %s", name);
	return 1;
}

/* A failure: code (when the case names one), each mention in the message,
 * the message on one line, and out left alone. */
static void check_failure(const char *name, struct json_object *c, int rc, const hl_buf *out)
{
	struct json_object *mentions = member(c, "error_mentions");
	const char *msg = hl_error_last()->message;

	if (rc == 0)
		fail_msg("%s: expected an error, got %s", name, out->ptr);
	assert_int_equal(hl_error_last()->code, rc);
	if (has(c, "error_code") && rc != code_of(json_object_get_string(member(c, "error_code"))))
		fail_msg("%s: expected %s, got %s (%s)", name, json_object_get_string(member(c, "error_code")),
		         hl_error_name(rc), msg);
	assert_non_null(mentions);
	for (size_t i = 0; i < json_object_array_length(mentions); i++) {
		const char *m = json_object_get_string(json_object_array_get_idx(mentions, i));
		if (!strstr(msg, m))
			fail_msg("%s: error '%s' does not mention '%s'", name, msg, m);
	}
	assert_null(strchr(msg, '\n'));
	assert_null(out->ptr);
}

/* ------------------------------------------------- the shared fixtures --- */

/* The lost GPU's index may be null "or its position" (the case's note):
 * where the fixture says null and the result gives the row's position,
 * take the position as expected. */
static void allow_position_index(struct json_object *c, struct json_object *want, struct json_object *got)
{
	const char *note = json_object_get_string(member(c, "note"));

	if (!note || !strstr(note, "its index null or its position"))
		return;
	for (size_t i = 0; i < json_object_array_length(want) && i < json_object_array_length(got); i++) {
		struct json_object *w = json_object_array_get_idx(want, i);
		struct json_object *idx = member(json_object_array_get_idx(got, i), "index");
		if (json_object_is_type(member(w, "index"), json_type_null) && json_object_is_type(idx, json_type_int) &&
		    json_object_get_int64(idx) == (int64_t)i)
			json_object_object_add(w, "index", json_object_new_int64((int64_t)i));
	}
}

/* A --query-gpu case: the GPUs it must give (with no processes running),
 * or its error; and processes null when the apps query was not run. */
static void run_gpu_case(struct json_object *c)
{
	const char *name = json_object_get_string(member(c, "name"));
	hl_gpu_output gpus = output_of(c), none = { 0 };
	hl_buf out = HL_BUF_INIT;
	int rc = hl_gpu_parse(&out, NULL, &gpus, &none);

	if (has(c, "error_mentions")) {
		check_failure(name, c, rc, &out);
		assert_int_equal(hl_gpu_parse(&out, NULL, &gpus, NULL), rc);
		return;
	}
	if (rc != 0)
		fail_msg("%s: %s", name, hl_error_last()->message);
	{
		struct json_object *r = parse_result(name, &out), *got = member(r, "gpus"), *want = NULL;
		json_object_deep_copy(member(c, "gpus"), &want, NULL);
		allow_position_index(c, want, got);
		assert_same(name, want, got);
		json_object_put(want);
		for (size_t i = 0; i < json_object_array_length(got); i++) {
			struct json_object *p = member(json_object_array_get_idx(got, i), "processes");
			assert_true(json_object_is_type(p, json_type_array));
			assert_int_equal(json_object_array_length(p), 0);
		}
		assert_int_equal(json_object_array_length(member(r, "unattached_processes")), 0);
		if (gpus.exit_status == 0 && json_object_array_length(member(r, "warnings")) != 0)
			fail_msg("%s: unexpected warnings: %s", name, warnings_text(r));
		json_object_put(r);
	}
	hl_buf_dispose(&out);

	/* without the apps query: the same GPUs, processes unknown */
	assert_int_equal(hl_gpu_parse(&out, NULL, &gpus, NULL), 0);
	{
		struct json_object *r = parse_result(name, &out), *got = member(r, "gpus");
		for (size_t i = 0; i < json_object_array_length(got); i++)
			assert_true(json_object_is_type(member(json_object_array_get_idx(got, i), "processes"),
			                                json_type_null));
		json_object_put(r);
	}
	hl_buf_dispose(&out);
}

/* A --query-compute-apps case: run beside a GPU list that holds each uuid
 * the processes name; each process must land under its GPU, in order. */
static void run_apps_case(struct json_object *c)
{
	const char *name = json_object_get_string(member(c, "name"));
	struct json_object *expected = member(c, "processes"), *r, *got;
	char rows[4096] = "";
	const char *uuids[32];
	size_t nuuids = 0;
	hl_gpu_output gpus = { 0 }, apps = output_of(c);
	hl_buf out = HL_BUF_INIT;

	for (size_t i = 0; i < json_object_array_length(expected); i++) {
		const char *u = json_object_get_string(member(json_object_array_get_idx(expected, i), "gpu_uuid"));
		bool seen = false;
		for (size_t k = 0; k < nuuids; k++)
			seen |= strcmp(uuids[k], u) == 0;
		if (!seen && nuuids < 32)
			uuids[nuuids++] = u;
	}
	if (nuuids == 0)
		uuids[nuuids++] = "GPU-11111111-2222-3333-4444-555555555555";
	for (size_t k = 0; k < nuuids; k++)
		snprintf(rows + strlen(rows), sizeof(rows) - strlen(rows),
		         "%zu, NVIDIA Test GPU, %s, 1, 100, 1000, 40, 50.00, 100.00\n", k, uuids[k]);
	gpus.stdout_text = rows;
	gpus.stdout_len = strlen(rows);
	if (hl_gpu_parse(&out, NULL, &gpus, &apps) != 0)
		fail_msg("%s: %s", name, hl_error_last()->message);
	r = parse_result(name, &out);
	got = member(r, "gpus");
	assert_int_equal(json_object_array_length(got), nuuids);
	for (size_t k = 0; k < nuuids; k++) {
		struct json_object *procs = member(json_object_array_get_idx(got, k), "processes");
		size_t at = 0;
		for (size_t i = 0; i < json_object_array_length(expected); i++) {
			struct json_object *e = json_object_array_get_idx(expected, i);
			char where[128];
			if (strcmp(json_object_get_string(member(e, "gpu_uuid")), uuids[k]) != 0)
				continue;
			snprintf(where, sizeof(where), "%s: process %zu", name, i);
			if (at >= json_object_array_length(procs))
				fail_msg("%s missing under GPU %s", where, uuids[k]);
			/* the fixture's gpu_uuid is where the process sits, not one of its keys */
			{
				struct json_object *copy = NULL;
				json_object_deep_copy(e, &copy, NULL);
				json_object_object_del(copy, "gpu_uuid");
				assert_same(where, copy, json_object_array_get_idx(procs, at));
				json_object_put(copy);
			}
			at++;
		}
		assert_int_equal(json_object_array_length(procs), at);
	}
	assert_int_equal(json_object_array_length(member(r, "unattached_processes")), 0);
	if (json_object_array_length(member(r, "warnings")) != 0)
		fail_msg("%s: unexpected warnings: %s", name, warnings_text(r));
	json_object_put(r);
	hl_buf_dispose(&out);
}

static void test_gpu__every_fixture_case(void **state)
{
	struct json_object *root = load_json("nvidia-smi/cases.json"), *cases = member(root, "cases");
	size_t n = json_object_array_length(cases), gpu = 0, apps = 0;

	(void)state;
	assert_true(n >= 18);
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(cases, i);
		const char *q = json_object_get_string(member(c, "query"));
		if (strcmp(q, "gpu") == 0) {
			run_gpu_case(c);
			gpu++;
		} else if (strcmp(q, "apps") == 0) {
			run_apps_case(c);
			apps++;
		} else {
			fail_msg("case %zu: unknown query '%s'", i, q);
		}
	}
	assert_int_equal(gpu + apps, n);
	json_object_put(root);
}

/* The lost GPU of the fixtures: both rows reported, the lost one flagged,
 * and the exit status said in a warning instead of failing the call. */
static void test_gpu__lost_gpu_is_reported(void **state)
{
	struct json_object *root = load_json("nvidia-smi/cases.json"), *cases = member(root, "cases"), *r, *g;
	hl_gpu_output gpus = { 0 };
	hl_buf out = HL_BUF_INIT;

	(void)state;
	for (size_t i = 0; i < json_object_array_length(cases); i++)
		if (strcmp(json_object_get_string(member(json_object_array_get_idx(cases, i), "name")), "gpu-lost") == 0)
			gpus = output_of(json_object_array_get_idx(cases, i));
	assert_int_equal(gpus.exit_status, 15);
	assert_int_equal(hl_gpu_parse(&out, "whisper", &gpus, NULL), 0);
	r = parse_result("gpu-lost", &out);
	assert_string_equal(json_object_get_string(member(r, "target")), "whisper");
	assert_int_equal(json_object_get_int(member(r, "count")), 2);
	g = member(r, "gpus");
	assert_true(json_object_is_type(member(json_object_array_get_idx(g, 0), "error"), json_type_null));
	assert_string_equal(json_object_get_string(member(json_object_array_get_idx(g, 1), "error")), "GPU is lost");
	assert_non_null(strstr(warnings_text(r), "GPU 1 (nvidia-smi line 2): GPU is lost"));
	assert_non_null(strstr(warnings_text(r), "exited with status 15 (GPU fell off the bus)"));
	json_object_put(r);
	hl_buf_dispose(&out);
	json_object_put(root);
}

/* --------------------------------------------------------- our own cases --- */

/* One case of cases-ours.json: {"name", "gpu": {stdout, stderr, exit_status},
 * "apps": {...} (absent: not run), "target"?, then either "error_code" and
 * "error_mentions", or "gpus" (expected values, "processes" included when
 * given), "unattached_processes"?, "warnings_mention"?, "no_warnings"?. */
static void run_our_case(struct json_object *c)
{
	const char *name = json_object_get_string(member(c, "name"));
	hl_gpu_output gpus = output_of(member(c, "gpu")), apps;
	const char *target = has(c, "target") ? json_object_get_string(member(c, "target")) : NULL;
	hl_buf out = HL_BUF_INIT;
	struct json_object *r;
	int rc;

	if (has(c, "apps"))
		apps = output_of(member(c, "apps"));
	rc = hl_gpu_parse(&out, target, &gpus, has(c, "apps") ? &apps : NULL);
	if (has(c, "error_mentions")) {
		check_failure(name, c, rc, &out);
		return;
	}
	if (rc != 0)
		fail_msg("%s: %s", name, hl_error_last()->message);
	r = parse_result(name, &out);
	assert_same(name, member(c, "gpus"), member(r, "gpus"));
	if (has(c, "unattached_processes"))
		assert_same(name, member(c, "unattached_processes"), member(r, "unattached_processes"));
	else
		assert_int_equal(json_object_array_length(member(r, "unattached_processes")), 0);
	if (has(c, "target"))
		assert_same(name, member(c, "target"), member(r, "target"));
	else
		assert_false(has(r, "target"));
	for (size_t i = 0; has(c, "warnings_mention") && i < json_object_array_length(member(c, "warnings_mention")); i++) {
		const char *m = json_object_get_string(json_object_array_get_idx(member(c, "warnings_mention"), i));
		if (!strstr(warnings_text(r), m))
			fail_msg("%s: no warning mentions '%s'; warnings:\n%s", name, m, warnings_text(r));
	}
	if (json_object_get_boolean(member(c, "no_warnings")) && json_object_array_length(member(r, "warnings")))
		fail_msg("%s: unexpected warnings: %s", name, warnings_text(r));
	json_object_put(r);
	hl_buf_dispose(&out);
}

static void test_gpu__our_bad_inputs(void **state)
{
	struct json_object *root = load_json("nvidia-smi/cases-ours.json"), *cases = member(root, "cases");
	size_t n = json_object_array_length(cases);

	(void)state;
	assert_true(n >= 30);
	for (size_t i = 0; i < n; i++)
		run_our_case(json_object_array_get_idx(cases, i));
	json_object_put(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gpu__every_fixture_case),
		cmocka_unit_test(test_gpu__lost_gpu_is_reported),
		cmocka_unit_test(test_gpu__our_bad_inputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
