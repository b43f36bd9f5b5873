/*
 * conform: black-box conformance checks for concurd's services.
 *
 *   conform CHECK HOST PORT [options]
 *
 * Each check talks to a running server over real sockets, decides, and says
 * so: exit 0 and one line on stdout when the server conforms, exit 1 and one
 * line on stderr saying what was wrong when it does not, 77 when the check
 * cannot run here (udp-guard without the right to bind a low port), 64 on a
 * usage error.  Every socket is non-blocking and every wait goes through
 * poll() against a deadline, so no check can hang: a server that stalls is a
 * failure with a reason, not a stuck test.  An alarm backs that up.
 *
 * The success line ends with "connections=N", the number of TCP connections
 * the check made, so a test can hold it against the server's summary.
 *
 * Checks (see usage() for options):
 *   echo-many  many concurrent persistent clients, random payloads of 1 B to
 *              256 KiB, byte-exact; or, with --serial, that a second client
 *              waits until the first leaves (the iterative model)
 *   halfclose  after shutdown(SHUT_WR), exactly the data comes back, then EOF
 *   discard    64 MiB accepted, nothing sent back, EOF after our EOF
 *   chargen    RFC 864's ring verified byte by byte across line boundaries
 *   daytime    one line, a date within 5 s of our clock
 *   time       4 bytes, seconds since 1900 within 5 s of our clock
 *   nbytes     exact replies (service.h: the replies on a connection are
 *              consecutive bytes of nbytes_pattern: the first is
 *              pattern(0..N-1), the next continues where it stopped), and
 *              every malformed request closes the
 *              connection without a byte of reply; nbytes-valid and
 *              nbytes-malformed run either half alone
 *   udp        one service over UDP (echo, discard, chargen, daytime, time)
 *   udp-guard  a datagram from a source port below 1024 gets no echo
 *   hold       open idle and mid-transfer echo connections, say "ready",
 *              wait for EOF on stdin, then check the server closed them all
 *   refused    nothing accepts on HOST PORT any more
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "net.h"
#include "parse.h"
#include "service.h"

#define EX_OK		0
#define EX_FAIL		1
#define EX_USAGE	64
#define EX_SKIP		77

#define MAX_MSG		(256 * 1024)
#define CONNECT_MS	5000

static const char *check = "conform";
static const char *host, *port;
static int conns;			/* TCP connections made */

/* -- reporting ------------------------------------------------------------ */

static void failx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
failx(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "conform: %s: %s\n", check, msg);
	exit(EX_FAIL);
}

static void
passed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
passed(const char *fmt, ...)
{
	va_list ap;

	printf("conform: %s: ok: ", check);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" connections=%d\n", conns);
	fflush(stdout);
}

static void
on_alarm(int sig)
{
	static const char msg[] = "conform: overall time limit reached\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(EX_FAIL);
}

/* -- time and randomness -------------------------------------------------- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
left_ms(int64_t deadline)
{
	int64_t d = deadline - now_ms();

	return d < 0 ? 0 : d > 60000 ? 60000 : (int)d;
}

/* xorshift64*: seeded, so a failure can be replayed with --seed. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static void
rnd_fill(uint64_t *s, char *buf, size_t len)
{
	size_t i;
	uint64_t r = 0;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0)
			r = rnd(s);
		buf[i] = (char)(r >> (8 * (i % 8)));
	}
}

/* -- sockets -------------------------------------------------------------- */

static int
tcp_connect(void)
{
	int fd = net_connect(host, port, SOCK_STREAM, CONNECT_MS, NET_NONBLOCK);

	if (fd < 0)
		failx("connect to %s port %s: %s", host, port, net_strerror(fd));
	conns++;
	return fd;
}

/* Wait for events on one descriptor; 0 on timeout. */
static short
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	for (;;) {
		r = poll(&p, 1, left_ms(deadline));
		if (r > 0)
			return p.revents;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			failx("poll: %s", strerror(errno));
	}
}

enum end { END_FULL, END_EOF, END_ERROR, END_TIMEOUT };

static const char *
end_text(enum end e, int err)
{
	static char buf[128];

	switch (e) {
	case END_FULL:
		return "complete";
	case END_EOF:
		return "EOF";
	case END_TIMEOUT:
		return "timeout";
	case END_ERROR:
		break;
	}
	snprintf(buf, sizeof(buf), "error: %s", strerror(err));
	return buf;
}

/* Read until len bytes came, EOF, an error or the deadline. */
static size_t
read_until(int fd, char *buf, size_t len, int64_t deadline, enum end *how,
    int *err)
{
	size_t got = 0;
	ssize_t r;

	*err = 0;
	while (got < len) {
		r = recv(fd, buf + got, len - got, 0);
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0) {
			*how = END_EOF;
			return got;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			*err = errno;
			*how = END_ERROR;
			return got;
		}
		if (wait_fd(fd, POLLIN, deadline) == 0) {
			*how = END_TIMEOUT;
			return got;
		}
	}
	*how = END_FULL;
	return got;
}

/* Write all of buf (errors are returned, never fatal: some checks expect
 * the server to hang up on them). */
