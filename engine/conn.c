/*
 * conn: one connection's admission, accounting, and the blocking driver.
 *
 * conn_open() is where --allow/--deny and --per-ip are applied, right after
 * accept and before a byte is served; conn_close() gives back what
 * conn_open() took and writes the close line (-v): id, peer, bytes each
 * way, duration.  serve_blocking() runs a service on a blocking socket for
 * the iterative, fork, thread and pool models; --idle-timeout is a receive
 * and send timeout on the socket, so it costs nothing per message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "server.h"

static const char *
key_ntop(const uint8_t key[16], char *buf, size_t len)
{
	static const uint8_t mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };

	if (memcmp(key, mapped, 12) == 0)
		return inet_ntop(AF_INET, key + 12, buf, (socklen_t)len);
	return inet_ntop(AF_INET6, key, buf, (socklen_t)len);
}

/* First matching rule decides; with no match, a list that has any allow
 * rule denies (an allow list), a deny-only list allows. */
static bool
acl_allows(const struct server *srv, const uint8_t key[16])
{
	bool any_allow = false;
	int i;

	for (i = 0; i < srv->nacl; i++) {
		if (cidr_match(&srv->acl[i].net, key))
			return srv->acl[i].allow;
		any_allow |= srv->acl[i].allow;
	}
	return !any_allow;
}

static int
refuse(struct server *srv, struct conn_meta *m, _Atomic uint64_t *why,
    const char *reason)
{
	char addr[NET_ADDRSTRLEN] = "?";

	if (m->keyed)
		key_ntop(m->key, addr, sizeof(addr));
	atomic_fetch_add(why, 1);
	server_unreserve(srv);
	log_verbose("conn %llu from %s port %u refused: %s",
	    (unsigned long long)m->id, addr, m->port, reason);
	return -1;
}

int
conn_open(struct server *srv, int fd, int slot, struct conn_meta *m)
{
	struct stats *s = srv->stats;

	memset(m, 0, sizeof(*m));
	m->id = atomic_fetch_add_explicit(&s->next_id, 1,
	    memory_order_relaxed) + 1;
	if (srv->nacl > 0 || srv->perip != NULL || log_level() >= LOG_VERBOSE) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
		    cidr_key((struct sockaddr *)&ss, m->key) == 0) {
			m->keyed = true;
			m->port = (uint16_t)net_sa_port((struct sockaddr *)&ss);
		} else if (srv->nacl > 0 || srv->perip != NULL) {
			/* Reset before we looked: nobody to serve. */
			return refuse(srv, m, &s->resets, "reset at once");
		}
	}
	if (srv->nacl > 0 && !acl_allows(srv, m->key))
		return refuse(srv, m, &s->refused_acl, "address not allowed");
	if (srv->perip != NULL) {
		if (perip_take(srv->perip, m->key, srv->per_ip) == -1)
			return refuse(srv, m, &s->refused_perip, errno == EDQUOT ?
			    "over --per-ip" : "per-ip table full");
		m->counted = true;
	}
	if (slot >= 0 && slot < MAX_WORKER_SLOTS)
		atomic_fetch_add_explicit(&s->slot[slot].conns, 1,
		    memory_order_relaxed);
	if (log_level() >= LOG_VERBOSE) {
		char addr[NET_ADDRSTRLEN] = "?";

		m->t0_us = now_us();
		if (m->keyed)
			key_ntop(m->key, addr, sizeof(addr));
		log_verbose("conn %llu from %s port %u: open (fd %d, worker %d, "
		    "pid %d)", (unsigned long long)m->id, addr, m->port, fd,
		    slot, (int)getpid());
	}
	return 0;
}

void
conn_close(struct server *srv, struct conn_meta *m, uint64_t in,
    uint64_t out, int err)
{
	bool reset = err == ECONNRESET || err == EPIPE;
	struct stats *s = srv->stats;

	if (m->counted)
		perip_give(srv->perip, m->key);
	atomic_fetch_sub_explicit(&s->active, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->served, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->bytes_in, in, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->bytes_out, out, memory_order_relaxed);
	if (reset)
		atomic_fetch_add_explicit(&s->resets, 1, memory_order_relaxed);
	else if (err != 0)
		atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
	if (log_level() >= LOG_VERBOSE) {
		char addr[NET_ADDRSTRLEN] = "?";

		if (m->keyed)
			key_ntop(m->key, addr, sizeof(addr));
		log_verbose("conn %llu from %s port %u: closed, %llu bytes in, "
		    "%llu out, %.3f s%s", (unsigned long long)m->id, addr,
		    m->port, (unsigned long long)in, (unsigned long long)out,
		    (double)(now_us() - m->t0_us) / 1e6,
		    reset ? ", reset by the peer" : err != 0 ? ", after an error" :
		    "");
	}
}

void
conn_timed_out(struct server *srv, struct conn_meta *m)
{
	atomic_fetch_add(&srv->stats->timeouts, 1);
	log_verbose("conn %llu: idle for %d ms, closing",
	    (unsigned long long)m->id, srv->idle_ms);
}

/* Send every emitted slice; -1 on error (errno) or when closing. */
static int
send_out(int fd, struct svc_out *o, uint64_t *sent)
{
	struct iovec iov[SVC_OUT_MAX];
	struct msghdr mh;
	int i, n = o->n;

	memcpy(iov, o->iov, sizeof(iov));
	memset(&mh, 0, sizeof(mh));
	i = 0;
	while (i < n) {
		ssize_t w;

		mh.msg_iov = iov + i;
		mh.msg_iovlen = (size_t)(n - i);
		w = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (w == -1) {
			if (errno == EINTR && !server_closing())
				continue;
			return -1;
		}
		*sent += (uint64_t)w;
		while (i < n && (size_t)w >= iov[i].iov_len)
			w -= (ssize_t)iov[i++].iov_len;
		if (i < n) {
			iov[i].iov_base = (char *)iov[i].iov_base + w;
			iov[i].iov_len -= (size_t)w;
		}
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
		 * stop shows as EINTR: look at the flags every round too (two
		 * atomic loads). */
		if (!lingering && server_stopping()) {
			if (server_closing())
				break;
			lingering = true;
			server_stop_notice(srv);
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
			/* A stop with --grace: serve on, but no later than
			 * the grace allows -- a deadline, not an idle time. */
			int left = server_grace_left_ms();

			if (left <= 0 || server_closing())
				break;
			set_timeouts(fd, left);
		}
		n = read(fd, buf, sizeof(buf));
		if (n == -1) {
			if (errno == EINTR && !server_closing()) {
				if (!lingering && server_stopping()) {
					lingering = true;
					server_stop_notice(srv);
				}
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
