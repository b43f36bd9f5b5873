/*
 * chargen (RFC 864): lines from a rotating ring of the 95 printable ASCII
 * characters, each ended by CRLF, until the client closes.  The RFC's
 * lines are 72 characters; --chargen-width changes that.
 *
 * Line i is ring[i % 95 .. i % 95 + width - 1].  All 95 distinct lines are
 * laid out once, back to back, followed by as much again as one emission,
 * in one table built at start (ready()); any run of output is then one
 * contiguous slice of it and costs no copy.  Input is discarded.  The
 * driver only asks for more when the last chunk was sent, which is the
 * flow control that paces chargen to the reader.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parse.h"
#include "service.h"

#define RING		95
#define WIDTH		72	/* RFC 864 */
#define WIDTH_MAX	1024

struct chargen_conf {
	unsigned width;		/* 0 until set: WIDTH */
	size_t line;		/* width + CR LF */
	size_t cycle;		/* RING lines: then it repeats */
	size_t chunk;		/* bytes emitted per call */
	char *table;		/* cycle + chunk bytes */
};

struct chargen {
	const struct chargen_conf *conf;
	size_t pos;		/* offset into the cycle */
};

static const struct svc_option options[] = {
	{ "chargen-width", "N", "characters per line, 1 to 1024 (default 72)" },
	{ NULL, NULL, NULL }
};

static int
chargen_option(void *conf, const char *name, const char *arg, char *err,
    size_t errlen)
{
	struct chargen_conf *c = conf;
	uint64_t v;

	(void)name;
	if (parse_uint(arg, 1, WIDTH_MAX, &v) == -1) {
		snprintf(err, errlen, "--chargen-width: '%s' is not a number "
		    "from 1 to %d", arg, WIDTH_MAX);
		return -1;
	}
	c->width = (unsigned)v;
	return 0;
}

static ssize_t
chargen_ready(void *conf, char *err, size_t errlen)
{
	struct chargen_conf *c = conf;
	size_t i, l, k;

	if (c->width == 0)
		c->width = WIDTH;
	c->line = c->width + 2;
	c->cycle = c->line * RING;
	c->chunk = 2 * c->cycle < SVC_EMIT_MAX ? 2 * c->cycle : SVC_EMIT_MAX;
	if ((c->table = malloc(c->cycle + c->chunk)) == NULL) {
		snprintf(err, errlen, "chargen: no memory for its table");
		return -1;
	}
	for (l = 0; l < RING; l++) {
		for (k = 0; k < c->width; k++)
			c->table[l * c->line + k] = (char)(' ' + (l + k) % RING);
		c->table[l * c->line + c->width] = '\r';
		c->table[l * c->line + c->width + 1] = '\n';
	}
	for (i = c->cycle; i < c->cycle + c->chunk; i++)
		c->table[i] = c->table[i - c->cycle];
	return (ssize_t)sizeof(struct chargen);
}

static void
chargen_fini(void *conf)
{
	struct chargen_conf *c = conf;

	free(c->table);
	c->table = NULL;
}

static int
chargen_more(void *st, struct svc_out *out)
{
	struct chargen *cg = st;

	svc_emit(out, cg->conf->table + cg->pos, cg->conf->chunk);
	cg->pos = (cg->pos + cg->conf->chunk) % cg->conf->cycle;
	return SVC_OK;
}

static int
chargen_start(void *st, const struct svc_conn *conn, struct svc_out *out)
{
	struct chargen *cg = st;

	cg->conf = conn->conf;
	return chargen_more(st, out);
}

/* UDP (RFC 864): a datagram of a random 0..512 characters per request.  The
 * lines rotate with each datagram so successive replies differ. */
static ssize_t
chargen_datagram(const void *conf, const char *in, size_t len, char *out,
    size_t cap)
{
	const struct chargen_conf *c = conf;
	static _Atomic unsigned line;
	static _Thread_local unsigned seed;
	size_t n, k;
	unsigned l;

	(void)in;
	(void)len;
	if (seed == 0)
		seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&seed;
	n = (size_t)rand_r(&seed) % 513;
	if (n > cap)
		n = cap;
	l = line++ % RING;
	/* The table holds at least a chunk (2 lines, >= 6 bytes) past the
	 * cycle: wrap within it for narrow lines. */
	for (k = 0; k < n; k++)
		out[k] = c->table[(l * c->line + k) % c->cycle];
	return (ssize_t)n;
}

const struct service service_chargen = {
	.name = "chargen",
	.summary = "RFC 864: 72-character lines of a rotating printable ring",
	.flags = SVC_READ_ALWAYS,
	.options = options,
	.conf_size = sizeof(struct chargen_conf),
	.option = chargen_option,
	.ready = chargen_ready,
	.fini = chargen_fini,
	.start = chargen_start,
	.input = svc_input_ignore,
	/* A half-close only says the client is done sending: it may still
	 * read, so chargen goes on until a write fails (as inetd's does). */
	.eof = svc_eof_ignore,
	.more = chargen_more,
	.datagram = chargen_datagram,
};
