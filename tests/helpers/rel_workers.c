/*
 * rel_workers: kill one of an echo server's workers and stop another
 * while they serve, and check that only their connections suffer.
 *
 *   rel_workers HOST PORT --pid PID [--streams N] [--stop-secs S]
 *               [--threads] [--no-kill] [--idle-stop] [--max-slow N]
 *               [--stall-ms MS] [--settle S] [--timeout S]
 *
 * N streams (default 6) echo a seeded pattern, paced (8 KiB every 10 ms),
 * for --stop-secs + 3 seconds, then half-close; each reader checks every
 * byte and then EOF.  A second in, the worker serving stream 0 is killed
 * (SIGKILL) and the one serving stream 1 is stopped for --stop-secs
 * (default 5): SIGSTOP and SIGCONT for a process; for a thread (--threads)
 * PTRACE_SEIZE and PTRACE_INTERRUPT, which stop that thread alone, then
 * PTRACE_DETACH.  With --idle-stop an idle worker is stopped too (a child
 * in accept(), or waiting for its parent's descriptor): the one holding an
 * accept lock, when the pool has one.  A worker is found through /proc: the
 * server's socket of a stream (its inode, from /proc/net/tcp) among the
 * descriptors of the server's children, or, for a thread, the thread whose
 * current system call (/proc/PID/task/TID/syscall) reads or writes it.
 *
 * While the workers are stopped a prober opens a connection every 100 ms
 * and has 1 KiB echoed: each must be served within --stall-ms (2000), but
 * for at most --max-slow of them (a connection the stopped idle worker
 * took, or was handed, is that worker's, and waits for it).  A probe past
 * --stall-ms is put aside, so the next ones still probe; its echo must
 * come, exact, once the workers run again.
 *
 * What must hold: stream 0 ends early (reset or EOF: its connection is
 * lost), and what it received before is byte-exact; stream 1 completes
 * byte-exact after the stop; every other stream completes byte-exact and
 * never waits --stall-ms for a byte.  Afterwards (within --settle seconds,
 * default 20) the server holds no more descriptors (its own and its
 * children's) and threads than before, as many children (a pool has
 * replaced the one killed), and no zombie.
 *
 * Every stopped worker is continued (or detached) on every path, failure
 * included.  Exit 0: all held; 1: something did not, said on stderr;
 * 64: usage; 77: a thread cannot be stopped here (ptrace not permitted).
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "parse.h"
#include "rel_proc.h"
#define REL_PROG "rel_workers"
#include "rel_util.h"

#define MAX_STREAMS	32
#define CHUNK		(8 * 1024)
#define PACE_MS		10
#define PROBE_LEN	1024
#define PROBE_EVERY_MS	100

static const char *host, *port;
static int nstreams = 6, stop_secs = 5, max_slow, stall_ms = 2000;
static int settle_s = 20, timeout_s = 30;
static bool threads, no_kill, idle_stop;
static pid_t server_pid;
static int server_port;
static _Atomic bool probing;

/* Byte k of stream seed's pattern: random access, so the writer and the
 * reader need share nothing. */
static unsigned char
pattern(uint64_t seed, uint64_t k)
{
	uint64_t z = seed + (k >> 3) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (unsigned char)(z >> ((k & 7) * 8));
}

