/*
 * cidr: address blocks, "192.0.2.0/24", "2001:db8::/32", or one address.
 *
 * IPv4 blocks are stored as IPv4-mapped IPv6 (::ffff:a.b.c.d/96+len), so an
 * IPv4 client seen through a dual-stack socket matches IPv4 rules, and one
 * compare serves both families.
 */
#ifndef CONCUR_CIDR_H
#define CONCUR_CIDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct cidr {
	uint8_t addr[16];	/* host bits cleared */
	uint8_t len;		/* prefix length, 0..128 */
};

/* 0, or -1 with errno EINVAL (malformed, host bits set are allowed and
 * cleared, prefix out of range). */
int cidr_parse(const char *s, struct cidr *out);
/* The address of sa as 16 bytes (IPv4 mapped); -1 for other families. */
int cidr_key(const struct sockaddr *sa, uint8_t key[16]);
bool cidr_match(const struct cidr *c, const uint8_t key[16]);

#endif
