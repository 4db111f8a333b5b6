/*
 * legacy.c: the database of the original Python server (tests/fixtures/
 * legacy-seed.sql) opens, answers every query and read tool, migrates
 * without losing or changing a row, and serves read-only copies (a 0444
 * file, HL_CTX_READONLY, a WAL database with its -wal/-shm files).
 */
#include "testutil.h"

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every seed column of every row of every table, in row order, as SQL literals. */
static const char *const dump_sql[] = {
	"SELECT group_concat(r, ';') FROM (SELECT quote(id)||','||quote(node_name)||','||quote(ip_address) AS r "
	"FROM proxmox_hosts ORDER BY rowid)",
	"SELECT group_concat(r, ';') FROM (SELECT quote(vm_id)||','||quote(name)||','||quote(ip)||','||quote(status)"
	"||','||quote(host_id) AS r FROM virtual_machines ORDER BY rowid)",
	"SELECT group_concat(r, ';') FROM (SELECT quote(service_name)||','||quote(url)||','||quote(port)||','||"
	"quote(protocol)||','||quote(health_endpoint)||','||quote(vm_id) AS r FROM services ORDER BY rowid)",
	"SELECT group_concat(r, ';') FROM (SELECT quote(target_type)||','||quote(target_id)||','||quote(username)"
	"||','||quote(password_encrypted)||','||quote(ssh_key_path)||','||quote(auth_type) AS r FROM credentials "
	"ORDER BY rowid)",
	"SELECT group_concat(r, ';') FROM (SELECT quote(ip_address)||','||quote(hostname)||','||quote(allocated_to)"
	"||','||quote(type) AS r FROM network_config ORDER BY rowid)",
	"SELECT group_concat(r, ';') FROM (SELECT quote(action)||','||quote(target_type)||','||quote(target_id)||','"
	"||quote(user)||','||quote(details)||','||quote(ip_address)||','||quote(timestamp) AS r FROM audit_log "
	"WHERE action != 'audit_chain_keyed' ORDER BY rowid)", /* the row the keying migration adds */
};
#define NTABLES (sizeof(dump_sql) / sizeof(dump_sql[0]))

static void dump(const char *path, char out[NTABLES][2048])
{
	for (size_t i = 0; i < NTABLES; i++) {
		const char *s = tu_sql_text(path, dump_sql[i]);
		assert_non_null(s);
		snprintf(out[i], 2048, "%s", s);
	}
}

