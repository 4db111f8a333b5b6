/*
 * inventory.h: helpers shared by vm.c, host.c, service.c and ip.c.
 */
#ifndef HL_INVENTORY_PRIVATE_H
#define HL_INVENTORY_PRIVATE_H

#include "db.h"

/* Names of VMs, hosts and services: 1-64 of [A-Za-z0-9._-], not all digits
 * (a string of digits is an id). HL_EINVALID naming `what` otherwise. */
int hl_inv__check_name(const char *name, const char *what);
/* A status word: 1-32 of [a-z0-9_-]. */
int hl_inv__check_status(const char *status);
/* A port: 1..65535. */
int hl_inv__check_port(int port, const char *what);
/* Free-text fields (url, protocol, ...): at most max bytes, no control characters. */
int hl_inv__check_text(const char *s, size_t max, const char *what);

/* Resolve references to ids. HL_ENOTFOUND with a message naming ref. */
int hl_inv__host_id(hl_ctx *ctx, const char *ref, int64_t *out);
int hl_inv__vm_id(hl_ctx *ctx, const char *ref, int64_t *out);

/* Who other than the given VM / host already holds ip? Writes a description
 * ("vm harbor") into who and returns true when someone does. */
bool hl_inv__ip_holder(hl_ctx *ctx, const char *ip, int64_t except_vm, int64_t except_host,
                       char *who, size_t who_len);

/* Refuse a name another row already has (case-insensitively). sql selects
 * the id of a row with name ?1 other than id ?2; what names the kind of row
 * in the message ("vm 'x' already exists (vm_id 101)"). */
int hl_inv__name_free(hl_ctx *ctx, const char *sql, const char *name, int64_t except, const char *what,
                      const char *id_name);

/* Credentials are bound to their target's id (and the id is in the
 * ciphertext's associated data): refuse to remove or renumber a VM, host
 * or service that has some, with HL_EINUSE and a message saying how to
 * remove them. A VM's services' credentials count as the VM's. */
int hl_inv__credentials_block(hl_ctx *ctx, const char *type, int64_t id, const char *name, const char *action);

/* Grow a pointer array by one slot. */
int hl_inv__push(void ***items, size_t *count, size_t *cap, void *item);

/* Read the row helpers used by lookups of the IP owner. */
int hl_vm__load_id(hl_vm **out, hl_ctx *ctx, int64_t vm_id);
/* The VM with address ip (canonical; the lowest vm_id if several), *out NULL
 * when none. */
int hl_vm__load_by_ip(hl_vm **out, hl_ctx *ctx, const char *ip);
int hl_host__load_id(hl_host **out, hl_ctx *ctx, int64_t id);

/* Probe one service (hl_health_check without the lookup); timeout_ms >= 0.
 * HL_EINVALID when it has no URL to probe. */
int hl_health__probe(hl_health **out, hl_ctx *ctx, const hl_service *s, int timeout_ms);

#endif
