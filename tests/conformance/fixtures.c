/*
 * fixtures.c: the fixtures of the official MCP conformance suite
 * (@modelcontextprotocol/conformance, server scenarios), registered through
 * libhomelab's public API only, for tests/mcp/test_conformance.py.
 *
 * Built as a shared object when the tests are built; never installed and
 * never loaded by `make run`. The test starts homelab-mcpd with
 * LD_PRELOAD=<this object>: its constructor runs after libhomelab is loaded
 * and before the daemon's main(), and registers the tools, resources and
 * prompts with hl_tool_register(), hl_resource_register() and
 * hl_prompt_register(), exactly as any program linking libhomelab would.
 * The daemon has no plugin loader and knows nothing of these names: it
 * serves whatever the library's tables hold.
 *
 * Names, arguments and results are those the scenarios' sources ask for
 * (test_simple_text, test://static-text, test_prompt_with_arguments, ...).
 * One more tool, conformance_touch_resource, calls
 * hl_resource_notify_updated() so a test can see the subscribers told.
 * A registration that fails ends the process (exit 70) with the reason on
 * stderr: a daemon without its fixtures must not pass for one with them.
 */
#include <homelab.h>
#include <json-c/json.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SCOPE "conformance:test"

/* A 1x1 PNG, and the same as base64. */
static const unsigned char png[] = {
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
	0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00,
	0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xfc, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x05, 0x02, 0x00,
	0x5f, 0xc8, 0xf1, 0xd2, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82
};
#define PNG_B64 "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
/* A WAV of 8 silent samples (8 kHz, mono, 8 bit). */
#define WAV_B64 "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAACAgICAgICAgA=="

static void fail(const char *what)
{
	fprintf(stderr, "conformance fixtures: %s: %s\n", what, hl_error_last()->message);
	_exit(70);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* out = the JSON text of o (taken). */
static int put_json(hl_buf *out, struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	int err = s ? hl_buf_set(out, s, strlen(s)) : HL_ENOMEM;

	json_object_put(o);
	return err;
}

static struct json_object *text_block(const char *text)
{
	struct json_object *b = json_object_new_object();

	json_object_object_add(b, "type", json_object_new_string("text"));
	json_object_object_add(b, "text", json_object_new_string(text));
	return b;
}

static struct json_object *media_block(const char *type, const char *data, const char *mime)
{
	struct json_object *b = json_object_new_object();

	json_object_object_add(b, "type", json_object_new_string(type));
	json_object_object_add(b, "data", json_object_new_string(data));
	json_object_object_add(b, "mimeType", json_object_new_string(mime));
	return b;
}

static struct json_object *resource_block(const char *uri, const char *mime, const char *text)
{
	struct json_object *b = json_object_new_object(), *r = json_object_new_object();

	json_object_object_add(r, "uri", json_object_new_string(uri));
	json_object_object_add(r, "mimeType", json_object_new_string(mime));
	json_object_object_add(r, "text", json_object_new_string(text));
	json_object_object_add(b, "type", json_object_new_string("resource"));
	json_object_object_add(b, "resource", r);
	return b;
}

/* {"content": [blocks...], "isError"?: true} */
static int result(hl_buf *out, bool is_error, struct json_object *b1, struct json_object *b2, struct json_object *b3)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();

	json_object_array_add(arr, b1);
	if (b2)
		json_object_array_add(arr, b2);
	if (b3)
		json_object_array_add(arr, b3);
	json_object_object_add(o, "content", arr);
	if (is_error)
		json_object_object_add(o, "isError", json_object_new_boolean(1));
	return put_json(out, o);
}

static const char *arg_str(const char *args_json, const char *name, char *buf, size_t size)
{
	struct json_object *o = json_tokener_parse(args_json), *v;

	buf[0] = '\0';
	if (o && json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string))
		snprintf(buf, size, "%s", json_object_get_string(v));
	json_object_put(o);
	return buf;
}

/* ------------------------------------------------------------- tools --- */

static int simple_text(hl_buf *out, hl_ctx *ctx, const char *args, const hl_call_options *opts, void *payload)
{
	(void)ctx, (void)args, (void)opts, (void)payload;
	return result(out, false, text_block("This is a simple text response for testing."), NULL, NULL);
}

