/*
 * modelfile.c: the Modelfile parser (hl_modelfile_to_request): every
 * instruction, quoting forms, comments, typed parameters, bad lines, and
 * the JSON request Ollama's own client builds for the same text.
 */
#include "testutil.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse text (with the model name, may be NULL) and compare the request
 * with the expected JSON, as JSON (key order does not matter). */
#define expect(text, model, json) expect_(text, sizeof(text) - 1, model, json, __LINE__)
static void expect_(const char *text, size_t len, const char *model, const char *json, int line)
{
	hl_modelfile_options o = HL_MODELFILE_OPTIONS_INIT;
	hl_buf out = HL_BUF_INIT;
	struct json_object *got, *want;
	int rc;

	o.model = model;
	rc = hl_modelfile_to_request(&out, text, len, &o);
	if (rc != 0)
		fail_msg("line %d: parse failed: %s", line, hl_error_last()->message);
	got = json_tokener_parse(out.ptr);
	want = json_tokener_parse(json);
	if (!want)
		fail_msg("line %d: bad expected JSON", line);
	if (!got || !json_object_equal(got, want))
		fail_msg("line %d:\n got  %s\n want %s", line, out.ptr,
		         json_object_to_json_string_ext(want, JSON_C_TO_STRING_PLAIN));
	json_object_put(got);
	json_object_put(want);
	hl_buf_dispose(&out);
}

/* Parsing text fails with HL_EINVALID and a message containing needle. */
#define expect_error(text, needle) expect_error_(text, sizeof(text) - 1, needle, __LINE__)
static void expect_error_(const char *text, size_t len, const char *needle, int line)
{
	hl_buf out = HL_BUF_INIT;
	int rc = hl_modelfile_to_request(&out, text, len, NULL);

	if (rc != HL_EINVALID || !strstr(hl_error_last()->message, needle))
		fail_msg("line %d: rc %d, message '%s', wanted HL_EINVALID and '%s'", line, rc,
		         hl_error_last()->message, needle);
	assert_null(out.ptr);
}

/* The example of Ollama's parser tests (TestCreateRequest), with our name. */
static void test_modelfile__ollama_create_request_example(void **state)
{
	(void)state;
	expect("FROM test\n"
	       "PARAMETER temperature 0.5\n"
	       "PARAMETER top_k 1\n"
	       "SYSTEM You are a bot.\n"
	       "LICENSE license1\n"
	       "LICENSE license2\n"
	       "MESSAGE user Hello there!\n"
	       "MESSAGE assistant Hi! How are you?\n",
	       "bot:latest",
	       "{\"model\":\"bot:latest\",\"from\":\"test\",\"system\":\"You are a bot.\","
	       "\"license\":[\"license1\",\"license2\"],\"parameters\":{\"temperature\":0.5,\"top_k\":1},"
	       "\"messages\":[{\"role\":\"user\",\"content\":\"Hello there!\"},"
	       "{\"role\":\"assistant\",\"content\":\"Hi! How are you?\"}]}");
	/* without a name there is no "model" key */
	expect("FROM test", NULL, "{\"from\":\"test\"}");
}

static void test_modelfile__every_instruction(void **state)
{
	(void)state;
	expect("FROM llama3.2:3b-instruct-q4_K_M\n"
	       "TEMPLATE {{ .Prompt }}\n"
	       "SYSTEM Answer in French.\n"
	       "LICENSE Apache-2.0\n"
	       "MESSAGE system Be brief.\n"
	       "REQUIRES 0.14.0\n"
	       "RENDERER qwen3-coder\n"
	       "PARSER qwen3-coder\n"
	       "PARAMETER num_ctx 8192\n",
	       "coder",
	       "{\"model\":\"coder\",\"from\":\"llama3.2:3b-instruct-q4_K_M\",\"template\":\"{{ .Prompt }}\","
	       "\"system\":\"Answer in French.\",\"license\":[\"Apache-2.0\"],"
	       "\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"}],\"requires\":\"0.14.0\","
	       "\"renderer\":\"qwen3-coder\",\"parser\":\"qwen3-coder\",\"parameters\":{\"num_ctx\":8192}}");
	/* a model from a registry path is a name, not a local file */
	expect("FROM hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", NULL,
	       "{\"from\":\"hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M\"}");
}

