/*
 * lost: the connection a worker process was serving when it died.  See
 * lost.h.
 */
#include "lost.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "net.h"
#include "server.h"

/* This process's record: set in a worker child, NULL elsewhere. */
static struct lost_rec *mine;

struct lost_rec *
lost_create(int n)
{
	void *p = mmap(NULL, (size_t)n * sizeof(struct lost_rec),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void
lost_destroy(struct lost_rec *r, int n)
{
	if (r != NULL)
		(void)munmap(r, (size_t)n * sizeof(*r));
}

void
lost_use(struct lost_rec *r)
{
	mine = r;
	if (r != NULL)
		atomic_store(&r->id, 0);
}

void
lost_begin(const struct conn_meta *m)
{
	if (mine == NULL)
		return;
	mine->m = *m;
	atomic_store_explicit(&mine->in, 0, memory_order_relaxed);
	atomic_store_explicit(&mine->out, 0, memory_order_relaxed);
	/* Last, and releasing the rest: the parent reads m once it sees
	 * the id. */
	atomic_store_explicit(&mine->id, m->id, memory_order_release);
}

void
lost_moved(uint64_t in, uint64_t out)
{
	if (mine == NULL)
		return;
	atomic_store_explicit(&mine->in, in, memory_order_relaxed);
	atomic_store_explicit(&mine->out, out, memory_order_relaxed);
}

bool
lost_end(void)
{
	return mine == NULL || atomic_exchange(&mine->id, 0) != 0;
}

bool
lost_reap(struct server *srv, struct lost_rec *r, const char *who, pid_t pid)
{
	char addr[NET_ADDRSTRLEN];
	uint64_t id, in, out;

	if (r == NULL || (id = atomic_exchange_explicit(&r->id, 0,
	    memory_order_acquire)) == 0)
		return false;
	in = atomic_load_explicit(&r->in, memory_order_relaxed);
	out = atomic_load_explicit(&r->out, memory_order_relaxed);
	if (r->m.keyed)
		log_warnx("%s: child %d died serving conn %llu from %s port %u "
		    "after %llu bytes in, %llu out: the connection is lost",
		    who, (int)pid, (unsigned long long)id,
		    conn_peer(&r->m, addr, sizeof(addr)), r->m.port,
		    (unsigned long long)in, (unsigned long long)out);
	else
		log_warnx("%s: child %d died serving conn %llu after %llu "
		    "bytes in, %llu out: the connection is lost", who, (int)pid,
		    (unsigned long long)id, (unsigned long long)in,
		    (unsigned long long)out);
	conn_close(srv, &r->m, in, out, ECONNABORTED);
	return true;
}
