/*
 * cmd_ssh.c: `homelab ssh TARGET -- COMMAND...` (output streamed as it
 * arrives, exit status passed on, like ssh), `homelab ssh trust TARGET`
 * and `homelab ssh forget TARGET`.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ssh's exit status when it could not run the command */
#define SSH_EXIT_FAILED 255

/* The target must be a VM with an IP: exit 3 otherwise, with a message
 * naming it (the library's own error would come only after the audit). */
static int check_target(hl_ctx *ctx, const char *target)
{
	hl_vm *vm = NULL;
	int err = hl_vm_lookup(&vm, ctx, target);

	if (err == HL_ENOTFOUND) {
		fprintf(stderr, "homelab: target '%s': no VM with that name or vm_id in the inventory\n", target);
		return CLI_NOTFOUND;
	}
	if (err < 0)
		return cli_fail(err);
	if (!vm->ip || !*vm->ip) {
		fprintf(stderr, "homelab: target '%s': VM %s has no IP address in the inventory (homelab vms set %s --ip IP)\n",
		        target, vm->name, vm->name);
		hl_vm_free(vm);
		return CLI_NOTFOUND;
	}
	hl_vm_free(vm);
	return CLI_OK;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int stream_output(int stream, const char *data, size_t len, void *payload)
{
	(void)payload;
	/* a closed stdout (a pager that quit) or Ctrl-C ends the remote command */
	return write_all(stream == 2 ? STDERR_FILENO : STDOUT_FILENO, data, len) < 0 || cli_interrupted() ? 1 : 0;
}

static int ssh_run(struct cli *c, int argc, char **argv)
{
	static const char *const spec[] = { "timeout-s=", NULL };
	const char *target = argv[1];
	struct cli_args a;
	hl_ssh_exec_options opts = HL_SSH_EXEC_OPTIONS_INIT;
	hl_ssh_result *r = NULL;
	char *command = NULL;
	size_t len = 0;
	int i, nopt, rc, err;
	hl_ctx *ctx;

	/* options between TARGET and the command; the command starts at `--`
	 * or at the first word that is not an option */
	for (i = 2; i < argc && strcmp(argv[i], "--") != 0 && !strncmp(argv[i], "--", 2); i++)
		if (!strcmp(argv[i], "--timeout-s") && i + 1 < argc)
			i++;
	nopt = i - 2;
	if ((rc = cli_parse(&a, nopt, argv + 2, spec)) != CLI_OK)
		return rc;
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (i >= argc)
		return cli_usage_error("usage: homelab ssh TARGET [--timeout-s N] -- COMMAND...");
	for (int j = i; j < argc; j++)
		len += strlen(argv[j]) + 1;
	if (!(command = malloc(len)))
		return cli_usage_error("out of memory");
	command[0] = '\0';
	for (int j = i; j < argc; j++) {
		if (j > i)
			strcat(command, " ");
		strcat(command, argv[j]);
	}
	if (cli_opt(&a, "timeout-s")) {
		char *end;
		double s = strtod(cli_opt(&a, "timeout-s"), &end);
		if (*end || !(s > 0) || s > 86400) {
			free(command);
			return cli_usage_error("--timeout-s: '%s' is not a number of seconds", cli_opt(&a, "timeout-s"));
		}
		opts.timeout_ms = (int)(s * 1000 + 0.5);
	}
	if (!(ctx = cli_ctx(c, &rc)) || (rc = check_target(ctx, target)) != CLI_OK) {
		free(command);
		return rc == CLI_OK ? SSH_EXIT_FAILED : rc;
	}
	opts.output = stream_output;
	cli_signals_cancellable(true);
	err = hl_ssh_exec(&r, ctx, target, command, &opts);
	cli_signals_cancellable(false);
	free(command);
	if (err < 0) {
		fprintf(stderr, "homelab: %s\n", hl_error_last()->message);
		return err == HL_EINVALID ? CLI_USAGE : SSH_EXIT_FAILED;
	}
	if (r->timed_out)
		fprintf(stderr, "homelab: %s: the command timed out after %.1f s and was ended\n", r->target,
		        opts.timeout_ms ? opts.timeout_ms / 1000.0 : 60.0);
	else if (r->signal)
		fprintf(stderr, "homelab: %s: the command was killed by signal %s\n", r->target, r->signal);
	rc = r->exit_status >= 0 && !r->timed_out ? r->exit_status : SSH_EXIT_FAILED;
	hl_ssh_result_free(r);
	return rc;
}

static const char *state_text(int state)
{
	return state == HL_SSH_HOST_KNOWN ? "known" : state == HL_SSH_HOST_UNKNOWN ? "not known" : "CHANGED";
}

static int ssh_trust(struct cli *c, int argc, char **argv)
{
	static const char *const spec[] = { "replace", "yes", NULL };
	hl_ssh_host_key *k = NULL;
	struct cli_args a;
	hl_ctx *ctx;
	int rc, err;
	bool yes;

	if ((rc = cli_parse(&a, argc - 2, argv + 2, spec)) != CLI_OK)
		return rc;
	if (a.npos != 1)
		return cli_usage_error("usage: homelab ssh trust TARGET [--replace] [--yes]");
	yes = c->yes || cli_flag(&a, "yes");
	if (!(ctx = cli_ctx(c, &rc)) || (rc = check_target(ctx, a.pos[0])) != CLI_OK)
		return rc;
	if ((err = hl_ssh_host_key_get(&k, ctx, a.pos[0])) < 0)
		return cli_fail(err);
	printf("host:        %s (%s port %d)\n", k->target, k->host, k->port);
	printf("key:         %s %s\n", k->key_type, k->fingerprint);
	printf("known_hosts: %s (%s)\n", k->known_hosts_path, state_text(k->state));
	if (k->state == HL_SSH_HOST_CHANGED)
		printf("known keys:  %s\n", k->known_fingerprints);
	fflush(stdout);
	if (k->state == HL_SSH_HOST_KNOWN) {
		printf("already trusted; nothing changed\n");
		goto out;
	}
	if (k->state == HL_SSH_HOST_CHANGED && !cli_flag(&a, "replace")) {
		fprintf(stderr,
		        "homelab: HOST KEY CHANGED for %s: known_hosts holds %s, the server offers %s; this may be an attack. "
		        "If the change is expected: homelab ssh trust %s --replace\n",
		        k->target, k->known_fingerprints, k->fingerprint, a.pos[0]);
		rc = CLI_ERROR;
		goto out;
	}
	if (!yes) {
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr, "homelab: not on a terminal: check %s, then run again with --yes to trust it\n",
			        k->fingerprint);
			rc = CLI_ERROR;
			goto out;
		}
		if (!cli_confirm(c, "trust %s key %s for %s?", k->key_type, k->fingerprint, k->target)) {
			rc = CLI_ERROR;
			goto out;
		}
	}
	if ((err = hl_ssh_trust(ctx, k, cli_flag(&a, "replace") ? HL_SSH_TRUST_REPLACE : 0)) < 0) {
		rc = cli_fail(err);
		goto out;
	}
	printf("%s %s to %s\n", k->state == HL_SSH_HOST_CHANGED ? "replaced the key of" : "trusted", k->target,
	       k->known_hosts_path);
out:
	hl_ssh_host_key_free(k);
	return rc;
}

static int ssh_forget(struct cli *c, int argc, char **argv)
{
	hl_ctx *ctx;
	size_t n = 0;
	int rc, err;

	if (argc != 3)
		return cli_usage_error("usage: homelab ssh forget TARGET");
	if (!(ctx = cli_ctx(c, &rc)))
		return rc;
	if ((err = hl_ssh_forget(ctx, argv[2], &n)) < 0)
		return cli_fail(err);
	printf("closed %zu kept session%s to %s\n", n, n == 1 ? "" : "s", argv[2]);
	return CLI_OK;
}

int cmd_ssh(struct cli *c, int argc, char **argv)
{
	if (!strcmp(argv[1], "trust"))
		return ssh_trust(c, argc, argv);
	if (!strcmp(argv[1], "forget"))
		return ssh_forget(c, argc, argv);
	return ssh_run(c, argc, argv);
}
