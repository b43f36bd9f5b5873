/*
 * loops: N event loops, one thread each -- the part the readiness loops
 * (select, poll, epoll) and the completion loops (io_uring) share.
 *
 * loops_run() starts the loops, each in its own thread: the thread blocks
 * the main thread's signals, sets its loop up (an error there ends the
 * server before it serves anything), tells the main thread it is ready,
 * runs, and tears down.  The main thread then waits for the stop; at the
 * stop it wakes every loop (their eventfd) to stop accepting, lingers while
 * connections remain (--grace), asks for the close, wakes them again, and
 * joins them.
 *
 * How many: -w N starts N.  Without -w the loops are elastic: one at
 * start, and another while every loop is busy (its thread's CPU time is
 * --loop-busy percent of the wall clock, 85 by default, three samples of
 * 100 ms in a row) and the machine has a CPU free for it, up to one loop
 * per CPU (or --max-workers).  An extra loop is a wake-up and a context
 * switch per burst, and on a machine whose other CPU runs the clients it
 * only competes with them; on a bigger one the load gets every CPU it
 * needs.  Each loop hands the new one its share of the open connections
 * (rebalance: the readiness loops at once, io_uring rings once nothing of
 * a connection is in flight), and new connections go to whichever loop is
 * idle (the listener wakes one waiting loop).
 *
 * A loop watches its wakefd; when it is readable, loop_woken() empties it
 * and the loop looks at server_stopping() and server_closing().
 */
#ifndef CONCUR_LOOPS_H
#define CONCUR_LOOPS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct server;
struct loop_class;

/* The start of every loop's own state. */
struct loop_base {
	struct server *srv;
	const struct loop_class *lc;
	int id, nloops;		/* nloops: how many run, this one included,
				 * when it was set up */
	int wakefd;		/* eventfd: the main thread's stop and close */
	int err;		/* -errno: this loop failed, the server stops */
	pthread_t thread;
	bool ready;		/* under the runner's lock */
};

struct loop_class {
	const char *name;	/* for log lines: "epoll", "uring" */
	size_t size;		/* bytes of one loop, struct loop_base first */
	const void *arg;	/* the class's own (the readiness backend) */
	/* In the loop's thread: 0, or -errno (logged by the runner). */
	int (*setup)(struct loop_base *lb);
	/* Serve until the close; a failure that ends the server goes
	 * through loop_fail(). */
	void (*run)(struct loop_base *lb);
	/* Always called, after setup (whatever it returned). */
	void (*teardown)(struct loop_base *lb);
	/* Optional, from the main thread: from is to give 1/k of its
	 * connections to to, a loop just started (both running). */
	void (*rebalance)(struct loop_base *from, struct loop_base *to, int k);
};

/* A model's run(): 0, or the first loop's -errno. */
int loops_run(struct server *srv, const struct loop_class *lc);
/* --loop-busy: the share of its time (percent) every loop must be busy
 * before another starts. */
void loops_set_busy(int pct);
/* Open /proc/stat (what tells an elastic runner a CPU is free) now, before
 * a chroot or the sandbox: later opens would not find it. */
void loops_open_stat(void);
void loop_woken(struct loop_base *lb);
/* This loop cannot go on: log, keep err for loops_run(), stop the server
 * (the main thread wakes and stops every loop). */
void loop_fail(struct loop_base *lb, int err, const char *what);

#endif
