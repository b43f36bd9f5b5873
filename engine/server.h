/*
 * server: what a concurrency model is given, and what it must do.
 *
 * A model is one file that exports one `struct model` (listed in
 * engine/registry.c).  Its run() takes the listening socket in srv->lfd and
 * serves connections until a stop is asked for (server_stopping()), then
 * ends and reaps every worker, thread and child it made and returns 0 -- or
 * returns a negative errno if it could not run at all.  It never prints
 * except through log.h, never exits, never writes srv->stats.
 *
 * The engine gives models the pieces they share, one header each:
 *   stop.h      the stop protocol, signals, the main thread's wait;
 *   accept.h    the accept policy (errors, back-off, limits, bursts);
 *   admit.h     admission and every connection's accounting;
 *   drivers/    running a service on a socket: blocking.h, and the
 *               readiness and completion drivers behind evloop.h and
 *               models/uring.c;
 *   loops.h     N event loops: start, wake, linger, join;
 *   workers.h   ending worker processes and threads;
 *   pools/      the pools' sizing policy, process pool, thread pool.
 */
#ifndef CONCUR_SERVER_H
#define CONCUR_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "cidr.h"
#include "service.h"

#define MAX_WORKER_SLOTS	1024

/* Per-worker counters (pools and event loops): UNP's meter. */
struct worker_slot {
	_Atomic uint64_t conns;
	_Atomic int pid;	/* process pools: the child's pid, 0 if free */
	_Atomic int busy;	/* pools: SLOT_IDLE, SLOT_BUSY, SLOT_LEAVING */
	_Atomic int64_t busy_since;	/* pools: pool_now_ms() at the take */
};

/* Lives in MAP_SHARED memory: children of the process models update it. */
struct stats {
	_Atomic uint64_t next_id;	/* connection ids, for the log */
	_Atomic uint64_t accepted;	/* connections taken off the listener */
	_Atomic uint64_t served;	/* connections that ended */
	_Atomic int64_t active;
	_Atomic uint64_t bytes_in, bytes_out;
	/* Connections closed at once, by reason (stats_refused() adds them). */
	_Atomic uint64_t refused_acl;	/* --allow/--deny */
	_Atomic uint64_t refused_perip;	/* --per-ip */
	_Atomic uint64_t refused_overload;	/* fork, thread, memory, FD_SETSIZE */
	_Atomic uint64_t refused_proxy;	/* PROXY header missing, bad, late */
	_Atomic uint64_t timeouts;	/* closed by --idle-timeout */
	_Atomic uint64_t errors;	/* ended by an I/O error... */
	_Atomic uint64_t resets;	/* ...or by the peer's reset (RST: an
					 * abortive close, ECONNRESET/EPIPE) */
	_Atomic uint64_t udp_dropped;	/* reflection guard */
	/* Overload episodes begun (accept.h): taking connections, starting
	 * workers. */
	_Atomic uint64_t episodes_accept, episodes_workers;
	_Atomic int nslots;		/* slots used by the model */
	struct worker_slot slot[MAX_WORKER_SLOTS];
};

struct acl_rule {
	struct cidr net;
	bool allow;
};

struct perip;	/* the --per-ip table, in shared memory */
struct proxy_conf;	/* engine/proxy.h */