/* The query plan's detail text. */
static const char *plan(const char *path, const char *query)
{
	static char out[512];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char sql[512];

	snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", query);
	out[0] = '\0';
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, sizeof(out), "%s", (const char *)sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

/* A fresh copy of the legacy database. */
static const char *make_legacy(const char *name)
{
	const char *path = tu_path(name);

	unlink(path);
	tu_sql_fixture(path, "legacy-seed.sql");
	return path;
}

static int open_flags(hl_ctx **ctx, const char *path, unsigned int flags)
{
	hl_ctx_options o = HL_CTX_OPTIONS_INIT;

	o.db_path = path;
	o.flags = flags;
	return hl_ctx_open(ctx, &o);
}

/* Every query of the inventory API on the legacy rows. */
static void check_queries(hl_ctx *ctx)
{
	hl_vm_array *vms = NULL;
	hl_vm_filter f = HL_VM_FILTER_INIT;
	hl_vm *vm = NULL;
	hl_host_array *hosts = NULL;
	hl_host *host = NULL;
	hl_service_array *svcs = NULL;
	hl_service *svc = NULL;
	hl_ip_alloc_array *ips = NULL;
	hl_ip_owner *own = NULL;

	assert_int_equal(hl_vm_list(&vms, ctx, NULL), 0);
	assert_int_equal(vms->count, 4);
	assert_int_equal(vms->items[0]->vm_id, 100);
	assert_string_equal(vms->items[0]->name, "gateway");
	assert_string_equal(vms->items[0]->host_name, "pve1");
	assert_int_equal(vms->items[3]->vm_id, 103);
	assert_null(vms->items[3]->ip);
	assert_null(vms->items[3]->host_name);
	assert_int_equal(vms->items[3]->host_id, 0);
	assert_null(vms->items[1]->ssh_user);
	assert_int_equal(vms->items[1]->ssh_port, 0);
	hl_vm_array_free(vms);
	f.host = "pve2";
	assert_int_equal(hl_vm_list(&vms, ctx, &f), 0);
	assert_int_equal(vms->count, 1);
	assert_string_equal(vms->items[0]->name, "nas");
	hl_vm_array_free(vms);
	f.host = NULL;
	f.status = "running";
	assert_int_equal(hl_vm_list(&vms, ctx, &f), 0);
	assert_int_equal(vms->count, 2);
	hl_vm_array_free(vms);

	assert_int_equal(hl_vm_lookup(&vm, ctx, "WHISPER"), 0);
	assert_int_equal(vm->vm_id, 101);
	assert_string_equal(vm->ip, "127.0.2.101");
	assert_string_equal(vm->status, "running");
	hl_vm_free(vm);
	assert_int_equal(hl_vm_lookup(&vm, ctx, "102"), 0);
	assert_string_equal(vm->name, "nas");
	hl_vm_free(vm);

	assert_int_equal(hl_host_list(&hosts, ctx), 0);
	assert_int_equal(hosts->count, 2);
	assert_string_equal(hosts->items[0]->name, "pve1");
	assert_int_equal(hosts->items[0]->vm_count, 2);
	assert_int_equal(hosts->items[1]->vm_count, 1);
	hl_host_array_free(hosts);
	assert_int_equal(hl_host_lookup(&host, ctx, "2"), 0);
	assert_string_equal(host->ip, "127.0.2.11");
	hl_host_free(host);

	assert_int_equal(hl_service_list(&svcs, ctx, NULL), 0);
	assert_int_equal(svcs->count, 4);
	assert_string_equal(svcs->items[0]->name, "dns");
	assert_string_equal(svcs->items[1]->name, "jellyfin");
	assert_string_equal(svcs->items[2]->name, "ollama");
	assert_string_equal(svcs->items[3]->name, "wiki");
	assert_null(svcs->items[3]->url);
	assert_int_equal(svcs->items[3]->port, 0);
	assert_int_equal(svcs->items[2]->id, 1); /* rowid: the table has no id column */
	hl_service_array_free(svcs);
	assert_int_equal(hl_service_list(&svcs, ctx, "whisper"), 0);
	assert_int_equal(svcs->count, 1);
	assert_string_equal(svcs->items[0]->vm_name, "whisper");
	hl_service_array_free(svcs);
	assert_int_equal(hl_service_lookup(&svc, ctx, "Jellyfin"), 0);
	assert_int_equal(svc->port, 8096);
	assert_string_equal(svc->health_endpoint, "/health");
	assert_int_equal(svc->vm_id, 102);
	hl_service_free(svc);

	assert_int_equal(hl_ip_list(&ips, ctx, NULL), 0);
	assert_int_equal(ips->count, 4);
	assert_string_equal(ips->items[0]->ip, "127.0.2.1");
	assert_string_equal(ips->items[1]->ip, "127.0.2.50");  /* numeric order, not text order */
	assert_string_equal(ips->items[2]->ip, "127.0.2.100");
	assert_null(ips->items[1]->allocated_to);
	hl_ip_alloc_array_free(ips);
	assert_int_equal(hl_ip_list(&ips, ctx, "127.0.2.64/26"), 0);
	assert_int_equal(ips->count, 2);
	assert_string_equal(ips->items[0]->ip, "127.0.2.100");
	assert_string_equal(ips->items[1]->ip, "127.0.2.101");
	hl_ip_alloc_array_free(ips);

	assert_int_equal(hl_ip_lookup(&own, ctx, "127.0.2.101"), 0);
	assert_non_null(own->vm);
	assert_string_equal(own->vm->name, "whisper");
	assert_null(own->host);
	assert_non_null(own->allocation);
	assert_string_equal(own->allocation->type, "static");
	hl_ip_owner_free(own);
	assert_int_equal(hl_ip_lookup(&own, ctx, "127.0.2.10"), 0);
	assert_string_equal(own->host->name, "pve1");
	assert_null(own->vm);
	assert_null(own->allocation);
	hl_ip_owner_free(own);
	tu_assert_error(hl_ip_lookup(&own, ctx, "127.0.2.99"), HL_ENOTFOUND, "not allocated");
}

/* Every read tool, results checked against their output schemas. */
static void check_read_tools(hl_ctx *ctx)
{
	struct json_object *r;

	r = tu_call_ok(ctx, "homelab_list_vms", "{\"host\":\"pve1\"}");
	assert_string_equal(tu_jstr(r, "count"), "2");
	assert_string_equal(tu_jstr(r, "vms.1.name"), "whisper");
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_get_vm", "{\"name\":\"whisper\"}");
	assert_string_equal(tu_jstr(r, "host"), "pve1");
	assert_string_equal(tu_jstr(r, "services.0.service_name"), "ollama");
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_list_hosts", NULL);
	assert_string_equal(tu_jstr(r, "hosts.1.node_name"), "pve2");
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_get_host", "{\"host_id\":1}");
	assert_string_equal(tu_jstr(r, "vms.0.name"), "gateway");
	assert_string_equal(tu_jstr(r, "vm_count"), "2");
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_list_services", "{\"vm_id\":102}");
	assert_string_equal(tu_jstr(r, "services.0.service_name"), "jellyfin");
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_get_service", "{\"name\":\"dns\"}");
	assert_string_equal(tu_jstr(r, "protocol"), "udp");
	assert_null(tu_jstr(r, "health_endpoint"));
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_lookup_ip", "{\"ip\":\"127.0.2.100\"}");
	assert_string_equal(tu_jstr(r, "held_by.0"), "vm");
	assert_string_equal(tu_jstr(r, "held_by.1"), "allocation");
	json_object_put(r);
	r = tu_call_ok(ctx, "homelab_list_ips", "{\"subnet\":\"127.0.2.0/24\"}");
	assert_string_equal(tu_jstr(r, "count"), "4");
	json_object_put(r);
}

static void check_writes_refused(hl_ctx *ctx)
{
	hl_vm_spec vs = HL_VM_SPEC_INIT;
	hl_host_spec hs = HL_HOST_SPEC_INIT;
	hl_service_spec ss = HL_SERVICE_SPEC_INIT;
	hl_ip_spec is = HL_IP_SPEC_INIT;
	hl_buf out = HL_BUF_INIT;

	vs.name = "newvm";
	tu_assert_error(hl_vm_add(NULL, ctx, &vs), HL_EREADONLY, "cannot add a vm: the database is open read-only");
	vs.name = NULL;
	vs.status = "stopped";
	tu_assert_error(hl_vm_update(NULL, ctx, "whisper", &vs), HL_EREADONLY, "cannot update a vm");
	tu_assert_error(hl_vm_remove(ctx, "scratch", 0), HL_EREADONLY, "cannot remove a vm");
	hs.name = "pve3";
	tu_assert_error(hl_host_add(NULL, ctx, &hs), HL_EREADONLY, "cannot add a host");
	tu_assert_error(hl_host_update(NULL, ctx, "pve1", &hs), HL_EREADONLY, "cannot update a host");
	tu_assert_error(hl_host_remove(ctx, "pve2"), HL_EREADONLY, "cannot remove a host");
	ss.name = "grafana";
	tu_assert_error(hl_service_add(NULL, ctx, &ss), HL_EREADONLY, "cannot add a service");
	ss.name = NULL;
	ss.port = 81;
	tu_assert_error(hl_service_update(NULL, ctx, "wiki", &ss), HL_EREADONLY, "cannot update a service");
	tu_assert_error(hl_service_remove(ctx, "wiki"), HL_EREADONLY, "cannot remove a service");
	is.ip = "127.0.2.77";
	tu_assert_error(hl_ip_add(NULL, ctx, &is), HL_EREADONLY, "cannot add an ip allocation");
	tu_assert_error(hl_ip_update(NULL, ctx, "127.0.2.50", &is), HL_EREADONLY, "cannot update an ip allocation");
	tu_assert_error(hl_ip_allocate(NULL, ctx, "127.0.2.0/24", &is), HL_EREADONLY, "cannot allocate an ip");
	tu_assert_error(hl_ip_release(ctx, "127.0.2.50"), HL_EREADONLY, "cannot release an ip");
	tu_assert_error(hl_inventory_load_demo(ctx), HL_EREADONLY, "read-only");
	tu_assert_error(tu_call(&out, ctx, "homelab_allocate_ip", "{\"subnet\":\"127.0.2.0/24\",\"allocated_to\":\"x\"}"),
	                HL_EREADONLY, "read-only");
	assert_null(out.ptr);
}

static void test_legacy__opens_and_migrates_without_loss(void **state)
{
	const char *path = make_legacy("legacy.db");
	char before[NTABLES][2048], after[NTABLES][2048];
	static const char *const indexes[] = { "hl_vm_name", "hl_vm_ip", "hl_vm_status", "hl_vm_host", "hl_host_name",
	                                       "hl_host_ip", "hl_svc_name", "hl_svc_vm", "hl_net_ip", "hl_net_num",
	                                       "hl_net_to", "hl_cred_target", "hl_audit_time", "hl_audit_action" };
	char sql[256], want[16];
	hl_ctx *ctx = NULL;

	(void)state;
	assert_string_equal(tu_sql_text(path, "PRAGMA user_version"), "0");
	dump(path, before);
	assert_non_null(strstr(before[1], "101,'whisper','127.0.2.101','running',1"));
	assert_non_null(strstr(before[2], "'wiki',NULL,NULL,NULL,NULL,NULL"));

	assert_int_equal(open_flags(&ctx, path, 0), 0);
	assert_int_equal(hl_ctx_readonly(ctx), 0);
	assert_int_equal(hl_ctx_schema_version(ctx), hl_schema_version());
	check_queries(ctx);
	check_read_tools(ctx);
	hl_ctx_free(ctx);

	snprintf(want, sizeof(want), "%d", hl_schema_version());
	assert_string_equal(tu_sql_text(path, "PRAGMA user_version"), want);
	dump(path, after);
	for (size_t i = 0; i < NTABLES; i++)
		assert_string_equal(after[i], before[i]);
	assert_string_equal(tu_sql_text(path, "SELECT count(*) FROM audit_log WHERE action = 'audit_chain_keyed'"), "1");
	for (size_t i = 0; i < sizeof(indexes) / sizeof(indexes[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_master WHERE type='index' AND name='%s'", indexes[i]);
		assert_string_equal(tu_sql_text(path, sql), "1");
	}
	/* The indexes are used: a name lookup is a search, not a scan. */
	assert_non_null(strstr(plan(path, "SELECT vm_id FROM virtual_machines WHERE name = 'x' COLLATE NOCASE"),
	                       "INDEX hl_vm_name (name=?)"));
	assert_non_null(strstr(plan(path, "SELECT 1 FROM network_config WHERE ip_num BETWEEN 1 AND 5"), "hl_net_num"));
	assert_string_equal(tu_sql_text(path, "SELECT group_concat(ip_num) FROM (SELECT ip_num FROM network_config "
	                                      "ORDER BY rowid)"), "2130706945,2130707044,2130707045,2130706994");
}

/*
 * Rows no schema of ours would admit, as another program (or an old bug) may
 * have left them in the Python server's database: names differing only in
 * case, bytes that are not UTF-8, wrong types, dangling references, values
 * outside every enum, a 5000-character name, duplicate and unparsable IPs.
 * Every read tool answers each of them with a result that matches its output
 * schema and is valid UTF-8, or with a clear error; nothing crashes.
 */
static const char hostile_rows[] =
	"INSERT INTO proxmox_hosts (node_name, ip_address) VALUES ('PVE1', '999.1.1.1');"
	"INSERT INTO proxmox_hosts (node_name, ip_address) VALUES (CAST(X'626164FF' AS TEXT), 12345);"
	"INSERT INTO virtual_machines VALUES (200, 'Whisper', 'not-an-ip', 'zombie', 77);"
	"INSERT INTO virtual_machines VALUES (201, CAST(X'C328' AS TEXT), 42, CAST(X'FF' AS TEXT), 'x');"
	"INSERT INTO virtual_machines VALUES (202, '', NULL, NULL, NULL);"
	"INSERT INTO virtual_machines VALUES (203, replace(hex(zeroblob(2500)), '00', 'xy'), '127.0.2.203', "
	"  'running', 1);"
	"INSERT INTO services VALUES ('OLLAMA', 'ftp://127.0.2.1', 'abc', 'gopher', 'no-slash', 999);"
	"INSERT INTO services VALUES ('neg', 'http://127.0.2.1:1', -5, 'http', '/h', 200);"
	"INSERT INTO services VALUES (CAST(X'E282' AS TEXT), NULL, 99999, NULL, NULL, 'x');"
	"INSERT INTO network_config VALUES ('garbage', 'h', 'Whisper', 'vm');"
	"INSERT INTO network_config VALUES ('127.0.2.100', 'dup', 'x', 'static');"
	"INSERT INTO network_config VALUES (2130706945, NULL, NULL, NULL);"
	"INSERT INTO credentials VALUES ('vm', 200, 'u', 'not-a-token', NULL, 'password');"
	"INSERT INTO credentials VALUES ('alien', 5, 'u', 'gAAAA', NULL, 'password');";

static bool utf8_json(const char *text)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	bool ok;

	json_tokener_set_flags(tok, JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)strlen(text) + 1);
	ok = o && json_tokener_get_error(tok) == json_tokener_success;
	json_object_put(o);
	json_tokener_free(tok);
	return ok;
}

static void test_legacy__hostile_content(void **state)
{
	static const char *const calls[][2] = {
		{ "homelab_list_vms", NULL }, { "homelab_list_vms", "{\"status\":\"running\"}" },
		{ "homelab_list_vms", "{\"host\":\"pve1\"}" }, { "homelab_list_vms", "{\"host\":\"PVE1\"}" },
		{ "homelab_get_vm", "{\"name\":\"whisper\"}" }, { "homelab_get_vm", "{\"name\":\"Whisper\"}" },
		{ "homelab_get_vm", "{\"vm_id\":201}" }, { "homelab_get_vm", "{\"vm_id\":203}" },
		{ "homelab_list_hosts", NULL }, { "homelab_get_host", "{\"name\":\"PVE1\"}" },
		{ "homelab_get_host", "{\"host_id\":4}" }, { "homelab_list_services", NULL },
		{ "homelab_list_services", "{\"vm_id\":200}" }, { "homelab_get_service", "{\"name\":\"OLLAMA\"}" },
		{ "homelab_check_service_health", "{\"name\":\"OLLAMA\"}" }, { "homelab_lookup_ip", "{\"ip\":\"127.0.2.100\"}" },
		{ "homelab_lookup_ip", "{\"ip\":\"127.0.0.1\"}" }, { "homelab_list_ips", NULL },
		{ "homelab_list_ips", "{\"subnet\":\"127.0.2.0/24\"}" }, { "homelab_get_credentials", "{\"target\":\"vm:Whisper\"}" },
		{ "homelab_audit_list", NULL }, { "homelab_audit_verify", NULL },
		{ "homelab_check_all_services", "{\"timeout_s\":2}" },
		/* VM 203's Ollama is http://127.0.2.203:11434, where nothing listens */
		{ "ollama_list_models", "{\"target\":\"203\"}" }, { "ollama_running_models", "{\"target\":\"203\"}" },
		{ "ollama_show_model", "{\"model_name\":\"x\",\"target\":\"203\"}" },
		/* SSH to 127.0.2.203:22 (nothing listens); VM 200's ip is not an address (no DNS lookup) */
		{ "whisper_gpu_status", "{\"target\":\"203\"}" }, { "whisper_gpu_status", "{\"target\":\"Whisper\"}" },
		{ "whisper_list_files", "{\"directory\":\"/\",\"target\":\"203\"}" },
		{ "whisper_read_file", "{\"file_path\":\"/etc/hostname\",\"target\":\"Whisper\"}" },
	};
	const char *path = make_legacy("hostile.db");
	hl_ctx *ctx;
	struct json_object *o;

	(void)state;
	/* every read-only tool of the table is called here (a new one must be added) */
	for (const hl_tool *t = hl_tool_next(NULL); t; t = hl_tool_next(t)) {
		bool listed = false;
		for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]) && !listed; i++)
			listed = !strcmp(calls[i][0], hl_tool_name(t));
		if ((hl_tool_flags(t) & HL_TOOL_READONLY) && !listed)
			fail_msg("read-only tool %s is not called on the hostile rows", hl_tool_name(t));
	}
	tu_sql(path, hostile_rows);
	assert_non_null(ctx = tu_open(path));
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		hl_buf out = HL_BUF_INIT;
		int rc = tu_call(&out, ctx, calls[i][0], calls[i][1]);
		if (rc == 0) {
			tu_check_output(calls[i][0], out.ptr);
			if (!utf8_json(out.ptr))
				fail_msg("%s(%s): the result is not UTF-8 JSON: %s", calls[i][0], calls[i][1], out.ptr);
		} else {
			const char *msg = hl_error_last()->message;
			char quoted[1100];
			snprintf(quoted, sizeof(quoted), "\"%s\"", msg);
			if (rc == HL_ENOMEM || !*msg || !utf8_json(quoted))
				fail_msg("%s(%s): %s, message '%s'", calls[i][0], calls[i][1], hl_error_name(rc), msg);
		}
		hl_buf_dispose(&out);
	}
	/* where names differ only in case, the exact spelling wins */
	o = tu_call_ok(ctx, "homelab_get_vm", "{\"name\":\"Whisper\"}");
	assert_string_equal(tu_jstr(o, "vm_id"), "200");
	json_object_put(o);
	o = tu_call_ok(ctx, "homelab_get_vm", "{\"name\":\"whisper\"}");
	assert_string_equal(tu_jstr(o, "vm_id"), "101");
	json_object_put(o);
	o = tu_call_ok(ctx, "homelab_get_host", "{\"name\":\"PVE1\"}");
	assert_string_equal(tu_jstr(o, "ip_address"), "999.1.1.1");
	json_object_put(o);
	o = tu_call_ok(ctx, "homelab_get_service", "{\"name\":\"OLLAMA\"}");
	assert_string_equal(tu_jstr(o, "protocol"), "gopher");
	json_object_put(o);
	/* bytes that are not UTF-8 come out as U+FFFD, the rest of the value kept */
	o = tu_call_ok(ctx, "homelab_get_vm", "{\"vm_id\":201}");
	assert_string_equal(tu_jstr(o, "name"), "\xef\xbf\xbd(");
	assert_string_equal(tu_jstr(o, "status"), "\xef\xbf\xbd");
	json_object_put(o);
	hl_ctx_free(ctx);
}

