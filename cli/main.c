/*
 * main.c: `homelab`, the command-line front end of libhomelab.
 *
 * Global options, the table of command groups, dispatch and help. Each
 * group lives in its own cmd_<group>.c.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

const struct cli_group cli_groups[] = {
	{ "vms", "list, show, add, change and remove virtual machines",
	  "vms list [--status S] [--host H]\n"
	  "vms show NAME|VMID\n"
	  "vms add NAME [--id VMID] [--ip IP] [--status S] [--host H] [--ssh-user U] [--ssh-port P]\n"
	  "vms set NAME|VMID [--name N] [--id VMID] [--ip IP] [--status S] [--host H] [--ssh-user U] [--ssh-port P]\n"
	  "                                    [--file-root PATH ...]   roots of the file tools (\"\" clears: the SSH user's home)\n"
	  "vms rm NAME|VMID [--force]          --force also removes the VM's services (never credentials)\n",
	  cmd_vms },
	{ "hosts", "list, show, add, change and remove Proxmox hosts",
	  "hosts list\n"
	  "hosts show NAME|ID\n"
	  "hosts add NAME [--ip IP] [--id ID]\n"
	  "hosts set NAME|ID [--name N] [--ip IP]\n"
	  "hosts rm NAME|ID\n",
	  cmd_hosts },
	{ "services", "list, show, check, add, change and remove services",
	  "services list [--vm NAME|VMID]\n"
	  "services show NAME\n"
	  "services check NAME [--timeout-s S]   HTTP health check\n"
	  "services check --all [--vm NAME|VMID] [--timeout-s S]   every service (or one VM's), with totals\n"
	  "services add NAME [--url URL] [--port P] [--protocol P] [--health PATH] [--vm NAME] [TLS]\n"
	  "services set NAME [--name N] [--url URL] [--port P] [--protocol P] [--health PATH] [--vm NAME] [TLS]\n"
	  "                                    TLS of the health check: --ca-file PATH (verify against it),\n"
	  "                                    --insecure (do not verify), --verify (the system's CAs again)\n"
	  "                                    a port without a URL (or protocol, or --health) gets a TCP connect check\n"
	  "services rm NAME\n",
	  cmd_services },
	{ "ip", "look up, list, allocate and release IP addresses",
	  "ip lookup IP                        which VM, host or allocation holds IP\n"
	  "ip list [--subnet CIDR]\n"
	  "ip allocate --subnet CIDR --to NAME [--hostname H] [--type T]\n"
	  "ip add IP --to NAME [--hostname H] [--type T]\n"
	  "ip release IP\n",
	  cmd_ip },
	{ "tools", "list the tools, show their schemas, call one",
	  "tools list\n"
	  "tools schema NAME [--output]        input (or output) JSON Schema\n"
	  "tools call NAME [key=value ...]     values are typed by the schema\n"
	  "tools call NAME --args JSON         arguments as one JSON object ('-' reads stdin)\n",
	  cmd_tools },
	{ "db", "create the database, load the demo inventory, show where it is",
	  "db init [--demo]                    create (and migrate) the database: the only command that creates one\n"
	  "db info                             path, schema version, counts\n"
	  "db path                             print the database path\n",
	  cmd_db },
	{ "creds", "store, read and list credentials; manage the vault key",
	  "creds list [--type vm|host|service]   metadata only, never passwords\n"
	  "creds get TARGET                    decrypted, audited (TARGET: vm:NAME, host:NAME, service:NAME, id)\n"
	  "creds set TARGET [--user U] [--key-path PATH] [--auth-type T] [--password | --clear-password]\n"
	  "                                    --password prompts (no echo), or reads stdin's first line\n"
	  "creds rm TARGET\n"
	  "creds keygen [--file PATH]          print a new key (or write it, mode 600)\n"
	  "creds migrate                       seal older rows (Fernet, v1): every field authenticated\n"
	  "creds rotate-key [--new-key-file PATH | --new-key-stdin | --write-key-file PATH]\n"
	  "                                    re-encrypt everything under a new key (printed if generated)\n",
	  cmd_creds },
	{ "audit", "show and verify the tamper-evident audit log",
	  "audit list [--limit N] [--action A] [--since T]   T: YYYY-MM-DD[ HH:MM[:SS]] (UTC) or 30m, 2h, 7d\n"
	  "audit verify [--head SEQ:HASH]      check the keyed chain; names the first bad row; with --head, also\n"
	  "                                    that the log still holds a head recorded earlier (cut back, wiped)\n"
	  "audit head                          check the chain, print its head SEQ:HASH: keep it elsewhere\n",
	  cmd_audit },
	{ "tokens", "create, list and revoke the API tokens of homelab-mcpd",
	  "tokens create NAME --scope S [--scope S ...] [--expires-days N]\n"
	  "                                    prints the token once; S: inventory:read, ssh:exec, ollama:*, * ...\n"
	  "tokens list                         metadata only, never the tokens\n"
	  "tokens revoke NAME|ID\n",
	  cmd_tokens },
	{ "ssh", "run a command on a VM over SSH; trust or forget its host key and sessions",
	  "ssh TARGET [--timeout-s N] -- COMMAND...   output as it comes; exits with the remote status (255: not run)\n"
	  "ssh trust TARGET [--replace] [--yes]   show the host key, ask, add it to known_hosts\n"
	  "ssh forget TARGET                   close the kept SSH sessions to TARGET\n",
	  cmd_ssh },
	{ "ollama", "list, show, pull, copy, create and remove the Ollama models of a VM",
	  "ollama ls [--target VM]            installed models (VM: name or vm_id; default $HOMELAB_DEFAULT_TARGET, whisper)\n"
	  "ollama ps [--target VM]            models loaded in memory\n"
	  "ollama show MODEL [--target VM]    details, parameters, Modelfile\n"
	  "ollama pull MODEL [--target VM]    download, with progress; stalls end after $HOMELAB_OLLAMA_STALL_S (120 s)\n"
	  "ollama rm MODEL [--target VM] [--yes]   asks first on a terminal\n"
	  "ollama cp SOURCE DESTINATION [--target VM]\n"
	  "ollama create NAME -f MODELFILE [--target VM]   '-' reads the Modelfile from stdin\n"
	  "                                   every subcommand takes --json (the tool's result)\n",
	  cmd_ollama },
	{ "files", "list, read and write files on a VM (SFTP, inside its allowed roots)",
	  "files ls TARGET DIR\n"
	  "files cat TARGET PATH               raw bytes to stdout (up to 16 MiB)\n"
	  "files put TARGET PATH [--from LOCAL] [--create-parents] [--yes]   content from stdin without --from;\n"
	  "                                    atomic; asks on a terminal\n",
	  cmd_files },
	{ "gpu", "GPU status of a VM (nvidia-smi over SSH)",
	  "gpu [TARGET] [--json]               a row per GPU, its processes below it\n",
	  cmd_gpu },
	{ NULL, NULL, NULL, NULL }
};

/* Words of the shell and the program besides the groups. */
static const char *const extra_commands[] = { "shell", "help", "completion", NULL };

