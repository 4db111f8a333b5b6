/*
 * tools_vault.c: the credential tool. The vault does the work (and the
 * audit); this file only turns a credential into the tool's JSON result.
 */
#include "registry.h"

#include <stdio.h>

int hl_tool__homelab_get_credentials(struct json_object **out, hl_ctx *ctx, struct json_object *args,
                                     const hl_call_options *opts)
{
	hl_vault_access access = HL_VAULT_ACCESS_INIT;
	hl_credential *c = NULL;
	struct json_object *o = NULL;
	char target[200];
	int err;

	access.principal = opts->principal;
	access.client_addr = opts->client_addr;
	if ((err = hl_vault_get(&c, ctx, hl_json__get_str(args, "target"), &access)) < 0)
		return err;
	if (c->target_name)
		snprintf(target, sizeof(target), "%s:%s", c->target_type, c->target_name);
	else
		snprintf(target, sizeof(target), "%s:%lld", c->target_type, (long long)c->target_id);
	/* json-c copies the password into memory of its own, which is not wiped
	 * when freed: a result that carries a secret cannot avoid that. */
	if (!(o = json_object_new_object()) || (err = hl_json__put_str(o, "target", target)) < 0 ||
	    (err = hl_json__put_str(o, "target_type", c->target_type)) < 0 ||
	    (err = hl_json__put_int(o, "target_id", c->target_id)) < 0 ||
	    (err = hl_json__put_str(o, "target_name", c->target_name)) < 0 ||
	    (err = hl_json__put_str(o, "username", c->username)) < 0 ||
	    (err = hl_json__put_str(o, "password", c->password)) < 0 ||
	    (err = hl_json__put_str(o, "ssh_key_path", c->ssh_key_path)) < 0 ||
	    (err = hl_json__put_str(o, "auth_type", c->auth_type)) < 0) {
		if (!o)
			err = hl__oom();
		json_object_put(o);
		hl_credential_free(c);
		return err;
	}
	hl_credential_free(c);
	*out = o;
	return 0;
}
