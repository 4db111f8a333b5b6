/*
 * ip.c: IP allocations (table network_config), address lookup and atomic
 * allocation of the next free address in a subnet.
 *
 * IPv4 allocations also store their address as an integer (ip_num, indexed)
 * so that a subnet is a range scan: allocating in a /16 with 60k addresses
 * taken reads the taken ones in order once instead of probing each address.
 */
#include "inventory.h"
#include "ipaddr.h"

#include <stdio.h>

#define IP_SELECT "SELECT ip_address, hostname, allocated_to, type FROM network_config"

void hl_ip_alloc_free(hl_ip_alloc *a)
{
	if (!a)
		return;
	free(a->ip);
	free(a->hostname);
	free(a->allocated_to);
	free(a->type);
	free(a);
}

void hl_ip_alloc_array_free(hl_ip_alloc_array *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++)
		hl_ip_alloc_free(list->items[i]);
	free(list->items);
	free(list);
}

void hl_ip_owner_free(hl_ip_owner *o)
{
	if (!o)
		return;
	free(o->ip);
	hl_vm_free(o->vm);
	hl_host_free(o->host);
	hl_ip_alloc_free(o->allocation);
	free(o);
}

static hl_ip_alloc *read_alloc(sqlite3_stmt *st)
{
	hl_ip_alloc *a = hl__calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	if (!hl_db__col_text(st, 0, &a->ip) || !hl_db__col_text(st, 1, &a->hostname) ||
	    !hl_db__col_text(st, 2, &a->allocated_to) || !hl_db__col_text(st, 3, &a->type) ||
	    (!a->ip && !(a->ip = hl__strdup("")))) {
		hl_ip_alloc_free(a);
		return NULL;
	}
	return a;
}

/* The allocation row of a canonical address, or HL_ENOTFOUND (no message set
 * when quiet). */
