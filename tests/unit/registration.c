/*
 * registration.c: resources and prompts registered at run time
 * (hl_resource_register, hl_prompt_register): bad definitions refused with
 * a message naming the fault, duplicates, reads of static text, bytes and
 * templates, handler faults, prompt arguments and completion, and URI
 * template matching.
 */
#include "testutil.h"
#include "uritmpl.h"

#include <json-c/json.h>
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

static int echo_vars(hl_buf *out, hl_ctx *ctx, const char *uri, const char *vars, const hl_call_options *opts,
                     void *payload)
{
	char text[600];

	(void)ctx, (void)opts;
	snprintf(text, sizeof(text), "%s %s %s", (const char *)payload, uri, vars);
	return hl_buf_set(out, text, strlen(text));
}

static int failing(hl_buf *out, hl_ctx *ctx, const char *uri, const char *vars, const hl_call_options *opts,
                   void *payload)
{
	(void)out, (void)ctx, (void)uri, (void)vars, (void)opts, (void)payload;
	return hl_error_set(HL_ENOTFOUND, HL_ERROR_INVENTORY, "no item here");
}

static int not_utf8(hl_buf *out, hl_ctx *ctx, const char *uri, const char *vars, const hl_call_options *opts,
                    void *payload)
{
	(void)ctx, (void)uri, (void)vars, (void)opts, (void)payload;
	return hl_buf_set(out, "\xff\xfe", 2);
}

static void test_registration__resource_invalid(void **state)
{
	hl_resource_def d = HL_RESOURCE_DEF_INIT;
	const hl_resource *r = (const hl_resource *)1;

	(void)state;
	d.uri = "test://reg/one";
	d.name = "one";
	d.scope = "test:read";
	d.text = "hello";
	tu_assert_error(hl_resource_register(&r, NULL), HL_EINVALID, "hl_resource_def: missing, or version not supported");
	assert_null(r);
	d.version = 2;
	tu_assert_error(hl_resource_register(NULL, &d), HL_EINVALID, "version not supported");
	d.version = HL_RESOURCE_DEF_VERSION;
	static const char *const bad_uris[] = { NULL, "", "no-scheme", "1x://a", "test:", "test://a b", "test://\x01",
		                                    "test://caf\xc3\xa9", "test://a}" };
	for (size_t i = 0; i < sizeof(bad_uris) / sizeof(bad_uris[0]); i++) {
		d.uri = bad_uris[i];
		tu_assert_error(hl_resource_register(NULL, &d), HL_EINVALID, "must be an absolute URI");
	}
	char long_uri[600];
	memset(long_uri, 'a', sizeof(long_uri) - 1);
	long_uri[sizeof(long_uri) - 1] = '\0';
	memcpy(long_uri, "test://", 7);
	d.uri = long_uri;
	tu_assert_error(hl_resource_register(NULL, &d), HL_EINVALID, "at most 512 bytes");
	d.text = NULL;
	d.handler = echo_vars;
	static const struct { const char *uri, *why; } bad_templates[] = {
		{ "test://{}", "the name of 1 to 32" },
		{ "test://{a b}", "must be an absolute URI" },
		{ "test://{a.b}", "the name of 1 to 32" },
		{ "test://{a", "the name of 1 to 32" },
		{ "test://{a}{b}", "two expressions next to each other" },
		{ "test://{a}/{a}", "{a} twice" },
		{ "test://{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", "more than 8 expressions" },
		{ "test://{abcdefghijklmnopqrstuvwxyz0123456}", "the name of 1 to 32" },
		{ "test://{+a}", "the name of 1 to 32" },
	};
	for (size_t i = 0; i < sizeof(bad_templates) / sizeof(bad_templates[0]); i++) {
		d.uri = bad_templates[i].uri;
		tu_assert_error(hl_resource_register(NULL, &d), HL_EINVALID, bad_templates[i].why);
	}
	d.uri = "test://reg/{id}";
	d.handler = NULL;
	d.text = "static";
	tu_assert_error(hl_resource_register(NULL, &d), HL_EINVALID, "a template needs a read handler");
	d.uri = "test://reg/one";
	d.handler = echo_vars;
	tu_assert_error(hl_resource_register(NULL, &d), HL_EINVALID, "give exactly one of text, blob and handler");
	d.text = NULL;
	d.handler = NULL;
	tu_assert_error(hl_resource_register(NULL, &d), HL_EINVALID, "give exactly one of text, blob and handler");
	d.text = "\xc3\x28";
	tu_assert_error(hl_resource_register(NULL, &d), HL_EINVALID, "text must be UTF-8");
	d.text = "fine";
	d.flags = HL_RESOURCE_BINARY;
	tu_assert_error(hl_resource_register(NULL, &d), HL_EINVALID, "text must be UTF-8 (bytes go in blob)");
	d.flags = 0x80;
	tu_assert_error(hl_resource_register(NULL, &d), HL_EINVALID, "unknown flags 0x80");
	d.flags = 0;
	d.name = "";
	tu_assert_error(hl_resource_register(NULL, &d), HL_EINVALID, "name (1 to 128 bytes) is required");
	d.name = "one";
	d.scope = NULL;
	tu_assert_error(hl_resource_register(NULL, &d), HL_EINVALID, "scope is required");
	d.scope = "test:read";
	d.mime_type = "textplain";
	tu_assert_error(hl_resource_register(NULL, &d), HL_EINVALID, "is not type/subtype");
	d.mime_type = NULL;
	d.uri = "homelab://inventory";
	tu_assert_error(hl_resource_register(NULL, &d), HL_EEXISTS, "homelab://inventory is already in the table");
	d.uri = "homelab://vms/{name}";
	d.text = NULL;
	d.handler = echo_vars;
	tu_assert_error(hl_resource_register(NULL, &d), HL_EEXISTS, "already in the table");
	/* nothing was added */
	assert_null(hl_resource_match("test://reg/one", NULL));
}

