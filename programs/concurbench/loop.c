/*
 * loop: one worker thread, an epoll loop over its share of the connections.
 *
 * Every mode is the same machine.  A connection sends messages and reads
 * their replies; `window` messages may be in flight (1 for pingpong and the
 * connection modes, more for stream).  pingpong and stream keep their
 * connections; connrate and nbytes open one per request and close it after
 * the reply.  The echo modes send slices of a random pattern (see bench.h)
 * and compare every byte that comes back; nbytes sends "S\n" and compares the
 * reply with nbytes_pattern().
 *
 * The common case costs one send(2), one recv(2) and a share of one
 * epoll_wait(2) per request, and no allocation: everything is sized at
 * start.  Persistent connections are level-triggered with EPOLLOUT armed only
 * while a send is blocked; per-request connections are edge-triggered for
 * both directions, so they need no epoll_ctl beyond the ADD.
 *
 * Time: two clock reads per request stamp it (start, end); a coarse `now`
 * read after each epoll_wait drives deadlines, which a sweep checks a few
 * times a second.  Requests that wait (open loop, backoff after an error)
 * sit in a binary heap keyed by their wake time.
 */
#include "bench.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "net.h"

#define SCRATCH		(64 * 1024)
#define NEVENTS		256
#define BACKOFF_MIN	1000000ull	/* 1 ms after an error... */
#define BACKOFF_MAX	100000000ull	/* ...doubling to 100 ms */

enum cstate { C_IDLE, C_CONNECTING, C_UP, C_RETIRED };

struct conn {
	int fd;
	uint8_t state;
	bool out_armed;		/* EPOLLOUT in the interest set */
	bool tx_part;		/* message tx_m - 1 is not all sent */
	int heap_i;		/* -1: not waiting */
	uint64_t id;		/* global slot number */
	uint64_t opened;	/* connections this slot opened: the seed */
	uint32_t seed;
	uint64_t quota;		/* --connections-per-worker left */
	uint64_t tx_m, rx_m;	/* messages begun, messages answered */
	size_t tx_off, rx_off;	/* bytes of the current ones */
	uint64_t tx_total, rx_total;	/* bytes on this connection */
	uint64_t deadline;	/* 0: none */
	uint64_t wake;		/* heap key */
	uint64_t sched;		/* open loop: next request's scheduled time */
	uint64_t backoff;
	uint64_t *ts;		/* start times, window of them */
};

struct worker {
	struct shared *sh;
	const struct config *cfg;
	unsigned id;
	pthread_t tid;
	int ep;
	int notify_fd;
	struct conn *conns;
	uint64_t nconns;
	uint64_t *tsbuf;
	struct conn **heap;
	size_t nheap;
	uint64_t now;		/* coarse, after each epoll_wait */
	uint64_t interval;	/* open loop: ns between one slot's requests */
	uint64_t inflight;	/* requests begun and not ended */
	uint64_t connecting;	/* slots in C_CONNECTING */
	uint64_t live;		/* slots not retired */
	bool exhausted;		/* -n: no tickets left */
	bool persistent;
	bool have_pwait2;
	size_t tx_len, rx_len;
	uint64_t finished;
	struct wstats st;
	struct hist lat;
	unsigned char buf[SCRATCH];
};

static _Atomic int other_reported;

uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Single writer: a relaxed load and store, no locked instruction. */
static inline void
bump(_Atomic uint64_t *x, uint64_t n)
{
	atomic_store_explicit(x, atomic_load_explicit(x,
	    memory_order_relaxed) + n, memory_order_relaxed);
}

static inline bool
measuring(const struct worker *w, uint64_t t)
{
	return t >= w->sh->measure_start;
}

/* ---- the wait heap ---- */

static void
heap_swap(struct worker *w, size_t a, size_t b)
{
	struct conn *t = w->heap[a];

	w->heap[a] = w->heap[b];
	w->heap[b] = t;
	w->heap[a]->heap_i = (int)a;
	w->heap[b]->heap_i = (int)b;
}

