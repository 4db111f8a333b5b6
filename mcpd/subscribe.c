/*
 * subscribe.c: resource subscriptions by session (see subscribe.h). One
 * small table under one lock: a few sessions subscribe to a few URIs.
 */
#include "subscribe.h"

#include <homelab.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PER_SESSION 64
#define MAX_SUBS 4096
#define MAX_OUTLETS 1024

static struct sub {
	struct peer *peer;
	char *uri;
} subs[MAX_SUBS];
static int nsubs;

static struct outlet {
	struct peer *peer;
	bool (*send)(void *payload, const char *text);
	void *payload;
} outlets[MAX_OUTLETS];
static int noutlets;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

int subscribe_add(struct peer *peer, const char *uri)
{
	int mine = 0, rc = 0;
	char *copy;

	pthread_mutex_lock(&lock);
	for (int i = 0; i < nsubs; i++)
		if (subs[i].peer == peer && (mine++, !strcmp(subs[i].uri, uri))) {
			pthread_mutex_unlock(&lock);
			return 0;
		}
	if (mine >= MAX_PER_SESSION || nsubs == MAX_SUBS || !(copy = strdup(uri)))
		rc = -1;
	else
		subs[nsubs++] = (struct sub){ peer, copy };
	pthread_mutex_unlock(&lock);
	return rc;
}

static void drop_locked(int i)
{
	free(subs[i].uri);
	subs[i] = subs[--nsubs];
}

void subscribe_remove(struct peer *peer, const char *uri)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < nsubs; i++)
		if (subs[i].peer == peer && !strcmp(subs[i].uri, uri)) {
			drop_locked(i);
			break;
		}
	pthread_mutex_unlock(&lock);
}

void subscribe_forget(struct peer *peer)
{
	pthread_mutex_lock(&lock);
	for (int i = nsubs - 1; i >= 0; i--)
		if (subs[i].peer == peer)
			drop_locked(i);
	for (int i = noutlets - 1; i >= 0; i--)
		if (outlets[i].peer == peer)
			outlets[i] = outlets[--noutlets];
	pthread_mutex_unlock(&lock);
}

void subscribe_set_outlet(struct peer *peer, bool (*send)(void *payload, const char *text), void *payload)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < noutlets; i++)
		if (outlets[i].peer == peer) {
			outlets[i].send = send;
			outlets[i].payload = payload;
			pthread_mutex_unlock(&lock);
			return;
		}
	if (noutlets < MAX_OUTLETS)
		outlets[noutlets++] = (struct outlet){ peer, send, payload };
	pthread_mutex_unlock(&lock);
}

/* hl_resource_notify_updated(): one notifications/resources/updated to
 * each session subscribed to uri that has an outlet. Sent under the lock,
 * so a session cannot end (subscribe_forget) while its outlet runs. */
static void updated(const char *uri, void *payload)
{
	struct json_object *o = json_object_new_object(), *params = json_object_new_object();
	const char *text;

	(void)payload;
	json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(o, "method", json_object_new_string("notifications/resources/updated"));
	json_object_object_add(params, "uri", json_object_new_string(uri));
	json_object_object_add(o, "params", params);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	pthread_mutex_lock(&lock);
	for (int i = 0; text && i < nsubs; i++) {
		if (strcmp(subs[i].uri, uri))
			continue;
		for (int k = 0; k < noutlets; k++)
			if (outlets[k].peer == subs[i].peer)
				outlets[k].send(outlets[k].payload, text);
	}
	pthread_mutex_unlock(&lock);
	json_object_put(o);
}

static pthread_once_t started = PTHREAD_ONCE_INIT;

static void start(void)
{
	hl_resource_watch(updated, NULL);
}

void subscribe_start(void)
{
	pthread_once(&started, start);
}
