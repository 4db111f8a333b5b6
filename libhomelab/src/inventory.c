/*
 * inventory.c: validation and reference helpers shared by the VM, host,
 * service and IP code.
 */
#include "inventory.h"
#include "ipaddr.h"

#include <stdio.h>

int hl_inv__check_name(const char *name, const char *what)
{
	size_t n;
	bool digits_only = true;

	if (!name || !*name)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: a name is required", what);
	n = strlen(name);
	if (n > 64)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: '%.64s...' is longer than 64 characters", what, name);
	for (const char *p = name; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return hl__err(HL_EINVALID, HL_ERROR_INVALID,
			               "%s: '%s' may contain only letters, digits, '.', '_' and '-'", what, name);
		if (c < '0' || c > '9')
			digits_only = false;
	}
	if (digits_only)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: '%s' is all digits, which reads as an id", what, name);
	return 0;
}

/* The statuses a VM may be given: those Proxmox reports, and the ones the
 * homelab_list_vms tool can filter on (keep the two lists the same). */
static const char *const vm_statuses[] = { "running", "stopped", "paused", "suspended", "unknown", NULL };

int hl_inv__check_status(const char *status)
{
	for (size_t i = 0; vm_statuses[i]; i++)
		if (status && !strcmp(status, vm_statuses[i]))
			return 0;
	return hl__err(HL_EINVALID, HL_ERROR_INVALID,
	               "status: '%.32s' is not one of running, stopped, paused, suspended, unknown",
	               status ? status : "");
}

int hl_inv__check_port(int port, const char *what)
{
	if (port < 1 || port > 65535)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: %d is not a port number (1-65535)", what, port);
	return 0;
}

int hl_inv__check_text(const char *s, size_t max, const char *what)
{
	if (!s)
		return 0;
	if (strlen(s) > max)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: longer than %zu characters", what, max);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: contains a control character", what);
	return 0;
}

/* Look up an id by digits-as-id-first, then by name: case-insensitively,
 * and where a database from before the names were unique holds "harbor"
 * and "Harbor", the exact spelling wins. */
static int resolve(hl_ctx *ctx, const char *ref, int64_t *out, const char *by_id, const char *by_name,
                   const char *what)
{
	sqlite3_stmt *st = NULL;
	int64_t id = 0;
	int rc, err = 0;

	if (!ref || !*ref)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: a name or id is required", what);
	if (hl__parse_int64(ref, &id)) {
		if ((err = hl_db__stmt(ctx, &st, by_id)) < 0)
			return err;
		sqlite3_bind_int64(st, 1, id);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(st, 0);
			hl_db__release(ctx, st);
			return 0;
		}
		hl_db__release(ctx, st);
		if (rc != SQLITE_DONE)
			return hl_db__error(ctx, rc, "look up");
	}
	if ((err = hl_db__stmt(ctx, &st, by_name)) < 0)
		return err;
	sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		err = hl__err(HL_ENOTFOUND, HL_ERROR_INVENTORY, "%s '%.100s' not found", what, ref);
	else
		err = hl_db__error(ctx, rc, "look up");
	hl_db__release(ctx, st);
	return err;
}

int hl_inv__host_id(hl_ctx *ctx, const char *ref, int64_t *out)
{
	return resolve(ctx, ref, out, "SELECT id FROM proxmox_hosts WHERE id = ?1",
	               "SELECT id FROM proxmox_hosts WHERE node_name = ?1 COLLATE NOCASE "
	               "ORDER BY node_name <> ?1, id LIMIT 1",
	               "host");
}

int hl_inv__vm_id(hl_ctx *ctx, const char *ref, int64_t *out)
{
	return resolve(ctx, ref, out, "SELECT vm_id FROM virtual_machines WHERE vm_id = ?1",
	               "SELECT vm_id FROM virtual_machines WHERE name = ?1 COLLATE NOCASE "
	               "ORDER BY name <> ?1, vm_id LIMIT 1",
	               "vm");
}

bool hl_inv__ip_holder(hl_ctx *ctx, const char *ip, int64_t except_vm, int64_t except_host,
                       char *who, size_t who_len)
{
	sqlite3_stmt *st = NULL;
	bool found = false;

	if (hl_db__stmt(ctx, &st, "SELECT name FROM virtual_machines WHERE ip = ?1 AND vm_id IS NOT ?2 LIMIT 1") == 0) {
		sqlite3_bind_text(st, 1, ip, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, except_vm);
		if (sqlite3_step(st) == SQLITE_ROW) {
			snprintf(who, who_len, "vm %s", (const char *)sqlite3_column_text(st, 0));
			found = true;
		}
		hl_db__release(ctx, st);
	}
	if (!found && hl_db__stmt(ctx, &st, "SELECT node_name FROM proxmox_hosts WHERE ip_address = ?1 "
	                                       "AND id IS NOT ?2 LIMIT 1") == 0) {
		sqlite3_bind_text(st, 1, ip, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, except_host);
		if (sqlite3_step(st) == SQLITE_ROW) {
			snprintf(who, who_len, "host %s", (const char *)sqlite3_column_text(st, 0));
			found = true;
		}
		hl_db__release(ctx, st);
	}
	return found;
}

int hl_inv__name_free(hl_ctx *ctx, const char *sql, const char *name, int64_t except, const char *what,
                      const char *id_name)
{
	sqlite3_stmt *st = NULL;
	int rc, err;

	if ((err = hl_db__stmt(ctx, &st, sql)) < 0)
		return err;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, except);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = hl__err(HL_EEXISTS, HL_ERROR_INVENTORY, "%s '%s' already exists (%s %lld)", what, name, id_name,
		              (long long)sqlite3_column_int64(st, 0));
	else if (rc != SQLITE_DONE)
		err = hl_db__error(ctx, rc, "check the name");
	hl_db__release(ctx, st);
	return err;
}

int hl_inv__credentials_block(hl_ctx *ctx, const char *type, int64_t id, const char *name, const char *action)
{
	sqlite3_stmt *st = NULL;
	int rc, err;

	if (!hl_db__has_table(ctx, "credentials"))
		return 0;
	/* a VM's services' credentials count too: a cascade must not orphan them */
	if ((err = hl_db__stmt(ctx, &st, "SELECT"
	        " (SELECT count(*) FROM credentials WHERE target_type = ?1 AND target_id = ?2) +"
	        " (CASE WHEN ?1 = 'vm' THEN (SELECT count(*) FROM credentials WHERE target_type = 'service'"
	        "   AND target_id IN (SELECT rowid FROM services WHERE vm_id = ?2)) ELSE 0 END)")) < 0)
		return err;
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		err = hl_db__error(ctx, rc, "look for credentials");
	else if (sqlite3_column_int64(st, 0) > 0)
		err = hl__err(HL_EINUSE, HL_ERROR_INVENTORY, "cannot %s %s '%s': it (or one of its services) has stored "
		              "credentials, which are bound to its id; remove them first (homelab creds rm %s:%s)",
		              action, type, name, type, name);
	hl_db__release(ctx, st);
	return err;
}

int hl_inv__push(void ***items, size_t *count, size_t *cap, void *item)
{
	if (*count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		void **p = hl__realloc(*items, ncap * sizeof(**items));
		if (!p)
			return HL_ENOMEM;
		*items = p;
		*cap = ncap;
	}
	(*items)[(*count)++] = item;
	return 0;
}
