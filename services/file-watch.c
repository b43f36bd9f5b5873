/*
 * file-watch: the deadline for a complete request head.
 *
 * A service is called only when its connection moves, and a client that
 * sends half a request head and then nothing would never call it again:
 * --idle-timeout is the server's, and off by default.  So the connections
 * whose head is incomplete are on a list, and one watcher thread per
 * process looks at it every WATCH_TICK_MS.  When a connection's time is up
 * it shuts the read side of its socket: whatever the driver (blocking,
 * readiness, io_uring), that reads as the peer's EOF, the service's eof()
 * answers 408 and the connection ends the normal way, end() and all.  A
 * client that does not read the 408 either gets both sides shut a second
 * later.
 *
 * The socket is the driver's, so the watcher touches it only under the
 * list's lock, and only while the connection is on the list: the service
 * takes it off in end(), which every driver calls before it closes the
 * descriptor, so the watcher can never shut a descriptor that was reused.
 *
 * Only incomplete heads are on the list, never a connection that sent its
 * request in one piece, so the lock is not on the common path.  The thread
 * starts with the first entry; a forked worker starts its own.
 */
#include "file.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"

#define WATCH_TICK_MS	100
#define WATCH_SECOND_MS	1000	/* from the first strike to the second */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct fwatch *head;
static bool running, quitting;
static pthread_t tid;

uint64_t
fwatch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
tick(uint64_t now)
{
	struct fwatch *w;

	for (w = head; w != NULL; w = w->next) {
		if (now < w->deadline_ms)
			continue;
		/* The peer may have reset it already: ENOTCONN is fine. */
		if (w->strikes == 0) {
			(void)shutdown(w->fd, SHUT_RD);
			w->strikes = 1;
			w->deadline_ms = now + WATCH_SECOND_MS;
		} else if (w->strikes == 1) {
			(void)shutdown(w->fd, SHUT_RDWR);
			w->strikes = 2;
		}
	}
}

static void *
watcher(void *arg)
{
	struct timespec ts;

	(void)arg;
	pthread_mutex_lock(&mu);
	while (!quitting) {
		if (head == NULL) {
			pthread_cond_wait(&cv, &mu);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += WATCH_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&cv, &mu, &ts);
		tick(fwatch_now_ms());
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int
fwatch_add(struct fwatch *w, int fd, unsigned ms)
{
	sigset_t all, old;
	int e = 0;

	pthread_mutex_lock(&mu);
	if (!running && !quitting) {
		/* The watcher takes no signal: they are the server's. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		e = pthread_create(&tid, NULL, watcher, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (e == 0)
			running = true;
	}
	if (e == 0) {
		w->fd = fd;
		w->deadline_ms = fwatch_now_ms() + ms;
		w->strikes = 0;
		if (!w->on) {
			w->prev = NULL;
			w->next = head;
			if (head != NULL)
				head->prev = w;
			head = w;
			w->on = true;
		}
		pthread_cond_signal(&cv);
	}
	pthread_mutex_unlock(&mu);
	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}

void
fwatch_del(struct fwatch *w)
{
	if (!w->on)
		return;		/* only ever set by its own connection */
	pthread_mutex_lock(&mu);
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		head = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	w->on = false;
	pthread_mutex_unlock(&mu);
}

bool
fwatch_struck(struct fwatch *w)
{
	bool s;

	if (!w->on)
		return false;
	pthread_mutex_lock(&mu);
	s = w->strikes > 0;
	pthread_mutex_unlock(&mu);
	return s;
}

void
fwatch_atfork(void)
{
	/* The child has one thread, ours: a lock held by the parent's watcher
	 * at the fork would stay held, so it is made anew.  The list is the
	 * parent's connections, not the child's. */
	pthread_mutex_init(&mu, NULL);
	pthread_cond_init(&cv, NULL);
	head = NULL;
	running = false;
	quitting = false;
}

void
fwatch_fini(void)
{
	bool join;

	pthread_mutex_lock(&mu);
	quitting = true;
	join = running;
	running = false;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	if (join && (errno = pthread_join(tid, NULL)) != 0)
		log_warn("file: the head-deadline watcher");
	pthread_mutex_lock(&mu);
	quitting = false;
	pthread_mutex_unlock(&mu);
}
