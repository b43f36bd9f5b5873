/*
 * uring: completion-based loops on io_uring, one ring per worker thread.
 *
 * Each worker owns a ring, its connections and a pool of receive buffers;
 * nothing is shared but the listener and the counters, so the request path
 * takes no lock.  On the ring:
 *   - a multishot accept on the shared listener (the kernel wakes one ring
 *     per connection: accept polls are exclusive);
 *   - per connection, a receive that picks its buffer from the worker's
 *     provided-buffer ring when data arrives, so an idle connection holds
 *     no buffer at all, only its struct conn (about 150 bytes plus the
 *     service state); services that never reply (SVC_READ_ALWAYS) get a
 *     multishot receive, and their buffers go straight back;
 *   - sends straight from what the service emitted: for echo that is the
 *     provided buffer itself, which goes back to the pool when the send
 *     completes.  No copy, no allocation per request.
 * An echoed message costs one receive completion and one send completion,
 * and a loop iteration is one io_uring_enter (io_uring_submit_and_wait).
 *
 * Backpressure (service.h rule 4): a connection is not read while its
 * output is pending.  A send from a pool buffer may not wait (MSG_DONTWAIT):
 * what the socket does not take at once is copied into the connection's
 * own buffer (malloc'd, at most SVC_EMIT_MAX, freed once sent) and the
 * pool buffer goes back, so a peer that never reads holds one emission of
 * its own, never the pool other connections need.
 *
 * Large transfers: a receive that fills a 16 KiB buffer says more is
 * waiting; the connection's next receive picks from a second, smaller pool
 * of 64 KiB buffers (one receive and one send per SVC_RECV_MAX, like the
 * readiness loops' reads) until a receive would have fitted a small buffer
 * again; if that pool is dry it just uses the small one.  With 16 KiB
 * buffers alone a 256 KiB message took sixteen receive/send round trips in
 * turn: x0.43 of the epoll reference's rate at 256 KiB ping-pong
 * (docs/peers.md).  Both pools are provided buffers, so an idle connection
 * holds none, whatever it sent before; together 3 MiB per ring at most,
 * touched as used.
 *
 * Where the kernel is older: without buffer rings (before 5.19) buffers are
 * provided with IORING_OP_PROVIDE_BUFFERS; without multishot receive or
 * accept (before 6.0 / 5.19) single-shot ones are re-armed after each
 * completion.  The pool running dry (ENOBUFS) parks the connection until a
 * buffer comes back; EMFILE on accept stops accepting for 100 ms (a timeout
 * on the ring), so nothing spins.
 *
 * Stop: the main thread writes an eventfd that every ring polls; each
 * worker cancels its accept and every connection's requests, closes the
 * connections as their last completion comes in, and returns.
 *
 * Shared listener versus SO_REUSEPORT: main creates one listener before the
 * model runs; every ring accepts on it.  The kernel hands each connection to
 * one waiting ring (exclusive wake-up), and idle rings get new connections,
 * which reuseport's hash would not do.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "server.h"

#ifdef HAVE_LIBURING

#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "net.h"

#define SQ_ENTRIES	512
#define CQ_ENTRIES	4096	/* multishot requests post many CQEs */
#define NBUF		128	/* receive buffers per ring (power of 2) */
#define BUF_SIZE	(16 * 1024)	/* 2 MiB per ring, touched as used */
#define NBIG		16	/* 64 KiB buffers for large transfers */
#define BIG_SIZE	SVC_RECV_MAX	/* 1 MiB per ring */
#define BGID_BIG	1
#define BID_BIG		0x8000	/* in a bid: from the big pool */
#define BGID		0
#define NO_BID		0xffff
#define FREE_MAX	256	/* struct conns kept for reuse */
#define BACKOFF_MS	100	/* accept pause on EMFILE */
#define STOP_WAIT_S	5	/* stop: wait this long for cancellations */

/* user_data: a struct conn pointer (16-aligned) or nothing, plus a tag. */
enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_STOP, OP_BACKOFF, OP_TICK,
    OP_IGNORE };
#define OP_MASK		7u
#define UD(p, op)	((uint64_t)(uintptr_t)(p) | (uint64_t)(op))

struct conn {
	struct conn *next, *prev;	/* the loop's connections */
	struct conn *snext;		/* the loop's starved list */
	int fd;
	uint16_t out_bid;	/* buffer the pending output points into */
	char *own;		/* unsent output a slow reader left, or NULL */
	bool recv_armed, recv_cancel, sending, closing, starved;
	bool rd_eof, eof_done, done, need_more;
	bool bulk;		/* receive from the big pool */
	bool recv_big;		/* the receive in flight is from the big pool */
	bool send_nowait;	/* the send in flight may not wait */
	int err;		/* the errno that ended it, or 0 */
	uint8_t inflight;	/* requests whose last CQE has not come */
	struct svc_out out;	/* output being sent (advanced on short sends) */
	struct msghdr msg;	/* for two slices */
	uint64_t in, sent;
	uint64_t last_us;	/* last completion (--idle-timeout) */
	struct conn_meta meta;
	alignas(max_align_t) unsigned char st[];
};