static int
write_until(int fd, const char *buf, size_t len, int64_t deadline)
{
	size_t done = 0;
	ssize_t r;

	while (done < len) {
		r = send(fd, buf + done, len - done, MSG_NOSIGNAL);
		if (r > 0) {
			done += (size_t)r;
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno != EAGAIN)
			return -1;
		if (wait_fd(fd, POLLOUT, deadline) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}

static void
must_write(int fd, const char *buf, size_t len, int64_t deadline,
    const char *what)
{
	if (write_until(fd, buf, len, deadline) == -1)
		failx("writing %s: %s", what, strerror(errno));
}

/* Nothing may arrive for ms milliseconds; EOF or an error is "nothing"
 * only when closed_ok. */
static void
expect_silence(int fd, int ms, bool closed_ok, const char *what)
{
	int64_t deadline = now_ms() + ms;
	char c;
	ssize_t r;

	while (wait_fd(fd, POLLIN, deadline) != 0) {
		r = recv(fd, &c, 1, MSG_PEEK);
		if (r > 0)
			failx("%s: got data (0x%02x '%c'), expected none", what,
			    (unsigned char)c, c >= ' ' && c <= '~' ? c : '.');
		if (r == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (closed_ok)
			return;
		failx("%s: connection %s, expected it to stay open", what,
		    r == 0 ? "closed (EOF)" : strerror(errno));
	}
}

/* The server must close (FIN or RST) within ms without sending a byte. */
static const char *
expect_closed_silently(int fd, int ms, const char *what)
{
	char buf[256];
	enum end how;
	int err;
	size_t n = read_until(fd, buf, sizeof(buf), now_ms() + ms, &how, &err);

	if (n > 0)
		failx("%s: got %zu byte(s) of reply (first 0x%02x), expected "
		    "none", what, n, (unsigned char)buf[0]);
	if (how == END_TIMEOUT)
		failx("%s: connection still open after %d ms, expected the "
		    "server to close it", what, ms);
	if (how == END_ERROR && err != ECONNRESET)
		failx("%s: %s", what, strerror(err));
	return how == END_EOF ? "FIN" : "RST";
}

static void
expect_eof(int fd, int ms, const char *what)
{
	char buf[256];
	enum end how;
	int err;
	size_t n = read_until(fd, buf, sizeof(buf), now_ms() + ms, &how, &err);

	if (n > 0)
		failx("%s: %zu unexpected byte(s) before EOF (first 0x%02x)",
		    what, n, (unsigned char)buf[0]);
	if (how != END_EOF)
		failx("%s: expected EOF, got %s", what, end_text(how, err));
}

/* -- echo-many ------------------------------------------------------------ */

struct client {
	int fd;
	uint64_t rng;
	int msg;		/* message in flight */
	size_t size, sent, rcvd;
	char *buf;		/* the message in flight */
	bool done;		/* all messages echoed; waiting for the rest */
	bool shut;		/* we half-closed */
	bool eof;		/* server closed after our shutdown */
};

/* Mixed sizes, 1 B to 256 KiB, spread evenly over the orders of magnitude
 * so small and large messages are both common. */
static size_t
pick_size(uint64_t *s)
{
	unsigned e = (unsigned)(rnd(s) % 18);	/* 2^0 .. 2^17 */
	size_t base = (size_t)1 << e;

	return base + (size_t)(rnd(s) % base);
}

static void
next_message(struct client *c, int idx)
{
	c->size = pick_size(&c->rng);
	if (c->msg == 0 && idx == 0)
		c->size = MAX_MSG;	/* both extremes, every run */
	if (c->msg == 0 && idx == 1)
		c->size = 1;
	rnd_fill(&c->rng, c->buf, c->size);
	c->sent = c->rcvd = 0;
}

static void
client_io(struct client *c, int idx, short rev, int nmsgs, int *ndone,
    uint64_t *total)
{
	char tmp[65536];
	ssize_t r;
	size_t i;

	if ((rev & POLLOUT) && c->sent < c->size) {
		r = send(c->fd, c->buf + c->sent, c->size - c->sent,
		    MSG_NOSIGNAL);
		if (r > 0)
			c->sent += (size_t)r;
		else if (r == -1 && errno != EAGAIN && errno != EINTR)
			failx("client %d message %d: send after %zu of %zu "
			    "bytes: %s", idx, c->msg, c->sent, c->size,
			    strerror(errno));
	}
	if (!(rev & (POLLIN | POLLERR | POLLHUP)))
		return;
	r = recv(c->fd, tmp, sizeof(tmp), 0);
	if (r == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		failx("client %d message %d (%zu bytes): recv after %zu echoed"
		    ": %s", idx, c->msg, c->size, c->rcvd, strerror(errno));
	}
	if (r == 0) {
		if (c->shut) {
			c->eof = true;
			return;
		}
		if (c->done)
			failx("client %d: server closed the connection before "
			    "the client did", idx);
		failx("client %d message %d (%zu bytes): server closed the "
		    "connection after echoing %zu bytes", idx, c->msg, c->size,
		    c->rcvd);
	}
	if (c->done || c->rcvd + (size_t)r > c->sent)
		failx("client %d message %d (%zu bytes): %zd byte(s) came back "
		    "that were never sent (%zu sent, %zu echoed before)", idx,
		    c->msg, c->size, r, c->sent, c->rcvd);
	for (i = 0; i < (size_t)r; i++)
		if (tmp[i] != c->buf[c->rcvd + i])
			failx("client %d message %d (%zu bytes): byte %zu is "
			    "0x%02x, sent 0x%02x", idx, c->msg, c->size,
			    c->rcvd + i, (unsigned char)tmp[i],
			    (unsigned char)c->buf[c->rcvd + i]);
	c->rcvd += (size_t)r;
	*total += (uint64_t)r;
	if (c->rcvd < c->size)
		return;
	if (++c->msg < nmsgs) {
		next_message(c, idx);
	} else {
		c->done = true;
		(*ndone)++;
	}
}

static void
echo_many(int nclients, int nmsgs, uint64_t seed, int timeout_s)
{
	struct client *cl = calloc((size_t)nclients, sizeof(*cl));
	struct pollfd *pfd = calloc((size_t)nclients, sizeof(*pfd));
	int64_t start = now_ms(), deadline = start + timeout_s * 1000;
	uint64_t total = 0;
	int i, ndone = 0, neof = 0;

	if (cl == NULL || pfd == NULL)
		failx("out of memory");
	for (i = 0; i < nclients; i++) {
		cl[i].fd = tcp_connect();
		cl[i].rng = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)i + 1;
		cl[i].buf = malloc(MAX_MSG);
		if (cl[i].buf == NULL)
			failx("out of memory");
		next_message(&cl[i], i);
	}
	/* Every client stays connected until all are done: the server must
	 * serve all of them at once, which is what a pool that cannot grow
	 * fails to do. */
	while (ndone < nclients) {
		for (i = 0; i < nclients; i++) {
			pfd[i].fd = cl[i].fd;
			pfd[i].events = (short)(POLLIN |
			    (cl[i].sent < cl[i].size && !cl[i].done ? POLLOUT : 0));
			pfd[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)nclients, left_ms(deadline)) == -1) {
			if (errno == EINTR)
				continue;
			failx("poll: %s", strerror(errno));
		}
		if (now_ms() >= deadline) {
			int stuck = 0, first = -1;

			for (i = 0; i < nclients; i++)
				if (!cl[i].done && stuck++ == 0)
					first = i;
			failx("%d of %d clients not done after %d s; e.g. client"
			    " %d message %d: %zu of %zu bytes sent, %zu echoed",
			    stuck, nclients, timeout_s, first, cl[first].msg,
			    cl[first].sent, cl[first].size, cl[first].rcvd);
		}
		for (i = 0; i < nclients; i++)
			if (pfd[i].revents)
				client_io(&cl[i], i, pfd[i].revents, nmsgs,
				    &ndone, &total);
	}
	/* All done: half-close every client; the server must finish and
	 * close each one (echo's EOF rule) without a stray byte. */
	for (i = 0; i < nclients; i++) {
		if (shutdown(cl[i].fd, SHUT_WR) == -1)
			failx("shutdown: %s", strerror(errno));
		cl[i].shut = true;
	}
	while (neof < nclients) {
		for (i = 0; i < nclients; i++) {
			pfd[i].fd = cl[i].eof ? -1 : cl[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)nclients, left_ms(deadline)) == -1 &&
		    errno != EINTR)
			failx("poll: %s", strerror(errno));
		if (now_ms() >= deadline)
			failx("%d of %d connections not closed by the server "
			    "after the clients' EOF", nclients - neof, nclients);
		for (i = 0; i < nclients; i++)
			if (pfd[i].revents) {
				client_io(&cl[i], i, pfd[i].revents, nmsgs,
				    &ndone, &total);
				if (cl[i].eof)
					neof++;
			}
	}
	for (i = 0; i < nclients; i++) {
		close(cl[i].fd);
		free(cl[i].buf);
	}
	free(cl);
	free(pfd);
	passed("%d concurrent clients x %d messages, %llu bytes echoed "
	    "byte-exact in %lld ms (seed %llu)", nclients, nmsgs,
	    (unsigned long long)total, (long long)(now_ms() - start),
	    (unsigned long long)seed);
}

