/*
 * homelab/tool.h: the tool table.
 *
 * Every tool (name, description, JSON input and output schemas, annotations,
 * scope, handler) is declared once, in the library. The MCP daemon, the CLI
 * and the Python binding enumerate this table instead of declaring tools of
 * their own. Arguments and results cross the API as JSON text; a result is
 * always a JSON object.
 */
#ifndef HOMELAB_TOOL_H
#define HOMELAB_TOOL_H

#include "common.h"
#include "buf.h"
#include "ctx.h"

HL_BEGIN_DECL

typedef struct hl_tool hl_tool;

/** Tool flags (MCP annotations and behaviour). */
enum {
	HL_TOOL_READONLY = 1u << 0,    /**< does not change anything (readOnlyHint) */
	HL_TOOL_DESTRUCTIVE = 1u << 1, /**< may destroy or overwrite (destructiveHint) */
	HL_TOOL_IDEMPOTENT = 1u << 2,  /**< repeating it has no further effect (idempotentHint) */
	HL_TOOL_OPEN_WORLD = 1u << 3,  /**< talks to the world outside the inventory (openWorldHint) */
	HL_TOOL_AUDITED = 1u << 4,     /**< every call is written to the audit log */
	HL_TOOL_PROGRESS = 1u << 5,    /**< reports progress through hl_call_options.progress */
	HL_TOOL_MUTATES = 1u << 6,     /**< changes state: front ends confirm before calling */
	/** the result object is an MCP tool result, passed through as it is:
	 *  {"content": [{"type": "text"|"image"|"audio"|"resource"|"resource_link", ...}, ...],
	 *   "isError"?: bool, "structuredContent"?: {...}}; output_schema, if given, describes
	 *  structuredContent (NULL: the tool declares none) */
	HL_TOOL_CONTENT = 1u << 7
};

/** A progress report from a long-running tool. */
typedef struct {
	const char *message; /**< what is happening now; may be NULL */
	double completed;    /**< units done */
	double total;        /**< units in all; 0 when unknown */
} hl_progress;

/** Progress callback: return non-zero to stop the tool, which then returns HL_EUSER. */
typedef int (*hl_progress_cb)(const hl_progress *progress, void *payload);

/** Severities of a tool's log messages (RFC 5424, as MCP's logging names them). */
typedef enum {
	HL_LOG_DEBUG = 0,
	HL_LOG_INFO,
	HL_LOG_NOTICE,
	HL_LOG_WARNING,
	HL_LOG_ERROR,
	HL_LOG_CRITICAL,
	HL_LOG_ALERT,
	HL_LOG_EMERGENCY
} hl_log_level;

/**
 * Log callback: what a tool is doing, for a person watching (the command an
 * SSH tool runs and its exit status, each answer of a health check, the
 * stages of an Ollama pull). logger names the part ("ssh", "health",
 * "ollama"); message is one line of UTF-8, never a secret.
 */
typedef void (*hl_log_cb)(hl_log_level level, const char *logger, const char *message, void *payload);

/** What the person answered to an elicitation (MCP elicitation/create). */
typedef enum { HL_ELICIT_ACCEPT = 0, HL_ELICIT_DECLINE = 1, HL_ELICIT_CANCEL = 2 } hl_elicit_action;

/**
 * Ask the person through the client. message: what is asked (UTF-8); schema_json: the requested schema
 * (an object of primitive properties, MCP's restricted JSON Schema) or NULL for a plain confirmation.
 * On HL_ELICIT_ACCEPT, content receives the answer object as JSON text ("{}" when there is none).
 * @return an hl_elicit_action (>= 0), or a negative hl_error_code after hl_error_set() (client gone,
 *         timed out, client has no elicitation capability)
 */
typedef int (*hl_elicit_cb)(hl_buf *content, const char *message, const char *schema_json, void *payload);

/** Sampling (MCP sampling/createMessage): params_json is the request's params object; result receives the
 *  client's result object as JSON text. 0 or a negative hl_error_code. */
