/*
 * accept: the accept policy and overload episodes.  See accept.h.
 *
 * The burst adapts.  The last accept4() of a burst that drains the queue
 * fails with EAGAIN, a wasted system call; at a steady trickle that is one
 * per connection, a sizeable part of a short connection's cost.  So the burst
 * stays at what the last wakeup found waiting, doubles while wakeups find
 * more than that (a storm: up to ACCEPT_BURST_MAX), and a level-triggered
 * listener that still has connections waiting simply wakes its loop again.
 */
#include "accept.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "admit.h"
#include "log.h"
#include "net.h"
#include "server.h"
#include "stop.h"

void
acceptor_init(struct acceptor *a, struct server *srv, int lfd, unsigned flags)
{
	a->srv = srv;
	a->lfd = lfd;
	a->flags = flags;
	a->burst = 1;
	a->err = 0;
	a->resume_us = 0;
}

void
acceptor_pause(struct acceptor *a, int ms)
{
	a->resume_us = now_us() + (uint64_t)ms * 1000;
}

bool
acceptor_paused(const struct acceptor *a, uint64_t now)
{
	return a->resume_us != 0 && now < a->resume_us;
}

int
acceptor_wait_ms(const struct acceptor *a, uint64_t now)
{
	if (!acceptor_paused(a, now))
		return -1;
	return (int)((a->resume_us - now) / 1000) + 1;
}

int
acceptor_wait(struct acceptor *a)
{
	uint64_t t = now_us();

	if (acceptor_paused(a, t))
		return server_wait(a->srv, -1, acceptor_wait_ms(a, t));
	return server_wait(a->srv, a->lfd, -1);
}

/* What err means, logged once per episode where it is an overload. */
static enum accept_status
classify(struct acceptor *a, int err)
{
	a->err = err;
	switch (err) {
	case EAGAIN:
	case EINTR:
		return ACCEPT_EMPTY;
	case EINVAL:
		/* Not listening any more: the stop shut the listener. */
		server_request_stop();
		return ACCEPT_STOP;
	case EBADF:
	case ENOTSOCK:
	case EOPNOTSUPP:
	case EFAULT:
		return ACCEPT_FATAL;
	default:
		/* EMFILE, ENFILE, ENOBUFS, ENOMEM, or an error that would
		 * recur at once: log it, leave the listener alone a while. */
		errno = err;
		server_overload_begin(OVERLOAD_ACCEPT, "accept");
		acceptor_pause(a, ACCEPT_PAUSE_MS);
		return ACCEPT_PAUSE;
	}
}

static bool
client_gone(int err)
{
	switch (err) {
	case ECONNABORTED:
	case EPROTO:
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case ENETUNREACH:
		return true;	/* accept(2) says: retry */
	}
	return false;
}

/* The way in of a connection, its count reserved. */
static void
taken(struct server *srv, int fd)
{
	server_overload_end(OVERLOAD_ACCEPT);
	atomic_fetch_add_explicit(&srv->stats->accepted, 1, memory_order_relaxed);
	/* The listener carries the socket options to every accepted socket
	 * (net.h); only TCP_NODELAY, where it could not be set there. */
	if (srv->nodelay && !srv->nodelay_inherited)
		(void)net_set_nodelay(fd, true);
}

void
accept_taken(struct server *srv, int fd)
{
	conn_reserve_over(srv);
	taken(srv, fd);
}

enum accept_status
accept_failed(struct acceptor *a, int err)
{
	return client_gone(err) ? ACCEPT_EMPTY : classify(a, err);
}

int
accept_one(struct acceptor *a, enum accept_status *st)
{
	struct server *srv = a->srv;
	bool reserve = !(a->flags & ACCEPTOR_BLOCKING);
	int fd;

	/* Blocked in accept4 a pool worker is not a connection: it is
	 * counted once it has one (the pool's size bounds those). */
	if (reserve && !conn_reserve(srv)) {
		acceptor_pause(a, ACCEPT_FULL_MS);
		*st = ACCEPT_FULL;
		return -1;
	}
	do
		fd = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC |
		    ((a->flags & ACCEPTOR_NONBLOCK) ? SOCK_NONBLOCK : 0));
	while (fd == -1 && client_gone(errno));
	if (fd == -1) {
		int e = errno;

		if (reserve)
			conn_unreserve(srv);
		*st = classify(a, e);
		errno = e;
		return -1;
	}
	if (!reserve)
		conn_reserve_over(srv);
	taken(srv, fd);
	*st = ACCEPT_OK;
	return fd;
}

enum accept_status
accept_burst(struct acceptor *a, bool (*take)(void *, int), void *arg)
{
	enum accept_status st = ACCEPT_OK;
	int i, fd;

	for (i = 0; i < a->burst; i++) {
		fd = accept_one(a, &st);
		if (fd < 0)
			break;
		if (!take(arg, fd))
			return ACCEPT_OK;	/* it wants no more now */
	}
	if (st == ACCEPT_OK) {
		/* All it allowed were waiting: allow more next time. */
		if (a->burst < ACCEPT_BURST_MAX)
			a->burst *= 2;
	} else {
		a->burst = i > 0 ? i : 1;
	}
	return st;
}

int
accept_blocking(struct acceptor *a)
{
	enum accept_status st;
	int fd = accept_one(a, &st);

	if (fd >= 0)
		return fd;
	switch (st) {
	case ACCEPT_FATAL:
		errno = a->err;
		return -1;
	case ACCEPT_PAUSE:
	case ACCEPT_FULL:
		server_pause_ms(st == ACCEPT_PAUSE ? ACCEPT_PAUSE_MS :
		    ACCEPT_FULL_MS);
		break;
	default:
		break;
	}
	errno = EINTR;	/* look at the stop, and call again */
	return -1;
}

/*
 * An episode begins with the first failure and ends after 4 successes in
 * a row: at the edge of the descriptor limit accepts alternately fail and
 * succeed (a client leaves, a waiting one is taken, the next fails),
 * however far apart in time, and several threads hit it at once; none of
 * that is a new episode.
 */
static atomic_bool overloaded[OVERLOAD_KINDS];
static _Atomic int overload_streak[OVERLOAD_KINDS];
static struct stats *episodes;

void
server_overload_stats(struct stats *s)
{
	episodes = s;
}

bool
server_overload_begin(int kind, const char *what)
{
	atomic_store(&overload_streak[kind], 0);
	if (!atomic_exchange(&overloaded[kind], true)) {
		if (episodes != NULL)
			atomic_fetch_add(kind == OVERLOAD_ACCEPT ?
			    &episodes->episodes_accept :
			    &episodes->episodes_workers, 1);
		log_warn("%s; pausing", what);
		return true;
	}
	return false;
}

bool
server_overloaded(int kind)
{
	return atomic_load_explicit(&overloaded[kind], memory_order_relaxed);
}

void
server_overload_end(int kind)
{
	if (!atomic_load_explicit(&overloaded[kind], memory_order_relaxed))
		return;
	if (atomic_fetch_add(&overload_streak[kind], 1) + 1 < 4)
		return;		/* still at the edge: same episode */
	if (atomic_exchange(&overloaded[kind], false))
		log_info("resumed");
}
