/*
 * tools_ollama.c: the ollama_* tools: a target VM's Ollama models (list,
 * running, show, pull, delete, copy, create). The HTTP client is ollama.c;
 * changes are audited (fail closed) before their request is sent.
 */
#include "registry.h"
#include "audit.h"
#include "ollama.h"

#include <math.h>
#include <stdio.h>

/* Start a result object with the target and endpoint every tool names. */
static void begin(hl_jw *w, hl_buf *out, const hl_ollama__conn *c)
{
	hl_jw__init(w, out);
	hl_jw__obj(w);
	hl_jw__kstr(w, "target", c->target);
	hl_jw__kstr(w, "endpoint", c->endpoint);
}

static int open_conn(hl_ollama__conn *c, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	return hl_ollama__open(c, ctx, hl_json__get_str(args, "target"), opts->timeout_ms);
}

/* Parse an answer that must be a JSON object. */
static int parse_answer(struct json_object **out, const hl_ollama__conn *c, const hl_buf *body, const char *what)
{
	struct json_tokener *tok;

	*out = NULL;
	if (!(tok = json_tokener_new()))
		return hl__oom();
	if (body->ptr)
		*out = json_tokener_parse_ex(tok, body->ptr, (int)body->size);
	json_tokener_free(tok);
	if (!*out || !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		return hl__err(HL_ERROR, HL_ERROR_HTTP, "ollama at %s answered %s with something that is not a JSON "
		               "object", c->endpoint, what);
	}
	return 0;
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *x = NULL;

	if (o && json_object_object_get_ex(o, key, &x))
		return x;
	return NULL;
}

static const char *str_member(struct json_object *o, const char *key)
{
	struct json_object *x = member(o, key);

	return x && json_object_is_type(x, json_type_string) ? json_object_get_string(x) : NULL;
}

static int64_t int_member(struct json_object *o, const char *key)
{
	struct json_object *x = member(o, key);

	if (x && (json_object_is_type(x, json_type_int) || json_object_is_type(x, json_type_double)))
		return json_object_get_int64(x);
	return 0;
}

/* The models array of /api/tags or /api/ps ([] when missing). */
static struct json_object *models_of(struct json_object *o)
{
	struct json_object *m = member(o, "models");

	return m && json_object_is_type(m, json_type_array) ? m : NULL;
}

int hl_tool__ollama_list_models(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	hl_ollama__conn c;
	hl_buf body = HL_BUF_INIT;
	struct json_object *o = NULL, *models;
	size_t n = 0;
	hl_jw w;
	int err;

	if ((err = open_conn(&c, ctx, args, opts)) < 0)
		return err;
	if ((err = hl_ollama__request(&body, &c, "GET", "/api/tags", NULL)) < 0 ||
	    (err = parse_answer(&o, &c, &body, "GET /api/tags")) < 0)
		goto out;
	models = models_of(o);
	begin(&w, out, &c);
	hl_jw__key(&w, "models");
	hl_jw__arr(&w);
	n = models ? json_object_array_length(models) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(models, i), *d = member(m, "details");
		const char *name = str_member(m, "name") ? str_member(m, "name") : str_member(m, "model");
		int64_t size = int_member(m, "size");
		char gb[32];
		hl_jw__obj(&w);
		hl_jw__kstr(&w, "name", name ? name : "");
		/* round(size / 1e9, 2), as the seed server computes it */
		snprintf(gb, sizeof(gb), "%.2f", (double)size / 1e9);
		hl_jw__kdouble(&w, "size_gb", strtod(gb, NULL));
		hl_jw__kstr(&w, "modified", str_member(m, "modified_at"));
		hl_jw__kint(&w, "size_bytes", size);
		hl_jw__kstr(&w, "digest", str_member(m, "digest"));
		hl_jw__kstr(&w, "family", str_member(d, "family"));
		hl_jw__kstr(&w, "parameter_size", str_member(d, "parameter_size"));
		hl_jw__kstr(&w, "quantization", str_member(d, "quantization_level"));
		hl_jw__end_obj(&w);
	}
	hl_jw__end_arr(&w);
	hl_jw__kint(&w, "count", (int64_t)n);
	hl_jw__end_obj(&w);
	err = hl_jw__finish(&w);