static int image_content(hl_buf *out, hl_ctx *ctx, const char *args, const hl_call_options *opts, void *payload)
{
	(void)ctx, (void)args, (void)opts, (void)payload;
	return result(out, false, media_block("image", PNG_B64, "image/png"), NULL, NULL);
}

static int audio_content(hl_buf *out, hl_ctx *ctx, const char *args, const hl_call_options *opts, void *payload)
{
	(void)ctx, (void)args, (void)opts, (void)payload;
	return result(out, false, media_block("audio", WAV_B64, "audio/wav"), NULL, NULL);
}

static int embedded_resource(hl_buf *out, hl_ctx *ctx, const char *args, const hl_call_options *opts, void *payload)
{
	(void)ctx, (void)args, (void)opts, (void)payload;
	return result(out, false, resource_block("test://embedded-resource", "text/plain",
	                                         "This is an embedded resource content."), NULL, NULL);
}

static int multiple_content(hl_buf *out, hl_ctx *ctx, const char *args, const hl_call_options *opts, void *payload)
{
	(void)ctx, (void)args, (void)opts, (void)payload;
	return result(out, false, text_block("Multiple content types test:"), media_block("image", PNG_B64, "image/png"),
	              resource_block("test://mixed-content-resource", "application/json", "{\"test\":\"data\",\"value\":123}"));
}

static int with_logging(hl_buf *out, hl_ctx *ctx, const char *args, const hl_call_options *opts, void *payload)
{
	(void)ctx, (void)args, (void)payload;
	hl_tool_log(opts, HL_LOG_INFO, "conformance", "Tool execution started");
	sleep_ms(50);
	hl_tool_log(opts, HL_LOG_INFO, "conformance", "Tool processing data");
	sleep_ms(50);
	hl_tool_log(opts, HL_LOG_INFO, "conformance", "Tool execution completed");
	return result(out, false, text_block("Tool with logging executed successfully"), NULL, NULL);
}

static int error_handling(hl_buf *out, hl_ctx *ctx, const char *args, const hl_call_options *opts, void *payload)
{
	(void)ctx, (void)args, (void)opts, (void)payload;
	return result(out, true, text_block("This tool intentionally returns an error for testing"), NULL, NULL);
}

static int with_progress(hl_buf *out, hl_ctx *ctx, const char *args, const hl_call_options *opts, void *payload)
{
	int err;

	(void)ctx, (void)args, (void)payload;
	for (int step = 0; step <= 2; step++) {
		if (step)
			sleep_ms(50);
		if ((err = hl_tool_progress(opts, step * 50.0, 100.0, NULL)) < 0)
			return err;
	}
	return result(out, false, text_block("Tool with progress executed successfully"), NULL, NULL);
}

static int sampling(hl_buf *out, hl_ctx *ctx, const char *args, const hl_call_options *opts, void *payload)
{
	struct json_object *p = json_object_new_object(), *msgs = json_object_new_array(), *m = json_object_new_object();
	struct json_object *answer, *content, *text;
	hl_buf got = HL_BUF_INIT;
	char prompt[1024], reply[1200];
	int err;

	(void)ctx, (void)payload;
	json_object_object_add(m, "role", json_object_new_string("user"));
	json_object_object_add(m, "content", text_block(arg_str(args, "prompt", prompt, sizeof(prompt))));
	json_object_array_add(msgs, m);
	json_object_object_add(p, "messages", msgs);
	json_object_object_add(p, "maxTokens", json_object_new_int(100));
	err = hl_tool_sample(&got, opts, json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN));
	json_object_put(p);
	if (err < 0)
		return err;
	answer = json_tokener_parse(got.ptr);
	hl_buf_dispose(&got);
	snprintf(reply, sizeof(reply), "LLM response: %s",
	         answer && json_object_object_get_ex(answer, "content", &content) &&
	         json_object_object_get_ex(content, "text", &text) ? json_object_get_string(text) : "(no text)");
	json_object_put(answer);
	return result(out, false, text_block(reply), NULL, NULL);
}

