/*
 * workers: ending a model's workers at a stop, written once for processes
 * and once for threads, and reaping children.
 *
 * A model keeps its workers its own way (fork: a list of pids; the process
 * pools: slots in shared memory; threads: a list, or a pool's table) and
 * describes them with three callbacks; the sequence is the same for all:
 *   processes  one SIGTERM each (stop: idle ones leave at once, busy ones
 *              finish their connection within --grace); while lingering,
 *              reap and nudge the idle ones (SIGUSR2) -- repeated, so one
 *              that was between looking at its state and entering accept()
 *              when the signal came is woken too; then (close) SIGTERM
 *              every 100 ms, SIGKILL after 5 s, give up at 6 s.
 *   threads    while lingering, and then until none is left, join those
 *              that ended and nudge (SIGUSR2) those that run, every 50 ms:
 *              a nudge makes a blocked call return EINTR and the thread
 *              look at the stop; one that lands between a look and a
 *              system call is lost, hence the repetition.
 */
#ifndef CONCUR_WORKERS_H
#define CONCUR_WORKERS_H

#include <stdbool.h>
#include <sys/types.h>

struct server;

struct procs {
	void *arg;
	/* Reap what ended and forget it; how many are left. */
	int (*reap)(void *arg);
	/* Send signo to every child left (idle_only: those not serving a
	 * connection; a model whose children are never idle ignores it). */
	void (*kill)(void *arg, int signo, bool idle_only);
};
void procs_end(struct server *srv, struct procs *p);

struct threads {
	void *arg;
	/* Join what ended, nudge what runs; how many are left. */
	int (*sweep)(void *arg);
	/* Wait up to ms, or less when a worker ends. */
	void (*wait)(void *arg, int ms);
};
void threads_end(struct server *srv, struct threads *t);

/* Reap children without blocking; how many were reaped.  With reaped, at
 * most max, their pids stored: call again while it returns max.  Each
 * status is logged at verbose level (info if it is not a clean end). */
int server_reap(pid_t *reaped, int max);

#endif
