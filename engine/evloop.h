/*
 * evloop: the readiness models' event loop and the five-function backend
 * API.
 *
 * A backend (models/select.c, poll.c, epoll.c) is private state plus five
 * small functions, after Redis's ae: create, add, mod, del, wait.  Errors and
 * hang-ups are reported as readable and writable, so the connection code
 * finds out what happened from the read or write that follows.
 * evloop_run() runs the loops (engine/loops.h: -w N, default one per CPU)
 * over the shared non-blocking listener, or one SO_REUSEPORT listener each
 * (--reuseport), and drives every connection's service with the readiness
 * driver (engine/drivers/readiness.c).
 */
#ifndef CONCUR_EVLOOP_H
#define CONCUR_EVLOOP_H

#include <stdbool.h>

#include "server.h"

#define EV_READ		0x1
#define EV_WRITE	0x2
#define EV_EXCLUSIVE	0x4	/* listener: wake one loop, not all (epoll) */

struct ev_fired {
	int fd;
	int mask;
};

struct ev_backend {
	const char *name;
	/* Largest descriptor the backend can watch + 1 (select: FD_SETSIZE);
	 * 0 when only the descriptor limit bounds it. */
	int fd_limit;
	/* close(2) takes a descriptor out of the interest set by itself
	 * (epoll, when nobody else holds the file): no del before close. */
	bool close_removes;
	void *(*create)(int maxfds);
	int (*add)(void *be, int fd, int mask);
	int (*mod)(void *be, int fd, int oldmask, int newmask);
	int (*del)(void *be, int fd, int oldmask);
	/* Fill at most max events; -1 with errno on error (EINTR included). */
	int (*wait)(void *be, struct ev_fired *fired, int max, int timeout_ms);
	void (*destroy)(void *be);
};

int evloop_run(struct server *srv, const struct ev_backend *be);

#endif
