/*
 * resource.c: the resource table (see homelab/resource.h). Each built-in
 * entry stands for a tool: reading it is calling that tool, under its
 * scope. Registered entries follow, in a list that only grows.
 */
#include "hl.h"
#include "jw.h"
#include "uritmpl.h"

#include <homelab/resource.h>
#include <homelab/tool.h>

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct hl_resource {
	const char *uri, *name, *title, *description, *scope;
	const char *kind;   /* a template's variable: "vm", "host", "service"; NULL: fixed */
	const char *tool;   /* the tool read calls; NULL: the inventory summary */
	const char *arg;    /* the tool's argument the variable fills */
	/* registered entries only */
	bool registered, is_template;
	const char *mime_type;
	unsigned int flags;
	char *data;         /* static text or bytes; NULL: handler */
	size_t data_len;
	hl_resource_handler handler;
	void *payload;
	struct hl_resource *next;
};

static const struct hl_resource table[] = {
	{ "homelab://inventory", "inventory", "Homelab inventory",
	  "Every VM, Proxmox host and service of the inventory (the results of homelab_list_vms, "
	  "homelab_list_hosts and homelab_list_services together).",
	  "inventory:read", NULL, NULL, NULL, .registered = false },
	{ "homelab://audit/recent", "audit-recent", "Recent audit log",
	  "The newest entries of the audit log (homelab_audit_list).", "audit:read", NULL, "homelab_audit_list", NULL, .registered = false },
	{ "homelab://vms/{name}", "vm", "A VM", "One VM with its host and services (homelab_get_vm).",
	  "inventory:read", "vm", "homelab_get_vm", "name", .registered = false },
	{ "homelab://hosts/{name}", "host", "A Proxmox host", "One Proxmox host with its VMs (homelab_get_host).",
	  "inventory:read", "host", "homelab_get_host", "name", .registered = false },
	{ "homelab://services/{name}", "service", "A service",
	  "One service: URL, port, protocol, health endpoint and VM (homelab_get_service).", "inventory:read",
	  "service", "homelab_get_service", "name", .registered = false },
};
#define NRESOURCES (sizeof(table) / sizeof(table[0]))

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hl_resource *reg_head, *reg_tail;

const hl_resource *hl_resource_next(const hl_resource *prev)
{
	const hl_resource *next;

	if (!prev)
		return table;
	if (prev >= table && prev < table + NRESOURCES) {
		if (prev + 1 < table + NRESOURCES)
			return prev + 1;
		pthread_mutex_lock(&reg_lock);
		next = reg_head;
		pthread_mutex_unlock(&reg_lock);
		return next;
	}
	pthread_mutex_lock(&reg_lock);
	next = prev->next;
	pthread_mutex_unlock(&reg_lock);
	return next;
}

const char *hl_resource_uri(const hl_resource *r) { return r ? r->uri : NULL; }
bool hl_resource_is_template(const hl_resource *r) { return r && (r->kind || r->is_template); }
const char *hl_resource_name(const hl_resource *r) { return r ? r->name : NULL; }
const char *hl_resource_title(const hl_resource *r) { return r ? r->title : NULL; }
const char *hl_resource_description(const hl_resource *r) { return r ? r->description : NULL; }
const char *hl_resource_mime_type(const hl_resource *r)
{
	return !r ? NULL : r->mime_type ? r->mime_type : "application/json";
}
const char *hl_resource_scope(const hl_resource *r) { return r ? r->scope : NULL; }
const char *hl_resource_kind(const hl_resource *r) { return r ? r->kind : NULL; }

/* The registered entry uri belongs to, or NULL. */
static const struct hl_resource *match_registered(const char *uri)
{
	for (const hl_resource *r = hl_resource_next(&table[NRESOURCES - 1]); r; r = hl_resource_next(r))
		if (r->is_template ? hl_uritmpl__match(r->uri, uri, NULL) == 1 : !strcmp(uri, r->uri))
			return r;
	return NULL;
}

