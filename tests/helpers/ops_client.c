/*
 * ops_client: the clients the operations tests (tests/ops-*.t) drive
 * concurd with.  Every socket is non-blocking and every wait is a poll()
 * against a deadline; an alarm backs that up, so no run can hang.
 *
 *   ops_client conns HOST PORT N [-f FROM] [-w MS] [-t MS] [-H]
 *       Open N connections at once (from address FROM if given), send one
 *       line on each, wait MS (default 1000) for the echo, and print
 *         connected=C failed=F echo=E eof=Z reset=R silent=S
 *       (failed: connect refused or timed out; eof/reset: closed by the
 *       server; silent: connected, no answer yet).  With -t, close the
 *       connections that were echoed and wait up to MS more for the silent
 *       ones, then print "then echo=E eof=Z reset=R silent=S".  With -H,
 *       hold every connection open until standard input reaches EOF.
 *
 *   ops_client talk HOST PORT [-f FROM] [-d DATA] [-k] [-w MS] [-L FILE]
 *       Connect, send DATA, half-close (unless -k), print what comes back
 *       until EOF or MS (default 5000).  -L writes "LOCALIP LOCALPORT" to
 *       FILE.  Exit 0 at EOF, 2 if connect failed (reason on stderr), 3 on
 *       a reset, 4 when MS passed without EOF.
 *
 *   ops_client trickle HOST PORT INTERVAL_MS COUNT
 *       Send one byte every INTERVAL_MS, COUNT times, reading each echo.
 *       Prints "echoed=N" (exit 0 when N = COUNT) or "closed after N".
 *
 *   ops_client idle HOST PORT MAX_MS
 *       Connect, send nothing, wait for the server to close.  Prints
 *       "closed after T ms" (exit 0) or "open after MAX_MS ms" (exit 1).
 *
 *   ops_client blast HOST PORT N [-b BYTES] [-s STALL_MS] [-H]
 *       Open N connections with small socket buffers that are never
 *       read, and send on each until BYTES (default 200 MiB) went out or
 *       the send has blocked for STALL_MS (default 300).  Prints
 *         connected=C sent=TOTAL stalled=S finished=D errors=E
 *       then, with -H, holds everything open until standard input's EOF.
 *
 * HOST may be unix:PATH, a Unix-domain socket (PORT is then ignored).
 * Exit 64 on a usage error, 1 on a setup error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define EX_USAGE	64
#define ALARM_S		120	/* nothing here should take longer */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
left_ms(uint64_t deadline)
{
	uint64_t t = now_ms();

	return t >= deadline ? 0 : (int)(deadline - t);
}

static void
usage(void)
{
	fprintf(stderr, "usage: ops_client conns|talk|trickle|idle|blast HOST "
	    "PORT ... (see the source)\n");
	exit(EX_USAGE);
}

static long
number(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		usage();
	return v;
}

static struct sockaddr_storage target;
static socklen_t target_len;

static void
resolve(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	int e;

	if (strncmp(host, "unix:", 5) == 0) {	/* PORT is ignored */
		struct sockaddr_un *sun = (struct sockaddr_un *)&target;

		if (strlen(host + 5) >= sizeof(sun->sun_path))
			usage();
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, host + 5);
		target_len = sizeof(*sun);
		return;
	}

	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		fprintf(stderr, "ops_client: %s: %s\n", host, gai_strerror(e));
		exit(1);
	}
	memcpy(&target, res->ai_addr, res->ai_addrlen);
	target_len = res->ai_addrlen;
	freeaddrinfo(res);
}

/* A non-blocking socket with connect started (from FROM if not NULL).
 * Returns the descriptor, or -1 with errno. */
