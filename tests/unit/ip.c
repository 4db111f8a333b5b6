/*
 * ip.c: IP addresses: lookup (VM, host, allocation, IPv6), list by subnet,
 * add/update/release, and allocation of the next free address (network and
 * broadcast skipped, addresses of VMs and hosts skipped, /31, /32, full
 * subnets, bad CIDRs).
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

/* Allocate from cidr and check the address handed out. */
static void expect_alloc(hl_ctx *ctx, const char *cidr, const char *want)
{
	hl_ip_spec sp = HL_IP_SPEC_INIT;
	hl_ip_alloc *a = NULL;
	int rc;

	sp.allocated_to = "tester";
	rc = hl_ip_allocate(&a, ctx, cidr, &sp);
	if (rc != 0)
		fail_msg("allocate %s: %s", cidr, hl_error_last()->message);
	assert_string_equal(a->ip, want);
	hl_ip_alloc_free(a);
}

static void expect_full(hl_ctx *ctx, const char *cidr)
{
	hl_ip_spec sp = HL_IP_SPEC_INIT;
	hl_ip_alloc *a = (hl_ip_alloc *)ctx;
	char want[128];

	snprintf(want, sizeof(want), "subnet %s has no free address", cidr);
	tu_assert_error(hl_ip_allocate(&a, ctx, cidr, &sp), HL_EFULL, want);
	assert_null(a);
}

static void test_ip__lookup(void **state)
{
	hl_ctx *ctx = *state;
	hl_ip_owner *o = NULL;

	assert_int_equal(hl_ip_lookup(&o, ctx, "127.0.1.201"), 0);
	assert_string_equal(o->ip, "127.0.1.201");
	assert_non_null(o->vm);
	assert_string_equal(o->vm->name, "whisper");
	assert_null(o->host);
	assert_non_null(o->allocation);
	assert_string_equal(o->allocation->hostname, "whisper");
	assert_string_equal(o->allocation->type, "static");
	hl_ip_owner_free(o);

	assert_int_equal(hl_ip_lookup(&o, ctx, "127.0.1.10"), 0);
	assert_null(o->vm);
	assert_non_null(o->host);
	assert_string_equal(o->host->name, "pve");
	assert_string_equal(o->allocation->type, "host");
	hl_ip_owner_free(o);

	assert_int_equal(hl_ip_lookup(&o, ctx, "127.0.1.1"), 0);
	assert_null(o->vm);
	assert_null(o->host);
	assert_string_equal(o->allocation->allocated_to, "router");
	assert_string_equal(o->allocation->type, "reserved");
	hl_ip_owner_free(o);
	hl_ip_owner_free(NULL);

	o = (hl_ip_owner *)ctx;
	tu_assert_error(hl_ip_lookup(&o, ctx, "127.0.1.99"), HL_ENOTFOUND,
	                "ip 127.0.1.99 is not allocated to any vm, host or allocation");
	assert_null(o);
	tu_assert_error(hl_ip_lookup(&o, ctx, "1.2.3"), HL_EINVALID, "ip: '1.2.3' is not an IPv4 or IPv6 address");
	tu_assert_error(hl_ip_lookup(&o, ctx, "127.0.1.010"), HL_EINVALID, "is not an IPv4 or IPv6 address");
	tu_assert_error(hl_ip_lookup(&o, ctx, "whisper"), HL_EINVALID, "ip: 'whisper' is not");
	tu_assert_error(hl_ip_lookup(&o, ctx, ""), HL_EINVALID, "ip: an IP address is required");
	tu_assert_error(hl_ip_lookup(&o, ctx, NULL), HL_EINVALID, "an IP address is required");
	tu_assert_error(hl_ip_lookup(NULL, ctx, "127.0.1.1"), HL_EINVALID, "out and ctx are required");
}

