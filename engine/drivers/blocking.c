/*
 * blocking: a service run on a blocking socket, one read and one write at
 * a time.  See blocking.h.
 *
 * --idle-timeout is a receive and send timeout on the socket (SO_RCVTIMEO,
 * SO_SNDTIMEO), so it costs nothing per message; a send that times out
 * while the peer still acknowledges our output (a slow link) goes on
 * (idle.h).  A stop with --grace is a
 * deadline, not an idle time: the same timeouts, set to what is left of
 * the grace.  A stop reaches a thread blocked in read() as EINTR (the
 * worker code nudges it; a child gets its parent's SIGTERM).  A worker
 * process keeps its connection's record (lost.h) up to date once a read,
 * so its parent can close the account if the child dies.  A file range
 * goes out with sendfile(2): from the page cache to the socket, no copy
 * through this process.
 *
 * --proxy-protocol: the header is read here, before the service starts or
 * a program takes the socket over (engine/proxy.c), and the real service
 * runs under the wrapper the event loops need.
 */
#include "drivers/blocking.h"

#include <errno.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admit.h"
#include "idle.h"
#include "io.h"
#include "log.h"
#include "lost.h"
#include "proxy.h"
#include "proxyproto.h"
#include "server.h"
#include "stop.h"

#define STATE_INLINE	256	/* state bigger than this is malloc'd */

struct bconn {
	struct server *srv;
	const struct service *svc;
	int fd;
	struct conn_meta m;
	uint64_t in, sent;
	uint64_t acked;		/* acknowledged at the last look (idle.h) */
	bool lingering;
};

/* A send timed out (--idle-timeout's SO_SNDTIMEO, errno EAGAIN), yet its
 * output is still being acknowledged: a slow link, not an idle peer.  The
 * kernel wakes a blocked sender only once much of the buffer is free,
 * which on a slow link can take longer than the timeout (idle.h). */
static bool
still_moving(struct bconn *b)
{
	return (errno == EAGAIN || errno == EWOULDBLOCK) && !b->lingering &&
	    b->srv->idle_ms > 0 && idle_moving(b->fd, &b->acked);
}

/* Send every emitted slice, then the file range; -1 on error (errno) or
 * when closing. */
static int
send_out(struct bconn *b, struct svc_out *o)
{
	struct iovec iov[SVC_OUT_MAX];
	struct msghdr mh;
	int n = o->n;
	ssize_t w;

	memcpy(iov, o->iov, sizeof(iov));
	memset(&mh, 0, sizeof(mh));
	while (n > 0) {
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)n;
		/* A file follows: MSG_MORE, so the head and the file's first
		 * bytes share a packet. */
		w = sendmsg(b->fd, &mh, MSG_NOSIGNAL |
		    (o->file.len > 0 ? MSG_MORE : 0));
		if (w == -1) {
			if ((errno == EINTR && !server_closing()) ||
			    still_moving(b))
				continue;
			return -1;
		}
		b->sent += (uint64_t)w;
		if (n == 1 && (size_t)w == iov[0].iov_len)
			break;		/* the common case: all taken */
		n = iov_consume(iov, n, (size_t)w);
	}
	o->n = 0;
	while (o->file.len > 0 &&
	    svc_file_send(b->fd, &o->file, b->m.id, &b->sent) == -1)
		if ((errno != EINTR || server_closing()) && !still_moving(b))
			return -1;
	return 0;
}

static void
set_timeouts(int fd, int ms)
{
	if (ms <= 0)
		ms = 1;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		log_warn("idle timeout on fd %d", fd);
}

/* The service's state machine to its end: 0, or -1 with errno (the error
 * that ended the connection, EAGAIN for a timeout). */
static int
drive(struct bconn *b, void *st, const struct svc_conn *sc)
{
	const struct service *svc = b->svc;
	struct svc_out out = { .n = 0 };
	char buf[SVC_RECV_MAX];
	bool rd_eof = false;
	ssize_t n;
	int r = svc->start(st, sc, &out);

	for (;;) {
		if (r == SVC_ABORT)
			return 0;
		/* A peer that never pauses never blocks us in read(), where a
		 * stop shows as EINTR: look at the state every round too (two
		 * atomic loads). */
		if (!b->lingering && server_stopping()) {
			if (server_closing())
				return 0;
			b->lingering = true;
		}
		if (svc_out_pending(&out) && send_out(b, &out) == -1)
			return -1;
		if (r == SVC_DONE)
			return 0;
		if (svc->more != NULL) {
			r = svc->more(st, &out);
			if (svc_out_pending(&out) || r != SVC_OK)
				continue;
		}
		if (rd_eof)
			return 0;	/* nothing will come, nothing to send */
		if (b->lingering) {
			int left = server_grace_left_ms();

			if (left <= 0 || server_closing())
				return 0;
			set_timeouts(b->fd, left);
		}
		lost_moved(b->in, b->sent);
		n = read(b->fd, buf, sizeof(buf));
		if (n == -1) {
			if (errno == EINTR && !server_closing()) {
				if (server_stopping())
					b->lingering = true;
				continue;
			}
			return -1;
		}
		if (n == 0) {
			rd_eof = true;
			r = svc->eof(st, &out);
			continue;
		}
		b->in += (uint64_t)n;
		r = svc->input(st, buf, (size_t)n, &out);
	}
}

void
serve_blocking(struct server *srv, int fd, int slot)
{
	const struct service *svc = srv->svc;
	alignas(max_align_t) unsigned char inline_st[STATE_INLINE];
	struct bconn b = { .srv = srv, .fd = fd };
	struct svc_conn sc = { srv->svc_conf, &b.m, fd };
	size_t state = srv->svc_state;
	struct proxy_hdr h;
	void *st = inline_st;
	int err = 0;

	if (conn_open(srv, fd, slot, &b.m) == -1) {
		close(fd);
		return;
	}
	if (srv->proxy != NULL) {
		void *conf;

		svc = proxy_inner(srv, &conf, &state);
		sc.conf = conf;
		if (b.m.proxied && proxy_read(srv, fd, &b.m, &h) == -1) {
			close(fd);
			conn_close(srv, &b.m, 0, 0, 0);
			return;
		}
	}
	b.svc = svc;
	lost_begin(&b.m);
	if (svc->takeover != NULL) {
		err = svc->takeover(&sc, fd, srv->inetd) == 0 ? 0 : -1;
		if (lost_end())
			conn_close(srv, &b.m, 0, 0, err);
		return;
	}
	if (state > STATE_INLINE && (st = malloc(state)) == NULL) {
		log_warn("conn %llu: state", (unsigned long long)b.m.id);
		close(fd);
		if (lost_end())
			conn_close(srv, &b.m, 0, 0, ENOMEM);
		return;
	}
	memset(st, 0, state);
	if (srv->idle_ms > 0)
		set_timeouts(fd, srv->idle_ms);
	if (drive(&b, st, &sc) == -1) {
		if ((errno == EAGAIN || errno == EWOULDBLOCK) && !b.lingering)
			conn_timed_out(srv, &b.m);  /* SO_RCVTIMEO/SO_SNDTIMEO */
		else if (!b.lingering && errno != EINTR)
			err = errno;	/* (lingering: the grace is over) */
	}
	if (svc->end != NULL)
		svc->end(st);
	if (st != inline_st)
		free(st);
	close(fd);
	if (lost_end())
		conn_close(srv, &b.m, b.in, b.sent, err);
}
