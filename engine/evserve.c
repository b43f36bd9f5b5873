/*
 * evserve: connections driven by readiness, for every backend.
 *
 * Each loop owns its connections outright (nothing is shared but the
 * listener and the counters), so there are no locks on the request path.
 * The costs that matter were designed out:
 *   - one recv() and one sendmsg() per echoed message, into and out of a
 *     64 KiB buffer that belongs to the loop, not to the connection;
 *   - interest changes (epoll_ctl) only when a send comes up short, which
 *     on a healthy connection is never;
 *   - an idle connection holds only its struct conn (about 64 bytes plus
 *     the service's state); the pending-output buffer exists only while a
 *     peer is not reading, and is bounded by one emission (64 KiB), because
 *     the loop stops reading from a connection with output pending.
 * Accepting is capped per wakeup so a connection storm cannot starve the
 * connections already open; EMFILE stops watching the listener for 100 ms,
 * and so does --max-conns (20 ms) while the server is full.
 *
 * --idle-timeout keeps each loop's connections on a list in order of last
 * activity: moving a connection to the tail is four pointer writes, and the
 * loop only ever looks at the head to find who expired.
 *
 * Stop: the loops stop watching the listener and go on serving until their
 * connections are gone or the main thread says close (grace over).
 */
#include "evloop.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "net.h"

#define MAX_EVENTS	256
#define ACCEPT_BURST	32	/* most accepts per listener wakeup */
#define MORE_BURST	8	/* more() rounds per wakeup (chargen fairness) */

struct conn {
	int fd;
	int mask;		/* interest the backend has for fd */
	bool rd_eof;
	int err;		/* the errno that ended it, or 0 */
	int status;		/* SVC_OK, or SVC_DONE once the service ended */
	uint64_t in, out;
	struct conn *prev, *next;	/* idle list, oldest first */
	uint64_t last_us;	/* last activity (idle timeout) */
	struct conn_meta meta;
	char *pend;		/* unsent output, or NULL */
	uint32_t pend_off, pend_len;
	alignas(max_align_t) unsigned char st[];
};

struct loop {
	struct server *srv;
	const struct ev_backend *be;
	void *bs;
	int id;
	int wakefd;		/* eventfd: the main thread asks us to stop */
	int lfd;		/* the shared listener, or ours (--reuseport) */
	bool own_lfd;
	int maxfds;
	struct conn **conns;	/* by descriptor */
	bool listening;		/* listener currently watched */
	int burst;		/* accepts per listener wakeup (adaptive) */
	uint64_t resume_us;	/* when to watch it again after EMFILE/full */
	uint64_t now_us;	/* time of this wakeup */
	struct conn *oldest, *newest;	/* idle list */
	int nconns;
	pthread_t thread;
	char buf[SVC_RECV_MAX];
};

