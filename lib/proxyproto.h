/*
 * proxyproto: the PROXY protocol header (HAProxy's, versions 1 and 2), which a
 * load balancer sends at the start of each connection it makes to a
 * server, so the server learns the client's address instead of the
 * balancer's (https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt).
 *
 *   v1: one line of text, at most 107 bytes with its CRLF:
 *       "PROXY TCP4 203.0.113.7 192.0.2.1 56324 7\r\n", or "PROXY UNKNOWN...".
 *   v2: a 12-byte signature, version and command, family and transport,
 *       a length, then the addresses and optional TLVs (type-length-value
 *       extras, which concurd skips).
 *
 * proxy_parse() looks at the bytes a connection began with and says
 * whether they hold a whole header, need more, or are not one.  It reads
 * nothing and keeps no state, so the caller may call it again with more
 * bytes; it never needs more than PROXY_PEEK_MAX of them to decide (a v2
 * header's TLVs come after that, and only need skipping).
 */
#ifndef CONCUR_PROXYPROTO_H
#define CONCUR_PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define PROXY_V1_MAX	107	/* a v1 line, CRLF included */
#define PROXY_V2_HEAD	16	/* signature, version/command, family, length */
#define PROXY_PEEK_MAX	(PROXY_V2_HEAD + 216)	/* with v2's largest
					 * address block (two unix paths) */

enum proxy_kind {
	PROXY_LOCAL,	/* v2 LOCAL: the balancer's own connection (a health
			 * check): use the connection's own addresses */
	PROXY_UNKNOWN,	/* v1 UNKNOWN, v2 UNSPEC or unix: no client address
			 * given: use the connection's own addresses */
	PROXY_INET,	/* the client's IPv4 or IPv6 address and port */
};

struct proxy_hdr {
	int version;		/* 1 or 2 */
	enum proxy_kind kind;
	bool dgram;		/* v2: the client spoke UDP */
	size_t len;		/* the whole header, TLVs included */
	struct sockaddr_storage src, dst;	/* PROXY_INET: client, and
						 * where it connected to */
};

/* 1: buf holds a whole header, described in *h (h->len may be more than
 * len: the rest is v2 TLVs, to be skipped).  0: a beginning of one, more
 * bytes needed (len < PROXY_PEEK_MAX).  -1: not a valid header, *why says
 * what is wrong (static text). */
int proxy_parse(const void *buf, size_t len, struct proxy_hdr *h,
    const char **why);

/* The v1 line for h (PROXY_INET or UNKNOWN) into buf: its length, or -1
 * if it does not fit.  For tests and the fuzz harness's round trip. */
int proxy_format_v1(const struct proxy_hdr *h, char *buf, size_t len);

#endif
