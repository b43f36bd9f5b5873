/*
 * pool: sizing policy, scoreboard, children and threads of the pool models.
 * See pool.h for the policy.
 *
 * The preforked pools whose children accept (prefork, prefork-flock,
 * prefork-mutex) keep their scoreboard in MAP_SHARED memory: a count of
 * idle children and the total, plus each child's state in its stats slot.
 * A child changes its own state; the parent only forks (counting the new
 * child idle before it exists, so it never forks twice for one shortage)
 * and reaps.  The order of each update is chosen so that a child killed
 * between two of them leaves the count too low, never too high: the
 * parent then starts a spare too many, rather than starving a client.
 * A child leaving because the pool has spares enough decides so with a
 * compare-and-swap on the idle count, so two children finishing together
 * cannot both leave when only one should.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "pool.h"
#include "server.h"
#include "sig.h"

#define DEFAULT_MIN_SPARE	2
#define RESPAWN_PAUSE_MS	100
#define TERM_EVERY_MS		100
#define KILL_AFTER_MS		5000
#define GIVE_UP_MS		6000
#define THREAD_STACK		(256 * 1024)

void
pool_policy(const struct server *srv, struct pool_policy *p)
{
	int max = srv->max_workers > 0 ? srv->max_workers : 256;
	int n = srv->workers;

	if (max > MAX_WORKER_SLOTS)
		max = MAX_WORKER_SLOTS;
	if (n <= 0) {
		n = 2 * (srv->ncpu > 0 ? srv->ncpu : 1);
		if (n < 4)
			n = 4;
		if (n > max)
			n = max;
	}
	if (n > MAX_WORKER_SLOTS)
		n = MAX_WORKER_SLOTS;
	if (max < n)
		max = n;
	p->initial = n;
	p->max = max;
	p->min_spare = srv->min_spare > 0 ? srv->min_spare : DEFAULT_MIN_SPARE;
	if (p->min_spare > n)
		p->min_spare = n;
	p->max_spare = srv->max_spare > 0 ? srv->max_spare : n;
	if (p->max_spare < p->min_spare)
		p->max_spare = p->min_spare;
	log_verbose("pool: %d workers, up to %d, %d to %d idle spares",
	    p->initial, p->max, p->min_spare, p->max_spare);
}

int
pool_want(const struct pool_policy *p, int idle, int total)
{
	int want = 0;

	if (idle < p->min_spare)
		want = p->min_spare - idle;
	if (total + want < p->initial)
		want = p->initial - total;
	if (total + want > p->max)
		want = p->max - total;
	return want > 0 ? want : 0;
}

void
pool_slot_busy(struct server *srv, int slot)
{
	atomic_store(&srv->stats->slot[slot].busy_since, pool_now_ms());
	atomic_store(&srv->stats->slot[slot].busy, SLOT_BUSY);
}

void
pool_slot_idle(struct server *srv, int slot)
{
	atomic_store(&srv->stats->slot[slot].busy, SLOT_IDLE);
}

/* Connections waiting in the listener's accept queue (Linux reports it as
 * tcpi_unacked of a listening socket); 0 if it cannot say. */
static int
listen_backlog(int lfd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(lfd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 ||
	    len < offsetof(struct tcp_info, tcpi_unacked) +
	    sizeof(ti.tcpi_unacked) || ti.tcpi_state != TCP_LISTEN)
		return 0;
	return ti.tcpi_unacked > 1024 * 1024 ? 1024 * 1024 :
	    (int)ti.tcpi_unacked;
}

