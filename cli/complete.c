/*
 * complete.c: what TAB offers, for the shell (repl.c) and for bash and zsh
 * (`homelab completion bash|zsh`, which call the hidden `homelab
 * __complete`). Everything comes from the tables: command words from
 * cli_groups, subcommands and options from each group's usage lines,
 * which argument is a VM, host, service, model or tool from the
 * metavariable the usage line names there (NAME|VMID, TARGET, VM, MODEL,
 * --host H ...), tool names from the library's tool table, and the names
 * themselves from the library's public API, read when a completion starts.
 */
#include "cli.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_NONE, K_VM, K_HOST, K_SERVICE, K_TOOL, K_MODEL, K_CRED, K_FILE };

struct want {
	void (*emit)(const char *cand, void *payload);
	void *payload;
	const char *prefix;
	size_t len;
};

static void offer(struct want *w, const char *cand)
{
	/* a name with a newline or a control character (a row written by
	 * another program) is never offered: it would act on the terminal */
	for (const char *p = cand; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return;
	if (!strncmp(cand, w->prefix, w->len))
		w->emit(cand, w->payload);
}

static const char *const globals[] = { "--db", "--json", "--yes", "--quiet", "--verbose", "--help", "--version", NULL };
static const char *const extras[] = { "shell", "help", "completion", NULL };

/* The kind of name an argument written as `meta` takes in group g. */
static enum kind meta_kind(const char *group, const char *sub, const char *meta, size_t n)
{
	char m[64];

	snprintf(m, sizeof(m), "%.*s", (int)(n < 63 ? n : 63), meta);
	if (strstr(m, "MODEL") || !strcmp(m, "SOURCE"))
		/* a model to pull is one the VM does not have yet */
		return sub && !strcmp(sub, "pull") ? K_NONE : K_MODEL;
	if (strstr(m, "TARGET") && !strcmp(group, "creds"))
		return K_CRED;
	if (strstr(m, "TARGET") || strstr(m, "VM"))
		return K_VM;
	if (strstr(m, "NAME") || !strcmp(m, "ID") || strstr(m, "|ID")) {
		if (!strcmp(group, "vms"))
			return K_VM;
		if (!strcmp(group, "hosts"))
			return K_HOST;
		if (!strcmp(group, "services"))
			return K_SERVICE;
		if (!strcmp(group, "tools"))
			return K_TOOL;
	}
	return K_NONE;
}

/* The kind of value an option takes: --vm, --target, --to name VMs, --host
 * a host; --db, --from, --file, --key-path, --*-file and -f a local file. */
static enum kind option_kind(const char *opt)
{
	size_t n = strlen(opt);

	if (!strcmp(opt, "--vm") || !strcmp(opt, "--target") || !strcmp(opt, "--to"))
		return K_VM;
	if (!strcmp(opt, "--host"))
		return K_HOST;
	if (!strcmp(opt, "--db") || !strcmp(opt, "--from") || !strcmp(opt, "--file") || !strcmp(opt, "--key-path") ||
	    !strcmp(opt, "-f") || (n > 5 && !strcmp(opt + n - 5, "-file")))
		return K_FILE;
	return K_NONE;
}

/* Does option `opt` take a value in group g's usage text ("--status S")? */
static bool option_takes_value(const struct cli_group *g, const char *opt)
{
	size_t n = strlen(opt);

	if (!strcmp(opt, "--db"))
		return true;
	for (const char *p = strstr(g->usage, opt); p; p = strstr(p + 1, opt))
		if ((p[n] == ' ' || p[n] == '=') && p[n + 1] >= 'A' && p[n + 1] <= 'Z')
			return true;
	return false;
}

/* The model names of the target's Ollama, only if it answers within 300 ms. */
static void offer_models(struct want *w, hl_ctx *ctx, const char *target)
{
	const hl_tool *t = hl_tool_lookup("ollama_list_models");
	hl_call_options opts = HL_CALL_OPTIONS_INIT;
	struct json_object *args, *r, *models;
	hl_buf out = HL_BUF_INIT;

	if (!t)
		return;
	opts.timeout_ms = 300;
	args = json_object_new_object();
	if (target)
		json_object_object_add(args, "target", json_object_new_string(target));
	if (hl_tool_call(&out, ctx, t, json_object_to_json_string(args), &opts) == 0 &&
	    (r = json_tokener_parse(out.ptr))) {
		if (json_object_object_get_ex(r, "models", &models))
			for (size_t i = 0; i < json_object_array_length(models); i++) {
				struct json_object *name;
				if (json_object_object_get_ex(json_object_array_get_idx(models, i), "name", &name))
					offer(w, json_object_get_string(name));
			}
		json_object_put(r);
	}
	hl_buf_dispose(&out);
	json_object_put(args);
}

static void offer_names(struct cli *c, struct want *w, enum kind k, const char *target)
{
	hl_ctx_options opts = HL_CTX_OPTIONS_INIT;
	hl_ctx *ctx = c->ctx, *own = NULL;
	char buf[300];

	if (k == K_NONE)
		return;
	if (k == K_FILE) {
		w->emit(CLI_COMPLETE_FILES, w->payload);
		return;
	}
	if (k == K_TOOL) {
		for (const hl_tool *t = hl_tool_next(NULL); t; t = hl_tool_next(t))
			offer(w, hl_tool_name(t));
		return;
	}
	if (!ctx) {
		/* quietly: a completion never prints an error or creates a database */
		opts.db_path = c->db_path;
		opts.flags = HL_CTX_NO_CREATE;
		if (hl_ctx_open(&own, &opts) < 0)
			return;
		ctx = own;
	}
	if (k == K_VM || k == K_CRED) {
		hl_vm_array *vms = NULL;
		if (hl_vm_list(&vms, ctx, NULL) == 0)
			for (size_t i = 0; i < vms->count; i++) {
				snprintf(buf, sizeof(buf), "%s%s", k == K_CRED ? "vm:" : "", vms->items[i]->name);
				offer(w, buf);
			}
		hl_vm_array_free(vms);
	}
	if (k == K_HOST || k == K_CRED) {
		hl_host_array *hosts = NULL;
		if (hl_host_list(&hosts, ctx) == 0)
			for (size_t i = 0; i < hosts->count; i++) {
				snprintf(buf, sizeof(buf), "%s%s", k == K_CRED ? "host:" : "", hosts->items[i]->name);
				offer(w, buf);
			}
		hl_host_array_free(hosts);
	}
	if (k == K_SERVICE || k == K_CRED) {
		hl_service_array *svcs = NULL;
		if (hl_service_list(&svcs, ctx, NULL) == 0)
			for (size_t i = 0; i < svcs->count; i++) {
				snprintf(buf, sizeof(buf), "%s%s", k == K_CRED ? "service:" : "", svcs->items[i]->name);
				offer(w, buf);
			}
		hl_service_array_free(svcs);
	}
	if (k == K_MODEL)
		offer_models(w, ctx, target);
	hl_error_clear();
	hl_ctx_free(own);
}

/* One usage line's positional slots after the group name: "show", "NAME|VMID".
 * Options and their values ([--status S], --timeout-s N) are not slots. */
static size_t slots(const char *line, const char **slot, size_t *len, size_t max)
{
	size_t n = 0;
	const char *end = strchr(line, '\n');

	if (!end)
		end = line + strlen(line);
	for (const char *p = line; p < end && n < max;) {
		size_t wl;
		if (p[0] == ' ' && p[1] == ' ')
			break; /* two spaces start the line's comment */
		if (*p == ' ') {
			p++;
			continue;
		}
		if (*p == '[' && p[1] == '-') {
			/* [--opt X] or [--a | --b]: skip to the matching ']' */
			int depth = 0;
			for (; p < end; p++) {
				depth += *p == '[' ? 1 : *p == ']' ? -1 : 0;
				if (depth == 0) {
					p++;
					break;
				}
			}
			continue;
		}
		wl = strcspn(p, " \n");
		if (p + wl > end)
			wl = (size_t)(end - p);
		if (*p == '-') {
			/* --opt VALUE: skip the value too */
			p += wl;
			while (p < end && *p == ' ')
				p++;
			if (p < end && *p >= 'A' && *p <= 'Z')
				p += strcspn(p, " \n");
			continue;
		}
		slot[n] = p;
		len[n++] = wl;
		p += wl;
	}
	return n;
}

void cli_complete(struct cli *c, int nwords, char **words, void (*emit)(const char *cand, void *payload),
                  void *payload)
{
	struct want w = { emit, payload, nwords > 0 ? words[nwords - 1] : "", 0 };
	const struct cli_group *g;
	const char *pos[16], *sub = NULL, *target = NULL, *db = c->db_path;
	struct cli cc = *c;
	int i = 0, npos = 0;
	char opts[32][32];
	size_t nopts;

	w.len = strlen(w.prefix);
	if (nwords < 1)
		return;
	/* global options before the command */
	for (; i < nwords - 1 && words[i][0] == '-'; i++)
		if (!strcmp(words[i], "--db") && i + 1 < nwords - 1)
			db = words[++i];
		else if (!strncmp(words[i], "--db=", 5))
			db = words[i] + 5;
	cc.db_path = db;
	if (i == nwords - 1) {
		if (i > 0 && !strcmp(words[i - 1], "--db")) {
			emit(CLI_COMPLETE_FILES, payload); /* a path: the shell's file completion */
			return;
		}
		if (w.prefix[0] == '-') {
			for (const char *const *o = globals; *o; o++)
				offer(&w, *o);
			return;
		}
		for (const struct cli_group *gg = cli_groups; gg->name; gg++)
			offer(&w, gg->name);
		for (const char *const *e = extras; *e; e++)
			offer(&w, *e);
		if (c->interactive) {
			offer(&w, "exit");
			offer(&w, "quit");
		}
		return;
	}
	if (!strcmp(words[i], "help")) {
		if (nwords - 1 == i + 1) {
			for (const struct cli_group *gg = cli_groups; gg->name; gg++)
				offer(&w, gg->name);
		}
		return;
	}
	if (!strcmp(words[i], "completion")) {
		if (nwords - 1 == i + 1) {
			offer(&w, "bash");
			offer(&w, "zsh");
		}
		return;
	}
	if (!(g = cli_group_find(words[i])))
		return;
	/* the words between the group and the one completed: positionals, and
	 * the option whose value is being completed */
	for (int j = i + 1; j < nwords - 1; j++) {
		if (!strcmp(words[j], "--"))
			return; /* a remote command: nothing of ours */
		if (words[j][0] == '-' && words[j][1] == '-') {
			if (!strcmp(words[j], "--target") && j + 1 < nwords - 1)
				target = words[j + 1];
			if (!strchr(words[j], '=') && option_takes_value(g, words[j]) && j + 1 < nwords - 1)
				j++;
			continue;
		}
		if (npos < 16)
			pos[npos++] = words[j];
	}
	if (npos > 0) {
		char subs[32][32];
		size_t ns = cli_group_subcommands(g, subs, 32);
		for (size_t s = 0; s < ns; s++)
			if (!strcmp(subs[s], pos[0]))
				sub = pos[0];
	}
	if (nwords - 2 > i && ((words[nwords - 2][0] == '-' && words[nwords - 2][1] == '-' &&
	                        option_takes_value(g, words[nwords - 2])) ||
	                       !strcmp(words[nwords - 2], "-f"))) {
		/* the value of an option */
		offer_names(&cc, &w, option_kind(words[nwords - 2]), target);
		return;
	}
	if (w.prefix[0] == '-') {
		nopts = cli_group_options(g, sub, opts, 32);
		for (size_t k = 0; k < nopts; k++)
			offer(&w, opts[k]);
		offer(&w, "--help");
		return;
	}
	/* which slot of which usage lines: literal words or a kind of name */
	{
		size_t glen = strlen(g->name);
		enum kind seen[8];
		size_t nseen = 0;
		for (const char *p = g->usage; *p;) {
			const char *nl = strchr(p, '\n'), *slot[16];
			size_t len[16], ns;
			bool match = true;
			if (!strncmp(p, g->name, glen) && p[glen] == ' ') {
				ns = slots(p + glen + 1, slot, len, 16);
				for (int k = 0; k < npos && match; k++) {
					const char *s = slot[k];
					if ((size_t)k >= ns)
						match = false;
					else if (s[0] >= 'a' && s[0] <= 'z')
						match = strlen(pos[k]) == len[k] && !strncmp(pos[k], s, len[k]);
				}
				if (match && (size_t)npos < ns) {
					const char *s = slot[npos];
					size_t l = len[npos];
					if (s[0] >= 'a' && s[0] <= 'z') {
						char word[32];
						snprintf(word, sizeof(word), "%.*s", (int)(l < 31 ? l : 31), s);
						offer(&w, word);
					} else {
						enum kind k;
						size_t x;
						if (*s == '[') {
							s++;
							l -= l > 1 ? 2 : 0;
						}
						k = meta_kind(g->name, sub, s, l);
						for (x = 0; x < nseen && seen[x] != k; x++)
							;
						if (x == nseen && nseen < 8) {
							seen[nseen++] = k;
							offer_names(&cc, &w, k, target);
						}
					}
				}
			}
			if (!nl)
				break;
			p = nl + 1;
		}
	}
}

/* ------------------------------------------- __complete and the scripts --- */

struct list {
	char **v;
	size_t n, cap;
};

static void collect(const char *cand, void *payload)
{
	struct list *l = payload;

	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], cand))
			return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	if ((l->v[l->n] = strdup(cand)))
		l->n++;
}

