/*
 * tools_inventory.c: the inventory tools (VMs, hosts, services, IPs).
 * Each handler reads its validated arguments, calls the public inventory
 * API and writes the JSON object its output schema in tools.def describes.
 */
#include "registry.h"
#include "inventory.h"

#include <stdio.h>

/* The members of a VM object, without its braces (get_vm adds its own). */
static void write_vm_fields(hl_jw *w, const hl_vm *vm)
{
	hl_jw__kint(w, "vm_id", vm->vm_id);
	hl_jw__kstr(w, "name", vm->name);
	hl_jw__kstr(w, "ip", vm->ip);
	hl_jw__kstr(w, "status", vm->status);
	hl_jw__kint_or_null(w, "host_id", vm->host_id);
	hl_jw__kstr(w, "host", vm->host_name);
	hl_jw__kstr(w, "ssh_user", vm->ssh_user);
	hl_jw__kint_or_null(w, "ssh_port", vm->ssh_port);
}

void hl_tool__write_vm(hl_jw *w, const hl_vm *vm)
{
	hl_jw__obj(w);
	write_vm_fields(w, vm);
	hl_jw__end_obj(w);
}

void hl_tool__write_host(hl_jw *w, const hl_host *h)
{
	hl_jw__obj(w);
	hl_jw__kint(w, "id", h->id);
	hl_jw__kstr(w, "node_name", h->name);
	hl_jw__kstr(w, "ip_address", h->ip);
	hl_jw__kint(w, "vm_count", h->vm_count);
	hl_jw__end_obj(w);
}

void hl_tool__write_service(hl_jw *w, const hl_service *s)
{
	hl_jw__obj(w);
	hl_jw__kint(w, "id", s->id);
	hl_jw__kstr(w, "service_name", s->name);
	hl_jw__kstr(w, "url", s->url);
	hl_jw__kint_or_null(w, "port", s->port);
	hl_jw__kstr(w, "protocol", s->protocol);
	hl_jw__kstr(w, "health_endpoint", s->health_endpoint);
	hl_jw__kint_or_null(w, "vm_id", s->vm_id);
	hl_jw__kstr(w, "vm_name", s->vm_name);
	hl_jw__end_obj(w);
}

void hl_tool__write_alloc(hl_jw *w, const hl_ip_alloc *a)
{
	hl_jw__obj(w);
	hl_jw__kstr(w, "ip_address", a->ip);
	hl_jw__kstr(w, "hostname", a->hostname);
	hl_jw__kstr(w, "allocated_to", a->allocated_to);
	hl_jw__kstr(w, "type", a->type);
	hl_jw__end_obj(w);
}

/* {"<key>": [items...], "count": n} from an array of records. */
static int write_list(hl_buf *out, const char *key, void **items, size_t n,
                      void (*write)(hl_jw *, const void *))
{
	hl_jw w;

	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	hl_jw__key(&w, key);
	hl_jw__arr(&w);
	for (size_t i = 0; i < n && w.err == 0; i++)
		write(&w, items[i]);
	hl_jw__end_arr(&w);
	hl_jw__kint(&w, "count", (int64_t)n);
	hl_jw__end_obj(&w);
	return hl_jw__finish(&w);
}

static void write_vm_v(hl_jw *w, const void *p) { hl_tool__write_vm(w, p); }
static void write_host_v(hl_jw *w, const void *p) { hl_tool__write_host(w, p); }
static void write_service_v(hl_jw *w, const void *p) { hl_tool__write_service(w, p); }
static void write_alloc_v(hl_jw *w, const void *p) { hl_tool__write_alloc(w, p); }

/* A reference from an integer id argument or a name argument; exactly one. */
static int ref_arg(char *buf, size_t n, struct json_object *args, const char *id_key, const char *name_key)
{
	int64_t id;
	bool has_id = hl_json__get_int(args, id_key, &id);
	const char *name = hl_json__get_str(args, name_key);

	if (has_id && name)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s, %s: give one of them, not both", id_key, name_key);
	if (!has_id && !name)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s or %s: one of them is required", id_key, name_key);
	if (has_id)
		snprintf(buf, n, "%lld", (long long)id);
	else
		snprintf(buf, n, "%s", name);
	return 0;
}

int hl_tool__homelab_list_vms(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	hl_vm_filter filter = HL_VM_FILTER_INIT;
	hl_vm_array *list = NULL;
	int err;

	(void)opts;
	filter.status = hl_json__get_str(args, "status");
	filter.host = hl_json__get_str(args, "host");
	if ((err = hl_vm_list(&list, ctx, &filter)) < 0)
		return err;
	err = write_list(out, "vms", (void **)list->items, list->count, write_vm_v);
	hl_vm_array_free(list);
	return err;
}

int hl_tool__homelab_get_vm(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	char ref[80];
	hl_vm *vm = NULL;
	hl_service_array *svcs = NULL;
	hl_jw w;
	int err;

	(void)opts;
	if ((err = ref_arg(ref, sizeof(ref), args, "vm_id", "name")) < 0 || (err = hl_vm_lookup(&vm, ctx, ref)) < 0)
		return err;
	snprintf(ref, sizeof(ref), "%lld", (long long)vm->vm_id);
	if ((err = hl_service_list(&svcs, ctx, ref)) < 0)
		goto out;
	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	write_vm_fields(&w, vm);
	hl_jw__key(&w, "services");
	hl_jw__arr(&w);
	for (size_t i = 0; i < svcs->count; i++)
		hl_tool__write_service(&w, svcs->items[i]);
	hl_jw__end_arr(&w);
	hl_jw__end_obj(&w);
	err = hl_jw__finish(&w);
out:
	hl_vm_free(vm);
	hl_service_array_free(svcs);
	return err;
}

