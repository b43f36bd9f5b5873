/*
 * prefork (UNP serv02): a pool of processes all blocking in accept() on the
 * shared listener, with no lock.
 *
 * The parent forks the pool and then only manages it; each child loops on
 * accept() and serves the connection it got with blocking I/O.  Linux wakes
 * one blocked acceptor per connection (no thundering herd since 2.6), so no
 * lock is needed.  The listener stays blocking: its flags live on the open
 * file description every child shares.
 *
 * Pool size (engine/pools/policy.h): -w N children at start (default 2 x online
 * CPUs, at least 4); when fewer than 2 are idle the parent forks more at
 * once, up to --max-workers (default 256), so persistent clients beyond the
 * initial size are served; a child that ends a connection while as many
 * others as the initial size are idle exits, so an idle pool shrinks back.
 * A child that takes a connection and sees the spares run short writes a
 * byte on a pipe the parent polls beside its signal pipe, so growth is
 * immediate.  The scoreboard (idle and total counts, each child's state) is
 * in shared memory; the summary's spread counts connections per worker
 * slot.  On SIGTERM or SIGINT the parent sends each child one SIGTERM: idle
 * children leave at once (their accept() returns EINTR), busy ones finish
 * their connection within --grace; then SIGTERM every 100 ms, SIGKILL after
 * 5 s, until all are reaped.
 */
#include <stddef.h>

#include "pools/procpool.h"
#include "server.h"

static int
prefork_run(struct server *srv)
{
	return pool_prefork_run(srv, NULL);
}

const struct model model_prefork = {
	.name = "prefork",
	.summary = "a pool of processes blocking in accept, no lock (UNP serv02)",
	.flags = MODEL_POOL | MODEL_PROCESS,
	.run = prefork_run,
};
