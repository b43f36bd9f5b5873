/*
 * uring: completion-based loops on io_uring, one ring per loop (engine/loops.h:
 * -w N, default one per CPU).
 *
 * Each loop owns a ring, its connections and its receive buffers; nothing
 * is shared but the listener and the counters, so the request path takes
 * no lock.  The connections are the completion driver's
 * (engine/drivers/completion.c); this file is the loop: a multishot accept
 * on the shared listener (the kernel wakes one ring per connection: accept
 * polls are exclusive), a poll of the loop's eventfd for the stop, timeouts
 * for the accept back-off and --idle-timeout, and one io_uring_enter per
 * iteration (io_uring_submit_and_wait).
 *
 * Accepting follows the accept policy (engine/accept.h): an error from the
 * ring's accept is classified there; out of descriptors stops accepting for
 * a while (a timeout on the ring), so nothing spins.  With --max-conns the
 * ring polls the listener instead and accepts through accept_burst(), which
 * reserves each connection before it is taken, so the limit holds exactly.
 * Without multishot accept (before 5.19) single-shot accepts are re-armed.
 *
 * Stop: the main thread writes the loop's eventfd: with --grace the loop
 * stops accepting and lets its connections finish; at the close it cancels
 * every connection's requests, closes each as its last completion comes
 * in, and returns.
 *
 * Shared listener versus SO_REUSEPORT: every ring accepts on the one
 * listener, and the kernel hands each connection to one waiting ring, so
 * idle rings get new connections, which reuseport's hash would not do.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "server.h"

#ifdef HAVE_LIBURING

#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "drivers/completion.h"
#include "idle.h"
#include "io.h"
#include "stop.h"

#define SQ_ENTRIES	512
#define CQ_ENTRIES	4096	/* multishot requests post many CQEs */
#define STOP_WAIT_S	5	/* stop: wait this long for cancellations */

static void
accept_arm(struct uloop *lp)
{
	struct io_uring_sqe *sqe = uring_sqe(&lp->ring);
	int lfd = lp->acc.lfd;

	if (lp->poll_accept)
		io_uring_prep_poll_add(sqe, lfd, POLLIN);
	else if (lp->accept_multishot)
		io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL,
		    SOCK_CLOEXEC);
	else
		io_uring_prep_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, OP_ACCEPT);
	lp->accept_armed = true;
}

static void
timeout_arm(struct uloop *lp, struct __kernel_timespec *ts, int ms, int op)
{
	struct io_uring_sqe *sqe = uring_sqe(&lp->ring);

	ts->tv_sec = ms / 1000;
	ts->tv_nsec = (ms % 1000) * 1000000LL;
	io_uring_prep_timeout(sqe, ts, 0, 0);
	io_uring_sqe_set_data64(sqe, (uint64_t)op);
}

static void
timeout_remove(struct uloop *lp, int op)
{
	struct io_uring_sqe *sqe = uring_sqe(&lp->ring);

	io_uring_prep_timeout_remove(sqe, (uint64_t)op, 0);
	io_uring_sqe_set_data64(sqe, OP_IGNORE);
}

/* The acceptor is paused: look again when the pause ends. */
static void
backoff_arm(struct uloop *lp)
{
	int ms = acceptor_wait_ms(&lp->acc, now_us());

	timeout_arm(lp, &lp->backoff_ts, ms > 0 ? ms : 1, OP_BACKOFF);
	lp->backoff_armed = true;
}

static bool
may_accept(const struct uloop *lp)
{
	return !lp->accept_armed && !lp->backoff_armed && !lp->stopping &&
	    !lp->draining;
}

/* --max-conns: the listener polled readable; take what the limit allows. */
static void
on_listener_ready(struct uloop *lp)
{
	enum accept_status st;

	lp->accept_armed = false;
	if (server_stopping())
		return;
	st = accept_burst(&lp->acc, uc_new, lp);
	if (st == ACCEPT_FATAL)
		loop_fail(&lp->base, -lp->acc.err, "accept");
	else if (st == ACCEPT_FULL || st == ACCEPT_PAUSE)
		backoff_arm(lp);
	else if (st != ACCEPT_STOP)
		accept_arm(lp);
}