static const char *action_name(int action)
{
	return action == HL_ELICIT_ACCEPT ? "accept" : action == HL_ELICIT_DECLINE ? "decline" : "cancel";
}

/* Ask with schema; the answer as "<prefix>action=..., content=...". */
static int elicit(hl_buf *out, const hl_call_options *opts, const char *message, const char *schema,
                  const char *prefix)
{
	hl_buf content = HL_BUF_INIT;
	char text[2048];
	int action = hl_tool_elicit(&content, opts, message, schema);

	if (action < 0)
		return action;
	snprintf(text, sizeof(text), "%saction=%s, content=%s", prefix, action_name(action),
	         content.ptr ? content.ptr : "{}");
	hl_buf_dispose(&content);
	return result(out, false, text_block(text), NULL, NULL);
}

static int elicitation(hl_buf *out, hl_ctx *ctx, const char *args, const hl_call_options *opts, void *payload)
{
	char message[1024];

	(void)ctx, (void)payload;
	return elicit(out, opts, arg_str(args, "message", message, sizeof(message)),
	              "{\"type\":\"object\",\"properties\":{"
	              "\"username\":{\"type\":\"string\",\"description\":\"User's response\"},"
	              "\"email\":{\"type\":\"string\",\"description\":\"User's email address\"}},"
	              "\"required\":[\"username\",\"email\"]}", "User response: ");
}

static int elicitation_defaults(hl_buf *out, hl_ctx *ctx, const char *args, const hl_call_options *opts,
                                void *payload)
{
	(void)ctx, (void)args, (void)payload;
	return elicit(out, opts, "Please review and update the form fields with defaults",
	              "{\"type\":\"object\",\"properties\":{"
	              "\"name\":{\"type\":\"string\",\"description\":\"User name\",\"default\":\"John Doe\"},"
	              "\"age\":{\"type\":\"integer\",\"description\":\"User age\",\"default\":30},"
	              "\"score\":{\"type\":\"number\",\"description\":\"User score\",\"default\":95.5},"
	              "\"status\":{\"type\":\"string\",\"description\":\"User status\","
	              "\"enum\":[\"active\",\"inactive\",\"pending\"],\"default\":\"active\"},"
	              "\"verified\":{\"type\":\"boolean\",\"description\":\"Verification status\",\"default\":true}},"
	              "\"required\":[]}", "Elicitation completed: ");
}

static int elicitation_enums(hl_buf *out, hl_ctx *ctx, const char *args, const hl_call_options *opts, void *payload)
{
	(void)ctx, (void)args, (void)payload;
	return elicit(out, opts, "Please select options from the enum fields",
	              "{\"type\":\"object\",\"properties\":{"
	              "\"untitledSingle\":{\"type\":\"string\",\"description\":\"Select one option\","
	              "\"enum\":[\"option1\",\"option2\",\"option3\"]},"
	              "\"titledSingle\":{\"type\":\"string\",\"description\":\"Select one option with titles\","
	              "\"oneOf\":[{\"const\":\"value1\",\"title\":\"First Option\"},"
	              "{\"const\":\"value2\",\"title\":\"Second Option\"},{\"const\":\"value3\",\"title\":\"Third Option\"}]},"
	              "\"legacyEnum\":{\"type\":\"string\",\"description\":\"Select one option (legacy)\","
	              "\"enum\":[\"opt1\",\"opt2\",\"opt3\"],\"enumNames\":[\"Option One\",\"Option Two\",\"Option Three\"]},"
	              "\"untitledMulti\":{\"type\":\"array\",\"description\":\"Select multiple options\","
	              "\"items\":{\"type\":\"string\",\"enum\":[\"option1\",\"option2\",\"option3\"]}},"
	              "\"titledMulti\":{\"type\":\"array\",\"description\":\"Select multiple options with titles\","
	              "\"items\":{\"anyOf\":[{\"const\":\"value1\",\"title\":\"First Choice\"},"
	              "{\"const\":\"value2\",\"title\":\"Second Choice\"},{\"const\":\"value3\",\"title\":\"Third Choice\"}]}}},"
	              "\"required\":[]}", "Elicitation completed: ");
}

