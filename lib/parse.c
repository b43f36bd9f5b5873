/*
 * parse: digits only, the whole string, inside the range asked for.
 */
#include "parse.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

static int
digits(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) {
			errno = ERANGE;
			return -1;
		}
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*sp = s;
	*out = v;
	return 0;
}

int
parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;

	errno = EINVAL;
	if (s == NULL || digits(&s, &v) == -1)
		return -1;
	if (*s != '\0') {
		errno = EINVAL;
		return -1;
	}
	if (v < min || v > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}

int
parse_duration_us(const char *s, uint64_t *out)
{
	uint64_t whole, frac = 0, scale = 1000000, fscale = 1;
	int fdigits = 0;

	errno = EINVAL;
	if (s == NULL || digits(&s, &whole) == -1)
		return -1;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -1;
		for (; *s >= '0' && *s <= '9'; s++)
			if (fdigits < 6) {
				frac = frac * 10 + (uint64_t)(*s - '0');
				fscale *= 10;
				fdigits++;
			}
	}
	if (strcmp(s, "us") == 0)
		scale = 1;
	else if (strcmp(s, "ms") == 0)
		scale = 1000;
	else if (*s == '\0' || strcmp(s, "s") == 0)
		scale = 1000000;
	else if (strcmp(s, "m") == 0)
		scale = 60000000;
	else if (strcmp(s, "h") == 0)
		scale = 3600000000ULL;
	else
		return -1;
	if (whole > UINT64_MAX / scale / 2) {
		errno = ERANGE;
		return -1;
	}
	*out = whole * scale + frac * scale / fscale;
	return 0;
}

int
parse_size(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v, mul = 1;

	errno = EINVAL;
	if (s == NULL || digits(&s, &v) == -1)
		return -1;
	switch (*s) {
	case '\0':
		break;
	case 'k': case 'K':
		mul = 1024;
		break;
	case 'm': case 'M':
		mul = 1024 * 1024;
		break;
	case 'g': case 'G':
		mul = 1024 * 1024 * 1024;
		break;
	default:
		return -1;
	}
	if (*s != '\0' && s[1] != '\0')
		return -1;
	if (v > max / mul) {
		errno = ERANGE;
		return -1;
	}
	*out = v * mul;
	return 0;
}
