/*
 * epoll: one event loop per worker thread on epoll(7), level-triggered.
 *
 * Level-triggered keeps the connection code simple (read once per wakeup,
 * the next epoll_wait reports what is left) and costs nothing extra: a
 * connection's interest only changes when a send comes up short.  The
 * shared listener is registered with EPOLLEXCLUSIVE in every loop, so a new
 * connection wakes one loop instead of all of them.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "evloop.h"

struct epoll_state {
	int epfd;
	struct epoll_event ev[256];
};

static void *
ep_create(int maxfds)
{
	struct epoll_state *s = malloc(sizeof(*s));

	(void)maxfds;
	if (s == NULL)
		return NULL;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd == -1) {
		free(s);
		return NULL;
	}
	return s;
}

static uint32_t
events_of(int mask)
{
	return ((mask & EV_READ) ? EPOLLIN : 0) |
	    ((mask & EV_WRITE) ? EPOLLOUT : 0) |
	    ((mask & EV_EXCLUSIVE) ? EPOLLEXCLUSIVE : 0);
}

static int
ep_ctl(struct epoll_state *s, int op, int fd, int mask)
{
	struct epoll_event ev = { .events = events_of(mask), .data.fd = fd };

	return epoll_ctl(s->epfd, op, fd, &ev);
}

static int
ep_add(void *be, int fd, int mask)
{
	return ep_ctl(be, EPOLL_CTL_ADD, fd, mask);
}

static int
ep_mod(void *be, int fd, int oldmask, int newmask)
{
	(void)oldmask;
	return ep_ctl(be, EPOLL_CTL_MOD, fd, newmask);
}

static int
ep_del(void *be, int fd, int oldmask)
{
	struct epoll_state *s = be;

	(void)oldmask;
	return epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static int
ep_wait(void *be, struct ev_fired *fired, int max, int timeout_ms)
{
	struct epoll_state *s = be;
	int n, i;

	if (max > 256)
		max = 256;
	n = epoll_wait(s->epfd, s->ev, max, timeout_ms);
	for (i = 0; i < n; i++) {
		uint32_t e = s->ev[i].events;

		fired[i].fd = s->ev[i].data.fd;
		fired[i].mask = 0;
		if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
			fired[i].mask |= EV_READ;
		if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			fired[i].mask |= EV_WRITE;
	}
	return n;
}

static void
ep_destroy(void *be)
{
	struct epoll_state *s = be;

	close(s->epfd);
	free(s);
}

static const struct ev_backend backend = {
	.name = "epoll",
	.close_removes = true,	/* we never dup a connection's descriptor */
	.create = ep_create,
	.add = ep_add,
	.mod = ep_mod,
	.del = ep_del,
	.wait = ep_wait,
	.destroy = ep_destroy,
};

static int
epoll_run(struct server *srv)
{
	return evloop_run(srv, &backend);
}

const struct model model_epoll = {
	.name = "epoll",
	.summary = "an epoll event loop per worker thread",
	.flags = MODEL_THREADS | MODEL_LOOPS | MODEL_REUSEPORT,
	.run = epoll_run,
};
