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

#include "cidr.h"
#include "service.h"

#define MAX_WORKER_SLOTS	1024

/* Per-worker counters (pools and event loops): UNP's meter. */
struct worker_slot {
	_Atomic uint64_t conns;
	_Atomic int pid;	/* process pools: the child's pid, 0 if free */
	_Atomic int busy;
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
	_Atomic uint64_t timeouts;	/* closed by --idle-timeout */
	_Atomic uint64_t errors;	/* ended by an I/O error... */
	_Atomic uint64_t resets;	/* ...or by the peer's reset (RST: an
					 * abortive close, ECONNRESET/EPIPE) */
	_Atomic uint64_t udp_dropped;	/* reflection guard */
	_Atomic int nslots;		/* slots used by the model */
	struct worker_slot slot[MAX_WORKER_SLOTS];
};

struct acl_rule {
	struct cidr net;
	bool allow;
};

struct perip;	/* the --per-ip table, in shared memory */

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
	/* Limits (issue 5); 0 = none. */
	int max_conns;		/* active connections, held exactly */
	int per_ip;		/* active connections per address (v6: /64) */
	int idle_ms;		/* close a connection that moves nothing */
	int grace_ms;		/* after SIGTERM, let connections finish */
	struct acl_rule *acl;	/* first match wins; none matching: allowed
				 * unless some rule is an allow */
	int nacl;
	struct perip *perip;
	char *const *exec_argv;	/* service exec: the program and arguments */
	bool exec_in_place;	/* set by the fork model in its children */
	bool activated;		/* lfd came from systemd (LISTEN_FDS) */
	bool reuseport;		/* --reuseport: a listener per event loop */
	bool nodelay_inherited;	/* TCP_NODELAY set on the listener: Linux
				 * copies it to every accepted socket */
	int backlog;
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

static inline uint64_t
stats_refused(struct stats *s)
{
	return atomic_load(&s->refused_acl) + atomic_load(&s->refused_perip) +
	    atomic_load(&s->refused_overload);
}

extern const struct model *const models[];
const struct model *model_find(const char *name);

/* Signals and the stop protocol.  server_signals_init() is main's.
 *
 * The first SIGTERM/SIGINT means "stop": stop accepting, let connections
 * finish for up to --grace.  When the grace runs out, or at a second signal,
 * it means "close": connections are cut.  Without --grace the two coincide.
 * server_stopping() and server_closing() answer in every process and thread:
 * process-model children count the SIGTERMs their parent sends them (the
 * parent sends one at stop and more at close). */
int server_signals_init(void);
void server_set_grace(int grace_ms);
bool server_stopping(void);
bool server_closing(void);
/* At a stop: shutdown(SHUT_RD) the listener, so new clients are refused
 * (unless systemd passed it).  Idempotent; server_take_signals() calls it. */
void server_stop_listening(struct server *srv);
/* The same, and the "stopping ... grace" log line, once. */
void server_stop_notice(struct server *srv);
/* While stopping with grace: milliseconds until close (0 otherwise). */
int server_grace_left_ms(void);
void server_request_stop(void);
void server_request_close(void);
/* After a stop, wait until done(arg) is true (connections finished), a
 * second signal comes, or the grace runs out; then request close.  done is
 * called at least every 50 ms and after every signal (so it may reap). */
void server_linger(struct server *srv, bool (*done)(void *), void *arg);
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
/* --stats-interval: server_wait() logs a stats line this often. */
void server_set_stats_interval(int ms);

/* Resource exhaustion (EMFILE, fork EAGAIN...): the first call of an
 * episode logs "WHAT: strerror(errno); pausing" and returns true; later ones
 * are silent until server_overload_end() of the same kind logs "resumed"
 * (after a few successes in a row).  Two kinds, each its own episode:
 * taking connections (accept; ended by an accept that works) and starting
 * workers (fork, pthread_create; ended by one that works), so a pool that
 * starts a thread during an EMFILE episode does not end it.
 * server_pause() sleeps 100 ms, the back-off that keeps a loop from
 * spinning. */
