/*
 * testutil.c: helpers for the cmocka unit tests.
 */
#include "testutil.h"
#include "schema.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

static char tmpdir[256];

static void cleanup_at_exit(void)
{
	tu_tmpdir_cleanup();
}

const char *tu_tmpdir(void)
{
	if (!*tmpdir) {
		const char *base = getenv("TMPDIR");
		snprintf(tmpdir, sizeof(tmpdir), "%s/hltest.XXXXXX", base && *base ? base : "/tmp");
		if (!mkdtemp(tmpdir))
			fail_msg("mkdtemp failed");
		atexit(cleanup_at_exit);
	}
	return tmpdir;
}

void tu_tmpdir_cleanup(void)
{
	char cmd[600];

	if (!*tmpdir)
		return;
	/* Files the tests made read-only must go too. */
	snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'", tmpdir, tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", tmpdir);
	*tmpdir = '\0';
}

const char *tu_path(const char *name)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, 512, "%s/%s", tu_tmpdir(), name);
	return b;
}

const char *tu_fixture(const char *name)
{
	static char b[512];
	const char *dir = getenv("HOMELAB_FIXTURES");

	if (!dir)
		fail_msg("HOMELAB_FIXTURES is not set (run the tests through ctest)");
	snprintf(b, sizeof(b), "%s/%s", dir, name);
	return b;
}

hl_ctx *tu_open(const char *path)
{
	static int n;
	char name[64];
	hl_ctx_options o = HL_CTX_OPTIONS_INIT;
	hl_ctx *ctx = NULL;
	int rc;

	if (!path) {
		snprintf(name, sizeof(name), "t%d.db", n++);
		path = tu_path(name);
	}
	o.db_path = path;
	rc = hl_ctx_open(&ctx, &o);
	if (rc != 0)
		fail_msg("hl_ctx_open(%s): %d %s", path, rc, hl_error_last()->message);
	return ctx;
}

hl_ctx *tu_open_demo(void)
{
	hl_ctx *ctx = tu_open(NULL);
	int rc = hl_inventory_load_demo(ctx);
	if (rc != 0)
		fail_msg("hl_inventory_load_demo: %d %s", rc, hl_error_last()->message);
	return ctx;
}

void tu_sql(const char *db_path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	if (sqlite3_open(db_path, &db) != SQLITE_OK)
		fail_msg("sqlite3_open(%s): %s", db_path, sqlite3_errmsg(db));
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		char copy[512];
		snprintf(copy, sizeof(copy), "%s", msg ? msg : "?");
		sqlite3_free(msg);
		sqlite3_close(db);
		fail_msg("sql failed: %s", copy);
	}
	sqlite3_close(db);
}

const char *tu_sql_text(const char *db_path, const char *sql)
{
	static char out[4096];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	const char *res = NULL;

	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		fail_msg("sqlite3_open(%s): %s", db_path, sqlite3_errmsg(db));
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		snprintf(out, sizeof(out), "%s", (const char *)sqlite3_column_text(st, 0));
		res = out;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return res;
}

void tu_assert_error_(int rc, int code, const char *needle, const char *file, int line)
{
	const hl_error *e = hl_error_last();

	if (rc != code) {
		print_error("ERROR: expected %s (%d), got %s (%d): %s\n", hl_error_name(code), code,
		            hl_error_name(rc) ? hl_error_name(rc) : "?", rc, e->message);
		_fail(file, line);
	}
	if (needle && !strstr(e->message, needle)) {
		print_error("ERROR: error message '%s' does not contain '%s'\n", e->message, needle);
		_fail(file, line);
	}
}

int tu_call(hl_buf *out, hl_ctx *ctx, const char *tool, const char *args)
{
	const hl_tool *t = hl_tool_lookup(tool);

	if (!t)
		fail_msg("no tool %s", tool);
	return hl_tool_call(out, ctx, t, args, NULL);
}

/* ------------------------------------------------------------------ files --- */

char *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			if (len)
				*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

void tu_copy_file(const char *from, const char *to)
{
	size_t n = 0;
	char *data = tu_read_file(from, &n);
	FILE *f;

	if (!data)
		fail_msg("cannot read %s", from);
	f = fopen(to, "wb");
	if (!f || fwrite(data, 1, n, f) != n) {
		free(data);
		if (f)
			fclose(f);
		fail_msg("cannot write %s", to);
	}
	fclose(f);
	free(data);
}

void tu_sql_fixture(const char *db_path, const char *fixture)
{
	char *sql = tu_read_file(tu_fixture(fixture), NULL);

	if (!sql)
		fail_msg("cannot read fixture %s", fixture);
	tu_sql(db_path, sql);
	free(sql);
}

/* ------------------------------------------------------- loopback HTTP --- */

