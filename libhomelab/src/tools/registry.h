/*
 * registry.h: the handler signature of built-in tools.
 */
#ifndef HL_REGISTRY_H
#define HL_REGISTRY_H

#include "json.h"

/* A built-in tool: args is the validated argument object (borrowed); on
 * success *out is a new JSON object owned by the caller. */
typedef int (*hl_tool__fn)(struct json_object **out, hl_ctx *ctx, struct json_object *args,
                           const hl_call_options *opts);

#define HL_TOOL(name, title, scope, flags, desc, in, out) \
	int hl_tool__##name(struct json_object **, hl_ctx *, struct json_object *, const hl_call_options *);
#include "tools.def"
#undef HL_TOOL

/* JSON forms of inventory records, shared by the tool files. NULL on OOM. */
struct json_object *hl_tool__vm_json(const hl_vm *vm);
struct json_object *hl_tool__host_json(const hl_host *h);
struct json_object *hl_tool__service_json(const hl_service *s);
struct json_object *hl_tool__alloc_json(const hl_ip_alloc *a);

#endif
