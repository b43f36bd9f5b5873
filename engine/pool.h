/*
 * pool: what the pool models (UNP ch. 30's preforked and prethreaded
 * servers) share -- the sizing policy, the scoreboard, child and thread
 * management.
 *
 * The policy, Apache prefork's spare servers:
 *   initial    -w N, else 2 x online CPUs and at least 4 (capped at max);
 *   max        --max-workers (default 256), at least initial;
 *   min_spare  2 idle workers (at most initial): when fewer are idle, the
 *              pool starts enough new workers at once, up to max;
 *   max_spare  initial: a worker that ends a connection while that many
 *              others are already idle leaves, so an idle pool shrinks back
 *              to its initial size and never below it.
 *   patience   a worker that took its connection less than POOL_PATIENCE_MS
 *              ago counts as about to be idle: the pool grows for workers
 *              held by long connections, not for a stream of short ones.
 *              (Counting every busy worker as taken, 16 clients of short
 *              connections grew the pools to 22-56 workers; each worker
 *              beyond what the CPUs keep busy adds a wake-up per
 *              connection, and prefork-fdpass forked and ended workers
 *              all along: 34-47 us per connection for prefork/prethread
 *              and 239 for fdpass, against 17-19 with a pool of 4.  The
 *              figures: docs/peers-followup.md.)  While spares are short
 *              the parent looks again every POOL_PATIENCE_MS instead of
 *              being woken by each connection taken.
 * A worker that dies unexpectedly is replaced (after a 100 ms pause, so a
 * worker that dies at once cannot make the parent fork in a tight loop).
 * Growth is prompt, never on a timer: a worker that takes a connection and
 * sees fewer than min_spare idle workers left writes a byte on a pipe the
 * parent (or main thread) polls beside its signal pipe.
 *
 * Every pool credits connections to srv->stats->slot[i].conns for worker
 * slot i (UNP's meter, shown as the summary's spread).  A slot is reused by
 * the next worker once its previous one is gone.
 */
#ifndef CONCUR_POOL_H
#define CONCUR_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "server.h"

struct pool_policy {
	int initial, max, min_spare, max_spare;
};

#define POOL_PATIENCE_MS	10

void pool_policy(const struct server *srv, struct pool_policy *p);
/* How many workers to start now, given idle and total. */
int pool_want(const struct pool_policy *p, int idle, int total);
/* The same with patience: idle plus the workers busy for less than
 * POOL_PATIENCE_MS (from the slots), less pending connections queued for
 * the pool.  *recheck: spares are short but the busy ones are young, so
 * look again in POOL_PATIENCE_MS. */
int pool_want_patient(const struct pool_policy *p, const struct server *srv,
    int idle, int total, int pending, bool *recheck);
/* A worker took a connection / is idle again (slot state and time). */
void pool_slot_busy(struct server *srv, int slot);
void pool_slot_idle(struct server *srv, int slot);

/* Worker slot states, in srv->stats->slot[i].busy. */
#define SLOT_IDLE	0
#define SLOT_BUSY	1
#define SLOT_LEAVING	2	/* leaving on purpose: not to be replaced */

/* The wakeup pipe, worker -> parent or main thread.  Both ends are
 * non-blocking: a full pipe means a wakeup is already pending. */
int pool_notify_open(int fd[2]);
void pool_notify(int wfd);
void pool_notify_drain(int rfd);
void pool_notify_close(int fd[2]);

/* Milliseconds on the monotonic clock; for back-off deadlines. */
int64_t pool_now_ms(void);

/*
 * Process pools.  pool_fork() starts a child in a free slot (slot.pid set,
 * state SLOT_IDLE, nslots raised); the child runs fn(srv, slot, arg) and
 * must _exit.  Returns the slot, or -1 with errno (EAGAIN when every slot
 * up to max is taken).  pool_reap() reaps children and calls gone() for
 * each one of ours, before its slot is freed.  pool_end_children() ends
 * them all: SIGTERM every 100 ms, SIGKILL after 5 s, reaping as it goes.
 */
typedef void (*pool_child_fn)(struct server *srv, int slot, void *arg);
typedef void (*pool_gone_fn)(struct server *srv, int slot, void *arg);
int pool_fork(struct server *srv, int max, pool_child_fn fn, void *arg);
void pool_reap(struct server *srv, pool_gone_fn gone, void *arg);
void pool_end_children(struct server *srv);

/*
 * The preforked pools whose children block in accept() themselves
 * (prefork, prefork-flock, prefork-mutex).  lock/unlock serialise accept;
 * a NULL pool_lock means no lock (UNP serv02).  init runs in the parent
 * before the first fork and child_init in each child.  lock returns 0 or
 * -1 with errno; EINTR means a signal came (the child then looks at
 * server_stopping()).
 */
struct pool_lock {
	int (*init)(void **st);
	int (*child_init)(void *st);
	int (*lock)(void *st);
	int (*unlock)(void *st);
	void (*fini)(void *st);
};
int pool_prefork_run(struct server *srv, const struct pool_lock *lk);

/*
 * Thread pools.  mu guards every field marked so; the worker function gets
 * its struct tworker.  tpool_grow() (main thread) starts workers as the
 * policy wants, counting as busy as many idle workers as there are
 * connections queued for the pool (*pending, read under mu; NULL: none).
 * It returns -1 when pthread_create failed (logged once per episode; the
 * caller backs off).  tpool_join() joins workers that ended.  tpool_stop()
 * sets stopping, wakes cv, nudges every worker until all are joined.
 */
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
	pthread_cond_t cv;	/* for the model: work came, or stopping */
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

int tpool_init(struct tpool *tp, struct server *srv, void *(*fn)(void *));
int tpool_grow(struct tpool *tp, const int *pending);
/* The timeout for tpool_wait after tpool_grow: patience, or none (-1). */
int tpool_timeout(const struct tpool *tp);
void tpool_join(struct tpool *tp);
void tpool_stop(struct tpool *tp);
void tpool_fini(struct tpool *tp);
/* Worker side, mu held: took a connection (idle--; true if the main thread
 * should be woken to grow the pool) / finished one (idle++, or false: this
 * worker should leave, and is no longer counted). */
bool tpool_took(struct tpool *tp, int slot);
bool tpool_stay(struct tpool *tp, int slot);
/* Worker side, last call, mu not held; was_idle: still counted idle. */
void tpool_exit(struct tworker *w, bool was_idle);
/* Main thread: wait for a signal, a worker's byte, or (with fd >= 0) fd
 * readable, at most timeout_ms.  Returns 1 if fd is readable, else 0, -1
 * with errno on a poll error.  Signals are taken (server_take_signals). */
int tpool_wait(struct tpool *tp, int fd, int timeout_ms);

#endif
