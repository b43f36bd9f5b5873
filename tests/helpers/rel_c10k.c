/*
 * rel_c10k: many concurrent echo connections, every byte verified, and what
 * each one costs the server.
 *
 *   rel_c10k HOST PORT --conns N [--messages M] [--size-max B] [--pid PID]
 *            [--no-hold] [--active K] [--connecting K] [--seed N]
 *            [--timeout S] [--settle S]
 *
 * One thread, one epoll set.  Default (hold): open N connections (at most
 * --connecting connects in flight, so the listen backlog is not flooded),
 * each exchanging its first message as soon as it is up and then waiting;
 * once all N are open and have been served, the server's /proc is read
 * (descriptors must have grown by at least N: they really are concurrent),
 * then all N exchange their other messages at once, half-close, and must
 * get EOF.  Memory per connection = (PSS of the server and its children
 * with N open - before) / N; the main process's RSS delta too.
 *
 * --no-hold: each connection goes straight through its messages and closes;
 * at most --active are open at once (a connection storm: the SIGCHLD test;
 * or, with --active N, the iterative model, which serves one at a time).
 *
 * Every message is random (seeded; the seed is printed), 1..--size-max
 * bytes, and must come back byte-exact; a reset, an early EOF or no
 * progress for --timeout seconds fails.  With --pid, afterwards the server
 * must be back to its baseline descriptors, threads and children, no
 * zombie, within --settle seconds.
 * Exit 0 all good, 1 failed (reasons on stderr), 64 usage.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "parse.h"
#include "rel_proc.h"

enum cstate { C_NEW, C_CONNECTING, C_XFER, C_HELD, C_EOF_WAIT, C_DONE };

struct conn {
	int fd;
	enum cstate st;
	int msg;		/* messages done */
	uint32_t len, sent, got;
	uint64_t rs;
	char *buf;		/* the current message */
};

static int nconns, nmsgs = 4, size_max = 512, timeout_s = 60, settle_s = 30;
static int max_active, max_connecting = 256;
static bool hold = true;
static pid_t server_pid;
static uint64_t seed;
static struct sockaddr_storage addr;
static socklen_t addrlen;
static struct conn *conns;
static int ep, nfail, n_active, n_connecting, n_done, n_held, next_new;
static uint64_t bytes_verified;
static int64_t last_progress;

/* Kernel memory for TCP, in pages, machine-wide (/proc/net/sockstat):
 * both ends of every loopback connection, so an upper bound. */
static long
tcp_mem_pages(void)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/net/sockstat", "r");
	char *p;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "TCP:", 4) == 0 &&
		    (p = strstr(line, " mem ")) != NULL)
			v = strtol(p + 5, NULL, 10);
	fclose(f);
	return v;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static void
cfail(struct conn *c, const char *what)
{
	if (nfail++ < 10)
		fprintf(stderr, "rel_c10k: FAIL: connection %ld, message %d "
		    "(%u bytes, %u sent, %u echoed): %s\n", (long)(c - conns),
		    c->msg + 1, c->len, c->sent, c->got, what);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->st == C_CONNECTING)
		n_connecting--;
	if (c->st == C_HELD)
		n_held--;
	c->st = C_DONE;
	n_active--;
	n_done++;
}

static void
new_message(struct conn *c)
{
	uint32_t i;

	c->len = 1 + (uint32_t)(rnd(&c->rs) % (uint64_t)size_max);
	for (i = 0; i < c->len; i++)
		c->buf[i] = (char)(rnd(&c->rs) >> 56);
	c->sent = c->got = 0;
	c->st = C_XFER;
}

static void
watch(struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		cfail(c, strerror(errno));
}

