/*
 * demo.c: the demo inventory, a small homelab on loopback addresses only
 * (127.0.1.0/24), so that nothing a demo does can reach a real network.
 */
#include "db.h"

static const char demo_sql[] =
	"INSERT INTO proxmox_hosts (id, node_name, ip_address) VALUES (1, 'pve', '127.0.1.10');"
	"INSERT INTO virtual_machines (vm_id, name, ip, status, host_id, ssh_user, ssh_port) VALUES"
	" (101, 'whisper', '127.0.1.201', 'running', 1, 'ccpm', 22),"
	" (102, 'harbor', '127.0.1.202', 'running', 1, 'ccpm', 22),"
	" (103, 'sandbox', '127.0.1.203', 'stopped', 1, NULL, NULL);"
	"INSERT INTO services (service_name, url, port, protocol, health_endpoint, vm_id) VALUES"
	" ('ollama', 'http://127.0.1.201:11434', 11434, 'http', '/api/version', 101),"
	" ('open-webui', 'http://127.0.1.202:3000', 3000, 'http', '/health', 102),"
	" ('homelab-mcp', 'http://127.0.1.202:8080', 8080, 'http', '/healthz', 102);"
	"INSERT INTO network_config (ip_address, hostname, allocated_to, type, ip_num) VALUES"
	" ('127.0.1.1', 'gateway', 'router', 'reserved', hl_ipv4_num('127.0.1.1')),"
	" ('127.0.1.10', 'pve', 'pve', 'host', hl_ipv4_num('127.0.1.10')),"
	" ('127.0.1.201', 'whisper', 'whisper', 'static', hl_ipv4_num('127.0.1.201')),"
	" ('127.0.1.202', 'harbor', 'harbor', 'static', hl_ipv4_num('127.0.1.202')),"
	" ('127.0.1.203', 'sandbox', 'sandbox', 'static', hl_ipv4_num('127.0.1.203'));";

int hl_inventory_load_demo(hl_ctx *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc, err;

	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_inventory_load_demo: ctx is required");
	if ((err = hl_db__writable(ctx, "load the demo inventory")) < 0)
		return err;
	if (!ctx->has_ext_columns)
		return hl__err(HL_EREADONLY, HL_ERROR_DB, "%s: the schema is not migrated", ctx->path);
	if ((err = hl_db__begin_write(ctx)) < 0)
		return err;
	if ((err = hl_db__prepare(ctx, &st, "SELECT (SELECT count(*) FROM virtual_machines) + "
	                                    "(SELECT count(*) FROM proxmox_hosts) + (SELECT count(*) FROM services) + "
	                                    "(SELECT count(*) FROM network_config)")) < 0)
		goto fail;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		err = hl_db__error(ctx, rc, "count inventory");
		goto fail;
	}
	if (sqlite3_column_int64(st, 0) > 0) {
		err = hl__err(HL_EEXISTS, HL_ERROR_INVENTORY, "%s: the inventory is not empty; the demo is only "
		              "loaded into an empty one", ctx->path);
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((err = hl_db__exec(ctx, demo_sql)) < 0)
		goto fail;
	return hl_db__commit(ctx);
fail:
	sqlite3_finalize(st);
	hl_db__rollback(ctx);
	return err;
}
