/*
 * audit_actions.h: every action written to the audit log. hl_audit_record()
 * refuses any other, hl_audit_actions() lists them, and the description of
 * the tool homelab_audit_list is made from this list, so it never names an
 * action nothing writes. A new audited operation adds its action here.
 */
#ifndef HL_AUDIT_ACTIONS_H
#define HL_AUDIT_ACTIONS_H

#define HL_AUDIT_ACTIONS(X) \
	X(credential_read)   /* vault.c: hl_vault_get, granted, refused or failed */ \
	X(credential_set)    /* vault.c: hl_vault_set */ \
	X(credential_delete) /* vault.c: hl_vault_remove */ \
	X(vault_migrate)     /* vault.c: hl_vault_migrate */ \
	X(vault_rotate_key)  /* vault.c: hl_vault_rotate_key */ \
	X(token_create)      /* token.c */ \
	X(token_revoke)      /* token.c */ \
	X(auth_refused)      /* homelab-mcpd: a refused token, scope or origin */ \
	X(ssh_command)       /* ssh.c */ \
	X(file_write)        /* sftp.c: whisper_write_file */ \
	X(ollama_pull)       /* tools_ollama.c */ \
	X(ollama_delete)     /* tools_ollama.c */ \
	X(ollama_copy)       /* tools_ollama.c */ \
	X(ollama_create)     /* tools_ollama.c */ \
	X(audit_chain_keyed) /* audit.c: the migration that keyed the chain */ \
	X(confirm_declined)  /* tools/registry.c: the person said no to a destructive tool: it did not run */ \
	X(confirm_cancelled) /* tools/registry.c: the person dismissed the question: it did not run */ \
	X(confirm_failed)    /* tools/registry.c: the person could not be asked (required, client gone, timeout) */

/* The names as one string literal: " credential_read credential_set ..." */
#define HL_AUDIT_ACTION_WORD_(name) " " #name
#define HL_AUDIT_ACTION_WORDS HL_AUDIT_ACTIONS(HL_AUDIT_ACTION_WORD_)

#endif
