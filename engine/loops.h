/*
 * loops: N event loops, one thread each -- the part the readiness loops
 * (select, poll, epoll) and the completion loops (io_uring) share.
 *
 * loops_run() starts -w N loops (default: one per online CPU), each in its
 * own thread: the thread blocks the main thread's signals, sets its loop up
 * (an error there ends the server before it serves anything), tells the
 * main thread it is ready, runs, and tears down.  The main thread then
 * waits for the stop; at the stop it wakes every loop (their eventfd) to
 * stop accepting, lingers while connections remain (--grace), asks for the
 * close, wakes them again, and joins them.
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
	int id, nloops;
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
};

/* A model's run(): 0, or the first loop's -errno. */
int loops_run(struct server *srv, const struct loop_class *lc);
/* How many loops -w asks for, or the default. */
int loops_count(const struct server *srv);
void loop_woken(struct loop_base *lb);
/* This loop cannot go on: log, keep err for loops_run(), stop the server
 * (the main thread wakes and stops every loop). */
void loop_fail(struct loop_base *lb, int err, const char *what);

#endif
