/*
 * rel_mem: clients that cost an echo server memory, and a canary that
 * must be served all along.
 *
 *   rel_mem HOST PORT [--never-read N] [--idle N] [--send KIB] [--hold S]
 *           [--stall-ms MS] [--timeout S]
 *
 * First the canary connects; it sends 64 bytes every 100 ms and checks
 * every echo.  Then N never-reading clients (default 1000) connect, each
 * sends up to --send KiB (default 256) -- as much as the sockets take --
 * and never reads; then --idle clients (default 10000) connect and say
 * nothing.  All are held --hold seconds (default 5), then closed, and a new
 * connection must be echoed: the server is still there.
 *
 * A client the server refuses is closed by it (EOF or a reset, looked for
 * while held) or never gets in (connect fails or times out after
 * --timeout, default 10 s): it is counted, not failed -- refusing is the
 * server's right (after three connects in a row fail, the rest are not
 * tried).  What fails: the canary losing its connection, a wrong
 * byte, or an echo taking longer than --stall-ms (default 2000); a server
 * that does not echo afterwards.
 *
 * Prints what was held and refused, the canary's echoes and its slowest.
 * Exit 0 all good, 1 failed (said on stderr), 64 usage.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "parse.h"
#define REL_PROG "rel_mem"
#include "rel_util.h"

#define CANARY_LEN	64
#define CANARY_EVERY_MS	100

static const char *host, *port;
static int n_never = 1000, n_idle = 10000, send_kib = 256, hold_s = 5;
static int stall_ms = 2000, timeout_s = 10;
static _Atomic bool canary_run = true;

/* One echo on fd within stall_ms: 0, or -1 (reason in err). */
static int
echo_once(int fd, unsigned seq, int64_t *took, char *err, size_t errlen)
{
	char out[CANARY_LEN], in[CANARY_LEN];
	int64_t t0 = now_ms();
	size_t got = 0;

	memset(out, 'a' + (int)(seq % 26), sizeof(out));
	memcpy(out, &seq, sizeof(seq));
	if (send(fd, out, sizeof(out), MSG_NOSIGNAL) != (ssize_t)sizeof(out)) {
		snprintf(err, errlen, "send: %s", strerror(errno));
		return -1;
	}
	while (got < sizeof(in)) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int left = (int)(t0 + stall_ms - now_ms());
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, left) == 0) {
			snprintf(err, errlen, "no echo within %d ms", stall_ms);
			return -1;
		}
		n = recv(fd, in + got, sizeof(in) - got, MSG_DONTWAIT);
		if (n == 0) {
			snprintf(err, errlen, "EOF");
			return -1;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			snprintf(err, errlen, "recv: %s", strerror(errno));
			return -1;
		}
		if (n > 0)
			got += (size_t)n;
	}
	if (memcmp(in, out, sizeof(in)) != 0) {
		snprintf(err, errlen, "a wrong byte in the echo");
		return -1;
	}
	*took = now_ms() - t0;
	return 0;
}

struct canary {
	pthread_t t;
	int fd;
	unsigned echoes;
	int64_t worst;
	bool broken;
};

static void *
canary_main(void *arg)
{
	struct canary *c = arg;
	char err[128];
	int64_t took;

	while (atomic_load(&canary_run)) {
		if (echo_once(c->fd, c->echoes, &took, err, sizeof(err)) == -1) {
			failf("canary, echo %u: %s", c->echoes, err);
			c->broken = true;
			return NULL;
		}
		c->echoes++;
		if (took > c->worst)
			c->worst = took;
		sleep_ms(CANARY_EVERY_MS);
	}
	return NULL;
}

/* A client: connected and held (fd), or refused / never in (-1). */
struct client {
	int fd;
};

/* Connect n clients; never-readers fill what their socket takes.  Counts
 * those that got in. */
static int
open_clients(struct client *v, int n, bool never_read, int *never_in)
{
	static char junk[64 * 1024];
	int i, in = 0, failed_in_row = 0;

	memset(junk, 'x', sizeof(junk));
	for (i = 0; i < n; i++) {
		int fd = -1;
		size_t sent = 0;

		/* A server that takes no more leaves connects to time out:
		 * after a few in a row, the rest are not tried. */
		if (failed_in_row < 3)
			fd = net_connect(host, port, SOCK_STREAM,
			    timeout_s * 1000, NET_NONBLOCK);
		v[i].fd = -1;
		if (fd < 0) {
			failed_in_row++;
			(*never_in)++;
			continue;
		}
		failed_in_row = 0;
		while (never_read && sent < (size_t)send_kib * 1024) {
			size_t want = (size_t)send_kib * 1024 - sent;
			ssize_t w = send(fd, junk, want < sizeof(junk) ? want :
			    sizeof(junk), MSG_NOSIGNAL);

			if (w <= 0)
				break;	/* full (EAGAIN), or refused */
			sent += (size_t)w;
		}
		v[i].fd = fd;
		in++;
	}
	return in;
}

