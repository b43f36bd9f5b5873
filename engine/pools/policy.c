/*
 * pools/policy: sizing, the scoreboard, the wake-up pipe.  See policy.h.
 */
#include "pools/policy.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "accept.h"
#include "io.h"
#include "log.h"
#include "memwatch.h"
#include "server.h"

#define DEFAULT_MAX		256
#define DEFAULT_MIN_SPARE	2

void
pool_policy(const struct server *srv, struct pool_policy *p)
{
	int max = srv->max_workers > 0 ? srv->max_workers : DEFAULT_MAX;
	int n = srv->workers;

	if (max > MAX_WORKER_SLOTS)
		max = MAX_WORKER_SLOTS;
	if (n <= 0) {
		n = 2 * (srv->ncpu > 0 ? srv->ncpu : 1);
		if (n < 4)
			n = 4;
		if (n > max)
			n = max;
	}
	if (n > MAX_WORKER_SLOTS)
		n = MAX_WORKER_SLOTS;
	if (max < n)
		max = n;
	p->initial = n;
	p->max = max;
	p->min_spare = srv->min_spare > 0 ? srv->min_spare : DEFAULT_MIN_SPARE;
	if (p->min_spare > n)
		p->min_spare = n;
	p->max_spare = srv->max_spare > 0 ? srv->max_spare : n;
	if (p->max_spare < p->min_spare)
		p->max_spare = p->min_spare;
	log_verbose("pool: %d workers, up to %d, %d to %d idle spares",
	    p->initial, p->max, p->min_spare, p->max_spare);
}

int
pool_want(const struct pool_policy *p, int idle, int total)
{
	int want = 0;

	if (idle < p->min_spare)
		want = p->min_spare - idle;
	if (total + want < p->initial)
		want = p->initial - total;
	if (total + want > p->max)
		want = p->max - total;
	return want > 0 ? want : 0;
}

void
pool_slot_set(struct server *srv, int slot, int state)
{
	if (state == SLOT_BUSY)
		atomic_store(&srv->stats->slot[slot].busy_since, pool_now_ms());
	atomic_store(&srv->stats->slot[slot].busy, state);
}

int
pool_slot_state(const struct server *srv, int slot)
{
	return atomic_load(&srv->stats->slot[slot].busy);
}

void
pool_slot_used(struct server *srv, int slot)
{
	if (atomic_load(&srv->stats->nslots) < slot + 1)
		atomic_store(&srv->stats->nslots, slot + 1);
}

/* Linux reports the accept queue as tcpi_unacked of a listening socket. */
int
pool_listen_backlog(int lfd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(lfd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 ||
	    len < offsetof(struct tcp_info, tcpi_unacked) +
	    sizeof(ti.tcpi_unacked) || ti.tcpi_state != TCP_LISTEN)
		return 0;
	return ti.tcpi_unacked > 1024 * 1024 ? 1024 * 1024 :
	    (int)ti.tcpi_unacked;
}

int
pool_want_patient(const struct pool_policy *p, const struct server *srv,
    int idle, int total, int pending, bool *recheck)
{
	const struct stats *s = srv->stats;
	int want, young = 0, unheld = 0, i, n;
	int64_t now, age;

	*recheck = false;
	if (idle - pending >= p->min_spare || total >= p->max)
		return mem_spawn(pool_want(p, idle - pending, total));
	now = pool_now_ms();
	n = atomic_load(&s->nslots);
	for (i = 0; i < n; i++) {
		if (atomic_load(&s->slot[i].busy) != SLOT_BUSY)
			continue;
		age = now - atomic_load(&s->slot[i].busy_since);
		young += age < POOL_PATIENCE_MS;
		unheld += age < POOL_HELD_MS;
	}
	want = pool_want(p, idle + young - pending, total);
	/* Workers are held by long connections: start one for each client
	 * waiting in the backlog too, not two per look (a burst of
	 * persistent clients would wait seconds).  Only when they are held
	 * for POOL_HELD_MS: a pool of short connections whose workers the
	 * scheduler kept off the CPUs for a moment has a backlog too, and
	 * grew by all of it.  Not while this process cannot accept
	 * (EMFILE): its threads could not take them either (a child process
	 * has descriptors of its own). */
	if (idle + unheld - pending < p->min_spare &&
	    !server_overloaded(OVERLOAD_ACCEPT)) {
		want += pool_listen_backlog(srv->lfd);
		if (total + want > p->max)
			want = p->max - total;
	}
	/* A worker more could get the server killed (memwatch.h). */
	want = mem_spawn(want);
	*recheck = idle - pending + want < p->min_spare &&
	    total + want < p->max;
	return want;
}

bool
pool_lock_bypass(const struct server *srv, uint64_t accepted0,
    _Atomic bool *episode)
{
	int waiting;

	if (atomic_load(episode))
		return true;
	/* Clients that arrived as the wait ended, while the holder takes
	 * them, are no sign: a holder that accepted meanwhile is alive. */
	waiting = pool_listen_backlog(srv->lfd);
	if (waiting == 0 || atomic_load(&srv->stats->accepted) != accepted0)
		return false;
	if (!atomic_exchange(episode, true))
		log_warnx("accept lock held for %d ms while %d clients wait: "
		    "its holder is stopped or stuck; accepting without it",
		    POOL_STUCK_MS, waiting);
	return true;
}

int
pool_lock_wait_ms(_Atomic bool *episode)
{
	return atomic_load_explicit(episode, memory_order_relaxed) ? 0 :
	    POOL_STUCK_MS;
}

void
pool_lock_taken(_Atomic bool *episode)
{
	/* A load first: the common case writes nothing shared. */
	if (atomic_load_explicit(episode, memory_order_relaxed) &&
	    atomic_exchange(episode, false))
		log_info("accept lock taken again");
}

int
pool_notify_open(int fd[2])
{
	return pipe2(fd, O_NONBLOCK | O_CLOEXEC);
}

void
pool_notify(int wfd)
{
	char b = 1;

	/* EAGAIN: the pipe is full, the reader has wake-ups enough. */
	(void)!write(wfd, &b, 1);
}

void
pool_notify_drain(int rfd)
{
	char buf[256];

	while (read(rfd, buf, sizeof(buf)) > 0)
		;
}

void
pool_notify_close(int fd[2])
{
	fd_close(fd[0]);
	fd_close(fd[1]);
	fd[0] = fd[1] = -1;
}

int64_t
pool_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
pool_deadline(struct timespec *t, int ms)
{
	(void)clock_gettime(CLOCK_REALTIME, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000;
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}
