/*
 * homelab/modelfile.h: Ollama Modelfiles.
 *
 * Turns the text of a Modelfile into the JSON request that Ollama 0.5.5 and
 * later expect on POST /api/create, as Ollama's own client builds it:
 *
 *   FROM llama3.2                        "from": "llama3.2"
 *   PARAMETER temperature 0.5            "parameters": {"temperature": 0.5, "top_k": 1,
 *   PARAMETER top_k 1                                   "stop": ["</s>", "<|eot|>"]}
 *   PARAMETER stop </s>
 *   PARAMETER stop <|eot|>
 *   TEMPLATE """{{ .Prompt }}"""         "template": "{{ .Prompt }}"
 *   SYSTEM You are a bot.                "system": "You are a bot."          (the last one wins)
 *   LICENSE MIT                          "license": ["MIT", ...]             (every LICENSE line)
 *   MESSAGE user Hello                   "messages": [{"role": "user", "content": "Hello"}]
 *   REQUIRES 0.14.0                      "requires": "0.14.0"
 *   RENDERER r / PARSER p                "renderer": "r" / "parser": "p"
 *
 * Instruction names are case-insensitive; a line whose first non-blank
 * character is '#' is a comment; a value runs to the end of its line and may
 * be written "..." or """...""" (both may span lines; the quotes are
 * removed). PARAMETER values are typed as Ollama types them: integers,
 * floats, booleans, and "stop", which is always a list. Parameters Ollama
 * has deprecated (mirostat, use_mlock, ...) are dropped, as its client
 * drops them. FROM is required.
 *
 * A Modelfile is sent to a remote Ollama, so nothing on this machine's disk
 * is read: a FROM that names a file or directory (an absolute or ./ or ~ path, a .gguf file),
 * an ADAPTER or a DRAFT is refused with "not supported: upload the file to
 * the VM first".
 */
#ifndef HOMELAB_MODELFILE_H
#define HOMELAB_MODELFILE_H

#include "common.h"
#include "buf.h"

HL_BEGIN_DECL

typedef struct {
	unsigned int version;
	const char *model;  /**< the "model" (new model's name) of the request; NULL: left out */
	hl_buf *warnings;   /**< NULL, or receives one line per dropped parameter ("" when none) */
} hl_modelfile_options;

#define HL_MODELFILE_OPTIONS_VERSION 1
#define HL_MODELFILE_OPTIONS_INIT { .version = HL_MODELFILE_OPTIONS_VERSION }

/**
 * Parse a Modelfile into an /api/create request (JSON text, one object).
 *
 * @param[out] out  the request; release with hl_buf_dispose(). Untouched on error.
 * @param text      the Modelfile (need not be NUL-terminated; a UTF-8 BOM is skipped)
 * @param len       its length in bytes
 * @param opts      NULL for defaults
 * @return 0, or HL_EINVALID with a message naming the line
 *         ("line 3: unknown parameter 'foo'", "no FROM line", ...)
 */
HL_EXTERN(int) hl_modelfile_to_request(hl_buf *out, const char *text, size_t len,
                                       const hl_modelfile_options *opts);

HL_END_DECL

#endif
