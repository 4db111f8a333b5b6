/*
 * rpc.c: MCP over JSON-RPC, independent of the transport: initialize,
 * ping, tools/list and tools/call, all answered from libhomelab's tool
 * table. Replies are built as text; json-c trees never cross threads.
 */
#include "mcpd.h"
#include "content.h"
#include "subscribe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2024-11-05 is the legacy HTTP+SSE transport's version; its clients ask
 * for it and get it. */
static const char *const versions[] = { "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL };

bool rpc_version_streamable(const char *v)
{
	return rpc_version_supported(v) && strcmp(v, MCPD_LEGACY_PROTOCOL) != 0;
}

bool rpc_version_supported(const char *v)
{
	for (int i = 0; versions[i]; i++)
		if (v && !strcmp(v, versions[i]))
			return true;
	return false;
}

static char *dup_json(struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	return s ? strdup(s) : NULL;
}

/* {"jsonrpc":"2.0","id":ID,"result":RESULT} around a result already in text. */
static char *wrap_result(struct json_object *id, const char *result)
{
	const char *ids = id ? json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN) : "null";
	size_t n = strlen(ids) + strlen(result) + 48;
	char *out = malloc(n);

	if (out)
		snprintf(out, n, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":%s}", ids, result);
	return out;
}

char *rpc_error(struct json_object *id, int code, const char *message)
{
	struct json_object *o = json_object_new_object(), *e = json_object_new_object();
	char text[600], *out;

	snprintf(text, sizeof(text), "%s", message);
	mcpd_utf8_scrub(text);
	message = text;

	json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(o, "id", id ? json_object_get(id) : NULL);
	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message", json_object_new_string(message));
	json_object_object_add(o, "error", e);
	out = dup_json(o);
	json_object_put(o);
	return out;
}

static bool token_allows(const struct hl_token *t, const hl_tool *tool)
{
	return !t || hl_token_allows(t, hl_tool_scope(tool));
}

char *rpc_tools_list(const struct hl_token *token)
{
	struct json_object *res = json_object_new_object(), *arr = json_object_new_array();
	char *out;

	for (const hl_tool *t = hl_tool_next(NULL); t; t = hl_tool_next(t)) {
		struct json_object *o, *ann;
		unsigned f = hl_tool_flags(t);
		if (!token_allows(token, t))
			continue;
		o = json_object_new_object();
		ann = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(hl_tool_name(t)));
		json_object_object_add(o, "title", json_object_new_string(hl_tool_title(t)));
		json_object_object_add(o, "description", json_object_new_string(hl_tool_description(t)));
		json_object_object_add(o, "inputSchema", json_tokener_parse(hl_tool_input_schema(t)));
		if (content_output_schema(t))
			json_object_object_add(o, "outputSchema", json_tokener_parse(content_output_schema(t)));
		json_object_object_add(ann, "title", json_object_new_string(hl_tool_title(t)));
		json_object_object_add(ann, "readOnlyHint", json_object_new_boolean(!!(f & HL_TOOL_READONLY)));
		json_object_object_add(ann, "destructiveHint", json_object_new_boolean(!!(f & HL_TOOL_DESTRUCTIVE)));
		json_object_object_add(ann, "idempotentHint", json_object_new_boolean(!!(f & HL_TOOL_IDEMPOTENT)));
		json_object_object_add(ann, "openWorldHint", json_object_new_boolean(!!(f & HL_TOOL_OPEN_WORLD)));
		json_object_object_add(o, "annotations", ann);
		json_object_array_add(arr, o);
	}
	json_object_object_add(res, "tools", arr);
	out = dup_json(res);
	json_object_put(res);
	return out;
}

/* tools/list answers for tokens, by their scopes: the list depends on
 * nothing else, and building it (every schema parsed with json-c) cost more
 * than the rest of the request. A few scope sets, kept until exit. */
#define LIST_CACHE 8
static struct {
	char *scopes;
	char *list;
} list_cache[LIST_CACHE];
static int list_cache_n;
static pthread_mutex_t list_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static char *tools_list_reply(struct json_object *id, const struct hl_token *t)
{
	char *reply = NULL, *list, *scopes;

	pthread_mutex_lock(&list_cache_lock);
	for (int i = 0; i < list_cache_n; i++)
		if (!strcmp(list_cache[i].scopes, t->scopes)) {
			reply = wrap_result(id, list_cache[i].list);
			pthread_mutex_unlock(&list_cache_lock);
			return reply;
		}
	pthread_mutex_unlock(&list_cache_lock);
	if (!(list = rpc_tools_list(t)))
		return NULL;
	reply = wrap_result(id, list);
	pthread_mutex_lock(&list_cache_lock);
	if (list_cache_n < LIST_CACHE && (scopes = strdup(t->scopes))) {
		list_cache[list_cache_n].scopes = scopes;
		list_cache[list_cache_n++].list = list;
		list = NULL;
	}
	pthread_mutex_unlock(&list_cache_lock);
	free(list);
	return reply;
}

