/*
 * prefork-fdpass (UNP serv05): the parent accepts and passes each
 * connection to an idle child over a Unix socket.
 *
 * Each child has a stream socketpair to the parent.  The parent polls the
 * listener, its signal pipe and every child's socket; on a connection it
 * picks the first idle child (as UNP does, so the meter shows the early
 * children doing most of the work), sends it the descriptor with
 * SCM_RIGHTS beside one byte of data, and closes its own copy.  The child
 * serves the connection and writes one byte back when it is done, which
 * makes it idle again.  Only the parent accepts, so the listener can be
 * non-blocking here, and the parent knows every child's state without
 * shared memory.
 *
 * Pool size (engine/pools/policy.h): -w N children at start (default 2 x
 * online CPUs, at least 4).  When fewer than 2 are idle after a hand-off,
 * and the busy ones took their connections 10 ms ago or more (patience),
 * the parent forks more at once, up to --max-workers (default 256).  With
 * no child idle the parent stops polling the listener and clients wait in
 * the listen backlog until a child reports done or the pool grows: forking
 * a child for every connection that finds none idle would make this pool
 * cost as much as fork per connection.  A child that reports done while as
 * many others as the initial size are idle is told to leave: the parent closes its socket
 * and the child exits on EOF, so an idle pool shrinks back to N.  A child
 * that dies is reaped and replaced.  On SIGTERM or SIGINT the parent stops
 * accepting and sends each child one SIGTERM: idle children leave at once,
 * busy ones finish their connection within --grace; then SIGTERM every
 * 100 ms, SIGKILL after 5 s, until all are reaped.  With --max-conns
 * reached the parent leaves new clients in the backlog.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "accept.h"
#include "admit.h"
#include "drivers/blocking.h"
#include "io.h"
#include "log.h"
#include "memwatch.h"
#include "net.h"
#include "pools/policy.h"
#include "pools/procpool.h"
#include "server.h"
#include "sig.h"
#include "stop.h"

/* The parent's view of each slot. */
enum { C_NONE, C_IDLE, C_BUSY, C_LEAVING, C_LOST };

struct fdpass {
	struct server *srv;
	struct pool_policy pol;
	struct acceptor acc;
	int sock[MAX_WORKER_SLOTS];	/* parent's end, -1 if none */
	int st[MAX_WORKER_SLOTS];
	int idle, total;
	int child_end, parent_end;	/* of the child being forked */
	int pending;	/* the connection being handed off: a child forked
			 * meanwhile must not keep a copy of it */
	bool replace;
	bool recheck;		/* spares short, busy ones young: see grow() */
	struct pollfd pfd[MAX_WORKER_SLOTS + 2];
	int pslot[MAX_WORKER_SLOTS + 2];
};

static void
set_state(struct server *srv, struct fdpass *fp, int i, int st)
{
	fp->st[i] = st;
	pool_slot_set(srv, i, st == C_BUSY ? SLOT_BUSY : st == C_IDLE ?
	    SLOT_IDLE : SLOT_LEAVING);
}

static void
child(struct server *srv, int slot, void *arg)
{
	struct fdpass *fp = arg;
	int sock = fp->child_end, i, fd = -1, r;
	char b = 1;

	server_child_init();
	close(srv->lfd);
	/* A copy of a client's socket held here would keep that connection
	 * open after its real worker closed it. */
	if (fp->pending != -1)
		close(fp->pending);
	/* Only the parent may hold the other end, or leaving by EOF fails. */
	close(fp->parent_end);
	for (i = 0; i < MAX_WORKER_SLOTS; i++)
		if (fp->sock[i] != -1)
			close(fp->sock[i]);
	while (!server_stopping()) {
		r = net_recv_fd(sock, &fd);
		if (r == 0)
			break;		/* the parent says leave */
		if (r == -1) {
			if (errno == EINTR || errno == EBADMSG)
				continue;
			log_warn("worker %d: recvmsg", slot);
			_exit(EX_OSERR);
		}
		serve_blocking(srv, fd, slot);
		if (server_stopping())
			break;
		if (io_send_all(sock, &b, 1) == -1)
			break;		/* the parent is gone */
	}
	_exit(0);
}

