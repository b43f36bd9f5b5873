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

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

int
shist_from(struct shist *s, const struct hist *h)
{
	size_t i, k;
	uint32_t nb = 0;

	for (i = 0; i < HIST_NBUCKETS; i++)
		nb += h->b[i] != 0;
	s->count = h->count;
	s->sum = h->sum;
	s->min = h->min;
	s->max = h->max;
	s->nb = 0;
	s->idx = NULL;
	s->n = NULL;
	if (nb == 0)
		return 0;
	s->idx = malloc(nb * sizeof(*s->idx));
	s->n = malloc(nb * sizeof(*s->n));
	if (s->idx == NULL || s->n == NULL) {
		shist_free(s);
		return -1;
	}
	for (i = 0, k = 0; i < HIST_NBUCKETS; i++)
		if (h->b[i]) {
			s->idx[k] = (uint32_t)i;
			s->n[k++] = h->b[i];
		}
	s->nb = nb;
	return 0;
}

void
shist_to(const struct shist *s, struct hist *h)
{
	uint32_t k;

	h->count += s->count;
	h->sum += s->sum;
	if (s->count && s->min < h->min)
		h->min = s->min;
	if (s->max > h->max)
		h->max = s->max;
	for (k = 0; k < s->nb; k++)
		h->b[s->idx[k]] += s->n[k];
}

void
shist_free(struct shist *s)
{
	free(s->idx);
	free(s->n);
	s->idx = NULL;
	s->n = NULL;
	s->nb = 0;
}

/*
 * HdrHistogram's percentile distribution (outputPercentileDistribution with
 * 5 ticks per half distance, values scaled to milliseconds): a row at
 * percentile levels that halve the distance to 100% five steps at a time,
 * each giving the highest value of the bucket where the level is reached,
 * the level, the count up to there and 1/(1 - level); a last row at 100%;
 * then the mean, standard deviation, maximum, count and the layout.
 */
#define HGRM_ROWS_MAX	2000	/* levels to 1 - 10^-16: under 300 rows */

void
hist_hgrm(const struct hist *h, FILE *f)
{
	const double ms = 1e6, ticks = 5;
	double level = 0, pct, mean, var = 0, d, mid, step;
	int rows = 0;
	uint64_t cum = 0, v;
	size_t i;

	fprintf(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile",
	    "TotalCount", "1/(1-Percentile)");
	for (i = 0; i < HIST_NBUCKETS && h->count; i++) {
		if (h->b[i] == 0)
			continue;
		cum += h->b[i];
		v = hist_high(i) < h->max ? hist_high(i) : h->max;
		pct = 100.0 * (double)cum / (double)h->count;
		while (level <= pct && level < 100.0) {
			fprintf(f, "%12.3f %2.12f %10llu %14.2f\n",
			    (double)v / ms, level / 100.0,
			    (unsigned long long)cum, 1.0 / (1.0 - level /
			    100.0));
			/* The next level: 2^(floor(log2(100/(100-l)))+1)
			 * half-distance steps of `ticks` each. */
			step = 100.0 / (ticks * pow(2, floor(log2(100.0 /
			    (100.0 - level))) + 1));
			/* At the last value, one row; then the 100% row.
			 * (The levels only approach 100%: once a step no
			 * longer moves the level, or the rows would pass
			 * what HdrHistogram ever prints, that is the end,
			 * whatever the counts say.) */
			if (cum >= h->count || level + step <= level ||
			    ++rows > HGRM_ROWS_MAX)
				break;
			level += step;
		}
		if (cum >= h->count || rows > HGRM_ROWS_MAX)
			break;
	}
	if (h->count)
		fprintf(f, "%12.3f %2.12f %10llu\n", (double)h->max / ms, 1.0,
		    (unsigned long long)h->count);
	mean = h->count ? (double)h->sum / (double)h->count : 0;
	for (i = 0; i < HIST_NBUCKETS; i++)
		if (h->b[i]) {
			mid = (double)hist_low(i) + (double)(hist_high(i) -
			    hist_low(i)) / 2;
			d = mid - mean;
			var += d * d * (double)h->b[i];
		}
	if (h->count)
		var /= (double)h->count;
	fprintf(f, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n",
	    mean / ms, sqrt(var) / ms);
	fprintf(f, "#[Max     = %12.3f, Total count    = %12llu]\n",
	    (double)h->max / ms, (unsigned long long)h->count);
	fprintf(f, "#[Buckets = %12d, SubBuckets     = %12d]\n",
	    HIST_MAX_EXP - HIST_SUB_BITS + 1, 2 * HIST_SUB);
}
