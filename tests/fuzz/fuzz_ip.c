/*
 * fuzz_ip.c: IP addresses and CIDR subnets as users and databases write
 * them. Properties: a parsed IPv4 address prints back to text that parses
 * to the same number; a parsed subnet is aligned and ordered.
 */
#include "ipaddr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[128], out[HL_IP_STRLEN], again[HL_IP_STRLEN];
	uint32_t v, w, first, last;
	int prefix;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (hl_ip__parse_v4(s, &v)) {
		hl_ip__format_v4(v, out);
		if (!hl_ip__parse_v4(out, &w) || w != v)
			abort();
	}
	if (hl_ip__canonical(s, out, "ip") == 0) {
		/* canonical text is a fixed point */
		if (hl_ip__canonical(out, again, "ip") != 0 || strcmp(out, again) != 0)
			abort();
	}
	if (hl_ip__parse_cidr(s, &first, &last, &prefix) == 0) {
		uint64_t span = (uint64_t)last - first + 1;
		if (prefix < 0 || prefix > 32 || first > last || span != (1ull << (32 - prefix)))
			abort();
	}
	return 0;
}
