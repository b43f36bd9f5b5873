/*
 * proxyproto: the PROXY protocol header, parsed.  See proxyproto.h.
 *
 * Strict, as the specification asks of a receiver: v1 is single spaces,
 * addresses of the family named, ports 0-65535 without leading zeros, CRLF
 * within 107 bytes; v2 is version 2, command LOCAL or PROXY, one of the
 * seven family/transport bytes the specification lists, and an address
 * block at least as long as its family's.  The first byte already tells a
 * header from anything else, so a client that sends no header is refused
 * as soon as it has sent one byte.
 */
#include "proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const unsigned char v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static int
bad(const char **why, const char *what)
{
	*why = what;
	return -1;
}

/* "0".."65535", no leading zero. */
static bool
v1_port(const char *s, size_t n, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool
v1_addr(int family, const char *s, size_t n, uint16_t port,
    struct sockaddr_storage *ss)
{
	char text[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(text))
		return false;
	memcpy(text, s, n);
	text[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		return inet_pton(AF_INET, text, &a->sin_addr) == 1;
	}
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons(port);
	return inet_pton(AF_INET6, text, &a6->sin6_addr) == 1;
}

/* line: what follows "PROXY " up to the CR (n bytes, printable). */
static int
v1_line(const char *line, size_t n, struct proxy_hdr *h, const char **why)
{
	const char *f[5];
	size_t fl[5], i, k = 0, start;
	uint16_t sport, dport;
	int family;

	if (n >= 7 && memcmp(line, "UNKNOWN", 7) == 0 &&
	    (n == 7 || line[7] == ' ')) {
		h->kind = PROXY_UNKNOWN;	/* the rest says nothing we use */
		return 1;
	}
	if (n < 5 || (memcmp(line, "TCP4 ", 5) != 0 &&
	    memcmp(line, "TCP6 ", 5) != 0))
		return bad(why, "PROXY v1: protocol is not TCP4, TCP6 or UNKNOWN");
	family = line[3] == '4' ? AF_INET : AF_INET6;
	/* Five fields after the protocol, one space between each. */
	for (i = start = 5; i <= n; i++) {
		if (i < n && line[i] != ' ')
			continue;
		if (k == 5 || i == start)
			return bad(why, "PROXY v1: not 'source destination "
			    "sport dport' after the protocol");
		f[k] = line + start;
		fl[k++] = i - start;
		start = i + 1;
	}
	if (k != 4)
		return bad(why, "PROXY v1: not 'source destination sport dport' "
		    "after the protocol");
	if (!v1_port(f[2], fl[2], &sport) || !v1_port(f[3], fl[3], &dport))
		return bad(why, "PROXY v1: a port is not 0-65535 (no leading "
		    "zero)");
	if (!v1_addr(family, f[0], fl[0], sport, &h->src) ||
	    !v1_addr(family, f[1], fl[1], dport, &h->dst))
		return bad(why, family == AF_INET ? "PROXY v1: an address is "
		    "not IPv4 (TCP4)" : "PROXY v1: an address is not IPv6 "
		    "(TCP6)");
	h->kind = PROXY_INET;
	return 1;
}

static int
parse_v1(const unsigned char *b, size_t len, struct proxy_hdr *h,
    const char **why)
{
	size_t i;

	if (memcmp(b, "PROXY ", len < 6 ? len : 6) != 0)
		return bad(why, "no PROXY header");
	/* The CR may be at most at 105: CRLF ends by byte 107. */
	for (i = 0; i < len && i < PROXY_V1_MAX - 1; i++) {
		if (b[i] == '\r') {
			if (i + 1 == len)
				return 0;
			if (b[i + 1] != '\n')
				return bad(why, "PROXY v1: CR without LF");
			if (i < 6)
				return bad(why, "no PROXY header");
			h->version = 1;
			h->len = i + 2;
			h->dgram = false;
			return v1_line((const char *)b + 6, i - 6, h, why);
		}
		if (b[i] < 0x20 || b[i] > 0x7e)
			return bad(why, "PROXY v1: a byte that is not printable "
			    "before the CRLF");
	}
	if (i == PROXY_V1_MAX - 1)
		return bad(why, "PROXY v1: no CRLF within 107 bytes");
	return 0;
}

static void
v2_inet(const unsigned char *a, int family, struct proxy_hdr *h)
{
	memset(&h->src, 0, sizeof(h->src));
	memset(&h->dst, 0, sizeof(h->dst));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&h->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&h->dst;

		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&d->sin_addr, a + 4, 4);
		memcpy(&s->sin_port, a + 8, 2);
		memcpy(&d->sin_port, a + 10, 2);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&h->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&h->dst;

		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, a, 16);
		memcpy(&d->sin6_addr, a + 16, 16);
		memcpy(&s->sin6_port, a + 32, 2);
		memcpy(&d->sin6_port, a + 34, 2);
	}
}