int hl_tool__homelab_list_hosts(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	hl_host_array *list = NULL;
	int err;

	(void)args;
	(void)opts;
	if ((err = hl_host_list(&list, ctx)) < 0)
		return err;
	err = write_list(out, "hosts", (void **)list->items, list->count, write_host_v);
	hl_host_array_free(list);
	return err;
}

int hl_tool__homelab_get_host(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	char ref[80];
	hl_host *h = NULL;
	hl_vm_array *vms = NULL;
	hl_vm_filter filter = HL_VM_FILTER_INIT;
	hl_jw w;
	int err;

	(void)opts;
	if ((err = ref_arg(ref, sizeof(ref), args, "host_id", "name")) < 0 || (err = hl_host_lookup(&h, ctx, ref)) < 0)
		return err;
	snprintf(ref, sizeof(ref), "%lld", (long long)h->id);
	filter.host = ref;
	if ((err = hl_vm_list(&vms, ctx, &filter)) < 0)
		goto out;
	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	hl_jw__kint(&w, "id", h->id);
	hl_jw__kstr(&w, "node_name", h->name);
	hl_jw__kstr(&w, "ip_address", h->ip);
	hl_jw__kint(&w, "vm_count", h->vm_count);
	hl_jw__key(&w, "vms");
	hl_jw__arr(&w);
	for (size_t i = 0; i < vms->count; i++)
		hl_tool__write_vm(&w, vms->items[i]);
	hl_jw__end_arr(&w);
	hl_jw__end_obj(&w);
	err = hl_jw__finish(&w);
out:
	hl_host_free(h);
	hl_vm_array_free(vms);
	return err;
}

/* The "vm_id" argument (an integer, or a VM's name) as a reference; NULL if absent. */
static const char *vm_ref(struct json_object *args, char *num, size_t len)
{
	struct json_object *vm;

	if (!json_object_object_get_ex(args, "vm_id", &vm))
		return NULL;
	if (json_object_is_type(vm, json_type_string))
		return json_object_get_string(vm);
	snprintf(num, len, "%lld", (long long)json_object_get_int64(vm));
	return num;
}

int hl_tool__homelab_list_services(hl_buf *out, hl_ctx *ctx, struct json_object *args,
                                   const hl_call_options *opts)
{
	hl_service_array *list = NULL;
	char num[32];
	int err;

	(void)opts;
	if ((err = hl_service_list(&list, ctx, vm_ref(args, num, sizeof(num)))) < 0)
		return err;
	err = write_list(out, "services", (void **)list->items, list->count, write_service_v);
	hl_service_array_free(list);
	return err;
}

int hl_tool__homelab_get_service(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	hl_service *s = NULL;
	hl_jw w;
	int err;

	(void)opts;
	if ((err = hl_service_lookup(&s, ctx, hl_json__get_str(args, "name"))) < 0)
		return err;
	hl_jw__init(&w, out);
	hl_tool__write_service(&w, s);
	hl_service_free(s);
	return hl_jw__finish(&w);
}

int hl_tool__homelab_lookup_ip(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	hl_ip_owner *own = NULL;
	hl_jw w;
	int err;

	(void)opts;
	if ((err = hl_ip_lookup(&own, ctx, hl_json__get_str(args, "ip"))) < 0)
		return err;
	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	hl_jw__kstr(&w, "ip", own->ip);
	hl_jw__key(&w, "held_by");
	hl_jw__arr(&w);
	if (own->vm)
		hl_jw__str(&w, "vm");
	if (own->host)
		hl_jw__str(&w, "host");
	if (own->allocation)
		hl_jw__str(&w, "allocation");
	hl_jw__end_arr(&w);
	if (own->vm) {
		hl_jw__key(&w, "vm");
		hl_tool__write_vm(&w, own->vm);
	}
	if (own->host) {
		hl_jw__key(&w, "host");
		hl_tool__write_host(&w, own->host);
	}
	if (own->allocation) {
		hl_jw__key(&w, "allocation");
		hl_tool__write_alloc(&w, own->allocation);
	}
	hl_jw__end_obj(&w);
	hl_ip_owner_free(own);
	return hl_jw__finish(&w);
}

int hl_tool__homelab_list_ips(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	hl_ip_alloc_array *list = NULL;
	int err;

	(void)opts;
	if ((err = hl_ip_list(&list, ctx, hl_json__get_str(args, "subnet"))) < 0)
		return err;
	err = write_list(out, "allocations", (void **)list->items, list->count, write_alloc_v);
	hl_ip_alloc_array_free(list);
	return err;
}

int hl_tool__homelab_allocate_ip(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	hl_ip_spec spec = HL_IP_SPEC_INIT;
	hl_ip_alloc *a = NULL;
	hl_jw w;
	int err;

	(void)opts;
	spec.allocated_to = hl_json__get_str(args, "allocated_to");
	spec.hostname = hl_json__get_str(args, "hostname");
	if (!spec.hostname)
		spec.hostname = spec.allocated_to;
	spec.type = hl_json__get_str(args, "type");
	if ((err = hl_ip_allocate(&a, ctx, hl_json__get_str(args, "subnet"), &spec)) < 0)
		return err;
	hl_jw__init(&w, out);
	hl_tool__write_alloc(&w, a);
	hl_ip_alloc_free(a);
	return hl_jw__finish(&w);
}

