/*
 * host.c: Proxmox hosts (table proxmox_hosts).
 */
#include "inventory.h"
#include "ipaddr.h"

#include <stdio.h>

#define HOST_SELECT "SELECT h.id, h.node_name, h.ip_address," \
	" (SELECT count(*) FROM virtual_machines v WHERE v.host_id = h.id) FROM proxmox_hosts h"

void hl_host_free(hl_host *host)
{
	if (!host)
		return;
	free(host->name);
	free(host->ip);
	free(host);
}

void hl_host_array_free(hl_host_array *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++)
		hl_host_free(list->items[i]);
	free(list->items);
	free(list);
}

static hl_host *read_host(sqlite3_stmt *st)
{
	hl_host *h = hl__calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->id = sqlite3_column_int64(st, 0);
	h->vm_count = sqlite3_column_int64(st, 3);
	if (!hl_db__col_text(st, 1, &h->name) || !hl_db__col_text(st, 2, &h->ip) ||
	    (!h->name && !(h->name = hl__strdup("")))) {
		hl_host_free(h);
		return NULL;
	}
	return h;
}

int hl_host__load_id(hl_host **out, hl_ctx *ctx, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int rc, err;

	if ((err = hl_db__stmt(ctx, &st, HOST_SELECT " WHERE h.id = ?1")) < 0)
		return err;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = (*out = read_host(st)) ? 0 : HL_ENOMEM;
	else if (rc == SQLITE_DONE)
		err = hl__err(HL_ENOTFOUND, HL_ERROR_INVENTORY, "host %lld not found", (long long)id);
	else
		err = hl_db__error(ctx, rc, "read host");
	hl_db__release(ctx, st);
	return err;
}