void cli_usage(FILE *f)
{
	fprintf(f,
	        "usage: homelab [--db PATH] [--json] [--yes] [--quiet] [-v] COMMAND [ARGS...]\n"
	        "       homelab [--db PATH]              (no command: interactive shell)\n"
	        "\n"
	        "Manage a homelab: VMs, Proxmox hosts, services, IP addresses, credentials\n"
	        "and the audit log.\n"
	        "\n"
	        "Commands:\n");
	for (const struct cli_group *g = cli_groups; g->name; g++)
		fprintf(f, "  %-10s %s\n", g->name, g->summary);
	fprintf(f,
	        "  %-10s %s\n"
	        "  %-10s %s\n"
	        "  %-10s %s\n"
	        "\n"
	        "Options:\n"
	        "  --db PATH   inventory database (default: $HOMELAB_DB_PATH, else\n"
	        "              $XDG_DATA_HOME/homelab/homelab.db); only `db init` creates\n"
	        "              it, every other command refuses a missing one\n"
	        "  --json      print results as JSON, exactly as the tool returns them\n"
	        "  --yes, -y   do not ask before changing or removing things\n"
	        "  --quiet, -q no progress and no confirmation lines (\"removed vm x\");\n"
	        "              results, warnings and errors still print\n"
	        "  --verbose, -v\n"
	        "              what a tool does as it runs, on stderr: the command run over\n"
	        "              SSH and its exit status, each health answer, the stages of a\n"
	        "              pull; -vv adds debug messages\n"
	        "  --help, -h  this help; `homelab COMMAND --help` for a command's help\n"
	        "  --version   print the version\n"
	        "\n"
	        "On a terminal tables fit its width (long cells end in \"…\") and headers are\n"
	        "bold; NO_COLOR=1 or TERM=dumb turns colour off. Ctrl-C stops a long command\n"
	        "(a pull, a remote command, a check of every service).\n"
	        "\n"
	        "Exit codes: 0 ok, 1 error, 2 usage error or invalid argument, 3 not found,\n"
	        "130 interrupted (Ctrl-C); `homelab ssh` exits with the remote status.\n",
	        "shell", "interactive shell with completion and history",
	        "help", "this help, or `help COMMAND`",
	        "completion", "completion bash|zsh: print a shell completion script");
}

