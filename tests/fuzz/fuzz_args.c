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
	if (hl_json__parse(&o, (const char *)data + 1, size - 1, "fuzz") == 0)
		json_object_put(o);
	free(text);
	return 0;
}
