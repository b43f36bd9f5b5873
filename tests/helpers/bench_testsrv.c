/*
 * bench_testsrv: a small, fast, single-threaded epoll server for testing
 * concurbench without concurd.
 *
 *	bench_testsrv [-m echo|nbytes|silent|close] [-f K] [-S MS] [-p PORT]
 *
 * echo	sends back what it reads (the default);
 * nbytes	answers each line "N\n" with N bytes of nbytes_pattern();
 * silent	accepts and never reads nor writes;
 * close	accepts and closes at once.
 * -f K flips one byte in every K it sends (echo and nbytes): the corrupting
 * server that verification must catch.
 * -S MS stalls after MS milliseconds: from then on it holds every
 * connection and answers nothing (the server whose rate falls to zero).
 *
 * It listens on 127.0.0.1 (port 0 unless -p) and says "listening on
 * 127.0.0.1 port N" on stderr.  It runs until killed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "net.h"
#include "parse.h"
#include "service.h"
#include "sig.h"

#define CHUNK	(64 * 1024)

enum { M_ECHO, M_NBYTES, M_SILENT, M_CLOSE };

struct conn {
	int fd;
	bool out;		/* waiting for EPOLLOUT */
	uint64_t sent;		/* bytes through the flip counter */
	char *pend;		/* echo: bytes not yet sent */
	size_t npend, pendoff;
	char line[32];		/* nbytes: the request so far */
	size_t nline;
	uint64_t left, pos;	/* nbytes: reply bytes to go, next index */
};

static int mode = M_ECHO;
static uint64_t flip;
static int ep;
static char scratch[CHUNK];
static char pattern[CHUNK + 95];

static void
corrupt(struct conn *c, char *p, size_t n)
{
	size_t i;

	if (flip == 0)
		return;
	for (i = 0; i < n; i++)
		if ((c->sent + i + 1) % flip == 0)
			p[i] ^= 0x55;
	c->sent += n;
}

static void
drop(struct conn *c)
{
	close(c->fd);
	free(c->pend);
	free(c);
}

static void
want_out(struct conn *c, bool on)
{
	struct epoll_event ev;

	if (c->out == on)
		return;
	ev.events = on ? EPOLLOUT : EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->out = on;
}

/* nbytes: send what is owed.  -1: drop the connection. */
static int
reply(struct conn *c)
{
	size_t n;
	ssize_t w;

	while (c->left > 0) {
		n = c->left < CHUNK ? (size_t)c->left : CHUNK;
		memcpy(scratch, pattern + c->pos % 95, n);
		if (flip) {
			uint64_t save = c->sent;

			c->sent = c->pos;
			corrupt(c, scratch, n);
			c->sent = save;
		}
		w = send(c->fd, scratch, n, MSG_NOSIGNAL);
		if (w == -1) {
			if (errno == EAGAIN) {
				want_out(c, true);
				return 0;
			}
			return -1;
		}
		c->pos += (uint64_t)w;
		c->left -= (uint64_t)w;
	}
	want_out(c, false);
	return 0;
}

static int
nbytes_input(struct conn *c, const char *p, size_t n)
{
	uint64_t v;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] != '\n') {
			if (c->nline >= sizeof(c->line) - 1)
				return -1;
			c->line[c->nline++] = p[i];
			continue;
		}
		if (c->nline > 0 && c->line[c->nline - 1] == '\r')
			c->nline--;
		c->line[c->nline] = '\0';
		c->nline = 0;
		if (parse_uint(c->line, 0, UINT64_C(1) << 40, &v) == -1)
			return -1;
		/* We read only once the last reply is out: left is 0. */
		c->left = v;
		c->pos = 0;
	}
	return reply(c);
}

static int
flush_pending(struct conn *c)
{
	ssize_t w;

	while (c->pendoff < c->npend) {
		w = send(c->fd, c->pend + c->pendoff, c->npend - c->pendoff,
		    MSG_NOSIGNAL);
		if (w == -1)
			return errno == EAGAIN ? 0 : -1;
		c->pendoff += (size_t)w;
	}
	c->npend = c->pendoff = 0;
	want_out(c, false);
	return 0;
}