/* Clients the server has closed (EOF or reset) since: closed and counted. */
static int
reap_refused(struct client *v, int n)
{
	char b[4096];
	int i, refused = 0;

	for (i = 0; i < n; i++) {
		struct pollfd pfd = { v[i].fd, POLLIN | POLLRDHUP, 0 };

		if (v[i].fd < 0)
			continue;
		if (poll(&pfd, 1, 0) != 1 ||
		    !(pfd.revents & (POLLHUP | POLLRDHUP | POLLERR)))
			continue;
		/* Gone: whatever it had echoed is drained with it. */
		while (recv(v[i].fd, b, sizeof(b), MSG_DONTWAIT) > 0)
			;
		close(v[i].fd);
		v[i].fd = -1;
		refused++;
	}
	return refused;
}

static int
held(const struct client *v, int n)
{
	int i, k = 0;

	for (i = 0; i < n; i++)
		k += v[i].fd >= 0;
	return k;
}

static void
close_all(struct client *v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (v[i].fd >= 0) {
			(void)net_set_linger0(v[i].fd);
			close(v[i].fd);
			v[i].fd = -1;
		}
}

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: rel_mem HOST PORT [--never-read N] [--idle N] "
	    "[--send KIB] [--hold S] [--stall-ms MS] [--timeout S]\n");
	exit(64);
}

static int
intarg(char **argv, int *i, int argc, uint64_t max)
{
	uint64_t v;

	if (*i + 1 >= argc || parse_uint(argv[*i + 1], 0, max, &v) == -1)
		usage();
	(*i)++;
	return (int)v;
}

int
main(int argc, char **argv)
{
	struct canary can = { 0 };
	struct client *nr, *id;
	int i, never_in = 0, idle_in = 0, nr_in, id_in, nr_ref, id_ref;
	int64_t took;
	char err[128];
	int fd;

	if (argc < 3)
		usage();
	host = argv[1];
	port = argv[2];
	for (i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--never-read") == 0)
			n_never = intarg(argv, &i, argc, 1000000);
		else if (strcmp(argv[i], "--idle") == 0)
			n_idle = intarg(argv, &i, argc, 1000000);
		else if (strcmp(argv[i], "--send") == 0)
			send_kib = intarg(argv, &i, argc, 1 << 20);
		else if (strcmp(argv[i], "--hold") == 0)
			hold_s = intarg(argv, &i, argc, 3600);
		else if (strcmp(argv[i], "--stall-ms") == 0)
			stall_ms = intarg(argv, &i, argc, 600000);
		else if (strcmp(argv[i], "--timeout") == 0)
			timeout_s = intarg(argv, &i, argc, 600);
		else
			usage();
	}
	nr = calloc((size_t)n_never + 1, sizeof(*nr));
	id = calloc((size_t)n_idle + 1, sizeof(*id));
	if (nr == NULL || id == NULL) {
		failf("out of memory");
		return 1;
	}
	if ((can.fd = net_connect(host, port, SOCK_STREAM, timeout_s * 1000,
	    0)) < 0) {
		failf("canary: connect: %s", net_strerror(can.fd));
		return 1;
	}
	if (pthread_create(&can.t, NULL, canary_main, &can) != 0) {
		failf("pthread_create");
		return 1;
	}
	nr_in = open_clients(nr, n_never, true, &never_in);
	id_in = open_clients(id, n_idle, false, &idle_in);
	sleep_ms(hold_s * 1000);
	nr_ref = reap_refused(nr, n_never);
	id_ref = reap_refused(id, n_idle);
	printf("never-reading: %d of %d got in (%d did not), %d then closed by "
	    "the server, %d held %d s\n", nr_in, n_never, never_in, nr_ref,
	    held(nr, n_never), hold_s);
	printf("idle: %d of %d got in (%d did not), %d then closed by the "
	    "server, %d held %d s\n", id_in, n_idle, idle_in, id_ref,
	    held(id, n_idle), hold_s);
	close_all(nr, n_never);
	close_all(id, n_idle);
	sleep_ms(1000);
	atomic_store(&canary_run, false);
	pthread_join(can.t, NULL);
	printf("canary: %u echoes, the slowest in %lld ms%s\n", can.echoes,
	    (long long)can.worst, can.broken ? ", then broken" : "");
	close(can.fd);
	if ((fd = net_connect(host, port, SOCK_STREAM, timeout_s * 1000,
	    0)) < 0)
		failf("afterwards: connect: %s", net_strerror(fd));
	else {
		if (echo_once(fd, 0, &took, err, sizeof(err)) == -1)
			failf("afterwards: %s", err);
		close(fd);
	}
	free(nr);
	free(id);
	return atomic_load(&failures) ? 1 : 0;
}