static void test_modelfile__instructions_are_case_insensitive(void **state)
{
	(void)state;
	expect("from base\nParameter seed 42\nsYsTeM hi\nlicense L\nmessage user yo\nrequires v0.5.5\n",
	       NULL,
	       "{\"from\":\"base\",\"parameters\":{\"seed\":42},\"system\":\"hi\",\"license\":[\"L\"],"
	       "\"messages\":[{\"role\":\"user\",\"content\":\"yo\"}],\"requires\":\"0.5.5\"}");
	/* roles and parameter names are not: Ollama matches them exactly */
	expect_error("FROM x\nMESSAGE User hi\n", "line 2: message role 'User' must be one of");
	expect_error("FROM x\nPARAMETER Temperature 1\n", "line 2: unknown parameter 'Temperature'");
}

static void test_modelfile__last_one_wins_and_license_accumulates(void **state)
{
	(void)state;
	expect("FROM a\nFROM b\nSYSTEM one\nSYSTEM two\nTEMPLATE t1\nTEMPLATE t2\nLICENSE x\nLICENSE y\nLICENSE z\n"
	       "PARAMETER top_k 1\nPARAMETER top_k 2\n",
	       NULL,
	       "{\"from\":\"b\",\"system\":\"two\",\"template\":\"t2\",\"license\":[\"x\",\"y\",\"z\"],"
	       "\"parameters\":{\"top_k\":2}}");
}

static void test_modelfile__comments(void **state)
{
	(void)state;
	expect("# a comment\n  # an indented one\n\t#tab\nFROM x\n\n# trailing\n#", NULL, "{\"from\":\"x\"}");
	/* '#' after an instruction is part of the value, as in Ollama */
	expect("FROM x\nSYSTEM be #1\n", NULL, "{\"from\":\"x\",\"system\":\"be #1\"}");
	expect_error("# only a comment\n", "no FROM line");
}

static void test_modelfile__quoting(void **state)
{
	(void)state;
	/* unquoted: trimmed, inner blanks kept */
	expect("FROM    x   \nSYSTEM   two  words   \n", NULL, "{\"from\":\"x\",\"system\":\"two  words\"}");
	/* "...": blanks inside kept */
	expect("FROM x\nSYSTEM \"  padded  \"\n", NULL, "{\"from\":\"x\",\"system\":\"  padded  \"}");
	/* """...""" on one line, and across lines with quotes inside */
	expect("FROM x\nSYSTEM \"\"\"one line\"\"\"\n", NULL, "{\"from\":\"x\",\"system\":\"one line\"}");
	expect("FROM x\nTEMPLATE \"\"\"\n{{ .System }}\nSay \"hi\".\n\"\"\"\nSYSTEM s\n", NULL,
	       "{\"from\":\"x\",\"template\":\"\\n{{ .System }}\\nSay \\\"hi\\\".\\n\",\"system\":\"s\"}");
	/* "..." may span lines too */
	expect("FROM x\nSYSTEM \"first\nsecond\"\n", NULL, "{\"from\":\"x\",\"system\":\"first\\nsecond\"}");
	/* empty values */
	expect("FROM x\nSYSTEM \"\"\"\"\"\"\n", NULL, "{\"from\":\"x\",\"system\":\"\"}");
	expect("FROM x\nSYSTEM \"\"\n", NULL, "{\"from\":\"x\",\"system\":\"\"}");
	expect("FROM x\nSYSTEM \"'\"\n", NULL, "{\"from\":\"x\",\"system\":\"'\"}");
	/* a quoted FROM */
	expect("FROM \"my model\"\n", NULL, "{\"from\":\"my model\"}");
	/* a value closes only at the end of a line */
	expect("FROM x\nSYSTEM \"\"\"a\"\"\" b\"\"\"\n", NULL, "{\"from\":\"x\",\"system\":\"a\\\"\\\"\\\" b\"}");
	/* unterminated quotes name the line they opened on */
	expect_error("FROM x\n\nSYSTEM \"\"\"never\nclosed\n", "line 3: the quoted value of SYSTEM is never closed");
	expect_error("FROM x\nSYSTEM \"\"\"almost\"\"\n", "line 2: the quoted value of SYSTEM is never closed");
	expect_error("FROM x\nSYSTEM \"\n", "line 2: the quoted value of SYSTEM is never closed");
	expect_error("FROM x\nMESSAGE user \"open\n", "line 2: the quoted value of MESSAGE user is never closed");
}

