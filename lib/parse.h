/*
 * parse: strict numbers from command lines and requests.
 *
 * Whole string or nothing: "12x", "", " 3", "-0" and out-of-range values are
 * refused.  Both return 0 on success, -1 with errno EINVAL or ERANGE.
 */
#ifndef CONCUR_PARSE_H
#define CONCUR_PARSE_H

#include <stdint.h>

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Seconds with an optional fraction and unit: "2", "1.5", "250ms", "3s",
 * "2m", "1h".  Result in microseconds. */
int parse_duration_us(const char *s, uint64_t *out);
/* A byte count with an optional k/K (1024), m/M, g/G suffix. */
int parse_size(const char *s, uint64_t max, uint64_t *out);

#endif