struct server {
	const struct model *model;
	const struct service *svc;
	void *svc_conf;		/* its configuration (service.h) */
	size_t svc_state;	/* bytes of state per connection */
	int lfd;		/* listening socket, blocking */
	int socktype;		/* SOCK_STREAM or SOCK_DGRAM */
	int workers;		/* -w: pool size / event loops (0: default) */
	int max_workers;	/* pools grow up to this */
	int min_spare, max_spare;	/* pools keep this many idle */
	int ncpu;
	struct stats *stats;
	/* Limits; 0 = none. */
	int max_conns;		/* active connections, held exactly */
	int per_ip;		/* active connections per address (v6: /64) */
	int idle_ms;		/* close a connection that moves nothing */
	int grace_ms;		/* after SIGTERM, let connections finish */
	struct acl_rule *acl;	/* first match wins; none matching: allowed
				 * unless some rule is an allow */
	int nacl;
	struct perip *perip;
	struct proxy_conf *proxy;	/* --proxy-protocol, or NULL */
	bool inetd;		/* --inetd: one connection, on descriptor 0 */
	bool activated;		/* lfd came from systemd (LISTEN_FDS) */
	bool udp_too;		/* and a datagram socket, served beside */
	bool reuseport;		/* --reuseport: a listener per event loop */
	bool nodelay;		/* accepted sockets get TCP_NODELAY (TCP, and
				 * no --no-nodelay) */
	bool nodelay_inherited;	/* TCP_NODELAY set on the listener: Linux
				 * copies it to every accepted socket */
	int backlog;
	int defer_accept;	/* --defer-accept: seconds (TCP_DEFER_ACCEPT):
				 * a connection is accepted with data */
};

#define MODEL_POOL	0x1	/* a pool that grows and shrinks (UNP's pre-) */
#define MODEL_PROCESS	0x2	/* connections served in child processes */
#define MODEL_THREADS	0x4	/* connections served in threads */
#define MODEL_LOOPS	0x8	/* event loops: many connections a thread */
#define MODEL_REUSEPORT	0x10	/* --reuseport: a listener of its own per
				 * worker (SO_REUSEPORT) */

struct model {
	const char *name;
	const char *summary;
	unsigned flags;
	int (*run)(struct server *srv);
	/* Optional: why this model cannot run here (NULL if it can). */
	const char *(*unavailable)(void);
};

static inline uint64_t
stats_refused(struct stats *s)
{
	return atomic_load(&s->refused_acl) + atomic_load(&s->refused_perip) +
	    atomic_load(&s->refused_overload) + atomic_load(&s->refused_proxy);
}

extern const struct model *const models[];
const struct model *model_find(const char *name);

/* The stats line (SIGUSR1, --stats-interval) and the summary's shared
 * figures: per-worker spread ("3,4,5" or "-"; returns the slots) and CPU
 * seconds of this process and its reaped children (getrusage SELF +
 * CHILDREN) since server_cpu_baseline(): main calls it first thing, so what
 * ran before exec is not counted, and again with forked = true in a process
 * that carries on as the server after fork() (--daemon). */
void server_log_stats(struct server *srv);

/* One reading of every counter, for the stats line and the metrics
 * (engine/metrics.c): both are written from it, so they agree. */
struct stats_snap {
	int64_t active;
	uint64_t accepted, served, refused_acl, refused_perip;
	uint64_t refused_overload, refused_proxy, timeouts, errors, resets;
	uint64_t bytes_in, bytes_out, udp_dropped;
	uint64_t episodes_accept, episodes_workers;
	bool overloaded_accept, overloaded_workers;	/* now, this process */
	double user, sys;	/* CPU seconds, server and children */
	bool cpu_ok;
	int nslots;		/* workers (pool slots, loops) */
	int busy;		/* pools: slots serving a connection */
};
void stats_snapshot(struct server *srv, struct stats_snap *sn);
/* The Prometheus text format (version 0.0.4), or OpenMetrics 1.0 (its
 * _total and "# EOF"), of a snapshot and the per-worker counts, into a
 * buffer it grows (*buf, *cap; realloc).  Its length, or -1 (ENOMEM). */
ssize_t stats_exposition(struct server *srv, const struct stats_snap *sn,
    bool openmetrics, char **buf, size_t *cap);
/* Workers whose spread is reported (their slots' connection counts). */
void server_set_workers(struct server *srv, int n);
int server_spread(struct server *srv, char *buf, size_t len);
int server_cpu_baseline(bool forked);
int server_cpu(double *user, double *sys);

#endif
