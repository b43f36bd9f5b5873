/*
 * poll: one event loop per worker thread on poll(2).
 *
 * The pollfd array is dense; pos[fd] finds a descriptor's entry, and a
 * deleted entry is filled by the last one, so add, mod and del are O(1).
 * Each wait still hands the kernel the whole array, which is the cost that
 * grows with the number of connections.  The shared listener wakes every
 * loop (poll has no exclusive wakeup); the losers' accept() says EAGAIN.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "evloop.h"

struct poll_state {
	struct pollfd *pfd;
	int *pos;		/* fd -> index in pfd, -1 if absent */
	int n, maxfds;
};

static void *
po_create(int maxfds)
{
	struct poll_state *s = calloc(1, sizeof(*s));
	int i;

	if (s == NULL)
		return NULL;
	s->pfd = calloc((size_t)maxfds, sizeof(*s->pfd));
	s->pos = malloc((size_t)maxfds * sizeof(*s->pos));
	if (s->pfd == NULL || s->pos == NULL) {
		free(s->pfd);
		free(s->pos);
		free(s);
		return NULL;
	}
	for (i = 0; i < maxfds; i++)
		s->pos[i] = -1;
	s->maxfds = maxfds;
	return s;
}

static short
events_of(int mask)
{
	return (short)(((mask & EV_READ) ? POLLIN : 0) |
	    ((mask & EV_WRITE) ? POLLOUT : 0));
}

static int
po_add(void *be, int fd, int mask)
{
	struct poll_state *s = be;

	if (fd < 0 || fd >= s->maxfds || s->pos[fd] != -1) {
		errno = fd < 0 || fd >= s->maxfds ? EINVAL : EEXIST;
		return -1;
	}
	s->pfd[s->n].fd = fd;
	s->pfd[s->n].events = events_of(mask);
	s->pfd[s->n].revents = 0;
	s->pos[fd] = s->n++;
	return 0;
}

static int
po_mod(void *be, int fd, int oldmask, int newmask)
{
	struct poll_state *s = be;

	(void)oldmask;
	if (fd < 0 || fd >= s->maxfds || s->pos[fd] == -1) {
		errno = ENOENT;
		return -1;
	}
	s->pfd[s->pos[fd]].events = events_of(newmask);
	return 0;
}

static int
po_del(void *be, int fd, int oldmask)
{
	struct poll_state *s = be;
	int i;

	(void)oldmask;
	if (fd < 0 || fd >= s->maxfds || (i = s->pos[fd]) == -1) {
		errno = ENOENT;
		return -1;
	}
	s->pfd[i] = s->pfd[--s->n];
	s->pos[s->pfd[i].fd] = i;
	s->pos[fd] = -1;
	/* Entries moved under an unfinished report: the next wait starts
	 * afresh, so nothing is reported twice or for a closed fd. */
	s->pfd[i].revents = 0;
	return 0;
}

static int
po_wait(void *be, struct ev_fired *fired, int max, int timeout_ms)
{
	struct poll_state *s = be;
	int r, i, n = 0;

	r = poll(s->pfd, (nfds_t)s->n, timeout_ms);
	if (r <= 0)
		return r;
	for (i = 0; i < s->n && n < max && r > 0; i++) {
		short e = s->pfd[i].revents;

		if (e == 0)
			continue;
		r--;
		fired[n].fd = s->pfd[i].fd;
		fired[n].mask = 0;
		if (e & (POLLIN | POLLERR | POLLHUP | POLLNVAL))
			fired[n].mask |= EV_READ;
		if (e & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))
			fired[n].mask |= EV_WRITE;
		n++;
	}
	return n;
}

static void
po_destroy(void *be)
{
	struct poll_state *s = be;

	free(s->pfd);
	free(s->pos);
	free(s);
}

static const struct ev_backend backend = {
	.name = "poll",
	.create = po_create,
	.add = po_add,
	.mod = po_mod,
	.del = po_del,
	.wait = po_wait,
	.destroy = po_destroy,
};

static int
poll_run(struct server *srv)
{
	return evloop_run(srv, &backend);
}

const struct model model_poll = {
	.name = "poll",
	.summary = "a poll event loop per worker thread",
	.flags = MODEL_THREADS | MODEL_LOOPS | MODEL_REUSEPORT,
	.run = poll_run,
};
