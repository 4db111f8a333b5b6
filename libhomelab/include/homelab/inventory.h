/*
 * homelab/inventory.h: VMs, Proxmox hosts, services and IP allocations.
 *
 * Records are returned as library-allocated structs: read their fields, free
 * them with the matching hl_*_free(). Never allocate or copy these structs
 * yourself; fields are only ever added at the end. Strings inside a record
 * are owned by it; a field the database leaves empty is NULL (strings) or 0.
 *
 * A reference to a VM, host or service ("ref") is its name or its numeric
 * id: "harbor" or "101". A string of digits is tried as an id first.
 */
#ifndef HOMELAB_INVENTORY_H
#define HOMELAB_INVENTORY_H

#include "common.h"
#include "ctx.h"

HL_BEGIN_DECL

/* ---------------------------------------------------------------- VMs --- */

/** A virtual machine (table virtual_machines). */
typedef struct hl_vm {
	int64_t vm_id;          /**< the Proxmox VMID */
	char *name;
	char *ip;               /**< NULL when none recorded */
	char *status;           /**< "running", "stopped", ...; NULL when unknown */
	int64_t host_id;        /**< 0 when not placed on a host */
	char *host_name;        /**< the host's node_name, NULL when none */
	char *ssh_user;         /**< NULL: the default */
	int ssh_port;           /**< 0: the default (22) */
} hl_vm;

typedef struct hl_vm_array {
	size_t count;
	hl_vm **items;
} hl_vm_array;

typedef struct {
	unsigned int version;
	const char *status; /**< only VMs with this status; NULL: all */
	const char *host;   /**< only VMs on this host (node_name or id); NULL: all */
} hl_vm_filter;

#define HL_VM_FILTER_VERSION 1
#define HL_VM_FILTER_INIT { .version = HL_VM_FILTER_VERSION }

/** Fields for hl_vm_add() and hl_vm_update(). In an update, NULL / 0 leaves a field as it is. */
typedef struct {
	unsigned int version;
	int64_t vm_id;        /**< add: 0 picks the next free VMID (>= 100) */
	const char *name;     /**< add: required */
	const char *ip;       /**< "" clears it in an update */
	const char *status;   /**< add: NULL means "unknown" */
	const char *host;     /**< node_name or id; "" clears it in an update */
	const char *ssh_user; /**< "" clears it in an update */
	int ssh_port;         /**< 1..65535; -1 clears it in an update */
} hl_vm_spec;

#define HL_VM_SPEC_VERSION 1
#define HL_VM_SPEC_INIT { .version = HL_VM_SPEC_VERSION }

/**
 * List VMs, ordered by vm_id.
 * @param[out] out  the list; free with hl_vm_array_free()
 * @param filter    NULL for all VMs
 * @return 0, HL_ENOTFOUND if filter->host names no host, HL_EINVALID
 */
HL_EXTERN(int) hl_vm_list(hl_vm_array **out, hl_ctx *ctx, const hl_vm_filter *filter);

/**
 * Find one VM by name or vm_id.
 * @return 0 or HL_ENOTFOUND
 */
HL_EXTERN(int) hl_vm_lookup(hl_vm **out, hl_ctx *ctx, const char *ref);

/**
 * Add a VM.
 * @param[out] out  the VM as stored (may be NULL)
 * @return 0, HL_EEXISTS (name or vm_id taken), HL_ENOTFOUND (no such host),
 *         HL_EINVALID (bad name, IP, port), HL_EREADONLY
 */
HL_EXTERN(int) hl_vm_add(hl_vm **out, hl_ctx *ctx, const hl_vm_spec *spec);

/** Change a VM's fields. @return 0, HL_ENOTFOUND, HL_EEXISTS, HL_EINVALID, HL_EREADONLY */
HL_EXTERN(int) hl_vm_update(hl_vm **out, hl_ctx *ctx, const char *ref, const hl_vm_spec *spec);

/** hl_vm_remove() and hl_host_remove() flags */
enum {
	HL_REMOVE_CASCADE = 1u << 0 /**< also remove what refers to it (a VM's services) */
};