static void
heap_up(struct worker *w, size_t i)
{
	while (i > 0 && w->heap[(i - 1) / 2]->wake > w->heap[i]->wake) {
		heap_swap(w, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(struct worker *w, size_t i)
{
	size_t l, m;

	for (;;) {
		l = 2 * i + 1;
		m = i;
		if (l < w->nheap && w->heap[l]->wake < w->heap[m]->wake)
			m = l;
		if (l + 1 < w->nheap && w->heap[l + 1]->wake < w->heap[m]->wake)
			m = l + 1;
		if (m == i)
			return;
		heap_swap(w, i, m);
		i = m;
	}
}

static void
heap_remove(struct worker *w, struct conn *c)
{
	size_t i = (size_t)c->heap_i;

	if (c->heap_i < 0)
		return;
	c->heap_i = -1;
	w->nheap--;
	if (i == w->nheap)
		return;
	w->heap[i] = w->heap[w->nheap];
	w->heap[i]->heap_i = (int)i;
	heap_up(w, i);
	heap_down(w, (size_t)w->heap[i]->heap_i);
}

static void
wait_until(struct worker *w, struct conn *c, uint64_t t)
{
	heap_remove(w, c);
	c->wake = t;
	c->heap_i = (int)w->nheap;
	w->heap[w->nheap++] = c;
	heap_up(w, (size_t)c->heap_i);
}

/* ---- errors ---- */

static enum errkind
classify(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return ERR_REFUSED;
	case ECONNRESET: case EPIPE: case ECONNABORTED:
		return ERR_RESET;
	case ETIMEDOUT:
		return ERR_TIMEOUT;
	case EADDRNOTAVAIL:
		return ERR_EADDRNOTAVAIL;
	default:
		if (atomic_exchange(&other_reported, 1) == 0)
			log_warnx("first error of kind \"other\": %s",
			    strerror(err));
		return ERR_OTHER;
	}
}

static void
close_fd(struct worker *w, struct conn *c, bool reset)
{
	if (c->fd < 0)
		return;
	if (reset)
		(void)net_set_linger0(c->fd);
	/* close() drops the descriptor from the epoll set. */
	close(c->fd);
	c->fd = -1;
	c->out_armed = false;
	(void)w;
}

static void start_request(struct worker *, struct conn *);
static int start_connect(struct worker *, struct conn *);

/* A connection failed: count it, give up its requests and go again.  When
 * the error says the server or this host cannot take more (refused, no
 * ephemeral port, no descriptor), the retry waits, longer while the failures
 * go on: never a busy loop on an error.  A wrong, short or reset reply, or a
 * timeout, is the server's answer to a real request: retry at once. */
static void
fail(struct worker *w, struct conn *c, enum errkind kind)
{
	bump(&w->st.errors[kind], 1);
	if (c->state == C_CONNECTING)
		w->connecting--;
	w->inflight -= c->tx_m - c->rx_m;
	close_fd(w, c, w->cfg->close_reset);
	c->state = C_IDLE;
	c->tx_m = c->rx_m = 0;
	c->tx_part = false;
	c->deadline = 0;
	if (kind == ERR_REFUSED || kind == ERR_EADDRNOTAVAIL ||
	    kind == ERR_OTHER) {
		c->backoff = c->backoff ? c->backoff * 2 : BACKOFF_MIN;
		if (c->backoff > BACKOFF_MAX)
			c->backoff = BACKOFF_MAX;
	} else
		c->backoff = 0;
	wait_until(w, c, w->now + c->backoff);
}

static void
describe_mismatch(struct worker *w, struct conn *c, uint64_t m, size_t off,
    unsigned char want, unsigned char got)
{
	if (atomic_exchange(&w->sh->verify_reported, 1) != 0)
		return;
	log_warnx("verify: connection %llu, request %llu, byte %zu: "
	    "expected 0x%02x, got 0x%02x", (unsigned long long)c->id,
	    (unsigned long long)m, off, want, got);
}

/* ---- messages ---- */

static inline const unsigned char *
tx_msg(const struct worker *w, const struct conn *c, uint64_t m)
{
	if (w->cfg->mode == MODE_NBYTES)
		return (const unsigned char *)w->sh->nbreq;
	return w->sh->pat + (c->seed + m * PAT_STRIDE) % PAT_PERIOD;
}

static inline const unsigned char *
rx_msg(const struct worker *w, const struct conn *c, uint64_t m)
{
	if (w->cfg->mode == MODE_NBYTES)
		return w->sh->nbpat;
	return w->sh->pat + (c->seed + m * PAT_STRIDE) % PAT_PERIOD;
}

/* Take a ticket for a request starting at t: false when -n is used up. */
static bool
take_ticket(struct worker *w, uint64_t t)
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
	bump(&w->st.issued, 1);
	return true;
}

/* The start time of the next request on c, or 0 if it may not start now
 * (window full, out of tickets, or the open-loop schedule says later, in
 * which case c waits in the heap). */
static uint64_t
begin(struct worker *w, struct conn *c)
{
	uint64_t t;

	if (c->tx_m - c->rx_m >= w->cfg->window || w->exhausted)
		return 0;
	t = now_ns();
	if (w->interval) {
		if (c->sched > t) {
			wait_until(w, c, c->sched);
			return 0;
		}
		/* Late is measured from when it should have gone. */
		t = c->sched;
		c->sched += w->interval;
	}
	if (!take_ticket(w, t))
		return 0;
	return t ? t : 1;
}

static void
set_out(struct worker *w, struct conn *c, bool on)
{
	struct epoll_event ev;

	if (!w->persistent || c->out_armed == on)
		return;
	ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->out_armed = on;
}

/* Send what may be sent.  0, or -1 when c failed. */
static int
do_send(struct worker *w, struct conn *c)
{
	const unsigned char *src;
	uint64_t t;
	ssize_t n;

	for (;;) {
		if (!c->tx_part) {
			if ((t = begin(w, c)) == 0)
				break;
			c->ts[c->tx_m % w->cfg->window] = t;
			c->tx_m++;
			w->inflight++;
			c->tx_part = true;
			c->tx_off = 0;
			c->deadline = w->now + w->cfg->io_timeout;
		}
		src = tx_msg(w, c, c->tx_m - 1) + c->tx_off;
		n = send(c->fd, src, w->tx_len - c->tx_off, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				set_out(w, c, true);
				return 0;
			}
			fail(w, c, classify(errno));
			return -1;
		}
		c->tx_total += (uint64_t)n;
		if (measuring(w, w->now))
			bump(&w->st.bytes_tx, (uint64_t)n);
		c->tx_off += (size_t)n;
		c->deadline = w->now + w->cfg->io_timeout;
		if (c->tx_off < w->tx_len) {
			/* The socket buffer is full; a retry now would only
			 * say EAGAIN. */
			set_out(w, c, true);
			return 0;
		}
		c->tx_part = false;
	}
	set_out(w, c, false);
	return 0;
}