static int
start_connect(const char *from, int bufsize)
{
	int fd = socket(target.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -1;
	/* Small buffers both ways keep a blaster's data in the server, not in
	 * our kernel buffers. */
	if (bufsize > 0 && (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize,
	    sizeof(bufsize)) == -1 || setsockopt(fd, SOL_SOCKET, SO_SNDBUF,
	    &bufsize, sizeof(bufsize)) == -1))
		return -1;
	if (from != NULL) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
		int r;

		if (target.ss_family == AF_INET) {
			if (inet_pton(AF_INET, from, &sin.sin_addr) != 1)
				usage();
			r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
		} else {
			if (inet_pton(AF_INET6, from, &sin6.sin6_addr) != 1)
				usage();
			r = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6));
		}
		if (r == -1) {
			fprintf(stderr, "ops_client: bind %s: %s\n", from,
			    strerror(errno));
			exit(1);
		}
	}
	if (connect(fd, (struct sockaddr *)&target, target_len) == -1 &&
	    errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Wait for the connects in fds[0..n) to finish (at most ms); a descriptor
 * whose connect failed is closed and set to -1.  Returns how many failed. */
static int
finish_connects(int *fds, int n, int ms, int *last_err)
{
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	uint64_t deadline = now_ms() + (uint64_t)ms;
	int i, pending, failed = 0;

	if (p == NULL)
		exit(1);
	for (;;) {
		pending = 0;
		for (i = 0; i < n; i++) {
			p[i].fd = fds[i];
			p[i].events = POLLOUT;
			p[i].revents = 0;
		}
		for (i = 0; i < n; i++)
			if (fds[i] >= 0)
				pending++;
		if (pending == 0)
			break;
		if (poll(p, (nfds_t)n, left_ms(deadline)) == -1 && errno != EINTR)
			exit(1);
		for (i = 0; i < n; i++) {
			int err = 0;
			socklen_t len = sizeof(err);

			if (fds[i] < 0 || p[i].revents == 0)
				continue;
			(void)getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &len);
			if (err != 0) {
				*last_err = err;
				close(fds[i]);
				fds[i] = -1;
				failed++;
			} else {
				fds[i] = -fds[i] - 2;	/* done: park it */
			}
		}
		if (left_ms(deadline) == 0) {
			for (i = 0; i < n; i++)
				if (fds[i] >= 0) {
					*last_err = ETIMEDOUT;
					close(fds[i]);
					fds[i] = -1;
					failed++;
				}
			break;
		}
	}
	for (i = 0; i < n; i++)
		if (fds[i] < -1)
			fds[i] = -fds[i] - 2;
	free(p);
	return failed;
}

static void
hold_until_eof(void)
{
	char b[256];

	alarm(ALARM_S);
	for (;;) {
		ssize_t r = read(STDIN_FILENO, b, sizeof(b));

		if (r == 0 || (r == -1 && errno != EINTR))
			break;
	}
}

enum { ST_NONE, ST_ECHO, ST_EOF, ST_RESET, ST_SILENT };

struct cconn {
	int fd;
	int state;
	char want[32];
	size_t wlen, got;
};

/* Wait up to ms for an answer on every connection still ST_SILENT. */
static void
await(struct cconn *c, int n, int ms)
{
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	uint64_t deadline = now_ms() + (uint64_t)ms;
	int i;

	if (p == NULL)
		exit(1);
	for (;;) {
		int waiting = 0;

		for (i = 0; i < n; i++) {
			p[i].fd = c[i].state == ST_SILENT ? c[i].fd : -1;
			p[i].events = POLLIN;
			p[i].revents = 0;
			waiting += c[i].state == ST_SILENT;
		}
		if (waiting == 0 || left_ms(deadline) == 0)
			break;
		if (poll(p, (nfds_t)n, left_ms(deadline)) == -1 && errno != EINTR)
			exit(1);
		for (i = 0; i < n; i++) {
			char b[64];
			ssize_t r;

			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			r = recv(c[i].fd, b, sizeof(b), MSG_DONTWAIT);
			if (r == -1 && errno == EAGAIN)
				continue;
			if (r == -1) {
				c[i].state = ST_RESET;
			} else if (r == 0) {
				c[i].state = ST_EOF;
			} else {
				if (c[i].got + (size_t)r > c[i].wlen ||
				    memcmp(b, c[i].want + c[i].got, (size_t)r) != 0) {
					fprintf(stderr, "ops_client: connection "
					    "%d: wrong echo\n", i);
					exit(1);
				}
				c[i].got += (size_t)r;
				if (c[i].got == c[i].wlen)
					c[i].state = ST_ECHO;
			}
		}
	}
	free(p);
}

