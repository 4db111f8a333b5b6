/*
 * peer.c: the client seen from the server: requests the server sends it
 * (elicitation/create, sampling/createMessage) and the responses routed
 * back to the waiting worker by id; the client's requests in flight, for
 * notifications/cancelled; the capabilities it declared at initialize.
 *
 * One struct peer per Streamable HTTP or legacy SSE session, one for stdio.
 * Every field is under p->lock; a waiting worker sleeps on p->cond, which
 * a response, a cancellation and the end of the session all signal.
 */
#include "mcpd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A request to the client, waiting for its response. */
struct peer_wait {
	char id[32];                  /* ours: "hl-N" */
	char *response;               /* the response message's text, once it came */
	struct peer_wait *next;
};

void peer_init(struct peer *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
}

void peer_destroy(struct peer *p)
{
	/* every worker has left: nothing waits any more */
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
}

void peer_set_gone(struct peer *p)
{
	pthread_mutex_lock(&p->lock);
	p->gone = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void peer_set_caps(struct peer *p, struct json_object *params)
{
	struct json_object *caps = NULL, *el = NULL;
	bool elicit = false, sample = false;

	if (params && json_object_object_get_ex(params, "capabilities", &caps) &&
	    json_object_is_type(caps, json_type_object)) {
		/* {} (2025-06-18) means form mode; 2025-11-25 may name the modes:
		 * only form ("form" or none named) is what we ask with */
		if (json_object_object_get_ex(caps, "elicitation", &el) && json_object_is_type(el, json_type_object))
			elicit = json_object_object_length(el) == 0 || json_object_object_get_ex(el, "form", NULL);
		sample = json_object_object_get_ex(caps, "sampling", &el) && json_object_is_type(el, json_type_object);
	}
	pthread_mutex_lock(&p->lock);
	p->can_elicit = elicit;
	p->can_sample = sample;
	pthread_mutex_unlock(&p->lock);
}

bool peer_can(struct peer *p, bool sampling)
{
	bool can;

	pthread_mutex_lock(&p->lock);
	can = !p->gone && (sampling ? p->can_sample : p->can_elicit);
	pthread_mutex_unlock(&p->lock);
	return can;
}

bool peer_response(struct peer *p, struct json_object *msg)
{
	struct json_object *id = NULL;
	const char *text;
	bool found = false;

	if (!json_object_object_get_ex(msg, "id", &id) || !json_object_is_type(id, json_type_string))
		return false;
	pthread_mutex_lock(&p->lock);
	for (struct peer_wait *w = p->waits; w; w = w->next)
		if (!strcmp(w->id, json_object_get_string(id)) && !w->response) {
			text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
			w->response = strdup(text ? text : "{}");
			found = w->response != NULL;
			pthread_cond_broadcast(&p->cond);
			break;
		}
	pthread_mutex_unlock(&p->lock);
	return found;
}

/* The key of a request id: its JSON text ("7" and "\"7\"" differ). */
static void id_key(char *out, size_t len, struct json_object *id)
{
	snprintf(out, len, "%s", id ? json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN) : "null");
}

void peer_call_begin(struct peer *p, struct peer_call *c, struct json_object *id)
{
	memset(c, 0, sizeof(*c));
	id_key(c->id, sizeof(c->id), id);
	pthread_mutex_lock(&p->lock);
	c->next = p->calls;
	p->calls = c;
	pthread_mutex_unlock(&p->lock);
}

void peer_call_end(struct peer *p, struct peer_call *c)
{
	pthread_mutex_lock(&p->lock);
	for (struct peer_call **pp = &p->calls; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&p->lock);
}

bool peer_call_cancelled(struct peer *p, struct peer_call *c)
{
	bool cancelled;

	pthread_mutex_lock(&p->lock);
	cancelled = c->cancelled;
	pthread_mutex_unlock(&p->lock);
	return cancelled;
}

