/*
 * mcpd.h: what the files of homelab-mcpd share.
 *
 * homelab-mcpd serves libhomelab's tool table over MCP: Streamable HTTP at
 * /mcp, the legacy HTTP+SSE transport at /sse + /messages, and stdio. It
 * uses only the public API of libhomelab (and json-c and CivetWeb): every
 * tool, schema and description comes from the library's table.
 */
#ifndef HOMELAB_MCPD_H
#define HOMELAB_MCPD_H

#include <homelab.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define MCPD_NAME "homelab-mcpd"
#define MCPD_MAX_BODY (4u * 1024 * 1024)
#define MCPD_LATEST_PROTOCOL "2025-11-25"
#define MCPD_LEGACY_PROTOCOL "2024-11-05"

/* JSON-RPC error codes */
enum {
	RPC_PARSE_ERROR = -32700,
	RPC_INVALID_REQUEST = -32600,
	RPC_METHOD_NOT_FOUND = -32601,
	RPC_INVALID_PARAMS = -32602,
	RPC_INTERNAL_ERROR = -32603
};

/* Library contexts: each thread keeps its own (an hl_ctx is used by one
 * thread at a time), so worker threads never share one and never wait for
 * one; a nested borrow comes from the shared free list. pool_destroy() only
 * after every thread that used the pool has stopped. */
struct ctx_pool {
	pthread_mutex_t lock;
	hl_ctx *free[64];
	int nfree;
	hl_ctx *thread[512];  /* the threads' own contexts, freed by pool_destroy() */
	int nthread;
	const char *db_path;
};

hl_ctx *pool_get(struct ctx_pool *p);
void pool_put(struct ctx_pool *p, hl_ctx *ctx);
void pool_destroy(struct ctx_pool *p);

/*
 * The client as the server sees it (peer.c): requests the server sends it
 * and their responses, its requests in flight (for notifications/cancelled)
 * and what it declared at initialize. One per session (HTTP) or per process
 * (stdio).
 */
struct peer_call {
	char id[80];              /* the request id's JSON text */
	bool cancelled;           /* under the peer's lock */
	struct peer_call *next;
};

struct peer {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool gone;                /* the session or connection ended: calls stop */
	bool no_input;            /* nothing more can come from the client (stdio's end of input) */
	bool can_elicit, can_sample;
	unsigned long long next_id;
	struct peer_wait *waits;  /* requests to the client waiting for their response */
	struct peer_call *calls;  /* the client's tool calls running */
};

struct progress_sink;

/* What a tool call's elicit, sample and should_stop callbacks need. */
struct peer_client {
	struct peer *peer;
	struct peer_call *call;
	const struct progress_sink *sink; /* where requests to the client go */
	int timeout_s;
};

void peer_init(struct peer *p);
void peer_destroy(struct peer *p);
/* The session ended: waiting requests fail at once, calls stop. */
void peer_set_gone(struct peer *p);
/* initialize's params: the client's capabilities. */
void peer_set_caps(struct peer *p, struct json_object *params);
/* Did the client declare elicitation (false) or sampling (true), and is it still there? */
bool peer_can(struct peer *p, bool sampling);
/* A response from the client (no method): hand it to the request waiting
 * for its id. false when none waits (late, unknown: dropped). */
bool peer_response(struct peer *p, struct json_object *msg);
/* notifications/cancelled params: flag the call in flight; false when there is none (ignored). */
bool peer_cancel(struct peer *p, struct json_object *params);
void peer_call_begin(struct peer *p, struct peer_call *c, struct json_object *id);
void peer_call_end(struct peer *p, struct peer_call *c);
bool peer_call_cancelled(struct peer *p, struct peer_call *c);
/* hl_call_options callbacks; payload is a struct peer_client. */
int peer_elicit(hl_buf *content, const char *message, const char *schema_json, void *payload);
int peer_sample(hl_buf *result, const char *params_json, void *payload);
int peer_should_stop(void *payload);

/* rpc_handle's status for a call that was cancelled: no answer is sent. */
#define MCPD_CANCELLED 499