static void
print_states(const char *prefix, struct cconn *c, int n)
{
	int k[5] = { 0 }, i;

	for (i = 0; i < n; i++)
		k[c[i].state]++;
	printf("%secho=%d eof=%d reset=%d silent=%d\n", prefix, k[ST_ECHO],
	    k[ST_EOF], k[ST_RESET], k[ST_SILENT]);
	fflush(stdout);
}

static int
cmd_conns(int argc, char **argv)
{
	const char *from = NULL;
	int n, wait_ms = 1000, then_ms = -1, i, opt, failed, err = 0;
	bool hold = false;
	struct cconn *c;
	int *fds;

	if (argc < 4)
		usage();
	resolve(argv[1], argv[2]);
	n = (int)number(argv[3]);
	optind = 4;
	while ((opt = getopt(argc, argv, "f:w:t:H")) != -1) {
		switch (opt) {
		case 'f': from = optarg; break;
		case 'w': wait_ms = (int)number(optarg); break;
		case 't': then_ms = (int)number(optarg); break;
		case 'H': hold = true; break;
		default: usage();
		}
	}
	fds = calloc((size_t)n, sizeof(*fds));
	c = calloc((size_t)n, sizeof(*c));
	if (fds == NULL || c == NULL)
		exit(1);
	for (i = 0; i < n; i++) {
		fds[i] = start_connect(from, 0);
		if (fds[i] == -1) {
			err = errno;
			if (errno == EMFILE || errno == ENFILE) {
				perror("ops_client: socket");
				exit(1);
			}
		}
	}
	failed = 0;
	for (i = 0; i < n; i++)
		failed += fds[i] == -1;
	failed += finish_connects(fds, n, 3000, &err);
	printf("connected=%d failed=%d ", n - failed, failed);
	if (failed > 0)
		fprintf(stderr, "ops_client: %d connects failed, the last with: "
		    "%s\n", failed, strerror(err));
	for (i = 0; i < n; i++) {
		c[i].fd = fds[i];
		c[i].state = ST_NONE;
		if (fds[i] < 0)
			continue;
		c[i].wlen = (size_t)snprintf(c[i].want, sizeof(c[i].want),
		    "conn %d\n", i);
		if (send(fds[i], c[i].want, c[i].wlen, MSG_NOSIGNAL) ==
		    (ssize_t)c[i].wlen)
			c[i].state = ST_SILENT;
		else
			c[i].state = errno == EAGAIN ? ST_SILENT : ST_RESET;
	}
	await(c, n, wait_ms);
	print_states("", c, n);
	if (then_ms >= 0) {
		for (i = 0; i < n; i++)
			if (c[i].state == ST_ECHO) {
				close(c[i].fd);
				c[i].fd = -1;
				c[i].state = ST_NONE;
			}
		await(c, n, then_ms);
		print_states("then ", c, n);
	}
	if (hold)
		hold_until_eof();
	free(fds);
	free(c);
	return 0;
}

