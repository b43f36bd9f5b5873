/*
 * lab_hostile: the client that makes an echo server meet SIGPIPE.
 *
 *   lab_hostile HOST PORT BYTES
 *
 * It sends a burst of at most BYTES without reading, until the stream stalls
 * for 300 ms: the server's echo is then blocked in write(), and its
 * receive buffer is full.  Then it half-closes and reads just enough (our
 * own send buffer is kept small) for the server's kernel to take our last
 * bytes and the FIN (1 s at most), and closes with SO_LINGER 0: an RST while
 * the server still has megabytes to write.  A server that got our FIN is in
 * CLOSE_WAIT, where an RST makes its next write fail with EPIPE and raise
 * SIGPIPE (in ESTABLISHED it would fail with ECONNRESET, no signal).
 *
 * Prints "sent N stalled yes|no drained yes|no"; exits 0, or 1 on a setup
 * error.
 */
#include <errno.h>
#include <linux/sockios.h>
#include <poll.h>
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

static int
outq(int fd)
{
	int n = -1;

	if (ioctl(fd, SIOCOUTQ, &n) == -1)
		return -1;
	return n;
}

int
main(int argc, char **argv)
{
	static char buf[65536];
	uint64_t total, sent = 0;
	int fd, small = 4096, sndbuf = 65536, i, drained = 0, stalled = 0;
	struct pollfd pfd;

	if (argc != 4 || parse_size(argv[3], 1ull << 32, &total) == -1) {
		fprintf(stderr, "usage: lab_hostile HOST PORT BYTES\n");
		return 1;
	}
	fd = net_connect(argv[1], argv[2], SOCK_STREAM, 5000, NET_NONBLOCK);
	if (fd < 0) {
		fprintf(stderr, "lab_hostile: connect: %s\n", net_strerror(fd));
		return 1;
	}
	/* A tiny receive window: the server's echo stalls early.  A small
	 * send buffer: little to drain after the stall. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) == -1) {
		perror("lab_hostile: setsockopt");
		return 1;
	}
	memset(buf, 'x', sizeof(buf));
	pfd.fd = fd;
	pfd.events = POLLOUT;
	while (sent < total) {
		size_t len = total - sent < sizeof(buf) ? total - sent : sizeof(buf);
		ssize_t n = io_send(fd, buf, len);

		if (n > 0) {
			sent += (uint64_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN) {
			perror("lab_hostile: send");
			return 1;
		}
		if (poll(&pfd, 1, 300) == 0) {
			stalled = 1;	/* 300 ms without progress */
			break;
		}
	}
	if (shutdown(fd, SHUT_WR) == -1) {
		perror("lab_hostile: shutdown");
		return 1;
	}
	/* Read a little at a time until our queue (and FIN) is acked. */
	pfd.events = POLLIN;
	for (i = 0; i < 1000; i++) {
		if (outq(fd) == 0) {
			drained = 1;
			break;
		}
		if (poll(&pfd, 1, 1) == 1 && read(fd, buf, 4096) <= 0)
			break;
	}
	printf("sent %llu stalled %s drained %s\n", (unsigned long long)sent,
	    stalled ? "yes" : "no", drained ? "yes" : "no");
	fflush(stdout);
	if (net_set_linger0(fd) < 0) {
		perror("lab_hostile: SO_LINGER");
		return 1;
	}
	close(fd);
	return 0;
}