const hl_resource *hl_resource_match(const char *uri, const char **value)
{
	const struct hl_resource *r;

	if (value)
		*value = NULL;
	if (!uri)
		return NULL;
	for (size_t i = 0; i < NRESOURCES; i++) {
		r = &table[i];
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
	/* registered entries come after the built-in ones: none shadows them */
	if ((r = match_registered(uri)) && value && r->is_template)
		*value = uri + strcspn(r->uri, "{");
	return r;
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

/* Is p[0..n) UTF-8 text without a NUL? */
static bool utf8_ok(const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;

	for (size_t i = 0; i < n;) {
		size_t l = u[i] < 0x80 ? (u[i] ? 1 : 0) : hl__utf8_len(u + i, n - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

/* A registered entry's content (text or bytes) into out. */
static int read_registered(hl_buf *out, hl_ctx *ctx, const struct hl_resource *r, const char *uri,
                           const hl_call_options *opts)
{
	hl_buf vars = HL_BUF_INIT, got = HL_BUF_INIT;
	int err;

	if (r->data)
		return hl_buf_set(out, r->data, r->data_len);
	if (r->is_template && (err = hl_uritmpl__match(r->uri, uri, &vars)) != 1)
		return err < 0 ? err : hl__err(HL_ENOTFOUND, HL_ERROR_INVENTORY, "no resource %.200s", uri);
	hl_error_clear();
	err = r->handler(&got, ctx, uri, vars.ptr ? vars.ptr : "{}", opts, r->payload);
	hl_buf_dispose(&vars);
	if (err > 0)
		err = hl__err(HL_ERROR, HL_ERROR_CALLBACK, "resource %s: the read handler returned %d", r->name, err);
	if (err < 0) {
		if (hl__err_code() == HL_OK)
			hl__err(err, HL_ERROR_CALLBACK, "resource %s: the read handler failed", r->name);
		hl_buf_dispose(&got);
		return err;
	}
	if (!(r->flags & HL_RESOURCE_BINARY) && got.size && !utf8_ok(got.ptr, got.size)) {
		hl_buf_dispose(&got);
		return hl__err(HL_ERROR, HL_ERROR_CALLBACK, "resource %s: the read handler's text is not UTF-8", r->name);
	}
	hl_buf_dispose(out);
	*out = got;
	return 0;
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
	if (r->registered)
		return read_registered(out, ctx, r, uri, opts);
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

int hl_resource_contents(hl_buf *out, hl_ctx *ctx, const char *uri, const hl_call_options *opts)
{
	const struct hl_resource *r;
	hl_buf got = HL_BUF_INIT;
	hl_jw w;
	int err;

	if (!out || !ctx || !uri)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_resource_contents: out, ctx and uri are required");
	if (!(r = hl_resource_match(uri, NULL)))
		return hl__err(HL_ENOTFOUND, HL_ERROR_INVENTORY, "no resource %.200s", uri);
	if ((err = hl_resource_read(&got, ctx, uri, opts)) < 0)
		return err;
	hl_buf_dispose(out);
	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	hl_jw__key(&w, "contents");
	hl_jw__arr(&w);
	hl_jw__obj(&w);
	hl_jw__kstr(&w, "uri", uri);
	hl_jw__kstr(&w, "mimeType", hl_resource_mime_type(r));
	if (r->flags & HL_RESOURCE_BINARY) {
		size_t n = sodium_base64_encoded_len(got.size, sodium_base64_VARIANT_ORIGINAL);
		char *b64 = hl__malloc(n);
		if (!b64) {
			hl_buf_dispose(&got);
			hl_buf_dispose(out);
			return HL_ENOMEM;
		}
		sodium_bin2base64(b64, n, (const unsigned char *)(got.ptr ? got.ptr : ""), got.size,
		                  sodium_base64_VARIANT_ORIGINAL);
		hl_jw__kstr(&w, "blob", b64);
		free(b64);
	} else {
		hl_jw__kstr(&w, "text", got.ptr ? got.ptr : "");
	}
	hl_jw__end_obj(&w);
	hl_jw__end_arr(&w);
	hl_jw__end_obj(&w);
	hl_buf_dispose(&got);
	if ((err = hl_jw__finish(&w)) < 0)
		hl_buf_dispose(out);
	return err;
}

/* An absolute URI: scheme ":" and printable ASCII without braces or spaces. */
static bool valid_uri(const char *uri, bool is_template)
{
	const char *p = uri;

	if (!uri || !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) || strlen(uri) > 512)
		return false;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
	       (*p && strchr("+.-", *p)))
		p++;
	if (*p != ':' || !p[1])
		return false;
	for (; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e || (!is_template && (*p == '{' || *p == '}')))
			return false;
	return true;
}

static void free_resource(struct hl_resource *r)
{
	if (!r)
		return;
	free((char *)r->uri);
	free((char *)r->name);
	free((char *)r->title);
	free((char *)r->description);
	free((char *)r->mime_type);
	free((char *)r->scope);
	free(r->data);
	free(r);
}

/* Is the URI or template taken (by a built-in entry or a registered one)? */
static bool uri_taken_locked(const char *uri)
{
	for (size_t i = 0; i < NRESOURCES; i++)
		if (!strcmp(table[i].uri, uri))
			return true;
	for (const struct hl_resource *r = reg_head; r; r = r->next)
		if (!strcmp(r->uri, uri))
			return true;
	return false;
}

int hl_resource_register(const hl_resource **out, const hl_resource_def *def)
{
	struct hl_resource *r;
	bool is_template;
	int sources, err;

	if (out)
		*out = NULL;
	if (!def || def->version != HL_RESOURCE_DEF_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_resource_def: missing, or version not supported");
	is_template = def->uri && strchr(def->uri, '{');
	if (!valid_uri(def->uri, is_template))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "resource URI '%.80s' must be an absolute URI (scheme:...) "
		               "of printable ASCII, at most 512 bytes", def->uri ? def->uri : "(null)");
	if (is_template && (err = hl_uritmpl__check(def->uri, "resource")) < 0)
		return err;
	if (!def->name || !*def->name || strlen(def->name) > 128)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "resource %.80s: name (1 to 128 bytes) is required", def->uri);
	if (!def->scope || !*def->scope)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "resource %.80s: scope is required", def->uri);
	if (def->flags & ~(unsigned)HL_RESOURCE_BINARY)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "resource %.80s: unknown flags 0x%x", def->uri, def->flags);
	sources = !!def->text + !!def->blob + !!def->handler;
	if (sources != 1)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "resource %.80s: give exactly one of text, blob and handler",
		               def->uri);
	if (is_template && !def->handler)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "resource %.80s: a template needs a read handler", def->uri);
	if (def->text && ((def->flags & HL_RESOURCE_BINARY) || !utf8_ok(def->text, strlen(def->text))))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "resource %.80s: text must be UTF-8 (bytes go in blob)",
		               def->uri);
	if (def->mime_type && (!*def->mime_type || strlen(def->mime_type) > 127 || !strchr(def->mime_type, '/')))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "resource %.80s: mime_type '%.80s' is not type/subtype",
		               def->uri, def->mime_type);

	if (!(r = hl__calloc(1, sizeof(*r))))
		return HL_ENOMEM;
	r->registered = true;
	r->is_template = is_template;
	r->flags = def->flags | (def->blob ? HL_RESOURCE_BINARY : 0);
	r->uri = hl__strdup(def->uri);
	r->name = hl__strdup(def->name);
	r->title = hl__strdup(def->title ? def->title : def->name);
	r->description = hl__strdup(def->description);
	r->mime_type = hl__strdup(def->mime_type ? def->mime_type
	                          : (r->flags & HL_RESOURCE_BINARY) ? "application/octet-stream" : "text/plain");
	r->scope = hl__strdup(def->scope);
	r->handler = def->handler;
	r->payload = def->payload;
	if (def->text || def->blob) {
		r->data_len = def->text ? strlen(def->text) : def->blob_len;
		if ((r->data = hl__malloc(r->data_len + 1))) {
			memcpy(r->data, def->text ? (const void *)def->text : def->blob, r->data_len);
			r->data[r->data_len] = '\0';
		}
	}
	if (!r->uri || !r->name || !r->title || (def->description && !r->description) || !r->mime_type || !r->scope ||
	    ((def->text || def->blob) && !r->data)) {
		free_resource(r);
		return HL_ENOMEM;
	}
	pthread_mutex_lock(&reg_lock);
	if (uri_taken_locked(r->uri)) {
		pthread_mutex_unlock(&reg_lock);
		err = hl__err(HL_EEXISTS, HL_ERROR_INVALID, "resource %.80s is already in the table", def->uri);
		free_resource(r);
		return err;
	}
	if (reg_tail)
		reg_tail->next = r;
	else
		reg_head = r;
	reg_tail = r;
	pthread_mutex_unlock(&reg_lock);
	if (out)
		*out = r;
	return 0;
}

/* --------------------------------------------------------- watchers --- */

#define MAX_WATCHERS 8
static struct {
	hl_resource_watch_cb cb;
	void *payload;
} watchers[MAX_WATCHERS];
static int nwatchers;
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;

int hl_resource_watch(hl_resource_watch_cb cb, void *payload)
{
	int err = 0;

	if (!cb)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_resource_watch: cb is required");
	pthread_mutex_lock(&watch_lock);
	if (nwatchers == MAX_WATCHERS) {
		err = hl__err(HL_EFULL, HL_ERROR_INVALID, "hl_resource_watch: at most %d watchers", MAX_WATCHERS);
	} else {
		watchers[nwatchers].cb = cb;
		watchers[nwatchers++].payload = payload;
	}
	pthread_mutex_unlock(&watch_lock);
	return err;
}

void hl_resource_notify_updated(const char *uri)
{
	int n;

	if (!uri || !*uri)
		return;
	pthread_mutex_lock(&watch_lock);
	n = nwatchers;
	pthread_mutex_unlock(&watch_lock);
	/* entries are never removed nor changed once counted */
	for (int i = 0; i < n; i++)
		watchers[i].cb(uri, watchers[i].payload);
}
