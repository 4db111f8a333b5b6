/*
 * fuzz_jw.c: any bytes a database row may hold become a JSON string that
 * parses; valid UTF-8 without NUL comes back unchanged.
 */
#include "jw.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool valid_utf8(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = p[i];
		size_t len;
		uint32_t cp;
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
		if (!len || c > 0xf4 || i + len > n)
			return false;
		cp = c & (0x3f >> (len - 1));
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hl_buf b = HL_BUF_INIT;
	struct json_object *o;
	hl_jw w;

	hl_jw__init(&w, &b);
	hl_jw__strn(&w, (const char *)data, size);
	if (hl_jw__finish(&w) != 0)
		abort();
	o = json_tokener_parse(b.ptr);
	if (!o || !json_object_is_type(o, json_type_string))
		abort();
	if (valid_utf8(data, size) &&
	    ((size_t)json_object_get_string_len(o) != size || memcmp(json_object_get_string(o), data, size) != 0))
		abort();
	json_object_put(o);
	hl_buf_dispose(&b);
	return 0;
}
