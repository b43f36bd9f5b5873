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
 * epoll_wait(2) per request (ping-pong: a share of one io_uring_enter(2),
 * below), and no allocation: everything is sized at
 * start.  Persistent connections are level-triggered with EPOLLOUT armed only
 * while a send is blocked; per-request connections are edge-triggered for
 * both directions, so they need no epoll_ctl beyond the ADD.
 *
 * Time: two clock reads per request stamp it (start, end); a coarse `now`
 * read after each epoll_wait drives deadlines, which a sweep checks a few
 * times a second, and the interval boundaries (worker.c).  Requests that
 * wait (open loop, back-off after an error, a connection rate) sit in a
 * binary heap keyed by their wake time (heap.c).
 *
 * Other protocols (proto.c): with --request or --payload each message is
 * built when it begins, into the connection's own buffers, and its answer
 * ends by the rule asked for; the window is one.
 */
#include "bench.h"

#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <nettle/sha2.h>
#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#include "io.h"
#include "log.h"
#include "net.h"

#define SCRATCH		(64 * 1024)
#define NEVENTS		256

enum cstate { C_IDLE, C_CONNECTING, C_UP, C_RETIRED };

/* --mode file: the answer being read. */
#define FHEAD_MAX	4096	/* an HTTP answer's head */
struct fconn {
	uint64_t rng;		/* which path next */
	size_t k;		/* the path asked for */
	bool body;		/* past the head (plain: always) */
	uint64_t got, want;	/* body bytes; want UINT64_MAX: to EOF */
	size_t hlen;
	struct sha256_ctx sha;
	unsigned char head[FHEAD_MAX];
};

struct conn {
	struct hnode hn;	/* first: the heap gives it back */
	int fd;
	uint8_t state;
	bool out_armed;		/* EPOLLOUT in the interest set */
	bool tx_part;		/* message tx_m - 1 is not all sent */
	uint64_t id;		/* global slot number */
	const struct target *tgt;
	const struct sockaddr_storage *src;	/* NULL: any */
	uint64_t opened;	/* connections this slot opened: the seed */
	uint32_t seed;
	uint64_t quota;		/* --connections-per-worker left */
	uint64_t tx_m, rx_m;	/* messages begun, messages answered */
	size_t tx_off, rx_off;	/* bytes of the current ones */
	uint64_t tx_total, rx_total;	/* bytes on this connection */
	uint64_t deadline;	/* 0: none */
	uint64_t sched;		/* open loop: next request's scheduled time */
	uint64_t sched_n;	/* ...its number (with a ramp) */
	double phase;		/* open loop: this slot's offset, 0 to 1 */
	uint64_t backoff;
	uint64_t *ts;		/* start times, window of them */
	/* --request/--payload: this message and its answer. */
	unsigned char *txbuf, *rxbuf;
	const unsigned char *txp, *rxp;
	size_t txl, rxl;
	unsigned tm;		/* terminator bytes matched */
	struct fconn *f;	/* --mode file */
	uint16_t gen;		/* io_uring: this socket, among the slot's */
	uint8_t uops;		/* io_uring: its operations in flight */
};

struct worker {
	struct wbase b;		/* first: main sees only this */
	struct shared *sh;
	const struct config *cfg;
	const struct proto *proto;
	int ep;
	struct conn *conns;
	uint64_t nconns;
	uint64_t *tsbuf;
	unsigned char *protobuf;
	struct heap heap;
	uint64_t now;		/* coarse, after each epoll_wait */
	uint64_t interval;	/* open loop: ns between one slot's requests */
	uint64_t ramp;
	uint64_t inflight;	/* requests begun and not ended */
	uint64_t connecting;	/* slots in C_CONNECTING */
	uint64_t live;		/* slots not retired */
	bool exhausted;		/* -n: no tickets left */
	bool until;		/* --reply-until */
	bool check;		/* compare the answers' bytes */
	bool nbytes;
	const struct fileset *fs;	/* --mode file */
	struct fconn *fconns;
	size_t window;		/* 1 or a power of two */
	size_t wmask;		/* window - 1 */
	uint64_t io_timeout;
	uint64_t measure_start;	/* the shared one, once it is known */
	bool persistent;
	bool have_pwait2;
	bool uring;		/* the connections' data goes through ring */
	bool ring_up;
	bool ep_polled;		/* ring holds a poll of ep */
	unsigned char *rbufs;	/* io_uring: an answer's room per connection */
#ifdef HAVE_LIBURING
	struct io_uring ring;
#endif
	size_t tx_len, rx_len;
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
	return t >= w->measure_start;
}

static void
wait_until(struct worker *w, struct conn *c, uint64_t t)
{
	heap_push(&w->heap, &c->hn, t);
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
	/* io_uring: operations in flight hold the socket open until a
	 * shutdown ends them; what they report after is of an old socket. */
	if (c->uops != 0) {
		(void)shutdown(c->fd, SHUT_RDWR);
		c->uops = 0;
		c->gen++;
	}
	/* close() drops the descriptor from the epoll set. */
	close(c->fd);
	c->fd = -1;
	c->out_armed = false;
	(void)w;
}

