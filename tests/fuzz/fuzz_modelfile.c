/*
 * fuzz_modelfile.c: any bytes given as a Modelfile either fail with
 * HL_EINVALID and a message naming what is wrong, or become one JSON
 * object with a string "from" (the /api/create request).
 */
#include "hl.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hl_modelfile_options o = HL_MODELFILE_OPTIONS_INIT;
	hl_buf out = HL_BUF_INIT, warn = HL_BUF_INIT;
	struct json_object *req, *from;
	int rc;

	o.model = "fuzz";
	o.warnings = &warn;
	rc = hl_modelfile_to_request(&out, (const char *)data, size, &o);
	if (rc != 0) {
		if (rc != HL_EINVALID || out.ptr || !*hl_error_last()->message)
			abort();
		hl_buf_dispose(&warn);
		return 0;
	}
	req = json_tokener_parse(out.ptr);
	if (!req || !json_object_is_type(req, json_type_object) ||
	    !json_object_object_get_ex(req, "from", &from) || !json_object_is_type(from, json_type_string) ||
	    json_object_get_string_len(from) == 0)
		abort();
	json_object_put(req);
	hl_buf_dispose(&out);
	hl_buf_dispose(&warn);
	return 0;
}
