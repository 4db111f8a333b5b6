/*
 * cli.h: what the command files of `homelab` share.
 *
 * The CLI uses only the public API of libhomelab (<homelab.h>). A command
 * group (vms, hosts, creds, ...) is one function in its own cmd_<group>.c,
 * listed once in the table in main.c. Reads go through the tool table:
 * cli_run_tool() turns options into a tool's JSON arguments using the tool's
 * own input schema, and prints the result as a table or as JSON.
 */
#ifndef HOMELAB_CLI_H
#define HOMELAB_CLI_H

#include <homelab.h>
#include <stdbool.h>
#include <stdio.h>

/* Exit codes (documented in `homelab --help` and the README). */
enum {
	CLI_OK = 0,
	CLI_ERROR = 1,    /* the operation failed */
	CLI_USAGE = 2,    /* bad command line or invalid argument value */
	CLI_NOTFOUND = 3  /* the VM, host, service, IP or tool does not exist */
};

struct cli {
	const char *db_path;  /* --db, or NULL for the library default */
	bool json;            /* --json: print the tool's JSON result */
	bool yes;             /* --yes: do not ask before changing things */
	bool interactive;     /* running inside the REPL */
	bool create_db;       /* `db init`: cli_ctx() may create the database (no other command does) */
	bool quiet;           /* --quiet: no progress, no "removed ..." lines; results and errors still */
	int verbose;          /* -v: tools' log messages from info up on stderr; -vv: from debug up */
	hl_ctx *ctx;          /* opened on first use by cli_ctx() */
};

/* A command group: `homelab <name> ...`. argv[0] is the group name. */
struct cli_group {
	const char *name;
	const char *summary;
	const char *usage;   /* the subcommands, one per line, shown by `homelab <name> --help` */
	int (*fn)(struct cli *c, int argc, char **argv);
};

extern const struct cli_group cli_groups[];

/* The open context (opening the database on first use). NULL after printing
 * the error; *rc then holds the exit code. */
hl_ctx *cli_ctx(struct cli *c, int *rc);

/* Print "homelab: <the library's last error>" and map the code to an exit code. */
int cli_fail(int code);
/* Print "homelab: <message>" (printf-style) and return CLI_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Map a library code to an exit code. */
int cli_exit_code(int code);

/* Print a group's usage (summary + usage text) to f. */
void cli_group_help(FILE *f, const struct cli_group *g);

/* Is this argv element a request for help? */
bool cli_is_help(const char *arg);

/*
 * Options of a subcommand: parse `--name VALUE`, `--name=VALUE` and boolean
 * `--flag` out of argv, leaving the positional arguments. `spec` lists the
 * accepted options: "status=", "host=", "force" (no '=' means a flag).
 * Unknown options are usage errors.
 */
#define CLI_MAX_OPTS 16
#define CLI_MAX_POS 8
struct cli_args {
	const char *names[CLI_MAX_OPTS];
	const char *values[CLI_MAX_OPTS]; /* flags: "1" when given */
	int nopts;
	const char *pos[CLI_MAX_POS];
	int npos;
};
int cli_parse(struct cli_args *a, int argc, char **argv, const char *const *spec);
/* Split a shell line into words in place: whitespace separates, '...' and
 * "..." quote. Returns the count, -1 past max words, -2 for an unbalanced quote. */
int cli_split(char *line, char **argv, int max);
const char *cli_opt(const struct cli_args *a, const char *name);
bool cli_flag(const struct cli_args *a, const char *name);

/*
 * Call a tool with arguments built from "key=value" pairs (values typed by
 * the tool's input schema: integer, number, boolean, string, or JSON for
 * objects and arrays) and print the result. Returns an exit code.
 */
int cli_call_tool(struct cli *c, const char *tool, int npairs, const char *const *pairs);

/* Call a tool with a JSON argument object and keep its result (release
 * with hl_buf_dispose). Returns an exit code; the error is already printed. */
int cli_tool_result(struct cli *c, const char *tool, const char *args_json, hl_buf *out);

/* text with control characters, bidi overrides and bytes that are not
 * UTF-8 escaped (hl_text_escape), for the terminal; valid until a few more
 * calls. */
const char *cli_safe(const char *s);

/* Print a JSON result: --json prints it as is, else as tables. */
/*
 * A content tool's result (HL_TOOL_CONTENT: {"content": [blocks], "isError"}):
 * text blocks as text, images and audio named with their type and size,
 * embedded resources with their URI and text. An error result prints on
 * stderr and gives CLI_ERROR. --json prints the result as is (an error
 * result still gives CLI_ERROR).
 */
int cli_print_content(struct cli *c, const char *json);
void cli_print_result(struct cli *c, const char *json);

struct json_object;
/* A JSON string, or JSON null for NULL. */
struct json_object *cli_jstr(const char *s);
/* An array of objects as a table under the terminal rules (fits its width,
 * cells escaped, bold header): one column per key, in order; the text of
 * each cell is its value (null: "-"). empty (may be NULL) is printed for
 * no rows. */
void cli_print_table(FILE *f, struct json_object *rows, const char *empty);

/* Print a result built in the CLI (as cli_print_result does) and put it. */
void cli_print_object(struct cli *c, struct json_object *o);

/* Report a change that has no record to show: "removed vm whisper", or
 * with --json {"removed":"whisper"}. */
void cli_done(struct cli *c, const char *verb, const char *kind, const char *ref);

/* Ask "question [y/N]" on the terminal when interactive and not --yes.
 * Returns true to go on. Non-interactive runs (no terminal) go on. On no,
 * it says "not confirmed; nothing changed" (callers just return CLI_ERROR). */
