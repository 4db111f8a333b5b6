/*
 * cmd_inventory.c: `homelab vms|hosts|services|ip ...`.
 *
 * Reads go through the tool table (cli_call_tool), so the CLI shows exactly
 * what an MCP client or a Python script gets. Writes call the inventory API
 * and then show the stored record through the same read tools.
 */
#include "cli.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>

#include <stdlib.h>
#include <string.h>

/* "key=value" pairs for cli_call_tool, built on the stack. */
struct pairs {
	const char *p[CLI_MAX_OPTS];
	char buf[CLI_MAX_OPTS][320];
	int n;
};

static int pair(struct pairs *ps, const char *key, const char *value)
{
	if (!value)
		return 0;
	if (ps->n == CLI_MAX_OPTS)
		return -1;
	snprintf(ps->buf[ps->n], sizeof(ps->buf[0]), "%s=%s", key, value);
	ps->p[ps->n] = ps->buf[ps->n];
	ps->n++;
	return 0;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Parse a port option; -1 when absent. */
static int port_opt(const struct cli_args *a, const char *name, int *out)
{
	const char *v = cli_opt(a, name);
	char *end;
	long p;

	*out = 0;
	if (!v)
		return CLI_OK;
	p = strtol(v, &end, 10);
	if (!*v || *end || p < 1 || p > 65535)
		return cli_usage_error("--%s: '%s' is not a port number (1-65535)", name, v);
	*out = (int)p;
	return CLI_OK;
}

static int id_opt(const struct cli_args *a, const char *name, int64_t *out)
{
	const char *v = cli_opt(a, name);
	char *end;
	long long id;

	*out = 0;
	if (!v)
		return CLI_OK;
	id = strtoll(v, &end, 10);
	if (!*v || *end || id < 1)
		return cli_usage_error("--%s: '%s' is not a positive number", name, v);
	*out = id;
	return CLI_OK;
}

static int need_pos(const struct cli_args *a, int n, const char *usage)
{
	if (a->npos != n)
		return cli_usage_error("usage: homelab %s", usage);
	return CLI_OK;
}

/* Show one record through a read tool: "vm_id"/"name" style lookups. */
static int show(struct cli *c, const char *tool, const char *id_key, const char *name_key, const char *ref)
{
	struct pairs ps = { 0 };

	pair(&ps, all_digits(ref) ? id_key : name_key, ref);
	return cli_call_tool(c, tool, ps.n, ps.p);
}

/* ------------------------------------------------------------------ vms --- */

static const char *const vm_write_opts[] = { "id=", "name=", "ip=", "status=", "host=", "ssh-user=", "ssh-port=",
	                                             "file-root=", NULL };

static int vm_spec(hl_vm_spec *spec, const struct cli_args *a)
{
	int rc;

	if ((rc = id_opt(a, "id", &spec->vm_id)) != CLI_OK || (rc = port_opt(a, "ssh-port", &spec->ssh_port)) != CLI_OK)
		return rc;
	spec->name = cli_opt(a, "name");
	spec->ip = cli_opt(a, "ip");
	spec->status = cli_opt(a, "status");
	spec->host = cli_opt(a, "host");
	spec->ssh_user = cli_opt(a, "ssh-user");
	return CLI_OK;
}

int cmd_vms(struct cli *c, int argc, char **argv)
{
	static const char *const list_opts[] = { "status=", "host=", NULL };
	static const char *const rm_opts[] = { "force", NULL };
	const char *sub = argv[1];
	struct cli_args a;
	struct pairs ps = { 0 };
	hl_vm_spec spec = HL_VM_SPEC_INIT;
	hl_vm *vm = NULL;
	hl_ctx *ctx;
	char ref[32];
	int rc = CLI_OK, err;

	if (!strcmp(sub, "list")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, list_opts)) != CLI_OK ||
		    (rc = need_pos(&a, 0, "vms list [--status S] [--host H]")) != CLI_OK)
			return rc;
		pair(&ps, "status", cli_opt(&a, "status"));
		pair(&ps, "host", cli_opt(&a, "host"));
		return cli_call_tool(c, "homelab_list_vms", ps.n, ps.p);
	}
	if (!strcmp(sub, "show")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, NULL)) != CLI_OK ||
		    (rc = need_pos(&a, 1, "vms show NAME|VMID")) != CLI_OK)
			return rc;
		return show(c, "homelab_get_vm", "vm_id", "name", a.pos[0]);
	}
	if (!strcmp(sub, "add") || !strcmp(sub, "set")) {
		bool add = !strcmp(sub, "add");
		if ((rc = cli_parse(&a, argc - 2, argv + 2, vm_write_opts)) != CLI_OK ||
		    (rc = need_pos(&a, 1, add ? "vms add NAME [--id VMID] [--ip IP] [--status S] [--host H] ..."
		                              : "vms set NAME|VMID [--name N] [--ip IP] ...")) != CLI_OK ||
		    (rc = vm_spec(&spec, &a)) != CLI_OK)
			return rc;
		if (add && spec.name)
			return cli_usage_error("vms add: give the name as the argument, not --name");
		if (!(ctx = cli_ctx(c, &rc)))
			return rc;
		if (add) {
			spec.name = a.pos[0];
			err = hl_vm_add(&vm, ctx, &spec);
		} else {
			err = hl_vm_update(&vm, ctx, a.pos[0], &spec);
		}
		if (err < 0)
			return cli_fail(err);
		snprintf(ref, sizeof(ref), "%lld", (long long)vm->vm_id);
		hl_vm_free(vm);
		{
			/* --file-root PATH, repeatable: the roots of the file tools ("" clears) */
			const char *roots[CLI_MAX_OPTS];
			size_t n = 0;
			for (int i = 0; i < a.nopts; i++)
				if (!strcmp(a.names[i], "file-root="))
					roots[n++] = a.values[i];
			if (n && (err = hl_vm_set_file_roots(ctx, ref, roots, n)) < 0)
				return cli_fail(err);
		}
		return show(c, "homelab_get_vm", "vm_id", "name", ref);
	}
	if (!strcmp(sub, "rm")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, rm_opts)) != CLI_OK ||
		    (rc = need_pos(&a, 1, "vms rm NAME|VMID [--force]")) != CLI_OK)
			return rc;
		if (!(ctx = cli_ctx(c, &rc)))
			return rc;
		if (!cli_confirm(c, "remove vm %s%s?", a.pos[0], cli_flag(&a, "force") ? " and its services" : ""))
			return CLI_ERROR;
		if ((err = hl_vm_remove(ctx, a.pos[0], cli_flag(&a, "force") ? HL_REMOVE_CASCADE : 0)) < 0)
			return cli_fail(err);
		cli_done(c, "removed", "vm", a.pos[0]);
		return CLI_OK;
	}
	return cli_usage_error("unknown subcommand 'vms %s' (try 'homelab vms --help')", sub);
}