typedef int (*hl_sample_cb)(hl_buf *result, const char *params_json, void *payload);

/** Polled by long-running work (remote commands, pulls, health checks): non-zero means stop now; the tool
 *  then returns HL_EUSER. Must be cheap and thread-safe. */
typedef int (*hl_stop_cb)(void *payload);

typedef enum {
	HL_CONFIRM_AUTO = 0,     /* ask before a destructive tool when elicit is set; otherwise run as before */
	HL_CONFIRM_OFF = 1,      /* never ask */
	HL_CONFIRM_REQUIRED = 2  /* ask; without elicit, a destructive tool is refused (HL_EAUTH, clear message) */
} hl_confirm_policy;

typedef struct {
	unsigned int version;
	hl_progress_cb progress;   /**< NULL: no progress reports */
	void *payload;             /**< passed to progress */
	const char *principal;     /**< who calls, for the audit log; NULL: the context's */
	const char *client_addr;   /**< where the call came from; NULL: "local" */
	int timeout_ms;            /**< 0: the tool's default */
	/* version 2 */
	hl_log_cb log;             /**< NULL: no log messages */
	void *log_payload;         /**< passed to log */
	hl_log_level log_level;    /**< the least severe level log gets (0: debug, everything) */
	/* version 3 */
	hl_elicit_cb elicit;        /**< NULL: the person cannot be asked */
	hl_sample_cb sample;        /**< NULL: no sampling */
	hl_stop_cb should_stop;     /**< NULL: never asked to stop, except through progress's return value */
	void *client_payload;       /**< passed to elicit, sample and should_stop */
	hl_confirm_policy confirm;  /**< asking before a destructive tool (HL_TOOL_DESTRUCTIVE) runs */
} hl_call_options;

/* Version 1 ended before log, version 2 before elicit; hl_tool_call() and the
 * hl_tool_* wrappers read only the fields of the version given. */
#define HL_CALL_OPTIONS_VERSION 3
#define HL_CALL_OPTIONS_INIT { .version = HL_CALL_OPTIONS_VERSION }

/** "debug", "info", ... "emergency"; NULL for a value out of range. */
HL_EXTERN(const char *) hl_log_level_name(int level);
/** The level of a name ("warning"), or -1 when it is not one. */
HL_EXTERN(int) hl_log_level_parse(const char *name);

/**
 * Walk the table: NULL gives the first tool, a tool gives the next one, NULL
 * ends. Built-in tools come first, then registered ones in registration order.
 * Tools live as long as the process.
 */
HL_EXTERN(const hl_tool *) hl_tool_next(const hl_tool *prev);

/** Find a tool by exact name; NULL when there is none (no error is set). */
HL_EXTERN(const hl_tool *) hl_tool_lookup(const char *name);

/** Number of tools in the table. */
HL_EXTERN(size_t) hl_tool_count(void);

/* Metadata getters. Strings are lent for the life of the process; never NULL
 * except where noted. */
HL_EXTERN(const char *) hl_tool_name(const hl_tool *t);
HL_EXTERN(const char *) hl_tool_title(const hl_tool *t);          /**< short human title */
HL_EXTERN(const char *) hl_tool_description(const hl_tool *t);    /**< what it does, for a model */
HL_EXTERN(const char *) hl_tool_input_schema(const hl_tool *t);   /**< JSON Schema text */
HL_EXTERN(const char *) hl_tool_output_schema(const hl_tool *t);  /**< JSON Schema text */
HL_EXTERN(const char *) hl_tool_scope(const hl_tool *t);          /**< "inventory:read", ... */
HL_EXTERN(unsigned int) hl_tool_flags(const hl_tool *t);          /**< HL_TOOL_* */

/**
 * Call a tool. args_json (NULL or "" means {}) is parsed and validated
 * against the input schema first: a bad argument returns HL_EINVALID with a
 * message naming the field ("status: must be one of running, stopped, ...").
 *
 * @param[out] out  the JSON object result; release with hl_buf_dispose().
 *                  Untouched on error.
 * @param opts      NULL for defaults
 * @return 0, HL_EINVALID, or the tool's error (HL_ENOTFOUND, ...)
 */
