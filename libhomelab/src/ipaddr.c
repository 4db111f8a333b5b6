/*
 * ipaddr.c: strict parsing of IP addresses and CIDR subnets.
 *
 * inet_pton() already refuses the historical shorthands ("127.1", octal and
 * hex parts) for AF_INET; we add range and form checks of our own so that
 * what is stored is always in canonical form.
 */
#include "ipaddr.h"

#include <arpa/inet.h>
#include <stdio.h>

bool hl_ip__parse_v4(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	int parts = 0;

	if (!s)
		return false;
	while (parts < 4) {
		unsigned n = 0;
		int digits = 0;
		if (*s < '0' || *s > '9')
			return false;
		if (*s == '0' && s[1] >= '0' && s[1] <= '9')
			return false; /* leading zero: ambiguous (octal in some parsers) */
		while (*s >= '0' && *s <= '9') {
			n = n * 10 + (unsigned)(*s++ - '0');
			if (++digits > 3 || n > 255)
				return false;
		}
		v = (v << 8) | n;
		parts++;
		if (parts < 4 && *s++ != '.')
			return false;
	}
	if (*s)
		return false;
	*out = v;
	return true;
}

void hl_ip__format_v4(uint32_t v, char out[HL_IP_STRLEN])
{
	snprintf(out, HL_IP_STRLEN, "%u.%u.%u.%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
}

int hl_ip__canonical(const char *s, char out[HL_IP_STRLEN], const char *what)
{
	unsigned char b6[16];
	uint32_t v4;

	if (!s || !*s)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: an IP address is required", what);
	if (hl_ip__parse_v4(s, &v4)) {
		hl_ip__format_v4(v4, out);
		return 0;
	}
	if (strchr(s, ':') && strlen(s) < HL_IP_STRLEN && inet_pton(AF_INET6, s, b6) == 1 &&
	    inet_ntop(AF_INET6, b6, out, HL_IP_STRLEN))
		return 0;
	return hl__err(HL_EINVALID, HL_ERROR_INVALID, "%s: '%.64s' is not an IPv4 or IPv6 address", what, s);
}

int hl_ip__parse_cidr(const char *s, uint32_t *first, uint32_t *last, int *prefix)
{
	char addr[HL_IP_STRLEN];
	const char *slash;
	uint32_t base, mask;
	int64_t n;

	if (!s || !*s)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "subnet: a CIDR such as 127.0.1.0/24 is required");
	slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "subnet: '%.64s' is not in CIDR form (A.B.C.D/N)", s);
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (!hl_ip__parse_v4(addr, &base)) {
		if (strchr(addr, ':'))
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "subnet: '%.64s': only IPv4 subnets can be "
			               "allocated from", s);
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "subnet: '%.64s' is not an IPv4 address", addr);
	}
	if (!hl__parse_int64(slash + 1, &n) || n > 32 || (slash[1] == '0' && slash[2]))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "subnet: '%.64s' has a bad prefix length (want 0-32)", s);
	mask = n == 0 ? 0 : 0xffffffffu << (32 - n);
	if (base & ~mask)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "subnet: '%.64s' has host bits set (did you mean %u.%u.%u.%u/%d?)",
		               s, (base & mask) >> 24, ((base & mask) >> 16) & 0xff, ((base & mask) >> 8) & 0xff,
		               base & mask & 0xff, (int)n);
	*first = base;
	*last = base | ~mask;
	*prefix = (int)n;
	return 0;
}
