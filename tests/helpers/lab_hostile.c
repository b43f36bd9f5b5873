/*
 * lab_hostile: the client that makes an echo server meet SIGPIPE.
 *
 *   lab_hostile HOST PORT BYTES
 *
 * It sends a burst of BYTES without reading: the server's echo blocks in
 * write() once its send buffer is full, and the rest of the burst waits
 * in the server's receive buffer and our send buffer.  Then it half-closes
 * and reads just enough (our own send buffer is kept small) for the
 * server's kernel to take our last bytes and the FIN (half a second at
 * most), and closes with SO_LINGER 0: an RST while the server still has
 * data to write.  A server that got our FIN is in CLOSE_WAIT, where an RST
 * makes its next write fail with EPIPE and raise SIGPIPE (in ESTABLISHED
 * it would fail with ECONNRESET, no signal).
 *
 * The burst must be more than the server's send buffer holds, and no more
 * than the whole connection holds (both send buffers, both receive
 * buffers): a burst that stalls (no progress for 300 ms) leaves our FIN
 * behind data the server only reads after a third of its send buffer has
 * drained, and by then it can write everything that is left.  How much a
 * connection holds depends on how the buffers autotuned, so a burst that
 * stalled, or whose FIN did not get in, is reset (the server then says
 * ECONNRESET) and tried again on a new connection, 64 KiB smaller, up to
 * 8 times.
 *
 * Prints "try N: sent N stalled yes|no drained yes|no" per connection;
 * exits 0, or 1 on a setup error.
 */
#include <errno.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "net.h"
#include "parse.h"

#define TRIES	8		/* connections, each burst STEP smaller */
#define STEP	(64 * 1024)
#define DRAIN_MS 500

static long long
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int
outq(int fd)
{
	int n = -1;

	if (ioctl(fd, SIOCOUTQ, &n) == -1)
		return -1;
	return n;
}

/* One connection: a burst of total bytes, then half-close, drain, RST.
 * *stalled: the stream stopped before the burst was sent (the burst was
 * more than the connection holds).  -1 on a setup error. */
static int
one_try(const char *host, const char *port, uint64_t total, uint64_t *sent,
    bool *stalled, bool *drained)
{
	static char buf[65536];
	int fd, small = 4096, sndbuf = 65536;
	long long t0;
	struct pollfd pfd;

	*sent = 0;
	*stalled = *drained = false;
	fd = net_connect(host, port, SOCK_STREAM, 5000, NET_NONBLOCK);
	if (fd < 0) {
		fprintf(stderr, "lab_hostile: connect: %s\n", net_strerror(fd));
		return -1;
	}
	/* A tiny receive window: the server's echo stalls early.  A small
	 * send buffer: little to drain after the stall. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) == -1) {
		perror("lab_hostile: setsockopt");
		close(fd);
		return -1;
	}
	memset(buf, 'x', sizeof(buf));
	pfd.fd = fd;
	pfd.events = POLLOUT;
	while (*sent < total) {
		size_t len = total - *sent < sizeof(buf) ? total - *sent : sizeof(buf);
		ssize_t n = io_send(fd, buf, len);

		if (n > 0) {
			*sent += (uint64_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN) {
			perror("lab_hostile: send");
			close(fd);
			return -1;
		}
		if (poll(&pfd, 1, 300) == 0) {
			*stalled = true;	/* 300 ms without progress */
			break;
		}
	}
	if (shutdown(fd, SHUT_WR) == -1) {
		perror("lab_hostile: shutdown");
		close(fd);
		return -1;
	}
	/* Read a little at a time until our queue (and FIN) is acked: a
	 * few milliseconds when the burst fit. */
	pfd.events = POLLIN;
	t0 = now_ms();
	while (!*stalled && now_ms() - t0 < DRAIN_MS) {
		if (outq(fd) == 0) {
			*drained = true;
			break;
		}
		if (poll(&pfd, 1, 1) == 1 && read(fd, buf, 4096) <= 0)
			break;
	}
	if (net_set_linger0(fd) < 0) {
		perror("lab_hostile: SO_LINGER");
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	uint64_t total, sent;
	bool stalled, drained;
	int try;

	if (argc != 4 || parse_size(argv[3], 1ull << 32, &total) == -1) {
		fprintf(stderr, "usage: lab_hostile HOST PORT BYTES\n");
		return 1;
	}
	for (try = 1; try <= TRIES; try++) {
		if (one_try(argv[1], argv[2], total, &sent, &stalled, &drained) == -1)
			return 1;
		printf("try %d: sent %llu stalled %s drained %s\n", try,
		    (unsigned long long)sent, stalled ? "yes" : "no",
		    drained ? "yes" : "no");
		fflush(stdout);
		if (drained || total <= STEP)
			break;
		total -= STEP;
	}
	return 0;
}
