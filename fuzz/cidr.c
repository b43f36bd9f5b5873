/*
 * fuzz/cidr.c: lib/cidr.c cidr_parse on arbitrary strings.
 *
 * Checked: no crash or undefined behaviour; on success the prefix is at
 * most 128, the host bits are clear, an IPv4 block is IPv4-mapped with a
 * prefix of at least 96, the block matches its own address, and printing
 * it back (inet_ntop + "/len") parses to the same block; on failure errno
 * is EINVAL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	struct cidr c, c2;
	char s[512], txt[INET6_ADDRSTRLEN + 8];
	int i;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	errno = 0;
	if (cidr_parse(s, &c) != 0) {
		if (errno != EINVAL)
			abort();
		return 0;
	}
	if (c.len > 128)
		abort();
	for (i = c.len; i < 128; i++)
		if (c.addr[i / 8] & (0x80 >> (i % 8)))
			abort();	/* a host bit left set */
	if (!cidr_match(&c, c.addr))
		abort();
	if (strchr(s, '.') != NULL && strchr(s, ':') == NULL &&
	    (memcmp(c.addr, mapped, 12) != 0 || c.len < 96))
		abort();
	if (memcmp(c.addr, mapped, 12) == 0 && c.len >= 96) {
		inet_ntop(AF_INET, c.addr + 12, txt, sizeof(txt));
		snprintf(s, sizeof(s), "%s/%d", txt, c.len - 96);
	} else {
		inet_ntop(AF_INET6, c.addr, txt, sizeof(txt));
		snprintf(s, sizeof(s), "%s/%d", txt, c.len);
	}
	if (cidr_parse(s, &c2) != 0 || c2.len != c.len ||
	    memcmp(c2.addr, c.addr, 16) != 0) {
		fprintf(stderr, "'%s' does not parse back to the same block\n", s);
		abort();
	}
	return 0;
}