bool cli_confirm(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Terminal rules (output.c). Colour only when the stream is a terminal,
 * NO_COLOR is unset (or empty) and TERM is not "dumb". Width: the
 * terminal's columns, 0 when the stream is not a terminal (then nothing is
 * cut).
 */
bool cli_color(FILE *f);
int cli_term_width(FILE *f);
/* SGR wrappers that print nothing when colour is off: cli_sgr(f, "1") ... cli_sgr(f, "0"). */
void cli_sgr(FILE *f, const char *code);

/*
 * "did you mean `vms`?" (util.c): the candidate nearest to word by edit
 * distance (transpositions count one), or a unique one it is a prefix of;
 * NULL when none is near enough, or when word is one of them.
 */
const char *cli_nearest(const char *word, const char *const *candidates, size_t n);

/*
 * Progress of a long tool (progress.c), the one way every command shows it:
 * a bar redrawn in place on a terminal (stderr), plain status lines
 * otherwise, nothing with --quiet. cli_progress_cb is an hl_progress_cb
 * (payload: the struct cli_progress); it returns non-zero once Ctrl-C was
 * pressed, which stops the tool (a pull ends, a remote command is ended).
 */
struct cli_progress {
	bool tty;          /* redraw one line */
	bool quiet;        /* print nothing */
	bool bytes;        /* completed/total are bytes (shown as 2.0 GB) */
	bool drawn;        /* a line is on screen */
	char last[200];    /* the last status line printed (not on a terminal) */
};
void cli_progress_init(struct cli_progress *p, const struct cli *c, bool bytes);
int cli_progress_cb(const hl_progress *p, void *payload);
/* Clear the bar (the result replaces it). */
void cli_progress_end(struct cli_progress *p);

/*
 * -v: what a tool does as it runs. cli_call_log() sets opts' log callback
 * when c->verbose is on (nothing otherwise); progress is the bar of the
 * same call, or NULL. Each message is one line on stderr, "LOGGER: LEVEL:
 * MESSAGE", escaped for the terminal; a drawn bar is cleared first and
 * drawn again by the next report.
 */
void cli_call_log(const struct cli *c, hl_call_options *opts, struct cli_progress *progress);

/*
 * Ctrl-C stops a tool that reaches outside the inventory (HL_TOOL_OPEN_WORLD)
 * also when it reports no progress (`homelab gpu`, a single service check):
 * cli_call_stoppable() sets opts->should_stop and tells the signal handler
 * that the first Ctrl-C is taken care of; cli_call_done() undoes that.
 * Returns whether it did anything (false for other tools).
 */
bool cli_call_stoppable(const hl_tool *t, hl_call_options *opts);
void cli_call_done(bool stoppable);

/*
 * Ctrl-C (progress.c). cli_signals_init() catches SIGINT: while a command
 * runs, the first Ctrl-C makes cli_interrupted() true, which every callback
 * of a long operation checks (returning non-zero stops it); outside the
 * shell a second Ctrl-C, or one during a command that cannot be stopped,
 * ends the program with 130. The shell clears it before each command.
 */
void cli_signals_init(bool shell);
bool cli_interrupted(void);
void cli_interrupt_clear(void);
/* The shell is reading a line: Ctrl-C clears it instead (repl.c). */
void cli_signals_at_prompt(bool at_prompt);
/* A callback that checks cli_interrupted() is installed (Ctrl-C waits for it). */
void cli_signals_cancellable(bool on);

/* `homelab completion bash|zsh` and the hidden `homelab __complete WORDS...`
 * (complete.c). */
int cli_completion_script(struct cli *c, int argc, char **argv);
int cli_complete_command(struct cli *c, int argc, char **argv);

/* The REPL (readline), with completion from the command and tool tables. */
int cli_repl(struct cli *c);
/* Run one command line (argv without the program name). */
int cli_dispatch(struct cli *c, int argc, char **argv);
/* The top-level usage (`homelab --help`, `help` in the shell). */
void cli_usage(FILE *f);
/* Words of a group's subcommands from its usage lines ("list", "show", ...);
 * 0 when its first argument is not a subcommand word (ssh TARGET, gpu). */
size_t cli_group_subcommands(const struct cli_group *g, char words[][32], size_t max);
/* Option names ("--status", ...) written in a group's usage line for sub
 * (NULL: every line); returns how many. */
size_t cli_group_options(const struct cli_group *g, const char *sub, char words[][32], size_t max);
const struct cli_group *cli_group_find(const char *name);

/* Candidates for completing a command line (complete.c): words is the line
 * split so far, the last one being completed (may be ""). Calls emit for
 * each candidate that starts with the last word. Used by the shell and by
 * the hidden `homelab __complete`. */
void cli_complete(struct cli *c, int nwords, char **words, void (*emit)(const char *cand, void *payload),
                  void *payload);
/* The candidate that means "local file names here" (--db, --from, -f ...);
 * no name starts with ':'. */
#define CLI_COMPLETE_FILES ":files"

/* Command groups */
int cmd_db(struct cli *c, int argc, char **argv);
int cmd_vms(struct cli *c, int argc, char **argv);
int cmd_hosts(struct cli *c, int argc, char **argv);
int cmd_services(struct cli *c, int argc, char **argv);
int cmd_ip(struct cli *c, int argc, char **argv);
int cmd_tools(struct cli *c, int argc, char **argv);
int cmd_creds(struct cli *c, int argc, char **argv);
int cmd_audit(struct cli *c, int argc, char **argv);
int cmd_tokens(struct cli *c, int argc, char **argv);
int cmd_ssh(struct cli *c, int argc, char **argv);
int cmd_ollama(struct cli *c, int argc, char **argv);
int cmd_gpu(struct cli *c, int argc, char **argv);
int cmd_files(struct cli *c, int argc, char **argv);

#endif