static int schema_2020_12(hl_buf *out, hl_ctx *ctx, const char *args, const hl_call_options *opts, void *payload)
{
	(void)ctx, (void)opts, (void)payload;
	char text[1200];
	snprintf(text, sizeof(text), "Received: %.1000s", args);
	return result(out, false, text_block(text), NULL, NULL);
}

static int touch_resource(hl_buf *out, hl_ctx *ctx, const char *args, const hl_call_options *opts, void *payload)
{
	char uri[600];

	(void)ctx, (void)opts, (void)payload;
	hl_resource_notify_updated(arg_str(args, "uri", uri, sizeof(uri)));
	return result(out, false, text_block("notified"), NULL, NULL);
}

static void tool(const char *name, const char *description, const char *input_schema, unsigned flags,
                 hl_tool_handler handler)
{
	hl_tool_def d = HL_TOOL_DEF_INIT;

	d.name = name;
	d.description = description;
	d.input_schema = input_schema;
	d.scope = SCOPE;
	d.flags = HL_TOOL_CONTENT | HL_TOOL_READONLY | flags;
	d.handler = handler;
	if (hl_tool_register(NULL, &d) < 0)
		fail(name);
}

/* --------------------------------------------------------- resources --- */

static int template_data(hl_buf *out, hl_ctx *ctx, const char *uri, const char *vars, const hl_call_options *opts,
                         void *payload)
{
	struct json_object *o = json_object_new_object();
	char id[256], data[300];

	(void)ctx, (void)uri, (void)opts, (void)payload;
	arg_str(vars, "id", id, sizeof(id));
	snprintf(data, sizeof(data), "Data for ID: %s", id);
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "templateTest", json_object_new_boolean(1));
	json_object_object_add(o, "data", json_object_new_string(data));
	return put_json(out, o);
}

static void resource(const char *uri, const char *name, const char *mime, const char *text, const void *blob,
                     size_t blob_len, hl_resource_handler handler)
{
	hl_resource_def d = HL_RESOURCE_DEF_INIT;

	d.uri = uri;
	d.name = name;
	d.description = name;
	d.mime_type = mime;
	d.scope = SCOPE;
	d.text = text;
	d.blob = blob;
	d.blob_len = blob_len;
	d.handler = handler;
	if (hl_resource_register(NULL, &d) < 0)
		fail(uri);
}

/* ----------------------------------------------------------- prompts --- */

static int prompt_embedded(hl_buf *out, const char *args, void *payload)
{
	struct json_object *o = json_object_new_object(), *msgs = json_object_new_array(), *m1, *m2;
	char uri[600];

	(void)payload;
	m1 = json_object_new_object();
	json_object_object_add(m1, "role", json_object_new_string("user"));
	json_object_object_add(m1, "content", resource_block(arg_str(args, "resourceUri", uri, sizeof(uri)), "text/plain",
	                                                     "Embedded resource content for testing."));
	m2 = json_object_new_object();
	json_object_object_add(m2, "role", json_object_new_string("user"));
	json_object_object_add(m2, "content", text_block("Please process the embedded resource above."));
	json_object_array_add(msgs, m1);
	json_object_array_add(msgs, m2);
	json_object_object_add(o, "messages", msgs);
	return put_json(out, o);
}

static int prompt_image(hl_buf *out, const char *args, void *payload)
{
	struct json_object *o = json_object_new_object(), *msgs = json_object_new_array(), *m1, *m2;

	(void)args, (void)payload;
	m1 = json_object_new_object();
	json_object_object_add(m1, "role", json_object_new_string("user"));
	json_object_object_add(m1, "content", media_block("image", PNG_B64, "image/png"));
	m2 = json_object_new_object();
	json_object_object_add(m2, "role", json_object_new_string("user"));
	json_object_object_add(m2, "content", text_block("Please analyze the image above."));
	json_object_array_add(msgs, m1);
	json_object_array_add(msgs, m2);
	json_object_object_add(o, "messages", msgs);
	return put_json(out, o);
}

