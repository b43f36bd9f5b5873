/*
 * pools/procpool: children in slots, and the preforked pools whose
 * children accept.  See procpool.h and policy.h.
 *
 * The preforked pools keep their scoreboard in MAP_SHARED memory: a count
 * of idle children and the total, plus each child's state in its slot.  A
 * child changes its own state; the parent only forks (counting the new
 * child idle before it exists, so it never forks twice for one shortage)
 * and reaps.  The order of each update is chosen so that a child killed
 * between two of them leaves the count too low, never too high: the parent
 * then starts a spare too many, rather than starving a client.  A child
 * leaving because the pool has spares enough decides so with a
 * compare-and-swap on the idle count, so two children finishing together
 * cannot both leave when only one should.
 */
#include "pools/procpool.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sysexits.h>
#include <unistd.h>

#include "accept.h"
#include "drivers/blocking.h"
#include "log.h"
#include "lost.h"
#include "pools/policy.h"
#include "server.h"
#include "sig.h"
#include "stop.h"
#include "workers.h"

#define REAP_BATCH	64

/* The connection each slot's child serves, for when a child dies with one
 * (lost.h); made with the first child. */
static struct lost_rec *recs;

int
pool_fork(struct server *srv, int max, pool_child_fn fn, void *arg)
{
	struct stats *s = srv->stats;
	pid_t pid, parent;
	int i;

	if (recs == NULL && (recs = lost_create(MAX_WORKER_SLOTS)) == NULL)
		return -1;
	for (i = 0; i < max && i < MAX_WORKER_SLOTS; i++)
		if (atomic_load(&s->slot[i].pid) == 0)
			break;
	if (i >= max || i >= MAX_WORKER_SLOTS) {
		errno = EAGAIN;
		return -1;
	}
	pool_slot_set(srv, i, SLOT_IDLE);
	parent = getpid();
	pid = fork();
	if (pid == -1)
		return -1;
	if (pid == 0) {
		/* A pool's child outliving its parent (killed: the OOM
		 * killer, SIGKILL) would accept on, with nobody to count,
		 * replace or end it. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
		    getppid() != parent)
			_exit(EX_OSERR);
		lost_use(&recs[i]);
		fn(srv, i, arg);
		_exit(0);
	}
	atomic_store(&s->slot[i].pid, (int)pid);
	pool_slot_used(srv, i);
	log_debug("worker %d: child %d", i, (int)pid);
	return i;
}

int
pool_child_pid(const struct server *srv, int slot)
{
	return atomic_load(&srv->stats->slot[slot].pid);
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

/* Slot k's child pid is reaped: its connection, if it died with one, the
 * model's own bookkeeping, then the slot is free. */
static void
slot_reaped(struct server *srv, int k, pid_t pid, pool_gone_fn gone,
    void *arg)
{
	char who[32];

	snprintf(who, sizeof(who), "worker %d", k);
	if (recs != NULL)
		(void)lost_reap(srv, &recs[k], who, pid);
	if (gone != NULL)
		gone(srv, k, arg);
	atomic_store(&srv->stats->slot[k].pid, 0);
}

int
pool_reap(struct server *srv, pool_gone_fn gone, void *arg)
{
	struct stats *s = srv->stats;
	pid_t got[REAP_BATCH];
	int n, i, k, nslots;

	do {
		n = server_reap(got, REAP_BATCH);
		nslots = atomic_load(&s->nslots);
		for (i = 0; i < n; i++)
			for (k = 0; k < nslots; k++)
				if (atomic_load(&s->slot[k].pid) == (int)got[i]) {
					slot_reaped(srv, k, got[i], gone, arg);
					break;
				}
	} while (n == REAP_BATCH);
	return live_children(srv);
}

static int
children_reap(void *arg)
{
	return pool_reap(arg, NULL, NULL);
}

static void
children_kill(void *arg, int signo, bool idle_only)
{
	struct server *srv = arg;
	struct stats *s = srv->stats;
	int i, nslots = atomic_load(&s->nslots);

	for (i = 0; i < nslots; i++) {
		int pid = atomic_load(&s->slot[i].pid);

		if (pid > 0 && (!idle_only ||
		    atomic_load(&s->slot[i].busy) == SLOT_IDLE))
			(void)kill(pid, signo);
	}
}

void
pool_end_children(struct server *srv)
{
	struct procs p = { srv, children_reap, children_kill };

	procs_end(srv, &p);
	lost_destroy(recs, MAX_WORKER_SLOTS);
	recs = NULL;
}

/* ---- preforked pools whose children accept ---- */

/* Shared between the parent and its children. */
struct board {
	_Atomic int idle;	/* children in SLOT_IDLE, counted */
	_Atomic int total;	/* children alive (parent's count) */
	_Atomic bool wake_pending;	/* the parent is woken, or rechecks */
	_Atomic bool lock_stuck;	/* children accept without the lock */
	int min_spare, max_spare, max;
	int notify;		/* write end of the wake-up pipe */
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

	pool_slot_set(srv, slot, SLOT_BUSY);
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

	pool_slot_set(srv, slot, SLOT_IDLE);
	idle = atomic_load(&b->idle);
	do {
		if (idle >= b->max_spare) {
			pool_slot_set(srv, slot, SLOT_LEAVING);
			log_debug("worker %d: %d idle, leaving", slot, idle);
			return false;
		}
	} while (!atomic_compare_exchange_weak(&b->idle, &idle, idle + 1));
	return true;
}

/* Accept (under the lock, if any) until a connection comes or the stop;
 * -1 at the stop.  A child whose lock holder is stuck while clients wait
 * accepts without the lock (policy.h). */
static int
child_accept(struct prefork *pf, struct acceptor *a, int slot)
{
	const struct pool_lock *lk = pf->lk;
	struct server *srv = a->srv;
	uint64_t accepted0;
	bool locked;
	int fd = -1;

	while (!server_stopping()) {
		locked = lk != NULL;
		accepted0 = atomic_load_explicit(&srv->stats->accepted,
		    memory_order_relaxed);
		if (locked && lk->lock(pf->lkst,
		    pool_lock_wait_ms(&pf->b->lock_stuck)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno != ETIMEDOUT) {
				log_warn("worker %d: lock", slot);
				_exit(EX_OSERR);
			}
			if (!pool_lock_bypass(srv, accepted0, &pf->b->lock_stuck))
				continue;
			locked = false;
		} else if (locked) {
			pool_lock_taken(&pf->b->lock_stuck);
		}
		fd = -1;
		if (!server_stopping())
			fd = accept_blocking(a);
		else
			errno = EINTR;
		if (locked && lk->unlock(pf->lkst) == -1) {
			log_warn("worker %d: unlock", slot);
			_exit(EX_OSERR);
		}
		if (fd >= 0)
			return fd;
		if (errno != EINTR) {
			log_warn("worker %d: accept", slot);
			_exit(EX_OSERR);
		}
	}
	return -1;
}

static void
prefork_child(struct server *srv, int slot, void *arg)
{
	struct prefork *pf = arg;
	const struct pool_lock *lk = pf->lk;
	struct acceptor a;
	int fd;

	server_child_init();
	close(pf->notify[0]);
	if (lk != NULL && lk->child_init != NULL &&
	    lk->child_init(pf->lkst) == -1) {
		log_warn("worker %d: lock", slot);
		_exit(EX_OSERR);
	}
	acceptor_init(&a, srv, srv->lfd, ACCEPTOR_BLOCKING);
	while ((fd = child_accept(pf, &a, slot)) >= 0) {
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
	int state = pool_slot_state(srv, slot);

	if (state == SLOT_IDLE)
		atomic_fetch_sub(&pf->b->idle, 1);
	atomic_fetch_sub(&pf->b->total, 1);
	if (state != SLOT_LEAVING && !server_stopping()) {
		log_warnx("worker %d: child %d ended unexpectedly; replacing it",
		    slot, pool_child_pid(srv, slot));
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
		/* Counted before it exists, so a wake-up cannot fork twice. */
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

static int
prefork_manage(struct server *srv, struct prefork *pf,
    const struct pool_policy *pol)
{
	int64_t resume = 0;

	while (!server_stopping()) {
		int64_t now = pool_now_ms();
		int timeout = -1;
		bool recheck = false;

		if (pf->replace) {
			/* A child that dies at once must not make us spin. */
			pf->replace = false;
			resume = now + POOL_RESPAWN_MS;
		}
		if (now >= resume && !prefork_grow(srv, pf, pol, &recheck))
			resume = now + POOL_RESPAWN_MS;
		if (now < resume)
			timeout = (int)(resume - now);
		else if (recheck)
			timeout = POOL_PATIENCE_MS;
		if (prefork_wait(srv, pf->notify[0], timeout) == -1)
			return -errno;
		(void)pool_reap(srv, prefork_gone, pf);
	}
	return 0;
}

int
pool_prefork_run(struct server *srv, const struct pool_lock *lk)
{
	struct pool_policy pol;
	struct prefork pf = { .lk = lk, .notify = { -1, -1 } };
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
	err = prefork_manage(srv, &pf, &pol);
	pool_end_children(srv);
	if (lk != NULL && lk->fini != NULL)
		lk->fini(pf.lkst);
out_pipe:
	pool_notify_close(pf.notify);
out_map:
	(void)munmap(pf.b, sizeof(*pf.b));
	return err;
}
