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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "net.h"
#include "server.h"
#include "sig.h"

static atomic_bool stop_requested, close_requested;
static _Atomic uint64_t stop_us;	/* when the stop was first seen */
static int grace_ms;
/* In a process-model child: SIGTERMs received (the parent's stop, then its
 * close).  Only the handler writes it. */
static _Atomic int child_terms;
static bool is_child;

void
server_set_grace(int ms)
{
	grace_ms = ms;
}

static void
mark_stop(void)
{
	uint64_t zero = 0;

	atomic_store(&stop_requested, true);
	atomic_compare_exchange_strong(&stop_us, &zero, now_us());
}

/* Stop signals so far: SIGTERMs and SIGINTs counted by the handlers. */
static unsigned
stop_signals(void)
{
	if (is_child)
		return (unsigned)atomic_load_explicit(&child_terms,
		    memory_order_relaxed);
	return sig_count(SIGTERM) + sig_count(SIGINT);
}

bool
server_stopping(void)
{
	if (atomic_load_explicit(&stop_requested, memory_order_relaxed))
		return true;
	if (stop_signals() > 0) {
		mark_stop();
		return true;
	}
	return false;
}

bool
server_closing(void)
{
	if (atomic_load_explicit(&close_requested, memory_order_relaxed))
		return true;
	if (stop_signals() > 1) {
		atomic_store(&close_requested, true);	/* a second signal */
		return true;
	}
	if (!server_stopping())
		return false;
	return grace_ms == 0 ||
	    now_us() >= atomic_load(&stop_us) + (uint64_t)grace_ms * 1000;
}

int
server_grace_left_ms(void)
{
	uint64_t end, t;

	if (!server_stopping() || server_closing())
		return 0;
	end = atomic_load(&stop_us) + (uint64_t)grace_ms * 1000;
	t = now_us();
	return t >= end ? 0 : (int)((end - t) / 1000) + 1;
}

void
server_request_stop(void)
{
	mark_stop();
}

void
server_request_close(void)
{
	mark_stop();
	atomic_store(&close_requested, true);
}

