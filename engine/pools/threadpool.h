/*
 * pools/threadpool: pools of worker threads (prethread, prethread-queue),
 * sized by pools/policy.h.
 *
 * mu guards every field marked so; a worker function gets its struct
 * tworker.  Workers that wait for work from the main thread wait on the
 * semaphore work, not on a condition variable: posting to a semaphore
 * never waits, where glibc's pthread_cond_signal() can wait for a waiter
 * it woke before, so one stopped worker (a debugger) would hold up the
 * main thread and, through mu, the whole pool.  The main thread manages: tpool_grow() starts workers as the
 * policy wants, counting as busy as many idle workers as there are
 * connections queued for the pool; tpool_wait() sleeps on the signal pipe,
 * the workers' wake-up pipe and optionally a listener; tpool_join() joins
 * workers that left; tpool_stop() is the stop (workers.h's sequence for
 * threads).  Stacks are 256 KiB: the connection's 64 KiB buffer lives
 * there, and a thousand threads should not reserve 8 MiB each.
 */
#ifndef CONCUR_POOLS_THREADPOOL_H
#define CONCUR_POOLS_THREADPOOL_H

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>

#include "pools/policy.h"
#include "server.h"

struct tpool;

struct tworker {
	struct tpool *tp;
	pthread_t t;
	int slot;
	int state;		/* under mu: TW_FREE, TW_RUN, TW_DONE */
};
#define TW_FREE	0
#define TW_RUN	1
#define TW_DONE	2

struct tpool {
	pthread_mutex_t mu;
	sem_t work;		/* for the model: work came, or stopping */
	struct server *srv;
	struct pool_policy pol;
	pthread_attr_t attr;
	void *(*fn)(void *);
	int notify[2];
	int idle, total;	/* under mu */
	bool wake_pending;	/* under mu: a wake-up is owed or not needed */
	bool recheck;		/* main thread only: see pool_want_patient */
	bool stopping;		/* under mu */
	int err;		/* under mu: a worker's fatal error, -errno */
	struct tworker w[MAX_WORKER_SLOTS];	/* state under mu */
};

/* 0, or -1 with errno. */
int tpool_init(struct tpool *tp, struct server *srv, void *(*fn)(void *));
void tpool_fini(struct tpool *tp);
/* Main thread.  grow: -1 when pthread_create failed (logged once per
 * episode; back off POOL_RESPAWN_MS).  pending: connections queued for
 * the pool (read under mu; NULL: none). */
int tpool_grow(struct tpool *tp, const int *pending);
/* The timeout for tpool_wait after tpool_grow: patience, or none (-1). */
int tpool_timeout(const struct tpool *tp);
/* Wait for a signal, a worker's byte, or (fd >= 0) fd readable, at most
 * timeout_ms.  1 if fd is readable, else 0; -1 with errno on a poll
 * error.  Signals are taken. */
int tpool_wait(struct tpool *tp, int fd, int timeout_ms);
void tpool_join(struct tpool *tp);
void tpool_stop(struct tpool *tp);

/* Worker side, mu held: took a connection (idle--; true if the main thread
 * should be woken to grow the pool) / finished one (idle++, or false: this
 * worker should leave, and is no longer counted idle). */
bool tpool_took(struct tpool *tp, int slot);
bool tpool_stay(struct tpool *tp, int slot);
/* A worker's fatal error: kept for run() to return, and the server
 * stops. */
void tpool_fail(struct tpool *tp, int err);
/* Worker side, last call, mu not held; was_idle: still counted idle. */
void tpool_exit(struct tworker *w, bool was_idle);

#endif
