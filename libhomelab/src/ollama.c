/*
 * ollama.c: the Ollama REST client (libcurl): a target's endpoint, JSON
 * requests with Ollama's errors mapped to library codes, and NDJSON
 * streams (pull, create) with progress, stall detection and cancellation.
 *
 * Wire facts (../shared/reference/ollama-api.md): errors are {"error":"..."}
 * bodies; a stream that fails after it started keeps HTTP 200 and ends with
 * an {"error"} line; a stream is complete only with its "success" line.
 */
#include "ollama.h"
#include "ndjson.h"
#include "tools/registry.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

#define OLLAMA_PORT 11434
#define BODY_MAX (16 * 1024 * 1024)   /* a non-streamed answer (show can be large) */
#define LINE_MAX_BYTES (1024 * 1024)  /* one NDJSON line */
#define PROGRESS_EVERY_MS 100.0       /* at most this often for the same status */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------ endpoint --- */

static bool is_ollama_name(const char *name)
{
	return name && !strncasecmp(name, "ollama", 6);
}

/* The URL of a service: its url, else http(s)://VM_IP:port. */
static int service_url(hl_buf *out, const hl_service *s, const hl_vm *vm)
{
	if (s->url && *s->url) {
		size_t n = strlen(s->url);
		while (n > 0 && s->url[n - 1] == '/')
			n--;
		return hl_buf_set(out, s->url, n);
	}
	if (!vm->ip || !*vm->ip)
		return hl__err(HL_EINVALID, HL_ERROR_INVENTORY, "service '%s' of VM %s has no url, and the VM has no IP "
		               "address", s->name, vm->name);
	return hl_buf__printf(out, "%s://%s%s%s:%d", s->protocol && !strcasecmp(s->protocol, "https") ? "https" : "http",
	                      strchr(vm->ip, ':') ? "[" : "", vm->ip, strchr(vm->ip, ':') ? "]" : "",
	                      s->port ? s->port : OLLAMA_PORT);
}

int hl_ollama_endpoint(hl_buf *endpoint, hl_buf *target, hl_ctx *ctx, const char *target_ref)
{
	hl_buf url = HL_BUF_INIT;
	hl_vm *vm = NULL;
	hl_service_array *list = NULL;
	const hl_service *pick = NULL;
	char id[32];
	int err;

	if (!endpoint || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_ollama_endpoint: endpoint and ctx are required");
	if (!target_ref || !*target_ref)
		target_ref = getenv("HOMELAB_DEFAULT_TARGET");
	if (!target_ref || !*target_ref)
		target_ref = "whisper";
	if ((err = hl_vm_lookup(&vm, ctx, target_ref)) < 0)
		goto out;
	snprintf(id, sizeof(id), "%lld", (long long)vm->vm_id);
	if ((err = hl_service_list(&list, ctx, id)) < 0)
		goto out;
	/* "ollama" itself, then the first "ollama..." (names are unique and
	 * listed in name order), then whatever listens on 11434 */
	for (size_t i = 0; i < list->count && !pick; i++)
		if (list->items[i]->name && !strcasecmp(list->items[i]->name, "ollama"))
			pick = list->items[i];
	for (size_t i = 0; i < list->count && !pick; i++)
		if (is_ollama_name(list->items[i]->name))
			pick = list->items[i];
	for (size_t i = 0; i < list->count && !pick; i++)
		if (list->items[i]->port == OLLAMA_PORT)
			pick = list->items[i];
	if (pick) {
		err = service_url(&url, pick, vm);
	} else if (vm->ip && *vm->ip) {
		bool v6 = strchr(vm->ip, ':') != NULL;
		err = hl_buf__printf(&url, "http://%s%s%s:%d", v6 ? "[" : "", vm->ip, v6 ? "]" : "", OLLAMA_PORT);
	} else {
		err = hl__err(HL_EINVALID, HL_ERROR_INVENTORY, "VM %s has no IP address and no ollama service: add one "
		              "(homelab services add ollama --vm %s --url http://HOST:11434)", vm->name, vm->name);
	}
	if (err < 0)
		goto out;
	if (strncasecmp(url.ptr, "http://", 7) && strncasecmp(url.ptr, "https://", 8)) {
		err = hl__err(HL_EINVALID, HL_ERROR_INVENTORY, "the ollama URL of VM %s is not http(s): %.200s", vm->name,
		              url.ptr);
		goto out;
	}
	if (target && (err = hl_buf_set(target, vm->name, strlen(vm->name))) < 0)
		goto out;
	hl_buf_dispose(endpoint);
	*endpoint = url;
	url = (hl_buf)HL_BUF_INIT;
out:
	hl_buf_dispose(&url);
	hl_service_array_free(list);
	hl_vm_free(vm);
	return err;
}

int hl_ollama__open(hl_ollama__conn *c, hl_ctx *ctx, const char *target, int timeout_ms)
{
	hl_buf ep = HL_BUF_INIT, name = HL_BUF_INIT;
	int err;

	memset(c, 0, sizeof(*c));
	if ((err = hl_http__init()) < 0 || (err = hl_ollama_endpoint(&ep, &name, ctx, target)) < 0) {
		hl_buf_dispose(&name);
		return err;
	}
	c->ctx = ctx;
	c->endpoint = hl_buf__detach(&ep);
	c->target = hl_buf__detach(&name);
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
	if (!c->endpoint || !c->target) {
		hl_ollama__close(c);
		return hl__oom();
	}
	return 0;
}

void hl_ollama__close(hl_ollama__conn *c)
{
	free(c->endpoint);
	free(c->target);
	memset(c, 0, sizeof(*c));
}

/* -------------------------------------------------------------- errors --- */

/* Ollama's message from an error body: the "error" member, else the text. */
static void error_text(char *msg, size_t size, const char *body, size_t len)
{
	struct json_object *o = NULL, *e;
	struct json_tokener *tok;

	msg[0] = '\0';
	if (body && len && (tok = json_tokener_new())) {
		o = json_tokener_parse_ex(tok, body, (int)(len > INT32_MAX ? INT32_MAX : len));
		json_tokener_free(tok);
	}
	if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "error", &e) &&
	    json_object_is_type(e, json_type_string))
		snprintf(msg, size, "%s", json_object_get_string(e));
	else if (body && len)
		snprintf(msg, size, "%.*s", (int)(len > 300 ? 300 : len), body);
	json_object_put(o);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	hl__utf8_scrub(msg);
	if (!msg[0])
		snprintf(msg, size, "(no message)");
}