static int
cmd_talk(int argc, char **argv)
{
	const char *from = NULL, *data = NULL, *lfile = NULL;
	int wait_ms = 5000, opt, fd, err = 0;
	bool keep = false;
	uint64_t deadline;

	if (argc < 3)
		usage();
	resolve(argv[1], argv[2]);
	optind = 3;
	while ((opt = getopt(argc, argv, "f:d:kw:L:")) != -1) {
		switch (opt) {
		case 'f': from = optarg; break;
		case 'd': data = optarg; break;
		case 'k': keep = true; break;
		case 'w': wait_ms = (int)number(optarg); break;
		case 'L': lfile = optarg; break;
		default: usage();
		}
	}
	if ((fd = start_connect(from, 0)) == -1)
		err = errno;
	if (fd == -1 || finish_connects(&fd, 1, 3000, &err) > 0) {
		fprintf(stderr, "ops_client: connect: %s\n", strerror(err));
		return 2;
	}
	if (lfile != NULL) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char a[INET6_ADDRSTRLEN] = "?";
		int port = 0;
		FILE *f;

		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
			if (ss.ss_family == AF_INET) {
				struct sockaddr_in *s = (struct sockaddr_in *)&ss;

				inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
				port = ntohs(s->sin_port);
			} else {
				struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

				inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
				port = ntohs(s->sin6_port);
			}
		}
		if ((f = fopen(lfile, "w")) == NULL)
			exit(1);
		fprintf(f, "%s %d\n", a, port);
		fclose(f);
	}
	deadline = now_ms() + (uint64_t)wait_ms;
	if (data != NULL) {
		size_t len = strlen(data), off = 0;

		while (off < len) {
			struct pollfd p = { fd, POLLOUT, 0 };
			ssize_t w;

			if (left_ms(deadline) == 0)
				return 4;
			(void)poll(&p, 1, left_ms(deadline));
			w = send(fd, data + off, len - off, MSG_NOSIGNAL);
			if (w == -1 && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "ops_client: send: %s\n",
				    strerror(errno));
				return 3;
			}
			if (w > 0)
				off += (size_t)w;
		}
	}
	if (!keep)
		(void)shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		char b[4096];
		ssize_t r;

		if (left_ms(deadline) == 0)
			return 4;
		(void)poll(&p, 1, left_ms(deadline));
		r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (r == 0)
			return 0;
		if (r == -1) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			fprintf(stderr, "ops_client: recv: %s\n", strerror(errno));
			return 3;
		}
		fwrite(b, 1, (size_t)r, stdout);
		fflush(stdout);
	}
}

/* Wait for one readable event or the deadline; recv into b.  Returns the
 * recv result, or -2 on timeout. */
static ssize_t
recv_by(int fd, char *b, size_t len, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, left_ms(deadline)) == 0)
			return -2;
		r = recv(fd, b, len, MSG_DONTWAIT);
		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		return r;
	}
}

static int
cmd_trickle(int argc, char **argv)
{
	int fd, interval, count, i, err = 0;

	if (argc != 5)
		usage();
	resolve(argv[1], argv[2]);
	interval = (int)number(argv[3]);
	count = (int)number(argv[4]);
	if ((fd = start_connect(NULL, 0)) == -1)
		err = errno;
	if (fd == -1 || finish_connects(&fd, 1, 3000, &err) > 0) {
		fprintf(stderr, "ops_client: connect: %s\n", strerror(err));
		return 2;
	}
	for (i = 0; i < count; i++) {
		uint64_t next = now_ms() + (uint64_t)interval;
		char b = (char)('a' + i % 26), r;
		ssize_t n;

		if (send(fd, &b, 1, MSG_NOSIGNAL) != 1)
			break;
		n = recv_by(fd, &r, 1, next + 2000);
		if (n != 1 || r != b)
			break;
		while (left_ms(next) > 0)
			(void)poll(NULL, 0, left_ms(next));
	}
	if (i == count) {
		printf("echoed=%d\n", i);
		return 0;
	}
	printf("closed after %d\n", i);
	return 1;
}

static int
cmd_idle(int argc, char **argv)
{
	int fd, max, err = 0;
	uint64_t t0, deadline;
	char b[64];
	ssize_t r;

	if (argc != 4)
		usage();
	resolve(argv[1], argv[2]);
	max = (int)number(argv[3]);
	if ((fd = start_connect(NULL, 0)) == -1)
		err = errno;
	if (fd == -1 || finish_connects(&fd, 1, 3000, &err) > 0) {
		fprintf(stderr, "ops_client: connect: %s\n", strerror(err));
		return 2;
	}
	t0 = now_ms();
	deadline = t0 + (uint64_t)max;
	do
		r = recv_by(fd, b, sizeof(b), deadline);
	while (r > 0);
	if (r == -2) {
		printf("open after %d ms\n", max);
		return 1;
	}
	printf("closed after %llu ms\n", (unsigned long long)(now_ms() - t0));
	return 0;
}

