/*
 * echo (RFC 862): every byte back, until the client closes.
 *
 * The reply is the input itself: the slice points into the driver's receive
 * buffer, so an echoed message costs no copy unless the socket is full.
 * After the client's half-close the driver flushes what is left, then closes.
 */
#include <string.h>

#include "service.h"

static int
echo_input(void *st, const char *buf, size_t len, struct svc_out *out)
{
	(void)st;
	svc_emit(out, buf, len);
	return SVC_OK;
}

static ssize_t
echo_datagram(const void *conf, const char *in, size_t len, char *out,
    size_t cap)
{
	(void)conf;
	if (len > cap)
		len = cap;
	memcpy(out, in, len);
	return (ssize_t)len;
}

const struct service service_echo = {
	.name = "echo",
	.summary = "RFC 862: returns every byte until the client closes",
	.flags = SVC_CLIENT_FIRST,
	.start = svc_start_nothing,
	.input = echo_input,
	.eof = svc_eof_done,
	.datagram = echo_datagram,
};