bool cli_is_help(const char *arg)
{
	return !strcmp(arg, "--help") || !strcmp(arg, "-h") || !strcmp(arg, "help");
}

const struct cli_group *cli_group_find(const char *name)
{
	for (const struct cli_group *g = cli_groups; g->name; g++)
		if (!strcmp(g->name, name))
			return g;
	return NULL;
}

/* Each usage line of g: calls fn with the text after "NAME " (one line). */
static size_t each_line(const struct cli_group *g, const char **lines, size_t max)
{
	size_t n = 0, glen = strlen(g->name);

	for (const char *p = g->usage; *p && n < max;) {
		const char *nl = strchr(p, '\n');
		if (!strncmp(p, g->name, glen) && p[glen] == ' ')
			lines[n++] = p + glen + 1;
		if (!nl)
			break;
		p = nl + 1;
	}
	return n;
}

size_t cli_group_subcommands(const struct cli_group *g, char words[][32], size_t max)
{
	const char *lines[32];
	size_t nl = each_line(g, lines, 32), n = 0;

	for (size_t i = 0; i < nl; i++) {
		size_t wl = strcspn(lines[i], " \n"), j;
		/* TARGET, [TARGET]: the group's first argument is not a subcommand */
		if (!wl || wl >= 32 || !(lines[i][0] >= 'a' && lines[i][0] <= 'z'))
			return 0;
		for (j = 0; j < n && (strlen(words[j]) != wl || strncmp(words[j], lines[i], wl)); j++)
			;
		if (j == n && n < max) {
			memcpy(words[n], lines[i], wl);
			words[n++][wl] = '\0';
		}
	}
	return n;
}

size_t cli_group_options(const struct cli_group *g, const char *sub, char words[][32], size_t max)
{
	const char *lines[32];
	size_t nl = each_line(g, lines, 32), n = 0;

	for (size_t i = 0; i < nl; i++) {
		const char *end = strchr(lines[i], '\n');
		size_t wl = strcspn(lines[i], " \n");
		if (!end)
			end = lines[i] + strlen(lines[i]);
		if (sub && (strlen(sub) != wl || strncmp(sub, lines[i], wl)))
			continue;
		for (const char *p = lines[i]; p < end; p++) {
			size_t ol, j;
			if (p[0] != '-' || (p > lines[i] && p[-1] != ' ' && p[-1] != '[' && p[-1] != '|'))
				continue;
			ol = strspn(p, "-abcdefghijklmnopqrstuvwxyz0123456789");
			if (ol < 2 || ol >= 32 || (p[1] == '-' && ol < 3) || (p[1] != '-' && ol != 2))
				continue;
			for (j = 0; j < n && (strlen(words[j]) != ol || strncmp(words[j], p, ol)); j++)
				;
			if (j == n && n < max) {
				memcpy(words[n], p, ol);
				words[n++][ol] = '\0';
			}
			p += ol - 1;
		}
	}
	return n;
}