static void test_registration__resource_reads(void **state)
{
	static const unsigned char bytes[] = { 0x00, 0xff, 0x10, 'A' };
	hl_ctx *ctx = *state;
	hl_resource_def d = HL_RESOURCE_DEF_INIT;
	const hl_resource *r, *text, *blob, *tmpl;
	hl_buf out = HL_BUF_INIT;
	const char *value;
	size_t before = 0, after = 0;

	for (r = hl_resource_next(NULL); r; r = hl_resource_next(r))
		before++;
	d.uri = "test://reg/text";
	d.name = "text";
	d.scope = "test:read";
	d.text = "caf\xc3\xa9 \"quoted\"";
	assert_int_equal(hl_resource_register(&text, &d), 0);
	assert_non_null(text);
	tu_assert_error(hl_resource_register(NULL, &d), HL_EEXISTS, "test://reg/text is already in the table");
	d.uri = "test://reg/blob";
	d.name = "blob";
	d.text = NULL;
	d.blob = bytes;
	d.blob_len = sizeof(bytes);
	d.mime_type = "image/png";
	assert_int_equal(hl_resource_register(&blob, &d), 0);
	d.uri = "test://reg/{id}/data/{part}";
	d.name = "tmpl";
	d.blob = NULL;
	d.blob_len = 0;
	d.mime_type = "application/json";
	d.handler = echo_vars;
	d.payload = "payload";
	assert_int_equal(hl_resource_register(&tmpl, &d), 0);
	for (r = hl_resource_next(NULL); r; r = hl_resource_next(r))
		after++;
	assert_int_equal(after, before + 3);

	assert_false(hl_resource_is_template(text));
	assert_true(hl_resource_is_template(tmpl));
	assert_null(hl_resource_kind(tmpl));
	assert_string_equal(hl_resource_mime_type(text), "text/plain");
	assert_string_equal(hl_resource_mime_type(blob), "image/png");
	assert_string_equal(hl_resource_title(text), "text");
	assert_ptr_equal(hl_resource_match("test://reg/text", NULL), text);
	assert_ptr_equal(hl_resource_match("test://reg/12/data/x%20y", &value), tmpl);
	assert_string_equal(value, "12/data/x%20y");
	/* built-in entries are still found first */
	assert_string_equal(hl_resource_name(hl_resource_match("homelab://vms/whisper", NULL)), "vm");

	assert_int_equal(hl_resource_contents(&out, ctx, "test://reg/text", NULL), 0);
	assert_string_equal(out.ptr, "{\"contents\":[{\"uri\":\"test://reg/text\",\"mimeType\":\"text/plain\","
	                             "\"text\":\"caf\xc3\xa9 \\\"quoted\\\"\"}]}");
	assert_int_equal(hl_resource_contents(&out, ctx, "test://reg/blob", NULL), 0);
	assert_string_equal(out.ptr, "{\"contents\":[{\"uri\":\"test://reg/blob\",\"mimeType\":\"image/png\","
	                             "\"blob\":\"AP8QQQ==\"}]}");
	assert_int_equal(hl_resource_read(&out, ctx, "test://reg/blob", NULL), 0);
	assert_int_equal(out.size, sizeof(bytes));
	assert_memory_equal(out.ptr, bytes, sizeof(bytes));
	assert_int_equal(hl_resource_contents(&out, ctx, "test://reg/12/data/x%20y", NULL), 0);
	assert_string_equal(out.ptr, "{\"contents\":[{\"uri\":\"test://reg/12/data/x%20y\",\"mimeType\":"
	                             "\"application/json\",\"text\":\"payload test://reg/12/data/x%20y "
	                             "{\\\"id\\\":\\\"12\\\",\\\"part\\\":\\\"x y\\\"}\"}]}");
	/* a built-in resource through the same call */
	assert_int_equal(hl_resource_contents(&out, ctx, "homelab://vms/whisper", NULL), 0);
	assert_non_null(strstr(out.ptr, "\"mimeType\":\"application/json\",\"text\":\"{"));
	/* no match: a missing segment, an extra one, a bad escape, a control character */
	static const char *const misses[] = { "test://reg//data/x", "test://reg/1/data/x/y", "test://reg/1/data/%zz",
		                                  "test://reg/1/data/%0a", "test://reg/1/dat/x", "test://reg/text/" };
	for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++)
		tu_assert_error(hl_resource_contents(&out, ctx, misses[i], NULL), HL_ENOTFOUND, "no resource");
	tu_assert_error(hl_resource_contents(NULL, ctx, "test://reg/text", NULL), HL_EINVALID, "are required");
	tu_assert_error(hl_resource_contents(&out, ctx, NULL, NULL), HL_EINVALID, "are required");
	hl_buf_dispose(&out);
}

