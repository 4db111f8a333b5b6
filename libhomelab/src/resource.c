/*
 * resource.c: the resource table (see homelab/resource.h). Each entry
 * stands for a tool: reading it is calling that tool, under its scope.
 */
#include "hl.h"
#include "jw.h"

#include <homelab/resource.h>
#include <homelab/tool.h>

#include <stdlib.h>
#include <string.h>

struct hl_resource {
	const char *uri, *name, *title, *description, *scope;
	const char *kind;   /* a template's variable: "vm", "host", "service"; NULL: fixed */
	const char *tool;   /* the tool read calls; NULL: the inventory summary */
	const char *arg;    /* the tool's argument the variable fills */
};

static const struct hl_resource table[] = {
	{ "homelab://inventory", "inventory", "Homelab inventory",
	  "Every VM, Proxmox host and service of the inventory (the results of homelab_list_vms, "
	  "homelab_list_hosts and homelab_list_services together).",
	  "inventory:read", NULL, NULL, NULL },
	{ "homelab://audit/recent", "audit-recent", "Recent audit log",
	  "The newest entries of the audit log (homelab_audit_list).", "audit:read", NULL, "homelab_audit_list", NULL },
	{ "homelab://vms/{name}", "vm", "A VM", "One VM with its host and services (homelab_get_vm).",
	  "inventory:read", "vm", "homelab_get_vm", "name" },
	{ "homelab://hosts/{name}", "host", "A Proxmox host", "One Proxmox host with its VMs (homelab_get_host).",
	  "inventory:read", "host", "homelab_get_host", "name" },
	{ "homelab://services/{name}", "service", "A service",
	  "One service: URL, port, protocol, health endpoint and VM (homelab_get_service).", "inventory:read",
	  "service", "homelab_get_service", "name" },
};
#define NRESOURCES (sizeof(table) / sizeof(table[0]))

const hl_resource *hl_resource_next(const hl_resource *prev)
{
	if (!prev)
		return table;
	return prev + 1 < table + NRESOURCES ? prev + 1 : NULL;
}

const char *hl_resource_uri(const hl_resource *r) { return r ? r->uri : NULL; }
bool hl_resource_is_template(const hl_resource *r) { return r && r->kind; }
const char *hl_resource_name(const hl_resource *r) { return r ? r->name : NULL; }
const char *hl_resource_title(const hl_resource *r) { return r ? r->title : NULL; }
const char *hl_resource_description(const hl_resource *r) { return r ? r->description : NULL; }
const char *hl_resource_mime_type(const hl_resource *r) { return r ? "application/json" : NULL; }
const char *hl_resource_scope(const hl_resource *r) { return r ? r->scope : NULL; }
const char *hl_resource_kind(const hl_resource *r) { return r ? r->kind : NULL; }

const hl_resource *hl_resource_match(const char *uri, const char **value)
{
	if (value)
		*value = NULL;
	if (!uri)
		return NULL;
	for (size_t i = 0; i < NRESOURCES; i++) {
		const struct hl_resource *r = &table[i];
		if (!r->kind) {
			if (!strcmp(uri, r->uri))
				return r;
			continue;
		}
		/* "prefix{var}": the value is the rest, one path segment */
		size_t n = (size_t)(strchr(r->uri, '{') - r->uri);
		if (!strncmp(uri, r->uri, n) && uri[n] && !strchr(uri + n, '/')) {
			if (value)
				*value = uri + n;
			return r;
		}
	}
	return NULL;
}

/* Call tool name with args into out. */
static int call(hl_buf *out, hl_ctx *ctx, const char *name, const char *args, const hl_call_options *opts)
{
	const hl_tool *t = hl_tool_lookup(name);

	if (!t)
		return hl__err(HL_ERROR, HL_ERROR_TOOL, "resource: tool %s is missing", name);
	return hl_tool_call(out, ctx, t, args, opts);
}

/* The value of a URI's variable as a JSON object {"arg": "value"}. Percent-
 * escapes are decoded; a value that is empty, too long or not text is
 * refused. */
static int template_args(hl_buf *args, const struct hl_resource *r, const char *value)
{
	char decoded[256];
	size_t n = 0;
	hl_jw w;

	for (const char *p = value; *p; p++) {
		int c = (unsigned char)*p;
		if (c == '%' && p[1] && p[2]) {
			char hex[3] = { p[1], p[2], 0 }, *end;
			long v = strtol(hex, &end, 16);
			if (*end)
				return hl__err(HL_ENOTFOUND, HL_ERROR_INVENTORY, "resource %s: a bad escape in the name", r->name);
			c = (int)v;
			p += 2;
		}
		if (c < 0x20 || n + 1 >= sizeof(decoded))
			return hl__err(HL_ENOTFOUND, HL_ERROR_INVENTORY, "resource %s: no such %s", r->name, r->kind);
		decoded[n++] = (char)c;
	}
	decoded[n] = '\0';
	hl_jw__init(&w, args);
	hl_jw__obj(&w);
	hl_jw__kstr(&w, r->arg, decoded);
	hl_jw__end_obj(&w);
	return hl_jw__finish(&w);
}

static int inventory_summary(hl_buf *out, hl_ctx *ctx, const hl_call_options *opts)
{
	static const char *const parts[][2] = {
		{ "vms", "homelab_list_vms" }, { "hosts", "homelab_list_hosts" }, { "services", "homelab_list_services" },
	};
	hl_buf part = HL_BUF_INIT;
	hl_jw w;
	int err = 0;

	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	for (size_t i = 0; i < 3 && err == 0; i++) {
		if ((err = call(&part, ctx, parts[i][1], NULL, opts)) == 0) {
			hl_jw__key(&w, parts[i][0]);
			hl_jw__raw(&w, part.ptr);
		}
		hl_buf_dispose(&part);
	}
	hl_jw__end_obj(&w);
	if (err < 0) {
		hl_buf_dispose(out);
		return err;
	}
	return hl_jw__finish(&w);
}

int hl_resource_read(hl_buf *out, hl_ctx *ctx, const char *uri, const hl_call_options *opts)
{
	const char *value;
	const struct hl_resource *r;
	hl_buf args = HL_BUF_INIT;
	int err;

	if (!out || !ctx || !uri)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_resource_read: out, ctx and uri are required");
	if (!(r = hl_resource_match(uri, &value)))
		return hl__err(HL_ENOTFOUND, HL_ERROR_INVENTORY, "no resource %.200s", uri);
	if (!r->tool)
		return inventory_summary(out, ctx, opts);
	if (!r->kind)
		return call(out, ctx, r->tool, NULL, opts);
	if ((err = template_args(&args, r, value)) < 0)
		return err;
	err = call(out, ctx, r->tool, args.ptr, opts);
	hl_buf_dispose(&args);
	return err;
}
