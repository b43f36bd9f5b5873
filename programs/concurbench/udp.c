/*
 * udp: the UDP worker -- ping-pong and open-loop datagrams with sequence
 * numbers, against an echo server (concurd --udp -s echo).
 *
 * Each slot is a connected UDP socket (so only its server's datagrams
 * reach it, and an ICMP "port unreachable" comes back as ECONNREFUSED).
 * A datagram is a 16-byte header -- a magic word, the slot's number, a
 * 64-bit sequence number -- and then the slot's slice of the verification
 * pattern for that sequence number, -s bytes in all.  The reply must be the
 * same bytes.
 *
 * The slot remembers its last RING datagrams in a ring indexed by sequence
 * number: the send time of one still waiting, or what became of it
 * (answered, lost).  So an answer is matched to its datagram whatever order
 * answers come in: the first answer to a datagram is timed; a second one is
 * a duplicate; one older than the newest answered so far is reordered; one
 * to a datagram already given up is late.  A datagram with no answer within
 * --io-timeout is lost, and so is one pushed out of the ring by newer ones.
 * Loss is counted, never taken for latency.
 *
 * Closed loop (no -r): one datagram in flight per slot; the next goes when
 * it is answered or lost.  Open loop (-r): each slot sends on its schedule,
 * whatever comes back.
 */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define NEVENTS		256
#define SCRATCH		(64 * 1024)
#define UDP_MAGIC	0x31556263u	/* "cbU1" */
#define HDR		16
#define RING_CLOSED	64
#define RING_OPEN	1024

/* Ring entries: a send time (>= T_MIN), or what became of it. */
#define R_EMPTY		0
#define R_ANSWERED	1
#define R_EXPIRED	2
#define T_MIN		3

struct uconn {
	struct hnode hn;	/* first: the heap gives it back */
	int fd;
	bool waiting;		/* closed loop: a datagram is out */
	bool blocked;		/* the socket buffer was full */
	uint64_t id;
	uint32_t seed;
	uint64_t tx_seq;	/* next to send */
	uint64_t oldest;	/* lowest whose fate is open */
	uint64_t max_rx;	/* highest answered + 1 */
	uint64_t held;		/* a start time taken but not sent (blocked) */
	uint64_t sched, sched_n;
	double phase;
	uint64_t backoff;
	uint64_t *ring;
};

struct uworker {
	struct wbase b;
	struct shared *sh;
	const struct config *cfg;
	int ep;
	struct uconn *conns;
	uint64_t nconns;
	uint64_t *ringbuf;
	uint64_t ring;		/* entries per slot */
	struct heap heap;
	uint64_t now;
	uint64_t interval, ramp;
	uint64_t inflight;
	bool exhausted;
	bool have_pwait2;
	unsigned char buf[SCRATCH];
};

static inline void
bump(_Atomic uint64_t *x, uint64_t n)
{
	atomic_store_explicit(x, atomic_load_explicit(x,
	    memory_order_relaxed) + n, memory_order_relaxed);
}

static inline bool
measuring(const struct uworker *w, uint64_t t)
{
	return t >= w->sh->measure_start;
}

static inline const unsigned char *
body(const struct uworker *w, const struct uconn *c, uint64_t seq)
{
	return w->sh->pat + (c->seed + seq * PAT_STRIDE) % PAT_PERIOD;
}

static void
header(unsigned char *h, const struct uconn *c, uint64_t seq)
{
	uint32_t magic = UDP_MAGIC, id = (uint32_t)c->id;

	memcpy(h, &magic, 4);
	memcpy(h + 4, &id, 4);
	memcpy(h + 8, &seq, 8);
}

static enum errkind
kind_of(int err)
{
	return err == ECONNREFUSED ? ERR_REFUSED : err == EADDRNOTAVAIL ?
	    ERR_EADDRNOTAVAIL : ERR_OTHER;
}

/* A socket error: count it and wait before the next datagram. */
static void
fail(struct uworker *w, struct uconn *c, int err, const char *when)
{
	enum errkind k = kind_of(err);
	char what[160];

	bump(&w->b.st.errors[k], 1);
	snprintf(what, sizeof(what), "%s: %s", when, strerror(err));
	report_first(&w->b, k, c->id, what);
	c->backoff = c->backoff ? c->backoff * 2 : BACKOFF_MIN;
	if (c->backoff > BACKOFF_MAX)
		c->backoff = BACKOFF_MAX;
	heap_push(&w->heap, &c->hn, w->now + c->backoff);
}