int
pool_want_patient(const struct pool_policy *p, const struct server *srv,
    int idle, int total, int pending, bool *recheck)
{
	const struct stats *s = srv->stats;
	int want, young = 0, i, n;
	int64_t now;

	*recheck = false;
	if (idle - pending >= p->min_spare || total >= p->max)
		return pool_want(p, idle - pending, total);
	now = pool_now_ms();
	n = atomic_load(&s->nslots);
	for (i = 0; i < n; i++)
		if (atomic_load(&s->slot[i].busy) == SLOT_BUSY &&
		    now - atomic_load(&s->slot[i].busy_since) <
		    POOL_PATIENCE_MS)
			young++;
	want = pool_want(p, idle + young - pending, total);
	/* Workers are held by long connections: start one for each client
	 * waiting in the backlog too, not two per look (a burst of 1,000
	 * persistent clients took 5 s to be served that way).  Not while
	 * this process cannot accept (EMFILE): its threads could not take
	 * them either (a child process has descriptors of its own). */
	if (idle + young - pending < p->min_spare &&
	    !server_overloaded(OVERLOAD_ACCEPT)) {
		want += listen_backlog(srv->lfd);
		if (total + want > p->max)
			want = p->max - total;
	}
	*recheck = idle - pending + want < p->min_spare &&
	    total + want < p->max;
	return want;
}

int
pool_notify_open(int fd[2])
{
	return pipe2(fd, O_NONBLOCK | O_CLOEXEC);
}

void
pool_notify(int wfd)
{
	char b = 1;

	/* EAGAIN: the pipe is full, the reader has wakeups enough. */
	(void)!write(wfd, &b, 1);
}

void
pool_notify_drain(int rfd)
{
	char buf[256];

	while (read(rfd, buf, sizeof(buf)) > 0)
		;
}

void
pool_notify_close(int fd[2])
{
	fd_close(fd[0]);
	fd_close(fd[1]);
	fd[0] = fd[1] = -1;
}

int64_t
pool_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- children ---- */

int
pool_fork(struct server *srv, int max, pool_child_fn fn, void *arg)
{
	struct stats *s = srv->stats;
	pid_t pid;
	int i;

	for (i = 0; i < max && i < MAX_WORKER_SLOTS; i++)
		if (atomic_load(&s->slot[i].pid) == 0)
			break;
	if (i >= max || i >= MAX_WORKER_SLOTS) {
		errno = EAGAIN;
		return -1;
	}
	atomic_store(&s->slot[i].busy, SLOT_IDLE);
	pid = fork();
	if (pid == -1)
		return -1;
	if (pid == 0) {
		fn(srv, i, arg);
		_exit(0);
	}
	atomic_store(&s->slot[i].pid, (int)pid);
	if (atomic_load(&s->nslots) < i + 1)
		atomic_store(&s->nslots, i + 1);
	log_debug("worker %d: child %d", i, (int)pid);
	return i;
}

void
pool_reap(struct server *srv, pool_gone_fn gone, void *arg)
{
	struct stats *s = srv->stats;
	pid_t got[64];
	int n, i, k, nslots;

	do {
		n = server_reap(got, 64);
		nslots = atomic_load(&s->nslots);
		for (i = 0; i < n && i < 64; i++)
			for (k = 0; k < nslots; k++)
				if (atomic_load(&s->slot[k].pid) == (int)got[i]) {
					if (gone != NULL)
						gone(srv, k, arg);
					atomic_store(&s->slot[k].pid, 0);
					break;
				}
	} while (n >= 64);
}

static int
live_children(struct server *srv)
{
	int i, n = 0, nslots = atomic_load(&srv->stats->nslots);

	for (i = 0; i < nslots; i++)
		if (atomic_load(&srv->stats->slot[i].pid) != 0)
			n++;
	return n;
}

/* Reap; nudge idle children (SIGUSR2: their blocked accept returns EINTR
 * and they see the stop) -- repeated every call, so one that was between
 * looking at its flag and entering accept() when the SIGTERM came is woken
 * too.  True when none is left. */
