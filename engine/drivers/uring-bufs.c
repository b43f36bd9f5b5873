/*
 * uring-bufs: the completion driver's receive buffers, provided to the
 * kernel so that a receive picks one only when data arrives: an idle
 * connection holds none.
 *
 * Two pools per ring: NBUF buffers of 16 KiB, and NBIG of 64 KiB for large
 * transfers (a receive that fills a small buffer says more is waiting; the
 * connection's next receive picks from the big pool until a receive would
 * have fitted a small buffer again).  Together 3 MiB per ring at most,
 * touched as used.  Where the kernel has no buffer rings (before 5.19) they
 * are provided with IORING_OP_PROVIDE_BUFFERS, one request per return.
 */
#ifdef HAVE_LIBURING

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "drivers/uring-bufs.h"
#include "log.h"

/* bid: a small pool buffer, or BID_BIG | n for big buffer n. */
struct io_uring_sqe *
uring_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe;

	/* A full SQ is flushed to the kernel; that always makes room. */
	while ((sqe = io_uring_get_sqe(ring)) == NULL)
		(void)io_uring_submit(ring);
	return sqe;
}

char *
buf_at(struct ubufs *lp, unsigned bid)
{
	if (bid & BID_BIG)
		return lp->big + (size_t)(bid & ~BID_BIG) * BIG_SIZE;
	return lp->bufs + (size_t)bid * BUF_SIZE;
}

void
buf_put(struct ubufs *lp, unsigned bid)
{
	bool big = bid & BID_BIG;
	unsigned n = bid & ~BID_BIG;
	unsigned size = big ? BIG_SIZE : BUF_SIZE;

	if (!lp->legacy) {
		io_uring_buf_ring_add(big ? lp->brbig : lp->br, buf_at(lp, bid),
		    size, (unsigned short)n,
		    io_uring_buf_ring_mask(big ? NBIG : NBUF),
		    big ? lp->brbig_pending++ : lp->br_pending++);
	} else {
		struct io_uring_sqe *sqe = uring_sqe(lp->ring);

		io_uring_prep_provide_buffers(sqe, buf_at(lp, bid), (int)size,
		    1, big ? BGID_BIG : BGID, (int)n);
		io_uring_sqe_set_data64(sqe, lp->ignore);
	}
	if (!big)
		lp->nfree++;	/* the starved wait for small ones only */
}

/* A buffer ring of n entries for group bgid, or NULL (errno set). */
static struct io_uring_buf_ring *
ring_register(struct ubufs *lp, unsigned n, int bgid, int *err)
{
	struct io_uring_buf_reg reg;
	struct io_uring_buf_ring *br;
	size_t size = n * sizeof(struct io_uring_buf);

	br = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	io_uring_buf_ring_init(br);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)br;
	reg.ring_entries = n;
	reg.bgid = (unsigned short)bgid;
	if ((*err = io_uring_register_buf_ring(lp->ring, &reg, 0)) < 0) {
		munmap(br, size);
		return NULL;
	}
	return br;
}

static void *
pool_map(size_t size, int *err)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	return p;
}

int
bufs_init(struct ubufs *lp, struct io_uring *ring, uint64_t ignore)
{
	struct io_uring_sqe *sqe;
	unsigned i;
	int r = 0;

	lp->ring = ring;
	lp->ignore = ignore;
	if ((lp->bufs = pool_map((size_t)NBUF * BUF_SIZE, &r)) == NULL ||
	    (lp->big = pool_map((size_t)NBIG * BIG_SIZE, &r)) == NULL)
		return r;
	lp->br = ring_register(lp, NBUF, BGID, &r);
	if (lp->br != NULL &&
	    (lp->brbig = ring_register(lp, NBIG, BGID_BIG, &r)) == NULL)
		return r;
	if (lp->br == NULL) {
		/* Before 5.19: the legacy way, one PROVIDE_BUFFERS per return. */
		log_debug("uring: no buffer rings (%s); providing buffers",
		    strerror(-r));
		lp->legacy = true;
		sqe = uring_sqe(lp->ring);
		io_uring_prep_provide_buffers(sqe, lp->bufs, BUF_SIZE, NBUF,
		    BGID, 0);
		io_uring_sqe_set_data64(sqe, lp->ignore);
		sqe = uring_sqe(lp->ring);
		io_uring_prep_provide_buffers(sqe, lp->big, BIG_SIZE, NBIG,
		    BGID_BIG, 0);
		io_uring_sqe_set_data64(sqe, lp->ignore);
		lp->nfree = NBUF;
		return 0;
	}
	for (i = 0; i < NBUF; i++)
		buf_put(lp, i);
	for (i = 0; i < NBIG; i++)
		buf_put(lp, BID_BIG | i);
	return 0;
}

void
bufs_publish(struct ubufs *lp)
{
	if (lp->br_pending > 0) {
		io_uring_buf_ring_advance(lp->br, lp->br_pending);
		lp->br_pending = 0;
	}
	if (lp->brbig_pending > 0) {
		io_uring_buf_ring_advance(lp->brbig, lp->brbig_pending);
		lp->brbig_pending = 0;
	}
}

void
bufs_free(struct ubufs *lp)
{
	if (lp->br != NULL)
		munmap(lp->br, NBUF * sizeof(struct io_uring_buf));
	if (lp->brbig != NULL)
		munmap(lp->brbig, NBIG * sizeof(struct io_uring_buf));
	if (lp->bufs != NULL)
		munmap(lp->bufs, (size_t)NBUF * BUF_SIZE);
	if (lp->big != NULL)
		munmap(lp->big, (size_t)NBIG * BIG_SIZE);
}

#endif /* HAVE_LIBURING */
