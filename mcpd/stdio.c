/*
 * stdio.c: MCP over stdin/stdout (Claude Desktop): one JSON-RPC message per
 * line in, one per line out; stdout carries nothing else.
 */
#include "mcpd.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;

static bool write_line(void *payload, const char *text)
{
	(void)payload;
	return fputs(text, stdout) >= 0 && fputc('\n', stdout) != EOF && fflush(stdout) == 0;
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

int stdio_serve(struct mcpd *d)
{
	struct sigaction sa = { 0 };
	_Atomic int log_level = MCPD_DEFAULT_LOG_LEVEL;
	struct caller who = { .principal = "stdio", .addr = "stdio", .token = NULL, .legacy_ok = true,
	                      .log_level = &log_level };
	const struct progress_sink sink = { write_line, NULL };
	char version[32] = MCPD_LATEST_PROTOCOL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	/* SIGTERM/SIGINT end the loop (getline fails with EINTR: no SA_RESTART),
	 * and the daemon exits cleanly. */
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!d->stopping && !stop_signal && (n = getline(&line, &cap, stdin)) >= 0) {
		struct json_object *msg;
		char *reply = NULL;

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (n > (ssize_t)MCPD_MAX_BODY) {
			reply = rpc_error(NULL, RPC_INVALID_REQUEST, "message larger than 4 MiB");
		} else {
			if (!mcpd_parse(&msg, line, (size_t)n))
				reply = rpc_error(NULL, RPC_PARSE_ERROR, "Parse error: the line is not one JSON value");
			else if (json_object_is_type(msg, json_type_array))
				reply = rpc_error(NULL, RPC_INVALID_REQUEST, "batches are not supported over stdio");
			else
				rpc_handle(d, &who, msg, &reply, version, sizeof(version), &sink);
			json_object_put(msg);
		}
		if (reply) {
			write_line(NULL, reply);
			explicit_bzero(reply, strlen(reply));
			free(reply);
		}
	}
	free(line);
	if (stop_signal)
		fprintf(stderr, "%s: %s, stopping\n", MCPD_NAME, stop_signal == SIGINT ? "interrupted" : "terminated");
	return 0;
}