static void
start_conn(struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	int one = 1;

	c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	n_active++;
	if (c->fd == -1) {
		cfail(c, strerror(errno));
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->st = C_CONNECTING;
	n_connecting++;
	if (connect(c->fd, (struct sockaddr *)&addr, addrlen) == -1 &&
	    errno != EINPROGRESS) {
		cfail(c, strerror(errno));
		return;
	}
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		cfail(c, strerror(errno));
}

/* After a message is echoed: the next one, a hold, or the half-close. */
static void
message_done(struct conn *c)
{
	c->msg++;
	bytes_verified += c->len;
	if (c->msg == 1 && hold) {
		c->st = C_HELD;
		n_held++;
		watch(c, EPOLLIN);	/* an unasked byte or EOF is a failure */
		return;
	}
	if (c->msg < nmsgs) {
		new_message(c);
		watch(c, EPOLLIN | EPOLLOUT);
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->st = C_EOF_WAIT;
	watch(c, EPOLLIN);
}

static void
on_event(struct conn *c, uint32_t ev)
{
	char in[65536];
	ssize_t n;
	int err = 0;
	socklen_t el = sizeof(err);

	switch (c->st) {
	case C_CONNECTING:
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) == -1 ||
		    err != 0) {
			cfail(c, err ? strerror(err) : "connect failed");
			return;
		}
		n_connecting--;
		new_message(c);
		watch(c, EPOLLIN | EPOLLOUT);
		return;
	case C_XFER:
		if (ev & EPOLLOUT && c->sent < c->len) {
			n = send(c->fd, c->buf + c->sent, c->len - c->sent,
			    MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN) {
				cfail(c, strerror(errno));
				return;
			}
			if (n > 0)
				c->sent += (uint32_t)n;
			if (c->sent == c->len)
				watch(c, EPOLLIN);
		}
		if (c->fd < 0 || !(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
			return;
		n = recv(c->fd, in, sizeof(in), 0);
		if (n == 0) {
			cfail(c, "EOF before the whole echo");
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN)
				cfail(c, strerror(errno));
			return;
		}
		if ((uint32_t)n > c->sent - c->got ||
		    memcmp(in, c->buf + c->got, (size_t)n) != 0) {
			cfail(c, "wrong bytes in the echo");
			return;
		}
		c->got += (uint32_t)n;
		last_progress = now_ms();
		if (c->got == c->len)
			message_done(c);
		return;
	case C_HELD:
		n = recv(c->fd, in, sizeof(in), 0);
		if (n < 0 && errno == EAGAIN)
			return;
		cfail(c, n == 0 ? "EOF while held" : n > 0 ?
		    "bytes nobody asked for" : strerror(errno));
		return;
	case C_EOF_WAIT:
		n = recv(c->fd, in, sizeof(in), 0);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n != 0) {
			cfail(c, n > 0 ? "bytes after the echo" : strerror(errno));
			return;
		}
		close(c->fd);
		c->fd = -1;
		c->st = C_DONE;
		n_active--;
		n_done++;
		last_progress = now_ms();
		return;
	default:
		return;
	}
}

static void
release_held(void)
{
	int i;

	for (i = 0; i < nconns; i++)
		if (conns[i].st == C_HELD) {
			n_held--;
			if (nmsgs > 1) {
				new_message(&conns[i]);
				watch(&conns[i], EPOLLIN | EPOLLOUT);
			} else {
				shutdown(conns[i].fd, SHUT_WR);
				conns[i].st = C_EOF_WAIT;
			}
		}
}

static int
resolve(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int e = getaddrinfo(host, port, &hints, &ai);

	if (e != 0) {
		fprintf(stderr, "rel_c10k: %s port %s: %s\n", host, port,
		    gai_strerror(e));
		return -1;
	}
	memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
	addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: rel_c10k HOST PORT --conns N [--messages M] "
	    "[--size-max B] [--pid PID]\n"
	    "       [--no-hold] [--active K] [--connecting K] [--seed N] "
	    "[--timeout S] [--settle S]\n");
	exit(64);
}

static int
num(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	uint64_t v;

	if (s == NULL || parse_uint(s, min, max, &v) != 0) {
		fprintf(stderr, "rel_c10k: %s: a number %llu..%llu\n", opt,
		    (unsigned long long)min, (unsigned long long)max);
		exit(64);
	}
	return (int)v;
}

/* Run the event loop until done, or a stall of timeout_s.  When all are
 * held, take the peak snapshot and release them. */
static long kmem_base, kmem_peak;