struct loop {
	struct server *srv;
	const struct service *svc;
	int id, nloops;
	int stopfd;		/* eventfd written by the main thread */
	pthread_t thread;
	struct io_uring ring;
	bool ring_ok;
	int err;		/* negative errno if the loop failed */
	/* start-up handshake with the main thread */
	pthread_mutex_t *mu;
	pthread_cond_t *cv;
	bool ready;

	char *bufs;		/* NBUF * BUF_SIZE */
	struct io_uring_buf_ring *br;	/* NULL: legacy provided buffers */
	int br_pending;		/* added to br, not yet published */
	char *big;		/* NBIG * BIG_SIZE */
	struct io_uring_buf_ring *brbig;
	int brbig_pending;
	bool legacy_bufs;	/* no buffer rings: PROVIDE_BUFFERS */
	int nfree;		/* buffers the kernel can use */

	bool recv_multishot, recv_poll_first, accept_multishot;
	bool accept_armed, backoff_armed, stop_armed, stopping;
	bool draining;		/* stop with grace: no accepts, conns go on */
	bool tick_armed;	/* --idle-timeout sweep */
	bool poll_accept;	/* --max-conns: poll the listener, then
				 * server_accept() reserves exactly */
	struct __kernel_timespec tick_ts;
	bool starve_logged;
	struct __kernel_timespec backoff_ts;

	struct conn *conns, *starved, *freelist;
	int nconns, nfreelist;
};

static struct io_uring_sqe *
sqe_get(struct loop *lp)
{
	struct io_uring_sqe *sqe;

	/* A full SQ is flushed to the kernel; that always makes room. */
	while ((sqe = io_uring_get_sqe(&lp->ring)) == NULL)
		(void)io_uring_submit(&lp->ring);
	return sqe;
}

static void
cancel(struct loop *lp, uint64_t ud)
{
	struct io_uring_sqe *sqe = sqe_get(lp);

	io_uring_prep_cancel64(sqe, ud, 0);
	io_uring_sqe_set_data64(sqe, OP_IGNORE);
}

/* -- receive buffers ------------------------------------------------------ */

/* bid: a small pool buffer, or BID_BIG | n for big buffer n. */
static char *
buf_at(struct loop *lp, unsigned bid)
{
	if (bid & BID_BIG)
		return lp->big + (size_t)(bid & ~BID_BIG) * BIG_SIZE;
	return lp->bufs + (size_t)bid * BUF_SIZE;
}

static void
buf_put(struct loop *lp, unsigned bid)
{
	bool big = bid & BID_BIG;
	unsigned n = bid & ~BID_BIG;
	unsigned size = big ? BIG_SIZE : BUF_SIZE;

	if (!lp->legacy_bufs) {
		io_uring_buf_ring_add(big ? lp->brbig : lp->br, buf_at(lp, bid),
		    size, (unsigned short)n,
		    io_uring_buf_ring_mask(big ? NBIG : NBUF),
		    big ? lp->brbig_pending++ : lp->br_pending++);
	} else {
		struct io_uring_sqe *sqe = sqe_get(lp);

		io_uring_prep_provide_buffers(sqe, buf_at(lp, bid), (int)size,
		    1, big ? BGID_BIG : BGID, (int)n);
		io_uring_sqe_set_data64(sqe, OP_IGNORE);
	}
	if (!big)
		lp->nfree++;	/* the starved wait for small ones only */
}

/* A buffer ring of n entries for group bgid, or NULL (errno set). */
static struct io_uring_buf_ring *
ring_register(struct loop *lp, unsigned n, int bgid, int *err)
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
	if ((*err = io_uring_register_buf_ring(&lp->ring, &reg, 0)) < 0) {
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

static int
bufs_init(struct loop *lp)
{
	struct io_uring_sqe *sqe;
	unsigned i;
	int r = 0;

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
		lp->legacy_bufs = true;
		sqe = sqe_get(lp);
		io_uring_prep_provide_buffers(sqe, lp->bufs, BUF_SIZE, NBUF,
		    BGID, 0);
		io_uring_sqe_set_data64(sqe, OP_IGNORE);
		sqe = sqe_get(lp);
		io_uring_prep_provide_buffers(sqe, lp->big, BIG_SIZE, NBIG,
		    BGID_BIG, 0);
		io_uring_sqe_set_data64(sqe, OP_IGNORE);
		lp->nfree = NBUF;
		return 0;
	}
	for (i = 0; i < NBUF; i++)
		buf_put(lp, i);
	for (i = 0; i < NBIG; i++)
		buf_put(lp, BID_BIG | i);
	return 0;
}

static void
bufs_publish(struct loop *lp)
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

static void
bufs_free(struct loop *lp)
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

/* -- connections ---------------------------------------------------------- */

