/*
 * proxy: --proxy-protocol, the header read before the service sees a byte.
 * See proxy.h.
 *
 * The wrapper (event loops).  Its state is the wrapper's own, then the
 * real service's, aligned.  start() puts the connection on the deadline
 * list and emits nothing; input() collects the header (at most
 * PROXY_PEEK_MAX bytes are kept: a v2 header's TLVs past that are counted
 * down and dropped), admits the client, starts the real service and hands
 * it the rest of that input -- or, if its start() spoke first (daytime,
 * chargen), keeps the rest and hands it over in more(), once that output
 * is sent, as the service contract wants.  end() counts a connection that
 * never completed its header, whatever ended it.
 *
 * The deadline.  A service has no timer of its own, and the drivers'
 * --idle-timeout measures silence, not a deadline (a header sent a byte a
 * second would never be idle).  So one thread keeps the connections that
 * owe a header, oldest first (all have the same timeout), and at the
 * deadline shuts the socket down; the driver then reads its EOF and ends
 * it.  The list's lock makes that safe: a connection leaves the list in
 * end(), which every driver calls before it closes the descriptor, so the
 * thread never shuts down a descriptor that has been closed, or reused.
 */
#include "proxy.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admit.h"
#include "log.h"
#include "proxyproto.h"
#include "server.h"
#include "service.h"
#include "stop.h"

struct wrap {
	struct service svc;		/* what the drivers run */
	const struct service *inner;	/* the real service */
	void *inner_conf;
	size_t inner_state;
	struct server *srv;
};

struct pstate {
	struct pstate *prev, *next;	/* the deadline list */
	uint64_t deadline_us;
	atomic_bool expired;		/* the thread shut it down */
	bool watched;
	bool done;			/* header read, client admitted */
	bool inner_started;
	int fd;
	uint16_t have;			/* header bytes in hdr */
	uint32_t skip;			/* v2 TLV bytes still to drop */
	char *stash;			/* input for the service, after its */
	size_t stash_len;		/* start()'s output is sent */
	bool stash_fed;
	const struct wrap *w;
	struct svc_conn conn;		/* the real service's view */
	unsigned char hdr[PROXY_PEEK_MAX];
	alignas(max_align_t) unsigned char inner[];
};

/* The thread that keeps the deadlines. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t tid;
	bool running, stop;
	struct pstate *head, *tail;
} wd = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* The meta is the driver's, not const; the service contract shows it
 * const to services, and this wrapper is the one allowed to admit. */
static struct conn_meta *
meta_rw(const struct pstate *p)
{
	return (struct conn_meta *)(uintptr_t)p->conn.meta;
}

static void
unlink_locked(struct pstate *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		wd.head = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	else
		wd.tail = p->prev;
	p->prev = p->next = NULL;
	p->watched = false;
}

static void
watch(struct pstate *p)
{
	pthread_mutex_lock(&wd.mu);
	p->prev = wd.tail;
	p->next = NULL;
	if (wd.tail != NULL)
		wd.tail->next = p;
	else
		wd.head = p;
	wd.tail = p;
	p->watched = true;
	if (p->prev == NULL)
		pthread_cond_signal(&wd.cv);	/* a new earliest deadline */
	pthread_mutex_unlock(&wd.mu);
}

static void
unwatch(struct pstate *p)
{
	pthread_mutex_lock(&wd.mu);
	if (p->watched)
		unlink_locked(p);
	pthread_mutex_unlock(&wd.mu);
}

static void *
watchdog(void *arg)
{
	struct timespec ts;
	uint64_t t, wait;

	(void)arg;
	server_block_signals();
	pthread_mutex_lock(&wd.mu);
	while (!wd.stop) {
		if (wd.head == NULL) {
			pthread_cond_wait(&wd.cv, &wd.mu);
			continue;
		}
		t = now_us();
		if (wd.head->deadline_us <= t) {
			struct pstate *p = wd.head;

			unlink_locked(p);
			atomic_store(&p->expired, true);
			/* The driver reads EOF and ends the connection. */
			if (shutdown(p->fd, SHUT_RDWR) == -1 && errno != ENOTCONN)
				log_warn("PROXY deadline: shutdown of fd %d", p->fd);
			continue;
		}
		wait = wd.head->deadline_us - t;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(wait / 1000000);
		ts.tv_nsec += (long)(wait % 1000000) * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		(void)pthread_cond_timedwait(&wd.cv, &wd.mu, &ts);
	}
	pthread_mutex_unlock(&wd.mu);
	return NULL;
}

static int
start_inner(struct pstate *p, struct svc_out *out)
{
	p->done = true;
	p->inner_started = true;
	return p->w->inner->start(p->inner, &p->conn, out);
}

