/*
 * vm.c: virtual machines (table virtual_machines).
 */
#include "inventory.h"
#include "ipaddr.h"

#include <stdio.h>

/* The columns every VM query reads, in the order read_vm() expects. A
 * read-only legacy database has no ssh_user/ssh_port: read NULLs instead. */
#define VM_COLS_EXT "v.vm_id, v.name, v.ip, v.status, v.host_id, h.node_name, v.ssh_user, v.ssh_port"
#define VM_COLS_SEED "v.vm_id, v.name, v.ip, v.status, v.host_id, h.node_name, NULL, NULL"
#define VM_FROM " FROM virtual_machines v LEFT JOIN proxmox_hosts h ON h.id = v.host_id"

static const char *vm_cols(hl_ctx *ctx)
{
	return ctx->has_ext_columns ? VM_COLS_EXT : VM_COLS_SEED;
}

void hl_vm_free(hl_vm *vm)
{
	if (!vm)
		return;
	free(vm->name);
	free(vm->ip);
	free(vm->status);
	free(vm->host_name);
	free(vm->ssh_user);
	free(vm);
}

void hl_vm_array_free(hl_vm_array *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++)
		hl_vm_free(list->items[i]);
	free(list->items);
	free(list);
}

static hl_vm *read_vm(sqlite3_stmt *st)
{
	hl_vm *vm = hl__calloc(1, sizeof(*vm));

	if (!vm)
		return NULL;
	vm->vm_id = sqlite3_column_int64(st, 0);
	vm->host_id = sqlite3_column_int64(st, 4);
	vm->ssh_port = sqlite3_column_int(st, 7);
	if (!hl_db__col_text(st, 1, &vm->name) || !hl_db__col_text(st, 2, &vm->ip) ||
	    !hl_db__col_text(st, 3, &vm->status) || !hl_db__col_text(st, 5, &vm->host_name) ||
	    !hl_db__col_text(st, 6, &vm->ssh_user)) {
		hl_vm_free(vm);
		return NULL;
	}
	if (!vm->name && !(vm->name = hl__strdup(""))) {
		hl_vm_free(vm);
		return NULL;
	}
	return vm;
}