/* `homelab __complete [--] WORD... PARTIAL`: one candidate a line. */
int cli_complete_command(struct cli *c, int argc, char **argv)
{
	struct list l = { 0 };
	char *empty[] = { (char *)"" };
	int first = argc > 1 && !strcmp(argv[1], "--") ? 2 : 1;

	if (first >= argc)
		cli_complete(c, 1, empty, collect, &l);
	else
		cli_complete(c, argc - first, argv + first, collect, &l);
	for (size_t i = 0; i < l.n; i++) {
		puts(l.v[i]);
		free(l.v[i]);
	}
	free(l.v);
	return CLI_OK;
}

/* Shell words: group names are [a-z0-9-]; tool names [A-Za-z0-9_-]. */
static void words_of_groups(FILE *f)
{
	for (const struct cli_group *g = cli_groups; g->name; g++)
		fprintf(f, "%s ", g->name);
	for (const char *const *e = extras; *e; e++)
		fprintf(f, "%s%s", *e, e[1] ? " " : "");
}

static void subcommand_vars(FILE *f, const char *fmt)
{
	char subs[32][32];

	for (const struct cli_group *g = cli_groups; g->name; g++) {
		size_t n = cli_group_subcommands(g, subs, 32);
		char var[64];
		size_t j = 0;
		if (!n)
			continue;
		for (const char *p = g->name; *p && j + 1 < sizeof(var); p++)
			var[j++] = *p == '-' ? '_' : *p;
		var[j] = '\0';
		fprintf(f, fmt, var);
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s%s", subs[i], i + 1 < n ? " " : "");
		fputs("\"\n", f);
	}
}

