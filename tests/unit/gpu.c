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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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
static const char *seed_keys[] = {
	"utilization_percent", "memory_used_mb", "memory_total_mb", "temperature_celsius", NULL
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
	assert_true(json_object_array_length(gpus) >= 1);
	/* the seed's four keys, from the first GPU */
	for (const char **k = seed_keys; *k; k++) {
		char w[128];
		snprintf(w, sizeof(w), "%s: top-level %s", name, *k);
		if (!has(r, *k))
			fail_msg("%s missing", w);
		assert_same(w, member(json_object_array_get_idx(gpus, 0), *k), member(r, *k));
	}
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

/* ------------------------------------------------- direct C-level cases --- */

static hl_gpu_output text_output(const char *text, size_t len, int status)
{
	hl_gpu_output o = { 0 };

	o.stdout_text = text;
	o.stdout_len = len;
	o.exit_status = status;
	return o;
}

/* Bytes that are not UTF-8, in a name, a process name and the target, come
 * out as U+FFFD; the rest of the string is kept. */
static void test_gpu__invalid_utf8(void **state)
{
	static const char row[] = "0, NVIDIA \xff\xc0\xe2\x82 caf\xc3\xa9, GPU-1, 1, 2, 3, 4, 5.00, 6.00\n";
	static const char app[] = "GPU-1, 5, \xed\xa0\x80x, 1\n";
	hl_gpu_output g = text_output(row, sizeof(row) - 1, 0), a = text_output(app, sizeof(app) - 1, 0);
	hl_buf out = HL_BUF_INIT;
	struct json_object *r, *gpu;

	(void)state;
	assert_int_equal(hl_gpu_parse(&out, "t\xe9st", &g, &a), 0);
	r = parse_result("invalid-utf8", &out);
	gpu = json_object_array_get_idx(member(r, "gpus"), 0);
	assert_string_equal(json_object_get_string(member(gpu, "name")),
	                    "NVIDIA \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd caf\xc3\xa9");
	assert_string_equal(json_object_get_string(member(json_object_array_get_idx(member(gpu, "processes"), 0), "name")),
	                    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx");
	assert_string_equal(json_object_get_string(member(r, "target")), "t\xef\xbf\xbdst");
	json_object_put(r);
	hl_buf_dispose(&out);

	/* in a failure, the quoted line is scrubbed too */
	g = text_output("\xff\xfe oops\n", 8, 3);
	assert_int_equal(hl_gpu_parse(&out, NULL, &g, NULL), HL_ERROR);
	assert_string_equal(hl_error_last()->message, "nvidia-smi failed (exit 3, operation not available): ?? oops");
}

/* Many bad cells: the warnings stop at 31 and a last one counts the rest;
 * 2,000 GPU rows all come out. */
static void test_gpu__many_rows_and_warnings(void **state)
{
	size_t n = 2000, len = 0;
	char *text = malloc(n * 64);
	hl_gpu_output g;
	hl_buf out = HL_BUF_INIT;
	struct json_object *r, *w;

	(void)state;
	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "%zu, G, GPU-%zu, x, 1, 2, 3, 4.00, 5.00\n", i, i);
	g = text_output(text, len, 0);
	assert_int_equal(hl_gpu_parse(&out, NULL, &g, NULL), 0);
	r = parse_result("many", &out);
	assert_int_equal(json_object_get_int(member(r, "count")), n);
	assert_int_equal(json_object_get_int(member(json_object_array_get_idx(member(r, "gpus"), 1999), "index")), 1999);
	w = member(r, "warnings");
	assert_int_equal(json_object_array_length(w), 32);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(w, 0)),
	                    "nvidia-smi line 1: utilization.gpu is not a valid number: 'x'");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(w, 31)), "1969 more warnings left out");
	json_object_put(r);
	hl_buf_dispose(&out);
	free(text);
}

/* A megabyte of short GPU rows and one of processes (what a 1 MiB output
 * cap lets through): each process lands on its GPU, in order, quickly
 * (attaching by a linear search took 20 s here). */