/**
 * Remove a VM. Without HL_REMOVE_CASCADE a VM that still has services is
 * refused with HL_EINUSE; with it, its services go too.
 */
HL_EXTERN(int) hl_vm_remove(hl_ctx *ctx, const char *ref, unsigned int flags);

HL_EXTERN(void) hl_vm_free(hl_vm *vm);
HL_EXTERN(void) hl_vm_array_free(hl_vm_array *list);

/* -------------------------------------------------------------- hosts --- */

/** A Proxmox host (table proxmox_hosts). */
typedef struct hl_host {
	int64_t id;
	char *name;        /**< node_name */
	char *ip;          /**< ip_address; NULL when none */
	int64_t vm_count;  /**< VMs placed on this host */
} hl_host;

typedef struct hl_host_array {
	size_t count;
	hl_host **items;
} hl_host_array;

typedef struct {
	unsigned int version;
	int64_t id;        /**< add: 0 picks the next id */
	const char *name;  /**< add: required */
	const char *ip;    /**< "" clears it in an update */
} hl_host_spec;

#define HL_HOST_SPEC_VERSION 1
#define HL_HOST_SPEC_INIT { .version = HL_HOST_SPEC_VERSION }

HL_EXTERN(int) hl_host_list(hl_host_array **out, hl_ctx *ctx);
HL_EXTERN(int) hl_host_lookup(hl_host **out, hl_ctx *ctx, const char *ref);
HL_EXTERN(int) hl_host_add(hl_host **out, hl_ctx *ctx, const hl_host_spec *spec);
HL_EXTERN(int) hl_host_update(hl_host **out, hl_ctx *ctx, const char *ref, const hl_host_spec *spec);
/** Remove a host. A host with VMs is refused with HL_EINUSE (no cascade: VMs are never removed implicitly). */
HL_EXTERN(int) hl_host_remove(hl_ctx *ctx, const char *ref);
HL_EXTERN(void) hl_host_free(hl_host *host);
HL_EXTERN(void) hl_host_array_free(hl_host_array *list);

/* ----------------------------------------------------------- services --- */

/** A service (table services). */
typedef struct hl_service {
	int64_t id;              /**< the row id */
	char *name;              /**< service_name */
	char *url;               /**< NULL when none */
	int port;                /**< 0 when none */
	char *protocol;          /**< "http", "https", "tcp", ...; NULL when none */
	char *health_endpoint;   /**< path or URL probed by the health check; NULL when none */
	int64_t vm_id;           /**< 0 when not bound to a VM */
	char *vm_name;           /**< NULL when not bound to a VM */
} hl_service;

typedef struct hl_service_array {
	size_t count;
	hl_service **items;
} hl_service_array;

typedef struct {
	unsigned int version;
	const char *name;            /**< add: required */
	const char *url;
	int port;                    /**< 1..65535; -1 clears it in an update */
	const char *protocol;
	const char *health_endpoint;
	const char *vm;              /**< VM name or vm_id; "" unbinds in an update */
} hl_service_spec;

#define HL_SERVICE_SPEC_VERSION 1
#define HL_SERVICE_SPEC_INIT { .version = HL_SERVICE_SPEC_VERSION }

/** List services ordered by name; vm (name or vm_id) may be NULL for all. */
HL_EXTERN(int) hl_service_list(hl_service_array **out, hl_ctx *ctx, const char *vm);
HL_EXTERN(int) hl_service_lookup(hl_service **out, hl_ctx *ctx, const char *ref);
HL_EXTERN(int) hl_service_add(hl_service **out, hl_ctx *ctx, const hl_service_spec *spec);
HL_EXTERN(int) hl_service_update(hl_service **out, hl_ctx *ctx, const char *ref, const hl_service_spec *spec);
HL_EXTERN(int) hl_service_remove(hl_ctx *ctx, const char *ref);
HL_EXTERN(void) hl_service_free(hl_service *svc);
HL_EXTERN(void) hl_service_array_free(hl_service_array *list);

