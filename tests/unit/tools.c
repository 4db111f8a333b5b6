/*
 * tools.c: the tool table: walking it, every schema, every read tool on the
 * demo inventory (results checked against their output schemas), argument
 * errors, and tools registered at run time.
 */
#include "testutil.h"
#include "schema.h"

#include <json-c/json.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

static int setup(void **state)
{
	*state = tu_open_demo();
	return 0;
}

static int teardown(void **state)
{
	hl_ctx_free(*state);
	return 0;
}

static void test_tools__table_walk(void **state)
{
	regex_t name_re;
	size_t n = 0;
	const hl_tool *last = NULL;
	static const char *const required[] = {
		"homelab_list_vms", "homelab_get_vm", "homelab_list_hosts", "homelab_get_host",
		"homelab_list_services", "homelab_check_service_health", "homelab_lookup_ip",
	};

	(void)state;
	assert_int_equal(regcomp(&name_re, "^[a-zA-Z0-9_-]{1,64}$", REG_EXTENDED | REG_NOSUB), 0);
	for (const hl_tool *t = hl_tool_next(NULL); t; t = hl_tool_next(t)) {
		const char *name = hl_tool_name(t);
		n++;
		assert_non_null(name);
		if (regexec(&name_re, name, 0, NULL, 0) != 0)
			fail_msg("tool name '%s' does not match ^[a-zA-Z0-9_-]{1,64}$", name);
		/* Unique: the first tool of that name is this one. */
		assert_ptr_equal(hl_tool_lookup(name), t);
		for (const hl_tool *u = hl_tool_next(NULL); u != t; u = hl_tool_next(u))
			assert_string_not_equal(hl_tool_name(u), name);
		assert_true(hl_tool_title(t) && *hl_tool_title(t));
		assert_true(hl_tool_description(t) && strlen(hl_tool_description(t)) >= 20);
		assert_true(hl_tool_scope(t) && strchr(hl_tool_scope(t), ':'));
		if (hl_schema__check(hl_tool_input_schema(t), "input") != 0)
			fail_msg("%s: input schema: %s", name, hl_error_last()->message);
		if (hl_schema__check(hl_tool_output_schema(t), "output") != 0)
			fail_msg("%s: output schema: %s", name, hl_error_last()->message);
		if (hl_tool_flags(t) & HL_TOOL_READONLY)
			assert_false(hl_tool_flags(t) & (HL_TOOL_MUTATES | HL_TOOL_DESTRUCTIVE));
		last = t;
	}
	regfree(&name_re);
	assert_int_equal(n, hl_tool_count());
	assert_non_null(last);
	assert_null(hl_tool_next(last));
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		const hl_tool *t = hl_tool_lookup(required[i]);
		if (!t)
			fail_msg("tool %s is missing", required[i]);
		assert_string_equal(hl_tool_scope(t), "inventory:read");
		assert_true(hl_tool_flags(t) & HL_TOOL_READONLY);
	}
	assert_true(hl_tool_flags(hl_tool_lookup("homelab_check_service_health")) & HL_TOOL_OPEN_WORLD);
	assert_string_equal(hl_tool_scope(hl_tool_lookup("homelab_allocate_ip")), "inventory:write");
	assert_true(hl_tool_flags(hl_tool_lookup("homelab_allocate_ip")) & HL_TOOL_MUTATES);
	assert_null(hl_tool_lookup("no_such_tool"));
	assert_null(hl_tool_lookup(NULL));
	assert_null(hl_tool_lookup("Homelab_List_Vms")); /* exact names */
	assert_null(hl_tool_name(NULL));
	assert_null(hl_tool_title(NULL));
	assert_null(hl_tool_description(NULL));
	assert_null(hl_tool_input_schema(NULL));
	assert_null(hl_tool_output_schema(NULL));
	assert_null(hl_tool_scope(NULL));
	assert_int_equal(hl_tool_flags(NULL), 0);
}

/* Arguments for the read tools that need some. */
static const struct {
	const char *tool, *args;
} read_args[] = {
	{ "homelab_get_vm", "{\"name\":\"whisper\"}" },
	{ "homelab_get_host", "{\"name\":\"pve\"}" },
	{ "homelab_get_service", "{\"name\":\"ollama\"}" },
	{ "homelab_check_service_health", "{\"name\":\"ollama\",\"timeout_s\":2}" },
	{ "homelab_lookup_ip", "{\"ip\":\"127.0.1.201\"}" },
};

static void test_tools__every_read_tool_matches_its_output_schema(void **state)
{
	hl_ctx *ctx = *state;
	int called = 0;

	for (const hl_tool *t = hl_tool_next(NULL); t; t = hl_tool_next(t)) {
		const char *args = "{}";
		hl_buf out = HL_BUF_INIT;
		int rc;
		if (!(hl_tool_flags(t) & HL_TOOL_READONLY))
			continue;
		for (size_t i = 0; i < sizeof(read_args) / sizeof(read_args[0]); i++)
			if (!strcmp(read_args[i].tool, hl_tool_name(t)))
				args = read_args[i].args;
		rc = hl_tool_call(&out, ctx, t, args, NULL);
		if (rc == 0) {
			tu_check_output(hl_tool_name(t), out.ptr);
			called++;
		} else if (!strncmp(hl_tool_name(t), "homelab_", 8) && strcmp(hl_tool_name(t), "homelab_get_credentials")) {
			fail_msg("%s(%s): %s", hl_tool_name(t), args, hl_error_last()->message);
		}
		hl_buf_dispose(&out);
	}
	assert_true(called >= 9);
}