static void tool_words(FILE *f)
{
	for (const hl_tool *t = hl_tool_next(NULL); t; t = hl_tool_next(t))
		fprintf(f, "%s%s", hl_tool_name(t), hl_tool_next(t) ? " " : "");
}

static void bash_script(FILE *f)
{
	fprintf(f, "# bash completion for homelab %s, generated by `homelab completion bash` from its\n"
	           "# command table and libhomelab's tool table. VM, host, service and model names\n"
	           "# come from `homelab __complete`, which reads the inventory when TAB is pressed.\n",
	        HOMELAB_VERSION);
	fputs("_homelab_commands=\"", f);
	words_of_groups(f);
	fputs("\"\n_homelab_globals=\"--db --json --yes --quiet --verbose --help --version\"\n_homelab_tools=\"", f);
	tool_words(f);
	fputs("\"\n", f);
	subcommand_vars(f, "_homelab_sub_%s=\"");
	fputs("_homelab()\n"
	      "{\n"
	      "\tlocal cur=\"${COMP_WORDS[COMP_CWORD]}\" i=1 cmd var IFS=$'\\n'\n"
	      "\twhile [[ $i -lt $COMP_CWORD && ${COMP_WORDS[i]} == -* ]]; do\n"
	      "\t\t[[ ${COMP_WORDS[i]} == --db ]] && ((i++))\n"
	      "\t\t((i++))\n"
	      "\tdone\n"
	      "\tif [[ $i -gt 1 && ${COMP_WORDS[i-1]} == --db && $i -eq $COMP_CWORD ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	      "\t\treturn\n"
	      "\tfi\n"
	      "\tif [[ $i -eq $COMP_CWORD ]]; then\n"
	      "\t\tif [[ $cur == -* ]]; then\n"
	      "\t\t\tCOMPREPLY=($(IFS=' '; compgen -W \"$_homelab_globals\" -- \"$cur\"))\n"
	      "\t\telse\n"
	      "\t\t\tCOMPREPLY=($(IFS=' '; compgen -W \"$_homelab_commands\" -- \"$cur\"))\n"
	      "\t\tfi\n"
	      "\t\treturn\n"
	      "\tfi\n"
	      "\tcmd=${COMP_WORDS[i]//-/_}\n"
	      "\tvar=_homelab_sub_$cmd\n"
	      "\tif [[ $((i + 1)) -eq $COMP_CWORD && $cur != -* && -n ${!var} ]]; then\n"
	      "\t\tCOMPREPLY=($(IFS=' '; compgen -W \"${!var}\" -- \"$cur\"))\n"
	      "\t\treturn\n"
	      "\tfi\n"
	      "\tif [[ $cmd == tools && $((i + 2)) -eq $COMP_CWORD && ( ${COMP_WORDS[i+1]} == call || ${COMP_WORDS[i+1]} == schema ) ]]; then\n"
	      "\t\tCOMPREPLY=($(IFS=' '; compgen -W \"$_homelab_tools\" -- \"$cur\"))\n"
	      "\t\treturn\n"
	      "\tfi\n"
	      "\tCOMPREPLY=($(\"${COMP_WORDS[0]}\" __complete -- \"${COMP_WORDS[@]:1:COMP_CWORD}\" 2>/dev/null))\n"
	      "\tif [[ ${COMPREPLY[0]} == " CLI_COMPLETE_FILES " ]]; then\n"
	      "\t\tcompopt -o filenames 2>/dev/null\n"
	      "\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	      "\tfi\n"
	      "}\n"
	      "complete -F _homelab homelab\n",
	      f);
}

