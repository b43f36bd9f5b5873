/*
 * ref-pingpong: the reference client concurbench is measured against.
 *
 *	ref-pingpong HOST PORT CONNECTIONS SIZE SECONDS
 *
 * The least a ping-pong load generator can do: one thread, one epoll loop,
 * non-blocking sockets with TCP_NODELAY, each connection sends SIZE bytes,
 * reads SIZE bytes back, and sends again.  It neither verifies nor times
 * single requests.  It prints the requests per second and the CPU time it
 * spent per request (getrusage), so that concurbench against the same
 * server can show it is at least as fast for no more CPU.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "parse.h"

struct conn {
	int fd;
	size_t tx, rx;		/* bytes of the current message */
	bool out;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void
die(const char *what, int code)
{
	fprintf(stderr, "ref-pingpong: %s\n", what);
	exit(code);
}

static void
want_out(int ep, struct conn *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
	    .data.ptr = c };

	if (c->out != on && epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->out = on;
}

/* -1 on a broken connection. */
static int
send_rest(int ep, struct conn *c, const char *msg, size_t size)
{
	ssize_t n;

	while (c->tx < size) {
		n = send(c->fd, msg + c->tx, size - c->tx, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -1;
			want_out(ep, c, true);
			return 0;
		}
		c->tx += (size_t)n;
	}
	want_out(ep, c, false);
	return 0;
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[256], ev;
	struct conn *conns, *c;
	uint64_t nconns, size, secs, i, done = 0;
	double t0, t1, c0, c1;
	char *msg, *buf;
	ssize_t r;
	int ep, n, k, fd;

	if (argc != 6 || parse_uint(argv[3], 1, 100000, &nconns) == -1 ||
	    parse_uint(argv[4], 1, 1 << 20, &size) == -1 ||
	    parse_uint(argv[5], 1, 3600, &secs) == -1) {
		fprintf(stderr, "usage: ref-pingpong HOST PORT CONNECTIONS "
		    "SIZE SECONDS\n");
		return 64;
	}
	conns = calloc(nconns, sizeof(*conns));
	msg = malloc(size);
	buf = malloc(size);
	if (conns == NULL || msg == NULL || buf == NULL)
		die("out of memory", 71);
	memset(msg, 'x', size);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1 failed", 71);
	for (i = 0; i < nconns; i++) {
		fd = net_connect(argv[1], argv[2], SOCK_STREAM, 5000,
		    NET_NONBLOCK);
		if (fd < 0) {
			fprintf(stderr, "ref-pingpong: %s port %s: %s\n",
			    argv[1], argv[2], net_strerror(fd));
			return 69;
		}
		(void)net_set_nodelay(fd, true);
		conns[i].fd = fd;
		ev.events = EPOLLIN;
		ev.data.ptr = &conns[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
			die("epoll_ctl failed", 71);
	}
	t0 = now_s();
	c0 = cpu_s();
	for (i = 0; i < nconns; i++)
		if (send_rest(ep, &conns[i], msg, size) == -1)
			die("send failed", 74);
	while (now_s() - t0 < (double)secs) {
		n = epoll_wait(ep, evs, 256, 100);
		for (k = 0; k < n; k++) {
			c = evs[k].data.ptr;
			if (c->tx < size) {
				if (send_rest(ep, c, msg, size) == -1)
					die("send failed", 74);
				continue;
			}
			r = recv(c->fd, buf, size - c->rx, 0);
			if (r == -1 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0)
				die("connection closed or broken", 74);
			c->rx += (size_t)r;
			if (c->rx < size)
				continue;
			done++;
			c->rx = c->tx = 0;
			if (send_rest(ep, c, msg, size) == -1)
				die("send failed", 74);
		}
	}
	t1 = now_s();
	c1 = cpu_s();
	printf("requests %llu in %.3f s = %.1f req/s, client CPU %.2f "
	    "us/request\n", (unsigned long long)done, t1 - t0,
	    (double)done / (t1 - t0), done ? (c1 - c0) * 1e6 /
	    (double)done : 0.0);
	return 0;
}