/* The child's socket is closed or broken: it is gone or going. */
static void
lost(struct server *srv, struct fdpass *fp, int i)
{
	if (fp->sock[i] != -1) {
		close(fp->sock[i]);
		fp->sock[i] = -1;
	}
	if (fp->st[i] == C_IDLE)
		fp->idle--;
	if (fp->st[i] != C_LEAVING)
		set_state(srv, fp, i, C_LOST);
}

static void
gone(struct server *srv, int i, void *arg)
{
	struct fdpass *fp = arg;

	lost(srv, fp, i);
	if (fp->st[i] == C_LOST && !server_stopping()) {
		log_warnx("worker %d: child %d ended unexpectedly; replacing it",
		    i, pool_child_pid(srv, i));
		fp->replace = true;
	}
	fp->st[i] = C_NONE;
	fp->total--;
}

/* Fork a child into a free slot; returns the slot or -1 (errno). */
static int
spawn(struct server *srv, struct fdpass *fp)
{
	int sv[2], i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	fp->child_end = sv[1];
	fp->parent_end = sv[0];
	i = pool_fork(srv, fp->pol.max, child, fp);
	close(sv[1]);
	fp->child_end = fp->parent_end = -1;
	if (i == -1) {
		fd_close(sv[0]);
		return -1;
	}
	fp->sock[i] = sv[0];
	fp->total++;
	fp->idle++;
	set_state(srv, fp, i, C_IDLE);
	return i;
}

static bool
grow(struct server *srv, struct fdpass *fp)
{
	int want = pool_want_patient(&fp->pol, srv, fp->idle, fp->total, 0,
	    &fp->recheck);

	for (; want > 0; want--) {
		if (spawn(srv, fp) == -1) {
			server_overload_begin(OVERLOAD_WORKERS, "fork");
			return false;
		}
		server_overload_end(OVERLOAD_WORKERS);
	}
	return true;
}

/* Hand fd to an idle child, starting one if none is idle.  0, or -1 when
 * no child could take it. */
static int
hand_off(struct server *srv, struct fdpass *fp, int fd)
{
	int i, tries;

	fp->pending = fd;
	for (tries = 0;; tries++) {
		if (tries == 4) {
			fp->pending = -1;
			return -1;	/* sendmsg keeps failing: drop it */
		}
		for (i = 0; i < fp->pol.max; i++)
			if (fp->st[i] == C_IDLE && fp->sock[i] != -1)
				break;
		if (i == fp->pol.max) {
			/* None idle: another, memory allowing (memwatch.h). */
			if (mem_spawn(1) == 0) {
				errno = ENOMEM;
				i = -1;
			} else {
				i = spawn(srv, fp);
			}
		}
		if (i == -1) {
			server_overload_begin(OVERLOAD_WORKERS, "fork");
			fp->pending = -1;
			return -1;
		}
		if (net_send_fd(fp->sock[i], fd) == 0)
			break;
		log_warn("worker %d: sendmsg", i);
		lost(srv, fp, i);	/* reaped soon; try another */
	}
	fp->pending = -1;
	set_state(srv, fp, i, C_BUSY);
	fp->idle--;
	return 0;
}

/* A child's socket is readable: done bytes, or EOF. */
static void
from_child(struct server *srv, struct fdpass *fp, int i)
{
	char buf[16];
	ssize_t n = read(fp->sock[i], buf, sizeof(buf));

	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		lost(srv, fp, i);
		return;
	}
	if (fp->st[i] != C_BUSY)
		return;
	if (fp->idle >= fp->pol.max_spare) {
		log_debug("worker %d: %d idle, telling it to leave", i,
		    fp->idle);
		set_state(srv, fp, i, C_LEAVING);
		close(fp->sock[i]);
		fp->sock[i] = -1;
		return;
	}
	set_state(srv, fp, i, C_IDLE);
	fp->idle++;
}

/* accept_burst's taker: hand fd to an idle child; false when none is idle
 * any more (the rest wait in the backlog: see pools/policy.h, patience). */
