/*
 * repl.c: the interactive shell (`homelab` on a terminal, or `homelab
 * shell`): readline with history, and completion of command groups,
 * subcommands and tool names from the same tables the CLI dispatches on.
 */
#include "cli.h"

#include <readline/history.h>
#include <readline/readline.h>
#include <stdlib.h>
#include <string.h>

static size_t ngroups(void)
{
	size_t n = 0;

	while (cli_groups[n].name)
		n++;
	return n;
}

/* Candidates for the word being completed: groups first, then subcommands,
 * then tool names after "tools schema|call". */
static char *generator(const char *text, int state)
{
	static int phase, idx;
	static size_t len;
	static const hl_tool *tool;
	const char *line = rl_line_buffer;
	int words = 0;

	for (const char *p = line; *p && p < line + rl_point; p++)
		if (*p != ' ' && (p == line || p[-1] == ' '))
			words++;
	if (*text)
		words--; /* the word being completed does not count */
	if (!state) {
		phase = words;
		idx = 0;
		len = strlen(text);
		tool = hl_tool_next(NULL);
	}
	if (phase == 0) {
		static const char *const extra[] = { "help", "exit", NULL };
		for (;;) {
			const char *n = cli_groups[idx].name;
			if (!n) {
				/* past the groups: the shell's own words */
				int e = idx - (int)ngroups();
				if (!extra[e])
					return NULL;
				n = extra[e];
				idx++;
			} else {
				idx++;
			}
			if (!strncmp(n, text, len))
				return strdup(n);
		}
	}
	if (phase == 1) {
		/* the subcommands of the group typed first, read from its usage
		 * lines ("vms list ...", "vms show ...") */
		static char word[32];
		size_t glen = strcspn(line, " ");
		for (const struct cli_group *g = cli_groups; g->name; g++) {
			const char *u;
			if (strlen(g->name) != glen || strncmp(g->name, line, glen) != 0)
				continue;
			u = g->usage;
			for (int n = 0; *u; n++) {
				const char *nl = strchr(u, '\n'), *sub = u + glen + 1;
				size_t wl = strcspn(sub, " \n");
				if (!strncmp(u, g->name, glen) && u[glen] == ' ' && n >= idx && wl < sizeof(word)) {
					memcpy(word, sub, wl);
					word[wl] = '\0';
					idx = n + 1;
					if (!strncmp(word, text, len))
						return strdup(word);
				}
				if (!nl)
					break;
				u = nl + 1;
			}
		}
		return NULL;
	}
	if (phase == 2 && !strncmp(line, "tools ", 6)) {
		while (tool) {
			const char *n = hl_tool_name(tool);
			tool = hl_tool_next(tool);
			if (!strncmp(n, text, len))
				return strdup(n);
		}
	}
	return NULL;
}

static char **complete(const char *text, int start, int end)
{
	(void)start;
	(void)end;
	rl_attempted_completion_over = 1;
	return rl_completion_matches(text, generator);
}

/* Split a line into words: whitespace separates, '...' and "..." quote. */
static int split(char *line, char **argv, int max)
{
	int argc = 0;
	char *r = line, *w;

	while (*r) {
		while (*r == ' ' || *r == '\t')
			r++;
		if (!*r)
			break;
		if (argc == max)
			return -1;
		argv[argc++] = w = r;
		while (*r && *r != ' ' && *r != '\t') {
			if (*r == '\'' || *r == '"') {
				char q = *r++;
				while (*r && *r != q)
					*w++ = *r++;
				if (!*r)
					return -2;
				r++;
			} else {
				*w++ = *r++;
			}
		}
		if (*r)
			r++;
		*w = '\0';
	}
	return argc;
}

int cli_repl(struct cli *c)
{
	char *line, *argv[64];
	int argc, rc = CLI_OK;

	c->interactive = true;
	rl_readline_name = "homelab";
	rl_attempted_completion_function = complete;
	printf("homelab %s shell: 'help' lists commands, Tab completes, Ctrl-D leaves.\n", HOMELAB_VERSION);
	while ((line = readline("homelab> ")) != NULL) {
		if (*line)
			add_history(line);
		argc = split(line, argv, 64);
		if (argc == -2)
			fprintf(stderr, "homelab: unbalanced quote\n");
		else if (argc == -1)
			fprintf(stderr, "homelab: too many words\n");
		else if (argc > 0 && (!strcmp(argv[0], "exit") || !strcmp(argv[0], "quit"))) {
			free(line);
			break;
		} else if (argc > 0)
			rc = cli_dispatch(c, argc, argv);
		free(line);
		fflush(stdout);
	}
	c->interactive = false;
	return rc;
}
