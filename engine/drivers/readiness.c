/*
 * readiness: connections driven by readiness, for every backend.  See
 * readiness.h and evloop.h.
 *
 * Each loop owns its connections outright (nothing is shared but the
 * listener and the counters), so there are no locks on the request path.
 * The costs that matter were designed out:
 *   - one recv() and one send() per echoed message, into and out of a
 *     64 KiB buffer that belongs to the loop, not to the connection;
 *   - interest changes only when a send comes up short, which on a healthy
 *     connection is never;
 *   - an idle connection holds only its struct rconn (about 150 bytes plus
 *     the service's state); the pending-output buffer exists only while a
 *     peer is not reading, and is bounded by one emission (64 KiB), because
 *     the loop stops reading from a connection with output pending;
 *   - a file range goes out with sendfile(2) on the non-blocking socket, as
 *     much as the socket takes, the rest when it is writable again: no
 *     copy, no buffer.  The loop never waits on the disk: a window of the
 *     range is sent only once the kernel says it is in the page cache
 *     (diskpool.h: cachestat); a window that is not is read into the cache
 *     by the disk pool's threads while the loop goes on with the others,
 *     and the connection waits, unwatched, for the job's eventfd.  A small
 *     file (RD_FILE_SMALL) is read with preadv2(RWF_NOWAIT), which fails
 *     rather than wait, and goes out with its head in one sendmsg.
 *
 * --idle-timeout keeps the loop's connections on a list in order of last
 * activity: moving a connection to the tail is four pointer writes, and the
 * loop only ever looks at the head to find who expired -- and asks the
 * kernel whether its output is still moving before it cuts it (idle.h).
 */
#include "drivers/readiness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "diskpool.h"
#include "idle.h"
#include "io.h"
#include "log.h"
#include "server.h"
#include "stop.h"

#define MORE_BURST	8	/* more() rounds per wake-up (chargen fairness) */
#define FILE_TURN	(256u << 10)	/* of a file, sent per turn of the loop */

static void
idle_unlink(struct evloop *l, struct rconn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->oldest = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		l->newest = c->prev;
	c->prev = c->next = NULL;
}

static void
idle_touch(struct evloop *l, struct rconn *c)
{
	if (l->base.srv->idle_ms <= 0)
		return;
	c->last_us = l->now_us;
	if (l->newest == c)
		return;		/* already last in line */
	if (c->prev != NULL || l->oldest == c)
		idle_unlink(l, c);
	c->prev = l->newest;
	if (l->newest != NULL)
		l->newest->next = c;
	else
		l->oldest = c;
	l->newest = c;
}

/* c's disk job leaves this loop: its eventfd is no longer watched. */
static void
job_unlink(struct evloop *l, struct rconn *c)
{
	struct rconn **pp;

	if (l->be->del(l->bs, c->job->efd, EV_READ) == -1 && errno != EBADF)
		log_warn("%s: del the disk job's fd %d", l->be->name,
		    c->job->efd);
	for (pp = &l->jobs; *pp != NULL; pp = &(*pp)->jnext)
		if (*pp == c) {
			*pp = c->jnext;
			break;
		}
	c->jnext = NULL;
}

/* ...and joins it (an elastic loop took c over): -1 if the backend will
 * not watch it (the job is then left to finish alone). */
static int
job_link(struct evloop *l, struct rconn *c)
{
	if (l->be->add(l->bs, c->job->efd, EV_READ) == -1) {
		djob_put(c->job);
		c->job = NULL;
		return -1;
	}
	c->jnext = l->jobs;
	l->jobs = c;
	return 0;
}

void
rd_conn_free(struct evloop *l, struct rconn *c)
{
	if (c->job != NULL) {
		job_unlink(l, c);
		djob_put(c->job);
		c->job = NULL;
	}
	if (!l->be->close_removes &&
	    l->be->del(l->bs, c->fd, c->mask) == -1 && errno != EBADF)
		log_warn("%s: del fd %d", l->be->name, c->fd);
	if (l->base.srv->idle_ms > 0)
		idle_unlink(l, c);
	l->conns[c->fd] = NULL;
	l->nconns--;
	if (c->started && l->base.srv->svc->end != NULL)
		l->base.srv->svc->end(c->st);
	close(c->fd);
	conn_close(l->base.srv, &c->meta, c->in, c->out, c->err);
	free(c->pend);
	free(c);
}