static int listen_loopback(int *port)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* 127.0.0.1 only, ever */
	a.sin_port = 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static void http_child(int fd, int status, int delay_ms, const char *log)
{
	for (;;) {
		char req[4096], reply[256];
		size_t got = 0;
		int c = accept(fd, NULL, NULL);
		if (c < 0)
			continue;
		/* Read up to the end of the headers. */
		while (got < sizeof(req) - 1) {
			ssize_t n = read(c, req + got, sizeof(req) - 1 - got);
			if (n <= 0)
				break;
			got += (size_t)n;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[got] = '\0';
		{
			FILE *f = fopen(log, "a");
			char *eol = strstr(req, "\r\n");
			if (f) {
				fprintf(f, "%.*s\n", eol ? (int)(eol - req) : (int)got, req);
				fclose(f);
			}
		}
		if (delay_ms > 0)
			usleep((useconds_t)delay_ms * 1000);
		if (status == TU_HTTP_SILENT) {
			pause();
			_exit(0);
		}
		if (status != TU_HTTP_CLOSE) {
			int n = snprintf(reply, sizeof(reply),
			                 "HTTP/1.1 %d Test\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n%s"
			                 "Connection: close\r\n\r\nok",
			                 status, status >= 300 && status < 400 ? "Location: /elsewhere\r\n" : "");
			if (write(c, reply, (size_t)n) < 0)
				_exit(1);
		}
		close(c);
	}
}

void tu_http_start(tu_http *srv, int status, int delay_ms)
{
	static int n;
	char name[64];
	pid_t pid;
	int fd;

	memset(srv, 0, sizeof(*srv));
	snprintf(name, sizeof(name), "http%d.log", n++);
	snprintf(srv->log, sizeof(srv->log), "%s", tu_path(name));
	fd = listen_loopback(&srv->port);
	if (fd < 0)
		fail_msg("cannot listen on 127.0.0.1");
	pid = fork();
	if (pid < 0)
		fail_msg("fork failed");
	if (pid == 0) {
		http_child(fd, status, delay_ms, srv->log);
		_exit(0);
	}
	close(fd);
	srv->pid = (int)pid;
}

void tu_http_stop(tu_http *srv)
{
	if (srv->pid > 0) {
		kill((pid_t)srv->pid, SIGKILL);
		waitpid((pid_t)srv->pid, NULL, 0);
	}
	srv->pid = 0;
}

const char *tu_http_requests(const tu_http *srv)
{
	static char out[4096];
	char *data = tu_read_file(srv->log, NULL);

	snprintf(out, sizeof(out), "%s", data ? data : "");
	free(data);
	return out;
}

int tu_closed_port(void)
{
	int port = 0, fd = listen_loopback(&port);

	if (fd < 0)
		fail_msg("cannot listen on 127.0.0.1");
	close(fd); /* nothing listens there now */
	return port;
}

/* ---------------------------------------------------------- tool results --- */

void tu_check_output(const char *tool, const char *result_json)
{
	const hl_tool *t = hl_tool_lookup(tool);
	struct json_object *schema = NULL, *value = NULL;
	char msg[1100];
	int rc;

	if (!t)
		fail_msg("no tool %s", tool);
	if (hl_json__parse(&schema, hl_tool_output_schema(t), strlen(hl_tool_output_schema(t)), "schema") < 0)
		fail_msg("%s: output schema does not parse: %s", tool, hl_error_last()->message);
	if (hl_json__parse(&value, result_json, strlen(result_json), "result") < 0) {
		json_object_put(schema);
		fail_msg("%s: result does not parse: %s", tool, hl_error_last()->message);
	}
	rc = hl_schema__validate(schema, value, "result");
	snprintf(msg, sizeof(msg), "%s", hl_error_last()->message);
	json_object_put(schema);
	json_object_put(value);
	if (rc != 0)
		fail_msg("%s: result does not match the output schema: %s\n%s", tool, msg, result_json);
}

struct json_object *tu_call_ok(hl_ctx *ctx, const char *tool, const char *args)
{
	hl_buf out = HL_BUF_INIT;
	struct json_object *o = NULL;
	int rc = tu_call(&out, ctx, tool, args);

	if (rc != 0)
		fail_msg("%s(%s): %s %s", tool, args ? args : "", hl_error_name(rc), hl_error_last()->message);
	if (!out.ptr || out.size != strlen(out.ptr))
		fail_msg("%s: result buffer is inconsistent", tool);
	tu_check_output(tool, out.ptr);
	if (hl_json__parse(&o, out.ptr, out.size, "result") < 0)
		fail_msg("%s: result does not parse", tool);
	hl_buf_dispose(&out);
	return o;
}

struct json_object *tu_jget(struct json_object *o, const char *path)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *part = strtok_r(buf, ".", &save); part && o; part = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array)) {
			size_t i = (size_t)strtoul(part, NULL, 10);
			o = i < json_object_array_length(o) ? json_object_array_get_idx(o, i) : NULL;
		} else if (!json_object_object_get_ex(o, part, &o)) {
			return NULL;
		}
	}
	return o;
}

const char *tu_jstr(struct json_object *o, const char *path)
{
	struct json_object *v = tu_jget(o, path);

	return v && !json_object_is_type(v, json_type_null) ? json_object_get_string(v) : NULL;
}
