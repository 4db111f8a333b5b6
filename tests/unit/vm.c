/*
 * vm.c: virtual machines: list and filters, lookup, add, update, remove
 * (with every validation error), on the demo inventory.
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

static size_t vm_count(hl_ctx *ctx)
{
	hl_vm_array *list = NULL;
	size_t n;

	assert_int_equal(hl_vm_list(&list, ctx, NULL), 0);
	n = list->count;
	hl_vm_array_free(list);
	return n;
}

static void test_vm__list_all(void **state)
{
	hl_ctx *ctx = *state;
	hl_vm_array *list = NULL;

	assert_int_equal(hl_vm_list(&list, ctx, NULL), 0);
	assert_int_equal(list->count, 3);
	assert_int_equal(list->items[0]->vm_id, 101);
	assert_string_equal(list->items[0]->name, "whisper");
	assert_string_equal(list->items[0]->ip, "127.0.1.201");
	assert_string_equal(list->items[0]->status, "running");
	assert_int_equal(list->items[0]->host_id, 1);
	assert_string_equal(list->items[0]->host_name, "pve");
	assert_string_equal(list->items[0]->ssh_user, "ccpm");
	assert_int_equal(list->items[0]->ssh_port, 22);
	assert_int_equal(list->items[1]->vm_id, 102);
	assert_int_equal(list->items[2]->vm_id, 103);
	assert_string_equal(list->items[2]->status, "stopped");
	assert_null(list->items[2]->ssh_user);
	assert_int_equal(list->items[2]->ssh_port, 0);
	hl_vm_array_free(list);
	hl_vm_array_free(NULL);
	hl_vm_free(NULL);
}

static size_t count_filtered(hl_ctx *ctx, const char *status, const char *host)
{
	hl_vm_filter f = HL_VM_FILTER_INIT;
	hl_vm_array *list = NULL;
	size_t n;

	f.status = status;
	f.host = host;
	assert_int_equal(hl_vm_list(&list, ctx, &f), 0);
	n = list->count;
	hl_vm_array_free(list);
	return n;
}

static void test_vm__list_filters(void **state)
{
	hl_ctx *ctx = *state;
	hl_vm_filter f = HL_VM_FILTER_INIT;
	hl_vm_array *list = (hl_vm_array *)&f;
	hl_host_spec hs = HL_HOST_SPEC_INIT;
	hl_vm_spec vs = HL_VM_SPEC_INIT;

	assert_int_equal(count_filtered(ctx, "running", NULL), 2);
	assert_int_equal(count_filtered(ctx, "stopped", NULL), 1);
	assert_int_equal(count_filtered(ctx, "paused", NULL), 0);
	assert_int_equal(count_filtered(ctx, "", NULL), 3);
	assert_int_equal(count_filtered(ctx, NULL, "pve"), 3);
	assert_int_equal(count_filtered(ctx, NULL, "PVE"), 3);
	assert_int_equal(count_filtered(ctx, NULL, "1"), 3);
	assert_int_equal(count_filtered(ctx, "stopped", "pve"), 1);
	/* A second host with one VM. */
	hs.name = "pve2";
	hs.id = 7;
	assert_int_equal(hl_host_add(NULL, ctx, &hs), 0);
	vs.name = "edge";
	vs.host = "pve2";
	assert_int_equal(hl_vm_add(NULL, ctx, &vs), 0);
	assert_int_equal(count_filtered(ctx, NULL, "7"), 1);
	assert_int_equal(count_filtered(ctx, NULL, "pve2"), 1);
	assert_int_equal(count_filtered(ctx, "running", "pve2"), 0);

	f.host = "nohost";
	tu_assert_error(hl_vm_list(&list, ctx, &f), HL_ENOTFOUND, "host 'nohost' not found");
	assert_null(list);
	f.host = "99";
	tu_assert_error(hl_vm_list(&list, ctx, &f), HL_ENOTFOUND, "host '99' not found");
	f.version = 7;
	tu_assert_error(hl_vm_list(&list, ctx, &f), HL_EINVALID, "hl_vm_filter version 7 is not supported");
	tu_assert_error(hl_vm_list(NULL, ctx, NULL), HL_EINVALID, "out and ctx are required");
	tu_assert_error(hl_vm_list(&list, NULL, NULL), HL_EINVALID, "out and ctx are required");
}