static bool
all_gone(void *arg)
{
	struct server *srv = arg;
	struct stats *s = srv->stats;
	int i, nslots = atomic_load(&s->nslots);

	pool_reap(srv, NULL, NULL);
	for (i = 0; i < nslots; i++) {
		int pid = atomic_load(&s->slot[i].pid);

		if (pid > 0 && atomic_load(&s->slot[i].busy) == SLOT_IDLE)
			(void)kill(pid, SIGUSR2);
	}
	return live_children(srv) == 0;
}

void
pool_end_children(struct server *srv)
{
	struct stats *s = srv->stats;
	int64_t start, last, now;
	int i, nslots = atomic_load(&s->nslots);

	/* One SIGTERM means "stop": idle children leave at once, busy ones
	 * finish their connection within --grace.  After that, SIGTERM again
	 * means "close". */
	for (i = 0; i < nslots; i++) {
		int pid = atomic_load(&s->slot[i].pid);

		if (pid > 0)
			(void)kill(pid, SIGTERM);
	}
	server_linger(srv, all_gone, srv);
	start = pool_now_ms();
	last = start - TERM_EVERY_MS;
	while (live_children(srv) > 0) {
		now = pool_now_ms();
		if (now - start >= GIVE_UP_MS)
			break;
		if (now - last >= TERM_EVERY_MS) {
			int signo = now - start < KILL_AFTER_MS ? SIGTERM : SIGKILL;

			for (i = 0; i < nslots; i++) {
				int pid = atomic_load(&s->slot[i].pid);

				if (pid > 0)
					(void)kill(pid, signo);
			}
			last = now;
		}
		(void)server_wait(srv, false, TERM_EVERY_MS);
		pool_reap(srv, NULL, NULL);
	}
	if (live_children(srv) > 0)
		log_warnx("%d children would not end", live_children(srv));
}

/* ---- preforked pools whose children accept ---- */

/* Shared between the parent and its children. */
struct board {
	_Atomic int idle;	/* children in SLOT_IDLE, counted */
	_Atomic int total;	/* children alive (parent's count) */
	_Atomic bool wake_pending;	/* the parent is woken, or rechecks */
	int min_spare, max_spare, max;
	int notify;		/* write end of the wakeup pipe */
};

struct prefork {
	struct board *b;
	const struct pool_lock *lk;
	void *lkst;
	int notify[2];
	bool replace;		/* a child died unexpectedly */
};

/* A child took a connection: count it busy, wake the parent if spares run
 * short. */
static void
child_took(struct server *srv, struct board *b, int slot)
{
	int idle = atomic_fetch_sub(&b->idle, 1) - 1;

	pool_slot_busy(srv, slot);
	if (idle < b->min_spare && atomic_load(&b->total) < b->max &&
	    !atomic_exchange(&b->wake_pending, true))
		pool_notify(b->notify);
}

/* A child ended a connection: idle again (true), or leave (false) when
 * max_spare others are idle already. */
static bool
child_stays(struct server *srv, struct board *b, int slot)
{
	int idle;

	pool_slot_idle(srv, slot);
	idle = atomic_load(&b->idle);
	do {
		if (idle >= b->max_spare) {
			atomic_store(&srv->stats->slot[slot].busy, SLOT_LEAVING);
			log_debug("worker %d: %d idle, leaving", slot, idle);
			return false;
		}
	} while (!atomic_compare_exchange_weak(&b->idle, &idle, idle + 1));
	return true;
}