static int
echo_input(struct conn *c, size_t n)
{
	ssize_t w;

	corrupt(c, scratch, n);
	w = send(c->fd, scratch, n, MSG_NOSIGNAL);
	if (w == -1) {
		if (errno != EAGAIN)
			return -1;
		w = 0;
	}
	if ((size_t)w < n) {
		/* Keep the rest, stop reading until it is gone. */
		if (c->pend == NULL && (c->pend = malloc(CHUNK)) == NULL)
			return -1;
		memcpy(c->pend, scratch + w, n - (size_t)w);
		c->npend = n - (size_t)w;
		c->pendoff = 0;
		want_out(c, true);
	}
	return 0;
}

static void
on_conn(struct conn *c, uint32_t events)
{
	ssize_t n;

	if (c->out) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if ((mode == M_NBYTES ? reply(c) : flush_pending(c)) == -1) {
			drop(c);
			return;
		}
		if (c->out)
			return;
	}
	n = recv(c->fd, scratch, sizeof(scratch), 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop(c);
		return;
	}
	if ((mode == M_NBYTES ? nbytes_input(c, scratch, (size_t)n) :
	    echo_input(c, (size_t)n)) == -1)
		drop(c);
}

static void
on_accept(int lfd)
{
	struct epoll_event ev;
	struct conn *c;
	int fd, i;

	for (i = 0; i < 64; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE)
				usleep(10000);	/* no spinning */
			return;
		}
		if (mode == M_CLOSE) {
			close(fd);
			continue;
		}
		if (mode == M_SILENT)
			continue;	/* held open, never looked at */
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		(void)net_set_nodelay(fd, true);
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
			drop(c);
	}
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[256], ev;
	struct rlimit rl;
	const char *port = "0";
	uint64_t stall = 0, t0 = 0;
	struct timespec ts;
	int lfd, n, i, ch;
	size_t k;

	while ((ch = getopt(argc, argv, "m:f:p:S:")) != -1) {
		switch (ch) {
		case 'm':
			if (strcmp(optarg, "echo") == 0)
				mode = M_ECHO;
			else if (strcmp(optarg, "nbytes") == 0)
				mode = M_NBYTES;
			else if (strcmp(optarg, "silent") == 0)
				mode = M_SILENT;
			else if (strcmp(optarg, "close") == 0)
				mode = M_CLOSE;
			else {
				fprintf(stderr, "bench_testsrv: bad mode\n");
				return 64;
			}
			break;
		case 'f':
			if (parse_uint(optarg, 1, UINT64_MAX, &flip) == -1) {
				fprintf(stderr, "bench_testsrv: bad -f\n");
				return 64;
			}
			break;
		case 'p':
			port = optarg;
			break;
		case 'S':
			if (parse_uint(optarg, 1, 3600000, &stall) == -1) {
				fprintf(stderr, "bench_testsrv: bad -S\n");
				return 64;
			}
			break;
		default:
			fprintf(stderr, "usage: bench_testsrv [-m echo|nbytes|"
			    "silent|close] [-f K] [-S MS] [-p PORT]\n");
			return 64;
		}
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (k = 0; k < sizeof(pattern); k++)
		pattern[k] = nbytes_pattern(k);
	sig_ignore(SIGPIPE);
	lfd = net_listen("127.0.0.1", port, SOCK_STREAM, 4096, NET_NONBLOCK);
	if (lfd < 0) {
		fprintf(stderr, "bench_testsrv: listen: %s\n",
		    net_strerror(lfd));
		return 71;
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("bench_testsrv: epoll_create1");
		return 71;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1) {
		perror("bench_testsrv: epoll_ctl");
		return 71;
	}
	fprintf(stderr, "bench_testsrv: listening on 127.0.0.1 port %d\n",
	    net_local_port(lfd));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (;;) {
		if (stall) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			if ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec /
			    1000000 >= t0 + stall) {
				/* Hold everything, answer nothing, until
				 * killed. */
				for (;;)
					pause();
			}
		}
		n = epoll_wait(ep, evs, 256, stall ? 10 : -1);
		if (n == -1 && errno != EINTR) {
			perror("bench_testsrv: epoll_wait");
			return 71;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				on_accept(lfd);
			else
				on_conn(evs[i].data.ptr, evs[i].events);
		}
	}
}
