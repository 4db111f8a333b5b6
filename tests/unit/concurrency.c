/*
 * concurrency.c: 8 processes, each with its own hl_ctx on the same database
 * file, allocate from one /24 at the same moment; every address handed out
 * is distinct and every row is there.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPROC 8
#define PER_PROC 6

/* One child: wait for the start signal, allocate PER_PROC addresses, write
 * them to the result pipe as "ip\n" lines. Exit status 0 when all worked. */
static void child(const char *path, int start_fd, int out_fd, int id)
{
	hl_ctx_options o = HL_CTX_OPTIONS_INIT;
	hl_ctx *ctx = NULL;
	char owner[32], line[64], go;
	int failed = 0;

	o.db_path = path;
	o.busy_timeout_ms = 10000;
	if (hl_ctx_open(&ctx, &o) != 0) {
		fprintf(stderr, "child %d: open: %s\n", id, hl_error_last()->message);
		_exit(2);
	}
	if (read(start_fd, &go, 1) != 1) /* blocks until the parent closes the pipe */
		go = 0;
	snprintf(owner, sizeof(owner), "proc%d", id);
	for (int i = 0; i < PER_PROC; i++) {
		hl_ip_spec sp = HL_IP_SPEC_INIT;
		hl_ip_alloc *a = NULL;
		sp.allocated_to = owner;
		if (hl_ip_allocate(&a, ctx, "127.0.8.0/24", &sp) != 0) {
			fprintf(stderr, "child %d: allocate: %s\n", id, hl_error_last()->message);
			failed = 1;
			break;
		}
		snprintf(line, sizeof(line), "%s %s\n", a->ip, owner);
		if (write(out_fd, line, strlen(line)) != (ssize_t)strlen(line))
			failed = 1;
		hl_ip_alloc_free(a);
	}
	hl_ctx_free(ctx);
	_exit(failed);
}

static void test_concurrency__parallel_allocation(void **state)
{
	const char *path = tu_path("shared.db");
	hl_ctx *ctx = tu_open(path);
	int start[2], results[2];
	pid_t pids[NPROC];
	char buf[8192];
	size_t got = 0;
	char seen[256] = { 0 };
	int lines = 0;
	ssize_t n;

	(void)state;
	/* A VM already holds .5: nobody may get it. */
	{
		hl_vm_spec vs = HL_VM_SPEC_INIT;
		vs.name = "holder";
		vs.ip = "127.0.8.5";
		assert_int_equal(hl_vm_add(NULL, ctx, &vs), 0);
	}
	hl_ctx_free(ctx); /* no connection open across fork() */

	assert_int_equal(pipe(start), 0);
	assert_int_equal(pipe(results), 0);
	for (int i = 0; i < NPROC; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			close(start[1]);
			close(results[0]);
			child(path, start[0], results[1], i);
		}
	}
	close(start[0]);
	close(results[1]);
	usleep(100 * 1000); /* let every child open its context */
	close(start[1]);    /* go: every read() returns at once */

	while ((n = read(results[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(results[0]);
	for (int i = 0; i < NPROC; i++) {
		int status = 0;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}

	/* Every address distinct, in the subnet, never .0, .5 or .255. */
	for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned a, b, c, d;
		assert_int_equal(sscanf(l, "%u.%u.%u.%u", &a, &b, &c, &d), 4);
		assert_int_equal(a, 127);
		assert_int_equal(b, 0);
		assert_int_equal(c, 8);
		assert_true(d >= 1 && d <= 254 && d != 5);
		if (seen[d])
			fail_msg("127.0.8.%u was handed out twice", d);
		seen[d] = 1;
		lines++;
	}
	assert_int_equal(lines, NPROC * PER_PROC);
	/* The lowest addresses, no gaps: 1..4, 6..49. */
	for (int d = 1; d <= NPROC * PER_PROC + 1; d++)
		assert_int_equal(seen[d], d != 5);

	/* Every row is in the database, each with its owner. */
	{
		char want[16];
		snprintf(want, sizeof(want), "%d", NPROC * PER_PROC);
		assert_string_equal(tu_sql_text(path, "SELECT count(*) FROM network_config"), want);
		assert_string_equal(tu_sql_text(path, "SELECT count(DISTINCT ip_address) FROM network_config"), want);
		snprintf(want, sizeof(want), "%d", NPROC);
		assert_string_equal(tu_sql_text(path, "SELECT count(DISTINCT allocated_to) FROM network_config"), want);
		snprintf(want, sizeof(want), "%d", PER_PROC);
		assert_string_equal(tu_sql_text(path, "SELECT max(c) FROM (SELECT count(*) AS c FROM network_config "
		                                      "GROUP BY allocated_to)"), want);
		assert_string_equal(tu_sql_text(path, "SELECT min(c) FROM (SELECT count(*) AS c FROM network_config "
		                                      "GROUP BY allocated_to)"), want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrency__parallel_allocation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
