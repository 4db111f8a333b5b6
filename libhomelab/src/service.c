/*
 * service.c: services (table services). A service's id is its rowid: the
 * seed table of the original server has no id column of its own.
 */
#include "inventory.h"

#include <stdio.h>

#define SVC_SELECT "SELECT s.rowid, s.service_name, s.url, s.port, s.protocol, s.health_endpoint," \
	" s.vm_id, v.name FROM services s LEFT JOIN virtual_machines v ON v.vm_id = s.vm_id"

void hl_service_free(hl_service *svc)
{
	if (!svc)
		return;
	free(svc->name);
	free(svc->url);
	free(svc->protocol);
	free(svc->health_endpoint);
	free(svc->vm_name);
	free(svc);
}

void hl_service_array_free(hl_service_array *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++)
		hl_service_free(list->items[i]);
	free(list->items);
	free(list);
}

static hl_service *read_service(sqlite3_stmt *st)
{
	hl_service *s = hl__calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->id = sqlite3_column_int64(st, 0);
	s->port = sqlite3_column_int(st, 3);
	s->vm_id = sqlite3_column_int64(st, 6);
	if (!hl_db__col_text(st, 1, &s->name) || !hl_db__col_text(st, 2, &s->url) ||
	    !hl_db__col_text(st, 4, &s->protocol) || !hl_db__col_text(st, 5, &s->health_endpoint) ||
	    !hl_db__col_text(st, 7, &s->vm_name) || (!s->name && !(s->name = hl__strdup("")))) {
		hl_service_free(s);
		return NULL;
	}
	return s;
}

static int load_id(hl_service **out, hl_ctx *ctx, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int rc, err;

	if ((err = hl_db__stmt(ctx, &st, SVC_SELECT " WHERE s.rowid = ?1")) < 0)
		return err;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = (*out = read_service(st)) ? 0 : HL_ENOMEM;
	else if (rc == SQLITE_DONE)
		err = hl__err(HL_ENOTFOUND, HL_ERROR_INVENTORY, "service %lld not found", (long long)id);
	else
		err = hl_db__error(ctx, rc, "read service");
	hl_db__release(ctx, st);
	return err;
}

static int service_id(hl_ctx *ctx, const char *ref, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int64_t id = 0;
	int rc, err = 0;

	if (!ref || !*ref)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "service: a name or id is required");
	if (hl__parse_int64(ref, &id)) {
		if ((err = hl_db__stmt(ctx, &st, "SELECT rowid FROM services WHERE rowid = ?1")) < 0)
			return err;
		sqlite3_bind_int64(st, 1, id);
		rc = sqlite3_step(st);
		hl_db__release(ctx, st);
		if (rc == SQLITE_ROW) {
			*out = id;
			return 0;
		}
	}
	if ((err = hl_db__stmt(ctx, &st, "SELECT rowid FROM services WHERE service_name = ?1 COLLATE NOCASE "
	                                    "ORDER BY service_name <> ?1, rowid LIMIT 1")) < 0)
		return err;
	sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		err = hl__err(HL_ENOTFOUND, HL_ERROR_INVENTORY, "service '%.100s' not found", ref);
	else
		err = hl_db__error(ctx, rc, "look up service");
	hl_db__release(ctx, st);
	return err;
}

