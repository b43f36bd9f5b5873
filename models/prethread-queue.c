/*
 * prethread-queue (UNP serv08): the main thread accepts and hands each
 * connection to a pool of threads through a bounded queue.
 *
 * The main thread polls the listener (non-blocking: only it accepts), its
 * signal pipe and the pool's wakeup pipe; it pushes each new descriptor on
 * a ring guarded by the pool's mutex and posts the pool's semaphore; an
 * idle worker pops it and serves it with blocking I/O.  (A semaphore, not
 * UNP's condition variable: glibc's pthread_cond_signal() can wait for a
 * waiter it woke before, so one stopped worker would stop the main thread
 * -- engine/pools/threadpool.h.)  The ring holds
 * --max-workers descriptors; when it is full the main thread stops polling
 * the listener (clients wait in the listen backlog) until a worker makes
 * room and wakes it.
 *
 * Pool size (engine/pools/policy.h): -w N threads at start (default 2 x online
 * CPUs, at least 4).  After each batch of accepts the main thread starts
 * enough threads to keep 2 idle ones beyond the connections queued for
 * POOL_PATIENCE_MS or more, up to --max-workers (default 256), so
 * persistent clients beyond the initial size are served; connections
 * queued for less are left to busy workers that took theirs as recently
 * (engine/pools/policy.h, patience).  A worker that ends a connection with the queue empty
 * while as many others as the initial size are idle exits and is joined,
 * so an idle pool shrinks back to N.  The summary's spread counts
 * connections per worker slot.  Stacks are 256 KiB.
 *
 * A worker woken for a connection that is stopped (SIGSTOP of the process
 * is all or nothing, but a debugger stops one thread) or stuck would leave
 * it queued while others sleep: when the oldest connection has been queued
 * POOL_STUCK_MS with workers idle, the main thread wakes them all, and
 * says so (engine/pools/policy.h).
 *
 * Stop: the main thread stops accepting, sets the pool's stop flag and
 * posts the semaphore once per worker: workers waiting for work leave, the others
 * finish what was queued and their connections within --grace.  Then every
 * worker is nudged (SIGUSR2) every 50 ms until all are joined (a worker in
 * a connection's read() sees EINTR); descriptors still queued are closed.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <unistd.h>

#include "accept.h"
#include "admit.h"
#include "drivers/blocking.h"
#include "io.h"
#include "log.h"
#include "pools/threadpool.h"
#include "server.h"
#include "stop.h"

struct pqueue {
	struct tpool tp;	/* first: a worker finds us from its tpool */
	struct acceptor acc;	/* main thread only */
	int *q;			/* under tp.mu: the ring */
	int64_t *qt;		/* under tp.mu: when each was queued */
	int cap, head, len;	/* under tp.mu */
	bool main_waits;	/* under tp.mu: main stopped polling, ring full */
	int64_t woke_all;	/* main thread: queue time of the head it last
				 * woke every worker for */
};

static void *
worker(void *arg)
{
	struct tworker *w = arg;
	struct tpool *tp = w->tp;
	struct pqueue *pq = (struct pqueue *)tp;
	bool idle = true, wake, token = false;
	int fd;

	server_block_signals();
	pthread_mutex_lock(&tp->mu);
	for (;;) {
		while (pq->len == 0 && !tp->stopping) {
			pthread_mutex_unlock(&tp->mu);
			/* EINTR: a nudge; look at the stop. */
			token = sem_wait(&tp->work) == 0;
			pthread_mutex_lock(&tp->mu);
		}
		/* A stop with --grace still serves what was accepted. */
		if (pq->len == 0 || server_closing())
			break;
		fd = pq->q[pq->head];
		pq->head = (pq->head + 1) % pq->cap;
		pq->len--;
		/* Taken without waiting: take its token too, or it would
		 * wake an idle worker for nothing later. */
		if (!token)
			(void)sem_trywait(&tp->work);
		token = false;
		wake = pq->main_waits;
		pq->main_waits = false;
		if (tpool_took(tp, w->slot))	/* spares short: main decides */
			wake = true;
		pthread_mutex_unlock(&tp->mu);
		if (wake)
			pool_notify(tp->notify[1]);
		serve_blocking(tp->srv, fd, w->slot);
		pthread_mutex_lock(&tp->mu);
		if (pq->len > 0 && !server_closing()) {
			tp->idle++;	/* work is waiting: stay for it */
			pool_slot_set(tp->srv, w->slot, SLOT_IDLE);
		} else if (!tpool_stay(tp, w->slot)) {
			idle = false;
			break;
		}
	}
	pthread_mutex_unlock(&tp->mu);
	tpool_exit(w, idle);
	return NULL;
}

/* accept_burst's taker: queue fd; false once the ring is full. */
static bool
enqueue(void *arg, int fd)
{
	struct pqueue *pq = arg;
	struct tpool *tp = &pq->tp;
	bool room;

	pthread_mutex_lock(&tp->mu);
	pq->q[(pq->head + pq->len) % pq->cap] = fd;
	pq->qt[(pq->head + pq->len) % pq->cap] = pool_now_ms();
	pq->len++;
	room = pq->len < pq->cap;
	if (!room)
		pq->main_waits = true;
	pthread_mutex_unlock(&tp->mu);
	(void)sem_post(&tp->work);
	return room;
}

