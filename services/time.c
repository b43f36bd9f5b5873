/*
 * time (RFC 868): the time as a 32-bit big-endian count of seconds since
 * 1900-01-01 00:00 UTC, then close.  The count wraps in 2036, as the RFC's
 * does; the low 32 bits are what every client expects.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "service.h"

#define EPOCH_1900	2208988800ULL	/* seconds from 1900 to 1970 */

struct timesvc {
	unsigned char be[4];
};

static void
now_be(unsigned char be[4])
{
	uint32_t t = (uint32_t)((uint64_t)time(NULL) + EPOCH_1900);

	be[0] = (unsigned char)(t >> 24);
	be[1] = (unsigned char)(t >> 16);
	be[2] = (unsigned char)(t >> 8);
	be[3] = (unsigned char)t;
}

static int
time_start(void *st, const struct svc_conn *conn, struct svc_out *out)
{
	struct timesvc *ts = st;

	(void)conn;
	now_be(ts->be);
	svc_emit(out, ts->be, sizeof(ts->be));
	return SVC_DONE;
}

static ssize_t
time_datagram(const void *conf, const char *in, size_t len, char *out,
    size_t cap)
{
	unsigned char be[4];

	(void)conf;
	(void)in;
	(void)len;
	if (cap < sizeof(be))
		return -1;
	now_be(be);
	memcpy(out, be, sizeof(be));
	return (ssize_t)sizeof(be);
}

const struct service service_time = {
	.name = "time",
	.summary = "RFC 868: 32-bit big-endian seconds since 1900, then close",
	.state_size = sizeof(struct timesvc),
	.flags = SVC_READ_ALWAYS,
	.start = time_start,
	.input = svc_input_done,
	.eof = svc_eof_done,
	.datagram = time_datagram,
};
