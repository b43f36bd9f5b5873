/*
 * stop: signals, the stop protocol, and how the main thread waits.
 *
 * A server has one stop state, kept here, in three phases: running,
 * stopping (no new connections; those open may finish within --grace) and
 * closing (connections are cut).  It is entered one way: a stop request,
 * whoever makes it -- SIGTERM or SIGINT (their handlers count, through the
 * self-pipe), a worker that hit an error the server cannot serve past, the
 * listener found shut, the grace running out.  Every request wakes the main
 * thread through the self-pipe, and the main thread tells its workers by the
 * one means each can hear: the loop runner writes each event loop's eventfd
 * (engine/loops.c), the worker code broadcasts to threads and signals child
 * processes (engine/workers.c).  No model signals itself.
 *
 * In a child process (fork and the process pools) the state is the child's
 * own: its parent's first SIGTERM means stop, the second close.
 */
#ifndef CONCUR_STOP_H
#define CONCUR_STOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct server;

/* main's: the self-pipe, SIGTERM/SIGINT/SIGCHLD/SIGHUP/SIGUSR1 through it,
 * SIGPIPE ignored, SIGUSR2 for nudges.  srv is the one server of this
 * process: the stop shuts its listener and logs with its counters. */
int server_signals_init(struct server *srv);
void server_set_grace(int grace_ms);

bool server_stopping(void);
bool server_closing(void);
/* While stopping with grace: milliseconds until close (0 otherwise). */
int server_grace_left_ms(void);
/* From any thread.  In the main process: shut the listener (so new
 * clients are refused, unless systemd passed it), log the stop once, wake
 * the main thread.  In a child: only the child's own state. */
void server_request_stop(void);
void server_request_close(void);

/* Signals, for the main thread (sig_fd() was readable): HUP reopens the
 * log, USR1 logs the stats line, TERM/INT request the stop.  Says what
 * came. */
#define SERVER_SIG_STOP	0x1
#define SERVER_SIG_CHLD	0x2
#define SERVER_SIG_HUP	0x4
#define SERVER_SIG_USR1	0x8
int server_take_signals(struct server *srv);
/* Wait for a signal (taken as above) or, with lfd >= 0, for lfd readable,
 * at most timeout_ms (-1: no limit).  1 when lfd is readable, 0 otherwise,
 * -1 with errno on a poll error.  --stats-interval is kept here. */
int server_wait(struct server *srv, int lfd, int timeout_ms);
void server_set_stats_interval(int ms);
/* After a stop: wait until done(arg) (connections finished), a second
 * signal, or the end of the grace; then request close.  done is called at
 * least every 50 ms and after every signal, so it may reap. */
void server_linger(struct server *srv, bool (*done)(void *), void *arg);

/* Worker threads block the signals the main thread takes. */
void server_block_signals(void);
/* A freshly forked worker child: its own stop state, no self-pipe. */
void server_child_init(void);
/* Interrupt thread t's blocking system call (it returns EINTR). */
void server_nudge(pthread_t t);

/* Sleep ms, or less if a signal comes: the back-off that keeps a worker
 * blocked on something that fails at once from spinning. */
void server_pause_ms(int ms);

/* Monotonic microseconds. */
uint64_t now_us(void);

#endif
