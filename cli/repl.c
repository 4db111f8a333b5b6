/*
 * repl.c: the interactive shell (`homelab` on a terminal, or `homelab
 * shell`): readline with a private history file, completion of commands,
 * options and inventory names (complete.c), Ctrl-C that stops the running
 * command rather than the shell, and a prompt that shows the last failure.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------- completion --- */

/* The candidates of the completion under way (complete.c finds them). */
static struct {
	char **v;
	size_t n, cap, next;
} cands;

static void add_cand(const char *cand, void *payload)
{
	(void)payload;
	for (size_t i = 0; i < cands.n; i++)
		if (!strcmp(cands.v[i], cand))
			return;
	if (cands.n == cands.cap) {
		size_t cap = cands.cap ? cands.cap * 2 : 32;
		char **v = realloc(cands.v, cap * sizeof(*v));
		if (!v)
			return;
		cands.v = v;
		cands.cap = cap;
	}
	if ((cands.v[cands.n] = strdup(cand)))
		cands.n++;
}

static char *generator(const char *text, int state)
{
	(void)text;
	(void)state;
	/* readline frees what it gets */
	return cands.next < cands.n ? strdup(cands.v[cands.next++]) : NULL;
}

static struct cli *shell_cli;

static char **complete(const char *text, int start, int end)
{
	char *before = strndup(rl_line_buffer, (size_t)start), *words[65];
	int n;

	(void)end;
	rl_attempted_completion_over = 1;
	for (size_t i = 0; i < cands.n; i++)
		free(cands.v[i]);
	cands.n = cands.next = 0;
	if (!before)
		return NULL;
	n = cli_split(before, words, 64);
	if (n >= 0) {
		words[n++] = (char *)text;
		/* names are read now, from the inventory as it is */
		cli_complete(shell_cli, n, words, add_cand, NULL);
	}
	free(before);
	if (cands.n == 1 && !strcmp(cands.v[0], CLI_COMPLETE_FILES)) {
		rl_attempted_completion_over = 0; /* readline's own file name completion */
		return NULL;
	}
	if (cands.n == 0)
		return NULL;
	return rl_completion_matches(text, generator);
}

/* ------------------------------------------------------------- history --- */

/* $XDG_STATE_HOME/homelab/history, else ~/.local/state/homelab/history;
 * directories made 0700, the file 0600. NULL when there is no home. */
static char *history_path(void)
{
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	const char *base = state && *state == '/' ? state : home, *rest = base == state ? "" : "/.local/state";
	char *path, *p;
	size_t n;
	int fd;

	if (!base || !*base)
		return NULL;
	n = strlen(base) + strlen(rest) + sizeof("/homelab/history");
	if (!(path = malloc(n)))
		return NULL;
	snprintf(path, n, "%s%s/homelab/history", base, rest);
	for (p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			*p = '/';
			free(path);
			return NULL;
		}
		*p = '/';
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		free(path);
		return NULL;
	}
	fchmod(fd, 0600); /* an older file made under another umask */
	close(fd);
	return path;
}

/* Does a line carry a password or another secret? Such lines are kept
 * neither in the history file nor in the shell's memory. */
static bool carries_secret(const char *line)
{
	static const char *const words[] = { "pass", "secret", "token", "key", "credential", "auth", NULL };
	char *low = strdup(line);
	bool found = false;

	if (!low)
		return true;
	for (char *p = low; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	/* a name followed by a value: password=..., --args '{"password": ...}', a key file */
	for (const char *const *w = words; *w && !found; w++)
		for (const char *p = strstr(low, *w); p && !found; p = strstr(p + 1, *w)) {
			const char *q = p + strlen(*w);
			while (isalnum((unsigned char)*q) || *q == '_' || *q == '-' || *q == '"')
				q++;
			while (*q == ' ')
				q++;
			found = *q == '=' || *q == ':';
		}
	/* `creds get` prints one, a prompt for one follows --password */
	found = found || strstr(low, "password") || strstr(low, "creds get") || strstr(low, "rotate-key");
	free(low);
	return found;
}

/* Ctrl-C at the prompt drops the line being typed, as in bash. */
static int on_signal_event(void)
{
	if (cli_interrupted()) {
		cli_interrupt_clear();
		rl_replace_line("", 0);
		fputs("^C", stdout);
		rl_crlf();
		rl_on_new_line();
		rl_redisplay();
	}
	return 0;
}

/* "homelab> ", or "homelab[3]> " after a command that failed with 3 (red on
 * a terminal that takes colour; \001 \002 tell readline what is invisible). */
static const char *prompt(char *buf, size_t n, int rc)
{
	if (rc == CLI_OK)
		snprintf(buf, n, "homelab> ");
	else if (cli_color(stdout))
		snprintf(buf, n, "\001\033[31m\002homelab[%d]\001\033[0m\002> ", rc);
	else
		snprintf(buf, n, "homelab[%d]> ", rc);
	return buf;
}

int cli_repl(struct cli *c)
{
	char *line, *argv[64], *hist = history_path(), pbuf[64];
	int argc, rc = CLI_OK;

	c->interactive = true;
	shell_cli = c;
	rl_readline_name = "homelab";
	rl_attempted_completion_function = complete;
	rl_completer_word_break_characters = (char *)" \t";
	/* Ctrl-C is ours: it clears the prompt's line, or stops the command */
	rl_catch_signals = 0;
	rl_signal_event_hook = on_signal_event;
	rl_event_hook = on_signal_event; /* a Ctrl-C that came between two reads */
	cli_signals_init(true);
	if (hist) {
		read_history(hist);
		history_set_pos(history_length);
	}
	printf("homelab %s shell: 'help' lists commands, Tab completes, Ctrl-C stops a command, Ctrl-D leaves.\n",
	       HOMELAB_VERSION);
	for (;;) {
		cli_interrupt_clear();
		cli_signals_at_prompt(true);
		line = readline(prompt(pbuf, sizeof(pbuf), rc));
		cli_signals_at_prompt(false);
		cli_interrupt_clear();
		if (!line) {
			putchar('\n'); /* Ctrl-D: end the prompt's line */
			break;
		}
		if (*line && !carries_secret(line)) {
			add_history(line);
			if (hist && append_history(1, hist) == 0)
				history_truncate_file(hist, 2000);
		}
		argc = cli_split(line, argv, 64);
		if (argc == -2) {
			fprintf(stderr, "homelab: unbalanced quote\n");
			rc = CLI_USAGE;
		} else if (argc == -1) {
			fprintf(stderr, "homelab: too many words\n");
			rc = CLI_USAGE;
		} else if (argc > 0 && (!strcmp(argv[0], "exit") || !strcmp(argv[0], "quit"))) {
			free(line);
			break;
		} else if (argc > 0) {
			fflush(stdout);
			rc = cli_dispatch(c, argc, argv);
			if (cli_interrupted()) {
				fprintf(stderr, "\nhomelab: interrupted\n");
				rc = 130;
			}
		}
		free(line);
		fflush(stdout);
		fflush(stderr);
	}
	for (size_t i = 0; i < cands.n; i++)
		free(cands.v[i]);
	free(cands.v);
	cands.v = NULL;
	cands.n = cands.cap = 0;
	free(hist);
	c->interactive = false;
	return rc;
}