/* One round trip of out[0..len) on an echo connection, checked. */
static void
echo_check(int fd, const char *out, size_t len, int ms, const char *what)
{
	char *in = malloc(len > 0 ? len : 1);
	enum end how;
	size_t n;
	int err;

	if (in == NULL)
		failx("out of memory");
	must_write(fd, out, len, now_ms() + ms, what);
	n = read_until(fd, in, len, now_ms() + ms, &how, &err);
	if (how != END_FULL)
		failx("%s: %zu of %zu bytes echoed, then %s", what, n, len,
		    end_text(how, err));
	if (memcmp(in, out, len) != 0)
		failx("%s: echo differs from what was sent", what);
	free(in);
}

static void
echo_once(int fd, const char *msg, int ms, const char *what)
{
	echo_check(fd, msg, strlen(msg), ms, what);
}

/* len pattern bytes (up to 1 MiB) round trip. */
static void
echo_sized(int fd, size_t len, int ms, const char *what)
{
	char *out = malloc(len);
	size_t i;

	if (out == NULL)
		failx("out of memory");
	for (i = 0; i < len; i++)
		out[i] = (char)('a' + i % 26);
	echo_check(fd, out, len, ms, what);
	free(out);
}

/* The iterative model: the second client is not served while the first is
 * connected, and is served as soon as it leaves. */
static void
echo_serial(int wait_ms)
{
	int a, b;
	char buf[64];
	enum end how;
	int err;
	size_t n;

	a = tcp_connect();
	echo_once(a, "first client\n", 5000, "first client");
	b = tcp_connect();
	must_write(b, "second client\n", 14, now_ms() + 5000, "second client");
	expect_silence(b, wait_ms, false,
	    "second client while the first is connected (iterative server "
	    "must not serve it yet)");
	echo_once(a, "first client again\n", 5000,
	    "first client, while the second waits");
	close(a);
	n = read_until(b, buf, 14, now_ms() + 5000, &how, &err);
	if (how != END_FULL)
		failx("second client after the first left: %zu of 14 bytes "
		    "echoed, then %s", n, end_text(how, err));
	if (memcmp(buf, "second client\n", 14) != 0)
		failx("second client: wrong echo");
	echo_once(b, "second client again\n", 5000, "second client again");
	if (shutdown(b, SHUT_WR) == -1)
		failx("shutdown: %s", strerror(errno));
	expect_eof(b, 5000, "second client after its EOF");
	close(b);
	passed("second client waited %d ms unserved while the first was "
	    "connected, and was served once it left", wait_ms);
}

/* -- halfclose ------------------------------------------------------------ */

/* Send all of out, then shutdown(SHUT_WR), reading all the while; returns
 * the bytes read up to EOF (at most cap). */
static size_t
send_shut_read(int fd, const char *out, size_t len, char *in, size_t cap,
    int64_t deadline, const char *what)
{
	size_t sent = 0, got = 0;
	bool shut = false;
	ssize_t r;
	short rev;

	for (;;) {
		rev = wait_fd(fd, (short)(POLLIN | (shut ? 0 : POLLOUT)),
		    deadline);
		if (rev == 0)
			failx("%s: timed out with %zu of %zu bytes sent, %zu "
			    "received", what, sent, len, got);
		if ((rev & POLLOUT) && !shut) {
			r = send(fd, out + sent, len - sent, MSG_NOSIGNAL);
			if (r == -1 && errno != EAGAIN && errno != EINTR)
				failx("%s: send after %zu of %zu bytes: %s",
				    what, sent, len, strerror(errno));
			if (r > 0)
				sent += (size_t)r;
			if (sent == len) {
				if (shutdown(fd, SHUT_WR) == -1)
					failx("shutdown: %s", strerror(errno));
				shut = true;
			}
		}
		if (!(rev & (POLLIN | POLLERR | POLLHUP)))
			continue;
		r = recv(fd, in + got, cap - got, 0);
		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r == -1)
			failx("%s: recv after %zu bytes (%zu of %zu sent%s): %s",
			    what, got, sent, len, shut ? ", half-closed" : "",
			    strerror(errno));
		if (r == 0) {
			if (!shut)
				failx("%s: server closed after %zu bytes, before"
				    " we had sent all %zu", what, got, len);
			return got;
		}
		got += (size_t)r;
		if (got == cap)
			failx("%s: more than %zu bytes came back", what,
			    cap - 1);
	}
}

