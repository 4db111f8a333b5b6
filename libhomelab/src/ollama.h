/*
 * ollama.h: the Ollama REST client shared by the ollama_* tools
 * (tools_ollama.c): endpoint resolution, JSON requests, NDJSON streams with
 * progress, stall detection and cancellation, and error mapping.
 */
#ifndef HL_OLLAMA_PRIVATE_H
#define HL_OLLAMA_PRIVATE_H

#include "hl.h"

/* A connection to one target's Ollama (each request has its own handle). */
typedef struct {
	hl_ctx *ctx;
	char *target;     /* the VM's name */
	char *endpoint;   /* base URL, no trailing '/' */
	int timeout_ms;   /* non-streamed requests */
} hl_ollama__conn;

int hl_ollama__open(hl_ollama__conn *c, hl_ctx *ctx, const char *target, int timeout_ms);
void hl_ollama__close(hl_ollama__conn *c);

/* method path with an optional JSON body. A 2xx answer: 0 and its body in
 * *body (maybe empty). Otherwise: 404 HL_ENOTFOUND carrying Ollama's
 * message, 400 HL_EINVALID, others HL_ERROR naming the endpoint; transport
 * failures HL_EUNREACHABLE or HL_ETIMEOUT. */
int hl_ollama__request(hl_buf *body, hl_ollama__conn *c, const char *method, const char *path, const char *json);

/* What a streamed request saw. */
typedef struct {
	char *status;         /* the last status line ("success" when done) */
	char *digest;         /* the last layer digest seen, NULL when none */
	int64_t completed;    /* bytes over all layers */
	int64_t total;
	size_t lines;
	double duration_ms;
} hl_ollama__stream_result;

void hl_ollama__stream_result_free(hl_ollama__stream_result *r);

/* POST path with json and read the NDJSON answer to its "success" line,
 * reporting progress (status line, bytes over all layers) through opts. An
 * {"error"} line, a stall ($HOMELAB_OLLAMA_STALL_S, default 120 s without
 * progress: HL_ETIMEOUT), a dropped connection (HL_EUNREACHABLE) or a stream
 * that ends without "success" are errors; so is a callback asking to stop
 * (HL_EUSER). what names the operation in messages ("pull of gemma:2b"). */
int hl_ollama__stream(hl_ollama__stream_result *res, hl_ollama__conn *c, const char *path, const char *json,
                      const char *what, const hl_call_options *opts);

#endif
