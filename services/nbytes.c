/*
 * nbytes: UNP ch. 30's benchmark protocol.  The client writes a decimal
 * count N and a newline; the server replies with exactly N bytes; repeat
 * until EOF.  N outside 1..16384, or a malformed line, closes the connection
 * without a reply (replies already owed for earlier lines are sent first).
 *
 * The reply stream of a connection is nbytes_pattern(0), (1), (2)... : each
 * request takes the next N bytes of it.  A one-request connection (UNP's
 * client, concurbench --mode nbytes) gets pattern(0..N-1).  Only a count of
 * bytes owed is kept, never the bytes: they are slices of a static table.
 * "N\r\n" is accepted too, for people typing at telnet.
 */
#include <pthread.h>
#include <stdint.h>

#include "service.h"

#define NB_MAX		16384
#define NB_LINE_MAX	7		/* "16384\r" */
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

struct nbytes {
	uint64_t owed;		/* bytes still to send */
	uint32_t pos;		/* stream offset mod NB_PERIOD */
	uint8_t linelen;	/* bytes of the current line so far */
	uint8_t bad;		/* a malformed line came: close when paid */
	char line[NB_LINE_MAX + 1];
};

/* One whole line (without its '\n'): the count, or 0 if malformed. */
static uint32_t
parse_line(const char *s, size_t len)
{
	uint32_t v = 0;
	size_t i;

	if (len > 0 && s[len - 1] == '\r')
		len--;
	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (uint32_t)(s[i] - '0');
		if (v > NB_MAX)
			return 0;
	}
	return v;
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
nbytes_start(void *st, struct svc_out *out)
{
	(void)st;
	(void)out;
	pthread_once(&once, build);
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
			if (nb->linelen >= NB_LINE_MAX)
				nb->bad = 1;
			else
				nb->line[nb->linelen++] = buf[i];
			continue;
		}
		v = parse_line(nb->line, nb->linelen);
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
	.state_size = sizeof(struct nbytes),
	.start = nbytes_start,
	.input = nbytes_input,
	.eof = nbytes_eof,
	.more = nbytes_more,
};