static void test_modelfile__parameter_types(void **state)
{
	(void)state;
	expect("FROM x\n"
	       "PARAMETER temperature 0.6\n"
	       "PARAMETER top_p 1\n"
	       "PARAMETER min_p 0.05\n"
	       "PARAMETER repeat_penalty 1.1\n"
	       "PARAMETER num_predict -1\n"
	       "PARAMETER seed 0\n"
	       "PARAMETER num_ctx 4096\n"
	       "PARAMETER use_mmap true\n"
	       "PARAMETER numa F\n"
	       "PARAMETER stop <|eot_id|>\n"
	       "PARAMETER stop \"### User: \"\n"
	       "PARAMETER stop \"\"\"</s>\"\"\"\n",
	       NULL,
	       "{\"from\":\"x\",\"parameters\":{\"temperature\":0.6,\"top_p\":1,\"min_p\":0.05,"
	       "\"repeat_penalty\":1.1,\"num_predict\":-1,\"seed\":0,\"num_ctx\":4096,\"use_mmap\":true,"
	       "\"numa\":false,\"stop\":[\"<|eot_id|>\",\"### User: \",\"</s>\"]}}");
	/* one stop is still a list */
	expect("FROM x\nPARAMETER stop ###\n", NULL, "{\"from\":\"x\",\"parameters\":{\"stop\":[\"###\"]}}");
	/* the float keeps float32 precision the way Ollama prints it */
	{
		hl_buf out = HL_BUF_INIT;
		assert_int_equal(hl_modelfile_to_request(&out, "FROM x\nPARAMETER temperature 0.7", 32, NULL), 0);
		assert_non_null(strstr(out.ptr, "\"temperature\":0.7}"));
		hl_buf_dispose(&out);
	}
}

static void test_modelfile__bad_parameters(void **state)
{
	(void)state;
	expect_error("FROM x\nPARAMETER not_a_thing 1\n", "line 2: unknown parameter 'not_a_thing'");
	expect_error("FROM x\n\n\nPARAMETER tfs_z 1\n", "line 4: unknown parameter 'tfs_z'");
	expect_error("FROM x\nPARAMETER top_k 1.5\n", "line 2: invalid int value '1.5' for parameter top_k");
	expect_error("FROM x\nPARAMETER top_k 99999999999999999999\n", "invalid int value");
	expect_error("FROM x\nPARAMETER temperature warm\n", "line 2: invalid float value 'warm' for parameter temperature");
	expect_error("FROM x\nPARAMETER temperature nan\n", "invalid float value 'nan'");
	expect_error("FROM x\nPARAMETER temperature 1e99\n", "invalid float value '1e99'");
	expect_error("FROM x\nPARAMETER temperature 0x1p3\n", "invalid float value");
	expect_error("FROM x\nPARAMETER use_mmap yes\n", "line 2: invalid bool value 'yes' for parameter use_mmap");
	expect_error("FROM x\nPARAMETER top_k \"\"\n", "invalid int value '' for parameter top_k");
	expect_error("FROM x\nPARAMETER top_k\n", "line 2: PARAMETER top_k needs a value");
	expect_error("FROM x\nPARAMETER top_k", "line 2: PARAMETER top_k needs a value");
	expect_error("FROM x\nPARAMETER\n", "line 2: PARAMETER needs a value");
	expect_error("FROM x\nPARAMETER top-k 1\n", "line 2: PARAMETER: 'top-k' is not a parameter name");
}

