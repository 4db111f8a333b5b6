/*
 * homelab/prompt.h: prompts a homelab owner picks from a menu (MCP prompts),
 * declared once in the library: each expands, with its arguments, into
 * messages that name the tools to use.
 */
#ifndef HOMELAB_PROMPT_H
#define HOMELAB_PROMPT_H

#include "common.h"
#include "buf.h"

HL_BEGIN_DECL

typedef struct hl_prompt hl_prompt;

/** Walk the table: NULL gives the first prompt, a prompt the next, NULL ends. */
HL_EXTERN(const hl_prompt *) hl_prompt_next(const hl_prompt *prev);
/** The prompt of that name, or NULL. */
HL_EXTERN(const hl_prompt *) hl_prompt_lookup(const char *name);

HL_EXTERN(const char *) hl_prompt_name(const hl_prompt *p);
HL_EXTERN(const char *) hl_prompt_title(const hl_prompt *p);
HL_EXTERN(const char *) hl_prompt_description(const hl_prompt *p);
/**
 * Its arguments as a JSON array of {"name", "description", "required"},
 * as MCP's prompts/list shows them.
 */
HL_EXTERN(const char *) hl_prompt_arguments(const hl_prompt *p);
/** What argument `arg` names, for completion ("vm", "model", ...; see
 *  hl_complete()), or NULL when it is free text or not an argument. */
HL_EXTERN(const char *) hl_prompt_argument_kind(const hl_prompt *p, const char *arg);

/**
 * Expand the prompt with args (a JSON object of strings; NULL: none) into
 * {"description": ..., "messages": [{"role": "user", "content":
 * {"type": "text", "text": ...}}]}.
 * @return 0; HL_EINVALID (a required argument is missing, an argument is
 *         unknown or not a string: the message names it)
 */
HL_EXTERN(int) hl_prompt_get(hl_buf *out, const hl_prompt *p, const char *args_json);

HL_END_DECL

#endif