static void
on_child_term(int signo)
{
	(void)signo;
	atomic_fetch_add_explicit(&child_terms, 1, memory_order_relaxed);
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
	is_child = true;
	atomic_store(&child_terms, 0);
	atomic_store(&stop_requested, false);
	atomic_store(&close_requested, false);
	atomic_store(&stop_us, 0);
	(void)sig_set(SIGTERM, on_child_term, 0);
	(void)sig_set(SIGINT, on_child_term, 0);
	(void)sig_default(SIGCHLD);
	(void)sig_ignore(SIGHUP);
	(void)sig_ignore(SIGUSR1);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* At a stop, new clients are refused rather than left in the backlog:
 * shutdown() ends listening for every process sharing the socket, and
 * wakes whoever is blocked in accept() (EINVAL).  Not a socket systemd
 * passed us: it keeps using that one after we are gone. */
void
server_stop_listening(struct server *srv)
{
	static bool done;

	if (done || srv->activated || srv->socktype != SOCK_STREAM ||
	    srv->lfd < 0)
		return;
	done = true;
	if (shutdown(srv->lfd, SHUT_RD) == -1 && errno != ENOTCONN)
		log_warn("shutdown of the listener");
}

void
server_stop_notice(struct server *srv)
{
	static atomic_bool told;

	server_stop_listening(srv);
	if (grace_ms > 0 && !server_closing() && !atomic_exchange(&told, true))
		log_info("stopping: no new connections; %d s grace for %lld "
		    "active", grace_ms / 1000,
		    (long long)atomic_load(&srv->stats->active));
}

int
server_take_signals(struct server *srv)
{
	bool term, intr;
	int got = 0;

	sig_drain();
	term = sig_take(SIGTERM);	/* both taken, whichever came */
	intr = sig_take(SIGINT);
	if (term || intr) {
		/* The handlers count: a second signal means close now, and
		 * server_closing() sees it from any thread. */
		mark_stop();
		server_stop_notice(srv);
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

/*
 * Resource exhaustion is logged once per episode.  An episode begins with
 * the first failure and ends after 4 successes in a row: at the edge of the
 * descriptor limit accepts alternately fail and succeed (a client leaves, a
 * waiting one is taken, the next fails), however far apart in time, and
 * several threads hit it at once; none of that is a new episode.
 */
static atomic_bool overloaded[OVERLOAD_KINDS];
static _Atomic int overload_streak[OVERLOAD_KINDS];

bool
server_overload_begin(int kind, const char *what)
{
	atomic_store(&overload_streak[kind], 0);
	if (!atomic_exchange(&overloaded[kind], true)) {
		log_warn("%s; pausing", what);
		return true;
	}
	return false;
}

bool
server_overloaded(int kind)
{
	return atomic_load_explicit(&overloaded[kind], memory_order_relaxed);
}

void
server_overload_end(int kind)
{
	if (!atomic_load_explicit(&overloaded[kind], memory_order_relaxed))
		return;
	if (atomic_fetch_add(&overload_streak[kind], 1) + 1 < 4)
		return;		/* still at the edge: same episode */
	if (atomic_exchange(&overloaded[kind], false))
		log_info("resumed");
}

/* Count one more active connection unless at --max-conns. */
static bool
reserve(struct server *srv)
{
	_Atomic int64_t *active = &srv->stats->active;
	int64_t cur;

	if (srv->max_conns <= 0) {
		atomic_fetch_add_explicit(active, 1, memory_order_relaxed);
		return true;
	}
	cur = atomic_load(active);
	do {
		if (cur >= srv->max_conns)
			return false;
	} while (!atomic_compare_exchange_weak(active, &cur, cur + 1));
	return true;
}

void
server_unreserve(struct server *srv)
{
	atomic_fetch_sub_explicit(&srv->stats->active, 1, memory_order_relaxed);
}

void
server_drop(struct server *srv, int fd)
{
	int saved = errno;

	atomic_fetch_add(&srv->stats->refused_overload, 1);
	server_unreserve(srv);
	close(fd);
	errno = saved;
}

bool
server_accept_fatal(int err)
{
	return err == EBADF || err == ENOTSOCK || err == EOPNOTSUPP ||
	    err == EFAULT;
}

bool
server_at_limit(struct server *srv)
{
	return srv->max_conns > 0 &&
	    atomic_load(&srv->stats->active) >= srv->max_conns;
}

int
server_accept(struct server *srv, unsigned flags,
    struct sockaddr_storage *peer, socklen_t *peerlen)
{
	return server_accept_on(srv, srv->lfd, flags, peer, peerlen);
}

int
server_accept_on(struct server *srv, int lfd, unsigned flags,
    struct sockaddr_storage *peer, socklen_t *peerlen)
{
	socklen_t dummy = 0;
	bool reserved;
	int fd;

	if (peerlen == NULL)
		peerlen = &dummy;
	else
		*peerlen = sizeof(*peer);
	/* Blocked in accept4 a pool worker is not a connection: it is
	 * counted once it has one (the pool's size bounds those). */
	reserved = !(flags & ACCEPT_BLOCKING);
	if (reserved && !reserve(srv)) {
		if (!(flags & ACCEPT_NOPAUSE))
			pause_ms(20);
		errno = EAGAIN;
		return -1;
	}
	for (;;) {
		fd = accept4(lfd, (struct sockaddr *)peer, peer ? peerlen : NULL,
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
			if (reserved)
				server_unreserve(srv);
			server_overload_begin(OVERLOAD_ACCEPT, "accept");
			if (!(flags & ACCEPT_NOPAUSE)) {
				int e = errno;

				server_pause();
				errno = e;
			}
			return -1;
		case EINVAL:
			/* Not listening any more: server_stop_listening() ran. */
			if (reserved)
				server_unreserve(srv);
			server_request_stop();
			errno = EINTR;
			return -1;
		case EINTR:
		case EAGAIN:
			if (reserved)
				server_unreserve(srv);
			return -1;
		default:
			/* Anything else (EPERM from a firewall hook...) would
			 * recur at once: log it, and pause like EMFILE. */
			if (reserved)
				server_unreserve(srv);
			if (!server_accept_fatal(errno)) {
				int e = errno;

				server_overload_begin(OVERLOAD_ACCEPT, "accept");
				if (!(flags & ACCEPT_NOPAUSE))
					server_pause();
				errno = e;
			}
			return -1;
		}
	}
	if (!reserved)
		atomic_fetch_add_explicit(&srv->stats->active, 1,
		    memory_order_relaxed);
	server_overload_end(OVERLOAD_ACCEPT);
	atomic_fetch_add_explicit(&srv->stats->accepted, 1, memory_order_relaxed);
	if (srv->socktype == SOCK_STREAM && !srv->nodelay_inherited)
		(void)net_set_nodelay(fd, true);
	return fd;
}

int
server_reap(pid_t *reaped, int max)
{
	int status, n = 0;
	pid_t pid;

	/* With reaped, stop at max: a child reaped but not reported would
	 * be lost to the caller, which keeps its pid (and may signal it
	 * after the pid is reused).  Callers call again while n == max. */
	while ((reaped == NULL || n < max) &&
	    (pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (reaped != NULL)
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

int
server_spread(struct server *srv, char *buf, size_t len)
{
	struct stats *s = srv->stats;
	int i, n = atomic_load(&s->nslots);
	size_t off = 0;

	if (n > MAX_WORKER_SLOTS)
		n = MAX_WORKER_SLOTS;
	snprintf(buf, len, "-");
	for (i = 0; i < n && off + 24 < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%llu",
		    i ? "," : "",
		    (unsigned long long)atomic_load(&s->slot[i].conns));
	return n;
}

static double
tv_sec(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int
server_cpu(double *user, double *sys)
{
	struct rusage self, kids;

	if (getrusage(RUSAGE_SELF, &self) == -1 ||
	    getrusage(RUSAGE_CHILDREN, &kids) == -1)
		return -1;
	*user = tv_sec(self.ru_utime) + tv_sec(kids.ru_utime);
	*sys = tv_sec(self.ru_stime) + tv_sec(kids.ru_stime);
	return 0;
}

void
server_log_stats(struct server *srv)
{
	struct stats *s = srv->stats;
	double user = 0, sys = 0;
	char spread[2048];
	int n = server_spread(srv, spread, sizeof(spread));

	if (server_cpu(&user, &sys) == -1)
		log_warn("getrusage");
	log_info("stats: active=%lld accepted=%llu served=%llu refused=%llu "
	    "(acl=%llu per_ip=%llu overload=%llu) timeouts=%llu errors=%llu "
	    "resets=%llu bytes_in=%llu bytes_out=%llu workers=%d spread=%s cpu=%.6f",
	    (long long)atomic_load(&s->active),
	    (unsigned long long)atomic_load(&s->accepted),
	    (unsigned long long)atomic_load(&s->served),
	    (unsigned long long)stats_refused(s),
	    (unsigned long long)atomic_load(&s->refused_acl),
	    (unsigned long long)atomic_load(&s->refused_perip),
	    (unsigned long long)atomic_load(&s->refused_overload),
	    (unsigned long long)atomic_load(&s->timeouts),
	    (unsigned long long)atomic_load(&s->errors),
	    (unsigned long long)atomic_load(&s->resets),
	    (unsigned long long)atomic_load(&s->bytes_in),
	    (unsigned long long)atomic_load(&s->bytes_out), n, spread,
	    user + sys);
}

static int stats_ms;
static uint64_t stats_due_us;

void
server_set_stats_interval(int ms)
{
	stats_ms = ms;
}

int
server_wait(struct server *srv, bool listener, int timeout_ms)
{
	struct pollfd pfd[2];
	int n = 0, r;

	if (stats_ms > 0) {
		uint64_t t = now_us();

		if (stats_due_us == 0)
			stats_due_us = t + (uint64_t)stats_ms * 1000;
		if (t >= stats_due_us) {
			server_log_stats(srv);
			stats_due_us = t + (uint64_t)stats_ms * 1000;
		}
		r = (int)((stats_due_us - t) / 1000) + 1;
		if (timeout_ms < 0 || r < timeout_ms)
			timeout_ms = r;
	}

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

void
server_linger(struct server *srv, bool (*done)(void *), void *arg)
{
	uint64_t deadline = now_us() + (uint64_t)grace_ms * 1000;

	while (!server_closing() && !done(arg)) {
		uint64_t t = now_us();

		if (t >= deadline)
			break;
		(void)server_wait(srv, false,
		    (int)((deadline - t) / 1000 < 50 ? (deadline - t) / 1000 + 1 : 50));
	}
	if (grace_ms > 0 && !done(arg))
		log_info("grace over: closing %lld connections still active",
		    (long long)atomic_load(&srv->stats->active));
	server_request_close();
}

uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