/* The request on c ended well; per-request modes close and go again. */
static void
complete(struct worker *w, struct conn *c, uint64_t t_end)
{
	uint64_t t0 = c->ts[c->rx_m % w->cfg->window];

	c->rx_m++;
	c->rx_off = 0;
	w->inflight--;
	c->backoff = 0;
	if (measuring(w, t0)) {
		hist_record(&w->lat, t_end - t0);
		bump(&w->st.completed, 1);
	}
	if (c->tx_m == c->rx_m && !c->tx_part)
		c->deadline = 0;
	if (w->persistent)
		return;
	close_fd(w, c, w->cfg->close_reset);
	c->state = C_IDLE;
	c->tx_m = c->rx_m = 0;
	start_request(w, c);
}

/* Bytes that may still come back on c. */
static inline uint64_t
expected(const struct worker *w, const struct conn *c)
{
	if (w->cfg->mode == MODE_NBYTES)
		return c->tx_m * w->rx_len - c->rx_total;
	return c->tx_total - c->rx_total;
}

/* Read and check what came.  0 when c lives on, 1 when it was closed
 * (failed, or its request done in a per-request mode). */
static int
do_recv(struct worker *w, struct conn *c, bool *done)
{
	const unsigned char *p, *want;
	uint64_t allowed, t_end = 0;
	size_t asked, len, take, i;
	ssize_t n;

	for (;;) {
		allowed = expected(w, c);
		/* Nothing is owed: read a little to say what it is. */
		asked = allowed == 0 ? 64 : allowed < SCRATCH ?
		    (size_t)allowed : SCRATCH;
		n = recv(c->fd, w->buf, asked, 0);
		if (n == 0) {
			fail(w, c, ERR_EOF);
			return 1;
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			fail(w, c, classify(errno));
			return 1;
		}
		if (allowed == 0) {
			if (atomic_exchange(&w->sh->verify_reported, 1) == 0)
				log_warnx("verify: connection %llu: %zd bytes "
				    "more than were asked for",
				    (unsigned long long)c->id, n);
			fail(w, c, ERR_VERIFY);
			return 1;
		}
		c->rx_total += (uint64_t)n;
		c->deadline = w->now + w->cfg->io_timeout;
		if (measuring(w, w->now))
			bump(&w->st.bytes_rx, (uint64_t)n);
		for (p = w->buf, len = (size_t)n; len > 0; p += take,
		    len -= take) {
			take = w->rx_len - c->rx_off;
			if (take > len)
				take = len;
			if (w->cfg->verify) {
				want = rx_msg(w, c, c->rx_m) + c->rx_off;
				if (memcmp(p, want, take) != 0) {
					for (i = 0; p[i] == want[i]; i++)
						;
					describe_mismatch(w, c, c->rx_m,
					    c->rx_off + i, want[i], p[i]);
					fail(w, c, ERR_VERIFY);
					return 1;
				}
			}
			c->rx_off += take;
			if (c->rx_off == w->rx_len) {
				if (t_end == 0)
					t_end = now_ns();
				*done = true;
				complete(w, c, t_end);
				if (!w->persistent)
					return 1;
			}
		}
		/* A short read drained the socket; a finished message means
		 * the next one is not sent yet.  Either way, nothing more. */
		if ((size_t)n < asked || *done)
			return 0;
	}
}

