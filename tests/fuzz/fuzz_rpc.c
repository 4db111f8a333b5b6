/*
 * fuzz_rpc.c: what an MCP client sends homelab-mcpd (an HTTP body or a stdio
 * line), through the daemon's own parser and JSON-RPC handler, against the
 * demo inventory. Properties: a request (an object with an id) gets exactly
 * one reply, a notification none; every reply is one JSON object in valid
 * UTF-8 with "jsonrpc":"2.0" and either a result or an error; progress
 * notifications come only for a call that asked for them (log messages,
 * notifications/message, for any tool call). An input that
 * starts with 'T' is sent by a token that has only inventory:read (the rest
 * anonymously, as without tokens): a call it may not make must never run.
 */
#include "mcpd.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mcpd daemon_state;
static char db_path[256];
static hl_token *narrow; /* inventory:read only */

static void remove_db(void)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char p[300];

	hl_token_free(narrow);
	pool_destroy(&daemon_state.pool);
	free(daemon_state.tools_list_all);
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", db_path, suffix[i]);
		unlink(p);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	hl_ctx_options opts = HL_CTX_OPTIONS_INIT;
	const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	hl_ctx *ctx;

	(void)argc;
	(void)argv;
	snprintf(db_path, sizeof(db_path), "%s/homelab-fuzz-rpc-%ld.db", dir, (long)getpid());
	opts.db_path = db_path;
	if (hl_ctx_open(&ctx, &opts) < 0 || hl_inventory_load_demo(ctx) < 0) {
		fprintf(stderr, "fuzz_rpc: cannot create %s: %s\n", db_path, hl_error_last()->message);
		abort();
	}
	{
		hl_token_spec spec = HL_TOKEN_SPEC_INIT;
		hl_buf secret = HL_BUF_INIT;
		spec.name = "narrow";
		spec.scopes = "inventory:read";
		if (hl_token_create(&secret, NULL, ctx, &spec) < 0 || hl_token_verify(&narrow, ctx, secret.ptr) < 0) {
			fprintf(stderr, "fuzz_rpc: cannot make a token: %s\n", hl_error_last()->message);
			abort();
		}
		hl_buf_dispose(&secret);
	}
	hl_ctx_free(ctx);
	pthread_mutex_init(&daemon_state.pool.lock, NULL);
	pthread_mutex_init(&daemon_state.metrics.lock, NULL);
	daemon_state.pool.db_path = db_path;
	if (!(daemon_state.tools_list_all = rpc_tools_list(NULL)))
		abort();
	atexit(remove_db);
	return 0;
}

static bool valid_utf8(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s++, n, min, cp;
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, min = 0x80, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, min = 0x800, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, min = 0x10000, cp = c & 0x07;
		else
			return false;
		for (unsigned i = 0; i < n; i++, s++) {
			if ((*s & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (*s & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
	}
	return true;
}

static void check_reply(const char *reply)
{
	struct json_object *o = NULL, *v;
	bool ok;

	if (!valid_utf8((const unsigned char *)reply) || !mcpd_parse(&o, reply, strlen(reply)))
		abort();
	ok = json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "jsonrpc", &v) &&
	     !strcmp(json_object_get_string(v), "2.0") &&
	     (json_object_object_get_ex(o, "result", NULL) != json_object_object_get_ex(o, "error", NULL));
	json_object_put(o);
	if (!ok)
		abort();
}

/* Progress goes through the same checks as replies (the demo's services are
 * on loopback ports where nothing listens: a probe is refused at once). */
static bool check_progress(void *payload, const char *notification)
{
	struct json_object *o = NULL, *m;
	bool ok;

	if (!valid_utf8((const unsigned char *)notification) || !mcpd_parse(&o, notification, strlen(notification)))
		abort();
	ok = json_object_object_get_ex(o, "method", &m) &&
	     (!strcmp(json_object_get_string(m), "notifications/progress") ||
	      !strcmp(json_object_get_string(m), "notifications/message"));
	if (ok && !strcmp(json_object_get_string(m), "notifications/progress"))
		(*(int *)payload)++; /* log messages may come for any tool call; progress only when asked */
	json_object_put(o);
	if (!ok)
		abort();
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int notes = 0;
	const struct progress_sink sink = { check_progress, &notes, NULL };
	struct caller who = { .principal = "fuzz", .addr = "127.0.0.1", .legacy_ok = true };
	const hl_tool *tool = NULL;
	struct json_object *msg = NULL, *id;
	char version[32] = "2025-03-26", *text, *reply = NULL;
	bool request;

	int status;

	if (size > 64 * 1024 || !(text = malloc(size + 1)))
		return 0;
	if (size && data[0] == 'T') {
		who.token = narrow;
		data++, size--;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	if (mcpd_parse(&msg, text, size)) {
		struct json_object *method, *params, *name;
		request = json_object_is_type(msg, json_type_object) && json_object_object_get_ex(msg, "id", &id) &&
		          json_object_object_get_ex(msg, "method", NULL);
		/* a tools/call naming a tool the narrow token may not call */
		if (request && json_object_object_get_ex(msg, "method", &method) &&
		    !strcmp(json_object_get_string(method), "tools/call") &&
		    json_object_object_get_ex(msg, "params", &params) && json_object_is_type(params, json_type_object) &&
		    json_object_object_get_ex(params, "name", &name) && json_object_is_type(name, json_type_string))
			tool = hl_tool_lookup(json_object_get_string(name));
		status = rpc_handle(&daemon_state, &who, msg, &reply, version, sizeof(version), &sink);
		/* a call the token may not make never runs: no result, no progress,
		 * and a refusal is -32003 with status 403 */
		if (who.token && tool && !hl_token_allows(who.token, hl_tool_scope(tool)) &&
		    (notes || (reply && strstr(reply, "\"result\":"))))
			abort();
		if (reply && strstr(reply, "\"code\":-32003") && status != 403)
			abort();
		if (notes && !rpc_wants_progress(msg))
			abort(); /* progress only for a call that asked for it */
		if (request && !reply)
			abort();
		if (reply)
			check_reply(reply);
		free(reply);
		json_object_put(msg);
	}
	free(text);
	return 0;
}