int hl_host_list(hl_host_array **out, hl_ctx *ctx)
{
	sqlite3_stmt *st = NULL;
	hl_host_array *list = NULL;
	size_t cap = 0;
	int rc, err;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_host_list: out and ctx are required");
	*out = NULL;
	if ((err = hl_db__stmt(ctx, &st, HOST_SELECT " ORDER BY h.id")) < 0)
		return err;
	if (!(list = hl__calloc(1, sizeof(*list)))) {
		err = HL_ENOMEM;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		hl_host *h = read_host(st);
		if (!h || hl_inv__push((void ***)&list->items, &list->count, &cap, h) < 0) {
			hl_host_free(h);
			err = HL_ENOMEM;
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		err = hl_db__error(ctx, rc, "list hosts");
out:
	hl_db__release(ctx, st);
	if (err < 0)
		hl_host_array_free(list);
	else
		*out = list;
	return err;
}

int hl_host_lookup(hl_host **out, hl_ctx *ctx, const char *ref)
{
	int64_t id = 0;
	int err;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_host_lookup: out and ctx are required");
	*out = NULL;
	if ((err = hl_inv__host_id(ctx, ref, &id)) < 0)
		return err;
	return hl_host__load_id(out, ctx, id);
}

static int check_spec(const hl_host_spec *spec, bool adding, char ip[HL_IP_STRLEN])
{
	int err;

	if (!spec || spec->version != HL_HOST_SPEC_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_host_spec: missing, or version not supported");
	if ((adding || spec->name) && (err = hl_inv__check_name(spec->name, "name")) < 0)
		return err;
	if (spec->id < 0)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "id: %lld is negative", (long long)spec->id);
	ip[0] = '\0';
	if (spec->ip && *spec->ip && (err = hl_ip__canonical(spec->ip, ip, "ip")) < 0)
		return err;
	return 0;
}

static int name_free(hl_ctx *ctx, const char *name, int64_t except)
{
	return hl_inv__name_free(ctx, "SELECT id FROM proxmox_hosts WHERE node_name = ?1 COLLATE NOCASE "
	                                    "AND id IS NOT ?2 LIMIT 1", name, except, "host", "id");
}

static int ip_free(hl_ctx *ctx, const char *ip, int64_t except)
{
	char who[128];

	if (*ip && hl_inv__ip_holder(ctx, ip, 0, except, who, sizeof(who)))
		return hl__err(HL_EEXISTS, HL_ERROR_INVENTORY, "ip %s is already held by %s", ip, who);
	return 0;
}

int hl_host_add(hl_host **out, hl_ctx *ctx, const hl_host_spec *spec)
{
	char ip[HL_IP_STRLEN];
	sqlite3_stmt *st = NULL;
	int64_t id = 0;
	int rc, err;

	if (out)
		*out = NULL;
	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_host_add: ctx is required");
	if ((err = check_spec(spec, true, ip)) < 0 || (err = hl_db__writable(ctx, "add a host")) < 0)
		return err;
	if ((err = hl_db__begin_write(ctx)) < 0)
		return err;
	if ((err = name_free(ctx, spec->name, 0)) < 0 || (err = ip_free(ctx, ip, 0)) < 0)
		goto fail;
	if ((err = hl_db__stmt(ctx, &st, "INSERT INTO proxmox_hosts (id, node_name, ip_address) VALUES (?1, ?2, ?3)")) < 0)
		goto fail;
	if (spec->id)
		sqlite3_bind_int64(st, 1, spec->id);
	sqlite3_bind_text(st, 2, spec->name, -1, SQLITE_STATIC);
	hl_db__bind_text(st, 3, *ip ? ip : NULL);
	rc = sqlite3_step(st);
	hl_db__release(ctx, st);
	if (rc != SQLITE_DONE) {
		if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
			err = hl__err(HL_EEXISTS, HL_ERROR_INVENTORY, "host id %lld is already taken", (long long)spec->id);
		else
			err = hl_db__error(ctx, rc, "add host");
		goto fail;
	}
	id = spec->id ? spec->id : sqlite3_last_insert_rowid(ctx->db);
	if ((err = hl_db__commit(ctx)) < 0)
		return err;
	return out ? hl_host__load_id(out, ctx, id) : 0;
fail:
	hl_db__rollback(ctx);
	return err;
}

int hl_host_update(hl_host **out, hl_ctx *ctx, const char *ref, const hl_host_spec *spec)
{
	char ip[HL_IP_STRLEN];
	sqlite3_stmt *st = NULL;
	int64_t id = 0;
	int rc, err;

	if (out)
		*out = NULL;
	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_host_update: ctx is required");
	if ((err = check_spec(spec, false, ip)) < 0 || (err = hl_db__writable(ctx, "update a host")) < 0)
		return err;
	if (spec->id)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "id: a host's id cannot be changed");
	if ((err = hl_db__begin_write(ctx)) < 0)
		return err;
	if ((err = hl_inv__host_id(ctx, ref, &id)) < 0)
		goto fail;
	if (spec->name && (err = name_free(ctx, spec->name, id)) < 0)
		goto fail;
	if ((err = ip_free(ctx, ip, id)) < 0)
		goto fail;
	if ((err = hl_db__stmt(ctx, &st, "UPDATE proxmox_hosts SET node_name = coalesce(?1, node_name),"
	        " ip_address = CASE WHEN ?2 IS NULL THEN ip_address WHEN ?2 = '' THEN NULL ELSE ?2 END"
	        " WHERE id = ?3")) < 0)
		goto fail;
	hl_db__bind_text(st, 1, spec->name);
	hl_db__bind_text(st, 2, spec->ip ? ip : NULL);
	sqlite3_bind_int64(st, 3, id);
	rc = sqlite3_step(st);
	hl_db__release(ctx, st);
	if (rc != SQLITE_DONE) {
		err = hl_db__error(ctx, rc, "update host");
		goto fail;
	}
	if ((err = hl_db__commit(ctx)) < 0)
		return err;
	return out ? hl_host__load_id(out, ctx, id) : 0;
fail:
	hl_db__rollback(ctx);
	return err;
}

int hl_host_remove(hl_ctx *ctx, const char *ref)
{
	sqlite3_stmt *st = NULL;
	hl_host *h = NULL;
	int64_t id = 0;
	int rc, err;

	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_host_remove: ctx is required");
	if ((err = hl_db__writable(ctx, "remove a host")) < 0 || (err = hl_db__begin_write(ctx)) < 0)
		return err;
	if ((err = hl_inv__host_id(ctx, ref, &id)) < 0 || (err = hl_host__load_id(&h, ctx, id)) < 0 ||
	    (err = hl_inv__credentials_block(ctx, "host", id, h->name, "remove")) < 0)
		goto fail;
	if (h->vm_count) {
		err = hl__err(HL_EINUSE, HL_ERROR_INVENTORY, "host '%s' still has %lld vm%s; move or remove %s first",
		              h->name, (long long)h->vm_count, h->vm_count == 1 ? "" : "s",
		              h->vm_count == 1 ? "it" : "them");
		goto fail;
	}
	if ((err = hl_db__stmt(ctx, &st, "DELETE FROM proxmox_hosts WHERE id = ?1")) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	hl_db__release(ctx, st);
	if (rc != SQLITE_DONE) {
		err = hl_db__error(ctx, rc, "remove host");
		goto fail;
	}
	hl_host_free(h);
	return hl_db__commit(ctx);
fail:
	hl_host_free(h);
	hl_db__rollback(ctx);
	return err;
}