void
rd_conn_detach(struct evloop *l, struct rconn *c)
{
	if (c->job != NULL)
		job_unlink(l, c);
	if (l->be->del(l->bs, c->fd, c->mask) == -1 && errno != EBADF)
		log_warn("%s: del fd %d", l->be->name, c->fd);
	if (l->base.srv->idle_ms > 0)
		idle_unlink(l, c);
	l->conns[c->fd] = NULL;
	l->nconns--;
	c->next = NULL;
}

int
rd_conn_attach(struct evloop *l, struct rconn *c)
{
	l->conns[c->fd] = c;
	l->nconns++;
	c->prev = c->next = NULL;
	if (c->job != NULL && job_link(l, c) == -1)
		c->mask = EV_WRITE;	/* send it without the pool */
	if (l->be->add(l->bs, c->fd, c->mask) == -1) {
		log_warn("%s: add fd %d", l->be->name, c->fd);
		c->status = SVC_ABORT;
		c->err = errno ? errno : -1;
		c->mask = 0;
		rd_conn_free(l, c);
		return -1;
	}
	l->now_us = now_us();
	idle_touch(l, c);
	return 0;
}

void
rd_expire_idle(struct evloop *l)
{
	uint64_t idle = (uint64_t)l->base.srv->idle_ms * 1000;

	while (l->oldest != NULL && l->oldest->last_us + idle <= l->now_us) {
		struct rconn *c = l->oldest;

		/* Its output still on its way (a slow link): not idle. */
		if (idle_moving(c->fd, &c->acked)) {
			idle_touch(l, c);
			continue;
		}
		conn_timed_out(l->base.srv, &c->meta);
		rd_conn_free(l, c);
	}
}

uint64_t
rd_next_expiry(const struct evloop *l)
{
	if (l->oldest == NULL)
		return UINT64_MAX;
	return l->oldest->last_us + (uint64_t)l->base.srv->idle_ms * 1000;
}

static int
set_mask(struct evloop *l, struct rconn *c, int mask)
{
	if (c->job != NULL)
		mask = 0;	/* nothing to do until the disk is done */
	if (mask == c->mask)
		return 0;
	if (l->be->mod(l->bs, c->fd, c->mask, mask) == -1)
		return -1;
	c->mask = mask;
	return 0;
}

/* The next `want` bytes of c's file are not in the page cache (why, for
 * -vv): have the disk pool read them, and leave c unwatched until it has.
 * 0, or -1 if no job could start (the caller then sends anyway, waiting on
 * the disk, as it would without a pool). */
static int
job_start(struct evloop *l, struct rconn *c, uint64_t want, const char *why)
{
	struct djob *j;

	j = djob_new(c->file.fd, c->file.off, want);

	if (j == NULL) {
		log_warn("conn %llu: a disk job", (unsigned long long)c->meta.id);
		return -1;
	}
	if (j->efd >= l->maxfds || (l->be->fd_limit && j->efd >=
	    l->be->fd_limit) || l->be->add(l->bs, j->efd, EV_READ) == -1) {
		djob_free(j);
		return -1;
	}
	if (djob_submit(j) == -1) {
		log_warn("conn %llu: the disk pool", (unsigned long long)
		    c->meta.id);
		(void)l->be->del(l->bs, j->efd, EV_READ);
		djob_free(j);
		return -1;
	}
	djob_say(j, c->meta.id, why);
	c->job = j;
	c->jnext = l->jobs;
	l->jobs = c;
	return set_mask(l, c, 0);
}

/* The file range, as far as the socket takes it, a window at a time, each
 * window only once it is in the page cache -- and at most FILE_TURN of it
 * per turn of the loop: a download on a fast link would take the socket's
 * whole buffer (megabytes, a millisecond and more) while every other
 * connection of the loop waits.  The rest goes at the next turn (the
 * connection stays watched for writing).  -1: the connection is dead. */