static void
halfclose_case(const char *out, size_t len, const char *what)
{
	char *in = malloc(len + 1);
	size_t got, i;
	int fd;

	if (in == NULL)
		failx("out of memory");
	fd = tcp_connect();
	got = send_shut_read(fd, out, len, in, len + 1, now_ms() + 10000, what);
	if (got != len)
		failx("%s: %zu bytes came back before EOF, sent %zu", what,
		    got, len);
	for (i = 0; i < len; i++)
		if (in[i] != out[i])
			failx("%s: byte %zu is 0x%02x, sent 0x%02x", what, i,
			    (unsigned char)in[i], (unsigned char)out[i]);
	close(fd);
	free(in);
}

static void
halfclose(uint64_t seed)
{
	static const char small[] = "hello, half-closed world\r\n";
	size_t big = MAX_MSG + 17;
	char *buf = malloc(big);

	if (buf == NULL)
		failx("out of memory");
	halfclose_case(small, sizeof(small) - 1, "small message");
	/* Big enough that much of it is still in flight when our FIN is sent:
	 * the server must echo the rest after seeing EOF. */
	rnd_fill(&seed, buf, big);
	halfclose_case(buf, big, "256 KiB message");
	free(buf);
	passed("%zu and %zu bytes echoed exactly, then EOF, after our "
	    "shutdown(SHUT_WR)", sizeof(small) - 1, big);
}

/* -- discard -------------------------------------------------------------- */

static void
discard(uint64_t total)
{
	static char chunk[1 << 20];
	int64_t start = now_ms(), deadline = start + 30000;
	uint64_t sent = 0;
	char c;
	ssize_t r;
	short rev;
	int fd;

	memset(chunk, 'd', sizeof(chunk));
	fd = tcp_connect();
	while (sent < total) {
		rev = wait_fd(fd, POLLIN | POLLOUT, deadline);
		if (rev == 0)
			failx("timed out after %llu of %llu bytes: the server "
			    "stopped reading", (unsigned long long)sent,
			    (unsigned long long)total);
		if (rev & (POLLIN | POLLERR | POLLHUP)) {
			r = recv(fd, &c, 1, 0);
			if (r > 0)
				failx("the server sent data back (0x%02x) after"
				    " %llu bytes", (unsigned char)c,
				    (unsigned long long)sent);
			if (r == 0)
				failx("the server closed the connection after "
				    "%llu of %llu bytes", (unsigned long long)sent,
				    (unsigned long long)total);
			if (errno != EAGAIN && errno != EINTR)
				failx("after %llu of %llu bytes: %s",
				    (unsigned long long)sent,
				    (unsigned long long)total, strerror(errno));
		}
		if (rev & POLLOUT) {
			size_t n = sizeof(chunk);

			if (total - sent < n)
				n = (size_t)(total - sent);
			r = send(fd, chunk, n, MSG_NOSIGNAL);
			if (r > 0)
				sent += (uint64_t)r;
			else if (r == -1 && errno != EAGAIN && errno != EINTR)
				failx("send after %llu of %llu bytes: %s",
				    (unsigned long long)sent,
				    (unsigned long long)total, strerror(errno));
		}
	}
	/* The server sees our EOF only after reading every byte before it,
	 * so its FIN (not a reset) proves it took them all. */
	if (shutdown(fd, SHUT_WR) == -1)
		failx("shutdown: %s", strerror(errno));
	expect_eof(fd, 10000, "after all data and our EOF, expected the "
	    "server's EOF");
	close(fd);
	passed("%llu bytes accepted in %lld ms, nothing sent back, closed "
	    "cleanly after our EOF", (unsigned long long)total,
	    (long long)(now_ms() - start));
}

/* -- chargen -------------------------------------------------------------- */

/* Byte p of an RFC 864 stream: line p/74 holds ring characters
 * (line + 0 .. line + 71) mod 95 of ' '..'~', then CR LF.  Line 0 starts at
 * ring character 0, as the RFC says ("on the first line (line 0) put the
 * characters numbered 0 through 71"). */
static char
chargen_byte(uint64_t p)
{
	uint64_t line = p / 74, col = p % 74;

	if (col == 72)
		return '\r';
	if (col == 73)
		return '\n';
	return (char)(' ' + (int)((line + col) % 95));
}

static void
chargen_verify(const char *buf, size_t len, uint64_t base)
{
	size_t i;

	for (i = 0; i < len; i++) {
		uint64_t p = base + i;
		char want = chargen_byte(p), got = buf[i];

		if (got == want)
			continue;
		if (p == 0 && got >= ' ' && got <= '~')
			failx("line 0 starts with '%c' (ring offset %d), "
			    "RFC 864 line 0 starts at ring offset 0 (' ')",
			    buf[0], buf[0] - ' ');
		failx("byte %llu (line %llu, column %llu): got 0x%02x '%c', "
		    "expected 0x%02x '%c'", (unsigned long long)p,
		    (unsigned long long)(p / 74), (unsigned long long)(p % 74),
		    (unsigned char)got, got >= ' ' && got <= '~' ? got : '.',
		    (unsigned char)want, want >= ' ' && want <= '~' ? want : '.');
	}
}

static void
chargen(size_t total)
{
	static const char junk[] = "input that chargen must ignore\r\n";
	char buf[65536];
	uint64_t got = 0;
	int64_t start = now_ms(), deadline = start + 10000;
	enum end how;
	int err, fd;
	size_t n;

	fd = tcp_connect();
	/* Input is thrown away and must not disturb the stream. */
	must_write(fd, junk, sizeof(junk) - 1, deadline, "input");
	while (got < total) {
		size_t want = total - got < sizeof(buf) ? total - got :
		    sizeof(buf);

		n = read_until(fd, buf, want, deadline, &how, &err);
		chargen_verify(buf, n, got);
		got += n;
		if (how != END_FULL)
			failx("after %llu of %zu bytes: %s",
			    (unsigned long long)got, total, end_text(how, err));
		if (got < 2000)
			must_write(fd, junk, sizeof(junk) - 1, deadline,
			    "input");
	}
	/* The rude abort RFC 864 warns about: close with data unread. */
	close(fd);
	/* The server survived it and starts the next client at line 0. */
	fd = tcp_connect();
	n = read_until(fd, buf, 74 * 3, deadline, &how, &err);
	chargen_verify(buf, n, 0);
	if (how != END_FULL)
		failx("second connection: %zu of 222 bytes, then %s", n,
		    end_text(how, err));
	close(fd);
	passed("%zu bytes (%zu lines) follow the RFC 864 ring exactly; a new "
	    "connection after an abort starts at line 0", total, total / 74);
}

