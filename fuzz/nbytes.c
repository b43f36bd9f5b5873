/*
 * fuzz/nbytes.c: the nbytes request parser, driven through its struct
 * service exactly as a model's driver does (service.h's contract), with the
 * input cut into arbitrary pieces.
 *
 * Input: byte 0 seeds the split sizes; the rest is what a client sends,
 * followed by its EOF.  The service is configured as concurd does without
 * --nbytes-max.  Checked against a reference reading of the
 * protocol: the reply is exactly the sum of the counts of the well-formed
 * lines before the first malformed one (1..16384, digits, optional CR;
 * a line over 7 bytes is malformed), byte k of it is nbytes_pattern(k), each
 * emission is at most SVC_EMIT_MAX bytes in at most SVC_OUT_MAX slices, and
 * after a malformed line the service closes once it has paid.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"

extern const struct service service_nbytes;

static uint64_t expect_total(const uint8_t *d, size_t n, int *bad)
{
	uint64_t total = 0;
	size_t i, start = 0;

	*bad = 0;
	for (i = 0; i < n; i++) {
		size_t len, j;
		uint32_t v = 0;

		if (i - start >= 7 && d[i] != '\n') {	/* line too long */
			*bad = 1;
			return total;
		}
		if (d[i] != '\n')
			continue;
		len = i - start;
		if (len > 0 && d[start + len - 1] == '\r')
			len--;
		for (j = 0; j < len; j++) {
			if (d[start + j] < '0' || d[start + j] > '9')
				break;
			v = v * 10 + (uint32_t)(d[start + j] - '0');
			if (v > 16384)
				break;
		}
		if (len == 0 || j < len || v == 0) {
			*bad = 1;
			return total;
		}
		total += v;
		start = i + 1;
	}
	return total;
}

static uint64_t got;
static int closed;

static void
take(const struct svc_out *o)
{
	int i;

	if (o->n > SVC_OUT_MAX || svc_out_len(o) > SVC_EMIT_MAX)
		abort();
	for (i = 0; i < o->n; i++) {
		const char *p = o->iov[i].iov_base;
		size_t k;

		for (k = 0; k < o->iov[i].iov_len; k++, got++)
			if (p[k] != nbytes_pattern((size_t)got)) {
				fprintf(stderr, "byte %llu of the reply is wrong\n",
				    (unsigned long long)got);
				abort();
			}
	}
}

/* Send what was emitted, then more() until quiet; like a driver. */
static void
drain(void *st, struct svc_out *o, int r)
{
	int guard = 0;

	for (;;) {
		take(o);
		o->n = 0;
		if (r != SVC_OK) {
			closed = 1;
			return;
		}
		if (service_nbytes.more == NULL)
			return;
		r = service_nbytes.more(st, o);
		if (o->n == 0 && r == SVC_OK)
			return;
		if (++guard > 1000000)
			abort();	/* more() never settles */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The service as concurd configures it by default (no --nbytes-max). */
static struct svc_setup setup;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_Alignas(max_align_t) unsigned char st[256];
	struct svc_out o = { .n = 0 };
	struct svc_conn conn = { .fd = -1 };
	char err[128];
	uint64_t want;
	uint32_t rs;
	size_t off = 1;
	int bad, r;

	if (setup.svc == NULL && (svc_setup_init(&setup, &service_nbytes) == -1 ||
	    svc_setup_ready(&setup, err, sizeof(err)) == -1))
		abort();
	if (size < 1 || setup.state_size > sizeof(st))
		return 0;
	conn.conf = setup.conf;
	rs = data[0] * 2654435761u + 1;
	got = 0;
	closed = 0;
	memset(st, 0, setup.state_size);
	r = service_nbytes.start(st, &conn, &o);
	drain(st, &o, r);
	while (off < size && !closed) {
		size_t n;

		rs = rs * 1103515245u + 12345u;
		n = 1 + (rs >> 16) % 9;		/* 1..9 bytes: lines split */
		if ((rs >> 8) % 4 == 0)
			n = size - off;		/* or all the rest */
		if (n > size - off)
			n = size - off;
		r = service_nbytes.input(st, (const char *)data + off, n, &o);
		drain(st, &o, r);
		off += n;
	}
	if (!closed) {
		r = service_nbytes.eof(st, &o);
		drain(st, &o, r);
	}
	want = expect_total(data + 1, size - 1, &bad);
	if (got != want) {
		fprintf(stderr, "reply %llu bytes, expected %llu\n",
		    (unsigned long long)got, (unsigned long long)want);
		abort();
	}
	if (!closed)
		abort();	/* after EOF and payment the service must close */
	return 0;
}
