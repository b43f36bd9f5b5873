/*
 * admit: admission (allow/deny, per address, the connection limit) and the
 * accounting of every connection.  See admit.h.
 *
 * conn_close() writes the close line (-v): id, peer, bytes each way,
 * duration.  The peer's address is looked up once, at admission, and only
 * when something needs it (rules, --per-ip, the log).
 */
#include "admit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "memwatch.h"
#include "net.h"
#include "server.h"
#include "stop.h"

bool
conn_reserve(struct server *srv)
{
	_Atomic int64_t *active = &srv->stats->active;
	int64_t cur;

	if (srv->max_conns <= 0) {
		atomic_fetch_add_explicit(active, 1, memory_order_relaxed);
		return true;
	}
	cur = atomic_load(active);
	do {
		if (cur >= srv->max_conns)
			return false;
	} while (!atomic_compare_exchange_weak(active, &cur, cur + 1));
	return true;
}

void
conn_reserve_over(struct server *srv)
{
	atomic_fetch_add_explicit(&srv->stats->active, 1, memory_order_relaxed);
}

void
conn_unreserve(struct server *srv)
{
	atomic_fetch_sub_explicit(&srv->stats->active, 1, memory_order_relaxed);
}

bool
conn_at_limit(struct server *srv)
{
	return srv->max_conns > 0 &&
	    atomic_load(&srv->stats->active) >= srv->max_conns;
}

void
conn_drop(struct server *srv, int fd)
{
	int saved = errno;

	atomic_fetch_add(&srv->stats->refused_overload, 1);
	conn_unreserve(srv);
	close(fd);
	errno = saved;
}

void
conn_abandon(struct server *srv, int fd)
{
	int saved = errno;

	conn_unreserve(srv);
	close(fd);
	errno = saved;
}

const char *
conn_peer(const struct conn_meta *m, char *buf, size_t len)
{
	static const uint8_t mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
	const char *r = NULL;

	if (m->keyed)
		r = memcmp(m->key, mapped, 12) == 0 ?
		    inet_ntop(AF_INET, m->key + 12, buf, (socklen_t)len) :
		    inet_ntop(AF_INET6, m->key, buf, (socklen_t)len);
	if (r == NULL && len > 1) {
		buf[0] = '?';
		buf[1] = '\0';
	}
	return buf;
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
	char addr[NET_ADDRSTRLEN];

	atomic_fetch_add(why, 1);
	conn_unreserve(srv);
	log_verbose("conn %llu from %s port %u refused: %s",
	    (unsigned long long)m->id, conn_peer(m, addr, sizeof(addr)),
	    m->port, reason);
	return -1;
}

int
conn_open(struct server *srv, int fd, int slot, struct conn_meta *m)
{
	struct stats *s = srv->stats;

	memset(m, 0, sizeof(*m));
	m->id = atomic_fetch_add_explicit(&s->next_id, 1,
	    memory_order_relaxed) + 1;
	if (mem_short())
		return refuse(srv, m, &s->refused_overload, "short of memory");
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
		char addr[NET_ADDRSTRLEN];

		m->t0_us = now_us();
		log_verbose("conn %llu from %s port %u: open (fd %d, worker %d, "
		    "pid %d)", (unsigned long long)m->id,
		    conn_peer(m, addr, sizeof(addr)), m->port, fd, slot,
		    (int)getpid());
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
		char addr[NET_ADDRSTRLEN];

		log_verbose("conn %llu from %s port %u: closed, %llu bytes in, "
		    "%llu out, %.3f s%s", (unsigned long long)m->id,
		    conn_peer(m, addr, sizeof(addr)), m->port,
		    (unsigned long long)in, (unsigned long long)out,
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
