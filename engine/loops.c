/*
 * loops: start, wake, linger and join N event loops.  See loops.h.
 */
#include "loops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "stop.h"

#define SAMPLE_MS	100	/* elastic: look at the loops this often */
#define HOT_SAMPLES	3	/* busy this many looks in a row: grow */
#define HOLD_MS		1000	/* after a loop started, wait before another */
#define FREE_CPU	0.75	/* a CPU is free: idle for this much of one */

static int busy_pct = 85;

struct runner {
	const struct loop_class *lc;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *loops;		/* max loops of lc->size bytes */
	int max, started;
	bool elastic;
	/* elastic: the last look */
	clockid_t clk[MAX_WORKER_SLOTS];	/* each loop thread's CPU clock */
	uint64_t cpu_ns[MAX_WORKER_SLOTS];
	uint64_t at_us, hold_us;
	uint64_t sys_total, sys_idle;	/* /proc/stat, clock ticks */
	int hot;
};

void
loops_set_busy(int pct)
{
	busy_pct = pct;
}

static struct loop_base *
loop_at(struct runner *r, int i)
{
	return (struct loop_base *)(void *)(r->loops + (size_t)i * r->lc->size);
}

/* How many loops at most: -w N, else one per CPU (at most --max-workers). */
static int
loops_max(const struct server *srv)
{
	int n = srv->workers > 0 ? srv->workers : srv->ncpu;

	if (srv->workers <= 0 && srv->max_workers > 0 && n > srv->max_workers)
		n = srv->max_workers;
	if (n < 1)
		n = 1;
	return n > MAX_WORKER_SLOTS ? MAX_WORKER_SLOTS : n;
}

void
loop_woken(struct loop_base *lb)
{
	eventfd_t junk;

	(void)eventfd_read(lb->wakefd, &junk);
}

void
loop_fail(struct loop_base *lb, int err, const char *what)
{
	log_warnx("%s: loop %d: %s: %s", lb->srv->model->name, lb->id, what,
	    strerror(-err));
	if (lb->err == 0)
		lb->err = err;
	server_request_stop();
}

struct start {
	struct runner *r;
	struct loop_base *lb;
};

static void *
loop_thread(void *arg)
{
	struct runner *r = ((struct start *)arg)->r;
	struct loop_base *lb = ((struct start *)arg)->lb;
	int e;

	free(arg);
	server_block_signals();
	e = r->lc->setup(lb);
	pthread_mutex_lock(&r->mu);
	lb->err = e;
	lb->ready = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	if (e == 0)
		r->lc->run(lb);
	r->lc->teardown(lb);
	return NULL;
}

/* Start loop i and wait until it is set up: 0, or -errno. */
static int
start_one(struct server *srv, struct runner *r, int i)
{
	struct loop_base *lb = loop_at(r, i);
	struct start *s;
	int e;

	lb->srv = srv;
	lb->lc = r->lc;
	lb->id = i;
	lb->nloops = r->elastic ? i + 1 : r->max;
	/* One eventfd per loop: each reads its own back to zero. */
	if ((lb->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		return -errno;
	if ((s = malloc(sizeof(*s))) == NULL)
		return -errno;
	*s = (struct start){ r, lb };
	if ((e = pthread_create(&lb->thread, NULL, loop_thread, s)) != 0) {
		free(s);
		log_warnx("%s: loop %d: pthread_create: %s", r->lc->name, i,
		    strerror(e));
		return -e;
	}
	pthread_mutex_lock(&r->mu);
	while (!lb->ready)
		pthread_cond_wait(&r->cv, &r->mu);
	e = lb->err;
	pthread_mutex_unlock(&r->mu);
	r->started++;
	if (e != 0) {
		log_warnx("%s: loop %d: cannot set up: %s", r->lc->name, i,
		    strerror(-e));
		return e;
	}
	if (r->elastic && pthread_getcpuclockid(lb->thread, &r->clk[i]) != 0)
		r->elastic = false;	/* cannot tell how busy it is */
	server_set_workers(srv, r->started);
	return 0;
}

static uint64_t
cpu_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts) == -1)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* /proc/stat, opened once before the sandbox and a chroot hide it: a look
 * is a pread() from the start (the kernel writes the file anew for each
 * read from offset 0), also in a forked worker. */
static int stat_fd = -1;

