/*
 * homelab/gpu.h: NVIDIA GPU status from the text nvidia-smi prints.
 *
 * The library does not run nvidia-smi here: the caller runs the two queries
 * below (on a VM, over SSH) and hands their outputs and exit statuses to
 * hl_gpu_parse(), which turns them into the result JSON of the
 * whisper_gpu_status tool. It is a pure function over text, so it is tested
 * and fuzzed on its own.
 */
#ifndef HOMELAB_GPU_H
#define HOMELAB_GPU_H

#include "common.h"
#include "buf.h"

HL_BEGIN_DECL

/** Arguments of the per-GPU query (run as `nvidia-smi HL_GPU_QUERY_GPUS`). */
#define HL_GPU_QUERY_GPUS \
	"--query-gpu=index,name,uuid,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw,power.limit" \
	" --format=csv,noheader,nounits"
/** Arguments of the per-process query (run as `nvidia-smi HL_GPU_QUERY_APPS`). */
#define HL_GPU_QUERY_APPS \
	"--query-compute-apps=gpu_uuid,pid,process_name,used_memory --format=csv,noheader,nounits"

/** What one run of nvidia-smi left behind. The texts need not be NUL-terminated. */
typedef struct {
	const char *stdout_text; /**< what it printed on stdout (errors too); NULL: nothing */
	size_t stdout_len;
	const char *stderr_text; /**< what it printed on stderr, or NULL */
	size_t stderr_len;
	int exit_status;         /**< its exit status (127: the shell found no nvidia-smi);
	                              negative: it did not exit normally (a signal, not run) */
} hl_gpu_output;

/**
 * Turn the outputs of the two queries into the whisper_gpu_status result:
 *
 *     {"target": "whisper",                      (only when target is not NULL)
 *      "gpus": [{"index", "name", "uuid", "utilization_percent",
 *                "memory_used_mb", "memory_total_mb", "memory_free_mb",
 *                "temperature_celsius", "power_draw_w", "power_limit_w",
 *                "processes": [{"pid", "name", "used_memory_mb"}] or null,
 *                "error": null or "GPU is lost" / "GPU requires reset"}],
 *      "count": 2,
 *      "utilization_percent", "memory_used_mb", "memory_total_mb",
 *      "temperature_celsius": the first GPU's, as the seed tool returned them,
 *      "unattached_processes": [{"gpu_uuid", "pid", "name", "used_memory_mb"}],
 *      "warnings": ["..."]}
 *
 * Every GPU row is reported, in nvidia-smi's order. A cell nvidia-smi could
 * not fill (`[N/A]`, `[Not Supported]`, `[GPU is lost]` or any other
 * bracketed text, a bare `N/A`, an empty cell) is null for that field only.
 * A number that is not one (or negative, or past 2^53) is null as well, with
 * a warning. memory_free_mb is total - used when both are known. Names are
 * the text between the fixed columns, so a process name with commas is kept
 * whole; bytes that are not UTF-8 become U+FFFD. Processes are attached to
 * their GPU by uuid; a process whose uuid matches no GPU is listed in
 * unattached_processes. "processes" is null when apps is NULL or its query
 * failed (a warning says why).
 *
 * When nvidia-smi exits non-zero but still printed GPU rows (a lost GPU:
 * exit 15), the rows are reported and warnings carry the exit status and the
 * lines that were not rows. Otherwise a non-zero exit is an error.
 *
 * @param[out] out  the result JSON (replaces its contents); dispose with hl_buf_dispose()
 * @param target    VM name to report as "target", or NULL to leave the key out
 * @param gpus      output of `nvidia-smi HL_GPU_QUERY_GPUS`
 * @param apps      output of `nvidia-smi HL_GPU_QUERY_APPS`, or NULL (not run)
 * @return 0, or:
 *   - HL_ENOTFOUND: nvidia-smi is not installed (exit 127), the NVML library
 *     is missing (exit 12), "No devices were found", "No supported GPUs",
 *     or exit 0 without a GPU row
 *   - HL_EUNREACHABLE: the NVIDIA driver is not loaded (exit 9)
 *   - HL_EAUTH: no permission (exit 4), nvidia-smi not executable (exit 126)
 *   - HL_EINVALID: exit 0 but a line is not a GPU row (wrong field count)
 *   - HL_ERROR: any other exit status; the message quotes the first line
 *   - HL_ENOMEM
 *   The message (hl_error_last()) says which, with the exit status.
 */
HL_EXTERN(int) hl_gpu_parse(hl_buf *out, const char *target, const hl_gpu_output *gpus,
                            const hl_gpu_output *apps);

HL_END_DECL

#endif
