/*
 * nbytes: UNP ch. 30's benchmark protocol.  The client writes a decimal
 * count N and a newline; the server replies with exactly N bytes; repeat
 * until EOF.  N outside 1..max (16384, or --nbytes-max), or a malformed
 * line, closes the connection without a reply (replies already owed for
 * earlier lines are sent first).
 *
 * The reply stream of a connection is nbytes_pattern(0), (1), (2)... : each
 * request takes the next N bytes of it.  A one-request connection (UNP's
 * client, concurbench --mode nbytes) gets pattern(0..N-1).  Only a count of
 * bytes owed is kept, never the bytes: they are slices of a static table.
 * "N\r\n" is accepted too, for people typing at telnet.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "parse.h"
#include "service.h"

#define NB_DEFAULT	16384	/* UNP's largest */
#define NB_MAX		(1024 * 1024 * 1024)
#define NB_LINE_MAX	12	/* "1073741824\r" and a leading zero */
#define NB_PERIOD	95

static char table[NB_PERIOD + SVC_EMIT_MAX];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
build(void)
{
	size_t i;

	for (i = 0; i < sizeof(table); i++)
		table[i] = nbytes_pattern(i);
}

struct nbytes_conf {
	uint32_t max;		/* largest N; 0 until set: NB_DEFAULT */
	uint8_t line_max;	/* longest request line: max's digits + 2 */
};

struct nbytes {
	uint64_t owed;		/* bytes still to send */
	uint32_t pos;		/* stream offset mod NB_PERIOD */
	uint32_t max;
	uint8_t line_max;
	uint8_t linelen;	/* bytes of the current line so far */
	uint8_t bad;		/* a malformed line came: close when paid */
	char line[NB_LINE_MAX + 1];
};

static const struct svc_option options[] = {
	{ "nbytes-max", "N", "largest reply a request may ask for, up to 1G "
	    "(default 16384)" },
	{ NULL, NULL, NULL }
};

static int
nbytes_option(void *conf, const char *name, const char *arg, char *err,
    size_t errlen)
{
	struct nbytes_conf *c = conf;
	uint64_t v;

	(void)name;
	if (parse_size(arg, NB_MAX, &v) == -1 || v == 0) {
		snprintf(err, errlen, "--nbytes-max: '%s' is not a size from 1 "
		    "to 1G (e.g. 16384, 64k, 1M)", arg);
		return -1;
	}
	c->max = (uint32_t)v;
	return 0;
}

static ssize_t
nbytes_ready(void *conf, char *err, size_t errlen)
{
	struct nbytes_conf *c = conf;
	uint32_t v;

	(void)err;
	(void)errlen;
	if (c->max == 0)
		c->max = NB_DEFAULT;
	c->line_max = 2;
	for (v = c->max; v > 0; v /= 10)
		c->line_max++;
	pthread_once(&once, build);
	return (ssize_t)sizeof(struct nbytes);
}

/* One whole line (without its '\n'): the count, or 0 if malformed. */
static uint32_t
parse_line(const char *s, size_t len, uint32_t max)
{
	uint64_t v = 0;
	size_t i;

	if (len > 0 && s[len - 1] == '\r')
		len--;
	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max)
			return 0;
	}
	return (uint32_t)v;
}

static int
nbytes_more(void *st, struct svc_out *out)
{
	struct nbytes *nb = st;
	size_t n = nb->owed < SVC_EMIT_MAX ? (size_t)nb->owed : SVC_EMIT_MAX;

	if (n > 0) {
		svc_emit(out, table + nb->pos, n);
		nb->owed -= n;
		nb->pos = (uint32_t)((nb->pos + n) % NB_PERIOD);
	}
	if (nb->bad && nb->owed == 0)
		return n > 0 ? SVC_DONE : SVC_ABORT;
	return SVC_OK;
}

static int
nbytes_start(void *st, const struct svc_conn *conn, struct svc_out *out)
{
	const struct nbytes_conf *c = conn->conf;
	struct nbytes *nb = st;

	(void)out;
	nb->max = c->max;
	nb->line_max = c->line_max;
	return SVC_OK;
}

static int
nbytes_input(void *st, const char *buf, size_t len, struct svc_out *out)
{
	struct nbytes *nb = st;
	size_t i;

	for (i = 0; i < len && !nb->bad; i++) {
		uint32_t v;

		if (buf[i] != '\n') {
			if (nb->linelen >= nb->line_max)
				nb->bad = 1;
			else
				nb->line[nb->linelen++] = buf[i];
			continue;
		}
		v = parse_line(nb->line, nb->linelen, nb->max);
		nb->linelen = 0;
		if (v == 0)
			nb->bad = 1;
		else
			nb->owed += v;
	}
	return nbytes_more(st, out);
}

/* EOF: pay what is owed, then close (more() is called until owed is 0). */
static int
nbytes_eof(void *st, struct svc_out *out)
{
	struct nbytes *nb = st;

	if (nb->owed == 0)
		return SVC_DONE;
	nb->bad = 1;		/* "close when paid" */
	return nbytes_more(st, out);
}

const struct service service_nbytes = {
	.name = "nbytes",
	.summary = "UNP ch. 30: client sends N and a newline, gets N bytes",
	.flags = SVC_CLIENT_FIRST,
	.options = options,
	.conf_size = sizeof(struct nbytes_conf),
	.option = nbytes_option,
	.ready = nbytes_ready,
	.start = nbytes_start,
	.input = nbytes_input,
	.eof = nbytes_eof,
	.more = nbytes_more,
};