static void test_gpu__one_mib_of_rows(void **state)
{
	size_t cap = 1 << 20, gl = 0, al = 0, ng = 0, np = 0;
	char *g = malloc(cap + 64), *a = malloc(cap + 64);
	hl_gpu_output go, ao;
	hl_buf out = HL_BUF_INIT;
	struct json_object *r, *gpus;
	struct timespec t0, t1;
	double secs;

	(void)state;
	assert_non_null(g);
	assert_non_null(a);
	while (gl < cap - 64)
		gl += (size_t)sprintf(g + gl, "%zu,,G%zu,,,,,,\n", ng, ng), ng++;
	while (al < cap - 64)
		al += (size_t)sprintf(a + al, "G%zu,%zu,,\n", (np * 7919) % ng, np), np++;
	go = text_output(g, gl, 0);
	ao = text_output(a, al, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(hl_gpu_parse(&out, NULL, &go, &ao), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	r = parse_result("1 MiB", &out);
	gpus = member(r, "gpus");
	assert_int_equal(json_object_array_length(gpus), ng);
	/* the first processes and the last: each on GPU pid * 7919 % ng */
	{
		size_t pids[3] = { 0, 1, np - 1 };
		for (int i = 0; i < 3; i++) {
			struct json_object *procs =
				member(json_object_array_get_idx(gpus, (pids[i] * 7919) % ng), "processes");
			bool found = false;
			for (size_t k = 0; k < json_object_array_length(procs); k++)
				found |= json_object_get_int64(member(json_object_array_get_idx(procs, k), "pid")) ==
				         (int64_t)pids[i];
			if (!found)
				fail_msg("process %zu is not on GPU %zu", pids[i], (pids[i] * 7919) % ng);
		}
	}
	assert_int_equal(json_object_array_length(member(r, "unattached_processes")), 0);
	print_message("%zu GPU rows and %zu processes parsed in %.3f s\n", ng, np, secs);
	assert_true(secs < 10.0);
	json_object_put(r);
	hl_buf_dispose(&out);
	free(g);
	free(a);
}

/* A long line in an error is cut (one line, a bounded message); out keeps
 * what it held on failure and is replaced on success. */
static void test_gpu__out_and_long_lines(void **state)
{
	char line[5000];
	hl_gpu_output g;
	hl_buf out = HL_BUF_INIT;
	const char *msg;

	(void)state;
	memset(line, 'x', sizeof(line));
	line[0] = '0';
	line[1] = ',';
	g = text_output(line, sizeof(line), 0);
	assert_int_equal(hl_buf_set(&out, "old", 3), 0);
	assert_int_equal(hl_gpu_parse(&out, NULL, &g, NULL), HL_EINVALID);
	msg = hl_error_last()->message;
	assert_true(strlen(msg) < 400);
	assert_non_null(strstr(msg, "line 1: expected 9 fields, found 2: '0,xxx"));
	assert_non_null(strstr(msg, "xxx...'"));
	assert_string_equal(out.ptr, "old");

	g = text_output("0, A, GPU-1, 1, 2, 3, 4, 5.00, 6.00", 35, 0);
	assert_int_equal(hl_gpu_parse(&out, NULL, &g, NULL), 0);
	assert_non_null(strstr(out.ptr, "\"name\":\"A\""));
	assert_int_equal(out.size, strlen(out.ptr));
	hl_buf_dispose(&out);

	/* NULL texts with their lengths are nothing printed */
	g = text_output(NULL, 0, 127);
	assert_int_equal(hl_gpu_parse(&out, NULL, &g, NULL), HL_ENOTFOUND);
	assert_string_equal(hl_error_last()->message, "nvidia-smi is not installed (exit 127)");
	assert_int_equal(hl_gpu_parse(&out, NULL, NULL, NULL), HL_EINVALID);
	assert_null(out.ptr);
}

/* --------------------------------------------- the stand-in nvidia-smi --- */

struct run {
	char *out, *err;
	size_t out_len, err_len;
	int status; /* exit status, or -1 when ended by a signal */
};

/* Run `program args` (program found on PATH when it has no '/') with
 * FAKE_NVIDIA_SMI_CASE=choice (NULL: unset), outputs captured in files. */
static struct run run_fake(const char *program, const char *choice, const char *args)
{
	const char *out_path = tu_path("fake.out"), *err_path = tu_path("fake.err");
	char *argv[8], copy[512];
	int n = 0, status;
	struct run r = { 0 };
	pid_t pid;

	snprintf(copy, sizeof(copy), "%s", args);
	argv[n++] = (char *)program;
	for (char *t = strtok(copy, " "); t && n < 7; t = strtok(NULL, " "))
		argv[n++] = t;
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *o = freopen(out_path, "wb", stdout), *e = freopen(err_path, "wb", stderr);
		if (!o || !e)
			_exit(98);
		if (choice)
			setenv("FAKE_NVIDIA_SMI_CASE", choice, 1);
		else
			unsetenv("FAKE_NVIDIA_SMI_CASE");
		execvp(program, argv);
		_exit(97);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	r.out = tu_read_file(out_path, &r.out_len);
	r.err = tu_read_file(err_path, &r.err_len);
	assert_non_null(r.out);
	assert_non_null(r.err);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* The fake printed exactly this output ({"stdout", "stderr", "exit_status"}). */
static void assert_run(const char *what, const struct run *r, struct json_object *want)
{
	size_t n;
	const char *text = str_of(want, "stdout", &n);

	if (r->status != json_object_get_int(member(want, "exit_status")))
		fail_msg("%s: exit %d, want %d (stderr: %.*s)", what, r->status, json_object_get_int(member(want, "exit_status")),
		         (int)r->err_len, r->err);
	if (r->out_len != n || (n && memcmp(r->out, text, n) != 0))
		fail_msg("%s: stdout differs: '%.*s'", what, (int)r->out_len, r->out);
	text = str_of(want, "stderr", &n);
	if (r->err_len != n || (n && memcmp(r->err, text, n) != 0))
		fail_msg("%s: stderr differs: '%.*s'", what, (int)r->err_len, r->err);
}

static struct json_object *silent_success(void)
{
	return json_tokener_parse("{\"stdout\": \"\", \"exit_status\": 0}");
}

/* fake-nvidia-smi prints every case of both files exactly, for both queries. */
static void test_gpu__fake_nvidia_smi_prints_every_case(void **state)
{
	struct json_object *shared = load_json("nvidia-smi/cases.json"), *ours = load_json("nvidia-smi/cases-ours.json");
	struct json_object *cases = member(shared, "cases"), *none = silent_success();
	size_t ran = 0;
	char fake_copy[512];

	(void)state;
	/* tu_fixture's buffer is reused: copy the path */
	snprintf(fake_copy, sizeof(fake_copy), "%s", tu_fixture("nvidia-smi/fake-nvidia-smi"));
	for (size_t i = 0; i < json_object_array_length(cases); i++) {
		struct json_object *c = json_object_array_get_idx(cases, i);
		const char *name = json_object_get_string(member(c, "name"));
		char choice[128];
		struct run r;
		if (strcmp(json_object_get_string(member(c, "query")), "gpu") == 0) {
			r = run_fake(fake_copy, name, HL_GPU_QUERY_GPUS);
			assert_run(name, &r, c);
			run_free(&r);
			r = run_fake(fake_copy, name, HL_GPU_QUERY_APPS);
			assert_run(name, &r, has(c, "error_mentions") ? c : none);
			run_free(&r);
		} else {
			snprintf(choice, sizeof(choice), "rtx-2080-super,%s", name);
			r = run_fake(fake_copy, choice, HL_GPU_QUERY_APPS);
			assert_run(choice, &r, c);
			run_free(&r);
		}
		ran++;
	}
	cases = member(ours, "cases");
	for (size_t i = 0; i < json_object_array_length(cases); i++) {
		struct json_object *c = json_object_array_get_idx(cases, i), *g = member(c, "gpu");
		const char *name = json_object_get_string(member(c, "name"));
		struct run r = run_fake(fake_copy, name, HL_GPU_QUERY_GPUS);
		if (json_object_get_int(member(g, "exit_status")) < 0)
			assert_int_equal(r.status, -1); /* "killed": ended by a signal */
		else
			assert_run(name, &r, g);
		run_free(&r);
		r = run_fake(fake_copy, name, HL_GPU_QUERY_APPS);
		assert_run(name, &r, has(c, "apps") ? member(c, "apps") : none);
		run_free(&r);
		ran++;
	}
	assert_true(ran >= 18 + 30);
	json_object_put(none);
	json_object_put(shared);
	json_object_put(ours);
}

/* Installed as `nvidia-smi` on a PATH with its case in a file beside it
 * (how an sshd session finds it), its outputs parse to the fixture's GPU
 * with both processes; wrong arguments, no case or an unknown case fail. */
static void test_gpu__fake_nvidia_smi_installed(void **state)
{
	const char *dir = tu_tmpdir();
	char bin[512], script[600], casefile[700], path[1200];
	struct run gr, ar;
	hl_gpu_output g, a;
	hl_buf out = HL_BUF_INIT;
	struct json_object *r, *gpu;
	FILE *f;

	(void)state;
	snprintf(bin, sizeof(bin), "%s/bin", dir);
	assert_int_equal(mkdir(bin, 0755), 0);
	snprintf(script, sizeof(script), "%s/nvidia-smi", bin);
	tu_copy_file(tu_fixture("nvidia-smi/fake-nvidia-smi"), script);
	assert_int_equal(chmod(script, 0755), 0);
	snprintf(path, sizeof(path), "%s:%s", bin, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", path, 1);

	gr = run_fake("nvidia-smi", NULL, HL_GPU_QUERY_GPUS);
	assert_int_equal(gr.status, 99);
	assert_non_null(strstr(gr.err, "no case chosen"));
	run_free(&gr);

	snprintf(casefile, sizeof(casefile), "%s.case", script);
	f = fopen(casefile, "w");
	assert_non_null(f);
	fputs("rtx-2080-super,apps-comma-in-name\n", f);
	fclose(f);
	gr = run_fake("nvidia-smi", NULL, HL_GPU_QUERY_GPUS);
	ar = run_fake("nvidia-smi", NULL, HL_GPU_QUERY_APPS);
	assert_int_equal(gr.status, 0);
	assert_int_equal(ar.status, 0);
	g = text_output(gr.out, gr.out_len, gr.status);
	a = text_output(ar.out, ar.out_len, ar.status);
	assert_int_equal(hl_gpu_parse(&out, "whisper", &g, &a), 0);
	r = parse_result("installed fake", &out);
	assert_int_equal(json_object_get_int(member(r, "count")), 1);
	gpu = json_object_array_get_idx(member(r, "gpus"), 0);
	assert_string_equal(json_object_get_string(member(gpu, "name")), "NVIDIA GeForce RTX 2080 SUPER");
	assert_int_equal(json_object_array_length(member(gpu, "processes")), 2);
	assert_string_equal(json_object_get_string(member(json_object_array_get_idx(member(gpu, "processes"), 1), "name")),
	                    "/opt/app/worker, batch 2");
	json_object_put(r);
	hl_buf_dispose(&out);
	run_free(&gr);
	run_free(&ar);

	/* the environment wins over the file */
	gr = run_fake("nvidia-smi", "driver-not-loaded", HL_GPU_QUERY_GPUS);
	assert_int_equal(gr.status, 9);
	run_free(&gr);

	gr = run_fake("nvidia-smi", "four-gpus", "-L");
	assert_int_equal(gr.status, 2);
	assert_non_null(strstr(gr.err, "unexpected arguments: -L"));
	run_free(&gr);
	gr = run_fake("nvidia-smi", "no-such-case", HL_GPU_QUERY_GPUS);
	assert_int_equal(gr.status, 99);
	assert_non_null(strstr(gr.err, "unknown case no-such-case"));
	run_free(&gr);
	gr = run_fake("nvidia-smi", "four-gpus,no-such-apps", HL_GPU_QUERY_APPS);
	assert_int_equal(gr.status, 99);
	run_free(&gr);
	tu_tmpdir_cleanup();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gpu__every_fixture_case),
		cmocka_unit_test(test_gpu__lost_gpu_is_reported),
		cmocka_unit_test(test_gpu__our_bad_inputs),
		cmocka_unit_test(test_gpu__invalid_utf8),
		cmocka_unit_test(test_gpu__many_rows_and_warnings),
		cmocka_unit_test(test_gpu__one_mib_of_rows),
		cmocka_unit_test(test_gpu__out_and_long_lines),
		cmocka_unit_test(test_gpu__fake_nvidia_smi_prints_every_case),
		cmocka_unit_test(test_gpu__fake_nvidia_smi_installed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