static void test_vm__lookup(void **state)
{
	hl_ctx *ctx = *state;
	hl_vm *vm = NULL;

	assert_int_equal(hl_vm_lookup(&vm, ctx, "harbor"), 0);
	assert_int_equal(vm->vm_id, 102);
	hl_vm_free(vm);
	assert_int_equal(hl_vm_lookup(&vm, ctx, "WhIsPeR"), 0);
	assert_int_equal(vm->vm_id, 101);
	assert_string_equal(vm->name, "whisper");
	hl_vm_free(vm);
	assert_int_equal(hl_vm_lookup(&vm, ctx, "103"), 0);
	assert_string_equal(vm->name, "sandbox");
	hl_vm_free(vm);
	vm = (hl_vm *)ctx;
	tu_assert_error(hl_vm_lookup(&vm, ctx, "nope"), HL_ENOTFOUND, "vm 'nope' not found");
	assert_null(vm);
	tu_assert_error(hl_vm_lookup(&vm, ctx, "999"), HL_ENOTFOUND, "vm '999' not found");
	tu_assert_error(hl_vm_lookup(&vm, ctx, ""), HL_EINVALID, "vm: a name or id is required");
	tu_assert_error(hl_vm_lookup(&vm, ctx, NULL), HL_EINVALID, "a name or id is required");
	tu_assert_error(hl_vm_lookup(NULL, ctx, "whisper"), HL_EINVALID, "out and ctx are required");
}

static void test_vm__add(void **state)
{
	hl_ctx *ctx = *state;
	hl_vm_spec s = HL_VM_SPEC_INIT;
	hl_vm *vm = NULL;

	s.name = "minimal";
	assert_int_equal(hl_vm_add(&vm, ctx, &s), 0);
	assert_int_equal(vm->vm_id, 104); /* next after the highest */
	assert_string_equal(vm->name, "minimal");
	assert_string_equal(vm->status, "unknown");
	assert_null(vm->ip);
	assert_int_equal(vm->host_id, 0);
	assert_null(vm->host_name);
	assert_null(vm->ssh_user);
	hl_vm_free(vm);

	s.vm_id = 250;
	s.name = "full.vm_name-1";
	s.ip = "127.0.1.250";
	s.status = "paused";
	s.host = "pve";
	s.ssh_user = "admin";
	s.ssh_port = 2222;
	assert_int_equal(hl_vm_add(&vm, ctx, &s), 0);
	assert_int_equal(vm->vm_id, 250);
	assert_string_equal(vm->ip, "127.0.1.250");
	assert_string_equal(vm->status, "paused");
	assert_int_equal(vm->host_id, 1);
	assert_string_equal(vm->host_name, "pve");
	assert_string_equal(vm->ssh_user, "admin");
	assert_int_equal(vm->ssh_port, 2222);
	hl_vm_free(vm);

	/* IPv6 is stored in canonical form; out may be NULL. */
	memset(&s, 0, sizeof(s));
	s.version = HL_VM_SPEC_VERSION;
	s.name = "six";
	s.ip = "FE80:0:0::0:1";
	assert_int_equal(hl_vm_add(NULL, ctx, &s), 0);
	assert_int_equal(hl_vm_lookup(&vm, ctx, "six"), 0);
	assert_string_equal(vm->ip, "fe80::1");
	assert_int_equal(vm->vm_id, 251);
	hl_vm_free(vm);
	assert_int_equal(vm_count(ctx), 6);
}

static void test_vm__add_first_id_is_100(void **state)
{
	hl_ctx *ctx = tu_open(NULL);
	hl_vm_spec s = HL_VM_SPEC_INIT;
	hl_vm *vm = NULL;

	(void)state;
	s.name = "first";
	assert_int_equal(hl_vm_add(&vm, ctx, &s), 0);
	assert_int_equal(vm->vm_id, 100);
	hl_vm_free(vm);
	hl_ctx_free(ctx);
}

static void expect_add_error(hl_ctx *ctx, const hl_vm_spec *s, int code, const char *needle)
{
	hl_vm *vm = (hl_vm *)ctx;

	tu_assert_error(hl_vm_add(&vm, ctx, s), code, needle);
	assert_null(vm);
}

