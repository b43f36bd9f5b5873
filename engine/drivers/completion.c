/*
 * completion: connections driven by completions on io_uring.  See
 * completion.h.
 *
 * Per connection, a receive that picks its buffer from the loop's
 * provided-buffer pools when data arrives (drivers/uring-bufs.c), so an
 * idle connection holds no buffer at all, only its struct uconn (about 150
 * bytes plus the service state).  After a first small message the receive
 * is multishot: armed once, it completes for every message, with no poll
 * to arm again per request.
 * Sends go straight from what the service emitted: for echo that is the
 * provided buffer itself, which goes back to the pool when the send
 * completes.  No copy, no allocation per request: an echoed message costs
 * one receive completion and one send completion.
 *
 * Backpressure (service.h rule 4): input() is not given more while output
 * is pending.  A multishot receive may still bring some (a peer that
 * sends before it has read the answer: pipelining, a stream, a peer that
 * never reads): that is copied into the connection's own buffer (`held`),
 * the pool buffer goes back, the receive is cancelled and the connection
 * is read one receive at a time from then on, only while no output is
 * pending, as before; what it holds is given to input() a piece at a time
 * once the output is sent.  A multishot receive asks the kernel to end it
 * after MS_LIMIT bytes (re-armed then if nothing is pending), so a peer
 * makes the connection hold at most that much, however much it sent
 * before the cancel took effect.  (A kernel without that limit ignores it,
 * or refuses it: then the cancel alone bounds what is held, by what the
 * socket had received.)  Services whose
 * input() never emits (SVC_READ_ALWAYS) are read all the time.  A full
 * small buffer says more is coming: single-shot receives from the big pool
 * from then on.  A send from a pool buffer may not wait (MSG_DONTWAIT):
 * what the socket does not take at once is copied into the connection's
 * own buffer (malloc'd, at most SVC_EMIT_MAX, freed once sent) and the
 * pool buffer goes back, so a peer that never reads holds one emission of
 * its own, never the pool other connections need.  The pool running dry
 * (ENOBUFS) parks the connection until a buffer comes back.
 *
 * A file range (service.h) is read with io_uring's own reads, a pool
 * buffer at a time (64 KiB, or 16 KiB when the big pool is dry), each then
 * sent like a received buffer: a slow reader holds one buffer's worth of
 * its own, never the pool.  The loop never waits on the disk, nor copies
 * from it: a range longer than a buffer is read only where the page cache
 * has it -- the kernel is asked (diskpool.h: cachestat) a window at a
 * time -- and a window that is not in the cache is read into it by the
 * disk pool's threads, as for the readiness driver, while the connection
 * waits for the job's eventfd (a poll on the ring).  Without that the
 * ring's reads of a cold file would copy each page in this thread as the
 * disk delivers it (io_uring retries a buffered read from the loop's task
 * work), and the kernel's readahead would have it copy at the disk's pace.
 * Every read is RWF_NOWAIT: a short range not in the cache says EAGAIN
 * and is read in io_uring's own workers, and a window whose pages left
 * the cache since the probe goes to the pool.  (Where the file system
 * has no such reads, EOPNOTSUPP, the loop reads without the flag.)
 *
 * Where the kernel is older: without multishot receive (before 6.0) or
 * IORING_RECVSEND_POLL_FIRST, single-shot receives are re-armed after each
 * completion.
 */
#ifdef HAVE_LIBURING

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "drivers/completion.h"
#include "diskpool.h"
#include "io.h"
#include "log.h"
#include "server.h"
#include "stop.h"

#define FREE_MAX	256	/* struct uconns kept for reuse */
/* Bytes after which a multishot receive ends.  The kernel looks at the
 * limit after each receive, so the last one may go past it by up to a
 * buffer: at most SVC_RECV_MAX in all, what a single-shot receive may
 * bring, and so what a peer can make a connection hold, input and pending
 * output together.  A 64-byte ping-pong re-arms every 768 requests. */
#define MS_LIMIT	(SVC_RECV_MAX - BUF_SIZE)