static char *do_initialize(const struct caller *who, struct json_object *id, struct json_object *params,
                           char *version, size_t version_len)
{
	struct json_object *pv = NULL, *res, *caps, *tools, *info;
	const char *asked = NULL;
	char *out, *text;

	if (params && json_object_object_get_ex(params, "protocolVersion", &pv))
		asked = json_object_get_string(pv);
	/* Answer with the client's version when we speak it on this transport,
	 * else our latest (the client then decides whether it can go on). */
	snprintf(version, version_len, "%s",
	         rpc_version_streamable(asked) || (who->legacy_ok && rpc_version_supported(asked)) ? asked
	                                                                                        : MCPD_LATEST_PROTOCOL);
	res = json_object_new_object();
	caps = json_object_new_object();
	tools = json_object_new_object();
	info = json_object_new_object();
	json_object_object_add(res, "protocolVersion", json_object_new_string(version));
	json_object_object_add(tools, "listChanged", json_object_new_boolean(0));
	json_object_object_add(caps, "tools", tools);
	json_object_object_add(caps, "logging", json_object_new_object());
	{
		struct json_object *resources = json_object_new_object(), *prompts = json_object_new_object();
		json_object_object_add(resources, "listChanged", json_object_new_boolean(0));
		json_object_object_add(resources, "subscribe", json_object_new_boolean(1));
		json_object_object_add(prompts, "listChanged", json_object_new_boolean(0));
		json_object_object_add(caps, "resources", resources);
		json_object_object_add(caps, "prompts", prompts);
		json_object_object_add(caps, "completions", json_object_new_object());
	}
	json_object_object_add(res, "capabilities", caps);
	json_object_object_add(info, "name", json_object_new_string(MCPD_NAME));
	json_object_object_add(info, "title", json_object_new_string("libhomelab"));
	json_object_object_add(info, "version", json_object_new_string(hl_version()));
	json_object_object_add(res, "serverInfo", info);
	json_object_object_add(res, "instructions", json_object_new_string(
		"Tools for a homelab: its inventory of VMs, Proxmox hosts, services and IP addresses, "
		"service health checks, credentials (audited) and the audit log."));
	text = dup_json(res);
	json_object_put(res);
	out = text ? wrap_result(id, text) : NULL;
	free(text);
	return out;
}

/* text as a quoted JSON string (malloc'd). The library's results are valid
 * UTF-8: only quotes, backslashes and control characters need escaping.
 * Built here, not with json-c, so that a result carrying a secret leaves no
 * copy behind in memory json-c would free unwiped. */
static char *quote_json(const char *text, size_t *len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 2;
	char *out, *p;

	for (const unsigned char *c = (const unsigned char *)text; *c; c++)
		n += *c == '"' || *c == '\\' ? 2 : *c < 0x20 ? 6 : 1;
	if (!(out = malloc(n + 1)))
		return NULL;
	p = out;
	*p++ = '"';
	for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
		if (*c == '"' || *c == '\\') {
			*p++ = '\\';
			*p++ = (char)*c;
		} else if (*c < 0x20) {
			memcpy(p, "\\u00", 4);
			p[4] = hex[*c >> 4];
			p[5] = hex[*c & 15];
			p += 6;
		} else {
			*p++ = (char)*c;
		}
	}
	*p++ = '"';
	*p = '\0';
	*len = n;
	return out;
}

/* A tool result: the JSON object both as text content (Open WebUI reads only
 * that) and as structuredContent. */
static char *tool_result(const char *json, bool is_error)
{
	size_t elen = 0, n;
	char *esc = quote_json(json, &elen), *out;

	if (!esc)
		return NULL;
	n = elen + (is_error ? 0 : strlen(json)) + 96;
	if ((out = malloc(n))) {
		if (is_error)
			snprintf(out, n, "{\"content\":[{\"type\":\"text\",\"text\":%s}],\"isError\":true}", esc);
		else
			snprintf(out, n, "{\"content\":[{\"type\":\"text\",\"text\":%s}],\"structuredContent\":%s,"
			         "\"isError\":false}", esc, json);
	}
	explicit_bzero(esc, elen);
	free(esc);
	return out;
}

/* params._meta.progressToken (a string or an integer), or NULL. */
static struct json_object *progress_token(struct json_object *params)
{
	struct json_object *meta, *tok;

	if (!params || !json_object_object_get_ex(params, "_meta", &meta) ||
	    !json_object_is_type(meta, json_type_object) || !json_object_object_get_ex(meta, "progressToken", &tok))
		return NULL;
	return json_object_is_type(tok, json_type_string) || json_object_is_type(tok, json_type_int) ? tok : NULL;
}

