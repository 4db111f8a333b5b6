/*
 * testutil.h: helpers for the cmocka unit tests.
 */
#ifndef HL_TESTUTIL_H
#define HL_TESTUTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <homelab.h>

/* A fresh temporary directory (removed with everything in it by
 * tu_tmpdir_cleanup, at exit at the latest). Returns its path. */
const char *tu_tmpdir(void);
void tu_tmpdir_cleanup(void);

/* tu_path("x.db"): a path inside the temporary directory (static buffer
 * rotation: up to 8 paths live at once). */
const char *tu_path(const char *name);

/* Path of a file in tests/fixtures (from $HOMELAB_FIXTURES). */
const char *tu_fixture(const char *name);

/* Open a context on path (NULL: a fresh file in the temp dir); fails the
 * test on error. */
hl_ctx *tu_open(const char *path);
/* Same, with the demo inventory loaded. */
hl_ctx *tu_open_demo(void);

/* Run sql on a database file with the sqlite3 C API (to build fixtures and
 * to look at what the library wrote). Fails the test on error. */
void tu_sql(const char *db_path, const char *sql);
/* First column of the first row of a query, as text (static buffer), or NULL. */
const char *tu_sql_text(const char *db_path, const char *sql);

/* Assert that rc is code and the last error message contains needle. */
#define tu_assert_error(rc, code, needle) tu_assert_error_(rc, code, needle, __FILE__, __LINE__)
void tu_assert_error_(int rc, int code, const char *needle, const char *file, int line);

/* Call a tool by name with JSON arguments; returns rc, result in *out (caller disposes). */
int tu_call(hl_buf *out, hl_ctx *ctx, const char *tool, const char *args);


/* ------------------------------------------------------------------ files --- */

/* The whole contents of a file (malloc'd, NUL-terminated; caller frees), or NULL. */
char *tu_read_file(const char *path, size_t *len);
/* Copy a file; fails the test on error. */
void tu_copy_file(const char *from, const char *to);
/* Run the SQL of a fixture file (tests/fixtures/NAME) on a new database at path. */
void tu_sql_fixture(const char *db_path, const char *fixture);

/* ------------------------------------------------------- loopback HTTP --- */

/* A tiny HTTP server in a child process, listening on 127.0.0.1 only. */
typedef struct {
	int pid;
	int port;
	char log[512]; /* file the child appends each request line to */
} tu_http;

enum {
	TU_HTTP_CLOSE = -1,  /* accept, read the request, close without answering */
	TU_HTTP_SILENT = -2  /* accept and never answer */
};

/* Start a server that answers every request with `status` (or a TU_HTTP_*
 * behaviour) after delay_ms. A 3xx answer carries "Location: /elsewhere". */
void tu_http_start(tu_http *srv, int status, int delay_ms);
void tu_http_stop(tu_http *srv);
/* The request lines the server has seen so far ("GET /health HTTP/1.1\n..."), static buffer. */
const char *tu_http_requests(const tu_http *srv);
/* A loopback port on which nothing listens. */
int tu_closed_port(void);

/* ---------------------------------------------------------- tool results --- */

struct json_object;

/* Validate result JSON text against the output schema of a tool; fails the test otherwise. */
void tu_check_output(const char *tool, const char *result_json);
/* Call a tool that must succeed; the result is checked against the tool's
 * output schema and returned parsed (release with json_object_put). */
struct json_object *tu_call_ok(hl_ctx *ctx, const char *tool, const char *args);
/* A value inside a JSON tree by a dotted path; array indexes are numbers:
 * "vms.1.name". NULL when absent. */
struct json_object *tu_jget(struct json_object *o, const char *path);
/* The value at path as text ("101", "whisper", "true"); NULL when absent or null. */
const char *tu_jstr(struct json_object *o, const char *path);

#endif