static void test_tools__read_tool_results(void **state)
{
	hl_ctx *ctx = *state;
	struct json_object *r;

	r = tu_call_ok(ctx, "homelab_list_vms", NULL);
	assert_string_equal(tu_jstr(r, "count"), "3");
	assert_string_equal(tu_jstr(r, "vms.0.name"), "whisper");
	assert_string_equal(tu_jstr(r, "vms.0.host"), "pve");
	assert_string_equal(tu_jstr(r, "vms.0.ssh_port"), "22");
	assert_null(tu_jstr(r, "vms.2.ssh_user"));
	assert_true(json_object_object_get_ex(tu_jget(r, "vms.2"), "ssh_user", NULL)); /* present, as null */
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_list_vms", "{\"status\":\"stopped\",\"host\":\"pve\"}");
	assert_string_equal(tu_jstr(r, "count"), "1");
	assert_string_equal(tu_jstr(r, "vms.0.name"), "sandbox");
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_get_vm", "{\"vm_id\":102}");
	assert_string_equal(tu_jstr(r, "name"), "harbor");
	assert_int_equal(json_object_array_length(tu_jget(r, "services")), 2);
	assert_string_equal(tu_jstr(r, "services.0.service_name"), "homelab-mcp");
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_get_vm", "{\"vm_id\":101.0}");
	assert_string_equal(tu_jstr(r, "name"), "whisper");
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_list_hosts", "{}");
	assert_string_equal(tu_jstr(r, "hosts.0.node_name"), "pve");
	assert_string_equal(tu_jstr(r, "hosts.0.vm_count"), "3");
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_get_host", "{\"host_id\":1}");
	assert_string_equal(tu_jstr(r, "ip_address"), "127.0.1.10");
	assert_int_equal(json_object_array_length(tu_jget(r, "vms")), 3);
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_list_services", "{\"vm_id\":\"harbor\"}");
	assert_string_equal(tu_jstr(r, "count"), "2");
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_list_services", "{\"vm_id\":101}");
	assert_string_equal(tu_jstr(r, "services.0.service_name"), "ollama");
	assert_string_equal(tu_jstr(r, "services.0.vm_name"), "whisper");
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_get_service", "{\"name\":\"OPEN-WEBUI\"}");
	assert_string_equal(tu_jstr(r, "health_endpoint"), "/health");
	assert_string_equal(tu_jstr(r, "port"), "3000");
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_lookup_ip", "{\"ip\":\"127.0.1.10\"}");
	assert_string_equal(tu_jstr(r, "held_by.0"), "host");
	assert_string_equal(tu_jstr(r, "held_by.1"), "allocation");
	assert_string_equal(tu_jstr(r, "host.node_name"), "pve");
	assert_null(tu_jget(r, "vm"));
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_list_ips", "{\"subnet\":\"127.0.1.200/29\"}");
	assert_string_equal(tu_jstr(r, "count"), "3");
	assert_string_equal(tu_jstr(r, "allocations.0.ip_address"), "127.0.1.201");
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_allocate_ip", "{\"subnet\":\"127.0.1.0/24\",\"allocated_to\":\"newbox\"}");
	assert_string_equal(tu_jstr(r, "ip_address"), "127.0.1.2");
	assert_string_equal(tu_jstr(r, "hostname"), "newbox"); /* defaults to allocated_to */
	assert_string_equal(tu_jstr(r, "type"), "static");
	json_object_put(r);
}

static void expect_call_error(hl_ctx *ctx, const char *tool, const char *args, int code, const char *needle)
{
	hl_buf out = HL_BUF_INIT;

	hl_buf_set(&out, "keep", 4);
	tu_assert_error(tu_call(&out, ctx, tool, args), code, needle);
	assert_string_equal(out.ptr, "keep"); /* untouched on error */
	hl_buf_dispose(&out);
}

static void test_tools__argument_errors(void **state)
{
	hl_ctx *ctx = *state;
	hl_call_options opts = HL_CALL_OPTIONS_INIT;
	hl_buf out = HL_BUF_INIT;
	const hl_tool *t = hl_tool_lookup("homelab_list_vms");

	expect_call_error(ctx, "homelab_list_vms", "{\"colour\":\"red\"}", HL_EINVALID,
	                  "colour: unknown argument (expected status, host)");
	expect_call_error(ctx, "homelab_list_vms", "{\"host\":5}", HL_EINVALID, "host: must be a string, not integer");
	expect_call_error(ctx, "homelab_list_vms", "{\"status\":\"on\"}", HL_EINVALID,
	                  "status: must be one of running, stopped, paused, suspended, unknown (got \"on\")");
	expect_call_error(ctx, "homelab_list_vms", "{\"host\":\"\"}", HL_EINVALID, "host: must not be empty");
	expect_call_error(ctx, "homelab_list_vms", "{\"host\":\"nohost\"}", HL_ENOTFOUND, "host 'nohost' not found");
	expect_call_error(ctx, "homelab_get_service", "{}", HL_EINVALID, "name: is required");
	expect_call_error(ctx, "homelab_lookup_ip", "{\"ip\":7}", HL_EINVALID, "ip: must be a string, not integer");
	expect_call_error(ctx, "homelab_lookup_ip", "{\"ip\":\"1.2.3\"}", HL_EINVALID, "ip: '1.2.3' is not an IPv4");
	expect_call_error(ctx, "homelab_lookup_ip", "{\"ip\":\"127.0.9.9\"}", HL_ENOTFOUND, "not allocated");
	expect_call_error(ctx, "homelab_get_vm", "{}", HL_EINVALID, "vm_id or name: one of them is required");
	expect_call_error(ctx, "homelab_get_vm", "{\"vm_id\":101,\"name\":\"whisper\"}", HL_EINVALID,
	                  "vm_id, name: give one of them, not both");
	expect_call_error(ctx, "homelab_get_vm", "{\"vm_id\":0}", HL_EINVALID, "vm_id: must be at least 1");
	expect_call_error(ctx, "homelab_get_vm", "{\"vm_id\":1.5}", HL_EINVALID, "vm_id: must be an integer, not number");
	expect_call_error(ctx, "homelab_get_vm", "{\"name\":\"nope\"}", HL_ENOTFOUND, "vm 'nope' not found");
	expect_call_error(ctx, "homelab_get_host", "{\"host_id\":9}", HL_ENOTFOUND, "host '9' not found");
	expect_call_error(ctx, "homelab_list_services", "{\"vm_id\":true}", HL_EINVALID,
	                  "vm_id: must be integer or string, not boolean");
	expect_call_error(ctx, "homelab_list_ips", "{\"subnet\":\"127.0.1.5/24\"}", HL_EINVALID, "has host bits set");
	expect_call_error(ctx, "homelab_allocate_ip", "{\"subnet\":\"127.0.1.0/24\"}", HL_EINVALID,
	                  "allocated_to: is required");
	expect_call_error(ctx, "homelab_check_service_health", "{\"name\":\"ollama\",\"timeout_s\":0}", HL_EINVALID,
	                  "timeout_s: must be at least 0.1");
	/* Not an object, not JSON. */
	expect_call_error(ctx, "homelab_list_vms", "[]", HL_EINVALID, "arguments: must be a JSON object");
	expect_call_error(ctx, "homelab_list_vms", "null", HL_EINVALID, "arguments: must be a JSON object");
	expect_call_error(ctx, "homelab_list_vms", "42", HL_EINVALID, "arguments: must be a JSON object");
	expect_call_error(ctx, "homelab_list_vms", "{\"host\":", HL_EINVALID, "arguments: JSON text ends too early");
	expect_call_error(ctx, "homelab_list_vms", "{} {}", HL_EINVALID, "arguments: unexpected text after the JSON value");
	expect_call_error(ctx, "homelab_list_vms", "{\"a\" 1}", HL_EINVALID, "arguments: invalid JSON at byte 5");
	/* Blank arguments are {}. */
	assert_int_equal(hl_tool_call(&out, ctx, t, " \n", NULL), 0);
	assert_int_equal(hl_tool_call(&out, ctx, t, "", NULL), 0);
	hl_buf_dispose(&out);

	assert_int_equal(hl_tool_validate(t, "{\"status\":\"running\"}"), 0);
	tu_assert_error(hl_tool_validate(t, "{\"status\":\"x\"}"), HL_EINVALID, "status: must be one of");
	tu_assert_error(hl_tool_validate(NULL, "{}"), HL_EINVALID, "tool is NULL");
	tu_assert_error(hl_tool_call(NULL, ctx, t, NULL, NULL), HL_EINVALID, "out, ctx and tool are required");
	tu_assert_error(hl_tool_call(&out, NULL, t, NULL, NULL), HL_EINVALID, "out, ctx and tool are required");
	tu_assert_error(hl_tool_call(&out, ctx, NULL, NULL, NULL), HL_EINVALID, "out, ctx and tool are required");
	opts.version = 4;
	tu_assert_error(hl_tool_call(&out, ctx, t, NULL, &opts), HL_EINVALID, "hl_call_options version 4 is not supported");
	assert_null(out.ptr);
}