_Static_assert(alignof(max_align_t) >= OP_MASK + 1,
    "user_data tags need malloc'd pointers aligned past OP_MASK");

void
uring_cancel(struct uloop *lp, uint64_t ud)
{
	struct io_uring_sqe *sqe = uring_sqe(&lp->ring);

	io_uring_prep_cancel64(sqe, ud, 0);
	io_uring_sqe_set_data64(sqe, OP_IGNORE);
}

static void
recv_arm(struct uloop *lp, struct uconn *c)
{
	struct io_uring_sqe *sqe = uring_sqe(&lp->ring);

	c->recv_big = c->bulk;
	/* Multishot once a first receive brought a small message: a peer
	 * that starts with more than a buffer (a stream, a big message:
	 * bulk, and so one_shot) is read a receive at a time, and what it
	 * sends on is not held. */
	c->recv_ms = lp->recv_multishot && ((lp->svc->flags & SVC_READ_ALWAYS) ||
	    (c->in > 0 && !c->one_shot));
	c->recv_lim = false;
	if (c->recv_ms) {
		io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
		/* The total limit is sqe->optlen in newer headers: the
		 * field file_index shares. */
		c->recv_lim = lp->recv_ms_limit;
		if (c->recv_lim)
			sqe->file_index = MS_LIMIT;
		c->ms_in = 0;
	} else {
		io_uring_prep_recv(sqe, c->fd, NULL,
		    c->recv_big ? BIG_SIZE : BUF_SIZE, 0);
		/* A deferred accept brought data: the first receive
		 * takes it at once, no poll armed first. */
		if (lp->recv_poll_first && !(lp->deferred && c->in == 0))
			sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
	}
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = c->recv_big ? BGID_BIG : BGID;
	io_uring_sqe_set_data64(sqe, UD(c, OP_RECV));
	c->recv_armed = true;
	c->inflight++;
}