enum { OVERLOAD_ACCEPT, OVERLOAD_WORKERS, OVERLOAD_KINDS };
bool server_overload_begin(int kind, const char *what);
void server_overload_end(int kind);
/* Is an episode of this kind going on (in this process)? */
bool server_overloaded(int kind);
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
#define ACCEPT_BLOCKING	0x4	/* the caller blocks in accept (pools whose
				 * workers accept): --max-conns is held by the
				 * pool size, not by a reservation */
int server_accept(struct server *srv, unsigned flags,
    struct sockaddr_storage *peer, socklen_t *peerlen);
/* The same on another listener of the server's (--reuseport loops). */
int server_accept_on(struct server *srv, int lfd, unsigned flags,
    struct sockaddr_storage *peer, socklen_t *peerlen);

/* Service exec (engine/exec.c): run srv->exec_argv with fd as stdin and
 * stdout.  in_place: this process becomes the program (fork model's child);
 * otherwise a child is forked and waited for, its status logged. */
void serve_exec(struct server *srv, int fd, int slot, bool in_place);
_Noreturn void exec_program(struct server *srv, int fd);

/* Serve one connection to its end with blocking I/O, then close fd.
 * slot is the worker slot to credit (-1: none).  Admission (conn_open) and
 * accounting are done inside. */
void serve_blocking(struct server *srv, int fd, int slot);

/* --max-conns: server_accept() counts a connection as active before it
 * takes it (so the limit holds exactly across threads and processes) and
 * fails with EAGAIN at the limit, after a 20 ms pause unless ACCEPT_NOPAUSE:
 * an event loop then stops watching the listener, so new clients wait in
 * the backlog.  A connection dropped before conn_open (fork failed...) is
 * given back with server_unreserve(). */
bool server_at_limit(struct server *srv);
void server_unreserve(struct server *srv);
/* Drop a connection server_accept() took but nobody can serve (fork,
 * thread or memory exhausted): counted as refused (overload), its active
 * count given back, fd closed, errno kept for the caller's log line. */
void server_drop(struct server *srv, int fd);
/* True for accept errors that mean the listener itself is broken; any
 * other failure of server_accept() is transient (it paused if need be). */
bool server_accept_fatal(int err);
/* The summary's and the stats line's shared figures: per-worker spread
 * ("3,4,5" or "-") and CPU seconds of this process and its reaped
 * children (getrusage SELF + CHILDREN). */
int server_spread(struct server *srv, char *buf, size_t len);
int server_cpu(double *user, double *sys);

/* A connection's bookkeeping, kept by the driver for its lifetime. */
struct conn_meta {
	uint64_t id;
	uint64_t t0_us;		/* start, for the duration on close */
	uint8_t key[16];	/* peer address (IPv4 mapped) */
	uint16_t port;		/* peer port */
	bool keyed;		/* key is valid */
	bool counted;		/* holds a --per-ip count */
};

/* Admit the connection on fd: --allow/--deny, then --per-ip.  0: serve it,
 * and call conn_close() when it ends.  -1: refused, already counted, logged
 * and its active count given back: close fd and serve nothing. */
int conn_open(struct server *srv, int fd, int slot, struct conn_meta *m);
/* err: 0, the errno that ended it (ECONNRESET and EPIPE count as resets,
 * anything else as errors), or -1 for a failure without one. */
void conn_close(struct server *srv, struct conn_meta *m, uint64_t in,
    uint64_t out, int err);
/* Idle timeouts: closed by the driver, counted here. */
void conn_timed_out(struct server *srv, struct conn_meta *m);


/* The --per-ip table, created by main in shared memory.  take: 0, or -1
 * with errno EDQUOT (address at its limit) or ENOSPC (table full). */
struct perip *perip_create(int max_entries);
int perip_take(struct perip *t, const uint8_t addr[16], int limit);
void perip_give(struct perip *t, const uint8_t addr[16]);

/* Monotonic microseconds. */
uint64_t now_us(void);

/* Reap children without blocking; returns how many were reaped.  With
 * reaped, at most max, their pids stored: call again while it returns max.
 * Each status is logged at verbose level.  Process models call this on
 * SIGCHLD. */
int server_reap(pid_t *reaped, int max);

#endif