static int
connect_blocking(void)
{
	int fd = net_connect(host, port, SOCK_STREAM, timeout_s * 1000, 0);
	struct timeval tv = { timeout_s, 0 };

	if (fd < 0)
		return fd;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* ---- the streams ---- */

enum { S_NORMAL, S_KILLED, S_STOPPED };

struct stream {
	int idx, fd, role;
	uint64_t seed;
	int64_t t_end;
	pthread_t wr, rd;
	_Atomic uint64_t sent;
	_Atomic bool wr_done;
	uint64_t got;
	int64_t max_gap;	/* longest wait for a byte, ms */
	int rd_err;		/* errno that ended the read, 0: EOF */
	bool wrong;
};

static void *
writer(void *arg)
{
	struct stream *s = arg;
	unsigned char buf[CHUNK];
	uint64_t off = 0;
	size_t i;

	while (now_ms() < s->t_end) {
		ssize_t n;

		for (i = 0; i < CHUNK; i++)
			buf[i] = pattern(s->seed, off + i);
		n = send(s->fd, buf, CHUNK, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;		/* the reader says what happened */
		off += (uint64_t)n;
		atomic_store(&s->sent, off);
		if ((size_t)n == CHUNK)
			sleep_ms(PACE_MS);
		else	/* a short send: resend the rest from its offset */
			continue;
	}
	(void)shutdown(s->fd, SHUT_WR);
	atomic_store(&s->wr_done, true);
	return NULL;
}

static void *
reader(void *arg)
{
	struct stream *s = arg;
	unsigned char buf[65536];
	int64_t last = now_ms();

	for (;;) {
		ssize_t n = recv(s->fd, buf, sizeof(buf), 0);
		int64_t t = now_ms();
		ssize_t i;

		if (n < 0 && errno == EINTR)
			continue;
		if (t - last > s->max_gap)
			s->max_gap = t - last;
		last = t;
		if (n <= 0) {
			s->rd_err = n < 0 ? errno : 0;
			break;
		}
		for (i = 0; i < n && !s->wrong; i++)
			if (buf[i] != pattern(s->seed, s->got + (uint64_t)i))
				s->wrong = true;
		s->got += (uint64_t)n;
	}
	return NULL;
}

/* ---- finding the worker of a connection ---- */

/* The inode of the server's socket whose peer is our local port cport. */
static unsigned long
server_inode(int cport)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	char line[512];
	size_t f;

	for (f = 0; f < 2; f++) {
		FILE *fp = fopen(files[f], "r");

		if (fp == NULL)
			continue;
		while (fgets(line, sizeof(line), fp) != NULL) {
			char local[64], rem[64];
			unsigned long inode;
			unsigned lp, rp;
			char *c;

			if (sscanf(line, " %*d: %63s %63s %*x %*s %*s %*s %*d %*d "
			    "%lu", local, rem, &inode) != 3)
				continue;
			if ((c = strrchr(local, ':')) == NULL ||
			    sscanf(c + 1, "%x", &lp) != 1 ||
			    (c = strrchr(rem, ':')) == NULL ||
			    sscanf(c + 1, "%x", &rp) != 1)
				continue;
			if ((int)lp == server_port && (int)rp == cport &&
			    inode != 0) {
				fclose(fp);
				return inode;
			}
		}
		fclose(fp);
	}
	return 0;
}

/* The descriptor number under which pid holds socket inode, or -1. */
static int
fd_of(pid_t pid, unsigned long inode)
{
	char path[64], link[64], want[48];
	struct dirent *de;
	DIR *d;
	int fd = -1;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	if ((d = opendir(path)) == NULL)
		return -1;
	while (fd < 0 && (de = readdir(d)) != NULL) {
		char p[128];
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%.32s", path, de->d_name);
		if ((n = readlink(p, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, want) == 0)
			fd = atoi(de->d_name);
	}
	closedir(d);
	return fd;
}

/* A task's current system call and first argument; -1 if running or
 * unknown. */
static long
task_syscall(pid_t pid, pid_t tid, long *arg0)
{
	char path[96], buf[256];
	long nr = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid,
	    (int)tid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) == NULL ||
	    sscanf(buf, "%ld %lx", &nr, (unsigned long *)arg0) != 2)
		nr = -1;
	fclose(f);
	return nr;
}

static bool
io_call(long nr)
{
	return nr == SYS_read || nr == SYS_recvfrom || nr == SYS_recvmsg ||
	    nr == SYS_sendmsg || nr == SYS_sendto || nr == SYS_write;
}

/* The worker serving the connection with local port cport: a child of the
 * server (processes) or a thread of it (--threads); 0 if not found in 3 s. */
