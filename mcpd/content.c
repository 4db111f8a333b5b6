/*
 * content.c: results of HL_TOOL_CONTENT tools (see content.h). The handler
 * wrote an MCP tool result; each content block is checked for the fields
 * its type needs, and the result is rebuilt from the known members only.
 */
#include "content.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The default output schema the library gives a tool that declares none. */
#define DEFAULT_OUTPUT_SCHEMA "{\"type\":\"object\"}"

const char *content_output_schema(const hl_tool *t)
{
	const char *s = hl_tool_output_schema(t);

	if ((hl_tool_flags(t) & HL_TOOL_CONTENT) && s && !strcmp(s, DEFAULT_OUTPUT_SCHEMA))
		return NULL;
	return s;
}

static bool has_string(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string);
}

/* NULL when block is a content block MCP knows, else what is wrong. */
static const char *check_block(struct json_object *block)
{
	struct json_object *type, *res;
	const char *ty;

	if (!json_object_is_type(block, json_type_object) || !json_object_object_get_ex(block, "type", &type) ||
	    !json_object_is_type(type, json_type_string))
		return "a content block is not an object with a type";
	ty = json_object_get_string(type);
	if (!strcmp(ty, "text"))
		return has_string(block, "text") ? NULL : "a text block needs text";
	if (!strcmp(ty, "image") || !strcmp(ty, "audio"))
		return has_string(block, "data") && has_string(block, "mimeType") ? NULL
		       : "an image or audio block needs data (base64) and mimeType";
	if (!strcmp(ty, "resource_link"))
		return has_string(block, "uri") && has_string(block, "name") ? NULL : "a resource_link needs uri and name";
	if (!strcmp(ty, "resource"))
		return json_object_object_get_ex(block, "resource", &res) && json_object_is_type(res, json_type_object) &&
		       has_string(res, "uri") && (has_string(res, "text") || has_string(res, "blob")) ? NULL
		       : "a resource block needs resource.uri and resource.text or resource.blob";
	return "a content block's type is not text, image, audio, resource or resource_link";
}

static char *error_result(const hl_tool *t, const char *why)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array(), *b = json_object_new_object();
	char text[300], *out;
	const char *s;

	snprintf(text, sizeof(text), "tool %s returned a bad content result: %s", hl_tool_name(t), why);
	json_object_object_add(b, "type", json_object_new_string("text"));
	json_object_object_add(b, "text", json_object_new_string(text));
	json_object_array_add(arr, b);
	json_object_object_add(o, "content", arr);
	json_object_object_add(o, "isError", json_object_new_boolean(1));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	out = s ? strdup(s) : NULL;
	json_object_put(o);
	return out;
}

char *content_tool_result(const hl_tool *t, const char *json, bool *is_error)
{
	struct json_object *in = json ? json_tokener_parse(json) : NULL, *content, *err = NULL, *sc = NULL, *o;
	const char *why = NULL, *s;
	char *out;

	*is_error = true;
	if (!in || !json_object_is_type(in, json_type_object) || !json_object_object_get_ex(in, "content", &content) ||
	    !json_object_is_type(content, json_type_array))
		why = "it needs a content array";
	for (size_t i = 0; !why && i < json_object_array_length(content); i++)
		why = check_block(json_object_array_get_idx(content, i));
	if (!why && json_object_object_get_ex(in, "isError", &err) && !json_object_is_type(err, json_type_boolean))
		why = "isError must be a boolean";
	if (!why && json_object_object_get_ex(in, "structuredContent", &sc) && !json_object_is_type(sc, json_type_object))
		why = "structuredContent must be an object";
	if (why) {
		json_object_put(in);
		return error_result(t, why);
	}
	*is_error = err && json_object_get_boolean(err);
	o = json_object_new_object();
	json_object_object_add(o, "content", json_object_get(content));
	if (sc)
		json_object_object_add(o, "structuredContent", json_object_get(sc));
	json_object_object_add(o, "isError", json_object_new_boolean(*is_error));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	out = s ? strdup(s) : NULL;
	json_object_put(o);
	json_object_put(in);
	return out;
}
