/*
 * custom_tool.c: add a tool of your own to libhomelab's tool table. Once
 * registered it is listed and called like the built-in ones (and so it is
 * served by every front end built on the table).
 *
 * Built from outside the tree with CMake: see examples/cmake-consumer/.
 */
#include <homelab.h>

#include <stdio.h>
#include <string.h>

/* {"vm": NAME} -> {"vm": NAME, "greeting": "hello, NAME"} */
static int greet(hl_buf *out, hl_ctx *ctx, const char *args_json, const hl_call_options *opts, void *payload)
{
	char name[80], json[200];
	const char *p;
	hl_vm *vm = NULL;
	int err;

	(void)opts;
	(void)payload;
	/* The library has validated args_json against our schema already:
	 * {"vm":"<name>"} with a name of safe characters. */
	p = strstr(args_json, "\"vm\":\"");
	if (!p || sscanf(p + 6, "%79[A-Za-z0-9._-]", name) != 1)
		return hl_error_set(HL_EINVALID, HL_ERROR_INVALID, "vm: is required");
	if ((err = hl_vm_lookup(&vm, ctx, name)) < 0)
		return err; /* the library's message ("vm 'x' not found") stays */
	snprintf(json, sizeof(json), "{\"vm\":\"%s\",\"greeting\":\"hello, %s at %s\"}", vm->name, vm->name,
	         vm->ip ? vm->ip : "no address");
	hl_vm_free(vm);
	return hl_buf_set(out, json, strlen(json));
}

int main(int argc, char **argv)
{
	hl_tool_def def = HL_TOOL_DEF_INIT;
	hl_ctx_options opts = HL_CTX_OPTIONS_INIT;
	const hl_tool *tool = NULL;
	hl_buf out = HL_BUF_INIT;
	hl_ctx *ctx = NULL;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DATABASE\n", argv[0]);
		return 2;
	}
	def.name = "example_greet_vm";
	def.title = "Greet a VM";
	def.description = "Say hello to a VM of the inventory.";
	def.input_schema = "{\"type\":\"object\",\"required\":[\"vm\"],\"additionalProperties\":false,"
	                   "\"properties\":{\"vm\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9._-]{1,64}$\"}}}";
	def.scope = "example:read";
	def.flags = HL_TOOL_READONLY;
	def.handler = greet;
	if ((err = hl_tool_register(&tool, &def)) < 0)
		goto fail;

	opts.db_path = argv[1];
	if ((err = hl_ctx_open(&ctx, &opts)) < 0)
		goto fail;
	err = hl_inventory_load_demo(ctx);
	if (err < 0 && err != HL_EEXISTS)
		goto fail;

	printf("%zu tools, the last one: %s\n", hl_tool_count(), hl_tool_name(hl_tool_lookup("example_greet_vm")));
	if ((err = hl_tool_call(&out, ctx, tool, "{\"vm\":\"whisper\"}", NULL)) < 0)
		goto fail;
	printf("%s\n", out.ptr);
	hl_buf_dispose(&out);
	hl_ctx_free(ctx);
	return 0;
fail:
	fprintf(stderr, "custom_tool: %s\n", hl_error_last()->message);
	hl_ctx_free(ctx);
	return 1;
}
