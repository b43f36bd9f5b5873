/*
 * prethread-queue (UNP serv08): the main thread accepts and hands each
 * connection to a pool of threads through a bounded queue.
 *
 * The main thread polls the listener (non-blocking: only it accepts), its
 * signal pipe and the pool's wakeup pipe; it pushes each new descriptor on
 * a ring guarded by the pool's mutex and signals the condition variable;
 * an idle worker pops it and serves it with blocking I/O.  The ring holds
 * --max-workers descriptors; when it is full the main thread stops polling
 * the listener (clients wait in the listen backlog) until a worker makes
 * room and wakes it.
 *
 * Pool size (engine/pool.h): -w N threads at start (default 2 x online
 * CPUs, at least 4).  After each batch of accepts the main thread starts
 * enough threads to keep 2 idle ones beyond the connections queued for
 * POOL_PATIENCE_MS or more, up to --max-workers (default 256), so
 * persistent clients beyond the initial size are served; connections
 * queued for less are left to busy workers that took theirs as recently
 * (engine/pool.h, patience).  A worker that ends a connection with the queue empty
 * while as many others as the initial size are idle exits and is joined,
 * so an idle pool shrinks back to N.  The summary's spread counts
 * connections per worker slot.  Stacks are 256 KiB.
 *
 * Stop: the main thread stops accepting, sets the pool's stop flag and
 * broadcasts the condition: workers waiting for work leave, the others
 * finish what was queued and their connections within --grace.  Then every
 * worker is nudged (SIGUSR2) every 50 ms until all are joined (a worker in
 * a connection's read() sees EINTR); descriptors still queued are closed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "pool.h"
#include "server.h"

#define ACCEPT_BATCH	16
#define PAUSE_MS	100
#define LIMIT_MS	20	/* at --max-conns, look again this often */

struct pqueue {
	struct tpool tp;	/* first: a worker finds us from its tpool */
	int *q;			/* under tp.mu: the ring */
	int64_t *qt;		/* under tp.mu: when each was queued */
	int cap, head, len;	/* under tp.mu */
	bool main_waits;	/* under tp.mu: main stopped polling, ring full */
};

static void *
worker(void *arg)
{
	struct tworker *w = arg;
	struct tpool *tp = w->tp;
	struct pqueue *pq = (struct pqueue *)tp;
	bool idle = true, wake;
	int fd;

	server_block_signals();
	pthread_mutex_lock(&tp->mu);
	for (;;) {
		while (pq->len == 0 && !tp->stopping)
			pthread_cond_wait(&tp->cv, &tp->mu);
		/* A stop with --grace still serves what was accepted. */
		if (pq->len == 0 || server_closing())
			break;
		fd = pq->q[pq->head];
		pq->head = (pq->head + 1) % pq->cap;
		pq->len--;
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
			pool_slot_idle(tp->srv, w->slot);
		} else if (!tpool_stay(tp, w->slot)) {
			idle = false;
			break;
		}
	}
	pthread_mutex_unlock(&tp->mu);
	tpool_exit(w, idle);
	return NULL;
}

/* Accept what is pending, up to a batch or a full ring.  0, or -errno on a
 * listener error. */
static int
accept_some(struct pqueue *pq, int64_t *resume)
{
	struct tpool *tp = &pq->tp;
	int k, fd;

	for (k = 0; k < ACCEPT_BATCH; k++) {
		fd = server_accept(tp->srv, ACCEPT_NOPAUSE, NULL, NULL);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				*resume = pool_now_ms() + PAUSE_MS;
				return 0;
			}
			return -errno;
		}
		pthread_mutex_lock(&tp->mu);
		pq->q[(pq->head + pq->len) % pq->cap] = fd;
		pq->qt[(pq->head + pq->len) % pq->cap] = pool_now_ms();
		pq->len++;
		pthread_cond_signal(&tp->cv);
		if (pq->len == pq->cap) {
			pq->main_waits = true;
			pthread_mutex_unlock(&tp->mu);
			return 0;
		}
		pthread_mutex_unlock(&tp->mu);
	}
	return 0;
}

static int
pq_loop(struct pqueue *pq)
{
	struct tpool *tp = &pq->tp;
	int64_t grow_at = 0, accept_at = 0;
	int err = 0;

	while (!server_stopping()) {
		int64_t now = pool_now_ms(), wake = -1;
		bool full;
		int r, waiting = 0;

		/* Queued for POOL_PATIENCE_MS or more: the demand to grow for. */
		pthread_mutex_lock(&tp->mu);
		while (waiting < pq->len && now - pq->qt[(pq->head + waiting) %
		    pq->cap] >= POOL_PATIENCE_MS)
			waiting++;
		pthread_mutex_unlock(&tp->mu);

		if (now >= grow_at && tpool_grow(tp, &waiting) == -1)
			grow_at = now + PAUSE_MS;	/* pthread_create failed */
		if (now < grow_at)
			wake = grow_at;
		else if (tpool_timeout(tp) >= 0)
			wake = now + tpool_timeout(tp);
		if (now < accept_at && (wake == -1 || accept_at < wake))
			wake = accept_at;
		pthread_mutex_lock(&tp->mu);
		full = pq->len == pq->cap;
		if (tp->err != 0)
			err = tp->err;
		pthread_mutex_unlock(&tp->mu);
		if (err != 0)
			break;
		if (server_at_limit(tp->srv)) {
			/* --max-conns: leave clients in the backlog. */
			full = true;
			if (wake == -1 || now + LIMIT_MS < wake)
				wake = now + LIMIT_MS;
		}
		r = tpool_wait(tp, full || now < accept_at ? -1 : tp->srv->lfd,
		    wake == -1 ? -1 : (int)(wake > now ? wake - now : 0));
		if (r == -1)
			return -errno;
		tpool_join(tp);
		if (r == 1 && !server_stopping() &&
		    (err = accept_some(pq, &accept_at)) < 0)
			break;
	}
	return err;
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
	if ((err = tpool_init(&pq->tp, srv, worker)) < 0) {
		free(pq);
		return err;
	}
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
		close(pq->q[pq->head]);
		server_unreserve(srv);
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
	.flags = MODEL_POOL,
	.run = pq_run,
};
