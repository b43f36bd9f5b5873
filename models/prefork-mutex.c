/*
 * prefork-mutex (UNP serv04): a pool of processes blocking in accept(),
 * with accept serialised by a process-shared pthread mutex.
 *
 * The mutex lives in MAP_SHARED anonymous memory mapped before the first
 * fork, initialised PTHREAD_PROCESS_SHARED.  It is also robust
 * (PTHREAD_MUTEX_ROBUST): if a child dies holding it -- killed while in
 * accept() -- the next child to lock it gets EOWNERDEAD, marks it
 * consistent and carries on, instead of the pool hanging forever.  Unlike
 * fcntl's F_SETLKW, pthread_mutex_lock() is not interrupted by signals: on
 * stop, the child holding the mutex sees EINTR in accept(), unlocks and
 * exits, and each waiter in turn gets the mutex, sees the stop flag and
 * exits too.  A waiter waits at most the pool's patience
 * (pthread_mutex_timedlock): one whose holder is stopped while clients
 * wait accepts without the mutex (engine/pools/policy.h).
 *
 * Pool size, growth, shrinking and stop are prefork's (see prefork.c and
 * engine/pools/policy.h): -w N at start (default 2 x CPUs, at least 4), grown to
 * keep 2 idle up to --max-workers (default 256), shrunk back to N.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include "log.h"
#include "pools/policy.h"
#include "pools/procpool.h"
#include "server.h"

static int
mutex_init(void **st)
{
	pthread_mutexattr_t a;
	pthread_mutex_t *m;
	int e;

	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	if ((e = pthread_mutexattr_init(&a)) != 0)
		goto out;
	if ((e = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) ||
	    (e = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) ||
	    (e = pthread_mutex_init(m, &a))) {
		pthread_mutexattr_destroy(&a);
		goto out;
	}
	pthread_mutexattr_destroy(&a);
	*st = m;
	return 0;
out:
	(void)munmap(m, sizeof(*m));
	errno = e;
	return -1;
}

static int
mutex_lock(void *st, int timeout_ms)
{
	struct timespec t;
	int e;

	if (timeout_ms == 0) {
		e = pthread_mutex_trylock(st);
		if (e == EBUSY)
			e = ETIMEDOUT;
	} else {
		pool_deadline(&t, timeout_ms);
		e = pthread_mutex_timedlock(st, &t);
	}
	if (e == EOWNERDEAD) {
		/* Its holder died in accept(): nothing to repair. */
		log_info("accept mutex: previous holder died; recovered");
		e = pthread_mutex_consistent(st);
	}
	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}

static int
mutex_unlock(void *st)
{
	int e = pthread_mutex_unlock(st);

	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}

static void
mutex_fini(void *st)
{
	(void)pthread_mutex_destroy(st);
	(void)munmap(st, sizeof(pthread_mutex_t));
}

static const struct pool_lock mutex_ops = {
	.init = mutex_init,
	.lock = mutex_lock,
	.unlock = mutex_unlock,
	.fini = mutex_fini,
};

static int
prefork_mutex_run(struct server *srv)
{
	return pool_prefork_run(srv, &mutex_ops);
}

const struct model model_prefork_mutex = {
	.name = "prefork-mutex",
	.summary = "preforked pool, accept under a shared pthread mutex (UNP serv04)",
	.flags = MODEL_POOL | MODEL_PROCESS,
	.run = prefork_mutex_run,
};
