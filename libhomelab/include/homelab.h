/*
 * homelab.h: the umbrella header of libhomelab.
 *
 * Include this one file; it pulls in every public header. Nothing from
 * SQLite, json-c, libcurl, libsodium or libssh appears in the public API:
 * JSON crosses the boundary as text.
 */
#ifndef HOMELAB_H
#define HOMELAB_H

#include "homelab/common.h"
#include "homelab/errors.h"
#include "homelab/buf.h"
#include "homelab/ctx.h"
#include "homelab/inventory.h"
#include "homelab/health.h"
#include "homelab/tool.h"
#include "homelab/vault.h"
#include "homelab/audit.h"
#include "homelab/token.h"
#include "homelab/modelfile.h"
#include "homelab/gpu.h"
#include "homelab/ssh.h"
#include "homelab/sftp.h"
#include "homelab/ollama.h"
#include "homelab/resource.h"
#include "homelab/prompt.h"
#include "homelab/complete.h"

#endif
