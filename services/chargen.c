/*
 * chargen (RFC 864): 72-character lines from a rotating ring of the 95
 * printable ASCII characters, each ended by CRLF, until the client closes.
 *
 * Line i is ring[i % 95 .. i % 95 + 71].  All 95 distinct lines are laid out
 * once, back to back, twice over, in one static table; any run of output is
 * then one contiguous slice of it and costs no copy.  Input is discarded.
 * The driver only asks for more when the last chunk was sent, which is the
 * flow control that paces chargen to the reader.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service.h"

#define LINE	74			/* 72 characters + CR LF */
#define NLINES	95
#define CYCLE	(LINE * NLINES)		/* 7030 bytes, then it repeats */
#define CHUNK	(CYCLE * 2)		/* bytes emitted per call */

static char table[CYCLE + CHUNK];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
build(void)
{
	size_t i;
	int l, c;

	for (l = 0; l < NLINES; l++) {
		for (c = 0; c < 72; c++)
			table[l * LINE + c] = (char)(' ' + (l + c) % 95);
		table[l * LINE + 72] = '\r';
		table[l * LINE + 73] = '\n';
	}
	for (i = CYCLE; i < sizeof(table); i++)
		table[i] = table[i - CYCLE];
}

struct chargen {
	uint32_t pos;		/* offset into the cycle */
};

static int
chargen_more(void *st, struct svc_out *out)
{
	struct chargen *cg = st;

	svc_emit(out, table + cg->pos, CHUNK);
	cg->pos = (uint32_t)((cg->pos + CHUNK) % CYCLE);
	return SVC_OK;
}

static int
chargen_start(void *st, struct svc_out *out)
{
	pthread_once(&once, build);
	return chargen_more(st, out);
}

/* UDP (RFC 864): a datagram of a random 0..512 characters per request.  The
 * lines rotate with each datagram so successive replies differ. */
static ssize_t
chargen_datagram(const char *in, size_t len, char *out, size_t cap)
{
	static _Atomic unsigned line;
	static _Thread_local unsigned seed;
	size_t n;
	unsigned l;

	(void)in;
	(void)len;
	pthread_once(&once, build);
	if (seed == 0)
		seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&seed;
	n = (size_t)rand_r(&seed) % 513;
	if (n > cap)
		n = cap;
	l = line++ % NLINES;
	memcpy(out, table + l * LINE, n);
	return (ssize_t)n;
}

const struct service service_chargen = {
	.name = "chargen",
	.summary = "RFC 864: 72-character lines of a rotating printable ring",
	.state_size = sizeof(struct chargen),
	.flags = SVC_READ_ALWAYS,
	.start = chargen_start,
	.input = svc_input_ignore,
	/* A half-close only says the client is done sending: it may still
	 * read, so chargen goes on until a write fails (as inetd's does). */
	.eof = svc_eof_ignore,
	.more = chargen_more,
	.datagram = chargen_datagram,
};
