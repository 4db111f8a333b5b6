/*
 * json.h: reading tool arguments (json-c trees, already validated against
 * the tool's schema). Results are written with the streaming writer in jw.h.
 */
#ifndef HL_JSON_H
#define HL_JSON_H

#include "hl.h"
#include <json-c/json.h>

/* A string member, or NULL when absent or not a string. Borrowed from o. */
const char *hl_json__get_str(struct json_object *o, const char *key);
/* An integer member; false when absent or not a number. */
bool hl_json__get_int(struct json_object *o, const char *key, int64_t *out);

#endif
