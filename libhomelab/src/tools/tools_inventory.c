/*
 * tools_inventory.c: the inventory tools (VMs, hosts, services, IPs).
 * Each handler reads its validated arguments, calls the public inventory
 * API and builds the JSON object its output schema in tools.def describes.
 */
#include "registry.h"

#include <stdio.h>

struct json_object *hl_tool__vm_json(const hl_vm *vm)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (hl_json__put_int(o, "vm_id", vm->vm_id) < 0 || hl_json__put_str(o, "name", vm->name) < 0 ||
	    hl_json__put_str(o, "ip", vm->ip) < 0 || hl_json__put_str(o, "status", vm->status) < 0 ||
	    hl_json__put_int_or_null(o, "host_id", vm->host_id) < 0 || hl_json__put_str(o, "host", vm->host_name) < 0 ||
	    hl_json__put_str(o, "ssh_user", vm->ssh_user) < 0 ||
	    hl_json__put_int_or_null(o, "ssh_port", vm->ssh_port) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct json_object *hl_tool__host_json(const hl_host *h)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (hl_json__put_int(o, "id", h->id) < 0 || hl_json__put_str(o, "node_name", h->name) < 0 ||
	    hl_json__put_str(o, "ip_address", h->ip) < 0 || hl_json__put_int(o, "vm_count", h->vm_count) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct json_object *hl_tool__service_json(const hl_service *s)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (hl_json__put_int(o, "id", s->id) < 0 || hl_json__put_str(o, "service_name", s->name) < 0 ||
	    hl_json__put_str(o, "url", s->url) < 0 || hl_json__put_int_or_null(o, "port", s->port) < 0 ||
	    hl_json__put_str(o, "protocol", s->protocol) < 0 ||
	    hl_json__put_str(o, "health_endpoint", s->health_endpoint) < 0 ||
	    hl_json__put_int_or_null(o, "vm_id", s->vm_id) < 0 || hl_json__put_str(o, "vm_name", s->vm_name) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct json_object *hl_tool__alloc_json(const hl_ip_alloc *a)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (hl_json__put_str(o, "ip_address", a->ip) < 0 || hl_json__put_str(o, "hostname", a->hostname) < 0 ||
	    hl_json__put_str(o, "allocated_to", a->allocated_to) < 0 || hl_json__put_str(o, "type", a->type) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* {"<key>": [items...], "count": n} from an array of records. */
static int list_result(struct json_object **out, const char *key, void **items, size_t n,
                       struct json_object *(*to_json)(const void *))
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array_ext((int)n);
	int err = 0;

	if (!o || !arr) {
		json_object_put(o);
		json_object_put(arr);
		return hl__oom();
	}
	for (size_t i = 0; i < n && err == 0; i++)
		err = hl_json__append(arr, to_json(items[i]));
	if (err == 0)
		err = hl_json__put(o, key, arr);
	else
		json_object_put(arr);
	if (err == 0)
		err = hl_json__put_int(o, "count", (int64_t)n);
	if (err < 0) {
		json_object_put(o);
		return err;
	}
	*out = o;
	return 0;
}

static struct json_object *vm_json_v(const void *p) { return hl_tool__vm_json(p); }
static struct json_object *host_json_v(const void *p) { return hl_tool__host_json(p); }
static struct json_object *service_json_v(const void *p) { return hl_tool__service_json(p); }
static struct json_object *alloc_json_v(const void *p) { return hl_tool__alloc_json(p); }

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

int hl_tool__homelab_list_vms(struct json_object **out, hl_ctx *ctx, struct json_object *args,
                              const hl_call_options *opts)
{
	hl_vm_filter filter = HL_VM_FILTER_INIT;
	hl_vm_array *list = NULL;
	int err;

	(void)opts;
	filter.status = hl_json__get_str(args, "status");
	filter.host = hl_json__get_str(args, "host");
	if ((err = hl_vm_list(&list, ctx, &filter)) < 0)
		return err;
	err = list_result(out, "vms", (void **)list->items, list->count, vm_json_v);
	hl_vm_array_free(list);
	return err;
}

int hl_tool__homelab_get_vm(struct json_object **out, hl_ctx *ctx, struct json_object *args,
                            const hl_call_options *opts)
{
	char ref[80];
	hl_vm *vm = NULL;
	hl_service_array *svcs = NULL;
	struct json_object *o = NULL, *s = NULL;
	int err;

	(void)opts;
	if ((err = ref_arg(ref, sizeof(ref), args, "vm_id", "name")) < 0 || (err = hl_vm_lookup(&vm, ctx, ref)) < 0)
		return err;
	snprintf(ref, sizeof(ref), "%lld", (long long)vm->vm_id);
	if ((err = hl_service_list(&svcs, ctx, ref)) < 0)
		goto out;
	if (!(o = hl_tool__vm_json(vm))) {
		err = hl__oom();
		goto out;
	}
	if ((err = list_result(&s, "services", (void **)svcs->items, svcs->count, service_json_v)) < 0)
		goto out;
	err = hl_json__put(o, "services", json_object_get(json_object_object_get(s, "services")));
out:
	json_object_put(s);
	hl_vm_free(vm);
	hl_service_array_free(svcs);
	if (err < 0)
		json_object_put(o);
	else
		*out = o;
	return err;
}

int hl_tool__homelab_list_hosts(struct json_object **out, hl_ctx *ctx, struct json_object *args,
                                const hl_call_options *opts)
{
	hl_host_array *list = NULL;
	int err;

	(void)args;
	(void)opts;
	if ((err = hl_host_list(&list, ctx)) < 0)
		return err;
	err = list_result(out, "hosts", (void **)list->items, list->count, host_json_v);
	hl_host_array_free(list);
	return err;
}

int hl_tool__homelab_get_host(struct json_object **out, hl_ctx *ctx, struct json_object *args,
                              const hl_call_options *opts)
{
	char ref[80];
	hl_host *h = NULL;
	hl_vm_array *vms = NULL;
	hl_vm_filter filter = HL_VM_FILTER_INIT;
	struct json_object *o = NULL, *v = NULL;
	int err;

	(void)opts;
	if ((err = ref_arg(ref, sizeof(ref), args, "host_id", "name")) < 0 || (err = hl_host_lookup(&h, ctx, ref)) < 0)
		return err;
	snprintf(ref, sizeof(ref), "%lld", (long long)h->id);
	filter.host = ref;
	if ((err = hl_vm_list(&vms, ctx, &filter)) < 0)
		goto out;
	if (!(o = hl_tool__host_json(h))) {
		err = hl__oom();
		goto out;
	}
	if ((err = list_result(&v, "vms", (void **)vms->items, vms->count, vm_json_v)) < 0)
		goto out;
	err = hl_json__put(o, "vms", json_object_get(json_object_object_get(v, "vms")));
out:
	json_object_put(v);
	hl_host_free(h);
	hl_vm_array_free(vms);
	if (err < 0)
		json_object_put(o);
	else
		*out = o;
	return err;
}

int hl_tool__homelab_list_services(struct json_object **out, hl_ctx *ctx, struct json_object *args,
                                   const hl_call_options *opts)
{
	hl_service_array *list = NULL;
	struct json_object *vm;
	const char *ref = NULL;
	char num[32];
	int err;

	(void)opts;
	if (json_object_object_get_ex(args, "vm_id", &vm)) {
		if (json_object_is_type(vm, json_type_string)) {
			ref = json_object_get_string(vm);
		} else {
			snprintf(num, sizeof(num), "%lld", (long long)json_object_get_int64(vm));
			ref = num;
		}
	}
	if ((err = hl_service_list(&list, ctx, ref)) < 0)
		return err;
	err = list_result(out, "services", (void **)list->items, list->count, service_json_v);
	hl_service_array_free(list);
	return err;
}

int hl_tool__homelab_get_service(struct json_object **out, hl_ctx *ctx, struct json_object *args,
                                 const hl_call_options *opts)
{
	hl_service *s = NULL;
	int err;

	(void)opts;
	if ((err = hl_service_lookup(&s, ctx, hl_json__get_str(args, "name"))) < 0)
		return err;
	*out = hl_tool__service_json(s);
	hl_service_free(s);
	return *out ? 0 : hl__oom();
}

int hl_tool__homelab_lookup_ip(struct json_object **out, hl_ctx *ctx, struct json_object *args,
                               const hl_call_options *opts)
{
	hl_ip_owner *own = NULL;
	struct json_object *o = NULL, *held = NULL;
	int err;

	(void)opts;
	if ((err = hl_ip_lookup(&own, ctx, hl_json__get_str(args, "ip"))) < 0)
		return err;
	if (!(o = json_object_new_object()) || !(held = json_object_new_array())) {
		err = hl__oom();
		goto out;
	}
	if ((err = hl_json__put_str(o, "ip", own->ip)) < 0)
		goto out;
	if (own->vm && ((err = hl_json__append(held, json_object_new_string("vm"))) < 0 ||
	                (err = hl_json__put(o, "vm", hl_tool__vm_json(own->vm))) < 0))
		goto out;
	if (own->host && ((err = hl_json__append(held, json_object_new_string("host"))) < 0 ||
	                  (err = hl_json__put(o, "host", hl_tool__host_json(own->host))) < 0))
		goto out;
	if (own->allocation && ((err = hl_json__append(held, json_object_new_string("allocation"))) < 0 ||
	                        (err = hl_json__put(o, "allocation", hl_tool__alloc_json(own->allocation))) < 0))
		goto out;
	err = hl_json__put(o, "held_by", held);
	held = NULL;
out:
	json_object_put(held);
	hl_ip_owner_free(own);
	if (err < 0)
		json_object_put(o);
	else
		*out = o;
	return err;
}

int hl_tool__homelab_list_ips(struct json_object **out, hl_ctx *ctx, struct json_object *args,
                              const hl_call_options *opts)
{
	hl_ip_alloc_array *list = NULL;
	int err;

	(void)opts;
	if ((err = hl_ip_list(&list, ctx, hl_json__get_str(args, "subnet"))) < 0)
		return err;
	err = list_result(out, "allocations", (void **)list->items, list->count, alloc_json_v);
	hl_ip_alloc_array_free(list);
	return err;
}

int hl_tool__homelab_allocate_ip(struct json_object **out, hl_ctx *ctx, struct json_object *args,
                                 const hl_call_options *opts)
{
	hl_ip_spec spec = HL_IP_SPEC_INIT;
	hl_ip_alloc *a = NULL;
	int err;

	(void)opts;
	spec.allocated_to = hl_json__get_str(args, "allocated_to");
	spec.hostname = hl_json__get_str(args, "hostname");
	if (!spec.hostname)
		spec.hostname = spec.allocated_to;
	spec.type = hl_json__get_str(args, "type");
	if ((err = hl_ip_allocate(&a, ctx, hl_json__get_str(args, "subnet"), &spec)) < 0)
		return err;
	*out = hl_tool__alloc_json(a);
	hl_ip_alloc_free(a);
	return *out ? 0 : hl__oom();
}

int hl_tool__homelab_check_service_health(struct json_object **out, hl_ctx *ctx, struct json_object *args,
                                          const hl_call_options *opts)
{
	struct json_object *o = NULL, *t;
	hl_health *h = NULL;
	int timeout_ms = opts->timeout_ms;
	int err;

	if (json_object_object_get_ex(args, "timeout_s", &t))
		timeout_ms = (int)(json_object_get_double(t) * 1000.0);
	if ((err = hl_health_check(&h, ctx, hl_json__get_str(args, "name"), timeout_ms)) < 0)
		return err;
	if (!(o = json_object_new_object()) || (err = hl_json__put_str(o, "service_name", h->service)) < 0 ||
	    (err = hl_json__put_str(o, "url", h->url)) < 0 ||
	    (err = hl_json__put_str(o, "status", hl_health_state_name(h->state))) < 0 ||
	    (err = hl_json__put_bool(o, "healthy", h->state == HL_HEALTH_HEALTHY)) < 0 ||
	    (err = hl_json__put_int_or_null(o, "http_status", h->http_status)) < 0 ||
	    (err = hl_json__put_double(o, "response_time_ms", (double)(int64_t)(h->elapsed_ms * 10) / 10.0)) < 0 ||
	    (h->error && (err = hl_json__put_str(o, "error", h->error)) < 0)) {
		if (!o)
			err = hl__oom();
		json_object_put(o);
		hl_health_free(h);
		return err;
	}
	hl_health_free(h);
	*out = o;
	return 0;
}
