/*
 * demo.c: the demo inventory (hl_inventory_load_demo): its exact contents,
 * loopback addresses only, and the refusals (not empty, read-only).
 */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

static void test_demo__contents(void **state)
{
	hl_ctx *ctx = tu_open_demo();
	const char *db = hl_ctx_db_path(ctx);
	hl_host_array *hosts = NULL;
	hl_vm_array *vms = NULL;
	hl_service_array *svcs = NULL;
	hl_ip_alloc_array *ips = NULL;

	(void)state;
	assert_int_equal(hl_host_list(&hosts, ctx), 0);
	assert_int_equal(hosts->count, 1);
	assert_string_equal(hosts->items[0]->name, "pve");
	hl_host_array_free(hosts);
	assert_int_equal(hl_vm_list(&vms, ctx, NULL), 0);
	assert_int_equal(vms->count, 3);
	assert_string_equal(vms->items[0]->name, "whisper");
	assert_string_equal(vms->items[0]->ip, "127.0.1.201"); /* DESIGN.md: the Whisper VM */
	assert_string_equal(vms->items[1]->name, "harbor");
	assert_string_equal(vms->items[2]->name, "sandbox");
	hl_vm_array_free(vms);
	assert_int_equal(hl_service_list(&svcs, ctx, NULL), 0);
	assert_int_equal(svcs->count, 3);
	assert_string_equal(svcs->items[0]->name, "homelab-mcp");
	assert_string_equal(svcs->items[1]->name, "ollama");
	assert_string_equal(svcs->items[2]->name, "open-webui");
	hl_service_array_free(svcs);
	assert_int_equal(hl_ip_list(&ips, ctx, NULL), 0);
	assert_int_equal(ips->count, 5);
	hl_ip_alloc_array_free(ips);
	/* Loopback only: every address in every table is in 127.0.0.0/8. */
	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM ("
	                                    "SELECT ip AS a FROM virtual_machines UNION ALL "
	                                    "SELECT ip_address FROM proxmox_hosts UNION ALL "
	                                    "SELECT ip_address FROM network_config) WHERE a NOT LIKE '127.%'"), "0");
	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM services WHERE url NOT LIKE 'http://127.%'"), "0");
	/* The allocations carry their numeric form (ranges scan by it). */
	assert_string_equal(tu_sql_text(db, "SELECT count(*) FROM network_config WHERE ip_num IS NULL"), "0");
	hl_ctx_free(ctx);
}

static void test_demo__only_into_an_empty_inventory(void **state)
{
	hl_ctx *ctx = tu_open_demo();
	hl_ctx *other = tu_open(NULL);
	hl_ip_spec sp = HL_IP_SPEC_INIT;

	(void)state;
	tu_assert_error(hl_inventory_load_demo(ctx), HL_EEXISTS, "the inventory is not empty; the demo is only loaded "
	                                                         "into an empty one");
	assert_string_equal(tu_sql_text(hl_ctx_db_path(ctx), "SELECT count(*) FROM virtual_machines"), "3");
	hl_ctx_free(ctx);
	/* One allocation is enough to make it not empty. */
	sp.ip = "127.0.9.1";
	assert_int_equal(hl_ip_add(NULL, other, &sp), 0);
	tu_assert_error(hl_inventory_load_demo(other), HL_EEXISTS, "not empty");
	assert_string_equal(tu_sql_text(hl_ctx_db_path(other), "SELECT count(*) FROM proxmox_hosts"), "0");
	hl_ctx_free(other);
	tu_assert_error(hl_inventory_load_demo(NULL), HL_EINVALID, "ctx is required");
}

static void test_demo__refused_read_only_and_unmigrated(void **state)
{
	const char *path = tu_path("demo-ro.db");
	hl_ctx_options o = HL_CTX_OPTIONS_INIT;
	hl_ctx *ctx = tu_open(path);

	(void)state;
	hl_ctx_free(ctx);
	o.db_path = path;
	o.flags = HL_CTX_READONLY;
	assert_int_equal(hl_ctx_open(&ctx, &o), 0);
	tu_assert_error(hl_inventory_load_demo(ctx), HL_EREADONLY, "cannot load the demo inventory: the database is open "
	                                                          "read-only");
	hl_ctx_free(ctx);
	/* A legacy database served without migration cannot take the demo. */
	path = tu_path("demo-legacy.db");
	tu_sql(path, "CREATE TABLE virtual_machines (vm_id INTEGER PRIMARY KEY, name TEXT, ip TEXT, status TEXT, "
	             "host_id INTEGER)");
	o.db_path = path;
	o.flags = HL_CTX_NO_MIGRATE;
	assert_int_equal(hl_ctx_open(&ctx, &o), 0);
	tu_assert_error(hl_inventory_load_demo(ctx), HL_EREADONLY, "the schema is not migrated");
	hl_ctx_free(ctx);
	assert_string_equal(tu_sql_text(path, "SELECT count(*) FROM virtual_machines"), "0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demo__contents),
		cmocka_unit_test(test_demo__only_into_an_empty_inventory),
		cmocka_unit_test(test_demo__refused_read_only_and_unmigrated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
