/*
 * concurbench: a load generator that verifies every byte it gets back.
 *
 * main.c reads the options, starts -t worker threads and prints progress;
 * loop.c is one TCP worker: an epoll loop over its share of the
 * connections, written once for every mode (a mode is a pair of messages:
 * what is sent, what must come back), whose ping-pong data can go through
 * an io_uring instead; udp.c is the UDP worker, with
 * sequence numbers; worker.c is what both share (the thread, the end of a
 * run) and gathers their results interval by interval; target.c reads the targets and source addresses; proto.c the
 * request templates and answer rules of other protocols; heap.c is the
 * wait heap both workers use; hist.c is the latency histogram; report.c
 * prints the results, and writes and merges histogram files.
 *
 * Times are nanoseconds of CLOCK_MONOTONIC throughout.
 */
#ifndef CONCURBENCH_H
#define CONCURBENCH_H

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdnoreturn.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

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
/* The percentile distribution in HdrHistogram's text form (.hgrm), values
 * in milliseconds, as wrk2 --latency and HdrHistogram's plotter use. */
void hist_hgrm(const struct hist *h, FILE *f);

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

/* A histogram kept for a long time (one per interval): its non-empty
 * buckets only. */
struct shist {
	uint64_t count, sum, min, max;
	uint32_t nb;
	uint32_t *idx;
	uint64_t *n;
};
int shist_from(struct shist *s, const struct hist *h);
void shist_to(const struct shist *s, struct hist *h);	/* adds to h */
void shist_free(struct shist *s);

enum mode { MODE_PINGPONG, MODE_CONNRATE, MODE_STREAM, MODE_NBYTES,
	MODE_FILE };

/* --mode file: the paths asked for, and what each answer must be
 * (files.c). */
enum { FCHECK_NONE, FCHECK_BYTES, FCHECK_SHA256 };
struct fentry {
	char *path;		/* as sent */
	uint64_t weight;
	uint64_t size;		/* UINT64_MAX: not known */
	const unsigned char *map;	/* --root: the local copy */
	unsigned char sha[32];	/* --manifest */
};
struct fileset {
	struct fentry *e;
	size_t n, cap;
	uint64_t *cum, total;	/* cumulative weights */
	size_t maxpath;
	int check;		/* FCHECK_* */
};
void files_add_path(struct fileset *fs, const char *path);
void files_read_list(struct fileset *fs, const char *list);
void files_map_root(struct fileset *fs, const char *root);
void files_read_manifest(struct fileset *fs, const char *manifest);
void files_ready(struct fileset *fs);
size_t files_pick(const struct fileset *fs, uint64_t *rng);
/* The request for path k into out (room for maxpath + host + 64). */
size_t files_request(const struct fileset *fs, size_t k, bool http,
    const char *host, unsigned char *out);
long files_http_head(const unsigned char *buf, size_t len, int *status,
    uint64_t *clen);

/* Error kinds: the order of every report. */
enum errkind {
	ERR_REFUSED, ERR_RESET, ERR_TIMEOUT, ERR_EADDRNOTAVAIL, ERR_VERIFY,
	ERR_EOF, ERR_OTHER, ERR_NKINDS
};
extern const char *const errkind_name[ERR_NKINDS];
const char *mode_name(enum mode m);
int mode_parse(const char *s, enum mode *m);