static void
recv_arm(struct loop *lp, struct conn *c)
{
	struct io_uring_sqe *sqe = sqe_get(lp);

	c->recv_big = c->bulk;
	if (lp->recv_multishot && (lp->svc->flags & SVC_READ_ALWAYS)) {
		io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	} else {
		io_uring_prep_recv(sqe, c->fd, NULL,
		    c->recv_big ? BIG_SIZE : BUF_SIZE, 0);
		if (lp->recv_poll_first)
			sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
	}
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = c->recv_big ? BGID_BIG : BGID;
	io_uring_sqe_set_data64(sqe, UD(c, OP_RECV));
	c->recv_armed = true;
	c->inflight++;
}

static void
send_arm(struct loop *lp, struct conn *c)
{
	struct io_uring_sqe *sqe = sqe_get(lp);
	int flags = MSG_NOSIGNAL;

	/* From a pool buffer: no waiting, the rest is copied (on_send).
	 * Otherwise MSG_WAITALL: the kernel finishes a partial send itself,
	 * so a big emission to a slow reader still costs one completion. */
	c->send_nowait = c->out_bid != NO_BID;
	flags |= c->send_nowait ? MSG_DONTWAIT : MSG_WAITALL;
	if (c->out.n == 1) {
		io_uring_prep_send(sqe, c->fd, c->out.iov[0].iov_base,
		    c->out.iov[0].iov_len, flags);
	} else {
		c->msg.msg_iov = c->out.iov;
		c->msg.msg_iovlen = (size_t)c->out.n;
		io_uring_prep_sendmsg(sqe, c->fd, &c->msg, flags);
	}
	io_uring_sqe_set_data64(sqe, UD(c, OP_SEND));
	c->sending = true;
	c->inflight++;
}

/* Ask for the end; the connection is freed once its requests are done. */
static void
conn_end(struct loop *lp, struct conn *c, int err)
{
	if (c->err == 0)
		c->err = err;
	if (c->closing)
		return;
	c->closing = true;
	c->out.n = 0;
	if (c->recv_armed && !c->recv_cancel) {
		cancel(lp, UD(c, OP_RECV));
		c->recv_cancel = true;
	}
	if (c->sending)
		cancel(lp, UD(c, OP_SEND));
}

static void
conn_release(struct loop *lp, struct conn *c)
{
	struct conn **pp;

	if (c->starved)
		for (pp = &lp->starved; *pp != NULL; pp = &(*pp)->snext)
			if (*pp == c) {
				*pp = c->snext;
				break;
			}
	if (c->out_bid != NO_BID)
		buf_put(lp, c->out_bid);
	free(c->own);
	if (close(c->fd) == -1 && errno != EINTR)
		log_warn("uring: close fd %d", c->fd);
	conn_close(lp->srv, &c->meta, c->in, c->sent, c->err);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		lp->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	lp->nconns--;
	if (lp->nfreelist < FREE_MAX) {
		c->next = lp->freelist;
		lp->freelist = c;
		lp->nfreelist++;
	} else {
		free(c);
	}
}

static void
apply(struct loop *lp, struct conn *c, int r)
{
	if (r == SVC_ABORT)
		conn_end(lp, c, 0);
	else if (r == SVC_DONE)
		c->done = true;
}

static bool
out_points_into(const struct svc_out *o, const char *buf, unsigned bid)
{
	uintptr_t lo = (uintptr_t)buf;
	uintptr_t hi = lo + (bid & BID_BIG ? BIG_SIZE : BUF_SIZE);
	int i;

	for (i = 0; i < o->n; i++) {
		uintptr_t p = (uintptr_t)o->iov[i].iov_base;

		if (p >= lo && p < hi)
			return true;
	}
	return false;
}

/* A send from a pool buffer left output the socket would not take: move it
 * into a buffer of the connection's own (c->own is NULL here: it only ever
 * holds output, and this output points into a pool buffer) and give the
 * pool buffer back, so a slow reader holds nothing others need. */
static void
own_keep(struct loop *lp, struct conn *c)
{
	size_t n = 0, len = svc_out_len(&c->out);
	char *own = malloc(len);
	int i;

	if (own == NULL) {
		log_warn("uring: fd %d: buffer for unsent output", c->fd);
		conn_end(lp, c, ENOMEM);
		return;
	}
	for (i = 0; i < c->out.n; i++) {
		memcpy(own + n, c->out.iov[i].iov_base, c->out.iov[i].iov_len);
		n += c->out.iov[i].iov_len;
	}
	c->own = own;
	c->out.iov[0].iov_base = c->own;
	c->out.iov[0].iov_len = n;
	c->out.n = 1;
	buf_put(lp, c->out_bid);
	c->out_bid = NO_BID;
}

/* Hand a received buffer to input(); it stays out of the pool while the
 * output points into it. */
static void
feed(struct loop *lp, struct conn *c, unsigned bid, size_t len)
{
	char *buf = buf_at(lp, bid);
	int r;

	c->need_more = true;
	r = lp->svc->input(c->st, buf, len, &c->out);
	if (c->out.n > 0 && out_points_into(&c->out, buf, bid))
		c->out_bid = (uint16_t)bid;
	else
		buf_put(lp, bid);
	apply(lp, c, r);
}