/* --------------------------------------------------------- registered --- */

static int calls;

static int echo_handler(hl_buf *out, hl_ctx *ctx, const char *args_json, const hl_call_options *opts, void *payload)
{
	char buf[512];

	assert_non_null(ctx);
	assert_non_null(opts);
	calls++;
	snprintf(buf, sizeof(buf), "{\"args\":%s,\"payload\":%d}", args_json, *(int *)payload);
	return hl_buf_set(out, buf, strlen(buf));
}

static int text_handler(hl_buf *out, hl_ctx *ctx, const char *args_json, const hl_call_options *opts, void *payload)
{
	(void)ctx;
	(void)args_json;
	(void)opts;
	if (!payload)
		return 0; /* no result at all */
	return hl_buf_set(out, payload, strlen(payload));
}

static int failing_handler(hl_buf *out, hl_ctx *ctx, const char *args_json, const hl_call_options *opts,
                           void *payload)
{
	(void)out;
	(void)ctx;
	(void)args_json;
	(void)opts;
	if (!strcmp(payload, "message"))
		return hl_error_set(HL_ENOTFOUND, HL_ERROR_TOOL, "widget 7 is gone");
	if (!strcmp(payload, "positive"))
		return 3;
	return HL_EUNREACHABLE; /* no message of its own */
}

/* A context keeps its tokener and the parsed input schemas: JSON it could
 * not parse (cut short, trailing text, not JSON) and refused arguments leave
 * nothing behind for the next call on the same context, round after round. */
static void test_tools__context_reuse_after_errors(void **state)
{
	static const char *const bad[] = { "{\"host\":", "{} {}", "{\"a\" 1}", "[", "\"x", "{\"status\":\"on\"}",
		                               "{\"colour\":1}", "null" };
	hl_ctx *ctx = *state;
	hl_buf out = HL_BUF_INIT;
	const hl_tool *t = hl_tool_lookup("homelab_list_vms");

	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			assert_int_equal(hl_tool_call(&out, ctx, t, bad[i], NULL), HL_EINVALID);
			assert_int_equal(hl_tool_call(&out, ctx, t, "{\"status\":\"running\"}", NULL), 0);
			assert_non_null(strstr(out.ptr, "\"name\":\"whisper\""));
			assert_null(strstr(out.ptr, "\"sandbox\"")); /* stopped */
			expect_call_error(ctx, "homelab_get_vm", "{\"vm_id\":0}", HL_EINVALID, "vm_id: must be at least 1");
		}
	hl_buf_dispose(&out);
}

