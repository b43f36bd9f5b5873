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
#include <sys/eventfd.h>
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

/* The main thread asks for 1/k of our connections for a new loop. */
static void
give_away(struct evloop *l)
{
	int k = atomic_exchange(&l->give_k, 0), n, moved = 0, fd;
	struct evloop *to = atomic_load(&l->give_to);
	struct rconn *c, *list = NULL;

	if (k <= 0 || to == NULL || server_stopping())
		return;
	n = l->nconns / k;
	for (fd = 0; fd < l->maxfds && moved < n; fd++) {
		if ((c = l->conns[fd]) == NULL)
			continue;
		rd_conn_detach(l, c);
		c->next = list;
		list = c;
		moved++;
	}
	if (list == NULL)
		return;
	pthread_mutex_lock(&to->inbox_mu);
	for (c = list; c->next != NULL; c = c->next)
		;
	c->next = to->inbox;
	to->inbox = list;
	atomic_store(&to->has_inbox, true);
	pthread_mutex_unlock(&to->inbox_mu);
	if (eventfd_write(to->base.wakefd, 1) == -1)
		log_warn("%s: wake loop %d", l->be->name, to->base.id);
	log_verbose("%s: loop %d: %d connections moved to loop %d",
	    l->be->name, l->base.id, moved, to->base.id);
}

/* Connections another loop gave us. */
static void
take_inbox(struct evloop *l)
{
	struct rconn *c, *next;

	pthread_mutex_lock(&l->inbox_mu);
	c = l->inbox;
	l->inbox = NULL;
	atomic_store(&l->has_inbox, false);
	pthread_mutex_unlock(&l->inbox_mu);
	for (; c != NULL; c = next) {
		next = c->next;
		(void)rd_conn_attach(l, c);
	}
}

static void
ev_rebalance(struct loop_base *from, struct loop_base *to, int k)
{
	struct evloop *f = (struct evloop *)from;

	atomic_store(&f->give_to, (struct evloop *)to);
	atomic_store(&f->give_k, k);
	if (eventfd_write(from->wakefd, 1) == -1)
		log_warn("%s: wake loop %d", f->be->name, from->id);
}

static void
ev_run(struct loop_base *lb)
{
	struct evloop *l = (struct evloop *)lb;
	struct ev_fired fired[MAX_EVENTS];
	int i, n, got;

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
		got = rd_dispatch(l, fired, n);
		if (got & RD_WOKEN)
			loop_woken(lb);		/* the loop condition decides */
		if ((got & RD_LISTENER) && l->listening)
			on_listener(l);
		if (atomic_load_explicit(&l->give_k, memory_order_relaxed))
			give_away(l);
		if (atomic_load_explicit(&l->has_inbox, memory_order_relaxed))
			take_inbox(l);
	}
	take_inbox(l);		/* given as the loop ended: closed with it */
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
	if ((errno = pthread_mutex_init(&l->inbox_mu, NULL)) != 0)
		return -errno;
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
	pthread_mutex_destroy(&l->inbox_mu);
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
		.rebalance = ev_rebalance,
	};

	if (fd_set_nonblock(srv->lfd, true) == -1)
		return -errno;
	return loops_run(srv, &lc);
}