static void start_request(struct worker *, struct conn *);
static int start_connect(struct worker *, struct conn *);

/* A connection failed: count it, give up its requests and go again, after
 * a wait that doubles while the failures go on (BACKOFF_MIN to
 * BACKOFF_MAX) and resets with the next request that ends well.  Whatever
 * the error -- a refusal, a reset, a close before the answer, a wrong
 * reply -- a server that fails every connection at once gets at most a few
 * tries a second from each slot, never a busy loop. */
static void
fail(struct worker *w, struct conn *c, enum errkind kind)
{
	uint64_t m, lost = 0;

	bump(&w->b.st.errors[kind], 1);
	if (c->state == C_CONNECTING)
		w->connecting--;
	for (m = c->rx_m; m < c->tx_m; m++)
		lost += measuring(w, c->ts[m & w->wmask]);
	if (lost)
		bump(&w->b.st.failed, lost);
	w->inflight -= c->tx_m - c->rx_m;
	close_fd(w, c, w->cfg->close_reset);
	c->state = C_IDLE;
	c->tx_m = c->rx_m = 0;
	c->tx_part = false;
	c->deadline = 0;
	c->backoff = c->backoff ? c->backoff * 2 : BACKOFF_MIN;
	if (c->backoff > BACKOFF_MAX)
		c->backoff = BACKOFF_MAX;
	wait_until(w, c, w->now + c->backoff);
}