static void
prefork_child(struct server *srv, int slot, void *arg)
{
	struct prefork *pf = arg;
	const struct pool_lock *lk = pf->lk;
	int fd;

	server_child_init();
	close(pf->notify[0]);
	if (lk != NULL && lk->child_init != NULL &&
	    lk->child_init(pf->lkst) == -1) {
		log_warn("worker %d: lock", slot);
		_exit(71);
	}
	while (!server_stopping()) {
		if (lk != NULL && lk->lock(pf->lkst) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("worker %d: lock", slot);
			_exit(71);
		}
		fd = -1;
		if (!server_stopping())
			fd = server_accept(srv, ACCEPT_BLOCKING, NULL, NULL);
		else
			errno = EINTR;
		if (lk != NULL && lk->unlock(pf->lkst) == -1) {
			log_warn("worker %d: unlock", slot);
			_exit(71);
		}
		if (fd == -1) {
			switch (errno) {
			case EINTR: case EAGAIN: case EMFILE: case ENFILE:
			case ENOBUFS: case ENOMEM:
				continue;	/* server_accept paused if need be */
			}
			log_warn("worker %d: accept", slot);
			_exit(71);
		}
		child_took(srv, pf->b, slot);
		serve_blocking(srv, fd, slot);
		if (!child_stays(srv, pf->b, slot))
			break;
	}
	_exit(0);
}

static void
prefork_gone(struct server *srv, int slot, void *arg)
{
	struct prefork *pf = arg;
	int state = atomic_load(&srv->stats->slot[slot].busy);

	if (state == SLOT_IDLE)
		atomic_fetch_sub(&pf->b->idle, 1);
	atomic_fetch_sub(&pf->b->total, 1);
	if (state != SLOT_LEAVING && !server_stopping()) {
		log_warnx("worker %d: child %d ended unexpectedly; replacing it",
		    slot, atomic_load(&srv->stats->slot[slot].pid));
		pf->replace = true;
	}
}

/* Start what the policy wants; false when fork failed (back off).
 * *recheck: look again in POOL_PATIENCE_MS (children do not wake us
 * meanwhile). */
static bool
prefork_grow(struct server *srv, struct prefork *pf,
    const struct pool_policy *pol, bool *recheck)
{
	int want;

	/* Cleared first: a child that takes a connection from now on wakes
	 * us again unless we decide to recheck on our own. */
	atomic_store(&pf->b->wake_pending, false);
	want = pool_want_patient(pol, srv, atomic_load(&pf->b->idle),
	    atomic_load(&pf->b->total), 0, recheck);
	if (*recheck)
		atomic_store(&pf->b->wake_pending, true);

	for (; want > 0; want--) {
		/* Counted before it exists, so a wakeup cannot fork twice. */
		atomic_fetch_add(&pf->b->idle, 1);
		atomic_fetch_add(&pf->b->total, 1);
		if (pool_fork(srv, pol->max, prefork_child, pf) == -1) {
			atomic_fetch_sub(&pf->b->idle, 1);
			atomic_fetch_sub(&pf->b->total, 1);
			server_overload_begin(OVERLOAD_WORKERS, "fork");
			return false;
		}
		server_overload_end(OVERLOAD_WORKERS);
	}
	return true;
}

static int
prefork_wait(struct server *srv, int rfd, int timeout_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = sig_fd(), .events = POLLIN },
		{ .fd = rfd, .events = POLLIN },
	};

	if (poll(pfd, 2, timeout_ms) == -1)
		return errno == EINTR ? 0 : -1;
	if (pfd[0].revents)
		(void)server_take_signals(srv);
	if (pfd[1].revents)
		pool_notify_drain(rfd);
	return 0;
}