/* Datagram seq's fate is settled without an answer. */
static void
expire(struct uworker *w, struct uconn *c, uint64_t seq)
{
	uint64_t *e = &c->ring[seq % w->ring];

	if (*e >= T_MIN) {
		if (measuring(w, *e))
			bump(&w->b.st.lost, 1);
		w->inflight--;
		*e = R_EXPIRED;
		if (c->waiting && seq + 1 == c->tx_seq)
			c->waiting = false;
	}
}

/* Take a ticket for a datagram at t: false when -n is used up. */
static bool
take_ticket(struct uworker *w, uint64_t t)
{
	if (!measuring(w, t))
		return true;
	if (w->cfg->limit) {
		if (w->exhausted)
			return false;
		if (atomic_fetch_add_explicit(&w->sh->tickets, 1,
		    memory_order_relaxed) >= w->cfg->limit) {
			w->exhausted = true;
			return false;
		}
	}
	bump(&w->b.st.issued, 1);
	return true;
}

/* The start time of the next datagram on c, or 0 if none may go now. */
static uint64_t
begin(struct uworker *w, struct uconn *c)
{
	uint64_t t;

	if (c->held)
		return c->held;
	if (c->waiting || w->exhausted || c->hn.heap_i >= 0)
		return 0;
	t = now_ns();
	if (w->interval) {
		if (c->sched > t) {
			heap_push(&w->heap, &c->hn, c->sched);
			return 0;
		}
		t = c->sched;
		if (w->ramp)
			c->sched = w->sh->t0 + sched_time((double)++c->sched_n +
			    c->phase, w->interval, w->ramp);
		else
			c->sched += w->interval;
	}
	if (!take_ticket(w, t))
		return 0;
	return t;
}

static void
set_out(struct uworker *w, struct uconn *c, bool on)
{
	struct epoll_event ev;

	ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->blocked = on;
}

static void
do_send(struct uworker *w, struct uconn *c)
{
	unsigned char h[HDR];
	struct iovec iov[2];
	uint64_t t, seq;
	ssize_t n;

	while ((t = begin(w, c)) != 0) {
		seq = c->tx_seq;
		/* The ring is full: the oldest is lost. */
		if (seq - c->oldest >= w->ring) {
			expire(w, c, c->oldest);
			c->oldest++;
		}
		header(h, c, seq);
		iov[0].iov_base = h;
		iov[0].iov_len = HDR;
		iov[1].iov_base = (void *)(uintptr_t)body(w, c, seq);
		iov[1].iov_len = w->cfg->size - HDR;
		n = writev(c->fd, iov, 2);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == ENOBUFS)) {
			c->held = t;
			if (!c->blocked)
				set_out(w, c, true);
			return;
		}
		c->held = 0;
		if (n == -1) {
			if (measuring(w, t))
				bump(&w->b.st.failed, 1);
			fail(w, c, errno, "send");
			return;
		}
		c->ring[seq % w->ring] = t > T_MIN ? t : T_MIN;
		c->tx_seq++;
		w->inflight++;
		if (measuring(w, w->now))
			bump(&w->b.st.bytes_tx, (uint64_t)n);
		if (!w->interval)
			c->waiting = true;
	}
	if (c->blocked)
		set_out(w, c, false);
}

static void
bad_reply(struct uworker *w, struct uconn *c, const char *what)
{
	if (atomic_exchange(&w->sh->verify_reported, 1) == 0)
		log_warnx("verify: socket %llu: %s", (unsigned long long)c->id,
		    what);
	bump(&w->b.st.errors[ERR_VERIFY], 1);
}

