/*
 * homelab/prompt.h: prompts a homelab owner picks from a menu (MCP prompts),
 * declared once in the library: each expands, with its arguments, into
 * messages that name the tools to use.
 *
 * A program linking libhomelab adds prompts of its own with
 * hl_prompt_register(): a text with {argument} placeholders, or a handler
 * that returns messages of any MCP content (text, image, audio, embedded
 * resource). They follow the built-in ones in hl_prompt_next().
 */
#ifndef HOMELAB_PROMPT_H
#define HOMELAB_PROMPT_H

#include "common.h"
#include "buf.h"
#include "ctx.h"

#include <stdbool.h>

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

/**
 * Completion of a prompt's argument: the names of its kind (hl_complete()),
 * or its fixed values that begin with prefix (case-insensitively), as
 * {"values": [...], "total": N, "hasMore": bool} with at most limit values
 * (0: 100); free text offers nothing.
 * @return 0; HL_EINVALID (not an argument of p); hl_complete()'s errors
 */
HL_EXTERN(int) hl_prompt_complete(hl_buf *out, hl_ctx *ctx, const hl_prompt *p, const char *arg, const char *prefix,
                                  const char *target, size_t limit);

/** An argument of a registered prompt. */
typedef struct {
	const char *name;          /**< ^[a-zA-Z0-9_-]{1,64}$, unique in the prompt */
	const char *description;   /**< NULL: none */
	bool required;
	const char *kind;          /**< completion from the inventory ("vm", "host", "service", "model"); NULL: none */
	const char *const *values; /**< or completion from these values (NULL-terminated, at most 64); NULL: none */
} hl_prompt_arg;

/**
 * Handler of a registered prompt. args_json: the arguments, checked against
 * the declared ones (a JSON object of strings). Write into out (hl_buf_set())
 * MCP's prompts/get result: {"description"?: ..., "messages": [{"role":
 * "user"|"assistant", "content": {"type": "text"|"image"|"audio"|
 * "resource"|"resource_link", ...}}, ...]}. Return 0, or a negative
 * hl_error_code after hl_error_set().
 */
typedef int (*hl_prompt_handler)(hl_buf *out, const char *args_json, void *payload);

/** A prompt to add to the table. Every string is copied. */
typedef struct {
	unsigned int version;
	const char *name;          /**< ^[a-zA-Z0-9_-]{1,64}$, unique */
	const char *title;         /**< NULL: the name */
	const char *description;   /**< required */
	const hl_prompt_arg *args; /**< nargs of them (at most 8) */
	size_t nargs;
	/* exactly one of: */
	const char *text;          /**< one user message: the text with each {argument} replaced ("" when not given) */
	hl_prompt_handler handler; /**< messages of any content */
	void *payload;             /**< passed to handler */
} hl_prompt_def;

#define HL_PROMPT_DEF_VERSION 1
#define HL_PROMPT_DEF_INIT { .version = HL_PROMPT_DEF_VERSION }

/**
 * Add a prompt to the process-wide table. Thread-safe; registered prompts
 * cannot be removed.
 * @param[out] out  the new prompt (may be NULL)
 * @return 0; HL_EEXISTS (name taken); HL_EINVALID (bad name or argument,
 *         missing description, not exactly one of text and handler, wrong
 *         version)
 */
HL_EXTERN(int) hl_prompt_register(const hl_prompt **out, const hl_prompt_def *def);

HL_END_DECL

#endif
