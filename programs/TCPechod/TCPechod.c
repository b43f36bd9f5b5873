/*
 * TCPechod: the lab's concurrent echo server, one process per client.
 *
 * The parent only accepts.  For each connection it forks: the child closes
 * the listening socket (msock), echoes on the connected one (ssock) until the
 * client closes, and exits; the parent closes ssock and accepts again.
 *
 * Two signal handlers carry the lab's lessons:
 *   reaper   (SIGCHLD) collects every finished child with a non-blocking
 *            waitpid() loop, so no zombie is left behind (--no-reaper turns
 *            it off: watch them pile up with `ps x`);
 *   sigpipe  (SIGPIPE) counts writes to a connection the peer has reset;
 *            the child that caught it reports it once write() returns EPIPE.
 * A handler may only do async-signal-safe things, so neither prints: reaper
 * stores what it reaped in a small lock-free ring that the main loop logs.
 *
 * The parent keeps its signals blocked except while it sleeps in ppoll(),
 * so a signal can never slip in between "check the flags" and "wait": the
 * classic race of a plain accept() loop.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "net.h"
#include "sig.h"

#define EX_USAGE	64
#define EX_UNAVAILABLE	69
#define EX_OSERR	71
#define EX_NOPERM	77

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: TCPechod [-v] [--no-reaper] [--sigpipe=handle|ignore|default] [port]\n"
	    "  port          port number or service name (default: echo, 7; 0: any free)\n"
	    "  -v            log every event: clients, children, exits, SIGPIPE\n"
	    "  --no-reaper   no SIGCHLD handler: finished children stay zombies\n"
	    "  --sigpipe=X   SIGPIPE in the children: handle (count it, default),\n"
	    "                ignore (write fails with EPIPE), default (it kills)\n"
	    "  --help, --version\n");
}

/* ---- what the handlers share with the main loop ---- */

#define RING_SIZE 64	/* children reaped but not yet logged */

static struct { pid_t pid; int status; } ring[RING_SIZE];
static _Atomic unsigned ring_head;		/* written by reaper only */
static _Atomic unsigned ring_tail;		/* written by main only */
static volatile sig_atomic_t ring_full;		/* reaper stopped early */
static volatile sig_atomic_t sigpipes;		/* SIGPIPEs this process */
static volatile sig_atomic_t stop;		/* SIGTERM or SIGINT */

/* Reap every child that has finished; never block, never touch errno. */
static void
reaper(int sig)
{
	int saved = errno, status;
	unsigned head;
	pid_t pid;

	(void)sig;
	for (;;) {
		head = atomic_load_explicit(&ring_head, memory_order_relaxed);
		if (head - atomic_load_explicit(&ring_tail,
		    memory_order_acquire) == RING_SIZE) {
			ring_full = 1;	/* the main loop calls us again */
			break;
		}
		pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			break;
		ring[head % RING_SIZE].pid = pid;
		ring[head % RING_SIZE].status = status;
		atomic_store_explicit(&ring_head, head + 1, memory_order_release);
	}
	errno = saved;
}

static void
sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

static void
on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

/* ---- the children the parent knows of, to stop them at the end ---- */

static pid_t *kids;
static size_t nkids, kids_cap;

