/*
 * diskpool: a few threads that read files into the page cache, so that an
 * event loop never waits on a disk (nginx's `aio threads`).
 *
 * The readiness driver asks the kernel whether the next piece of a file
 * range is in the page cache (cachestat(2); preadv2(RWF_NOWAIT) where
 * there is none) before it sendfile()s it.  If it is not, it hands the
 * piece to this pool and stops watching the connection; a pool thread
 * reads the piece (pread, into a buffer of its own: the point is the page
 * cache, not the bytes), and writes the job's eventfd; the loop sees it,
 * and sendfile() then finds every page in memory.
 *
 * A job owns a duplicate of the file descriptor, so the service may close
 * its own at any time.  The connection may end first (a reset, a timeout,
 * the stop): it abandons the job, and whichever of the two comes last
 * frees it and closes its descriptors.
 */
#ifndef CONCUR_DISKPOOL_H
#define CONCUR_DISKPOOL_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

enum { DJ_RUNNING, DJ_DONE, DJ_ABANDONED };

struct djob {
	int file;		/* the job's own duplicate */
	int efd;		/* eventfd: written when done */
	off_t off;
	uint64_t len;
	_Atomic int state;
	int err;		/* 0, or the errno the read ended with */
	uint64_t got;		/* bytes read */
	struct djob *next;	/* the pool's queue */
};

/* A job to read [off, off + len) of fd: the job (state DJ_RUNNING, its
 * eventfd not yet written), or NULL with errno. */
struct djob *djob_new(int fd, off_t off, uint64_t len);
/* Queue it: 0, or -1 with errno (no thread could start). */
int djob_submit(struct djob *j);
/* The loop saw the eventfd: the job is done; free it (closes the
 * eventfd). */
void djob_free(struct djob *j);
/* The connection ends before the job: the pool frees it when it is
 * done, or this does if it is. */
void djob_abandon(struct djob *j);

/* Is [off, off + len) of fd all in the page cache?  1 yes, 0 no, -1 the
 * kernel cannot say (then the caller sends, as without a probe). */
int page_cached(int fd, off_t off, uint64_t len);

#endif
