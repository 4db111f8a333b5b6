/*
 * json.c: reading members of validated tool arguments.
 */
#include "json.h"

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