static void
send_arm(struct uloop *lp, struct uconn *c)
{
	struct io_uring_sqe *sqe = uring_sqe(&lp->ring);
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

/* The next piece of the file range, into a pool buffer. */
static void
read_arm(struct uloop *lp, struct uconn *c)
{
	struct io_uring_sqe *sqe = uring_sqe(&lp->ring);
	unsigned size;

	c->read_big = !c->read_small;
	size = c->read_big ? BIG_SIZE : BUF_SIZE;
	io_uring_prep_read(sqe, c->out.file.fd, NULL,
	    c->out.file.len < size ? (unsigned)c->out.file.len : size,
	    (uint64_t)c->out.file.off);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	/* Pages not in the cache (a short range, or a window's that left it
	 * since the probe): EAGAIN, and they are read off this thread
	 * (uc_on_read), not by a read the ring retries from this thread's
	 * task work at the disk's pace. */
	c->read_nowait = !c->read_async && !lp->no_nowait;
	if (c->read_async)
		sqe->flags |= IOSQE_ASYNC;
	else if (c->read_nowait)
		sqe->rw_flags = RWF_NOWAIT;
	sqe->buf_group = c->read_big ? BGID_BIG : BGID;
	io_uring_sqe_set_data64(sqe, UD(c, OP_READ));
	c->reading = true;
	c->inflight++;
}

/* The next `want` bytes of c's file are not in the page cache (why, for
 * -vv): have the disk pool read them, and poll the job's eventfd.  0, or
 * -1 if no job could start (the caller then reads anyway, as it would
 * without a pool). */
static int
disk_start(struct uloop *lp, struct uconn *c, uint64_t want, const char *why)
{
	struct io_uring_sqe *sqe;
	struct djob *j;

	if ((j = djob_new(c->out.file.fd, c->out.file.off, want)) == NULL) {
		log_warn("conn %llu: a disk job", (unsigned long long)c->meta.id);
		return -1;
	}
	if (djob_submit(j) == -1) {
		log_warn("conn %llu: the disk pool", (unsigned long long)
		    c->meta.id);
		djob_free(j);
		return -1;
	}
	djob_say(j, c->meta.id, why);
	sqe = uring_sqe(&lp->ring);
	io_uring_prep_poll_add(sqe, j->efd, POLLIN);
	io_uring_sqe_set_data64(sqe, UD(c, OP_DISK));
	c->job = j;
	c->inflight++;
	return 0;
}

/* The file range goes on: a read, unless its next window is not in the
 * page cache and the disk pool takes it (on_disk goes on). */
static void
file_next(struct uloop *lp, struct uconn *c)
{
	uint64_t want;

	if (c->out.file.len > BIG_SIZE && !c->read_async && !c->file_short &&
	    c->out.file.off >= c->cached_to) {
		want = disk_window(c->out.file.len);
		/* (Past the file's end nothing is ever cached: once the pool
		 * has found the end, the read says so.) */
		if (page_cached(c->out.file.fd, c->out.file.off, want) == 0 &&
		    disk_start(lp, c, want, "are not in the page cache") == 0)
			return;
		c->cached_to = c->out.file.off + (off_t)want;
	}
	read_arm(lp, c);
}

void
uc_on_disk(struct uloop *lp, struct uconn *c, int res)
{
	struct djob *j = c->job;

	c->inflight--;
	c->job = NULL;
	if (res > 0) {
		/* The thread marked the job done before it wrote the eventfd;
		 * this load orders its got before ours. */
		(void)atomic_load_explicit(&j->state, memory_order_acquire);
		c->file_short = j->got < j->len;
		c->cached_to = j->off + (off_t)j->got;
	} else if (res != -ECANCELED) {
		/* The poll failed: read on, as without a pool. */
		c->cached_to = j->off + (off_t)j->len;
	}
	djob_put(j);
	uc_progress(lp, c);
}

/* Ask for the end; the connection is freed once its requests are done. */
void
uc_end(struct uloop *lp, struct uconn *c, int err)
{
	if (c->err == 0)
		c->err = err;
	if (c->closing)
		return;
	c->closing = true;
	c->out.n = 0;
	c->out.file.len = 0;
	if (c->recv_armed && !c->recv_cancel) {
		uring_cancel(lp, UD(c, OP_RECV));
		c->recv_cancel = true;
	}
	if (c->sending)
		uring_cancel(lp, UD(c, OP_SEND));
	if (c->reading)
		uring_cancel(lp, UD(c, OP_READ));
	if (c->job != NULL)
		uring_cancel(lp, UD(c, OP_DISK));
}

static void
conns_unlink(struct uloop *lp, struct uconn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		lp->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	lp->nconns--;
}

static void
conns_link(struct uloop *lp, struct uconn *c)
{
	c->prev = NULL;
	c->next = lp->conns;
	if (lp->conns != NULL)
		lp->conns->prev = c;
	lp->conns = c;
	lp->nconns++;
}

static void
uc_release(struct uloop *lp, struct uconn *c)
{
	struct uconn **pp;

	if (c->starved)
		for (pp = &lp->starved; *pp != NULL; pp = &(*pp)->snext)
			if (*pp == c) {
				*pp = c->snext;
				break;
			}
	if (c->out_bid != NO_BID)
		buf_put(&lp->b, c->out_bid);
	if (c->job != NULL) {	/* only when discarded: its poll never came */
		djob_put(c->job);
		c->job = NULL;
	}
	free(c->own);
	free(c->held);
	if (c->started && lp->svc->end != NULL)
		lp->svc->end(c->st);
	if (close(c->fd) == -1 && errno != EINTR)
		log_warn("uring: close fd %d", c->fd);
	conn_close(lp->base.srv, &c->meta, c->in, c->sent, c->err);
	conns_unlink(lp, c);
	if (lp->nfreelist < FREE_MAX) {
		c->next = lp->freelist;
		lp->freelist = c;
		lp->nfreelist++;
	} else {
		free(c);
	}
}

static void
apply(struct uloop *lp, struct uconn *c, int r)
{
	if (c->out.file.len > 0) {	/* (a new file: nothing known of it) */
		c->cached_to = 0;
		c->file_short = false;
		disk_range_begins(c->out.file.fd, c->out.file.len);
	}
	if (r == SVC_ABORT)
		uc_end(lp, c, 0);
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
own_keep(struct uloop *lp, struct uconn *c)
{
	size_t n = 0, len = svc_out_len(&c->out);
	char *own = malloc(len);
	int i;

	if (own == NULL) {
		log_warn("uring: fd %d: buffer for unsent output", c->fd);
		uc_end(lp, c, ENOMEM);
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
	buf_put(&lp->b, c->out_bid);
	c->out_bid = NO_BID;
}

/* Hand a received buffer to input(); it stays out of the pool while the
 * output points into it. */
static void
feed(struct uloop *lp, struct uconn *c, unsigned bid, size_t len)
{
	char *buf = buf_at(&lp->b, bid);
	int r;

	c->need_more = true;
	r = lp->svc->input(c->st, buf, len, &c->out);
	if (c->out.n > 0 && out_points_into(&c->out, buf, bid))
		c->out_bid = (uint16_t)bid;
	else
		buf_put(&lp->b, bid);
	apply(lp, c, r);
}

/* A multishot receive is stopped: single-shot receives from now on. */
static void
one_shot(struct uloop *lp, struct uconn *c)
{
	c->one_shot = true;
	if (c->recv_armed && c->recv_ms && !c->recv_cancel) {
		uring_cancel(lp, UD(c, OP_RECV));
		c->recv_cancel = true;
	}
}

/* Input a multishot receive brought while output is pending: copied into
 * the connection's own buffer, the pool buffer back.  Only while that
 * receive is armed (a single-shot one is not armed while anything is
 * pending or held), and `held` is not given to input() until it has ended,
 * so no output points into it here. */
static void
hold(struct uloop *lp, struct uconn *c, unsigned bid, size_t len)
{
	char *p = realloc(c->held, c->held_len + len);

	if (p == NULL) {
		log_warn("uring: fd %d: buffer for early input", c->fd);
		buf_put(&lp->b, bid);
		uc_end(lp, c, ENOMEM);
		return;
	}
	if (c->held == NULL)
		log_debug("conn %llu: input while output is pending: held, "
		    "and single-shot receives from now on",
		    (unsigned long long)c->meta.id);
	memcpy(p + c->held_len, buf_at(&lp->b, bid), len);
	buf_put(&lp->b, bid);
	c->held = p;
	c->held_len += len;
	one_shot(lp, c);
}

/* The next piece of what is held, to input(): nothing is pending.  Its
 * output may point into `held`, which stays until all of it was given and
 * the output sent. */
static void
feed_held(struct uloop *lp, struct uconn *c)
{
	size_t len = c->held_len - c->held_off;
	int r;

	if (len > SVC_RECV_MAX)
		len = SVC_RECV_MAX;
	c->need_more = true;
	r = lp->svc->input(c->st, c->held + c->held_off, len, &c->out);
	c->held_off += len;
	apply(lp, c, r);
}

/* c is quiet: into the inbox of the ring it is going to. */
static void
hand_over(struct uloop *lp, struct uconn *c)
{
	struct uloop *to = atomic_load(&lp->give_to);

	conns_unlink(lp, c);
	pthread_mutex_lock(&to->inbox_mu);
	c->next = to->inbox;
	to->inbox = c;
	atomic_store(&to->has_inbox, true);
	pthread_mutex_unlock(&to->inbox_mu);
	if (eventfd_write(to->base.wakefd, 1) == -1)
		log_warn("uring: wake loop %d", to->base.id);
}

void
uc_give_away(struct uloop *lp)
{
	int k = atomic_exchange(&lp->give_k, 0), n, marked = 0;
	struct uconn *c;

	if (k <= 0 || atomic_load(&lp->give_to) == NULL || lp->stopping ||
	    lp->draining)
		return;
	n = lp->nconns / k;
	for (c = lp->conns; c != NULL && marked < n; c = c->next) {
		if (c->closing || c->starved || c->sending || c->reading ||
		    c->rd_eof || c->moving || svc_out_pending(&c->out) ||
		    !c->recv_armed || c->held != NULL)
			continue;	/* busy now: stays */
		c->moving = true;
		if (!c->recv_cancel) {
			uring_cancel(lp, UD(c, OP_RECV));
			c->recv_cancel = true;
		}
		marked++;
	}
	if (marked > 0)
		log_verbose("uring: loop %d: %d connections moving to loop %d",
		    lp->base.id, marked, atomic_load(&lp->give_to)->base.id);
}

void
uc_take_inbox(struct uloop *lp, bool progress)
{
	struct uconn *c, *next;

	pthread_mutex_lock(&lp->inbox_mu);
	c = lp->inbox;
	lp->inbox = NULL;
	atomic_store(&lp->has_inbox, false);
	pthread_mutex_unlock(&lp->inbox_mu);
	for (; c != NULL; c = next) {
		next = c->next;
		conns_link(lp, c);
		c->moving = false;
		c->recv_cancel = false;
		if (lp->base.srv->idle_ms > 0)
			c->last_us = now_us();
		if (progress)
			uc_progress(lp, c);
	}
}

/*
 * Drive the service as far as it can go without waiting: send what is
 * emitted, ask more() once output is drained, deliver EOF,
 * close when done; then make sure a receive is armed if input is wanted.
 * Frees c when it is closed and idle: the caller must not touch c after.
 */
void
uc_progress(struct uloop *lp, struct uconn *c)
{
	const struct service *svc = lp->svc;

	for (;;) {
		if (c->closing) {
			if (c->inflight == 0)
				uc_release(lp, c);
			return;
		}
		if (c->sending || c->reading || c->job != NULL)
			break;
		if (c->out.n > 0) {
			send_arm(lp, c);
			break;
		}
		if (c->out.file.len > 0) {
			if (!c->starved)
				file_next(lp, c);
			break;
		}
		if (c->done) {
			uc_end(lp, c, 0);
			continue;
		}
		if (c->need_more && svc->more != NULL) {
			c->need_more = false;
			apply(lp, c, svc->more(c->st, &c->out));
			continue;
		}
		if (c->held != NULL) {
			/* (Not before the multishot receive that brought it
			 * has ended: it may bring more.) */
			if (c->recv_armed && c->recv_ms)
				break;
			if (c->held_off < c->held_len) {
				feed_held(lp, c);
				continue;
			}
			free(c->held);	/* all given, its output sent */
			c->held = NULL;
			c->held_len = c->held_off = 0;
		}
		if (c->rd_eof) {
			if (c->eof_done) {	/* nothing to come, nothing to send */
				uc_end(lp, c, 0);
				continue;
			}
			c->eof_done = true;
			c->need_more = true;
			apply(lp, c, svc->eof(c->st, &c->out));
			continue;
		}
		break;
	}
	if (c->moving) {
		/* Nothing goes on here: once quiet, to its new ring. */
		if (c->inflight == 0 && !svc_out_pending(&c->out) &&
		    !c->starved && !c->rd_eof && c->held == NULL)
			hand_over(lp, c);
		return;
	}
	if (!c->recv_armed && !c->starved && !c->rd_eof && c->held == NULL &&
	    (!svc_out_pending(&c->out) || (svc->flags & SVC_READ_ALWAYS)))
		recv_arm(lp, c);
}

/* fd is counted as active already (server_accept, or uring_accepted). */
bool
uc_new(void *loop, int fd)
{
	struct uloop *lp = loop;
	struct server *srv = lp->base.srv;
	struct uconn *c = lp->freelist;

	if (c != NULL) {
		lp->freelist = c->next;
		lp->nfreelist--;
	} else if ((c = malloc(sizeof(*c) + srv->svc_state)) == NULL) {
		log_warn("uring: connection state");
		conn_drop(srv, fd);
		return true;
	}
	memset(c, 0, sizeof(*c) + srv->svc_state);
	if (conn_open(srv, fd, lp->base.id, &c->meta) == -1) {
		close(fd);
		c->next = lp->freelist;
		lp->freelist = c;
		lp->nfreelist++;
		return true;
	}
	if (srv->idle_ms > 0)
		c->last_us = now_us();
	c->fd = fd;
	c->out_bid = NO_BID;
	conns_link(lp, c);
	c->need_more = true;
	c->sc = (struct svc_conn){ srv->svc_conf, &c->meta, fd };
	c->started = true;
	apply(lp, c, lp->svc->start(c->st, &c->sc, &c->out));
	uc_progress(lp, c);
	return true;
}

/* The buffer a completion filled (from the big pool or the small one),
 * out of the pool until it is put back. */
static unsigned
taken_bid(struct uloop *lp, unsigned flags, bool big)
{
	unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;

	if (big)
		return bid | BID_BIG;
	lp->b.nfree--;
	return bid;
}

void
uc_on_recv(struct uloop *lp, struct uconn *c, int res, unsigned flags)
{
	if (lp->base.srv->idle_ms > 0 && res > 0)
		c->last_us = now_us();
	if (!(flags & IORING_CQE_F_MORE)) {
		c->recv_armed = false;
		c->recv_cancel = false;
		c->inflight--;
	}
	if (res > 0 && c->recv_ms && c->recv_lim && lp->recv_ms_limit) {
		c->ms_in += (uint32_t)res;
		if (c->ms_in >= MS_LIMIT && (flags & IORING_CQE_F_MORE)) {
			log_verbose("uring: loop %d: this kernel does not end a "
			    "multishot receive at a byte limit: input that "
			    "comes while a reply is pending is held up to what "
			    "came before the receive was cancelled",
			    lp->base.id);
			lp->recv_ms_limit = false;
		}
	}
	if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
		unsigned bid = taken_bid(lp, flags, c->recv_big);

		if (c->closing) {
			buf_put(&lp->b, bid);
		} else if (lp->svc->flags & SVC_READ_ALWAYS) {
			struct svc_out none = { .n = 0 };
			int r;

			c->in += (uint64_t)res;
			r = lp->svc->input(c->st, buf_at(&lp->b, bid), (size_t)res,
			    &none);
			buf_put(&lp->b, bid);
			if (none.n > 0) {
				log_warnx("uring: service %s emitted from "
				    "input() despite SVC_READ_ALWAYS",
				    lp->svc->name);
				r = SVC_ABORT;
			}
			apply(lp, c, r);
		} else if (svc_out_pending(&c->out) || c->sending ||
		    c->held != NULL) {
			c->in += (uint64_t)res;
			hold(lp, c, bid, (size_t)res);
		} else {
			/* Nothing pending, nothing held: feed it now.  A full
			 * small buffer says more is waiting (the big pool
			 * next, a receive at a time); less than that, back to
			 * the small one. */
			c->in += (uint64_t)res;
			c->bulk = res >= BUF_SIZE;
			if (c->bulk)
				one_shot(lp, c);
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
			    lp->base.id);
		}
		if (!c->starved && !c->closing) {
			c->starved = true;
			c->snext = lp->starved;
			lp->starved = c;
		}
	} else if (res == -EINVAL && c->recv_ms && c->recv_lim &&
	    lp->recv_ms_limit) {
		log_verbose("uring: loop %d: this kernel refuses a byte limit "
		    "on a multishot receive: input that comes while a reply "
		    "is pending is held up to what came before the receive "
		    "was cancelled", lp->base.id);
		lp->recv_ms_limit = false;
	} else if (res == -EINVAL && c->recv_ms && lp->recv_multishot) {
		log_debug("uring: no multishot receive; single-shot instead");
		lp->recv_multishot = false;
	} else if (res == -EINVAL && !c->recv_ms && lp->recv_poll_first) {
		log_debug("uring: no IORING_RECVSEND_POLL_FIRST");
		lp->recv_poll_first = false;
	} else if (res < 0 && res != -ECANCELED && res != -EINTR &&
	    res != -EAGAIN) {
		errno = -res;
		log_verbose("uring: receive on fd %d: %s", c->fd,
		    strerror(-res));
		uc_end(lp, c, -res);
	}
	uc_progress(lp, c);
	/* c may be gone; a connection that piles up input stops receiving. */
}

void
uc_on_send(struct uloop *lp, struct uconn *c, int res)
{
	if (lp->base.srv->idle_ms > 0 && res > 0)
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
			uc_end(lp, c, res != -ECANCELED ? -res : 0);
		}
	} else if (!c->closing) {
		c->sent += (uint64_t)res;
		c->out.n = iov_consume(c->out.iov, c->out.n, (size_t)res);
		if (c->out.n > 0 && c->send_nowait)
			own_keep(lp, c);
		if (c->out.n == 0) {
			if (c->out_bid != NO_BID) {
				buf_put(&lp->b, c->out_bid);
				c->out_bid = NO_BID;
			}
			free(c->own);	/* a slow reader's copy, sent */
			c->own = NULL;
			c->need_more = true;
		}
	}
	uc_progress(lp, c);
}

