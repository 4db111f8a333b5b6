/*
 * schema.h: a JSON Schema validator for tool arguments and results.
 *
 * It covers the subset the tool table uses: type (one name or a list),
 * properties, required, additionalProperties (false or a schema), enum,
 * const, minLength, maxLength, pattern (POSIX extended), minimum, maximum,
 * items, minItems, maxItems, anyOf and oneOf. Keywords it does not know are
 * ignored, as JSON Schema requires.
 */
#ifndef HL_SCHEMA_H
#define HL_SCHEMA_H

#include "hl.h"
#include <json-c/json.h>

/* Validate value against schema. On failure returns HL_EINVALID with a
 * message naming the field ("status: must be one of running, stopped").
 * `what` prefixes top-level messages ("arguments", "result"). */
int hl_schema__validate(struct json_object *schema, struct json_object *value, const char *what);

/* Check that text is a JSON Schema this validator understands: an object
 * whose keywords have the right types. HL_EINVALID naming the problem. */
int hl_schema__check(const char *schema_text, const char *what);

/* Parse JSON text into a json-c tree; HL_EINVALID naming `what` and the
 * position of the error. *out is NULL on error. */
int hl_json__parse(struct json_object **out, const char *text, size_t len, const char *what);
/* The same with a tokener of the caller's (made with json_tokener_new_ex(HL_JSON_DEPTH), reset here), or a new
 * one when reuse is NULL. */
#define HL_JSON_DEPTH 64
int hl_json__parse_with(struct json_tokener *reuse, struct json_object **out, const char *text, size_t len,
                        const char *what);

#endif