int hl_service_list(hl_service_array **out, hl_ctx *ctx, const char *vm)
{
	sqlite3_stmt *st = NULL;
	hl_service_array *list = NULL;
	size_t cap = 0;
	int64_t vm_id = 0;
	int rc, err;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_service_list: out and ctx are required");
	*out = NULL;
	if (vm && *vm && (err = hl_inv__vm_id(ctx, vm, &vm_id)) < 0)
		return err;
	if ((err = hl_db__stmt(ctx, &st, vm && *vm ? SVC_SELECT " WHERE s.vm_id = ?1 ORDER BY s.service_name, s.rowid"
	                                               : SVC_SELECT " ORDER BY s.service_name, s.rowid")) < 0)
		return err;
	if (vm && *vm)
		sqlite3_bind_int64(st, 1, vm_id);
	if (!(list = hl__calloc(1, sizeof(*list)))) {
		err = HL_ENOMEM;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		hl_service *s = read_service(st);
		if (!s || hl_inv__push((void ***)&list->items, &list->count, &cap, s) < 0) {
			hl_service_free(s);
			err = HL_ENOMEM;
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		err = hl_db__error(ctx, rc, "list services");
out:
	hl_db__release(ctx, st);
	if (err < 0)
		hl_service_array_free(list);
	else
		*out = list;
	return err;
}

int hl_service_lookup(hl_service **out, hl_ctx *ctx, const char *ref)
{
	int64_t id = 0;
	int err;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_service_lookup: out and ctx are required");
	*out = NULL;
	if ((err = service_id(ctx, ref, &id)) < 0)
		return err;
	return load_id(out, ctx, id);
}

static int check_spec(const hl_service_spec *spec, bool adding)
{
	int err;

	if (!spec || spec->version != HL_SERVICE_SPEC_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_service_spec: missing, or version not supported");
	if ((adding || spec->name) && (err = hl_inv__check_name(spec->name, "name")) < 0)
		return err;
	if ((err = hl_inv__check_text(spec->url, 2048, "url")) < 0 ||
	    (err = hl_inv__check_text(spec->protocol, 32, "protocol")) < 0 ||
	    (err = hl_inv__check_text(spec->health_endpoint, 2048, "health_endpoint")) < 0)
		return err;
	if (spec->url && *spec->url && !strstr(spec->url, "://"))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "url: '%.100s' has no scheme (like http://)", spec->url);
	if (spec->port && !(spec->port == -1 && !adding) && (err = hl_inv__check_port(spec->port, "port")) < 0)
		return err;
	return 0;
}

static int name_free(hl_ctx *ctx, const char *name, int64_t except)
{
	return hl_inv__name_free(ctx, "SELECT rowid FROM services WHERE service_name = ?1 COLLATE NOCASE "
	                                    "AND rowid IS NOT ?2 LIMIT 1", name, except, "service", "id");
}

int hl_service_add(hl_service **out, hl_ctx *ctx, const hl_service_spec *spec)
{
	sqlite3_stmt *st = NULL;
	int64_t vm_id = 0, id;
	int rc, err;

	if (out)
		*out = NULL;
	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_service_add: ctx is required");
	if ((err = check_spec(spec, true)) < 0 || (err = hl_db__writable(ctx, "add a service")) < 0)
		return err;
	if ((err = hl_db__begin_write(ctx)) < 0)
		return err;
	if (spec->vm && *spec->vm && (err = hl_inv__vm_id(ctx, spec->vm, &vm_id)) < 0)
		goto fail;
	if ((err = name_free(ctx, spec->name, 0)) < 0)
		goto fail;
	if ((err = hl_db__stmt(ctx, &st, "INSERT INTO services (service_name, url, port, protocol, "
	                                    "health_endpoint, vm_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, spec->name, -1, SQLITE_STATIC);
	hl_db__bind_text(st, 2, spec->url && *spec->url ? spec->url : NULL);
	if (spec->port > 0)
		sqlite3_bind_int(st, 3, spec->port);
	hl_db__bind_text(st, 4, spec->protocol && *spec->protocol ? spec->protocol : NULL);
	hl_db__bind_text(st, 5, spec->health_endpoint && *spec->health_endpoint ? spec->health_endpoint : NULL);
	if (vm_id)
		sqlite3_bind_int64(st, 6, vm_id);
	rc = sqlite3_step(st);
	hl_db__release(ctx, st);
	if (rc != SQLITE_DONE) {
		err = hl_db__error(ctx, rc, "add service");
		goto fail;
	}
	id = sqlite3_last_insert_rowid(ctx->db);
	if ((err = hl_db__commit(ctx)) < 0)
		return err;
	return out ? load_id(out, ctx, id) : 0;
fail:
	hl_db__rollback(ctx);
	return err;
}

int hl_service_update(hl_service **out, hl_ctx *ctx, const char *ref, const hl_service_spec *spec)
{
	sqlite3_stmt *st = NULL;
	int64_t id, vm_id = 0;
	int rc, err;

	if (out)
		*out = NULL;
	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_service_update: ctx is required");
	if ((err = check_spec(spec, false)) < 0 || (err = hl_db__writable(ctx, "update a service")) < 0)
		return err;
	if ((err = hl_db__begin_write(ctx)) < 0)
		return err;
	if ((err = service_id(ctx, ref, &id)) < 0)
		goto fail;
	if (spec->vm && *spec->vm && (err = hl_inv__vm_id(ctx, spec->vm, &vm_id)) < 0)
		goto fail;
	if (spec->name && (err = name_free(ctx, spec->name, id)) < 0)
		goto fail;
	if ((err = hl_db__stmt(ctx, &st, "UPDATE services SET"
	        " service_name = coalesce(?1, service_name),"
	        " url = CASE WHEN ?2 IS NULL THEN url WHEN ?2 = '' THEN NULL ELSE ?2 END,"
	        " port = CASE WHEN ?3 IS NULL THEN port WHEN ?3 < 0 THEN NULL ELSE ?3 END,"
	        " protocol = CASE WHEN ?4 IS NULL THEN protocol WHEN ?4 = '' THEN NULL ELSE ?4 END,"
	        " health_endpoint = CASE WHEN ?5 IS NULL THEN health_endpoint WHEN ?5 = '' THEN NULL ELSE ?5 END,"
	        " vm_id = CASE WHEN ?6 IS NULL THEN vm_id WHEN ?6 = 0 THEN NULL ELSE ?6 END"
	        " WHERE rowid = ?7")) < 0)
		goto fail;
	hl_db__bind_text(st, 1, spec->name);
	hl_db__bind_text(st, 2, spec->url);
	if (spec->port)
		sqlite3_bind_int(st, 3, spec->port);
	hl_db__bind_text(st, 4, spec->protocol);
	hl_db__bind_text(st, 5, spec->health_endpoint);
	if (spec->vm)
		sqlite3_bind_int64(st, 6, *spec->vm ? vm_id : 0);
	sqlite3_bind_int64(st, 7, id);
	rc = sqlite3_step(st);
	hl_db__release(ctx, st);
	if (rc != SQLITE_DONE) {
		err = hl_db__error(ctx, rc, "update service");
		goto fail;
	}
	if ((err = hl_db__commit(ctx)) < 0)
		return err;
	return out ? load_id(out, ctx, id) : 0;
fail:
	hl_db__rollback(ctx);
	return err;
}

int hl_service_remove(hl_ctx *ctx, const char *ref)
{
	sqlite3_stmt *st = NULL;
	int64_t id = 0;
	int rc, err;

	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_service_remove: ctx is required");
	if ((err = hl_db__writable(ctx, "remove a service")) < 0 || (err = hl_db__begin_write(ctx)) < 0)
		return err;
	if ((err = service_id(ctx, ref, &id)) < 0 || (err = hl_inv__credentials_block(ctx, "service", id, ref, "remove")) < 0)
		goto fail;
	if ((err = hl_db__stmt(ctx, &st, "DELETE FROM services WHERE rowid = ?1")) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	hl_db__release(ctx, st);
	if (rc != SQLITE_DONE) {
		err = hl_db__error(ctx, rc, "remove service");
		goto fail;
	}
	return hl_db__commit(ctx);
fail:
	hl_db__rollback(ctx);
	return err;
}