static void test_ip__ipv6(void **state)
{
	hl_ctx *ctx = *state;
	hl_ip_spec sp = HL_IP_SPEC_INIT;
	hl_ip_alloc *a = NULL;
	hl_ip_owner *o = NULL;

	sp.ip = "FD00:0:0::0:1";
	sp.hostname = "v6host";
	assert_int_equal(hl_ip_add(&a, ctx, &sp), 0);
	assert_string_equal(a->ip, "fd00::1");
	hl_ip_alloc_free(a);
	assert_int_equal(hl_ip_lookup(&o, ctx, "fd00:0000:0:0:0:0:0:1"), 0);
	assert_string_equal(o->ip, "fd00::1");
	assert_string_equal(o->allocation->hostname, "v6host");
	hl_ip_owner_free(o);
	sp.ip = "fd00::0:1";
	tu_assert_error(hl_ip_add(NULL, ctx, &sp), HL_EEXISTS, "ip fd00::1 is already allocated");
	assert_int_equal(hl_ip_release(ctx, "FD00::1"), 0);
	tu_assert_error(hl_ip_lookup(&o, ctx, "fd00::1"), HL_ENOTFOUND, "ip fd00::1 is not allocated");
	tu_assert_error(hl_ip_lookup(&o, ctx, "fd00::1::2"), HL_EINVALID, "is not an IPv4 or IPv6 address");
}

static size_t list_count(hl_ctx *ctx, const char *cidr, const char *first)
{
	hl_ip_alloc_array *l = NULL;
	size_t n;

	assert_int_equal(hl_ip_list(&l, ctx, cidr), 0);
	n = l->count;
	if (first)
		assert_string_equal(l->items[0]->ip, first);
	hl_ip_alloc_array_free(l);
	return n;
}

static void test_ip__list(void **state)
{
	hl_ctx *ctx = *state;
	hl_ip_alloc_array *l = NULL;
	hl_ip_spec sp = HL_IP_SPEC_INIT;

	sp.ip = "127.0.1.9";
	assert_int_equal(hl_ip_add(NULL, ctx, &sp), 0);
	assert_int_equal(hl_ip_list(&l, ctx, NULL), 0);
	assert_int_equal(l->count, 6);
	assert_string_equal(l->items[0]->ip, "127.0.1.1");
	assert_string_equal(l->items[1]->ip, "127.0.1.9");  /* numeric order: .9 before .10 */
	assert_string_equal(l->items[2]->ip, "127.0.1.10");
	assert_string_equal(l->items[5]->ip, "127.0.1.203");
	assert_string_equal(l->items[0]->hostname, "gateway");
	hl_ip_alloc_array_free(l);
	hl_ip_alloc_array_free(NULL);
	hl_ip_alloc_free(NULL);
	assert_int_equal(list_count(ctx, "", "127.0.1.1"), 6);
	assert_int_equal(list_count(ctx, "127.0.1.200/29", "127.0.1.201"), 3);
	assert_int_equal(list_count(ctx, "127.0.1.0/28", "127.0.1.1"), 3);
	assert_int_equal(list_count(ctx, "127.0.1.202/32", "127.0.1.202"), 1);
	assert_int_equal(list_count(ctx, "127.0.2.0/24", NULL), 0);
	assert_int_equal(list_count(ctx, "0.0.0.0/0", "127.0.1.1"), 6);
	l = (hl_ip_alloc_array *)ctx;
	tu_assert_error(hl_ip_list(&l, ctx, "127.0.1.5/24"), HL_EINVALID,
	                "subnet: '127.0.1.5/24' has host bits set (did you mean 127.0.1.0/24?)");
	assert_null(l);
	tu_assert_error(hl_ip_list(&l, ctx, "127.0.1.0/33"), HL_EINVALID, "has a bad prefix length (want 0-32)");
	tu_assert_error(hl_ip_list(NULL, ctx, NULL), HL_EINVALID, "out and ctx are required");
}