static int
kid_add(pid_t pid)
{
	if (nkids == kids_cap) {
		size_t cap = kids_cap ? 2 * kids_cap : 64;
		pid_t *p = realloc(kids, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		kids = p;
		kids_cap = cap;
	}
	kids[nkids++] = pid;
	return 0;
}

static void
kid_gone(pid_t pid, int status)
{
	size_t i;

	for (i = 0; i < nkids; i++)
		if (kids[i] == pid) {
			kids[i] = kids[--nkids];
			break;
		}
	if (WIFEXITED(status))
		log_verbose("child %ld reaped: exited with status %d",
		    (long)pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_verbose("child %ld reaped: killed by signal %d (%s)",
		    (long)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
}

/* Log what reaper() recorded; run it again if its ring was full. */
static void
report_children(void)
{
	unsigned tail, head;
	bool full;

	do {
		/* Read the flag before clearing it: the handler that filled
		 * the ring set it, and only a call from here reaps the rest
		 * (their SIGCHLD was already delivered). */
		full = ring_full;
		ring_full = 0;
		tail = atomic_load_explicit(&ring_tail, memory_order_relaxed);
		head = atomic_load_explicit(&ring_head, memory_order_acquire);
		for (; tail != head; tail++) {
			kid_gone(ring[tail % RING_SIZE].pid,
			    ring[tail % RING_SIZE].status);
			atomic_store_explicit(&ring_tail, tail + 1,
			    memory_order_release);
		}
		if (full)
			reaper(SIGCHLD);	/* signals are blocked here */
	} while (atomic_load_explicit(&ring_head, memory_order_acquire) !=
	    atomic_load_explicit(&ring_tail, memory_order_relaxed));
}

/* ---- the child ---- */

/* Echo until the client closes.  Returns the child's exit status. */
static int
echo(int ssock, const char *peer)
{
	char buf[16384];
	int seen = 0;
	ssize_t n;

	for (;;) {
		n = read(ssock, buf, sizeof(buf));
		if (n == -1 && errno == EINTR) {
			/* A signal while we wait: `kill -PIPE pid` by hand shows
			 * up here, since the handler itself may not print. */
			if (sigpipes != seen) {
				seen = sigpipes;
				log_info("%s: SIGPIPE caught by pid %ld (%d so far "
				    "in this process) while reading", peer,
				    (long)getpid(), seen);
			}
			continue;
		}
		if (n == 0)
			return 0;
		if (n == -1) {
			log_verbose("%s: read: %s", peer, strerror(errno));
			return 1;
		}
		/* write(2), not send(MSG_NOSIGNAL): we want the lab's SIGPIPE. */
		if (io_write_all(ssock, buf, (size_t)n) == -1) {
			if (errno == EPIPE && sigpipes > 0)
				log_info("%s: SIGPIPE caught by pid %ld (%d so "
				    "far in this process), write: %s", peer,
				    (long)getpid(), (int)sigpipes,
				    strerror(errno));
			else
				log_verbose("%s: write: %s", peer,
				    strerror(errno));
			return 1;
		}
	}
}

static noreturn void
child(int msock, int ssock, const char *peer, const sigset_t *mask)
{
	close(msock);
	if (sig_default(SIGCHLD) == -1 || sig_default(SIGTERM) == -1 ||
	    sig_default(SIGINT) == -1 ||
	    sigprocmask(SIG_SETMASK, mask, NULL) == -1)
		fatal(EX_OSERR, "child setup");
	_exit(echo(ssock, peer));
}

/* ---- the parent ---- */

/* accept() errors that concern one connection, not the server. */
static bool
transient(int err)
{
	switch (err) {
	case EINTR: case EAGAIN: case ECONNABORTED: case EPROTO:
	case ENETDOWN: case ENOPROTOOPT: case EHOSTDOWN: case ENONET:
	case EHOSTUNREACH: case EOPNOTSUPP: case ENETUNREACH: case EPERM:
		return true;
	}
	return false;
}

static void
pause_100ms(void)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
serve(int msock, const sigset_t *waitmask, const sigset_t *origmask)
{
	struct sockaddr_storage ss;
	struct pollfd pfd = { .fd = msock, .events = POLLIN };
	char addr[NET_ADDRSTRLEN], peer[NET_ADDRSTRLEN + 16];
	socklen_t len;
	int ssock, port;
	pid_t pid;

	for (;;) {
		report_children();
		if (stop)
			return;
		/* Signals are delivered only in here. */
		if (ppoll(&pfd, 1, NULL, waitmask) == -1) {
			if (errno != EINTR)
				fatal(EX_OSERR, "ppoll");
			continue;
		}
		len = sizeof(ss);
		ssock = accept(msock, (struct sockaddr *)&ss, &len);
		if (ssock == -1) {
			if (transient(errno))
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				log_warn("accept (pausing 100 ms)");
				pause_100ms();
				continue;
			}
			fatal(EX_OSERR, "accept");
		}
		net_ntop((struct sockaddr *)&ss, addr, sizeof(addr));
		port = net_sa_port((struct sockaddr *)&ss);
		snprintf(peer, sizeof(peer), "%s port %d", addr, port);

		pid = fork();
		if (pid == 0)
			child(msock, ssock, peer, origmask);
		if (pid == -1) {
			log_warn("fork (closing %s, pausing 100 ms)", peer);
			close(ssock);
			pause_100ms();
			continue;
		}
		close(ssock);
		if (kid_add(pid) == -1) {
			/* Unknown to us it could not be stopped at the end. */
			log_warn("out of memory: stopping child %ld", (long)pid);
			kill(pid, SIGKILL);
		}
		log_verbose("connection from %s: child pid %ld", peer,
		    (long)pid);
	}
}

/* Stop the children we still have and wait for every one of them. */
static void
stop_children(void)
{
	int status;
	pid_t pid;
	size_t i;

	for (i = 0; i < nkids; i++)
		if (kill(kids[i], SIGTERM) == -1)
			log_warn("kill %ld", (long)kids[i]);
	while (nkids > 0) {
		pid = waitpid(-1, &status, 0);
		if (pid == -1) {
			if (errno == EINTR)
				continue;
			log_warn("waitpid");	/* ECHILD: nothing left */
			break;
		}
		kid_gone(pid, status);
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "no-reaper", no_argument, NULL, 'R' },
		{ "sigpipe", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *port = "echo", *pipemode = "handle";
	char addr[NET_ADDRSTRLEN];
	sigset_t block, waitmask, origmask;
	bool reap = true;
	int c, msock, portnum, verbose = 0;

	log_init(argv[0], LOG_NORMAL);
	while ((c = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (c) {
		case 'v':
			verbose++;
			break;
		case 'R':
			reap = false;
			break;
		case 'P':
			pipemode = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("TCPechod (concurd) %s\n", CONCUR_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (argc - optind > 1) {
		log_warnx("too many arguments: only a port is expected");
		usage(stderr);
		return EX_USAGE;
	}
	if (argc - optind == 1)
		port = argv[optind];
	log_set_level(LOG_NORMAL + verbose);
	if (strcmp(pipemode, "handle") != 0 && strcmp(pipemode, "ignore") != 0 &&
	    strcmp(pipemode, "default") != 0)
		fatalx(EX_USAGE, "--sigpipe=%s: expected handle, ignore or default",
		    pipemode);
	portnum = net_parse_port(port, SOCK_STREAM);
	if (portnum < 0)
		fatalx(EX_USAGE, "invalid port '%s': a number 0..65535 or a "
		    "service name", port);

	msock = net_listen(NULL, port, SOCK_STREAM, 0, NET_NONBLOCK);
	if (msock == -EACCES)
		fatalx(EX_NOPERM, "no permission to use port %d: ports below "
		    "1024 need root; try a port like 8007 (TCPechod 8007)",
		    portnum);
	if (msock == -EADDRINUSE)
		fatalx(EX_UNAVAILABLE, "port %d is already in use", portnum);
	if (msock < 0)
		fatalx(EX_OSERR, "cannot listen on port %d: %s", portnum,
		    net_strerror(msock));

	/* Handlers first, with their signals blocked until ppoll(). */
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	if (sigprocmask(SIG_BLOCK, &block, &origmask) == -1)
		fatal(EX_OSERR, "sigprocmask");
	waitmask = origmask;
	sigdelset(&waitmask, SIGCHLD);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	if ((reap && sig_set(SIGCHLD, reaper, SIG_NOCLDSTOP) == -1) ||
	    sig_set(SIGTERM, on_stop, 0) == -1 ||
	    sig_set(SIGINT, on_stop, 0) == -1)
		fatal(EX_OSERR, "sigaction");
	if (strcmp(pipemode, "handle") == 0 ? sig_set(SIGPIPE, sigpipe, 0) :
	    strcmp(pipemode, "ignore") == 0 ? sig_ignore(SIGPIPE) :
	    sig_default(SIGPIPE))
		fatal(EX_OSERR, "sigaction SIGPIPE");

	if (net_local_addr(msock, addr, sizeof(addr), &portnum) < 0)
		fatal(EX_OSERR, "getsockname");
	log_info("listening on %s port %d", addr, portnum);
	log_verbose("pid %ld, reaper %s, SIGPIPE %s", (long)getpid(),
	    reap ? "on" : "off", pipemode);

	serve(msock, &waitmask, &origmask);

	close(msock);
	log_verbose("stopping: %zu children to stop", nkids);
	stop_children();
	free(kids);
	return 0;
}
