/*
 * iterative (UNP serv00, the lab's sequential server): one connection at a
 * time.  While a client is connected, the next one waits in the listen
 * backlog -- its connect() succeeds (the kernel completes the handshake) but
 * nobody reads what it sends until the first client leaves.
 */
#include <errno.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "server.h"

static int
iterative_run(struct server *srv)
{
	if (fd_set_nonblock(srv->lfd, true) == -1)
		return -errno;
	atomic_store(&srv->stats->nslots, 1);
	while (!server_stopping()) {
		int fd;

		if (server_wait(srv, true, -1) != 1)
			continue;
		fd = server_accept(srv, 0, NULL, NULL);
		if (fd == -1) {
			if (server_accept_fatal(errno))
				return -errno;
			continue;
		}
		serve_blocking(srv, fd, 0);
	}
	return 0;
}

const struct model model_iterative = {
	.name = "iterative",
	.summary = "one connection at a time (UNP serv00)",
	.run = iterative_run,
};
