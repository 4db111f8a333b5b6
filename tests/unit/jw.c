/*
 * jw.c: the streaming JSON writer: exact output, escaping, invalid UTF-8,
 * misuse, and that what it writes parses back to the same values.
 */
#include "testutil.h"

#include "jw.h"
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static void test_jw__object_and_array(void **state)
{
	hl_buf b = HL_BUF_INIT;
	hl_jw w;

	(void)state;
	hl_jw__init(&w, &b);
	hl_jw__obj(&w);
	hl_jw__kstr(&w, "name", "whisper");
	hl_jw__kint(&w, "vm_id", 101);
	hl_jw__kint_or_null(&w, "host_id", 0);
	hl_jw__kstr(&w, "ip", NULL);
	hl_jw__kbool(&w, "ok", true);
	hl_jw__key(&w, "list");
	hl_jw__arr(&w);
	hl_jw__int(&w, -1);
	hl_jw__obj(&w);
	hl_jw__end_obj(&w);
	hl_jw__arr(&w);
	hl_jw__end_arr(&w);
	hl_jw__str(&w, "x");
	hl_jw__end_arr(&w);
	hl_jw__end_obj(&w);
	assert_int_equal(hl_jw__finish(&w), 0);
	assert_string_equal(b.ptr, "{\"name\":\"whisper\",\"vm_id\":101,\"host_id\":null,\"ip\":null,\"ok\":true,"
	                           "\"list\":[-1,{},[],\"x\"]}");
	hl_buf_dispose(&b);
}

static void test_jw__escaping(void **state)
{
	hl_buf b = HL_BUF_INIT;
	hl_jw w;
	struct json_object *o;
	const char in[] = "q\" b\\ n\n r\r t\t c\x01 del\x7f \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";

	(void)state;
	hl_jw__init(&w, &b);
	hl_jw__str(&w, in);
	assert_int_equal(hl_jw__finish(&w), 0);
	assert_string_equal(b.ptr, "\"q\\\" b\\\\ n\\n r\\r t\\t c\\u0001 del\x7f \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	o = json_tokener_parse(b.ptr);
	assert_non_null(o);
	assert_string_equal(json_object_get_string(o), in);
	json_object_put(o);
	hl_buf_dispose(&b);
}

static void test_jw__invalid_utf8_becomes_replacement(void **state)
{
	hl_buf b = HL_BUF_INIT;
	hl_jw w;

	(void)state;
	hl_jw__init(&w, &b);
	/* a lone continuation byte, a truncated sequence, an overlong '/', a surrogate, a 0xff */
	hl_jw__strn(&w, "a\x80" "b\xc3" "c\xc0\xaf" "d\xed\xa0\x80" "e\xff", 13);
	assert_int_equal(hl_jw__finish(&w), 0);
	assert_string_equal(b.ptr, "\"a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd"
	                           "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "e\xef\xbf\xbd\"");
	hl_buf_dispose(&b);
}

static void test_jw__embedded_nul_is_escaped(void **state)
{
	hl_buf b = HL_BUF_INIT;
	hl_jw w;

	(void)state;
	hl_jw__init(&w, &b);
	hl_jw__strn(&w, "a\0b", 3);
	assert_int_equal(hl_jw__finish(&w), 0);
	assert_string_equal(b.ptr, "\"a\\u0000b\"");
	hl_buf_dispose(&b);
}

static void test_jw__doubles(void **state)
{
	hl_buf b = HL_BUF_INIT;
	hl_jw w;

	(void)state;
	hl_jw__init(&w, &b);
	hl_jw__arr(&w);
	hl_jw__double(&w, 0.5);
	hl_jw__double(&w, 12.3);
	hl_jw__double(&w, 1e300 * 1e300); /* infinity: JSON has none */
	hl_jw__double(&w, 3.0);
	hl_jw__end_arr(&w);
	assert_int_equal(hl_jw__finish(&w), 0);
	assert_string_equal(b.ptr, "[0.5,12.3,null,3]");
	hl_buf_dispose(&b);
}

static void test_jw__misuse_is_an_error(void **state)
{
	hl_buf b = HL_BUF_INIT;
	hl_jw w;

	(void)state;
	hl_jw__init(&w, &b);
	hl_jw__obj(&w);
	tu_assert_error(hl_jw__finish(&w), HL_ERROR, "1 unclosed containers");
	hl_buf_dispose(&b);

	hl_jw__init(&w, &b);
	hl_jw__end_arr(&w);
	tu_assert_error(hl_jw__finish(&w), HL_ERROR, "close without open");
	hl_buf_dispose(&b);

	hl_jw__init(&w, &b);
	for (int i = 0; i < HL_JW_MAX_DEPTH + 2; i++)
		hl_jw__arr(&w);
	tu_assert_error(hl_jw__finish(&w), HL_ERROR, "nested too deeply");
	hl_buf_dispose(&b);
}

/* Integers are written without printf: every edge of int64_t, as JSON
 * parses them back. */
static void test_jw__integers(void **state)
{
	static const int64_t v[] = { 0, 1, -1, 9, 10, -10, 99, 100, 4294967296LL, INT64_MAX, INT64_MIN, INT64_MIN + 1 };
	hl_buf b = HL_BUF_INIT;
	char want[512] = "[";
	hl_jw w;

	(void)state;
	hl_jw__init(&w, &b);
	hl_jw__arr(&w);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hl_jw__int(&w, v[i]);
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%lld", i ? "," : "", (long long)v[i]);
	}
	hl_jw__end_arr(&w);
	strcat(want, "]");
	assert_int_equal(hl_jw__finish(&w), 0);
	assert_string_equal(b.ptr, want);
	hl_buf_dispose(&b);
}

