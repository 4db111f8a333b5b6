/*
 * content.h: results of tools whose handler returns MCP content itself
 * (HL_TOOL_CONTENT): checked and passed through to the client.
 */
#ifndef HOMELAB_MCPD_CONTENT_H
#define HOMELAB_MCPD_CONTENT_H

#include <homelab.h>
#include <stdbool.h>

/*
 * The CallToolResult text for a content tool's result object (malloc'd;
 * NULL: out of memory). A result that is not one ({"content": [blocks]},
 * each block of a known type with its fields, isError a boolean,
 * structuredContent an object) becomes an error result naming the tool and
 * what is wrong, so the client sees the tool's fault.
 */
char *content_tool_result(const hl_tool *t, const char *json, bool *is_error);

/* The outputSchema tools/list shows for t: NULL for a content tool that
 * declared none (the SDK clients would require structuredContent). */
const char *content_output_schema(const hl_tool *t);

#endif
