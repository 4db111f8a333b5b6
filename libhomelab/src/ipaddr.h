/*
 * ipaddr.h: strict parsing of IP addresses and CIDR subnets.
 */
#ifndef HL_IPADDR_H
#define HL_IPADDR_H

#include "hl.h"

#define HL_IP_STRLEN 46 /* INET6_ADDRSTRLEN */

/* Strict dotted-quad IPv4 ("127.0.1.5"; no leading zeros, no shorthand). */
bool hl_ip__parse_v4(const char *s, uint32_t *out);
void hl_ip__format_v4(uint32_t v, char out[HL_IP_STRLEN]);

/* Canonical text of an IPv4 or IPv6 address into out, or HL_EINVALID naming
 * the argument `what` ("ip", "ip_address"). */
int hl_ip__canonical(const char *s, char out[HL_IP_STRLEN], const char *what);

/* An IPv4 subnet "A.B.C.D/N": first and last address of the block.
 * Host bits must be zero. HL_EINVALID with a clear message otherwise. */
int hl_ip__parse_cidr(const char *s, uint32_t *first, uint32_t *last, int *prefix);

#endif