/* fail() with the first of each kind described under -v. */
static void
fail_errno(struct worker *w, struct conn *c, int err, const char *when)
{
	enum errkind k = classify(err);
	char what[160];

	if (log_level() >= LOG_VERBOSE) {
		snprintf(what, sizeof(what), "%s: %s", when, strerror(err));
		report_first(&w->b, k, c->id, what);
	}
	fail(w, c, k);
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

/* Protocols: the message that begins now, and what will answer it. */
static void
prepare(struct worker *w, struct conn *c, uint64_t m)
{
	const struct proto *p = w->proto;

	c->tm = 0;
	if (p->req.fixed)
		c->txl = p->req.len;
	else
		c->txl = tmpl_expand(&p->req, c->id, m, c->txbuf);
	switch (p->rule) {
	case REPLY_ECHO:
		c->rxl = c->txl;
		break;
	case REPLY_EXACT:
		if (p->expect.fixed)
			c->rxl = p->expect.len;
		else
			c->rxl = tmpl_expand(&p->expect, c->id, m, c->rxbuf);
		break;
	case REPLY_BYTES:
		c->rxl = p->bytes;
		break;
	case REPLY_UNTIL:
		c->rxl = REPLY_MAX;
		break;
	}
}

/* ---- messages ---- */

/* Slice m of c's pattern. */
static inline const unsigned char *
pattern(const struct worker *w, const struct conn *c, uint64_t m)
{
	return w->sh->pat + (c->seed + m * PAT_STRIDE) % PAT_PERIOD;
}

/* Message m begins: where its bytes are, and (one at a time) where its
 * answer's are, worked out once for all the sends and reads of it. */
static inline void
msg_begin(struct worker *w, struct conn *c, uint64_t m)
{
	if (w->fs != NULL) {
		struct fconn *f = c->f;

		f->k = files_pick(w->fs, &f->rng);
		c->txl = files_request(w->fs, f->k, w->cfg->http, w->cfg->host,
		    c->txbuf);
		c->txp = c->txbuf;
		f->body = !w->cfg->http;
		f->got = f->hlen = 0;
		f->want = w->cfg->http ? 0 : UINT64_MAX;
		if (w->fs->check == FCHECK_SHA256)
			sha256_init(&f->sha);
		return;
	}
	if (w->proto) {
		prepare(w, c, m);
		return;
	}
	if (w->nbytes) {
		c->txp = (const unsigned char *)w->sh->nbreq;
		c->rxp = w->sh->nbpat;
	} else {
		c->txp = pattern(w, c, m);
		/* stream: the answer read now is of an earlier message, and
		 * do_recv() finds its slice. */
		if (w->window == 1)
			c->rxp = c->txp;
	}
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
	bump(&w->b.st.issued, 1);
	return true;
}

/* -n is used up: a kept-alive connection with nothing of its own on the
 * way is closed now, not at the end of the run, so that a server that
 * serves one connection at a time (iterative) gets to the others, still
 * waiting for their last answers. */
static void
retire_idle(struct worker *w, struct conn *c)
{
	if (!w->persistent || c->fd < 0 || c->tx_m != c->rx_m || c->tx_part)
		return;
	close_fd(w, c, false);
	c->state = C_RETIRED;
}

/* The start time of the next request on c, or 0 if it may not start now
 * (window full, out of tickets, or the open-loop schedule says later, in
 * which case c waits in the heap). */
static uint64_t
begin(struct worker *w, struct conn *c)
{
	uint64_t t;

	if (c->tx_m - c->rx_m >= w->window)
		return 0;
	if (w->exhausted) {
		retire_idle(w, c);
		return 0;
	}
	t = now_ns();
	if (w->interval) {
		if (c->sched > t) {
			wait_until(w, c, c->sched);
			return 0;
		}
		/* Late is measured from when it should have gone. */
		t = c->sched;
		if (w->ramp)
			c->sched = w->sh->t0 + sched_time((double)++c->sched_n +
			    c->phase, w->interval, w->ramp);
		else
			c->sched += w->interval;
	}
	if (!take_ticket(w, t)) {
		retire_idle(w, c);
		return 0;
	}
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

/* The next message on c begins, if one may begin now. */
static bool
next_message(struct worker *w, struct conn *c)
{
	uint64_t t;

	if ((t = begin(w, c)) == 0)
		return false;
	c->ts[c->tx_m & w->wmask] = t;
	msg_begin(w, c, c->tx_m);
	c->tx_m++;
	w->inflight++;
	c->tx_part = true;
	c->tx_off = 0;
	c->deadline = w->now + w->io_timeout;
	return true;
}

/* n more bytes of c's message went out: true once all of it has. */
static bool
sent(struct worker *w, struct conn *c, size_t n)
{
	c->tx_total += (uint64_t)n;
	if (measuring(w, w->now))
		bump(&w->b.st.bytes_tx, (uint64_t)n);
	c->tx_off += n;
	c->deadline = w->now + w->io_timeout;
	if (c->tx_off < c->txl)
		return false;
	c->tx_part = false;
	return true;
}

static int ring_send(struct worker *, struct conn *);

/* Send what may be sent.  0, or -1 when c failed. */
static int
do_send(struct worker *w, struct conn *c)
{
	ssize_t n;

	if (w->uring)
		return ring_send(w, c);
	for (;;) {
		if (!c->tx_part && !next_message(w, c))
			break;
		n = send(c->fd, c->txp + c->tx_off, c->txl - c->tx_off,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				set_out(w, c, true);
				return 0;
			}
			fail_errno(w, c, errno, "send");
			return -1;
		}
		if (!sent(w, c, (size_t)n)) {
			/* The socket buffer is full; a retry now would only
			 * say EAGAIN. */
			set_out(w, c, true);
			return 0;
		}
	}
	set_out(w, c, false);
	return 0;
}

/* The request on c ended well; per-request modes close and go again. */
static void
complete(struct worker *w, struct conn *c, uint64_t t_end)
{
	uint64_t t0 = c->ts[c->rx_m & w->wmask];

	c->rx_m++;
	c->rx_off = 0;
	w->inflight--;
	c->backoff = 0;
	if (measuring(w, t0)) {
		hist_record(&w->b.ilat, t_end - t0);
		bump(&w->b.st.completed, 1);
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
	if (w->proto)
		return c->tx_m > c->rx_m ? c->rxl - c->rx_off : 0;
	if (w->nbytes)
		return c->tx_m * w->rx_len - c->rx_total;
	return c->tx_total - c->rx_total;
}

static void
extra(struct worker *w, struct conn *c, size_t n)
{
	char what[96];

	if (atomic_exchange(&w->sh->verify_reported, 1) == 0)
		log_warnx("verify: connection %llu: %zu bytes more than were "
		    "asked for", (unsigned long long)c->id, n);
	snprintf(what, sizeof(what), "%zu bytes more than were asked for", n);
	report_first(&w->b, ERR_VERIFY, c->id, what);
	fail(w, c, ERR_VERIFY);
}

static void
too_long(struct worker *w, struct conn *c)
{
	if (atomic_exchange(&w->sh->verify_reported, 1) == 0)
		log_warnx("verify: connection %llu: no terminator in the "
		    "first %d bytes of the answer", (unsigned long long)c->id,
		    REPLY_MAX);
	fail(w, c, ERR_VERIFY);
}

/* --reply-until: how many of the n bytes at p belong to the answer (all,
 * or up to and with the terminator). */
static size_t
until(const struct proto *pr, struct conn *c, const unsigned char *p,
    size_t n)
{
	size_t i;
	unsigned k = c->tm;

	for (i = 0; i < n; i++) {
		while (k > 0 && p[i] != pr->term[k])
			k = pr->kmp[k - 1];
		if (p[i] == pr->term[k])
			k++;
		if (k == pr->termlen) {
			c->tm = k;
			return i + 1;
		}
	}
	c->tm = k;
	return n;
}

/* --mode file: an answer that is not the file. */
static void
file_wrong(struct worker *w, struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
file_wrong(struct worker *w, struct conn *c, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (atomic_exchange(&w->sh->verify_reported, 1) == 0)
		log_warnx("verify: connection %llu, %s: %s", (unsigned long long)
		    c->id, w->fs->e[c->f->k].path, what);
	report_first(&w->b, ERR_VERIFY, c->id, what);
	fail(w, c, ERR_VERIFY);
}

/* The whole answer is in: is it the file?  1 if c was closed. */
static int
file_end(struct worker *w, struct conn *c, bool *done)
{
	const struct fentry *e = &w->fs->e[c->f->k];
	uint8_t sum[SHA256_DIGEST_SIZE];

	if (w->check && e->size != UINT64_MAX && c->f->got != e->size) {
		file_wrong(w, c, "%llu bytes, the file has %llu",
		    (unsigned long long)c->f->got, (unsigned long long)e->size);
		return 1;
	}
	if (w->check && w->fs->check == FCHECK_SHA256) {
		sha256_digest(&c->f->sha, sizeof(sum), sum);
		if (memcmp(sum, e->sha, sizeof(sum)) != 0) {
			file_wrong(w, c, "the SHA-256 is not the manifest's");
			return 1;
		}
	}
	*done = true;
	complete(w, c, now_ns());
	return !w->persistent;
}

/* Body bytes [p, p + n) at offset f->got: compared with the local copy,
 * or hashed.  -1 if they are not the file's. */
static int
file_check(struct worker *w, struct conn *c, const unsigned char *p, size_t n)
{
	struct fconn *f = c->f;
	const struct fentry *e = &w->fs->e[f->k];
	size_t i;

	if (e->size != UINT64_MAX && f->got + n > e->size) {
		file_wrong(w, c, "more than the file's %llu bytes",
		    (unsigned long long)e->size);
		return -1;
	}
	if (!w->check)
		return 0;
	if (w->fs->check == FCHECK_BYTES && memcmp(p, e->map + f->got, n) != 0) {
		for (i = 0; p[i] == e->map[f->got + i]; i++)
			;
		file_wrong(w, c, "byte %llu: expected 0x%02x, got 0x%02x",
		    (unsigned long long)(f->got + i), e->map[f->got + i], p[i]);
		return -1;
	}
	if (w->fs->check == FCHECK_SHA256)
		sha256_update(&f->sha, n, p);
	return 0;
}

/* --mode file: read an answer (HTTP: head and Content-Length bytes; plain:
 * to the server's close).  0 when c lives on, 1 when it was closed. */
static int
file_recv(struct worker *w, struct conn *c, bool *done)
{
	struct fconn *f = c->f;
	const unsigned char *p;
	size_t len, take;
	ssize_t n;
	long hl;
	int status;

	for (;;) {
		n = recv(c->fd, w->buf, SCRATCH, 0);
		if (n == 0) {
			if (!w->cfg->http && c->tx_m > c->rx_m)
				return file_end(w, c, done);
			report_first(&w->b, ERR_EOF, c->id, "the server closed "
			    "the connection before the answer was complete");
			fail(w, c, ERR_EOF);
			return 1;
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			fail_errno(w, c, errno, "recv");
			return 1;
		}
		if (c->tx_m == c->rx_m) {
			extra(w, c, (size_t)n);
			return 1;
		}
		c->rx_total += (uint64_t)n;
		c->deadline = w->now + w->io_timeout;
		if (measuring(w, w->now))
			bump(&w->b.st.bytes_rx, (uint64_t)n);
		for (p = w->buf, len = (size_t)n; len > 0; p += take,
		    len -= take) {
			if (c->tx_m == c->rx_m) {
				extra(w, c, len);
				return 1;
			}
			if (!f->body) {
				take = FHEAD_MAX - f->hlen < len ?
				    FHEAD_MAX - f->hlen : len;
				memcpy(f->head + f->hlen, p, take);
				hl = files_http_head(f->head, f->hlen + take,
				    &status, &f->want);
				if (hl < 0 || (hl == 0 && f->hlen + take ==
				    FHEAD_MAX)) {
					file_wrong(w, c, "not an HTTP answer");
					return 1;
				}
				if (hl == 0) {
					f->hlen += take;
					continue;
				}
				take = (size_t)hl - f->hlen;
				f->hlen = 0;
				if (status != 200 || f->want == UINT64_MAX) {
					file_wrong(w, c, status != 200 ?
					    "status %d" : "no Content-Length "
					    "(status %d)", status);
					return 1;
				}
				f->body = true;
				if (f->want == 0 && file_end(w, c, done))
					return 1;
				continue;
			}
			take = len;
			if (f->want != UINT64_MAX && take > f->want - f->got)
				take = (size_t)(f->want - f->got);
			if (file_check(w, c, p, take) == -1)
				return 1;
			f->got += take;
			if (f->want != UINT64_MAX && f->got == f->want &&
			    file_end(w, c, done))
				return 1;
		}
		/* Plain answers end with the close, which edge-triggered
		 * epoll may have reported with the last bytes: read on. */
		if ((size_t)n < SCRATCH && w->cfg->http)
			return 0;
	}
}

/* Read and check what came.  0 when c lives on, 1 when it was closed
 * (failed, or its request done in a per-request mode). */
/* The server closed c. */
static void
ended(struct worker *w, struct conn *c)
{
	report_first(&w->b, ERR_EOF, c->id, c->tx_m > c->rx_m ? "the server "
	    "closed the connection before the answer was complete" :
	    "the server closed an idle connection");
	fail(w, c, ERR_EOF);
}

/* n bytes of answers, at p, came in on c: check them, and complete the
 * requests they end.  0, or 1 when c is gone (failed, or closed after its
 * request). */
static int
answers(struct worker *w, struct conn *c, const unsigned char *p, size_t n,
    bool *done)
{
	const unsigned char *want;
	uint64_t t_end = 0;
	size_t take, i;

	c->rx_total += (uint64_t)n;
	c->deadline = w->now + w->io_timeout;
	if (measuring(w, w->now))
		bump(&w->b.st.bytes_rx, (uint64_t)n);
	for (; n > 0; p += take, n -= take) {
		if (w->until && c->tx_m == c->rx_m) {
			/* Bytes after the answer, before a request. */
			extra(w, c, n);
			return 1;
		}
		take = c->rxl - c->rx_off;
		if (take > n)
			take = n;
		if (w->until) {
			take = until(w->proto, c, p, take);
			if (c->tm == w->proto->termlen)
				c->rxl = c->rx_off + take;
			else if (c->rx_off + take == REPLY_MAX) {
				too_long(w, c);
				return 1;
			}
		} else if (w->check) {
			if (w->window > 1 && c->rx_off == 0)
				c->rxp = pattern(w, c, c->rx_m);
			want = c->rxp + c->rx_off;
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
		if (c->rx_off == c->rxl) {
			if (t_end == 0)
				t_end = now_ns();
			*done = true;
			complete(w, c, t_end);
			if (!w->persistent)
				return 1;
		}
	}
	return 0;
}

/* Read what c's server sent.  0, or 1 when c is gone; *done when a request
 * completed. */
static int
do_recv(struct worker *w, struct conn *c, bool *done)
{
	uint64_t allowed;
	size_t asked;
	ssize_t n;

	if (w->fs != NULL)
		return file_recv(w, c, done);
	for (;;) {
		allowed = expected(w, c);
		/* Nothing is owed: read a little to say what it is. */
		asked = allowed == 0 ? 64 : allowed < SCRATCH ?
		    (size_t)allowed : SCRATCH;
		n = recv(c->fd, w->buf, asked, 0);
		if (n == 0) {
			ended(w, c);
			return 1;
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			fail_errno(w, c, errno, "recv");
			return 1;
		}
		if (allowed == 0) {
			extra(w, c, (size_t)n);
			return 1;
		}
		if (answers(w, c, w->buf, (size_t)n, done))
			return 1;
		/* A short read drained the socket; a finished message means
		 * the next one is not sent yet.  Either way, nothing more. */
		if ((size_t)n < asked || *done)
			return 0;
	}
}

/* ---- io_uring ----
 *
 * Ping-pong with the built-in messages moves its data through an io_uring
 * with deferred task work (one system call a turn submits every send and
 * receive and reaps what finished, in the worker's own time) where the
 * kernel has it: on 2 cores, about an eighth less client CPU per request
 * than one send(2) and one recv(2) each.  Connecting stays with epoll,
 * whose descriptor the ring polls.  A connection's receive lands in its own
 * rbufs slot, rx_len bytes.
 */
enum { OP_SEND, OP_RECV, OP_EPOLL };
#define RING_MSG_MAX	4096	/* largest message size that uses the ring */

#ifdef HAVE_LIBURING
static uint64_t
ring_tag(const struct worker *w, const struct conn *c, unsigned op)
{
	return (uint64_t)(c - w->conns) << 18 | (uint64_t)c->gen << 2 | op;
}

/* An entry to fill; NULL when the ring is full and will not take more. */
static struct io_uring_sqe *
ring_sqe(struct worker *w)
{
	struct io_uring_sqe *s = io_uring_get_sqe(&w->ring);

	if (s == NULL && io_uring_submit(&w->ring) >= 0)
		s = io_uring_get_sqe(&w->ring);
	return s;
}

static int
ring_post(struct worker *w, struct conn *c, unsigned op)
{
	struct io_uring_sqe *s;

	if ((s = ring_sqe(w)) == NULL) {
		fail_errno(w, c, EBUSY, op == OP_SEND ? "send" : "recv");
		return -1;
	}
	if (op == OP_SEND)
		io_uring_prep_send(s, c->fd, c->txp + c->tx_off,
		    c->txl - c->tx_off, MSG_NOSIGNAL);
	else
		io_uring_prep_recv(s, c->fd, w->rbufs + (size_t)(c -
		    w->conns) * w->rx_len, c->rxl - c->rx_off, 0);
	io_uring_sqe_set_data64(s, ring_tag(w, c, op));
	c->uops++;
	return 0;
}

/* The next message on c, and the receive of its answer. */
static int
ring_send(struct worker *w, struct conn *c)
{
	if (c->tx_part || !next_message(w, c))
		return 0;
	if (ring_post(w, c, OP_SEND) == -1)
		return -1;
	return ring_post(w, c, OP_RECV);
}

static void
ring_done(struct worker *w, struct conn *c, unsigned op, int res)
{
	bool done = false;

	c->uops--;
	if (res < 0) {
		fail_errno(w, c, -res, op == OP_SEND ? "send" : "recv");
		return;
	}
	if (op == OP_SEND) {
		if (!sent(w, c, (size_t)res)) {
			(void)ring_post(w, c, OP_SEND);
		} else if (c->rx_m == c->tx_m) {
			/* The answer was reaped first: nothing is owed. */
			c->deadline = 0;
			(void)ring_send(w, c);
		}
		return;
	}
	if (res == 0) {
		ended(w, c);
		return;
	}
	if (answers(w, c, w->rbufs + (size_t)(c - w->conns) * w->rx_len,
	    (size_t)res, &done))
		return;
	if (done)
		(void)ring_send(w, c);
	else
		(void)ring_post(w, c, OP_RECV);
}
#else
static int
ring_send(struct worker *w, struct conn *c)
{
	(void)w;
	(void)c;
	return -1;
}
#endif

/* ---- connections ---- */

/* Open c's socket and start connecting.  0, or -1 when it failed at once. */
static int
start_connect(struct worker *w, struct conn *c)
{
	const struct config *cfg = w->cfg;
	struct epoll_event ev;
	int fd;

	if ((fd = open_socket(c->tgt, c->src, SOCK_STREAM)) == -1) {
		fail_errno(w, c, errno, "connect");
		return -1;
	}
	c->fd = fd;
	/* Per-request connections: edge-triggered both ways, no MOD later.
	 * Persistent ones: level-triggered, EPOLLOUT only while needed. */
	ev.events = w->persistent ? EPOLLOUT | EPOLLIN :
	    EPOLLOUT | EPOLLIN | EPOLLET;
	ev.data.ptr = c;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		fail_errno(w, c, errno, "epoll_ctl");
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

/* An open-loop slot whose first connection came up late (a connection
 * rate): its schedule starts now, not with a burst of what it missed. */
static void
sched_from(struct worker *w, struct conn *c, uint64_t t)
{
	double x = sched_count(t - w->sh->t0, w->interval, w->ramp) -
	    c->phase;
	uint64_t n = x > 0 ? (uint64_t)x + 1 : 0;

	if (c->sched >= t)
		return;
	c->sched_n = n;
	c->sched = w->sh->t0 + sched_time((double)n + c->phase, w->interval,
	    w->ramp);
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
		fail_errno(w, c, err, "connect");
		return -1;
	}
	c->state = C_UP;
	w->connecting--;
	c->deadline = 0;
	bump(&w->b.st.connects, 1);
	if (w->persistent) {
		if (w->uring)
			(void)epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
		else
			set_out(w, c, false);
		if (w->interval && w->cfg->connect_rate && c->opened == 1)
			sched_from(w, c, w->now);
	}
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
	/* The message after the connection's seed. */
	if (start_connect(w, c) == 0)
		msg_begin(w, c, 0);
}

static void
on_event(struct worker *w, struct conn *c, uint32_t ev)
{
	bool done = false;

	if (c->state == C_CONNECTING) {
		if (connected(w, c) == -1 || do_send(w, c) == -1)
			return;
		if (w->uring)
			return;		/* the ring has it now */
		/* A server that speaks first (daytime) may have spoken
		 * already: edge-triggered, that is said only now. */
		ev &= ~(uint32_t)EPOLLOUT;
	}
	if (c->state != C_UP || w->uring)
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
		if (c->deadline != 0 && w->now >= c->deadline) {
			report_first(&w->b, ERR_TIMEOUT, c->id,
			    c->state == C_CONNECTING ? "no connection within "
			    "--connect-timeout" : "no progress within "
			    "--io-timeout");
			fail(w, c, ERR_TIMEOUT);
		}
	}
}

static int
wait_events(struct worker *w, struct epoll_event *evs, uint64_t until)
{
	return epoll_until(w->ep, evs, NEVENTS, w->now, until,
	    &w->have_pwait2);
}

#ifdef HAVE_LIBURING
static int
ring_open(struct io_uring *ring, unsigned entries)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	return io_uring_queue_init_params(entries, ring, &p);
}

/* Submit what is queued and wait for a completion until `until`. */
static int
ring_wait(struct worker *w, uint64_t until)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *s;
	uint64_t d = until > w->now ? until - w->now : 0;
	int r;

	if (!w->ep_polled && (s = ring_sqe(w)) != NULL) {
		io_uring_prep_poll_add(s, w->ep, POLLIN);
		io_uring_sqe_set_data64(s, OP_EPOLL);
		w->ep_polled = true;
	}
	ts.tv_sec = (long long)(d / 1000000000u);
	ts.tv_nsec = (long long)(d % 1000000000u);
	r = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
	if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY) {
		errno = -r;
		return -1;
	}
	return 0;
}

