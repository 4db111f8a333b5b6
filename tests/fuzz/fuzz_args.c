/*
 * fuzz_args.c: tool arguments from the outside world (an MCP client, the
 * CLI, Python): JSON parsing and validation against every tool's schema.
 * The first byte picks the tool; the rest is the argument text.
 */
#include "schema.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const hl_tool *t = hl_tool_next(NULL);
	struct json_object *o = NULL;
	char *text;
	size_t n;

	if (size == 0)
		return 0;
	n = data[0] % hl_tool_count();
	for (size_t i = 0; i < n; i++)
		t = hl_tool_next(t);
	if (!(text = malloc(size)))
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	/* Whatever the input, validation answers 0 or HL_EINVALID with a message. */
	int rc = hl_tool_validate(t, text);
	if (rc != 0 && (rc != HL_EINVALID || !*hl_error_last()->message))
		abort();
	/* A tokener kept from input to input (as a context and a daemon worker
	 * keep theirs) parses exactly as a new one does. */
	static struct json_tokener *kept;
	struct json_object *k = NULL;
	int fresh = hl_json__parse(&o, (const char *)data + 1, size - 1, "fuzz");
	if (!kept && !(kept = json_tokener_new_ex(HL_JSON_DEPTH)))
		abort();
	int reused = hl_json__parse_with(kept, &k, (const char *)data + 1, size - 1, "fuzz");
	if ((fresh == 0) != (reused == 0) ||
	    (fresh == 0 && strcmp(o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : "null",
	                          k ? json_object_to_json_string_ext(k, JSON_C_TO_STRING_PLAIN) : "null") != 0))
		abort(); /* (compared as text: NaN is not equal to itself) */
	json_object_put(o);
	json_object_put(k);
	free(text);
	return 0;
}