/*
 * Drive the service as far as it can go without waiting: send what is
 * emitted, ask more() once output is drained, deliver EOF,
 * close when done; then make sure a receive is armed if input is wanted.
 * Frees c when it is closed and idle: the caller must not touch c after.
 */
static void
conn_progress(struct loop *lp, struct conn *c)
{
	const struct service *svc = lp->svc;

	for (;;) {
		if (c->closing) {
			if (c->inflight == 0)
				conn_release(lp, c);
			return;
		}
		if (c->sending)
			break;
		if (c->out.n > 0) {
			send_arm(lp, c);
			break;
		}
		if (c->done) {
			conn_end(lp, c, 0);
			continue;
		}
		if (c->need_more && svc->more != NULL) {
			c->need_more = false;
			apply(lp, c, svc->more(c->st, &c->out));
			continue;
		}
		if (c->rd_eof) {
			if (c->eof_done) {	/* nothing to come, nothing to send */
				conn_end(lp, c, 0);
				continue;
			}
			c->eof_done = true;
			c->need_more = true;
			apply(lp, c, svc->eof(c->st, &c->out));
			continue;
		}
		break;
	}
	if (!c->recv_armed && !c->starved && !c->rd_eof &&
	    (!c->sending || (svc->flags & SVC_READ_ALWAYS)))
		recv_arm(lp, c);
}

/* fd is counted as active already (server_accept, or uring_accepted). */
static void
conn_new(struct loop *lp, int fd)
{
	struct server *srv = lp->srv;
	struct conn *c = lp->freelist;

	if (c != NULL) {
		lp->freelist = c->next;
		lp->nfreelist--;
	} else if ((c = malloc(sizeof(*c) + lp->svc->state_size)) == NULL) {
		log_warn("uring: connection state");
		server_drop(srv, fd);
		return;
	}
	memset(c, 0, sizeof(*c) + lp->svc->state_size);
	if (conn_open(srv, fd, lp->id, &c->meta) == -1) {
		close(fd);
		c->next = lp->freelist;
		lp->freelist = c;
		lp->nfreelist++;
		return;
	}
	if (srv->idle_ms > 0)
		c->last_us = now_us();
	c->fd = fd;
	c->out_bid = NO_BID;
	c->next = lp->conns;
	if (lp->conns != NULL)
		lp->conns->prev = c;
	lp->conns = c;
	lp->nconns++;
	c->need_more = true;
	apply(lp, c, lp->svc->start(c->st, &c->out));
	conn_progress(lp, c);
}

static void
on_recv(struct loop *lp, struct conn *c, int res, unsigned flags)
{
	if (lp->srv->idle_ms > 0 && res > 0)
		c->last_us = now_us();
	if (!(flags & IORING_CQE_F_MORE)) {
		c->recv_armed = false;
		c->recv_cancel = false;
		c->inflight--;
	}
	if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
		unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;

		if (c->recv_big)
			bid |= BID_BIG;
		else
			lp->nfree--;
		if (c->closing) {
			buf_put(lp, bid);
		} else if (lp->svc->flags & SVC_READ_ALWAYS) {
			struct svc_out none = { .n = 0 };
			int r;

			c->in += (uint64_t)res;
			r = lp->svc->input(c->st, buf_at(lp, bid), (size_t)res,
			    &none);
			buf_put(lp, bid);
			if (none.n > 0) {
				log_warnx("uring: service %s emitted from "
				    "input() despite SVC_READ_ALWAYS",
				    lp->svc->name);
				r = SVC_ABORT;
			}
			apply(lp, c, r);
		} else {
			/* Not read while output is pending, and one receive at
			 * a time: nothing else can be waiting, feed it now.  A
			 * full small buffer says more is waiting (the big pool
			 * next); less than that, back to the small one. */
			c->in += (uint64_t)res;
			c->bulk = res >= BUF_SIZE;
			feed(lp, c, bid, (size_t)res);
		}
	} else if (res == -ENOBUFS && c->recv_big) {
		c->bulk = false;	/* the big pool is dry: use a small one */
	} else if (res == 0) {
		c->rd_eof = true;
	} else if (res == -ENOBUFS) {
		/* The pool is dry: wait for a buffer to come back. */
		if (!lp->starve_logged) {
			lp->starve_logged = true;
			log_verbose("uring: worker %d: receive buffers exhausted",
			    lp->id);
		}
		if (!c->starved && !c->closing) {
			c->starved = true;
			c->snext = lp->starved;
			lp->starved = c;
		}
	} else if (res == -EINVAL && lp->recv_poll_first) {
		log_debug("uring: no IORING_RECVSEND_POLL_FIRST");
		lp->recv_poll_first = false;
	} else if (res == -EINVAL && lp->recv_multishot) {
		log_debug("uring: no multishot receive; single-shot instead");
		lp->recv_multishot = false;
	} else if (res < 0 && res != -ECANCELED && res != -EINTR &&
	    res != -EAGAIN) {
		errno = -res;
		log_verbose("uring: receive on fd %d: %s", c->fd,
		    strerror(-res));
		conn_end(lp, c, -res);
	}
	conn_progress(lp, c);
	/* c may be gone; a connection that piles up input stops receiving. */
}

