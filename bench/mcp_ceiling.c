/*
 * mcp_ceiling.c: the ceiling for bench/mcp_bench.py. A bare CivetWeb server
 * on 127.0.0.1 that answers every POST to /mcp with one constant JSON-RPC
 * body (read from a file: the benchmark passes homelab-mcpd's own answer,
 * so the size is the same), a notification with 202, a GET with the headers
 * of an event stream and no event, a DELETE with 200. Same CivetWeb options
 * as homelab-mcpd (tcp_nodelay, keep-alive, worker threads), same way of
 * sending (status line, headers and body in one mg_write). No parsing, no
 * database, no authentication: what the HTTP stack under the daemon costs
 * by itself.
 *
 *   mcp_ceiling BODY_FILE PORT_FILE [THREADS]
 *
 * Stops on SIGTERM or SIGINT.
 */
#include <civetweb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *body;
static size_t body_len;
static __thread char *out; /* a worker's answer buffer: header + body */
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int handle(struct mg_connection *c, void *data)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	char in[8192];
	int status = 200;
	const char *ctype = "application/json";
	size_t n = body_len;
	bool notification = false;

	(void)data;
	if (!out && !(out = malloc(body_len + 512)))
		return 500;
	if (!strcmp(ri->request_method, "POST")) {
		/* a notification (no "id") gets 202, as the spec says */
		int got, first = 1;
		while ((got = mg_read(c, in, sizeof(in) - 1)) > 0) {
			if (first) {
				in[got] = '\0';
				notification = strstr(in, "\"id\"") == NULL;
				first = 0;
			}
		}
		if (notification) {
			status = 202;
			n = 0;
		}
	} else if (!strcmp(ri->request_method, "GET")) {
		ctype = "text/event-stream";
		n = 0;
	} else {
		n = 0;
	}
	/* the whole answer in one write, as homelab-mcpd sends its answers:
	 * CivetWeb's header API (mg_response_header_send) sends each header
	 * line with a send() of its own, and with tcp_nodelay each is a TCP
	 * segment, which would make this ceiling slower than the daemon */
	{
		char head[512];
		int hn = snprintf(head, sizeof(head),
		                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
		                  "Mcp-Session-Id: 0123456789abcdef0123456789abcdef\r\nConnection: keep-alive\r\n\r\n",
		                  status, status == 202 ? "Accepted" : "OK", ctype, n);
		memcpy(out, head, (size_t)hn);
		if (n)
			memcpy(out + hn, body, n);
		mg_write(c, out, (size_t)hn + n);
	}
	return status;
}

int main(int argc, char **argv)
{
	const char *threads = argc > 3 ? argv[3] : "64";
	struct mg_callbacks cb;
	struct mg_context *mg;
	struct mg_server_port port;
	FILE *f;
	long len;

	if (argc < 3) {
		fprintf(stderr, "usage: mcp_ceiling BODY_FILE PORT_FILE [THREADS]\n");
		return 2;
	}
	if (!(f = fopen(argv[1], "rb")) || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    !(body = malloc((size_t)len + 1)) || fread(body, 1, (size_t)len, f) != (size_t)len) {
		perror(argv[1]);
		return 1;
	}
	fclose(f);
	body_len = (size_t)len;

	const char *cfg[] = {
		"listening_ports", "127.0.0.1:0",
		"num_threads", threads,
		"tcp_nodelay", "1",
		"enable_keep_alive", "yes",
		"request_timeout_ms", "5000",
		"keep_alive_timeout_ms", "5000",
		"connection_queue", threads,
		"listen_backlog", "128",
		NULL
	};
	memset(&cb, 0, sizeof(cb));
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	mg_init_library(0);
	if (!(mg = mg_start(&cb, NULL, cfg))) {
		fprintf(stderr, "mcp_ceiling: cannot start CivetWeb\n");
		return 1;
	}
	mg_set_request_handler(mg, "/mcp", handle, NULL);
	if (mg_get_server_ports(mg, 1, &port) != 1) {
		fprintf(stderr, "mcp_ceiling: no listening port\n");
		return 1;
	}
	if (!(f = fopen(argv[2], "w")) || fprintf(f, "%d\n", port.port) < 0 || fclose(f)) {
		perror(argv[2]);
		return 1;
	}
	while (!stop)
		pause();
	mg_stop(mg);
	mg_exit_library();
	free(body);
	return 0;
}