static void test_legacy__no_migrate(void **state)
{
	const char *path = make_legacy("nomigrate.db");
	hl_ctx *ctx = NULL;

	(void)state;
	assert_int_equal(open_flags(&ctx, path, HL_CTX_NO_MIGRATE), 0);
	assert_int_equal(hl_ctx_readonly(ctx), 0);
	assert_int_equal(hl_ctx_schema_version(ctx), 0);
	check_queries(ctx);
	check_read_tools(ctx);
	hl_ctx_free(ctx);
	assert_string_equal(tu_sql_text(path, "PRAGMA user_version"), "0");
	assert_string_equal(tu_sql_text(path, "SELECT count(*) FROM sqlite_master WHERE type='index'"), "0");
}

static char *read_all(const char *path, size_t *n)
{
	char *data = tu_read_file(path, n);
	assert_non_null(data);
	return data;
}

static void assert_same_bytes(const char *path, const char *before, size_t n_before)
{
	size_t n = 0;
	char *after = read_all(path, &n);

	assert_int_equal(n, n_before);
	assert_memory_equal(after, before, n);
	free(after);
}

static void serve_readonly(const char *path, unsigned int flags, int want_version)
{
	hl_ctx *ctx = NULL;

	assert_int_equal(open_flags(&ctx, path, flags), 0);
	assert_int_equal(hl_ctx_readonly(ctx), 1);
	assert_int_equal(hl_ctx_schema_version(ctx), want_version);
	check_queries(ctx);
	check_read_tools(ctx);
	check_writes_refused(ctx);
	hl_ctx_free(ctx);
}