static void
late_or_gone(struct pstate *p)
{
	char why[96];

	if (atomic_load(&p->expired))
		snprintf(why, sizeof(why), "no complete PROXY header within "
		    "%.3g s", p->w->srv->proxy->timeout_ms / 1000.0);
	else
		snprintf(why, sizeof(why), "the connection ended before its "
		    "PROXY header did");
	conn_proxy_refused(p->w->srv, meta_rw(p), why);
}

static int
w_start(void *st, const struct svc_conn *conn, struct svc_out *out)
{
	const struct wrap *w = conn->conf;
	struct pstate *p = st;

	p->w = w;
	p->conn = (struct svc_conn){ w->inner_conf, conn->meta, conn->fd };
	p->fd = conn->fd;
	if (!conn->meta->proxied)
		return start_inner(p, out);	/* not from a balancer */
	p->deadline_us = now_us() + (uint64_t)w->srv->proxy->timeout_ms * 1000;
	watch(p);
	return SVC_OK;
}

/* The header is in: admit the client, start the service, give it rest. */
static int
admitted(struct pstate *p, const struct proxy_hdr *h, const char *rest,
    size_t n, struct svc_out *out)
{
	int r;

	unwatch(p);
	meta_rw(p)->hdr_bytes = (uint32_t)h->len;	/* the driver counted them */
	if (conn_proxied(p->w->srv, p->fd, meta_rw(p), h) == -1)
		return SVC_ABORT;
	/* Only what came after the header; the header's addresses live in
	 * h, which the event loops do not keep. */
	meta_rw(p)->dst = NULL;
	r = start_inner(p, out);
	if (n == 0 || r != SVC_OK)
		return r;
	if (!svc_out_pending(out))
		return p->w->inner->input(p->inner, rest, n, out);
	if ((p->stash = malloc(n)) == NULL) {
		log_warn("conn %llu: input after the PROXY header",
		    (unsigned long long)p->conn.meta->id);
		return SVC_ABORT;
	}
	memcpy(p->stash, rest, n);
	p->stash_len = n;
	return r;
}

static int
w_input(void *st, const char *buf, size_t len, struct svc_out *out)
{
	struct pstate *p = st;
	struct proxy_hdr h;
	const char *why;
	size_t take, before, used;
	int r;

	if (p->done) {
		if (p->skip > 0) {
			used = len < p->skip ? len : p->skip;
			p->skip -= (uint32_t)used;
			buf += used;
			len -= used;
			if (len == 0)
				return SVC_OK;
		}
		return p->w->inner->input(p->inner, buf, len, out);
	}
	before = p->have;
	take = len < sizeof(p->hdr) - before ? len : sizeof(p->hdr) - before;
	memcpy(p->hdr + before, buf, take);
	p->have = (uint16_t)(before + take);
	r = proxy_parse(p->hdr, p->have, &h, &why);
	if (r == 0 && p->have < sizeof(p->hdr))
		return SVC_OK;
	if (r <= 0) {
		conn_proxy_refused(p->w->srv, meta_rw(p), r == 0 ?
		    "PROXY header too long" : why);
		return SVC_ABORT;
	}
	if (h.len > before + len) {
		/* TLVs still to come: dropped as they do. */
		p->skip = (uint32_t)(h.len - before - len);
		return admitted(p, &h, NULL, 0, out);
	}
	used = h.len - before;
	return admitted(p, &h, buf + used, len - used, out);
}

static int
w_eof(void *st, struct svc_out *out)
{
	struct pstate *p = st;

	if (!p->done)
		return SVC_ABORT;	/* counted in w_end() */
	return p->w->inner->eof(p->inner, out);
}

static int
w_more(void *st, struct svc_out *out)
{
	struct pstate *p = st;

	if (p->stash != NULL) {
		if (!p->stash_fed) {
			p->stash_fed = true;
			return p->w->inner->input(p->inner, p->stash,
			    p->stash_len, out);
		}
		free(p->stash);		/* what it emitted has been sent */
		p->stash = NULL;
	}
	if (!p->done || p->w->inner->more == NULL)
		return SVC_OK;
	return p->w->inner->more(p->inner, out);
}

static void
w_end(void *st)
{
	struct pstate *p = st;

	unwatch(p);
	if (!p->done && !p->conn.meta->refused)
		late_or_gone(p);
	free(p->stash);
	p->stash = NULL;
	if (p->inner_started && p->w->inner->end != NULL)
		p->w->inner->end(p->inner);
}

static struct wrap the_wrap;