/* An HTTP error answer as a library error. */
static int http_error(const hl_ollama__conn *c, long status, const char *what, const char *msg)
{
	if (status == 404)
		return hl__err(HL_ENOTFOUND, HL_ERROR_HTTP, "%s (ollama at %s, target %s)", msg, c->endpoint, c->target);
	if (status == 400)
		return hl__err(HL_EINVALID, HL_ERROR_HTTP, "ollama at %s rejected %s: %s", c->endpoint, what, msg);
	return hl__err(HL_ERROR, HL_ERROR_HTTP, "ollama at %s (target %s) answered HTTP %ld to %s: %s", c->endpoint,
	               c->target, status, what, msg);
}

/* A transport failure as a library error. */
static int curl_error(const hl_ollama__conn *c, CURLcode rc, const char *errbuf, const char *what)
{
	const char *why = errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);

	if (rc == CURLE_OPERATION_TIMEDOUT)
		return hl__err(HL_ETIMEOUT, HL_ERROR_HTTP, "ollama at %s (target %s) timed out during %s: %s", c->endpoint,
		               c->target, what, why);
	return hl__err(HL_EUNREACHABLE, HL_ERROR_HTTP, "ollama at %s (target %s) could not be reached for %s: %s",
	               c->endpoint, c->target, what, why);
}

static CURL *new_handle(const hl_ollama__conn *c, const char *path, struct curl_slist **headers, char *errbuf)
{
	hl_buf url = HL_BUF_INIT;
	CURL *h;

	if (hl_buf__printf(&url, "%s%s", c->endpoint, path) < 0)
		return NULL;
	if (!(h = curl_easy_init())) {
		hl_buf_dispose(&url);
		hl__oom();
		return NULL;
	}
	curl_easy_setopt(h, CURLOPT_URL, url.ptr);
	hl_buf_dispose(&url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->timeout_ms < 10000 ? c->timeout_ms : 10000));
	curl_easy_setopt(h, CURLOPT_USERAGENT, "libhomelab/" HOMELAB_VERSION);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	*headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (*headers)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, *headers);
	return h;
}

/* ------------------------------------------------------------- request --- */

struct sink {
	hl_buf *buf;
	bool over;
};