static void test_tools__register_invalid(void **state)
{
	hl_tool_def d = HL_TOOL_DEF_INIT;
	const hl_tool *t = (const hl_tool *)state;
	size_t before = hl_tool_count();
	static int payload = 1;

	d.name = "reg_bad";
	d.description = "A tool that is never registered";
	d.scope = "test:read";
	d.handler = echo_handler;
	d.payload = &payload;
	d.name = "bad name";
	tu_assert_error(hl_tool_register(&t, &d), HL_EINVALID, "tool name 'bad name' must match ^[a-zA-Z0-9_-]{1,64}$");
	assert_null(t);
	d.name = "";
	tu_assert_error(hl_tool_register(NULL, &d), HL_EINVALID, "must match");
	d.name = NULL;
	tu_assert_error(hl_tool_register(NULL, &d), HL_EINVALID, "tool name '(null)' must match");
	d.name = "a1234567890123456789012345678901234567890123456789012345678901234"; /* 65 */
	assert_int_equal(strlen(d.name), 65);
	tu_assert_error(hl_tool_register(NULL, &d), HL_EINVALID, "must match");
	d.name = "homelab_list_vms";
	tu_assert_error(hl_tool_register(NULL, &d), HL_EEXISTS, "tool homelab_list_vms is already in the table");
	d.name = "reg_bad";
	d.description = "";
	tu_assert_error(hl_tool_register(NULL, &d), HL_EINVALID, "tool reg_bad: description is required");
	d.description = "A tool that is never registered";
	d.scope = NULL;
	tu_assert_error(hl_tool_register(NULL, &d), HL_EINVALID, "tool reg_bad: scope is required");
	d.scope = "test:read";
	d.handler = NULL;
	tu_assert_error(hl_tool_register(NULL, &d), HL_EINVALID, "tool reg_bad: handler is required");
	d.handler = echo_handler;
	d.input_schema = "{\"type\":\"array\"}";
	tu_assert_error(hl_tool_register(NULL, &d), HL_EINVALID, "input_schema: must be a schema of \"type\": \"object\"");
	d.input_schema = "{\"type\":\"object\",";
	tu_assert_error(hl_tool_register(NULL, &d), HL_EINVALID, "input_schema: JSON text ends too early");
	d.input_schema = NULL;
	d.output_schema = "{\"type\":\"object\",\"properties\":{\"x\":{\"pattern\":\"[\"}}}";
	tu_assert_error(hl_tool_register(NULL, &d), HL_EINVALID, "output_schema.x: pattern does not compile");
	d.output_schema = NULL;
	d.version = 0;
	tu_assert_error(hl_tool_register(NULL, &d), HL_EINVALID, "hl_tool_def: missing, or version not supported");
	tu_assert_error(hl_tool_register(NULL, NULL), HL_EINVALID, "hl_tool_def");
	assert_int_equal(hl_tool_count(), before);
	assert_null(hl_tool_lookup("reg_bad"));
}

static void test_tools__register_and_call(void **state)
{
	hl_ctx *ctx = *state;
	hl_tool_def d = HL_TOOL_DEF_INIT;
	const hl_tool *t = NULL, *t2 = NULL, *walk, *last = NULL;
	size_t before = hl_tool_count();
	static int payload = 42;
	struct json_object *r;
	hl_buf out = HL_BUF_INIT;

	d.name = "test_echo";
	d.description = "Echo the arguments back, for the tests";
	d.scope = "test:read";
	d.flags = HL_TOOL_READONLY;
	d.input_schema = "{\"type\":\"object\",\"required\":[\"word\"],\"additionalProperties\":false,"
	                 "\"properties\":{\"word\":{\"type\":\"string\",\"minLength\":1},\"n\":{\"type\":\"integer\"}}}";
	d.output_schema = "{\"type\":\"object\",\"required\":[\"args\",\"payload\"]}";
	d.handler = echo_handler;
	d.payload = &payload;
	assert_int_equal(hl_tool_register(&t, &d), 0);
	assert_non_null(t);
	assert_int_equal(hl_tool_count(), before + 1);
	assert_ptr_equal(hl_tool_lookup("test_echo"), t);
	assert_string_equal(hl_tool_name(t), "test_echo");
	assert_string_equal(hl_tool_title(t), "test_echo"); /* NULL title: the name */
	assert_string_equal(hl_tool_scope(t), "test:read");
	assert_int_equal(hl_tool_flags(t), HL_TOOL_READONLY);
	assert_string_equal(hl_tool_output_schema(t), d.output_schema);
	/* Registered tools come after the built-in ones, in order. */
	d.name = "test_echo2";
	d.title = "Echo again";
	d.input_schema = NULL;
	d.output_schema = NULL;
	assert_int_equal(hl_tool_register(&t2, &d), 0);
	assert_string_equal(hl_tool_title(t2), "Echo again");
	assert_string_equal(hl_tool_output_schema(t2), "{\"type\":\"object\"}");
	for (walk = hl_tool_next(NULL); walk; walk = hl_tool_next(walk))
		last = walk;
	assert_ptr_equal(last, t2);
	d.name = "TEST_ECHO"; /* names are case-sensitive */
	assert_int_equal(hl_tool_register(NULL, &d), 0);
	d.name = "test_echo";
	tu_assert_error(hl_tool_register(NULL, &d), HL_EEXISTS, "tool test_echo is already in the table");

	calls = 0;
	assert_int_equal(hl_tool_call(&out, ctx, t, "{ \"word\" : \"hi\", \"n\" : 3 }", NULL), 0);
	assert_int_equal(calls, 1);
	r = NULL;
	assert_int_equal(hl_json__parse(&r, out.ptr, out.size, "r"), 0);
	assert_string_equal(tu_jstr(r, "args.word"), "hi");
	assert_string_equal(tu_jstr(r, "args.n"), "3");
	assert_string_equal(tu_jstr(r, "payload"), "42");
	json_object_put(r);
	hl_buf_dispose(&out);
	/* Its schema is enforced before the handler runs. */
	tu_assert_error(hl_tool_call(&out, ctx, t, "{\"n\":3}", NULL), HL_EINVALID, "word: is required");
	tu_assert_error(hl_tool_call(&out, ctx, t, "{\"word\":\"a\",\"x\":1}", NULL), HL_EINVALID,
	                "x: unknown argument (expected word, n)");
	tu_assert_error(hl_tool_call(&out, ctx, t2, "{\"x\":1}", NULL), HL_EINVALID, "x: unknown argument (expected none)");
	assert_int_equal(calls, 1);
	assert_int_equal(tu_call(&out, ctx, "test_echo2", NULL), 0);
	assert_string_equal(out.ptr, "{\"args\":{},\"payload\":42}");
	hl_buf_dispose(&out);
}

static const hl_tool *register_text(const char *name, const char *text)
{
	hl_tool_def d = HL_TOOL_DEF_INIT;
	const hl_tool *t = NULL;

	d.name = name;
	d.description = "Returns fixed text, for the tests";
	d.scope = "test:read";
	d.handler = text_handler;
	d.payload = (void *)text;
	assert_int_equal(hl_tool_register(&t, &d), 0);
	return t;
}

