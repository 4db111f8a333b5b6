/*
 * bench/inventory.c: list and lookup times of the libhomelab inventory at
 * 1k, 10k and 100k VMs with 1M IP allocations.
 *
 *   bench_inventory [--quick] [--no-peer] [--peer PATH] [--keep]
 *
 * Every measurement goes through the public API (<homelab.h>) on a context
 * opened with hl_ctx_open(). SQLite is used directly for one job only:
 * bulk-loading the synthetic inventory into the schema that hl_ctx_open()
 * created, because the public add functions commit (and fsync) once per row.
 * The cost of that public add path is measured separately on a few hundred
 * rows per size and extrapolated.
 *
 * All synthetic addresses lie in 127.0.0.0/8. Databases live in a temporary
 * directory ($TMPDIR or /tmp) that is removed at exit.
 */
#include <homelab.h>
#include <sqlite3.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef HL_BENCH_PEER
#define HL_BENCH_PEER "bench/peer_python.py"
#endif

#define MAX_SIZES 3
#define MAX_ROWS 64

/* ------------------------------------------------------------ helpers --- */

static char tmpdir[PATH_MAX];
static int keep_tmp;

static void remove_tmpdir(void)
{
	DIR *d;
	struct dirent *e;
	char p[PATH_MAX + 256];

	if (!tmpdir[0] || keep_tmp)
		return;
	if ((d = opendir(tmpdir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(tmpdir);
	tmpdir[0] = '\0';
}

static void on_signal(int sig)
{
	remove_tmpdir();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench_inventory: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void check(int err, const char *what)
{
	if (err < 0)
		die("%s: %s (%s)", what, hl_error_last()->message, hl_error_name(err));
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double ms_since(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e6;
}

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t rnd_below(uint32_t n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)(((rng * 0x2545f4914f6cdd1du) >> 32) % n);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double peak_rss_mb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}

/* ------------------------------------------------------ result tables --- */

/* Two tables (this library, the Python peer) of rows x sizes. Each cell has
 * its text and a primary number (ms median or us mean) for the ratio. */
struct table {
	int nrows;
	char rows[MAX_ROWS][64];
	char cell[MAX_ROWS][MAX_SIZES][40];
	double primary[MAX_ROWS][MAX_SIZES];
};

static struct table lib_t, peer_t;
static int nsizes;
static char size_label[MAX_SIZES][32];

static int row_of(struct table *t, const char *row)
{
	for (int i = 0; i < t->nrows; i++)
		if (strcmp(t->rows[i], row) == 0)
			return i;
	if (t->nrows == MAX_ROWS)
		die("too many result rows");
	snprintf(t->rows[t->nrows], sizeof(t->rows[0]), "%s", row);
	return t->nrows++;
}

static void put(struct table *t, const char *row, int col, double primary, const char *fmt, ...)
{
	int r = row_of(t, row);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->cell[r][col], sizeof(t->cell[0][0]), fmt, ap);
	va_end(ap);
	t->primary[r][col] = primary;
	if (t == &lib_t)
		fprintf(stderr, "  %-48s %s\n", row, t->cell[r][col]);
}

static void put_ms(const char *row, int col, double ms)
{
	put(&lib_t, row, col, ms, "%.2f ms", ms);
}

/* Mean and p99 of a sample of per-call times in ns. */
static void put_us(const char *row, int col, double *ns, size_t n)
{
	double sum = 0, mean, p99;

	for (size_t i = 0; i < n; i++)
		sum += ns[i];
	mean = sum / (double)n / 1e3;
	qsort(ns, n, sizeof(*ns), cmp_double);
	p99 = ns[(size_t)((double)(n - 1) * 0.99)] / 1e3;
	put(&lib_t, row, col, mean, "%.1f / %.1f us", mean, p99);
}

static void print_table(const struct table *t, const struct table *base, const char *title)
{
	int width = 48;

	printf("\n%s\n\n| %-*s |", title, width, "operation");
	for (int c = 0; c < nsizes; c++)
		printf(" %-*s |", base ? 26 : 18, size_label[c]);
	printf("\n|-%.*s-|", width, "------------------------------------------------------------");
	for (int c = 0; c < nsizes; c++)
		printf("-%.*s:|", base ? 26 : 18, "------------------------------");
	printf("\n");
	for (int r = 0; r < t->nrows; r++) {
		printf("| %-*s |", width, t->rows[r]);
		for (int c = 0; c < nsizes; c++) {
			char buf[80];
			int br = -1;
			if (base)
				for (int i = 0; i < base->nrows; i++)
					if (strcmp(base->rows[i], t->rows[r]) == 0)
						br = i;
			if (base && br >= 0 && t->cell[r][c][0] && base->primary[br][c] > 0)
				snprintf(buf, sizeof(buf), "%s (%.1fx)", t->cell[r][c], t->primary[r][c] / base->primary[br][c]);
			else
				snprintf(buf, sizeof(buf), "%s", t->cell[r][c][0] ? t->cell[r][c] : "-");
			printf(" %*s |", base ? 26 : 18, buf);
		}
		printf("\n");
	}
}

/* ------------------------------------------------------- address plan --- */

/*
 * All addresses are in 127.0.0.0/8. The k-th address of a "pool" skips the
 * .0 and .255 of each /24, 254 addresses per /24:
 *   127.1.0.0/16    Proxmox hosts         127.2.0.0/15   VMs
 *   127.64.0.0/10   filler allocations    127.200.0.0/16 never allocated (misses)
 *   127.250.0.0/24  nearly full: every host address but .200 taken
 *   127.251.0.0/16  the first `dense16` addresses taken, contiguous
 *   127.252.0.0/16, 127.253.0.0/16        rows added through the public API
 */
#define V4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
#define HOST_BASE V4(127, 1, 0, 0)
#define VM_BASE V4(127, 2, 0, 0)
#define FILL_BASE V4(127, 64, 0, 0)
#define MISS_BASE V4(127, 200, 0, 0)
#define FULL24_BASE V4(127, 250, 0, 0)
#define FULL24_FREE 200
#define DENSE16_BASE V4(127, 251, 0, 0)
#define ADD_VM_BASE V4(127, 252, 0, 0)
#define ADD_IP_BASE V4(127, 253, 0, 0)

static uint32_t pool_addr(uint32_t base, uint32_t k)
{
	return base + (k / 254) * 256 + 1 + k % 254;
}

static void fmt_ip(uint32_t v, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
}

struct sizes {
	uint32_t vms, hosts, ips, dense16, filler;
};

static const char *vm_status(uint32_t i)
{
	uint32_t p = i % 100;
	return p < 70 ? "running" : p < 95 ? "stopped" : p < 99 ? "paused" : "suspended";
}

/* The k-th network_config row, in insertion order (k < ips). */
static uint32_t plan_addr(const struct sizes *s, uint32_t k)
{
	if (k < s->vms)
		return pool_addr(VM_BASE, k);
	k -= s->vms;
	if (k < s->hosts)
		return pool_addr(HOST_BASE, k);
	k -= s->hosts;
	if (k < 253)
		return FULL24_BASE + 1 + k + (k + 1 >= FULL24_FREE);
	k -= 253;
	if (k < s->dense16)
		return DENSE16_BASE + 1 + k;
	return pool_addr(FILL_BASE, k - s->dense16);
}

/* ---------------------------------------------------------- bulk load --- */

static void sql_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		die("bulk load: %s: %s", sql, msg ? msg : sqlite3_errmsg(db));
}

static sqlite3_stmt *sql_prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		die("bulk load: %s: %s", sql, sqlite3_errmsg(db));
	return st;
}

static void sql_step(sqlite3 *db, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		die("bulk load: %s", sqlite3_errmsg(db));
	sqlite3_reset(st);
}

/* Create the schema through the library, then fill it in one transaction. */
static double build_db(const char *path, const struct sizes *s)
{
	hl_ctx_options o = HL_CTX_OPTIONS_INIT;
	hl_ctx *ctx = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *h, *v, *sv, *n;
	char ip[16], name[32], url[64];
	uint64_t t0 = now_ns();

	o.db_path = path;
	check(hl_ctx_open(&ctx, &o), "create database");
	hl_ctx_free(ctx);

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		die("bulk load: open %s: %s", path, sqlite3_errmsg(db));
	sql_exec(db, "PRAGMA synchronous=OFF; PRAGMA cache_size=-262144; BEGIN");
	h = sql_prep(db, "INSERT INTO proxmox_hosts (id, node_name, ip_address) VALUES (?1, ?2, ?3)");
	v = sql_prep(db, "INSERT INTO virtual_machines (vm_id, name, ip, status, host_id, ssh_user, ssh_port) "
	                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
	sv = sql_prep(db, "INSERT INTO services (service_name, url, port, protocol, health_endpoint, vm_id) "
	                  "VALUES (?1, ?2, 8080, 'http', '/healthz', ?3)");
	n = sql_prep(db, "INSERT INTO network_config (ip_address, hostname, allocated_to, type, ip_num) "
	                 "VALUES (?1, ?2, ?3, ?4, ?5)");

	for (uint32_t i = 0; i < s->hosts; i++) {
		snprintf(name, sizeof(name), "pve-%04u", i + 1);
		fmt_ip(pool_addr(HOST_BASE, i), ip);
		sqlite3_bind_int64(h, 1, i + 1);
		sqlite3_bind_text(h, 2, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(h, 3, ip, -1, SQLITE_TRANSIENT);
		sql_step(db, h);
	}
	for (uint32_t i = 0; i < s->vms; i++) {
		snprintf(name, sizeof(name), "vm-%06u", i);
		fmt_ip(pool_addr(VM_BASE, i), ip);
		sqlite3_bind_int64(v, 1, 100 + (int64_t)i);
		sqlite3_bind_text(v, 2, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(v, 3, ip, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(v, 4, vm_status(i), -1, SQLITE_STATIC);
		sqlite3_bind_int64(v, 5, 1 + i % s->hosts);
		if (i % 10 == 0) {
			sqlite3_bind_text(v, 6, "admin", -1, SQLITE_STATIC);
			sqlite3_bind_int(v, 7, 2222);
		} else {
			sqlite3_bind_null(v, 6);
			sqlite3_bind_null(v, 7);
		}
		sql_step(db, v);
		snprintf(name, sizeof(name), "svc-%06u", i);
		snprintf(url, sizeof(url), "http://%s:8080/", ip);
		sqlite3_bind_text(sv, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(sv, 2, url, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(sv, 3, 100 + (int64_t)i);
		sql_step(db, sv);
	}
	for (uint32_t k = 0; k < s->ips; k++) {
		uint32_t a = plan_addr(s, k);
		const char *type = "static";
		fmt_ip(a, ip);
		if (k < s->vms)
			snprintf(name, sizeof(name), "vm-%06u", k);
		else if (k < s->vms + s->hosts)
			snprintf(name, sizeof(name), "pve-%04u", k - s->vms + 1);
		else if (k < s->vms + s->hosts + 253 + s->dense16)
			snprintf(name, sizeof(name), "pool-%07u", k);
		else {
			snprintf(name, sizeof(name), "h-%07u", k);
			type = "dhcp";
		}
		sqlite3_bind_text(n, 1, ip, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(n, 2, name, -1, SQLITE_TRANSIENT);
		if (k < s->vms + s->hosts)
			sqlite3_bind_text(n, 3, name, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(n, 3);
		sqlite3_bind_text(n, 4, type, -1, SQLITE_STATIC);
		sqlite3_bind_int64(n, 5, a);
		sql_step(db, n);
	}
	sqlite3_finalize(h);
	sqlite3_finalize(v);
	sqlite3_finalize(sv);
	sqlite3_finalize(n);
	sql_exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE)");
	sqlite3_close(db);
	return ms_since(t0);
}

/* ------------------------------------------------------- measurements --- */

struct run {
	hl_ctx *ctx;
	const struct sizes *s;
	int col;
	size_t lookups; /* calls per lookup round */
	int reps;       /* repetitions of a whole-list measurement */
};

#define ROUNDS 3

/* Per-call timings of `lookups` calls of fn, in ROUNDS rounds after a warm-up;
 * the round with the median mean is reported. */
typedef void (*call_fn)(struct run *r, uint32_t key);

static void time_calls(struct run *r, const char *row, call_fn fn, uint32_t key_range, size_t n)
{
	double *ns[ROUNDS], means[ROUNDS];
	size_t warm = n / 10 + 1;
	int best = 0;

	for (size_t i = 0; i < warm; i++)
		fn(r, rnd_below(key_range));
	for (int k = 0; k < ROUNDS; k++) {
		double sum = 0;
		if (!(ns[k] = malloc(n * sizeof(double))))
			die("out of memory");
		for (size_t i = 0; i < n; i++) {
			uint32_t key = rnd_below(key_range);
			uint64_t t0 = now_ns();
			fn(r, key);
			ns[k][i] = (double)(now_ns() - t0);
			sum += ns[k][i];
		}
		means[k] = sum / (double)n;
	}
	for (int k = 0; k < ROUNDS; k++) {
		int below = 0;
		for (int j = 0; j < ROUNDS; j++)
			below += means[j] < means[k];
		if (below == ROUNDS / 2)
			best = k;
	}
	put_us(row, r->col, ns[best], n);
	for (int k = 0; k < ROUNDS; k++)
		free(ns[k]);
}

/* Median of reps calls of a whole-list operation, after one warm-up call. */
typedef size_t (*list_fn)(struct run *r, const void *arg);

static void time_list(struct run *r, const char *row, list_fn fn, const void *arg)
{
	double t[16];
	int reps = r->reps < 16 ? r->reps : 16;

	fn(r, arg);
	for (int i = 0; i < reps; i++) {
		uint64_t t0 = now_ns();
		fn(r, arg);
		t[i] = ms_since(t0);
	}
	put_ms(row, r->col, median(t, (size_t)reps));
}

static size_t list_vms(struct run *r, const void *status)
{
	hl_vm_filter f = HL_VM_FILTER_INIT;
	hl_vm_array *list = NULL;
	size_t n;

	f.status = status;
	check(hl_vm_list(&list, r->ctx, &f), "hl_vm_list");
	n = list->count;
	hl_vm_array_free(list);
	return n;
}

static void list_by_host(struct run *r, uint32_t key)
{
	hl_vm_filter f = HL_VM_FILTER_INIT;
	hl_vm_array *list = NULL;
	char host[32];

	snprintf(host, sizeof(host), "pve-%04u", key + 1);
	f.host = host;
	check(hl_vm_list(&list, r->ctx, &f), "hl_vm_list host");
	if (list->count == 0)
		die("hl_vm_list host=%s: no VMs", host);
	hl_vm_array_free(list);
}

static void lookup_name(struct run *r, uint32_t key)
{
	hl_vm *vm = NULL;
	char name[32];

	snprintf(name, sizeof(name), "vm-%06u", key);
	check(hl_vm_lookup(&vm, r->ctx, name), "hl_vm_lookup name");
	hl_vm_free(vm);
}

static void lookup_id(struct run *r, uint32_t key)
{
	hl_vm *vm = NULL;
	char id[32];

	snprintf(id, sizeof(id), "%u", 100 + key);
	check(hl_vm_lookup(&vm, r->ctx, id), "hl_vm_lookup id");
	hl_vm_free(vm);
}

static void ip_hit(struct run *r, uint32_t key)
{
	hl_ip_owner *o = NULL;
	char ip[16];

	fmt_ip(plan_addr(r->s, key), ip);
	check(hl_ip_lookup(&o, r->ctx, ip), "hl_ip_lookup hit");
	hl_ip_owner_free(o);
}

static void ip_miss(struct run *r, uint32_t key)
{
	hl_ip_owner *o = NULL;
	char ip[16];
	int err;

	fmt_ip(pool_addr(MISS_BASE, key), ip);
	if ((err = hl_ip_lookup(&o, r->ctx, ip)) != HL_ENOTFOUND)
		die("hl_ip_lookup %s: expected HL_ENOTFOUND, got %d", ip, err);
}

static void ip_list24(struct run *r, uint32_t key)
{
	hl_ip_alloc_array *list = NULL;
	char ip[16], cidr[24];

	fmt_ip(FILL_BASE + key * 256, ip);
	snprintf(cidr, sizeof(cidr), "%s/24", ip);
	check(hl_ip_list(&list, r->ctx, cidr), "hl_ip_list /24");
	if (list->count != 254)
		die("hl_ip_list %s: %zu rows, expected 254", cidr, list->count);
	hl_ip_alloc_array_free(list);
}

static size_t ip_list16(struct run *r, const void *arg)
{
	hl_ip_alloc_array *list = NULL;
	size_t n;

	(void)arg;
	check(hl_ip_list(&list, r->ctx, "127.251.0.0/16"), "hl_ip_list /16");
	n = list->count;
	hl_ip_alloc_array_free(list);
	return n;
}

static const hl_tool *tool_list_vms, *tool_lookup_ip;
static size_t last_json_size;

static size_t tool_list(struct run *r, const void *args)
{
	hl_buf out = HL_BUF_INIT;

	check(hl_tool_call(&out, r->ctx, tool_list_vms, args, NULL), "homelab_list_vms");
	last_json_size = out.size;
	hl_buf_dispose(&out);
	return last_json_size;
}

static void tool_ip(struct run *r, uint32_t key)
{
	hl_buf out = HL_BUF_INIT;
	char ip[16], args[48];

	fmt_ip(plan_addr(r->s, key), ip);
	snprintf(args, sizeof(args), "{\"ip\":\"%s\"}", ip);
	check(hl_tool_call(&out, r->ctx, tool_lookup_ip, args, NULL), "homelab_lookup_ip");
	hl_buf_dispose(&out);
}

/* hl_ip_allocate in a subnet whose lowest free address is `expect`; the
 * address is released again (untimed) after each call. */
static void time_allocate(struct run *r, const char *row, const char *cidr, uint32_t expect, int n, int as_ms)
{
	hl_ip_spec spec = HL_IP_SPEC_INIT;
	char want[16];
	double t[64];

	fmt_ip(expect, want);
	spec.allocated_to = "bench";
	if (n > 64)
		n = 64;
	for (int i = -1; i < n; i++) {
		hl_ip_alloc *a = NULL;
		uint64_t t0 = now_ns();
		check(hl_ip_allocate(&a, r->ctx, cidr, &spec), "hl_ip_allocate");
		if (i >= 0)
			t[i] = (double)(now_ns() - t0);
		if (strcmp(a->ip, want) != 0)
			die("hl_ip_allocate %s gave %s, expected %s", cidr, a->ip, want);
		hl_ip_alloc_free(a);
		check(hl_ip_release(r->ctx, want), "hl_ip_release");
	}
	if (as_ms) {
		for (int i = 0; i < n; i++)
			t[i] /= 1e6;
		put_ms(row, r->col, median(t, (size_t)n));
	} else {
		put_us(row, r->col, t, (size_t)n);
	}
}

/* The public add path: n rows of each kind into the loaded database. */
static void time_adds(struct run *r, uint32_t n)
{
	double *vm = malloc(n * sizeof(double)), *svc = malloc(n * sizeof(double)), *ip = malloc(n * sizeof(double));
	double host_ns[20], m_vm = 0, m_svc = 0, m_ip = 0, m_host = 0, est_s;
	char name[32], ipbuf[16], ref[32];

	if (!vm || !svc || !ip)
		die("out of memory");
	for (uint32_t i = 0; i < 20; i++) {
		hl_host_spec hs = HL_HOST_SPEC_INIT;
		uint64_t t0;
		snprintf(name, sizeof(name), "bench-host-%02u", i);
		hs.name = name;
		t0 = now_ns();
		check(hl_host_add(NULL, r->ctx, &hs), "hl_host_add");
		host_ns[i] = (double)(now_ns() - t0);
		m_host += host_ns[i] / 20;
	}
	for (uint32_t i = 0; i < n; i++) {
		hl_vm_spec vs = HL_VM_SPEC_INIT;
		hl_service_spec ss = HL_SERVICE_SPEC_INIT;
		hl_ip_spec is = HL_IP_SPEC_INIT;
		uint64_t t0;

		snprintf(name, sizeof(name), "bench-vm-%05u", i);
		fmt_ip(pool_addr(ADD_VM_BASE, i), ipbuf);
		vs.name = name;
		vs.ip = ipbuf;
		vs.status = "running";
		vs.host = "pve-0001";
		t0 = now_ns();
		check(hl_vm_add(NULL, r->ctx, &vs), "hl_vm_add");
		vm[i] = (double)(now_ns() - t0);

		snprintf(ref, sizeof(ref), "%s", name);
		snprintf(name, sizeof(name), "bench-svc-%05u", i);
		ss.name = name;
		ss.port = 8080;
		ss.protocol = "http";
		ss.vm = ref;
		t0 = now_ns();
		check(hl_service_add(NULL, r->ctx, &ss), "hl_service_add");
		svc[i] = (double)(now_ns() - t0);

		fmt_ip(pool_addr(ADD_IP_BASE, i), ipbuf);
		is.ip = ipbuf;
		is.allocated_to = "bench";
		t0 = now_ns();
		check(hl_ip_add(NULL, r->ctx, &is), "hl_ip_add");
		ip[i] = (double)(now_ns() - t0);
	}
	for (uint32_t i = 0; i < n; i++) {
		m_vm += vm[i] / n / 1e3;
		m_svc += svc[i] / n / 1e3;
		m_ip += ip[i] / n / 1e3;
	}
	m_host /= 1e3;
	put_us("add: hl_host_add (us mean / p99)", r->col, host_ns, 20);
	put_us("add: hl_vm_add (us mean / p99)", r->col, vm, n);
	put_us("add: hl_service_add (us mean / p99)", r->col, svc, n);
	put_us("add: hl_ip_add (us mean / p99)", r->col, ip, n);
	est_s = (m_host * r->s->hosts + (m_vm + m_svc) * r->s->vms + m_ip * r->s->ips) / 1e6;
	put(&lib_t, "add: same db via public API (estimate)", r->col, est_s * 1e3, "%.0f s", est_s);
	free(vm);
	free(svc);
	free(ip);
}

/* ------------------------------------------------------------- peer --- */

static void run_peer(const char *peer, const char *db, const struct sizes *s, int col, int quick)
{
	char cmd[PATH_MAX * 3], line[512];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s' --db '%s' --ips %u%s", peer, db, s->ips,
	         quick ? " --quick" : "");
	fprintf(stderr, "  [peer] %s\n", cmd);
	if (!(p = popen(cmd, "r"))) {
		fprintf(stderr, "  [peer] cannot run: %s\n", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), p)) {
		char *row = line, *cell, *num;
		line[strcspn(line, "\n")] = '\0';
		if (!(cell = strchr(row, '\t')) || !(num = strchr(cell + 1, '\t')))
			continue;
		*cell++ = '\0';
		*num++ = '\0';
		put(&peer_t, row, col, strtod(num, NULL), "%s", cell);
		fprintf(stderr, "  [peer] %-37s %s\n", row, cell);
	}
	if (pclose(p) != 0)
		fprintf(stderr, "  [peer] exited with an error\n");
}

/* ------------------------------------------------------------- main --- */

static void bench_size(const struct sizes *s, int col, int quick, const char *peer)
{
	char path[PATH_MAX + 32];
	hl_ctx_options o = HL_CTX_OPTIONS_INIT;
	struct run r = { .s = s, .col = col };
	double build_ms, open_ms;
	uint64_t t0;
	hl_vm_array *all = NULL;
	char row[64];

	snprintf(path, sizeof(path), "%s/inv-%u.db", tmpdir, s->vms);
	fprintf(stderr, "\n== %s: %u VMs, %u hosts, %u services, %u IP allocations\n", size_label[col], s->vms,
	        s->hosts, s->vms, s->ips);
	build_ms = build_db(path, s);
	put(&lib_t, "db build: schema + bulk sqlite3 load", col, build_ms, "%.2f s", build_ms / 1e3);

	o.db_path = path;
	t0 = now_ns();
	check(hl_ctx_open(&r.ctx, &o), "hl_ctx_open");
	open_ms = ms_since(t0);
	put_ms("hl_ctx_open (existing db)", col, open_ms);

	r.reps = s->vms >= 100000 ? 5 : 9;
	r.lookups = quick ? 2000 : 5000;

	check(hl_vm_list(&all, r.ctx, NULL), "hl_vm_list");
	if (all->count != s->vms)
		die("hl_vm_list: %zu VMs, expected %u", all->count, s->vms);
	hl_vm_array_free(all);

	time_list(&r, "hl_vm_list all (ms median)", list_vms, NULL);
	time_list(&r, "hl_vm_list status=stopped, 25% (ms median)", list_vms, "stopped");
	time_list(&r, "hl_vm_list status=suspended, 1% (ms median)", list_vms, "suspended");
	time_calls(&r, "hl_vm_list host=NAME, 50 VMs (us mean / p99)", list_by_host, s->hosts, r.lookups / 5);
	time_calls(&r, "hl_vm_lookup by name (us mean / p99)", lookup_name, s->vms, r.lookups);
	time_calls(&r, "hl_vm_lookup by id (us mean / p99)", lookup_id, s->vms, r.lookups);
	time_calls(&r, "hl_ip_lookup hit (us mean / p99)", ip_hit, s->ips, r.lookups);
	time_calls(&r, "hl_ip_lookup miss (us mean / p99)", ip_miss, 65000, r.lookups);
	time_calls(&r, "hl_ip_list /24, 254 rows (us mean / p99)", ip_list24, s->filler / 254, r.lookups / 5);
	snprintf(row, sizeof(row), "hl_ip_list /16, %uk rows (ms median)", s->dense16 / 1000);
	time_list(&r, row, ip_list16, NULL);
	time_list(&r, "tool homelab_list_vms {} (ms median)", tool_list, "{}");
	put(&lib_t, "tool homelab_list_vms {}: JSON size", col, 0, "%.2f MB", (double)last_json_size / 1e6);
	time_list(&r, "tool homelab_list_vms status=suspended (ms)", tool_list, "{\"status\":\"suspended\"}");
	time_calls(&r, "tool homelab_lookup_ip hit (us mean / p99)", tool_ip, s->ips, r.lookups);

	if (peer)
		run_peer(peer, path, s, col, quick);

	time_allocate(&r, "hl_ip_allocate nearly-full /24 (us mean / p99)", "127.250.0.0/24",
	              FULL24_BASE + FULL24_FREE, 40, 0);
	snprintf(row, sizeof(row), "hl_ip_allocate /16, %uk taken (ms median)", s->dense16 / 1000);
	time_allocate(&r, row, "127.251.0.0/16", DENSE16_BASE + 1 + s->dense16, quick ? 5 : 9, 1);
	time_adds(&r, quick ? 200 : 300);

	hl_ctx_free(r.ctx);
	put(&lib_t, "peak RSS of the process so far", col, 0, "%.0f MB", peak_rss_mb());
	if (keep_tmp)
		return;
	unlink(path);
	snprintf(path, sizeof(path), "%s/inv-%u.db-wal", tmpdir, s->vms);
	unlink(path);
	snprintf(path, sizeof(path), "%s/inv-%u.db-shm", tmpdir, s->vms);
	unlink(path);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_inventory [--quick] [--no-peer] [--peer PATH] [--keep]\n"
	           "  --quick    1k and 10k VMs with 100k IP allocations (about 20 s)\n"
	           "  --no-peer  do not run the Python peer (bench/peer_python.py)\n"
	           "  --peer P   the peer script to run (default %s)\n"
	           "  --size N   only N VMs (1000..200000); repeat for up to 3 sizes\n"
	           "  --keep     keep the temporary databases (the directory is printed)\n",
	        HL_BENCH_PEER);
}

int main(int argc, char **argv)
{
	const char *peer = HL_BENCH_PEER, *base;
	int quick = 0;
	uint32_t vm_sizes[MAX_SIZES] = { 1000, 10000, 100000 };
	uint64_t t0 = now_ns();
	struct sizes s[MAX_SIZES];
	uint32_t vm_only[MAX_SIZES];
	int only = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = 1;
		else if (strcmp(argv[i], "--no-peer") == 0)
			peer = NULL;
		else if (strcmp(argv[i], "--peer") == 0 && i + 1 < argc)
			peer = argv[++i];
		else if (strcmp(argv[i], "--keep") == 0)
			keep_tmp = 1;
		else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc && only < MAX_SIZES)
			vm_only[only++] = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (peer && (access(peer, R_OK) != 0 || access("/usr/bin/python3", X_OK) != 0)) {
		fprintf(stderr, "bench_inventory: peer %s or /usr/bin/python3 not found; running without the peer\n",
		        peer);
		peer = NULL;
	}

	base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/hl-bench-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir))
		die("mkdtemp %s: %s", tmpdir, strerror(errno));
	atexit(remove_tmpdir);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	if (!(tool_list_vms = hl_tool_lookup("homelab_list_vms")) ||
	    !(tool_lookup_ip = hl_tool_lookup("homelab_lookup_ip")))
		die("the tool table has no homelab_list_vms / homelab_lookup_ip");

	nsizes = quick ? 2 : 3;
	if (only) {
		nsizes = only;
		for (int i = 0; i < only; i++)
			if ((vm_sizes[i] = vm_only[i]) < 1000 || vm_sizes[i] > 200000)
				die("--size: %u is not within 1000..200000", vm_sizes[i]);
	}
	for (int i = 0; i < nsizes; i++) {
		s[i].vms = vm_sizes[i];
		s[i].hosts = vm_sizes[i] / 50;
		s[i].ips = quick ? 100000 : 1000000;
		s[i].dense16 = quick ? 20000 : 60000;
		s[i].filler = s[i].ips - s[i].vms - s[i].hosts - 253 - s[i].dense16;
		snprintf(size_label[i], sizeof(size_label[i]), "%uk VMs / %s IPs", vm_sizes[i] / 1000,
		         quick ? "100k" : "1M");
	}
	fprintf(stderr, "bench_inventory: libhomelab %s, SQLite %s, databases in %s%s\n", HOMELAB_VERSION,
	        sqlite3_libversion(), tmpdir, quick ? " (--quick)" : "");
	for (int i = 0; i < nsizes; i++)
		bench_size(&s[i], i, quick, peer);

	printf("bench_inventory: libhomelab %s, SQLite %s, %s run, %ld CPUs.\n"
	       "Synthetic inventory (127.0.0.0/8 only): hosts = VMs/50, one service per VM, one\n"
	       "network_config row per VM and host plus filler to the IP count. The databases are\n"
	       "bulk-loaded with sqlite3 directly (the public add path is timed separately below);\n"
	       "everything else goes through <homelab.h>. Lists: median of repetitions after a warm-up;\n"
	       "lookups: mean / p99 of per-call times over random keys.\n",
	       HOMELAB_VERSION, sqlite3_libversion(), quick ? "quick" : "full", sysconf(_SC_NPROCESSORS_ONLN));
	print_table(&lib_t, NULL, "libhomelab (C, public API)");
	if (peer && peer_t.nrows)
		print_table(&peer_t, &lib_t, "Python peer (bench/peer_python.py, the original server's way; "
		                             "in brackets: time relative to libhomelab)");
	printf("\ntotal run time %.1f s\n", ms_since(t0) / 1e3);
	return 0;
}