static size_t to_buf(char *data, size_t size, size_t n, void *payload)
{
	struct sink *s = payload;

	if (s->buf->size + size * n > BODY_MAX) {
		s->over = true;
		return 0;
	}
	return hl_buf__put(s->buf, data, size * n) < 0 ? 0 : size * n;
}

int hl_ollama__request(hl_buf *body, hl_ollama__conn *c, const char *method, const char *path, const char *json)
{
	char errbuf[CURL_ERROR_SIZE] = "", what[160], msg[600];
	struct curl_slist *headers = NULL;
	hl_buf got = HL_BUF_INIT;
	struct sink sink = { &got, false };
	long status = 0;
	CURL *h;
	CURLcode rc;
	int err = 0;

	snprintf(what, sizeof(what), "%s %s", method, path);
	if (!(h = new_handle(c, path, &headers, errbuf)))
		return HL_ENOMEM;
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (json) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
	} else if (!strcmp(method, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_buf);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (sink.over)
		err = hl__err(HL_ERROR, HL_ERROR_HTTP, "ollama at %s: the answer to %s is larger than %d bytes", c->endpoint,
		              what, BODY_MAX);
	else if (rc != CURLE_OK)
		err = curl_error(c, rc, errbuf, what);
	else if (status < 200 || status > 299) {
		error_text(msg, sizeof(msg), got.ptr, got.size);
		err = http_error(c, status, what, msg);
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	if (err == 0) {
		hl_buf_dispose(body);
		*body = got;
	} else {
		hl_buf_dispose(&got);
	}
	return err;
}

/* -------------------------------------------------------------- stream --- */

struct layer {
	char *digest;
	int64_t completed, total;
};

struct stream {
	const hl_ollama__conn *c;
	const hl_call_options *opts;
	const char *what;
	hl_ndjson nd;
	CURL *h;
	long http_status;      /* 0 until the first body byte */
	hl_buf err_body;       /* a non-2xx answer */
	struct layer *layers;
	size_t nlayers;
	char *status, *digest;
	int64_t completed, total;
	double last_change, last_report, stall_ms;
	char *reported_status; /* what the callback last saw */
	bool stopped, stalled, success;
	char error_msg[600];   /* an {"error"} line */
	int64_t error_status;  /* its "status" member (v0.5.5-0.12.5), 0 when none */
	int err;               /* a local failure (memory, bad line) */
};

void hl_ollama__stream_result_free(hl_ollama__stream_result *r)
{
	if (!r)
		return;
	free(r->status);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

static double stall_ms_setting(void)
{
	const char *v = getenv("HOMELAB_OLLAMA_STALL_S");
	char *end;
	double s;

	if (!v || !*v)
		return 120000.0;
	s = strtod(v, &end);
	if (*end || !isfinite(s) || s <= 0)
		return 120000.0;
	return s * 1000.0;
}

/* "at 'pulling 5bbbf644084d' (1200 of 4000 bytes)" */
static void where(char *buf, size_t size, const struct stream *s)
{
	char st[120];

	snprintf(st, sizeof(st), "%s", s->status ? s->status : "(before the first status line)");
	hl__utf8_scrub(st);
	if (s->total > 0)
		snprintf(buf, size, "at '%s' (%lld of %lld bytes)", st, (long long)s->completed, (long long)s->total);
	else
		snprintf(buf, size, "at '%s'", st);
}

static int layer_update(struct stream *s, const char *digest, int64_t completed, int64_t total)
{
	struct layer *l = NULL;

	for (size_t i = 0; i < s->nlayers && !l; i++)
		if (!strcmp(s->layers[i].digest, digest))
			l = &s->layers[i];
	if (!l) {
		struct layer *v = hl__realloc(s->layers, (s->nlayers + 1) * sizeof(*v));
		if (!v)
			return HL_ENOMEM;
		s->layers = v;
		l = &s->layers[s->nlayers];
		if (!(l->digest = hl__strdup(digest)))
			return HL_ENOMEM;
		l->completed = l->total = 0;
		s->nlayers++;
	}
	/* Ollama leaves out total and completed while they are 0 */
	if (total > 0)
		l->total = total;
	if (completed > 0)
		l->completed = completed;
	s->completed = s->total = 0;
	for (size_t i = 0; i < s->nlayers; i++) {
		s->completed += s->layers[i].completed;
		s->total += s->layers[i].total;
	}
	return 0;
}

static int64_t get_i64(struct json_object *o, const char *key)
{
	struct json_object *x;

	if (!json_object_object_get_ex(o, key, &x) ||
	    !(json_object_is_type(x, json_type_int) || json_object_is_type(x, json_type_double)))
		return 0;
	return json_object_get_int64(x);
}

/* Tell the caller, at most every PROGRESS_EVERY_MS for the same status. */
static int report(struct stream *s, bool force)
{
	double t = now_ms();
	hl_progress p;
	bool same = s->reported_status && s->status && !strcmp(s->reported_status, s->status);

	if (!s->opts || !s->opts->progress)
		return 0;
	if (!force && same && t - s->last_report < PROGRESS_EVERY_MS)
		return 0;
	p.message = s->status;
	p.completed = (double)s->completed;
	p.total = (double)s->total;
	s->last_report = t;
	if (!same) {
		free(s->reported_status);
		s->reported_status = hl__strdup(s->status);
	}
	if (s->opts->progress(&p, s->opts->payload) != 0) {
		s->stopped = true;
		return HL_EUSER;
	}
	return 0;
}

static int on_line(const char *line, size_t len, void *payload)
{
	struct stream *s = payload;
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = NULL, *x;
	int64_t before_completed = s->completed;
	bool changed = false;
	int err = 0;

	if (!tok)
		return s->err = hl__oom();
	o = json_tokener_parse_ex(tok, line, (int)len);
	json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object)) {
		char show[80];
		snprintf(show, sizeof(show), "%.*s", (int)(len > 60 ? 60 : len), line);
		hl__utf8_scrub(show);
		json_object_put(o);
		return s->err = hl__err(HL_ERROR, HL_ERROR_HTTP, "%s: ollama at %s sent a line that is not a JSON object "
		                        "(line %zu: %s)", s->what, s->c->endpoint, s->nd.lines, show);
	}
	if (json_object_object_get_ex(o, "error", &x)) {
		error_text(s->error_msg, sizeof(s->error_msg), line, len);
		s->error_status = get_i64(o, "status");
		json_object_put(o);
		return HL_ERROR; /* ends the transfer; the caller reports it */
	}
	if (json_object_object_get_ex(o, "status", &x) && json_object_is_type(x, json_type_string)) {
		const char *st = json_object_get_string(x);
		if (!s->status || strcmp(s->status, st)) {
			free(s->status);
			if (!(s->status = hl__strdup(st)))
				err = HL_ENOMEM;
			else /* -v in the CLI, notifications/message in the daemon */
				hl_tool__log(s->opts, HL_LOG_INFO, "ollama", "%s on %.64s: %.200s", s->what, s->c->target, st);
			changed = true;
		}
		if (!strcmp(st, "success"))
			s->success = true;
	}
	if (err == 0 && json_object_object_get_ex(o, "digest", &x) && json_object_is_type(x, json_type_string)) {
		const char *d = json_object_get_string(x);
		if (!s->digest || strcmp(s->digest, d)) {
			free(s->digest);
			if (!(s->digest = hl__strdup(d)))
				err = HL_ENOMEM;
		}
		if (err == 0)
			err = layer_update(s, d, get_i64(o, "completed"), get_i64(o, "total"));
	}
	json_object_put(o);
	if (err < 0)
		return s->err = err;
	if (changed || s->completed != before_completed)
		s->last_change = now_ms();
	return report(s, changed);
}