static void
idle_unlink(struct loop *l, struct conn *c)
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
idle_touch(struct loop *l, struct conn *c)
{
	if (l->srv->idle_ms <= 0)
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

static void
conn_free(struct loop *l, struct conn *c)
{
	if (!l->be->close_removes &&
	    l->be->del(l->bs, c->fd, c->mask) == -1 && errno != EBADF)
		log_warn("%s: del fd %d", l->be->name, c->fd);
	if (l->srv->idle_ms > 0)
		idle_unlink(l, c);
	l->conns[c->fd] = NULL;
	l->nconns--;
	close(c->fd);
	conn_close(l->srv, &c->meta, c->in, c->out, c->err);
	free(c->pend);
	free(c);
}

static int
set_mask(struct loop *l, struct conn *c, int mask)
{
	if (mask == c->mask)
		return 0;
	if (l->be->mod(l->bs, c->fd, c->mask, mask) == -1)
		return -1;
	c->mask = mask;
	return 0;
}

/* Send out; keep a copy of what did not fit.  -1: the connection is dead. */
static int
send_out(struct conn *c, struct svc_out *o)
{
	struct msghdr mh = { .msg_iov = o->iov, .msg_iovlen = (size_t)o->n };
	size_t total = svc_out_len(o), done, left;
	ssize_t w;
	int i;

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
	o->n = 0;
	if ((size_t)w == total)
		return 0;
	left = total - (size_t)w;
	c->pend = malloc(left);
	if (c->pend == NULL)
		return -1;
	c->pend_off = 0;
	c->pend_len = (uint32_t)left;
	for (i = 0, done = 0; i < (int)mh.msg_iovlen; i++) {
		const char *p = mh.msg_iov[i].iov_base;
		size_t len = mh.msg_iov[i].iov_len, skip = 0;

		if ((size_t)w > done)
			skip = (size_t)w - done < len ? (size_t)w - done : len;
		memcpy(c->pend + c->pend_off, p + skip, len - skip);
		c->pend_off += (uint32_t)(len - skip);
		done += len;
	}
	c->pend_off = 0;
	return 0;
}

/* After the service spoke: send, then ask for more while the socket takes
 * it, then pick the interest.  Returns -1 when c must be closed. */
static int
advance(struct loop *l, struct conn *c, struct svc_out *o, int r)
{
	const struct service *svc = l->srv->svc;
	int rounds = 0, mask;

	for (;;) {
		if (r == SVC_ABORT) {
			c->status = SVC_ABORT;
			return -1;
		}
		if (o->n > 0 && send_out(c, o) == -1) {
			c->status = SVC_ABORT;
			c->err = errno;
			return -1;
		}
		if (r == SVC_DONE)
			c->status = SVC_DONE;
		if (c->pend != NULL)
			break;
		if (c->status == SVC_DONE)
			return -1;	/* all sent: close */
		if (svc->more == NULL || ++rounds > MORE_BURST)
			break;
		r = svc->more(c->st, o);
		if (o->n == 0 && r == SVC_OK)
			break;
	}
	if (c->pend != NULL || (svc->more != NULL && rounds > MORE_BURST))
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
on_readable(struct loop *l, struct conn *c)
{
	const struct service *svc = l->srv->svc;
	struct svc_out o = { .n = 0 };
	ssize_t n;
	int r;

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
	if (c->pend != NULL) {
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
on_writable(struct loop *l, struct conn *c)
{
	struct svc_out o = { .n = 0 };
	ssize_t w;

	if (c->pend == NULL)
		return advance(l, c, &o, c->status == SVC_DONE ? SVC_DONE : SVC_OK);
	do
		w = send(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
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
	return advance(l, c, &o, c->status == SVC_DONE ? SVC_DONE : SVC_OK);
}

static void
conn_new(struct loop *l, int fd)
{
	const struct service *svc = l->srv->svc;
	struct svc_out o = { .n = 0 };
	struct conn *c;
	int r;

	if (fd >= l->maxfds || (l->be->fd_limit && fd >= l->be->fd_limit)) {
		/* select() cannot watch descriptors past FD_SETSIZE. */
		if (server_overload_begin(OVERLOAD_ACCEPT, l->be->name))
			log_warnx("%s: descriptor %d is past the backend's "
			    "limit of %d; refusing connections", l->be->name,
			    fd, l->be->fd_limit ? l->be->fd_limit : l->maxfds);
		server_drop(l->srv, fd);
		return;
	}
	c = calloc(1, sizeof(*c) + svc->state_size);
	if (c == NULL) {
		log_warn("connection");
		server_drop(l->srv, fd);
		return;
	}
	c->fd = fd;
	if (conn_open(l->srv, fd, l->id, &c->meta) == -1) {
		close(fd);
		free(c);
		return;
	}
	l->conns[fd] = c;
	l->nconns++;
	if (l->be->add(l->bs, fd, EV_READ) == -1) {
		log_warn("%s: add", l->be->name);
		c->status = SVC_ABORT;
		c->err = errno ? errno : -1;
		conn_free(l, c);
		return;
	}
	c->mask = EV_READ;
	idle_touch(l, c);
	r = svc->start(c->st, &o);
	if (advance(l, c, &o, r) == -1)
		conn_free(l, c);
}

static void
listener_off(struct loop *l, int ms)
{
	if (l->listening && l->be->del(l->bs, l->lfd, EV_READ) == 0)
		l->listening = false;
	l->resume_us = now_us() + (uint64_t)ms * 1000;
}

/*
 * Accept up to l->burst connections per wakeup.  The last accept4() of a
 * burst that drains the queue fails with EAGAIN, a wasted system call; at
 * a steady trickle that is one per connection (measured: 20% of a short
 * connection's server CPU).  So the burst adapts: it stays at what the
 * last wakeup found waiting, doubles while wakeups find more than that
 * (a storm: up to ACCEPT_BURST), and a level-triggered listener that still
 * has connections waiting simply wakes us again.
 */
static void
on_listener(struct loop *l)
{
	int i, fd;

	for (i = 0; i < l->burst; i++) {
		fd = server_accept_on(l->srv, l->lfd,
		    ACCEPT_NONBLOCK | ACCEPT_NOPAUSE, NULL, NULL);
		if (fd >= 0) {
			conn_new(l, fd);
			continue;
		}
		l->burst = i > 0 ? i : 1;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* Clients wait in the backlog, open connections carry
			 * on; look again in 100 ms. */
			listener_off(l, 100);
		} else if (errno == EAGAIN) {
			if (server_at_limit(l->srv))
				listener_off(l, 20);	/* --max-conns */
		} else if (errno != EINTR) {
			log_warn("accept");
			listener_off(l, 100);
		}
		return;
	}
	if (l->burst < ACCEPT_BURST)
		l->burst *= 2;	/* all it allowed were waiting: allow more */
}

/* How long the next wait may sleep: until the listener is due back, or
 * the oldest connection would time out. */
static int
timeout_ms(struct loop *l)
{
	uint64_t until = UINT64_MAX;

	if (!l->listening && !server_stopping())
		until = l->resume_us;
	if (l->oldest != NULL) {
		uint64_t t = l->oldest->last_us + (uint64_t)l->srv->idle_ms * 1000;

		if (t < until)
			until = t;
	}
	if (until == UINT64_MAX)
		return -1;
	if (until <= l->now_us)
		return 0;
	return (int)((until - l->now_us) / 1000) + 1;
}

static void
expire_idle(struct loop *l)
{
	uint64_t idle = (uint64_t)l->srv->idle_ms * 1000;

	while (l->oldest != NULL && l->oldest->last_us + idle <= l->now_us) {
		struct conn *c = l->oldest;

		conn_timed_out(l->srv, &c->meta);
		conn_free(l, c);
	}
}

static void *
loop_main(void *arg)
{
	struct loop *l = arg;
	struct ev_fired fired[MAX_EVENTS];
	int lfd = l->lfd, i, n;
	uint64_t junk;

	server_block_signals();
	while (!server_closing()) {
		/* The clock matters only for a paused listener or idle
		 * timeouts: no clock_gettime on the request path otherwise. */
		if (!l->listening || l->srv->idle_ms > 0)
			l->now_us = now_us();
		if (server_stopping()) {
			if (l->listening && l->be->del(l->bs, lfd, EV_READ) == 0)
				l->listening = false;
			if (l->own_lfd) {
				/* Its backlog is refused, as the shared one's
				 * is by server_stop_listening(). */
				close(l->lfd);
				l->own_lfd = false;
				l->lfd = lfd = -1;
			}
			if (l->nconns == 0)
				break;
		} else if (!l->listening && l->now_us >= l->resume_us) {
			if (l->be->add(l->bs, lfd, EV_READ | EV_EXCLUSIVE) == 0)
				l->listening = true;
		}
		if (l->srv->idle_ms > 0)
			expire_idle(l);
		n = l->be->wait(l->bs, fired, MAX_EVENTS, timeout_ms(l));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_warn("%s: wait", l->be->name);
			server_pause();
			continue;
		}
		if (l->srv->idle_ms > 0)
			l->now_us = now_us();	/* the activity stamps */
		for (i = 0; i < n; i++) {
			int fd = fired[i].fd, mask = fired[i].mask;
			struct conn *c;

			if (fd == lfd) {
				if (l->listening)
					on_listener(l);
				continue;
			}
			if (fd == l->wakefd) {
				(void)!read(l->wakefd, &junk, sizeof(junk));
				continue;	/* the loop condition decides */
			}
			c = l->conns[fd];
			if (c == NULL)
				continue;
			idle_touch(l, c);
			if ((mask & EV_WRITE) && (c->mask & EV_WRITE) &&
			    on_writable(l, c) == -1) {
				conn_free(l, c);
				continue;
			}
			if ((mask & EV_READ) && (c->mask & EV_READ) &&
			    on_readable(l, c) == -1)
				conn_free(l, c);
		}
	}
	for (i = 0; i < l->maxfds; i++)
		if (l->conns[i] != NULL)
			conn_free(l, l->conns[i]);
	return NULL;
}

/*
 * Which listener a loop watches.  Shared (the default): one socket in every
 * loop's interest set with EPOLLEXCLUSIVE, so a connection wakes one idle
 * loop; a loop that is busy simply does not take it.  --reuseport: loop i
 * gets its own SO_REUSEPORT socket on the same port, and the kernel hashes
 * each new connection to one of them: an even spread and no shared accept
 * queue, but no stealing -- a connection hashed to a busy loop waits.
 * (bench/ measures both; see docs/peers.md.)
 */
static int
listener_for(struct server *srv, int id, bool *own)
{
	int fd;

	*own = false;
	if (!srv->reuseport || id == 0)
		return srv->lfd;
	fd = net_listen_like(srv->lfd, srv->backlog, NET_NONBLOCK);
	if (fd < 0) {
		errno = -fd;
		return -1;
	}
	if (srv->nodelay_inherited)
		(void)net_set_nodelay(fd, true);
	*own = true;
	return fd;
}

static void
loop_destroy(struct loop *l)
{
	if (l->own_lfd)
		close(l->lfd);
	if (l->bs != NULL)
		l->be->destroy(l->bs);
	fd_close(l->wakefd);
	free(l->conns);
	free(l);
}

static struct loop *
loop_create(struct server *srv, const struct ev_backend *be, int id,
    int maxfds)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->lfd = -1;
	l->burst = 1;
	l->srv = srv;
	l->be = be;
	l->id = id;
	l->maxfds = maxfds;
	l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	l->conns = calloc((size_t)maxfds, sizeof(*l->conns));
	if (l->wakefd == -1 || l->conns == NULL ||
	    (l->bs = be->create(maxfds)) == NULL ||
	    be->add(l->bs, l->wakefd, EV_READ) == -1 ||
	    (l->lfd = listener_for(srv, id, &l->own_lfd)) < 0 ||
	    be->add(l->bs, l->lfd, EV_READ | EV_EXCLUSIVE) == -1) {
		int e = errno ? errno : ENOMEM;

		loop_destroy(l);
		errno = e;
		return NULL;
	}
	l->listening = true;
	return l;
}

static bool
no_active(void *arg)
{
	struct server *srv = arg;

	return atomic_load(&srv->stats->active) <= 0;
}

static void
wake_all(struct loop **loops, int n)
{
	uint64_t one = 1;
	int i;

	for (i = 0; i < n; i++)
		(void)!write(loops[i]->wakefd, &one, sizeof(one));
}

int
evserve_run(struct server *srv, const struct ev_backend *be)
{
	struct loop *loops[MAX_WORKER_SLOTS];
	struct rlimit rl;
	int n = srv->workers > 0 ? srv->workers : srv->ncpu, i, started = 0;
	int maxfds, err = 0;

	if (fd_set_nonblock(srv->lfd, true) == -1)
		return -errno;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -errno;
	maxfds = rl.rlim_cur > 1 << 20 ? 1 << 20 : (int)rl.rlim_cur;
	atomic_store(&srv->stats->nslots, n);
	for (i = 0; i < n; i++) {
		loops[i] = loop_create(srv, be, i, maxfds);
		if (loops[i] == NULL) {
			err = -errno;
			log_warn("%s: loop %d", be->name, i);
			break;
		}
		errno = pthread_create(&loops[i]->thread, NULL, loop_main,
		    loops[i]);
		if (errno != 0) {
			err = -errno;
			log_warn("%s: thread %d", be->name, i);
			loop_destroy(loops[i]);
			break;
		}
		started++;
	}
	while (err == 0 && !server_stopping())
		(void)server_wait(srv, false, -1);
	server_request_stop();
	wake_all(loops, started);	/* stop watching the listener */
	server_linger(srv, no_active, srv);
	wake_all(loops, started);	/* close what is left */
	for (i = 0; i < started; i++) {
		pthread_join(loops[i]->thread, NULL);
		loop_destroy(loops[i]);
	}
	return err;
}
