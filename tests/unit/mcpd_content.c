/*
 * mcpd_content.c: homelab-mcpd's rendering of HL_TOOL_CONTENT results
 * (mcpd/content.c): good results passed through with only the known
 * members, bad ones turned into an error result that names the tool and
 * the fault, and the outputSchema tools/list shows for content tools.
 */
#include "testutil.h"
#include "content.h"

#include <stdlib.h>
#include <string.h>

static int nothing(hl_buf *out, hl_ctx *ctx, const char *args, const hl_call_options *opts, void *payload)
{
	(void)ctx, (void)args, (void)opts, (void)payload;
	return hl_buf_set(out, "{}", 2);
}

static const hl_tool *tool(const char *name, unsigned flags, const char *output_schema)
{
	hl_tool_def d = HL_TOOL_DEF_INIT;
	const hl_tool *t;

	d.name = name;
	d.description = "test";
	d.scope = "test:read";
	d.flags = flags;
	d.output_schema = output_schema;
	d.handler = nothing;
	assert_int_equal(hl_tool_register(&t, &d), 0);
	return t;
}

static void check(const hl_tool *t, const char *in, const char *want, bool want_error)
{
	bool is_error = !want_error;
	char *got = content_tool_result(t, in, &is_error);

	assert_non_null(got);
	assert_string_equal(got, want);
	assert_int_equal(is_error, want_error);
	free(got);
}

static void test_content__results(void **state)
{
	const hl_tool *t = tool("content_tool", HL_TOOL_CONTENT, NULL);
	static const struct { const char *in, *why; } bad[] = {
		{ NULL, "it needs a content array" },
		{ "not json", "it needs a content array" },
		{ "[]", "it needs a content array" },
		{ "{\"content\":{}}", "it needs a content array" },
		{ "{\"content\":[1]}", "a content block is not an object with a type" },
		{ "{\"content\":[{\"text\":\"x\"}]}", "a content block is not an object with a type" },
		{ "{\"content\":[{\"type\":\"video\"}]}", "a content block's type is not text, image, audio, resource or "
		                                          "resource_link" },
		{ "{\"content\":[{\"type\":\"text\"}]}", "a text block needs text" },
		{ "{\"content\":[{\"type\":\"text\",\"text\":1}]}", "a text block needs text" },
		{ "{\"content\":[{\"type\":\"image\",\"data\":\"AA==\"}]}", "an image or audio block needs data (base64) and "
		                                                           "mimeType" },
		{ "{\"content\":[{\"type\":\"audio\",\"mimeType\":\"audio/wav\"}]}", "an image or audio block needs data" },
		{ "{\"content\":[{\"type\":\"resource\",\"resource\":{\"uri\":\"a:b\"}}]}", "a resource block needs "
		                                                                          "resource.uri and resource.text" },
		{ "{\"content\":[{\"type\":\"resource\"}]}", "a resource block needs" },
		{ "{\"content\":[{\"type\":\"resource_link\",\"uri\":\"a:b\"}]}", "a resource_link needs uri and name" },
		{ "{\"content\":[],\"isError\":\"yes\"}", "isError must be a boolean" },
		{ "{\"content\":[],\"structuredContent\":[]}", "structuredContent must be an object" },
	};

	(void)state;
	check(t, "{\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}",
	      "{\"content\":[{\"type\":\"text\",\"text\":\"hi\"}],\"isError\":false}", false);
	check(t, "{\"isError\":true,\"content\":[{\"type\":\"text\",\"text\":\"failed\"}],\"extra\":1}",
	      "{\"content\":[{\"type\":\"text\",\"text\":\"failed\"}],\"isError\":true}", true);
	check(t, "{\"content\":[{\"type\":\"image\",\"data\":\"AA==\",\"mimeType\":\"image/png\"},"
	         "{\"type\":\"resource\",\"resource\":{\"uri\":\"a:b\",\"blob\":\"AA==\"}},"
	         "{\"type\":\"resource_link\",\"uri\":\"a:b\",\"name\":\"b\"}],\"structuredContent\":{\"n\":1}}",
	      "{\"content\":[{\"type\":\"image\",\"data\":\"AA==\",\"mimeType\":\"image/png\"},"
	      "{\"type\":\"resource\",\"resource\":{\"uri\":\"a:b\",\"blob\":\"AA==\"}},"
	      "{\"type\":\"resource_link\",\"uri\":\"a:b\",\"name\":\"b\"}],\"structuredContent\":{\"n\":1},"
	      "\"isError\":false}", false);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool is_error = false;
		char *got = content_tool_result(t, bad[i].in, &is_error);
		assert_non_null(got);
		assert_true(is_error);
		assert_non_null(strstr(got, "tool content_tool returned a bad content result: "));
		if (!strstr(got, bad[i].why))
			fail_msg("%s: %s does not say %s", bad[i].in ? bad[i].in : "NULL", got, bad[i].why);
		assert_non_null(strstr(got, "\"isError\":true"));
		free(got);
	}
}

static void test_content__output_schema(void **state)
{
	const hl_tool *plain = tool("content_plain", 0, NULL);
	const hl_tool *none = tool("content_none", HL_TOOL_CONTENT, NULL);
	const hl_tool *given = tool("content_given", HL_TOOL_CONTENT, "{\"type\":\"object\",\"required\":[\"n\"]}");

	(void)state;
	assert_string_equal(content_output_schema(plain), "{\"type\":\"object\"}");
	assert_null(content_output_schema(none));
	assert_string_equal(content_output_schema(given), "{\"type\":\"object\",\"required\":[\"n\"]}");
	assert_string_equal(content_output_schema(hl_tool_lookup("homelab_list_vms")),
	                    hl_tool_output_schema(hl_tool_lookup("homelab_list_vms")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content__results),
		cmocka_unit_test(test_content__output_schema),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