static void test_vm__add_invalid(void **state)
{
	hl_ctx *ctx = *state;
	hl_vm_spec s = HL_VM_SPEC_INIT;
	char longname[70];

	expect_add_error(ctx, &s, HL_EINVALID, "name: a name is required");
	s.name = "";
	expect_add_error(ctx, &s, HL_EINVALID, "name: a name is required");
	s.name = "bad name";
	expect_add_error(ctx, &s, HL_EINVALID, "name: 'bad name' may contain only letters, digits, '.', '_' and '-'");
	s.name = "semi;colon";
	expect_add_error(ctx, &s, HL_EINVALID, "may contain only");
	s.name = "12345";
	expect_add_error(ctx, &s, HL_EINVALID, "name: '12345' is all digits, which reads as an id");
	memset(longname, 'a', 65);
	longname[65] = '\0';
	s.name = longname;
	expect_add_error(ctx, &s, HL_EINVALID, "is longer than 64 characters");
	longname[64] = '\0'; /* exactly 64 is fine */
	s.vm_id = 900;
	assert_int_equal(hl_vm_add(NULL, ctx, &s), 0);
	s.vm_id = 0;

	s.name = "valid";
	s.ip = "256.1.1.1";
	expect_add_error(ctx, &s, HL_EINVALID, "ip: '256.1.1.1' is not an IPv4 or IPv6 address");
	s.ip = "1.2.3";
	expect_add_error(ctx, &s, HL_EINVALID, "ip: '1.2.3' is not an IPv4 or IPv6 address");
	s.ip = "01.2.3.4";
	expect_add_error(ctx, &s, HL_EINVALID, "ip: '01.2.3.4' is not");
	s.ip = "1.2.3.4.5";
	expect_add_error(ctx, &s, HL_EINVALID, "is not an IPv4 or IPv6 address");
	s.ip = " 127.0.0.1";
	expect_add_error(ctx, &s, HL_EINVALID, "is not an IPv4 or IPv6 address");
	s.ip = "fe80::1::2";
	expect_add_error(ctx, &s, HL_EINVALID, "is not an IPv4 or IPv6 address");
	s.ip = NULL;
	s.ssh_port = 70000;
	expect_add_error(ctx, &s, HL_EINVALID, "ssh_port: 70000 is not a port number (1-65535)");
	s.ssh_port = -1; /* "clear" means nothing in an add */
	expect_add_error(ctx, &s, HL_EINVALID, "ssh_port: -1 is not a port number");
	s.ssh_port = 0;
	s.status = "Running";
	expect_add_error(ctx, &s, HL_EINVALID, "status: 'Running' is not one of running, stopped, paused");
	s.status = "error"; /* a word the homelab_list_vms tool could not filter on */
	expect_add_error(ctx, &s, HL_EINVALID, "status: 'error' is not one of running, stopped, paused");
	s.status = "";
	expect_add_error(ctx, &s, HL_EINVALID, "status: '' is not one of");
	s.status = NULL;
	s.vm_id = -5;
	expect_add_error(ctx, &s, HL_EINVALID, "vm_id: -5 is out of range");
	s.vm_id = 1000000000;
	expect_add_error(ctx, &s, HL_EINVALID, "vm_id: 1000000000 is out of range");
	s.vm_id = 0;
	s.ssh_user = "bad user";
	expect_add_error(ctx, &s, HL_EINVALID, "ssh_user: 'bad user' may contain only");
	s.ssh_user = NULL;
	s.version = 2;
	expect_add_error(ctx, &s, HL_EINVALID, "hl_vm_spec: missing, or version not supported");
	expect_add_error(ctx, NULL, HL_EINVALID, "hl_vm_spec: missing");
	tu_assert_error(hl_vm_add(NULL, NULL, &s), HL_EINVALID, "ctx is required");
	assert_int_equal(vm_count(ctx), 4); /* only the 64-character one was added */
}

static void test_vm__add_conflicts(void **state)
{
	hl_ctx *ctx = *state;
	hl_vm_spec s = HL_VM_SPEC_INIT;

	s.name = "Whisper";
	expect_add_error(ctx, &s, HL_EEXISTS, "vm 'Whisper' already exists (vm_id 101)");
	s.name = "fresh";
	s.vm_id = 101;
	expect_add_error(ctx, &s, HL_EEXISTS, "vm_id 101 is already taken");
	s.vm_id = 0;
	s.ip = "127.0.1.201";
	expect_add_error(ctx, &s, HL_EEXISTS, "ip 127.0.1.201 is already held by vm whisper");
	s.ip = "127.0.1.10";
	expect_add_error(ctx, &s, HL_EEXISTS, "ip 127.0.1.10 is already held by host pve");
	s.ip = NULL;
	s.host = "nohost";
	expect_add_error(ctx, &s, HL_ENOTFOUND, "host 'nohost' not found");
	s.host = "42";
	expect_add_error(ctx, &s, HL_ENOTFOUND, "host '42' not found");
	assert_int_equal(vm_count(ctx), 3);
	/* An address only an allocation row holds may be given to a VM. */
	s.host = NULL;
	s.ip = "127.0.1.1";
	assert_int_equal(hl_vm_add(NULL, ctx, &s), 0);
}