static void test_modelfile__deprecated_parameters_are_dropped(void **state)
{
	hl_modelfile_options o = HL_MODELFILE_OPTIONS_INIT;
	hl_buf out = HL_BUF_INIT, warn = HL_BUF_INIT;
	static const char text[] = "FROM x\nPARAMETER mirostat 2\nPARAMETER use_mlock true\nPARAMETER top_k 3\n";

	(void)state;
	o.warnings = &warn;
	assert_int_equal(hl_modelfile_to_request(&out, text, sizeof(text) - 1, &o), 0);
	assert_string_equal(out.ptr, "{\"from\":\"x\",\"parameters\":{\"top_k\":3}}");
	assert_string_equal(warn.ptr, "line 2: parameter mirostat is deprecated and was dropped\n"
	                              "line 3: parameter use_mlock is deprecated and was dropped\n");
	hl_buf_dispose(&out);
	hl_buf_dispose(&warn);
}

static void test_modelfile__messages(void **state)
{
	(void)state;
	expect("FROM x\nMESSAGE system You parse files.\nMESSAGE user Hey there!\n"
	       "MESSAGE assistant \"\"\"Hello,\nI parse.\"\"\"\n",
	       NULL,
	       "{\"from\":\"x\",\"messages\":[{\"role\":\"system\",\"content\":\"You parse files.\"},"
	       "{\"role\":\"user\",\"content\":\"Hey there!\"},"
	       "{\"role\":\"assistant\",\"content\":\"Hello,\\nI parse.\"}]}");
	expect_error("FROM x\nMESSAGE badguy I'm a bad guy!\n", "line 2: message role 'badguy' must be one of "
	             "\"system\", \"user\", or \"assistant\"");
	expect_error("FROM x\nMESSAGE tool result\n", "message role 'tool'");
	expect_error("FROM x\nMESSAGE system\n", "line 2: MESSAGE system needs a value");
	expect_error("FROM x\nMESSAGE system", "line 2: MESSAGE system needs a value");
}

static void test_modelfile__bad_lines(void **state)
{
	(void)state;
	expect_error("FROM x\n\nBADCOMMAND param1 value1\n", "line 3: unknown instruction 'BADCOMMAND'");
	expect_error("FROM x\nFROM: y\n", "line 2: unknown instruction 'FROM:'");
	expect_error("FROM x\n\xc3\xa9t\xc3\xa9 1\n", "line 2: unknown instruction");
	expect_error("FROM\n", "line 1: FROM needs a value");
	expect_error("FROM   \n", "line 1: FROM needs a model name");
	expect_error("FROM \"\"\n", "line 1: FROM needs a model name");
	expect_error("FROM x\nSYSTEM\n", "line 2: SYSTEM needs a value");
	expect_error("FROM x\nREQUIRES soon\n", "line 2: REQUIRES 'soon' must be a valid semver (e.g. 0.14.0)");
	expect_error("FROM x\nREQUIRES 1.02.3\n", "must be a valid semver");
	expect("FROM x\nREQUIRES 1.2.3-rc1+build5\n", NULL, "{\"from\":\"x\",\"requires\":\"1.2.3-rc1+build5\"}");
	expect("FROM x\nREQUIRES 0.14\n", NULL, "{\"from\":\"x\",\"requires\":\"0.14\"}");
}

static void test_modelfile__missing_from(void **state)
{
	hl_buf out = HL_BUF_INIT;

	(void)state;
	expect_error("", "no FROM line");
	expect_error("PARAMETER top_k 1\nSYSTEM s\n", "no FROM line");
	tu_assert_error(hl_modelfile_to_request(&out, NULL, 0, NULL), HL_EINVALID, "no FROM line");
	tu_assert_error(hl_modelfile_to_request(NULL, "FROM x", 6, NULL), HL_EINVALID, "required");
	/* FROM may come after other instructions */
	expect("PARAMETER top_k 1\nFROM foo", NULL, "{\"from\":\"foo\",\"parameters\":{\"top_k\":1}}");
}

