/*
 * health.c: HTTP health checks of inventory services (libcurl).
 *
 * A check GETs the service's health endpoint once, without following
 * redirects, with a hard timeout, and reads at most HEALTH_BODY_MAX bytes of
 * the answer (only the status matters).
 */
#include "inventory.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>

#define HEALTH_BODY_MAX (64 * 1024)

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

static size_t discard_body(char *data, size_t size, size_t n, void *payload)
{
	size_t *seen = payload;

	(void)data;
	*seen += size * n;
	return *seen > HEALTH_BODY_MAX ? 0 : size * n; /* 0 stops an endless body */
}

void hl_health_free(hl_health *h)
{
	if (!h)
		return;
	free(h->service);
	free(h->url);
	free(h->error);
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

/* The URL to probe: a full health_endpoint URL, or url + endpoint path, or
 * http(s)://VM-IP:port + endpoint path. */
static int probe_url(hl_buf *out, hl_ctx *ctx, const hl_service *s)
{
	const char *ep = s->health_endpoint && *s->health_endpoint ? s->health_endpoint : "";
	hl_vm *vm = NULL;
	size_t n;
	int err;

	if (strstr(ep, "://"))
		return hl_buf__puts(out, ep);
	if (s->url && *s->url) {
		n = strlen(s->url);
		while (n > 0 && s->url[n - 1] == '/' && *ep)
			n--;
		if ((err = hl_buf__put(out, s->url, n)) < 0)
			return err;
	} else if (s->vm_id && s->port && hl_vm__load_id(&vm, ctx, s->vm_id) == 0 && vm->ip) {
		bool v6 = strchr(vm->ip, ':') != NULL;
		err = hl_buf__printf(out, "%s://%s%s%s:%d", s->protocol && !strcmp(s->protocol, "https") ? "https" : "http",
		                     v6 ? "[" : "", vm->ip, v6 ? "]" : "", s->port);
		hl_vm_free(vm);
		if (err < 0)
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

int hl_health__probe(hl_health **out, hl_ctx *ctx, const hl_service *s, int timeout_ms)
{
	hl_health *h = NULL;
	hl_buf url = HL_BUF_INIT;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *curl = NULL;
	CURLcode rc;
	size_t seen = 0;
	double total = 0;
	int err;

	*out = NULL;
	if ((err = hl_http__init()) < 0 || (err = probe_url(&url, ctx, s)) < 0)
		goto out;
	if (!(h = hl__calloc(1, sizeof(*h))) || !(h->service = hl__strdup(s->name)) ||
	    !(h->url = hl__strdup(url.ptr))) {
		err = HL_ENOMEM;
		goto out;
	}
	if (!(curl = curl_easy_init())) {
		err = hl__oom();
		goto out;
	}
	curl_easy_setopt(curl, CURLOPT_URL, url.ptr);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(timeout_ms ? timeout_ms : 5000));
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "libhomelab/" HOMELAB_VERSION);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &seen);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &total);
	h->elapsed_ms = total * 1000.0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &h->http_status);
	if (rc == CURLE_WRITE_ERROR && seen > HEALTH_BODY_MAX)
		rc = CURLE_OK; /* we stopped reading a long body on purpose */
	if (rc != CURLE_OK) {
		char msg[CURL_ERROR_SIZE + 64];
		snprintf(msg, sizeof(msg), "%s", *errbuf ? errbuf : curl_easy_strerror(rc));
		h->state = HL_HEALTH_UNREACHABLE;
		h->http_status = 0;
		if (!(h->error = hl__strdup(msg)))
			err = HL_ENOMEM;
	} else if (h->http_status >= 200 && h->http_status < 400) {
		h->state = HL_HEALTH_HEALTHY;
	} else {
		char msg[64];
		snprintf(msg, sizeof(msg), "HTTP status %ld", h->http_status);
		h->state = HL_HEALTH_UNHEALTHY;
		if (!(h->error = hl__strdup(msg)))
			err = HL_ENOMEM;
	}
out:
	curl_easy_cleanup(curl);
	hl_buf_dispose(&url);
	if (err < 0)
		hl_health_free(h);
	else
		*out = h;
	return err;
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
