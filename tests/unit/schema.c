/*
 * schema.c: the JSON Schema validator (hl_schema__validate) and schema
 * checker (hl_schema__check) on edge cases.
 */
#include "testutil.h"
#include "schema.h"

#include <string.h>

/* Validate value text against schema text; returns the code, message in hl_error_last(). */
static int check(const char *schema, const char *value)
{
	struct json_object *s = NULL, *v = NULL;
	int rc;

	assert_int_equal(hl_json__parse(&s, schema, strlen(schema), "schema"), 0);
	assert_int_equal(hl_json__parse(&v, value, strlen(value), "value"), 0);
	rc = hl_schema__validate(s, v, "arguments");
	json_object_put(s);
	json_object_put(v);
	return rc;
}

static void test_schema__type_lists(void **state)
{
	const char *s = "{\"type\":\"object\",\"properties\":{\"x\":{\"type\":[\"integer\",\"null\"]},"
	                "\"y\":{\"type\":[\"string\",\"number\",\"boolean\"]}}}";

	(void)state;
	assert_int_equal(check(s, "{\"x\":5}"), 0);
	assert_int_equal(check(s, "{\"x\":null}"), 0);
	tu_assert_error(check(s, "{\"x\":\"5\"}"), HL_EINVALID, "x: must be integer or null, not string");
	assert_int_equal(check(s, "{\"y\":true}"), 0);
	assert_int_equal(check(s, "{\"y\":1.5}"), 0);
	tu_assert_error(check(s, "{\"y\":[]}"), HL_EINVALID, "y: must be string, number or boolean, not array");
	tu_assert_error(check(s, "[]"), HL_EINVALID, "arguments: must be an object, not array");
}

static void test_schema__integer_vs_number(void **state)
{
	const char *s = "{\"type\":\"object\",\"properties\":{\"i\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10},"
	                "\"n\":{\"type\":\"number\",\"minimum\":0.5}}}";

	(void)state;
	assert_int_equal(check(s, "{\"i\":3}"), 0);
	assert_int_equal(check(s, "{\"i\":3.0}"), 0); /* an integral number is an integer */
	tu_assert_error(check(s, "{\"i\":3.5}"), HL_EINVALID, "i: must be an integer, not number");
	tu_assert_error(check(s, "{\"i\":\"3\"}"), HL_EINVALID, "i: must be an integer, not string");
	tu_assert_error(check(s, "{\"i\":0}"), HL_EINVALID, "i: must be at least 1");
	tu_assert_error(check(s, "{\"i\":11}"), HL_EINVALID, "i: must be at most 10");
	tu_assert_error(check(s, "{\"i\":true}"), HL_EINVALID, "i: must be an integer, not boolean");
	assert_int_equal(check(s, "{\"n\":7}"), 0); /* an integer is a number */
	assert_int_equal(check(s, "{\"n\":0.5}"), 0);
	tu_assert_error(check(s, "{\"n\":0.25}"), HL_EINVALID, "n: must be at least 0.5");
	tu_assert_error(check(s, "{\"n\":null}"), HL_EINVALID, "n: must be a number, not null");
}

static void test_schema__nested_paths(void **state)
{
	const char *s = "{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"array\",\"maxItems\":3,\"items\":"
	                "{\"type\":\"object\",\"required\":[\"y\"],\"additionalProperties\":false,"
	                "\"properties\":{\"y\":{\"type\":\"integer\"},\"z\":{\"type\":\"object\",\"properties\":"
	                "{\"deep\":{\"type\":\"string\"}}}}}}}}";

	(void)state;
	assert_int_equal(check(s, "{\"x\":[{\"y\":1},{\"y\":2}]}"), 0);
	tu_assert_error(check(s, "{\"x\":[{\"y\":1},{\"y\":\"a\"}]}"), HL_EINVALID, "x[1].y: must be an integer, not string");
	tu_assert_error(check(s, "{\"x\":[{\"y\":1},{}]}"), HL_EINVALID, "x[1].y: is required");
	tu_assert_error(check(s, "{\"x\":[{\"y\":1,\"w\":0}]}"), HL_EINVALID, "x[0].w: unknown field (expected y, z)");
	tu_assert_error(check(s, "{\"x\":[{\"y\":1,\"z\":{\"deep\":5}}]}"), HL_EINVALID,
	                "x[0].z.deep: must be a string, not integer");
	tu_assert_error(check(s, "{\"x\":[{\"y\":1},{\"y\":1},{\"y\":1},{\"y\":1}]}"), HL_EINVALID,
	                "x: must have at most 3 items");
	tu_assert_error(check(s, "{\"x\":{}}"), HL_EINVALID, "x: must be an array, not object");
}