static void
out_advance(struct svc_out *o, size_t w)
{
	int i = 0;

	while (i < o->n && w >= o->iov[i].iov_len)
		w -= o->iov[i++].iov_len;
	if (i > 0) {
		memmove(o->iov, o->iov + i, (size_t)(o->n - i) * sizeof(o->iov[0]));
		o->n -= i;
	}
	if (o->n > 0) {
		o->iov[0].iov_base = (char *)o->iov[0].iov_base + w;
		o->iov[0].iov_len -= w;
	}
}

static void
on_send(struct loop *lp, struct conn *c, int res)
{
	if (lp->srv->idle_ms > 0 && res > 0)
		c->last_us = now_us();
	c->sending = false;
	c->inflight--;
	if (res < 0) {
		if (res == -EAGAIN && c->send_nowait && !c->closing) {
			own_keep(lp, c);
		} else if (res != -EINTR && res != -EAGAIN) {
			if (res != -ECANCELED)
				log_verbose("uring: send on fd %d: %s", c->fd,
				    strerror(-res));
			conn_end(lp, c, res != -ECANCELED ? -res : 0);
		}
	} else if (!c->closing) {
		c->sent += (uint64_t)res;
		out_advance(&c->out, (size_t)res);
		if (c->out.n > 0 && c->send_nowait)
			own_keep(lp, c);
		if (c->out.n == 0) {
			if (c->out_bid != NO_BID) {
				buf_put(lp, c->out_bid);
				c->out_bid = NO_BID;
			}
			free(c->own);	/* a slow reader's copy, sent */
			c->own = NULL;
			c->need_more = true;
		}
	}
	conn_progress(lp, c);
}

/* -- the loop ------------------------------------------------------------- */

static void
accept_arm(struct loop *lp)
{
	struct io_uring_sqe *sqe = sqe_get(lp);

	if (lp->poll_accept)
		io_uring_prep_poll_add(sqe, lp->srv->lfd, POLLIN);
	else if (lp->accept_multishot)
		io_uring_prep_multishot_accept(sqe, lp->srv->lfd, NULL, NULL,
		    SOCK_CLOEXEC);
	else
		io_uring_prep_accept(sqe, lp->srv->lfd, NULL, NULL,
		    SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, OP_ACCEPT);
	lp->accept_armed = true;
}

static void
backoff_arm(struct loop *lp, int ms)
{
	struct io_uring_sqe *sqe = sqe_get(lp);

	lp->backoff_ts.tv_sec = 0;
	lp->backoff_ts.tv_nsec = ms * 1000000LL;
	io_uring_prep_timeout(sqe, &lp->backoff_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, OP_BACKOFF);
	lp->backoff_armed = true;
}

static void
loop_fail(struct loop *lp, int err, const char *what)
{
	log_warnx("uring: worker %d: %s: %s", lp->id, what, strerror(-err));
	if (lp->err == 0)
		lp->err = err;
	/* The main thread sleeps on the signal pipe: stop the server the way
	 * an operator would, and run() returns the error. */
	(void)kill(getpid(), SIGTERM);
}

/* --max-conns: the listener polled readable; take what the limit allows
 * through server_accept(), which reserves each connection first. */
static void
on_listener_ready(struct loop *lp)
{
	int i, fd;

	lp->accept_armed = false;
	for (i = 0; i < 32 && !server_stopping(); i++) {
		fd = server_accept(lp->srv, ACCEPT_NONBLOCK | ACCEPT_NOPAUSE,
		    NULL, NULL);
		if (fd >= 0) {
			conn_new(lp, fd);
			continue;
		}
		if (errno == EAGAIN && server_at_limit(lp->srv)) {
			backoff_arm(lp, 20);	/* full: look again soon */
			return;
		}
		if (errno != EAGAIN && errno != EINTR) {
			if (errno != EMFILE && errno != ENFILE &&
			    errno != ENOBUFS && errno != ENOMEM)
				log_warn("uring: accept");
			backoff_arm(lp, BACKOFF_MS);
			return;
		}
		break;
	}
	if (!server_stopping())
		accept_arm(lp);
}

