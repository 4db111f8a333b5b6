/*
 * homelab/complete.h: names for completion (MCP completion/complete, the
 * CLI's TAB): VMs, hosts and services from the inventory, models from the
 * target's Ollama.
 */
#ifndef HOMELAB_COMPLETE_H
#define HOMELAB_COMPLETE_H

#include "common.h"
#include "buf.h"
#include "ctx.h"

HL_BEGIN_DECL

/**
 * The names of kind ("vm", "host", "service", or "model": the models of
 * target's Ollama, NULL target: the default one, asked with a short
 * timeout) that begin with prefix (case-insensitively; NULL or "": all),
 * in name order, as {"values": [...], "total": N, "hasMore": bool} with at
 * most limit values (0: 100).
 * @return 0; HL_EINVALID (an unknown kind); for "model", the Ollama
 *         tools' errors (unreachable, timeout)
 */
HL_EXTERN(int) hl_complete(hl_buf *out, hl_ctx *ctx, const char *kind, const char *prefix, const char *target,
                           size_t limit);

HL_END_DECL

#endif
