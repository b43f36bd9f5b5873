/*
 * rel_util.h: what every reliability helper needs: a failure counted and
 * said once (failf), a monotonic clock in milliseconds and a sleep that
 * survives signals.
 *
 * Header-only, like rel_proc.h.  Define REL_PROG ("rel_mem") before
 * including it: failf's lines start with it.
 */
#ifndef REL_UTIL_H
#define REL_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#ifndef REL_PROG
#error "define REL_PROG before including rel_util.h"
#endif

static _Atomic int failures;

static inline void failf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static inline void
failf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs(REL_PROG ": FAIL: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	atomic_fetch_add(&failures, 1);
}

static inline int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

#endif