static int
send_file(struct evloop *l, struct rconn *c)
{
	struct svc_file part;
	uint64_t want, turn = FILE_TURN, sent;
	int r;

	/* A turn inside a window found cached: are this turn's pages still
	 * there?  Pages evicted since the probe would have sendfile wait on
	 * the disk here, for the rest of the window. */
	if (c->file.len > 0 && c->job == NULL && !c->file_short &&
	    c->file.off < c->cached_to) {
		want = (uint64_t)(c->cached_to - c->file.off);
		if (page_cached(c->file.fd, c->file.off,
		    want < FILE_TURN ? want : FILE_TURN) == 0 &&
		    job_start(l, c, disk_window(c->file.len),
		    "left the page cache since the probe") == 0)
			return 0;	/* on_job_done() goes on */
	}
	while (c->file.len > 0 && c->job == NULL) {
		if (turn == 0)
			return 0;
		if (c->file.off >= c->cached_to) {
			want = disk_window(c->file.len);
			/* (Past the file's end nothing is ever cached: once
			 * the pool has found the end, sendfile says so.) */
			if (!c->file_short && page_cached(c->file.fd,
			    c->file.off, want) == 0 && job_start(l, c, want,
			    "are not in the page cache") == 0)
				return 0;	/* on_job_done() goes on */
			c->cached_to = c->file.off + (off_t)want;
		}
		want = (uint64_t)(c->cached_to - c->file.off);
		if (want > c->file.len)
			want = c->file.len;
		if (want > turn)
			want = turn;
		part = c->file;
		part.len = want;
		r = svc_file_send(c->fd, &part, c->meta.id, &c->out);
		sent = want - part.len;
		c->file.len -= sent;
		c->file.off = part.off;
		turn -= sent;
		if (r == 0)
			continue;
		if (errno == ENODATA)
			c->file.len = 0;	/* shorter than promised */
		if (errno == EAGAIN)
			return 0;	/* the rest when it is writable */
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

static int on_writable(struct evloop *l, struct rconn *c);

/* The disk pool has read c's window: send it. */
static void
on_job_done(struct evloop *l, struct rconn *c)
{
	/* The thread marked the job done before it wrote the eventfd that
	 * brought us here; this load orders its got and err before ours. */
	(void)atomic_load_explicit(&c->job->state, memory_order_acquire);
	job_unlink(l, c);
	c->file_short = c->job->got < c->job->len;
	c->cached_to = c->job->off + (off_t)c->job->got;
	djob_put(c->job);
	c->job = NULL;
	idle_touch(l, c);
	if (set_mask(l, c, EV_WRITE) == -1 || on_writable(l, c) == -1)
		rd_conn_free(l, c);
}

/* Slices and a file range: the slices first, with the file itself if it
 * is small and in memory (one send, one packet), else with MSG_MORE, so
 * that the head and the first of the file share a packet too. */
static int
send_with_file(struct evloop *l, struct rconn *c, struct svc_out *o)
{
	struct iovec iov[SVC_OUT_MAX + 1], f;
	struct msghdr mh = { .msg_iov = iov };
	size_t total = 0, left;
	ssize_t w;
	int n = o->n, i;

	c->file = o->file;
	c->file_short = false;
	c->cached_to = 0;
	o->file.len = 0;
	disk_range_begins(c->file.fd, c->file.len);
	memcpy(iov, o->iov, (size_t)n * sizeof(iov[0]));
	o->n = 0;
	if (c->file.len <= sizeof(l->fbuf)) {
		f.iov_base = l->fbuf;
		f.iov_len = (size_t)c->file.len;
		do
			w = preadv2(c->file.fd, &f, 1, c->file.off, RWF_NOWAIT);
		while (w == -1 && errno == EINTR);
		if (w == (ssize_t)c->file.len) {
			iov[n++] = f;
			c->file.off += w;
			c->file.len = 0;
		}
		/* Else not all in memory, or shorter now: sendfile sees to it. */
	}
	if (n == 0)
		return send_file(l, c);
	for (i = 0; i < n; i++)
		total += iov[i].iov_len;
	mh.msg_iovlen = (size_t)n;
	do
		w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT |
		    (c->file.len > 0 ? MSG_MORE : 0));
	while (w == -1 && errno == EINTR);
	if (w == -1) {
		if (errno != EAGAIN)
			return -1;
		w = 0;
	}
	c->out += (uint64_t)w;
	if ((size_t)w == total)
		return c->file.len > 0 ? send_file(l, c) : 0;
	/* The rest of the slices (and of the small file) wait in pend; the
	 * file range, if any, after them. */
	n = iov_consume(iov, n, (size_t)w);
	for (i = 0, left = 0; i < n; i++)
		left += iov[i].iov_len;
	if ((c->pend = malloc(left)) == NULL)
		return -1;
	c->pend_off = 0;
	c->pend_len = 0;
	for (i = 0; i < n; i++) {
		memcpy(c->pend + c->pend_len, iov[i].iov_base, iov[i].iov_len);
		c->pend_len += (uint32_t)iov[i].iov_len;
	}
	return 0;
}

static bool
pending(const struct rconn *c)
{
	return c->pend != NULL || c->file.len > 0;
}

/* Send out; keep a copy of the slices that did not fit, and the file
 * range.  -1: the connection is dead. */
static int
send_out(struct evloop *l, struct rconn *c, struct svc_out *o)
{
	struct msghdr mh = { .msg_iov = o->iov, .msg_iovlen = (size_t)o->n };
	size_t left, total = o->n == 1 ? o->iov[0].iov_len : svc_out_len(o);
	ssize_t w;
	int i;

	if (o->file.len > 0)
		return send_with_file(l, c, o);
	/* send() when there is one slice (echo): the kernel then has no
	 * msghdr and iovec array to copy in. */
	do
		w = o->n == 1 ? send(c->fd, o->iov[0].iov_base, o->iov[0].iov_len,
		    MSG_NOSIGNAL | MSG_DONTWAIT) :
		    sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w == -1 && errno == EINTR);
	if (w == -1) {
		if (errno != EAGAIN)
			return -1;
		w = 0;
	}
	c->out += (uint64_t)w;
	if ((size_t)w == total)		/* the common case: all taken */
		o->n = 0;
	else
		o->n = iov_consume(o->iov, o->n, (size_t)w);
	if (o->n == 0)
		return 0;
	left = svc_out_len(o);
	if ((c->pend = malloc(left)) == NULL)
		return -1;
	c->pend_off = 0;
	c->pend_len = 0;
	for (i = 0; i < o->n; i++) {
		memcpy(c->pend + c->pend_len, o->iov[i].iov_base,
		    o->iov[i].iov_len);
		c->pend_len += (uint32_t)o->iov[i].iov_len;
	}
	o->n = 0;
	return 0;
}

