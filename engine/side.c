/*
 * side: a side thread and the pipe that ends it.  See side.h.
 */
#include "side.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "log.h"

int
side_start(struct side *s, void *(*fn)(void *), void *arg)
{
	int e;

	if (pipe2(s->wake, O_CLOEXEC) == -1)
		return -errno;
	if ((e = pthread_create(&s->tid, NULL, fn, arg)) != 0) {
		close(s->wake[0]);
		close(s->wake[1]);
		s->wake[0] = s->wake[1] = -1;
		return -e;
	}
	s->running = true;
	return 0;
}

void
side_stop(struct side *s, const char *what)
{
	if (s->running) {
		if (write(s->wake[1], "x", 1) == -1)
			log_warn("%s: waking the thread", what);
		pthread_join(s->tid, NULL);
		s->running = false;
	}
	if (s->wake[0] >= 0) {
		close(s->wake[0]);
		close(s->wake[1]);
		s->wake[0] = s->wake[1] = -1;
	}
}
