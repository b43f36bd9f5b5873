/*
 * stats: the figures the stats line (SIGUSR1, --stats-interval), the
 * metrics endpoint (--metrics) and the exit summary share: the counters,
 * read once into a snapshot that both the line and the exposition text
 * are written from; the per-worker spread (UNP's meter); the CPU time of
 * this process and its reaped children.
 *
 * The CPU time is counted from a baseline taken when concurd starts:
 * getrusage() carries what the process did before exec (a wrapper script's
 * own loop: RUSAGE_SELF) and what the children it reaped before exec used
 * (RUSAGE_CHILDREN), none of which is the server's work.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "accept.h"
#include "log.h"
#include "sdnotify.h"
#include "server.h"
#include "pools/policy.h"

void
server_set_workers(struct server *srv, int n)
{
	atomic_store(&srv->stats->nslots, n);
}

int
server_spread(struct server *srv, char *buf, size_t len)
{
	struct stats *s = srv->stats;
	int i, n = atomic_load(&s->nslots);
	size_t off = 0;

	if (n > MAX_WORKER_SLOTS)
		n = MAX_WORKER_SLOTS;
	snprintf(buf, len, "-");
	for (i = 0; i < n && off + 24 < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%llu",
		    i ? "," : "",
		    (unsigned long long)atomic_load(&s->slot[i].conns));
	return n;
}

static double
tv_sec(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double base_user, base_sys;
static double start_unix;	/* wall clock at the baseline */

static int
cpu_now(double *user, double *sys)
{
	struct rusage self, kids;

	if (getrusage(RUSAGE_SELF, &self) == -1 ||
	    getrusage(RUSAGE_CHILDREN, &kids) == -1)
		return -1;
	*user = tv_sec(self.ru_utime) + tv_sec(kids.ru_utime);
	*sys = tv_sec(self.ru_stime) + tv_sec(kids.ru_stime);
	return 0;
}

int
server_cpu_baseline(bool forked)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
		start_unix = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	if (forked) {
		/* fork(2) starts the child's counters at zero. */
		base_user = base_sys = 0;
		return 0;
	}
	return cpu_now(&base_user, &base_sys);
}

int
server_cpu(double *user, double *sys)
{
	if (cpu_now(user, sys) == -1)
		return -1;
	*user = *user > base_user ? *user - base_user : 0;
	*sys = *sys > base_sys ? *sys - base_sys : 0;
	return 0;
}

void
stats_snapshot(struct server *srv, struct stats_snap *sn)
{
	struct stats *s = srv->stats;
	int i;

	sn->active = atomic_load(&s->active);
	sn->accepted = atomic_load(&s->accepted);
	sn->served = atomic_load(&s->served);
	sn->refused_acl = atomic_load(&s->refused_acl);
	sn->refused_perip = atomic_load(&s->refused_perip);
	sn->refused_overload = atomic_load(&s->refused_overload);
	sn->refused_proxy = atomic_load(&s->refused_proxy);
	sn->timeouts = atomic_load(&s->timeouts);
	sn->errors = atomic_load(&s->errors);
	sn->resets = atomic_load(&s->resets);
	sn->bytes_in = atomic_load(&s->bytes_in);
	sn->bytes_out = atomic_load(&s->bytes_out);
	sn->udp_dropped = atomic_load(&s->udp_dropped);
	sn->episodes_accept = atomic_load(&s->episodes_accept);
	sn->episodes_workers = atomic_load(&s->episodes_workers);
	sn->overloaded_accept = server_overloaded(OVERLOAD_ACCEPT);
	sn->overloaded_workers = server_overloaded(OVERLOAD_WORKERS);
	sn->cpu_ok = server_cpu(&sn->user, &sn->sys) == 0;
	if (!sn->cpu_ok)
		sn->user = sn->sys = 0;
	sn->nslots = atomic_load(&s->nslots);
	if (sn->nslots > MAX_WORKER_SLOTS)
		sn->nslots = MAX_WORKER_SLOTS;
	sn->busy = -1;
	if (srv->model != NULL && (srv->model->flags & MODEL_POOL))
		for (sn->busy = 0, i = 0; i < sn->nslots; i++)
			sn->busy += atomic_load(&s->slot[i].busy) == SLOT_BUSY;
}

void
server_log_stats(struct server *srv)
{
	struct stats_snap sn;
	char spread[2048];
	int n = server_spread(srv, spread, sizeof(spread));

	char line[2600];

	stats_snapshot(srv, &sn);
	if (!sn.cpu_ok)
		log_warn("getrusage");
	snprintf(line, sizeof(line), "STATUS=stats: active=%lld accepted=%llu "
	    "served=%llu refused=%llu "
	    "(acl=%llu per_ip=%llu overload=%llu proxy=%llu) timeouts=%llu "
	    "errors=%llu resets=%llu bytes_in=%llu bytes_out=%llu workers=%d "
	    "spread=%s cpu=%.6f",
	    (long long)sn.active, (unsigned long long)sn.accepted,
	    (unsigned long long)sn.served,
	    (unsigned long long)(sn.refused_acl + sn.refused_perip +
	    sn.refused_overload + sn.refused_proxy),
	    (unsigned long long)sn.refused_acl,
	    (unsigned long long)sn.refused_perip,
	    (unsigned long long)sn.refused_overload,
	    (unsigned long long)sn.refused_proxy,
	    (unsigned long long)sn.timeouts, (unsigned long long)sn.errors,
	    (unsigned long long)sn.resets, (unsigned long long)sn.bytes_in,
	    (unsigned long long)sn.bytes_out, n, spread, sn.user + sn.sys);
	log_notice("%s", line + 7);
	(void)sdnotify(line);	/* systemctl status shows the last one */
}

/* ---- the exposition text ---- */

