/*
 * sockopts: the socket options of another process's sockets, read back
 * with getsockopt(2) on a copy of its descriptor (pidfd_getfd(2), Linux
 * 5.6; needs the right to ptrace the process: root, or the same user where
 * Yama allows).
 *
 *   sockopts PID...
 *       One line per TCP socket (listening or connected) each PID holds:
 *         pid=P fd=N listen|conn lport=L rport=R nodelay=0|1
 *         keepalive=0|1 keepidle=S keepintvl=S keepcnt=N linger=off|SEC
 *         sndbuf=B rcvbuf=B reuseaddr=0|1 fastopen=Q defer=S
 *       (sndbuf and rcvbuf as the kernel reports them: twice what was
 *       set).  Exit 0; 2 if pidfd_getfd is not available or not allowed
 *       (the reason on stderr); 64 on a usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "net.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static int
opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len) == -1)
		return -1;
	return v;
}

/* 1 if it was a TCP socket (printed), 0 if not, -1 on error. */
static int
show(int pid, int target, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct linger l = { 0, 0 };
	socklen_t ll = sizeof(l);
	char linger[16];
	int lport, rport = 0, listening;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) ||
	    opt(fd, SOL_SOCKET, SO_TYPE) != SOCK_STREAM)
		return 0;
	lport = net_sa_port((struct sockaddr *)&ss);
	listening = opt(fd, SOL_SOCKET, SO_ACCEPTCONN) == 1;
	sl = sizeof(ss);
	if (!listening && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		rport = net_sa_port((struct sockaddr *)&ss);
	if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &ll) == 0 && l.l_onoff)
		snprintf(linger, sizeof(linger), "%d", l.l_linger);
	else
		snprintf(linger, sizeof(linger), "off");
	printf("pid=%d fd=%d %s lport=%d rport=%d nodelay=%d keepalive=%d "
	    "keepidle=%d keepintvl=%d keepcnt=%d linger=%s sndbuf=%d "
	    "rcvbuf=%d reuseaddr=%d fastopen=%d defer=%d\n", pid, target,
	    listening ? "listen" : "conn", lport, rport,
	    opt(fd, IPPROTO_TCP, TCP_NODELAY),
	    opt(fd, SOL_SOCKET, SO_KEEPALIVE),
	    opt(fd, IPPROTO_TCP, TCP_KEEPIDLE),
	    opt(fd, IPPROTO_TCP, TCP_KEEPINTVL),
	    opt(fd, IPPROTO_TCP, TCP_KEEPCNT), linger,
	    opt(fd, SOL_SOCKET, SO_SNDBUF), opt(fd, SOL_SOCKET, SO_RCVBUF),
	    opt(fd, SOL_SOCKET, SO_REUSEADDR),
	    opt(fd, IPPROTO_TCP, TCP_FASTOPEN),
	    opt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT));
	return 1;
}

static int
one_pid(int pid)
{
	char dir[64];
	struct dirent *de;
	DIR *d;
	int pidfd, fd, target;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd == -1) {
		fprintf(stderr, "sockopts: pidfd_open %d: %s\n", pid,
		    strerror(errno));
		return errno == ENOSYS ? -1 : 0;	/* gone: nothing */
	}
	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	if ((d = opendir(dir)) == NULL) {
		close(pidfd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		target = atoi(de->d_name);
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);
		if (fd == -1) {
			if (errno == EBADF)
				continue;	/* closed meanwhile */
			fprintf(stderr, "sockopts: pidfd_getfd %d/%d: %s\n",
			    pid, target, strerror(errno));
			closedir(d);
			close(pidfd);
			return -1;
		}
		(void)show(pid, target, fd);
		close(fd);
	}
	closedir(d);
	close(pidfd);
	return 0;
}

int
main(int argc, char **argv)
{
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: sockopts PID...\n");
		return 64;
	}
	for (i = 1; i < argc; i++)
		if (one_pid(atoi(argv[i])) == -1)
			return 2;
	return 0;
}
