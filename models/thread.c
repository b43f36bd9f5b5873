/*
 * thread (UNP serv06): a thread per connection.
 *
 * The main thread accepts and creates a detached thread for each
 * connection.  Live threads are listed so that a stop can reach them: the
 * main thread nudges each one (SIGUSR2, its blocked read() returns EINTR and
 * it sees the stop flag) every 50 ms until the list is empty.  Stacks are
 * 256 KiB: the connection's 64 KiB buffer lives there, and a thousand
 * threads should not reserve 8 MiB each.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "server.h"

#define STACK_SIZE	(256 * 1024)

struct live {
	pthread_mutex_t mu;
	pthread_cond_t gone;
	pthread_t *v;
	size_t n, cap;
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
 * before it was added. */
static int
spawn(struct server *srv, struct live *l, pthread_attr_t *attr, int fd)
{
	struct job *j = malloc(sizeof(*j));
	pthread_t t;
	int e;

	if (j == NULL)
		return ENOMEM;
	*j = (struct job){ srv, l, fd };
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
	e = pthread_create(&t, attr, conn_thread, j);
	if (e == 0)
		l->v[l->n++] = t;
	pthread_mutex_unlock(&l->mu);
	if (e != 0)
		free(j);
	return e;
}

static bool
none_live(void *arg)
{
	struct live *l = arg;
	bool none;

	pthread_mutex_lock(&l->mu);
	none = l->n == 0;
	pthread_mutex_unlock(&l->mu);
	return none;
}

/* Let connections finish within the grace, then nudge every thread each
 * 50 ms until all are gone (a nudge makes a blocked call return EINTR, and
 * the thread sees server_closing()). */
static void
end_threads(struct server *srv, struct live *l)
{
	struct timespec ts;
	size_t i;

	server_linger(srv, none_live, l);
	pthread_mutex_lock(&l->mu);
	while (l->n > 0) {
		for (i = 0; i < l->n; i++)
			server_nudge(l->v[i]);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&l->gone, &l->mu, &ts);
	}
	pthread_mutex_unlock(&l->mu);
}

static int
thread_run(struct server *srv)
{
	struct live l = { .mu = PTHREAD_MUTEX_INITIALIZER,
	    .gone = PTHREAD_COND_INITIALIZER };
	pthread_attr_t attr;
	int err = 0;

	if (fd_set_nonblock(srv->lfd, true) == -1)
		return -errno;
	if ((errno = pthread_attr_init(&attr)) != 0 ||
	    (errno = pthread_attr_setdetachstate(&attr,
	    PTHREAD_CREATE_DETACHED)) != 0 ||
	    (errno = pthread_attr_setstacksize(&attr, STACK_SIZE)) != 0)
		return -errno;
	while (!server_stopping()) {
		int fd, e;

		if (server_wait(srv, true, -1) != 1)
			continue;
		fd = server_accept(srv, 0, NULL, NULL);
		if (fd == -1) {
			if (server_accept_fatal(errno)) {
				err = -errno;
				break;
			}
			continue;
		}
		e = spawn(srv, &l, &attr, fd);
		if (e != 0) {
			errno = e;
			server_drop(srv, fd);
			server_overload_begin(OVERLOAD_WORKERS, "pthread_create");
			server_pause();
			continue;
		}
		server_overload_end(OVERLOAD_WORKERS);
	}
	end_threads(srv, &l);
	pthread_attr_destroy(&attr);
	free(l.v);
	return err;
}

const struct model model_thread = {
	.name = "thread",
	.summary = "a thread per connection (UNP serv06)",
	.run = thread_run,
};
