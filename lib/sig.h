/*
 * sig: sigaction with an explicit restart choice, and a safe way for a main
 * loop to learn that a signal came.
 *
 * SIG_RESTART makes interrupted system calls resume (SA_RESTART); without it
 * they fail with EINTR, which is how a blocked accept() or read() notices a
 * stop request.  Handlers installed by sig_watch() only set a flag and write
 * one byte to a non-blocking self-pipe: a loop polls sig_fd() beside its
 * sockets and calls sig_take() to learn which signals arrived.
 */
#ifndef CONCUR_SIG_H
#define CONCUR_SIG_H

#include <signal.h>
#include <stdbool.h>

#define SIG_RESTART	0x1	/* SA_RESTART: resume interrupted calls */
#define SIG_NOCLDSTOP	0x2	/* SA_NOCLDSTOP for SIGCHLD */

int sig_set(int signo, void (*handler)(int), unsigned flags);
int sig_default(int signo);
int sig_ignore(int signo);

/* Create the self-pipe (once per process; again in a forked child that wants
 * its own).  Returns 0 or -1 with errno. */
int sig_pipe_open(void);
void sig_pipe_close(void);
/* Read end of the self-pipe, for poll/select/epoll. */
int sig_fd(void);
/* Catch signo with the flag-and-byte handler. */
int sig_watch(int signo, unsigned flags);
/* Wake whoever polls sig_fd() without a signal (any thread; a no-op
 * without a pipe). */
void sig_wake(void);
/* Empty the pipe: call once per wakeup, before the sig_take()s. */
void sig_drain(void);
/* True if signo came since the last take (and clear). */
bool sig_take(int signo);
/* Non-destructive look: did signo come since the last take?  Safe from
 * any thread. */
bool sig_peek(int signo);
/* How many times signo has been caught since the process began (safe from
 * any thread; counts every delivery the kernel made, which merges signals
 * that arrive while one of the same kind is pending). */
unsigned sig_count(int signo);

#endif
