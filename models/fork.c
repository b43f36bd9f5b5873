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
#include "lost.h"
#include "memwatch.h"
#include "server.h"
#include "stop.h"
#include "workers.h"

#define REAP_BATCH	256
#define FORK_RECS	16384	/* children with a record of their connection */

/* The children: their pids, and the record each keeps (-1: none). */
struct pidset {
	pid_t *v;
	int *rec;
	size_t n, cap;
};

struct forker {
	struct server *srv;
	struct acceptor acc;
	struct pidset kids;
	struct lost_rec *recs;	/* FORK_RECS, shared with the children */
	int *free_recs;		/* a stack of the records not in use */
	int nfree;
};

static int
pidset_add(struct pidset *s, pid_t p, int rec)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		pid_t *v = realloc(s->v, cap * sizeof(*v));
		int *r;

		if (v == NULL)
			return -1;
		s->v = v;
		if ((r = realloc(s->rec, cap * sizeof(*r))) == NULL)
			return -1;
		s->rec = r;
		s->cap = cap;
	}
	s->rec[s->n] = rec;
	s->v[s->n++] = p;
	return 0;
}

/* Forget child p; the record it kept, or -1. */
static int
pidset_del(struct pidset *s, pid_t p)
{
	size_t i;
	int rec;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == p) {
			rec = s->rec[i];
			s->n--;
			s->v[i] = s->v[s->n];
			s->rec[i] = s->rec[s->n];
			return rec;
		}
	return -1;
}

static int
kids_reap(void *arg)
{
	struct forker *f = arg;
	pid_t got[REAP_BATCH];
	int n, i, rec;

	do {
		n = server_reap(got, REAP_BATCH);
		for (i = 0; i < n; i++) {
			if ((rec = pidset_del(&f->kids, got[i])) < 0)
				continue;
			(void)lost_reap(f->srv, &f->recs[rec], "fork", got[i]);
			f->free_recs[f->nfree++] = rec;
		}
	} while (n == REAP_BATCH);
	return (int)f->kids.n;
}

static void
kids_kill(void *arg, int signo, bool idle_only)
{
	struct forker *f = arg;
	size_t i;

	if (idle_only)
		return;		/* every child serves its connection */
	for (i = 0; i < f->kids.n; i++)
		(void)kill(f->kids.v[i], signo);
}

static void
child(struct server *srv, int fd, struct lost_rec *rec)
{
	server_child_init();
	close(srv->lfd);
	lost_use(rec);
	serve_blocking(srv, fd, -1);
	_exit(0);
}

/* accept_burst's taker: a child for fd. */
static bool
spawn(void *arg, int fd)
{
	struct forker *f = arg;
	int rec;
	pid_t pid;

	/* Short of memory: a process more could get us killed. */
	if (mem_spawn(1) == 0) {
		conn_drop(f->srv, fd);
		return true;
	}
	rec = f->nfree > 0 ? f->free_recs[--f->nfree] : -1;
	pid = fork();

	if (pid == 0)
		child(f->srv, fd, rec >= 0 ? &f->recs[rec] : NULL);
	if (pid == -1) {
		/* EAGAIN/ENOMEM: the client is dropped, we back off. */
		if (rec >= 0)
			f->free_recs[f->nfree++] = rec;
		conn_drop(f->srv, fd);
		server_overload_begin(OVERLOAD_WORKERS, "fork");
		acceptor_pause(&f->acc, ACCEPT_PAUSE_MS);
		return false;
	}
	close(fd);
	server_overload_end(OVERLOAD_WORKERS);
	if (pidset_add(&f->kids, pid, rec) == -1) {
		/* Its record stays taken: the child may still use it. */
		log_warn("cannot track child %d", (int)pid);
	}
	log_verbose("child %d serves the connection", (int)pid);
	return true;
}

static int
fork_run(struct server *srv)
{
	struct forker f = { .srv = srv };
	struct procs p = { &f, kids_reap, kids_kill };
	int err = 0, i;

	if (fd_set_nonblock(srv->lfd, true) == -1)
		return -errno;
	if ((f.recs = lost_create(FORK_RECS)) == NULL)
		return -errno;
	if ((f.free_recs = malloc(FORK_RECS * sizeof(int))) == NULL) {
		err = -errno;
		lost_destroy(f.recs, FORK_RECS);
		return err;
	}
	for (i = FORK_RECS - 1; i >= 0; i--)
		f.free_recs[f.nfree++] = i;
	acceptor_init(&f.acc, srv, srv->lfd, 0);
	while (!server_stopping()) {
		int r = acceptor_wait(&f.acc);

		(void)kids_reap(&f);
		if (r == 1 && accept_burst(&f.acc, spawn, &f) == ACCEPT_FATAL) {
			err = -f.acc.err;
			break;
		}
	}
	procs_end(srv, &p);
	free(f.kids.v);
	free(f.kids.rec);
	free(f.free_recs);
	lost_destroy(f.recs, FORK_RECS);
	return err;
}

const struct model model_fork = {
	.name = "fork",
	.summary = "a process per connection, SIGCHLD reaper (UNP serv01)",
	.flags = MODEL_PROCESS,
	.run = fork_run,
};
