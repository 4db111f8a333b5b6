/*
 * registry.c: the tool table: built-in tools from tools.def, then tools
 * registered at run time by programs linking libhomelab; enumeration,
 * metadata, argument validation and calls.
 */
#include "registry.h"
#include "schema.h"
#include "../db.h"

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct hl_tool {
	const char *name, *title, *description, *input_schema, *output_schema, *scope;
	unsigned int flags;
	hl_tool__fn fn;          /* built-in tools */
	hl_tool_handler handler; /* registered tools */
	void *payload;
	struct hl_tool *next;    /* registered tools, in order */
};

static const struct hl_tool builtin[] = {
#define HL_TOOL(n, title, scope, flags, desc, in, out) \
	{ #n, title, desc, in, out, scope, flags, hl_tool__##n, NULL, NULL, NULL },
#include "tools.def"
#undef HL_TOOL
};
#define NBUILTIN (sizeof(builtin) / sizeof(builtin[0]))

/* The questions asked before destructive tools run (HL_CONFIRM in tools.def). */
static const struct {
	const char *name, *question;
} confirm_questions[] = {
#define HL_TOOL(n, title, scope, flags, desc, in, out)
#define HL_CONFIRM(n, question) { #n, question },
#include "tools.def"
#undef HL_CONFIRM
#undef HL_TOOL
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hl_tool *reg_head, *reg_tail;
static size_t reg_count;

static bool is_builtin(const hl_tool *t)
{
	return t >= builtin && t < builtin + NBUILTIN;
}

const hl_tool *hl_tool_next(const hl_tool *prev)
{
	const hl_tool *next;

	if (!prev)
		return builtin;
	if (is_builtin(prev) && prev + 1 < builtin + NBUILTIN)
		return prev + 1;
	pthread_mutex_lock(&reg_lock);
	next = is_builtin(prev) ? reg_head : prev->next;
	pthread_mutex_unlock(&reg_lock);
	return next;
}

const hl_tool *hl_tool_lookup(const char *name)
{
	if (!name)
		return NULL;
	for (const hl_tool *t = hl_tool_next(NULL); t; t = hl_tool_next(t))
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

size_t hl_tool_count(void)
{
	size_t n;

	pthread_mutex_lock(&reg_lock);
	n = NBUILTIN + reg_count;
	pthread_mutex_unlock(&reg_lock);
	return n;
}

const char *hl_tool_name(const hl_tool *t)
{
	return t ? t->name : NULL;
}

const char *hl_tool_title(const hl_tool *t)
{
	return t ? t->title : NULL;
}

const char *hl_tool_description(const hl_tool *t)
{
	return t ? t->description : NULL;
}

const char *hl_tool_input_schema(const hl_tool *t)
{
	return t ? t->input_schema : NULL;
}

const char *hl_tool_output_schema(const hl_tool *t)
{
	return t ? t->output_schema : NULL;
}

const char *hl_tool_scope(const hl_tool *t)
{
	return t ? t->scope : NULL;
}

unsigned int hl_tool_flags(const hl_tool *t)
{
	return t ? t->flags : 0;
}

/* The parsed input schema of tool t: a built-in tool's is parsed once per
 * context and kept there (parsing it was a third of a small call's
 * argument handling); a registered tool's is parsed for each call (*owned
 * set). ctx may be NULL (hl_tool_validate). */
static int input_schema(struct json_object **out, bool *owned, hl_ctx *ctx, const hl_tool *t)
{
	struct json_object **slot;
	int err;

	*owned = !ctx || !is_builtin(t);
	if (*owned)
		return hl_json__parse(out, t->input_schema, strlen(t->input_schema), t->name);
	if (!ctx->tool_schemas && !(ctx->tool_schemas = hl__calloc(NBUILTIN, sizeof(*ctx->tool_schemas))))
		return HL_ENOMEM;
	slot = &ctx->tool_schemas[t - builtin];
	if (!*slot && (err = hl_json__parse_with(ctx->json_tok, slot, t->input_schema, strlen(t->input_schema),
	                                         t->name)) < 0)
		return err;
	*out = *slot;
	return 0;
}

void hl_tool__ctx_free(hl_ctx *ctx)
{
	if (ctx->tool_schemas)
		for (size_t i = 0; i < NBUILTIN; i++)
			json_object_put(ctx->tool_schemas[i]);
	free(ctx->tool_schemas);
	ctx->tool_schemas = NULL;
	if (ctx->json_tok)
		json_tokener_free(ctx->json_tok);
	ctx->json_tok = NULL;
}

/* Parse args_json (NULL or blank = {}) and check it against the schema.
 * With a context, its tokener and parsed schemas are used (ctx may be
 * NULL). */
static int parse_args(struct json_object **out, hl_ctx *ctx, const hl_tool *t, const char *args_json)
{
	struct json_object *args = NULL, *schema = NULL;
	const char *p = args_json;
	bool owned = true;
	int err;

	*out = NULL;
	if (ctx && !ctx->json_tok)
		ctx->json_tok = json_tokener_new_ex(HL_JSON_DEPTH); /* NULL: a new one each time */
	while (p && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if (!p || !*p) {
		if (!(args = json_object_new_object()))
			return hl__oom();
	} else if ((err = hl_json__parse_with(ctx ? ctx->json_tok : NULL, &args, args_json, strlen(args_json),
	                                      "arguments")) < 0) {
		return err;
	}
	/* JSON null parses to NULL: it is not an object either. */
	if (!args || !json_object_is_type(args, json_type_object)) {
		json_object_put(args);
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "arguments: must be a JSON object");
	}
	if ((err = input_schema(&schema, &owned, ctx, t)) < 0 ||
	    (err = hl_schema__validate(schema, args, "arguments")) < 0) {
		if (owned)
			json_object_put(schema);
		json_object_put(args);
		return err;
	}
	if (owned)
		json_object_put(schema);
	*out = args;
	return 0;
}

int hl_tool_validate(const hl_tool *t, const char *args_json)
{
	struct json_object *args;
	int err;

	if (!t)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_tool_validate: tool is NULL");
	err = parse_args(&args, NULL, t, args_json);
	json_object_put(args);
	return err;
}

/* A registered handler returned text: it must be one JSON object. */
static int check_result_text(const hl_tool *t, hl_buf *text)
{
	struct json_object *r = NULL;
	int err;

	if (!text->ptr)
		return hl__err(HL_ERROR, HL_ERROR_TOOL, "tool %s returned no result", t->name);
	if ((err = hl_json__parse(&r, text->ptr, text->size, "result")) < 0) {
		/* Copy the parser's message first: it lives in the buffer that
		 * hl__err() is about to overwrite. */
		char why[256];
		snprintf(why, sizeof(why), "%s", hl_error_last()->message);
		return hl__err(HL_ERROR, HL_ERROR_TOOL, "tool %s returned invalid JSON: %s", t->name, why);
	}
	if (!r || !json_object_is_type(r, json_type_object))
		err = hl__err(HL_ERROR, HL_ERROR_TOOL, "tool %s returned a JSON %s, not an object", t->name,
		              json_type_to_name(json_object_get_type(r)));
	json_object_put(r);
	return err;
}

/* Run a statement without results (BEGIN, COMMIT) from the context's cache
 * of prepared statements: sqlite3_exec() would compile it on every call.
 * No error is left behind: false only says it did not happen. */
static bool step_cached(hl_ctx *ctx, const char *sql)
{
	sqlite3_stmt *st = NULL;
	bool ok;

	if (hl_db__stmt(ctx, &st, sql) < 0) {
		hl_error_clear();
		return false;
	}
	ok = sqlite3_step(st) == SQLITE_DONE;
	hl_db__release(ctx, st);
	return ok;
}

/* ----------------------------------------------------- confirmation --- */

/* Append an argument's value to the question: text as it is (control
 * characters but newlines and tabs shown as '?'), cut after 2000 bytes. */
static int put_value(hl_buf *q, struct json_object *v, bool length)
{
	const char *text;
	size_t n;

	if (length)
		return hl_buf__printf(q, "%d", v && json_object_is_type(v, json_type_string) ? json_object_get_string_len(v)
		                                                                       : 0);
	text = v ? json_object_get_string(v) : "(none)";
	n = strlen(text);
	for (size_t i = 0; i < n && i < 2000; i++) {
		char c = text[i];
		if ((unsigned char)c < 0x20 && c != '\n' && c != '\t')
			c = '?';
		if (hl_buf__printf(q, "%c", c) < 0)
			return HL_ENOMEM;
	}
	return n > 2000 ? hl_buf__printf(q, "... (%zu more bytes not shown)", n - 2000) : 0;
}

/* The question for tool t with these arguments. */
static int confirm_question(hl_buf *q, const hl_tool *t, struct json_object *args)
{
	const char *tmpl = NULL;
	int err = 0;

	for (size_t i = 0; i < sizeof(confirm_questions) / sizeof(confirm_questions[0]); i++)
		if (!strcmp(confirm_questions[i].name, t->name))
			tmpl = confirm_questions[i].question;
	if (!tmpl)
		return hl_buf__printf(q, "Allow the tool %s (%s)? It may change or destroy things.", t->title, t->name);
	for (const char *p = tmpl; *p && err == 0; p++) {
		const char *end = *p == '{' ? strchr(p, '}') : NULL;
		char name[64];
		struct json_object *v = NULL;
		bool length = false;
		if (!end || end - p - 1 >= (long)sizeof(name)) {
			err = hl_buf__printf(q, "%c", *p);
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(end - p - 1), p + 1);
		if (strchr(name, ':')) {
			length = !strcmp(strchr(name, ':'), ":length");
			*strchr(name, ':') = '\0';
		}
		if (!json_object_object_get_ex(args, name, &v) && !strcmp(name, "target")) {
			const char *def = getenv("HOMELAB_DEFAULT_TARGET");
			err = hl_buf__printf(q, "%s", def && *def ? def : "whisper");
		} else {
			err = put_value(q, v, length);
		}
		p = end;
	}
	return err;
}

/* A confirmation that did not end in yes, on the record (best effort:
 * nothing ran either way). */
static void audit_confirm(hl_ctx *ctx, const hl_tool *t, const hl_call_options *opts, const char *action,
                          const char *result, const char *details)
{
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;
	int code = hl_error_last()->code, klass = hl_error_last()->klass;
	char why[600];

	snprintf(why, sizeof(why), "%s", hl_error_last()->message);
	ev.action = action;
	ev.result = result;
	ev.target_type = "tool";
	ev.target_id = t->name;
	ev.principal = opts->principal;
	ev.client_addr = opts->client_addr;
	ev.details = details;
	hl_audit_record(ctx, &ev);
	hl__err(code, klass, "%s", why); /* the reason, not the audit's */
}

/* Before a destructive tool runs: ask the person when the policy says so.
 * 0: go on; HL_EDECLINED (no, or dismissed), HL_EAUTH (must ask, cannot),
 * or what asking failed with; nothing runs then. */
static int confirm(hl_ctx *ctx, const hl_tool *t, struct json_object *args, const hl_call_options *opts)
{
	hl_buf q = HL_BUF_INIT, answer = HL_BUF_INIT;
	int r;

	if (!(t->flags & HL_TOOL_DESTRUCTIVE) || opts->confirm == HL_CONFIRM_OFF)
		return 0;
	if (!opts->elicit && opts->confirm != HL_CONFIRM_REQUIRED)
		return 0; /* HL_CONFIRM_AUTO: a caller that cannot ask runs the tool, as before */
	if ((r = confirm_question(&q, t, args)) < 0) {
		hl_buf_dispose(&q);
		return r;
	}
	if (!opts->elicit) {
		r = hl__err(HL_EAUTH, HL_ERROR_TOOL, "%s changes or destroys things and the person must confirm it first, "
		            "but this client cannot ask (it has no elicitation): nothing was run", t->name);
		audit_confirm(ctx, t, opts, "confirm_failed", "refused", q.ptr);
		hl_buf_dispose(&q);
		return r;
	}
	r = hl_tool_elicit(&answer, opts, q.ptr, NULL);
	hl_buf_dispose(&answer);
	if (r < 0) {
		char why[400];
		snprintf(why, sizeof(why), "%s", hl_error_last()->message);
		r = hl__err(r, HL_ERROR_TOOL, "%s: could not ask the person (%s): nothing was run", t->name, why);
		audit_confirm(ctx, t, opts, "confirm_failed", "error", q.ptr);
	} else if (r == HL_ELICIT_DECLINE) {
		r = hl__err(HL_EDECLINED, HL_ERROR_TOOL, "declined by the person: nothing was run");
		audit_confirm(ctx, t, opts, "confirm_declined", "declined", q.ptr);
	} else if (r == HL_ELICIT_CANCEL) {
		r = hl__err(HL_EDECLINED, HL_ERROR_TOOL, "cancelled by the person: nothing was run");
		audit_confirm(ctx, t, opts, "confirm_cancelled", "cancelled", q.ptr);
	} else {
		r = 0;
	}
	hl_buf_dispose(&q);
	return r;
}

int hl_tool_call(hl_buf *out, hl_ctx *ctx, const hl_tool *t, const char *args_json, const hl_call_options *opts)
{
	hl_call_options defaults = HL_CALL_OPTIONS_INIT;
	struct json_object *args = NULL;
	hl_buf text = HL_BUF_INIT;
	int err;

	if (!out || !ctx || !t)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_tool_call: out, ctx and tool are required");
	if (!opts)
		opts = &defaults;
	if (opts->version == 1 || opts->version == 2) {
		/* version 1 ended before the log fields, version 2 before elicit:
		 * read only what it has; the rest keeps its defaults */
		memcpy(&defaults, opts, opts->version == 1 ? offsetof(hl_call_options, log)
		                                          : offsetof(hl_call_options, elicit));
		defaults.version = HL_CALL_OPTIONS_VERSION;
		opts = &defaults;
	} else if (opts->version != HL_CALL_OPTIONS_VERSION) {
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_call_options version %u is not supported", opts->version);
	}
	if ((err = parse_args(&args, ctx, t, args_json)) < 0)
		return err;
	if ((err = confirm(ctx, t, args, opts)) < 0) {
		json_object_put(args);
		return err;
	}

	hl_error_clear();
	/* A built-in tool that only reads the inventory (read-only, not audited,
	 * no network) runs in one read transaction: its queries see one
	 * snapshot, and SQLite takes its locks once instead of once per
	 * statement (homelab_lookup_ip ran 4 statements, each its own
	 * transaction). The transaction ends before the result is returned, so
	 * nothing stays open between calls. Not when the caller has one open. */
	bool one_read = t->fn && ctx->db && (t->flags & (HL_TOOL_READONLY | HL_TOOL_AUDITED | HL_TOOL_OPEN_WORLD)) ==
	                HL_TOOL_READONLY && sqlite3_get_autocommit(ctx->db) && step_cached(ctx, "BEGIN");
	if (t->fn) {
		err = t->fn(&text, ctx, args, opts);
		if (one_read && !sqlite3_get_autocommit(ctx->db))
			step_cached(ctx, "COMMIT");
		if (one_read && !sqlite3_get_autocommit(ctx->db))
			sqlite3_exec(ctx->db, "ROLLBACK", NULL, NULL, NULL);
		if (err > 0)
			err = HL_ERROR;
		if (err == 0 && (!text.ptr || text.ptr[0] != '{'))
			err = hl__err(HL_ERROR, HL_ERROR_TOOL, "tool %s returned no object", t->name);
	} else {
		const char *canon = json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN);
		err = t->handler(&text, ctx, canon, opts, t->payload);
		if (err > 0)
			err = HL_ERROR;
		if (err == 0)
			err = check_result_text(t, &text);
	}
	if (err < 0 && hl__err_code() == HL_OK)
		hl__err(err, HL_ERROR_TOOL, "tool %s failed: %s", t->name, hl_strerror(err));
	json_object_put(args);
	if (err < 0) {
		hl_buf_dispose(&text);
		return err;
	}
	hl_buf_dispose(out);
	*out = text;
	return 0;
}

static const char *const log_levels[] = { "debug", "info", "notice", "warning", "error", "critical", "alert",
	                                       "emergency" };

const char *hl_log_level_name(int level)
{
	return level >= 0 && level < (int)(sizeof(log_levels) / sizeof(log_levels[0])) ? log_levels[level] : NULL;
}

int hl_log_level_parse(const char *name)
{
	for (int i = 0; name && i < (int)(sizeof(log_levels) / sizeof(log_levels[0])); i++)
		if (!strcmp(name, log_levels[i]))
			return i;
	return -1;
}

static void vlog(const hl_call_options *opts, hl_log_level level, const char *logger, const char *fmt, va_list ap)
{
	char msg[512];

	if (!opts || opts->version < 2 || !opts->log || level < opts->log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	hl__utf8_scrub(msg);
	for (char *c = msg; *c; c++)
		if ((unsigned char)*c < 0x20)
			*c = ' '; /* one line */
	opts->log(level, logger ? logger : "tool", msg, opts->log_payload);
}

void hl_tool__log(const hl_call_options *opts, hl_log_level level, const char *logger, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(opts, level, logger, fmt, ap);
	va_end(ap);
}

void hl_tool_log(const hl_call_options *opts, hl_log_level level, const char *logger, const char *fmt, ...)
{
	va_list ap;

	if (!fmt)
		return;
	va_start(ap, fmt);
	vlog(opts, level, logger, fmt, ap);
	va_end(ap);
}

/* Does opts (of any accepted version) have the version 3 fields? */
static bool has_v3(const hl_call_options *opts)
{
	return opts && opts->version >= 3;
}

int hl_tool_elicit(hl_buf *content, const hl_call_options *opts, const char *message, const char *schema_json)
{
	hl_buf answer = HL_BUF_INIT;
	int r;

	if (!content || !message || !*message)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_tool_elicit: content and a message are required");
	if (!has_v3(opts) || !opts->elicit)
		return hl__err(HL_EUNSUPPORTED, HL_ERROR_CALLBACK, "the person cannot be asked: the client does not "
		               "support elicitation");
	hl_error_clear();
	r = opts->elicit(&answer, message, schema_json, opts->client_payload);
	if (r < 0) {
		hl_buf_dispose(&answer);
		if (hl__err_code() == HL_OK)
			hl__err(r, HL_ERROR_CALLBACK, "asking the person failed: %s", hl_strerror(r));
		return r;
	}
	if (r > HL_ELICIT_CANCEL) {
		hl_buf_dispose(&answer);
		return hl__err(HL_ERROR, HL_ERROR_CALLBACK, "the elicit callback returned %d, not an hl_elicit_action",
		               r);
	}
	if (r == HL_ELICIT_ACCEPT && !answer.ptr && hl_buf_set(&answer, "{}", 2) < 0) {
		hl_buf_dispose(&answer);
		return hl__oom();
	}
	if (r != HL_ELICIT_ACCEPT)
		hl_buf_dispose(&answer);
	hl_buf_dispose(content);
	*content = answer;
	return r;
}

int hl_tool_sample(hl_buf *result, const hl_call_options *opts, const char *params_json)
{
	hl_buf answer = HL_BUF_INIT;
	int r;

	if (!result || !params_json || !*params_json)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_tool_sample: result and params_json are required");
	if (!has_v3(opts) || !opts->sample)
		return hl__err(HL_EUNSUPPORTED, HL_ERROR_CALLBACK, "the client's model cannot be asked: the client does "
		               "not support sampling");
	hl_error_clear();
	r = opts->sample(&answer, params_json, opts->client_payload);
	if (r > 0)
		r = HL_ERROR;
	if (r == 0 && !answer.ptr)
		r = hl__err(HL_ERROR, HL_ERROR_CALLBACK, "the sample callback returned no result");
	if (r < 0) {
		hl_buf_dispose(&answer);
		if (hl__err_code() == HL_OK)
			hl__err(r, HL_ERROR_CALLBACK, "sampling failed: %s", hl_strerror(r));
		return r;
	}
	hl_buf_dispose(result);
	*result = answer;
	return 0;
}

int hl_tool_should_stop(const hl_call_options *opts)
{
	return has_v3(opts) && opts->should_stop && opts->should_stop(opts->client_payload) ? 1 : 0;
}

int hl_tool_progress(const hl_call_options *opts, double completed, double total, const char *message)
{
	if (opts && opts->progress) {
		hl_progress p = { .message = message, .completed = completed, .total = total };
		if (opts->progress(&p, opts->payload))
			return hl__err(HL_EUSER, HL_ERROR_CALLBACK, "stopped: the progress callback asked to stop");
	}
	if (hl_tool_should_stop(opts))
		return hl__err(HL_EUSER, HL_ERROR_CALLBACK, "stopped: the caller asked to stop");
	return 0;
}

static bool valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > 64)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-'))
			return false;
	return true;
}

/* Is name taken? The caller holds reg_lock. */
static bool name_taken_locked(const char *name)
{
	for (size_t i = 0; i < NBUILTIN; i++)
		if (!strcmp(builtin[i].name, name))
			return true;
	for (const struct hl_tool *t = reg_head; t; t = t->next)
		if (!strcmp(t->name, name))
			return true;
	return false;
}

static void free_tool(struct hl_tool *t)
{
	if (!t)
		return;
	free((char *)t->name);
	free((char *)t->title);
	free((char *)t->description);
	free((char *)t->input_schema);
	free((char *)t->output_schema);
	free((char *)t->scope);
	free(t);
}

int hl_tool_register(const hl_tool **out, const hl_tool_def *def)
{
	struct hl_tool *t;
	int err;

	if (out)
		*out = NULL;
	if (!def || def->version != HL_TOOL_DEF_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_TOOL, "hl_tool_def: missing, or version not supported");
	if (!valid_name(def->name))
		return hl__err(HL_EINVALID, HL_ERROR_TOOL, "tool name '%.80s' must match ^[a-zA-Z0-9_-]{1,64}$",
		               def->name ? def->name : "(null)");
	if (!def->description || !*def->description)
		return hl__err(HL_EINVALID, HL_ERROR_TOOL, "tool %s: description is required", def->name);
	if (!def->scope || !*def->scope)
		return hl__err(HL_EINVALID, HL_ERROR_TOOL, "tool %s: scope is required", def->name);
	if (!def->handler)
		return hl__err(HL_EINVALID, HL_ERROR_TOOL, "tool %s: handler is required", def->name);
	if (def->input_schema && (err = hl_schema__check(def->input_schema, "input_schema")) < 0)
		return err;
	if (def->output_schema && (err = hl_schema__check(def->output_schema, "output_schema")) < 0)
		return err;

	if (!(t = hl__calloc(1, sizeof(*t))))
		return HL_ENOMEM;
	t->name = hl__strdup(def->name);
	t->title = hl__strdup(def->title ? def->title : def->name);
	t->description = hl__strdup(def->description);
	t->input_schema = hl__strdup(def->input_schema ? def->input_schema
	                                               : "{\"type\":\"object\",\"additionalProperties\":false}");
	t->output_schema = hl__strdup(def->output_schema ? def->output_schema : "{\"type\":\"object\"}");
	t->scope = hl__strdup(def->scope);
	t->flags = def->flags;
	t->handler = def->handler;
	t->payload = def->payload;
	if (!t->name || !t->title || !t->description || !t->input_schema || !t->output_schema || !t->scope) {
		free_tool(t);
		return HL_ENOMEM;
	}

	pthread_mutex_lock(&reg_lock);
	if (name_taken_locked(def->name)) {
		pthread_mutex_unlock(&reg_lock);
		free_tool(t);
		return hl__err(HL_EEXISTS, HL_ERROR_TOOL, "tool %s is already in the table", def->name);
	}
	if (reg_tail)
		reg_tail->next = t;
	else
		reg_head = t;
	reg_tail = t;
	reg_count++;
	pthread_mutex_unlock(&reg_lock);
	if (out)
		*out = t;
	return 0;
}