static const hl_tool *register_failing(const char *name, const char *how)
{
	hl_tool_def d = HL_TOOL_DEF_INIT;
	const hl_tool *t = NULL;

	d.name = name;
	d.description = "Fails on purpose, for the tests";
	d.scope = "test:read";
	d.handler = failing_handler;
	d.payload = (void *)how;
	assert_int_equal(hl_tool_register(&t, &d), 0);
	return t;
}

static void test_tools__bad_handler_results(void **state)
{
	hl_ctx *ctx = *state;
	hl_buf out = HL_BUF_INIT;

	tu_assert_error(hl_tool_call(&out, ctx, register_text("t_array", "[1,2]"), NULL, NULL), HL_ERROR,
	                "tool t_array returned a JSON array, not an object");
	tu_assert_error(hl_tool_call(&out, ctx, register_text("t_int", "42"), NULL, NULL), HL_ERROR,
	                "tool t_int returned a JSON int, not an object");
	tu_assert_error(hl_tool_call(&out, ctx, register_text("t_null", "null"), NULL, NULL), HL_ERROR,
	                "tool t_null returned a JSON null, not an object");
	tu_assert_error(hl_tool_call(&out, ctx, register_text("t_text", "not json"), NULL, NULL), HL_ERROR,
	                "tool t_text returned invalid JSON: result: invalid JSON at byte");
	tu_assert_error(hl_tool_call(&out, ctx, register_text("t_cut", "{\"a\":"), NULL, NULL), HL_ERROR,
	                "tool t_cut returned invalid JSON: result: JSON text ends too early");
	tu_assert_error(hl_tool_call(&out, ctx, register_text("t_none", NULL), NULL, NULL), HL_ERROR,
	                "tool t_none returned no result");
	tu_assert_error(hl_tool_call(&out, ctx, register_failing("t_msg", "message"), NULL, NULL), HL_ENOTFOUND,
	                "widget 7 is gone");
	tu_assert_error(hl_tool_call(&out, ctx, register_failing("t_nomsg", "bare"), NULL, NULL), HL_EUNREACHABLE,
	                "tool t_nomsg failed: unreachable");
	tu_assert_error(hl_tool_call(&out, ctx, register_failing("t_pos", "positive"), NULL, NULL), HL_ERROR,
	                "tool t_pos failed");
	assert_null(out.ptr);
	assert_int_equal(hl_tool_call(&out, ctx, register_text("t_ok", " {\"fine\":true} "), NULL, NULL), 0);
	assert_string_equal(out.ptr, " {\"fine\":true} ");
	hl_buf_dispose(&out);
}

struct logged {
	int n, levels[16];
	char last[512];
};

static void collect_log(hl_log_level level, const char *logger, const char *message, void *payload)
{
	struct logged *l = payload;
	assert_string_equal(logger, "health");
	assert_null(strchr(message, '\n'));
	if (l->n < 16)
		l->levels[l->n] = (int)level;
	l->n++;
	snprintf(l->last, sizeof(l->last), "%s", message);
}

/* hl_call_options.log (version 2): each answer of a health check, filtered
 * by log_level; a version 1 caller (the Python binding's layout) ends before
 * the log fields and gets none, whatever follows its struct. */
static void test_tools__log_messages(void **state)
{
	hl_ctx *ctx = *state;
	const hl_tool *t = hl_tool_lookup("homelab_check_all_services");
	hl_call_options opts = HL_CALL_OPTIONS_INIT;
	struct logged l = { 0 };
	hl_buf out = HL_BUF_INIT;
	tu_http srv;

	tu_http_start(&srv, 200, 0);
	{
		char sql[300];
		snprintf(sql, sizeof(sql), "INSERT INTO services (service_name, url, port, protocol, health_endpoint, vm_id) "
		         "VALUES ('up', 'http://127.0.0.1:%d', %d, 'http', '/', 101)", srv.port, srv.port);
		tu_sql(hl_ctx_db_path(ctx), sql);
	}
	opts.log = collect_log;
	opts.log_payload = &l;
	assert_int_equal(hl_tool_call(&out, ctx, t, "{\"timeout_s\":2}", &opts), 0);
	assert_int_equal(l.n, 4); /* the demo's three on closed ports, and ours */
	assert_int_equal(l.levels[0], HL_LOG_WARNING);
	assert_non_null(strstr(l.last, "up: healthy (HTTP 200 in "));
	assert_int_equal(l.levels[3], HL_LOG_INFO);

	memset(&l, 0, sizeof(l));
	opts.log_level = HL_LOG_WARNING;
	assert_int_equal(hl_tool_call(&out, ctx, t, "{\"timeout_s\":2}", &opts), 0);
	assert_int_equal(l.n, 3);

	{
		/* a version 1 struct: what lies past it is not read */
		struct {
			hl_call_options o;
		} v1;
		memset(&v1, 0xa5, sizeof(v1));
		v1.o.version = 1;
		v1.o.progress = NULL;
		v1.o.payload = NULL;
		v1.o.principal = NULL;
		v1.o.client_addr = NULL;
		v1.o.timeout_ms = 0;
		assert_int_equal(hl_tool_call(&out, ctx, t, "{\"timeout_s\":2}", &v1.o), 0);
		v1.o.version = 4;
		tu_assert_error(hl_tool_call(&out, ctx, t, NULL, &v1.o), HL_EINVALID, "hl_call_options version 4");
	}
	assert_string_equal(hl_log_level_name(HL_LOG_WARNING), "warning");
	assert_null(hl_log_level_name(8));
	assert_null(hl_log_level_name(-1));
	assert_int_equal(hl_log_level_parse("emergency"), HL_LOG_EMERGENCY);
	assert_int_equal(hl_log_level_parse("Warning"), -1);
	assert_int_equal(hl_log_level_parse(NULL), -1);
	hl_buf_dispose(&out);
	tu_http_stop(&srv);
}

