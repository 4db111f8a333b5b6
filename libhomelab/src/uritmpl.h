/*
 * uritmpl.h: URI templates of registered resources (RFC 6570 level 1:
 * literal text and {name} expressions), checked and matched against URIs.
 */
#ifndef HL_URITMPL_H
#define HL_URITMPL_H

#include "hl.h"

#define HL_URITMPL_MAX_VARS 8

/*
 * Is tmpl a template a resource may have: 1 to HL_URITMPL_MAX_VARS
 * expressions {name} (name ^[A-Za-z0-9_]{1,32}$, each once), no two next to
 * each other, no stray brace, nothing in it below 0x21 or above 0x7e?
 * @return 0 or HL_EINVALID (the message says why, prefixed with what)
 */
int hl_uritmpl__check(const char *tmpl, const char *what);

/*
 * Does uri match tmpl (a template hl_uritmpl__check() accepted)? Each
 * expression matches one or more characters other than '/', '?' and '#';
 * values are percent-decoded and must decode to UTF-8 text of at most 255
 * bytes without a control character. On a match, vars (if not NULL) receives a JSON
 * object {"name": "value", ...}.
 * @return 1 (match), 0 (none), HL_ENOMEM
 */
int hl_uritmpl__match(const char *tmpl, const char *uri, hl_buf *vars);

#endif