int hl_vm__load_id(hl_vm **out, hl_ctx *ctx, int64_t vm_id)
{
	char sql[256];
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	snprintf(sql, sizeof(sql), "SELECT %s" VM_FROM " WHERE v.vm_id = ?1", vm_cols(ctx));
	if ((err = hl_db__stmt(ctx, &st, sql)) < 0)
		return err;
	sqlite3_bind_int64(st, 1, vm_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = (*out = read_vm(st)) ? 0 : HL_ENOMEM;
	else if (rc == SQLITE_DONE)
		err = hl__err(HL_ENOTFOUND, HL_ERROR_INVENTORY, "vm %lld not found", (long long)vm_id);
	else
		err = hl_db__error(ctx, rc, "read vm");
	hl_db__release(ctx, st);
	return err;
}

int hl_vm__load_by_ip(hl_vm **out, hl_ctx *ctx, const char *ip)
{
	char sql[256];
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	*out = NULL;
	/* one statement: the VM's row and its host's name (hl_vm_ip, then the
	 * host by its key), the lowest vm_id when several share the address */
	snprintf(sql, sizeof(sql), "SELECT %s" VM_FROM " WHERE v.ip = ?1 ORDER BY v.vm_id LIMIT 1", vm_cols(ctx));
	if ((err = hl_db__stmt(ctx, &st, sql)) < 0)
		return err;
	sqlite3_bind_text(st, 1, ip, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = (*out = read_vm(st)) ? 0 : HL_ENOMEM;
	else if (rc != SQLITE_DONE)
		err = hl_db__error(ctx, rc, "look up a vm by ip");
	hl_db__release(ctx, st);
	return err;
}

int hl_vm_list(hl_vm_array **out, hl_ctx *ctx, const hl_vm_filter *filter)
{
	char sql[384];
	sqlite3_stmt *st = NULL;
	hl_vm_array *list = NULL;
	size_t cap = 0;
	int64_t host_id = 0;
	int rc, err = 0;
	bool by_host, by_status;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vm_list: out and ctx are required");
	*out = NULL;
	if (filter && filter->version != HL_VM_FILTER_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vm_filter version %u is not supported", filter->version);
	by_host = filter && filter->host && *filter->host;
	by_status = filter && filter->status && *filter->status;
	if (by_host && (err = hl_inv__host_id(ctx, filter->host, &host_id)) < 0)
		return err;

	/* Each filter is in the SQL only when given: "?1 IS NULL OR ..." would
	 * keep SQLite from using the status index. */
	snprintf(sql, sizeof(sql), "SELECT %s" VM_FROM " WHERE 1%s%s ORDER BY v.vm_id", vm_cols(ctx),
	         by_status ? " AND v.status = ?1" : "", by_host ? " AND v.host_id = ?2" : "");
	if ((err = hl_db__stmt(ctx, &st, sql)) < 0)
		return err;
	if (by_status)
		sqlite3_bind_text(st, 1, filter->status, -1, SQLITE_STATIC);
	if (by_host)
		sqlite3_bind_int64(st, 2, host_id);

	if (!(list = hl__calloc(1, sizeof(*list)))) {
		err = HL_ENOMEM;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		hl_vm *vm = read_vm(st);
		if (!vm || hl_inv__push((void ***)&list->items, &list->count, &cap, vm) < 0) {
			hl_vm_free(vm);
			err = HL_ENOMEM;
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		err = hl_db__error(ctx, rc, "list vms");
out:
	hl_db__release(ctx, st);
	if (err < 0)
		hl_vm_array_free(list);
	else
		*out = list;
	return err;
}

int hl_vm_lookup(hl_vm **out, hl_ctx *ctx, const char *ref)
{
	int64_t id = 0;
	int err;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vm_lookup: out and ctx are required");
	*out = NULL;
	if ((err = hl_inv__vm_id(ctx, ref, &id)) < 0)
		return err;
	return hl_vm__load_id(out, ctx, id);
}

/* Check the fields of an add (adding=true) or update. */
static int check_spec(const hl_vm_spec *spec, bool adding, char ip[HL_IP_STRLEN])
{
	int err;

	if (!spec || spec->version != HL_VM_SPEC_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vm_spec: missing, or version not supported");
	if ((adding || spec->name) && (err = hl_inv__check_name(spec->name, "name")) < 0)
		return err;
	if (spec->vm_id < 0 || spec->vm_id > 999999999)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "vm_id: %lld is out of range (1-999999999)",
		               (long long)spec->vm_id);
	if (spec->status && (err = hl_inv__check_status(spec->status)) < 0)
		return err;
	ip[0] = '\0';
	if (spec->ip && *spec->ip && (err = hl_ip__canonical(spec->ip, ip, "ip")) < 0)
		return err;
	if (spec->ssh_user && *spec->ssh_user && (err = hl_inv__check_name(spec->ssh_user, "ssh_user")) < 0)
		return err;
	if (spec->ssh_port && !(spec->ssh_port == -1 && !adding) &&
	    (err = hl_inv__check_port(spec->ssh_port, "ssh_port")) < 0)
		return err;
	return 0;
}

/* Refuse a name another VM already has. */
static int name_free(hl_ctx *ctx, const char *name, int64_t except)
{
	return hl_inv__name_free(ctx, "SELECT vm_id FROM virtual_machines WHERE name = ?1 COLLATE NOCASE "
	                                    "AND vm_id IS NOT ?2 LIMIT 1", name, except, "vm", "vm_id");
}

static int ip_free(hl_ctx *ctx, const char *ip, int64_t except_vm)
{
	char who[128];

	if (*ip && hl_inv__ip_holder(ctx, ip, except_vm, 0, who, sizeof(who)))
		return hl__err(HL_EEXISTS, HL_ERROR_INVENTORY, "ip %s is already held by %s", ip, who);
	return 0;
}

static int next_vm_id(hl_ctx *ctx, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc, err;

	if ((err = hl_db__stmt(ctx, &st, "SELECT max(coalesce(max(vm_id), 99), 99) + 1 FROM virtual_machines")) < 0)
		return err;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		err = hl_db__error(ctx, rc, "pick a vm_id");
	hl_db__release(ctx, st);
	return err;
}

int hl_vm_add(hl_vm **out, hl_ctx *ctx, const hl_vm_spec *spec)
{
	char ip[HL_IP_STRLEN], sql[256];
	sqlite3_stmt *st = NULL;
	int64_t vm_id = 0, host_id = 0;
	int rc, err;

	if (out)
		*out = NULL;
	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vm_add: ctx is required");
	if ((err = check_spec(spec, true, ip)) < 0 || (err = hl_db__writable(ctx, "add a vm")) < 0)
		return err;
	if ((err = hl_db__begin_write(ctx)) < 0)
		return err;
	if (spec->host && *spec->host && (err = hl_inv__host_id(ctx, spec->host, &host_id)) < 0)
		goto fail;
	if ((err = name_free(ctx, spec->name, 0)) < 0 || (err = ip_free(ctx, ip, 0)) < 0)
		goto fail;
	vm_id = spec->vm_id;
	if (vm_id == 0 && (err = next_vm_id(ctx, &vm_id)) < 0)
		goto fail;
	snprintf(sql, sizeof(sql), "INSERT INTO virtual_machines (vm_id, name, ip, status, host_id%s) "
	         "VALUES (?1, ?2, ?3, ?4, ?5%s)", ctx->has_ext_columns ? ", ssh_user, ssh_port" : "",
	         ctx->has_ext_columns ? ", ?6, ?7" : "");
	if ((err = hl_db__stmt(ctx, &st, sql)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, vm_id);
	sqlite3_bind_text(st, 2, spec->name, -1, SQLITE_STATIC);
	hl_db__bind_text(st, 3, *ip ? ip : NULL);
	sqlite3_bind_text(st, 4, spec->status ? spec->status : "unknown", -1, SQLITE_STATIC);
	if (host_id)
		sqlite3_bind_int64(st, 5, host_id);
	if (ctx->has_ext_columns) {
		hl_db__bind_text(st, 6, spec->ssh_user && *spec->ssh_user ? spec->ssh_user : NULL);
		if (spec->ssh_port > 0)
			sqlite3_bind_int(st, 7, spec->ssh_port);
	}
	rc = sqlite3_step(st);
	hl_db__release(ctx, st);
	if (rc != SQLITE_DONE) {
		if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
			err = hl__err(HL_EEXISTS, HL_ERROR_INVENTORY, "vm_id %lld is already taken", (long long)vm_id);
		else
			err = hl_db__error(ctx, rc, "add vm");
		goto fail;
	}
	if ((err = hl_db__commit(ctx)) < 0)
		return err;
	return out ? hl_vm__load_id(out, ctx, vm_id) : 0;
fail:
	hl_db__rollback(ctx);
	return err;
}

int hl_vm_update(hl_vm **out, hl_ctx *ctx, const char *ref, const hl_vm_spec *spec)
{
	char ip[HL_IP_STRLEN];
	sqlite3_stmt *st = NULL;
	int64_t vm_id = 0, new_id, host_id = 0;
	int rc, err;

	if (out)
		*out = NULL;
	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vm_update: ctx is required");
	if ((err = check_spec(spec, false, ip)) < 0 || (err = hl_db__writable(ctx, "update a vm")) < 0)
		return err;
	if (!ctx->has_ext_columns && ((spec->ssh_user) || spec->ssh_port))
		return hl__err(HL_EREADONLY, HL_ERROR_DB, "ssh_user/ssh_port need a migrated database");
	if ((err = hl_db__begin_write(ctx)) < 0)
		return err;
	if ((err = hl_inv__vm_id(ctx, ref, &vm_id)) < 0)
		goto fail;
	new_id = spec->vm_id ? spec->vm_id : vm_id;
	if (new_id != vm_id && (err = hl_inv__credentials_block(ctx, "vm", vm_id, ref, "renumber")) < 0)
		goto fail;
	if (new_id != vm_id) {
		hl_vm *other = NULL;
		if (hl_vm__load_id(&other, ctx, new_id) == 0) {
			hl_vm_free(other);
			err = hl__err(HL_EEXISTS, HL_ERROR_INVENTORY, "vm_id %lld is already taken", (long long)new_id);
			goto fail;
		}
	}
	if (spec->host && *spec->host && (err = hl_inv__host_id(ctx, spec->host, &host_id)) < 0)
		goto fail;
	if (spec->name && (err = name_free(ctx, spec->name, vm_id)) < 0)
		goto fail;
	if ((err = ip_free(ctx, ip, vm_id)) < 0)
		goto fail;
	/* Renumbering changes a key that services refer to: the foreign keys
	 * are checked at commit, once the services follow (below). SQLite
	 * turns this off again when the transaction ends. */
	if (new_id != vm_id && (err = hl_db__exec(ctx, "PRAGMA defer_foreign_keys = ON")) < 0)
		goto fail;
	/* Each field: ?N IS NULL keeps the old value; a special "clear" value
	 * sets NULL. */
	if ((err = hl_db__stmt(ctx, &st,
	        "UPDATE virtual_machines SET vm_id = ?1,"
	        " name = coalesce(?2, name),"
	        " ip = CASE WHEN ?3 IS NULL THEN ip WHEN ?3 = '' THEN NULL ELSE ?3 END,"
	        " status = coalesce(?4, status),"
	        " host_id = CASE WHEN ?5 IS NULL THEN host_id WHEN ?5 = 0 THEN NULL ELSE ?5 END"
	        " WHERE vm_id = ?6")) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, new_id);
	hl_db__bind_text(st, 2, spec->name);
	hl_db__bind_text(st, 3, spec->ip ? ip : NULL);
	hl_db__bind_text(st, 4, spec->status);
	if (spec->host)
		sqlite3_bind_int64(st, 5, *spec->host ? host_id : 0);
	sqlite3_bind_int64(st, 6, vm_id);
	rc = sqlite3_step(st);
	hl_db__release(ctx, st);
	st = NULL;
	if (rc != SQLITE_DONE) {
		err = hl_db__error(ctx, rc, "update vm");
		goto fail;
	}
	if (ctx->has_ext_columns && (spec->ssh_user || spec->ssh_port)) {
		if ((err = hl_db__stmt(ctx, &st,
		        "UPDATE virtual_machines SET"
		        " ssh_user = CASE WHEN ?1 IS NULL THEN ssh_user WHEN ?1 = '' THEN NULL ELSE ?1 END,"
		        " ssh_port = CASE WHEN ?2 IS NULL THEN ssh_port WHEN ?2 < 0 THEN NULL ELSE ?2 END"
		        " WHERE vm_id = ?3")) < 0)
			goto fail;
		hl_db__bind_text(st, 1, spec->ssh_user);
		if (spec->ssh_port)
			sqlite3_bind_int(st, 2, spec->ssh_port);
		sqlite3_bind_int64(st, 3, new_id);
		rc = sqlite3_step(st);
		hl_db__release(ctx, st);
		if (rc != SQLITE_DONE) {
			err = hl_db__error(ctx, rc, "update vm");
			goto fail;
		}
	}
	if (new_id != vm_id) {
		/* Keep services pointing at the VM across a renumbering. */
		if ((err = hl_db__stmt(ctx, &st, "UPDATE services SET vm_id = ?1 WHERE vm_id = ?2")) < 0)
			goto fail;
		sqlite3_bind_int64(st, 1, new_id);
		sqlite3_bind_int64(st, 2, vm_id);
		rc = sqlite3_step(st);
		hl_db__release(ctx, st);
		if (rc != SQLITE_DONE) {
			err = hl_db__error(ctx, rc, "update services");
			goto fail;
		}
	}
	if ((err = hl_db__commit(ctx)) < 0)
		return err;
	return out ? hl_vm__load_id(out, ctx, new_id) : 0;
fail:
	hl_db__rollback(ctx);
	return err;
}

static int count_services(hl_ctx *ctx, int64_t vm_id, int64_t *n)
{
	sqlite3_stmt *st = NULL;
	int rc, err;

	if ((err = hl_db__stmt(ctx, &st, "SELECT count(*) FROM services WHERE vm_id = ?1")) < 0)
		return err;
	sqlite3_bind_int64(st, 1, vm_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	else
		err = hl_db__error(ctx, rc, "count services");
	hl_db__release(ctx, st);
	return err;
}

static int exec_id(hl_ctx *ctx, const char *sql, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int rc, err;

	if ((err = hl_db__stmt(ctx, &st, sql)) < 0)
		return err;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	hl_db__release(ctx, st);
	return rc == SQLITE_DONE ? 0 : hl_db__error(ctx, rc, "remove");
}

int hl_vm_remove(hl_ctx *ctx, const char *ref, unsigned int flags)
{
	int64_t vm_id, nsvc = 0;
	int err;

	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_vm_remove: ctx is required");
	if ((err = hl_db__writable(ctx, "remove a vm")) < 0 || (err = hl_db__begin_write(ctx)) < 0)
		return err;
	if ((err = hl_inv__vm_id(ctx, ref, &vm_id)) < 0 || (err = count_services(ctx, vm_id, &nsvc)) < 0 ||
	    (err = hl_inv__credentials_block(ctx, "vm", vm_id, ref, "remove")) < 0)
		goto fail;
	if (nsvc && !(flags & HL_REMOVE_CASCADE)) {
		err = hl__err(HL_EINUSE, HL_ERROR_INVENTORY, "vm '%s' still has %lld service%s; remove %s first "
		              "(or remove with cascade)", ref, (long long)nsvc, nsvc == 1 ? "" : "s",
		              nsvc == 1 ? "it" : "them");
		goto fail;
	}
	if ((err = exec_id(ctx, "DELETE FROM services WHERE vm_id = ?1", vm_id)) < 0 ||
	    (err = exec_id(ctx, "DELETE FROM virtual_machines WHERE vm_id = ?1", vm_id)) < 0)
		goto fail;
	return hl_db__commit(ctx);
fail:
	hl_db__rollback(ctx);
	return err;
}