/* ---------------------------------------------------------------- hosts --- */

int cmd_hosts(struct cli *c, int argc, char **argv)
{
	static const char *const write_opts[] = { "id=", "name=", "ip=", NULL };
	const char *sub = argv[1];
	struct cli_args a;
	hl_host_spec spec = HL_HOST_SPEC_INIT;
	hl_host *h = NULL;
	hl_ctx *ctx;
	char ref[32];
	int rc = CLI_OK, err;

	if (!strcmp(sub, "list")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, NULL)) != CLI_OK || (rc = need_pos(&a, 0, "hosts list")) != CLI_OK)
			return rc;
		return cli_call_tool(c, "homelab_list_hosts", 0, NULL);
	}
	if (!strcmp(sub, "show")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, NULL)) != CLI_OK ||
		    (rc = need_pos(&a, 1, "hosts show NAME|ID")) != CLI_OK)
			return rc;
		return show(c, "homelab_get_host", "host_id", "name", a.pos[0]);
	}
	if (!strcmp(sub, "add") || !strcmp(sub, "set")) {
		bool add = !strcmp(sub, "add");
		if ((rc = cli_parse(&a, argc - 2, argv + 2, write_opts)) != CLI_OK ||
		    (rc = need_pos(&a, 1, add ? "hosts add NAME [--ip IP] [--id ID]" : "hosts set NAME|ID [--name N] [--ip IP]")) != CLI_OK ||
		    (rc = id_opt(&a, "id", &spec.id)) != CLI_OK)
			return rc;
		if (add && cli_opt(&a, "name"))
			return cli_usage_error("hosts add: give the name as the argument, not --name");
		if (!(ctx = cli_ctx(c, &rc)))
			return rc;
		spec.ip = cli_opt(&a, "ip");
		if (add) {
			spec.name = a.pos[0];
			err = hl_host_add(&h, ctx, &spec);
		} else {
			spec.name = cli_opt(&a, "name");
			err = hl_host_update(&h, ctx, a.pos[0], &spec);
		}
		if (err < 0)
			return cli_fail(err);
		snprintf(ref, sizeof(ref), "%lld", (long long)h->id);
		hl_host_free(h);
		return show(c, "homelab_get_host", "host_id", "name", ref);
	}
	if (!strcmp(sub, "rm")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, NULL)) != CLI_OK || (rc = need_pos(&a, 1, "hosts rm NAME|ID")) != CLI_OK)
			return rc;
		if (!(ctx = cli_ctx(c, &rc)))
			return rc;
		if (!cli_confirm(c, "remove host %s?", a.pos[0]))
			return CLI_ERROR;
		if ((err = hl_host_remove(ctx, a.pos[0])) < 0)
			return cli_fail(err);
		cli_done(c, "removed", "host", a.pos[0]);
		return CLI_OK;
	}
	return cli_usage_error("unknown subcommand 'hosts %s' (try 'homelab hosts --help')", sub);
}