bool peer_cancel(struct peer *p, struct json_object *params)
{
	struct json_object *id = NULL;
	char key[sizeof(((struct peer_call *)0)->id)];
	bool found = false;

	if (!params || !json_object_object_get_ex(params, "requestId", &id) ||
	    (!json_object_is_type(id, json_type_string) && !json_object_is_type(id, json_type_int)))
		return false;
	id_key(key, sizeof(key), id);
	pthread_mutex_lock(&p->lock);
	for (struct peer_call *c = p->calls; c; c = c->next)
		if (!strcmp(c->id, key)) {
			c->cancelled = true;
			found = true;
		}
	if (found)
		pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return found; /* an unknown id (done already, or never seen) is ignored */
}

/* ------------------------------------------------- server -> client --- */

static void unlink_wait(struct peer *p, struct peer_wait *w)
{
	for (struct peer_wait **pp = &p->waits; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Send a request to the client through pc's sink and wait for its response
 * (at most pc->timeout_s), for the end of the session (or the connection
 * the request went on), and for the cancellation of the call it serves.
 * *result: the response's result object as text (malloc'd).
 */
static int request(struct peer_client *pc, const char *method, const char *params_json, char **result)
{
	struct peer *p = pc->peer;
	struct peer_wait w = { .response = NULL };
	struct json_object *resp = NULL, *res = NULL, *err = NULL;
	double deadline = now_s() + pc->timeout_s;
	size_t n = strlen(method) + strlen(params_json) + 96;
	char *text = malloc(n);
	int rc = 0;

	*result = NULL;
	if (!text)
		return hl_error_set(HL_ENOMEM, HL_ERROR_NOMEMORY, "out of memory");
	pthread_mutex_lock(&p->lock);
	snprintf(w.id, sizeof(w.id), "hl-%llu", (unsigned long long)++p->next_id);
	w.next = p->waits;
	p->waits = &w;
	bool gone = p->gone || p->no_input;
	pthread_mutex_unlock(&p->lock);
	snprintf(text, n, "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"method\":\"%s\",\"params\":%s}", w.id, method,
	         params_json);
	if (gone || !pc->sink->emit(pc->sink->payload, text)) {
		free(text);
		pthread_mutex_lock(&p->lock);
		unlink_wait(p, &w);
		pthread_mutex_unlock(&p->lock);
		return hl_error_set(HL_EUNREACHABLE, HL_ERROR_CALLBACK, "the client is gone: %s was not sent", method);
	}
	free(text);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct timespec tick;
		if (w.response || p->gone || p->no_input || (pc->call && pc->call->cancelled) || now_s() >= deadline)
			break;
		/* every 200 ms: has the connection the request went on closed? */
		pthread_mutex_unlock(&p->lock);
		bool alive = !pc->sink->alive || pc->sink->alive(pc->sink->payload);
		pthread_mutex_lock(&p->lock);
		if (!alive)
			break;
		clock_gettime(CLOCK_REALTIME, &tick);
		tick.tv_nsec += 200 * 1000 * 1000;
		if (tick.tv_nsec >= 1000000000) {
			tick.tv_sec++;
			tick.tv_nsec -= 1000000000;
		}
		if (!w.response && !p->gone && !p->no_input)
			pthread_cond_timedwait(&p->cond, &p->lock, &tick);
	}
	unlink_wait(p, &w);
	gone = p->gone || p->no_input;
	bool cancelled = pc->call && pc->call->cancelled;
	pthread_mutex_unlock(&p->lock);
	if (!w.response) {
		if (cancelled)
			return hl_error_set(HL_EUSER, HL_ERROR_CALLBACK, "the call was cancelled while %s waited", method);
		if (gone || now_s() < deadline)
			return hl_error_set(HL_EUNREACHABLE, HL_ERROR_CALLBACK, "the client went away before it answered %s",
			                    method);
		return hl_error_set(HL_ETIMEOUT, HL_ERROR_CALLBACK, "the client did not answer %s within %d s", method,
		                    pc->timeout_s);
	}
	if (!mcpd_parse(&resp, w.response, strlen(w.response)) || !json_object_is_type(resp, json_type_object)) {
		rc = hl_error_set(HL_ERROR, HL_ERROR_CALLBACK, "the client's answer to %s is not a JSON object", method);
	} else if (json_object_object_get_ex(resp, "error", &err)) {
		struct json_object *m = NULL;
		char why[300];
		snprintf(why, sizeof(why), "%s", err && json_object_object_get_ex(err, "message", &m) ?
		         json_object_get_string(m) : "no message");
		mcpd_utf8_scrub(why);
		rc = hl_error_set(HL_ERROR, HL_ERROR_CALLBACK, "the client answered %s with an error: %s", method, why);
	} else if (!json_object_object_get_ex(resp, "result", &res) || !json_object_is_type(res, json_type_object)) {
		rc = hl_error_set(HL_ERROR, HL_ERROR_CALLBACK, "the client's answer to %s has no result object", method);
	} else {
		const char *r = json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		if (!(*result = strdup(r ? r : "{}")))
			rc = hl_error_set(HL_ENOMEM, HL_ERROR_NOMEMORY, "out of memory");
	}
	json_object_put(resp);
	free(w.response);
	return rc;
}

