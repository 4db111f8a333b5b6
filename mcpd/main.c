/*
 * main.c: homelab-mcpd, libhomelab's tools over MCP.
 *
 *   homelab-mcpd                       Streamable HTTP on http://127.0.0.1:8080/mcp (+ legacy /sse)
 *   homelab-mcpd --stdio               MCP over stdin/stdout, for Claude Desktop
 */
#include "http.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: homelab-mcpd [--db PATH] [--host ADDR] [--port N] [--stdio] [options]\n"
	        "\n"
	        "Serve libhomelab's tools to MCP clients (Open WebUI, Claude Desktop, ...).\n"
	        "\n"
	        "  --db PATH            inventory database (default: $HOMELAB_DB_PATH, else\n"
	        "                       $XDG_DATA_HOME/homelab/homelab.db); it must exist\n"
	        "  --host ADDR          address to listen on (default: $MCP_HOST, else 127.0.0.1)\n"
	        "  --port N             port (default: $MCP_PORT, else 8080; 0 picks a free one)\n"
	        "  --port-file PATH     write the port number there once listening\n"
	        "  --stdio              speak MCP on stdin/stdout instead of HTTP\n"
	        "  --allow-origin URL   also accept browser requests from this Origin (repeatable)\n"
	        "  --keepalive-s N      keep-alive comment interval on event streams (default 15)\n"
	        "  --threads N          HTTP worker threads (default 64, at least 4); each open event stream\n"
	        "                       holds one, and a quarter (at least 2) stay free for requests\n"
	        "  --peer-connections N connections one client address may hold at once (default: a quarter\n"
	        "                       of --threads, at least 4; 0: no cap); 127.0.0.1 and ::1 (local\n"
	        "                       clients, a reverse proxy here) are not capped\n"
	        "  --request-timeout-s N  a request's header must arrive within N seconds, each part of its\n"
	        "                       body too (the whole body within 2N), and an idle keep-alive\n"
	        "                       connection is closed after N (default 5)\n"
	        "  --confirm auto|off|required  ask the person (MCP elicitation) before a destructive tool\n"
	        "                       runs (whisper_ssh_command, whisper_write_file, ollama_delete_model):\n"
	        "                       auto (default) asks clients that declared elicitation and runs the\n"
	        "                       tool for others as before; required refuses it to clients that\n"
	        "                       cannot ask; off never asks. A no runs nothing and is audited\n"
	        "  --elicit-timeout-s N how long a question to the client may wait for its answer (default\n"
	        "                       300); then the call fails and nothing runs\n"
	        "  --help, --version\n"
	        "\n"
	        "Endpoints: /mcp (Streamable HTTP), /sse (Streamable HTTP too, as the original server's\n"
	        "documents configure Open WebUI; a GET without Mcp-Session-Id is the legacy HTTP+SSE stream,\n"
	        "2024-11-05, with /messages), /healthz, /metrics. When the database has API tokens (homelab tokens create), every MCP request\n"
	        "needs 'Authorization: Bearer TOKEN' and each tool call the tool's scope; without tokens\n"
	        "the daemon only listens on loopback addresses.\n");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

/* The database must exist (the daemon never creates an empty inventory),
 * and tell whether any API token is configured. */
static int check_db(struct mcpd *d, int64_t *ntokens)
{
	hl_ctx *ctx = pool_get(&d->pool);

	if (!ctx) {
		fprintf(stderr, "%s: %s\n", MCPD_NAME, hl_error_last()->message);
		if (hl_error_last()->code == HL_ENOTFOUND)
			fprintf(stderr, "%s: create it with: homelab db init --demo\n", MCPD_NAME);
		return -1;
	}
	if (hl_token_count(ctx, ntokens) < 0) {
		fprintf(stderr, "%s: %s\n", MCPD_NAME, hl_error_last()->message);
		pool_put(&d->pool, ctx);
		return -1;
	}
	if (hl_ctx_warning(ctx))
		fprintf(stderr, "%s: warning: %s\n", MCPD_NAME, hl_ctx_warning(ctx)); /* e.g. a database others can read */
	pool_put(&d->pool, ctx);
	return 0;
}

