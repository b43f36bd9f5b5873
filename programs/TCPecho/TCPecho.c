/*
 * TCPecho: the lab's echo client.
 *
 * Standard input goes to the server, what the server sends back goes to
 * standard output.  Typed by hand it works line by line; fed a pipe of any
 * size it never deadlocks, because it never blocks on one direction while
 * the other is stuck: one poll(2) loop watches stdin, the socket and stdout,
 * and moves bytes through two bounded buffers (up: stdin -> socket, down:
 * socket -> stdout).  At the end of input it half-closes the connection
 * (shutdown SHUT_WR) and exits 0 once the server has echoed everything and
 * closed its side.
 *
 * The socket is non-blocking; stdin and stdout stay as they are (they may be
 * a terminal we share with the shell), so we read them only when poll says
 * so and write stdout at most PIPE_BUF bytes at a time.
 *
 * SIGPIPE is ignored: a write to a reset connection or a closed stdout fails
 * with EPIPE, which is reported like any other error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "net.h"
#include "parse.h"
#include "sig.h"

#define EX_USAGE	64
#define EX_NOHOST	68
#define EX_UNAVAILABLE	69
#define EX_OSERR	71
#define EX_IOERR	74
#define EX_TEMPFAIL	75

#define BUFSIZE	65536

struct buf {
	char data[BUFSIZE];
	size_t start, end;	/* bytes waiting are data[start..end) */
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: TCPecho [-t SECONDS] [-T SECONDS] [host [port]]\n"
	    "  host        server name or address (default: localhost)\n"
	    "  port        port number or service name (default: echo, 7)\n"
	    "  -t SECONDS  connect timeout (default 10; 0: the kernel's)\n"
	    "  -T SECONDS  I/O timeout while echoes are due (default 10; 0: none)\n"
	    "  --help, --version\n"
	    "exit: 0 all echoed, 64 usage, 68 unknown host, 69 refused or\n"
	    "      unreachable, 74 reset or I/O error, 75 timeout\n");
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
seconds(const char *opt, const char *s)
{
	uint64_t us;

	if (parse_duration_us(s, &us) == -1 || us > 86400ull * 1000000)
		fatalx(EX_USAGE, "%s %s: expected seconds, 0 to 86400", opt, s);
	return (int)((us + 999) / 1000);
}

/* A one-line reason and sysexits code for a failed net_connect(). */
static noreturn void
connect_failed(int e, const char *host, const char *port)
{
	if (NET_IS_EAI(e)) {
		int eai = e + NET_EAI_BASE;

		if (eai == EAI_AGAIN)
			fatalx(EX_TEMPFAIL, "cannot resolve '%s' now: %s",
			    host, net_strerror(e));
		fatalx(EX_NOHOST, "unknown host '%s': %s", host,
		    net_strerror(e));
	}
	switch (-e) {
	case ETIMEDOUT:
		fatalx(EX_TEMPFAIL, "connect to %s port %s: timed out", host,
		    port);
	case ECONNREFUSED:
		fatalx(EX_UNAVAILABLE, "connect to %s port %s: connection "
		    "refused (is the server running?)", host, port);
	case ENETUNREACH: case EHOSTUNREACH: case EADDRNOTAVAIL:
	case ENETDOWN: case EHOSTDOWN: case EAFNOSUPPORT:
		fatalx(EX_UNAVAILABLE, "connect to %s port %s: %s", host, port,
		    net_strerror(e));
	default:
		fatalx(EX_OSERR, "connect to %s port %s: %s", host, port,
		    net_strerror(e));
	}
}

