/*
 * gpu.c: the whisper_gpu_status result from nvidia-smi's CSV output.
 *
 * nvidia-smi's CSV has no quoting: fields are separated by ", " and a value
 * may itself contain commas (process names do, on older drivers). So a row
 * is split from both ends: the fixed columns are taken from the left and
 * the right, and the free-text column is whatever lies between them.
 * Values nvidia-smi cannot give are bracketed tokens ("[N/A]", "[GPU is
 * lost]", ...), a bare "N/A" or an empty cell; they become null. The input
 * is untrusted (it comes from a remote host): nothing here assumes a NUL
 * terminator, a trailing newline or valid UTF-8.
 */
#include "hl.h"
#include "jw.h"

#include <stdio.h>

#define GPU_FIXED_RIGHT 7   /* uuid .. power.limit, right of the name */
#define APP_MIN_COMMAS 3    /* gpu_uuid, pid, name..., used_memory */
#define MAX_WARNINGS 32
#define QUOTE_MAX 240       /* bytes of input quoted in a message */
#define JSON_INT_MAX 9007199254740991LL /* 2^53 - 1: exact in every JSON reader */
#define DEC_DIGITS_MAX 15   /* digits on either side of a decimal point */

typedef struct {
	const char *p;
	size_t n;
} slice;

/* A number cell: null (not available), a value, or text that is not a number. */
enum { V_NULL, V_OK, V_BAD };

typedef struct {
	int kind;
	int64_t v;
} ival;

typedef struct {
	int kind;
	char text[2 * DEC_DIGITS_MAX + 4]; /* normalised JSON number */
} dval;

struct gpu {
	ival index;
	slice name, uuid;         /* p == NULL: null */
	ival util, mem_used, mem_total, temp;
	dval power_draw, power_limit;
	const char *error;        /* static text or NULL */
};

#define NO_GPU ((size_t)-1)

struct proc {
	slice uuid, name;
	ival pid, mem;
	size_t gpu;               /* index into the gpu array; NO_GPU: none */
	size_t next;              /* the next process of the same GPU; NO_GPU: last */
};