/* ---- connections ---- */

/* Open c's socket and start connecting.  0, or -1 when it failed at once. */
static int
start_connect(struct worker *w, struct conn *c)
{
	const struct config *cfg = w->cfg;
	struct epoll_event ev;
	int fd, one = 1;

	fd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		fail(w, c, classify(errno));
		return -1;
	}
	c->fd = fd;
	/* Requests go as soon as they are written, whatever is unacked. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&cfg->addr, cfg->addrlen)
	    == -1 && errno != EINPROGRESS) {
		fail(w, c, classify(errno));
		return -1;
	}
	/* Per-request connections: edge-triggered both ways, no MOD later.
	 * Persistent ones: level-triggered, EPOLLOUT only while needed. */
	ev.events = w->persistent ? EPOLLOUT | EPOLLIN :
	    EPOLLOUT | EPOLLIN | EPOLLET;
	ev.data.ptr = c;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		fail(w, c, classify(errno));
		return -1;
	}
	c->out_armed = true;
	c->state = C_CONNECTING;
	w->connecting++;
	c->tx_total = c->rx_total = 0;
	c->rx_off = 0;
	c->opened++;
	c->seed = (uint32_t)((c->id * 2654435761u + c->opened * 40503u) %
	    PAT_PERIOD);
	c->deadline = w->now + cfg->connect_timeout;
	return 0;
}

/* c is writable while connecting: did it work? */
static int
connected(struct worker *w, struct conn *c)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		fail(w, c, classify(err));
		return -1;
	}
	c->state = C_UP;
	w->connecting--;
	c->deadline = 0;
	bump(&w->st.connects, 1);
	if (w->persistent)
		set_out(w, c, false);
	return 0;
}

/* Per-request modes: begin the next request on slot c (a new connection),
 * or wait for its time, or retire the slot. */
