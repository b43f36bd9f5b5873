/*
 * admit: admission (allow/deny, per address, the connection limit) and the
 * accounting of every connection.  See admit.h.
 *
 * conn_close() writes the close line (-v): id, peer, bytes each way,
 * duration.  The peer's address is looked up once, at admission, and only
 * when something needs it (rules, --per-ip, --proxy-protocol, the log).
 * With --proxy-protocol a peer that owes a header is admitted in two
 * steps: conn_open() takes it (the balancer's address means nothing to
 * the rules), conn_proxied() admits the client the header names.
 */
#include "admit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "memwatch.h"
#include "net.h"
#include "proxy.h"
#include "proxyproto.h"
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

const char *
conn_who(const struct conn_meta *m, char *buf, size_t len)
{
	char addr[NET_ADDRSTRLEN];

	if (m->local)
		snprintf(buf, len, "unix pid %d uid %d", (int)m->pid,
		    (int)m->uid);
	else
		snprintf(buf, len, "%s port %u", conn_peer(m, addr,
		    sizeof(addr)), m->port);
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

/* A Unix-domain peer: its process and user, for the log. */
static void
peer_cred(int fd, struct conn_meta *m)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	m->local = true;
	m->pid = m->uid = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0) {
		m->pid = (int32_t)uc.pid;
		m->uid = (int32_t)uc.uid;
	}
}

static int
refuse(struct server *srv, struct conn_meta *m, _Atomic uint64_t *why,
    const char *reason)
{
	char who[NET_ADDRSTRLEN + 16];

	atomic_fetch_add(why, 1);
	conn_unreserve(srv);
	log_verbose("conn %llu from %s refused: %s", (unsigned long long)m->id,
	    conn_who(m, who, sizeof(who)), reason);
	return -1;
}

/* --proxy-protocol: is a header due from this peer?  From every peer, or
 * from the --proxy-from blocks only. */
static bool
header_due(const struct server *srv, const struct conn_meta *m)
{
	const struct proxy_conf *p = srv->proxy;
	int i;

	if (p == NULL)
		return false;
	if (p->nfrom == 0)
		return true;
	for (i = 0; m->keyed && i < p->nfrom; i++)
		if (cidr_match(&p->from[i], m->key))
			return true;
	return false;
}

/* The rules, and the --per-ip count: NULL when admitted, else the reason
 * and *why the counter to charge. */
static const char *
rules(struct server *srv, struct conn_meta *m, _Atomic uint64_t **why)
{
	struct stats *s = srv->stats;

	/* The rules are about addresses: a Unix-domain peer has none (main
	 * allows rules on a unix socket only for PROXY clients). */
	if (srv->nacl > 0 && m->keyed && !acl_allows(srv, m->key)) {
		*why = &s->refused_acl;
		return "address not allowed";
	}
	if (srv->perip != NULL && m->keyed) {
		if (perip_take(srv->perip, m->key, srv->per_ip) == -1) {
			*why = &s->refused_perip;
			return errno == EDQUOT ? "over --per-ip" :
			    "per-ip table full";
		}
		m->counted = true;
	}
	return NULL;
}

int
conn_open(struct server *srv, int fd, int slot, struct conn_meta *m)
{
	struct stats *s = srv->stats;
	_Atomic uint64_t *why;
	const char *no;

	memset(m, 0, sizeof(*m));
	m->id = atomic_fetch_add_explicit(&s->next_id, 1,
	    memory_order_relaxed) + 1;
	m->slot = slot;
	if (mem_short())
		return refuse(srv, m, &s->refused_overload, "short of memory");
	if (srv->nacl > 0 || srv->perip != NULL || srv->proxy != NULL ||
	    log_level() >= LOG_VERBOSE) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int got = getpeername(fd, (struct sockaddr *)&ss, &sl);

		if (got == 0 && ss.ss_family == AF_UNIX) {
			peer_cred(fd, m);
		} else if (got == 0 &&
		    cidr_key((struct sockaddr *)&ss, m->key) == 0) {
			m->keyed = true;
			m->port = (uint16_t)net_sa_port((struct sockaddr *)&ss);
		} else if (srv->nacl > 0 || srv->perip != NULL ||
		    srv->proxy != NULL) {
			/* Reset before we looked: nobody to serve. */
			return refuse(srv, m, &s->resets, "reset at once");
		}
	}
	if (header_due(srv, m)) {
		/* The balancer's address says nothing: the header's will. */
		m->proxied = true;
		m->t0_us = log_level() >= LOG_VERBOSE ? now_us() : 0;
	} else if ((no = rules(srv, m, &why)) != NULL) {
		return refuse(srv, m, why, no);
	}
	if (slot >= 0 && slot < MAX_WORKER_SLOTS)
		atomic_fetch_add_explicit(&s->slot[slot].conns, 1,
		    memory_order_relaxed);
	if (!m->proxied && log_level() >= LOG_VERBOSE) {
		char who[NET_ADDRSTRLEN + 16];

		m->t0_us = now_us();
		log_verbose("conn %llu from %s: open (fd %d, worker %d, pid %d)",
		    (unsigned long long)m->id, conn_who(m, who, sizeof(who)), fd,
		    slot, (int)getpid());
	}
	return 0;
}

