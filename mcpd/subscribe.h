/*
 * subscribe.h: the sessions' resource subscriptions (resources/subscribe,
 * resources/unsubscribe) and their notifications/resources/updated.
 *
 * A session is known by its struct peer. A transport that can carry a
 * message to a session outside any request (its GET stream, stdio's
 * output) gives that session an outlet; subscriptions of a session without
 * one are kept but nothing is sent. When a session ends, its transport
 * calls subscribe_forget().
 */
#ifndef HOMELAB_MCPD_SUBSCRIBE_H
#define HOMELAB_MCPD_SUBSCRIBE_H

#include <stdbool.h>

struct peer;

/* Subscribe peer to uri (again: no change). 0; -1 when the session has
 * MAX subscriptions or the table is full. */
int subscribe_add(struct peer *peer, const char *uri);
void subscribe_remove(struct peer *peer, const char *uri);
/* The session ended: its subscriptions and outlet go. */
void subscribe_forget(struct peer *peer);
/* Where peer's notifications go: send(payload, text) queues one message
 * (false: the session is gone). */
void subscribe_set_outlet(struct peer *peer, bool (*send)(void *payload, const char *text), void *payload);
/* Listen to the library's hl_resource_notify_updated() (once per process). */
void subscribe_start(void);

#endif