/* One datagram came back on c. */
static void
on_reply(struct uworker *w, struct uconn *c, const unsigned char *p,
    size_t n, uint64_t t_end)
{
	uint32_t magic, id;
	uint64_t seq, *e, t0;
	size_t i;

	if (n < HDR) {
		bad_reply(w, c, "a datagram shorter than the header");
		return;
	}
	memcpy(&magic, p, 4);
	memcpy(&id, p + 4, 4);
	memcpy(&seq, p + 8, 8);
	if (magic != UDP_MAGIC || id != (uint32_t)c->id || seq >= c->tx_seq) {
		bad_reply(w, c, "a datagram this socket did not send");
		return;
	}
	if (measuring(w, w->now))
		bump(&w->b.st.bytes_rx, n);
	if (seq + w->ring < c->tx_seq) {
		bump(&w->b.st.late, 1);
		return;
	}
	e = &c->ring[seq % w->ring];
	if (*e == R_ANSWERED) {
		bump(&w->b.st.duplicate, 1);
		return;
	}
	if (*e == R_EXPIRED) {
		bump(&w->b.st.late, 1);
		return;
	}
	t0 = *e;
	*e = R_ANSWERED;
	w->inflight--;
	if (c->waiting && seq + 1 == c->tx_seq)
		c->waiting = false;
	if (seq + 1 < c->max_rx)
		bump(&w->b.st.reordered, 1);
	else
		c->max_rx = seq + 1;
	if (w->cfg->verify && (n != w->cfg->size || memcmp(p + HDR,
	    body(w, c, seq), n - HDR) != 0)) {
		if (atomic_exchange(&w->sh->verify_reported, 1) == 0) {
			if (n != w->cfg->size)
				log_warnx("verify: socket %llu, datagram "
				    "%llu: %zu bytes, expected %llu",
				    (unsigned long long)c->id,
				    (unsigned long long)seq, n,
				    (unsigned long long)w->cfg->size);
			else {
				for (i = HDR; p[i] == body(w, c, seq)[i - HDR];
				    i++)
					;
				log_warnx("verify: socket %llu, datagram "
				    "%llu, byte %zu: expected 0x%02x, got "
				    "0x%02x", (unsigned long long)c->id,
				    (unsigned long long)seq, i,
				    body(w, c, seq)[i - HDR], p[i]);
			}
		}
		bump(&w->b.st.errors[ERR_VERIFY], 1);
		if (measuring(w, t0))
			bump(&w->b.st.failed, 1);
		return;
	}
	c->backoff = 0;
	if (measuring(w, t0)) {
		hist_record(&w->b.ilat, t_end - t0);
		bump(&w->b.st.completed, 1);
	}
}

static void
do_recv(struct uworker *w, struct uconn *c)
{
	uint64_t t_end = 0;
	ssize_t n;
	int k;

	/* A bounded number per wakeup: other sockets get their turn. */
	for (k = 0; k < 64; k++) {
		n = recv(c->fd, w->buf, sizeof(w->buf), 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				fail(w, c, errno, "recv");
			return;
		}
		if (t_end == 0)
			t_end = now_ns();
		on_reply(w, c, w->buf, (size_t)n, t_end);
	}
}

/* Datagrams older than the timeout are lost. */
static void
sweep(struct uworker *w)
{
	uint64_t i, v;
	struct uconn *c;

	for (i = 0; i < w->nconns; i++) {
		c = &w->conns[i];
		while (c->oldest < c->tx_seq) {
			v = c->ring[c->oldest % w->ring];
			/* (Sent after `now` was read: not old.) */
			if (v >= T_MIN && (v > w->now ||
			    w->now - v < w->cfg->io_timeout))
				break;
			expire(w, c, c->oldest);
			c->oldest++;
		}
		if (!w->interval && !c->waiting)
			do_send(w, c);
	}
}

