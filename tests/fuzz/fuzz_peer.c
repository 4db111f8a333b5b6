/*
 * fuzz_peer.c: what a client sends homelab-mcpd that mcpd/peer.c reads: the
 * capabilities of initialize, notifications/cancelled, and the responses to
 * the server's own requests (elicitation/create, sampling/createMessage),
 * with a request waiting for them. The first byte picks what the rest (a
 * JSON text) is. Properties: an elicitation ends in accept/decline/cancel or
 * a negative code with a message, accept with a JSON object as its content;
 * a sampling result is a JSON object; nothing waits past its time-out (0 s
 * here: an answer that is not taken ends the wait at once); a cancel flags
 * only the call whose id it names.
 */
#include "mcpd.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct answer {
	struct peer *peer;
	const char *text; /* the client's response, or its result when "r" */
	size_t len;
	bool wrap;        /* text is the result object: make the response around it */
};

/* The sink: the request goes out, and the fuzzed answer comes back at once. */
static bool emit(void *payload, const char *request)
{
	struct answer *a = payload;
	struct json_object *req = json_tokener_parse(request), *id = NULL, *resp = NULL;

	if (!req || !json_object_object_get_ex(req, "id", &id) || !json_object_is_type(id, json_type_string) ||
	    !json_object_object_get_ex(req, "method", NULL))
		abort(); /* peer.c sent something that is not a request */
	if (mcpd_parse(&resp, a->text, a->len) && resp) {
		if (a->wrap) {
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
			json_object_object_add(o, "id", json_object_get(id));
			json_object_object_add(o, "result", resp);
			resp = o;
		} else if (json_object_is_type(resp, json_type_object)) {
			json_object_object_add(resp, "id", json_object_get(id));
		}
		if (json_object_is_type(resp, json_type_object))
			peer_response(a->peer, resp);
	}
	json_object_put(resp);
	json_object_put(req);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct peer peer;
	struct peer_call call, other;
	struct json_object *v = NULL, *id;
	char *text;
	int mode;

	if (size < 1 || size > 65536)
		return 0;
	mode = data[0] % 5;
	if (!(text = malloc(size)))
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	peer_init(&peer);
	id = json_object_new_int(7);
	peer_call_begin(&peer, &call, id);
	json_object_put(id);
	id = json_object_new_string("7");
	peer_call_begin(&peer, &other, id);
	json_object_put(id);

	if (mode == 0 || mode == 1) {
		/* initialize's params, or a notifications/cancelled's */
		if (mcpd_parse(&v, text, size - 1) && v) {
			if (mode == 0) {
				peer_set_caps(&peer, v);
				(void)peer_can(&peer, false);
				(void)peer_can(&peer, true);
			} else {
				struct json_object *rid = NULL;
				bool found = peer_cancel(&peer, v);
				bool named = json_object_is_type(v, json_type_object) &&
				             json_object_object_get_ex(v, "requestId", &rid) &&
				             ((json_object_is_type(rid, json_type_int) && json_object_get_int64(rid) == 7) ||
				              (json_object_is_type(rid, json_type_string) && !strcmp(json_object_get_string(rid), "7")));
				if (found != named || peer_call_cancelled(&peer, &call) + peer_call_cancelled(&peer, &other) > 1)
					abort();
			}
		}
		json_object_put(v);
	} else {
		/* a request waits; the answer is the rest ('r' first: the result object only) */
		bool wrap = size > 1 && text[0] == 'r';
		struct answer a = { &peer, wrap ? text + 1 : text, wrap ? size - 2 : size - 1, wrap };
		const struct progress_sink sink = { emit, &a, NULL };
		struct peer_client pc = { &peer, &call, &sink, 0 };
		hl_buf out = HL_BUF_INIT;
		struct json_object *caps = json_tokener_parse("{\"capabilities\":{\"elicitation\":{},\"sampling\":{}}}");
		int r;

		peer_set_caps(&peer, caps);
		json_object_put(caps);
		if (mode == 2 || mode == 3) {
			r = peer_elicit(&out, "Allow it?", mode == 3 ? "{\"type\":\"object\",\"properties\":{}}" : NULL, &pc);
			if (r > HL_ELICIT_CANCEL || (r < 0 && hl_error_last()->code != r))
				abort();
			if (r == HL_ELICIT_ACCEPT) {
				struct json_object *c = out.ptr ? json_tokener_parse(out.ptr) : NULL;
				if (!c || !json_object_is_type(c, json_type_object))
					abort();
				json_object_put(c);
			}
		} else {
			r = peer_sample(&out, "{\"messages\":[],\"maxTokens\":1}", &pc);
			if (r == 0) {
				struct json_object *c = out.ptr ? json_tokener_parse(out.ptr) : NULL;
				if (!c || !json_object_is_type(c, json_type_object))
					abort();
				json_object_put(c);
			} else if (r > 0 || hl_error_last()->code != r) {
				abort();
			}
		}
		hl_buf_dispose(&out);
		if (peer.waits)
			abort(); /* the request left no waiter behind */
	}
	peer_call_end(&peer, &other);
	peer_call_end(&peer, &call);
	if (peer.calls)
		abort();
	peer_destroy(&peer);
	free(text);
	return 0;
}