static void test_legacy__readonly_file(void **state)
{
	const char *path = make_legacy("ro-0444.db");
	size_t n = 0;
	char *before;
	struct stat sb;

	(void)state;
	assert_int_equal(chmod(path, 0444), 0);
	before = read_all(path, &n);
	serve_readonly(path, 0, 0);
	assert_same_bytes(path, before, n);
	free(before);
	assert_int_equal(access(tu_path("ro-0444.db-wal"), F_OK), -1);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0444);
	assert_string_equal(tu_sql_text(path, "PRAGMA user_version"), "0");
}

static void test_legacy__readonly_flag(void **state)
{
	const char *path = make_legacy("ro-flag.db");
	size_t n = 0;
	char *before = read_all(path, &n);

	(void)state;
	serve_readonly(path, HL_CTX_READONLY, 0);
	assert_same_bytes(path, before, n);
	free(before);
	/* The flag wins over a writable file; the next writable open migrates. */
	assert_string_equal(tu_sql_text(path, "PRAGMA user_version"), "0");
}

/* A legacy database migrated (WAL mode) and closed cleanly. */
static const char *make_migrated(const char *name)
{
	const char *path = make_legacy(name);
	hl_ctx *ctx = tu_open(path);

	hl_ctx_free(ctx);
	assert_string_equal(tu_sql_text(path, "PRAGMA journal_mode"), "wal");
	return path;
}

