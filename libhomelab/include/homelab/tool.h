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
	HL_TOOL_MUTATES = 1u << 6      /**< changes state: front ends confirm before calling */
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
} hl_call_options;

#define HL_CALL_OPTIONS_VERSION 2
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