int
conn_proxied(struct server *srv, int fd, struct conn_meta *m,
    const struct proxy_hdr *h)
{
	char via[NET_ADDRSTRLEN + 32], who[NET_ADDRSTRLEN + 16];
	_Atomic uint64_t *why;
	const char *no;

	m->proxied = false;
	if (h->kind == PROXY_INET) {
		snprintf(via, sizeof(via), "via %s", conn_who(m, who,
		    sizeof(who)));
		(void)cidr_key((const struct sockaddr *)&h->src, m->key);
		m->port = (uint16_t)net_sa_port((const struct sockaddr *)&h->src);
		m->keyed = m->from_header = true;
		m->local = false;
		m->dst = (const struct sockaddr *)&h->dst;
	} else {
		/* LOCAL (the balancer's health check), UNKNOWN: the
		 * connection is what it is. */
		snprintf(via, sizeof(via), "PROXY v%d %s", h->version,
		    h->kind == PROXY_LOCAL ? "LOCAL" : "UNKNOWN");
	}
	if ((no = rules(srv, m, &why)) != NULL) {
		atomic_fetch_add(why, 1);
		m->refused = true;
		log_verbose("conn %llu from %s refused: %s (%s)",
		    (unsigned long long)m->id, conn_who(m, who, sizeof(who)), no,
		    via);
		return -1;
	}
	log_verbose("conn %llu from %s: open (fd %d, worker %d, pid %d, %s)",
	    (unsigned long long)m->id, conn_who(m, who, sizeof(who)), fd,
	    m->slot, (int)getpid(), via);
	return 0;
}

void
conn_proxy_refused(struct server *srv, struct conn_meta *m, const char *why)
{
	char who[NET_ADDRSTRLEN + 16];

	atomic_fetch_add(&srv->stats->refused_proxy, 1);
	m->proxied = false;
	m->refused = true;
	log_verbose("conn %llu from %s refused: %s", (unsigned long long)m->id,
	    conn_who(m, who, sizeof(who)), why);
}

void
conn_close(struct server *srv, struct conn_meta *m, uint64_t in,
    uint64_t out, int err)
{
	bool reset = err == ECONNRESET || err == EPIPE;
	struct stats *s = srv->stats;

	if (m->refused) {
		/* Counted and logged as refused: it served nothing. */
		if (m->counted)
			perip_give(srv->perip, m->key);
		atomic_fetch_sub_explicit(&s->active, 1, memory_order_relaxed);
		return;
	}
	if (m->counted)
		perip_give(srv->perip, m->key);
	in = in > m->hdr_bytes ? in - m->hdr_bytes : 0;
	atomic_fetch_sub_explicit(&s->active, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->served, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->bytes_in, in, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->bytes_out, out, memory_order_relaxed);
	if (reset)
		atomic_fetch_add_explicit(&s->resets, 1, memory_order_relaxed);
	else if (err != 0)
		atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
	if (log_level() >= LOG_VERBOSE) {
		char who[NET_ADDRSTRLEN + 16];

		log_verbose("conn %llu from %s: closed, %llu bytes in, "
		    "%llu out, %.3f s%s", (unsigned long long)m->id,
		    conn_who(m, who, sizeof(who)),
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
