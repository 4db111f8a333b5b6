/*
 * tools_ssh.c: the remote tools over SSH. The SSH layer (ssh.c, sftp.c)
 * does the work and the audit; these handlers read the validated
 * arguments and write each tool's JSON result.
 */
#include "registry.h"
#include "ssh.h"

#include <sodium.h>
#include <stdio.h>

/* The target argument as text (a vm_id may come as a number); NULL when absent. */
static const char *target_arg(struct json_object *args, char *buf, size_t size)
{
	struct json_object *t;

	if (!json_object_object_get_ex(args, "target", &t))
		return NULL;
	if (json_object_is_type(t, json_type_int)) {
		snprintf(buf, size, "%lld", (long long)json_object_get_int64(t));
		return buf;
	}
	return json_object_get_string(t);
}

/* A string argument without NUL characters (JSON may carry \u0000). */
static int plain_string(const char **out, struct json_object *args, const char *key)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(args, key, &v) || !json_object_is_type(v, json_type_string))
		return 0;
	if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: must not contain NUL characters", key);
	*out = json_object_get_string(v);
	return 0;
}

/* Is this byte string valid UTF-8? */
static bool valid_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t k;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (!(k = hl__utf8_len(p + i, n - i)))
			return false;
		i += k;
	}
	return true;
}

/* hl_call_options.should_stop, polled through the output callback: on each
 * chunk of output, and at least every half second while the command is
 * silent, so a cancelled `sleep 600` ends (TERM, then KILL, its process
 * group) within a second or two. */
static int stop_output(int stream, const char *data, size_t len, void *payload)
{
	(void)stream;
	(void)data;
	(void)len;
	return hl_tool_should_stop(payload);
}

int hl_tool__whisper_ssh_command(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	hl_ssh_exec_options eo = HL_SSH_EXEC_OPTIONS_INIT;
	hl_ssh_result *r = NULL;
	struct json_object *t;
	const char *command;
	char tbuf[32];
	hl_jw w;
	int err;

	if ((err = plain_string(&command, args, "command")) < 0)
		return err;
	if (json_object_object_get_ex(args, "timeout_s", &t))
		eo.timeout_ms = (int)(json_object_get_double(t) * 1000.0 + 0.5);
	else if (opts->timeout_ms > 0)
		eo.timeout_ms = opts->timeout_ms;
	eo.progress = opts->progress;
	eo.payload = opts->payload;
	eo.principal = opts->principal;
	eo.client_addr = opts->client_addr;
	if (opts->version >= 3 && opts->should_stop) {
		eo.output = stop_output;
		eo.output_payload = (void *)opts;
	}
	hl_tool__log(opts, HL_LOG_INFO, "ssh", "running on %.64s: %.300s", target_arg(args, tbuf, sizeof(tbuf)),
	             command);
	if ((err = hl_ssh_exec(&r, ctx, target_arg(args, tbuf, sizeof(tbuf)), command, &eo)) < 0) {
		hl_tool__log(opts, HL_LOG_ERROR, "ssh", "not run: %s", hl_error_last()->message);
		return err;
	}
	if (r->timed_out)
		hl_tool__log(opts, HL_LOG_WARNING, "ssh", "%.64s: timed out after %.0f ms, ended", r->target, r->duration_ms);
	else if (r->exit_status >= 0)
		hl_tool__log(opts, r->exit_status ? HL_LOG_WARNING : HL_LOG_INFO, "ssh", "%.64s: exit status %d in %.0f ms",
		             r->target, r->exit_status, r->duration_ms);
	else
		hl_tool__log(opts, HL_LOG_WARNING, "ssh", "%.64s: ended by signal %s", r->target,
		             r->signal ? r->signal : "(unknown)");
	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	hl_jw__kstr(&w, "target", r->target);
	hl_jw__kstr(&w, "command", command);
	hl_jw__key(&w, "exit_status");
	if (r->exit_status >= 0)
		hl_jw__int(&w, r->exit_status);
	else
		hl_jw__null(&w);
	hl_jw__kstr(&w, "signal", r->signal);
	hl_jw__key(&w, "stdout");
	hl_jw__strn(&w, r->out ? r->out : "", r->out_len);
	hl_jw__key(&w, "stderr");
	hl_jw__strn(&w, r->err ? r->err : "", r->err_len);
	hl_jw__kbool(&w, "timed_out", r->timed_out);
	hl_jw__kbool(&w, "truncated", r->out_truncated || r->err_truncated);
	hl_jw__kbool(&w, "stdout_truncated", r->out_truncated);
	hl_jw__kbool(&w, "stderr_truncated", r->err_truncated);
	hl_jw__kbool(&w, "invalid_utf8", !valid_utf8(r->out, r->out_len) || !valid_utf8(r->err, r->err_len));
	hl_jw__kdouble(&w, "duration_ms", (double)(int64_t)(r->duration_ms * 10) / 10.0);
	hl_jw__end_obj(&w);
	hl_ssh_result_free(r);
	return hl_jw__finish(&w);
}