static void
on_accept(struct loop *lp, int res, unsigned flags)
{
	if (lp->poll_accept) {
		on_listener_ready(lp);
		return;
	}
	if (!(flags & IORING_CQE_F_MORE))
		lp->accept_armed = false;
	if (res >= 0 && (lp->stopping || lp->draining || server_stopping())) {
		/* Taken after the stop (the listener was shut meanwhile):
		 * not served, like the backlog the shutdown refused. */
		close(res);
		return;
	}
	if (res >= 0) {
		/* io_uring's accept bypasses server_accept(): do its part. */
		atomic_fetch_add_explicit(&lp->srv->stats->accepted, 1,
		    memory_order_relaxed);
		atomic_fetch_add_explicit(&lp->srv->stats->active, 1,
		    memory_order_relaxed);
		if (!lp->srv->nodelay_inherited)
			(void)net_set_nodelay(res, true);
		server_overload_end(OVERLOAD_ACCEPT);
		conn_new(lp, res);
	} else if (server_stopping()) {
		return;		/* the listener was shut: stop accepting */
	} else {
		switch (-res) {
		case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
			errno = -res;
			server_overload_begin(OVERLOAD_ACCEPT, "accept");
			if (lp->accept_armed)
				cancel(lp, OP_ACCEPT);
			if (!lp->backoff_armed && !lp->stopping)
				backoff_arm(lp, BACKOFF_MS);
			break;
		case EINVAL:
			if (lp->accept_multishot) {
				log_debug("uring: no multishot accept");
				lp->accept_multishot = false;
				break;
			}
			loop_fail(lp, res, "accept");
			return;
		case ECANCELED: case EINTR: case EAGAIN:
		case ECONNABORTED: case EPROTO: case ENETDOWN: case ENOPROTOOPT:
		case EHOSTDOWN: case ENONET: case EHOSTUNREACH: case ENETUNREACH:
			break;	/* that client is gone; accept(2) says retry */
		default:
			loop_fail(lp, res, "accept");
			return;
		}
	}
	if (!lp->accept_armed && !lp->backoff_armed && !lp->stopping &&
	    !lp->draining)
		accept_arm(lp);
}

/* --idle-timeout: every quarter of it, end the connections that moved
 * nothing for the whole of it. */
static void
tick_arm(struct loop *lp)
{
	struct io_uring_sqe *sqe = sqe_get(lp);
	int ms = lp->srv->idle_ms / 4 > 50 ? lp->srv->idle_ms / 4 : 50;

	if (ms > 1000)
		ms = 1000;
	lp->tick_ts.tv_sec = ms / 1000;
	lp->tick_ts.tv_nsec = (ms % 1000) * 1000000LL;
	io_uring_prep_timeout(sqe, &lp->tick_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, OP_TICK);
	lp->tick_armed = true;
}

static void
on_tick(struct loop *lp)
{
	uint64_t t = now_us(), idle = (uint64_t)lp->srv->idle_ms * 1000;
	struct conn *c, *next;

	lp->tick_armed = false;
	for (c = lp->conns; c != NULL; c = next) {
		next = c->next;
		if (!c->closing && c->last_us + idle <= t) {
			conn_timed_out(lp->srv, &c->meta);
			conn_end(lp, c, 0);
			conn_progress(lp, c);
		}
	}
	if (!lp->stopping)
		tick_arm(lp);
}

static void
stop_arm(struct loop *lp)
{
	struct io_uring_sqe *sqe = sqe_get(lp);

	io_uring_prep_poll_add(sqe, lp->stopfd, POLLIN);
	io_uring_sqe_set_data64(sqe, OP_STOP);
	lp->stop_armed = true;
}

/* First stop with --grace: accept no more, let connections finish. */
static void
begin_drain(struct loop *lp)
{
	lp->draining = true;
	if (lp->accept_armed)
		cancel(lp, OP_ACCEPT);
	if (lp->backoff_armed) {
		struct io_uring_sqe *sqe = sqe_get(lp);

		io_uring_prep_timeout_remove(sqe, OP_BACKOFF, 0);
		io_uring_sqe_set_data64(sqe, OP_IGNORE);
	}
}

static void
begin_stop(struct loop *lp)
{
	struct conn *c, *next;

	lp->stopping = true;
	if (lp->tick_armed) {
		struct io_uring_sqe *sqe = sqe_get(lp);

		io_uring_prep_timeout_remove(sqe, OP_TICK, 0);
		io_uring_sqe_set_data64(sqe, OP_IGNORE);
	}
	if (lp->accept_armed)
		cancel(lp, OP_ACCEPT);
	if (lp->backoff_armed) {
		struct io_uring_sqe *sqe = sqe_get(lp);

		io_uring_prep_timeout_remove(sqe, OP_BACKOFF, 0);
		io_uring_sqe_set_data64(sqe, OP_IGNORE);
	}
	for (c = lp->conns; c != NULL; c = next) {
		next = c->next;
		conn_end(lp, c, 0);
		conn_progress(lp, c);
	}
}

static void
dispatch(struct loop *lp, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	struct conn *c = (struct conn *)(uintptr_t)(ud & ~(uint64_t)OP_MASK);

	switch (ud & OP_MASK) {
	case OP_RECV:
		on_recv(lp, c, cqe->res, cqe->flags);
		break;
	case OP_SEND:
		on_send(lp, c, cqe->res);
		break;
	case OP_ACCEPT:
		on_accept(lp, cqe->res, cqe->flags);
		break;
	case OP_BACKOFF:
		lp->backoff_armed = false;
		if (!lp->accept_armed && !lp->stopping && !lp->draining)
			accept_arm(lp);
		break;
	case OP_TICK:
		if (cqe->res != -ECANCELED)
			on_tick(lp);
		else
			lp->tick_armed = false;
		break;
	case OP_STOP: {
		eventfd_t junk;

		lp->stop_armed = false;
		(void)eventfd_read(lp->stopfd, &junk);
		if (server_closing()) {
			if (!lp->stopping)
				begin_stop(lp);
		} else {
			if (!lp->draining)
				begin_drain(lp);
			stop_arm(lp);	/* the close comes later */
		}
		break;
	}
	default:
		break;	/* cancellations, provided buffers */
	}
}