static int load_alloc(hl_ip_alloc **out, hl_ctx *ctx, const char *ip, bool quiet)
{
	sqlite3_stmt *st = NULL;
	int rc, err;

	*out = NULL;
	if ((err = hl_db__stmt(ctx, &st, IP_SELECT " WHERE ip_address = ?1 LIMIT 1")) < 0)
		return err;
	sqlite3_bind_text(st, 1, ip, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = (*out = read_alloc(st)) ? 0 : HL_ENOMEM;
	else if (rc == SQLITE_DONE)
		err = quiet ? HL_ENOTFOUND : hl__err(HL_ENOTFOUND, HL_ERROR_INVENTORY, "ip %s is not allocated", ip);
	else
		err = hl_db__error(ctx, rc, "look up ip");
	hl_db__release(ctx, st);
	return err;
}

/* First row id of a query with one text parameter, or 0. */
static int64_t find_id(hl_ctx *ctx, const char *sql, const char *ip, int *err)
{
	sqlite3_stmt *st = NULL;
	int64_t id = 0;
	int rc;

	if ((*err = hl_db__stmt(ctx, &st, sql)) < 0)
		return 0;
	sqlite3_bind_text(st, 1, ip, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		*err = hl_db__error(ctx, rc, "look up ip");
	hl_db__release(ctx, st);
	return id;
}

int hl_ip_lookup(hl_ip_owner **out, hl_ctx *ctx, const char *ip)
{
	char canon[HL_IP_STRLEN];
	hl_ip_owner *o = NULL;
	int64_t host_id;
	int err;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_ip_lookup: out and ctx are required");
	*out = NULL;
	if ((err = hl_ip__canonical(ip, canon, "ip")) < 0)
		return err;
	if (!(o = hl__calloc(1, sizeof(*o))) || !(o->ip = hl__strdup(canon))) {
		err = HL_ENOMEM;
		goto out;
	}
	if ((err = hl_vm__load_by_ip(&o->vm, ctx, canon)) < 0)
		goto out;
	host_id = find_id(ctx, "SELECT id FROM proxmox_hosts WHERE ip_address = ?1 ORDER BY id LIMIT 1", canon, &err);
	if (err < 0 || (host_id && (err = hl_host__load_id(&o->host, ctx, host_id)) < 0))
		goto out;
	err = load_alloc(&o->allocation, ctx, canon, true);
	if (err == HL_ENOTFOUND)
		err = 0;
	if (err < 0)
		goto out;
	if (!o->vm && !o->host && !o->allocation)
		err = hl__err(HL_ENOTFOUND, HL_ERROR_INVENTORY, "ip %s is not allocated to any vm, host or "
		              "allocation", canon);
out:
	if (err < 0)
		hl_ip_owner_free(o);
	else
		*out = o;
	return err;
}

int hl_ip_list(hl_ip_alloc_array **out, hl_ctx *ctx, const char *cidr)
{
	sqlite3_stmt *st = NULL;
	hl_ip_alloc_array *list = NULL;
	uint32_t first = 0, last = 0;
	size_t cap = 0;
	int prefix, rc, err;

	if (!out || !ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_ip_list: out and ctx are required");
	*out = NULL;
	if (cidr && *cidr && (err = hl_ip__parse_cidr(cidr, &first, &last, &prefix)) < 0)
		return err;
	if (cidr && *cidr)
		err = hl_db__stmt(ctx, &st, ctx->has_ext_columns
			? IP_SELECT " WHERE ip_num BETWEEN ?1 AND ?2 ORDER BY ip_num"
			: IP_SELECT " WHERE hl_ipv4_num(ip_address) BETWEEN ?1 AND ?2 ORDER BY hl_ipv4_num(ip_address)");
	else
		err = hl_db__stmt(ctx, &st, ctx->has_ext_columns ? IP_SELECT " ORDER BY ip_num, ip_address"
		                                                    : IP_SELECT " ORDER BY hl_ipv4_num(ip_address), ip_address");
	if (err < 0)
		return err;
	sqlite3_bind_int64(st, 1, first);
	sqlite3_bind_int64(st, 2, last);
	if (!(list = hl__calloc(1, sizeof(*list)))) {
		err = HL_ENOMEM;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		hl_ip_alloc *a = read_alloc(st);
		if (!a || hl_inv__push((void ***)&list->items, &list->count, &cap, a) < 0) {
			hl_ip_alloc_free(a);
			err = HL_ENOMEM;
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		err = hl_db__error(ctx, rc, "list ips");
out:
	hl_db__release(ctx, st);
	if (err < 0)
		hl_ip_alloc_array_free(list);
	else
		*out = list;
	return err;
}

static int check_spec(const hl_ip_spec *spec)
{
	int err;

	if (!spec || spec->version != HL_IP_SPEC_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_ip_spec: missing, or version not supported");
	if ((err = hl_inv__check_text(spec->hostname, 253, "hostname")) < 0 ||
	    (err = hl_inv__check_text(spec->allocated_to, 128, "allocated_to")) < 0 ||
	    (err = hl_inv__check_text(spec->type, 32, "type")) < 0)
		return err;
	return 0;
}

/* Insert an allocation row; the caller holds the write transaction. */
static int insert_alloc(hl_ctx *ctx, const char *ip, const hl_ip_spec *spec)
{
	sqlite3_stmt *st = NULL;
	uint32_t v4;
	int rc, err;

	if ((err = hl_db__stmt(ctx, &st, "INSERT INTO network_config (ip_address, hostname, allocated_to, type, "
	                                    "ip_num) VALUES (?1, ?2, ?3, ?4, ?5)")) < 0)
		return err;
	sqlite3_bind_text(st, 1, ip, -1, SQLITE_STATIC);
	hl_db__bind_text(st, 2, spec->hostname && *spec->hostname ? spec->hostname : NULL);
	hl_db__bind_text(st, 3, spec->allocated_to && *spec->allocated_to ? spec->allocated_to : NULL);
	sqlite3_bind_text(st, 4, spec->type && *spec->type ? spec->type : "static", -1, SQLITE_STATIC);
	if (hl_ip__parse_v4(ip, &v4))
		sqlite3_bind_int64(st, 5, v4);
	rc = sqlite3_step(st);
	hl_db__release(ctx, st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		return hl__err(HL_EEXISTS, HL_ERROR_INVENTORY, "ip %s is already allocated", ip);
	return rc == SQLITE_DONE ? 0 : hl_db__error(ctx, rc, "add ip allocation");
}

int hl_ip_add(hl_ip_alloc **out, hl_ctx *ctx, const hl_ip_spec *spec)
{
	char ip[HL_IP_STRLEN];
	hl_ip_alloc *old = NULL;
	int err;

	if (out)
		*out = NULL;
	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_ip_add: ctx is required");
	if ((err = check_spec(spec)) < 0 || (err = hl_ip__canonical(spec->ip, ip, "ip")) < 0 ||
	    (err = hl_db__writable(ctx, "add an ip allocation")) < 0)
		return err;
	if ((err = hl_db__begin_write(ctx)) < 0)
		return err;
	err = load_alloc(&old, ctx, ip, true);
	if (err == 0) {
		err = hl__err(HL_EEXISTS, HL_ERROR_INVENTORY, "ip %s is already allocated%s%s", ip,
		              old->allocated_to ? " to " : "", old->allocated_to ? old->allocated_to : "");
		hl_ip_alloc_free(old);
		goto fail;
	}
	if (err != HL_ENOTFOUND || (err = insert_alloc(ctx, ip, spec)) < 0)
		goto fail;
	if ((err = hl_db__commit(ctx)) < 0)
		return err;
	return out ? load_alloc(out, ctx, ip, false) : 0;
fail:
	hl_db__rollback(ctx);
	return err;
}

int hl_ip_update(hl_ip_alloc **out, hl_ctx *ctx, const char *ip, const hl_ip_spec *spec)
{
	char canon[HL_IP_STRLEN];
	sqlite3_stmt *st = NULL;
	int rc, err;

	if (out)
		*out = NULL;
	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_ip_update: ctx is required");
	if ((err = check_spec(spec)) < 0 || (err = hl_ip__canonical(ip, canon, "ip")) < 0 ||
	    (err = hl_db__writable(ctx, "update an ip allocation")) < 0)
		return err;
	if ((err = hl_db__begin_write(ctx)) < 0)
		return err;
	if ((err = hl_db__stmt(ctx, &st, "UPDATE network_config SET"
	        " hostname = CASE WHEN ?1 IS NULL THEN hostname WHEN ?1 = '' THEN NULL ELSE ?1 END,"
	        " allocated_to = CASE WHEN ?2 IS NULL THEN allocated_to WHEN ?2 = '' THEN NULL ELSE ?2 END,"
	        " type = CASE WHEN ?3 IS NULL THEN type WHEN ?3 = '' THEN NULL ELSE ?3 END"
	        " WHERE ip_address = ?4")) < 0)
		goto fail;
	hl_db__bind_text(st, 1, spec->hostname);
	hl_db__bind_text(st, 2, spec->allocated_to);
	hl_db__bind_text(st, 3, spec->type);
	sqlite3_bind_text(st, 4, canon, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	hl_db__release(ctx, st);
	if (rc != SQLITE_DONE) {
		err = hl_db__error(ctx, rc, "update ip allocation");
		goto fail;
	}
	if (sqlite3_changes(ctx->db) == 0) {
		err = hl__err(HL_ENOTFOUND, HL_ERROR_INVENTORY, "ip %s is not allocated", canon);
		goto fail;
	}
	if ((err = hl_db__commit(ctx)) < 0)
		return err;
	return out ? load_alloc(out, ctx, canon, false) : 0;
fail:
	hl_db__rollback(ctx);
	return err;
}

/* Is a candidate address held by a VM or host (allocations are checked by
 * the caller's range scan)? */
static bool held_elsewhere(hl_ctx *ctx, uint32_t v)
{
	char ip[HL_IP_STRLEN], who[128];

	hl_ip__format_v4(v, ip);
	return hl_inv__ip_holder(ctx, ip, 0, 0, who, sizeof(who));
}

int hl_ip_allocate(hl_ip_alloc **out, hl_ctx *ctx, const char *cidr, const hl_ip_spec *spec)
{
	char ip[HL_IP_STRLEN];
	sqlite3_stmt *st = NULL;
	uint32_t first, last, lo, hi;
	int64_t cand;
	bool found = false;
	int prefix, rc, err;

	if (out)
		*out = NULL;
	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_ip_allocate: ctx is required");
	if ((err = check_spec(spec)) < 0 || (err = hl_ip__parse_cidr(cidr, &first, &last, &prefix)) < 0 ||
	    (err = hl_db__writable(ctx, "allocate an ip")) < 0)
		return err;
	/* Network and broadcast addresses are not hosts (RFC 3021 /31 and /32 excepted). */
	lo = prefix <= 30 ? first + 1 : first;
	hi = prefix <= 30 ? last - 1 : last;

	/* The write lock is taken before reading, so no other allocator can
	 * pick the same address between our scan and our insert. */
	if ((err = hl_db__begin_write(ctx)) < 0)
		return err;
	if ((err = hl_db__stmt(ctx, &st, "SELECT ip_num FROM network_config WHERE ip_num BETWEEN ?1 AND ?2 "
	                                    "ORDER BY ip_num")) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	cand = lo;
	while (!found && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t taken = sqlite3_column_int64(st, 0);
		for (; cand < taken; cand++)
			if (!held_elsewhere(ctx, (uint32_t)cand)) {
				found = true;
				break;
			}
		if (!found && cand == taken)
			cand++;
	}
	if (!found && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		err = hl_db__error(ctx, rc, "scan subnet");
		goto fail;
	}
	for (; !found && cand <= (int64_t)hi; cand++)
		if (!held_elsewhere(ctx, (uint32_t)cand)) {
			found = true;
			break;
		}
	hl_db__release(ctx, st);
	st = NULL;
	if (!found) {
		err = hl__err(HL_EFULL, HL_ERROR_INVENTORY, "subnet %s has no free address", cidr);
		goto fail;
	}
	hl_ip__format_v4((uint32_t)cand, ip);
	if ((err = insert_alloc(ctx, ip, spec)) < 0 || (err = hl_db__commit(ctx)) < 0)
		goto fail;
	return out ? load_alloc(out, ctx, ip, false) : 0;
fail:
	hl_db__release(ctx, st);
	hl_db__rollback(ctx);
	return err;
}

int hl_ip_release(hl_ctx *ctx, const char *ip)
{
	char canon[HL_IP_STRLEN];
	sqlite3_stmt *st = NULL;
	int rc, err;

	if (!ctx)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_ip_release: ctx is required");
	if ((err = hl_ip__canonical(ip, canon, "ip")) < 0 || (err = hl_db__writable(ctx, "release an ip")) < 0)
		return err;
	if ((err = hl_db__stmt(ctx, &st, "DELETE FROM network_config WHERE ip_address = ?1")) < 0)
		return err;
	sqlite3_bind_text(st, 1, canon, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	hl_db__release(ctx, st);
	if (rc != SQLITE_DONE)
		return hl_db__error(ctx, rc, "release ip");
	if (sqlite3_changes(ctx->db) == 0)
		return hl__err(HL_ENOTFOUND, HL_ERROR_INVENTORY, "ip %s is not allocated", canon);
	return 0;
}