static void test_legacy__readonly_wal_copy(void **state)
{
	const char *src = make_migrated("wal-src.db");
	const char *path = tu_path("wal-ro.db");
	size_t n = 0;
	char *before;

	(void)state;
	tu_copy_file(src, path);
	assert_int_equal(chmod(path, 0444), 0);
	before = read_all(path, &n);
	serve_readonly(path, 0, hl_schema_version());
	serve_readonly(path, HL_CTX_READONLY, hl_schema_version());
	assert_same_bytes(path, before, n);
	free(before);
}

/* Open the snapshot read-only and find the VM that only its -wal file holds. */
static int open_snapshot(const char *path, char *msg, size_t msg_len)
{
	hl_ctx *ctx = NULL;
	hl_vm *vm = NULL;
	int rc = open_flags(&ctx, path, 0);

	if (rc == 0 && !hl_ctx_readonly(ctx))
		rc = hl_error_set(HL_ERROR, HL_ERROR_DB, "opened read-write");
	if (rc == 0)
		rc = hl_vm_lookup(&vm, ctx, "late");
	if (rc == 0 && vm->vm_id != 150)
		rc = hl_error_set(HL_ERROR, HL_ERROR_DB, "wrong vm");
	snprintf(msg, msg_len, "%s", rc ? hl_error_last()->message : "");
	hl_vm_free(vm);
	hl_ctx_free(ctx);
	return rc;
}

