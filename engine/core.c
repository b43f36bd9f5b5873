/*
 * core: what every model shares -- the stop protocol, the accept policy, the
 * blocking connection driver, the counters, and reaping.
 *
 * Signals: the main thread owns SIGTERM, SIGINT, SIGCHLD, SIGHUP and SIGUSR1
 * through the self-pipe (lib/sig.c).  Worker threads block them.  SIGUSR2 is
 * ours: a no-op handler installed without SA_RESTART, so pthread_kill(t,
 * SIGUSR2) makes thread t's blocking call return EINTR and look at the stop
 * flag.  Nudges are repeated until the thread is gone, which closes the race
 * between "check the flag" and "enter the system call".
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdalign.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "net.h"
#include "server.h"
#include "sig.h"

static atomic_bool stop_requested;

bool
server_stopping(void)
{
	if (atomic_load_explicit(&stop_requested, memory_order_relaxed))
		return true;
	if (sig_peek(SIGTERM) || sig_peek(SIGINT)) {
		atomic_store(&stop_requested, true);
		return true;
	}
	return false;
}

void
server_request_stop(void)
{
	atomic_store(&stop_requested, true);
}

static void
on_nudge(int signo)
{
	(void)signo;	/* the point is the EINTR it causes */
}

int
server_signals_init(void)
{
	if (sig_pipe_open() == -1)
		return -1;
	if (sig_watch(SIGTERM, 0) == -1 || sig_watch(SIGINT, 0) == -1 ||
	    sig_watch(SIGCHLD, SIG_RESTART | SIG_NOCLDSTOP) == -1 ||
	    sig_watch(SIGHUP, SIG_RESTART) == -1 ||
	    sig_watch(SIGUSR1, SIG_RESTART) == -1 ||
	    sig_set(SIGUSR2, on_nudge, 0) == -1 ||
	    sig_ignore(SIGPIPE) == -1)
		return -1;
	return 0;
}

void
server_nudge(pthread_t t)
{
	(void)pthread_kill(t, SIGUSR2);
}

void
server_block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	(void)pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void
server_child_init(void)
{
	sigset_t none;

	/* The parent's pipe is the parent's: a child learns of a stop from
	 * its own flag, set by SIGTERM, which interrupts its blocking calls. */
	sig_pipe_close();
	(void)sig_watch(SIGTERM, 0);
	(void)sig_watch(SIGINT, 0);
	(void)sig_default(SIGCHLD);
	(void)sig_ignore(SIGHUP);
	(void)sig_ignore(SIGUSR1);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

int
server_take_signals(struct server *srv)
{
	int got = 0;

	if (sig_take(SIGTERM) || sig_take(SIGINT)) {
		atomic_store(&stop_requested, true);
		got |= SERVER_SIG_STOP;
	}
	if (sig_take(SIGCHLD))
		got |= SERVER_SIG_CHLD;
	if (sig_take(SIGHUP)) {
		if (log_reopen() == -1)
			log_warn("cannot reopen the log");
		got |= SERVER_SIG_HUP;
	}
	if (sig_take(SIGUSR1)) {
		server_log_stats(srv);
		got |= SERVER_SIG_USR1;
	}
	return got;
}

static void
pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	(void)nanosleep(&ts, NULL);	/* EINTR: a stop came, return early */
}

void
server_pause(void)
{
	pause_ms(100);
}

/* Resource exhaustion is logged on its first occurrence, not every time. */
static atomic_bool overloaded;

bool
server_overload_begin(const char *what)
{
	if (!atomic_exchange(&overloaded, true)) {
		log_warn("%s; pausing", what);
		return true;
	}
	return false;
}

void
server_overload_end(void)
{
	if (atomic_exchange(&overloaded, false))
		log_info("resumed");
}

int
server_accept(struct server *srv, unsigned flags,
    struct sockaddr_storage *peer, socklen_t *peerlen)
{
	socklen_t dummy = 0;
	int fd;

	if (peerlen == NULL)
		peerlen = &dummy;
	else
		*peerlen = sizeof(*peer);
	for (;;) {
		fd = accept4(srv->lfd, (struct sockaddr *)peer, peer ? peerlen : NULL,
		    SOCK_CLOEXEC | ((flags & ACCEPT_NONBLOCK) ? SOCK_NONBLOCK : 0));
		if (fd >= 0)
			break;
		switch (errno) {
		case ECONNABORTED:
		case EPROTO:
		case ENETDOWN:
		case ENOPROTOOPT:
		case EHOSTDOWN:
		case ENONET:
		case EHOSTUNREACH:
		case ENETUNREACH:
			continue;	/* that client is gone; accept(2) says retry */
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			server_overload_begin("accept");
			if (!(flags & ACCEPT_NOPAUSE)) {
				int e = errno;

				server_pause();
				errno = e;
			}
			return -1;
		default:
			return -1;	/* EINTR, EAGAIN, or a real error */
		}
	}
	server_overload_end();
	atomic_fetch_add_explicit(&srv->stats->accepted, 1, memory_order_relaxed);
	if (srv->socktype == SOCK_STREAM)
		(void)net_set_nodelay(fd, true);
	return fd;
}