static void test_modelfile__local_files_are_refused(void **state)
{
	(void)state;
	expect_error("FROM ./model.gguf\n", "line 1: FROM ./model.gguf names a local file: not supported: "
	             "upload the file to the VM first");
	expect_error("FROM /models/llama\n", "FROM /models/llama names a local file: not supported");
	expect_error("FROM ~/weights\n", "names a local file");
	expect_error("FROM ../up\n", "names a local file");
	expect_error("FROM .\n", "names a local file");
	expect_error("FROM C:\\models\\x\n", "names a local file");
	expect_error("FROM model.safetensors\n", "names a local file");
	expect_error("FROM x\nADAPTER ./lora.gguf\n", "line 2: ADAPTER ./lora.gguf names a local file: not supported: "
	             "upload the file to the VM first");
	expect_error("FROM x\nDRAFT ./draft\n", "line 2: DRAFT ./draft names a local file");
}

static void test_modelfile__line_endings_bom_and_control_bytes(void **state)
{
	static const char nul[] = "FROM x\nSYSTEM a\0b\n";

	(void)state;
	expect("\xef\xbb\xbf" "FROM x\r\nSYSTEM \"\"\"a\r\nb\"\"\"\r\nPARAMETER top_k\t7\r\n", NULL,
	       "{\"from\":\"x\",\"system\":\"a\\r\\nb\",\"parameters\":{\"top_k\":7}}");
	expect_error("FROM x\r\n\r\nBAD y\r\n", "line 3: unknown instruction 'BAD'");
	/* control bytes are dropped, as Ollama keeps only printable text */
	expect_(nul, sizeof(nul) - 1, NULL, "{\"from\":\"x\",\"system\":\"ab\"}", __LINE__);
	expect("FROM x\nSYSTEM a\x01\x7f" "b\n", NULL, "{\"from\":\"x\",\"system\":\"ab\"}");
	/* text that is not UTF-8 still gives valid JSON */
	{
		hl_buf out = HL_BUF_INIT;
		assert_int_equal(hl_modelfile_to_request(&out, "FROM x\xff\n", 8, NULL), 0);
		assert_string_equal(out.ptr, "{\"from\":\"x\xef\xbf\xbd\"}");
		hl_buf_dispose(&out);
	}
}

static void test_modelfile__options_version(void **state)
{
	hl_modelfile_options o = HL_MODELFILE_OPTIONS_INIT;
	hl_buf out = HL_BUF_INIT;

	(void)state;
	o.version = 99;
	tu_assert_error(hl_modelfile_to_request(&out, "FROM x", 6, &o), HL_EINVALID, "version 99");
	assert_null(out.ptr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modelfile__ollama_create_request_example),
		cmocka_unit_test(test_modelfile__every_instruction),
		cmocka_unit_test(test_modelfile__instructions_are_case_insensitive),
		cmocka_unit_test(test_modelfile__last_one_wins_and_license_accumulates),
		cmocka_unit_test(test_modelfile__comments),
		cmocka_unit_test(test_modelfile__quoting),
		cmocka_unit_test(test_modelfile__parameter_types),
		cmocka_unit_test(test_modelfile__bad_parameters),
		cmocka_unit_test(test_modelfile__deprecated_parameters_are_dropped),
		cmocka_unit_test(test_modelfile__messages),
		cmocka_unit_test(test_modelfile__bad_lines),
		cmocka_unit_test(test_modelfile__missing_from),
		cmocka_unit_test(test_modelfile__local_files_are_refused),
		cmocka_unit_test(test_modelfile__line_endings_bom_and_control_bytes),
		cmocka_unit_test(test_modelfile__options_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
