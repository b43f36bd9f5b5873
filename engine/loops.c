/*
 * loops: start, wake, linger and join N event loops.  See loops.h.
 */
#include "loops.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "stop.h"

struct runner {
	const struct loop_class *lc;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *loops;		/* n loops of lc->size bytes */
	int n;
};

static struct loop_base *
loop_at(struct runner *r, int i)
{
	return (struct loop_base *)(void *)(r->loops + (size_t)i * r->lc->size);
}

int
loops_count(const struct server *srv)
{
	int n = srv->workers > 0 ? srv->workers : srv->ncpu;

	if (n < 1)
		n = 1;
	return n > MAX_WORKER_SLOTS ? MAX_WORKER_SLOTS : n;
}

void
loop_woken(struct loop_base *lb)
{
	eventfd_t junk;

	(void)eventfd_read(lb->wakefd, &junk);
}

void
loop_fail(struct loop_base *lb, int err, const char *what)
{
	log_warnx("%s: loop %d: %s: %s", lb->srv->model->name, lb->id, what,
	    strerror(-err));
	if (lb->err == 0)
		lb->err = err;
	server_request_stop();
}

struct start {
	struct runner *r;
	struct loop_base *lb;
};

static void *
loop_thread(void *arg)
{
	struct runner *r = ((struct start *)arg)->r;
	struct loop_base *lb = ((struct start *)arg)->lb;
	int e;

	free(arg);
	server_block_signals();
	e = r->lc->setup(lb);
	pthread_mutex_lock(&r->mu);
	lb->err = e;
	lb->ready = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	if (e == 0)
		r->lc->run(lb);
	r->lc->teardown(lb);
	return NULL;
}

/* Start loop i and wait until it is set up: 0, or -errno. */
static int
start_one(struct server *srv, struct runner *r, int i)
{
	struct loop_base *lb = loop_at(r, i);
	struct start *s;
	int e;

	lb->srv = srv;
	lb->lc = r->lc;
	lb->id = i;
	lb->nloops = r->n;
	/* One eventfd per loop: each reads its own back to zero. */
	if ((lb->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		return -errno;
	if ((s = malloc(sizeof(*s))) == NULL)
		return -errno;
	*s = (struct start){ r, lb };
	if ((e = pthread_create(&lb->thread, NULL, loop_thread, s)) != 0) {
		free(s);
		log_warnx("%s: loop %d: pthread_create: %s", r->lc->name, i,
		    strerror(e));
		return -e;
	}
	pthread_mutex_lock(&r->mu);
	while (!lb->ready)
		pthread_cond_wait(&r->cv, &r->mu);
	e = lb->err;
	pthread_mutex_unlock(&r->mu);
	if (e != 0)
		log_warnx("%s: loop %d: cannot set up: %s", r->lc->name, i,
		    strerror(-e));
	return e;
}

static void
wake_all(struct runner *r, int started)
{
	int i;

	for (i = 0; i < started; i++)
		if (eventfd_write(loop_at(r, i)->wakefd, 1) == -1)
			log_warn("%s: wake loop %d", r->lc->name, i);
}

static bool
no_active(void *arg)
{
	struct server *srv = arg;

	return atomic_load(&srv->stats->active) <= 0;
}

int
loops_run(struct server *srv, const struct loop_class *lc)
{
	struct runner r = { .lc = lc, .mu = PTHREAD_MUTEX_INITIALIZER,
	    .cv = PTHREAD_COND_INITIALIZER };
	int i, started = 0, err = 0;

	r.n = loops_count(srv);
	if ((r.loops = calloc((size_t)r.n, lc->size)) == NULL)
		return -errno;
	for (i = 0; i < r.n; i++)
		loop_at(&r, i)->wakefd = -1;
	server_set_workers(srv, r.n);
	for (i = 0; i < r.n && err == 0; i++) {
		err = start_one(srv, &r, i);
		if (loop_at(&r, i)->ready)
			started++;
	}
	while (err == 0 && !server_stopping())
		(void)server_wait(srv, -1, -1);
	server_request_stop();
	wake_all(&r, started);		/* accept no more */
	if (err == 0)
		server_linger(srv, no_active, srv);
	server_request_close();
	wake_all(&r, started);		/* close what is left */
	for (i = 0; i < started; i++) {
		struct loop_base *lb = loop_at(&r, i);

		pthread_join(lb->thread, NULL);
		if (err == 0 && lb->err != 0)
			err = lb->err;
	}
	for (i = 0; i < r.n; i++)
		if (loop_at(&r, i)->wakefd != -1)
			close(loop_at(&r, i)->wakefd);
	free(r.loops);
	return err;
}
