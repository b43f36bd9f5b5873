/*
 * diskpool: a few threads that read files into the page cache, so that an
 * event loop never waits on a disk (nginx's `aio threads`).
 *
 * The readiness driver asks the kernel whether the next piece of a file
 * range is in the page cache (cachestat(2); preadv2(RWF_NOWAIT) where
 * there is none) before it sendfile()s it, and the completion driver
 * before its ring reads it.  If it is not, the driver hands the piece to
 * this pool and stops watching the connection; a pool thread brings the
 * piece into the cache (splice(2) into a pipe it then closes: the pages,
 * not the bytes, and no copy of them), and writes the job's eventfd; the
 * loop sees it (epoll, or a poll on the ring), and sendfile() or the
 * ring's read then finds every page in memory.  The threads are named
 * concurd-disk.
 *
 * A job owns a duplicate of the file descriptor, so the service may close
 * its own at any time.  The loop and the pool thread each hold the job
 * until they let go (djob_put): the loop once it has seen the eventfd, or
 * when the connection ends first (a reset, a timeout, the stop); the
 * thread once it has written the eventfd.  Whichever lets go last frees
 * the job and closes its descriptors, so the thread never writes an
 * eventfd the loop has closed (whose number may already be a client's).
 */
#ifndef CONCUR_DISKPOOL_H
#define CONCUR_DISKPOOL_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

enum { DJ_RUNNING, DJ_DONE };

#define DISK_WINDOW	(2u << 20)	/* of a file range, probed at once */

/* The next window of a range with len bytes left. */
static inline uint64_t
disk_window(uint64_t len)
{
	return len < DISK_WINDOW ? len : DISK_WINDOW;
}

struct djob {
	int file;		/* the job's own duplicate */
	int efd;		/* eventfd: written when done */
	off_t off;
	uint64_t len;
	_Atomic int state;	/* DJ_DONE before the eventfd is written */
	_Atomic int refs;	/* the loop's and the thread's */
	int err;		/* 0, or the errno the read ended with */
	uint64_t got;		/* bytes read */
	struct djob *next;	/* the pool's queue */
};

/* A job to read [off, off + len) of fd: the job (state DJ_RUNNING, its
 * eventfd not yet written), or NULL with errno. */
struct djob *djob_new(int fd, off_t off, uint64_t len);
/* Queue it: 0, or -1 with errno (no thread could start). */
int djob_submit(struct djob *j);
/* -vv: connection id's job, and why its bytes were not in the cache. */
void djob_say(const struct djob *j, uint64_t id, const char *why);
/* A job never queued: free it now (closes its descriptors). */
void djob_free(struct djob *j);
/* Let go of a queued job: the loop when it has seen the eventfd (the job
 * is done), or when the connection ends before that. */
void djob_put(struct djob *j);

/* A file range of len bytes begins: if it is longer than a window, no
 * readahead on fd.  The probe counts pages the kernel is still reading
 * ahead as cached, and a send or read of them waits for the disk; so the
 * pool, not readahead, brings what is missing, a window at a time.  (A
 * job's descriptor shares the file description: the pool reads just its
 * window too.) */
void disk_range_begins(int fd, uint64_t len);

/* Is [off, off + len) of fd all in the page cache?  1 yes, 0 no, -1 the
 * kernel cannot say (then the caller sends, as without a probe). */
int page_cached(int fd, off_t off, uint64_t len);

#endif