static noreturn void
io_failed(const char *what)
{
	if (errno == EPIPE || errno == ECONNRESET)
		fatalx(EX_IOERR, "%s: %s (the connection was reset)", what,
		    strerror(errno));
	fatal(EX_IOERR, "%s", what);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct buf up, down;
	const char *host = "localhost", *port = "echo";
	int c, sock, ctimeout = 10000, iotimeout = 10000, pn;
	bool in_eof = false, shut = false, srv_eof = false;
	uint64_t sent = 0, echoed = 0;
	int64_t last = 0;
	ssize_t n;

	log_init(argv[0], LOG_NORMAL);
	while ((c = getopt_long(argc, argv, "t:T:", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			ctimeout = seconds("-t", optarg);
			break;
		case 'T':
			iotimeout = seconds("-T", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("TCPecho (concurd) %s\n", CONCUR_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (argc - optind > 2) {
		log_warnx("too many arguments: expected [host [port]]");
		usage(stderr);
		return EX_USAGE;
	}
	if (argc - optind >= 1)
		host = argv[optind];
	if (argc - optind == 2)
		port = argv[optind + 1];
	pn = net_parse_port(port, SOCK_STREAM);
	if (pn <= 0)
		fatalx(EX_USAGE, "invalid port '%s': a number 1..65535 or a "
		    "service name", port);
	if (sig_ignore(SIGPIPE) == -1)
		fatal(EX_OSERR, "sigaction");

	sock = net_connect(host, port, SOCK_STREAM, ctimeout, NET_NONBLOCK);
	if (sock < 0)
		connect_failed(sock, host, port);

	while (!srv_eof || down.start < down.end) {
		struct pollfd pfd[3];
		bool waiting;
		int timeout = -1, r;

		/* Ask only for what we can act on: bounded buffers. */
		pfd[0].fd = !in_eof && up.end < BUFSIZE ? STDIN_FILENO : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = sock;
		pfd[1].events = (up.start < up.end ? POLLOUT : 0) |
		    (!srv_eof && down.end < BUFSIZE ? POLLIN : 0);
		pfd[2].fd = down.start < down.end ? STDOUT_FILENO : -1;
		pfd[2].events = POLLOUT;

		/* The I/O timeout runs only while the server owes us bytes
		 * (or its close) and we have room to take them. */
		waiting = !srv_eof && (sent > echoed || shut) &&
		    down.end < BUFSIZE;
		if (!waiting || last == 0)
			last = now_ms();
		if (waiting && iotimeout > 0) {
			int64_t left = last + iotimeout - now_ms();

			if (left <= 0)
				fatalx(EX_TEMPFAIL, "timed out after %g s "
				    "waiting for the server (%llu bytes not "
				    "echoed yet)", iotimeout / 1000.0,
				    (unsigned long long)(sent - echoed));
			timeout = (int)left;
		}
		r = poll(pfd, 3, timeout);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			fatal(EX_OSERR, "poll");
		}

		if (pfd[0].revents) {
			n = io_read(STDIN_FILENO, up.data + up.end,
			    BUFSIZE - up.end);
			if (n == -1)
				fatal(EX_IOERR, "read standard input");
			if (n == 0)
				in_eof = true;
			up.end += (size_t)n;
		}
		if (pfd[1].revents & (POLLOUT | POLLERR | POLLHUP) &&
		    up.start < up.end) {
			n = io_send(sock, up.data + up.start,
			    up.end - up.start);
			if (n == -1 && errno != EAGAIN)
				io_failed("send to server");
			if (n > 0) {
				up.start += (size_t)n;
				sent += (uint64_t)n;
			}
		}
		if (pfd[1].revents & (POLLIN | POLLERR | POLLHUP) &&
		    !srv_eof && down.end < BUFSIZE) {
			n = io_read(sock, down.data + down.end,
			    BUFSIZE - down.end);
			if (n == -1 && errno != EAGAIN)
				io_failed("receive from server");
			if (n == 0)
				srv_eof = true;
			if (n > 0) {
				down.end += (size_t)n;
				echoed += (uint64_t)n;
				last = now_ms();
			}
		}
		if (pfd[2].revents) {
			size_t len = down.end - down.start;

			n = io_write(STDOUT_FILENO, down.data + down.start,
			    len < PIPE_BUF ? len : PIPE_BUF);
			if (n == -1)
				fatal(EX_IOERR, "write standard output");
			down.start += (size_t)n;
		}

		if (up.start == up.end)
			up.start = up.end = 0;
		if (down.start == down.end)
			down.start = down.end = 0;
		if (down.end == BUFSIZE && down.start > 0) {
			memmove(down.data, down.data + down.start,
			    down.end - down.start);
			down.end -= down.start;
			down.start = 0;
		}
		if (up.end == BUFSIZE && up.start > 0) {
			memmove(up.data, up.data + up.start,
			    up.end - up.start);
			up.end -= up.start;
			up.start = 0;
		}
		if (in_eof && up.start == up.end && !shut) {
			if (shutdown(sock, SHUT_WR) == -1)
				io_failed("shutdown");
			shut = true;
		}
	}
	if (!shut)
		fatalx(EX_IOERR, "the server closed the connection before the "
		    "end of input");
	if (sent > echoed)
		fatalx(EX_IOERR, "the server closed the connection with %llu "
		    "of %llu bytes not echoed",
		    (unsigned long long)(sent - echoed),
		    (unsigned long long)sent);
	if (echoed > sent)
		fatalx(EX_IOERR, "the server sent %llu bytes more than it got: "
		    "not an echo server?", (unsigned long long)(echoed - sent));
	close(sock);
	return 0;
}
