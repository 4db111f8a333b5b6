/*
 * host.c: Proxmox hosts: list, lookup, add, update, remove (with every
 * validation error and the HL_EINUSE rule), on the demo inventory.
 */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

static int setup(void **state)
{
	*state = tu_open_demo();
	return 0;
}

static int teardown(void **state)
{
	hl_ctx_free(*state);
	return 0;
}

static size_t host_count(hl_ctx *ctx)
{
	hl_host_array *list = NULL;
	size_t n;

	assert_int_equal(hl_host_list(&list, ctx), 0);
	n = list->count;
	hl_host_array_free(list);
	return n;
}

static void test_host__list(void **state)
{
	hl_ctx *ctx = *state;
	hl_host_array *list = (hl_host_array *)ctx;
	hl_host_spec s = HL_HOST_SPEC_INIT;

	s.name = "pve0";
	s.id = 5;
	assert_int_equal(hl_host_add(NULL, ctx, &s), 0);
	assert_int_equal(hl_host_list(&list, ctx), 0);
	assert_int_equal(list->count, 2);
	assert_int_equal(list->items[0]->id, 1);
	assert_string_equal(list->items[0]->name, "pve");
	assert_string_equal(list->items[0]->ip, "127.0.1.10");
	assert_int_equal(list->items[0]->vm_count, 3);
	assert_int_equal(list->items[1]->id, 5);
	assert_null(list->items[1]->ip);
	assert_int_equal(list->items[1]->vm_count, 0);
	hl_host_array_free(list);
	hl_host_array_free(NULL);
	hl_host_free(NULL);
	tu_assert_error(hl_host_list(NULL, ctx), HL_EINVALID, "out and ctx are required");
	tu_assert_error(hl_host_list(&list, NULL), HL_EINVALID, "out and ctx are required");
}

static void test_host__lookup(void **state)
{
	hl_ctx *ctx = *state;
	hl_host *h = NULL;

	assert_int_equal(hl_host_lookup(&h, ctx, "pve"), 0);
	assert_int_equal(h->id, 1);
	assert_int_equal(h->vm_count, 3);
	hl_host_free(h);
	assert_int_equal(hl_host_lookup(&h, ctx, "PvE"), 0);
	assert_string_equal(h->name, "pve");
	hl_host_free(h);
	assert_int_equal(hl_host_lookup(&h, ctx, "1"), 0);
	assert_string_equal(h->ip, "127.0.1.10");
	hl_host_free(h);
	h = (hl_host *)ctx;
	tu_assert_error(hl_host_lookup(&h, ctx, "pve9"), HL_ENOTFOUND, "host 'pve9' not found");
	assert_null(h);
	tu_assert_error(hl_host_lookup(&h, ctx, "2"), HL_ENOTFOUND, "host '2' not found");
	tu_assert_error(hl_host_lookup(&h, ctx, ""), HL_EINVALID, "host: a name or id is required");
	tu_assert_error(hl_host_lookup(NULL, ctx, "pve"), HL_EINVALID, "out and ctx are required");
}

static void test_host__add(void **state)
{
	hl_ctx *ctx = *state;
	hl_host_spec s = HL_HOST_SPEC_INIT;
	hl_host *h = NULL;

	s.name = "pve2";
	s.ip = "127.0.1.11";
	assert_int_equal(hl_host_add(&h, ctx, &s), 0);
	assert_int_equal(h->id, 2);
	assert_string_equal(h->name, "pve2");
	assert_string_equal(h->ip, "127.0.1.11");
	assert_int_equal(h->vm_count, 0);
	hl_host_free(h);
	s.name = "pve10";
	s.id = 10;
	s.ip = "::FFFF:127.0.1.12";
	assert_int_equal(hl_host_add(&h, ctx, &s), 0);
	assert_int_equal(h->id, 10);
	assert_string_equal(h->ip, "::ffff:127.0.1.12");
	hl_host_free(h);
	assert_int_equal(host_count(ctx), 3);
}

static void test_host__add_invalid(void **state)
{
	hl_ctx *ctx = *state;
	hl_host_spec s = HL_HOST_SPEC_INIT;
	hl_host *h = (hl_host *)ctx;

	tu_assert_error(hl_host_add(&h, ctx, &s), HL_EINVALID, "name: a name is required");
	assert_null(h);
	s.name = "pve 2";
	tu_assert_error(hl_host_add(NULL, ctx, &s), HL_EINVALID, "name: 'pve 2' may contain only");
	s.name = "2024";
	tu_assert_error(hl_host_add(NULL, ctx, &s), HL_EINVALID, "name: '2024' is all digits");
	s.name = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; /* 65 */
	tu_assert_error(hl_host_add(NULL, ctx, &s), HL_EINVALID, "longer than 64 characters");
	s.name = "pve2";
	s.ip = "1.2.3";
	tu_assert_error(hl_host_add(NULL, ctx, &s), HL_EINVALID, "ip: '1.2.3' is not an IPv4 or IPv6 address");
	s.ip = "127.0.1.256";
	tu_assert_error(hl_host_add(NULL, ctx, &s), HL_EINVALID, "is not an IPv4 or IPv6 address");
	s.ip = NULL;
	s.id = -1;
	tu_assert_error(hl_host_add(NULL, ctx, &s), HL_EINVALID, "id: -1 is negative");
	s.id = 0;
	s.version = 3;
	tu_assert_error(hl_host_add(NULL, ctx, &s), HL_EINVALID, "hl_host_spec: missing, or version not supported");
	tu_assert_error(hl_host_add(NULL, ctx, NULL), HL_EINVALID, "hl_host_spec");
	tu_assert_error(hl_host_add(NULL, NULL, &s), HL_EINVALID, "ctx is required");
	s.version = HL_HOST_SPEC_VERSION;
	s.name = "PVE";
	tu_assert_error(hl_host_add(NULL, ctx, &s), HL_EEXISTS, "host 'PVE' already exists (id 1)");
	s.name = "pve2";
	s.id = 1;
	tu_assert_error(hl_host_add(NULL, ctx, &s), HL_EEXISTS, "host id 1 is already taken");
	s.id = 0;
	s.ip = "127.0.1.10";
	tu_assert_error(hl_host_add(NULL, ctx, &s), HL_EEXISTS, "ip 127.0.1.10 is already held by host pve");
	s.ip = "127.0.1.202";
	tu_assert_error(hl_host_add(NULL, ctx, &s), HL_EEXISTS, "ip 127.0.1.202 is already held by vm harbor");
	assert_int_equal(host_count(ctx), 1);
}

