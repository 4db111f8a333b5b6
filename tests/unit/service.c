/*
 * service.c: services: list (all, by VM), lookup, add, update, remove, with
 * every validation error, on the demo inventory.
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

static size_t svc_count(hl_ctx *ctx, const char *vm)
{
	hl_service_array *list = NULL;
	size_t n;

	assert_int_equal(hl_service_list(&list, ctx, vm), 0);
	n = list->count;
	hl_service_array_free(list);
	return n;
}

static void test_service__list(void **state)
{
	hl_ctx *ctx = *state;
	hl_service_array *list = (hl_service_array *)ctx;

	assert_int_equal(hl_service_list(&list, ctx, NULL), 0);
	assert_int_equal(list->count, 3);
	assert_string_equal(list->items[0]->name, "homelab-mcp");
	assert_string_equal(list->items[1]->name, "ollama");
	assert_string_equal(list->items[2]->name, "open-webui");
	assert_int_equal(list->items[1]->id, 1);
	assert_string_equal(list->items[1]->url, "http://127.0.1.201:11434");
	assert_int_equal(list->items[1]->port, 11434);
	assert_string_equal(list->items[1]->protocol, "http");
	assert_string_equal(list->items[1]->health_endpoint, "/api/version");
	assert_int_equal(list->items[1]->vm_id, 101);
	assert_string_equal(list->items[1]->vm_name, "whisper");
	hl_service_array_free(list);
	hl_service_array_free(NULL);
	hl_service_free(NULL);

	assert_int_equal(svc_count(ctx, ""), 3);
	assert_int_equal(svc_count(ctx, "harbor"), 2);
	assert_int_equal(svc_count(ctx, "HARBOR"), 2);
	assert_int_equal(svc_count(ctx, "102"), 2);
	assert_int_equal(svc_count(ctx, "whisper"), 1);
	assert_int_equal(svc_count(ctx, "sandbox"), 0);
	list = (hl_service_array *)ctx;
	tu_assert_error(hl_service_list(&list, ctx, "nope"), HL_ENOTFOUND, "vm 'nope' not found");
	assert_null(list);
	tu_assert_error(hl_service_list(&list, ctx, "555"), HL_ENOTFOUND, "vm '555' not found");
	tu_assert_error(hl_service_list(NULL, ctx, NULL), HL_EINVALID, "out and ctx are required");
}

static void test_service__lookup(void **state)
{
	hl_ctx *ctx = *state;
	hl_service *s = NULL;

	assert_int_equal(hl_service_lookup(&s, ctx, "Open-WebUI"), 0);
	assert_string_equal(s->name, "open-webui");
	assert_int_equal(s->port, 3000);
	assert_string_equal(s->vm_name, "harbor");
	hl_service_free(s);
	assert_int_equal(hl_service_lookup(&s, ctx, "1"), 0);
	assert_string_equal(s->name, "ollama");
	hl_service_free(s);
	s = (hl_service *)ctx;
	tu_assert_error(hl_service_lookup(&s, ctx, "grafana"), HL_ENOTFOUND, "service 'grafana' not found");
	assert_null(s);
	tu_assert_error(hl_service_lookup(&s, ctx, "99"), HL_ENOTFOUND, "service '99' not found");
	tu_assert_error(hl_service_lookup(&s, ctx, ""), HL_EINVALID, "service: a name or id is required");
	tu_assert_error(hl_service_lookup(&s, ctx, NULL), HL_EINVALID, "a name or id is required");
	tu_assert_error(hl_service_lookup(NULL, ctx, "ollama"), HL_EINVALID, "out and ctx are required");
}

static void test_service__add(void **state)
{
	hl_ctx *ctx = *state;
	hl_service_spec sp = HL_SERVICE_SPEC_INIT;
	hl_service *s = NULL;

	sp.name = "grafana";
	sp.url = "http://127.0.1.203:3001";
	sp.port = 3001;
	sp.protocol = "http";
	sp.health_endpoint = "/api/health";
	sp.vm = "sandbox";
	assert_int_equal(hl_service_add(&s, ctx, &sp), 0);
	assert_int_equal(s->id, 4);
	assert_string_equal(s->name, "grafana");
	assert_string_equal(s->url, "http://127.0.1.203:3001");
	assert_int_equal(s->port, 3001);
	assert_string_equal(s->health_endpoint, "/api/health");
	assert_int_equal(s->vm_id, 103);
	assert_string_equal(s->vm_name, "sandbox");
	hl_service_free(s);
	/* Just a name: everything else empty. */
	memset(&sp, 0, sizeof(sp));
	sp.version = HL_SERVICE_SPEC_VERSION;
	sp.name = "bare";
	sp.url = "";
	assert_int_equal(hl_service_add(&s, ctx, &sp), 0);
	assert_null(s->url);
	assert_int_equal(s->port, 0);
	assert_null(s->protocol);
	assert_null(s->health_endpoint);
	assert_int_equal(s->vm_id, 0);
	assert_null(s->vm_name);
	hl_service_free(s);
	assert_int_equal(svc_count(ctx, NULL), 5);
	assert_int_equal(svc_count(ctx, "103"), 1);
}