/* Connections queued for POOL_PATIENCE_MS or more: the demand to grow
 * for.  *full: the ring is full.  *stuck: when the oldest queued
 * connection will have waited POOL_STUCK_MS with workers idle (-1: not
 * to be watched). */
static int
waiting(struct pqueue *pq, int64_t now, bool *full, int64_t *stuck)
{
	struct tpool *tp = &pq->tp;
	int n = 0;

	pthread_mutex_lock(&tp->mu);
	while (n < pq->len && now - pq->qt[(pq->head + n) % pq->cap] >=
	    POOL_PATIENCE_MS)
		n++;
	*full = pq->len == pq->cap;
	*stuck = -1;
	if (pq->len > 0 && tp->idle > 0 && pq->qt[pq->head] != pq->woke_all)
		*stuck = pq->qt[pq->head] + POOL_STUCK_MS;
	pthread_mutex_unlock(&tp->mu);
	return n;
}

/* The worker woken for the oldest connection has not taken it: it is
 * stopped or stuck.  Wake every idle one; one that runs takes it (the
 * others find nothing and wait again). */
static void
wake_all(struct pqueue *pq)
{
	struct tpool *tp = &pq->tp;
	int idle, i;

	pthread_mutex_lock(&tp->mu);
	pq->woke_all = pq->qt[pq->head];
	idle = tp->idle;
	pthread_mutex_unlock(&tp->mu);
	for (i = 0; i < idle; i++)
		(void)sem_post(&tp->work);
	log_warnx("a connection queued for %d ms with %d workers idle: the one "
	    "woken is stopped or stuck; waking them all", POOL_STUCK_MS, idle);
}

static int
pq_loop(struct pqueue *pq)
{
	struct tpool *tp = &pq->tp;
	int64_t grow_at = 0;

	while (!server_stopping()) {
		int64_t now = pool_now_ms(), wake = -1, stuck;
		int r, n, paused;
		bool full;

		n = waiting(pq, now, &full, &stuck);
		if (stuck >= 0 && now >= stuck) {
			wake_all(pq);
			stuck = -1;
		}
		if (now >= grow_at && tpool_grow(tp, &n) == -1)
			grow_at = now + POOL_RESPAWN_MS;
		if (now < grow_at)
			wake = grow_at;
		else if (tpool_timeout(tp) >= 0)
			wake = now + tpool_timeout(tp);
		if (stuck >= 0 && (wake == -1 || stuck < wake))
			wake = stuck;
		paused = acceptor_wait_ms(&pq->acc, now_us());
		if (paused >= 0 && (wake == -1 || now + paused < wake))
			wake = now + paused;
		pthread_mutex_lock(&tp->mu);
		r = tp->err;
		pthread_mutex_unlock(&tp->mu);
		if (r != 0)
			return r;
		r = tpool_wait(tp, full || paused >= 0 ? -1 : pq->acc.lfd,
		    wake == -1 ? -1 : (int)(wake > now ? wake - now : 0));
		if (r == -1)
			return -errno;
		tpool_join(tp);
		if (r == 1 && !server_stopping() &&
		    accept_burst(&pq->acc, enqueue, pq) == ACCEPT_FATAL)
			return -pq->acc.err;
	}
	return 0;
}

static int
pq_run(struct server *srv)
{
	struct pqueue *pq;
	int err;

	if (fd_set_nonblock(srv->lfd, true) == -1)
		return -errno;
	if ((pq = calloc(1, sizeof(*pq))) == NULL)
		return -errno;
	if (tpool_init(&pq->tp, srv, worker) == -1) {
		err = -errno;
		free(pq);
		return err;
	}
	acceptor_init(&pq->acc, srv, srv->lfd, 0);
	pq->cap = pq->tp.pol.max;
	if ((pq->q = calloc((size_t)pq->cap, sizeof(*pq->q))) == NULL ||
	    (pq->qt = calloc((size_t)pq->cap, sizeof(*pq->qt))) == NULL) {
		err = -errno;
		free(pq->q);
		tpool_fini(&pq->tp);
		free(pq);
		return err;
	}
	err = pq_loop(pq);
	tpool_stop(&pq->tp);
	/* Workers are gone: what is still queued was never served. */
	for (; pq->len > 0; pq->len--) {
		conn_abandon(srv, pq->q[pq->head]);
		pq->head = (pq->head + 1) % pq->cap;
	}
	tpool_fini(&pq->tp);
	free(pq->q);
	free(pq->qt);
	free(pq);
	return err;
}

const struct model model_prethread_queue = {
	.name = "prethread-queue",
	.summary = "the main thread accepts, a thread pool serves from a queue "
	    "(UNP serv08)",
	.flags = MODEL_POOL | MODEL_THREADS,
	.run = pq_run,
};
