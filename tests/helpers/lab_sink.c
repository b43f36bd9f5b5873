/*
 * lab_sink: a server that reads and never answers, for client timeouts.
 *
 *   lab_sink      prints "lab_sink: listening on ADDR port N" on stderr, then
 *                 accepts connections and discards what they send; it never
 *                 writes and never closes, until killed.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "net.h"

#define MAXFD 64

int
main(void)
{
	struct pollfd pfd[MAXFD];
	char buf[65536], addr[NET_ADDRSTRLEN];
	int lfd, n = 1, i, port;

	lfd = net_listen(NULL, "0", SOCK_STREAM, 16, 0);
	if (lfd < 0 || net_local_addr(lfd, addr, sizeof(addr), &port) < 0) {
		fprintf(stderr, "lab_sink: listen: %s\n", net_strerror(lfd));
		return 1;
	}
	fprintf(stderr, "lab_sink: listening on %s port %d\n", addr, port);
	pfd[0].fd = lfd;
	pfd[0].events = POLLIN;
	for (;;) {
		if (poll(pfd, (nfds_t)n, -1) == -1) {
			if (errno == EINTR)
				continue;
			perror("lab_sink: poll");
			return 1;
		}
		if (pfd[0].revents && n < MAXFD) {
			int fd = accept(lfd, NULL, NULL);

			if (fd >= 0) {
				pfd[n].fd = fd;
				pfd[n++].events = POLLIN;
			}
		}
		for (i = 1; i < n; i++)
			if (pfd[i].revents && io_read(pfd[i].fd, buf,
			    sizeof(buf)) <= 0)
				pfd[i].fd = -1;	/* EOF: keep it open, unread */
	}
}
