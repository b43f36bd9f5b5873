/*
 * concurbench: a load generator that verifies every byte it gets back.
 *
 * main.c reads the options, starts -t worker threads and prints progress;
 * loop.c is one worker: an epoll loop over its share of the connections,
 * written once for every mode (a mode is a pair of messages: what is sent,
 * what must come back); hist.c is the latency histogram; report.c prints the
 * results, and writes and merges histogram files.
 *
 * Times are nanoseconds of CLOCK_MONOTONIC throughout.
 */
#ifndef CONCURBENCH_H
#define CONCURBENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * The histogram: log-linear buckets, HdrHistogram's layout.  Values below
 * 2 * HIST_SUB are exact; above, each power of two is split into HIST_SUB
 * equal buckets, so a bucket is never wider than 1/HIST_SUB (0.78%) of its
 * lower bound and its midpoint is within 0.4% of any value in it.  Values
 * from 0 to 2^HIST_MAX_EXP ns (18 minutes) are kept; larger ones land in the
 * last bucket (max still records them exactly).
 */
#define HIST_SUB_BITS	7
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_MAX_EXP	40
#define HIST_NBUCKETS	((size_t)(HIST_MAX_EXP - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t sum;		/* for the mean */
	uint64_t min, max;	/* exact */
	uint64_t b[HIST_NBUCKETS];
};

void hist_init(struct hist *h);
size_t hist_index(uint64_t v);
uint64_t hist_low(size_t i);
uint64_t hist_high(size_t i);
void hist_add(struct hist *h, size_t i, uint64_t n);
void hist_merge(struct hist *dst, const struct hist *src);
/* The value at percentile p (0 < p <= 100): the smallest value with at least
 * p% of the samples at or below it, to within a bucket. */
uint64_t hist_percentile(const struct hist *h, double p);

static inline void
hist_record(struct hist *h, uint64_t v)
{
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->b[hist_index(v)]++;
}

enum mode { MODE_PINGPONG, MODE_CONNRATE, MODE_STREAM, MODE_NBYTES };

/* Error kinds: the order of every report. */
enum errkind {
	ERR_REFUSED, ERR_RESET, ERR_TIMEOUT, ERR_EADDRNOTAVAIL, ERR_VERIFY,
	ERR_EOF, ERR_OTHER, ERR_NKINDS
};
extern const char *const errkind_name[ERR_NKINDS];
const char *mode_name(enum mode m);
int mode_parse(const char *s, enum mode *m);

/* What the run was asked to do. */
struct config {
	enum mode mode;
	char host[256];
	char port[32];
	uint64_t conns;		/* -c */
	uint64_t size;		/* -s */
	uint64_t duration;	/* -d, ns; 0: none */
	uint64_t limit;		/* -n; 0: none */
	uint64_t threads;	/* -t */
	uint64_t warmup;	/* ns */
	uint64_t rate;		/* -r, requests/s in total; 0: closed loop */
	uint64_t per_worker;	/* --connections-per-worker; 0: none */
	uint64_t connect_timeout, io_timeout;	/* ns */
	bool verify;
	bool close_reset;
	bool json;
	bool progress;
	/* Filled in by main before the workers start. */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	size_t window;		/* messages in flight per connection */
};

/* What a run (or a merge of runs) gave. */
struct results {
	struct config cfg;
	unsigned runs;		/* >1 after --merge */
	bool interrupted;
	uint64_t elapsed;	/* ns of measurement */
	uint64_t rate_sum;	/* merged: sum of each run's rate (milli-req/s) */
	uint64_t issued;	/* requests begun while measuring */
	uint64_t completed;	/* requests verified and timed */
	uint64_t connects;	/* connections opened (whole run) */
	uint64_t bytes_tx, bytes_rx;	/* while measuring */
	uint64_t errors[ERR_NKINDS];	/* whole run, warmup included */
	uint64_t cpu_user, cpu_sys;	/* us, while measuring */
	struct hist lat;
};

/* One worker thread's counters.  Each field has one writer (its thread);
 * main reads them for the progress line, hence the relaxed atomics. */
struct wstats {
	_Atomic uint64_t completed, issued, connects, bytes_tx, bytes_rx;
	_Atomic uint64_t errors[ERR_NKINDS];
};

/* Shared by main and the workers. */
struct shared {
	const struct config *cfg;
	const unsigned char *pat;	/* random bytes, PAT_PERIOD + size long */
	const unsigned char *nbpat;	/* nbytes_pattern(0..size-1) */
	char nbreq[32];			/* "S\n" */
	size_t nbreq_len;
	_Atomic uint64_t tickets;	/* -n: requests handed out */
	_Atomic int stop;		/* SIGINT or an early end */
	_Atomic int verify_reported;	/* the first mismatch is described */
	pthread_barrier_t up, go;	/* all connected; t0 is set */
	uint64_t t0;			/* connections are up; the run starts */
	uint64_t measure_start;		/* t0 + warmup */
	uint64_t end;			/* measure_start + duration, or ~0 */
};

/* The verification pattern: message m of a connection with seed s starts at
 * pat[(s + m * PAT_STRIDE) % PAT_PERIOD].  A prime period and a stride
 * prime to it make neighbouring messages differ, so a stale, duplicated,
 * shifted or dropped byte does not compare equal. */
#define PAT_PERIOD	65521u
#define PAT_STRIDE	40503u

struct worker;
struct worker *worker_new(struct shared *sh, unsigned id, uint64_t first,
    uint64_t nconns, int notify_fd);
int worker_start(struct worker *w);
void worker_join(struct worker *w);
const struct wstats *worker_stats(const struct worker *w);
const struct hist *worker_hist(const struct worker *w);
uint64_t worker_finished(const struct worker *w);
void worker_free(struct worker *w);

uint64_t now_ns(void);

void report_text(const struct results *r);
void report_json(const struct results *r);
int hist_file_write(const char *path, const struct results *r);
/* Returns 0, or -1 after printing why. */
int hist_file_read(const char *path, struct results *r);
void results_merge(struct results *dst, const struct results *src);
/* sysexits code for these results. */
int results_exit_code(const struct results *r);

#endif