static int
parse_v2(const unsigned char *b, size_t len, struct proxy_hdr *h,
    const char **why)
{
	size_t blen, need;
	unsigned cmd, fam;

	if (memcmp(b, v2sig, len < 12 ? len : 12) != 0)
		return bad(why, "no PROXY header");
	if (len < PROXY_V2_HEAD)
		return 0;
	if (b[12] >> 4 != 2)
		return bad(why, "PROXY v2: not version 2");
	cmd = b[12] & 0x0f;
	if (cmd > 1)
		return bad(why, "PROXY v2: a command other than LOCAL or PROXY");
	fam = b[13];
	switch (fam) {
	case 0x00: need = 0; break;		/* UNSPEC */
	case 0x11: case 0x12: need = 12; break;	/* TCP4, UDP4 */
	case 0x21: case 0x22: need = 36; break;	/* TCP6, UDP6 */
	case 0x31: case 0x32: need = 216; break;	/* unix */
	default:
		return bad(why, "PROXY v2: an unknown family or transport");
	}
	blen = (size_t)b[14] << 8 | b[15];
	h->version = 2;
	h->len = PROXY_V2_HEAD + blen;
	h->dgram = (fam & 0x0f) == 2;
	if (cmd == 0) {
		h->kind = PROXY_LOCAL;	/* whatever follows is ignored */
		return 1;
	}
	if (blen < need)
		return bad(why, "PROXY v2: the address block is shorter than its "
		    "family's");
	if (len < PROXY_V2_HEAD + need)
		return 0;
	if (fam >> 4 == 1 || fam >> 4 == 2) {
		v2_inet(b + PROXY_V2_HEAD, fam >> 4 == 1 ? AF_INET : AF_INET6, h);
		h->kind = PROXY_INET;
	} else {
		h->kind = PROXY_UNKNOWN;
	}
	return 1;
}

int
proxy_parse(const void *buf, size_t len, struct proxy_hdr *h,
    const char **why)
{
	const unsigned char *b = buf;

	if (len == 0)
		return 0;
	if (b[0] == 'P')
		return parse_v1(b, len, h, why);
	if (b[0] == 0x0d)
		return parse_v2(b, len, h, why);
	return bad(why, "no PROXY header");
}

int
proxy_format_v1(const struct proxy_hdr *h, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int n, v6;

	if (h->kind != PROXY_INET) {
		n = snprintf(buf, len, "PROXY UNKNOWN\r\n");
		return n < 0 || (size_t)n >= len ? -1 : n;
	}
	v6 = h->src.ss_family == AF_INET6;
	if (v6) {
		const struct sockaddr_in6 *a = (const void *)&h->src;
		const struct sockaddr_in6 *z = (const void *)&h->dst;

		inet_ntop(AF_INET6, &a->sin6_addr, s, sizeof(s));
		inet_ntop(AF_INET6, &z->sin6_addr, d, sizeof(d));
		n = snprintf(buf, len, "PROXY TCP6 %s %s %u %u\r\n", s, d,
		    ntohs(a->sin6_port), ntohs(z->sin6_port));
	} else {
		const struct sockaddr_in *a = (const void *)&h->src;
		const struct sockaddr_in *z = (const void *)&h->dst;

		inet_ntop(AF_INET, &a->sin_addr, s, sizeof(s));
		inet_ntop(AF_INET, &z->sin_addr, d, sizeof(d));
		n = snprintf(buf, len, "PROXY TCP4 %s %s %u %u\r\n", s, d,
		    ntohs(a->sin_port), ntohs(z->sin_port));
	}
	return n < 0 || (size_t)n >= len ? -1 : n;
}
