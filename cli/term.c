/*
 * term.c: what the CLI does differently on a terminal: colour (never with
 * NO_COLOR or TERM=dumb), the width tables fit, the progress of long tools
 * (a bar redrawn in place, plain lines elsewhere) and Ctrl-C, which stops
 * a long tool through its callback instead of killing the program.
 */
#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

bool cli_color(FILE *f)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	if (nc && *nc)
		return false;
	if (term && !strcmp(term, "dumb"))
		return false;
	return isatty(fileno(f)) != 0;
}

void cli_sgr(FILE *f, const char *code)
{
	if (cli_color(f))
		fprintf(f, "\033[%sm", code);
}

int cli_term_width(FILE *f)
{
	struct winsize ws;
	const char *env;

	if (!isatty(fileno(f)))
		return 0;
	if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if ((env = getenv("COLUMNS")) && atoi(env) > 0)
		return atoi(env);
	return 0; /* a terminal that does not say: nothing is cut */
}

/* -------------------------------------------------------------- Ctrl-C --- */

static volatile sig_atomic_t interrupted, in_shell, at_prompt, cancellable;

static void on_sigint(int sig)
{
	(void)sig;
	if (at_prompt) {
		interrupted = 1; /* the shell's line is cleared (repl.c) */
		return;
	}
	if (interrupted && !in_shell)
		_exit(130); /* a second Ctrl-C */
	interrupted = 1;
	if (!cancellable && !in_shell)
		_exit(130); /* nothing would look at the flag */
}

void cli_signals_init(bool shell)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a read at the prompt returns */
	sigaction(SIGINT, &sa, NULL);
	in_shell = shell;
}

bool cli_interrupted(void)
{
	return interrupted != 0;
}

void cli_interrupt_clear(void)
{
	interrupted = 0;
}

void cli_signals_at_prompt(bool on)
{
	at_prompt = on;
}

void cli_signals_cancellable(bool on)
{
	cancellable = on;
}

/* ------------------------------------------------------------ progress --- */

void cli_progress_init(struct cli_progress *p, const struct cli *c, bool bytes)
{
	memset(p, 0, sizeof(*p));
	p->tty = isatty(STDERR_FILENO) != 0 && !(getenv("TERM") && !strcmp(getenv("TERM"), "dumb"));
	p->quiet = c->quiet;
	p->bytes = bytes;
	cli_signals_cancellable(true);
}

/* 2019393189 -> "2.0 GB" (powers of 1000, as Ollama shows sizes); counts as is. */
static const char *amount(char *buf, size_t size, double v, bool bytes)
{
	static const char *const units[] = { "B", "KB", "MB", "GB", "TB" };
	int u = 0;

	if (!bytes) {
		snprintf(buf, size, "%.0f", v);
		return buf;
	}
	while (v >= 1000 && u < 4) {
		v /= 1000;
		u++;
	}
	snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

/* The message in at most n code points (a bar line never wraps). */
static void put_message(const char *msg, int n, bool padded)
{
	int w = 0;

	for (const char *s = msg; *s; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80 && ++w > n)
			break;
		fputc((unsigned char)*s < 0x20 ? '?' : *s, stderr);
	}
	for (; padded && w < n; w++)
		fputc(' ', stderr);
}

int cli_progress_cb(const hl_progress *pr, void *payload)
{
	struct cli_progress *p = payload;
	const char *msg = pr->message ? cli_safe(pr->message) : "";

	if (cli_interrupted())
		return 1;
	if (p->quiet)
		return 0;
	if (p->tty) {
		/* 0: the terminal does not say; draw the full line */
		int cols = cli_term_width(stderr);
		fputs("\r\033[K", stderr);
		if (pr->total > 0) {
			char done[32], total[32], tail[80];
			double frac = pr->completed / pr->total;
			int tl, bar = 30, mw = 28;
			if (frac < 0)
				frac = 0;
			if (frac > 1)
				frac = 1;
			/* "message  42% [=====     ] 1.0 MB/2.0 MB", narrowed to fit:
			 * the bar first (down to 10), then the message, then no bar */
			tl = snprintf(tail, sizeof(tail), "%s/%s", amount(done, sizeof(done), pr->completed, p->bytes),
			              amount(total, sizeof(total), pr->total, p->bytes));
			if (cols > 0) {
				int room = cols - 1 - (1 + 4 + 1 + 3 + tl); /* for message and bar */
				if (room - mw < bar)
					bar = room - mw;
				if (bar < 10) {
					bar = 10;
					mw = room - bar;
				}
				if (mw < 8) {
					bar = 0;
					mw = room + 3;
				}
			}
			if (mw > 0)
				put_message(msg, mw, true);
			fprintf(stderr, " %3.0f%% ", frac * 100);
			if (bar > 0) {
				int fill = (int)(frac * bar + 0.5);
				fputc('[', stderr);
				for (int i = 0; i < bar; i++)
					fputc(i < fill ? '=' : ' ', stderr);
				fputs("] ", stderr);
			}
			fputs(tail, stderr);
		} else {
			put_message(msg, cols > 1 ? cols - 1 : 1000, false);
		}
		p->drawn = true;
		fflush(stderr);
	} else if (strcmp(p->last, msg) != 0) {
		/* one line per status, for logs and pipes */
		snprintf(p->last, sizeof(p->last), "%s", msg);
		fprintf(stderr, "%s\n", msg);
	}
	return 0;
}

static void log_line(hl_log_level level, const char *logger, const char *message, void *payload)
{
	struct cli_progress *p = payload;
	const char *name = hl_log_level_name((int)level);

	if (p && p->tty && p->drawn) {
		fputs("\r\033[K", stderr); /* the next report draws the bar again */
		p->drawn = false;
	}
	fprintf(stderr, "%s: ", cli_safe(logger ? logger : "homelab"));
	fprintf(stderr, "%s: %s\n", name ? name : "info", cli_safe(message ? message : ""));
}

void cli_call_log(const struct cli *c, hl_call_options *opts, struct cli_progress *progress)
{
	if (c->verbose <= 0)
		return;
	opts->log = log_line;
	opts->log_payload = progress;
	opts->log_level = c->verbose > 1 ? HL_LOG_DEBUG : HL_LOG_INFO;
}

static int stop_requested(void *payload)
{
	(void)payload;
	return cli_interrupted() ? 1 : 0;
}

bool cli_call_stoppable(const hl_tool *t, hl_call_options *opts)
{
	if (!(hl_tool_flags(t) & HL_TOOL_OPEN_WORLD))
		return false;
	opts->should_stop = stop_requested;
	cli_signals_cancellable(true);
	return true;
}

void cli_call_done(bool stoppable)
{
	if (stoppable)
		cli_signals_cancellable(false);
}

void cli_progress_end(struct cli_progress *p)
{
	if (p->tty && p->drawn)
		fputs("\r\033[K", stderr); /* the result replaces the progress line */
	p->drawn = false;
	cli_signals_cancellable(false);
}