bool rpc_is_tool_call(struct json_object *msg)
{
	struct json_object *method;

	return json_object_is_type(msg, json_type_object) && json_object_object_get_ex(msg, "method", &method) &&
	       json_object_is_type(method, json_type_string) && !strcmp(json_object_get_string(method), "tools/call") &&
	       json_object_object_get_ex(msg, "id", NULL);
}

bool rpc_wants_progress(struct json_object *msg)
{
	struct json_object *method, *params;

	return json_object_is_type(msg, json_type_object) && json_object_object_get_ex(msg, "method", &method) &&
	       json_object_is_type(method, json_type_string) && !strcmp(json_object_get_string(method), "tools/call") &&
	       json_object_object_get_ex(msg, "id", NULL) && json_object_object_get_ex(msg, "params", &params) &&
	       progress_token(params) != NULL;
}

struct progress_ctx {
	const struct progress_sink *sink;
	struct json_object *token;
	bool gone; /* the client left while a log message went out */
};

/* hl_call_options.log: one notifications/message per message. */
static void send_log(hl_log_level level, const char *logger, const char *message, void *payload)
{
	struct progress_ctx *pc = payload;
	struct json_object *o = json_object_new_object(), *params = json_object_new_object();
	char *text;

	json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(o, "method", json_object_new_string("notifications/message"));
	json_object_object_add(params, "level", json_object_new_string(hl_log_level_name(level)));
	json_object_object_add(params, "logger", json_object_new_string(logger));
	json_object_object_add(params, "data", json_object_new_string(message));
	json_object_object_add(o, "params", params);
	text = dup_json(o);
	json_object_put(o);
	if (!pc->gone && (!text || !pc->sink->emit(pc->sink->payload, text)))
		pc->gone = true;
	free(text);
}

/* hl_call_options.progress: one notifications/progress message per report. */
static int send_progress(const hl_progress *p, void *payload)
{
	struct progress_ctx *pc = payload;
	struct json_object *o = json_object_new_object(), *params = json_object_new_object();
	char *text;
	bool ok;

	json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(o, "method", json_object_new_string("notifications/progress"));
	json_object_object_add(params, "progressToken", json_object_get(pc->token));
	json_object_object_add(params, "progress", json_object_new_double(p->completed));
	if (p->total > 0)
		json_object_object_add(params, "total", json_object_new_double(p->total));
	if (p->message) {
		char msg[300];
		snprintf(msg, sizeof(msg), "%s", p->message);
		mcpd_utf8_scrub(msg);
		json_object_object_add(params, "message", json_object_new_string(msg));
	}
	json_object_object_add(o, "params", params);
	text = dup_json(o);
	json_object_put(o);
	ok = text && !pc->gone && pc->sink->emit(pc->sink->payload, text);
	free(text);
	return ok ? 0 : 1; /* the client is gone: stop the tool */
}

/* A token without a tool's scope was refused: on the record, whatever the
 * transport (best effort: the refusal stands either way). The token holder
 * is known, so every one is written. */
static void audit_refusal(struct mcpd *d, const struct caller *who, const char *type, const char *name,
                          const char *msg)
{
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;
	hl_ctx *ctx = pool_get(&d->pool);

	if (!ctx)
		return;
	ev.action = "auth_refused";
	ev.result = "refused";
	ev.principal = who->principal;
	ev.client_addr = who->addr;
	ev.target_type = type;
	ev.target_id = name;
	ev.details = msg;
	hl_audit_record(ctx, &ev);
	pool_put(&d->pool, ctx);
}

static char *do_tools_call(struct mcpd *d, const struct caller *who, struct json_object *id,
                           struct json_object *params, int *status, const struct progress_sink *sink)
{
	struct progress_ctx pc = { sink, progress_token(params), false };
	struct json_object *name = NULL, *args = NULL;
	hl_call_options opts = HL_CALL_OPTIONS_INIT;
	struct peer_call call;
	struct peer_client client = { who->peer, &call, sink, d->elicit_timeout_s };
	bool cancelled = false;
	hl_buf out = HL_BUF_INIT;
	const hl_tool *t;
	hl_ctx *ctx;
	char *result, *reply, msg[512];
	int err;