static void prompt(const char *name, const char *description, const hl_prompt_arg *args, size_t nargs,
                   const char *text, hl_prompt_handler handler)
{
	hl_prompt_def d = HL_PROMPT_DEF_INIT;

	d.name = name;
	d.description = description;
	d.args = args;
	d.nargs = nargs;
	d.text = text;
	d.handler = handler;
	if (hl_prompt_register(NULL, &d) < 0)
		fail(name);
}

__attribute__((constructor)) static void register_fixtures(void)
{
	static const char *const arg1_values[] = { "paris", "park", "party", "test", "testing", NULL };
	static const hl_prompt_arg with_args[] = {
		{ "arg1", "First test argument", true, NULL, arg1_values },
		{ "arg2", "Second test argument", true, NULL, NULL },
	};
	static const hl_prompt_arg embedded[] = {
		{ "resourceUri", "URI of the resource to embed", true, NULL, NULL },
	};

	tool("test_simple_text", "Returns simple text content", NULL, 0, simple_text);
	tool("test_image_content", "Returns image content", NULL, 0, image_content);
	tool("test_audio_content", "Returns audio content", NULL, 0, audio_content);
	tool("test_embedded_resource", "Returns an embedded resource", NULL, 0, embedded_resource);
	tool("test_multiple_content_types", "Returns text, image and resource content", NULL, 0, multiple_content);
	tool("test_tool_with_logging", "Sends three log messages while it runs", NULL, 0, with_logging);
	tool("test_error_handling", "Always returns an error result", NULL, 0, error_handling);
	tool("test_tool_with_progress", "Reports progress 0, 50 and 100 of 100", NULL, HL_TOOL_PROGRESS, with_progress);
	tool("test_sampling", "Asks the client's model", "{\"type\":\"object\",\"properties\":{\"prompt\":"
	     "{\"type\":\"string\",\"description\":\"The prompt to send to the LLM\"}},\"required\":[\"prompt\"]}", 0,
	     sampling);
	tool("test_elicitation", "Asks the person for a user name and an e-mail address", "{\"type\":\"object\","
	     "\"properties\":{\"message\":{\"type\":\"string\",\"description\":\"The message to show the user\"}},"
	     "\"required\":[\"message\"]}", 0, elicitation);
	tool("test_elicitation_sep1034_defaults", "Asks with a default for every primitive type (SEP-1034)", NULL, 0,
	     elicitation_defaults);
	tool("test_elicitation_sep1330_enums", "Asks with the five enum forms (SEP-1330)", NULL, 0, elicitation_enums);
	tool("json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features",
	     "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
	     "\"$defs\":{\"address\":{\"type\":\"object\",\"properties\":{\"street\":{\"type\":\"string\"},"
	     "\"city\":{\"type\":\"string\"}}}},"
	     "\"properties\":{\"name\":{\"type\":\"string\"},\"address\":{\"$ref\":\"#/$defs/address\"}},"
	     "\"additionalProperties\":false}", 0, schema_2020_12);
	tool("conformance_touch_resource", "Tells the subscribers of a resource that it changed",
	     "{\"type\":\"object\",\"properties\":{\"uri\":{\"type\":\"string\"}},\"required\":[\"uri\"]}", 0,
	     touch_resource);

	resource("test://static-text", "static-text", "text/plain", "This is the content of the static text resource.",
	         NULL, 0, NULL);
	resource("test://static-binary", "static-binary", "image/png", NULL, png, sizeof(png), NULL);
	resource("test://template/{id}/data", "template-data", "application/json", NULL, NULL, 0, template_data);
	resource("test://watched-resource", "watched-resource", "text/plain", "A resource to subscribe to.", NULL, 0,
	         NULL);

	prompt("test_simple_prompt", "A simple prompt without arguments", NULL, 0, "This is a simple prompt for testing.",
	       NULL);
	prompt("test_prompt_with_arguments", "A prompt with two required arguments", with_args, 2,
	       "Prompt with arguments: arg1='{arg1}', arg2='{arg2}'", NULL);
	prompt("test_prompt_with_embedded_resource", "A prompt that embeds a resource", embedded, 1, NULL,
	       prompt_embedded);
	prompt("test_prompt_with_image", "A prompt with an image", NULL, 0, NULL, prompt_image);
}