/* ------------------------------------------------------------- services --- */

int cmd_services(struct cli *c, int argc, char **argv)
{
	static const char *const list_opts[] = { "vm=", NULL };
	static const char *const check_opts[] = { "timeout-s=", "all", "vm=", NULL };
	static const char *const write_opts[] = { "name=", "url=", "port=", "protocol=", "health=", "vm=",
		"ca-file=", "insecure", "verify", NULL };
	const char *sub = argv[1];
	struct cli_args a;
	struct pairs ps = { 0 };
	hl_service_spec spec = HL_SERVICE_SPEC_INIT;
	hl_service *s = NULL;
	hl_ctx *ctx;
	char ref[32];
	int rc = CLI_OK, err;

	if (!strcmp(sub, "list")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, list_opts)) != CLI_OK ||
		    (rc = need_pos(&a, 0, "services list [--vm NAME|VMID]")) != CLI_OK)
			return rc;
		pair(&ps, "vm_id", cli_opt(&a, "vm"));
		return cli_call_tool(c, "homelab_list_services", ps.n, ps.p);
	}
	if (!strcmp(sub, "show")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, NULL)) != CLI_OK ||
		    (rc = need_pos(&a, 1, "services show NAME")) != CLI_OK)
			return rc;
		pair(&ps, "name", a.pos[0]);
		return cli_call_tool(c, "homelab_get_service", ps.n, ps.p);
	}
	if (!strcmp(sub, "check")) {
		bool all;
		if ((rc = cli_parse(&a, argc - 2, argv + 2, check_opts)) != CLI_OK)
			return rc;
		all = cli_flag(&a, "all") || cli_opt(&a, "vm");
		if ((rc = need_pos(&a, all ? 0 : 1, "services check NAME | --all [--vm NAME|VMID] [--timeout-s S]")) !=
		    CLI_OK)
			return rc;
		pair(&ps, "timeout_s", cli_opt(&a, "timeout-s"));
		if (!all) {
			pair(&ps, "name", a.pos[0]);
			return cli_call_tool(c, "homelab_check_service_health", ps.n, ps.p);
		}
		pair(&ps, "vm_id", cli_opt(&a, "vm"));
		return cli_call_tool(c, "homelab_check_all_services", ps.n, ps.p);
	}
	if (!strcmp(sub, "add") || !strcmp(sub, "set")) {
		bool add = !strcmp(sub, "add");
		if ((rc = cli_parse(&a, argc - 2, argv + 2, write_opts)) != CLI_OK ||
		    (rc = need_pos(&a, 1, add ? "services add NAME [--url URL] [--port P] ..." : "services set NAME [--url URL] ...")) != CLI_OK ||
		    (rc = port_opt(&a, "port", &spec.port)) != CLI_OK)
			return rc;
		if (add && cli_opt(&a, "name"))
			return cli_usage_error("services add: give the name as the argument, not --name");
		if (!(ctx = cli_ctx(c, &rc)))
			return rc;
		spec.url = cli_opt(&a, "url");
		spec.protocol = cli_opt(&a, "protocol");
		spec.health_endpoint = cli_opt(&a, "health");
		spec.vm = cli_opt(&a, "vm");
		if ((cli_opt(&a, "ca-file") != NULL) + cli_flag(&a, "insecure") + cli_flag(&a, "verify") > 1)
			return cli_usage_error("services %s: give one of --ca-file, --insecure, --verify", sub);
		if (add) {
			spec.name = a.pos[0];
			err = hl_service_add(&s, ctx, &spec);
		} else {
			spec.name = cli_opt(&a, "name");
			err = hl_service_update(&s, ctx, a.pos[0], &spec);
		}
		if (err < 0)
			return cli_fail(err);
		/* TLS of its health check: a CA file, no verification, or back to the system's CAs */
		if (cli_opt(&a, "ca-file") || cli_flag(&a, "insecure") || cli_flag(&a, "verify")) {
			hl_health_tls tls = HL_HEALTH_TLS_INIT;
			char ca[PATH_MAX], id[32];
			if (cli_opt(&a, "ca-file") && !realpath(cli_opt(&a, "ca-file"), ca)) {
				hl_service_free(s);
				return cli_usage_error("--ca-file: %s: %s", cli_opt(&a, "ca-file"), strerror(errno));
			}
			tls.ca_file = cli_opt(&a, "ca-file") ? ca : NULL;
			tls.insecure = cli_flag(&a, "insecure");
			snprintf(id, sizeof(id), "%lld", (long long)s->id);
			if ((err = hl_health_set_tls(ctx, id, &tls)) < 0) {
				hl_service_free(s);
				return cli_fail(err);
			}
		}
		snprintf(ref, sizeof(ref), "%lld", (long long)s->id);
		hl_service_free(s);
		pair(&ps, "name", ref);
		return cli_call_tool(c, "homelab_get_service", ps.n, ps.p);
	}
	if (!strcmp(sub, "rm")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, NULL)) != CLI_OK || (rc = need_pos(&a, 1, "services rm NAME")) != CLI_OK)
			return rc;
		if (!(ctx = cli_ctx(c, &rc)))
			return rc;
		if (!cli_confirm(c, "remove service %s?", a.pos[0]))
			return CLI_ERROR;
		if ((err = hl_service_remove(ctx, a.pos[0])) < 0)
			return cli_fail(err);
		cli_done(c, "removed", "service", a.pos[0]);
		return CLI_OK;
	}
	return cli_usage_error("unknown subcommand 'services %s' (try 'homelab services --help')", sub);
}