out:
	json_object_put(o);
	hl_buf_dispose(&body);
	hl_ollama__close(&c);
	return err;
}

int hl_tool__ollama_running_models(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	hl_ollama__conn c;
	hl_buf body = HL_BUF_INIT;
	struct json_object *o = NULL, *models;
	size_t n;
	hl_jw w;
	int err;

	if ((err = open_conn(&c, ctx, args, opts)) < 0)
		return err;
	if ((err = hl_ollama__request(&body, &c, "GET", "/api/ps", NULL)) < 0 ||
	    (err = parse_answer(&o, &c, &body, "GET /api/ps")) < 0)
		goto out;
	models = models_of(o);
	begin(&w, out, &c);
	hl_jw__key(&w, "models");
	hl_jw__arr(&w);
	n = models ? json_object_array_length(models) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(models, i);
		const char *name = str_member(m, "name") ? str_member(m, "name") : str_member(m, "model");
		hl_jw__obj(&w);
		hl_jw__kstr(&w, "name", name ? name : "");
		hl_jw__kint(&w, "size", int_member(m, "size"));
		hl_jw__kint(&w, "size_vram", int_member(m, "size_vram"));
		hl_jw__kstr(&w, "expires_at", str_member(m, "expires_at"));
		hl_jw__kint_or_null(&w, "context_length", int_member(m, "context_length"));
		hl_jw__end_obj(&w);
	}
	hl_jw__end_arr(&w);
	hl_jw__kint(&w, "count", (int64_t)n);
	hl_jw__end_obj(&w);
	err = hl_jw__finish(&w);
out:
	json_object_put(o);
	hl_buf_dispose(&body);
	hl_ollama__close(&c);
	return err;
}

/* A small JSON body: {"k1":"v1","k2":"v2"} (v NULL ends). */
static int body2(hl_buf *out, const char *k1, const char *v1, const char *k2, const char *v2)
{
	hl_jw w;

	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	hl_jw__kstr(&w, k1, v1);
	if (k2)
		hl_jw__kstr(&w, k2, v2);
	hl_jw__end_obj(&w);
	return hl_jw__finish(&w);
}

