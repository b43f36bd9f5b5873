/*
 * lost: the connection a worker process was serving when it died.
 *
 * A worker process (a fork child, a process pool's child) serves its
 * connection in its own memory; if it is killed (SIGKILL, a crash), the
 * connection's end is never counted: the active count stays up, a --per-ip
 * count is never given back, nobody says which client lost its
 * connection.  So each worker process keeps a record of the connection it
 * serves -- its admission record and the bytes moved so far -- in memory
 * shared with its parent.  The parent, reaping a child whose record is
 * still open, closes the connection's account on its behalf (counted as an
 * error, its bytes included) and logs which connection was lost.
 *
 * The record is taken by whoever gets to it first, the child at the
 * connection's end or the parent at the child's death (an atomic
 * exchange), so a connection is never counted twice; a child killed in the
 * few instructions between taking it and counting leaves the count one
 * high, which is the price of not stopping the world.
 *
 * Threads have no record: a thread cannot die alone.
 */
#ifndef CONCUR_LOST_H
#define CONCUR_LOST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "admit.h"

struct server;

struct lost_rec {
	_Atomic uint64_t id;	/* the connection's id; 0: none open */
	_Atomic uint64_t in, out;	/* bytes so far */
	struct conn_meta m;	/* valid while id != 0 */
};

/* n records in MAP_SHARED memory, zeroed, before the children are forked:
 * NULL with errno. */
struct lost_rec *lost_create(int n);
void lost_destroy(struct lost_rec *r, int n);

/* In a worker process, once, after the fork: the record it keeps (NULL:
 * none). */
void lost_use(struct lost_rec *r);
/* The blocking driver: a connection was admitted, has moved bytes, ends.
 * lost_end() is false if the record was taken already (never, in a live
 * child); with no record in use it is always true. */
void lost_begin(const struct conn_meta *m);
void lost_moved(uint64_t in, uint64_t out);
bool lost_end(void);

/* The parent: the child pid that used r is gone.  If it died with a
 * connection open, account for it and log it (who: "worker 3" or
 * "child").  True if a connection was lost. */
bool lost_reap(struct server *srv, struct lost_rec *r, const char *who,
    pid_t pid);

#endif