static void test_registration__resource_handler_faults(void **state)
{
	hl_ctx *ctx = *state;
	hl_resource_def d = HL_RESOURCE_DEF_INIT;
	hl_buf out = HL_BUF_INIT;

	d.uri = "test://fault/{id}";
	d.name = "fault";
	d.scope = "test:read";
	d.handler = failing;
	assert_int_equal(hl_resource_register(NULL, &d), 0);
	tu_assert_error(hl_resource_contents(&out, ctx, "test://fault/1", NULL), HL_ENOTFOUND, "no item here");
	assert_null(out.ptr);
	d.uri = "test://notutf8";
	d.handler = not_utf8;
	assert_int_equal(hl_resource_register(NULL, &d), 0);
	tu_assert_error(hl_resource_contents(&out, ctx, "test://notutf8", NULL), HL_ERROR,
	                "resource fault: the read handler's text is not UTF-8");
	/* the same bytes are fine for a binary resource */
	d.uri = "test://bytes";
	d.flags = HL_RESOURCE_BINARY;
	assert_int_equal(hl_resource_register(NULL, &d), 0);
	assert_int_equal(hl_resource_contents(&out, ctx, "test://bytes", NULL), 0);
	assert_non_null(strstr(out.ptr, "\"mimeType\":\"application/octet-stream\",\"blob\":\"//4=\""));
	hl_buf_dispose(&out);
}

static int seen;
static char seen_uri[64];

static void watcher(const char *uri, void *payload)
{
	seen += *(int *)payload;
	snprintf(seen_uri, sizeof(seen_uri), "%s", uri);
}

static void test_registration__watchers(void **state)
{
	static int one = 1, ten = 10;

	(void)state;
	tu_assert_error(hl_resource_watch(NULL, NULL), HL_EINVALID, "cb is required");
	hl_resource_notify_updated("test://before");
	assert_int_equal(seen, 0);
	assert_int_equal(hl_resource_watch(watcher, &one), 0);
	assert_int_equal(hl_resource_watch(watcher, &ten), 0);
	hl_resource_notify_updated("test://x");
	assert_int_equal(seen, 11);
	assert_string_equal(seen_uri, "test://x");
	hl_resource_notify_updated(NULL);
	hl_resource_notify_updated("");
	assert_int_equal(seen, 11);
	for (int i = 2; i < 8; i++)
		assert_int_equal(hl_resource_watch(watcher, &one), 0);
	tu_assert_error(hl_resource_watch(watcher, &one), HL_EFULL, "at most 8 watchers");
}

