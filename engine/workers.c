/*
 * workers: the stop sequences for worker processes and threads, and
 * reaping.  See workers.h.
 */
#include "workers.h"

#include <signal.h>
#include <sys/wait.h>

#include "log.h"
#include "server.h"
#include "stop.h"

#define TERM_EVERY_MS	100	/* processes: SIGTERM again this often */
#define KILL_AFTER_MS	5000	/* then SIGKILL */
#define GIVE_UP_MS	6000	/* then say so and go on */
#define NUDGE_EVERY_MS	50	/* threads: nudge this often */

int
server_reap(pid_t *reaped, int max)
{
	int status, n = 0;
	pid_t pid;

	/* With reaped, stop at max: a child reaped but not reported would
	 * be lost to the caller, which keeps its pid (and may signal it
	 * after the pid is reused).  Callers call again while n == max. */
	while ((reaped == NULL || n < max) &&
	    (pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (reaped != NULL)
			reaped[n] = pid;
		n++;
		if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			log_info("child %d exited with status %d", (int)pid,
			    WEXITSTATUS(status));
		else if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM)
			log_info("child %d killed by signal %d", (int)pid,
			    WTERMSIG(status));
		else
			log_debug("child %d reaped", (int)pid);
	}
	return n;
}

static bool
procs_gone(void *arg)
{
	const struct procs *p = arg;

	if (p->reap(p->arg) == 0)
		return true;
	p->kill(p->arg, SIGUSR2, true);
	return false;
}

void
procs_end(struct server *srv, struct procs *p)
{
	uint64_t start, last, t;
	int left;

	p->kill(p->arg, SIGTERM, false);
	server_linger(srv, procs_gone, p);
	start = now_us();
	last = 0;
	while ((left = p->reap(p->arg)) > 0) {
		t = now_us();
		if (t - start >= (uint64_t)GIVE_UP_MS * 1000)
			break;
		if (last == 0 || t - last >= (uint64_t)TERM_EVERY_MS * 1000) {
			p->kill(p->arg, t - start < (uint64_t)KILL_AFTER_MS * 1000 ?
			    SIGTERM : SIGKILL, false);
			last = t;
		}
		(void)server_wait(srv, -1, TERM_EVERY_MS);
	}
	if (left > 0)
		log_warnx("%d children would not end", left);
}

static bool
threads_gone(void *arg)
{
	const struct threads *t = arg;

	return t->sweep(t->arg) == 0;
}

void
threads_end(struct server *srv, struct threads *t)
{
	uint64_t start;
	bool warned = false;

	server_linger(srv, threads_gone, t);
	start = now_us();
	while (t->sweep(t->arg) > 0) {
		if (!warned && now_us() - start > (uint64_t)KILL_AFTER_MS * 1000) {
			log_warnx("worker threads have not ended yet");
			warned = true;
		}
		t->wait(t->arg, NUDGE_EVERY_MS);
	}
}
