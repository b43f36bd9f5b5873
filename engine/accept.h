/*
 * accept: the one accept policy every model uses.
 *
 * What an accept error means is decided here and nowhere else:
 *   - ECONNABORTED and the network errors accept(2) passes on: that client
 *     is gone, try the next at once;
 *   - EAGAIN (nothing waiting) and EINTR (a signal): wait again;
 *   - --max-conns reached: leave clients in the backlog, look again in
 *     ACCEPT_FULL_MS;
 *   - EMFILE, ENFILE, ENOBUFS, ENOMEM, and any error we do not know (it
 *     would recur at once: EPERM from a firewall hook...): logged once per
 *     overload episode, listener left alone for ACCEPT_PAUSE_MS, so nothing
 *     spins;
 *   - EINVAL: the listener was shut by a stop;
 *   - EBADF, ENOTSOCK, EOPNOTSUPP, EFAULT: the listener is broken, the
 *     model ends with that error.
 * And what a connection costs on the way in, once: --max-conns reserved
 * before accept4 (so the limit holds exactly across threads and
 * processes), counted as accepted, TCP_NODELAY unless the listener passed
 * it on.
 *
 * An acceptor is one listener's state: the burst size (adaptive, see
 * accept.c) and the end of a pause.  Event loops and the main threads that
 * accept call accept_burst() and stop watching the listener while
 * acceptor_paused(); pool workers that block in accept() call
 * accept_blocking(), which sleeps a pause out.
 */
#ifndef CONCUR_ACCEPT_H
#define CONCUR_ACCEPT_H

#include <stdbool.h>
#include <stdint.h>

struct server;
struct stats;

#define ACCEPT_PAUSE_MS		100	/* out of resources, or an unknown error */
#define ACCEPT_FULL_MS		20	/* at --max-conns */
#define ACCEPT_BURST_MAX	32	/* accepts per wakeup at most */

enum accept_status {
	ACCEPT_OK,	/* a connection */
	ACCEPT_EMPTY,	/* none waiting, or a signal came: wait again */
	ACCEPT_FULL,	/* --max-conns reached: paused ACCEPT_FULL_MS */
	ACCEPT_PAUSE,	/* out of resources: paused ACCEPT_PAUSE_MS */
	ACCEPT_STOP,	/* the listener was shut: the server stops */
	ACCEPT_FATAL,	/* the listener is broken: a->err says why */
};

#define ACCEPTOR_NONBLOCK	0x1	/* accepted sockets non-blocking */
#define ACCEPTOR_BLOCKING	0x2	/* workers block in accept: the pool's
					 * size bounds connections, nothing is
					 * reserved before accept4 */

struct acceptor {
	struct server *srv;
	int lfd;
	unsigned flags;
	int burst;		/* accepts per wakeup, 1..ACCEPT_BURST_MAX */
	int err;		/* errno of the last failure */
	uint64_t resume_us;	/* paused until then (now_us clock) */
};

void acceptor_init(struct acceptor *a, struct server *srv, int lfd,
    unsigned flags);
/* One connection: its descriptor, or -1 with the reason in *st. */
int accept_one(struct acceptor *a, enum accept_status *st);
/* Up to a burst, each given to take(arg, fd); take returns false when it
 * wants no more now (a full queue, no idle worker).  Returns why the burst
 * ended: ACCEPT_OK (take said enough, or the burst was used up),
 * ACCEPT_EMPTY, or a failure, after which the acceptor is paused. */
enum accept_status accept_burst(struct acceptor *a,
    bool (*take)(void *arg, int fd), void *arg);
/* A worker blocking in accept(): a descriptor, or -1 with errno EINTR (look
 * at the stop, then call again) or the listener's fatal error. */
int accept_blocking(struct acceptor *a);

/* Pauses: is the listener to be left alone at time now (now_us())?  How
 * long still, as a poll timeout (-1: not paused)?  A model that finds it
 * cannot serve what it accepted (fork failed) pauses the acceptor too. */
bool acceptor_paused(const struct acceptor *a, uint64_t now);
int acceptor_wait_ms(const struct acceptor *a, uint64_t now);
void acceptor_pause(struct acceptor *a, int ms);
/* Main threads that accept: wait for a signal or the listener (when not
 * paused); 1 when it is readable (server_wait()'s other answers else). */
int acceptor_wait(struct acceptor *a);

/* Accepted by other means (io_uring's own accept; inetd's socket): count
 * it as accept_one() would have, active included (with no limit: a model
 * that holds --max-conns accepts with accept_one()). */
void accept_taken(struct server *srv, int fd);
/* An error those other means reported: classified, logged and paused as
 * accept_one() would have. */
enum accept_status accept_failed(struct acceptor *a, int err);

/* Resource exhaustion (EMFILE, fork's EAGAIN...) is logged once per
 * episode: the first failure logs "WHAT: strerror(errno); pausing" and
 * returns true, later ones are silent until an episode of the same kind
 * ends (a few successes in a row) and logs "resumed".  Two kinds, each its
 * own episode: taking connections, and starting workers (fork,
 * pthread_create), so a pool that starts a thread during an EMFILE episode
 * does not end it. */
enum { OVERLOAD_ACCEPT, OVERLOAD_WORKERS, OVERLOAD_KINDS };
/* Episodes are counted in s (main sets it, before any worker starts). */
void server_overload_stats(struct stats *s);
bool server_overload_begin(int kind, const char *what);
void server_overload_end(int kind);
bool server_overloaded(int kind);

#endif
