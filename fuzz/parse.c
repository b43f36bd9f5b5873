/*
 * fuzz/parse.c: the number, duration, size and port parsers
 * (lib/parse.c, lib/net.c net_parse_port) on arbitrary strings.
 *
 * Byte 0 picks the parser and the bounds; the rest, NUL-terminated, is the
 * text.  Checked: no crash or undefined behaviour; success only for what
 * the contract allows (parse.h: whole string, digits; a result inside the
 * bounds; the same value strtoull reads), failure with errno EINVAL or
 * ERANGE; a port in 0..65535 or a negative error.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t bounds[] = { 0, 1, 9, 255, 65535, 1u << 31,
	    UINT32_MAX, UINT64_MAX / 10, UINT64_MAX };
	char *s;
	uint64_t v = 0, min, max;
	int r, p;

	if (size < 1 || size > 4096)
		return 0;
	if ((s = malloc(size)) == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	min = bounds[(data[0] >> 4) % 9];
	max = bounds[data[0] % 9];
	switch ((data[0] >> 2) % 4) {
	case 0:
		errno = 0;
		r = parse_uint(s, min, max, &v);
		if (r == 0) {
			if (!all_digits(s) || v < min || v > max ||
			    strtoull(s, NULL, 10) != v)
				abort();
		} else if (r != -1 || (errno != EINVAL && errno != ERANGE))
			abort();
		break;
	case 1:
		errno = 0;
		r = parse_duration_us(s, &v);
		if (r != 0 && (r != -1 || (errno != EINVAL && errno != ERANGE)))
			abort();
		if (r == 0 && !isdigit((unsigned char)s[0]) && s[0] != '.')
			abort();
		break;
	case 2:
		errno = 0;
		r = parse_size(s, max, &v);
		if (r == 0 && (v > max || !isdigit((unsigned char)s[0])))
			abort();
		if (r != 0 && (r != -1 || (errno != EINVAL && errno != ERANGE)))
			abort();
		break;
	default:
		p = net_parse_port(s, data[0] & 1 ? SOCK_DGRAM : SOCK_STREAM);
		if (p > 65535)
			abort();
		if (p >= 0 && all_digits(s) && strtoull(s, NULL, 10) != (uint64_t)p)
			abort();
		break;
	}
	free(s);
	return 0;
}
