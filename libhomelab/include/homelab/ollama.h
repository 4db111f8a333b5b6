/*
 * homelab/ollama.h: the Ollama server of an inventory VM.
 *
 * The Ollama tools (ollama_list_models, ollama_pull_model, ... in the tool
 * table) talk to the Ollama REST API of a target VM. This header exposes how
 * a target's endpoint is found, so that programs can show or check it.
 */
#ifndef HOMELAB_OLLAMA_H
#define HOMELAB_OLLAMA_H

#include "common.h"
#include "buf.h"
#include "ctx.h"

HL_BEGIN_DECL

/**
 * The Ollama endpoint of a target VM: the VM's service named "ollama" or
 * beginning with "ollama" (case-insensitive), else its service on port
 * 11434, else http://VM_IP:11434. A service with a URL gives that URL; one
 * with only a port gives http(s)://VM_IP:PORT.
 *
 * @param[out] endpoint  the base URL, without a trailing '/'
 * @param[out] target    the VM's name (may be NULL)
 * @param target_ref     a VM name or vm_id; NULL: $HOMELAB_DEFAULT_TARGET, else "whisper"
 * @return 0, HL_ENOTFOUND (no such VM), HL_EINVALID (nothing to reach it by)
 */
HL_EXTERN(int) hl_ollama_endpoint(hl_buf *endpoint, hl_buf *target, hl_ctx *ctx, const char *target_ref);

HL_END_DECL

#endif
