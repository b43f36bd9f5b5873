/*
 * hist: the latency histogram (see bench.h for the layout and its error).
 *
 * Debian 12 packages no C HdrHistogram (only Go's and Java's), so this is a
 * small one of our own: a fixed array of log-linear buckets, recording is a
 * count-leading-zeros and an increment, merging is an addition, and the
 * histogram file lists each bucket's bounds so a reader needs no code of
 * ours to use it.
 */
#include "bench.h"

#include <string.h>

void
hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

size_t
hist_index(uint64_t v)
{
	unsigned e, shift;

	if (v < 2 * HIST_SUB)
		return (size_t)v;
	if (v >> HIST_MAX_EXP)
		v = (UINT64_C(1) << HIST_MAX_EXP) - 1;
	e = 63u - (unsigned)__builtin_clzll(v);	/* v in [2^e, 2^(e+1)) */
	shift = e - HIST_SUB_BITS;		/* bucket width 2^shift */
	return (size_t)shift * HIST_SUB + (size_t)(v >> shift);
}

uint64_t
hist_low(size_t i)
{
	unsigned shift;

	if (i < 2 * HIST_SUB)
		return i;
	shift = (unsigned)(i / HIST_SUB) - 1;
	return (uint64_t)(HIST_SUB + i % HIST_SUB) << shift;
}

uint64_t
hist_high(size_t i)
{
	unsigned shift;

	if (i < 2 * HIST_SUB)
		return i;
	shift = (unsigned)(i / HIST_SUB) - 1;
	return ((uint64_t)(HIST_SUB + i % HIST_SUB + 1) << shift) - 1;
}

void
hist_add(struct hist *h, size_t i, uint64_t n)
{
	h->b[i] += n;
}

void
hist_merge(struct hist *dst, const struct hist *src)
{
	size_t i;

	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	for (i = 0; i < HIST_NBUCKETS; i++)
		dst->b[i] += src->b[i];
}

uint64_t
hist_percentile(const struct hist *h, double p)
{
	uint64_t rank, cum = 0, v;
	size_t i;

	if (h->count == 0)
		return 0;
	if (p >= 100.0)
		return h->max;
	/* rank = ceil(p% of count), at least 1; the float rounding is bounded
	 * by one sample, far below a bucket's width. */
	rank = (uint64_t)(p / 100.0 * (double)h->count);
	if ((double)rank < p / 100.0 * (double)h->count)
		rank++;
	if (rank == 0)
		rank = 1;
	for (i = 0; i < HIST_NBUCKETS; i++) {
		cum += h->b[i];
		if (cum >= rank)
			break;
	}
	if (i == HIST_NBUCKETS)
		return h->max;
	/* The middle of the bucket halves the error; the exact extremes are
	 * better answers when they fall inside it. */
	v = hist_low(i) + (hist_high(i) - hist_low(i)) / 2;
	if (v < h->min)
		v = h->min;
	if (v > h->max)
		v = h->max;
	return v;
}