static void zsh_script(FILE *f)
{
	fprintf(f, "#compdef homelab\n"
	           "# zsh completion for homelab %s, generated by `homelab completion zsh` from its\n"
	           "# command table and libhomelab's tool table. Names of VMs, hosts, services and\n"
	           "# models come from `homelab __complete`, which reads the inventory when TAB is pressed.\n",
	        HOMELAB_VERSION);
	fputs("_homelab_commands=(", f);
	words_of_groups(f);
	fputs(")\n_homelab_tools=(", f);
	tool_words(f);
	fputs(")\n", f);
	subcommand_vars(f, "_homelab_sub_%s=\"");
	fputs("_homelab()\n"
	      "{\n"
	      "\tlocal -a cands\n"
	      "\tlocal var=\"_homelab_sub_${words[2]//-/_}\"\n"
	      "\tif (( CURRENT == 2 )) && [[ $PREFIX != -* ]]; then\n"
	      "\t\tcompadd -a _homelab_commands\n"
	      "\telif (( CURRENT == 3 )) && [[ $PREFIX != -* && -n ${(P)var} ]]; then\n"
	      "\t\tcompadd ${=${(P)var}}\n"
	      "\telif (( CURRENT == 4 )) && [[ $words[2] == tools && $words[3] == (call|schema) ]]; then\n"
	      "\t\tcompadd -a _homelab_tools\n"
	      "\telse\n"
	      "\t\tcands=(\"${(@f)$(${words[1]} __complete -- \"${(@)words[2,CURRENT]}\" 2>/dev/null)}\")\n"
	      "\t\tif [[ $cands[1] == " CLI_COMPLETE_FILES " ]]; then\n"
	      "\t\t\t_files\n"
	      "\t\telse\n"
	      "\t\t\tcompadd -a cands\n"
	      "\t\tfi\n"
	      "\tfi\n"
	      "}\n"
	      "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n"
	      "\t_homelab \"$@\"\n"
	      "else\n"
	      "\tcompdef _homelab homelab\n"
	      "fi\n",
	      f);
}

int cli_completion_script(struct cli *c, int argc, char **argv)
{
	(void)c;
	if (argc == 2 && !strcmp(argv[1], "bash"))
		bash_script(stdout);
	else if (argc == 2 && !strcmp(argv[1], "zsh"))
		zsh_script(stdout);
	else
		return cli_usage_error("usage: homelab completion bash|zsh");
	return CLI_OK;
}