static void test_service__add_invalid(void **state)
{
	hl_ctx *ctx = *state;
	hl_service_spec sp = HL_SERVICE_SPEC_INIT;
	hl_service *s = (hl_service *)ctx;
	char big[2100];

	tu_assert_error(hl_service_add(&s, ctx, &sp), HL_EINVALID, "name: a name is required");
	assert_null(s);
	sp.name = "my service";
	tu_assert_error(hl_service_add(NULL, ctx, &sp), HL_EINVALID, "name: 'my service' may contain only");
	sp.name = "8080";
	tu_assert_error(hl_service_add(NULL, ctx, &sp), HL_EINVALID, "name: '8080' is all digits");
	sp.name = "svc";
	sp.url = "127.0.1.5:80";
	tu_assert_error(hl_service_add(NULL, ctx, &sp), HL_EINVALID, "url: '127.0.1.5:80' has no scheme (like http://)");
	sp.url = "http://127.0.1.5/\nX-Injected: 1";
	tu_assert_error(hl_service_add(NULL, ctx, &sp), HL_EINVALID, "url: contains a control character");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "http://", 7);
	sp.url = big;
	tu_assert_error(hl_service_add(NULL, ctx, &sp), HL_EINVALID, "url: longer than 2048 characters");
	sp.url = NULL;
	sp.port = 65536;
	tu_assert_error(hl_service_add(NULL, ctx, &sp), HL_EINVALID, "port: 65536 is not a port number (1-65535)");
	sp.port = -1;
	tu_assert_error(hl_service_add(NULL, ctx, &sp), HL_EINVALID, "port: -1 is not a port number");
	sp.port = 0;
	sp.protocol = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; /* 33 */
	tu_assert_error(hl_service_add(NULL, ctx, &sp), HL_EINVALID, "protocol: longer than 32 characters");
	sp.protocol = NULL;
	sp.health_endpoint = "/h\tx";
	tu_assert_error(hl_service_add(NULL, ctx, &sp), HL_EINVALID, "health_endpoint: contains a control character");
	sp.health_endpoint = NULL;
	sp.vm = "nope";
	tu_assert_error(hl_service_add(NULL, ctx, &sp), HL_ENOTFOUND, "vm 'nope' not found");
	sp.vm = NULL;
	sp.name = "OLLAMA";
	tu_assert_error(hl_service_add(NULL, ctx, &sp), HL_EEXISTS, "service 'OLLAMA' already exists");
	sp.name = "svc";
	sp.version = 9;
	tu_assert_error(hl_service_add(NULL, ctx, &sp), HL_EINVALID, "hl_service_spec: missing, or version not supported");
	tu_assert_error(hl_service_add(NULL, ctx, NULL), HL_EINVALID, "hl_service_spec");
	tu_assert_error(hl_service_add(NULL, NULL, &sp), HL_EINVALID, "ctx is required");
	assert_int_equal(svc_count(ctx, NULL), 3);
}