int main(int argc, char **argv)
{
	struct mcpd d = { 0 };
	struct mcpd_http_options o = { 0 };
	const char *origins[32], *port_file = NULL, *env;
	bool use_stdio = false;
	int64_t ntokens = 0;
	struct http *h;
	sigset_t sigs;
	char err[512];
	int sig, rc = 0;

	/* Tool calls return passwords (homelab_get_credentials) and the vault
	 * key is in memory: no core dump, no ptrace by the same user. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	o.host = (env = getenv("MCP_HOST")) && *env ? env : "127.0.0.1";
	o.port = 8080;
	o.keepalive_s = 15;
	o.threads = 64;
	o.peer_conns = -1; /* a quarter of the workers, at least 4 */
	o.request_timeout_s = 5;
	d.confirm = HL_CONFIRM_AUTO;
	d.elicit_timeout_s = 300;
	o.origins = origins;
	if ((env = getenv("MCP_PORT")) && *env && parse_int(env, 0, 65535, &o.port) < 0) {
		fprintf(stderr, "%s: MCP_PORT=%s is not a port number\n", MCPD_NAME, env);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf("%s %s\n", MCPD_NAME, hl_version());
			return 0;
		} else if (!strcmp(a, "--stdio")) {
			use_stdio = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, "%s: unknown option '%s', or it needs a value (try --help)\n", MCPD_NAME, a);
			return 2;
		}
		if (!strcmp(a, "--db"))
			d.pool.db_path = v;
		else if (!strcmp(a, "--host"))
			o.host = v;
		else if (!strcmp(a, "--port") && parse_int(v, 0, 65535, &o.port) == 0)
			;
		else if (!strcmp(a, "--port-file"))
			port_file = v;
		else if (!strcmp(a, "--allow-origin") && o.norigins < 32)
			origins[o.norigins++] = v;
		else if (!strcmp(a, "--keepalive-s") && parse_int(v, 1, 3600, &o.keepalive_s) == 0)
			;
		else if (!strcmp(a, "--threads") && parse_int(v, 4, 1024, &o.threads) == 0)
			;
		else if (!strcmp(a, "--peer-connections") && parse_int(v, 0, 65535, &o.peer_conns) == 0)
			;
		else if (!strcmp(a, "--request-timeout-s") && parse_int(v, 1, 600, &o.request_timeout_s) == 0)
			;
		else if (!strcmp(a, "--confirm") && !strcmp(v, "auto"))
			d.confirm = HL_CONFIRM_AUTO;
		else if (!strcmp(a, "--confirm") && !strcmp(v, "off"))
			d.confirm = HL_CONFIRM_OFF;
		else if (!strcmp(a, "--confirm") && !strcmp(v, "required"))
			d.confirm = HL_CONFIRM_REQUIRED;
		else if (!strcmp(a, "--elicit-timeout-s") && parse_int(v, 1, 86400, &d.elicit_timeout_s) == 0)
			;
		else {
			fprintf(stderr, "%s: bad option '%s %s' (try --help)\n", MCPD_NAME, a, v);
			return 2;
		}
		i++;
	}

	if (o.peer_conns < 0)
		o.peer_conns = o.threads / 4 > 4 ? o.threads / 4 : 4;
	pthread_mutex_init(&d.pool.lock, NULL);
	pthread_mutex_init(&d.metrics.lock, NULL);
	if (check_db(&d, &ntokens) < 0) {
		rc = 1;
		goto out;
	}
	if (!(d.tools_list_all = rpc_tools_list(NULL))) {
		fprintf(stderr, "%s: out of memory\n", MCPD_NAME);
		rc = 1;
		goto out;
	}
	if (use_stdio) {
		rc = stdio_serve(&d);
		goto out;
	}
	if (ntokens == 0 && !mcpd_is_loopback(o.host)) {
		fprintf(stderr, "%s: refusing to listen on %s without authentication: create a token first "
		        "(homelab tokens create NAME --scope inventory:read), or listen on 127.0.0.1\n",
		        MCPD_NAME, o.host);
		rc = 2;
		goto out;
	}

	/* Signals are taken by this thread with sigwait; workers never see them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!(h = http_start(&d, &o, err, sizeof(err)))) {
		fprintf(stderr, "%s: %s\n", MCPD_NAME, err);
		rc = 1;
		goto out;
	}
	fprintf(stderr,
	        "%s %s: %zu tools, inventory %s\n"
	        "  Streamable HTTP: http://%s:%d/mcp (also at /sse)\n"
	        "  legacy SSE:      http://%s:%d/sse\n"
	        "  authentication:  %s\n"
	        "Open WebUI: Admin Settings -> External Tools -> Add Server, type \"MCP (Streamable HTTP)\",\n"
	        "  URL http://HOST:%d/mcp (HOST as Open WebUI reaches this machine; listen on that address\n"
	        "  with --host, which needs a token), auth \"Bearer\" with a token from `homelab tokens create`.\n"
	        "  A server configured for the old Python server (Streamable HTTP at .../sse) keeps working;\n"
	        "  prefer /mcp for new installations.\n"
	        "Claude Desktop: {\"command\": \"homelab-mcpd\", \"args\": [\"--stdio\"]} in its MCP servers config.\n",
	        MCPD_NAME, hl_version(), hl_tool_count(), d.pool.db_path ? d.pool.db_path : "(default)", o.host,
	        http_port(h), o.host, http_port(h),
	        ntokens ? "bearer tokens (homelab tokens list)" : "none (loopback only; homelab tokens create adds it)",
	        http_port(h));
	if (port_file) {
		FILE *f = fopen(port_file, "w");
		if (!f || fprintf(f, "%d\n", http_port(h)) < 0 || fclose(f) != 0) {
			fprintf(stderr, "%s: cannot write %s: %s\n", MCPD_NAME, port_file, strerror(errno));
			http_stop(h);
			rc = 1;
			goto out;
		}
	}
	sigwait(&sigs, &sig);
	fprintf(stderr, "%s: %s, stopping\n", MCPD_NAME, sig == SIGINT ? "interrupted" : "terminated");
	http_stop(h);
out:
	free(d.tools_list_all);
	pool_destroy(&d.pool);
	pthread_mutex_destroy(&d.pool.lock);
	pthread_mutex_destroy(&d.metrics.lock);
	return rc;
}