static void test_host__update(void **state)
{
	hl_ctx *ctx = *state;
	hl_host_spec s = HL_HOST_SPEC_INIT;
	hl_host *h = NULL;

	s.name = "pve-main";
	s.ip = "127.0.1.9";
	assert_int_equal(hl_host_update(&h, ctx, "pve", &s), 0);
	assert_int_equal(h->id, 1);
	assert_string_equal(h->name, "pve-main");
	assert_string_equal(h->ip, "127.0.1.9");
	assert_int_equal(h->vm_count, 3);
	hl_host_free(h);
	s.name = NULL;
	s.ip = "";
	assert_int_equal(hl_host_update(&h, ctx, "1", &s), 0);
	assert_null(h->ip);
	assert_string_equal(h->name, "pve-main");
	hl_host_free(h);
	assert_string_equal(tu_sql_text(hl_ctx_db_path(ctx), "SELECT coalesce(ip_address, 'NULL') FROM proxmox_hosts"),
	                    "NULL");
	/* The VMs follow the rename. */
	{
		hl_vm *vm = NULL;
		assert_int_equal(hl_vm_lookup(&vm, ctx, "whisper"), 0);
		assert_string_equal(vm->host_name, "pve-main");
		hl_vm_free(vm);
	}
}

static void test_host__update_invalid(void **state)
{
	hl_ctx *ctx = *state;
	hl_host_spec s = HL_HOST_SPEC_INIT;
	hl_host *h = (hl_host *)ctx;

	tu_assert_error(hl_host_update(&h, ctx, "nohost", &s), HL_ENOTFOUND, "host 'nohost' not found");
	assert_null(h);
	s.id = 9;
	tu_assert_error(hl_host_update(NULL, ctx, "pve", &s), HL_EINVALID, "id: a host's id cannot be changed");
	s.id = 0;
	s.name = "";
	tu_assert_error(hl_host_update(NULL, ctx, "pve", &s), HL_EINVALID, "name: a name is required");
	s.name = NULL;
	s.ip = "127.0.1.201";
	tu_assert_error(hl_host_update(NULL, ctx, "pve", &s), HL_EEXISTS, "ip 127.0.1.201 is already held by vm whisper");
	s.ip = "x";
	tu_assert_error(hl_host_update(NULL, ctx, "pve", &s), HL_EINVALID, "ip: 'x' is not");
	s.ip = NULL;
	s.version = 0;
	tu_assert_error(hl_host_update(NULL, ctx, "pve", &s), HL_EINVALID, "hl_host_spec");
	s.version = HL_HOST_SPEC_VERSION;
	{
		hl_host_spec b = HL_HOST_SPEC_INIT;
		b.name = "pve-b";
		assert_int_equal(hl_host_add(NULL, ctx, &b), 0);
	}
	s.name = "PVE-B";
	tu_assert_error(hl_host_update(NULL, ctx, "pve", &s), HL_EEXISTS, "host 'PVE-B' already exists (id 2)");
	assert_int_equal(hl_host_lookup(&h, ctx, "1"), 0);
	assert_string_equal(h->name, "pve");
	assert_string_equal(h->ip, "127.0.1.10");
	hl_host_free(h);
}

static void test_host__remove(void **state)
{
	hl_ctx *ctx = *state;
	hl_vm_spec unplace = HL_VM_SPEC_INIT;

	tu_assert_error(hl_host_remove(ctx, "pve"), HL_EINUSE, "host 'pve' still has 3 vms; move or remove them first");
	tu_assert_error(hl_host_remove(ctx, "nohost"), HL_ENOTFOUND, "host 'nohost' not found");
	tu_assert_error(hl_host_remove(ctx, NULL), HL_EINVALID, "a name or id is required");
	tu_assert_error(hl_host_remove(NULL, "pve"), HL_EINVALID, "ctx is required");
	unplace.host = "";
	assert_int_equal(hl_vm_update(NULL, ctx, "whisper", &unplace), 0);
	assert_int_equal(hl_vm_update(NULL, ctx, "harbor", &unplace), 0);
	tu_assert_error(hl_host_remove(ctx, "1"), HL_EINUSE, "host 'pve' still has 1 vm; move or remove it first");
	assert_int_equal(host_count(ctx), 1);
	assert_int_equal(hl_vm_remove(ctx, "sandbox", 0), 0);
	assert_int_equal(hl_host_remove(ctx, "PVE"), 0);
	assert_int_equal(host_count(ctx), 0);
	/* VMs are never removed with a host. */
	assert_string_equal(tu_sql_text(hl_ctx_db_path(ctx), "SELECT count(*) FROM virtual_machines"), "2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_host__list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host__lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host__add, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host__add_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host__update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host__update_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host__remove, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