/* The client's side of the version 3 callbacks, for the wrapper tests. */
struct client {
	int elicits, samples, stops, progresses, logs;
	int answer;           /* what elicit returns */
	int stop_after;       /* should_stop says stop from this call on (0: never) */
	char message[256], schema[256], params[256], last_log[256];
};

static int client_elicit(hl_buf *content, const char *message, const char *schema_json, void *payload)
{
	struct client *c = payload;

	c->elicits++;
	snprintf(c->message, sizeof(c->message), "%s", message);
	snprintf(c->schema, sizeof(c->schema), "%s", schema_json ? schema_json : "(null)");
	if (c->answer == HL_ELICIT_ACCEPT && schema_json)
		hl_buf_set(content, "{\"name\":\"x\"}", 12);
	if (c->answer == HL_ETIMEOUT)
		return hl_error_set(HL_ETIMEOUT, HL_ERROR_CALLBACK, "the person did not answer in 1 s");
	return c->answer;
}

static int client_sample(hl_buf *result, const char *params_json, void *payload)
{
	struct client *c = payload;

	c->samples++;
	snprintf(c->params, sizeof(c->params), "%s", params_json);
	if (c->answer < 0)
		return c->answer; /* no message set: the wrapper adds one */
	return hl_buf_set(result, "{\"role\":\"assistant\"}", 20);
}

static int client_stop(void *payload)
{
	struct client *c = payload;

	return c->stop_after && ++c->stops >= c->stop_after;
}

static int client_progress(const hl_progress *p, void *payload)
{
	struct client *c = payload;

	c->progresses++;
	return p->completed >= 99;
}

static void client_log(hl_log_level level, const char *logger, const char *message, void *payload)
{
	struct client *c = payload;

	(void)level;
	c->logs++;
	snprintf(c->last_log, sizeof(c->last_log), "%s: %s", logger, message);
}

/* A registered tool using every wrapper: what each returned, as JSON. */
static int wrap_handler(hl_buf *out, hl_ctx *ctx, const char *args_json, const hl_call_options *opts, void *payload)
{
	hl_buf content = HL_BUF_INIT, sampled = HL_BUF_INIT;
	char text[512];
	int e, s, p;

	(void)ctx, (void)args_json, (void)payload;
	e = hl_tool_elicit(&content, opts, "Name the VM", "{\"type\":\"object\"}");
	s = hl_tool_sample(&sampled, opts, "{\"messages\":[],\"maxTokens\":5}");
	p = hl_tool_progress(opts, 1, 2, "half");
	hl_tool_log(opts, HL_LOG_INFO, "test", "elicit %d sample %d", e, s);
	snprintf(text, sizeof(text), "{\"elicit\":%d,\"content\":%s,\"sample\":%d,\"sampled\":%s,\"progress\":%d,"
	         "\"stop\":%d}", e, content.ptr ? content.ptr : "null", s, sampled.ptr ? "true" : "false", p,
	         hl_tool_should_stop(opts));
	hl_buf_dispose(&content);
	hl_buf_dispose(&sampled);
	return hl_buf_set(out, text, strlen(text));
}

/* hl_tool_elicit, _sample, _should_stop, _progress and _log: with version 3
 * options they reach the callbacks; with NULL, version 1 or 2 options (whose
 * memory past their fields is garbage here) they report what cannot be done
 * and read nothing beyond the version's fields. */