/* After the service spoke: send, then ask for more while the socket takes
 * it, then pick the interest.  Returns -1 when c must be closed. */
static int
advance(struct evloop *l, struct rconn *c, struct svc_out *o, int r)
{
	const struct service *svc = l->base.srv->svc;
	int rounds = 0, mask;

	for (;;) {
		if (r == SVC_ABORT) {
			c->status = SVC_ABORT;
			return -1;
		}
		if (svc_out_pending(o) && send_out(l, c, o) == -1) {
			c->status = SVC_ABORT;
			c->err = errno;
			return -1;
		}
		if (r == SVC_DONE)
			c->status = SVC_DONE;
		if (pending(c))
			break;
		if (c->status == SVC_DONE)
			return -1;	/* all sent: close */
		if (svc->more == NULL || ++rounds > MORE_BURST)
			break;
		r = svc->more(c->st, o);
		if (!svc_out_pending(o) && r == SVC_OK)
			break;
	}
	if (pending(c) || (svc->more != NULL && rounds > MORE_BURST))
		mask = EV_WRITE;
	else if (c->rd_eof)
		return -1;	/* no input will come, no output is due */
	else
		mask = EV_READ;
	if (!c->rd_eof && (svc->flags & SVC_READ_ALWAYS))
		mask |= EV_READ;
	return set_mask(l, c, mask);
}

static int
on_readable(struct evloop *l, struct rconn *c)
{
	const struct service *svc = l->base.srv->svc;
	struct svc_out o;
	ssize_t n;
	int r;

	svc_out_init(&o);
	do
		n = recv(c->fd, l->buf, sizeof(l->buf), MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno == EAGAIN)
			return 0;
		c->status = SVC_ABORT;
		c->err = errno ? errno : -1;
		return -1;
	}
	if (n == 0) {
		c->rd_eof = true;
		r = svc->eof(c->st, &o);
	} else {
		c->in += (uint64_t)n;
		r = svc->input(c->st, l->buf, (size_t)n, &o);
	}
	if (pending(c)) {
		/* READ_ALWAYS services emit nothing from input(); keep their
		 * status for when the pending output drains. */
		if (r != SVC_OK)
			c->status = r;
		if (c->rd_eof)
			return set_mask(l, c, EV_WRITE);
		return c->status == SVC_ABORT ? -1 : 0;
	}
	return advance(l, c, &o, r);
}