	if (!params || !json_object_object_get_ex(params, "name", &name) || !json_object_is_type(name, json_type_string))
		return rpc_error(id, RPC_INVALID_PARAMS, "tools/call: params.name (a string) is required");
	if (!(t = hl_tool_lookup(json_object_get_string(name)))) {
		snprintf(msg, sizeof(msg), "Unknown tool: %.200s", json_object_get_string(name));
		return rpc_error(id, RPC_INVALID_PARAMS, msg);
	}
	if (json_object_object_get_ex(params, "arguments", &args) && args &&
	    !json_object_is_type(args, json_type_object))
		return rpc_error(id, RPC_INVALID_PARAMS, "tools/call: params.arguments must be an object");
	if (!token_allows(who->token, t)) {
		snprintf(msg, sizeof(msg), "token '%s' lacks the scope %s that tool %s needs", who->principal,
		         hl_tool_scope(t), hl_tool_name(t));
		metrics_count(&d->metrics, &d->metrics.auth_refused);
		audit_refusal(d, who, "tool", hl_tool_name(t), msg);
		*status = 403;
		return rpc_error(id, -32003, msg);
	}
	if (!(ctx = pool_get(&d->pool))) {
		snprintf(msg, sizeof(msg), "cannot open the inventory: %s", hl_error_last()->message);
		return rpc_error(id, RPC_INTERNAL_ERROR, msg);
	}
	opts.principal = who->principal;
	opts.client_addr = who->addr;
	if (sink && pc.token && (hl_tool_flags(t) & HL_TOOL_PROGRESS)) {
		opts.progress = send_progress;
		opts.payload = &pc;
	}
	if (sink) {
		opts.log = send_log;
		opts.log_payload = &pc;
		opts.log_level = who->log_level ? (hl_log_level)*who->log_level : MCPD_DEFAULT_LOG_LEVEL;
	}
	/* the client: asked before destructive tools (when it can be asked: it
	 * declared elicitation, and this call has a stream to ask on), and a
	 * notifications/cancelled for this id stops the tool */
	opts.confirm = d->confirm;
	if (who->peer) {
		peer_call_begin(who->peer, &call, id);
		opts.should_stop = peer_should_stop;
		opts.client_payload = &client;
		if (sink && peer_can(who->peer, false))
			opts.elicit = peer_elicit;
		if (sink && peer_can(who->peer, true))
			opts.sample = peer_sample;
	}
	err = hl_tool_call(&out, ctx, t, args ? json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN) : NULL,
	                   &opts);
	if (who->peer) {
		cancelled = peer_call_cancelled(who->peer, &call);
		peer_call_end(who->peer, &call);
	}
	if (cancelled) {
		/* the client gave up on this request: it gets no answer */
		pool_put(&d->pool, ctx);
		hl_buf_dispose(&out);
		*status = MCPD_CANCELLED;
		return NULL;
	}
	if (err < 0) {
		/* a tool failure is a result the model can read and act on */
		snprintf(msg, sizeof(msg), "%s", hl_error_last()->message);
		mcpd_utf8_scrub(msg);
		result = tool_result(msg, true);
		metrics_count(&d->metrics, &d->metrics.tool_calls_error);
	} else if (hl_tool_flags(t) & HL_TOOL_CONTENT) {
		bool failed;
		result = content_tool_result(t, out.ptr, &failed);
		metrics_count(&d->metrics, failed ? &d->metrics.tool_calls_error : &d->metrics.tool_calls_ok);
	} else {
		result = tool_result(out.ptr, false);
		metrics_count(&d->metrics, &d->metrics.tool_calls_ok);
	}
	pool_put(&d->pool, ctx);
	hl_buf_dispose(&out);
	if (!result)
		return rpc_error(id, RPC_INTERNAL_ERROR, "out of memory");
	reply = wrap_result(id, result);
	/* the result may carry a secret (homelab_get_credentials) */
	explicit_bzero(result, strlen(result));
	free(result);
	return reply;
}

/* ------------------------------------------- resources, prompts, completion --- */

#define RPC_RESOURCE_NOT_FOUND -32002
#define RESOURCES_PAGE 100

/* A JSON-RPC result from a json-c tree (taken). */
static char *result_of(struct json_object *id, struct json_object *res)
{
	char *text = dup_json(res), *out;

	json_object_put(res);
	out = text ? wrap_result(id, text) : NULL;
	free(text);
	return out;
}

static bool scope_allows(const struct caller *who, const char *scope)
{
	return !who->token || hl_token_allows(who->token, scope);
}

static struct json_object *resource_entry(const char *uri, const char *name, const char *title,
                                          const char *description, bool is_template, const char *mime)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, is_template ? "uriTemplate" : "uri", json_object_new_string(uri));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "title", json_object_new_string(title));
	if (description)
		json_object_object_add(o, "description", json_object_new_string(description));
	json_object_object_add(o, "mimeType", json_object_new_string(mime));
	return o;
}

/* prefix + name with what a URI path segment cannot hold percent-encoded */
static void uri_of(char *out, size_t size, const char *prefix, const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = (size_t)snprintf(out, size, "%s", prefix);

	for (const unsigned char *c = (const unsigned char *)name; *c && n + 4 < size; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		    strchr("-._~:@!$&'()*+,;=", *c)) {
			out[n++] = (char)*c;
		} else {
			out[n++] = '%';
			out[n++] = hex[*c >> 4];
			out[n++] = hex[*c & 15];
		}
	}
	out[n] = '\0';
}

/* Every resource the caller may read: the fixed ones, then one per VM, host
 * and service; a page of RESOURCES_PAGE from the offset in the cursor. */
static char *do_resources_list(struct mcpd *d, const struct caller *who, struct json_object *id,
                               struct json_object *params)
{
	struct json_object *cur = NULL, *res, *arr;
	long offset = 0, at = 0;
	hl_ctx *ctx;