/* What finished: the connections' sends and receives, and connections
 * coming up (epoll's). */
static void
ring_reap(struct worker *w, struct epoll_event *evs)
{
	struct io_uring_cqe *cqe;
	struct conn *c;
	uint64_t tag;
	unsigned budget = 4 * w->ring.cq.ring_entries;
	int res, n, k;

	while (budget-- > 0 && io_uring_peek_cqe(&w->ring, &cqe) == 0) {
		tag = cqe->user_data;
		res = cqe->res;
		io_uring_cqe_seen(&w->ring, cqe);
		if ((tag & 3) == OP_EPOLL) {
			w->ep_polled = false;
			n = epoll_wait(w->ep, evs, NEVENTS, 0);
			for (k = 0; k < n; k++)
				on_event(w, evs[k].data.ptr, evs[k].events);
			continue;
		}
		c = &w->conns[tag >> 18];
		if (c->fd >= 0 && (uint16_t)(tag >> 2) == c->gen)
			ring_done(w, c, (unsigned)(tag & 3), res);
	}
}
#endif

/* Whether this kernel gives the ring ping-pong needs: 0, or an errno. */
int
ring_available(void)
{
#ifdef HAVE_LIBURING
	struct io_uring ring;
	int r = ring_open(&ring, 4);

	if (r < 0)
		return -r;
	io_uring_queue_exit(&ring);
	return 0;
#else
	return ENOSYS;
#endif
}