static void test_tools__call_option_wrappers(void **state)
{
	hl_ctx *ctx = *state;
	hl_tool_def d = HL_TOOL_DEF_INIT;
	const hl_tool *t = NULL;
	hl_call_options o = HL_CALL_OPTIONS_INIT;
	struct client c;
	hl_buf out = HL_BUF_INIT, content = HL_BUF_INIT;
	struct {
		hl_call_options o;
	} old;

	d.name = "test_wrappers";
	d.description = "Calls every hl_tool_* wrapper, for the tests";
	d.scope = "test:read";
	d.handler = wrap_handler;
	assert_int_equal(hl_tool_register(&t, &d), 0);

	/* version 3 with every callback */
	memset(&c, 0, sizeof(c));
	o.elicit = client_elicit;
	o.sample = client_sample;
	o.should_stop = client_stop;
	o.client_payload = &c;
	o.progress = client_progress;
	o.payload = &c;
	o.log = client_log;
	o.log_payload = &c;
	assert_int_equal(hl_tool_call(&out, ctx, t, NULL, &o), 0);
	assert_string_equal(out.ptr, "{\"elicit\":0,\"content\":{\"name\":\"x\"},\"sample\":0,\"sampled\":true,"
	                             "\"progress\":0,\"stop\":0}");
	assert_int_equal(c.elicits, 1);
	assert_string_equal(c.message, "Name the VM");
	assert_string_equal(c.schema, "{\"type\":\"object\"}");
	assert_string_equal(c.params, "{\"messages\":[],\"maxTokens\":5}");
	assert_int_equal(c.progresses, 1);
	assert_string_equal(c.last_log, "test: elicit 0 sample 0");

	/* decline and cancel carry no content; the stop callback stops */
	c.answer = HL_ELICIT_DECLINE;
	c.stop_after = 1;
	assert_int_equal(hl_tool_call(&out, ctx, t, NULL, &o), 0);
	assert_non_null(strstr(out.ptr, "\"elicit\":1,\"content\":null"));
	assert_non_null(strstr(out.ptr, "\"progress\":-9,\"stop\":1"));
	c.stop_after = 0;
	assert_int_equal(hl_tool_elicit(&content, &o, "Sure?", NULL), HL_ELICIT_DECLINE);
	assert_null(content.ptr);
	c.answer = HL_ELICIT_CANCEL;
	assert_int_equal(hl_tool_elicit(&content, &o, "Sure?", NULL), HL_ELICIT_CANCEL);
	assert_string_equal(c.schema, "(null)");
	/* accept without an answer object gives {} */
	c.answer = HL_ELICIT_ACCEPT;
	assert_int_equal(hl_tool_elicit(&content, &o, "Sure?", NULL), HL_ELICIT_ACCEPT);
	assert_string_equal(content.ptr, "{}");
	hl_buf_dispose(&content);
	/* the callback's errors: its own message, or one naming the code */
	c.answer = HL_ETIMEOUT;
	tu_assert_error(hl_tool_elicit(&content, &o, "Sure?", NULL), HL_ETIMEOUT, "the person did not answer in 1 s");
	c.answer = HL_EUNREACHABLE;
	tu_assert_error(hl_tool_sample(&content, &o, "{}"), HL_EUNREACHABLE, "sampling failed: unreachable");
	c.answer = 7;
	tu_assert_error(hl_tool_elicit(&content, &o, "Sure?", NULL), HL_ERROR, "returned 7, not an hl_elicit_action");
	assert_null(content.ptr);
	/* bad input */
	tu_assert_error(hl_tool_elicit(&content, &o, "", NULL), HL_EINVALID, "a message are required");
	tu_assert_error(hl_tool_elicit(NULL, &o, "Sure?", NULL), HL_EINVALID, "hl_tool_elicit");
	tu_assert_error(hl_tool_sample(&content, &o, NULL), HL_EINVALID, "hl_tool_sample");
	/* progress: the progress callback's return stops too */
	assert_int_equal(hl_tool_progress(&o, 1, 0, NULL), 0);
	tu_assert_error(hl_tool_progress(&o, 99, 100, "nearly"), HL_EUSER, "the progress callback asked to stop");
	hl_tool_log(&o, HL_LOG_DEBUG, NULL, "line\nbreak %s", "x");
	assert_string_equal(c.last_log, "tool: line break x");
	o.log_level = HL_LOG_ERROR;
	hl_tool_log(&o, HL_LOG_WARNING, "test", "filtered");
	assert_string_equal(c.last_log, "tool: line break x");

	/* no callbacks: nothing can be asked, nothing stops */
	o = (hl_call_options)HL_CALL_OPTIONS_INIT;
	assert_int_equal(hl_tool_call(&out, ctx, t, NULL, &o), 0);
	assert_string_equal(out.ptr, "{\"elicit\":-17,\"content\":null,\"sample\":-17,\"sampled\":false,"
	                             "\"progress\":0,\"stop\":0}");
	tu_assert_error(hl_tool_elicit(&content, &o, "Sure?", NULL), HL_EUNSUPPORTED, "does not support elicitation");
	tu_assert_error(hl_tool_sample(&content, &o, "{}"), HL_EUNSUPPORTED, "does not support sampling");
	tu_assert_error(hl_tool_elicit(&content, NULL, "Sure?", NULL), HL_EUNSUPPORTED, "elicitation");
	assert_int_equal(hl_tool_should_stop(NULL), 0);
	assert_int_equal(hl_tool_progress(NULL, 1, 1, NULL), 0);
	hl_tool_log(NULL, HL_LOG_ERROR, "test", "nowhere");

	/* versions 1 and 2: garbage past their fields is never read, directly
	 * or through hl_tool_call */
	for (unsigned int v = 1; v <= 2; v++) {
		memset(&c, 0, sizeof(c));
		memset(&old, 0xa5, sizeof(old));
		old.o.version = v;
		old.o.progress = client_progress;
		old.o.payload = &c;
		old.o.principal = NULL;
		old.o.client_addr = NULL;
		old.o.timeout_ms = 0;
		if (v == 2) {
			old.o.log = client_log;
			old.o.log_payload = &c;
			old.o.log_level = HL_LOG_DEBUG;
		}
		tu_assert_error(hl_tool_elicit(&content, &old.o, "Sure?", NULL), HL_EUNSUPPORTED, "elicitation");
		tu_assert_error(hl_tool_sample(&content, &old.o, "{}"), HL_EUNSUPPORTED, "sampling");
		assert_int_equal(hl_tool_should_stop(&old.o), 0);
		assert_int_equal(hl_tool_progress(&old.o, 1, 2, NULL), 0);
		tu_assert_error(hl_tool_progress(&old.o, 99, 100, NULL), HL_EUSER, "asked to stop");
		hl_tool_log(&old.o, HL_LOG_INFO, "test", "v%u", v);
		assert_int_equal(c.logs, v == 2 ? 1 : 0);
		assert_int_equal(hl_tool_call(&out, ctx, t, NULL, &old.o), 0);
		assert_string_equal(out.ptr, "{\"elicit\":-17,\"content\":null,\"sample\":-17,\"sampled\":false,"
		                             "\"progress\":0,\"stop\":0}");
		assert_int_equal(c.progresses, 3);
		assert_int_equal(c.logs, v == 2 ? 2 : 0);
	}
	hl_buf_dispose(&out);
}

static int destroyed;

static int destroy_handler(hl_buf *out, hl_ctx *ctx, const char *args_json, const hl_call_options *opts,
                           void *payload)
{
	(void)ctx, (void)args_json, (void)opts, (void)payload;
	destroyed++;
	return hl_buf_set(out, "{\"destroyed\":true}", 18);
}

/* Confirmation by elicitation: before a destructive tool runs, the library
 * asks (policy auto with an elicit callback, or required); no or dismissed
 * means nothing runs, HL_EDECLINED, and an audit row; required without a
 * way to ask is refused; off never asks; the question names the command or
 * path and the target, from the arguments. */