/* ------------------------------------------------------ IP addresses --- */

/** An IP allocation (table network_config). */
typedef struct hl_ip_alloc {
	char *ip;            /**< ip_address, in canonical form */
	char *hostname;      /**< NULL when none */
	char *allocated_to;  /**< NULL when none */
	char *type;          /**< "static", "dhcp", "reserved", ...; NULL when none */
} hl_ip_alloc;

typedef struct hl_ip_alloc_array {
	size_t count;
	hl_ip_alloc **items;
} hl_ip_alloc_array;

typedef struct {
	unsigned int version;
	const char *ip;           /**< add: required */
	const char *hostname;
	const char *allocated_to;
	const char *type;         /**< add: NULL means "static" */
} hl_ip_spec;

#define HL_IP_SPEC_VERSION 1
#define HL_IP_SPEC_INIT { .version = HL_IP_SPEC_VERSION }

/** Who holds an address: any of the three may be set, at least one is. */
typedef struct hl_ip_owner {
	char *ip;                 /**< the address looked up, canonical */
	hl_vm *vm;                /**< the VM with this ip, or NULL */
	hl_host *host;            /**< the host with this ip_address, or NULL */
	hl_ip_alloc *allocation;  /**< the network_config row, or NULL */
} hl_ip_owner;

/**
 * Which VM, host or allocation holds an address.
 * @return 0, HL_EINVALID (not an IPv4/IPv6 address), HL_ENOTFOUND (nobody holds it)
 */
HL_EXTERN(int) hl_ip_lookup(hl_ip_owner **out, hl_ctx *ctx, const char *ip);

/** List allocations in address order; cidr ("127.0.1.0/24") may be NULL for all. */
HL_EXTERN(int) hl_ip_list(hl_ip_alloc_array **out, hl_ctx *ctx, const char *cidr);

/** Record an allocation of a given address. @return 0, HL_EEXISTS, HL_EINVALID, HL_EREADONLY */
HL_EXTERN(int) hl_ip_add(hl_ip_alloc **out, hl_ctx *ctx, const hl_ip_spec *spec);

/** Change an allocation's hostname, allocated_to or type (spec->ip is ignored). */
HL_EXTERN(int) hl_ip_update(hl_ip_alloc **out, hl_ctx *ctx, const char *ip, const hl_ip_spec *spec);

/**
 * Allocate the lowest free IPv4 address of a subnet, atomically: concurrent
 * allocators (threads or processes) never receive the same address. An
 * address is free when no allocation, VM or host holds it; the network and
 * broadcast addresses of subnets larger than /31 are never handed out.
 *
 * @param spec  hostname, allocated_to and type of the new row (spec->ip is ignored)
 * @return 0, HL_EINVALID (bad CIDR), HL_EFULL (no free address), HL_EREADONLY, HL_EBUSY
 */
HL_EXTERN(int) hl_ip_allocate(hl_ip_alloc **out, hl_ctx *ctx, const char *cidr, const hl_ip_spec *spec);

/** Remove an allocation. @return 0, HL_ENOTFOUND, HL_EINVALID, HL_EREADONLY */
HL_EXTERN(int) hl_ip_release(hl_ctx *ctx, const char *ip);

HL_EXTERN(void) hl_ip_alloc_free(hl_ip_alloc *alloc);
HL_EXTERN(void) hl_ip_alloc_array_free(hl_ip_alloc_array *list);
HL_EXTERN(void) hl_ip_owner_free(hl_ip_owner *owner);

/* --------------------------------------------------------------- demo --- */

/**
 * Fill an empty inventory with the demo homelab: the Proxmox host "pve",
 * the VMs "harbor" and "whisper", Open WebUI, Ollama and MCP services and
 * their IP allocations, all on 127.0.1.0/24 (loopback only).
 * @return 0, HL_EEXISTS if the inventory already has VMs or hosts, HL_EREADONLY
 */
HL_EXTERN(int) hl_inventory_load_demo(hl_ctx *ctx);

HL_END_DECL

#endif
