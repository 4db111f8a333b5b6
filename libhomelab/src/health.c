/*
 * health.c: health checks of inventory services (libcurl multi).
 *
 * A check GETs the service's health endpoint once, without following
 * redirects, with a hard timeout, and reads at most HEALTH_BODY_MAX bytes of
 * the answer (only the status matters). A service with a port but no URL
 * (and no HTTP protocol or health endpoint) gets a TCP connect check on its
 * VM's address instead. Many services can be probed at once (curl multi,
 * $HOMELAB_HEALTH_PARALLEL transfers; see parallel_setting), so a whole
 * inventory takes about as long as its slowest few services; results keep
 * the order they were asked in.
 *
 * HTTPS is verified against the system's CAs unless the service has its own
 * CA file, or is explicitly marked insecure (hl_health_set_tls).
 */
#include "inventory.h"
#include "health_priv.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <strings.h>
#include <unistd.h>

#define HEALTH_BODY_MAX (64 * 1024)
#define HEALTH_PARALLEL 16
#define CA_FILE_MAX 4096

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* libcurl is initialised once per process, on first use. */
int hl_http__init(void)
{
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return hl__err(HL_ERROR, HL_ERROR_HTTP, "libcurl: %s", curl_easy_strerror(curl_init_rc));
	return 0;
}

void hl_health_free(hl_health *h)
{
	if (!h)
		return;
	free(h->service);
	free(h->url);
	free(h->error);
	free(h->ca_file);
	free(h);
}

const char *hl_health_state_name(int state)
{
	switch (state) {
	case HL_HEALTH_HEALTHY:
		return "healthy";
	case HL_HEALTH_UNHEALTHY:
		return "unhealthy";
	case HL_HEALTH_UNREACHABLE:
		return "unreachable";
	default:
		return "unknown";
	}
}

/* ------------------------------------------------------------- targets --- */

/* The URL to probe: a full health_endpoint URL, or url + endpoint path, or
 * http(s)://VM-IP:port + endpoint path; or, for a port without a URL,
 * protocol or endpoint, tcp://VM-IP:port (*tcp set). */
static int probe_url(hl_buf *out, bool *tcp, hl_ctx *ctx, const hl_service *s)
{
	const char *ep = s->health_endpoint && *s->health_endpoint ? s->health_endpoint : "";
	hl_vm *vm = NULL;
	size_t n;
	int err;

	*tcp = false;
	if (strstr(ep, "://"))
		return hl_buf__puts(out, ep);
	if (s->url && *s->url) {
		n = strlen(s->url);
		while (n > 0 && s->url[n - 1] == '/' && *ep)
			n--;
		if ((err = hl_buf__put(out, s->url, n)) < 0)
			return err;
	} else if (s->vm_id && s->port > 0 && s->port < 65536 && hl_vm__load_id(&vm, ctx, s->vm_id) == 0 && vm->ip) {
		bool v6 = strchr(vm->ip, ':') != NULL;
		bool https = s->protocol && !strcasecmp(s->protocol, "https");
		bool http = https || (s->protocol && !strcasecmp(s->protocol, "http"));
		/* nothing says it speaks HTTP: whether its port accepts is the check */
		*tcp = !http && !*ep;
		err = hl_buf__printf(out, "%s://%s%s%s:%d", *tcp ? "tcp" : https ? "https" : "http", v6 ? "[" : "", vm->ip,
		                     v6 ? "]" : "", s->port);
		hl_vm_free(vm);
		if (err < 0 || *tcp)
			return err;
	} else {
		hl_vm_free(vm);
		return hl__err(HL_EINVALID, HL_ERROR_INVENTORY, "service '%s' has no url to probe (set its url, or "
		               "its vm and port)", s->name);
	}
	if (*ep && *ep != '/' && (err = hl_buf__puts(out, "/")) < 0)
		return err;
	return hl_buf__puts(out, ep);
}