void cli_group_help(FILE *f, const struct cli_group *g)
{
	const char *p = g->usage;

	fprintf(f, "homelab %s: %s\n\nusage:\n", g->name, g->summary);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		/* a line that starts with a space continues the one above */
		fprintf(f, "  %s%.*s\n", *p == ' ' ? "        " : "homelab ", (int)n, p);
		p += n + (nl ? 1 : 0);
	}
}

/* Help of the words that are not groups; false for any other word. */
static bool extra_help(FILE *f, const char *name)
{
	if (!strcmp(name, "shell"))
		fputs("homelab shell: interactive shell with completion and history\n"
		      "\n"
		      "usage:\n"
		      "  homelab [--db PATH]                 on a terminal, with no command\n"
		      "  homelab shell\n"
		      "\n"
		      "Every command runs as it does on the command line, without the word homelab.\n"
		      "Tab completes commands, subcommands, options, and the names of VMs, hosts,\n"
		      "services, tools, and Ollama models (when the VM's Ollama answers within 300 ms).\n"
		      "History: $XDG_STATE_HOME/homelab/history (default ~/.local/state/homelab/history,\n"
		      "mode 600); a line that carries a password is not kept. Ctrl-C stops the running\n"
		      "command, Ctrl-D or exit leaves; a failed command marks the next prompt with its\n"
		      "exit code (homelab[1]>).\n",
		      f);
	else if (!strcmp(name, "completion"))
		fputs("homelab completion: print a shell completion script\n"
		      "\n"
		      "usage:\n"
		      "  homelab completion bash             eval \"$(homelab completion bash)\", or install it as\n"
		      "                                      share/bash-completion/completions/homelab (cmake --install does)\n"
		      "  homelab completion zsh              save it as _homelab in a directory of $fpath\n",
		      f);
	else if (!strcmp(name, "help"))
		fputs("homelab help: the commands, or one command's help\n"
		      "\n"
		      "usage:\n"
		      "  homelab help [COMMAND]              the same text as homelab [COMMAND] --help\n",
		      f);
	else
		return false;
	return true;
}

/* "unknown command 'vsm'; did you mean 'vms'?" */
static int unknown_command(const char *word)
{
	const char *names[64];
	size_t n = 0;
	const char *near;

	for (const struct cli_group *g = cli_groups; g->name && n < 60; g++)
		names[n++] = g->name;
	for (const char *const *e = extra_commands; *e; e++)
		names[n++] = *e;
	if ((near = cli_nearest(word, names, n)))
		return cli_usage_error("unknown command '%s'; did you mean '%s'? (try 'homelab --help')", cli_safe(word),
		                       near);
	return cli_usage_error("unknown command '%s' (try 'homelab --help')", cli_safe(word));
}

/* A subcommand the group does not have: name the nearest one. */
static int check_subcommand(const struct cli_group *g, const char *sub)
{
	char words[32][32];
	const char *names[32];
	size_t n = cli_group_subcommands(g, words, 32);
	const char *near;

	if (n == 0 || sub[0] == '-')
		return CLI_OK;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(words[i], sub))
			return CLI_OK;
		names[i] = words[i];
	}
	if ((near = cli_nearest(sub, names, n)))
		return cli_usage_error("unknown subcommand '%s %s'; did you mean '%s %s'? (try 'homelab %s --help')",
		                       g->name, cli_safe(sub), g->name, near, g->name);
	return cli_usage_error("unknown subcommand '%s %s' (try 'homelab %s --help')", g->name, cli_safe(sub),
	                       g->name);
}

