/*
 * memwatch: the memory this server may use, and whether it is close to it.
 *
 * A server in a memory-limited cgroup (systemd's MemoryMax=, a container)
 * that takes every connection it is offered is OOM-killed when enough of
 * them come -- every client goes with it.  So concurd finds its cgroup's
 * limit when it starts (cgroup v2's memory.max, the tightest of its
 * cgroup and the ones above; or v1's memory.limit_in_bytes and
 * hierarchical_memory_limit) and, while it runs, how much of it is used:
 * usage less the inactive file cache, which the kernel takes back before
 * it kills anybody.  Above MEM_HIGH_PCT of the limit the server is short:
 * it refuses new connections (closes them at once, counted as refused for
 * overload), and says so once per episode, which ends below
 * MEM_RESUME_PCT; what it serves already goes on.  Worker processes and
 * threads, which cost more and are charged as they run, stop a little
 * earlier (MEM_SPAWN_PCT, mem_spawn()).  Usage is read at most every MEM_CHECK_MS, and
 * at every call once it is above MEM_NEAR_PCT (one pread of an open file),
 * so a burst of connections cannot run far past the line between looks.
 *
 * Without a limit (no cgroup memory controller, or none set) nothing is
 * watched and mem_short() is one load.
 */
#ifndef CONCUR_MEMWATCH_H
#define CONCUR_MEMWATCH_H

#include <stdbool.h>
#include <stdint.h>

#define MEM_HIGH_PCT	90	/* short above this share of the limit */
#define MEM_RESUME_PCT	80	/* until below this one */
#define MEM_SPAWN_PCT	80	/* no process or thread more above this */
#define MEM_NEAR_PCT	75	/* look at every call above this */
#define MEM_WORKER_COST	(256 * 1024)	/* a worker and its connection */
#define MEM_CHECK_MS	20	/* else this often at most */

/* Find the limit (before the sandbox: it opens files).  0; -1 with errno
 * only when something that exists cannot be read. */
int memwatch_init(void);
/* Say at verbose level what memwatch_init() found (after the listening
 * line, which scripts wait for). */
void memwatch_log(void);
/* The limit in bytes (0: none), for log lines and tests. */
uint64_t memwatch_limit(void);
/* From any thread or worker process: is the server short of memory (refuse
 * new connections)? */
bool mem_short(void);
/* From the one thread that starts workers (processes or threads): how many
 * of want may start now.  A worker is charged as it runs, so a burst of
 * them would be counted only once past the line: each look at the usage
 * gives a budget of MEM_WORKER_COST each up to MEM_SPAWN_PCT, and the next
 * look comes MEM_CHECK_MS later. */
int mem_spawn(int want);

#endif
