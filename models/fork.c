/*
 * fork (UNP serv01, the lab's TCPechod): a process per connection.
 *
 * The parent waits on the listener and its signal pipe; for each connection
 * it forks, the child closes the listener and serves, the parent closes the
 * connected socket and goes back to accepting.  SIGCHLD wakes the parent to
 * reap (no zombies).  The parent keeps the children's pids so that on stop
 * it can end them all: SIGTERM, repeated every 100 ms (a child may have been
 * between looking at its flag and blocking), SIGKILL after 5 s.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "server.h"

struct pidset {
	pid_t *v;
	size_t n, cap;
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

static void
reap(struct pidset *kids)
{
	pid_t got[256];
	int n, i;

	do {
		n = server_reap(got, 256);
		for (i = 0; i < n && i < 256; i++)
			pidset_del(kids, got[i]);
	} while (n >= 256);
}

static bool
all_gone(void *arg)
{
	struct pidset *kids = arg;

	reap(kids);
	return kids->n == 0;
}

/* Stop: one SIGTERM each (children finish their connection within the
 * grace), then TERM every 100 ms until gone, KILL after 5 s.  Bounded. */
static void
end_children(struct server *srv, struct pidset *kids)
{
	int round;
	size_t i;

	for (i = 0; i < kids->n; i++)
		(void)kill(kids->v[i], SIGTERM);
	server_linger(srv, all_gone, kids);
	for (round = 0; kids->n > 0 && round < 60; round++) {
		for (i = 0; i < kids->n; i++)
			(void)kill(kids->v[i], round < 50 ? SIGTERM : SIGKILL);
		(void)server_wait(srv, false, 100);
		reap(kids);
	}
	if (kids->n > 0)
		log_warnx("%zu children would not end", kids->n);
}

static void
child(struct server *srv, int fd)
{
	server_child_init();
	close(srv->lfd);
	serve_blocking(srv, fd, -1);
	_exit(0);
}

static int
fork_run(struct server *srv)
{
	struct pidset kids = { 0 };
	int err = 0;

	if (fd_set_nonblock(srv->lfd, true) == -1)
		return -errno;
	while (!server_stopping()) {
		pid_t pid;
		int fd, r;

		r = server_wait(srv, true, -1);
		reap(&kids);
		if (r != 1)
			continue;
		fd = server_accept(srv, 0, NULL, NULL);
		if (fd == -1) {
			if (server_accept_fatal(errno)) {
				err = -errno;
				break;
			}
			continue;
		}
		pid = fork();
		if (pid == 0)
			child(srv, fd);
		if (pid == -1) {
			/* EAGAIN/ENOMEM: the client is dropped, we back off. */
			server_drop(srv, fd);
			server_overload_begin(OVERLOAD_WORKERS, "fork");
			server_pause();
			continue;
		}
		close(fd);
		server_overload_end(OVERLOAD_WORKERS);
		if (pidset_add(&kids, pid) == -1)
			log_warn("cannot track child %d", (int)pid);
		log_verbose("child %d serves the connection", (int)pid);
	}
	end_children(srv, &kids);
	free(kids.v);
	return err;
}

const struct model model_fork = {
	.name = "fork",
	.summary = "a process per connection, SIGCHLD reaper (UNP serv01)",
	.flags = MODEL_PROCESS,
	.run = fork_run,
};
