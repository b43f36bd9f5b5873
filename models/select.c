/*
 * select: one event loop per worker thread on select(2), the lab's part 3.
 *
 * Two master fd_sets hold the interest; each wait copies them, because
 * select() overwrites its arguments, and then scans every descriptor up to
 * the highest one.  select() cannot watch a descriptor >= FD_SETSIZE (1024),
 * so this model refuses connections past that (fd_limit below) and says so
 * once: it is the model that shows why poll and epoll were invented.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include "evloop.h"

struct select_state {
	fd_set rd, wr;		/* interest */
	fd_set rrd, rwr;	/* results of the last wait */
	int maxfd;		/* highest descriptor watched, -1 if none */
};

static void *
se_create(int maxfds)
{
	struct select_state *s = malloc(sizeof(*s));

	(void)maxfds;
	if (s == NULL)
		return NULL;
	FD_ZERO(&s->rd);
	FD_ZERO(&s->wr);
	s->maxfd = -1;
	return s;
}

static int
se_mod(void *be, int fd, int oldmask, int newmask)
{
	struct select_state *s = be;

	(void)oldmask;
	if (fd < 0 || fd >= FD_SETSIZE) {
		errno = EINVAL;
		return -1;
	}
	if (newmask & EV_READ)
		FD_SET(fd, &s->rd);
	else
		FD_CLR(fd, &s->rd);
	if (newmask & EV_WRITE)
		FD_SET(fd, &s->wr);
	else
		FD_CLR(fd, &s->wr);
	/* A descriptor watched again (after a pause with no interest, while
	 * the disk pool reads its file) may be above a maximum that se_del()
	 * lowered meanwhile. */
	if (newmask != 0 && fd > s->maxfd)
		s->maxfd = fd;
	return 0;
}

static int
se_add(void *be, int fd, int mask)
{
	return se_mod(be, fd, 0, mask);
}

static int
se_del(void *be, int fd, int oldmask)
{
	struct select_state *s = be;

	if (se_mod(be, fd, oldmask, 0) == -1)
		return -1;
	while (s->maxfd >= 0 && !FD_ISSET(s->maxfd, &s->rd) &&
	    !FD_ISSET(s->maxfd, &s->wr))
		s->maxfd--;
	return 0;
}

static int
se_wait(void *be, struct ev_fired *fired, int max, int timeout_ms)
{
	struct select_state *s = be;
	struct timeval tv, *tvp = NULL;
	int r, fd, n = 0;

	if (timeout_ms >= 0) {
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		tvp = &tv;
	}
	memcpy(&s->rrd, &s->rd, sizeof(fd_set));
	memcpy(&s->rwr, &s->wr, sizeof(fd_set));
	r = select(s->maxfd + 1, &s->rrd, &s->rwr, NULL, tvp);
	if (r <= 0)
		return r;
	for (fd = 0; fd <= s->maxfd && n < max; fd++) {
		int mask = (FD_ISSET(fd, &s->rrd) ? EV_READ : 0) |
		    (FD_ISSET(fd, &s->rwr) ? EV_WRITE : 0);

		if (mask) {
			fired[n].fd = fd;
			fired[n++].mask = mask;
		}
	}
	return n;
}

static void
se_destroy(void *be)
{
	free(be);
}

static const struct ev_backend backend = {
	.name = "select",
	.fd_limit = FD_SETSIZE,
	.create = se_create,
	.add = se_add,
	.mod = se_mod,
	.del = se_del,
	.wait = se_wait,
	.destroy = se_destroy,
};

static int
select_run(struct server *srv)
{
	return evloop_run(srv, &backend);
}

const struct model model_select = {
	.name = "select",
	.summary = "a select event loop per worker thread (FD_SETSIZE bound)",
	.flags = MODEL_THREADS | MODEL_LOOPS | MODEL_REUSEPORT,
	.run = select_run,
};
