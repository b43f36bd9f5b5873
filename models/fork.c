/*
 * fork (UNP serv01, the lab's TCPechod): a process per connection.
 *
 * The parent waits on the listener and its signal pipe; for each connection
 * it forks, the child closes the listener and serves, the parent closes the
 * connected socket and goes back to accepting.  SIGCHLD wakes the parent to
 * reap (no zombies).  The parent keeps the children's pids so that on stop
 * it can end them all (engine/workers.h): one SIGTERM, then, when the grace
 * is over, SIGTERM every 100 ms (a child may have been between looking at
 * its state and blocking), SIGKILL after 5 s.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "accept.h"
#include "admit.h"
#include "drivers/blocking.h"
#include "io.h"
#include "log.h"
#include "server.h"
#include "stop.h"
#include "workers.h"

#define REAP_BATCH	256

struct pidset {
	pid_t *v;
	size_t n, cap;
};

struct forker {
	struct server *srv;
	struct acceptor acc;
	struct pidset kids;
};

static int
pidset_add(struct pidset *s, pid_t p)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		pid_t *v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = p;
	return 0;
}

static void
pidset_del(struct pidset *s, pid_t p)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == p) {
			s->v[i] = s->v[--s->n];
			return;
		}
}

static int
kids_reap(void *arg)
{
	struct pidset *kids = arg;
	pid_t got[REAP_BATCH];
	int n, i;

	do {
		n = server_reap(got, REAP_BATCH);
		for (i = 0; i < n; i++)
			pidset_del(kids, got[i]);
	} while (n == REAP_BATCH);
	return (int)kids->n;
}

static void
kids_kill(void *arg, int signo, bool idle_only)
{
	struct pidset *kids = arg;
	size_t i;

	if (idle_only)
		return;		/* every child serves its connection */
	for (i = 0; i < kids->n; i++)
		(void)kill(kids->v[i], signo);
}

static void
child(struct server *srv, int fd)
{
	server_child_init();
	close(srv->lfd);
	serve_blocking(srv, fd, -1);
	_exit(0);
}

/* accept_burst's taker: a child for fd. */
static bool
spawn(void *arg, int fd)
{
	struct forker *f = arg;
	pid_t pid = fork();

	if (pid == 0)
		child(f->srv, fd);
	if (pid == -1) {
		/* EAGAIN/ENOMEM: the client is dropped, we back off. */
		conn_drop(f->srv, fd);
		server_overload_begin(OVERLOAD_WORKERS, "fork");
		acceptor_pause(&f->acc, ACCEPT_PAUSE_MS);
		return false;
	}
	close(fd);
	server_overload_end(OVERLOAD_WORKERS);
	if (pidset_add(&f->kids, pid) == -1)
		log_warn("cannot track child %d", (int)pid);
	log_verbose("child %d serves the connection", (int)pid);
	return true;
}

static int
fork_run(struct server *srv)
{
	struct forker f = { .srv = srv };
	struct procs p = { &f.kids, kids_reap, kids_kill };
	int err = 0;

	if (fd_set_nonblock(srv->lfd, true) == -1)
		return -errno;
	acceptor_init(&f.acc, srv, srv->lfd, 0);
	while (!server_stopping()) {
		int r = acceptor_wait(&f.acc);

		(void)kids_reap(&f.kids);
		if (r == 1 && accept_burst(&f.acc, spawn, &f) == ACCEPT_FATAL) {
			err = -f.acc.err;
			break;
		}
	}
	procs_end(srv, &p);
	free(f.kids.v);
	return err;
}

const struct model model_fork = {
	.name = "fork",
	.summary = "a process per connection, SIGCHLD reaper (UNP serv01)",
	.flags = MODEL_PROCESS,
	.run = fork_run,
};