/* The service's TLS settings (schema 5); defaults on an older schema. */
static int load_tls(hl_ctx *ctx, int64_t id, char **ca_file, int *insecure)
{
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	*ca_file = NULL;
	*insecure = 0;
	if (!hl_db__has_column(ctx, "services", "tls_ca_file"))
		return 0;
	if ((err = hl_db__stmt(ctx, &st, "SELECT tls_ca_file, tls_insecure FROM services WHERE rowid = ?1")) < 0)
		return err;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*insecure = sqlite3_column_int(st, 1) != 0;
		if (!hl_db__col_text(st, 0, ca_file))
			err = HL_ENOMEM;
	} else if (rc != SQLITE_DONE) {
		err = hl_db__error(ctx, rc, "read a service's TLS settings");
	}
	hl_db__release(ctx, st);
	return err;
}

int hl_health_set_tls(hl_ctx *ctx, const char *service, const hl_health_tls *tls)
{
	hl_service *s = NULL;
	sqlite3_stmt *st = NULL;
	const char *ca;
	int rc, err;

	if (!ctx || !tls)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_health_set_tls: ctx and tls are required");
	if (tls->version != HL_HEALTH_TLS_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_health_tls version %u is not supported", tls->version);
	ca = tls->ca_file && *tls->ca_file ? tls->ca_file : NULL;
	if (ca && tls->insecure)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "a CA file and insecure exclude each other: a CA file is "
		               "for verifying");
	if (ca) {
		if (ca[0] != '/')
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "ca_file: '%.200s' is not an absolute path", ca);
		if (strlen(ca) > CA_FILE_MAX || (err = hl_inv__check_text(ca, CA_FILE_MAX, "ca_file")) < 0)
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "ca_file: not a usable path");
		if (access(ca, R_OK) != 0)
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "ca_file: %.200s cannot be read", ca);
	}
	if ((err = hl_db__writable(ctx, "change a service's TLS settings")) < 0)
		return err;
	if (!hl_db__has_column(ctx, "services", "tls_ca_file"))
		return hl__err(HL_EINVALID, HL_ERROR_DB, "the database's schema is older than TLS settings: open it "
		               "without HL_CTX_NO_MIGRATE once to migrate it");
	if ((err = hl_service_lookup(&s, ctx, service)) < 0)
		return err;
	if ((err = hl_db__stmt(ctx, &st, "UPDATE services SET tls_ca_file = ?1, tls_insecure = ?2 WHERE rowid = ?3")) < 0)
		goto out;
	hl_db__bind_text(st, 1, ca);
	sqlite3_bind_int(st, 2, tls->insecure ? 1 : 0);
	sqlite3_bind_int64(st, 3, s->id);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		err = hl_db__error(ctx, rc, "change a service's TLS settings");
out:
	hl_db__release(ctx, st);
	hl_service_free(s);
	return err;
}

void hl_health_string_free(char *s)
{
	free(s);
}

