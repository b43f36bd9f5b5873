/*
 * proxy: --proxy-protocol.  Behind a load balancer every connection comes
 * from the balancer; the PROXY header it sends first says whose the
 * connection really is.  The header is read before the service sees a
 * byte, and the client's address then goes through admission
 * (conn_proxied() in admit.c: --allow/--deny, --per-ip, the log), so the
 * limits and the log see the client, not the balancer.
 *
 * Two readers, one per kind of driver, one parser (lib/proxyproto.c):
 *   - the blocking driver reads the header itself with proxy_read(),
 *     peeking so it takes exactly the header's bytes and nothing after
 *     them (the exec service's program then gets the socket as the client
 *     left it);
 *   - the event loops (readiness and completion drivers) run a wrapper
 *     service that proxy_wrap() puts in srv->svc: it collects the header
 *     from the input the driver hands it, then starts the real service and
 *     passes it what followed.  A connection waiting for its header is
 *     watched by one thread, which shuts it down at the deadline, so the
 *     driver sees its end and the wrapper counts it refused.
 * A missing, malformed or late header is a refusal, counted ("proxy") and
 * logged with the reason.
 */
#ifndef CONCUR_ENGINE_PROXY_H
#define CONCUR_ENGINE_PROXY_H

#include <stddef.h>

#include "cidr.h"

struct server;
struct service;
struct conn_meta;
struct proxy_hdr;

struct proxy_conf {
	struct cidr *from;	/* --proxy-from blocks: a header is due from
				 * these peers only; none: from every peer */
	int nfrom;
	int timeout_ms;		/* the whole header within this */
};

#define PROXY_TIMEOUT_MS	5000

/* Once the service is configured: put the wrapper in srv->svc (and start
 * the deadline thread, for the event loops).  0, or -errno. */
int proxy_wrap(struct server *srv);
/* After the server: the thread stopped, srv->svc the real service again. */
void proxy_unwrap(struct server *srv);
/* The blocking driver: the real service, its configuration and state
 * size, under the wrapper. */
const struct service *proxy_inner(const struct server *srv, void **conf,
    size_t *state);
/* The blocking driver, for a connection admission left waiting for its
 * header (m->proxied): read it from fd within the deadline and admit the
 * client.  0: serve it (h holds the header); -1: refused, counted and
 * logged. */
int proxy_read(struct server *srv, int fd, struct conn_meta *m,
    struct proxy_hdr *h);

#endif
