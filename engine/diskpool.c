/*
 * diskpool: threads that bring file pieces into the page cache for the
 * event loops.  See diskpool.h.
 *
 * DISKPOOL_THREADS threads, started with the first job (a server that
 * never reads a cold file never has them), shared by every loop of the
 * process, taking jobs from one queue under one lock: jobs are rare (a
 * cold piece of a file, a megabyte or more each), so the lock is not on
 * any hot path.  Several threads, not one, so that several cold files are
 * read at once (a disk serves a queue of reads faster than one at a time).
 */
#include "diskpool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"

#ifndef DISKPOOL_THREADS
#define DISKPOOL_THREADS	4
#endif
#define READ_CHUNK		(256 * 1024)
#define FILL_PIPE		(1024 * 1024)	/* the default pipe-max-size */

#ifndef __NR_cachestat
#define __NR_cachestat	451	/* Linux 6.5; the same number everywhere */
#endif

struct cachestat_range_ {
	uint64_t off, len;
};
struct cachestat_ {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted,
	    nr_recently_evicted;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct djob *qhead, **qtail = &qhead;
static int nthreads;
static atomic_bool no_cachestat;

/* Bring [*off, *off + *left) into the page cache, copying nothing:
 * splice(2) into a pipe takes a reference to each page, waiting for the
 * disk as read(2) would, and closing the pipe lets them go.  0 (done, or
 * the file ended), -1 (j->err set), or 1: this file cannot be spliced,
 * read it instead. */
static int
fill(struct djob *j, loff_t *off, uint64_t *left)
{
	int p[2];
	ssize_t r;
	size_t n;

	while (*left > 0) {
		if (pipe2(p, O_CLOEXEC) == -1)
			return 1;
		/* 16 pages unless it may hold more (pipe-max-size). */
		(void)fcntl(p[1], F_SETPIPE_SZ, FILL_PIPE);
		n = *left < FILL_PIPE ? (size_t)*left : FILL_PIPE;
		do
			r = splice(j->file, off, p[1], NULL, n, 0);
		while (r == -1 && errno == EINTR);
		close(p[0]);
		close(p[1]);
		if (r == -1 && (errno == EINVAL || errno == ENOSYS))
			return 1;
		if (r == -1) {
			j->err = errno;
			return -1;
		}
		if (r == 0)
			return 0;	/* shorter than it was: sendfile says so */
		*left -= (uint64_t)r;
		j->got += (uint64_t)r;
	}
	return 0;
}

/* Read the piece into the page cache: spliced, or where that cannot be,
 * read into buf and thrown away (without buf: as much as was spliced). */
static void
work(struct djob *j, char *buf)
{
	uint64_t left = j->len;
	loff_t off = j->off;
	ssize_t r;

	/* Just the window: no readahead past it (the loop's description
	 * too, as it is shared: the loop sends once this is done). */
	(void)posix_fadvise(j->file, 0, 0, POSIX_FADV_RANDOM);
	if (fill(j, &off, &left) != 1 || buf == NULL)
		left = 0;
	while (left > 0) {
		r = pread(j->file, buf, left < READ_CHUNK ? (size_t)left :
		    READ_CHUNK, off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			j->err = errno;
			break;
		}
		if (r == 0)
			break;		/* shorter than it was: sendfile says so */
		off += r;
		left -= (uint64_t)r;
		j->got += (uint64_t)r;
	}
	close(j->file);
	j->file = -1;
	/* Done, then the word: the loop reads got and err once it sees the
	 * eventfd, which stays open until this thread lets go. */
	atomic_store_explicit(&j->state, DJ_DONE, memory_order_release);
	if (eventfd_write(j->efd, 1) == -1)
		log_warn("diskpool: eventfd");
	djob_put(j);
}

static void *
worker(void *arg)
{
	char *buf = malloc(READ_CHUNK);
	struct djob *j;

	(void)arg;
	/* Named, for ps -L and top -H (and the tests): 15 bytes at most. */
	(void)pthread_setname_np(pthread_self(), "concurd-disk");
	for (;;) {
		pthread_mutex_lock(&mu);
		while (qhead == NULL)
			pthread_cond_wait(&cv, &mu);
		j = qhead;
		if ((qhead = j->next) == NULL)
			qtail = &qhead;
		pthread_mutex_unlock(&mu);
		work(j, buf);
	}
	return NULL;
}

/* Start the threads (under mu): the number running. */
static int
start_threads(void)
{
	pthread_attr_t a;
	pthread_t t;
	sigset_t all, old;
	int e = 0;

	if (pthread_attr_init(&a) != 0)
		return nthreads;
	(void)pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	(void)pthread_attr_setstacksize(&a, 64 * 1024);
	/* The pool takes no signal: they are the server's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (nthreads < DISKPOOL_THREADS &&
	    (e = pthread_create(&t, &a, worker, NULL)) == 0)
		nthreads++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	if (nthreads == 0)
		errno = e;
	return nthreads;
}

struct djob *
djob_new(int fd, off_t off, uint64_t len)
{
	struct djob *j = calloc(1, sizeof(*j));
	int e;

	if (j == NULL)
		return NULL;
	j->off = off;
	j->len = len;
	atomic_init(&j->state, DJ_RUNNING);
	atomic_init(&j->refs, 2);
	if ((j->file = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		free(j);
		return NULL;
	}
	if ((j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		e = errno;
		close(j->file);
		free(j);
		errno = e;
		return NULL;
	}
	return j;
}

void
djob_say(const struct djob *j, uint64_t id, const char *why)
{
	log_debug("conn %llu: bytes %lld to %lld %s: the disk pool reads them",
	    (unsigned long long)id, (long long)j->off,
	    (long long)(j->off + (off_t)j->len), why);
}

int
djob_submit(struct djob *j)
{
	pthread_mutex_lock(&mu);
	if (nthreads == 0 && start_threads() == 0) {
		pthread_mutex_unlock(&mu);
		return -1;
	}
	j->next = NULL;
	*qtail = j;
	qtail = &j->next;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	return 0;
}

void
djob_free(struct djob *j)
{
	if (j->file >= 0)
		close(j->file);
	close(j->efd);
	free(j);
}

void
djob_put(struct djob *j)
{
	if (atomic_fetch_sub(&j->refs, 1) == 1)
		djob_free(j);
}

void
disk_range_begins(int fd, uint64_t len)
{
	if (len > DISK_WINDOW)
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
}

int
page_cached(int fd, off_t off, uint64_t len)
{
	struct cachestat_range_ r = { (uint64_t)off, len };
	struct cachestat_ cs;
	uint64_t first, last, pg = (uint64_t)sysconf(_SC_PAGESIZE);
	struct iovec iov;
	char byte;
	ssize_t n;

	if (len == 0)
		return 1;
	if (!atomic_load_explicit(&no_cachestat, memory_order_relaxed)) {
		if (syscall(__NR_cachestat, fd, &r, &cs, 0) == 0) {
			first = (uint64_t)off / pg;
			last = ((uint64_t)off + len - 1) / pg;
			return cs.nr_cache >= last - first + 1 ? 1 : 0;
		}
		if (errno != ENOSYS && errno != EPERM)
			return -1;
		atomic_store(&no_cachestat, true);
	}
	/* Before cachestat: the range's first and last bytes, without
	 * waiting (RWF_NOWAIT says EAGAIN for a page not in memory). */
	iov.iov_base = &byte;
	iov.iov_len = 1;
	n = preadv2(fd, &iov, 1, off, RWF_NOWAIT);
	if (n == 1)
		n = preadv2(fd, &iov, 1, off + (off_t)len - 1, RWF_NOWAIT);
	if (n == 1 || n == 0)
		return 1;
	return n == -1 && errno == EAGAIN ? 0 : -1;
}