/* One nvidia-smi query over SSH, as hl_gpu_parse() wants it. */
static int gpu_query(hl_ssh_result **r, hl_gpu_output *o, hl_ctx *ctx, const struct hl_ssh__target *t,
                     const char *args, const hl_call_options *opts)
{
	hl_ssh_exec_options eo = HL_SSH_EXEC_OPTIONS_INIT;
	char command[300];
	int err;

	snprintf(command, sizeof(command), "nvidia-smi %s", args);
	eo.timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
	eo.principal = opts->principal;
	eo.client_addr = opts->client_addr;
	if (opts->version >= 3 && opts->should_stop) {
		eo.output = stop_output;
		eo.output_payload = (void *)opts;
	}
	if ((err = hl_ssh__run(r, ctx, t, command, &eo)) < 0)
		return err;
	if ((*r)->timed_out)
		return hl__err(HL_ETIMEOUT, HL_ERROR_SSH, "%s: nvidia-smi did not answer within %d s", t->name,
		               eo.timeout_ms / 1000);
	o->stdout_text = (*r)->out;
	o->stdout_len = (*r)->out_len;
	o->stderr_text = (*r)->err;
	o->stderr_len = (*r)->err_len;
	o->exit_status = (*r)->exit_status;
	return 0;
}

int hl_tool__whisper_gpu_status(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	struct hl_ssh__target t;
	hl_ssh_result *rg = NULL, *ra = NULL;
	hl_gpu_output gpus = { 0 }, apps = { 0 };
	char tbuf[32];
	int err;

	if ((err = hl_ssh__resolve(&t, ctx, target_arg(args, tbuf, sizeof(tbuf)))) < 0)
		return err;
	if ((err = gpu_query(&rg, &gpus, ctx, &t, HL_GPU_QUERY_GPUS, opts)) < 0)
		goto out;
	/* the process list too, unless nvidia-smi cannot run at all (no driver, no NVML, not there) */
	if (gpus.exit_status != 9 && gpus.exit_status != 12 && gpus.exit_status != 126 && gpus.exit_status != 127 &&
	    (err = gpu_query(&ra, &apps, ctx, &t, HL_GPU_QUERY_APPS, opts)) < 0)
		goto out;
	err = hl_gpu_parse(out, t.name, &gpus, ra ? &apps : NULL);
	if (err < 0) {
		char why[700];
		snprintf(why, sizeof(why), "%s", hl_error_last()->message);
		err = hl__err(err, HL_ERROR_SSH, "%s: %s", t.name, why);
	}
out:
	hl_ssh_result_free(rg);
	hl_ssh_result_free(ra);
	hl_ssh__target_dispose(&t);
	return err;
}

int hl_tool__whisper_list_files(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	const char *dir;
	char tbuf[32];
	int err;

	if ((err = plain_string(&dir, args, "directory")) < 0)
		return err;
	return hl_sftp__list(out, ctx, target_arg(args, tbuf, sizeof(tbuf)), dir, opts);
}

int hl_tool__whisper_read_file(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	const char *path;
	int64_t max = 0;
	char tbuf[32];
	int err;

	if ((err = plain_string(&path, args, "file_path")) < 0)
		return err;
	hl_json__get_int(args, "max_bytes", &max);
	return hl_sftp__read(out, ctx, target_arg(args, tbuf, sizeof(tbuf)), path, (size_t)max, opts);
}

int hl_tool__whisper_write_file(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	struct json_object *v, *cp;
	const char *path, *enc = hl_json__get_str(args, "encoding");
	unsigned char *bin = NULL;
	size_t len = 0;
	char tbuf[32];
	int err;

	if ((err = plain_string(&path, args, "file_path")) < 0)
		return err;
	json_object_object_get_ex(args, "content", &v);
	if (enc && !strcmp(enc, "base64")) {
		const char *text = json_object_get_string(v);
		size_t tlen = (size_t)json_object_get_string_len(v);
		const char *end = NULL;
		if (!(bin = hl__malloc(tlen / 4 * 3 + 3)))
			return HL_ENOMEM;
		/* whitespace (line breaks) is allowed between groups */
		if (sodium_base642bin(bin, tlen / 4 * 3 + 3, text, tlen, " \t\r\n", &len, &end,
		                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    (end && *end)) {
			free(bin);
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "content: not valid base64");
		}
		err = hl_sftp__write(out, ctx, target_arg(args, tbuf, sizeof(tbuf)), path, bin, len,
		                     json_object_object_get_ex(args, "create_parents", &cp) && json_object_get_boolean(cp),
		                     opts);
		free(bin);
		return err;
	}
	return hl_sftp__write(out, ctx, target_arg(args, tbuf, sizeof(tbuf)), path,
	                      (const unsigned char *)json_object_get_string(v), (size_t)json_object_get_string_len(v),
	                      json_object_object_get_ex(args, "create_parents", &cp) && json_object_get_boolean(cp), opts);
}