static void
on_accept(struct uloop *lp, int res, unsigned flags)
{
	if (lp->poll_accept) {
		on_listener_ready(lp);
		return;
	}
	if (!(flags & IORING_CQE_F_MORE))
		lp->accept_armed = false;
	if (res >= 0 && (lp->stopping || lp->draining || server_stopping())) {
		/* Taken after the stop (the listener was shut meanwhile):
		 * not served, like the backlog the shutdown refused. */
		close(res);
		return;
	}
	if (res >= 0) {
		accept_taken(lp->base.srv, res);
		(void)uc_new(lp, res);
	} else if (server_stopping()) {
		return;		/* the listener was shut: stop accepting */
	} else if (res == -ECANCELED) {
		;		/* a back-off, or a switch to single accepts */
	} else if (res == -EINVAL && lp->accept_multishot) {
		log_debug("uring: no multishot accept");
		lp->accept_multishot = false;
	} else {
		switch (accept_failed(&lp->acc, -res)) {
		case ACCEPT_PAUSE:
		case ACCEPT_FULL:
			if (lp->accept_armed)
				uring_cancel(lp, OP_ACCEPT);
			if (!lp->backoff_armed && !lp->stopping)
				backoff_arm(lp);
			break;
		case ACCEPT_FATAL:
			loop_fail(&lp->base, res, "accept");
			return;
		default:
			break;	/* that client is gone, or a signal: again */
		}
	}
	if (may_accept(lp))
		accept_arm(lp);
}

/* --idle-timeout: every quarter of it, end the connections that moved
 * nothing for the whole of it (and whose output is not still on its way:
 * idle.h). */
static void
tick_arm(struct uloop *lp)
{
	int ms = lp->base.srv->idle_ms / 4 > 50 ? lp->base.srv->idle_ms / 4 : 50;

	timeout_arm(lp, &lp->tick_ts, ms > 1000 ? 1000 : ms, OP_TICK);
	lp->tick_armed = true;
}

static void
on_tick(struct uloop *lp)
{
	uint64_t t = now_us(), idle = (uint64_t)lp->base.srv->idle_ms * 1000;
	struct uconn *c, *next;

	lp->tick_armed = false;
	for (c = lp->conns; c != NULL; c = next) {
		next = c->next;
		if (!c->closing && c->last_us + idle <= t) {
			if (idle_moving(c->fd, &c->acked)) {
				c->last_us = t;
				continue;
			}
			conn_timed_out(lp->base.srv, &c->meta);
			uc_end(lp, c, 0);
			uc_progress(lp, c);
		}
	}
	if (!lp->stopping)
		tick_arm(lp);
}

static void
wake_arm(struct uloop *lp)
{
	struct io_uring_sqe *sqe = uring_sqe(&lp->ring);

	io_uring_prep_poll_add(sqe, lp->base.wakefd, POLLIN);
	io_uring_sqe_set_data64(sqe, OP_STOP);
	lp->wake_armed = true;
}

/* First stop with --grace: accept no more, let connections finish. */
static void
begin_drain(struct uloop *lp)
{
	lp->draining = true;
	if (lp->accept_armed)
		uring_cancel(lp, OP_ACCEPT);
	if (lp->backoff_armed)
		timeout_remove(lp, OP_BACKOFF);
}

static void
begin_stop(struct uloop *lp)
{
	struct uconn *c, *next;

	lp->stopping = true;
	if (lp->tick_armed)
		timeout_remove(lp, OP_TICK);
	if (lp->accept_armed)
		uring_cancel(lp, OP_ACCEPT);
	if (lp->backoff_armed)
		timeout_remove(lp, OP_BACKOFF);
	for (c = lp->conns; c != NULL; c = next) {
		next = c->next;
		uc_end(lp, c, 0);
		uc_progress(lp, c);
	}
}

static void
on_wake(struct uloop *lp)
{
	lp->wake_armed = false;
	loop_woken(&lp->base);
	if (atomic_load(&lp->single_accept) && lp->accept_multishot) {
		/* Another ring started: a multishot accept here would keep
		 * taking every new connection (the kernel wakes the first
		 * waiter), so this ring takes one per request, as the new
		 * one does, and idle rings get new connections. */
		lp->accept_multishot = false;
		if (lp->accept_armed && !lp->poll_accept)
			uring_cancel(lp, OP_ACCEPT);
	}
	if (atomic_load_explicit(&lp->give_k, memory_order_relaxed))
		uc_give_away(lp);
	if (atomic_load_explicit(&lp->has_inbox, memory_order_relaxed))
		uc_take_inbox(lp, true);
	if (server_closing()) {
		if (!lp->stopping)
			begin_stop(lp);
	} else if (server_stopping()) {
		if (!lp->draining)
			begin_drain(lp);
		wake_arm(lp);	/* the close comes later */
	} else {
		wake_arm(lp);
	}
}

