/*
 * bench_hist: TAP unit tests of concurbench's latency histogram.
 *
 * The helper rule builds one file, so this one includes hist.c itself.
 * The claim under test is the man page's: every percentile is within 1% of
 * the exact one, from 1 us to 60 s, and merging loses nothing.
 */
#include "../../programs/concurbench/hist.c"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int n, failed;

static void
ok(int cond, const char *what)
{
	n++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, what);
	if (!cond)
		failed++;
}

static uint64_t rng = 88172645463325252ull;

static uint64_t
xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The same rank rule as hist_percentile, on the sorted samples. */
static uint64_t
exact(const uint64_t *v, size_t cnt, double p)
{
	double want = p / 100.0 * (double)cnt;
	size_t rank = (size_t)want;

	if ((double)rank < want)
		rank++;
	if (rank == 0)
		rank = 1;
	return v[rank - 1];
}

static void
test_layout(void)
{
	size_t i;
	int good = 1, width = 1;
	uint64_t v;

	for (i = 0; i < HIST_NBUCKETS; i++) {
		if (hist_index(hist_low(i)) != i || hist_index(hist_high(i)) != i)
			good = 0;
		if (i + 1 < HIST_NBUCKETS && hist_high(i) + 1 != hist_low(i + 1))
			good = 0;
		if (hist_low(i) > 0 && (double)(hist_high(i) - hist_low(i)) /
		    (double)hist_low(i) >= 1.0 / HIST_SUB)
			width = 0;
	}
	ok(good, "buckets tile the range, each index maps back to itself");
	ok(width, "no bucket spans 1/128 of its lower bound");
	for (v = 0, good = 1; v < 2 * HIST_SUB; v++)
		if (hist_low(hist_index(v)) != v)
			good = 0;
	ok(good, "values below 256 ns are exact");
	ok(hist_index(UINT64_MAX) == HIST_NBUCKETS - 1,
	    "huge values land in the last bucket");
}

static void
test_error_bound(void)
{
	static struct hist h, a, b, m;
	static uint64_t v[200000];
	const double ps[] = { 1, 10, 50, 90, 99, 99.9, 99.99, 100 };
	size_t i, cnt = sizeof(v) / sizeof(v[0]), j;
	double worst = 0, err;
	uint64_t got, want;
	char what[128];
	int same;

	hist_init(&h);
	hist_init(&a);
	hist_init(&b);
	/* Log-uniform from 1 us to 60 s. */
	for (i = 0; i < cnt; i++) {
		double u = (double)(xorshift() >> 11) / 9007199254740992.0;

		v[i] = (uint64_t)(1000.0 * exp(u * log(60e9 / 1000.0)));
		hist_record(&h, v[i]);
		hist_record(i % 2 ? &a : &b, v[i]);
	}
	qsort(v, cnt, sizeof(v[0]), cmp_u64);
	ok(h.min == v[0] && h.max == v[cnt - 1], "min and max are exact");
	for (j = 0; j < sizeof(ps) / sizeof(ps[0]); j++) {
		got = hist_percentile(&h, ps[j]);
		want = exact(v, cnt, ps[j]);
		err = fabs((double)got - (double)want) / (double)want;
		if (err > worst)
			worst = err;
		snprintf(what, sizeof(what), "p%g within 1%% (%.4f%%)", ps[j],
		    err * 100);
		ok(err <= 0.01, what);
	}
	/* Every percentile, not just the reported ones. */
	for (j = 1, err = 0; j <= 1000; j++) {
		double p = (double)j / 10.0;
		double e = fabs((double)hist_percentile(&h, p) -
		    (double)exact(v, cnt, p)) / (double)exact(v, cnt, p);

		if (e > err)
			err = e;
	}
	snprintf(what, sizeof(what), "p0.1..p100 all within 1%% (worst "
	    "%.4f%%)", err * 100);
	ok(err <= 0.01, what);

	hist_init(&m);
	hist_merge(&m, &a);
	hist_merge(&m, &b);
	same = m.count == h.count && m.sum == h.sum && m.min == h.min &&
	    m.max == h.max && memcmp(m.b, h.b, sizeof(h.b)) == 0;
	ok(same, "merging two halves gives the whole");
}

static void
test_small(void)
{
	static struct hist h;

	hist_init(&h);
	ok(hist_percentile(&h, 50) == 0, "empty histogram answers 0");
	hist_record(&h, 42000);
	ok(hist_percentile(&h, 50) == 42000 && hist_percentile(&h, 99.99) ==
	    42000, "one sample is every percentile");
	hist_record(&h, 1000000);
	ok(labs((long)hist_percentile(&h, 50) - 42000) <= 420,
	    "p50 of two is the lower, within 1%");
	ok(hist_percentile(&h, 100) == 1000000, "p100 is the max");
}

/* The .hgrm writer ends whatever the counts say: a histogram whose
 * buckets hold more than its count (a torn copy) once made its levels
 * creep toward 100% by steps too small to move them, forever. */
static void
test_hgrm_bounded(void)
{
	struct hist h;
	char *text = NULL;
	size_t len = 0, rows = 0, i;
	FILE *f;

	hist_init(&h);
	hist_record(&h, 1000);
	hist_record(&h, 1000);
	hist_record(&h, 1000);
	h.count = 2;		/* the one bucket holds 3 */
	f = open_memstream(&text, &len);
	if (f == NULL) {
		ok(0, "open_memstream");
		return;
	}
	hist_hgrm(&h, f);
	fclose(f);
	for (i = 0; i < len; i++)
		rows += text[i] == '\n';
	ok(rows < 3000, "hgrm ends when the buckets disagree with the count");
	free(text);
}

int
main(void)
{
	test_layout();
	test_error_bound();
	test_small();
	test_hgrm_bounded();
	printf("1..%d\n", n);
	return failed != 0;
}
