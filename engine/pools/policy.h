/*
 * pools/policy: how big the pools are (UNP ch. 30's preforked and
 * prethreaded servers), their scoreboard, and the wake-up pipe.
 *
 * The policy, Apache prefork's spare servers:
 *   initial    -w N, else 2 x online CPUs and at least 4 (capped at max);
 *   max        --max-workers (default 256), at least initial;
 *   min_spare  2 idle workers (at most initial): when fewer are idle, the
 *              pool starts enough new workers at once, up to max;
 *   max_spare  initial: a worker that ends a connection while that many
 *              others are already idle leaves, so an idle pool shrinks back
 *              to its initial size and never below it;
 *   patience   a worker that took its connection less than POOL_PATIENCE_MS
 *              ago counts as about to be idle: the pool grows for workers
 *              held by long connections, not for a stream of short ones
 *              (each worker beyond what the CPUs keep busy adds a wake-up
 *              per connection; docs/peers-followup.md has the figures).
 *              While spares are short the manager looks again every
 *              POOL_PATIENCE_MS instead of being woken by each take.
 * A worker that dies unexpectedly is replaced, after a pause, so one that
 * dies at once cannot make the manager start workers in a tight loop.
 * A worker that is stopped (SIGSTOP, a debugger) or stuck is routed
 * around: where workers take turns in accept() under a lock, one that has
 * waited POOL_STUCK_MS for the lock while clients wait in the listener's
 * backlog takes it that its holder is not accepting them, and accepts
 * without the lock (said once per episode), until the lock is taken again;
 * a queued connection that no worker took for POOL_STUCK_MS wakes them
 * all.
 * Growth is prompt: a worker that takes a connection and sees fewer than
 * min_spare idle left writes a byte on a pipe the manager (the parent, or
 * the main thread) polls beside its signal pipe.
 *
 * Every pool credits connections to srv->stats->slot[i].conns for worker
 * slot i (UNP's meter, shown as the summary's spread); a slot is reused by
 * the next worker once its previous one is gone.
 */
#ifndef CONCUR_POOLS_POLICY_H
#define CONCUR_POOLS_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct server;

struct pool_policy {
	int initial, max, min_spare, max_spare;
};

#define POOL_PATIENCE_MS	10
#define POOL_HELD_MS		100	/* busy this long: held by a long
					 * connection, so the pool grows by
					 * the listener's backlog at once */
#define POOL_STUCK_MS		500	/* an accept lock held, or a queued
					 * connection left, this long while
					 * clients wait: go round its holder */
#define POOL_RESPAWN_MS		100	/* after a worker died, or none could
					 * be started */

void pool_policy(const struct server *srv, struct pool_policy *p);
/* How many workers to start now, given idle and total. */
int pool_want(const struct pool_policy *p, int idle, int total);
/* The same with patience: idle plus the workers busy for less than
 * POOL_PATIENCE_MS (from the slots), less pending connections queued for
 * the pool, plus one per client waiting in the listener's backlog when the
 * busy ones are held (POOL_HELD_MS).  *recheck: spares are short but the
 * busy ones are young, so look again in POOL_PATIENCE_MS. */
int pool_want_patient(const struct pool_policy *p, const struct server *srv,
    int idle, int total, int pending, bool *recheck);

/* Connections waiting in the listener's accept queue; 0 if it cannot
 * say. */
int pool_listen_backlog(int lfd);
/* A worker waited for the accept lock in vain: true if it is to accept
 * without it.  Outside an episode the wait is POOL_STUCK_MS, and the
 * answer is yes if the holder is not taking the clients that wait: some
 * wait in the backlog, and nobody accepted any since the wait began
 * (accepted0: the server's accepted count then); that starts an episode,
 * and says so.  In an episode (*episode, the pool's flag, shared by its
 * workers) workers only try the lock, and the answer is always yes: no
 * client waits for a holder known to be stopped.  pool_lock_wait_ms():
 * how long to wait for the lock.  pool_lock_taken(): the lock was taken,
 * which ends an episode. */
int pool_lock_wait_ms(_Atomic bool *episode);
bool pool_lock_bypass(const struct server *srv, uint64_t accepted0,
    _Atomic bool *episode);
void pool_lock_taken(_Atomic bool *episode);

/* Worker slot states, in srv->stats->slot[i].busy. */
#define SLOT_IDLE	0
#define SLOT_BUSY	1
#define SLOT_LEAVING	2	/* leaving on purpose: not to be replaced */
void pool_slot_set(struct server *srv, int slot, int state);
int pool_slot_state(const struct server *srv, int slot);
/* The slots in use grow to cover slot (the summary's worker count). */
void pool_slot_used(struct server *srv, int slot);

/* The wake-up pipe, worker -> manager.  Both ends are non-blocking: a
 * full pipe means a wake-up is pending already. */
int pool_notify_open(int fd[2]);
void pool_notify(int wfd);
void pool_notify_drain(int rfd);
void pool_notify_close(int fd[2]);

/* Milliseconds on the monotonic clock.  A deadline ms from now for
 * pthread_mutex_timedlock(), on CLOCK_REALTIME as it wants (a clock set
 * back only makes one wait longer; pthread_mutex_clocklock() would take
 * the monotonic clock, but it is newer, and ThreadSanitizer does not know
 * it). */
int64_t pool_now_ms(void);
struct timespec;
void pool_deadline(struct timespec *t, int ms);

#endif
