/*
 * stop: the stop protocol and the main thread's wait.  See stop.h.
 *
 * The phase is derived, not stored alone: a stop signal counted by its
 * handler is a stop even before the main thread has read the self-pipe, so
 * every thread sees it at once.  Two signals, or the end of the grace, mean
 * close.  SIGUSR2 is ours: a no-op handler installed without SA_RESTART, so
 * pthread_kill(t, SIGUSR2) makes thread t's blocking call return EINTR and
 * look at the state.
 */
#include "stop.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sdnotify.h"
#include "server.h"
#include "sig.h"

static struct server *the_srv;
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

uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
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

static void stop_notice(void);

/* Whichever thread first sees a stop signal's count (a worker blocked in a
 * read, say, before the main thread has read the self-pipe) makes the stop
 * happen: the listener is shut at once, not when the main thread gets
 * round to it. */
bool
server_stopping(void)
{
	if (atomic_load_explicit(&stop_requested, memory_order_relaxed))
		return true;
	if (stop_signals() > 0) {
		mark_stop();
		stop_notice();
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

/*
 * At a stop, new clients are refused rather than left in the backlog:
 * shutdown() ends listening for every process sharing the socket, and
 * wakes whoever is blocked in accept() (EINVAL).  Not a socket systemd
 * passed us: it keeps using that one after we are gone.  Then the log line,
 * once, and the main thread is woken (a no-op when it is the caller).
 */
static void
stop_notice(void)
{
	static atomic_bool shut, told;
	struct server *srv = the_srv;

	if (is_child || srv == NULL)
		return;
	if (!srv->activated && srv->socktype == SOCK_STREAM && srv->lfd >= 0 &&
	    !atomic_exchange(&shut, true) &&
	    shutdown(srv->lfd, SHUT_RD) == -1 && errno != ENOTCONN)
		log_warn("shutdown of the listener");
	if (!atomic_exchange(&told, true)) {
		if (grace_ms > 0 && !server_closing())
			log_info("stopping: no new connections; %d s grace for "
			    "%lld active", grace_ms / 1000,
			    (long long)atomic_load(&srv->stats->active));
		/* systemd (Type=notify): the stop has begun. */
		(void)sdnotify("STOPPING=1\nSTATUS=stopping");
	}
	sig_wake();
}

void
server_request_stop(void)
{
	mark_stop();
	stop_notice();
}

void
server_request_close(void)
{
	mark_stop();
	atomic_store(&close_requested, true);
	stop_notice();
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
server_signals_init(struct server *srv)
{
	the_srv = srv;
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
	 * its own count, set by SIGTERM, which interrupts its blocking
	 * calls. */
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
		server_request_stop();
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

void
server_pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	(void)nanosleep(&ts, NULL);	/* EINTR: a stop came, return early */
}

static int stats_ms;
static uint64_t stats_due_us;

void
server_set_stats_interval(int ms)
{
	stats_ms = ms;
}

int
server_wait(struct server *srv, int lfd, int timeout_ms)
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
	if (lfd >= 0) {
		pfd[n].fd = lfd;
		pfd[n++].events = POLLIN;
	}
	r = poll(pfd, (nfds_t)n, timeout_ms);
	if (r == -1)
		return errno == EINTR ? 0 : -1;
	if (pfd[0].revents)
		(void)server_take_signals(srv);
	return lfd >= 0 && pfd[1].revents ? 1 : 0;
}

void
server_linger(struct server *srv, bool (*done)(void *), void *arg)
{
	uint64_t deadline = now_us() + (uint64_t)grace_ms * 1000;

	while (!server_closing() && !done(arg)) {
		uint64_t t = now_us(), left;

		if (t >= deadline)
			break;
		left = (deadline - t) / 1000;
		(void)server_wait(srv, -1, left < 50 ? (int)left + 1 : 50);
	}
	if (grace_ms > 0 && !done(arg))
		log_info("grace over: closing %lld connections still active",
		    (long long)atomic_load(&srv->stats->active));
	server_request_close();
}