static void *
uworker_main(void *arg)
{
	struct uworker *w = arg;
	struct shared *sh = w->sh;
	const struct config *cfg = w->cfg;
	struct epoll_event evs[NEVENTS], ev;
	struct hnode *top;
	uint64_t i, next_sweep, until, period;
	int n, k;

	for (i = 0; i < w->nconns; i++) {
		struct uconn *c = &w->conns[i];

		if ((c->fd = open_socket(target_for(cfg, c->id),
		    source_for(cfg, c->id), SOCK_DGRAM)) == -1) {
			log_warn("UDP socket %llu", (unsigned long long)c->id);
			atomic_store(&sh->stop, 1);
			break;
		}
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) == -1) {
			log_warn("epoll_ctl");
			atomic_store(&sh->stop, 1);
			break;
		}
		bump(&w->b.st.connects, 1);
	}
	pthread_barrier_wait(&sh->up);
	pthread_barrier_wait(&sh->go);
	w->now = now_ns();
	iv_start(&w->b);
	period = cfg->io_timeout / 8 < 100000000 ? cfg->io_timeout / 8 :
	    100000000;
	if (period < 1000000)
		period = 1000000;
	next_sweep = w->now + period;
	for (i = 0; i < w->nconns && w->conns[i].fd != -1; i++) {
		struct uconn *c = &w->conns[i];

		c->phase = (double)c->id / (double)cfg->conns;
		c->sched = sh->t0 + (w->interval ? sched_time(c->phase,
		    w->interval, w->ramp) : 0);
		do_send(w, c);
	}
	for (;;) {
		if (atomic_load_explicit(&sh->stop, memory_order_relaxed))
			break;
		if (w->exhausted && w->inflight == 0)
			break;
		if (w->now >= sh->end)
			break;
		until = next_sweep < sh->end ? next_sweep : sh->end;
		if (w->b.iv_next < until)
			until = w->b.iv_next;
		if ((top = heap_top(&w->heap)) != NULL && top->wake < until)
			until = top->wake;
		n = epoll_until(w->ep, evs, NEVENTS, w->now, until,
		    &w->have_pwait2);
		if (n == -1 && errno != EINTR) {
			log_warn("epoll_wait");
			break;
		}
		w->now = now_ns();
		for (k = 0; k < n; k++) {
			struct uconn *c = evs[k].data.ptr;

			if (evs[k].events & (EPOLLIN | EPOLLERR))
				do_recv(w, c);
			if (evs[k].events & EPOLLOUT || !c->waiting)
				do_send(w, c);
		}
		while ((top = heap_top(&w->heap)) != NULL &&
		    top->wake <= w->now) {
			heap_remove(&w->heap, top);
			do_send(w, (struct uconn *)top);
		}
		if (w->now >= next_sweep) {
			sweep(w);
			next_sweep = w->now + period;
		}
		iv_check(&w->b, w->now);
	}
	worker_done(&w->b, now_ns());
	return NULL;
}

static void
uworker_free(struct wbase *b)
{
	struct uworker *w = (struct uworker *)b;
	uint64_t i;

	if (w->conns != NULL)
		for (i = 0; i < w->nconns; i++)
			if (w->conns[i].fd != -1)
				close(w->conns[i].fd);
	if (w->ep != -1)
		close(w->ep);
	free(w->conns);
	free(w->ringbuf);
	heap_free(&w->heap);
	free(w);
}

struct wbase *
udp_worker_new(struct shared *sh, unsigned id, uint64_t first,
    uint64_t nconns, int notify_fd)
{
	const struct config *cfg = sh->cfg;
	struct uworker *w;
	uint64_t i;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	wbase_init(&w->b, sh, id, notify_fd);
	w->b.main = uworker_main;
	w->b.free = uworker_free;
	w->sh = sh;
	w->cfg = cfg;
	w->nconns = nconns;
	w->have_pwait2 = true;
	w->ring = cfg->rate ? RING_OPEN : RING_CLOSED;
	if (cfg->rate)
		w->interval = (uint64_t)(1e9 * (double)cfg->conns /
		    (double)cfg->rate);
	w->ramp = cfg->ramp;
	w->conns = calloc(nconns, sizeof(*w->conns));
	w->ringbuf = calloc(nconns * w->ring, sizeof(*w->ringbuf));
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (w->conns == NULL || w->ringbuf == NULL || w->ep == -1 ||
	    heap_init(&w->heap, nconns) == -1) {
		uworker_free(&w->b);
		return NULL;
	}
	for (i = 0; i < nconns; i++) {
		struct uconn *c = &w->conns[i];

		c->fd = -1;
		c->hn.heap_i = -1;
		c->id = first + i;
		c->seed = (uint32_t)((c->id * 2654435761u + 40503u) %
		    PAT_PERIOD);
		c->ring = w->ringbuf + i * w->ring;
	}
	return &w->b;
}
