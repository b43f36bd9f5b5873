/*
 * side: a thread of the main process beside the server's own workers (the
 * --metrics endpoint, UDP beside a TCP model), with a pipe that tells it to
 * end: its loop polls side_wake_fd() and returns when it is readable.
 */
#ifndef CONCUR_SIDE_H
#define CONCUR_SIDE_H

#include <pthread.h>
#include <stdbool.h>

struct side {
	pthread_t tid;
	int wake[2];
	bool running;
};

#define SIDE_INIT	{ .wake = { -1, -1 } }

/* Start fn(arg) on a thread of its own: 0, or -errno (nothing left
 * open). */
int side_start(struct side *s, void *(*fn)(void *), void *arg);
/* What the thread polls: readable once side_stop() is called. */
static inline int
side_wake_fd(const struct side *s)
{
	return s->wake[0];
}
/* Wake the thread, join it, close the pipe; what (for a log line) names
 * it.  Harmless when it was never started. */
void side_stop(struct side *s, const char *what);

#endif