static void
start_request(struct worker *w, struct conn *c)
{
	uint64_t t;

	if (w->cfg->per_worker && c->quota == 0) {
		c->state = C_RETIRED;
		w->live--;
		return;
	}
	if ((t = begin(w, c)) == 0)
		return;
	if (w->cfg->per_worker && measuring(w, t))
		c->quota--;
	c->ts[0] = t;
	c->tx_m = 1;
	c->rx_m = 0;
	c->tx_off = 0;
	c->tx_part = true;
	w->inflight++;
	(void)start_connect(w, c);
}

static void
on_event(struct worker *w, struct conn *c, uint32_t ev)
{
	bool done = false;

	if (c->state == C_CONNECTING) {
		if (connected(w, c) == 0)
			(void)do_send(w, c);
		return;
	}
	if (c->state != C_UP)
		return;
	if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && do_recv(w, c, &done))
		return;
	if ((ev & EPOLLOUT) || done)
		(void)do_send(w, c);
}

/* A waiting slot's time came. */
static void
on_wake(struct worker *w, struct conn *c)
{
	switch (c->state) {
	case C_IDLE:
		if (w->persistent)
			(void)start_connect(w, c);
		else
			start_request(w, c);
		break;
	case C_UP:
		(void)do_send(w, c);
		break;
	default:
		break;
	}
}

static void
sweep(struct worker *w)
{
	uint64_t i;
	struct conn *c;

	for (i = 0; i < w->nconns; i++) {
		c = &w->conns[i];
		if (c->deadline != 0 && w->now >= c->deadline)
			fail(w, c, ERR_TIMEOUT);
	}
}

/* Wait for events until `until` at the latest. */
static int
wait_events(struct worker *w, struct epoll_event *evs, uint64_t until)
{
	uint64_t d = until > w->now ? until - w->now : 0;
	struct timespec ts;
	int n;

	if (w->have_pwait2) {
		ts.tv_sec = (time_t)(d / 1000000000u);
		ts.tv_nsec = (long)(d % 1000000000u);
		n = epoll_pwait2(w->ep, evs, NEVENTS, &ts, NULL);
		if (n != -1 || errno != ENOSYS)
			return n;
		w->have_pwait2 = false;
	}
	return epoll_wait(w->ep, evs, NEVENTS, (int)((d + 999999) / 1000000));
}

static uint64_t
sweep_period(const struct config *cfg)
{
	uint64_t p = 100000000;	/* 100 ms */

	if (cfg->connect_timeout / 8 < p)
		p = cfg->connect_timeout / 8;
	if (cfg->io_timeout / 8 < p)
		p = cfg->io_timeout / 8;
	return p > 1000000 ? p : 1000000;
}

/* Phase one, persistent modes: open every connection before the clock
 * starts, so the run measures requests, not the handshake storm. */