static size_t on_data(char *data, size_t size, size_t n, void *payload)
{
	struct stream *s = payload;

	if (s->http_status == 0)
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->http_status);
	if (s->http_status < 200 || s->http_status > 299) {
		/* an error answer: keep (the start of) it for the message */
		if (s->err_body.size < 64 * 1024 && hl_buf__put(&s->err_body, data, size * n) < 0)
			return 0;
		return size * n;
	}
	if (hl_ndjson__feed(&s->nd, data, size * n) < 0)
		return 0;
	return size * n;
}

/* Called by libcurl about once a second and whenever data moves. */
static int on_tick(void *payload, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct stream *s = payload;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (s->stopped)
		return 1;
	if (hl_tool_should_stop(s->opts)) {
		/* the caller cancelled (hl_call_options.should_stop): curl ends the
		 * transfer, and a pull or create stops where it is */
		s->stopped = true;
		return 1;
	}
	if (now_ms() - s->last_change > s->stall_ms) {
		s->stalled = true;
		return 1;
	}
	return 0;
}

/* The error of an {"error"} line. */
static int stream_error_line(const struct stream *s)
{
	const char *m = s->error_msg;
	int code = HL_ERROR;

	if (s->error_status == 404 || strstr(m, "file does not exist") || strstr(m, "not found"))
		code = HL_ENOTFOUND;
	else if (s->error_status == 400)
		code = HL_EINVALID;
	return hl__err(code, HL_ERROR_HTTP, "%s failed on ollama at %s (target %s): %s", s->what, s->c->endpoint,
	               s->c->target, m);
}

