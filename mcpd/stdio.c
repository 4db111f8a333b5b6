/*
 * stdio.c: MCP over stdin/stdout (Claude Desktop): one JSON-RPC message per
 * line in, one per line out; stdout carries nothing else.
 */
#include "mcpd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int stdio_serve(struct mcpd *d)
{
	struct caller who = { .principal = "stdio", .addr = "stdio", .token = NULL };
	char version[32] = MCPD_LATEST_PROTOCOL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while (!d->stopping && (n = getline(&line, &cap, stdin)) >= 0) {
		struct json_tokener *tok;
		struct json_object *msg;
		char *reply = NULL;

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (n > (ssize_t)MCPD_MAX_BODY) {
			reply = rpc_error(NULL, RPC_INVALID_REQUEST, "message larger than 4 MiB");
		} else {
			tok = json_tokener_new();
			msg = json_tokener_parse_ex(tok, line, (int)n);
			if (json_tokener_get_error(tok) != json_tokener_success ||
			    json_tokener_get_parse_end(tok) != (size_t)n)
				reply = rpc_error(NULL, RPC_PARSE_ERROR, "Parse error: the line is not one JSON value");
			else if (json_object_is_type(msg, json_type_array))
				reply = rpc_error(NULL, RPC_INVALID_REQUEST, "batches are not supported over stdio");
			else
				rpc_handle(d, &who, msg, &reply, version, sizeof(version));
			json_object_put(msg);
			json_tokener_free(tok);
		}
		if (reply) {
			fputs(reply, stdout);
			fputc('\n', stdout);
			fflush(stdout);
			explicit_bzero(reply, strlen(reply));
			free(reply);
		}
	}
	free(line);
	return 0;
}