static int
cmd_blast(int argc, char **argv)
{
	static char buf[65536];
	long long bytes = 200LL << 20, total = 0;
	int n, stall_ms = 300, opt, i, err = 0, failed, active;
	int stalled = 0, finished = 0, errors = 0;
	bool hold = false;
	long long *sent;
	uint64_t *last, deadline;
	struct pollfd *p;
	int *fds;

	if (argc < 4)
		usage();
	resolve(argv[1], argv[2]);
	n = (int)number(argv[3]);
	optind = 4;
	while ((opt = getopt(argc, argv, "b:s:H")) != -1) {
		switch (opt) {
		case 'b': bytes = number(optarg); break;
		case 's': stall_ms = (int)number(optarg); break;
		case 'H': hold = true; break;
		default: usage();
		}
	}
	memset(buf, 'x', sizeof(buf));
	fds = calloc((size_t)n, sizeof(*fds));
	sent = calloc((size_t)n, sizeof(*sent));
	last = calloc((size_t)n, sizeof(*last));
	p = calloc((size_t)n, sizeof(*p));
	if (fds == NULL || sent == NULL || last == NULL || p == NULL)
		exit(1);
	for (i = 0; i < n; i++)
		if ((fds[i] = start_connect(NULL, 4096)) == -1) {
			perror("ops_client: connect");
			exit(1);
		}
	failed = finish_connects(fds, n, 5000, &err);
	if (failed > 0)
		fprintf(stderr, "ops_client: %d connects failed: %s\n", failed,
		    strerror(err));
	for (i = 0; i < n; i++)
		last[i] = now_ms();
	deadline = now_ms() + 60000;
	/* A connection is active (p[i].fd >= 0) until it stalls, finishes or
	 * fails; every active one is written whenever it can take data. */
	for (i = 0; i < n; i++)
		p[i].fd = fds[i];
	for (;;) {
		uint64_t t;

		active = 0;
		for (i = 0; i < n; i++) {
			p[i].events = POLLOUT;
			p[i].revents = 0;
			active += p[i].fd >= 0;
		}
		if (active == 0 || left_ms(deadline) == 0)
			break;
		if (poll(p, (nfds_t)n, 50) == -1 && errno != EINTR)
			exit(1);
		t = now_ms();
		for (i = 0; i < n; i++) {
			if (p[i].fd < 0)
				continue;
			while (p[i].revents != 0 && sent[i] < bytes) {
				size_t want = sizeof(buf);
				ssize_t w;

				if ((long long)want > bytes - sent[i])
					want = (size_t)(bytes - sent[i]);
				w = send(p[i].fd, buf, want, MSG_NOSIGNAL);
				if (w > 0) {
					sent[i] += w;
					total += w;
					last[i] = t;
					continue;
				}
				if (w == -1 && errno != EAGAIN && errno != EINTR) {
					errors++;
					p[i].fd = -1;
				}
				break;
			}
			if (p[i].fd < 0)
				continue;
			if (sent[i] >= bytes) {
				finished++;
				p[i].fd = -1;
			} else if (t - last[i] >= (uint64_t)stall_ms) {
				stalled++;
				p[i].fd = -1;
			}
		}
	}
	printf("connected=%d sent=%lld stalled=%d finished=%d errors=%d\n",
	    n - failed, total, stalled, finished, errors);
	fflush(stdout);
	if (hold)
		hold_until_eof();
	free(fds);
	free(sent);
	free(last);
	free(p);
	return 0;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	alarm(ALARM_S);
	if (argc < 2)
		usage();
	argv++, argc--;
	if (strcmp(argv[0], "conns") == 0)
		return cmd_conns(argc, argv);
	if (strcmp(argv[0], "talk") == 0)
		return cmd_talk(argc, argv);
	if (strcmp(argv[0], "trickle") == 0)
		return cmd_trickle(argc, argv);
	if (strcmp(argv[0], "idle") == 0)
		return cmd_idle(argc, argv);
	if (strcmp(argv[0], "blast") == 0)
		return cmd_blast(argc, argv);
	usage();
	return EX_USAGE;
}
