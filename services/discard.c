/*
 * discard (RFC 863): reads and drops everything.
 */
#include "service.h"

static ssize_t
discard_datagram(const void *conf, const char *in, size_t len, char *out,
    size_t cap)
{
	(void)conf;
	(void)in;
	(void)len;
	(void)out;
	(void)cap;
	return -1;
}

const struct service service_discard = {
	.name = "discard",
	.summary = "RFC 863: reads and drops everything",
	.flags = SVC_READ_ALWAYS | SVC_CLIENT_FIRST,
	.start = svc_start_nothing,
	.input = svc_input_ignore,
	.eof = svc_eof_done,
	.datagram = discard_datagram,
};