/* Who is calling: the token's name (or "anonymous") and the client address. */
struct caller {
	char principal[80];
	char addr[64];
	const struct hl_token *token; /* NULL: no authentication configured */
	bool legacy_ok;               /* may negotiate 2024-11-05 (stdio, /sse), not /mcp */
	_Atomic int *log_level;       /* the session's (logging/setLevel); NULL: none to set, info */
	struct peer *peer;            /* the session's client; NULL: cannot be asked, calls not cancellable */
};

/* The log level of a session that never asked (MCP's logging/setLevel). */
#define MCPD_DEFAULT_LOG_LEVEL HL_LOG_INFO

/* Counters for /metrics: metrics_count() adds with a relaxed atomic, metrics_text() reads them so. */
struct metrics {
	pthread_mutex_t lock;
	uint64_t http_requests[6];  /* by status class: 1xx..5xx, other */
	uint64_t rpc_requests;
	uint64_t tool_calls_ok, tool_calls_error;
	uint64_t auth_refused;
	uint64_t peer_refused;      /* connections cut for their peer's cap */
	uint64_t sessions_created;
};

struct mcpd {
	struct ctx_pool pool;
	struct metrics metrics;
	char *tools_list_all;   /* the tools/list result for callers without a token, built once */
	_Atomic int stopping;    /* set once when the daemon stops; read by every stream */
	hl_confirm_policy confirm; /* --confirm: asking before destructive tools */
	int elicit_timeout_s;    /* --elicit-timeout-s: how long a request to the client may wait */
};

/*
 * Where a transport sends a tool call's progress notifications, log
 * messages and requests to the client (elicitation/create). emit gets the
 * text of one message; it returns false when the client is gone, which
 * stops the tool.
 */
struct progress_sink {
	bool (*emit)(void *payload, const char *notification);
	void *payload;
	/* NULL, or: is the connection that emit writes to still open? (polled
	 * while a request to the client waits, and by should_stop) */
	bool (*alive)(void *payload);
};

/*
 * Handle one JSON-RPC message (already parsed). A tools/call whose params
 * carry _meta.progressToken sends progress through sink (NULL: none). For a request, *reply is a
 * malloc'd JSON-RPC response text; for a notification or a response, *reply
 * is NULL. *version is the session's protocol version: set by initialize.
 * Returns an HTTP-like status: 200, or 403 when the caller's token lacks the
 * tool's scope (the reply then holds the JSON-RPC error).
 */
int rpc_handle(struct mcpd *d, const struct caller *who, struct json_object *msg, char **reply,
               char *version, size_t version_len, const struct progress_sink *sink);

/* Would rpc_handle send progress for msg (a tools/call with a progressToken)? */
bool rpc_wants_progress(struct json_object *msg);
/* May rpc_handle send notifications for msg before its answer (a tools/call:
 * progress, or log messages of the tool)? */
bool rpc_is_tool_call(struct json_object *msg);

/* A JSON-RPC error response text (malloc'd); id may be NULL. */
char *rpc_error(struct json_object *id, int code, const char *message);

/* Build the tools/list result (filtered by a token's scopes, if any). */
char *rpc_tools_list(const struct hl_token *token);

/* Is v one of the protocol versions we speak (2024-11-05 included, for the
 * legacy SSE transport)? */
bool rpc_version_supported(const char *v);
/* ... and one that Streamable HTTP requests may name in MCP-Protocol-Version? */
bool rpc_version_streamable(const char *v);

/* Transports */
int stdio_serve(struct mcpd *d);

/* Parse one JSON value from a NUL-terminated message of len bytes (an HTTP
 * body or a stdio line). false when it is not one JSON value (a parse
 * error); *out may be NULL for the JSON value null. */
bool mcpd_parse(struct json_object **out, const char *text, size_t len);

/* Replace every byte of s that is not part of valid UTF-8 with '?': for
 * messages that quote a header, or cut a quoted value at a buffer's end. */
void mcpd_utf8_scrub(char *s);

/* Is host "localhost" or a literal loopback address (127.0.0.0/8, ::1)?
 * Names are not resolved: "127.example.com" is not loopback. */
bool mcpd_is_loopback(const char *host);

/* Metrics */
void metrics_count(struct metrics *m, uint64_t *counter);
void metrics_text(struct metrics *m, char *buf, size_t len, int sessions, int streams, int max_streams);

#endif
