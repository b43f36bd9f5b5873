/*
 * epoll-echo: the hand-written reference for the peers benchmark
 * (bench/peers/run.sh): a minimal single-threaded echo server on epoll(7).
 *
 *	epoll-echo PORT [ADDRESS]	(default 127.0.0.1)
 *
 * What a careful programmer writes in an afternoon, nothing more: a
 * level-triggered loop, accept4 with SOCK_NONBLOCK, TCP_NODELAY, one receive
 * buffer for the whole loop, so an echoed message costs one recv(2) and one
 * send(2) and an idle connection holds no user-space memory beyond a slot in
 * a pointer table.  When a send is short the rest is copied to a buffer of
 * the connection's own, reading stops and EPOLLOUT is armed until it drains:
 * a peer that does not read cannot grow our memory beyond one receive.
 * SIGTERM or SIGINT ends the loop.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ	(64 * 1024)
#define NEVENTS	256

struct pending {
	size_t	off, len;
	char	data[];
};

static volatile sig_atomic_t stop;
static char buf[BUFSZ];
static struct pending **pend;	/* indexed by descriptor; NULL: nothing owed */
static size_t npend;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
drop(int ep, int fd)
{
	(void)epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	free(pend[fd]);
	pend[fd] = NULL;
	close(fd);
}

/* Send what is owed; 1 when all is gone, 0 when the socket is full, -1 on
 * error. */
static int
flush(int fd)
{
	struct pending *p = pend[fd];
	ssize_t n;

	while (p->off < p->len) {
		n = send(fd, p->data + p->off, p->len - p->off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return errno == EAGAIN ? 0 : -1;
		p->off += (size_t)n;
	}
	free(p);
	pend[fd] = NULL;
	return 1;
}

static void
on_readable(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.fd = fd };
	ssize_t n, w;

	n = recv(fd, buf, sizeof(buf), 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop(ep, fd);
		return;
	}
	w = send(fd, buf, (size_t)n, MSG_NOSIGNAL);
	if (w == -1 && errno != EAGAIN && errno != EINTR) {
		drop(ep, fd);
		return;
	}
	if (w == n)
		return;
	if (w < 0)
		w = 0;
	pend[fd] = malloc(sizeof(struct pending) + (size_t)(n - w));
	if (pend[fd] == NULL) {
		drop(ep, fd);
		return;
	}
	pend[fd]->off = 0;
	pend[fd]->len = (size_t)(n - w);
	memcpy(pend[fd]->data, buf + w, (size_t)(n - w));
	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == -1)
		drop(ep, fd);
}

static void
on_writable(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	int r = flush(fd);

	if (r == -1 || (r == 1 && epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == -1))
		drop(ep, fd);
}

static void
on_accept(int ep, int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd, one = 1, k;

	for (k = 0; k < 64; k++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE)
				usleep(10000);	/* don't spin on a full table */
			return;
		}
		if ((size_t)fd >= npend) {
			close(fd);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
			close(fd);
	}
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[NEVENTS], ev = { .events = EPOLLIN };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sigaction sa = { .sa_handler = on_signal };
	struct rlimit rl;
	int ep, lfd, one = 1, n, k;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: epoll-echo PORT [ADDRESS]\n");
		return 64;
	}
	sin.sin_port = htons((unsigned short)atoi(argv[1]));
	if (inet_pton(AF_INET, argc > 2 ? argv[2] : "127.0.0.1",
	    &sin.sin_addr) != 1) {
		fprintf(stderr, "epoll-echo: bad address\n");
		return 64;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		rl.rlim_cur = 1024;
	npend = rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : (size_t)rl.rlim_cur;
	if ((pend = calloc(npend, sizeof(*pend))) == NULL) {
		perror("epoll-echo: calloc");
		return 71;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, SOMAXCONN) == -1) {
		perror("epoll-echo: listen");
		return 71;
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("epoll-echo: epoll_create1");
		return 71;
	}
	ev.data.fd = lfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1) {
		perror("epoll-echo: epoll_ctl");
		return 71;
	}
	while (!stop) {
		n = epoll_wait(ep, evs, NEVENTS, -1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			perror("epoll-echo: epoll_wait");
			return 71;
		}
		for (k = 0; k < n; k++) {
			int fd = evs[k].data.fd;

			if (fd == lfd)
				on_accept(ep, lfd);
			else if (pend[fd] != NULL)
				on_writable(ep, fd);
			else if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(ep, fd);
		}
	}
	return 0;
}