static pid_t
worker_of(int cport)
{
	static pid_t kids[REL_MAX_CHILDREN];
	int64_t until = now_ms() + 3000;

	while (now_ms() < until) {
		unsigned long inode = server_inode(cport);
		int i, n, fd;

		if (inode == 0) {
			sleep_ms(10);
			continue;
		}
		if (!threads) {
			n = proc_children(server_pid, kids, REL_MAX_CHILDREN);
			for (i = 0; i < n; i++)
				if (fd_of(kids[i], inode) >= 0)
					return kids[i];
		} else if ((fd = fd_of(server_pid, inode)) >= 0) {
			char path[64];
			struct dirent *de;
			DIR *d;
			pid_t found = 0;

			snprintf(path, sizeof(path), "/proc/%d/task",
			    (int)server_pid);
			if ((d = opendir(path)) == NULL)
				return 0;
			while (found == 0 && (de = readdir(d)) != NULL) {
				pid_t tid = atoi(de->d_name);
				long a0 = -1, nr;

				if (tid <= 0)
					continue;
				nr = task_syscall(server_pid, tid, &a0);
				if (io_call(nr) && a0 == fd)
					found = tid;
			}
			closedir(d);
			if (found != 0)
				return found;
		}
		sleep_ms(10);
	}
	return 0;
}

/* The tasks to look among for an idle worker: the server's children, or
 * its threads but the main one. */
static int
workers_list(pid_t *out, int max)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (!threads)
		return proc_children(server_pid, out, max);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)server_pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while (n < max && (de = readdir(d)) != NULL) {
		pid_t tid = atoi(de->d_name);

		if (tid > 0 && tid != server_pid)
			out[n++] = tid;
	}
	closedir(d);
	return n;
}

/* What an idle worker waits in: accept (the lock holder, in a locked
 * pool), recvmsg (a descriptor from its parent), or (threads) a futex
 * (work from the main thread); NULL for anything else. */
static const char *
idle_call(pid_t task)
{
	long a0, nr = task_syscall(threads ? server_pid : task, task, &a0);

	if (nr == SYS_accept4 || nr == SYS_accept)
		return "accept";
	if (nr == SYS_recvmsg)
		return "recvmsg";
	if (threads && nr == SYS_futex)
		return "a futex wait";
	return NULL;
}

static int stop_worker(pid_t w);
static void continue_last(void);

/* Stop an idle worker, none of skip: one in accept if there is one (in a
 * pool with an accept lock, the holder), else one waiting for work.  It is
 * checked once stopped (it may have taken a connection meanwhile), and
 * another is tried if it is busy.  The worker, or 0 if none in 3 s. */
static pid_t
stop_idle_worker(const pid_t *skip, int nskip, const char **what)
{
	static pid_t kids[REL_MAX_CHILDREN];
	int64_t until = now_ms() + 3000;

	while (now_ms() < until) {
		int i, k, n = workers_list(kids, REL_MAX_CHILDREN);
		pid_t pick = 0;
		const char *w, *best = NULL;

		for (i = 0; i < n; i++) {
			for (k = 0; k < nskip && skip[k] != kids[i]; k++)
				;
			if (k < nskip || (w = idle_call(kids[i])) == NULL)
				continue;
			if (best == NULL || strcmp(w, "a futex wait") != 0) {
				pick = kids[i];
				best = w;
			}
			if (strcmp(w, "accept") == 0)
				break;
		}
		if (pick != 0 && stop_worker(pick) == 0) {
			if ((w = idle_call(pick)) != NULL &&
			    strcmp(w, best) == 0) {
				*what = w;
				return pick;
			}
			continue_last();
		}
		sleep_ms(10);
	}
	return 0;
}

/* ---- stopping a worker, and always continuing it ---- */

static pid_t stopped[3];
static bool traced[3];
static bool ptrace_denied;
static int nstopped;

static int
stop_worker(pid_t w)
{
	int st;

	if (!threads) {
		if (kill(w, SIGSTOP) == -1)
			return -1;
	} else {
		if (ptrace(PTRACE_SEIZE, w, 0, 0) == -1) {
			ptrace_denied |= errno == EPERM;
			return -1;
		}
		traced[nstopped] = true;
		if (ptrace(PTRACE_INTERRUPT, w, 0, 0) == -1 ||
		    waitpid(w, &st, __WALL) == -1)
			return -1;
	}
	stopped[nstopped++] = w;
	return 0;
}

static void
continue_one(int i)
{
	if (traced[i])
		(void)ptrace(PTRACE_DETACH, stopped[i], 0, 0);
	else
		(void)kill(stopped[i], SIGCONT);
}

static void
continue_last(void)
{
	if (nstopped > 0)
		continue_one(--nstopped);
}

