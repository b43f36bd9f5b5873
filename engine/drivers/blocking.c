/*
 * blocking: a service run on a blocking socket, one read and one write at
 * a time.  See blocking.h.
 *
 * --idle-timeout is a receive and send timeout on the socket (SO_RCVTIMEO,
 * SO_SNDTIMEO), so it costs nothing per message.  A stop with --grace is a
 * deadline, not an idle time: the same timeouts, set to what is left of
 * the grace.  A stop reaches a thread blocked in read() as EINTR (the
 * worker code nudges it; a child gets its parent's SIGTERM).
 */
#include "drivers/blocking.h"

#include <errno.h>
#include <stdalign.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admit.h"
#include "exec.h"
#include "io.h"
#include "log.h"
#include "server.h"
#include "stop.h"

/* Send every emitted slice; -1 on error (errno) or when closing. */
static int
send_out(int fd, struct svc_out *o, uint64_t *sent)
{
	struct iovec iov[SVC_OUT_MAX];
	struct msghdr mh;
	int n = o->n;

	memcpy(iov, o->iov, sizeof(iov));
	memset(&mh, 0, sizeof(mh));
	while (n > 0) {
		ssize_t w;

		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)n;
		w = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (w == -1) {
			if (errno == EINTR && !server_closing())
				continue;
			return -1;
		}
		*sent += (uint64_t)w;
		n = iov_consume(iov, n, (size_t)w);
	}
	o->n = 0;
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

void
serve_blocking(struct server *srv, int fd, int slot)
{
	const struct service *svc = srv->svc;
	alignas(max_align_t) unsigned char st[SVC_STATE_MAX];
	char buf[SVC_RECV_MAX];
	struct svc_out out = { .n = 0 };
	struct conn_meta m;
	uint64_t in = 0, sent = 0;
	bool rd_eof = false, lingering = false;
	int err = 0;
	int r;

	if (svc->flags & SVC_EXEC) {
		serve_exec(srv, fd, slot, srv->exec_in_place);
		return;
	}
	if (conn_open(srv, fd, slot, &m) == -1) {
		close(fd);
		return;
	}
	if (srv->idle_ms > 0)
		set_timeouts(fd, srv->idle_ms);
	memset(st, 0, svc->state_size);
	r = svc->start(st, &out);
	for (;;) {
		ssize_t n;

		if (r == SVC_ABORT)
			break;
		/* A peer that never pauses never blocks us in read(), where a
		 * stop shows as EINTR: look at the state every round too (two
		 * atomic loads). */
		if (!lingering && server_stopping()) {
			if (server_closing())
				break;
			lingering = true;
		}
		if (out.n > 0 && send_out(fd, &out, &sent) == -1)
			goto failed;
		if (r == SVC_DONE)
			break;
		if (svc->more != NULL) {
			r = svc->more(st, &out);
			if (out.n > 0 || r != SVC_OK)
				continue;
		}
		if (rd_eof)
			break;	/* nothing will come in, nothing to send */
		if (lingering) {
			int left = server_grace_left_ms();

			if (left <= 0 || server_closing())
				break;
			set_timeouts(fd, left);
		}
		n = read(fd, buf, sizeof(buf));
		if (n == -1) {
			if (errno == EINTR && !server_closing()) {
				if (server_stopping())
					lingering = true;
				continue;
			}
			goto failed;
		}
		if (n == 0) {
			rd_eof = true;
			r = svc->eof(st, &out);
			continue;
		}
		in += (uint64_t)n;
		r = svc->input(st, buf, (size_t)n, &out);
	}
	goto done;
failed:
	if ((errno == EAGAIN || errno == EWOULDBLOCK) && !lingering)
		conn_timed_out(srv, &m);	/* SO_RCVTIMEO / SO_SNDTIMEO */
	else if (lingering)
		err = 0;			/* grace over */
	else
		err = errno != EINTR ? errno : 0;
done:
	close(fd);
	conn_close(srv, &m, in, sent, err);
}