void
uc_on_read(struct uloop *lp, struct uconn *c, int res, unsigned flags)
{
	c->reading = false;
	c->inflight--;
	if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
		unsigned bid = taken_bid(lp, flags, c->read_big);

		c->read_small = false;
		if (c->closing) {
			buf_put(&lp->b, bid);
		} else {
			c->out.iov[0].iov_base = buf_at(&lp->b, bid);
			c->out.iov[0].iov_len = (size_t)res;
			c->out.n = 1;
			c->out_bid = (uint16_t)bid;
			c->out.file.off += res;
			c->out.file.len -= (uint64_t)res;
			if (c->out.file.len == 0)
				c->read_async = false;	/* the next file may be cached */
		}
	} else if (res == 0 && !c->closing) {
		svc_file_short(c->meta.id, c->out.file.len);
		uc_end(lp, c, ENODATA);
	} else if (res == -EAGAIN && c->out.file.len > BIG_SIZE &&
	    !c->read_async && !c->file_short && !c->closing) {
		/* A window the probe said was cached is not, after all
		 * (evicted since): the pool reads it, or without one,
		 * io_uring's workers. */
		if (disk_start(lp, c, disk_window(c->out.file.len),
		    "left the page cache since the probe") == -1)
			c->read_async = true;
	} else if (res == -EAGAIN && !c->read_async) {
		/* A short range whose pages are not cached: the ring will
		 * not wait for the disk itself (RWF_NOWAIT); its workers
		 * will, off this thread.  Asked again at once, it would
		 * spin. */
		c->read_async = true;
	} else if (res == -EOPNOTSUPP && c->read_nowait) {
		/* A file system that cannot say EAGAIN (tmpfs, here):
		 * this loop's reads wait as they would.  (Other reads with
		 * the flag may still be in flight: each is asked again.) */
		if (!lp->no_nowait)
			log_verbose("uring: loop %d: reads that do not wait "
			    "for the disk (RWF_NOWAIT) are not supported for "
			    "these files; reading without", lp->base.id);
		lp->no_nowait = true;
	} else if (res == -EAGAIN) {
		log_info("conn %llu: the file keeps saying EAGAIN; closing",
		    (unsigned long long)c->meta.id);
		uc_end(lp, c, EAGAIN);
	} else if (res == -ENOBUFS && c->read_big) {
		c->read_small = true;	/* the big pool is dry */
	} else if (res == -ENOBUFS) {
		if (!c->starved && !c->closing) {
			c->starved = true;
			c->snext = lp->starved;
			lp->starved = c;
		}
	} else if (res < 0 && res != -ECANCELED && res != -EINTR) {
		log_info("conn %llu: reading the file: %s",
		    (unsigned long long)c->meta.id, strerror(-res));
		uc_end(lp, c, -res);
	}
	uc_progress(lp, c);
}

void
uc_discard(struct uloop *lp, struct uconn *c)
{
	if (c->inflight > 0)
		c->own = NULL;	/* a send may still read it: leak it */
	c->inflight = 0;
	c->closing = true;
	uc_release(lp, c);
}

#endif /* HAVE_LIBURING */