	if (params && json_object_object_get_ex(params, "cursor", &cur) && cur) {
		const char *c = json_object_get_string(cur);
		char *end;
		offset = json_object_is_type(cur, json_type_string) ? strtol(c, &end, 10) : -1;
		if (!json_object_is_type(cur, json_type_string) || !*c || *end || offset < 0)
			return rpc_error(id, RPC_INVALID_PARAMS, "resources/list: not a cursor this server gave");
	}
	if (!(ctx = pool_get(&d->pool)))
		return rpc_error(id, RPC_INTERNAL_ERROR, "cannot open the inventory");
	res = json_object_new_object();
	arr = json_object_new_array();
	for (const hl_resource *r = hl_resource_next(NULL); r; r = hl_resource_next(r)) {
		if (!scope_allows(who, hl_resource_scope(r)))
			continue;
		if (!hl_resource_is_template(r)) {
			if (at++ >= offset && json_object_array_length(arr) < RESOURCES_PAGE)
				json_object_array_add(arr, resource_entry(hl_resource_uri(r), hl_resource_name(r),
				                                          hl_resource_title(r), hl_resource_description(r), false,
				                                          hl_resource_mime_type(r)));
			continue;
		}
		if (!hl_resource_kind(r)) /* a registered template: nothing to enumerate */
			continue;
		hl_buf names = HL_BUF_INIT;
		struct json_object *root = NULL, *values;
		if (hl_complete(&names, ctx, hl_resource_kind(r), NULL, NULL, (size_t)-1) == 0 &&
		    (root = json_tokener_parse(names.ptr)) && json_object_object_get_ex(root, "values", &values)) {
			const char *tmpl = hl_resource_uri(r);
			char prefix[128], uri[600], title[300];
			snprintf(prefix, sizeof(prefix), "%.*s", (int)(strchr(tmpl, '{') - tmpl), tmpl);
			for (size_t i = 0; i < json_object_array_length(values); i++) {
				const char *name = json_object_get_string(json_object_array_get_idx(values, i));
				if (at++ < offset || json_object_array_length(arr) >= RESOURCES_PAGE)
					continue;
				uri_of(uri, sizeof(uri), prefix, name);
				snprintf(title, sizeof(title), "%s %.200s", hl_resource_title(r), name);
				json_object_array_add(arr, resource_entry(uri, name, title, NULL, false, hl_resource_mime_type(r)));
			}
		}
		json_object_put(root);
		hl_buf_dispose(&names);
	}
	pool_put(&d->pool, ctx);
	json_object_object_add(res, "resources", arr);
	if (at > offset + RESOURCES_PAGE) {
		char next[32];
		snprintf(next, sizeof(next), "%ld", offset + RESOURCES_PAGE);
		json_object_object_add(res, "nextCursor", json_object_new_string(next));
	}
	return result_of(id, res);
}

static char *do_resource_templates(const struct caller *who, struct json_object *id)
{
	struct json_object *res = json_object_new_object(), *arr = json_object_new_array();

	for (const hl_resource *r = hl_resource_next(NULL); r; r = hl_resource_next(r))
		if (hl_resource_is_template(r) && scope_allows(who, hl_resource_scope(r)))
			json_object_array_add(arr, resource_entry(hl_resource_uri(r), hl_resource_name(r), hl_resource_title(r),
			                                          hl_resource_description(r), true, hl_resource_mime_type(r)));
	json_object_object_add(res, "resourceTemplates", arr);
	return result_of(id, res);
}

/* The resource params.uri names, which the caller may read: NULL with *uri
 * set, or the error answer (bad params, not found, scope refused: audited). */
static char *resource_of(struct mcpd *d, const struct caller *who, struct json_object *id,
                         struct json_object *params, const char *method, const char **uri, int *status)
{
	struct json_object *u = NULL;
	const hl_resource *r;
	char msg[512];

	if (!params || !json_object_object_get_ex(params, "uri", &u) || !json_object_is_type(u, json_type_string)) {
		snprintf(msg, sizeof(msg), "%s: params.uri (a string) is required", method);
		return rpc_error(id, RPC_INVALID_PARAMS, msg);
	}
	*uri = json_object_get_string(u);
	if (!(r = hl_resource_match(*uri, NULL))) {
		snprintf(msg, sizeof(msg), "Resource not found: %.300s", *uri);
		return rpc_error(id, RPC_RESOURCE_NOT_FOUND, msg);
	}
	if (!scope_allows(who, hl_resource_scope(r))) {
		snprintf(msg, sizeof(msg), "token '%s' lacks the scope %s that resource %s needs", who->principal,
		         hl_resource_scope(r), hl_resource_name(r));
		metrics_count(&d->metrics, &d->metrics.auth_refused);
		audit_refusal(d, who, "resource", hl_resource_name(r), msg);
		*status = 403;
		return rpc_error(id, -32003, msg);
	}
	return NULL;
}