static void
continue_all(void)
{
	int i;

	for (i = 0; i < nstopped; i++)
		continue_one(i);
	nstopped = 0;
}

static void
on_fatal(int sig)
{
	continue_all();		/* kill and ptrace are async-signal-safe */
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- the prober ---- */

#define MAX_HELD	16	/* probes waiting past --stall-ms, finished later */

struct probe {
	int fd;
	size_t got;
	char out[PROBE_LEN], in[PROBE_LEN];
};

struct prober {
	pthread_t t;
	int made, slow, failed, nheld;
	int64_t worst;
	struct probe held[MAX_HELD];
};

/* Connect and send a probe: 0, or -1. */
static int
probe_start(struct probe *pb)
{
	int i;

	pb->got = 0;
	if ((pb->fd = connect_blocking()) < 0)
		return -1;
	for (i = 0; i < PROBE_LEN; i++)
		pb->out[i] = (char)('a' + i % 26);
	if (send(pb->fd, pb->out, sizeof(pb->out), MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(pb->out)) {
		close(pb->fd);
		return -1;
	}
	return 0;
}

/* Read the echo until `until` (ms; 0: the socket's own timeout): 0 when
 * it is all back and exact, -1 when it is not, -2 at `until` (the probe is
 * kept open, to be finished later).  Closes the socket but at -2. */
static int
probe_finish(struct probe *pb, int64_t until)
{
	struct pollfd pfd = { .fd = pb->fd, .events = POLLIN };
	int r;

	while (pb->got < sizeof(pb->in)) {
		ssize_t n;

		if (until != 0) {
			int64_t left = until - now_ms();

			if (left <= 0)
				return -2;
			r = poll(&pfd, 1, (int)left);
			if (r == -1 && errno == EINTR)
				continue;
			if (r == 0)
				return -2;
		}
		n = recv(pb->fd, pb->in + pb->got, sizeof(pb->in) - pb->got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		pb->got += (size_t)n;
	}
	close(pb->fd);
	return pb->got == sizeof(pb->in) &&
	    memcmp(pb->in, pb->out, sizeof(pb->in)) == 0 ? 0 : -1;
}

static int
probe_once(void)
{
	struct probe pb;

	return probe_start(&pb) == -1 ? -1 : probe_finish(&pb, 0);
}

/* A probe every PROBE_EVERY_MS.  One that waits more than --stall-ms is
 * slow; it is put aside (a connection a stopped worker took is that
 * worker's until it is continued) and the next one goes on. */
static void *
prober_main(void *arg)
{
	struct prober *p = arg;

	while (atomic_load(&probing)) {
		struct probe *pb = &p->held[p->nheld < MAX_HELD ? p->nheld :
		    MAX_HELD - 1];
		int64_t t0 = now_ms(), dt;
		int r = probe_start(pb);

		if (r == 0)
			r = probe_finish(pb, p->nheld < MAX_HELD ?
			    t0 + stall_ms + 1 : 0);
		dt = now_ms() - t0;
		p->made++;
		if (r == -1)
			p->failed++;
		else if (r == -2)
			p->nheld++;
		if (dt > p->worst)
			p->worst = dt;
		if (dt > stall_ms)
			p->slow++;
		if (dt < PROBE_EVERY_MS)
			sleep_ms((int)(PROBE_EVERY_MS - dt));
	}
	return NULL;
}

/* Once every worker runs again: the probes put aside are echoed too. */
static void
prober_finish_held(struct prober *p)
{
	int i;

	for (i = 0; i < p->nheld; i++)
		if (probe_finish(&p->held[i], 0) == -1)
			p->failed++;
	p->nheld = 0;
}

/* ---- the run ---- */

static bool
settled(const struct proc_snap *b, const struct proc_snap *s)
{
	return s->ok && s->fds <= b->fds && s->threads <= b->threads &&
	    s->children == b->children && s->zombies == 0;
}

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: rel_workers HOST PORT --pid PID [--streams N] "
	    "[--stop-secs S] [--threads] [--no-kill] [--idle-stop] "
	    "[--max-slow N] [--stall-ms MS] [--settle S] [--timeout S]\n");
	exit(64);
}

static int
intarg(char **argv, int *i, int argc, uint64_t max)
{
	uint64_t v;

	if (*i + 1 >= argc || parse_uint(argv[*i + 1], 0, max, &v) == -1)
		usage();
	(*i)++;
	return (int)v;
}

static void
parse_args(int argc, char **argv)
{
	int i;

	if (argc < 3)
		usage();
	host = argv[1];
	port = argv[2];
	server_port = atoi(port);
	for (i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--pid") == 0)
			server_pid = intarg(argv, &i, argc, INT32_MAX);
		else if (strcmp(argv[i], "--streams") == 0)
			nstreams = intarg(argv, &i, argc, MAX_STREAMS);
		else if (strcmp(argv[i], "--stop-secs") == 0)
			stop_secs = intarg(argv, &i, argc, 600);
		else if (strcmp(argv[i], "--max-slow") == 0)
			max_slow = intarg(argv, &i, argc, 1000);
		else if (strcmp(argv[i], "--stall-ms") == 0)
			stall_ms = intarg(argv, &i, argc, 600000);
		else if (strcmp(argv[i], "--settle") == 0)
			settle_s = intarg(argv, &i, argc, 600);
		else if (strcmp(argv[i], "--timeout") == 0)
			timeout_s = intarg(argv, &i, argc, 600);
		else if (strcmp(argv[i], "--threads") == 0)
			threads = true;
		else if (strcmp(argv[i], "--no-kill") == 0)
			no_kill = true;
		else if (strcmp(argv[i], "--idle-stop") == 0)
			idle_stop = true;
		else
			usage();
	}
	if (server_pid <= 0 || nstreams < 2 || server_port <= 0)
		usage();
}

/* The verdict on each stream. */
static void
judge(struct stream *s)
{
	uint64_t sent = atomic_load(&s->sent);

	if (s->wrong)
		failf("stream %d: a wrong byte among the %llu received", s->idx,
		    (unsigned long long)s->got);
	if (s->got > sent)
		failf("stream %d: more bytes received than sent", s->idx);
	if (s->role == S_KILLED) {
		if (s->got >= sent && s->rd_err == 0)
			failf("stream %d: its worker was killed, yet all %llu "
			    "bytes came back", s->idx, (unsigned long long)sent);
		printf("stream %d (worker killed): lost after %llu of %llu "
		    "bytes (%s), what came was exact\n", s->idx,
		    (unsigned long long)s->got, (unsigned long long)sent,
		    s->rd_err ? strerror(s->rd_err) : "EOF");
		return;
	}
	if (s->rd_err != 0 || s->got != sent)
		failf("stream %d: %llu of %llu bytes echoed (%s)", s->idx,
		    (unsigned long long)s->got, (unsigned long long)sent,
		    s->rd_err ? strerror(s->rd_err) : "EOF");
	if (s->role == S_NORMAL && s->max_gap > stall_ms)
		failf("stream %d: waited %lld ms for a byte", s->idx,
		    (long long)s->max_gap);
	if (s->role == S_STOPPED && s->max_gap < (stop_secs - 1) * 1000)
		failf("stream %d: its worker was stopped for %d s, yet it never "
		    "waited more than %lld ms", s->idx, stop_secs,
		    (long long)s->max_gap);
}

int
main(int argc, char **argv)
{
	static struct stream st[MAX_STREAMS];
	struct prober pr = { 0 };
	struct proc_snap base, s;
	pid_t victim = 0, frozen = 0, idle = 0;
	const char *idle_what = "";
	int64_t t0, until;
	int i;

	parse_args(argc, argv);
	signal(SIGINT, on_fatal);
	signal(SIGTERM, on_fatal);
	signal(SIGSEGV, on_fatal);
	signal(SIGABRT, on_fatal);
	if (probe_once() == -1) {
		failf("the server does not echo before the test");
		return 1;
	}
	sleep_ms(500);
	base = proc_snap(server_pid);
	if (!base.ok) {
		failf("no process %d", (int)server_pid);
		return 1;
	}
	proc_print(stdout, "before", &base);

	t0 = now_ms();
	for (i = 0; i < nstreams; i++) {
		struct stream *x = &st[i];

		x->idx = i;
		x->seed = 0x5eed0000u + (uint64_t)i * 7919;
		x->t_end = t0 + (int64_t)(stop_secs + 3) * 1000;
		x->role = i == 0 && !no_kill ? S_KILLED :
		    i == (no_kill ? 0 : 1) ? S_STOPPED : S_NORMAL;
		if ((x->fd = connect_blocking()) < 0) {
			failf("stream %d: connect: %s", i, net_strerror(x->fd));
			return 1;
		}
		if (pthread_create(&x->rd, NULL, reader, x) != 0 ||
		    pthread_create(&x->wr, NULL, writer, x) != 0) {
			failf("pthread_create");
			return 1;
		}
	}
	sleep_ms(1000);

	for (i = 0; i < nstreams; i++) {
		pid_t w;

		if (st[i].role == S_NORMAL)
			continue;
		if ((w = worker_of(net_local_port(st[i].fd))) == 0) {
			failf("stream %d: no worker of the server serves it", i);
			continue;
		}
		if (st[i].role == S_KILLED)
			victim = w;
		else
			frozen = w;
	}
	if (victim != 0 && victim == frozen)
		failf("streams 0 and 1 are served by the same worker %d",
		    (int)victim);
	/* The idle one first: the prober's connections would keep it busy. */
	if (idle_stop) {
		idle = stop_idle_worker((pid_t[]){ victim, frozen }, 2,
		    &idle_what);
		if (idle == 0 && !ptrace_denied)
			failf("no idle worker to stop");
		else
			printf("stopped idle worker %d (in %s) for %d s\n",
			    (int)idle, idle_what, stop_secs);
	}
	if (victim != 0) {
		if (kill(victim, SIGKILL) == -1)
			failf("kill %d: %s", (int)victim, strerror(errno));
		printf("killed worker %d (serving stream 0)\n", (int)victim);
	}
	if (frozen != 0) {
		if (stop_worker(frozen) == -1)
			failf("stop %d: %s", (int)frozen, strerror(errno));
		else
			printf("stopped worker %d (serving stream %d) for %d s\n",
			    (int)frozen, no_kill ? 0 : 1, stop_secs);
	}
	if (ptrace_denied) {
		continue_all();
		printf("SKIP: ptrace is not permitted here (it stops one "
		    "thread)\n");
		return 77;
	}
	atomic_store(&probing, true);
	if (pthread_create(&pr.t, NULL, prober_main, &pr) != 0) {
		failf("pthread_create");
		continue_all();
		return 1;
	}
	sleep_ms(stop_secs * 1000);
	continue_all();
	atomic_store(&probing, false);
	pthread_join(pr.t, NULL);
	prober_finish_held(&pr);
	printf("probes while stopped: %d, %d failed, %d slower than %d ms, "
	    "worst %lld ms\n", pr.made, pr.failed, pr.slow, stall_ms,
	    (long long)pr.worst);
	if (pr.failed > 0)
		failf("%d of %d probes were not echoed", pr.failed, pr.made);
	if (pr.slow > max_slow)
		failf("%d probes waited more than %d ms (at most %d may)",
		    pr.slow, stall_ms, max_slow);

	for (i = 0; i < nstreams; i++) {
		pthread_join(st[i].wr, NULL);
		pthread_join(st[i].rd, NULL);
		close(st[i].fd);
		judge(&st[i]);
	}
	printf("streams: %d, %llu bytes each at most, longest wait of a "
	    "normal stream %lld ms\n", nstreams,
	    (unsigned long long)atomic_load(&st[nstreams - 1].sent),
	    (long long)st[nstreams - 1].max_gap);

	until = now_ms() + (int64_t)settle_s * 1000;
	do {
		sleep_ms(250);
		s = proc_snap(server_pid);
	} while (!settled(&base, &s) && now_ms() < until);
	proc_print(stdout, "after", &s);
	if (!settled(&base, &s))
		failf("after %d s the server is not as before (fds %ld > %ld, "
		    "threads %ld > %ld, children %ld != %ld, or zombies %ld)", settle_s, s.fds, base.fds, s.threads,
		    base.threads, s.children, base.children, s.zombies);
	if (probe_once() == -1)
		failf("the server does not echo after the test");
	return atomic_load(&failures) ? 1 : 0;
}
