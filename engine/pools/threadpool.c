/*
 * pools/threadpool: the thread pools' workers and their manager.  See
 * threadpool.h and policy.h.
 */
#include "pools/threadpool.h"

#include <errno.h>
#include <poll.h>

#include "accept.h"
#include "log.h"
#include "sig.h"
#include "stop.h"
#include "workers.h"

#define THREAD_STACK	(256 * 1024)

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
		goto out;
	if (sem_init(&tp->work, 0, 0) == -1) {
		e = errno;
		goto out_mu;
	}
	if ((e = pthread_attr_init(&tp->attr)) != 0)
		goto out_sem;
	if ((e = pthread_attr_setstacksize(&tp->attr, THREAD_STACK)) != 0)
		goto out_attr;
	if (pool_notify_open(tp->notify) == -1) {
		e = errno;
		goto out_attr;
	}
	return 0;
out_attr:
	pthread_attr_destroy(&tp->attr);
out_sem:
	(void)sem_destroy(&tp->work);
out_mu:
	pthread_mutex_destroy(&tp->mu);
out:
	errno = e;
	return -1;
}

void
tpool_fini(struct tpool *tp)
{
	pool_notify_close(tp->notify);
	pthread_attr_destroy(&tp->attr);
	(void)sem_destroy(&tp->work);
	pthread_mutex_destroy(&tp->mu);
}

int
tpool_grow(struct tpool *tp, const int *pending)
{
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
		pool_slot_used(tp->srv, i);
	}
	pthread_mutex_unlock(&tp->mu);
	server_overload_end(OVERLOAD_WORKERS);
	return 0;
}

int
tpool_timeout(const struct tpool *tp)
{
	return tp->recheck ? POOL_PATIENCE_MS : -1;
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

bool
tpool_took(struct tpool *tp, int slot)
{
	tp->idle--;
	pool_slot_set(tp->srv, slot, SLOT_BUSY);
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
	pool_slot_set(tp->srv, slot, SLOT_IDLE);
	if (tp->idle >= tp->pol.max_spare || tp->stopping)
		return false;
	tp->idle++;
	return true;
}

void
tpool_fail(struct tpool *tp, int err)
{
	pthread_mutex_lock(&tp->mu);
	if (tp->err == 0)
		tp->err = -err;
	pthread_mutex_unlock(&tp->mu);
	server_request_stop();
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

/* Join what ended, nudge what runs; how many are left.  A nudge while
 * stopping but not yet closing is harmless to a worker in a connection
 * (it serves on within the grace) and wakes one blocked in accept(). */
static int
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
	pthread_mutex_unlock(&tp->mu);
	return left;
}

static void
tpool_pause(void *arg, int ms)
{
	(void)tpool_wait(arg, -1, ms);
}

void
tpool_stop(struct tpool *tp)
{
	struct threads t = { tp, tpool_sweep, tpool_pause };

	int i, n;

	pthread_mutex_lock(&tp->mu);
	tp->stopping = true;
	n = tp->total;
	pthread_mutex_unlock(&tp->mu);
	/* One for each worker waiting for work (the sweep's nudges reach
	 * any that was not waiting yet). */
	for (i = 0; i < n; i++)
		(void)sem_post(&tp->work);
	threads_end(tp->srv, &t);
}