static void
connect_all(struct worker *w)
{
	struct epoll_event evs[NEVENTS];
	uint64_t i, next_sweep;
	int n, k;

	w->now = now_ns();
	for (i = 0; i < w->nconns; i++)
		(void)start_connect(w, &w->conns[i]);
	next_sweep = w->now + sweep_period(w->cfg);
	for (;;) {
		if (w->connecting == 0 || atomic_load(&w->sh->stop))
			break;
		n = wait_events(w, evs, next_sweep);
		w->now = now_ns();
		for (k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;

			if (c->state == C_CONNECTING)
				(void)connected(w, c);
		}
		if (w->now >= next_sweep) {
			sweep(w);
			next_sweep = w->now + sweep_period(w->cfg);
		}
	}
	/* Failed ones retry once the run starts, not during this phase. */
	w->nheap = 0;
	for (i = 0; i < w->nconns; i++)
		w->conns[i].heap_i = -1;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	struct epoll_event evs[NEVENTS];
	uint64_t i, next_sweep, until, period;
	uint64_t one = 1;
	int n, k;

	if (w->persistent)
		connect_all(w);
	pthread_barrier_wait(&sh->up);
	pthread_barrier_wait(&sh->go);
	w->now = now_ns();
	period = sweep_period(w->cfg);
	next_sweep = w->now + period;
	for (i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];

		/* Open loop: slots spread evenly over one interval. */
		c->sched = sh->t0 + (w->interval ? w->interval / w->cfg->conns *
		    c->id : 0);
		if (w->persistent) {
			if (c->state == C_UP)
				(void)do_send(w, c);
			else if (c->state == C_IDLE)
				wait_until(w, c, w->now + BACKOFF_MIN);
		} else
			start_request(w, c);
	}
	for (;;) {
		if (atomic_load_explicit(&sh->stop, memory_order_relaxed))
			break;
		if ((w->exhausted || w->live == 0) && w->inflight == 0)
			break;
		if (w->now >= sh->end)
			break;
		until = next_sweep < sh->end ? next_sweep : sh->end;
		if (w->nheap > 0 && w->heap[0]->wake < until)
			until = w->heap[0]->wake;
		n = wait_events(w, evs, until);
		if (n == -1 && errno != EINTR) {
			log_warn("epoll_wait");
			break;
		}
		w->now = now_ns();
		for (k = 0; k < n; k++)
			on_event(w, evs[k].data.ptr, evs[k].events);
		while (w->nheap > 0 && w->heap[0]->wake <= w->now) {
			struct conn *c = w->heap[0];

			heap_remove(w, c);
			on_wake(w, c);
		}
		if (w->now >= next_sweep) {
			sweep(w);
			next_sweep = w->now + period;
		}
	}
	w->finished = now_ns();
	if (w->finished > sh->end)
		w->finished = sh->end;
	if (write(w->notify_fd, &one, sizeof(one)) == -1)
		log_warn("worker %u: notify", w->id);
	return NULL;
}

struct worker *
worker_new(struct shared *sh, unsigned id, uint64_t first, uint64_t nconns,
    int notify_fd)
{
	const struct config *cfg = sh->cfg;
	struct worker *w;
	uint64_t i;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->sh = sh;
	w->cfg = cfg;
	w->id = id;
	w->notify_fd = notify_fd;
	w->nconns = w->live = nconns;
	w->persistent = cfg->mode == MODE_PINGPONG || cfg->mode == MODE_STREAM;
	w->have_pwait2 = true;
	w->tx_len = cfg->mode == MODE_NBYTES ? sh->nbreq_len : cfg->size;
	w->rx_len = cfg->size;
	if (cfg->rate)
		w->interval = (uint64_t)(1e9 * (double)cfg->conns /
		    (double)cfg->rate);
	hist_init(&w->lat);
	w->conns = calloc(nconns, sizeof(*w->conns));
	w->tsbuf = calloc(nconns * cfg->window, sizeof(*w->tsbuf));
	w->heap = calloc(nconns, sizeof(*w->heap));
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (w->conns == NULL || w->tsbuf == NULL || w->heap == NULL ||
	    w->ep == -1) {
		worker_free(w);
		return NULL;
	}
	for (i = 0; i < nconns; i++) {
		w->conns[i].fd = -1;
		w->conns[i].heap_i = -1;
		w->conns[i].id = first + i;
		w->conns[i].quota = cfg->per_worker;
		w->conns[i].ts = w->tsbuf + i * cfg->window;
	}
	return w;
}

int
worker_start(struct worker *w)
{
	int e = pthread_create(&w->tid, NULL, worker_main, w);

	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}

void
worker_join(struct worker *w)
{
	pthread_join(w->tid, NULL);
}

const struct wstats *
worker_stats(const struct worker *w)
{
	return &w->st;
}

const struct hist *
worker_hist(const struct worker *w)
{
	return &w->lat;
}

uint64_t
worker_finished(const struct worker *w)
{
	return w->finished;
}

void
worker_free(struct worker *w)
{
	uint64_t i;

	if (w == NULL)
		return;
	if (w->conns != NULL)
		for (i = 0; i < w->nconns; i++)
			close_fd(w, &w->conns[i], w->cfg->close_reset);
	if (w->ep != -1)
		close(w->ep);
	free(w->conns);
	free(w->tsbuf);
	free(w->heap);
	free(w);
}