/* -- daytime and time ----------------------------------------------------- */

/* A daytime line in ctime's format (what concurd writes) or RFC 822's.
 * Returns the time it says, or -1 if it is neither. */
static time_t
parse_daytime(const char *s)
{
	struct tm tm, chk;
	const char *end;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%a %b %e %H:%M:%S %Y", &tm);
	if (end != NULL && *end == '\0') {
		int wday = tm.tm_wday;

		tm.tm_isdst = -1;
		t = mktime(&tm);
		if (t == (time_t)-1 || localtime_r(&t, &chk) == NULL ||
		    chk.tm_wday != wday)
			return -1;	/* a weekday that is not that date's */
		return t;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%a, %d %b %Y %H:%M:%S %z", &tm);
	if (end != NULL && *end == '\0') {
		long off = tm.tm_gmtoff;

		t = timegm(&tm);
		return t == (time_t)-1 ? -1 : t - off;
	}
	return -1;
}

/* One line: printable characters, then CRLF or LF, nothing after. */
static void
check_daytime_text(char *buf, size_t n, const char *what)
{
	time_t t, now;
	size_t i, len;

	if (n == 0 || buf[n - 1] != '\n')
		failx("%s: not one line ending in a newline: %zu bytes", what, n);
	len = n - 1;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++)
		if (buf[i] < ' ' || buf[i] > '~')
			failx("%s: byte %zu is 0x%02x, not a printable character"
			    " (more than one line?)", what, i,
			    (unsigned char)buf[i]);
	buf[len] = '\0';
	t = parse_daytime(buf);
	if (t == (time_t)-1)
		failx("%s: '%s' is not a date in \"%%a %%b %%e %%H:%%M:%%S "
		    "%%Y\" (ctime) or RFC 822 format", what, buf);
	now = time(NULL);
	if (t < now - 5 || t > now + 5)
		failx("%s: '%s' is %lld s away from our clock", what, buf,
		    (long long)(t - now));
}

static void
daytime(void)
{
	char buf[512];
	enum end how;
	int err, fd;
	size_t n;

	fd = tcp_connect();
	n = read_until(fd, buf, sizeof(buf) - 1, now_ms() + 5000, &how, &err);
	if (how != END_EOF)
		failx("expected one line then EOF; got %zu bytes then %s", n,
		    how == END_FULL ? "more" : end_text(how, err));
	check_daytime_text(buf, n, "daytime");
	close(fd);
	passed("'%s', within 5 s of our clock, then EOF", buf);
}

#define SECS_1900_1970	2208988800ULL

static void
check_time_bytes(const unsigned char *b, const char *what)
{
	uint32_t v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
	uint32_t now = (uint32_t)((uint64_t)time(NULL) + SECS_1900_1970);
	int32_t d = (int32_t)(v - now);

	if (d < -5 || d > 5)
		failx("%s: %u seconds since 1900 is %d s away from our clock "
		    "(%u); byte order?", what, v, d, now);
}

static void
time_check(void)
{
	unsigned char buf[16];
	enum end how;
	int err, fd;
	size_t n;

	fd = tcp_connect();
	n = read_until(fd, (char *)buf, sizeof(buf), now_ms() + 5000, &how,
	    &err);
	if (how != END_EOF)
		failx("expected 4 bytes then EOF; got %zu bytes then %s", n,
		    how == END_FULL ? "more" : end_text(how, err));
	if (n != 4)
		failx("got %zu bytes, expected 4", n);
	check_time_bytes(buf, "time");
	close(fd);
	passed("4 bytes, big-endian seconds since 1900 within 5 s, then EOF");
}

/* -- nbytes --------------------------------------------------------------- */

/* Read exactly n reply bytes and check byte k is nbytes_pattern(stream_off
 * + k): replies continue the pattern across a connection (service.h).  A
 * reply that instead restarts the pattern is named as such, since that is
 * the likely way to get it wrong. */
static void
nbytes_reply(int fd, size_t n, uint64_t stream_off, const char *what)
{
	static char buf[16384 * 2];
	enum end how;
	size_t got, k;
	int err;

	got = read_until(fd, buf, n, now_ms() + 5000, &how, &err);
	if (how != END_FULL)
		failx("%s: %zu of %zu reply bytes, then %s", what, got, n,
		    end_text(how, err));
	for (k = 0; k < n; k++) {
		if (buf[k] == nbytes_pattern(stream_off + k))
			continue;
		if (k == 0 && stream_off % 95 != 0 &&
		    buf[0] == nbytes_pattern(0))
			failx("%s: reply restarts the pattern at 0; service.h: "
			    "replies continue it, this one from offset %llu",
			    what, (unsigned long long)(stream_off % 95));
		failx("%s: reply byte %zu is 0x%02x, expected "
		    "nbytes_pattern(%llu) = 0x%02x", what, k,
		    (unsigned char)buf[k], (unsigned long long)(stream_off + k),
		    (unsigned char)nbytes_pattern(stream_off + k));
	}
}

static void
nbytes_bad(const char *req, size_t len, const char *what)
{
	int fd = tcp_connect();

	/* The server may hang up before it has read it all: not an error. */
	(void)write_until(fd, req, len, now_ms() + 3000);
	(void)expect_closed_silently(fd, 3000, what);
	close(fd);
}

