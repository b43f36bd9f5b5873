/*
 * fuzz/proxy.c: lib/proxyproto.c proxy_parse on arbitrary bytes, as a
 * connection's first bytes.
 *
 * Checked: no crash or undefined behaviour; the answer is -1 (with a
 * reason), 0 or 1; 0 ("more, please") only below PROXY_PEEK_MAX bytes; a
 * whole v1 header ends with CRLF within 107 bytes; every shorter prefix of
 * a valid header is "more, please" or the same header, never invalid (so a
 * header that arrives a byte at a time is read the same); an address
 * parsed prints back (proxy_format_v1) to a v1 line that parses to the
 * same addresses and ports.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
same_addrs(const struct proxy_hdr *a, const struct proxy_hdr *b)
{
	size_t n = a->src.ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);

	if (a->kind != b->kind || memcmp(&a->src, &b->src, n) != 0 ||
	    memcmp(&a->dst, &b->dst, n) != 0) {
		fprintf(stderr, "the v1 line does not parse back to the same "
		    "addresses\n");
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr h, p, back;
	const char *why = NULL;
	char line[PROXY_V1_MAX + 1];
	size_t k;
	int r, n;

	memset(&h, 0, sizeof(h));
	r = proxy_parse(data, size, &h, &why);
	if (r < -1 || r > 1)
		abort();
	if (r == -1 && why == NULL)
		abort();
	if (r == 0 && size >= PROXY_PEEK_MAX)
		abort();	/* it needs no more than that to decide */
	if (r != 1)
		return 0;
	if (h.version == 1 && (h.len > size || h.len > PROXY_V1_MAX ||
	    data[h.len - 2] != '\r' || data[h.len - 1] != '\n'))
		abort();
	if (h.version == 2 && h.len < PROXY_V2_HEAD)
		abort();
	for (k = 0; k < size && k < PROXY_PEEK_MAX; k++) {
		memset(&p, 0, sizeof(p));
		switch (proxy_parse(data, k, &p, &why)) {
		case -1:
			fprintf(stderr, "a prefix of %zu bytes of a valid header "
			    "is refused: %s\n", k, why);
			abort();
		case 1:
			if (p.len != h.len || p.kind != h.kind)
				abort();
			break;
		}
	}
	if (h.kind == PROXY_INET) {
		n = proxy_format_v1(&h, line, sizeof(line));
		if (n <= 0)
			abort();
		memset(&back, 0, sizeof(back));
		if (proxy_parse(line, (size_t)n, &back, &why) != 1 ||
		    back.len != (size_t)n)
			abort();
		same_addrs(&h, &back);
	}
	return 0;
}
