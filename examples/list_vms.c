/*
 * list_vms.c: list the VMs of an inventory with the C API, then ask the
 * tool table who holds an address.
 *
 *   cc list_vms.c $(pkg-config --cflags --libs homelab) -o list_vms
 *   ./list_vms /tmp/demo.db          (created with the demo inventory if new)
 */
#include <homelab.h>

#include <stdio.h>

int main(int argc, char **argv)
{
	hl_ctx_options opts = HL_CTX_OPTIONS_INIT;
	hl_vm_array *vms = NULL;
	hl_buf result = HL_BUF_INIT;
	hl_ctx *ctx = NULL;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DATABASE\n", argv[0]);
		return 2;
	}
	opts.db_path = argv[1];
	if ((err = hl_ctx_open(&ctx, &opts)) < 0)
		goto fail;
	/* A new database gets the demo inventory; a filled one is left alone. */
	err = hl_inventory_load_demo(ctx);
	if (err < 0 && err != HL_EEXISTS)
		goto fail;

	if ((err = hl_vm_list(&vms, ctx, NULL)) < 0)
		goto fail;
	for (size_t i = 0; i < vms->count; i++)
		printf("%lld %s %s %s\n", (long long)vms->items[i]->vm_id, vms->items[i]->name,
		       vms->items[i]->ip ? vms->items[i]->ip : "-", vms->items[i]->status ? vms->items[i]->status : "-");

	err = hl_tool_call(&result, ctx, hl_tool_lookup("homelab_lookup_ip"), "{\"ip\":\"127.0.1.201\"}", NULL);
	if (err < 0)
		goto fail;
	printf("%s\n", result.ptr);

	hl_buf_dispose(&result);
	hl_vm_array_free(vms);
	hl_ctx_free(ctx);
	return 0;
fail:
	fprintf(stderr, "list_vms: %s\n", hl_error_last()->message);
	hl_vm_array_free(vms);
	hl_ctx_free(ctx);
	return 1;
}
