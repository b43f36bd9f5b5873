/*
 * prethread (UNP serv07): a pool of threads that take turns in accept(),
 * a mutex around it.
 *
 * Each worker locks the accept mutex, blocks in accept() on the (blocking)
 * listener, unlocks, and serves the connection with blocking I/O.  The main
 * thread only manages the pool: it waits on its signal pipe and on a wakeup
 * pipe the workers write to.
 *
 * Pool size (engine/pools/policy.h): -w N threads at start (default 2 x online
 * CPUs, at least 4).  A worker that takes a connection and sees fewer than
 * 2 idle workers left wakes the main thread, which starts enough threads at
 * once to have 2 idle again, up to --max-workers (default 256); so
 * persistent clients beyond the initial size are served.  A worker that
 * ends a connection while as many others as the initial size are idle
 * exits (the main thread joins it), so an idle pool shrinks back to N.
 * Counts are kept under the pool's mutex.  The summary's spread counts
 * connections per worker slot.  Stacks are 256 KiB.
 *
 * A worker stopped or stuck while it holds the accept mutex (in accept())
 * would hold up every other: one that has waited POOL_STUCK_MS for the
 * mutex while clients wait in the backlog accepts without it, said once
 * (engine/pools/policy.h).
 *
 * Stop: SIGTERM or SIGINT reach the main thread (workers block them); it
 * nudges every worker (SIGUSR2, no SA_RESTART) every 50 ms until all are
 * joined.  The worker in accept() sees EINTR and the stop flag and leaves;
 * those waiting for the accept mutex get it in turn and see the flag before
 * calling accept(); a worker in a connection finishes it within --grace
 * (its read() sees EINTR, and the close that ends the grace).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "accept.h"
#include "drivers/blocking.h"
#include "log.h"
#include "pools/threadpool.h"
#include "server.h"
#include "stop.h"

struct prethread {
	struct tpool tp;	/* first: a worker finds us from its tpool */
	pthread_mutex_t accept_mu;
	_Atomic bool lock_stuck;	/* workers accept without the mutex */
};

/* Accept under the mutex until a connection comes (its descriptor) or
 * the stop (-1).  A worker whose mutex holder is stuck while clients wait
 * accepts without it (pools/policy.h). */
static int
take_turn(struct prethread *pt, struct acceptor *a, int slot)
{
	struct timespec t;
	uint64_t accepted0;
	bool locked;
	int fd, e;

	while (!server_stopping()) {
		accepted0 = atomic_load_explicit(&a->srv->stats->accepted,
		    memory_order_relaxed);
		if (pool_lock_wait_ms(&pt->lock_stuck) == 0) {
			e = pthread_mutex_trylock(&pt->accept_mu);
			if (e == EBUSY)
				e = ETIMEDOUT;
		} else {
			pool_deadline(&t, POOL_STUCK_MS);
			e = pthread_mutex_timedlock(&pt->accept_mu, &t);
		}
		if (e == ETIMEDOUT) {
			if (!pool_lock_bypass(a->srv, accepted0, &pt->lock_stuck))
				continue;
			locked = false;
		} else if (e != 0) {
			errno = e;
			log_warn("worker %d: accept mutex", slot);
			tpool_fail(&pt->tp, e);
			break;
		} else {
			locked = true;
			pool_lock_taken(&pt->lock_stuck);
		}
		fd = server_stopping() ? -1 : accept_blocking(a);
		if (locked)
			pthread_mutex_unlock(&pt->accept_mu);
		if (fd >= 0)
			return fd;
		if (errno != EINTR && !server_stopping()) {
			log_warn("worker %d: accept", slot);
			tpool_fail(&pt->tp, errno);
			break;
		}
	}
	return -1;
}

static void *
worker(void *arg)
{
	struct tworker *w = arg;
	struct tpool *tp = w->tp;
	struct prethread *pt = (struct prethread *)tp;
	struct acceptor a;
	bool wake, idle = true;
	int fd;

	server_block_signals();
	acceptor_init(&a, tp->srv, tp->srv->lfd, ACCEPTOR_BLOCKING);
	while ((fd = take_turn(pt, &a, w->slot)) >= 0) {
		pthread_mutex_lock(&tp->mu);
		wake = tpool_took(tp, w->slot);
		pthread_mutex_unlock(&tp->mu);
		if (wake)
			pool_notify(tp->notify[1]);
		serve_blocking(tp->srv, fd, w->slot);
		pthread_mutex_lock(&tp->mu);
		idle = tpool_stay(tp, w->slot);
		pthread_mutex_unlock(&tp->mu);
		if (!idle)
			break;
	}
	tpool_exit(w, idle);
	return NULL;
}

static int
prethread_run(struct server *srv)
{
	struct prethread *pt;
	int64_t resume = 0;
	int err = 0, e;

	if ((pt = calloc(1, sizeof(*pt))) == NULL)
		return -errno;
	if (tpool_init(&pt->tp, srv, worker) == -1) {
		err = -errno;
		free(pt);
		return err;
	}
	if ((e = pthread_mutex_init(&pt->accept_mu, NULL)) != 0) {
		tpool_fini(&pt->tp);
		free(pt);
		return -e;
	}
	while (!server_stopping()) {
		int64_t now = pool_now_ms();

		if (now >= resume && tpool_grow(&pt->tp, NULL) == -1)
			resume = now + POOL_RESPAWN_MS;
		if (tpool_wait(&pt->tp, -1, now < resume ?
		    (int)(resume - now) : tpool_timeout(&pt->tp)) == -1) {
			err = -errno;
			break;
		}
		tpool_join(&pt->tp);
	}
	tpool_stop(&pt->tp);
	pthread_mutex_lock(&pt->tp.mu);
	if (err == 0)
		err = pt->tp.err;
	pthread_mutex_unlock(&pt->tp.mu);
	pthread_mutex_destroy(&pt->accept_mu);
	tpool_fini(&pt->tp);
	free(pt);
	return err;
}

const struct model model_prethread = {
	.name = "prethread",
	.summary = "a pool of threads, mutex around accept (UNP serv07)",
	.flags = MODEL_POOL | MODEL_THREADS,
	.run = prethread_run,
};