static void test_registration__uri_templates(void **state)
{
	hl_buf vars = HL_BUF_INIT;

	(void)state;
	assert_int_equal(hl_uritmpl__check("a://{x}", "t"), 0);
	tu_assert_error(hl_uritmpl__check("a://x", "t"), HL_EINVALID, "t: a URI template needs an expression");
	tu_assert_error(hl_uritmpl__check(NULL, "t"), HL_EINVALID, "t: the URI template is empty");
	tu_assert_error(hl_uritmpl__check("a://{x}\x7f", "t"), HL_EINVALID, "only printable ASCII");
	assert_int_equal(hl_uritmpl__match("a://{x}/b", "a://1/b", &vars), 1);
	assert_string_equal(vars.ptr, "{\"x\":\"1\"}");
	hl_buf_dispose(&vars);
	/* backtracking: the expression ends where the rest still matches */
	assert_int_equal(hl_uritmpl__match("a://{x}.json", "a://v1.2.json", &vars), 1);
	assert_string_equal(vars.ptr, "{\"x\":\"v1.2\"}");
	hl_buf_dispose(&vars);
	assert_int_equal(hl_uritmpl__match("a://{x}-{y}", "a://a-b-c", &vars), 1);
	assert_string_equal(vars.ptr, "{\"x\":\"a-b\",\"y\":\"c\"}");
	hl_buf_dispose(&vars);
	assert_int_equal(hl_uritmpl__match("a://{x}", "a://%C3%A9", &vars), 1);
	assert_string_equal(vars.ptr, "{\"x\":\"\xc3\xa9\"}");
	hl_buf_dispose(&vars);
	assert_int_equal(hl_uritmpl__match("a://{x}", "a://%FF", &vars), 0); /* not UTF-8 */
	assert_null(vars.ptr);
	assert_int_equal(hl_uritmpl__match("a://{x}", "a://%4", NULL), 0);
	assert_int_equal(hl_uritmpl__match("a://{x}", "a://", NULL), 0);
	assert_int_equal(hl_uritmpl__match("a://{x}", "a://b?c", NULL), 0);
	assert_int_equal(hl_uritmpl__match("a://{x}", "a://b#c", NULL), 0);
	assert_int_equal(hl_uritmpl__match("a://{x}", NULL, NULL), 0);
	/* a value of 255 bytes matches, 256 does not */
	char uri[300] = "a://";
	memset(uri + 4, 'v', 255);
	uri[259] = '\0';
	assert_int_equal(hl_uritmpl__match("a://{x}", uri, NULL), 1);
	uri[259] = 'v';
	uri[260] = '\0';
	assert_int_equal(hl_uritmpl__match("a://{x}", uri, NULL), 0);
	/* a URI that would take too long to try is no match, quickly */
	char hostile[4000] = "a://";
	memset(hostile + 4, '-', sizeof(hostile) - 5);
	hostile[sizeof(hostile) - 1] = '\0';
	assert_int_equal(hl_uritmpl__match("a://{a}-{b}-{c}-{d}-{e}-{f}-{g}-{h}!", hostile, NULL), 0);
}

static int prompt_handler(hl_buf *out, const char *args, void *payload)
{
	const char *mode = payload;
	char text[600];

	if (!strcmp(mode, "fail"))
		return hl_error_set(HL_EUNREACHABLE, HL_ERROR_HTTP, "backend away");
	if (!strcmp(mode, "not json"))
		return hl_buf_set(out, "nope", 4);
	if (!strcmp(mode, "bad role")) {
		const char *t = "{\"messages\":[{\"role\":\"system\",\"content\":{\"type\":\"text\",\"text\":\"x\"}}]}";
		return hl_buf_set(out, t, strlen(t));
	}
	if (!strcmp(mode, "no content")) {
		const char *t = "{\"messages\":[{\"role\":\"user\"}]}";
		return hl_buf_set(out, t, strlen(t));
	}
	snprintf(text, sizeof(text), "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"image\",\"data\":\"AA==\","
	         "\"mimeType\":\"image/png\"}},{\"role\":\"assistant\",\"content\":{\"type\":\"text\",\"text\":%s}}]}",
	         strstr(args, "\"who\"") ? "\"args seen\"" : "\"no args\"");
	return hl_buf_set(out, text, strlen(text));
}

