/*
 * cmd_gpu.c: `homelab gpu [TARGET] [--json]`: the whisper_gpu_status tool,
 * printed as one row per GPU with its processes below it.
 */
#include "cli.h"

#include <json-c/json.h>
#include <string.h>

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

/* A number cell: "-" for null. */
static const char *num(char *buf, size_t n, struct json_object *v, const char *unit)
{
	if (!v || json_object_is_type(v, json_type_null))
		return "-";
	if (json_object_is_type(v, json_type_int))
		snprintf(buf, n, "%lld%s", (long long)json_object_get_int64(v), unit);
	else
		snprintf(buf, n, "%.1f%s", json_object_get_double(v), unit);
	return buf;
}

static const char *str(struct json_object *v)
{
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "-";
}

static void print_table(struct json_object *r)
{
	struct json_object *gpus = member(r, "gpus"), *warn = member(r, "warnings");
	char a[32], b[32], t[32], p1[32], p2[32], u[32];

	printf("%-3s  %-32s  %5s  %-17s  %5s  %s\n", "GPU", "NAME", "UTIL", "MEMORY MiB", "TEMP", "POWER W");
	for (size_t i = 0; gpus && i < json_object_array_length(gpus); i++) {
		struct json_object *g = json_object_array_get_idx(gpus, i), *procs = member(g, "processes");
		char mem[40], pow[40];
		snprintf(mem, sizeof(mem), "%s / %s", num(a, sizeof(a), member(g, "memory_used_mb"), ""),
		         num(b, sizeof(b), member(g, "memory_total_mb"), ""));
		snprintf(pow, sizeof(pow), "%s / %s", num(p1, sizeof(p1), member(g, "power_draw_w"), ""),
		         num(p2, sizeof(p2), member(g, "power_limit_w"), ""));
		printf("%-3s  %-32.32s  %5s  %-17s  %5s  %s%s%s\n", num(u, sizeof(u), member(g, "index"), ""),
		       str(member(g, "name")), num(a, sizeof(a), member(g, "utilization_percent"), "%"), mem,
		       num(t, sizeof(t), member(g, "temperature_celsius"), "C"), pow,
		       member(g, "error") && !json_object_is_type(member(g, "error"), json_type_null) ? "  " : "",
		       member(g, "error") && !json_object_is_type(member(g, "error"), json_type_null)
		               ? json_object_get_string(member(g, "error"))
		               : "");
		for (size_t j = 0; procs && json_object_is_type(procs, json_type_array) && j < json_object_array_length(procs);
		     j++) {
			struct json_object *p = json_object_array_get_idx(procs, j);
			printf("     pid %-8s %-40s %s MiB\n", num(a, sizeof(a), member(p, "pid"), ""), str(member(p, "name")),
			       num(b, sizeof(b), member(p, "used_memory_mb"), ""));
		}
	}
	for (size_t i = 0; warn && i < json_object_array_length(warn); i++)
		printf("warning: %s\n", json_object_get_string(json_object_array_get_idx(warn, i)));
}

int cmd_gpu(struct cli *c, int argc, char **argv)
{
	static const char *const spec[] = { "json", NULL };
	struct json_object *args, *r;
	struct cli_args a;
	hl_buf out = HL_BUF_INIT;
	int rc;

	if ((rc = cli_parse(&a, argc - 1, argv + 1, spec)) != CLI_OK)
		return rc;
	if (a.npos > 1)
		return cli_usage_error("usage: homelab gpu [TARGET] [--json]");
	args = json_object_new_object();
	if (a.npos == 1)
		json_object_object_add(args, "target", json_object_new_string(a.pos[0]));
	rc = cli_tool_result(c, "whisper_gpu_status", json_object_to_json_string(args), &out);
	json_object_put(args);
	if (rc != CLI_OK)
		return rc;
	if (c->json || cli_flag(&a, "json")) {
		puts(out.ptr);
	} else if ((r = json_tokener_parse(out.ptr))) {
		print_table(r);
		json_object_put(r);
	}
	hl_buf_dispose(&out);
	return CLI_OK;
}
