/*
 * discard (RFC 863): reads and drops everything.
 */
#include "service.h"

static int
discard_start(void *st, struct svc_out *out)
{
	(void)st;
	(void)out;
	return SVC_OK;
}

static int
discard_input(void *st, const char *buf, size_t len, struct svc_out *out)
{
	(void)st;
	(void)buf;
	(void)len;
	(void)out;
	return SVC_OK;
}

static int
discard_eof(void *st, struct svc_out *out)
{
	(void)st;
	(void)out;
	return SVC_DONE;
}

static ssize_t
discard_datagram(const char *in, size_t len, char *out, size_t cap)
{
	(void)in;
	(void)len;
	(void)out;
	(void)cap;
	return -1;
}

const struct service service_discard = {
	.name = "discard",
	.summary = "RFC 863: reads and drops everything",
	.flags = SVC_READ_ALWAYS,
	.start = discard_start,
	.input = discard_input,
	.eof = discard_eof,
	.datagram = discard_datagram,
};