void
loops_open_stat(void)
{
	if (stat_fd < 0)
		stat_fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
}

/* CPUs idle since the last call (of the online ones); -1 if unknown. */
static double
free_cpus(struct runner *r, int ncpu)
{
	unsigned long long v[8] = { 0 }, total = 0, idle;
	double share;
	char buf[512];
	ssize_t len;
	int i, n = 0;

	loops_open_stat();
	if (stat_fd >= 0 && (len = pread(stat_fd, buf, sizeof(buf) - 1,
	    0)) > 0) {
		buf[len] = '\0';
		n = sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
		    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	}
	if (n < 5)
		return -1;
	for (i = 0; i < 8; i++)
		total += v[i];
	idle = v[3] + v[4];
	share = total > r->sys_total ? (double)(idle - r->sys_idle) /
	    (double)(total - r->sys_total) : 0;
	r->sys_total = total;
	r->sys_idle = idle;
	return share * ncpu;
}

/* Elastic: every loop busy and a CPU free, for long enough: one more,
 * with its share of the connections.  0, or -errno. */
static int
maybe_grow(struct server *srv, struct runner *r)
{
	uint64_t t = now_us(), wall = t - r->at_us, c;
	double idle = free_cpus(r, srv->ncpu);
	bool hot = r->at_us != 0;
	int i, e, old;

	for (i = 0; i < r->started; i++) {
		c = cpu_ns(r->clk[i]);
		if (c - r->cpu_ns[i] < wall * 10 * (uint64_t)busy_pct)
			hot = false;	/* (c - before) / (wall * 1000) < pct / 100 */
		r->cpu_ns[i] = c;
	}
	r->at_us = t;
	r->hot = hot ? r->hot + 1 : 0;
	if (r->hot < HOT_SAMPLES || idle < FREE_CPU || t < r->hold_us)
		return 0;
	r->hot = 0;
	r->hold_us = t + HOLD_MS * 1000;
	old = r->started;
	if ((e = start_one(srv, r, old)) != 0)
		return e;
	r->cpu_ns[old] = cpu_ns(r->clk[old]);
	log_verbose("%s: every loop busy and a CPU free: loop %d started",
	    r->lc->name, old);
	for (i = 0; r->lc->rebalance != NULL && i < old; i++)
		r->lc->rebalance(loop_at(r, i), loop_at(r, old), old + 1);
	return 0;
}

static void
wake_all(struct runner *r, int started)
{
	int i;

	for (i = 0; i < started; i++)
		if (eventfd_write(loop_at(r, i)->wakefd, 1) == -1)
			log_warn("%s: wake loop %d", r->lc->name, i);
}

static bool
no_active(void *arg)
{
	struct server *srv = arg;

	return atomic_load(&srv->stats->active) <= 0;
}

int
loops_run(struct server *srv, const struct loop_class *lc)
{
	struct runner r = { .lc = lc, .mu = PTHREAD_MUTEX_INITIALIZER,
	    .cv = PTHREAD_COND_INITIALIZER };
	int i, n, err = 0;

	r.max = loops_max(srv);
	r.elastic = srv->workers <= 0 && r.max > 1;
	if ((r.loops = calloc((size_t)r.max, lc->size)) == NULL)
		return -errno;
	for (i = 0; i < r.max; i++)
		loop_at(&r, i)->wakefd = -1;
	n = r.elastic ? 1 : r.max;
	for (i = 0; i < n && err == 0; i++)
		err = start_one(srv, &r, i);
	while (err == 0 && !server_stopping()) {
		bool grow = r.elastic && r.started < r.max;

		(void)server_wait(srv, -1, grow ? SAMPLE_MS : -1);
		if (grow && !server_stopping())
			err = maybe_grow(srv, &r);
	}
	server_request_stop();
	wake_all(&r, r.started);	/* accept no more */
	if (err == 0)
		server_linger(srv, no_active, srv);
	server_request_close();
	wake_all(&r, r.started);	/* close what is left */
	for (i = 0; i < r.started; i++) {
		struct loop_base *lb = loop_at(&r, i);

		pthread_join(lb->thread, NULL);
		if (err == 0 && lb->err != 0)
			err = lb->err;
	}
	for (i = 0; i < r.max; i++)
		if (loop_at(&r, i)->wakefd != -1)
			close(loop_at(&r, i)->wakefd);
	free(r.loops);
	return err;
}