int hl_tool__ollama_show_model(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	const char *model = hl_json__get_str(args, "model_name");
	hl_ollama__conn c;
	hl_buf req = HL_BUF_INIT, body = HL_BUF_INIT;
	struct json_object *o = NULL, *x;
	hl_jw w;
	int err;

	if ((err = open_conn(&c, ctx, args, opts)) < 0)
		return err;
	if ((err = body2(&req, "model", model, NULL, NULL)) < 0 ||
	    (err = hl_ollama__request(&body, &c, "POST", "/api/show", req.ptr)) < 0 ||
	    (err = parse_answer(&o, &c, &body, "POST /api/show")) < 0)
		goto out;
	begin(&w, out, &c);
	hl_jw__kstr(&w, "model", model);
	hl_jw__kstr(&w, "modelfile", str_member(o, "modelfile"));
	hl_jw__kstr(&w, "parameters", str_member(o, "parameters"));
	hl_jw__kstr(&w, "template", str_member(o, "template"));
	hl_jw__kstr(&w, "system", str_member(o, "system"));
	hl_jw__kstr(&w, "license", str_member(o, "license"));
	hl_jw__key(&w, "details");
	x = member(o, "details");
	hl_jw__raw(&w, x && json_object_is_type(x, json_type_object)
	                   ? json_object_to_json_string_ext(x, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
	                   : "{}");
	hl_jw__key(&w, "capabilities");
	hl_jw__arr(&w);
	x = member(o, "capabilities");
	if (x && json_object_is_type(x, json_type_array))
		for (size_t i = 0; i < json_object_array_length(x); i++) {
			struct json_object *cap = json_object_array_get_idx(x, i);
			if (json_object_is_type(cap, json_type_string))
				hl_jw__str(&w, json_object_get_string(cap));
		}
	hl_jw__end_arr(&w);
	hl_jw__end_obj(&w);
	err = hl_jw__finish(&w);
out:
	json_object_put(o);
	hl_buf_dispose(&req);
	hl_buf_dispose(&body);
	hl_ollama__close(&c);
	return err;
}

/* ------------------------------------------------------------ changes --- */

/* Audit a change before it is sent: no committed row, no request. */
static int audit_before(const hl_ollama__conn *c, const hl_call_options *opts, const char *action,
                        const char *details)
{
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;
	char msg[400];
	int err;

	ev.action = action;
	ev.result = "requested";
	ev.target_type = "vm";
	ev.target_id = c->target;
	ev.principal = opts->principal;
	ev.client_addr = opts->client_addr;
	ev.details = details;
	if ((err = hl_audit__record(c->ctx, &ev)) < 0) {
		snprintf(msg, sizeof(msg), "%s", hl_error_last()->message);
		return hl__err(err, HL_ERROR_TOOL, "%s on %s not sent: the audit log could not be written: %s", action,
		               c->target, msg);
	}
	hl_tool__log(opts, HL_LOG_INFO, "ollama", "%s on %.64s (%.200s): %.200s", action, c->target, c->endpoint,
	             details);
	return 0;
}

/* Record how it ended (best effort: the change has happened or not either way;
 * the caller's error, if any, is kept). */
static void audit_after(const hl_ollama__conn *c, const hl_call_options *opts, const char *action,
                        const char *details, int err)
{
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;
	hl_buf d = HL_BUF_INIT;
	hl_error saved = *hl_error_last();
	char msg[600];

	snprintf(msg, sizeof(msg), "%s", saved.message);
	ev.action = action;
	ev.result = err == 0 ? "ok" : err == HL_EUSER ? "stopped" : "failed";
	ev.target_type = "vm";
	ev.target_id = c->target;
	ev.principal = opts->principal;
	ev.client_addr = opts->client_addr;
	if (err < 0 && hl_buf__printf(&d, "%s; %s", details, msg) == 0)
		ev.details = d.ptr;
	else
		ev.details = details;
	(void)hl_audit__record(c->ctx, &ev);
	hl_buf_dispose(&d);
	if (err == 0)
		hl_tool__log(opts, HL_LOG_INFO, "ollama", "%s on %.64s: done", action, c->target);
	else
		hl_tool__log(opts, err == HL_EUSER ? HL_LOG_NOTICE : HL_LOG_ERROR, "ollama", "%s on %.64s: %s: %.300s",
		             action, c->target, ev.result, msg);
	if (err < 0)
		hl__err(err, saved.klass, "%s", msg);
}

/* The digest /api/tags lists for model (name, or name:latest); NULL if none. */
static char *listed_digest(hl_ollama__conn *c, const char *model)
{
	hl_buf body = HL_BUF_INIT;
	struct json_object *o = NULL, *models;
	char *digest = NULL, latest[260];
	hl_error saved = *hl_error_last();
	char msg[600];

	snprintf(msg, sizeof(msg), "%s", saved.message);
	snprintf(latest, sizeof(latest), "%s:latest", model);
	if (hl_ollama__request(&body, c, "GET", "/api/tags", NULL) == 0 && parse_answer(&o, c, &body, "tags") == 0 &&
	    (models = models_of(o))) {
		for (size_t i = 0; i < json_object_array_length(models) && !digest; i++) {
			struct json_object *m = json_object_array_get_idx(models, i);
			const char *name = str_member(m, "name");
			if (name && (!strcmp(name, model) || !strcmp(name, latest)) && str_member(m, "digest"))
				digest = hl__strdup(str_member(m, "digest"));
		}
	}
	json_object_put(o);
	hl_buf_dispose(&body);
	hl_error_clear();
	return digest;
}

int hl_tool__ollama_pull_model(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	const char *model = hl_json__get_str(args, "model_name");
	hl_ollama__conn c;
	hl_ollama__stream_result r = { 0 };
	hl_buf req = HL_BUF_INIT, details = HL_BUF_INIT;
	char what[300], *digest = NULL;
	hl_jw w;
	int err;

	if ((err = open_conn(&c, ctx, args, opts)) < 0)
		return err;
	snprintf(what, sizeof(what), "pull of %s", model);
	if ((err = hl_buf__printf(&details, "pull %s from %s", model, c.endpoint)) < 0)
		goto out;
	{
		hl_jw b;
		hl_jw__init(&b, &req);
		hl_jw__obj(&b);
		hl_jw__kstr(&b, "model", model);
		hl_jw__kbool(&b, "stream", true);
		hl_jw__end_obj(&b);
		if ((err = hl_jw__finish(&b)) < 0)
			goto out;
	}
	if ((err = audit_before(&c, opts, "ollama_pull", details.ptr)) < 0)
		goto out;
	err = hl_ollama__stream(&r, &c, "/api/pull", req.ptr, what, opts);
	audit_after(&c, opts, "ollama_pull", details.ptr, err);
	if (err < 0)
		goto out;
	digest = listed_digest(&c, model);
	begin(&w, out, &c);
	hl_jw__kstr(&w, "model", model);
	hl_jw__kstr(&w, "status", r.status);
	if (digest)
		hl_jw__kstr(&w, "digest", digest);
	hl_jw__kint(&w, "bytes", r.total);
	hl_jw__kdouble(&w, "duration_ms", round(r.duration_ms * 10) / 10);
	hl_jw__end_obj(&w);
	err = hl_jw__finish(&w);
out:
	free(digest);
	hl_ollama__stream_result_free(&r);
	hl_buf_dispose(&req);
	hl_buf_dispose(&details);
	hl_ollama__close(&c);
	return err;
}

int hl_tool__ollama_delete_model(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	const char *model = hl_json__get_str(args, "model_name");
	hl_ollama__conn c;
	hl_buf req = HL_BUF_INIT, body = HL_BUF_INIT, details = HL_BUF_INIT;
	hl_jw w;
	int err;

	if ((err = open_conn(&c, ctx, args, opts)) < 0)
		return err;
	if ((err = body2(&req, "model", model, NULL, NULL)) < 0 ||
	    (err = hl_buf__printf(&details, "delete %s from %s", model, c.endpoint)) < 0 ||
	    (err = audit_before(&c, opts, "ollama_delete", details.ptr)) < 0)
		goto out;
	err = hl_ollama__request(&body, &c, "DELETE", "/api/delete", req.ptr);
	audit_after(&c, opts, "ollama_delete", details.ptr, err);
	if (err < 0)
		goto out;
	begin(&w, out, &c);
	hl_jw__kstr(&w, "model", model);
	hl_jw__kbool(&w, "deleted", true);
	hl_jw__end_obj(&w);
	err = hl_jw__finish(&w);
out:
	hl_buf_dispose(&req);
	hl_buf_dispose(&body);
	hl_buf_dispose(&details);
	hl_ollama__close(&c);
	return err;
}

int hl_tool__ollama_copy_model(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	const char *src = hl_json__get_str(args, "source"), *dst = hl_json__get_str(args, "destination");
	hl_ollama__conn c;
	hl_buf req = HL_BUF_INIT, body = HL_BUF_INIT, details = HL_BUF_INIT;
	hl_jw w;
	int err;

	if ((err = open_conn(&c, ctx, args, opts)) < 0)
		return err;
	if ((err = body2(&req, "source", src, "destination", dst)) < 0 ||
	    (err = hl_buf__printf(&details, "copy %s to %s on %s", src, dst, c.endpoint)) < 0 ||
	    (err = audit_before(&c, opts, "ollama_copy", details.ptr)) < 0)
		goto out;
	err = hl_ollama__request(&body, &c, "POST", "/api/copy", req.ptr);
	audit_after(&c, opts, "ollama_copy", details.ptr, err);
	if (err < 0)
		goto out;
	begin(&w, out, &c);
	hl_jw__kstr(&w, "source", src);
	hl_jw__kstr(&w, "destination", dst);
	hl_jw__kbool(&w, "copied", true);
	hl_jw__end_obj(&w);
	err = hl_jw__finish(&w);
out:
	hl_buf_dispose(&req);
	hl_buf_dispose(&body);
	hl_buf_dispose(&details);
	hl_ollama__close(&c);
	return err;
}

/* Is version (e.g. "0.5.4", "0.12.6-rc1") at least 0.5.5? A development
 * build says 0.0.0 and speaks the current API; so does anything unreadable. */
static bool speaks_json_create(const char *version)
{
	int major = 0, minor = 0, patch = 0;

	if (!version || sscanf(version[0] == 'v' ? version + 1 : version, "%d.%d.%d", &major, &minor, &patch) < 2)
		return true;
	if (major == 0 && minor == 0 && patch == 0)
		return true;
	if (major != 0)
		return major > 0;
	return minor > 5 || (minor == 5 && patch >= 5);
}

int hl_tool__ollama_create_model(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	const char *name = hl_json__get_str(args, "name"), *text = hl_json__get_str(args, "modelfile");
	hl_modelfile_options mo = HL_MODELFILE_OPTIONS_INIT;
	hl_ollama__conn c;
	hl_ollama__stream_result r = { 0 };
	hl_buf req = HL_BUF_INIT, body = HL_BUF_INIT, details = HL_BUF_INIT, warnings = HL_BUF_INIT;
	struct json_object *v = NULL;
	char what[300], version[64] = "unknown";
	bool json_api;
	hl_jw w;
	int err;

	/* a bad Modelfile is refused before anything is sent anywhere */
	mo.model = name;
	mo.warnings = &warnings;
	if ((err = hl_modelfile_to_request(&req, text, strlen(text), &mo)) < 0) {
		char msg[600];
		snprintf(msg, sizeof(msg), "%s", hl_error_last()->message);
		hl_buf_dispose(&warnings);
		return hl__err(err, HL_ERROR_INVALID, "modelfile: %s", msg);
	}
	if ((err = open_conn(&c, ctx, args, opts)) < 0) {
		hl_buf_dispose(&req);
		hl_buf_dispose(&warnings);
		return err;
	}
	if ((err = hl_ollama__request(&body, &c, "GET", "/api/version", NULL)) < 0 ||
	    (err = parse_answer(&v, &c, &body, "GET /api/version")) < 0)
		goto out;
	if (str_member(v, "version"))
		snprintf(version, sizeof(version), "%s", str_member(v, "version"));
	hl__utf8_scrub(version);
	json_api = speaks_json_create(version);
	if (!json_api) {
		/* up to 0.5.4: {"model"/"name", "modelfile"} */
		hl_jw b;
		hl_buf_dispose(&req);
		hl_jw__init(&b, &req);
		hl_jw__obj(&b);
		hl_jw__kstr(&b, "model", name);
		hl_jw__kstr(&b, "name", name);
		hl_jw__kstr(&b, "modelfile", text);
		hl_jw__kbool(&b, "stream", true);
		hl_jw__end_obj(&b);
		if ((err = hl_jw__finish(&b)) < 0)
			goto out;
	} else {
		/* the parser's object, with "stream":true added */
		req.size--;
		if ((err = hl_buf__puts(&req, ",\"stream\":true}")) < 0)
			goto out;
	}
	snprintf(what, sizeof(what), "create of %s", name);
	if ((err = hl_buf__printf(&details, "create %s on %s (ollama %s, %s request, %zu bytes of Modelfile)", name,
	                          c.endpoint, version, json_api ? "json" : "modelfile", strlen(text))) < 0 ||
	    (err = audit_before(&c, opts, "ollama_create", details.ptr)) < 0)
		goto out;
	err = hl_ollama__stream(&r, &c, "/api/create", req.ptr, what, opts);
	audit_after(&c, opts, "ollama_create", details.ptr, err);
	if (err < 0)
		goto out;
	begin(&w, out, &c);
	hl_jw__kstr(&w, "model", name);
	hl_jw__kstr(&w, "status", r.status);
	hl_jw__kstr(&w, "server_version", version);
	hl_jw__kstr(&w, "api", json_api ? "json" : "modelfile");
	if (warnings.size) {
		hl_jw__key(&w, "warnings");
		hl_jw__arr(&w);
		for (char *line = warnings.ptr, *nl; line && *line; line = nl + 1) {
			if (!(nl = strchr(line, '\n')))
				break;
			hl_jw__strn(&w, line, (size_t)(nl - line));
		}
		hl_jw__end_arr(&w);
	}
	hl_jw__kdouble(&w, "duration_ms", round(r.duration_ms * 10) / 10);
	hl_jw__end_obj(&w);
	err = hl_jw__finish(&w);
out:
	json_object_put(v);
	hl_ollama__stream_result_free(&r);
	hl_buf_dispose(&req);
	hl_buf_dispose(&body);
	hl_buf_dispose(&details);
	hl_buf_dispose(&warnings);
	hl_ollama__close(&c);
	return err;
}