int hl_health_get_tls(char **ca_file, int *insecure, hl_ctx *ctx, const char *service)
{
	hl_service *s = NULL;
	int err;

	if (!ca_file || !insecure || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_health_get_tls: out and ctx are required");
	*ca_file = NULL;
	*insecure = 0;
	if ((err = hl_service_lookup(&s, ctx, service)) < 0)
		return err;
	err = load_tls(ctx, s->id, ca_file, insecure);
	hl_service_free(s);
	return err;
}

/* --------------------------------------------------------------- probes --- */

struct probe {
	const hl_service *s;
	hl_health *h;
	char *why;          /* not checked: the reason */
	CURL *easy;
	char errbuf[CURL_ERROR_SIZE];
	size_t seen;
	bool tcp, done;
};

static size_t discard_body(char *data, size_t size, size_t n, void *payload)
{
	struct probe *p = payload;

	(void)data;
	p->seen += size * n;
	return p->seen > HEALTH_BODY_MAX ? 0 : size * n; /* 0 stops an endless body */
}

/* Make the probe's transfer; p->done with p->why when there is nothing to probe. */
static int prepare(struct probe *p, hl_ctx *ctx, int timeout_ms)
{
	hl_buf url = HL_BUF_INIT;
	hl_health *h;
	int err;

	if ((err = probe_url(&url, &p->tcp, ctx, p->s)) == HL_EINVALID) {
		p->done = true;
		return (p->why = hl__strdup(hl_error_last()->message)) ? 0 : HL_ENOMEM;
	}
	if (err < 0)
		goto out;
	if (!(h = p->h = hl__calloc(1, sizeof(*h))) || !(h->service = hl__strdup(p->s->name)) ||
	    !(h->url = hl__strdup(url.ptr))) {
		err = HL_ENOMEM;
		goto out;
	}
	h->tcp = p->tcp;
	h->https = !strncasecmp(url.ptr, "https://", 8);
	if ((err = load_tls(ctx, p->s->id, &h->ca_file, &h->insecure)) < 0)
		goto out;
	if (!(p->easy = curl_easy_init())) {
		err = hl__oom();
		goto out;
	}
	if (p->tcp) {
		/* curl connects and stops: tcp://host:port as http://host:port */
		hl_buf as_http = HL_BUF_INIT;
		if ((err = hl_buf__printf(&as_http, "http%s", url.ptr + 3)) < 0)
			goto out;
		curl_easy_setopt(p->easy, CURLOPT_URL, as_http.ptr);
		hl_buf_dispose(&as_http);
		curl_easy_setopt(p->easy, CURLOPT_CONNECT_ONLY, 1L);
	} else {
		curl_easy_setopt(p->easy, CURLOPT_URL, url.ptr);
	}
	curl_easy_setopt(p->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(p->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(p->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(p->easy, CURLOPT_USERAGENT, "libhomelab/" HOMELAB_VERSION);
	curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(p->easy, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(p->easy, CURLOPT_ERRORBUFFER, p->errbuf);
	curl_easy_setopt(p->easy, CURLOPT_PRIVATE, p);
	if (h->insecure) {
		curl_easy_setopt(p->easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(p->easy, CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		curl_easy_setopt(p->easy, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(p->easy, CURLOPT_SSL_VERIFYHOST, 2L);
		if (h->ca_file)
			curl_easy_setopt(p->easy, CURLOPT_CAINFO, h->ca_file);
	}
out:
	hl_buf_dispose(&url);
	return err;
}

/* The transfer ended with rc: fill in the probe's result. */
static int finish(struct probe *p, CURLcode rc)
{
	hl_health *h = p->h;
	double total = 0;
	char msg[CURL_ERROR_SIZE + 64];

	curl_easy_getinfo(p->easy, CURLINFO_TOTAL_TIME, &total);
	h->elapsed_ms = total * 1000.0;
	curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &h->http_status);
	p->done = true;
	if (rc == CURLE_WRITE_ERROR && p->seen > HEALTH_BODY_MAX)
		rc = CURLE_OK; /* we stopped reading a long body on purpose */
	if (rc != CURLE_OK) {
		snprintf(msg, sizeof(msg), "%s", *p->errbuf ? p->errbuf : curl_easy_strerror(rc));
		hl__utf8_scrub(msg);
		h->state = HL_HEALTH_UNREACHABLE;
		h->http_status = 0;
		return (h->error = hl__strdup(msg)) ? 0 : HL_ENOMEM;
	}
	if (p->tcp) {
		h->state = HL_HEALTH_HEALTHY; /* it accepted the connection */
		h->http_status = 0;
		return 0;
	}
	if (h->http_status >= 200 && h->http_status < 400) {
		h->state = HL_HEALTH_HEALTHY;
		return 0;
	}
	snprintf(msg, sizeof(msg), "HTTP status %ld", h->http_status);
	h->state = HL_HEALTH_UNHEALTHY;
	return (h->error = hl__strdup(msg)) ? 0 : HL_ENOMEM;
}

/* How many transfers at once: $HOMELAB_HEALTH_PARALLEL (1-256), else
 * HEALTH_PARALLEL (16). */
static size_t parallel_setting(void)
{
	const char *v = getenv("HOMELAB_HEALTH_PARALLEL");
	char *end;
	long n = v && *v ? strtol(v, &end, 10) : 0;

	if (n >= 1 && n <= 256 && !*end)
		return (size_t)n;
	return HEALTH_PARALLEL;
}

int hl_health__probe_all(hl_health_result *res, hl_ctx *ctx, const hl_service *const *svcs, size_t n,
                         int timeout_ms, hl_health__report_fn report, void *payload)
{
	struct probe *p = NULL;
	CURLM *multi = NULL;
	size_t started = 0, active = 0, done = 0, next_report = 0, parallel = parallel_setting();
	int err;

	if (n)
		memset(res, 0, n * sizeof(*res));
	if ((err = hl_http__init()) < 0)
		return err;
	if (!(p = hl__calloc(n ? n : 1, sizeof(*p))) || !(multi = curl_multi_init())) {
		err = hl__oom();
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		p[i].s = svcs[i];
	for (;;) {
		int running = 0, left;
		bool finished = false;
		CURLMsg *msg;

		/* start transfers in order while there is room */
		while (started < n && active < parallel) {
			struct probe *q = &p[started++];
			if ((err = prepare(q, ctx, timeout_ms)) < 0)
				goto out;
			if (q->done) {
				done++;
				continue;
			}
			if (curl_multi_add_handle(multi, q->easy) != CURLM_OK) {
				err = hl__err(HL_ERROR, HL_ERROR_HTTP, "libcurl: cannot add a transfer");
				goto out;
			}
			active++;
		}
		/* report i once services 0..i-1 have answered (report 0 at the
		 * start): "checking NAME" names the next one waited for */
		while (next_report < n && (next_report == 0 || p[next_report - 1].done)) {
			if (report && report(next_report, payload) != 0) {
				err = hl__err(HL_EUSER, HL_ERROR_CALLBACK, "homelab_check_all_services: stopped after %zu of "
				              "%zu services", next_report, n);
				goto out;
			}
			next_report++;
		}
		if (done == n)
			break;
		if (active == 0)
			continue; /* the rest needs starting */
		if (curl_multi_perform(multi, &running) != CURLM_OK) {
			err = hl__err(HL_ERROR, HL_ERROR_HTTP, "libcurl: the transfers failed");
			goto out;
		}
		while ((msg = curl_multi_info_read(multi, &left))) {
			struct probe *q = NULL;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&q);
			if ((err = finish(q, msg->data.result)) < 0)
				goto out;
			curl_multi_remove_handle(multi, q->easy);
			curl_easy_cleanup(q->easy);
			q->easy = NULL;
			active--;
			done++;
			finished = true;
		}
		if (!finished && running > 0) {
			curl_multi_poll(multi, NULL, 0, 100, NULL);
			if (report && report(n, payload) != 0) {
				err = hl__err(HL_EUSER, HL_ERROR_CALLBACK, "homelab_check_all_services: stopped after %zu of "
				              "%zu services", done, n);
				goto out;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		res[i].health = p[i].h;
		res[i].not_checked = p[i].why;
		p[i].h = NULL;
		p[i].why = NULL;
	}
out:
	for (size_t i = 0; p && i < n; i++) {
		if (p[i].easy) {
			curl_multi_remove_handle(multi, p[i].easy);
			curl_easy_cleanup(p[i].easy);
		}
		hl_health_free(p[i].h);
		free(p[i].why);
	}
	curl_multi_cleanup(multi);
	free(p);
	return err;
}

void hl_health__results_free(hl_health_result *res, size_t n)
{
	for (size_t i = 0; res && i < n; i++) {
		hl_health_free(res[i].health);
		free(res[i].not_checked);
	}
}

int hl_health__probe(hl_health **out, hl_ctx *ctx, const hl_service *s, int timeout_ms)
{
	hl_health_result r;
	int err;

	*out = NULL;
	if ((err = hl_health__probe_all(&r, ctx, &s, 1, timeout_ms ? timeout_ms : 5000, NULL, NULL)) < 0)
		return err;
	if (!r.health) {
		err = hl__err(HL_EINVALID, HL_ERROR_INVENTORY, "%s", r.not_checked);
		free(r.not_checked);
		return err;
	}
	*out = r.health;
	return 0;
}

int hl_health_check(hl_health **out, hl_ctx *ctx, const char *service, int timeout_ms)
{
	hl_service *s = NULL;
	int err;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_health_check: out and ctx are required");
	*out = NULL;
	if (timeout_ms < 0)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "timeout_ms: %d is negative", timeout_ms);
	if ((err = hl_service_lookup(&s, ctx, service)) < 0)
		return err;
	err = hl_health__probe(out, ctx, s, timeout_ms);
	hl_service_free(s);
	return err;
}