static void
dispatch(struct uloop *lp, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	struct uconn *c = (struct uconn *)(uintptr_t)(ud & ~(uint64_t)OP_MASK);

	switch (ud & OP_MASK) {
	case OP_RECV:
		uc_on_recv(lp, c, cqe->res, cqe->flags);
		break;
	case OP_SEND:
		uc_on_send(lp, c, cqe->res);
		break;
	case OP_READ:
		uc_on_read(lp, c, cqe->res, cqe->flags);
		break;
	case OP_DISK:
		uc_on_disk(lp, c, cqe->res);
		break;
	case OP_ACCEPT:
		on_accept(lp, cqe->res, cqe->flags);
		break;
	case OP_BACKOFF:
		lp->backoff_armed = false;
		if (may_accept(lp))
			accept_arm(lp);
		break;
	case OP_TICK:
		if (cqe->res != -ECANCELED)
			on_tick(lp);
		else
			lp->tick_armed = false;
		break;
	case OP_STOP:
		on_wake(lp);
		break;
	default:
		break;	/* cancellations, provided buffers */
	}
}

static bool
drained(const struct uloop *lp)
{
	if (lp->draining && !lp->stopping)	/* grace: done when empty */
		return lp->nconns == 0 && !lp->accept_armed &&
		    !lp->backoff_armed;
	return lp->nconns == 0 && !lp->accept_armed && !lp->backoff_armed &&
	    !lp->wake_armed && !lp->tick_armed;
}

/* Parked connections retry once buffers came back. */
static void
unstarve(struct uloop *lp)
{
	while (lp->starved != NULL && lp->b.nfree > 0) {
		struct uconn *c = lp->starved;

		lp->starved = c->snext;
		c->starved = false;
		uc_progress(lp, c);
	}
	if (lp->starved == NULL)
		lp->starve_logged = false;
}

/* Submit and wait for a completion; while stopping, a bounded wait.
 * false: give up (the stop took too long, or the ring failed). */
static bool
enter(struct uloop *lp, uint64_t *stop_t0)
{
	struct __kernel_timespec tick = { .tv_sec = 0, .tv_nsec = 100000000 };
	struct io_uring_cqe *cqe;
	int r;

	if (!lp->stopping) {
		r = io_uring_submit_and_wait(&lp->ring, 1);
	} else {
		if (*stop_t0 == 0)
			*stop_t0 = now_us();
		if (now_us() - *stop_t0 >= (uint64_t)STOP_WAIT_S * 1000000) {
			log_warnx("uring: loop %d: %d connections still closing "
			    "after %d s", lp->base.id, lp->nconns, STOP_WAIT_S);
			return false;
		}
		r = io_uring_submit_and_wait_timeout(&lp->ring, &cqe, 1, &tick,
		    NULL);
	}
	if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY && r != -ETIME) {
		loop_fail(&lp->base, r, "io_uring_enter");
		if (!lp->stopping)
			begin_stop(lp);	/* best effort; bounded above */
		*stop_t0 = now_us() - (uint64_t)STOP_WAIT_S * 1000000;
	}
	return true;
}

static void
uring_loop(struct loop_base *lb)
{
	struct uloop *lp = (struct uloop *)lb;
	struct io_uring_cqe *cqe;
	uint64_t stop_t0 = 0;
	unsigned head, n;

	accept_arm(lp);
	wake_arm(lp);
	if (lb->srv->idle_ms > 0)
		tick_arm(lp);
	while (!(lp->stopping || lp->draining) || !drained(lp)) {
		unstarve(lp);
		bufs_publish(&lp->b);
		if (!enter(lp, &stop_t0))
			break;
		n = 0;
		io_uring_for_each_cqe(&lp->ring, head, cqe) {
			dispatch(lp, cqe);
			n++;
		}
		io_uring_cq_advance(&lp->ring, n);
	}
}

