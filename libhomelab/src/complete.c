/*
 * complete.c: names for completion (see homelab/complete.h), read through
 * the tools that list them, so a name offered is one a tool accepts.
 */
#include "hl.h"
#include "json.h"
#include "jw.h"

#include <homelab/complete.h>
#include <homelab/tool.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *kind, *tool, *list, *field;
} sources[] = {
	{ "vm", "homelab_list_vms", "vms", "name" },
	{ "host", "homelab_list_hosts", "hosts", "node_name" },
	{ "service", "homelab_list_services", "services", "service_name" },
	{ "model", "ollama_list_models", "models", "name" },
};

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int hl_complete(hl_buf *out, hl_ctx *ctx, const char *kind, const char *prefix, const char *target, size_t limit)
{
	hl_call_options opts = HL_CALL_OPTIONS_INIT;
	hl_buf result = HL_BUF_INIT, args = HL_BUF_INIT;
	struct json_object *root = NULL, *list;
	const char **names = NULL;
	size_t n = 0, plen = prefix ? strlen(prefix) : 0, i;
	hl_jw w;
	int err;

	if (!out || !ctx || !kind)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_complete: out, ctx and kind are required");
	for (i = 0; i < sizeof(sources) / sizeof(sources[0]) && strcmp(sources[i].kind, kind); i++)
		;
	if (i == sizeof(sources) / sizeof(sources[0]))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "complete: unknown kind '%.40s' (vm, host, service, model)",
		               kind);
	if (!limit)
		limit = 100;
	if (!strcmp(kind, "model")) {
		/* a completion must not keep anyone waiting */
		opts.timeout_ms = 300;
		if (target) {
			hl_jw__init(&w, &args);
			hl_jw__obj(&w);
			hl_jw__kstr(&w, "target", target);
			hl_jw__end_obj(&w);
			if ((err = hl_jw__finish(&w)) < 0)
				return err;
		}
	}
	err = hl_tool_call(&result, ctx, hl_tool_lookup(sources[i].tool), args.ptr, &opts);
	hl_buf_dispose(&args);
	if (err < 0)
		return err;
	root = json_tokener_parse(result.ptr);
	if (root && json_object_object_get_ex(root, sources[i].list, &list) && json_object_is_type(list, json_type_array)) {
		size_t len = json_object_array_length(list);
		names = calloc(len ? len : 1, sizeof(*names));
		if (!names)
			err = hl__oom();
		for (size_t k = 0; names && k < len; k++) {
			const char *name = hl_json__get_str(json_object_array_get_idx(list, k), sources[i].field);
			if (name && (!plen || !strncasecmp(name, prefix, plen)))
				names[n++] = name;
		}
	}
	if (err == 0 && n > 1)
		qsort(names, n, sizeof(*names), by_name);
	if (err == 0) {
		hl_buf_dispose(out);
		hl_jw__init(&w, out);
		hl_jw__obj(&w);
		hl_jw__key(&w, "values");
		hl_jw__arr(&w);
		for (size_t k = 0; k < n && k < limit; k++)
			hl_jw__str(&w, names[k]);
		hl_jw__end_arr(&w);
		hl_jw__kint(&w, "total", (int64_t)n);
		hl_jw__kbool(&w, "hasMore", n > limit);
		hl_jw__end_obj(&w);
		err = hl_jw__finish(&w);
	}
	free(names);
	json_object_put(root);
	hl_buf_dispose(&result);
	return err;
}