struct parse {
	struct gpu *gpus;
	size_t ngpus, gpus_cap;
	struct proc *procs;
	size_t nprocs, procs_cap;
	bool procs_known;         /* the apps query ran and succeeded */
	struct uuid_ref *by_uuid; /* GPUs with a uuid, sorted (index_uuids) */
	size_t nby_uuid;
	size_t *first_proc;       /* per GPU: its first process; NO_GPU: none */
	char *warnings[MAX_WARNINGS];
	size_t nwarnings;
	size_t warnings_dropped;
	bool oom;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static slice trim(slice s)
{
	while (s.n && is_space(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n && (is_space(s.p[s.n - 1]) || s.p[s.n - 1] == '\r'))
		s.n--;
	return s;
}

static slice sub(const char *from, const char *to)
{
	slice s = { from, (size_t)(to - from) };
	return trim(s);
}

static bool slice_eq(slice s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* Does the text contain needle? (memmem without relying on _GNU_SOURCE) */
static bool contains(const char *p, size_t n, const char *needle)
{
	size_t m = strlen(needle);

	if (!p || m > n)
		return false;
	for (size_t i = 0; i + m <= n; i++)
		if (p[i] == needle[0] && memcmp(p + i, needle, m) == 0)
			return true;
	return false;
}

/* A cell that says "no value": empty, N/A in any case, or [anything]. */
static bool is_absent(slice s)
{
	if (s.n == 0)
		return true;
	if (s.n == 3 && (s.p[0] == 'N' || s.p[0] == 'n') && s.p[1] == '/' && (s.p[2] == 'A' || s.p[2] == 'a'))
		return true;
	return s.n >= 2 && s.p[0] == '[' && s.p[s.n - 1] == ']';
}

/* A string cell: absent becomes a null slice. */
static slice text_cell(slice s)
{
	if (is_absent(s)) {
		slice none = { NULL, 0 };
		return none;
	}
	return s;
}

/* An integer cell: ASCII digits (a leading '-' when allow_neg), at most 2^53 - 1. */
static ival int_cell(slice s, bool allow_neg)
{
	ival r = { V_NULL, 0 };
	size_t i = 0;
	bool neg = false;

	if (is_absent(s))
		return r;
	r.kind = V_BAD;
	if (allow_neg && s.n > 1 && s.p[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == s.n)
		return r;
	for (; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return r;
		if (r.v > (JSON_INT_MAX - (s.p[i] - '0')) / 10)
			return r;
		r.v = r.v * 10 + (s.p[i] - '0');
	}
	if (neg)
		r.v = -r.v;
	r.kind = V_OK;
	return r;
}

/* A decimal cell ("111.50", "65"), kept as text: no floating point and no
 * locale on the way. Written without leading zeros or trailing fraction
 * zeros ("250.00" is 250.0), which is always a valid JSON number. */
static dval dec_cell(slice s)
{
	dval r = { V_NULL, "" };
	size_t i = 0, int_start, int_end, frac_start = 0, frac_end = 0, o = 0;

	if (is_absent(s))
		return r;
	r.kind = V_BAD;
	int_start = i;
	while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9')
		i++;
	int_end = i;
	if (int_end == int_start)
		return r;
	if (i < s.n && s.p[i] == '.') {
		frac_start = ++i;
		while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9')
			i++;
		frac_end = i;
		if (frac_end == frac_start)
			return r;
	}
	if (i != s.n)
		return r;
	while (int_end - int_start > 1 && s.p[int_start] == '0')
		int_start++;
	while (frac_end > frac_start + 1 && s.p[frac_end - 1] == '0')
		frac_end--;
	if (int_end - int_start > DEC_DIGITS_MAX || frac_end - frac_start > DEC_DIGITS_MAX)
		return r;
	memcpy(r.text, s.p + int_start, int_end - int_start);
	o = int_end - int_start;
	if (frac_end > frac_start) {
		r.text[o++] = '.';
		memcpy(r.text + o, s.p + frac_start, frac_end - frac_start);
		o += frac_end - frac_start;
	}
	r.text[o] = '\0';
	r.kind = V_OK;
	return r;
}

/* Copy at most QUOTE_MAX bytes of s into dst as one printable line (control
 * characters and NUL become '?'; the caller's formatter scrubs UTF-8). */
static void quote(char *dst, size_t cap, slice s)
{
	size_t n = s.n < QUOTE_MAX ? s.n : QUOTE_MAX;

	if (n >= cap)
		n = cap - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[n] = '\0';
	if (s.n > n && n >= 3)
		memcpy(dst + n - 3, "...", 3);
	hl__utf8_scrub(dst);
}

static void warn(struct parse *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Add a warning to the result (at most MAX_WARNINGS, then a count). */
static void warn(struct parse *ps, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (ps->nwarnings >= MAX_WARNINGS - 1) {
		ps->warnings_dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ps->warnings[ps->nwarnings] = hl__strdup(line);
	if (!ps->warnings[ps->nwarnings])
		ps->oom = true;
	else
		ps->nwarnings++;
}

/* The next line of text: [*pos, newline) without its CR; false at the end. */
static bool next_line(const char *text, size_t len, size_t *pos, slice *line)
{
	const char *start, *nl;

	if (!text || *pos >= len)
		return false;
	start = text + *pos;
	nl = memchr(start, '\n', len - *pos);
	if (!nl)
		nl = text + len;
	line->p = start;
	line->n = (size_t)(nl - start);
	*pos = (size_t)(nl - text) + (nl < text + len ? 1 : 0);
	return true;
}

/* The first non-blank line of stdout, else of stderr, quoted; "" if none. */
static void first_line(char *dst, size_t cap, const hl_gpu_output *o)
{
	const char *texts[2] = { o->stdout_text, o->stderr_text };
	size_t lens[2] = { o->stdout_len, o->stderr_len };

	dst[0] = '\0';
	for (int t = 0; t < 2; t++) {
		size_t pos = 0;
		slice l;
		while (next_line(texts[t], lens[t], &pos, &l)) {
			l = trim(l);
			if (l.n) {
				quote(dst, cap, l);
				return;
			}
		}
	}
}

/* The man page's meaning of an exit status, or NULL. */
static const char *exit_meaning(int status)
{
	switch (status) {
	case 2: return "invalid argument";
	case 3: return "operation not available";
	case 4: return "no permission";
	case 6: return "object not found";
	case 8: return "external power cables not properly attached";
	case 9: return "NVIDIA driver not loaded";
	case 10: return "NVIDIA kernel detected an interrupt issue";
	case 12: return "NVML shared library not found";
	case 13: return "NVML function not implemented";
	case 14: return "infoROM corrupted";
	case 15: return "GPU fell off the bus";
	case 255: return "other error";
	default: return NULL;
	}
}

/* The error for a query that gave no usable rows, saying which failure it is. */
static int fail(const hl_gpu_output *o, const char *target, const char *query)
{
	char first[QUOTE_MAX + 8], where[160] = "";
	const char *meaning = exit_meaning(o->exit_status);
	int st = o->exit_status;

	first_line(first, sizeof(first), o);
	if (target) {
		char t[64];
		slice ts = { target, strlen(target) };
		quote(t, sizeof(t), ts);
		snprintf(where, sizeof(where), " on %s", t);
	}
	if (st == 127)
		return hl__err(HL_ENOTFOUND, HL_ERROR_TOOL, "nvidia-smi is not installed%s (exit 127%s%s)",
		               where, first[0] ? ": " : "", first);
	if (st == 126)
		return hl__err(HL_EAUTH, HL_ERROR_TOOL, "nvidia-smi cannot be run%s (exit 126%s%s)",
		               where, first[0] ? ": " : "", first);
	if (st == 9 || contains(o->stdout_text, o->stdout_len, "couldn't communicate with the NVIDIA driver"))
		return hl__err(HL_EUNREACHABLE, HL_ERROR_TOOL, "NVIDIA driver not loaded%s (nvidia-smi exit %d%s%s)",
		               where, st, first[0] ? ": " : "", first);
	if (st == 12)
		return hl__err(HL_ENOTFOUND, HL_ERROR_TOOL,
		               "NVML library not found or not loadable%s (nvidia-smi exit 12%s%s)",
		               where, first[0] ? ": " : "", first);
	if (contains(o->stdout_text, o->stdout_len, "No devices were found") ||
	    contains(o->stderr_text, o->stderr_len, "No devices were found"))
		return hl__err(HL_ENOTFOUND, HL_ERROR_TOOL, "no NVIDIA GPU%s: No devices were found (nvidia-smi exit %d)",
		               where, st);
	if (contains(o->stdout_text, o->stdout_len, "No supported GPUs") ||
	    contains(o->stderr_text, o->stderr_len, "No supported GPUs"))
		return hl__err(HL_ENOTFOUND, HL_ERROR_TOOL, "no supported NVIDIA GPU%s (nvidia-smi exit %d: %s)",
		               where, st, first);
	if (st == 4)
		return hl__err(HL_EAUTH, HL_ERROR_TOOL, "nvidia-smi has no permission%s (exit 4%s%s)",
		               where, first[0] ? ": " : "", first);
	if (st == 0)
		return hl__err(HL_ENOTFOUND, HL_ERROR_TOOL, "nvidia-smi %s listed no GPU%s%s%s",
		               query, where, first[0] ? ": " : "", first);
	if (st < 0)
		return hl__err(HL_ERROR, HL_ERROR_TOOL, "nvidia-smi did not exit normally%s (status %d%s%s)",
		               where, st, first[0] ? ": " : "", first);
	return hl__err(HL_ERROR, HL_ERROR_TOOL, "nvidia-smi failed%s (exit %d%s%s): %s", where, st,
	               meaning ? ", " : "", meaning ? meaning : "", first[0] ? first : "(no output)");
}

/* Split a --query-gpu line; false when it has too few fields. */
static bool split_gpu(slice line, slice f[9])
{
	const char *end = line.p + line.n, *c = end;
	const char *right[GPU_FIXED_RIGHT]; /* commas, rightmost first */
	const char *first;

	for (int k = 0; k < GPU_FIXED_RIGHT; k++) {
		while (c > line.p && c[-1] != ',')
			c--;
		if (c == line.p)
			return false;
		right[k] = --c;
	}
	first = memchr(line.p, ',', (size_t)(right[GPU_FIXED_RIGHT - 1] - line.p));
	if (!first)
		return false;
	f[0] = sub(line.p, first);
	f[1] = sub(first + 1, right[GPU_FIXED_RIGHT - 1]);
	for (int k = GPU_FIXED_RIGHT - 1; k >= 0; k--)
		f[2 + (GPU_FIXED_RIGHT - 1 - k)] = sub(right[k] + 1, k ? right[k - 1] : end);
	return true;
}

static const char *gpu_field_names[9] = {
	"index", "name", "uuid", "utilization.gpu", "memory.used", "memory.total", "temperature.gpu",
	"power.draw", "power.limit"
};

/* Warn about a number cell that is not a number. */
static void bad_cell(struct parse *ps, size_t lineno, const char *field, slice s)
{
	char q[QUOTE_MAX + 8];

	quote(q, sizeof(q), s);
	warn(ps, "nvidia-smi line %zu: %s is not a valid number: '%s'", lineno, field, q);
}

static int push_gpu(struct parse *ps, const struct gpu *g)
{
	if (ps->ngpus == ps->gpus_cap) {
		size_t cap = ps->gpus_cap ? ps->gpus_cap * 2 : 8;
		struct gpu *n = hl__realloc(ps->gpus, cap * sizeof(*n));
		if (!n)
			return HL_ENOMEM;
		ps->gpus = n;
		ps->gpus_cap = cap;
	}
	ps->gpus[ps->ngpus++] = *g;
	return 0;
}

static int push_proc(struct parse *ps, const struct proc *p)
{
	if (ps->nprocs == ps->procs_cap) {
		size_t cap = ps->procs_cap ? ps->procs_cap * 2 : 8;
		struct proc *n = hl__realloc(ps->procs, cap * sizeof(*n));
		if (!n)
			return HL_ENOMEM;
		ps->procs = n;
		ps->procs_cap = cap;
	}
	ps->procs[ps->nprocs++] = *p;
	return 0;
}

/* Parse one GPU row into g; false when the line is not a row. strict (exit
 * 0): any line with enough fields is a row; otherwise its first cell must
 * also be an index or a placeholder. */
static bool gpu_row(struct parse *ps, slice line, size_t lineno, bool strict, struct gpu *g)
{
	slice f[9];
	ival *ints[4];
	int int_fields[4] = { 3, 4, 5, 6 };

	memset(g, 0, sizeof(*g));
	if (!split_gpu(line, f))
		return false;
	g->index = int_cell(f[0], false);
	/* With a failing nvidia-smi, a message line with enough commas is not
	 * a row: a row's first cell is an index or a placeholder. */
	if (!strict && g->index.kind == V_BAD)
		return false;
	if (g->index.kind == V_BAD)
		bad_cell(ps, lineno, gpu_field_names[0], f[0]);
	g->name = text_cell(f[1]);
	g->uuid = text_cell(f[2]);
	ints[0] = &g->util;
	ints[1] = &g->mem_used;
	ints[2] = &g->mem_total;
	ints[3] = &g->temp;
	for (int k = 0; k < 4; k++) {
		*ints[k] = int_cell(f[int_fields[k]], int_fields[k] == 6);
		if (ints[k]->kind == V_BAD)
			bad_cell(ps, lineno, gpu_field_names[int_fields[k]], f[int_fields[k]]);
	}
	g->power_draw = dec_cell(f[7]);
	if (g->power_draw.kind == V_BAD)
		bad_cell(ps, lineno, gpu_field_names[7], f[7]);
	g->power_limit = dec_cell(f[8]);
	if (g->power_limit.kind == V_BAD)
		bad_cell(ps, lineno, gpu_field_names[8], f[8]);
	for (int k = 0; k < 9 && !g->error; k++) {
		if (slice_eq(f[k], "[GPU is lost]"))
			g->error = "GPU is lost";
		else if (slice_eq(f[k], "[GPU requires reset]"))
			g->error = "GPU requires reset";
	}
	if (!g->error && g->index.kind == V_NULL && !g->uuid.p && slice_eq(f[2], "[Unknown Error]"))
		g->error = "Unknown Error";
	if (g->error)
		warn(ps, "GPU %zu (nvidia-smi line %zu): %s", ps->ngpus, lineno, g->error);
	return true;
}

static int parse_gpus(struct parse *ps, const hl_gpu_output *o, const char *target)
{
	bool ok_exit = o->exit_status == 0;
	size_t pos = 0, lineno = 0;
	slice line;

	/* nvidia-smi may say so with exit 0 on some versions */
	if (ok_exit && contains(o->stdout_text, o->stdout_len, "No devices were found"))
		return fail(o, target, "--query-gpu");
	while (next_line(o->stdout_text, o->stdout_len, &pos, &line)) {
		struct gpu g;
		lineno++;
		line = trim(line);
		if (line.n == 0)
			continue;
		if (gpu_row(ps, line, lineno, ok_exit, &g)) {
			if (push_gpu(ps, &g) < 0)
				return HL_ENOMEM;
			continue;
		}
		if (ok_exit) {
			char q[QUOTE_MAX + 8];
			size_t commas = 0;
			for (size_t i = 0; i < line.n; i++)
				commas += line.p[i] == ',';
			quote(q, sizeof(q), line);
			return hl__err(HL_EINVALID, HL_ERROR_INVALID,
			               "nvidia-smi --query-gpu line %zu: expected 9 fields, found %zu: '%s'",
			               lineno, commas + 1, q);
		} else {
			char q[QUOTE_MAX + 8];
			quote(q, sizeof(q), line);
			warn(ps, "nvidia-smi: %s", q);
		}
	}
	if (ps->ngpus == 0)
		return fail(o, target, "--query-gpu");
	if (!ok_exit) {
		const char *meaning = exit_meaning(o->exit_status);
		warn(ps, "nvidia-smi --query-gpu exited with status %d%s%s%s", o->exit_status,
		     meaning ? " (" : "", meaning ? meaning : "", meaning ? ")" : "");
	}
	return 0;
}

/* GPUs by uuid, for attaching processes in O(log n) each: a host can
 * print a great many rows (1 MiB of output is 100k short ones). */
struct uuid_ref {
	slice uuid;
	size_t pos;
};

static int slice_cmp(slice a, slice b)
{
	int c = memcmp(a.p, b.p, a.n < b.n ? a.n : b.n);
	return c ? c : (a.n < b.n ? -1 : a.n > b.n);
}

static int uuid_ref_cmp(const void *x, const void *y)
{
	const struct uuid_ref *a = x, *b = y;
	int c = slice_cmp(a->uuid, b->uuid);
	return c ? c : (a->pos < b->pos ? -1 : a->pos > b->pos);
}

/* Sort the GPUs with a uuid by (uuid, position). */
static int index_uuids(struct parse *ps)
{
	ps->by_uuid = hl__calloc(ps->ngpus ? ps->ngpus : 1, sizeof(*ps->by_uuid));
	if (!ps->by_uuid)
		return HL_ENOMEM;
	for (size_t i = 0; i < ps->ngpus; i++) {
		if (!ps->gpus[i].uuid.p)
			continue;
		ps->by_uuid[ps->nby_uuid].uuid = ps->gpus[i].uuid;
		ps->by_uuid[ps->nby_uuid++].pos = i;
	}
	qsort(ps->by_uuid, ps->nby_uuid, sizeof(*ps->by_uuid), uuid_ref_cmp);
	return 0;
}

/* Which GPU a process belongs to, by uuid (the first listed, should two
 * share one); NO_GPU when none. */
static size_t gpu_of(const struct parse *ps, slice uuid)
{
	size_t lo = 0, hi = ps->nby_uuid;

	if (!uuid.p)
		return NO_GPU;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (slice_cmp(ps->by_uuid[mid].uuid, uuid) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ps->nby_uuid && slice_cmp(ps->by_uuid[lo].uuid, uuid) == 0)
		return ps->by_uuid[lo].pos;
	return NO_GPU;
}

/* Chain each GPU's processes in their order (first[gpu], proc.next). */
static int chain_procs(struct parse *ps)
{
	size_t *last;

	ps->first_proc = hl__malloc((ps->ngpus ? ps->ngpus : 1) * sizeof(size_t));
	last = hl__malloc((ps->ngpus ? ps->ngpus : 1) * sizeof(size_t));
	if (!ps->first_proc || !last) {
		free(last);
		return HL_ENOMEM;
	}
	for (size_t i = 0; i < ps->ngpus; i++)
		ps->first_proc[i] = last[i] = NO_GPU;
	for (size_t k = 0; k < ps->nprocs; k++) {
		size_t g = ps->procs[k].gpu;
		ps->procs[k].next = NO_GPU;
		if (g == NO_GPU)
			continue;
		if (last[g] == NO_GPU)
			ps->first_proc[g] = k;
		else
			ps->procs[last[g]].next = k;
		last[g] = k;
	}
	free(last);
	return 0;
}

static int parse_apps(struct parse *ps, const hl_gpu_output *o)
{
	size_t pos = 0, lineno = 0;
	slice line;

	if (o->exit_status != 0) {
		char first[QUOTE_MAX + 8];
		first_line(first, sizeof(first), o);
		warn(ps, "process list unavailable: nvidia-smi --query-compute-apps exited with status %d%s%s",
		     o->exit_status, first[0] ? ": " : "", first);
		return 0;
	}
	ps->procs_known = true;
	while (next_line(o->stdout_text, o->stdout_len, &pos, &line)) {
		const char *c1, *c2, *last;
		struct proc p;
		lineno++;
		line = trim(line);
		if (line.n == 0)
			continue;
		c1 = memchr(line.p, ',', line.n);
		c2 = c1 ? memchr(c1 + 1, ',', line.n - (size_t)(c1 + 1 - line.p)) : NULL;
		last = line.p + line.n;
		while (last > line.p && last[-1] != ',')
			last--;
		if (!c2 || last - 1 <= c2) {
			char q[QUOTE_MAX + 8];
			quote(q, sizeof(q), line);
			warn(ps, "nvidia-smi --query-compute-apps line %zu: expected 4 fields: '%s'", lineno, q);
			continue;
		}
		memset(&p, 0, sizeof(p));
		p.uuid = text_cell(sub(line.p, c1));
		p.pid = int_cell(sub(c1 + 1, c2), false);
		if (p.pid.kind == V_BAD)
			bad_cell(ps, lineno, "pid", sub(c1 + 1, c2));
		p.name = text_cell(sub(c2 + 1, last - 1));
		p.mem = int_cell(sub(last, line.p + line.n), false);
		if (p.mem.kind == V_BAD)
			bad_cell(ps, lineno, "used_memory", sub(last, line.p + line.n));
		p.gpu = gpu_of(ps, p.uuid);
		if (p.gpu == NO_GPU) {
			char q[QUOTE_MAX + 8] = "null", pid[32] = "with unknown pid";
			if (p.uuid.p)
				quote(q, sizeof(q), p.uuid);
			if (p.pid.kind == V_OK)
				snprintf(pid, sizeof(pid), "%lld", (long long)p.pid.v);
			warn(ps, "process %s runs on GPU %s, which nvidia-smi did not list", pid, q);
		}
		if (push_proc(ps, &p) < 0)
			return HL_ENOMEM;
	}
	return 0;
}

static void w_int(hl_jw *w, const char *key, ival v)
{
	hl_jw__key(w, key);
	if (v.kind == V_OK)
		hl_jw__int(w, v.v);
	else
		hl_jw__null(w);
}

static void w_dec(hl_jw *w, const char *key, const dval *v)
{
	hl_jw__key(w, key);
	if (v->kind == V_OK)
		hl_jw__raw(w, v->text);
	else
		hl_jw__null(w);
}

static void w_text(hl_jw *w, const char *key, slice s)
{
	hl_jw__key(w, key);
	if (s.p)
		hl_jw__strn(w, s.p, s.n);
	else
		hl_jw__null(w);
}

static void w_proc(hl_jw *w, const struct proc *p, bool with_uuid)
{
	hl_jw__obj(w);
	if (with_uuid)
		w_text(w, "gpu_uuid", p->uuid);
	w_int(w, "pid", p->pid);
	w_text(w, "name", p->name);
	w_int(w, "used_memory_mb", p->mem);
	hl_jw__end_obj(w);
}

static void w_gpu(hl_jw *w, const struct parse *ps, size_t i)
{
	const struct gpu *g = &ps->gpus[i];
	ival free_mb = { V_NULL, 0 };

	if (g->mem_used.kind == V_OK && g->mem_total.kind == V_OK && g->mem_total.v >= g->mem_used.v) {
		free_mb.kind = V_OK;
		free_mb.v = g->mem_total.v - g->mem_used.v;
	}
	hl_jw__obj(w);
	w_int(w, "index", g->index);
	w_text(w, "name", g->name);
	w_text(w, "uuid", g->uuid);
	w_int(w, "utilization_percent", g->util);
	w_int(w, "memory_used_mb", g->mem_used);
	w_int(w, "memory_total_mb", g->mem_total);
	w_int(w, "memory_free_mb", free_mb);
	w_int(w, "temperature_celsius", g->temp);
	w_dec(w, "power_draw_w", &g->power_draw);
	w_dec(w, "power_limit_w", &g->power_limit);
	hl_jw__key(w, "processes");
	if (ps->procs_known) {
		hl_jw__arr(w);
		for (size_t k = ps->first_proc[i]; k != NO_GPU; k = ps->procs[k].next)
			w_proc(w, &ps->procs[k], false);
		hl_jw__end_arr(w);
	} else {
		hl_jw__null(w);
	}
	hl_jw__kstr(w, "error", g->error);
	hl_jw__end_obj(w);
}

static int write_result(hl_buf *out, const struct parse *ps, const char *target)
{
	hl_buf b = HL_BUF_INIT;
	hl_jw w;
	int rc;

	hl_jw__init(&w, &b);
	hl_jw__obj(&w);
	if (target)
		hl_jw__kstr(&w, "target", target);
	hl_jw__key(&w, "gpus");
	hl_jw__arr(&w);
	for (size_t i = 0; i < ps->ngpus; i++)
		w_gpu(&w, ps, i);
	hl_jw__end_arr(&w);
	hl_jw__kint(&w, "count", (int64_t)ps->ngpus);
	/* The seed tool returned these four keys for its one GPU; clients
	 * written for it keep working (there is always a first GPU here). */
	w_int(&w, "utilization_percent", ps->gpus[0].util);
	w_int(&w, "memory_used_mb", ps->gpus[0].mem_used);
	w_int(&w, "memory_total_mb", ps->gpus[0].mem_total);
	w_int(&w, "temperature_celsius", ps->gpus[0].temp);
	hl_jw__key(&w, "unattached_processes");
	hl_jw__arr(&w);
	for (size_t k = 0; k < ps->nprocs; k++)
		if (ps->procs[k].gpu == NO_GPU)
			w_proc(&w, &ps->procs[k], true);
	hl_jw__end_arr(&w);
	hl_jw__key(&w, "warnings");
	hl_jw__arr(&w);
	for (size_t k = 0; k < ps->nwarnings; k++)
		hl_jw__str(&w, ps->warnings[k]);
	if (ps->warnings_dropped) {
		char more[64];
		snprintf(more, sizeof(more), "%zu more warnings left out", ps->warnings_dropped);
		hl_jw__str(&w, more);
	}
	hl_jw__end_arr(&w);
	hl_jw__end_obj(&w);
	rc = hl_jw__finish(&w);
	if (rc == HL_ENOMEM)
		rc = hl__oom();
	if (rc == 0) {
		hl_buf_dispose(out);
		*out = b;
		return 0;
	}
	hl_buf_dispose(&b);
	return rc;
}

int hl_gpu_parse(hl_buf *out, const char *target, const hl_gpu_output *gpus, const hl_gpu_output *apps)
{
	struct parse ps;
	int rc;

	if (!out || !gpus)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_gpu_parse: %s is NULL", out ? "gpus" : "out");
	memset(&ps, 0, sizeof(ps));
	rc = parse_gpus(&ps, gpus, target);
	if (rc == 0)
		rc = index_uuids(&ps);
	if (rc == 0 && apps)
		rc = parse_apps(&ps, apps);
	if (rc == 0)
		rc = chain_procs(&ps);
	if (rc == 0 && ps.oom)
		rc = hl__oom();
	if (rc == 0)
		rc = write_result(out, &ps, target);
	for (size_t k = 0; k < ps.nwarnings; k++)
		free(ps.warnings[k]);
	free(ps.gpus);
	free(ps.procs);
	free(ps.by_uuid);
	free(ps.first_proc);
	return rc;
}