/* Copy a live WAL database (the main file and the first nfiles of -wal,
 * -shm) into a read-only directory and serve it read-only, as root and as an
 * unprivileged user. */
static void wal_snapshot(const char *name, int nfiles)
{
	const char *src = make_migrated(name);
	char dir[512], path[600], from[600], to[600], msg[1100];
	static const char *const suffix[] = { "", "-wal", "-shm" };
	hl_vm_spec vs = HL_VM_SPEC_INIT;
	hl_ctx *writer = tu_open(src);
	int rc;

	/* The new row lives only in the -wal file while the writer is open. */
	vs.vm_id = 150;
	vs.name = "late";
	assert_int_equal(hl_vm_add(NULL, writer, &vs), 0);
	snprintf(from, sizeof(from), "%s-wal", src);
	assert_int_equal(access(from, F_OK), 0);

	snprintf(to, sizeof(to), "%s.snap", name);
	snprintf(dir, sizeof(dir), "%s", tu_path(to));
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/inv.db", dir);
	for (int i = 0; i < nfiles; i++) {
		snprintf(from, sizeof(from), "%s%s", src, suffix[i]);
		snprintf(to, sizeof(to), "%s%s", path, suffix[i]);
		tu_copy_file(from, to);
		assert_int_equal(chmod(to, 0444), 0);
	}
	hl_ctx_free(writer);
	assert_int_equal(chmod(dir, 0555), 0);

	rc = open_snapshot(path, msg, sizeof(msg));
	if (rc != 0)
		fail_msg("read-only WAL snapshot: %s", msg);

	/* As an unprivileged user, permissions are really enforced: the -shm
	 * and the directory cannot be written. */
	if (geteuid() == 0) {
		pid_t pid;
		int status = 0;
		assert_int_equal(chmod(tu_tmpdir(), 0711), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (setgid(65534) != 0 || setuid(65534) != 0)
				_exit(3);
			rc = open_snapshot(path, msg, sizeof(msg));
			if (rc != 0)
				fprintf(stderr, "as nobody: %s\n", msg);
			_exit(rc == 0 ? 0 : 1);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_int_equal(chmod(tu_tmpdir(), 0700), 0);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(chmod(dir, 0755), 0);
}

static void test_legacy__readonly_wal_copy_with_wal_and_shm(void **state)
{
	(void)state;
	wal_snapshot("live1.db", 3);
}

static void test_legacy__readonly_wal_copy_without_shm(void **state)
{
	(void)state;
	wal_snapshot("live2.db", 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_legacy__opens_and_migrates_without_loss),
		cmocka_unit_test(test_legacy__hostile_content),
		cmocka_unit_test(test_legacy__no_migrate),
		cmocka_unit_test(test_legacy__readonly_file),
		cmocka_unit_test(test_legacy__readonly_flag),
		cmocka_unit_test(test_legacy__readonly_wal_copy),
		cmocka_unit_test(test_legacy__readonly_wal_copy_with_wal_and_shm),
		cmocka_unit_test(test_legacy__readonly_wal_copy_without_shm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
