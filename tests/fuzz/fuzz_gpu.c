/*
 * fuzz_gpu.c: hl_gpu_parse on any nvidia-smi output. Whenever it says OK
 * the result is valid UTF-8 and parses as a JSON object whose "count" is
 * the length of "gpus"; when it fails, out is untouched and the message is
 * one line of valid UTF-8.
 *
 * Input: byte 0 picks the --query-gpu exit status (and bit 4 leaves the
 * apps query out), byte 1 the apps exit status; the rest is split on
 * "\n#\n" into the gpu stdout, the apps stdout, the gpu stderr and a target
 * name (up to its first NUL). See tests/fuzz/corpus/gpu.
 */
#include <homelab.h>

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int statuses[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 9, 12, 127, 15, 2, 255, -1, 6 };

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

/* The next part of the input, up to "\n#\n" or the end. */
static const uint8_t *part(const uint8_t **p, const uint8_t *end, size_t *len)
{
	const uint8_t *start = *p;

	for (const uint8_t *q = start; q + 3 <= end; q++) {
		if (q[0] == '\n' && q[1] == '#' && q[2] == '\n') {
			*len = (size_t)(q - start);
			*p = q + 3;
			return start;
		}
	}
	*len = (size_t)(end - start);
	*p = end;
	return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 2, *end = data + size, *t;
	hl_gpu_output gpus = { 0 }, apps = { 0 };
	hl_buf out = HL_BUF_INIT;
	char *target = NULL;
	size_t tlen;
	bool with_apps;
	int rc;

	if (size < 2)
		return 0;
	gpus.exit_status = statuses[data[0] & 15];
	with_apps = !(data[0] & 16);
	apps.exit_status = statuses[data[1] & 15];
	gpus.stdout_text = (const char *)part(&p, end, &gpus.stdout_len);
	apps.stdout_text = (const char *)part(&p, end, &apps.stdout_len);
	gpus.stderr_text = (const char *)part(&p, end, &gpus.stderr_len);
	t = part(&p, end, &tlen);
	if (p != t) {
		target = malloc(tlen + 1);
		if (!target)
			abort();
		memcpy(target, t, tlen);
		target[tlen] = '\0';
	}

	rc = hl_gpu_parse(&out, target, &gpus, with_apps ? &apps : NULL);
	if (rc == 0) {
		struct json_tokener *tok = json_tokener_new();
		struct json_object *o, *g = NULL, *count = NULL;
		if (!out.ptr || strlen(out.ptr) != out.size || !valid_utf8((const uint8_t *)out.ptr, out.size))
			abort();
		o = json_tokener_parse_ex(tok, out.ptr, (int)out.size);
		if (!o || json_tokener_get_error(tok) != json_tokener_success ||
		    json_tokener_get_parse_end(tok) != out.size || !json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, "gpus", &g) || !json_object_is_type(g, json_type_array) ||
		    !json_object_object_get_ex(o, "count", &count) ||
		    json_object_get_int64(count) != (int64_t)json_object_array_length(g) ||
		    json_object_array_length(g) == 0)
			abort();
		json_object_put(o);
		json_tokener_free(tok);
	} else {
		const hl_error *e = hl_error_last();
		size_t n = strlen(e->message);
		if (out.ptr || e->code != rc || n == 0 || strchr(e->message, '\n') ||
		    !valid_utf8((const uint8_t *)e->message, n))
			abort();
	}
	hl_buf_dispose(&out);
	free(target);
	return 0;
}
