/*
 * homelab/errors.h: error codes and the per-thread last error.
 *
 * Every fallible function returns 0 (HL_OK) or a negative hl_error_code and
 * sets a one-line message, readable with hl_error_last() on the same thread
 * until the next libhomelab call on that thread fails.
 */
#ifndef HOMELAB_ERRORS_H
#define HOMELAB_ERRORS_H

#include "common.h"

HL_BEGIN_DECL

/** Return codes. New codes are added at the end; none is ever renumbered. */
typedef enum {
	HL_OK = 0,
	HL_ERROR = -1,         /**< generic failure; see hl_error_last() */
	HL_ENOMEM = -2,        /**< out of memory */
	HL_ENOTFOUND = -3,     /**< the named object does not exist */
	HL_EEXISTS = -4,       /**< an object with that name or address already exists */
	HL_EINVALID = -5,      /**< an argument is malformed; the message names it */
	HL_EAUTH = -6,         /**< authentication or authorisation refused */
	HL_ETIMEOUT = -7,      /**< the operation timed out */
	HL_EUNREACHABLE = -8,  /**< a remote host or service could not be reached */
	HL_EUSER = -9,         /**< a callback asked to stop; never produced by the library itself */
	HL_EREADONLY = -10,    /**< the database is read-only */
	HL_ECORRUPT = -11,     /**< a file is not a homelab database, or is damaged */
	HL_EFULL = -12,        /**< no free address left in a subnet */
	HL_EBUSY = -13,        /**< the database stayed locked by another writer */
	HL_EINUSE = -14,       /**< the object is still referenced (a host with VMs, ...) */
	HL_ELOCKED = -15,      /**< the credential vault has no key */
	HL_EINTEGRITY = -16,   /**< authenticated data failed its integrity check */
	HL_EUNSUPPORTED = -17, /**< the client or front end cannot do this (ask the person, sample, ...) */
	HL_EDECLINED = -18     /**< the person declined or cancelled: nothing was run */
} hl_error_code;

/** Where an error came from. */
typedef enum {
	HL_ERROR_NONE = 0,
	HL_ERROR_NOMEMORY,
	HL_ERROR_OS,
	HL_ERROR_DB,
	HL_ERROR_JSON,
	HL_ERROR_INVALID,
	HL_ERROR_INVENTORY,
	HL_ERROR_TOOL,
	HL_ERROR_HTTP,
	HL_ERROR_SSH,
	HL_ERROR_VAULT,
	HL_ERROR_CALLBACK
} hl_error_class;

/** The last error on this thread. */
typedef struct {
	const char *message; /**< one line, never NULL */
	int klass;           /**< an hl_error_class */
	int code;            /**< the hl_error_code returned with it */
} hl_error;

/**
 * The last error raised on the calling thread. Never NULL: when there is no
 * error the message is "no error" and code is HL_OK. The memory is owned by
 * the library and stays valid until the next failing call on this thread.
 */
HL_EXTERN(const hl_error *) hl_error_last(void);

/** Forget the last error of the calling thread. */
HL_EXTERN(void) hl_error_clear(void);

/**
 * Set the calling thread's last error. For tool handlers registered with
 * hl_tool_register(), so that their failures carry a message.
 *
 * @param code  the hl_error_code the caller is about to return
 * @param klass an hl_error_class
 * @param fmt   printf-style message, one line, no trailing newline
 * @return code, so that `return hl_error_set(...)` reads naturally
 */
HL_EXTERN(int) hl_error_set(int code, int klass, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

/** Static text describing a code ("not found", ...); never NULL. */
HL_EXTERN(const char *) hl_strerror(int code);

/** The symbolic name of a code ("HL_ENOTFOUND"), or NULL for an unknown code. */
HL_EXTERN(const char *) hl_error_name(int code);

HL_END_DECL

#endif