/* Valid requests on one connection, each answered exactly. */
static void
nbytes_valid(void)
{
	static const size_t sizes[] = { 1, 4000, 16384 };
	uint64_t off = 0;
	char req[32], what[64];
	size_t i;
	int fd;

	fd = tcp_connect();
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(req, sizeof(req), "%zu\n", sizes[i]);
		snprintf(what, sizeof(what), "request \"%zu\\n\"", sizes[i]);
		must_write(fd, req, strlen(req), now_ms() + 3000, what);
		nbytes_reply(fd, sizes[i], off, what);
		off += sizes[i];
	}
	/* Two requests in one segment: two replies, in order. */
	must_write(fd, "3\n5\n", 4, now_ms() + 3000, "pipelined requests");
	nbytes_reply(fd, 3, off, "pipelined \"3\\n\"");
	nbytes_reply(fd, 5, off + 3, "pipelined \"5\\n\"");
	off += 8;
	/* One request split over two segments. */
	must_write(fd, "12", 2, now_ms() + 3000, "split request");
	expect_silence(fd, 50, false, "after half a request (\"12\")");
	must_write(fd, "34\n", 3, now_ms() + 3000, "split request");
	nbytes_reply(fd, 1234, off, "split request \"12\" \"34\\n\"");
	/* Nothing more than asked for, and EOF after ours. */
	if (shutdown(fd, SHUT_WR) == -1)
		failx("shutdown: %s", strerror(errno));
	expect_eof(fd, 3000, "after the last reply and our EOF");
	close(fd);
}

/* Each malformed request, on a fresh connection, is closed unanswered. */
static void
nbytes_malformed(void)
{
	static char longline[65536];

	nbytes_bad("0\n", 2, "\"0\\n\"");
	nbytes_bad("16385\n", 6, "\"16385\\n\"");
	nbytes_bad("abc\n", 4, "\"abc\\n\"");
	nbytes_bad("-5\n", 3, "\"-5\\n\"");
	nbytes_bad("\n", 1, "empty line");
	memset(longline, '1', sizeof(longline));
	nbytes_bad(longline, sizeof(longline),
	    "64 KiB line of digits without a newline");
}

#define NBYTES_VALID_OK	"replies of 1, 4000, 16384, pipelined 3+5 and split " \
	"1234 bytes exact"
#define NBYTES_BAD_OK	"0, 16385, abc, -5, empty and overlong requests " \
	"closed without a reply"

/* -- UDP ------------------------------------------------------------------ */

static int
udp_socket(void)
{
	int fd = net_connect(host, port, SOCK_DGRAM, CONNECT_MS, NET_NONBLOCK);

	if (fd < 0)
		failx("UDP socket to %s port %s: %s", host, port,
		    net_strerror(fd));
	return fd;
}

/* Send a datagram and wait up to ms for one reply; -1 if none came.  An
 * ICMP port-unreachable (nobody listening) is a failure, not silence. */
static ssize_t
udp_ask(int fd, const char *msg, size_t len, char *reply, size_t cap, int ms)
{
	int64_t deadline = now_ms() + ms;
	ssize_t r;

	if (send(fd, msg, len, 0) == -1)
		failx("UDP send: %s", strerror(errno));
	while (wait_fd(fd, POLLIN, deadline) != 0) {
		r = recv(fd, reply, cap, 0);
		if (r >= 0)
			return r;
		if (errno == EAGAIN || errno == EINTR)
			continue;
		failx("UDP receive: %s%s", strerror(errno),
		    errno == ECONNREFUSED ? " (nobody listening?)" : "");
	}
	return -1;
}

/* Loopback does not lose datagrams, but a busy machine may delay one. */
static ssize_t
udp_ask_retry(int fd, const char *msg, size_t len, char *reply, size_t cap)
{
	ssize_t r;
	int i;

	for (i = 0; i < 3; i++) {
		r = udp_ask(fd, msg, len, reply, cap, 1000);
		if (r >= 0)
			return r;
	}
	failx("no reply to 3 datagrams, 1 s apart");
}

static void
udp(const char *svc, uint64_t seed)
{
	char msg[1400], reply[2048];
	ssize_t r;
	size_t i;
	int fd = udp_socket(), k;

	if (strcmp(svc, "echo") == 0) {
		static const size_t lens[] = { 1, 200, 1400 };

		for (k = 0; k < 3; k++) {
			rnd_fill(&seed, msg, lens[k]);
			r = udp_ask_retry(fd, msg, lens[k], reply, sizeof(reply));
			if ((size_t)r != lens[k] || memcmp(msg, reply, lens[k]))
				failx("echo of a %zu-byte datagram: %zd bytes, %s",
				    lens[k], r, (size_t)r == lens[k] ?
				    "different content" : "wrong length");
		}
		passed("datagrams of 1, 200 and 1400 bytes echoed exactly");
	} else if (strcmp(svc, "discard") == 0) {
		r = udp_ask(fd, "discard me", 10, reply, sizeof(reply), 300);
		if (r >= 0)
			failx("discard answered a datagram with %zd bytes", r);
		passed("no reply within 300 ms");
	} else if (strcmp(svc, "chargen") == 0) {
		for (k = 0; k < 3; k++) {
			r = udp_ask_retry(fd, "x", 1, reply, sizeof(reply));
			if (r > 512)
				failx("chargen datagram of %zd characters, RFC 864"
				    " says at most 512", r);
			for (i = 0; i < (size_t)r; i++)
				if ((reply[i] < ' ' || reply[i] > '~') &&
				    reply[i] != '\r' && reply[i] != '\n')
					failx("chargen datagram byte %zu is 0x%02x"
					    ", not a printable character", i,
					    (unsigned char)reply[i]);
		}
		passed("3 replies of 0..512 printable characters");
	} else if (strcmp(svc, "daytime") == 0) {
		r = udp_ask_retry(fd, "", 0, reply, sizeof(reply) - 1);
		check_daytime_text(reply, (size_t)r, "daytime datagram");
		passed("'%s'", reply);
	} else if (strcmp(svc, "time") == 0) {
		r = udp_ask_retry(fd, "", 0, reply, sizeof(reply));
		if (r != 4)
			failx("time datagram of %zd bytes, expected 4", r);
		check_time_bytes((unsigned char *)reply, "time datagram");
		passed("4 bytes, seconds since 1900 within 5 s");
	} else {
		fprintf(stderr, "conform: udp: no check for service '%s'\n", svc);
		exit(EX_USAGE);
	}
	close(fd);
}

/* A datagram from a privileged source port (where echo, chargen and the
 * like live) must go unanswered, or two servers could ping-pong forever
 * (CVE-1999-0103).  A control datagram from an ordinary port is answered,
 * so the silence is the guard's and not a dead server's. */
