/*
 * homelab/common.h: export macro and version information.
 */
#ifndef HOMELAB_COMMON_H
#define HOMELAB_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define HL_BEGIN_DECL extern "C" {
#define HL_END_DECL }
#else
#define HL_BEGIN_DECL
#define HL_END_DECL
#endif

/** Declare a public function: exported from the shared library, everything else is hidden. */
#if defined(__GNUC__)
#define HL_EXTERN(type) extern __attribute__((visibility("default"))) type
#else
#define HL_EXTERN(type) extern type
#endif

#define HOMELAB_VERSION "0.1.0"
#define HOMELAB_VERSION_MAJOR 0
#define HOMELAB_VERSION_MINOR 1
#define HOMELAB_VERSION_PATCH 0
/** SONAME number: bumped only on an ABI break. */
#define HOMELAB_SOVERSION 0

HL_BEGIN_DECL

/**
 * The version of the library actually loaded (may differ from HOMELAB_VERSION
 * the program was compiled against). Static text; never NULL.
 */
HL_EXTERN(const char *) hl_version(void);

HL_END_DECL

#endif
