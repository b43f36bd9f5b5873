/*
 * sig: sigaction wrappers and the self-pipe.
 *
 * The handler is the only code here that runs asynchronously.  It bumps a
 * lock-free atomic counter (C11 allows those in handlers, and other threads
 * may read them without a data race) and calls write(2), async-signal-safe,
 * and keeps errno as it found it.  A full pipe is fine: a byte is already
 * waiting.
 */
#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "io.h"

static _Atomic unsigned caught[NSIG];	/* how many came, ever */
static unsigned taken[NSIG];		/* how many sig_take() saw */
static int pipefd[2] = { -1, -1 };

int
sig_set(int signo, void (*handler)(int), unsigned flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	if (flags & SIG_RESTART)
		sa.sa_flags |= SA_RESTART;
	if (flags & SIG_NOCLDSTOP)
		sa.sa_flags |= SA_NOCLDSTOP;
	return sigaction(signo, &sa, NULL);
}

int
sig_default(int signo)
{
	return sig_set(signo, SIG_DFL, 0);
}

int
sig_ignore(int signo)
{
	return sig_set(signo, SIG_IGN, 0);
}

static void
on_signal(int signo)
{
	int saved = errno;
	char b = (char)signo;

	if (signo > 0 && signo < NSIG)
		atomic_fetch_add_explicit(&caught[signo], 1, memory_order_relaxed);
	if (pipefd[1] != -1)
		(void)!write(pipefd[1], &b, 1);
	errno = saved;
}

int
sig_pipe_open(void)
{
	sig_pipe_close();
	return pipe2(pipefd, O_NONBLOCK | O_CLOEXEC);
}

void
sig_pipe_close(void)
{
	fd_close(pipefd[0]);
	fd_close(pipefd[1]);
	pipefd[0] = pipefd[1] = -1;
}

int
sig_fd(void)
{
	return pipefd[0];
}

int
sig_watch(int signo, unsigned flags)
{
	if (signo <= 0 || signo >= NSIG) {
		errno = EINVAL;
		return -1;
	}
	return sig_set(signo, on_signal, flags);
}

void
sig_wake(void)
{
	int saved = errno;
	char b = 0;

	if (pipefd[1] != -1)
		(void)!write(pipefd[1], &b, 1);
	errno = saved;
}

void
sig_drain(void)
{
	char buf[64];

	if (pipefd[0] != -1)
		while (read(pipefd[0], buf, sizeof(buf)) == (ssize_t)sizeof(buf))
			;
}

bool
sig_take(int signo)
{
	unsigned c;

	if (signo <= 0 || signo >= NSIG)
		return false;
	c = atomic_load(&caught[signo]);
	if (c == taken[signo])
		return false;
	taken[signo] = c;
	return true;
}

bool
sig_peek(int signo)
{
	return signo > 0 && signo < NSIG &&
	    atomic_load_explicit(&caught[signo], memory_order_relaxed) != taken[signo];
}

unsigned
sig_count(int signo)
{
	if (signo <= 0 || signo >= NSIG)
		return 0;
	return atomic_load_explicit(&caught[signo], memory_order_relaxed);
}
