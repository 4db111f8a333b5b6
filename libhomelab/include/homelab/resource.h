/*
 * homelab/resource.h: read-only views of the inventory for clients that
 * attach context (MCP resources), declared once in the library beside the
 * tool table.
 *
 * A resource is a fixed URI (homelab://inventory) or a template with one
 * variable (homelab://vms/{name}). Reading one gives the same JSON object
 * as the tool it stands for (homelab_get_vm for homelab://vms/NAME, ...),
 * under that tool's scope.
 *
 * A program linking libhomelab adds resources of its own with
 * hl_resource_register(): static text or bytes, or a read handler, at a
 * fixed URI or a URI template ("test://template/{id}/data", RFC 6570 level
 * 1: each {name} matches one path segment). They follow the built-in ones in
 * hl_resource_next(), and every front end serves them like the built-in ones.
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

/**
 * Read the resource at uri as MCP's resources/read result:
 * {"contents": [{"uri": uri, "mimeType": ..., "text": ...}]}, or "blob"
 * (base64) instead of "text" for a binary resource. A built-in resource
 * gives its JSON object as application/json text.
 * @return 0; HL_ENOTFOUND; the read handler's or the tool's errors
 */
HL_EXTERN(int) hl_resource_contents(hl_buf *out, hl_ctx *ctx, const char *uri, const hl_call_options *opts);

/**
 * Read handler of a registered resource. uri is the URI read; vars_json the
 * values of the template's expressions as a JSON object of strings ("{}"
 * for a fixed URI). Write the content into out with hl_buf_set(): text
 * (UTF-8), or any bytes for an HL_RESOURCE_BINARY resource. Return 0, or a
 * negative hl_error_code after hl_error_set() (HL_ENOTFOUND: no such
 * resource).
 */
typedef int (*hl_resource_handler)(hl_buf *out, hl_ctx *ctx, const char *uri, const char *vars_json,
                                   const hl_call_options *opts, void *payload);

/** hl_resource_def flags */
enum {
	HL_RESOURCE_BINARY = 1u << 0 /**< the handler's content is bytes: served base64-encoded ("blob") */
};

/** A resource to add to the table. Every string and the blob are copied. */
typedef struct {
	unsigned int version;
	const char *uri;          /**< an absolute URI (scheme:...), or a URI template with {name} expressions */
	const char *name;         /**< required: a short name */
	const char *title;        /**< NULL: the name */
	const char *description;  /**< NULL: none */
	const char *mime_type;    /**< NULL: "text/plain" ("application/octet-stream" for binary content) */
	const char *scope;        /**< required: the scope a reader needs, e.g. "myapp:read" */
	unsigned int flags;       /**< HL_RESOURCE_* */
	/* exactly one of: */
	const char *text;         /**< a fixed URI's static text (UTF-8) */
	const void *blob;         /**< a fixed URI's static bytes (blob_len of them) */
	size_t blob_len;
	hl_resource_handler handler; /**< read handler; required for a template */
	void *payload;            /**< passed to handler */
} hl_resource_def;

#define HL_RESOURCE_DEF_VERSION 1
#define HL_RESOURCE_DEF_INIT { .version = HL_RESOURCE_DEF_VERSION }

/**
 * Add a resource to the process-wide table, for programs linking libhomelab.
 * Thread-safe. Registered resources cannot be removed.
 * @param[out] out  the new entry (may be NULL)
 * @return 0; HL_EEXISTS (the URI or template is taken); HL_EINVALID (bad
 *         URI or template, missing name or scope, not exactly one of text,
 *         blob and handler, a template without a handler, text that is not
 *         UTF-8, wrong version)
 */
HL_EXTERN(int) hl_resource_register(const hl_resource **out, const hl_resource_def *def);

/**
 * Something changed the resource at uri: every watcher is told (the MCP
 * daemon sends notifications/resources/updated to the sessions subscribed
 * to it). A program calls it for its own resources; the library calls it
 * for homelab://audit/recent when it commits an audit row. Thread-safe;
 * watchers run on the caller's thread.
 */
HL_EXTERN(void) hl_resource_notify_updated(const char *uri);

/** A watcher of resource changes (see hl_resource_watch()). */
typedef void (*hl_resource_watch_cb)(const char *uri, void *payload);

/**
 * Call cb for every later hl_resource_notify_updated(), for the life of the
 * process (at most 8 watchers).
 * @return 0; HL_EINVALID (no cb); HL_EFULL (too many watchers)
 */
HL_EXTERN(int) hl_resource_watch(hl_resource_watch_cb cb, void *payload);

HL_END_DECL

#endif