static char *do_resources_read(struct mcpd *d, const struct caller *who, struct json_object *id,
                               struct json_object *params, int *status)
{
	hl_call_options opts = HL_CALL_OPTIONS_INIT;
	hl_buf out = HL_BUF_INIT;
	const char *uri = NULL;
	char msg[512], *reply;
	hl_ctx *ctx;
	int err;

	if ((reply = resource_of(d, who, id, params, "resources/read", &uri, status)))
		return reply;
	if (!(ctx = pool_get(&d->pool)))
		return rpc_error(id, RPC_INTERNAL_ERROR, "cannot open the inventory");
	opts.principal = who->principal;
	opts.client_addr = who->addr;
	err = hl_resource_contents(&out, ctx, uri, &opts);
	pool_put(&d->pool, ctx);
	if (err == HL_ENOTFOUND) {
		snprintf(msg, sizeof(msg), "Resource not found: %.300s (%s)", uri, hl_error_last()->message);
		hl_buf_dispose(&out);
		return rpc_error(id, RPC_RESOURCE_NOT_FOUND, msg);
	}
	if (err < 0) {
		snprintf(msg, sizeof(msg), "%s", hl_error_last()->message);
		hl_buf_dispose(&out);
		return rpc_error(id, RPC_INTERNAL_ERROR, msg);
	}
	reply = wrap_result(id, out.ptr);
	hl_buf_dispose(&out);
	return reply;
}

/* resources/subscribe and resources/unsubscribe: the session's
 * subscriptions (subscribe.c) to a resource the caller may read. */
static char *do_subscribe(struct mcpd *d, const struct caller *who, struct json_object *id,
                          struct json_object *params, bool on, int *status)
{
	const char *uri = NULL;
	char *reply;

	if ((reply = resource_of(d, who, id, params, on ? "resources/subscribe" : "resources/unsubscribe", &uri,
	                         status)))
		return reply;
	if (!who->peer)
		return rpc_error(id, RPC_INVALID_REQUEST, "resources/subscribe needs a session");
	subscribe_start();
	if (on ? subscribe_add(who->peer, uri) < 0 : (subscribe_remove(who->peer, uri), 0))
		return rpc_error(id, RPC_INVALID_PARAMS, "resources/subscribe: this session has too many subscriptions");
	return wrap_result(id, "{}");
}

static char *do_prompts_list(struct json_object *id)
{
	struct json_object *res = json_object_new_object(), *arr = json_object_new_array();

	for (const hl_prompt *p = hl_prompt_next(NULL); p; p = hl_prompt_next(p)) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(hl_prompt_name(p)));
		json_object_object_add(o, "title", json_object_new_string(hl_prompt_title(p)));
		json_object_object_add(o, "description", json_object_new_string(hl_prompt_description(p)));
		json_object_object_add(o, "arguments", json_tokener_parse(hl_prompt_arguments(p)));
		json_object_array_add(arr, o);
	}
	json_object_object_add(res, "prompts", arr);
	return result_of(id, res);
}

static char *do_prompts_get(struct json_object *id, struct json_object *params)
{
	struct json_object *name = NULL, *args = NULL;
	const hl_prompt *p;
	hl_buf out = HL_BUF_INIT;
	char msg[400], *reply;

	if (!params || !json_object_object_get_ex(params, "name", &name) || !json_object_is_type(name, json_type_string))
		return rpc_error(id, RPC_INVALID_PARAMS, "prompts/get: params.name (a string) is required");
	if (!(p = hl_prompt_lookup(json_object_get_string(name)))) {
		snprintf(msg, sizeof(msg), "Unknown prompt: %.200s", json_object_get_string(name));
		return rpc_error(id, RPC_INVALID_PARAMS, msg);
	}
	json_object_object_get_ex(params, "arguments", &args);
	if (args && !json_object_is_type(args, json_type_object))
		return rpc_error(id, RPC_INVALID_PARAMS, "prompts/get: params.arguments must be an object");
	if (hl_prompt_get(&out, p, args ? json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN) : NULL) < 0) {
		snprintf(msg, sizeof(msg), "%s", hl_error_last()->message);
		return rpc_error(id, RPC_INVALID_PARAMS, msg);
	}
	reply = wrap_result(id, out.ptr);
	hl_buf_dispose(&out);
	return reply;
}

/* The scope that reveals names of kind. */
static const char *kind_scope(const char *kind)
{
	return !strcmp(kind, "model") ? "ollama:read" : "inventory:read";
}

static char *do_complete(struct mcpd *d, const struct caller *who, struct json_object *id,
                         struct json_object *params)
{
	struct json_object *ref = NULL, *type = NULL, *arg = NULL, *aname = NULL, *avalue = NULL, *ctxo, *cargs;
	const char *kind = NULL, *target = NULL;
	hl_buf out = HL_BUF_INIT;
	char msg[400], *reply;
	hl_ctx *ctx;