/* ------------------------------------------------------------------- ip --- */

int cmd_ip(struct cli *c, int argc, char **argv)
{
	static const char *const list_opts[] = { "subnet=", NULL };
	static const char *const alloc_opts[] = { "subnet=", "to=", "hostname=", "type=", NULL };
	static const char *const add_opts[] = { "to=", "hostname=", "type=", NULL };
	const char *sub = argv[1];
	struct cli_args a;
	struct pairs ps = { 0 };
	hl_ip_spec spec = HL_IP_SPEC_INIT;
	hl_ctx *ctx;
	int rc = CLI_OK, err;

	if (!strcmp(sub, "lookup")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, NULL)) != CLI_OK || (rc = need_pos(&a, 1, "ip lookup IP")) != CLI_OK)
			return rc;
		pair(&ps, "ip", a.pos[0]);
		return cli_call_tool(c, "homelab_lookup_ip", ps.n, ps.p);
	}
	if (!strcmp(sub, "list")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, list_opts)) != CLI_OK ||
		    (rc = need_pos(&a, 0, "ip list [--subnet CIDR]")) != CLI_OK)
			return rc;
		pair(&ps, "subnet", cli_opt(&a, "subnet"));
		return cli_call_tool(c, "homelab_list_ips", ps.n, ps.p);
	}
	if (!strcmp(sub, "allocate")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, alloc_opts)) != CLI_OK ||
		    (rc = need_pos(&a, 0, "ip allocate --subnet CIDR --to NAME [--hostname H] [--type T]")) != CLI_OK)
			return rc;
		if (!cli_opt(&a, "subnet") || !cli_opt(&a, "to"))
			return cli_usage_error("usage: homelab ip allocate --subnet CIDR --to NAME [--hostname H] [--type T]");
		pair(&ps, "subnet", cli_opt(&a, "subnet"));
		pair(&ps, "allocated_to", cli_opt(&a, "to"));
		pair(&ps, "hostname", cli_opt(&a, "hostname"));
		pair(&ps, "type", cli_opt(&a, "type"));
		return cli_call_tool(c, "homelab_allocate_ip", ps.n, ps.p);
	}
	if (!strcmp(sub, "add")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, add_opts)) != CLI_OK ||
		    (rc = need_pos(&a, 1, "ip add IP --to NAME [--hostname H] [--type T]")) != CLI_OK)
			return rc;
		if (!(ctx = cli_ctx(c, &rc)))
			return rc;
		spec.ip = a.pos[0];
		spec.allocated_to = cli_opt(&a, "to");
		spec.hostname = cli_opt(&a, "hostname") ? cli_opt(&a, "hostname") : spec.allocated_to;
		spec.type = cli_opt(&a, "type");
		if ((err = hl_ip_add(NULL, ctx, &spec)) < 0)
			return cli_fail(err);
		pair(&ps, "ip", a.pos[0]);
		return cli_call_tool(c, "homelab_lookup_ip", ps.n, ps.p);
	}
	if (!strcmp(sub, "release")) {
		if ((rc = cli_parse(&a, argc - 2, argv + 2, NULL)) != CLI_OK || (rc = need_pos(&a, 1, "ip release IP")) != CLI_OK)
			return rc;
		if (!(ctx = cli_ctx(c, &rc)))
			return rc;
		if (!cli_confirm(c, "release %s?", a.pos[0]))
			return CLI_ERROR;
		if ((err = hl_ip_release(ctx, a.pos[0])) < 0)
			return cli_fail(err);
		cli_done(c, "released", NULL, a.pos[0]);
		return CLI_OK;
	}
	return cli_usage_error("unknown subcommand 'ip %s' (try 'homelab ip --help')", sub);
}
