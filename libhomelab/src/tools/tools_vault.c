/*
 * tools_vault.c: the credential tool. The vault does the work (and the
 * audit); this file only turns a credential into the tool's JSON result.
 */
#include "registry.h"

#include <stdio.h>

int hl_tool__homelab_get_credentials(hl_buf *out, hl_ctx *ctx, struct json_object *args, const hl_call_options *opts)
{
	hl_vault_access access = HL_VAULT_ACCESS_INIT;
	hl_credential *c = NULL;
	char target[200];
	hl_jw w;
	int err;

	access.principal = opts->principal;
	access.client_addr = opts->client_addr;
	if ((err = hl_vault_get(&c, ctx, hl_json__get_str(args, "target"), &access)) < 0)
		return err;
	if (c->target_name)
		snprintf(target, sizeof(target), "%s:%s", c->target_type, c->target_name);
	else
		snprintf(target, sizeof(target), "%s:%lld", c->target_type, (long long)c->target_id);
	/* The password goes straight from guarded memory into the result
	 * buffer, which is sized first so that it is never reallocated (a
	 * realloc would leave a copy behind); hl_buf_dispose wipes it. */
	if ((err = hl_buf__grow(out, 2048 + 6 * (c->password ? c->password_len : 0))) < 0) {
		hl_credential_free(c);
		return err;
	}
	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	hl_jw__kstr(&w, "target", target);
	hl_jw__kstr(&w, "target_type", c->target_type);
	hl_jw__kint(&w, "target_id", c->target_id);
	hl_jw__kstr(&w, "target_name", c->target_name);
	hl_jw__kstr(&w, "username", c->username);
	hl_jw__key(&w, "password");
	if (c->password)
		hl_jw__strn(&w, c->password, c->password_len);
	else
		hl_jw__null(&w);
	hl_jw__kstr(&w, "ssh_key_path", c->ssh_key_path);
	hl_jw__kstr(&w, "auth_type", c->auth_type);
	hl_jw__end_obj(&w);
	hl_credential_free(c);
	return hl_jw__finish(&w);
}