int
proxy_wrap(struct server *srv)
{
	struct wrap *w = &the_wrap;
	pthread_condattr_t ca;
	size_t head;

	w->inner = srv->svc;
	w->inner_conf = srv->svc_conf;
	w->inner_state = srv->svc_state;
	w->srv = srv;
	w->svc = *srv->svc;	/* name, flags, takeover: the service's */
	w->svc.start = w_start;
	w->svc.input = w_input;
	w->svc.eof = w_eof;
	w->svc.more = w_more;
	w->svc.end = w_end;
	w->svc.datagram = NULL;
	head = offsetof(struct pstate, inner);
	srv->svc = &w->svc;
	srv->svc_conf = w;
	srv->svc_state = head + w->inner_state;
	if (!(srv->model->flags & MODEL_LOOPS) || srv->inetd)
		return 0;	/* the blocking driver reads it itself */
	if ((errno = pthread_condattr_init(&ca)) != 0 ||
	    (errno = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) != 0 ||
	    (errno = pthread_cond_init(&wd.cv, &ca)) != 0)
		return -errno;
	pthread_condattr_destroy(&ca);
	if ((errno = pthread_create(&wd.tid, NULL, watchdog, NULL)) != 0)
		return -errno;
	wd.running = true;
	return 0;
}

void
proxy_unwrap(struct server *srv)
{
	struct wrap *w = &the_wrap;

	if (wd.running) {
		pthread_mutex_lock(&wd.mu);
		wd.stop = true;
		pthread_cond_signal(&wd.cv);
		pthread_mutex_unlock(&wd.mu);
		pthread_join(wd.tid, NULL);
		wd.running = false;
	}
	if (srv->svc == &w->svc) {
		srv->svc = w->inner;
		srv->svc_conf = w->inner_conf;
		srv->svc_state = w->inner_state;
	}
}

const struct service *
proxy_inner(const struct server *srv, void **conf, size_t *state)
{
	const struct wrap *w = srv->svc_conf;

	*conf = w->inner_conf;
	*state = w->inner_state;
	return w->inner;
}

/* Wait until fd is readable or the deadline; 1 readable, 0 deadline, -1
 * error or the server closing. */
static int
readable(int fd, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t t;
	int r;

	for (;;) {
		if ((t = now_us()) >= deadline)
			return 0;
		r = poll(&pfd, 1, (int)((deadline - t) / 1000) + 1);
		if (r > 0)
			return 1;
		if (r == -1 && errno != EINTR)
			return -1;
		if (server_closing()) {
			errno = EINTR;
			return -1;
		}
	}
}

/* Take n bytes that are known to be waiting (or, for TLVs, coming before
 * the deadline); 0, or -1 with errno. */
static int
drop(int fd, size_t n, uint64_t deadline)
{
	char sink[512];
	ssize_t r;

	while (n > 0) {
		r = recv(fd, sink, n < sizeof(sink) ? n : sizeof(sink),
		    MSG_DONTWAIT);
		if (r > 0) {
			n -= (size_t)r;
			continue;
		}
		if (r == 0) {
			errno = ECONNRESET;
			return -1;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if ((r = readable(fd, deadline)) <= 0) {
			if (r == 0)
				errno = ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}

int
proxy_read(struct server *srv, int fd, struct conn_meta *m,
    struct proxy_hdr *h)
{
	unsigned char buf[PROXY_PEEK_MAX];
	uint64_t deadline = now_us() + (uint64_t)srv->proxy->timeout_ms * 1000;
	size_t have = 0, want;
	const char *why = NULL;
	char text[128];
	ssize_t n;
	int r;

	/* Peek, so nothing past the header is taken; what is peeked while
	 * the header is still incomplete is all header, so it is taken (or
	 * a poll() would find it again at once). */
	for (;;) {
		if ((r = readable(fd, deadline)) <= 0)
			goto failed;
		n = recv(fd, buf + have, sizeof(buf) - have,
		    MSG_PEEK | MSG_DONTWAIT);
		if (n == 0) {
			errno = 0;
			goto failed;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			goto failed;
		}
		r = proxy_parse(buf, have + (size_t)n, h, &why);
		if (r < 0 || (r == 0 && have + (size_t)n == sizeof(buf))) {
			/* Take what was looked at, so the close is a FIN, as
			 * the event loops' (which read it), not a reset. */
			(void)recv(fd, buf + have, (size_t)n, MSG_DONTWAIT);
			conn_proxy_refused(srv, m, r < 0 ? why :
			    "PROXY header too long");
			return -1;
		}
		if (r == 1)
			break;
		if (recv(fd, buf + have, (size_t)n, MSG_DONTWAIT) != n)
			goto failed;
		have += (size_t)n;
	}
	want = h->len - have;
	if (drop(fd, want, deadline) == -1) {
		r = errno == ETIMEDOUT ? 0 : -1;
		goto failed;
	}
	return conn_proxied(srv, fd, m, h);
failed:
	if (r == 0)
		snprintf(text, sizeof(text), "no complete PROXY header within "
		    "%.3g s", srv->proxy->timeout_ms / 1000.0);
	else if (errno == 0)
		snprintf(text, sizeof(text), "the connection ended before its "
		    "PROXY header did");
	else
		snprintf(text, sizeof(text), "the connection failed before its "
		    "PROXY header ended: %s", strerror(errno));
	conn_proxy_refused(srv, m, text);
	return -1;
}
