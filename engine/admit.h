/*
 * admit: who may be served, and the accounting of every connection.
 *
 * This file owns the active count and the per-connection counters: no
 * model and no driver writes them.  A connection's life, as the engine
 * sees it:
 *   conn_reserve()   before accept4: one more active, unless at --max-conns
 *                    (accept.c; pool workers blocked in accept() use
 *                    conn_reserve_over(), their pool's size is the bound);
 *   conn_open()      admission: --allow/--deny, then --per-ip; the log line;
 *   conn_close()     what it moved and how it ended; the active count back.
 * A connection taken but never served gives its count back through
 * conn_drop() (nobody could serve it: counted as refused) or conn_abandon()
 * (a stop came first).
 */
#ifndef CONCUR_ADMIT_H
#define CONCUR_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server;
struct sockaddr;

/* A connection's bookkeeping, kept by its driver for its lifetime. */
struct conn_meta {
	uint64_t id;
	uint64_t t0_us;		/* start, for the duration on close */
	uint8_t key[16];	/* peer address (IPv4 mapped) */
	uint16_t port;		/* peer port */
	bool keyed;		/* key is valid */
	bool counted;		/* holds a --per-ip count */
	bool local;		/* a Unix-domain peer: no address, its */
	int32_t pid;		/* process and user (SO_PEERCRED; -1 */
	int32_t uid;		/* unknown) */
	/* --proxy-protocol */
	bool proxied;		/* a PROXY header is due: admission waits */
	bool from_header;	/* key and port are the header's client */
	bool refused;		/* refused after conn_open(): counted there,
				 * not served */
	uint32_t hdr_bytes;	/* PROXY header bytes the driver counted as
				 * input: not the client's, left out */
	int slot;		/* the worker, for the log line */
	const struct sockaddr *dst;	/* where the client connected (the
				 * header's), or NULL */
};

bool conn_reserve(struct server *srv);
void conn_reserve_over(struct server *srv);
void conn_unreserve(struct server *srv);
bool conn_at_limit(struct server *srv);
/* Close fd, give its count back, count it refused (overload); errno kept
 * for the caller's log line. */
void conn_drop(struct server *srv, int fd);
/* Close fd and give its count back: accepted, never served (a stop). */
void conn_abandon(struct server *srv, int fd);

/* Admit the connection on fd.  0: serve it, and call conn_close() when it
 * ends.  -1: refused, already counted, logged and its active count given
 * back: close fd and serve nothing.  slot: the worker slot to credit (-1:
 * none). */
int conn_open(struct server *srv, int fd, int slot, struct conn_meta *m);
/* --proxy-protocol: the header of a connection conn_open() left waiting
 * (m->proxied) has come.  The client it names (if any: LOCAL and UNKNOWN
 * keep the connection's own address) takes the balancer's place and goes
 * through --allow/--deny and --per-ip; the open line is logged.  0: serve
 * it; -1: refused (counted, logged; conn_close() still to be called). */
struct proxy_hdr;
int conn_proxied(struct server *srv, int fd, struct conn_meta *m,
    const struct proxy_hdr *h);
/* Its header was missing, malformed or late: counted (refused, proxy),
 * logged with why; conn_close() still to be called. */
void conn_proxy_refused(struct server *srv, struct conn_meta *m,
    const char *why);
/* err: 0, the errno that ended it (ECONNRESET and EPIPE count as resets,
 * anything else as errors), or -1 for a failure without one. */
void conn_close(struct server *srv, struct conn_meta *m, uint64_t in,
    uint64_t out, int err);
/* Idle timeouts: closed by the driver, counted here. */
void conn_timed_out(struct server *srv, struct conn_meta *m);
/* The peer's address as text ("?" if unknown), for log lines. */
const char *conn_peer(const struct conn_meta *m, char *buf, size_t len);
/* The peer for a log line: "ADDRESS port N", or a Unix-domain peer's
 * "unix pid P uid U". */
const char *conn_who(const struct conn_meta *m, char *buf, size_t len);

/* The --per-ip table, created by main in shared memory.  take: 0, or -1
 * with errno EDQUOT (address at its limit) or ENOSPC (table full). */
struct perip *perip_create(int max_entries);
int perip_take(struct perip *t, const uint8_t addr[16], int limit);
void perip_give(struct perip *t, const uint8_t addr[16]);

#endif
