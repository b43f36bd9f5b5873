/*
 * iterative (UNP serv00, the lab's sequential server): one connection at a
 * time.  While a client is connected, the next one waits in the listen
 * backlog -- its connect() succeeds (the kernel completes the handshake) but
 * nobody reads what it sends until the first client leaves.
 */
#include <errno.h>
#include <unistd.h>

#include "accept.h"
#include "drivers/blocking.h"
#include "io.h"
#include "server.h"
#include "stop.h"

static int
iterative_run(struct server *srv)
{
	struct acceptor a;
	enum accept_status st;

	if (fd_set_nonblock(srv->lfd, true) == -1)
		return -errno;
	acceptor_init(&a, srv, srv->lfd, 0);
	server_set_workers(srv, 1);
	while (!server_stopping()) {
		int fd;

		if (acceptor_wait(&a) != 1)
			continue;
		fd = accept_one(&a, &st);
		if (fd >= 0)
			serve_blocking(srv, fd, 0);
		else if (st == ACCEPT_FATAL)
			return -a.err;
	}
	return 0;
}

const struct model model_iterative = {
	.name = "iterative",
	.summary = "one connection at a time (UNP serv00)",
	.run = iterative_run,
};
