/*
 * prefork-flock (UNP serv03): a pool of processes blocking in accept(),
 * with accept serialised by an fcntl(2) record lock.
 *
 * Each child takes a write lock on a scratch file (F_SETLKW) before
 * accept() and releases it after, so one child at a time waits in accept()
 * and the others wait on the lock -- the portable answer, in UNP's day, to
 * kernels that woke every acceptor.  The file is a memfd_create(2) one,
 * on no file system (the sandbox grants none); where memfd_create is
 * missing, it is made with mkostemp() in $TMPDIR (or /tmp) and unlinked
 * at once, so nothing is left on disk.  As
 * in UNP's my_lock_init() the parent opens it once and the children
 * inherit the descriptor: that is correct for fcntl locks, which belong to
 * a process, not to an open file description, so two children holding the
 * same inherited descriptor still exclude each other (flock(2) and OFD
 * locks, which belong to the open file description, would not).  A child's
 * lock dies with it, so a killed child cannot wedge the pool.  F_SETLKW is
 * interrupted by SIGTERM like accept() is, and by a timer of the child's
 * own (SIGUSR2, whose handler does not restart calls) after the pool's
 * patience: a child whose lock holder is stopped while clients wait
 * accepts without the lock (engine/pools/policy.h).
 *
 * Pool size, growth, shrinking and stop are prefork's (see prefork.c and
 * engine/pools/policy.h): -w N at start (default 2 x CPUs, at least 4), grown to
 * keep 2 idle up to --max-workers (default 256), shrunk back to N.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "pools/procpool.h"
#include "server.h"

static int lock_fd = -1;
static timer_t lock_timer;	/* each child's own, for the lock's timeout */

static int
flock_init(void **st)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	int fd;

	if ((fd = memfd_create("concurd-lock", MFD_CLOEXEC)) != -1)
		goto have;
	if (errno != ENOSYS)
		return -1;
	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	if (snprintf(path, sizeof(path), "%s/concurd-lock.XXXXXX", dir) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkostemp(path, O_CLOEXEC)) == -1)
		return -1;
	if (unlink(path) == -1) {
		fd_close(fd);
		return -1;
	}
have:
	lock_fd = fd;
	*st = &lock_fd;
	return 0;
}

/* A timer that interrupts F_SETLKW: SIGUSR2 to this child. */
static int
flock_child_init(void *st)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL,
	    .sigev_signo = SIGUSR2 };

	(void)st;
	return timer_create(CLOCK_MONOTONIC, &sev, &lock_timer);
}

static int
setlk(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };

	return fcntl(fd, type == F_UNLCK ? F_SETLK : F_SETLKW, &fl);
}

static int
arm(int ms)
{
	struct itimerspec it = { .it_value = { ms / 1000,
	    (long)(ms % 1000) * 1000000 } };

	return timer_settime(lock_timer, 0, &it, NULL);
}

static int
flock_lock(void *st, int timeout_ms)
{
	struct itimerspec left;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int r, e;

	if (timeout_ms == 0) {
		if (fcntl(*(int *)st, F_SETLK, &fl) == 0)
			return 0;
		if (errno == EAGAIN || errno == EACCES)
			errno = ETIMEDOUT;
		return -1;
	}
	if (arm(timeout_ms) == -1)
		return -1;
	r = setlk(*(int *)st, F_WRLCK);
	e = errno;
	/* EINTR once the timer has run out is a timeout; before, another
	 * signal came, and the caller looks at the stop. */
	if (r == -1 && e == EINTR) {
		if (timer_gettime(lock_timer, &left) == -1)
			return -1;
		if (left.it_value.tv_sec == 0 && left.it_value.tv_nsec == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
	if (arm(0) == -1)
		return -1;
	errno = e;
	return r;
}

static int
flock_unlock(void *st)
{
	return setlk(*(int *)st, F_UNLCK);
}

static void
flock_fini(void *st)
{
	fd_close(*(int *)st);
	*(int *)st = -1;
}

static const struct pool_lock flock_ops = {
	.init = flock_init,
	.child_init = flock_child_init,
	.lock = flock_lock,
	.unlock = flock_unlock,
	.fini = flock_fini,
};

static int
prefork_flock_run(struct server *srv)
{
	return pool_prefork_run(srv, &flock_ops);
}

const struct model model_prefork_flock = {
	.name = "prefork-flock",
	.summary = "preforked pool, accept under an fcntl lock (UNP serv03)",
	.flags = MODEL_POOL | MODEL_PROCESS,
	.run = prefork_flock_run,
};
