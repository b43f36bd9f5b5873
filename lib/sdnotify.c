/*
 * sdnotify: sd_notify(3)'s protocol, written once.  See sdnotify.h.
 *
 * The address is read once, at start: the variable is then removed, so a
 * program the exec service runs does not inherit it and speak for us.  The
 * socket is connected to it then too: a path is looked up once, before a
 * chroot or the sandbox would hide it.
 */
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int fd = -1;

int
sdnotify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr;
	socklen_t addrlen;
	size_t n;

	if (path == NULL || fd >= 0)
		return 0;
	n = strlen(path);
	if (n < 2 || (path[0] != '/' && path[0] != '@') ||
	    n >= sizeof(addr.sun_path)) {
		(void)unsetenv("NOTIFY_SOCKET");
		return -EINVAL;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, path, n);
	if (path[0] == '@')
		addr.sun_path[0] = '\0';	/* abstract: no terminator */
	addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (path[0] == '@' ? 0 : 1));
	(void)unsetenv("NOTIFY_SOCKET");
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&addr, addrlen) == -1) {
		int e = errno;

		close(fd);
		fd = -1;
		return -e;
	}
	return 0;
}

bool
sdnotify_enabled(void)
{
	return fd >= 0;
}

int
sdnotify(const char *state)
{
	ssize_t n;

	if (fd < 0)
		return 0;
	do
		n = send(fd, state, strlen(state), MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	return n == -1 ? -errno : 0;
}