static void test_schema__required_and_unknown_top_level(void **state)
{
	const char *s = "{\"type\":\"object\",\"required\":[\"name\"],\"additionalProperties\":false,"
	                "\"properties\":{\"name\":{\"type\":\"string\"},\"count\":{\"type\":\"integer\"}}}";
	const char *none = "{\"type\":\"object\",\"additionalProperties\":false}";

	(void)state;
	tu_assert_error(check(s, "{}"), HL_EINVALID, "name: is required");
	tu_assert_error(check(s, "{\"name\":\"a\",\"colour\":1}"), HL_EINVALID,
	                "colour: unknown argument (expected name, count)");
	tu_assert_error(check(none, "{\"a\":1}"), HL_EINVALID, "a: unknown argument (expected none)");
	assert_int_equal(check(none, "{}"), 0);
}

static void test_schema__any_of_one_of(void **state)
{
	const char *any = "{\"anyOf\":[{\"type\":\"string\",\"minLength\":3},{\"type\":\"integer\"}]}";
	const char *one = "{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"number\",\"minimum\":5}]}";

	(void)state;
	assert_int_equal(check(any, "\"abc\""), 0);
	assert_int_equal(check(any, "7"), 0);
	tu_assert_error(check(any, "\"ab\""), HL_EINVALID, "arguments: must be at least 3 characters");
	tu_assert_error(check(any, "true"), HL_EINVALID, "arguments: must be a string, not boolean");
	assert_int_equal(check(one, "3"), 0);   /* integer only */
	assert_int_equal(check(one, "6.5"), 0); /* number >= 5 only */
	tu_assert_error(check(one, "7"), HL_EINVALID, "arguments: matches more than one of the allowed forms");
	tu_assert_error(check(one, "2.5"), HL_EINVALID, "must be an integer, not number");
}

static void test_schema__strings(void **state)
{
	const char *s = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":3},"
	                "\"p\":{\"type\":\"string\",\"pattern\":\"^[a-z]+-[0-9]+$\"},\"e\":{\"type\":\"string\","
	                "\"minLength\":1}}}";

	(void)state;
	/* Lengths count UTF-8 characters, not bytes: "héé" is 3 characters, 5 bytes. */
	assert_int_equal(check(s, "{\"a\":\"h\xc3\xa9\xc3\xa9\"}"), 0);
	assert_int_equal(check(s, "{\"a\":\"\xf0\x9f\x8d\x95\xf0\x9f\x8d\x95\"}"), 0); /* 2 emoji, 8 bytes */
	tu_assert_error(check(s, "{\"a\":\"\xc3\xa9\"}"), HL_EINVALID, "a: must be at least 2 characters");
	tu_assert_error(check(s, "{\"a\":\"abcd\"}"), HL_EINVALID, "a: must be at most 3 characters");
	tu_assert_error(check(s, "{\"e\":\"\"}"), HL_EINVALID, "e: must not be empty");
	assert_int_equal(check(s, "{\"p\":\"web-12\"}"), 0);
	tu_assert_error(check(s, "{\"p\":\"web-12x\"}"), HL_EINVALID, "p: 'web-12x' does not match the pattern "
	                                                          "^[a-z]+-[0-9]+$");
	tu_assert_error(check(s, "{\"p\":\"a\\u0000b\"}"), HL_EINVALID, "p: must not contain a NUL character");
}