int cli_dispatch(struct cli *c, int argc, char **argv)
{
	const struct cli_group *g;
	int rc;

	if (argc == 0) {
		cli_usage(stderr);
		return CLI_USAGE;
	}
	if (cli_is_help(argv[0])) {
		if (argc > 1) {
			if ((g = cli_group_find(argv[1]))) {
				cli_group_help(stdout, g);
				return CLI_OK;
			}
			if (extra_help(stdout, cli_is_help(argv[1]) ? "help" : argv[1]))
				return CLI_OK;
			return unknown_command(argv[1]);
		}
		cli_usage(stdout);
		return CLI_OK;
	}
	if ((g = cli_group_find(argv[0]))) {
		/* `homelab gpu` alone asks the default target */
		if (argc == 1 && strcmp(g->name, "gpu") != 0) {
			cli_group_help(stderr, g);
			return CLI_USAGE;
		}
		if (argc > 1 && cli_is_help(argv[1])) {
			cli_group_help(stdout, g);
			return CLI_OK;
		}
		if (argc > 1 && (rc = check_subcommand(g, argv[1])) != CLI_OK)
			return rc;
		/* `homelab vms list --help`: the group's help (completion offers
		 * --help there); `tools call TOOL --help` shows the tool's own */
		if (strcmp(g->name, "tools") != 0)
			for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
				if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
					cli_group_help(stdout, g);
					return CLI_OK;
				}
		return g->fn(c, argc, argv);
	}
	if (argc > 1 && cli_is_help(argv[1]) && extra_help(stdout, argv[0]))
		return CLI_OK;
	if (!strcmp(argv[0], "shell"))
		return c->interactive ? CLI_OK : cli_repl(c);
	if (!strcmp(argv[0], "completion"))
		return cli_completion_script(c, argc, argv);
	if (!strcmp(argv[0], "__complete"))
		return cli_complete_command(c, argc, argv);
	return unknown_command(argv[0]);
}

int main(int argc, char **argv)
{
	struct cli c = { 0 };
	int i, rc;

	/* Any command may hold a key, a password (creds get, tools call
	 * homelab_get_credentials, the shell) or a new token: no core dump,
	 * and no ptrace by other processes of the same user. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--db") || !strncmp(a, "--db=", 5)) {
			if (a[4] == '=')
				c.db_path = a + 5;
			else if (i + 1 < argc)
				c.db_path = argv[++i];
			else
				return cli_usage_error("--db needs a path");
			if (!*c.db_path)
				return cli_usage_error("--db needs a path");
		} else if (!strcmp(a, "--json")) {
			c.json = true;
		} else if (!strcmp(a, "--yes") || !strcmp(a, "-y")) {
			c.yes = true;
		} else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
			c.quiet = true;
		} else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
			c.verbose++;
		} else if (!strcmp(a, "-vv")) {
			c.verbose += 2;
		} else if (!strcmp(a, "--version")) {
			printf("homelab %s (libhomelab %s)\n", HOMELAB_VERSION, hl_version());
			return CLI_OK;
		} else if (cli_is_help(a)) {
			cli_usage(stdout);
			return CLI_OK;
		} else if (!strcmp(a, "--")) {
			i++;
			break;
		} else {
			static const char *const globals[] = { "db", "json", "yes", "quiet", "verbose", "help", "version" };
			const char *near = a[1] == '-' ? cli_nearest(a + 2, globals, 7) : NULL;
			if (near)
				return cli_usage_error("unknown option '%s'; did you mean '--%s'? (try 'homelab --help')",
				                       cli_safe(a), near);
			return cli_usage_error("unknown option '%s' (try 'homelab --help')", cli_safe(a));
		}
	}
	if (i == argc) {
		if (isatty(STDIN_FILENO))
			rc = cli_repl(&c);
		else {
			cli_usage(stderr);
			rc = CLI_USAGE;
		}
	} else {
		/* Ctrl-C stops a long command through its callback (exit 130) */
		cli_signals_init(false);
		rc = cli_dispatch(&c, argc - i, argv + i);
		if (cli_interrupted() && rc != CLI_OK) {
			fprintf(stderr, "homelab: interrupted\n");
			rc = 130;
		}
	}
	hl_ctx_free(c.ctx);
	return rc;
}
