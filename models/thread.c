/*
 * thread (UNP serv06): a thread per connection.
 *
 * The main thread accepts and creates a detached thread for each
 * connection.  Live threads are listed so that a stop can reach them: the
 * main thread nudges each one (engine/workers.h: SIGUSR2, its blocked
 * read() returns EINTR and it sees the stop) every 50 ms until the list is
 * empty.  Stacks are
 * 256 KiB: the connection's 64 KiB buffer lives there, and a thousand
 * threads should not reserve 8 MiB each.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "accept.h"
#include "admit.h"
#include "drivers/blocking.h"
#include "io.h"
#include "log.h"
#include "memwatch.h"
#include "server.h"
#include "stop.h"
#include "workers.h"

#define STACK_SIZE	(256 * 1024)

struct live {
	pthread_mutex_t mu;
	pthread_cond_t gone;
	pthread_t *v;
	size_t n, cap;
};

struct spawner {
	struct server *srv;
	struct live *live;
	struct acceptor acc;
	pthread_attr_t attr;
};

struct job {
	struct server *srv;
	struct live *live;
	int fd;
};

static void
live_del(struct live *l, pthread_t t)
{
	size_t i;

	pthread_mutex_lock(&l->mu);
	for (i = 0; i < l->n; i++)
		if (pthread_equal(l->v[i], t)) {
			l->v[i] = l->v[--l->n];
			break;
		}
	pthread_cond_signal(&l->gone);
	pthread_mutex_unlock(&l->mu);
}

static void *
conn_thread(void *arg)
{
	struct job j = *(struct job *)arg;

	free(arg);
	server_block_signals();
	serve_blocking(j.srv, j.fd, -1);
	live_del(j.live, pthread_self());
	return NULL;
}

/* Create the thread with the live list locked, so it cannot remove itself
 * before it was added.  0 or an errno. */
static int
start_thread(struct spawner *sp, int fd)
{
	struct live *l = sp->live;
	struct job *j = malloc(sizeof(*j));
	pthread_t t;
	int e;

	if (j == NULL)
		return ENOMEM;
	*j = (struct job){ sp->srv, l, fd };
	pthread_mutex_lock(&l->mu);
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		pthread_t *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL) {
			pthread_mutex_unlock(&l->mu);
			free(j);
			return ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	e = pthread_create(&t, &sp->attr, conn_thread, j);
	if (e == 0)
		l->v[l->n++] = t;
	pthread_mutex_unlock(&l->mu);
	if (e != 0)
		free(j);
	return e;
}

/* accept_burst's taker: a thread for fd. */
static bool
spawn(void *arg, int fd)
{
	struct spawner *sp = arg;
	int e;

	/* Short of memory: a thread's stack more could get us killed. */
	if (mem_spawn(1) == 0) {
		conn_drop(sp->srv, fd);
		return true;
	}
	if ((e = start_thread(sp, fd)) != 0) {
		errno = e;
		conn_drop(sp->srv, fd);
		server_overload_begin(OVERLOAD_WORKERS, "pthread_create");
		acceptor_pause(&sp->acc, ACCEPT_PAUSE_MS);
		return false;
	}
	server_overload_end(OVERLOAD_WORKERS);
	return true;
}

/* workers.h's sweep: nudge every live thread (they are detached: nothing
 * to join); how many are left. */
static int
live_sweep(void *arg)
{
	struct live *l = arg;
	size_t i, n;

	pthread_mutex_lock(&l->mu);
	for (i = 0; i < l->n; i++)
		server_nudge(l->v[i]);
	n = l->n;
	pthread_mutex_unlock(&l->mu);
	return (int)n;
}

static void
live_wait(void *arg, int ms)
{
	struct live *l = arg;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ms * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->mu);
	if (l->n > 0)
		(void)pthread_cond_timedwait(&l->gone, &l->mu, &ts);
	pthread_mutex_unlock(&l->mu);
}

static int
thread_run(struct server *srv)
{
	struct live l = { .mu = PTHREAD_MUTEX_INITIALIZER,
	    .gone = PTHREAD_COND_INITIALIZER };
	struct spawner sp = { .srv = srv, .live = &l };
	struct threads t = { &l, live_sweep, live_wait };
	int err = 0;

	if (fd_set_nonblock(srv->lfd, true) == -1)
		return -errno;
	if ((errno = pthread_attr_init(&sp.attr)) != 0 ||
	    (errno = pthread_attr_setdetachstate(&sp.attr,
	    PTHREAD_CREATE_DETACHED)) != 0 ||
	    (errno = pthread_attr_setstacksize(&sp.attr, STACK_SIZE)) != 0)
		return -errno;
	acceptor_init(&sp.acc, srv, srv->lfd, 0);
	while (!server_stopping()) {
		if (acceptor_wait(&sp.acc) == 1 &&
		    accept_burst(&sp.acc, spawn, &sp) == ACCEPT_FATAL) {
			err = -sp.acc.err;
			break;
		}
	}
	threads_end(srv, &t);
	pthread_attr_destroy(&sp.attr);
	free(l.v);
	return err;
}

const struct model model_thread = {
	.name = "thread",
	.summary = "a thread per connection (UNP serv06)",
	.flags = MODEL_THREADS,
	.run = thread_run,
};