HL_EXTERN(int) hl_tool_call(hl_buf *out, hl_ctx *ctx, const hl_tool *t,
                            const char *args_json, const hl_call_options *opts);

/**
 * Validate arguments against a tool's input schema without calling it.
 * @return 0 or HL_EINVALID with a message naming the field
 */
HL_EXTERN(int) hl_tool_validate(const hl_tool *t, const char *args_json);

/**
 * Handler of a registered tool. args_json is the validated argument object.
 * Write a JSON object into out with hl_buf_set(), or return a negative
 * hl_error_code after hl_error_set().
 */
typedef int (*hl_tool_handler)(hl_buf *out, hl_ctx *ctx, const char *args_json,
                               const hl_call_options *opts, void *payload);

/*
 * Wrappers for handlers of registered tools (and the library's own): each
 * checks opts (NULL, its version, a NULL callback), so a handler can call
 * them whatever its caller filled in.
 */

/**
 * Ask the person (opts->elicit). See hl_elicit_cb.
 * @return an hl_elicit_action (>= 0); HL_EUNSUPPORTED when the caller cannot
 *         ask (no elicit, options older than version 3); the callback's error
 */
HL_EXTERN(int) hl_tool_elicit(hl_buf *content, const hl_call_options *opts, const char *message,
                              const char *schema_json);

/**
 * Ask the client's model (opts->sample). params_json: a sampling/createMessage
 * params object. result: the client's result object.
 * @return 0; HL_EUNSUPPORTED (no sample, old options); the callback's error
 */
HL_EXTERN(int) hl_tool_sample(hl_buf *result, const hl_call_options *opts, const char *params_json);

/** Non-zero when the caller asked the tool to stop (opts->should_stop); 0 without one. */
HL_EXTERN(int) hl_tool_should_stop(const hl_call_options *opts);

/**
 * Report progress (opts->progress; total 0 when unknown; message may be NULL).
 * @return 0 to go on; HL_EUSER (error set) when the progress callback returned
 *         non-zero or should_stop says stop: the handler should return it
 */
HL_EXTERN(int) hl_tool_progress(const hl_call_options *opts, double completed, double total, const char *message);

/**
 * A log message (opts->log, when level is at least opts->log_level; nothing
 * for options older than version 2). printf-style, made one line of UTF-8;
 * longer than 511 bytes is cut. Never log a secret.
 */
HL_EXTERN(void) hl_tool_log(const hl_call_options *opts, hl_log_level level, const char *logger, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 4, 5)))
#endif
	;

/** A tool to add to the table. Every string is copied. */
typedef struct {
	unsigned int version;
	const char *name;          /**< ^[a-zA-Z0-9_-]{1,64}$, unique */
	const char *title;         /**< NULL: the name */
	const char *description;   /**< required */
	const char *input_schema;  /**< JSON Schema of an object; NULL: no arguments */
	const char *output_schema; /**< NULL: any object */
	const char *scope;         /**< required, e.g. "myapp:read" */
	unsigned int flags;        /**< HL_TOOL_* */
	hl_tool_handler handler;   /**< required */
	void *payload;             /**< passed to handler */
} hl_tool_def;

#define HL_TOOL_DEF_VERSION 1
#define HL_TOOL_DEF_INIT { .version = HL_TOOL_DEF_VERSION }

/**
 * Add a tool to the process-wide table, for programs linking libhomelab.
 * Thread-safe. Registered tools cannot be removed.
 * @param[out] out  the new tool (may be NULL)
 * @return 0, HL_EEXISTS (name taken), HL_EINVALID (bad name or schema, missing field)
 */
HL_EXTERN(int) hl_tool_register(const hl_tool **out, const hl_tool_def *def);

HL_END_DECL

#endif