int hl_ollama__stream(hl_ollama__stream_result *res, hl_ollama__conn *c, const char *path, const char *json,
                      const char *what, const hl_call_options *opts)
{
	char errbuf[CURL_ERROR_SIZE] = "", at[200], msg[600];
	struct curl_slist *headers = NULL;
	struct stream s;
	double start = now_ms();
	CURLcode rc;
	int err = 0;

	memset(res, 0, sizeof(*res));
	memset(&s, 0, sizeof(s));
	s.c = c;
	s.opts = opts;
	s.what = what;
	s.stall_ms = stall_ms_setting();
	s.last_change = start;
	hl_ndjson__init(&s.nd, LINE_MAX_BYTES, on_line, &s);
	if (!(s.h = new_handle(c, path, &headers, errbuf))) {
		err = HL_ENOMEM;
		goto out;
	}
	curl_easy_setopt(s.h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(s.h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
	curl_easy_setopt(s.h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(s.h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(s.h, CURLOPT_XFERINFOFUNCTION, on_tick);
	curl_easy_setopt(s.h, CURLOPT_XFERINFODATA, &s);
	curl_easy_setopt(s.h, CURLOPT_NOPROGRESS, 0L);
	rc = curl_easy_perform(s.h);
	if (rc == CURLE_OK && !s.err && s.http_status >= 200 && s.http_status <= 299)
		hl_ndjson__finish(&s.nd);
	if (s.http_status == 0)
		curl_easy_getinfo(s.h, CURLINFO_RESPONSE_CODE, &s.http_status);
	where(at, sizeof(at), &s);

	if (s.stopped) {
		err = hl__err(HL_EUSER, HL_ERROR_CALLBACK, "%s stopped by the caller %s", what, at);
	} else if (s.stalled) {
		err = hl__err(HL_ETIMEOUT, HL_ERROR_HTTP, "%s on ollama at %s (target %s) stalled: no progress for %.1f s %s",
		              what, c->endpoint, c->target, s.stall_ms / 1000.0, at);
	} else if (s.error_msg[0]) {
		err = stream_error_line(&s);
	} else if (s.err) {
		err = s.err; /* its message is set */
	} else if (s.http_status && (s.http_status < 200 || s.http_status > 299)) {
		error_text(msg, sizeof(msg), s.err_body.ptr, s.err_body.size);
		err = http_error(c, s.http_status, what, msg);
	} else if (rc != CURLE_OK && s.nd.lines > 0) {
		err = hl__err(HL_EUNREACHABLE, HL_ERROR_HTTP, "%s: the connection to ollama at %s (target %s) dropped "
		              "mid-stream %s: %s", what, c->endpoint, c->target, at,
		              *errbuf ? errbuf : curl_easy_strerror(rc));
	} else if (rc != CURLE_OK) {
		err = curl_error(c, rc, errbuf, what);
	} else if (!s.success) {
		err = hl__err(HL_EUNREACHABLE, HL_ERROR_HTTP, "%s: ollama at %s (target %s) ended the stream %s without "
		              "'success'", what, c->endpoint, c->target, at);
	}
	if (err == 0) {
		res->status = s.status;
		res->digest = s.digest;
		s.status = s.digest = NULL;
		res->completed = s.completed;
		res->total = s.total;
		res->lines = s.nd.lines;
		res->duration_ms = now_ms() - start;
	}
out:
	curl_slist_free_all(headers);
	curl_easy_cleanup(s.h);
	hl_ndjson__dispose(&s.nd);
	hl_buf_dispose(&s.err_body);
	for (size_t i = 0; i < s.nlayers; i++)
		free(s.layers[i].digest);
	free(s.layers);
	free(s.status);
	free(s.digest);
	free(s.reported_status);
	return err;
}