int
pool_prefork_run(struct server *srv, const struct pool_lock *lk)
{
	struct pool_policy pol;
	struct prefork pf = { .lk = lk, .notify = { -1, -1 } };
	int64_t resume = 0;
	int err = 0;

	pool_policy(srv, &pol);
	pf.b = mmap(NULL, sizeof(*pf.b), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pf.b == MAP_FAILED)
		return -errno;
	pf.b->min_spare = pol.min_spare;
	pf.b->max_spare = pol.max_spare;
	pf.b->max = pol.max;
	if (pool_notify_open(pf.notify) == -1) {
		err = -errno;
		goto out_map;
	}
	pf.b->notify = pf.notify[1];
	if (lk != NULL && lk->init(&pf.lkst) == -1) {
		err = -errno;
		goto out_pipe;
	}
	while (!server_stopping()) {
		int64_t now = pool_now_ms();
		int timeout = -1;
		bool recheck = false;

		if (pf.replace) {
			/* A child that dies at once must not make us spin. */
			pf.replace = false;
			resume = now + RESPAWN_PAUSE_MS;
		}
		if (now >= resume && !prefork_grow(srv, &pf, &pol, &recheck))
			resume = now + RESPAWN_PAUSE_MS;
		if (now < resume)
			timeout = (int)(resume - now);
		else if (recheck)
			timeout = POOL_PATIENCE_MS;
		if (prefork_wait(srv, pf.notify[0], timeout) == -1) {
			err = -errno;
			break;
		}
		pool_reap(srv, prefork_gone, &pf);
	}
	pool_end_children(srv);
	if (lk != NULL && lk->fini != NULL)
		lk->fini(pf.lkst);
out_pipe:
	pool_notify_close(pf.notify);
out_map:
	(void)munmap(pf.b, sizeof(*pf.b));
	return err;
}

/* ---- thread pools ---- */

int
tpool_init(struct tpool *tp, struct server *srv, void *(*fn)(void *))
{
	int e, i;

	tp->srv = srv;
	tp->fn = fn;
	tp->idle = tp->total = 0;
	tp->stopping = false;
	tp->err = 0;
	pool_policy(srv, &tp->pol);
	for (i = 0; i < MAX_WORKER_SLOTS; i++) {
		tp->w[i].tp = tp;
		tp->w[i].slot = i;
		tp->w[i].state = TW_FREE;
	}
	if ((e = pthread_mutex_init(&tp->mu, NULL)) != 0)
		return -e;
	if ((e = pthread_cond_init(&tp->cv, NULL)) != 0)
		goto out_mu;
	if ((e = pthread_attr_init(&tp->attr)) != 0)
		goto out_cv;
	if ((e = pthread_attr_setstacksize(&tp->attr, THREAD_STACK)) != 0)
		goto out_attr;
	if (pool_notify_open(tp->notify) == -1) {
		e = errno;
		goto out_attr;
	}
	return 0;
out_attr:
	pthread_attr_destroy(&tp->attr);
out_cv:
	pthread_cond_destroy(&tp->cv);
out_mu:
	pthread_mutex_destroy(&tp->mu);
	return -e;
}

void
tpool_fini(struct tpool *tp)
{
	pool_notify_close(tp->notify);
	pthread_attr_destroy(&tp->attr);
	pthread_cond_destroy(&tp->cv);
	pthread_mutex_destroy(&tp->mu);
}

int
tpool_grow(struct tpool *tp, const int *pending)
{
	struct stats *s = tp->srv->stats;
	int want, i, e;

	pthread_mutex_lock(&tp->mu);
	want = pool_want_patient(&tp->pol, tp->srv, tp->idle,
	    tp->total, pending ? *pending : 0, &tp->recheck);
	/* While rechecking on a timer, workers need not wake us. */
	tp->wake_pending = tp->recheck;
	for (i = 0; want > 0 && i < tp->pol.max; i++) {
		struct tworker *w = &tp->w[i];

		if (w->state != TW_FREE)
			continue;
		/* Created with mu held: the worker cannot end (and be
		 * joined) before its pthread_t is stored. */
		e = pthread_create(&w->t, &tp->attr, tp->fn, w);
		if (e != 0) {
			pthread_mutex_unlock(&tp->mu);
			errno = e;
			server_overload_begin(OVERLOAD_WORKERS, "pthread_create");
			return -1;
		}
		w->state = TW_RUN;
		tp->idle++;
		tp->total++;
		want--;
		if (atomic_load(&s->nslots) < i + 1)
			atomic_store(&s->nslots, i + 1);
	}
	pthread_mutex_unlock(&tp->mu);
	server_overload_end(OVERLOAD_WORKERS);
	return 0;
}