static void
udp_guard(void)
{
	struct addrinfo hints, *res;
	struct sockaddr_storage ss;
	char reply[64];
	int fd, e, p, lowport = -1;
	ssize_t r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	e = getaddrinfo(host, port, &hints, &res);
	if (e != 0)
		failx("%s: %s", host, gai_strerror(e));
	fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		failx("socket: %s", strerror(errno));
	for (p = 1023; p >= 600 && lowport < 0; p--) {
		memset(&ss, 0, sizeof(ss));
		if (res->ai_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)p);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)p);
		}
		if (bind(fd, (struct sockaddr *)&ss, res->ai_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) == 0)
			lowport = p;
		else if (errno == EACCES || errno == EPERM) {
			fprintf(stderr, "conform: udp-guard: cannot bind a port "
			    "below 1024 here: %s\n", strerror(errno));
			exit(EX_SKIP);
		} else if (errno != EADDRINUSE)
			failx("bind port %d: %s", p, strerror(errno));
	}
	if (lowport < 0)
		failx("no free UDP port in 600..1023");
	if (connect(fd, res->ai_addr, res->ai_addrlen) == -1)
		failx("connect: %s", strerror(errno));
	freeaddrinfo(res);
	r = udp_ask(fd, "reflect me", 10, reply, sizeof(reply), 500);
	if (r >= 0)
		failx("a datagram from source port %d was answered (%zd bytes)",
		    lowport, r);
	close(fd);
	fd = udp_socket();
	r = udp_ask_retry(fd, "control", 7, reply, sizeof(reply));
	if (r != 7 || memcmp(reply, "control", 7) != 0)
		failx("control datagram from an ordinary port: wrong echo");
	close(fd);
	passed("datagram from port %d dropped; one from an ordinary port "
	    "echoed", lowport);
}

/* -- hold and refused (for the cleanup test) ------------------------------ */

/* Open idle and busy echo connections and keep them until stdin closes;
 * then every one must be closed by the server within 10 s.  The first
 * `served` idle connections must echo a line first (so they are known to be
 * in the server's hands); busy ones send until the kernel's buffers on both
 * sides are full, so the server is stuck mid-transfer.  With msg (bytes,
 * below 64 KiB) busy ones send msg-byte messages in rounds, one per
 * connection per round, with small receive buffers: each message reaches
 * the server alone, so it is stuck on a small send, not a bulk one. */