	if (!params || !json_object_object_get_ex(params, "ref", &ref) || !json_object_is_type(ref, json_type_object) ||
	    !json_object_object_get_ex(ref, "type", &type) || !json_object_is_type(type, json_type_string) ||
	    !json_object_object_get_ex(params, "argument", &arg) || !json_object_is_type(arg, json_type_object) ||
	    !json_object_object_get_ex(arg, "name", &aname) || !json_object_is_type(aname, json_type_string))
		return rpc_error(id, RPC_INVALID_PARAMS, "completion/complete: params.ref.type and params.argument.name "
		                 "are required");
	json_object_object_get_ex(arg, "value", &avalue);
	if (!strcmp(json_object_get_string(type), "ref/prompt")) {
		struct json_object *pn = NULL;
		const hl_prompt *p = json_object_object_get_ex(ref, "name", &pn) ? hl_prompt_lookup(json_object_get_string(pn))
		                                                                  : NULL;
		if (!p) {
			snprintf(msg, sizeof(msg), "Unknown prompt: %.200s", pn ? json_object_get_string(pn) : "(none)");
			return rpc_error(id, RPC_INVALID_PARAMS, msg);
		}
		kind = hl_prompt_argument_kind(p, json_object_get_string(aname));
		/* an argument with values of its own (a registered prompt's) */
		if (!kind && hl_prompt_complete(&out, NULL, p, json_object_get_string(aname),
		                                avalue && json_object_is_type(avalue, json_type_string) ?
		                                json_object_get_string(avalue) : NULL, NULL, 100) == 0)
			goto answer;
	} else if (!strcmp(json_object_get_string(type), "ref/resource")) {
		struct json_object *u = NULL;
		const char *uri = json_object_object_get_ex(ref, "uri", &u) ? json_object_get_string(u) : NULL;
		const hl_resource *r = NULL;
		for (const hl_resource *x = hl_resource_next(NULL); x && uri; x = hl_resource_next(x))
			if (hl_resource_is_template(x) && !strcmp(hl_resource_uri(x), uri))
				r = x;
		if (!r) {
			snprintf(msg, sizeof(msg), "Unknown resource template: %.200s", uri ? uri : "(none)");
			return rpc_error(id, RPC_INVALID_PARAMS, msg);
		}
		kind = hl_resource_kind(r);
	} else {
		return rpc_error(id, RPC_INVALID_PARAMS, "completion/complete: ref.type must be ref/prompt or ref/resource");
	}
	if (json_object_object_get_ex(params, "context", &ctxo) && json_object_is_type(ctxo, json_type_object) &&
	    json_object_object_get_ex(ctxo, "arguments", &cargs) && json_object_is_type(cargs, json_type_object)) {
		struct json_object *t;
		if (json_object_object_get_ex(cargs, "target", &t) && json_object_is_type(t, json_type_string))
			target = json_object_get_string(t);
	}
	/* free text, or names the caller may not see: nothing to offer */
	if (!kind || !scope_allows(who, kind_scope(kind)))
		return wrap_result(id, "{\"completion\":{\"values\":[],\"total\":0,\"hasMore\":false}}");
	if (!(ctx = pool_get(&d->pool)))
		return rpc_error(id, RPC_INTERNAL_ERROR, "cannot open the inventory");
	if (hl_complete(&out, ctx, kind, avalue && json_object_is_type(avalue, json_type_string) ?
	                json_object_get_string(avalue) : NULL, target, 100) < 0) {
		pool_put(&d->pool, ctx);
		/* an Ollama that does not answer in time offers nothing, not an
		 * error; the inventory failing is one, with its reason */
		if (!strcmp(kind, "model"))
			return wrap_result(id, "{\"completion\":{\"values\":[],\"total\":0,\"hasMore\":false}}");
		snprintf(msg, sizeof(msg), "completion/complete: %s", hl_error_last()->message);
		return rpc_error(id, RPC_INTERNAL_ERROR, msg);
	}
	pool_put(&d->pool, ctx);
answer:
	{
		size_t n = strlen(out.ptr) + 32;
		char *res = malloc(n);
		if (!res) {
			hl_buf_dispose(&out);
			return rpc_error(id, RPC_INTERNAL_ERROR, "out of memory");
		}
		snprintf(res, n, "{\"completion\":%s}", out.ptr);
		reply = wrap_result(id, res);
		free(res);
	}
	hl_buf_dispose(&out);
	return reply;
}

/* logging/setLevel: the least severe level of the tool log messages this
 * session gets. */