int peer_elicit(hl_buf *content, const char *message, const char *schema_json, void *payload)
{
	struct peer_client *pc = payload;
	struct json_object *params = json_object_new_object(), *schema = NULL, *res = NULL, *action = NULL, *c = NULL;
	const char *text;
	char *result = NULL;
	int rc;

	if (!peer_can(pc->peer, false)) {
		json_object_put(params);
		return hl_error_set(HL_EUNSUPPORTED, HL_ERROR_CALLBACK, "the client did not declare elicitation");
	}
	if (schema_json && !(schema = json_tokener_parse(schema_json))) {
		json_object_put(params);
		return hl_error_set(HL_EINVALID, HL_ERROR_INVALID, "elicitation: the requested schema is not JSON");
	}
	if (!schema) {
		schema = json_object_new_object();
		json_object_object_add(schema, "type", json_object_new_string("object"));
		json_object_object_add(schema, "properties", json_object_new_object());
	}
	json_object_object_add(params, "message", json_object_new_string(message));
	json_object_object_add(params, "requestedSchema", schema);
	text = json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	rc = request(pc, "elicitation/create", text, &result);
	json_object_put(params);
	if (rc < 0)
		return rc;
	if (!(res = json_tokener_parse(result)) || !json_object_object_get_ex(res, "action", &action) ||
	    !json_object_is_type(action, json_type_string)) {
		rc = hl_error_set(HL_ERROR, HL_ERROR_CALLBACK, "the client's answer to elicitation/create has no action");
	} else if (!strcmp(json_object_get_string(action), "accept")) {
		rc = HL_ELICIT_ACCEPT;
		if (json_object_object_get_ex(res, "content", &c) && json_object_is_type(c, json_type_object))
			text = json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		else
			text = "{}";
		if (hl_buf_set(content, text, strlen(text)) < 0)
			rc = HL_ENOMEM;
	} else if (!strcmp(json_object_get_string(action), "decline")) {
		rc = HL_ELICIT_DECLINE;
	} else if (!strcmp(json_object_get_string(action), "cancel")) {
		rc = HL_ELICIT_CANCEL;
	} else {
		char a[40];
		snprintf(a, sizeof(a), "%s", json_object_get_string(action));
		mcpd_utf8_scrub(a);
		rc = hl_error_set(HL_ERROR, HL_ERROR_CALLBACK, "the client answered elicitation/create with action '%s' "
		                  "(accept, decline or cancel)", a);
	}
	json_object_put(res);
	free(result);
	return rc;
}

int peer_sample(hl_buf *result, const char *params_json, void *payload)
{
	struct peer_client *pc = payload;
	char *res = NULL;
	int rc;

	if (!peer_can(pc->peer, true))
		return hl_error_set(HL_EUNSUPPORTED, HL_ERROR_CALLBACK, "the client did not declare sampling");
	if ((rc = request(pc, "sampling/createMessage", params_json, &res)) < 0)
		return rc;
	rc = hl_buf_set(result, res, strlen(res));
	free(res);
	return rc;
}

int peer_should_stop(void *payload)
{
	struct peer_client *pc = payload;
	bool stop;

	pthread_mutex_lock(&pc->peer->lock);
	stop = pc->peer->gone || (pc->call && pc->call->cancelled);
	pthread_mutex_unlock(&pc->peer->lock);
	if (!stop && pc->sink && pc->sink->alive)
		stop = !pc->sink->alive(pc->sink->payload);
	return stop;
}