static bool
loop_drained(const struct loop *lp)
{
	if (lp->draining && !lp->stopping)	/* grace: done when empty */
		return lp->nconns == 0 && !lp->accept_armed &&
		    !lp->backoff_armed;
	return lp->nconns == 0 && !lp->accept_armed && !lp->backoff_armed &&
	    !lp->stop_armed && !lp->tick_armed;
}

static void
loop_run(struct loop *lp)
{
	struct __kernel_timespec tick = { .tv_sec = 0, .tv_nsec = 100000000 };
	struct io_uring_cqe *cqe;
	struct timespec t0 = { 0, 0 }, now;
	unsigned head, n;
	int r;

	accept_arm(lp);
	stop_arm(lp);
	if (lp->srv->idle_ms > 0)
		tick_arm(lp);
	while (!(lp->stopping || lp->draining) || !loop_drained(lp)) {
		/* Parked connections retry once buffers came back. */
		while (lp->starved != NULL && lp->nfree > 0) {
			struct conn *c = lp->starved;

			lp->starved = c->snext;
			c->starved = false;
			conn_progress(lp, c);
		}
		if (lp->starved == NULL)
			lp->starve_logged = false;
		bufs_publish(lp);
		if (!lp->stopping) {
			r = io_uring_submit_and_wait(&lp->ring, 1);
		} else {
			if (t0.tv_sec == 0)
				clock_gettime(CLOCK_MONOTONIC, &t0);
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - t0.tv_sec >= STOP_WAIT_S) {
				log_warnx("uring: worker %d: %d connections "
				    "still closing after %d s", lp->id,
				    lp->nconns, STOP_WAIT_S);
				break;
			}
			r = io_uring_submit_and_wait_timeout(&lp->ring, &cqe, 1,
			    &tick, NULL);
		}
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY &&
		    r != -ETIME) {
			loop_fail(lp, r, "io_uring_enter");
			if (!lp->stopping)
				begin_stop(lp);	/* best effort; bounded above */
			clock_gettime(CLOCK_MONOTONIC, &t0);
			t0.tv_sec -= STOP_WAIT_S;	/* leave now */
			continue;
		}
		n = 0;
		io_uring_for_each_cqe(&lp->ring, head, cqe) {
			dispatch(lp, cqe);
			n++;
		}
		io_uring_cq_advance(&lp->ring, n);
	}
}