static void test_tools__confirm_destructive(void **state)
{
	hl_ctx *ctx = *state;
	hl_tool_def d = HL_TOOL_DEF_INIT;
	const hl_tool *t = NULL;
	hl_call_options o = HL_CALL_OPTIONS_INIT;
	struct client c;
	hl_buf out = HL_BUF_INIT;
	const char *db = hl_ctx_db_path(ctx);

	d.name = "test_destroy";
	d.title = "Destroy a thing";
	d.description = "Destroys nothing, for the tests";
	d.scope = "test:write";
	d.flags = HL_TOOL_DESTRUCTIVE;
	d.handler = destroy_handler;
	assert_int_equal(hl_tool_register(&t, &d), 0);
	memset(&c, 0, sizeof(c));
	o.elicit = client_elicit;
	o.client_payload = &c;
	o.principal = "alice";
	o.client_addr = "127.0.0.9";

	/* auto + accept: asked once, runs */
	destroyed = 0;
	assert_int_equal(hl_tool_call(&out, ctx, t, NULL, &o), 0);
	assert_int_equal(destroyed, 1);
	assert_int_equal(c.elicits, 1);
	assert_string_equal(c.message, "Allow the tool Destroy a thing (test_destroy)? It may change or destroy things.");
	assert_string_equal(c.schema, "(null)");
	/* decline and cancel: nothing runs, audited with who and what */
	c.answer = HL_ELICIT_DECLINE;
	tu_assert_error(hl_tool_call(&out, ctx, t, NULL, &o), HL_EDECLINED, "declined by the person: nothing was run");
	c.answer = HL_ELICIT_CANCEL;
	tu_assert_error(hl_tool_call(&out, ctx, t, NULL, &o), HL_EDECLINED, "cancelled by the person: nothing was run");
	assert_int_equal(destroyed, 1);
	assert_string_equal(tu_sql_text(db, "SELECT group_concat(action || ' ' || result || ' ' || target_type || ' ' || "
	                                    "target_id || ' ' || user || ' ' || ip_address, ', ') FROM audit_log WHERE "
	                                    "action LIKE 'confirm_%'"),
	                    "confirm_declined declined tool test_destroy alice 127.0.0.9, "
	                    "confirm_cancelled cancelled tool test_destroy alice 127.0.0.9");
	/* asking fails (timed out, client gone): nothing runs, the reason is told */
	c.answer = HL_ETIMEOUT;
	tu_assert_error(hl_tool_call(&out, ctx, t, NULL, &o), HL_ETIMEOUT, "test_destroy: could not ask the person "
	                "(the person did not answer in 1 s): nothing was run");
	assert_int_equal(destroyed, 1);
	/* off: never asked */
	c.elicits = 0;
	o.confirm = HL_CONFIRM_OFF;
	assert_int_equal(hl_tool_call(&out, ctx, t, NULL, &o), 0);
	assert_int_equal(destroyed, 2);
	assert_int_equal(c.elicits, 0);
	/* auto without a way to ask: runs as before */
	o.confirm = HL_CONFIRM_AUTO;
	o.elicit = NULL;
	assert_int_equal(hl_tool_call(&out, ctx, t, NULL, &o), 0);
	assert_int_equal(destroyed, 3);
	/* required without a way to ask: refused, audited */
	o.confirm = HL_CONFIRM_REQUIRED;
	tu_assert_error(hl_tool_call(&out, ctx, t, NULL, &o), HL_EAUTH, "the person must confirm it first, but this "
	                "client cannot ask (it has no elicitation): nothing was run");
	assert_int_equal(destroyed, 3);
	assert_string_equal(tu_sql_text(db, "SELECT group_concat(result, ',') FROM audit_log WHERE action = "
	                                    "'confirm_failed'"), "error,refused");
	/* a tool that is not destructive is never asked about */
	o.elicit = client_elicit;
	c.elicits = 0;
	assert_int_equal(tu_call(&out, ctx, "homelab_list_hosts", NULL), 0);
	assert_int_equal(hl_tool_call(&out, ctx, hl_tool_lookup("homelab_list_hosts"), NULL, &o), 0);
	assert_int_equal(c.elicits, 0);

	/* the built-in destructive tools: the question names what and where;
	 * declined, nothing was tried (no connection to the demo's addresses) */
	o.confirm = HL_CONFIRM_AUTO;
	c.answer = HL_ELICIT_DECLINE;
	tu_assert_error(hl_tool_call(&out, ctx, hl_tool_lookup("whisper_ssh_command"),
	                             "{\"command\":\"rm -rf /srv/models\\nreboot\",\"target\":\"harbor\"}", &o),
	                HL_EDECLINED, "declined");
	assert_string_equal(c.message, "Run this shell command on harbor over SSH?\n\nrm -rf /srv/models\nreboot");
	tu_assert_error(hl_tool_call(&out, ctx, hl_tool_lookup("whisper_write_file"),
	                             "{\"file_path\":\"/etc/motd\",\"content\":\"hello\"}", &o), HL_EDECLINED, "declined");
	assert_string_equal(c.message, "Write the file /etc/motd on whisper (5 characters)? An existing file is replaced.");
	tu_assert_error(hl_tool_call(&out, ctx, hl_tool_lookup("ollama_delete_model"),
	                             "{\"model_name\":\"llama3:8b\",\"target\":\"101\"}", &o), HL_EDECLINED, "declined");
	assert_string_equal(c.message, "Delete the Ollama model llama3:8b on 101? It is gone for good.");
	tu_assert_error(hl_tool_call(&out, ctx, hl_tool_lookup("whisper_ssh_command"), "{\"command\":\"id\",\"target\":7}",
	                             &o), HL_EDECLINED, "declined");
	assert_string_equal(c.message, "Run this shell command on 7 over SSH?\n\nid");
	/* bad arguments are refused before anyone is asked */
	c.elicits = 0;
	tu_assert_error(hl_tool_call(&out, ctx, hl_tool_lookup("whisper_ssh_command"), "{}", &o), HL_EINVALID,
	                "command: is required");
	assert_int_equal(c.elicits, 0);
	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM audit_log WHERE action = 'confirm_declined'"), "5");
	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM audit_log WHERE action IN ('ssh_command', "
	                                    "'file_write', 'ollama_delete')"), "0");
	hl_buf_dispose(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tools__table_walk),
		cmocka_unit_test_setup_teardown(test_tools__every_read_tool_matches_its_output_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tools__read_tool_results, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tools__context_reuse_after_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tools__argument_errors, setup, teardown),
		cmocka_unit_test(test_tools__register_invalid),
		cmocka_unit_test_setup_teardown(test_tools__register_and_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tools__bad_handler_results, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tools__log_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tools__call_option_wrappers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tools__confirm_destructive, setup, teardown),
		/* The table, with the registered tools, still walks cleanly. */
		cmocka_unit_test(test_tools__table_walk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
