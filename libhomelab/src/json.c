/*
 * json.c: json-c helpers for building tool results and reading arguments.
 */
#include "json.h"

int hl_json__put(struct json_object *o, const char *key, struct json_object *val)
{
	if (json_object_object_add(o, key, val) != 0) {
		json_object_put(val);
		return hl__oom();
	}
	return 0;
}

int hl_json__append(struct json_object *arr, struct json_object *val)
{
	if (!val)
		return hl__oom();
	if (json_object_array_add(arr, val) != 0) {
		json_object_put(val);
		return hl__oom();
	}
	return 0;
}

int hl_json__put_str(struct json_object *o, const char *key, const char *val)
{
	struct json_object *x = NULL;

	if (val && !(x = json_object_new_string(val)))
		return hl__oom();
	return hl_json__put(o, key, x);
}

int hl_json__put_int(struct json_object *o, const char *key, int64_t val)
{
	struct json_object *x = json_object_new_int64(val);
	return x ? hl_json__put(o, key, x) : hl__oom();
}

int hl_json__put_int_or_null(struct json_object *o, const char *key, int64_t val)
{
	return val ? hl_json__put_int(o, key, val) : hl_json__put(o, key, NULL);
}

int hl_json__put_double(struct json_object *o, const char *key, double val)
{
	struct json_object *x = json_object_new_double(val);
	return x ? hl_json__put(o, key, x) : hl__oom();
}

int hl_json__put_bool(struct json_object *o, const char *key, bool val)
{
	struct json_object *x = json_object_new_boolean(val);
	return x ? hl_json__put(o, key, x) : hl__oom();
}

int hl_json__to_buf(hl_buf *buf, struct json_object *o)
{
	size_t len = 0;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
	                                                  &len);
	if (!s)
		return hl__oom();
	return hl_buf_set(buf, s, len);
}

const char *hl_json__get_str(struct json_object *o, const char *key)
{
	struct json_object *x;

	if (!json_object_object_get_ex(o, key, &x) || !json_object_is_type(x, json_type_string))
		return NULL;
	return json_object_get_string(x);
}

bool hl_json__get_int(struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *x;

	if (!json_object_object_get_ex(o, key, &x) ||
	    !(json_object_is_type(x, json_type_int) || json_object_is_type(x, json_type_double)))
		return false;
	*out = json_object_get_int64(x);
	return true;
}
