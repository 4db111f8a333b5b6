/*
 * homelab/sftp.h: the allowed roots of the file tools (whisper_list_files,
 * whisper_read_file, whisper_write_file), per VM.
 *
 * The file tools work over SFTP on the VM's kept SSH session (homelab/ssh.h).
 * Every path is canonicalised on the server (SFTP realpath, which resolves
 * symlinks there) and must lie inside one of the VM's roots on a path
 * component boundary (/home/ann2 is not inside /home/ann). Without roots of
 * its own, a VM's only root is the SSH user's home as the server reports
 * it. A root set here is canonicalised on the server too, at each use.
 */
#ifndef HOMELAB_SFTP_H
#define HOMELAB_SFTP_H

#include "common.h"
#include "ctx.h"

HL_BEGIN_DECL

typedef struct hl_file_roots {
	size_t count;
	char **items;   /**< absolute paths, in the order given */
} hl_file_roots;

/**
 * The roots set for a VM (count 0: the default, the SSH user's home).
 * @param vm        name or vm_id
 * @param[out] out  free with hl_file_roots_free()
 * @return 0, HL_ENOTFOUND
 */
HL_EXTERN(int) hl_vm_file_roots(hl_file_roots **out, hl_ctx *ctx, const char *vm);

/**
 * Replace the roots of a VM; n == 0 (or one empty string) goes back to the
 * default. Each root is an absolute path without control characters.
 * @return 0, HL_ENOTFOUND, HL_EINVALID, HL_EREADONLY
 */
HL_EXTERN(int) hl_vm_set_file_roots(hl_ctx *ctx, const char *vm, const char *const *roots, size_t n);

HL_EXTERN(void) hl_file_roots_free(hl_file_roots *roots);

HL_END_DECL

#endif
