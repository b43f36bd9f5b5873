/*
 * pools/procpool: pools of worker processes -- starting, reaping and
 * ending children in the slots of srv->stats, and the preforked pools whose
 * children accept themselves (UNP serv02-04: prefork, prefork-flock,
 * prefork-mutex).  prefork-fdpass (serv05), whose parent accepts, uses the
 * first three and manages its children itself.
 */
#ifndef CONCUR_POOLS_PROCPOOL_H
#define CONCUR_POOLS_PROCPOOL_H

struct server;

/* Start a child in a free slot below max (slot pid set, SLOT_IDLE, the
 * slots in use raised); the child runs fn(srv, slot, arg) and must not
 * return.  The slot, or -1 with errno (EAGAIN: every slot up to max is
 * taken). */
typedef void (*pool_child_fn)(struct server *srv, int slot, void *arg);
int pool_fork(struct server *srv, int max, pool_child_fn fn, void *arg);
/* Reap children; gone(srv, slot, arg) for each one of ours, before its
 * slot is freed.  Returns how many of ours are left. */
typedef void (*pool_gone_fn)(struct server *srv, int slot, void *arg);
int pool_reap(struct server *srv, pool_gone_fn gone, void *arg);
/* The pid of slot's child (0: none). */
int pool_child_pid(const struct server *srv, int slot);
/* The stop: end them all (workers.h's sequence for processes). */
void pool_end_children(struct server *srv);

/*
 * lock/unlock serialise accept in the children; a NULL pool_lock means no
 * lock (UNP serv02).  init runs in the parent before the first fork,
 * child_init in each child.  lock waits at most timeout_ms (0: only tries)
 * and returns 0 or -1 with errno: ETIMEDOUT (the child looks whether the
 * holder is stuck, policy.h), EINTR (a signal came: the child looks at the
 * stop).
 */
struct pool_lock {
	int (*init)(void **st);
	int (*child_init)(void *st);
	int (*lock)(void *st, int timeout_ms);
	int (*unlock)(void *st);
	void (*fini)(void *st);
};
int pool_prefork_run(struct server *srv, const struct pool_lock *lk);

#endif