static int
on_writable(struct evloop *l, struct rconn *c)
{
	struct svc_out o;
	ssize_t w;

	svc_out_init(&o);
	if (c->pend != NULL) {
		do
			w = send(c->fd, c->pend + c->pend_off,
			    c->pend_len - c->pend_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (w == -1 && errno == EINTR);
		if (w == -1) {
			if (errno == EAGAIN)
				return 0;
			c->status = SVC_ABORT;
			c->err = errno ? errno : -1;
			return -1;
		}
		c->out += (uint64_t)w;
		c->pend_off += (uint32_t)w;
		if (c->pend_off < c->pend_len)
			return 0;
		free(c->pend);
		c->pend = NULL;
	}
	if (c->file.len > 0) {
		if (send_file(l, c) == -1) {
			c->status = SVC_ABORT;
			c->err = errno ? errno : -1;
			return -1;
		}
		if (c->file.len > 0)
			return 0;
	}
	return advance(l, c, &o, c->status == SVC_DONE ? SVC_DONE : SVC_OK);
}

static void
conn_event(struct evloop *l, struct rconn *c, int mask)
{
	if (c->job != NULL) {
		/* Unwatched while the disk works: an error or a hang-up. */
		rd_conn_free(l, c);
		return;
	}
	idle_touch(l, c);
	if ((mask & EV_WRITE) && (c->mask & EV_WRITE) &&
	    on_writable(l, c) == -1) {
		rd_conn_free(l, c);
		return;
	}
	if ((mask & EV_READ) && (c->mask & EV_READ) && on_readable(l, c) == -1)
		rd_conn_free(l, c);
}

int
rd_dispatch(struct evloop *l, const struct ev_fired *f, int n)
{
	int i, got = 0;
	struct rconn *c;

	for (i = 0; i < n; i++) {
		if (f[i].fd == l->acc.lfd)
			got |= RD_LISTENER;
		else if (f[i].fd == l->base.wakefd)
			got |= RD_WOKEN;
		else if ((c = l->conns[f[i].fd]) != NULL)
			conn_event(l, c, f[i].mask);
		else
			for (c = l->jobs; c != NULL; c = c->jnext)
				if (c->job->efd == f[i].fd) {
					on_job_done(l, c);
					break;
				}
	}
	return got;
}

bool
rd_conn_new(void *loop, int fd)
{
	struct evloop *l = loop;
	struct server *srv = l->base.srv;
	const struct service *svc = srv->svc;
	struct svc_out o;
	struct rconn *c;
	int r;

	svc_out_init(&o);
	if (fd >= l->maxfds || (l->be->fd_limit && fd >= l->be->fd_limit)) {
		/* select() cannot watch descriptors past FD_SETSIZE. */
		if (server_overload_begin(OVERLOAD_ACCEPT, l->be->name))
			log_warnx("%s: descriptor %d is past the backend's "
			    "limit of %d; refusing connections", l->be->name,
			    fd, l->be->fd_limit ? l->be->fd_limit : l->maxfds);
		conn_drop(srv, fd);
		return true;
	}
	if ((c = calloc(1, sizeof(*c) + srv->svc_state)) == NULL) {
		log_warn("connection");
		conn_drop(srv, fd);
		return true;
	}
	c->fd = fd;
	if (conn_open(srv, fd, l->base.id, &c->meta) == -1) {
		close(fd);
		free(c);
		return true;
	}
	l->conns[fd] = c;
	l->nconns++;
	if (l->be->add(l->bs, fd, EV_READ) == -1) {
		log_warn("%s: add", l->be->name);
		c->status = SVC_ABORT;
		c->err = errno ? errno : -1;
		rd_conn_free(l, c);
		return true;
	}
	c->mask = EV_READ;
	idle_touch(l, c);
	c->sc = (struct svc_conn){ srv->svc_conf, &c->meta, fd };
	c->started = true;
	r = svc->start(c->st, &c->sc, &o);
	if (advance(l, c, &o, r) == -1)
		rd_conn_free(l, c);
	else if (srv->defer_accept > 0 && (c->mask & EV_READ) &&
	    on_readable(l, c) == -1)
		rd_conn_free(l, c);	/* accepted with data: read it now */
	return true;
}