bool
ring_fits(const struct config *cfg)
{
	/* Verified: a receive asks for what is owed and no more, so bytes
	 * beyond an answer are caught as the next answer's mismatch. */
	return !cfg->udp && cfg->mode == MODE_PINGPONG && cfg->proto == NULL &&
	    cfg->verify && cfg->size <= RING_MSG_MAX;
}

/* Wait for something to do until `until`: -1 on an error. */
static int
wait_any(struct worker *w, struct epoll_event *evs, uint64_t until)
{
	int n, k;

#ifdef HAVE_LIBURING
	if (w->uring) {
		if (ring_wait(w, until) == -1)
			return -1;
		w->now = now_ns();
		ring_reap(w, evs);
		return 0;
	}
#endif
	n = wait_events(w, evs, until);
	if (n == -1)
		return errno == EINTR ? 0 : -1;
	w->now = now_ns();
	for (k = 0; k < n; k++)
		on_event(w, evs[k].data.ptr, evs[k].events);
	return 0;
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
	while (w->heap.n > 0)
		heap_remove(&w->heap, heap_top(&w->heap));
}

/* The first move of each slot once the clock runs. */
static void
kick_off(struct worker *w)
{
	const struct config *cfg = w->cfg;
	struct shared *sh = w->sh;
	uint64_t i;

	for (i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];

		/* Open loop: slots spread evenly over one interval. */
		c->phase = (double)c->id / (double)cfg->conns;
		c->sched = sh->t0 + (w->interval ? sched_time(c->phase,
		    w->interval, w->ramp) : 0);
		if (!w->persistent)
			start_request(w, c);
		else if (cfg->connect_rate)
			/* Connection k opens at k / rate. */
			wait_until(w, c, sh->t0 + (uint64_t)(1e9 *
			    (double)c->id / (double)cfg->connect_rate));
		else if (c->state == C_UP)
			(void)do_send(w, c);
		else if (c->state == C_IDLE)
			wait_until(w, c, w->now + BACKOFF_MIN);
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	struct epoll_event evs[NEVENTS];
	struct hnode *top;
	uint64_t next_sweep, until, period;

#ifdef HAVE_LIBURING
	if (w->uring) {
		int r = ring_open(&w->ring, w->nconns < 2048 ?
		    2 * (unsigned)w->nconns + 2 : 4096);

		w->ring_up = r == 0;
		w->uring = w->ring_up;
		if (r < 0) {
			/* main's probe worked: this is short memory. */
			log_warnx("thread %u: io_uring: %s; epoll instead",
			    w->b.id, strerror(-r));
			atomic_fetch_add(&sh->ring_failed, 1);
		}
	}
#endif
	if (w->persistent && !w->cfg->connect_rate)
		connect_all(w);
	pthread_barrier_wait(&sh->up);
	pthread_barrier_wait(&sh->go);
	w->measure_start = sh->measure_start;
	w->now = now_ns();
	iv_start(&w->b);
	period = sweep_period(w->cfg);
	next_sweep = w->now + period;
	kick_off(w);
	for (;;) {
		if (atomic_load_explicit(&sh->stop, memory_order_relaxed))
			break;
		if ((w->exhausted || w->live == 0) && w->inflight == 0)
			break;
		if (w->now >= sh->end)
			break;
		until = next_sweep < sh->end ? next_sweep : sh->end;
		if (w->b.iv_next < until)
			until = w->b.iv_next;
		if ((top = heap_top(&w->heap)) != NULL && top->wake < until)
			until = top->wake;
		if (wait_any(w, evs, until) == -1) {
			log_warn(w->uring ? "io_uring_enter" : "epoll_wait");
			break;
		}
		while ((top = heap_top(&w->heap)) != NULL &&
		    top->wake <= w->now) {
			heap_remove(&w->heap, top);
			on_wake(w, (struct conn *)top);
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
tcp_worker_free(struct wbase *b)
{
	struct worker *w = (struct worker *)b;
	uint64_t i;

	if (w->conns != NULL)
		for (i = 0; i < w->nconns; i++)
			close_fd(w, &w->conns[i], w->cfg->close_reset);
	if (w->ep != -1)
		close(w->ep);
#ifdef HAVE_LIBURING
	if (w->ring_up)
		io_uring_queue_exit(&w->ring);
#endif
	free(w->rbufs);
	free(w->conns);
	free(w->tsbuf);
	free(w->protobuf);
	free(w->fconns);
	heap_free(&w->heap);
	free(w);
}

struct wbase *
tcp_worker_new(struct shared *sh, unsigned id, uint64_t first,
    uint64_t nconns, int notify_fd)
{
	const struct config *cfg = sh->cfg;
	const struct proto *p = cfg->proto;
	struct worker *w;
	size_t per = 0;
	uint64_t i;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	wbase_init(&w->b, sh, id, notify_fd);
	w->b.main = worker_main;
	w->b.free = tcp_worker_free;
	w->sh = sh;
	w->cfg = cfg;
	w->proto = p;
	w->nconns = w->live = nconns;
	w->persistent = cfg->mode == MODE_PINGPONG || cfg->mode == MODE_STREAM ||
	    (cfg->mode == MODE_FILE && cfg->http);
	w->fs = cfg->mode == MODE_FILE ? cfg->files : NULL;
	w->have_pwait2 = true;
	w->tx_len = cfg->mode == MODE_NBYTES ? sh->nbreq_len : cfg->size;
	w->rx_len = cfg->size;
	w->window = cfg->window;
	w->wmask = cfg->window - 1;
	w->nbytes = cfg->mode == MODE_NBYTES;
	w->io_timeout = cfg->io_timeout;
	w->measure_start = UINT64_MAX;
	w->until = p != NULL && p->rule == REPLY_UNTIL;
	w->check = cfg->verify && (p == NULL || p->rule != REPLY_BYTES);
	if (cfg->rate)
		w->interval = (uint64_t)(1e9 * (double)cfg->conns /
		    (double)cfg->rate);
	w->ramp = cfg->ramp;
	w->uring = cfg->io == IO_URING;
	w->conns = calloc(nconns, sizeof(*w->conns));
	if (w->uring)
		w->rbufs = malloc(nconns * w->rx_len);
	w->tsbuf = calloc(nconns * cfg->window, sizeof(*w->tsbuf));
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (p != NULL) {
		per = (p->req.fixed ? 0 : p->req.maxlen) + (p->rule ==
		    REPLY_EXACT && !p->expect.fixed ? p->expect.maxlen : 0);
		if (per)
			w->protobuf = calloc(nconns, per);
	}
	if (w->fs != NULL) {
		per = w->fs->maxpath + strlen(cfg->host) + 64;
		w->protobuf = calloc(nconns, per);
		w->fconns = calloc(nconns, sizeof(*w->fconns));
	}
	if (w->conns == NULL || w->tsbuf == NULL || w->ep == -1 ||
	    (w->uring && w->rbufs == NULL) ||
	    heap_init(&w->heap, nconns) == -1 || (per && !w->protobuf) ||
	    (w->fs != NULL && w->fconns == NULL)) {
		tcp_worker_free(&w->b);
		return NULL;
	}
	for (i = 0; i < nconns; i++) {
		struct conn *c = &w->conns[i];

		c->fd = -1;
		c->hn.heap_i = -1;
		c->id = first + i;
		c->quota = cfg->per_worker;
		c->tgt = target_for(cfg, c->id);
		c->src = source_for(cfg, c->id);
		c->ts = w->tsbuf + i * cfg->window;
		c->txl = w->tx_len;
		c->rxl = w->rx_len;
		if (w->fs != NULL) {
			c->f = &w->fconns[i];
			c->f->rng = (c->id + 1) * 0x9e3779b97f4a7c15ull;
			c->txbuf = w->protobuf + i * per;
			c->txp = c->txbuf;
			continue;
		}
		if (p == NULL)
			continue;
		if (w->protobuf != NULL) {
			c->txbuf = w->protobuf + i * per;
			c->rxbuf = c->txbuf + (p->req.fixed ? 0 :
			    p->req.maxlen);
		}
		c->txp = p->req.fixed ? p->req.text : c->txbuf;
		c->rxp = p->rule == REPLY_ECHO ? c->txp : p->expect.fixed ?
		    p->expect.text : c->rxbuf;
	}
	return &w->b;
}
