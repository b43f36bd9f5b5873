/*
 * server: what a concurrency model is given, and what it must do.
 *
 * A model is one file that exports one `struct model`.  Its run() takes the
 * listening socket in srv->lfd and serves connections until a stop is asked
 * for (server_stopping()), then ends and reaps every worker, thread and child
 * it made and returns 0 -- or returns a negative errno if it could not run at
 * all.  It never prints except through log.h, never exits.
 *
 * The engine gives models the pieces they share:
 *   - server_accept(): accept4 with the error policy (EMFILE pauses instead
 *     of spinning, ECONNABORTED retried, stop noticed);
 *   - serve_blocking(): one connection to its end on a blocking socket;
 *   - stats counters in shared memory, so forked children count too;
 *   - the stop protocol: SIGTERM/SIGINT set the stop flag; server_nudge()
 *     interrupts a thread blocked in a system call (SIGUSR2, no SA_RESTART).
 */
#ifndef CONCUR_SERVER_H
#define CONCUR_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "service.h"

#define MAX_WORKER_SLOTS	1024

/* Per-worker counters (pools and event loops): UNP's meter. */
struct worker_slot {
	_Atomic uint64_t conns;
	_Atomic int pid;	/* process pools: the child's pid, 0 if free */
	_Atomic int busy;
};

/* Lives in MAP_SHARED memory: children of the process models update it. */
struct stats {
	_Atomic uint64_t accepted;	/* connections taken off the listener */
	_Atomic uint64_t served;	/* connections that ended */
	_Atomic int64_t active;
	_Atomic uint64_t bytes_in, bytes_out;
	_Atomic uint64_t refused;	/* closed at once: over a limit */
	_Atomic uint64_t errors;	/* ended by an I/O error (reset...) */
	_Atomic uint64_t udp_dropped;	/* reflection guard */
	_Atomic int nslots;		/* slots used by the model */
	struct worker_slot slot[MAX_WORKER_SLOTS];
};

struct server {
	const struct model *model;
	const struct service *svc;
	int lfd;		/* listening socket, blocking */
	int socktype;		/* SOCK_STREAM or SOCK_DGRAM */
	int workers;		/* -w: pool size / event loops (0: default) */
	int max_workers;	/* pools grow up to this */
	int min_spare, max_spare;	/* pools keep this many idle */
	int ncpu;
	struct stats *stats;
};

#define MODEL_POOL	0x1	/* has workers whose spread is reported */
#define MODEL_PROCESS	0x2	/* connections served in child processes */

struct model {
	const char *name;
	const char *summary;
	unsigned flags;
	int (*run)(struct server *srv);
	/* Optional: why this model cannot run here (NULL if it can). */
	const char *(*unavailable)(void);
};

extern const struct model *const models[];
const struct model *model_find(const char *name);

/* Signals and the stop protocol.  server_signals_init() is main's. */
int server_signals_init(void);
bool server_stopping(void);
void server_request_stop(void);
/* Interrupt thread t's blocking system call (it sees EINTR). */
void server_nudge(pthread_t t);
/* Block, in the calling thread, the signals the main thread handles; worker
 * threads call this first so SIGTERM/SIGINT/SIGCHLD reach the main thread. */
void server_block_signals(void);
/* In a freshly forked worker child: own signal handling, no self-pipe. */
void server_child_init(void);
/* Main loop: sig_fd() was readable.  Handles HUP (reopen log), USR1 (stats
 * line), TERM/INT (sets the stop flag) and says what came. */
#define SERVER_SIG_STOP	0x1
#define SERVER_SIG_CHLD	0x2
#define SERVER_SIG_HUP	0x4
#define SERVER_SIG_USR1	0x8
int server_take_signals(struct server *srv);
/* Wait for a signal (handled as above) or, with listener, for a connection
 * on srv->lfd, at most timeout_ms (-1: no limit).  Returns 1 when the
 * listener is readable, 0 otherwise, -1 with errno on a poll error. */
int server_wait(struct server *srv, bool listener, int timeout_ms);
void server_log_stats(struct server *srv);

/* Resource exhaustion (EMFILE, fork EAGAIN...): the first call of an
 * episode logs "WHAT: strerror(errno); pausing" and returns true; later ones
 * are silent until server_overload_end() logs "resumed".  server_pause()
 * sleeps 100 ms, the back-off that keeps a loop from spinning. */
bool server_overload_begin(const char *what);
void server_overload_end(void);
void server_pause(void);

/* Accept one connection, TCP_NODELAY set.  Returns the descriptor
 * (close-on-exec; non-blocking with ACCEPT_NONBLOCK), or -1 with errno:
 * EINTR (a signal or a nudge: look at server_stopping()), EAGAIN (nothing
 * pending on a non-blocking listener), EMFILE/ENFILE/ENOBUFS/ENOMEM (logged
 * once per episode and, unless ACCEPT_NOPAUSE, after a 100 ms pause so the
 * caller cannot spin; an event loop passes ACCEPT_NOPAUSE and stops watching
 * the listener for a moment instead), or another error.  ECONNABORTED and
 * the network errors accept(2) passes on are retried here.  peer may be
 * NULL. */
#define ACCEPT_NONBLOCK	0x1
#define ACCEPT_NOPAUSE	0x2
int server_accept(struct server *srv, unsigned flags,
    struct sockaddr_storage *peer, socklen_t *peerlen);

/* Serve one connection to its end with blocking I/O, then close fd.
 * slot is the worker slot to credit (-1: none). */
void serve_blocking(struct server *srv, int fd, int slot);

/* Bookkeeping a driver does itself (serve_blocking does it for you). */
void conn_opened(struct server *srv, int fd, int slot);
void conn_closed(struct server *srv, uint64_t in, uint64_t out, bool error);

/* Reap children without blocking; returns how many were reaped.  Each
 * status is logged at verbose level.  Process models call this on SIGCHLD. */
int server_reap(pid_t *reaped, int max);

#endif
