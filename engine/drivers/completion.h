/*
 * completion: the completion driver -- a service run on io_uring, where a
 * receive or a send is a request whose completion comes later -- with its
 * receive buffer pools (drivers/uring-bufs.c) and the loop state it shares
 * with the uring model's loop (models/uring.c).  Private to those files.
 */
#ifndef CONCUR_DRIVERS_COMPLETION_H
#define CONCUR_DRIVERS_COMPLETION_H

#ifdef HAVE_LIBURING

#include <liburing.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/socket.h>

#include "accept.h"
#include "admit.h"
#include "drivers/uring-bufs.h"
#include "loops.h"
#include "service.h"

/* user_data: a struct uconn pointer (from malloc: 16-aligned) or nothing,
 * plus a tag in the low 4 bits. */
enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_READ, OP_STOP, OP_BACKOFF,
    OP_TICK, OP_IGNORE, OP_DISK };
#define OP_MASK		15u
#define UD(p, op)	((uint64_t)(uintptr_t)(p) | (uint64_t)(op))

struct uconn {
	struct uconn *next, *prev;	/* the loop's connections */
	struct uconn *snext;		/* the loop's starved list */
	int fd;
	uint16_t out_bid;	/* buffer the pending output points into */
	char *own;		/* unsent output a slow reader left, or NULL */
	char *held;		/* input a multishot receive brought while
				 * output was pending (a copy), or NULL */
	size_t held_len, held_off;	/* ...its length, and how much of it
					 * input() has had */
	bool recv_armed, recv_cancel, sending, closing, starved;
	bool rd_eof, eof_done, done, need_more;
	bool bulk;		/* receive from the big pool */
	bool recv_big;		/* the receive in flight is from the big pool */
	bool send_nowait;	/* the send in flight may not wait */
	bool reading;		/* a read of the file range is in flight */
	bool read_big;		/* ...into a buffer of the big pool */
	bool read_small;	/* the big pool was dry: small ones next */
	bool read_nowait;	/* ...with RWF_NOWAIT */
	bool read_async;	/* the file said EAGAIN (not in the page
				 * cache): read in io_uring's workers
				 * from now on */
	bool file_short;	/* the disk pool found the file ends early */
	bool started;		/* the service's start() was called */
	bool moving;		/* going to another ring once quiet */
	bool recv_ms;		/* the receive in flight is multishot */
	bool recv_lim;		/* ...and asked to end after MS_LIMIT bytes */
	bool one_shot;		/* single-shot receives from now on */
	int err;		/* the errno that ended it, or 0 */
	uint8_t inflight;	/* requests whose last CQE has not come */
	struct svc_out out;	/* output being sent (advanced on short sends) */
	struct djob *job;	/* the disk pool reading the file, or NULL */
	off_t cached_to;	/* the file is in the page cache up to here */
	struct msghdr msg;	/* for two slices */
	uint64_t in, sent;
	uint32_t ms_in;		/* bytes the multishot receive brought */
	uint64_t last_us;	/* last completion (--idle-timeout) */
	uint64_t acked;		/* acknowledged at the last look (idle.h) */
	struct conn_meta meta;
	struct svc_conn sc;
	alignas(max_align_t) unsigned char st[];
};

struct uloop {
	struct loop_base base;	/* first: the loop runner's */
	const struct service *svc;
	struct io_uring ring;
	bool ring_ok;
	struct acceptor acc;

	struct ubufs b;		/* receive buffers: drivers/uring-bufs.c */

	/* what this kernel has */
	bool recv_multishot, recv_poll_first, accept_multishot;
	bool recv_ms_limit;	/* a multishot receive ends at a byte limit */
	bool deferred;		/* the listener defers accepts: a connection
				 * comes with its first data */
	bool no_nowait;		/* files said EOPNOTSUPP to RWF_NOWAIT */
	atomic_bool single_accept;	/* the main thread: another ring
					 * started, accept one at a time */
	/* the loop's own requests: models/uring.c */
	bool accept_armed, backoff_armed, wake_armed, tick_armed;
	bool stopping;		/* closing: every connection is ended */
	bool draining;		/* stop with grace: no accepts, conns go on */
	bool poll_accept;	/* --max-conns: poll the listener, then
				 * accept_burst() reserves exactly */
	struct __kernel_timespec tick_ts, backoff_ts;
	bool starve_logged;

	struct uconn *conns, *starved, *freelist;
	int nconns, nfreelist;
	/* Handing connections to a ring just started (engine/loops.h): the
	 * main thread sets give_to, then give_k (give 1/k of them). */
	struct uloop *_Atomic give_to;
	_Atomic int give_k;
	pthread_mutex_t inbox_mu;
	struct uconn *inbox;		/* under inbox_mu */
	atomic_bool has_inbox;
};

/* Cancel the request tagged ud. */
void uring_cancel(struct uloop *lp, uint64_t ud);

/* The driver.  uc_new: accept_burst's taker (fd counted as active
 * already).  uc_on_recv/uc_on_send: a connection's completions.  uc_end:
 * ask for its end (idle timeout, stop), uc_progress after it.
 * uc_discard: free it now, whatever the kernel holds (a failed stop). */
bool uc_new(void *loop, int fd);
void uc_on_recv(struct uloop *lp, struct uconn *c, int res, unsigned flags);
void uc_on_send(struct uloop *lp, struct uconn *c, int res);
void uc_on_read(struct uloop *lp, struct uconn *c, int res, unsigned flags);
/* The disk pool's job for c is done (res: the eventfd's poll). */
void uc_on_disk(struct uloop *lp, struct uconn *c, int res);
void uc_end(struct uloop *lp, struct uconn *c, int err);
void uc_progress(struct uloop *lp, struct uconn *c);
void uc_discard(struct uloop *lp, struct uconn *c);
/* The hand-over: mark 1/give_k of the quiet connections to move (their
 * receive is cancelled; each goes once nothing of it is in flight), and
 * take in what another ring handed us (progress: arm them here). */
void uc_give_away(struct uloop *lp);
void uc_take_inbox(struct uloop *lp, bool progress);

#endif /* HAVE_LIBURING */
#endif