/* Keys: plain ones in one piece, others (quotes, control characters,
 * non-ASCII, longer than the piece) escaped as values are; a document far
 * larger than the first 2 KiB comes out whole. */
static void test_jw__keys_and_growth(void **state)
{
	char longkey[100], want[256];
	hl_buf b = HL_BUF_INIT;
	struct json_object *o, *x;
	hl_jw w;

	(void)state;
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	hl_jw__init(&w, &b);
	hl_jw__obj(&w);
	hl_jw__kint(&w, "plain", 1);
	hl_jw__kint(&w, "q\"\\\n", 2);
	hl_jw__kint(&w, "\xc3\xa9", 3);
	hl_jw__kint(&w, longkey, 4);
	hl_jw__key(&w, "many");
	hl_jw__arr(&w);
	for (int i = 0; i < 5000; i++)
		hl_jw__str(&w, "0123456789");
	hl_jw__end_arr(&w);
	hl_jw__end_obj(&w);
	assert_int_equal(hl_jw__finish(&w), 0);
	snprintf(want, sizeof(want), "{\"plain\":1,\"q\\\"\\\\\\n\":2,\"\xc3\xa9\":3,\"%s\":4,\"many\":[", longkey);
	assert_memory_equal(b.ptr, want, strlen(want));
	assert_int_equal(b.size, strlen(b.ptr));
	assert_non_null(o = json_tokener_parse(b.ptr));
	assert_true(json_object_object_get_ex(o, "q\"\\\n", &x) && json_object_get_int(x) == 2);
	assert_true(json_object_object_get_ex(o, longkey, &x) && json_object_get_int(x) == 4);
	assert_true(json_object_object_get_ex(o, "many", &x) && json_object_array_length(x) == 5000);
	json_object_put(o);
	hl_buf_dispose(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jw__object_and_array),
		cmocka_unit_test(test_jw__integers),
		cmocka_unit_test(test_jw__keys_and_growth),
		cmocka_unit_test(test_jw__escaping),
		cmocka_unit_test(test_jw__invalid_utf8_becomes_replacement),
		cmocka_unit_test(test_jw__embedded_nul_is_escaped),
		cmocka_unit_test(test_jw__doubles),
		cmocka_unit_test(test_jw__misuse_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
