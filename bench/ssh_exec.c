/*
 * bench/ssh_exec.c: N sequential hl_ssh_exec("echo hi") through the public
 * API on one kept session, and N hl_audit_record() alone (each command
 * commits two audit rows), so the figures of bench/ssh_bench.py can be
 * split into SSH and audit time. Run by ssh_bench.py with the database and
 * environment it prepared:
 *
 *     bench_ssh_exec DB TARGET N
 */
#include <homelab.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	hl_ctx_options o = HL_CTX_OPTIONS_INIT;
	hl_audit_event ev = HL_AUDIT_EVENT_INIT;
	hl_ctx *ctx = NULL;
	hl_ssh_result *r = NULL;
	double t, exec_ms = 0, audit_ms = 0;
	int n;

	if (argc != 4 || (n = atoi(argv[3])) <= 0) {
		fprintf(stderr, "usage: bench_ssh_exec DB TARGET N\n");
		return 2;
	}
	o.db_path = argv[1];
	if (hl_ctx_open(&ctx, &o) < 0 || hl_ssh_exec(&r, ctx, argv[2], "true", NULL) < 0) {
		fprintf(stderr, "bench_ssh_exec: %s\n", hl_error_last()->message);
		return 1;
	}
	hl_ssh_result_free(r);
	for (int i = 0; i < n; i++) {
		t = now_ms();
		if (hl_ssh_exec(&r, ctx, argv[2], "echo hi", NULL) < 0 || r->out_len != 3 || memcmp(r->out, "hi\n", 3)) {
			fprintf(stderr, "bench_ssh_exec: %s\n", hl_error_last()->message);
			return 1;
		}
		exec_ms += now_ms() - t;
		hl_ssh_result_free(r);
	}
	ev.action = "ssh_command";
	ev.result = "ok";
	ev.details = "bench_ssh_exec: an audit row alone";
	for (int i = 0; i < n; i++) {
		t = now_ms();
		if (hl_audit_record(ctx, &ev) < 0) {
			fprintf(stderr, "bench_ssh_exec: %s\n", hl_error_last()->message);
			return 1;
		}
		audit_ms += now_ms() - t;
	}
	printf("{\"exec_ms\": %.3f, \"audit_row_ms\": %.3f}\n", exec_ms / n, audit_ms / n);
	hl_ctx_free(ctx);
	return 0;
}