static int
ring_init(struct loop *lp)
{
	static const unsigned tries[] = {
		/* 6.1+: completions run only when we wait, in this thread */
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		    IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
		0,
	};
	struct io_uring_params p;
	size_t i;
	int r = -EINVAL;

	for (i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = tries[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = CQ_ENTRIES;
		r = io_uring_queue_init_params(SQ_ENTRIES, &lp->ring, &p);
		if (r != -EINVAL)
			break;
	}
	if (r < 0)
		return r;
	lp->ring_ok = true;
	lp->recv_multishot = true;
	lp->recv_poll_first = true;
	lp->accept_multishot = lp->nloops == 1;
	lp->poll_accept = lp->srv->max_conns > 0;
	return bufs_init(lp);
}

static void
loop_teardown(struct loop *lp)
{
	bool clean = lp->nconns == 0;
	struct conn *c;

	/* Only after a failed stop: the kernel may still hold requests on
	 * these; closing the ring cancels them. */
	while ((c = lp->conns) != NULL) {
		if (c->inflight > 0)
			c->own = NULL;	/* a send may still read it: leak it */
		c->inflight = 0;
		c->closing = true;
		conn_release(lp, c);
	}
	if (lp->ring_ok)
		io_uring_queue_exit(&lp->ring);
	while ((c = lp->freelist) != NULL) {
		lp->freelist = c->next;
		free(c);
	}
	/* After an unclean stop the ring's teardown runs asynchronously in
	 * the kernel and may still write into the buffers: leave them. */
	if (clean)
		bufs_free(lp);
}

static void *
loop_main(void *arg)
{
	struct loop *lp = arg;
	int r;

	server_block_signals();
	r = ring_init(lp);
	pthread_mutex_lock(lp->mu);
	lp->err = r;
	lp->ready = true;
	pthread_cond_broadcast(lp->cv);
	pthread_mutex_unlock(lp->mu);
	if (r == 0)
		loop_run(lp);
	loop_teardown(lp);
	return NULL;
}

static bool
no_active(void *arg)
{
	struct server *srv = arg;

	return atomic_load(&srv->stats->active) <= 0;
}

static void
wake_all(struct loop *loops, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (eventfd_write(loops[i].stopfd, 1) == -1)
			log_warn("uring: eventfd_write");
}

static int
uring_run(struct server *srv)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	int n = srv->workers > 0 ? srv->workers : srv->ncpu;
	struct loop *loops;
	int i, started = 0, err = 0;

	if (n < 1)
		n = 1;
	if (n > MAX_WORKER_SLOTS)
		n = MAX_WORKER_SLOTS;
	if ((loops = calloc((size_t)n, sizeof(*loops))) == NULL)
		return -ENOMEM;
	if (srv->max_conns > 0 && fd_set_nonblock(srv->lfd, true) == -1) {
		free(loops);
		return -errno;
	}
	atomic_store(&srv->stats->nslots, n);
	for (i = 0; i < n; i++) {
		struct loop *lp = &loops[i];

		lp->srv = srv;
		lp->svc = srv->svc;
		lp->id = i;
		lp->nloops = n;
		/* One eventfd per ring: each reads its own back to zero. */
		if ((lp->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
			err = -errno;
			break;
		}
		lp->mu = &mu;
		lp->cv = &cv;
		if ((errno = pthread_create(&lp->thread, NULL, loop_main,
		    lp)) != 0) {
			err = -errno;
			log_warn("uring: pthread_create");
			break;
		}
		started++;
		pthread_mutex_lock(&mu);
		while (!lp->ready)
			pthread_cond_wait(&cv, &mu);
		pthread_mutex_unlock(&mu);
		if (lp->err != 0) {
			err = lp->err;
			log_warnx("uring: worker %d: cannot set up its ring: %s",
			    i, strerror(-err));
			break;
		}
	}
	if (err == 0)
		while (!server_stopping())
			(void)server_wait(srv, false, -1);
	server_request_stop();
	wake_all(loops, started);	/* accept no more */
	if (err == 0)
		server_linger(srv, no_active, srv);
	server_request_close();
	wake_all(loops, started);	/* close what is left */
	for (i = 0; i < started; i++) {
		pthread_join(loops[i].thread, NULL);
		if (err == 0 && loops[i].err != 0)
			err = loops[i].err;
	}
	for (i = 0; i < n; i++)
		if (loops[i].stopfd > 0)
			close(loops[i].stopfd);
	free(loops);
	return err;
}

/* Probe with a tiny ring: io_uring can be missing (ENOSYS), disabled by
 * sysctl or refused by a seccomp filter (EPERM), or too old. */
static const char *
uring_unavailable(void)
{
	static char why[256];
	static const struct { int op; const char *name; } need[] = {
		{ IORING_OP_ACCEPT, "accept" }, { IORING_OP_RECV, "recv" },
		{ IORING_OP_SEND, "send" }, { IORING_OP_SENDMSG, "sendmsg" },
		{ IORING_OP_POLL_ADD, "poll" },
		{ IORING_OP_ASYNC_CANCEL, "cancel" },
		{ IORING_OP_TIMEOUT, "timeout" },
		{ IORING_OP_PROVIDE_BUFFERS, "provided buffers" },
	};
	struct io_uring_probe *probe;
	struct io_uring ring;
	size_t i;
	int r;

	r = io_uring_queue_init(2, &ring, 0);
	if (r == -ENOSYS)
		return "this kernel has no io_uring (io_uring_setup: ENOSYS)";
	if (r == -EPERM) {
		FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
		int v = 0;

		if (f != NULL) {
			if (fscanf(f, "%d", &v) != 1)
				v = 0;
			fclose(f);
		}
		if (v != 0)
			snprintf(why, sizeof(why), "io_uring is disabled "
			    "(sysctl kernel.io_uring_disabled=%d)", v);
		else
			snprintf(why, sizeof(why), "io_uring_setup: permission "
			    "denied (a seccomp filter, as in many containers?)");
		return why;
	}
	if (r < 0) {
		snprintf(why, sizeof(why), "io_uring_setup: %s", strerror(-r));
		return why;
	}
	probe = io_uring_get_probe_ring(&ring);
	why[0] = '\0';
	if (probe == NULL)
		snprintf(why, sizeof(why), "this kernel's io_uring is too old "
		    "(no opcode probe; Linux 5.7 or newer is needed)");
	for (i = 0; probe != NULL && i < sizeof(need) / sizeof(need[0]); i++)
		if (!io_uring_opcode_supported(probe, need[i].op)) {
			snprintf(why, sizeof(why), "this kernel's io_uring has "
			    "no %s operation (Linux 5.7 or newer is needed)",
			    need[i].name);
			break;
		}
	if (probe != NULL)
		io_uring_free_probe(probe);
	io_uring_queue_exit(&ring);
	return why[0] != '\0' ? why : NULL;
}

#else	/* !HAVE_LIBURING */

static int
uring_run(struct server *srv)
{
	(void)srv;
	return -ENOSYS;
}

static const char *
uring_unavailable(void)
{
	return "built without liburing (install liburing-dev and rebuild)";
}

#endif

const struct model model_uring = {
	.name = "uring",
	.summary = "completion-based on io_uring: multishot accept and "
	    "receive, provided buffers, one ring per worker",
	.flags = MODEL_POOL,
	.run = uring_run,
	.unavailable = uring_unavailable,
};
