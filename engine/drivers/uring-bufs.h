/*
 * uring-bufs: the completion driver's receive buffers, provided to the
 * kernel (see uring-bufs.c), and the submission queue helper both use.
 */
#ifndef CONCUR_DRIVERS_URING_BUFS_H
#define CONCUR_DRIVERS_URING_BUFS_H

#ifdef HAVE_LIBURING

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "service.h"

#define NBUF		128	/* receive buffers per ring (power of 2) */
#define BUF_SIZE	(16 * 1024)	/* 2 MiB per ring, touched as used */
#define NBIG		16	/* 64 KiB buffers for large transfers */
#define BIG_SIZE	SVC_RECV_MAX	/* 1 MiB per ring */
#define BGID		0
#define BGID_BIG	1
#define BID_BIG		0x8000	/* in a bid: from the big pool */
#define NO_BID		0xffff

struct ubufs {
	struct io_uring *ring;
	uint64_t ignore;	/* user_data of a request that needs no answer */
	char *bufs;		/* NBUF * BUF_SIZE */
	struct io_uring_buf_ring *br;	/* NULL: legacy provided buffers */
	int br_pending;		/* added to br, not yet published */
	char *big;		/* NBIG * BIG_SIZE */
	struct io_uring_buf_ring *brbig;
	int brbig_pending;
	bool legacy;		/* no buffer rings: PROVIDE_BUFFERS */
	int nfree;		/* small buffers the kernel can use */
};

/* A submission queue entry, flushing a full queue to make room. */
struct io_uring_sqe *uring_sqe(struct io_uring *ring);

/* 0, or -errno.  ignore: the user_data the ring's owner gives requests
 * whose completion says nothing (the legacy way's PROVIDE_BUFFERS). */
int bufs_init(struct ubufs *b, struct io_uring *ring, uint64_t ignore);
/* bid: a small buffer's number, or BID_BIG | a big one's. */
char *buf_at(struct ubufs *b, unsigned bid);
void buf_put(struct ubufs *b, unsigned bid);
/* Make the buffers put back since the last call visible to the kernel. */
void bufs_publish(struct ubufs *b);
void bufs_free(struct ubufs *b);

#endif /* HAVE_LIBURING */
#endif