static void test_ip__bad_cidrs(void **state)
{
	hl_ctx *ctx = *state;
	hl_ip_spec sp = HL_IP_SPEC_INIT;
	static const struct {
		const char *cidr, *msg;
	} bad[] = {
		{ "127.0.1.5/24", "subnet: '127.0.1.5/24' has host bits set (did you mean 127.0.1.0/24?)" },
		{ "127.0.1.0/33", "subnet: '127.0.1.0/33' has a bad prefix length (want 0-32)" },
		{ "127.0.1.0/-1", "has a bad prefix length" },
		{ "127.0.1.0/024", "has a bad prefix length" },
		{ "127.0.1.0/", "has a bad prefix length" },
		{ "127.0.1.0/2x", "has a bad prefix length" },
		{ "127.0.1.0", "subnet: '127.0.1.0' is not in CIDR form (A.B.C.D/N)" },
		{ "fd00::/64", "subnet: 'fd00::/64': only IPv4 subnets can be allocated from" },
		{ "garbage", "is not in CIDR form" },
		{ "abc/24", "subnet: 'abc' is not an IPv4 address" },
		{ "127.0.1/24", "subnet: '127.0.1' is not an IPv4 address" },
		{ "", "subnet: a CIDR such as 127.0.1.0/24 is required" },
		{ NULL, "a CIDR such as 127.0.1.0/24 is required" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hl_ip_alloc *a = (hl_ip_alloc *)ctx;
		tu_assert_error(hl_ip_allocate(&a, ctx, bad[i].cidr, &sp), HL_EINVALID, bad[i].msg);
		assert_null(a);
	}
	assert_string_equal(tu_sql_text(hl_ctx_db_path(ctx), "SELECT count(*) FROM network_config"), "5");
}

static void test_ip__add(void **state)
{
	hl_ctx *ctx = *state;
	hl_ip_spec sp = HL_IP_SPEC_INIT;
	hl_ip_alloc *a = NULL;

	sp.ip = "127.0.1.50";
	sp.hostname = "printer";
	sp.allocated_to = "office";
	assert_int_equal(hl_ip_add(&a, ctx, &sp), 0);
	assert_string_equal(a->ip, "127.0.1.50");
	assert_string_equal(a->hostname, "printer");
	assert_string_equal(a->allocated_to, "office");
	assert_string_equal(a->type, "static"); /* default */
	hl_ip_alloc_free(a);
	assert_string_equal(tu_sql_text(hl_ctx_db_path(ctx), "SELECT ip_num FROM network_config WHERE "
	                                                    "ip_address = '127.0.1.50'"), "2130706738");
	sp.ip = "127.0.1.51";
	sp.type = "dhcp";
	sp.hostname = "";
	sp.allocated_to = NULL;
	assert_int_equal(hl_ip_add(&a, ctx, &sp), 0);
	assert_string_equal(a->type, "dhcp");
	assert_null(a->hostname);
	assert_null(a->allocated_to);
	hl_ip_alloc_free(a);
}

static void test_ip__add_invalid(void **state)
{
	hl_ctx *ctx = *state;
	hl_ip_spec sp = HL_IP_SPEC_INIT;
	hl_ip_alloc *a = (hl_ip_alloc *)ctx;

	tu_assert_error(hl_ip_add(&a, ctx, &sp), HL_EINVALID, "ip: an IP address is required");
	assert_null(a);
	sp.ip = "";
	tu_assert_error(hl_ip_add(NULL, ctx, &sp), HL_EINVALID, "ip: an IP address is required");
	sp.ip = "256.1.1.1";
	tu_assert_error(hl_ip_add(NULL, ctx, &sp), HL_EINVALID, "ip: '256.1.1.1' is not an IPv4 or IPv6 address");
	sp.ip = "1.2.3";
	tu_assert_error(hl_ip_add(NULL, ctx, &sp), HL_EINVALID, "ip: '1.2.3' is not");
	sp.ip = "01.2.3.4";
	tu_assert_error(hl_ip_add(NULL, ctx, &sp), HL_EINVALID, "ip: '01.2.3.4' is not");
	sp.ip = "127.0.1.201";
	tu_assert_error(hl_ip_add(NULL, ctx, &sp), HL_EEXISTS, "ip 127.0.1.201 is already allocated to whisper");
	sp.ip = "127.0.1.60";
	sp.hostname = "bad\x01name";
	tu_assert_error(hl_ip_add(NULL, ctx, &sp), HL_EINVALID, "hostname: contains a control character");
	sp.hostname = NULL;
	sp.type = "0123456789012345678901234567890123"; /* 34 */
	tu_assert_error(hl_ip_add(NULL, ctx, &sp), HL_EINVALID, "type: longer than 32 characters");
	sp.type = NULL;
	sp.version = 5;
	tu_assert_error(hl_ip_add(NULL, ctx, &sp), HL_EINVALID, "hl_ip_spec: missing, or version not supported");
	tu_assert_error(hl_ip_add(NULL, ctx, NULL), HL_EINVALID, "hl_ip_spec");
	tu_assert_error(hl_ip_add(NULL, NULL, &sp), HL_EINVALID, "ctx is required");
	assert_string_equal(tu_sql_text(hl_ctx_db_path(ctx), "SELECT count(*) FROM network_config"), "5");
}

static void test_ip__update_and_release(void **state)
{
	hl_ctx *ctx = *state;
	hl_ip_spec sp = HL_IP_SPEC_INIT;
	hl_ip_alloc *a = (hl_ip_alloc *)ctx;

	sp.ip = "127.0.9.9"; /* ignored */
	sp.hostname = "gw";
	sp.type = "static";
	assert_int_equal(hl_ip_update(&a, ctx, "127.0.1.1", &sp), 0);
	assert_string_equal(a->ip, "127.0.1.1");
	assert_string_equal(a->hostname, "gw");
	assert_string_equal(a->allocated_to, "router");
	assert_string_equal(a->type, "static");
	hl_ip_alloc_free(a);
	memset(&sp, 0, sizeof(sp));
	sp.version = HL_IP_SPEC_VERSION;
	sp.allocated_to = "";
	sp.type = "";
	assert_int_equal(hl_ip_update(&a, ctx, "127.0.1.1", &sp), 0);
	assert_null(a->allocated_to);
	assert_null(a->type);
	assert_string_equal(a->hostname, "gw");
	hl_ip_alloc_free(a);
	a = (hl_ip_alloc *)ctx;
	tu_assert_error(hl_ip_update(&a, ctx, "127.0.1.99", &sp), HL_ENOTFOUND, "ip 127.0.1.99 is not allocated");
	assert_null(a);
	tu_assert_error(hl_ip_update(NULL, ctx, "127.0.1", &sp), HL_EINVALID, "ip: '127.0.1' is not");
	sp.hostname = "x\ny";
	tu_assert_error(hl_ip_update(NULL, ctx, "127.0.1.1", &sp), HL_EINVALID, "hostname: contains a control character");
	tu_assert_error(hl_ip_update(NULL, ctx, "127.0.1.1", NULL), HL_EINVALID, "hl_ip_spec");

	assert_int_equal(hl_ip_release(ctx, "127.0.1.1"), 0);
	tu_assert_error(hl_ip_release(ctx, "127.0.1.1"), HL_ENOTFOUND, "ip 127.0.1.1 is not allocated");
	tu_assert_error(hl_ip_release(ctx, "127.0.1.300"), HL_EINVALID, "ip: '127.0.1.300' is not");
	tu_assert_error(hl_ip_release(ctx, ""), HL_EINVALID, "an IP address is required");
	tu_assert_error(hl_ip_release(NULL, "127.0.1.1"), HL_EINVALID, "ctx is required");
	assert_string_equal(tu_sql_text(hl_ctx_db_path(ctx), "SELECT count(*) FROM network_config"), "4");
	/* The VM keeps its address after its allocation row goes. */
	assert_int_equal(hl_ip_release(ctx, "127.0.1.201"), 0);
	{
		hl_ip_owner *o = NULL;
		assert_int_equal(hl_ip_lookup(&o, ctx, "127.0.1.201"), 0);
		assert_non_null(o->vm);
		assert_null(o->allocation);
		hl_ip_owner_free(o);
	}
}

static void test_ip__allocate(void **state)
{
	hl_ctx *ctx = *state;
	hl_ip_spec sp = HL_IP_SPEC_INIT;
	hl_vm_spec vs = HL_VM_SPEC_INIT;
	hl_host_spec hs = HL_HOST_SPEC_INIT;
	hl_ip_alloc *a = NULL;

	sp.hostname = "web1";
	sp.allocated_to = "harbor";
	sp.ip = "127.0.1.77"; /* ignored */
	assert_int_equal(hl_ip_allocate(&a, ctx, "127.0.1.0/24", &sp), 0);
	assert_string_equal(a->ip, "127.0.1.2"); /* .0 is the network, .1 is taken */
	assert_string_equal(a->hostname, "web1");
	assert_string_equal(a->allocated_to, "harbor");
	assert_string_equal(a->type, "static");
	hl_ip_alloc_free(a);
	expect_alloc(ctx, "127.0.1.0/24", "127.0.1.3");
	/* Addresses that a VM or a host holds without an allocation row are skipped. */
	vs.name = "squatter";
	vs.ip = "127.0.1.4";
	assert_int_equal(hl_vm_add(NULL, ctx, &vs), 0);
	hs.name = "pve-b";
	hs.ip = "127.0.1.5";
	assert_int_equal(hl_host_add(NULL, ctx, &hs), 0);
	expect_alloc(ctx, "127.0.1.0/24", "127.0.1.6");
	/* A released address is reused first. */
	assert_int_equal(hl_ip_release(ctx, "127.0.1.2"), 0);
	expect_alloc(ctx, "127.0.1.0/24", "127.0.1.2");
	/* Around existing rows: .9 free, .10 taken (pve). */
	for (int i = 7; i <= 9; i++) {
		char want[32];
		snprintf(want, sizeof(want), "127.0.1.%d", i);
		expect_alloc(ctx, "127.0.1.0/24", want);
	}
	expect_alloc(ctx, "127.0.1.0/24", "127.0.1.11");
	/* A subnet of its own starts after its network address. */
	expect_alloc(ctx, "127.0.6.0/24", "127.0.6.1");
	/* The type is kept. */
	sp.type = "reserved";
	assert_int_equal(hl_ip_allocate(&a, ctx, "127.0.6.0/24", &sp), 0);
	assert_string_equal(a->ip, "127.0.6.2");
	assert_string_equal(a->type, "reserved");
	hl_ip_alloc_free(a);
	tu_assert_error(hl_ip_allocate(NULL, ctx, "127.0.6.0/24", NULL), HL_EINVALID, "hl_ip_spec");
	tu_assert_error(hl_ip_allocate(NULL, NULL, "127.0.6.0/24", &sp), HL_EINVALID, "ctx is required");
	sp.hostname = "bad\x7f";
	tu_assert_error(hl_ip_allocate(NULL, ctx, "127.0.6.0/24", &sp), HL_EINVALID, "hostname: contains a control");
}

static void test_ip__allocate_small_subnets(void **state)
{
	hl_ctx *ctx = *state;

	/* /30: two hosts, network and broadcast never handed out. */
	expect_alloc(ctx, "127.0.3.0/30", "127.0.3.1");
	expect_alloc(ctx, "127.0.3.0/30", "127.0.3.2");
	expect_full(ctx, "127.0.3.0/30");
	/* /29: six hosts, .7 is the broadcast. */
	for (int i = 1; i <= 6; i++) {
		char want[32];
		snprintf(want, sizeof(want), "127.0.7.%d", i);
		expect_alloc(ctx, "127.0.7.0/29", want);
	}
	expect_full(ctx, "127.0.7.0/29");
	assert_string_equal(tu_sql_text(hl_ctx_db_path(ctx), "SELECT count(*) FROM network_config WHERE ip_address "
	                                                    "IN ('127.0.7.0', '127.0.7.7', '127.0.3.0', '127.0.3.3')"),
	                    "0");
	/* /31 (RFC 3021): both addresses. */
	expect_alloc(ctx, "127.0.4.0/31", "127.0.4.0");
	expect_alloc(ctx, "127.0.4.0/31", "127.0.4.1");
	expect_full(ctx, "127.0.4.0/31");
	/* /32: the one address. */
	expect_alloc(ctx, "127.0.5.7/32", "127.0.5.7");
	expect_full(ctx, "127.0.5.7/32");
	/* A /32 held by a VM is full. */
	expect_full(ctx, "127.0.1.203/32");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ip__lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip__ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip__list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip__bad_cidrs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip__add, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip__add_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip__update_and_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip__allocate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip__allocate_small_subnets, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
