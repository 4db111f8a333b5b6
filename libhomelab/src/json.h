/*
 * json.h: json-c helpers for building tool results. Each put_* returns 0 or
 * HL_ENOMEM; on failure nothing is leaked (a value not added is put).
 */
#ifndef HL_JSON_H
#define HL_JSON_H

#include "hl.h"
#include <json-c/json.h>

int hl_json__put_str(struct json_object *o, const char *key, const char *val); /* NULL -> null */
int hl_json__put_int(struct json_object *o, const char *key, int64_t val);
int hl_json__put_int_or_null(struct json_object *o, const char *key, int64_t val); /* 0 -> null */
int hl_json__put_double(struct json_object *o, const char *key, double val);
int hl_json__put_bool(struct json_object *o, const char *key, bool val);
/* Add val (taking the reference even on failure). */
int hl_json__put(struct json_object *o, const char *key, struct json_object *val);
int hl_json__append(struct json_object *arr, struct json_object *val);

/* Serialise a tree into buf (compact). */
int hl_json__to_buf(hl_buf *buf, struct json_object *o);

/* Read optional arguments (already validated by the schema). */
const char *hl_json__get_str(struct json_object *o, const char *key);   /* NULL when absent or null */
bool hl_json__get_int(struct json_object *o, const char *key, int64_t *out);

#endif