static int
small_window_connect(void)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int fd, e, small = 4096;

	if ((e = getaddrinfo(host, port, &hints, &ai)) != 0)
		failx("%s port %s: %s", host, port, gai_strerror(e));
	/* Before connect, so the window offered is small from the start. */
	if ((fd = socket(ai->ai_family, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == -1 ||
	    connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
		failx("connect to %s port %s: %s", host, port, strerror(errno));
	freeaddrinfo(ai);
	conns++;
	return fd;
}

static void
push_rounds(const int *fd, uint64_t *pushed, int from, int n, size_t msg)
{
	static char chunk[65536];
	int64_t stop = now_ms() + 5000;
	int i, left = n - from;
	bool *stuck = calloc((size_t)n, sizeof(*stuck));
	ssize_t r;

	if (stuck == NULL)
		failx("out of memory");
	memset(chunk, 'm', sizeof(chunk));
	while (left > 0 && now_ms() < stop) {
		for (i = from; i < n; i++) {
			if (stuck[i])
				continue;
			r = send(fd[i], chunk, msg, MSG_NOSIGNAL);
			if (r > 0)
				pushed[i] += (uint64_t)r;
			if (r == -1 && errno != EAGAIN && errno != EINTR)
				failx("busy connection %d: %s", i,
				    strerror(errno));
			if ((r >= 0 && (size_t)r < msg) ||
			    (r == -1 && errno == EAGAIN)) {
				stuck[i] = true;
				left--;
			}
		}
		(void)poll(NULL, 0, 2);
	}
	free(stuck);
}

static void
hold(int nidle, int nbusy, int served, int life_s, size_t msg, size_t first)
{
	static char chunk[65536];
	int n = nidle + nbusy, i, open;
	int *fd = calloc((size_t)n, sizeof(*fd));
	uint64_t *pushed = calloc((size_t)n, sizeof(*pushed));
	int64_t deadline;
	char buf[65536];
	ssize_t r;

	if (fd == NULL || pushed == NULL)
		failx("out of memory");
	memset(chunk, 'b', sizeof(chunk));
	for (i = 0; i < n; i++) {
		fd[i] = i >= nidle && msg > 0 ? small_window_connect() :
		    tcp_connect();
		if (i < nidle && i < served && first > 0)
			echo_sized(fd[i], first, 5000, "idle connection");
		else if (i < nidle && i < served)
			echo_once(fd[i], "idle\n", 5000, "idle connection");
	}
	/* Push until the buffers stay full for 50 ms (the server stopped
	 * reading), or 500 ms at most. */
	if (msg > 0)
		push_rounds(fd, pushed, nidle, n, msg);
	for (i = nidle; i < n && msg == 0; i++) {
		int64_t stop = now_ms() + 500;

		while (now_ms() < stop &&
		    (wait_fd(fd[i], POLLOUT, now_ms() + 50) & POLLOUT)) {
			r = send(fd[i], chunk, sizeof(chunk), MSG_NOSIGNAL);
			if (r > 0)
				pushed[i] += (uint64_t)r;
			else if (r == -1 && errno != EAGAIN && errno != EINTR)
				failx("busy connection %d: %s", i, strerror(errno));
		}
	}
	printf("ready idle=%d busy=%d", nidle, nbusy);
	for (i = nidle; i < n; i++)
		printf(" %llu", (unsigned long long)pushed[i]);
	printf("\n");
	fflush(stdout);
	/* Wait for the test to say the server is gone (stdin EOF). */
	deadline = now_ms() + life_s * 1000;
	while (wait_fd(0, POLLIN, deadline) != 0 && read(0, buf, sizeof(buf)) > 0)
		;
	deadline = now_ms() + 10000;
	for (open = n; open > 0;) {
		open = 0;
		for (i = 0; i < n; i++) {
			if (fd[i] < 0)
				continue;
			r = recv(fd[i], buf, sizeof(buf), 0);
			if (r == 0 || (r == -1 && errno != EAGAIN &&
			    errno != EINTR)) {
				close(fd[i]);
				fd[i] = -1;
			} else {
				open++;
			}
		}
		if (open > 0 && now_ms() >= deadline)
			failx("%d of %d connections still open 10 s after the "
			    "server was told to stop", open, n);
		if (open > 0)
			(void)poll(NULL, 0, 20);
	}
	passed("%d idle and %d busy connections all closed by the server",
	    nidle, nbusy);
	free(fd);
	free(pushed);
}

static void
refused(void)
{
	int fd = net_connect(host, port, SOCK_STREAM, 2000, 0);

	if (fd >= 0)
		failx("a connection to %s port %s was accepted", host, port);
	if (fd != -ECONNREFUSED)
		failx("connect: %s (expected 'connection refused')",
		    net_strerror(fd));
	passed("connection refused");
}

/* -- main ----------------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: conform CHECK HOST PORT [options]\n"
	    "  echo-many HOST PORT [--clients N] [--messages N] [--seed N]\n"
	    "            [--timeout S] [--serial]\n"
	    "  halfclose HOST PORT       discard HOST PORT [--bytes N]\n"
	    "  chargen HOST PORT [--bytes N]   daytime HOST PORT\n"
	    "  time HOST PORT            nbytes HOST PORT\n"
	    "  nbytes-valid HOST PORT    nbytes-malformed HOST PORT\n"
	    "  udp HOST PORT SERVICE     udp-guard HOST PORT\n"
	    "  hold HOST PORT [--idle N] [--busy N] [--served N] [--life S]\n"
	    "       [--msg BYTES] [--first BYTES]\n"
	    "  refused HOST PORT\n"
	    "exit: 0 conforms, 1 does not (reason on stderr), 64 usage,\n"
	    "      77 cannot be checked here\n");
	exit(EX_USAGE);
}

static uint64_t
num_arg(char **argv, int *i, int argc, uint64_t min, uint64_t max)
{
	uint64_t v;

	if (*i + 1 >= argc) {
		fprintf(stderr, "conform: %s needs a value\n", argv[*i]);
		usage();
	}
	(*i)++;
	if (parse_size(argv[*i], max, &v) == -1 || v < min) {
		fprintf(stderr, "conform: %s: bad value '%s'\n", argv[*i - 1],
		    argv[*i]);
		usage();
	}
	return v;
}

int
main(int argc, char **argv)
{
	uint64_t clients = 64, msgs = 4, seed = 1, timeout = 20;
	uint64_t bytes = 0, idle = 3, busy = 3, served = 1000, life = 60;
	uint64_t msg = 0, first = 0;
	bool serial = false;
	const char *svc = NULL;
	int i;

	if (argc < 4)
		usage();
	check = argv[1];
	host = argv[2];
	port = argv[3];
	i = 4;
	if (strcmp(check, "udp") == 0) {
		if (argc < 5)
			usage();
		svc = argv[i++];
	}
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--clients") == 0)
			clients = num_arg(argv, &i, argc, 1, 1000);
		else if (strcmp(argv[i], "--messages") == 0)
			msgs = num_arg(argv, &i, argc, 1, 1000);
		else if (strcmp(argv[i], "--seed") == 0)
			seed = num_arg(argv, &i, argc, 0, UINT64_MAX);
		else if (strcmp(argv[i], "--timeout") == 0)
			timeout = num_arg(argv, &i, argc, 1, 600);
		else if (strcmp(argv[i], "--bytes") == 0)
			bytes = num_arg(argv, &i, argc, 1, UINT64_MAX);
		else if (strcmp(argv[i], "--idle") == 0)
			idle = num_arg(argv, &i, argc, 0, 1000);
		else if (strcmp(argv[i], "--busy") == 0)
			busy = num_arg(argv, &i, argc, 0, 1000);
		else if (strcmp(argv[i], "--served") == 0)
			served = num_arg(argv, &i, argc, 0, 1000);
		else if (strcmp(argv[i], "--first") == 0)
			first = num_arg(argv, &i, argc, 1, 1 << 20);
		else if (strcmp(argv[i], "--msg") == 0)
			msg = num_arg(argv, &i, argc, 1, 65535);
		else if (strcmp(argv[i], "--life") == 0)
			life = num_arg(argv, &i, argc, 1, 3600);
		else if (strcmp(argv[i], "--serial") == 0)
			serial = true;
		else
			usage();
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	/* The last line of defence: each check bounds its own waits well
	 * below this. */
	alarm((unsigned)(strcmp(check, "hold") == 0 ? life + 30 : timeout + 60));

	if (strcmp(check, "echo-many") == 0) {
		if (serial)
			echo_serial(500);
		else
			echo_many((int)clients, (int)msgs, seed, (int)timeout);
	} else if (strcmp(check, "halfclose") == 0)
		halfclose(seed);
	else if (strcmp(check, "discard") == 0)
		discard(bytes ? bytes : 64ULL << 20);
	else if (strcmp(check, "chargen") == 0)
		chargen(bytes ? (size_t)bytes : 100000);
	else if (strcmp(check, "daytime") == 0)
		daytime();
	else if (strcmp(check, "time") == 0)
		time_check();
	else if (strcmp(check, "nbytes") == 0) {
		nbytes_malformed();
		nbytes_valid();
		passed(NBYTES_VALID_OK "; " NBYTES_BAD_OK);
	} else if (strcmp(check, "nbytes-valid") == 0) {
		nbytes_valid();
		passed(NBYTES_VALID_OK);
	} else if (strcmp(check, "nbytes-malformed") == 0) {
		nbytes_malformed();
		passed(NBYTES_BAD_OK);
	}
	else if (strcmp(check, "udp") == 0)
		udp(svc, seed);
	else if (strcmp(check, "udp-guard") == 0)
		udp_guard();
	else if (strcmp(check, "hold") == 0)
		hold((int)idle, (int)busy, (int)served, (int)life,
		    (size_t)msg, (size_t)first);
	else if (strcmp(check, "refused") == 0)
		refused();
	else
		usage();
	return EX_OK;
}
