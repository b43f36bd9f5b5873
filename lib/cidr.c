/*
 * cidr: parse and match address blocks.
 */
#include "cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "parse.h"

static void
mask_to(uint8_t a[16], unsigned len)
{
	unsigned i;

	for (i = 0; i < 16; i++) {
		if (len >= 8) {
			len -= 8;
			continue;
		}
		a[i] &= (uint8_t)(0xff00 >> len);
		len = 0;
	}
}

int
cidr_parse(const char *s, struct cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash;
	struct in_addr a4;
	uint64_t len;
	size_t alen;
	bool v4;

	errno = EINVAL;
	if (s == NULL)
		return -1;
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= INET6_ADDRSTRLEN)
		return -1;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		v4 = true;
		out->addr[10] = out->addr[11] = 0xff;
		memcpy(out->addr + 12, &a4, 4);
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		v4 = false;
	} else {
		errno = EINVAL;
		return -1;
	}
	len = v4 ? 32 : 128;
	if (slash != NULL && parse_uint(slash + 1, 0, len, &len) == -1) {
		errno = EINVAL;
		return -1;
	}
	out->len = (uint8_t)(v4 ? len + 96 : len);
	mask_to(out->addr, out->len);
	return 0;
}

int
cidr_key(const struct sockaddr *sa, uint8_t key[16])
{
	if (sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		return 0;
	}
	if (sa->sa_family == AF_INET) {
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return 0;
	}
	errno = EAFNOSUPPORT;
	return -1;
}

bool
cidr_match(const struct cidr *c, const uint8_t key[16])
{
	unsigned full = c->len / 8, rest = c->len % 8;

	if (memcmp(c->addr, key, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return (key[full] & (uint8_t)(0xff00 >> rest)) == c->addr[full];
}