static void test_registration__prompt_invalid(void **state)
{
	hl_prompt_def d = HL_PROMPT_DEF_INIT;
	hl_prompt_arg args[9] = { { "a", NULL, false, NULL, NULL } };
	static const char *const values[] = { "x", NULL };
	const hl_prompt *p = (const hl_prompt *)1;

	(void)state;
	tu_assert_error(hl_prompt_register(&p, NULL), HL_EINVALID, "hl_prompt_def: missing, or version not supported");
	assert_null(p);
	d.name = "reg prompt";
	d.description = "d";
	d.text = "t";
	tu_assert_error(hl_prompt_register(NULL, &d), HL_EINVALID, "prompt name 'reg prompt' must match");
	d.name = NULL;
	tu_assert_error(hl_prompt_register(NULL, &d), HL_EINVALID, "prompt name '(null)' must match");
	d.name = "diagnose_vm";
	tu_assert_error(hl_prompt_register(NULL, &d), HL_EEXISTS, "prompt diagnose_vm is already in the table");
	d.name = "reg_bad";
	d.description = NULL;
	tu_assert_error(hl_prompt_register(NULL, &d), HL_EINVALID, "prompt reg_bad: description is required");
	d.description = "d";
	d.handler = prompt_handler;
	tu_assert_error(hl_prompt_register(NULL, &d), HL_EINVALID, "give exactly one of text and handler");
	d.text = NULL;
	d.handler = NULL;
	tu_assert_error(hl_prompt_register(NULL, &d), HL_EINVALID, "give exactly one of text and handler");
	d.text = "t";
	d.nargs = 9;
	d.args = args;
	tu_assert_error(hl_prompt_register(NULL, &d), HL_EINVALID, "at most 8 arguments");
	d.nargs = 1;
	d.args = NULL;
	tu_assert_error(hl_prompt_register(NULL, &d), HL_EINVALID, "at most 8 arguments, in args");
	d.args = args;
	args[0].name = "bad name";
	tu_assert_error(hl_prompt_register(NULL, &d), HL_EINVALID, "argument name 'bad name' must match");
	args[0].name = "a";
	args[1] = args[0];
	d.nargs = 2;
	tu_assert_error(hl_prompt_register(NULL, &d), HL_EINVALID, "prompt reg_bad: argument a twice");
	d.nargs = 1;
	args[0].kind = "planet";
	tu_assert_error(hl_prompt_register(NULL, &d), HL_EINVALID, "kind 'planet' is not vm, host, service or model");
	args[0].kind = "vm";
	args[0].values = values;
	tu_assert_error(hl_prompt_register(NULL, &d), HL_EINVALID, "kind or values, not both");
	d.version = 9;
	tu_assert_error(hl_prompt_register(NULL, &d), HL_EINVALID, "version not supported");
	assert_null(hl_prompt_lookup("reg_bad"));
}