void
tpool_join(struct tpool *tp)
{
	int i;

	pthread_mutex_lock(&tp->mu);
	for (i = 0; i < MAX_WORKER_SLOTS; i++)
		if (tp->w[i].state == TW_DONE) {
			/* It has left its loop: the join is immediate. */
			(void)pthread_join(tp->w[i].t, NULL);
			tp->w[i].state = TW_FREE;
		}
	pthread_mutex_unlock(&tp->mu);
}

int
tpool_timeout(const struct tpool *tp)
{
	return tp->recheck ? POOL_PATIENCE_MS : -1;
}

bool
tpool_took(struct tpool *tp, int slot)
{
	tp->idle--;
	pool_slot_busy(tp->srv, slot);
	if (tp->idle < tp->pol.min_spare && tp->total < tp->pol.max &&
	    !tp->wake_pending) {
		tp->wake_pending = true;
		return true;
	}
	return false;
}

bool
tpool_stay(struct tpool *tp, int slot)
{
	pool_slot_idle(tp->srv, slot);
	if (tp->idle >= tp->pol.max_spare || tp->stopping)
		return false;
	tp->idle++;
	return true;
}

void
tpool_exit(struct tworker *w, bool was_idle)
{
	struct tpool *tp = w->tp;

	pthread_mutex_lock(&tp->mu);
	if (was_idle)
		tp->idle--;
	w->state = TW_DONE;
	tp->total--;
	pthread_mutex_unlock(&tp->mu);
	pool_notify(tp->notify[1]);
}

int
tpool_wait(struct tpool *tp, int fd, int timeout_ms)
{
	struct pollfd pfd[3] = {
		{ .fd = sig_fd(), .events = POLLIN },
		{ .fd = tp->notify[0], .events = POLLIN },
		{ .fd = fd, .events = POLLIN },
	};

	if (poll(pfd, fd >= 0 ? 3 : 2, timeout_ms) == -1)
		return errno == EINTR ? 0 : -1;
	if (pfd[0].revents)
		(void)server_take_signals(tp->srv);
	if (pfd[1].revents)
		pool_notify_drain(tp->notify[0]);
	return fd >= 0 && pfd[2].revents ? 1 : 0;
}

/* Join what ended, nudge what runs; true when none is left.  A nudge while
 * stopping but not yet closing is harmless to a worker in a connection
 * (it serves on within the grace) and wakes one blocked in accept(). */
static bool
tpool_sweep(void *arg)
{
	struct tpool *tp = arg;
	int i, left = 0;

	tpool_join(tp);
	pthread_mutex_lock(&tp->mu);
	/* A worker that became TW_DONE since the join is still left: it is
	 * joined next time, so none is leaked and none still writes to the
	 * notify pipe when tpool_fini() closes it. */
	for (i = 0; i < MAX_WORKER_SLOTS; i++) {
		if (tp->w[i].state == TW_FREE)
			continue;
		if (tp->w[i].state == TW_RUN)
			server_nudge(tp->w[i].t);
		left++;
	}
	pthread_cond_broadcast(&tp->cv);
	pthread_mutex_unlock(&tp->mu);
	return left == 0;
}

void
tpool_stop(struct tpool *tp)
{
	int64_t start;
	bool warned = false;

	pthread_mutex_lock(&tp->mu);
	tp->stopping = true;
	pthread_cond_broadcast(&tp->cv);
	pthread_mutex_unlock(&tp->mu);
	server_linger(tp->srv, tpool_sweep, tp);
	/* Closing: nudges repeated until every worker is joined (one that
	 * lands between a look at the flag and a system call is lost). */
	start = pool_now_ms();
	while (!tpool_sweep(tp)) {
		if (!warned && pool_now_ms() - start > KILL_AFTER_MS) {
			log_warnx("worker threads have not ended yet");
			warned = true;
		}
		(void)tpool_wait(tp, -1, 50);
	}
}