struct out {
	char **buf;
	size_t *cap, len;
	bool om;		/* OpenMetrics */
	bool failed;
};

static void put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = *o->cap - o->len, cap;
		char *b;

		va_start(ap, fmt);
		n = vsnprintf(*o->buf + o->len, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = true;
			return;
		}
		if ((size_t)n < room) {
			o->len += (size_t)n;
			return;
		}
		cap = *o->cap * 2 + (size_t)n;
		if ((b = realloc(*o->buf, cap)) == NULL) {
			o->failed = true;
			return;
		}
		*o->buf = b;
		*o->cap = cap;
	}
}

/* A family's HELP and TYPE lines.  A counter family is named without
 * _total in OpenMetrics, with it in the Prometheus format, where these
 * lines name the samples. */
static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	const char *total = strcmp(type, "counter") == 0 && !o->om ?
	    "_total" : "";

	put(o, "# HELP %s%s %s\n# TYPE %s%s %s\n", name, total, help, name,
	    total, type);
}

static void
counter(struct out *o, const char *name, const char *help, uint64_t v)
{
	family(o, name, "counter", help);
	put(o, "%s_total %llu\n", name, (unsigned long long)v);
}

static void
gauge(struct out *o, const char *name, const char *help, double v)
{
	family(o, name, "gauge", help);
	put(o, "%s %.17g\n", name, v);
}

ssize_t
stats_exposition(struct server *srv, const struct stats_snap *sn,
    bool om, char **buf, size_t *cap)
{
	struct out o = { buf, cap, 0, om, false };
	struct stats *s = srv->stats;
	int i;

	if (*buf == NULL || *cap == 0) {
		*cap = 4096;
		if ((*buf = malloc(*cap)) == NULL)
			return -1;
	}
	family(&o, "concurd_server", "gauge", "Always 1: its labels say the "
	    "model, service and version.");
	put(&o, "concurd_server{model=\"%s\",service=\"%s\",version=\"%s\"} 1\n",
	    srv->model ? srv->model->name : "", srv->svc ? srv->svc->name : "",
	    CONCUR_VERSION);
	gauge(&o, "concurd_start_time_seconds", "When concurd started, in "
	    "seconds since the epoch.", start_unix);
	gauge(&o, "concurd_connections_active", "Connections open now.",
	    (double)sn->active);
	counter(&o, "concurd_connections_accepted", "Connections taken off the "
	    "listener.", sn->accepted);
	counter(&o, "concurd_connections_served", "Connections that were "
	    "served and have ended.", sn->served);
	family(&o, "concurd_connections_refused", "counter", "Connections "
	    "closed at once, by reason.");
	put(&o, "concurd_connections_refused_total{reason=\"acl\"} %llu\n"
	    "concurd_connections_refused_total{reason=\"per_ip\"} %llu\n"
	    "concurd_connections_refused_total{reason=\"overload\"} %llu\n"
	    "concurd_connections_refused_total{reason=\"proxy\"} %llu\n",
	    (unsigned long long)sn->refused_acl,
	    (unsigned long long)sn->refused_perip,
	    (unsigned long long)sn->refused_overload,
	    (unsigned long long)sn->refused_proxy);
	counter(&o, "concurd_connection_timeouts", "Connections closed by "
	    "--idle-timeout.", sn->timeouts);
	counter(&o, "concurd_connection_errors", "Connections ended by an I/O "
	    "error.", sn->errors);
	counter(&o, "concurd_connection_resets", "Connections the peer reset.",
	    sn->resets);
	counter(&o, "concurd_received_bytes", "Bytes received on connections "
	    "that have ended.", sn->bytes_in);
	counter(&o, "concurd_sent_bytes", "Bytes sent on connections that have "
	    "ended.", sn->bytes_out);
	counter(&o, "concurd_udp_dropped", "Datagrams dropped by the "
	    "reflection guard.", sn->udp_dropped);
	family(&o, "concurd_overload_episodes", "counter", "Overload episodes "
	    "begun (out of descriptors, memory, processes...), by kind.");
	put(&o, "concurd_overload_episodes_total{kind=\"accept\"} %llu\n"
	    "concurd_overload_episodes_total{kind=\"workers\"} %llu\n",
	    (unsigned long long)sn->episodes_accept,
	    (unsigned long long)sn->episodes_workers);
	family(&o, "concurd_overloaded", "gauge", "1 during an overload episode "
	    "of this kind.");
	put(&o, "concurd_overloaded{kind=\"accept\"} %d\n"
	    "concurd_overloaded{kind=\"workers\"} %d\n",
	    sn->overloaded_accept, sn->overloaded_workers);
	if (sn->cpu_ok) {
		family(&o, "concurd_cpu_seconds", "counter", "CPU time of the "
		    "server and its reaped children since it started.");
		put(&o, "concurd_cpu_seconds_total{mode=\"user\"} %.6f\n"
		    "concurd_cpu_seconds_total{mode=\"system\"} %.6f\n",
		    sn->user, sn->sys);
	}
	gauge(&o, "concurd_workers", "Workers: pool slots in use, or event "
	    "loops.", (double)sn->nslots);
	if (sn->busy >= 0)
		gauge(&o, "concurd_workers_busy", "Pool workers serving a "
		    "connection now.", (double)sn->busy);
	family(&o, "concurd_worker_connections", "counter", "Connections each "
	    "worker slot has taken (the spread).");
	for (i = 0; i < sn->nslots; i++)
		put(&o, "concurd_worker_connections_total{worker=\"%d\"} %llu\n",
		    i, (unsigned long long)atomic_load(&s->slot[i].conns));
	if (om)
		put(&o, "# EOF\n");
	if (o.failed) {
		errno = ENOMEM;
		return -1;
	}
	return (ssize_t)o.len;
}