static void test_registration__prompts(void **state)
{
	hl_ctx *ctx = *state;
	static const char *const colours[] = { "red", "Green", "grey", "blue", NULL };
	hl_prompt_arg args[] = {
		{ "colour", "a colour", true, NULL, colours },
		{ "vm", NULL, false, "vm", NULL },
		{ "note", "free text", false, NULL, NULL },
	};
	hl_prompt_def d = HL_PROMPT_DEF_INIT;
	const hl_prompt *text, *rich;
	hl_buf out = HL_BUF_INIT;

	d.name = "reg_text";
	d.description = "A text prompt";
	d.args = args;
	d.nargs = 3;
	d.text = "Paint {vm} {colour}.{note}";
	assert_int_equal(hl_prompt_register(&text, &d), 0);
	tu_assert_error(hl_prompt_register(NULL, &d), HL_EEXISTS, "prompt reg_text is already in the table");
	assert_ptr_equal(hl_prompt_lookup("reg_text"), text);
	assert_string_equal(hl_prompt_title(text), "reg_text");
	assert_string_equal(hl_prompt_arguments(text), "[{\"name\":\"colour\",\"description\":\"a colour\",\"required\":"
	                                              "true},{\"name\":\"vm\",\"required\":false},{\"name\":\"note\","
	                                              "\"description\":\"free text\",\"required\":false}]");
	assert_string_equal(hl_prompt_argument_kind(text, "vm"), "vm");
	assert_null(hl_prompt_argument_kind(text, "colour"));
	assert_int_equal(hl_prompt_get(&out, text, "{\"colour\":\"red\",\"vm\":\"whisper\"}"), 0);
	assert_non_null(strstr(out.ptr, "\"text\":\"Paint whisper red.\""));
	tu_assert_error(hl_prompt_get(&out, text, "{\"vm\":\"whisper\"}"), HL_EINVALID, "argument 'colour' is required");
	tu_assert_error(hl_prompt_get(&out, text, "{\"colour\":\"red\",\"x\":\"1\"}"), HL_EINVALID, "unknown argument 'x'");
	tu_assert_error(hl_prompt_get(&out, text, "{\"colour\":1}"), HL_EINVALID, "argument 'colour' must be a string");
	tu_assert_error(hl_prompt_get(&out, text, "[]"), HL_EINVALID, "the arguments must be a JSON object");

	/* completion: own values by prefix (case-insensitive), inventory names, free text */
	assert_int_equal(hl_prompt_complete(&out, ctx, text, "colour", "gr", NULL, 0), 0);
	assert_string_equal(out.ptr, "{\"values\":[\"Green\",\"grey\"],\"total\":2,\"hasMore\":false}");
	assert_int_equal(hl_prompt_complete(&out, ctx, text, "colour", NULL, NULL, 1), 0);
	assert_string_equal(out.ptr, "{\"values\":[\"red\"],\"total\":4,\"hasMore\":true}");
	assert_int_equal(hl_prompt_complete(&out, ctx, text, "vm", "whi", NULL, 0), 0);
	assert_non_null(strstr(out.ptr, "\"whisper\""));
	assert_int_equal(hl_prompt_complete(&out, ctx, text, "note", "a", NULL, 0), 0);
	assert_string_equal(out.ptr, "{\"values\":[],\"total\":0,\"hasMore\":false}");
	tu_assert_error(hl_prompt_complete(&out, ctx, text, "nosuch", "a", NULL, 0), HL_EINVALID,
	                "prompt reg_text has no argument 'nosuch'");
	tu_assert_error(hl_prompt_complete(&out, ctx, NULL, "vm", "a", NULL, 0), HL_EINVALID, "are required");

	/* a handler's messages, checked */
	d.name = "reg_rich";
	d.text = NULL;
	d.nargs = 0;
	d.handler = prompt_handler;
	d.payload = "ok";
	assert_int_equal(hl_prompt_register(&rich, &d), 0);
	assert_string_equal(hl_prompt_arguments(rich), "[]");
	assert_int_equal(hl_prompt_get(&out, rich, NULL), 0);
	assert_non_null(strstr(out.ptr, "\"type\":\"image\""));
	assert_non_null(strstr(out.ptr, "no args"));
	static const struct { const char *mode; int code; const char *why; } faults[] = {
		{ "fail", HL_EUNREACHABLE, "backend away" },
		{ "not json", HL_ERROR, "prompt reg_fault_not json: the handler's result is not an object" },
		{ "bad role", HL_ERROR, "message 0 needs a role (user or assistant)" },
		{ "no content", HL_ERROR, "message 0 needs a role (user or assistant) and a content object" },
	};
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		char name[64];
		const hl_prompt *f;
		snprintf(name, sizeof(name), "reg_fault_%zu", i);
		d.name = name;
		d.payload = (void *)faults[i].mode;
		assert_int_equal(hl_prompt_register(&f, &d), 0);
		hl_buf_set(&out, "kept", 4);
		tu_assert_error(hl_prompt_get(&out, f, NULL), faults[i].code, i == 1 ? "the handler's result is not an object"
		                                                                  : faults[i].why);
		assert_string_equal(out.ptr, "kept"); /* untouched on error */
	}
	/* the walk reaches the registered prompts after the built-in ones */
	size_t n = 0;
	bool found = false;
	for (const hl_prompt *p = hl_prompt_next(NULL); p; p = hl_prompt_next(p)) {
		n++;
		found |= p == rich;
	}
	assert_true(found);
	assert_int_equal(n, 4 + 2 + 4);
	hl_buf_dispose(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registration__resource_invalid),
		cmocka_unit_test_setup_teardown(test_registration__resource_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registration__resource_handler_faults, setup, teardown),
		cmocka_unit_test(test_registration__watchers),
		cmocka_unit_test(test_registration__uri_templates),
		cmocka_unit_test(test_registration__prompt_invalid),
		cmocka_unit_test_setup_teardown(test_registration__prompts, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
