/*
 * daytime (RFC 867): one human-readable line with the date and time, then
 * close.  The format is ctime(3)'s, in local time, CRLF ended:
 * "Wed Nov 25 10:17:03 2026\r\n".
 */
#include <string.h>
#include <time.h>

#include "service.h"

struct daytime {
	char line[64];
};

static size_t
daytime_line(char *buf, size_t cap)
{
	time_t now = time(NULL);
	struct tm tm;

	if (localtime_r(&now, &tm) == NULL)
		return 0;
	return strftime(buf, cap, "%a %b %e %H:%M:%S %Y\r\n", &tm);
}

static int
daytime_start(void *st, const struct svc_conn *conn, struct svc_out *out)
{
	struct daytime *d = st;
	size_t n = daytime_line(d->line, sizeof(d->line));

	(void)conn;
	if (n == 0)
		return SVC_ABORT;
	svc_emit(out, d->line, n);
	return SVC_DONE;
}

static ssize_t
daytime_datagram(const void *conf, const char *in, size_t len, char *out,
    size_t cap)
{
	size_t n;

	(void)conf;
	(void)in;
	(void)len;
	n = daytime_line(out, cap);
	return n == 0 ? -1 : (ssize_t)n;
}

const struct service service_daytime = {
	.name = "daytime",
	.summary = "RFC 867: one line with the date and time, then close",
	.state_size = sizeof(struct daytime),
	.flags = SVC_READ_ALWAYS,
	.start = daytime_start,
	.input = svc_input_done,
	.eof = svc_eof_done,
	.datagram = daytime_datagram,
};
