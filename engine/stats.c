/*
 * stats: the figures the stats line (SIGUSR1, --stats-interval) and the
 * exit summary share: the per-worker spread (UNP's meter) and the CPU time
 * of this process and its reaped children.
 *
 * The CPU time is counted from a baseline taken when concurd starts:
 * getrusage() carries what the process did before exec (a wrapper script's
 * own loop: RUSAGE_SELF) and what the children it reaped before exec used
 * (RUSAGE_CHILDREN), none of which is the server's work.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <sys/resource.h>

#include "log.h"
#include "server.h"

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
server_log_stats(struct server *srv)
{
	struct stats *s = srv->stats;
	double user = 0, sys = 0;
	char spread[2048];
	int n = server_spread(srv, spread, sizeof(spread));

	if (server_cpu(&user, &sys) == -1)
		log_warn("getrusage");
	log_notice("stats: active=%lld accepted=%llu served=%llu refused=%llu "
	    "(acl=%llu per_ip=%llu overload=%llu proxy=%llu) timeouts=%llu "
	    "errors=%llu resets=%llu bytes_in=%llu bytes_out=%llu workers=%d "
	    "spread=%s cpu=%.6f",
	    (long long)atomic_load(&s->active),
	    (unsigned long long)atomic_load(&s->accepted),
	    (unsigned long long)atomic_load(&s->served),
	    (unsigned long long)stats_refused(s),
	    (unsigned long long)atomic_load(&s->refused_acl),
	    (unsigned long long)atomic_load(&s->refused_perip),
	    (unsigned long long)atomic_load(&s->refused_overload),
	    (unsigned long long)atomic_load(&s->refused_proxy),
	    (unsigned long long)atomic_load(&s->timeouts),
	    (unsigned long long)atomic_load(&s->errors),
	    (unsigned long long)atomic_load(&s->resets),
	    (unsigned long long)atomic_load(&s->bytes_in),
	    (unsigned long long)atomic_load(&s->bytes_out), n, spread,
	    user + sys);
}