void
conn_opened(struct server *srv, int fd, int slot)
{
	atomic_fetch_add_explicit(&srv->stats->active, 1, memory_order_relaxed);
	if (slot >= 0 && slot < MAX_WORKER_SLOTS)
		atomic_fetch_add_explicit(&srv->stats->slot[slot].conns, 1,
		    memory_order_relaxed);
	if (log_level() >= LOG_VERBOSE) {
		char addr[NET_ADDRSTRLEN] = "?";
		int port = 0;

		(void)net_peer_addr(fd, addr, sizeof(addr), &port);
		log_verbose("connection fd %d from %s port %d (worker %d, pid %d)",
		    fd, addr, port, slot, (int)getpid());
	}
}

void
conn_closed(struct server *srv, uint64_t in, uint64_t out, bool error)
{
	struct stats *s = srv->stats;

	atomic_fetch_sub_explicit(&s->active, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->served, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->bytes_in, in, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->bytes_out, out, memory_order_relaxed);
	if (error)
		atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
	log_verbose("closed: %llu bytes in, %llu out%s",
	    (unsigned long long)in, (unsigned long long)out,
	    error ? ", after an error" : "");
}

/* Send every emitted slice; -1 on error (errno) or when stopping. */
static int
send_out(int fd, struct svc_out *o, uint64_t *sent)
{
	struct iovec iov[SVC_OUT_MAX];
	struct msghdr mh;
	int i, n = o->n;

	memcpy(iov, o->iov, sizeof(iov));
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	i = 0;
	while (i < n) {
		ssize_t w;

		mh.msg_iov = iov + i;
		mh.msg_iovlen = (size_t)(n - i);
		w = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (w == -1) {
			if (errno == EINTR && !server_stopping())
				continue;
			return -1;
		}
		*sent += (uint64_t)w;
		while (i < n && (size_t)w >= iov[i].iov_len)
			w -= (ssize_t)iov[i++].iov_len;
		if (i < n) {
			iov[i].iov_base = (char *)iov[i].iov_base + w;
			iov[i].iov_len -= (size_t)w;
		}
	}
	o->n = 0;
	return 0;
}

void
serve_blocking(struct server *srv, int fd, int slot)
{
	const struct service *svc = srv->svc;
	alignas(max_align_t) unsigned char st[SVC_STATE_MAX];
	char buf[SVC_RECV_MAX];
	struct svc_out out = { .n = 0 };
	uint64_t in = 0, sent = 0;
	bool rd_eof = false, error = false;
	int r;

	conn_opened(srv, fd, slot);
	memset(st, 0, svc->state_size);
	r = svc->start(st, &out);
	for (;;) {
		ssize_t n;

		if (r == SVC_ABORT)
			break;
		if (out.n > 0 && send_out(fd, &out, &sent) == -1) {
			error = errno != EINTR;
			break;
		}
		if (r == SVC_DONE)
			break;
		if (svc->more != NULL) {
			r = svc->more(st, &out);
			if (out.n > 0 || r != SVC_OK)
				continue;
		}
		if (rd_eof)
			break;	/* nothing will come in, nothing to send */
		n = read(fd, buf, sizeof(buf));
		if (n == -1) {
			if (errno == EINTR && !server_stopping())
				continue;
			error = errno != EINTR;
			break;
		}
		if (n == 0) {
			rd_eof = true;
			r = svc->eof(st, &out);
			continue;
		}
		in += (uint64_t)n;
		r = svc->input(st, buf, (size_t)n, &out);
	}
	close(fd);
	conn_closed(srv, in, sent, error);
}

int
server_reap(pid_t *reaped, int max)
{
	int status, n = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (reaped != NULL && n < max)
			reaped[n] = pid;
		n++;
		if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			log_info("child %d exited with status %d", (int)pid,
			    WEXITSTATUS(status));
		else if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM)
			log_info("child %d killed by signal %d", (int)pid,
			    WTERMSIG(status));
		else
			log_debug("child %d reaped", (int)pid);
	}
	return n;
}

void
server_log_stats(struct server *srv)
{
	struct stats *s = srv->stats;

	log_info("stats: active %lld accepted %llu served %llu refused %llu "
	    "errors %llu bytes_in %llu bytes_out %llu",
	    (long long)atomic_load(&s->active),
	    (unsigned long long)atomic_load(&s->accepted),
	    (unsigned long long)atomic_load(&s->served),
	    (unsigned long long)atomic_load(&s->refused),
	    (unsigned long long)atomic_load(&s->errors),
	    (unsigned long long)atomic_load(&s->bytes_in),
	    (unsigned long long)atomic_load(&s->bytes_out));
}

int
server_wait(struct server *srv, bool listener, int timeout_ms)
{
	struct pollfd pfd[2];
	int n = 0, r;

	pfd[n].fd = sig_fd();
	pfd[n++].events = POLLIN;
	if (listener) {
		pfd[n].fd = srv->lfd;
		pfd[n++].events = POLLIN;
	}
	r = poll(pfd, (nfds_t)n, timeout_ms);
	if (r == -1)
		return errno == EINTR ? 0 : -1;
	if (pfd[0].revents)
		(void)server_take_signals(srv);
	return listener && pfd[1].revents ? 1 : 0;
}