static int
uring_setup(struct loop_base *lb)
{
	static const unsigned tries[] = {
		/* 6.1+: completions run only when we wait, in this thread */
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		    IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
		0,
	};
	struct uloop *lp = (struct uloop *)lb;
	struct io_uring_params p;
	size_t i;
	int r = -EINVAL;

	lp->svc = lb->srv->svc;
	acceptor_init(&lp->acc, lb->srv, lb->srv->lfd, 0);
	if ((errno = pthread_mutex_init(&lp->inbox_mu, NULL)) != 0)
		return -errno;
	for (i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = tries[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = CQ_ENTRIES;
		r = io_uring_queue_init_params(SQ_ENTRIES, &lp->ring, &p);
		if (r != -EINVAL)
			break;
	}
	if (r < 0)
		return r;
	lp->ring_ok = true;
	lp->recv_multishot = true;
	lp->recv_ms_limit = true;
	lp->recv_poll_first = true;
	lp->deferred = lb->srv->defer_accept > 0;
	lp->accept_multishot = lb->nloops == 1;
	lp->poll_accept = lb->srv->max_conns > 0;
	return bufs_init(&lp->b, &lp->ring, OP_IGNORE);
}

static void
uring_teardown(struct loop_base *lb)
{
	struct uloop *lp = (struct uloop *)lb;
	struct uconn *c;
	bool clean;

	/* Handed over as the loop ended: closed with it. */
	uc_take_inbox(lp, false);
	clean = lp->nconns == 0;
	/* Only after a failed stop: the kernel may still hold requests on
	 * these; closing the ring cancels them. */
	while ((c = lp->conns) != NULL)
		uc_discard(lp, c);
	if (lp->ring_ok)
		io_uring_queue_exit(&lp->ring);
	while ((c = lp->freelist) != NULL) {
		lp->freelist = c->next;
		free(c);
	}
	/* After an unclean stop the ring's teardown runs asynchronously in
	 * the kernel and may still write into the buffers: leave them. */
	if (clean)
		bufs_free(&lp->b);
	pthread_mutex_destroy(&lp->inbox_mu);
}

/* An elastic ring just started: it gets its share of the open
 * connections, each once nothing of it is in flight here, and new ones
 * spread. */
static void
uring_rebalance(struct loop_base *from, struct loop_base *to, int k)
{
	struct uloop *lp = (struct uloop *)from;

	atomic_store(&lp->single_accept, true);
	atomic_store(&lp->give_to, (struct uloop *)to);
	atomic_store(&lp->give_k, k);
	if (eventfd_write(from->wakefd, 1) == -1)
		log_warn("uring: wake loop %d", from->id);
}

static int
uring_run(struct server *srv)
{
	static const struct loop_class lc = {
		.name = "uring",
		.size = sizeof(struct uloop),
		.setup = uring_setup,
		.run = uring_loop,
		.teardown = uring_teardown,
		.rebalance = uring_rebalance,
	};

	if (srv->max_conns > 0 && fd_set_nonblock(srv->lfd, true) == -1)
		return -errno;
	return loops_run(srv, &lc);
}

/* Probe with a tiny ring: io_uring can be missing (ENOSYS), disabled by
 * sysctl or refused by a seccomp filter (EPERM), or too old. */
static const char *
uring_unavailable(void)
{
	static char why[256];
	static const struct { int op; const char *name; } need[] = {
		{ IORING_OP_ACCEPT, "accept" }, { IORING_OP_RECV, "recv" },
		{ IORING_OP_SEND, "send" }, { IORING_OP_SENDMSG, "sendmsg" },
		{ IORING_OP_POLL_ADD, "poll" },
		{ IORING_OP_ASYNC_CANCEL, "cancel" },
		{ IORING_OP_TIMEOUT, "timeout" },
		{ IORING_OP_PROVIDE_BUFFERS, "provided buffers" },
	};
	struct io_uring_probe *probe;
	struct io_uring ring;
	size_t i;
	int r;

	r = io_uring_queue_init(2, &ring, 0);
	if (r == -ENOSYS)
		return "this kernel has no io_uring (io_uring_setup: ENOSYS)";
	if (r == -EPERM) {
		FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
		int v = 0;

		if (f != NULL) {
			if (fscanf(f, "%d", &v) != 1)
				v = 0;
			fclose(f);
		}
		if (v != 0)
			snprintf(why, sizeof(why), "io_uring is disabled "
			    "(sysctl kernel.io_uring_disabled=%d)", v);
		else
			snprintf(why, sizeof(why), "io_uring_setup: permission "
			    "denied (a seccomp filter, as in many containers?)");
		return why;
	}
	if (r < 0) {
		snprintf(why, sizeof(why), "io_uring_setup: %s", strerror(-r));
		return why;
	}
	probe = io_uring_get_probe_ring(&ring);
	why[0] = '\0';
	if (probe == NULL)
		snprintf(why, sizeof(why), "this kernel's io_uring is too old "
		    "(no opcode probe; Linux 5.7 or newer is needed)");
	for (i = 0; probe != NULL && i < sizeof(need) / sizeof(need[0]); i++)
		if (!io_uring_opcode_supported(probe, need[i].op)) {
			snprintf(why, sizeof(why), "this kernel's io_uring has "
			    "no %s operation (Linux 5.7 or newer is needed)",
			    need[i].name);
			break;
		}
	if (probe != NULL)
		io_uring_free_probe(probe);
	io_uring_queue_exit(&ring);
	return why[0] != '\0' ? why : NULL;
}

#else	/* !HAVE_LIBURING */

static int
uring_run(struct server *srv)
{
	(void)srv;
	return -ENOSYS;
}

static const char *
uring_unavailable(void)
{
	return "built without liburing (install liburing-dev and rebuild)";
}

#endif

const struct model model_uring = {
	.name = "uring",
	.summary = "completion-based on io_uring: multishot accept and "
	    "receive, provided buffers, one ring per worker",
	.flags = MODEL_THREADS | MODEL_LOOPS,
	.run = uring_run,
	.unavailable = uring_unavailable,
};
