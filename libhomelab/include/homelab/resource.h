/*
 * homelab/resource.h: read-only views of the inventory for clients that
 * attach context (MCP resources), declared once in the library beside the
 * tool table.
 *
 * A resource is a fixed URI (homelab://inventory) or a template with one
 * variable (homelab://vms/{name}). Reading one gives the same JSON object
 * as the tool it stands for (homelab_get_vm for homelab://vms/NAME, ...),
 * under that tool's scope.
 */
#ifndef HOMELAB_RESOURCE_H
#define HOMELAB_RESOURCE_H

#include "common.h"
#include "buf.h"
#include "ctx.h"
#include "tool.h"

#include <stdbool.h>

HL_BEGIN_DECL

typedef struct hl_resource hl_resource;

/** Walk the table: NULL gives the first entry, an entry the next, NULL ends. */
HL_EXTERN(const hl_resource *) hl_resource_next(const hl_resource *prev);

/** The URI, or for a template its URI template ("homelab://vms/{name}"). */
HL_EXTERN(const char *) hl_resource_uri(const hl_resource *r);
/** Is it a template (one variable, in braces, at the end of its URI)? */
HL_EXTERN(bool) hl_resource_is_template(const hl_resource *r);
HL_EXTERN(const char *) hl_resource_name(const hl_resource *r);        /**< short name ("vm") */
HL_EXTERN(const char *) hl_resource_title(const hl_resource *r);       /**< human title */
HL_EXTERN(const char *) hl_resource_description(const hl_resource *r);
HL_EXTERN(const char *) hl_resource_mime_type(const hl_resource *r);   /**< "application/json" */
HL_EXTERN(const char *) hl_resource_scope(const hl_resource *r);       /**< the scope a reader needs */
/** For a template: what its variable names ("vm", "host", "service"; see
 *  hl_complete()); NULL for a fixed resource. */
HL_EXTERN(const char *) hl_resource_kind(const hl_resource *r);

/**
 * The entry a concrete URI belongs to (a fixed URI, or one a template
 * matches), or NULL. When it is a template's, *value (if not NULL) points
 * into uri at the variable's value.
 */
HL_EXTERN(const hl_resource *) hl_resource_match(const char *uri, const char **value);

/**
 * Read the resource at uri: the JSON object of the tool it stands for.
 * @return 0; HL_ENOTFOUND (no such resource, or no such VM, host or
 *         service: the message names it); the tool's errors
 */
HL_EXTERN(int) hl_resource_read(hl_buf *out, hl_ctx *ctx, const char *uri, const hl_call_options *opts);

HL_END_DECL

#endif