static void test_schema__enum_const_additional_schema(void **state)
{
	const char *s = "{\"type\":\"object\",\"properties\":{\"st\":{\"enum\":[\"running\",\"stopped\",3]},"
	                "\"k\":{\"const\":\"fixed\"}},\"additionalProperties\":{\"type\":\"integer\"}}";

	(void)state;
	assert_int_equal(check(s, "{\"st\":\"running\",\"k\":\"fixed\",\"extra\":5}"), 0);
	assert_int_equal(check(s, "{\"st\":3}"), 0);
	tu_assert_error(check(s, "{\"st\":\"gone\"}"), HL_EINVALID, "st: must be one of running, stopped, 3 (got \"gone\")");
	tu_assert_error(check(s, "{\"k\":\"other\"}"), HL_EINVALID, "k: must be \"fixed\"");
	tu_assert_error(check(s, "{\"extra\":\"x\"}"), HL_EINVALID, "extra: must be an integer, not string");
	/* Boolean schemas. */
	tu_assert_error(check("{\"properties\":{\"no\":false}}", "{\"no\":1}"), HL_EINVALID, "no: is not allowed");
	assert_int_equal(check("true", "[1,2]"), 0);
}

static void test_schema__check(void **state)
{
	(void)state;
	assert_int_equal(hl_schema__check("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}", "in"), 0);
	tu_assert_error(hl_schema__check(NULL, "in"), HL_EINVALID, "in: schema is missing");
	tu_assert_error(hl_schema__check("{\"type\":\"object\"", "in"), HL_EINVALID, "in: JSON text ends too early");
	tu_assert_error(hl_schema__check("{\"type\":\"object\"} x", "in"), HL_EINVALID, "in: unexpected text after the JSON value");
	tu_assert_error(hl_schema__check("{\"type\":\"array\"}", "out"), HL_EINVALID, "out: must be a schema of \"type\": \"object\"");
	tu_assert_error(hl_schema__check("[]", "out"), HL_EINVALID, "must be a schema of");
	tu_assert_error(hl_schema__check("{\"type\":\"object\",\"required\":\"a\"}", "in"), HL_EINVALID,
	                "in: \"required\" must be a JSON array");
	tu_assert_error(hl_schema__check("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":5}}}", "in"), HL_EINVALID,
	                "in.a: \"type\" must be a string or an array");
	tu_assert_error(hl_schema__check("{\"type\":\"object\",\"properties\":{\"a\":{\"pattern\":\"([\"}}}", "in"),
	                HL_EINVALID, "in.a: pattern does not compile");
	tu_assert_error(hl_schema__check("{\"type\":\"object\",\"additionalProperties\":1}", "in"), HL_EINVALID,
	                "\"additionalProperties\" must be a boolean or a schema");
	tu_assert_error(hl_schema__check("{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\",\"items\":"
	                                 "{\"minLength\":\"2\"}}}}", "in"), HL_EINVALID,
	                "in.l[]: \"minLength\" must be a JSON int");
	tu_assert_error(hl_schema__check("{\"type\":\"object\",\"properties\":{\"a\":7}}", "in"), HL_EINVALID,
	                "in.a: a schema must be an object");
}

static void test_schema__json_parse(void **state)
{
	struct json_object *o = (struct json_object *)state;

	tu_assert_error(hl_json__parse(&o, "{\"a\":}", 6, "args"), HL_EINVALID, "args: invalid JSON at byte");
	assert_null(o);
	tu_assert_error(hl_json__parse(&o, "", 0, "args"), HL_EINVALID, "args: JSON text ends too early");
	assert_int_equal(hl_json__parse(&o, " [1] \n", 6, "args"), 0);
	assert_int_equal(json_object_array_length(o), 1);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema__type_lists),
		cmocka_unit_test(test_schema__integer_vs_number),
		cmocka_unit_test(test_schema__nested_paths),
		cmocka_unit_test(test_schema__required_and_unknown_top_level),
		cmocka_unit_test(test_schema__any_of_one_of),
		cmocka_unit_test(test_schema__strings),
		cmocka_unit_test(test_schema__enum_const_additional_schema),
		cmocka_unit_test(test_schema__check),
		cmocka_unit_test(test_schema__json_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
