/*
 * metrics: --metrics ADDRESS:PORT, the server's counters over HTTP in the
 * Prometheus text format (or OpenMetrics, when the scraper asks for it),
 * for any Prometheus to scrape.  The same snapshot as the stats line
 * (engine/stats.c), so the two always agree.
 *
 * A thread of the main process serves it, one request at a time, each
 * within METRICS_DEADLINE_MS: a scrape is small and rare, and a client
 * that dawdles must not hold the endpoint.  Its socket is bound with the
 * server's (before privileges are dropped, errors on standard error); the
 * thread starts once the server is up (after --daemon's fork) and ends at
 * the stop.
 */
#ifndef CONCUR_METRICS_H
#define CONCUR_METRICS_H

#include <stddef.h>

struct server;

#define METRICS_DEADLINE_MS	2000

/* Bind ADDRESS:PORT ("[::1]:9100", "127.0.0.1:9100", ":9100" for every
 * address, a host name): the listening socket, or -errno (-EINVAL for a
 * malformed spec); *where says where it listens ("127.0.0.1 port 9100"). */
int metrics_listen(const char *spec, char *where, size_t len);
/* Serve on fd from a thread: 0, or -errno. */
int metrics_start(struct server *srv, int fd);
/* End the thread and close the socket (nothing if it never started). */
void metrics_stop(void);

#endif