static int
run(struct proc_snap *peak)
{
	static struct epoll_event evs[1024];
	bool peaked = false;
	int i, n;

	last_progress = now_ms();
	while (n_done < nconns) {
		while (next_new < nconns && n_connecting < max_connecting &&
		    n_active < max_active)
			start_conn(&conns[next_new++]);
		if (hold && !peaked && n_held + n_done == nconns) {
			peaked = true;
			if (server_pid)
				*peak = proc_snap(server_pid);
			kmem_peak = tcp_mem_pages();
			printf("rel_c10k: %d connections open at once, each "
			    "served%s\n", n_held, nfail ? " (some failed)" : "");
			fflush(stdout);
			release_held();
			last_progress = now_ms();
		}
		n = epoll_wait(ep, evs, 1024, 1000);
		if (n < 0 && errno != EINTR) {
			perror("rel_c10k: epoll_wait");
			return -1;
		}
		for (i = 0; i < n; i++)
			on_event(evs[i].data.ptr, evs[i].events);
		if (now_ms() - last_progress > timeout_s * 1000L) {
			int stuck = 0;

			for (i = 0; i < nconns; i++)
				if (conns[i].st != C_DONE && conns[i].st != C_NEW &&
				    conns[i].st != C_HELD) {
					if (stuck++ < 3)
						cfail(&conns[i], "no progress");
					else
						cfail(&conns[i], "no progress (more)");
				}
			if (stuck == 0)
				return -1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct proc_snap base = { 0 }, peak = { 0 }, after = { 0 };
	struct rlimit rl;
	uint64_t rs;
	int64_t t0;
	bool have_seed = false;
	int i;

	if (argc < 3)
		usage();
	for (i = 3; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "--no-hold") == 0) {
			hold = false;
			continue;
		}
		if (strcmp(o, "--conns") == 0)
			nconns = num(o, v, 1, 1000000);
		else if (strcmp(o, "--messages") == 0)
			nmsgs = num(o, v, 1, 1000000);
		else if (strcmp(o, "--size-max") == 0)
			size_max = num(o, v, 1, 1 << 20);
		else if (strcmp(o, "--pid") == 0)
			server_pid = num(o, v, 1, 1 << 22);
		else if (strcmp(o, "--active") == 0)
			max_active = num(o, v, 1, 1000000);
		else if (strcmp(o, "--connecting") == 0)
			max_connecting = num(o, v, 1, 1000000);
		else if (strcmp(o, "--timeout") == 0)
			timeout_s = num(o, v, 1, 3600);
		else if (strcmp(o, "--settle") == 0)
			settle_s = num(o, v, 1, 3600);
		else if (strcmp(o, "--seed") == 0) {
			if (v == NULL || parse_uint(v, 0, UINT64_MAX, &seed))
				usage();
			have_seed = true;
		} else
			usage();
		i++;
	}
	if (nconns == 0)
		usage();
	if (max_active == 0)
		max_active = nconns;
	if (hold && max_active < nconns) {
		fprintf(stderr, "rel_c10k: --active below --conns needs --no-hold\n");
		return 64;
	}
	if (!have_seed)
		seed = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
	printf("rel_c10k: seed=%llu\n", (unsigned long long)seed);
	/* Our own descriptors: one per connection, and some. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)max_active + 64) {
		rl.rlim_cur = (rlim_t)max_active + 64;
		if (rl.rlim_cur > rl.rlim_max || setrlimit(RLIMIT_NOFILE, &rl)) {
			fprintf(stderr, "rel_c10k: cannot have %d descriptors "
			    "(ulimit -n)\n", max_active + 64);
			return 1;
		}
	}
	if (resolve(argv[1], argv[2]) != 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (conns = calloc((size_t)nconns, sizeof(*conns))) == NULL) {
		perror("rel_c10k");
		return 1;
	}
	rs = seed | 1;
	for (i = 0; i < nconns; i++) {
		conns[i].fd = -1;
		conns[i].rs = rnd(&rs) | 1;
		if ((conns[i].buf = malloc((size_t)size_max)) == NULL) {
			perror("rel_c10k");
			return 1;
		}
	}
	if (server_pid) {
		base = proc_snap(server_pid);
		proc_print(stdout, "rel_c10k: baseline", &base);
	}
	kmem_base = tcp_mem_pages();
	t0 = now_ms();
	if (run(&peak) != 0 && nfail == 0)
		nfail++;
	printf("rel_c10k: %d connections, %d messages each (1..%d bytes): "
	    "%llu bytes echoed byte-exact, %d failed, %.1f s\n", nconns, nmsgs,
	    size_max, (unsigned long long)bytes_verified, nfail,
	    (double)(now_ms() - t0) / 1000);
	if (server_pid && hold) {
		proc_print(stdout, "rel_c10k: peak", &peak);
		printf("rel_c10k: memory per connection: %.1f KiB (pss of the "
		    "server and its children), %.1f KiB (main process rss)\n",
		    (double)(peak.pss_kb - base.pss_kb) / nconns,
		    (double)(peak.rss_kb - base.rss_kb) / nconns);
		if (kmem_base >= 0 && kmem_peak >= 0)
			printf("rel_c10k: kernel TCP memory: %.2f KiB per "
			    "connection, both ends (sockstat mem %+ld pages)\n",
			    (double)(kmem_peak - kmem_base) * 4 / nconns,
			    kmem_peak - kmem_base);
		if (peak.fds - base.fds < nconns) {
			fprintf(stderr, "rel_c10k: FAIL: the server holds %ld "
			    "more descriptors with %d connections open\n",
			    peak.fds - base.fds, nconns);
			nfail++;
		}
	}
	if (server_pid) {
		int64_t until = now_ms() + settle_s * 1000L;

		do {
			after = proc_snap(server_pid);
			if (after.ok && after.fds <= base.fds &&
			    after.threads <= base.threads &&
			    after.children <= base.children && after.zombies == 0)
				break;
			usleep(200000);
		} while (now_ms() < until);
		proc_print(stdout, "rel_c10k: after", &after);
		if (!after.ok || after.fds > base.fds || after.threads >
		    base.threads || after.children > base.children ||
		    after.zombies) {
			fprintf(stderr, "rel_c10k: FAIL: not back to the "
			    "baseline %d s after the last connection closed\n",
			    settle_s);
			nfail++;
		}
	}
	for (i = 0; i < nconns; i++)
		free(conns[i].buf);
	free(conns);
	if (nfail) {
		printf("rel_c10k: FAILED (seed %llu)\n", (unsigned long long)seed);
		return 1;
	}
	printf("rel_c10k: ok\n");
	return 0;
}
