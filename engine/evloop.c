/*
 * evloop: the readiness loops -- one thread each (engine/loops.c), a
 * backend's interest set, the listener, the idle clock.  The connections
 * themselves are the readiness driver's (engine/drivers/readiness.c).
 *
 * Accepting follows the accept policy (engine/accept.h): bursts that adapt
 * to what is waiting, so a connection storm cannot starve the connections
 * already open; while the acceptor is paused (out of descriptors, or the
 * server full at --max-conns) the loop stops watching the listener and
 * clients wait in the backlog.
 *
 * Stop: the loops stop watching the listener and go on serving until their
 * connections are gone or the main thread says close (grace over).
 */
#include "evloop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "drivers/readiness.h"
#include "io.h"
#include "log.h"
#include "net.h"
#include "stop.h"

#define MAX_EVENTS	256

static void
listener_watch(struct evloop *l, bool on)
{
	if (on && !l->listening &&
	    l->be->add(l->bs, l->acc.lfd, EV_READ | EV_EXCLUSIVE) == 0)
		l->listening = true;
	else if (!on && l->listening && l->be->del(l->bs, l->acc.lfd, EV_READ) == 0)
		l->listening = false;
}

static void
on_listener(struct evloop *l)
{
	enum accept_status st = accept_burst(&l->acc, rd_conn_new, l);

	if (st == ACCEPT_FULL || st == ACCEPT_PAUSE)
		listener_watch(l, false);	/* back when the pause ends */
	else if (st == ACCEPT_FATAL)
		loop_fail(&l->base, -l->acc.err, "accept");
}

/* How long the next wait may sleep: until the listener is due back, or
 * the oldest connection would time out. */
static int
timeout_ms(struct evloop *l)
{
	uint64_t until = UINT64_MAX, t;

	if (!l->listening && !server_stopping() && l->acc.resume_us != 0)
		until = l->acc.resume_us;
	if (l->base.srv->idle_ms > 0 && (t = rd_next_expiry(l)) < until)
		until = t;
	if (until == UINT64_MAX)
		return -1;
	if (until <= l->now_us)
		return 0;
	return (int)((until - l->now_us) / 1000) + 1;
}

/* At the stop: no more accepting.  A listener of our own (--reuseport) is
 * closed, so its backlog is refused as the shared one's is by the stop's
 * shutdown. */
static void
stop_listening(struct evloop *l)
{
	listener_watch(l, false);
	if (l->own_lfd) {
		close(l->acc.lfd);
		l->own_lfd = false;
		l->acc.lfd = -1;
	}
}

static void
dispatch(struct evloop *l, const struct ev_fired *f)
{
	struct rconn *c;

	if (f->fd == l->acc.lfd) {
		if (l->listening)
			on_listener(l);
	} else if (f->fd == l->base.wakefd) {
		loop_woken(&l->base);	/* the loop condition decides */
	} else if ((c = l->conns[f->fd]) != NULL) {
		rd_conn_event(l, c, f->mask);
	}
}

static void
ev_run(struct loop_base *lb)
{
	struct evloop *l = (struct evloop *)lb;
	struct ev_fired fired[MAX_EVENTS];
	int i, n;

	while (!server_closing()) {
		/* The clock matters only for a paused listener or idle
		 * timeouts: no clock_gettime on the request path otherwise. */
		if (!l->listening || lb->srv->idle_ms > 0)
			l->now_us = now_us();
		if (server_stopping()) {
			stop_listening(l);
			if (l->nconns == 0)
				break;
		} else if (!l->listening && !acceptor_paused(&l->acc, l->now_us)) {
			listener_watch(l, true);
		}
		if (lb->srv->idle_ms > 0)
			rd_expire_idle(l);
		n = l->be->wait(l->bs, fired, MAX_EVENTS, timeout_ms(l));
		if (n == -1) {
			if (errno != EINTR) {
				log_warn("%s: wait", l->be->name);
				server_pause_ms(ACCEPT_PAUSE_MS);
			}
			continue;
		}
		if (lb->srv->idle_ms > 0)
			l->now_us = now_us();	/* the activity stamps */
		for (i = 0; i < n; i++)
			dispatch(l, &fired[i]);
	}
	for (i = 0; i < l->maxfds; i++)
		if (l->conns[i] != NULL)
			rd_conn_free(l, l->conns[i]);
}

/*
 * Which listener a loop watches.  Shared (the default): one socket in every
 * loop's interest set with EPOLLEXCLUSIVE, so a connection wakes one idle
 * loop; a loop that is busy simply does not take it.  --reuseport: loop i
 * gets its own SO_REUSEPORT socket on the same port, and the kernel hashes
 * each new connection to one of them: an even spread and no shared accept
 * queue, but no stealing -- a connection hashed to a busy loop waits.
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

static int
ev_setup(struct loop_base *lb)
{
	struct evloop *l = (struct evloop *)lb;
	struct rlimit rl;
	int lfd;

	l->be = lb->lc->arg;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -errno;
	l->maxfds = rl.rlim_cur > 1 << 20 ? 1 << 20 : (int)rl.rlim_cur;
	if ((l->conns = calloc((size_t)l->maxfds, sizeof(*l->conns))) == NULL ||
	    (l->bs = l->be->create(l->maxfds)) == NULL ||
	    l->be->add(l->bs, lb->wakefd, EV_READ) == -1 ||
	    (lfd = listener_for(lb->srv, lb->id, &l->own_lfd)) < 0)
		return errno ? -errno : -ENOMEM;
	acceptor_init(&l->acc, lb->srv, lfd, ACCEPTOR_NONBLOCK);
	listener_watch(l, true);
	return l->listening ? 0 : (errno ? -errno : -EINVAL);
}

static void
ev_teardown(struct loop_base *lb)
{
	struct evloop *l = (struct evloop *)lb;

	if (l->own_lfd)
		close(l->acc.lfd);
	if (l->bs != NULL)
		l->be->destroy(l->bs);
	free(l->conns);
}

int
evloop_run(struct server *srv, const struct ev_backend *be)
{
	struct loop_class lc = {
		.name = be->name,
		.size = sizeof(struct evloop),
		.arg = be,
		.setup = ev_setup,
		.run = ev_run,
		.teardown = ev_teardown,
	};

	if (fd_set_nonblock(srv->lfd, true) == -1)
		return -errno;
	return loops_run(srv, &lc);
}