static bool
take(void *arg, int fd)
{
	struct fdpass *fp = arg;

	if (hand_off(fp->srv, fp, fd) == -1) {
		conn_drop(fp->srv, fd);
		acceptor_pause(&fp->acc, ACCEPT_PAUSE_MS);
		return false;
	}
	close(fd);
	return fp->idle > 0;
}

/* The parent's poll set: the signal pipe, the listener while a child is
 * idle and the acceptor is not paused, every child's socket.  Returns how
 * many entries; *lslot: the listener's index, or -1. */
static int
poll_set(struct server *srv, struct fdpass *fp, int *lslot)
{
	int n = 0, i;

	fp->pfd[n] = (struct pollfd){ .fd = sig_fd(), .events = POLLIN };
	fp->pslot[n++] = -1;
	*lslot = -1;
	if (fp->idle > 0 && !acceptor_paused(&fp->acc, now_us())) {
		*lslot = n;
		fp->pfd[n] = (struct pollfd){ .fd = srv->lfd, .events = POLLIN };
		fp->pslot[n++] = -2;
	}
	for (i = 0; i < fp->pol.max; i++)
		if (fp->sock[i] != -1) {
			fp->pfd[n] = (struct pollfd){ .fd = fp->sock[i],
			    .events = POLLIN };
			fp->pslot[n++] = i;
		}
	return n;
}

static int
fdpass_loop(struct server *srv, struct fdpass *fp)
{
	int64_t grow_at = 0;

	while (!server_stopping()) {
		int64_t now = pool_now_ms(), wake = -1;
		int n, i, r, lslot, paused;

		if (fp->replace) {
			fp->replace = false;
			grow_at = now + POOL_RESPAWN_MS;  /* never a fork loop */
		}
		if (now >= grow_at && !grow(srv, fp))
			grow_at = now + POOL_RESPAWN_MS;
		if (now < grow_at)
			wake = grow_at;
		else if (fp->recheck)
			wake = now + POOL_PATIENCE_MS;
		paused = acceptor_wait_ms(&fp->acc, now_us());
		if (paused >= 0 && (wake == -1 || now + paused < wake))
			wake = now + paused;
		n = poll_set(srv, fp, &lslot);
		r = poll(fp->pfd, (nfds_t)n,
		    wake == -1 ? -1 : (int)(wake > now ? wake - now : 0));
		if (r == -1 && errno != EINTR)
			return -errno;
		for (i = 0; r > 0 && i < n; i++) {
			if (fp->pfd[i].revents == 0)
				continue;
			if (fp->pslot[i] == -1)
				(void)server_take_signals(srv);
			else if (fp->pslot[i] >= 0)
				from_child(srv, fp, fp->pslot[i]);
		}
		(void)pool_reap(srv, gone, fp);
		if (r > 0 && lslot >= 0 && fp->pfd[lslot].revents &&
		    !server_stopping() && fp->idle > 0 &&
		    accept_burst(&fp->acc, take, fp) == ACCEPT_FATAL)
			return -fp->acc.err;
	}
	return 0;
}

static int
fdpass_run(struct server *srv)
{
	struct fdpass *fp;
	int i, err;

	if (fd_set_nonblock(srv->lfd, true) == -1)
		return -errno;
	if ((fp = calloc(1, sizeof(*fp))) == NULL)
		return -errno;
	fp->srv = srv;
	pool_policy(srv, &fp->pol);
	acceptor_init(&fp->acc, srv, srv->lfd, 0);
	for (i = 0; i < MAX_WORKER_SLOTS; i++)
		fp->sock[i] = -1;
	fp->child_end = fp->parent_end = -1;
	fp->pending = -1;
	err = fdpass_loop(srv, fp);
	pool_end_children(srv);
	for (i = 0; i < MAX_WORKER_SLOTS; i++)
		fd_close(fp->sock[i]);
	free(fp);
	return err;
}

const struct model model_prefork_fdpass = {
	.name = "prefork-fdpass",
	.summary = "the parent accepts and passes descriptors to a preforked "
	    "pool (UNP serv05)",
	.flags = MODEL_POOL | MODEL_PROCESS,
	.run = fdpass_run,
};