static void test_service__update(void **state)
{
	hl_ctx *ctx = *state;
	hl_service_spec sp = HL_SERVICE_SPEC_INIT;
	hl_service *s = NULL;

	/* Nothing set: nothing changes. */
	assert_int_equal(hl_service_update(&s, ctx, "ollama", &sp), 0);
	assert_int_equal(s->port, 11434);
	assert_string_equal(s->vm_name, "whisper");
	hl_service_free(s);

	sp.name = "llm";
	sp.port = 11435;
	sp.url = "https://127.0.1.201:11435";
	sp.protocol = "https";
	sp.vm = "harbor";
	assert_int_equal(hl_service_update(&s, ctx, "OLLAMA", &sp), 0);
	assert_int_equal(s->id, 1);
	assert_string_equal(s->name, "llm");
	assert_int_equal(s->port, 11435);
	assert_string_equal(s->url, "https://127.0.1.201:11435");
	assert_string_equal(s->protocol, "https");
	assert_string_equal(s->health_endpoint, "/api/version");
	assert_int_equal(s->vm_id, 102);
	hl_service_free(s);

	/* "" and -1 clear; "" unbinds the VM. */
	memset(&sp, 0, sizeof(sp));
	sp.version = HL_SERVICE_SPEC_VERSION;
	sp.url = "";
	sp.port = -1;
	sp.protocol = "";
	sp.health_endpoint = "";
	sp.vm = "";
	assert_int_equal(hl_service_update(&s, ctx, "1", &sp), 0);
	assert_string_equal(s->name, "llm");
	assert_null(s->url);
	assert_int_equal(s->port, 0);
	assert_null(s->protocol);
	assert_null(s->health_endpoint);
	assert_int_equal(s->vm_id, 0);
	assert_null(s->vm_name);
	hl_service_free(s);
	assert_string_equal(tu_sql_text(hl_ctx_db_path(ctx), "SELECT coalesce(url,'N')||coalesce(port,'N')||"
	                                                    "coalesce(protocol,'N')||coalesce(health_endpoint,'N')||"
	                                                    "coalesce(vm_id,'N') FROM services WHERE rowid = 1"),
	                    "NNNNN");
	/* Rebind by vm_id. */
	memset(&sp, 0, sizeof(sp));
	sp.version = HL_SERVICE_SPEC_VERSION;
	sp.vm = "101";
	assert_int_equal(hl_service_update(&s, ctx, "llm", &sp), 0);
	assert_string_equal(s->vm_name, "whisper");
	hl_service_free(s);
}

static void test_service__update_invalid(void **state)
{
	hl_ctx *ctx = *state;
	hl_service_spec sp = HL_SERVICE_SPEC_INIT;
	hl_service *s = (hl_service *)ctx;

	tu_assert_error(hl_service_update(&s, ctx, "grafana", &sp), HL_ENOTFOUND, "service 'grafana' not found");
	assert_null(s);
	sp.name = "Open-WebUI";
	tu_assert_error(hl_service_update(NULL, ctx, "ollama", &sp), HL_EEXISTS, "service 'Open-WebUI' already exists");
	sp.name = "";
	tu_assert_error(hl_service_update(NULL, ctx, "ollama", &sp), HL_EINVALID, "name: a name is required");
	sp.name = NULL;
	sp.vm = "nope";
	tu_assert_error(hl_service_update(NULL, ctx, "ollama", &sp), HL_ENOTFOUND, "vm 'nope' not found");
	sp.vm = NULL;
	sp.port = 0x10000;
	tu_assert_error(hl_service_update(NULL, ctx, "ollama", &sp), HL_EINVALID, "port: 65536");
	sp.port = 0;
	sp.url = "ftp:/nope";
	tu_assert_error(hl_service_update(NULL, ctx, "ollama", &sp), HL_EINVALID, "url: 'ftp:/nope' has no scheme");
	sp.url = NULL;
	sp.version = 0;
	tu_assert_error(hl_service_update(NULL, ctx, "ollama", &sp), HL_EINVALID, "hl_service_spec");
	assert_int_equal(hl_service_lookup(&s, ctx, "ollama"), 0);
	assert_int_equal(s->port, 11434);
	assert_string_equal(s->url, "http://127.0.1.201:11434");
	hl_service_free(s);
	/* Renaming to its own name in another case is fine. */
	sp.version = HL_SERVICE_SPEC_VERSION;
	sp.name = "Ollama";
	assert_int_equal(hl_service_update(NULL, ctx, "ollama", &sp), 0);
}

static void test_service__remove(void **state)
{
	hl_ctx *ctx = *state;

	assert_int_equal(hl_service_remove(ctx, "homelab-mcp"), 0);
	assert_int_equal(svc_count(ctx, NULL), 2);
	assert_int_equal(hl_service_remove(ctx, "1"), 0);
	assert_int_equal(svc_count(ctx, NULL), 1);
	tu_assert_error(hl_service_remove(ctx, "1"), HL_ENOTFOUND, "service '1' not found");
	tu_assert_error(hl_service_remove(ctx, "ollama"), HL_ENOTFOUND, "service 'ollama' not found");
	tu_assert_error(hl_service_remove(ctx, ""), HL_EINVALID, "a name or id is required");
	tu_assert_error(hl_service_remove(NULL, "x"), HL_EINVALID, "ctx is required");
	/* The VM is not touched. */
	assert_string_equal(tu_sql_text(hl_ctx_db_path(ctx), "SELECT count(*) FROM virtual_machines"), "3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_service__list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service__lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service__add, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service__add_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service__update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service__update_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service__remove, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