static void test_vm__update(void **state)
{
	hl_ctx *ctx = *state;
	hl_vm_spec s = HL_VM_SPEC_INIT;
	hl_vm *vm = NULL;

	/* Nothing set: nothing changes. */
	assert_int_equal(hl_vm_update(&vm, ctx, "whisper", &s), 0);
	assert_int_equal(vm->vm_id, 101);
	assert_string_equal(vm->ip, "127.0.1.201");
	assert_string_equal(vm->ssh_user, "ccpm");
	hl_vm_free(vm);

	s.status = "stopped";
	s.ip = "127.0.1.211";
	s.ssh_port = 2200;
	assert_int_equal(hl_vm_update(&vm, ctx, "101", &s), 0);
	assert_string_equal(vm->status, "stopped");
	assert_string_equal(vm->ip, "127.0.1.211");
	assert_int_equal(vm->ssh_port, 2200);
	assert_string_equal(vm->ssh_user, "ccpm");
	assert_string_equal(vm->host_name, "pve");
	hl_vm_free(vm);

	/* "" and -1 clear. */
	memset(&s, 0, sizeof(s));
	s.version = HL_VM_SPEC_VERSION;
	s.ip = "";
	s.host = "";
	s.ssh_user = "";
	s.ssh_port = -1;
	assert_int_equal(hl_vm_update(&vm, ctx, "WHISPER", &s), 0);
	assert_null(vm->ip);
	assert_int_equal(vm->host_id, 0);
	assert_null(vm->host_name);
	assert_null(vm->ssh_user);
	assert_int_equal(vm->ssh_port, 0);
	assert_string_equal(vm->status, "stopped");
	hl_vm_free(vm);
	assert_string_equal(tu_sql_text(hl_ctx_db_path(ctx), "SELECT coalesce(ip, 'NULL') || coalesce(host_id, 'NULL') "
	                                                    "|| coalesce(ssh_port, 'NULL') FROM virtual_machines "
	                                                    "WHERE vm_id = 101"), "NULLNULLNULL");

	/* Rename, including to another case of its own name, and re-place. */
	memset(&s, 0, sizeof(s));
	s.version = HL_VM_SPEC_VERSION;
	s.name = "Whisper2";
	s.host = "1";
	assert_int_equal(hl_vm_update(&vm, ctx, "whisper", &s), 0);
	assert_string_equal(vm->name, "Whisper2");
	assert_string_equal(vm->host_name, "pve");
	hl_vm_free(vm);
	s.name = "WHISPER2";
	s.host = NULL;
	assert_int_equal(hl_vm_update(NULL, ctx, "whisper2", &s), 0);
	/* Its own address is not a conflict. */
	memset(&s, 0, sizeof(s));
	s.version = HL_VM_SPEC_VERSION;
	s.ip = "127.0.1.202";
	assert_int_equal(hl_vm_update(NULL, ctx, "harbor", &s), 0);
}

static void test_vm__update_renumber_keeps_services(void **state)
{
	hl_ctx *ctx = *state;
	hl_vm_spec s = HL_VM_SPEC_INIT;
	hl_service_array *svcs = NULL;
	hl_vm *vm = NULL;

	s.vm_id = 301;
	assert_int_equal(hl_vm_update(&vm, ctx, "harbor", &s), 0);
	assert_int_equal(vm->vm_id, 301);
	assert_string_equal(vm->name, "harbor");
	hl_vm_free(vm);
	tu_assert_error(hl_vm_lookup(&vm, ctx, "102"), HL_ENOTFOUND, "vm '102' not found");
	assert_int_equal(hl_service_list(&svcs, ctx, "harbor"), 0);
	assert_int_equal(svcs->count, 2);
	assert_int_equal(svcs->items[0]->vm_id, 301);
	assert_string_equal(svcs->items[0]->vm_name, "harbor");
	hl_service_array_free(svcs);
	assert_string_equal(tu_sql_text(hl_ctx_db_path(ctx), "SELECT count(*) FROM services WHERE vm_id = 102"), "0");
}