static char *do_set_level(const struct caller *who, struct json_object *id, struct json_object *params)
{
	struct json_object *l = NULL;
	int level;
	char msg[200];

	if (!params || !json_object_object_get_ex(params, "level", &l) || !json_object_is_type(l, json_type_string))
		return rpc_error(id, RPC_INVALID_PARAMS, "logging/setLevel: params.level (a string) is required");
	if ((level = hl_log_level_parse(json_object_get_string(l))) < 0) {
		snprintf(msg, sizeof(msg), "logging/setLevel: unknown level '%.40s' (debug, info, notice, warning, error, "
		         "critical, alert, emergency)", json_object_get_string(l));
		return rpc_error(id, RPC_INVALID_PARAMS, msg);
	}
	if (who->log_level)
		*who->log_level = level;
	return wrap_result(id, "{}");
}

int rpc_handle(struct mcpd *d, const struct caller *who, struct json_object *msg, char **reply,
               char *version, size_t version_len, const struct progress_sink *sink)
{
	struct json_object *jv = NULL, *method = NULL, *id = NULL, *params = NULL;
	bool has_id;
	const char *m;
	int status = 200;
	char text[300];

	*reply = NULL;
	metrics_count(&d->metrics, &d->metrics.rpc_requests);
	if (!json_object_is_type(msg, json_type_object)) {
		*reply = rpc_error(NULL, RPC_INVALID_REQUEST, "a JSON-RPC message must be an object");
		return 200;
	}
	has_id = json_object_object_get_ex(msg, "id", &id);
	if (!json_object_object_get_ex(msg, "jsonrpc", &jv) || !json_object_is_type(jv, json_type_string) ||
	    strcmp(json_object_get_string(jv), "2.0") != 0) {
		*reply = rpc_error(has_id ? id : NULL, RPC_INVALID_REQUEST, "jsonrpc must be \"2.0\"");
		return 200;
	}
	if (!json_object_object_get_ex(msg, "method", &method)) {
		/* a response from the client, to a request of a tool call that
		 * waits for it (elicitation/create, ...); nothing to answer */
		if (json_object_object_get_ex(msg, "result", NULL) || json_object_object_get_ex(msg, "error", NULL)) {
			if (who->peer)
				peer_response(who->peer, msg);
			return 202;
		}
		*reply = rpc_error(has_id ? id : NULL, RPC_INVALID_REQUEST, "method is required");
		return 200;
	}
	if (!json_object_is_type(method, json_type_string)) {
		*reply = rpc_error(has_id ? id : NULL, RPC_INVALID_REQUEST, "method must be a string");
		return 200;
	}
	if (has_id && !json_object_is_type(id, json_type_string) && !json_object_is_type(id, json_type_int)) {
		*reply = rpc_error(NULL, RPC_INVALID_REQUEST, "id must be a string or an integer");
		return 200;
	}
	m = json_object_get_string(method);
	json_object_object_get_ex(msg, "params", &params);
	if (params && !json_object_is_type(params, json_type_object)) {
		if (has_id)
			*reply = rpc_error(id, RPC_INVALID_PARAMS, "params must be an object");
		return has_id ? 200 : 202;
	}
	if (!has_id) {
		/* notifications need no answer; cancelled stops a call in flight
		 * (an unknown or finished one is ignored) */
		if (!strcmp(m, "notifications/cancelled") && who->peer)
			peer_cancel(who->peer, params);
		return 202;
	}

	if (!strcmp(m, "initialize")) {
		*reply = do_initialize(who, id, params, version, version_len);
		if (who->peer)
			peer_set_caps(who->peer, params);
	}
	else if (!strcmp(m, "ping"))
		*reply = wrap_result(id, "{}");
	else if (!strcmp(m, "tools/list"))
		*reply = who->token ? tools_list_reply(id, who->token) : wrap_result(id, d->tools_list_all);
	else if (!strcmp(m, "tools/call"))
		*reply = do_tools_call(d, who, id, params, &status, sink);
	else if (!strcmp(m, "resources/list"))
		*reply = do_resources_list(d, who, id, params);
	else if (!strcmp(m, "resources/templates/list"))
		*reply = do_resource_templates(who, id);
	else if (!strcmp(m, "resources/read"))
		*reply = do_resources_read(d, who, id, params, &status);
	else if (!strcmp(m, "resources/subscribe"))
		*reply = do_subscribe(d, who, id, params, true, &status);
	else if (!strcmp(m, "resources/unsubscribe"))
		*reply = do_subscribe(d, who, id, params, false, &status);
	else if (!strcmp(m, "prompts/list"))
		*reply = do_prompts_list(id);
	else if (!strcmp(m, "prompts/get"))
		*reply = do_prompts_get(id, params);
	else if (!strcmp(m, "completion/complete"))
		*reply = do_complete(d, who, id, params);
	else if (!strcmp(m, "logging/setLevel"))
		*reply = do_set_level(who, id, params);
	else {
		snprintf(text, sizeof(text), "Method not found: %.200s", m);
		*reply = rpc_error(id, RPC_METHOD_NOT_FOUND, text);
	}
	if (!*reply && status != MCPD_CANCELLED)
		*reply = rpc_error(id, RPC_INTERNAL_ERROR, "out of memory");
	return status;
}