/* One server to load: connection k goes to target k % ntargets. */
struct target {
	char host[256];
	char port[32];
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

/* A request template: text with {conn} and {req} in it. */
enum { SEG_TEXT, SEG_CONN, SEG_REQ };
struct tseg {
	int kind;
	size_t off, len;	/* SEG_TEXT: bytes of text */
};
struct tmpl {
	unsigned char *text;
	size_t len;		/* of text */
	struct tseg *seg;
	size_t nseg;
	size_t maxlen;		/* longest expansion */
	bool fixed;		/* no placeholder: text is the message */
};

/* How a reply ends, for a protocol other than the built-in ones. */
enum reply_rule { REPLY_ECHO, REPLY_BYTES, REPLY_UNTIL, REPLY_EXACT };
#define REPLY_MAX	(1024 * 1024)	/* longest --reply-until answer */
#define TERM_MAX	64
struct proto {
	struct tmpl req;
	enum reply_rule rule;
	struct tmpl expect;		/* REPLY_EXACT */
	uint64_t bytes;			/* REPLY_BYTES */
	unsigned char term[TERM_MAX];	/* REPLY_UNTIL */
	size_t termlen;
	unsigned kmp[TERM_MAX];		/* failure function of term */
	char req_text[128], rule_text[128];	/* for the report */
};

/* What the run was asked to do. */
struct config {
	enum mode mode;
	bool udp;
	bool unix_socket;	/* unix:PATH targets */
	char host[256];		/* the first target */
	char port[32];
	char targets_text[512];	/* all of them, "h:p h:p ..." */
	uint64_t ntargets, nsources;
	uint64_t conns;		/* -c */
	uint64_t size;		/* -s */
	uint64_t duration;	/* -d, ns; 0: none */
	uint64_t limit;		/* -n; 0: none */
	uint64_t threads;	/* -t */
	bool auto_threads;	/* no -t: halved for local targets */
	uint64_t warmup;	/* ns */
	uint64_t rate;		/* -r, requests/s in total; 0: closed loop */
	uint64_t ramp;		/* ns over which the rate rises to -r */
	uint64_t connect_rate;	/* connections/s; 0: all before the clock */
	uint64_t per_worker;	/* --connections-per-worker; 0: none */
	uint64_t connect_timeout, io_timeout;	/* ns */
	uint64_t interval;	/* ns of each interval result */
	bool interval_lines;	/* -i: print them */
	bool verify;
	bool close_reset;
	bool json;
	bool progress;
	int64_t start_at;	/* CLOCK_REALTIME ns; 0: at once */
	/* Filled in by main before the workers start. */
	struct target *targets;
	struct sockaddr_storage *src4, *src6;	/* --source, by family */
	size_t nsrc4, nsrc6;
	const struct proto *proto;	/* NULL: the mode's own messages */
	struct fileset *files;		/* --mode file */
	bool http;			/* --http: file mode's framing */
	size_t window;		/* messages in flight per connection */
	enum io_kind { IO_AUTO, IO_EPOLL, IO_URING } io;	/* --io */
};

/* One interval's results. */
struct ivrec {
	uint64_t start, len;	/* ns from the start of measurement */
	uint64_t completed, issued, errors, connects;
	uint64_t bytes_tx, bytes_rx, lost;
	struct shist lat;
};

/* What a run (or a merge of runs) gave. */
struct results {
	struct config cfg;
	unsigned runs;		/* >1 after --merge */
	bool interrupted;
	int64_t start_unix;	/* CLOCK_REALTIME ns when measuring began */
	int64_t start_spread;	/* merged: latest start - earliest */
	uint64_t elapsed;	/* ns of measurement */
	uint64_t rate_sum;	/* merged: sum of each run's rate (milli-req/s) */
	uint64_t target_requests;	/* open loop: what the schedule asked */
	uint64_t issued;	/* requests begun while measuring */
	uint64_t completed;	/* requests verified and timed */
	uint64_t failed;	/* measured requests that ended by an error */
	uint64_t connects;	/* connections opened (whole run) */
	uint64_t bytes_tx, bytes_rx;	/* while measuring */
	uint64_t errors[ERR_NKINDS];	/* whole run, warmup included */
	uint64_t lost, duplicate, reordered, late;	/* UDP */
	uint64_t cpu_user, cpu_sys;	/* us, while measuring */
	struct hist lat;
	struct ivrec *iv;
	size_t niv;
};

/* One worker thread's counters.  Each field has one writer (its thread);
 * main reads them for the progress line, hence the relaxed atomics. */
struct wstats {
	_Atomic uint64_t completed, issued, failed, connects, bytes_tx,
	    bytes_rx;
	_Atomic uint64_t errors[ERR_NKINDS];
	_Atomic uint64_t lost, duplicate, reordered, late;
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
	_Atomic unsigned ring_failed;	/* threads that got no io_uring */
	_Atomic int kind_reported[ERR_NKINDS];	/* -v: first of each kind */
	pthread_barrier_t up, go;	/* all connected; t0 is set */
	uint64_t t0;			/* connections are up; the run starts */
	uint64_t measure_start;		/* t0 + warmup */
	uint64_t end;			/* measure_start + duration, or ~0 */
	/* Intervals (interval.c), under ivlock. */
	pthread_mutex_t ivlock;
	unsigned nworkers;
	int64_t *final_k;		/* per worker: last interval, -2 running */
	struct ivpend *pending;
	struct ivrec *iv;
	size_t niv, ivcap;
	int iv_fd;			/* eventfd: an interval is complete */
};

/* The verification pattern: message m of a connection with seed s starts at
 * pat[(s + m * PAT_STRIDE) % PAT_PERIOD].  A prime period and a stride
 * prime to it make neighbouring messages differ, so a stale, duplicated,
 * shifted or dropped byte does not compare equal. */
#define PAT_PERIOD	65521u
#define PAT_STRIDE	40503u

/* After an error a slot waits before it tries again: BACKOFF_MIN, doubling
 * while the failures go on, up to BACKOFF_MAX.  A success resets it. */
#define BACKOFF_MIN	1000000ull	/* 1 ms */
#define BACKOFF_MAX	100000000ull	/* 100 ms */

/* ---- the wait heap (heap.c): slots keyed by their wake time ---- */
struct hnode {
	uint64_t wake;
	int heap_i;		/* -1: not waiting */
};
struct heap {
	struct hnode **a;
	size_t n;
};
int heap_init(struct heap *h, size_t cap);
void heap_free(struct heap *h);
void heap_remove(struct heap *h, struct hnode *x);
void heap_push(struct heap *h, struct hnode *x, uint64_t wake);
static inline struct hnode *
heap_top(const struct heap *h)
{
	return h->n ? h->a[0] : NULL;
}

/* ---- a worker, TCP or UDP ---- */
struct wbase {
	struct shared *sh;
	const struct config *cfg;
	unsigned id;
	pthread_t tid;
	int notify_fd;
	void *(*main)(void *);
	void (*free)(struct wbase *);
	struct wstats st;
	uint64_t finished;
	/* Intervals: ilat gets this interval's latencies; at its end they go
	 * to the shared record and into lat, the whole run's. */
	uint64_t iv_next;	/* when the current one ends */
	int64_t iv_k;		/* its number; -1: not measuring yet */
	uint64_t iv_prev[8];	/* counters at its start */
	struct hist lat, ilat;
};

/* io_uring for ping-pong (loop.c): whether the run may use it, and whether
 * this kernel has what it needs (0, or an errno). */
bool ring_fits(const struct config *cfg);
int ring_available(void);
struct wbase *tcp_worker_new(struct shared *sh, unsigned id, uint64_t first,
    uint64_t nconns, int notify_fd);
struct wbase *udp_worker_new(struct shared *sh, unsigned id, uint64_t first,
    uint64_t nconns, int notify_fd);
void wbase_init(struct wbase *w, struct shared *sh, unsigned id,
    int notify_fd);
int worker_start(struct wbase *w);
void worker_join(struct wbase *w);
void worker_free(struct wbase *w);
/* The end of the worker thread: the last interval, the finish time, and a
 * word to main. */
void worker_done(struct wbase *w, uint64_t now);

/* Wait for events until `until` at the latest, to the nanosecond where
 * the kernel has epoll_pwait2 (an open-loop schedule kept to the
 * millisecond would add up to a millisecond to every latency). */
static inline int
epoll_until(int ep, struct epoll_event *evs, int nevs, uint64_t now,
    uint64_t until, bool *have_pwait2)
{
	uint64_t d = until > now ? until - now : 0;
	struct timespec ts;
	int n;

	if (*have_pwait2) {
		ts.tv_sec = (time_t)(d / 1000000000u);
		ts.tv_nsec = (long)(d % 1000000000u);
		n = epoll_pwait2(ep, evs, nevs, &ts, NULL);
		if (n != -1 || errno != ENOSYS)
			return n;
		*have_pwait2 = false;
	}
	return epoll_wait(ep, evs, nevs, (int)((d + 999999) / 1000000));
}


/* The first error of each kind, described with -v. */
void report_first(struct wbase *w, enum errkind k, uint64_t conn,
    const char *what);

/* ---- intervals (interval.c) ---- */
int iv_setup(struct shared *sh, unsigned nworkers);
void iv_start(struct wbase *w);
void iv_report(struct wbase *w, uint64_t t_end);
static inline void
iv_check(struct wbase *w, uint64_t now)
{
	while (now >= w->iv_next)
		iv_report(w, w->iv_next);
}
void iv_finish(struct wbase *w, uint64_t now);
void ivrec_merge(struct ivrec *dst, const struct ivrec *src);
void ivrec_free(struct ivrec *iv, size_t n);

/* ---- open-loop schedule ---- */
/* The time (ns from t0) of request x (counting from 0, plus the slot's
 * phase) of one slot, on a schedule of one request every `interval` ns that
 * rises from nothing over `ramp` ns.  sched_count is its inverse: requests
 * scheduled before time t. */
uint64_t sched_time(double x, uint64_t interval, uint64_t ramp);
double sched_count(uint64_t t, uint64_t interval, uint64_t ramp);

/* ---- targets and sources (target.c) ---- */
/* "HOST PORT" or "HOST:PORT..." operands; exits 64 on a bad one. */
void targets_parse(struct config *cfg, int n, char **args);
/* Resolve them; exits 68/71 on failure. */
void targets_resolve(struct config *cfg, bool udp);
/* "A", "A-B", "A,B,...": adds to cfg's source lists; -1 with a message. */
int sources_parse(struct config *cfg, const char *s);
/* Connection k's target, and its source address or NULL. */
const struct target *target_for(const struct config *cfg, uint64_t k);
const struct sockaddr_storage *source_for(const struct config *cfg,
    uint64_t k);
/* A socket to t, bound to src if not NULL, connecting (or connected,
 * UDP).  Returns the fd or -1 with errno.  (Inline: connrate opens one
 * per request.) */
static inline int
open_socket(const struct target *t, const struct sockaddr_storage *src,
    int type)
{
	int fd, one = 1, e;

	fd = socket(t->addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (type == SOCK_STREAM && t->addr.ss_family != AF_UNIX)
		/* Requests go as soon as they are written. */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	if (src != NULL) {
		/* The port is chosen at connect(2), for the whole 4-tuple. */
		if (type == SOCK_STREAM)
			(void)setsockopt(fd, IPPROTO_IP,
			    IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)src, src->ss_family ==
		    AF_INET ? sizeof(struct sockaddr_in) :
		    sizeof(struct sockaddr_in6)) == -1)
			goto fail;
	}
	if (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) == -1 &&
	    errno != EINPROGRESS)
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* ---- protocols (proto.c) ---- */
int tmpl_parse(struct tmpl *t, const char *s, size_t len, bool escapes,
    char *err, size_t errlen);
size_t tmpl_expand(const struct tmpl *t, uint64_t conn, uint64_t req,
    unsigned char *out);
int unescape(const char *s, unsigned char *out, size_t cap, size_t *len);
void proto_prepare(struct proto *p);

uint64_t now_ns(void);
/* Report an error (with --json, as the JSON object too) and exit. */
noreturn void die(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void report_text(const struct results *r);
void report_interval_line(const struct config *c, const struct ivrec *iv);
void report_json(const struct results *r, const char *error, int code);
int hist_file_write(const char *path, const struct results *r);
/* Returns 0, or -1 after printing why. */
int hist_file_read(const char *path, struct results *r);
int hgrm_file_write(const char *path, const struct results *r);
void results_merge(struct results *dst, const struct results *src);
/* sysexits code for these results. */
int results_exit_code(const struct results *r);
/* A word on stderr about what went wrong, if anything did. */
void results_explain(const struct results *r);
bool rate_missed(const struct results *r);
double req_rate(const struct results *r);

#endif
