/*
 * registry.h: the handler signature of built-in tools.
 */
#ifndef HL_REGISTRY_H
#define HL_REGISTRY_H

#include "json.h"
#include "jw.h"

/* A built-in tool: args is the validated argument object (borrowed). On
 * success the handler has written one JSON object (its result, as its
 * output schema in tools.def describes) into out, with an hl_jw writer. */
typedef int (*hl_tool__fn)(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts);

#define HL_TOOL(name, title, scope, flags, desc, in, out) \
	int hl_tool__##name(hl_buf *, hl_ctx *, struct json_object *, const hl_call_options *);
#include "tools.def"
#undef HL_TOOL

/* JSON forms of inventory records, shared by the tool files: each writes one
 * object (the HL_S_* fragments of tools.def). */
/* A log message of a tool to opts->log, when it takes that level. */
void hl_tool__log(const hl_call_options *opts, hl_log_level level, const char *logger, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

void hl_tool__write_vm(hl_jw *w, const hl_vm *vm);
void hl_tool__write_host(hl_jw *w, const hl_host *h);
void hl_tool__write_service(hl_jw *w, const hl_service *s);
void hl_tool__write_alloc(hl_jw *w, const hl_ip_alloc *a);

#endif