static void test_vm__update_invalid(void **state)
{
	hl_ctx *ctx = *state;
	hl_vm_spec s = HL_VM_SPEC_INIT;
	hl_vm *vm = (hl_vm *)ctx;

	tu_assert_error(hl_vm_update(&vm, ctx, "nope", &s), HL_ENOTFOUND, "vm 'nope' not found");
	assert_null(vm);
	s.name = "harbor";
	tu_assert_error(hl_vm_update(NULL, ctx, "whisper", &s), HL_EEXISTS, "vm 'harbor' already exists (vm_id 102)");
	s.name = "";
	tu_assert_error(hl_vm_update(NULL, ctx, "whisper", &s), HL_EINVALID, "name: a name is required");
	s.name = "999";
	tu_assert_error(hl_vm_update(NULL, ctx, "whisper", &s), HL_EINVALID, "all digits");
	s.name = NULL;
	s.vm_id = 102;
	tu_assert_error(hl_vm_update(NULL, ctx, "whisper", &s), HL_EEXISTS, "vm_id 102 is already taken");
	s.vm_id = 0;
	s.ip = "127.0.1.202";
	tu_assert_error(hl_vm_update(NULL, ctx, "whisper", &s), HL_EEXISTS, "ip 127.0.1.202 is already held by vm harbor");
	s.ip = "127.0.1.300";
	tu_assert_error(hl_vm_update(NULL, ctx, "whisper", &s), HL_EINVALID, "ip: '127.0.1.300' is not");
	s.ip = NULL;
	s.host = "nohost";
	tu_assert_error(hl_vm_update(NULL, ctx, "whisper", &s), HL_ENOTFOUND, "host 'nohost' not found");
	s.host = NULL;
	s.ssh_port = 65536;
	tu_assert_error(hl_vm_update(NULL, ctx, "whisper", &s), HL_EINVALID, "ssh_port: 65536 is not a port number");
	s.ssh_port = -2;
	tu_assert_error(hl_vm_update(NULL, ctx, "whisper", &s), HL_EINVALID, "ssh_port: -2");
	s.ssh_port = 0;
	s.status = "UP";
	tu_assert_error(hl_vm_update(NULL, ctx, "whisper", &s), HL_EINVALID, "status: 'UP'");
	s.status = NULL;
	s.version = 0;
	tu_assert_error(hl_vm_update(NULL, ctx, "whisper", &s), HL_EINVALID, "hl_vm_spec: missing, or version");
	tu_assert_error(hl_vm_update(NULL, ctx, "whisper", NULL), HL_EINVALID, "hl_vm_spec");
	tu_assert_error(hl_vm_update(NULL, NULL, "whisper", &s), HL_EINVALID, "ctx is required");
	/* Nothing changed. */
	assert_int_equal(hl_vm_lookup(&vm, ctx, "whisper"), 0);
	assert_int_equal(vm->vm_id, 101);
	assert_string_equal(vm->ip, "127.0.1.201");
	assert_string_equal(vm->status, "running");
	assert_int_equal(vm->ssh_port, 22);
	hl_vm_free(vm);
}

static void test_vm__remove(void **state)
{
	hl_ctx *ctx = *state;
	hl_service_array *svcs = NULL;
	hl_vm *vm = NULL;

	assert_int_equal(hl_vm_remove(ctx, "sandbox", 0), 0);
	tu_assert_error(hl_vm_lookup(&vm, ctx, "sandbox"), HL_ENOTFOUND, "not found");
	tu_assert_error(hl_vm_remove(ctx, "sandbox", 0), HL_ENOTFOUND, "vm 'sandbox' not found");
	tu_assert_error(hl_vm_remove(ctx, "whisper", 0), HL_EINUSE,
	                "vm 'whisper' still has 1 service; remove it first (or remove with cascade)");
	tu_assert_error(hl_vm_remove(ctx, "102", 0), HL_EINUSE, "vm '102' still has 2 services; remove them first");
	assert_int_equal(vm_count(ctx), 2);
	assert_int_equal(hl_vm_remove(ctx, "harbor", HL_REMOVE_CASCADE), 0);
	assert_int_equal(vm_count(ctx), 1);
	assert_int_equal(hl_service_list(&svcs, ctx, NULL), 0);
	assert_int_equal(svcs->count, 1);
	assert_string_equal(svcs->items[0]->name, "ollama");
	hl_service_array_free(svcs);
	tu_assert_error(hl_vm_remove(ctx, "", 0), HL_EINVALID, "a name or id is required");
	tu_assert_error(hl_vm_remove(NULL, "whisper", 0), HL_EINVALID, "ctx is required");
	/* After its service is gone, a plain remove works. */
	assert_int_equal(hl_service_remove(ctx, "ollama"), 0);
	assert_int_equal(hl_vm_remove(ctx, "101", 0), 0);
	assert_int_equal(vm_count(ctx), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_vm__list_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm__list_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm__lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm__add, setup, teardown),
		cmocka_unit_test(test_vm__add_first_id_is_100),
		cmocka_unit_test_setup_teardown(test_vm__add_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm__add_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm__update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm__update_renumber_keeps_services, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm__update_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm__remove, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
