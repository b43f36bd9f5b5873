/*
 * proxy_send: a client that begins its connection as a load balancer
 * would, with a PROXY protocol header, for tests/ops-proxy.t.
 *
 *   proxy_send HOST PORT [-v 1|2|local|none] [-s SRC] [-S SPORT]
 *              [-d DST] [-D DPORT] [-T BYTES] [-r TEXT] [-b MS]
 *              [-m DATA] [-k] [-w MS] [-f FROM]
 *
 *   -v   the header: v1 text, v2 binary (PROXY), v2 LOCAL, or none
 *        (default 1)
 *   -s, -S, -d, -D  the client and the address it connected to
 *        (default 203.0.113.7 5000 192.0.2.1 7; IPv6 if SRC has a colon)
 *   -T   v2: a NOOP TLV of BYTES bytes after the addresses
 *   -r   send TEXT (C escapes \r \n) instead of a header
 *   -b   send the header one byte every MS milliseconds
 *   -m   then DATA (C escapes), with the header in one write unless -b
 *   -k   no half-close after sending
 *   -w   wait at most MS for the server's EOF (default 5000)
 *   -f   connect from address FROM
 * HOST may be unix:PATH (PORT is then ignored).  Prints what comes back.
 * Exit 0 at the server's EOF, 2 if the connect failed, 3 on a reset, 4 if
 * MS passed first, 64 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const unsigned char v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static void
usage(void)
{
	fprintf(stderr, "usage: proxy_send HOST PORT [-v 1|2|local|none] "
	    "[-s SRC] [-S SPORT] [-d DST] [-D DPORT] [-T BYTES] [-r TEXT] "
	    "[-b MS] [-m DATA] [-k] [-w MS] [-f FROM]\n");
	exit(64);
}

/* C escapes \r \n \t \\ \xHH in s, in place; its new length. */
static size_t
unescape(char *s)
{
	char *o = s;
	const char *i = s;

	while (*i) {
		if (*i != '\\' || i[1] == '\0') {
			*o++ = *i++;
			continue;
		}
		i++;
		switch (*i) {
		case 'r': *o++ = '\r'; i++; break;
		case 'n': *o++ = '\n'; i++; break;
		case 't': *o++ = '\t'; i++; break;
		case 'x': {
			char hex[3] = { i[1], i[1] ? i[2] : 0, 0 };

			*o++ = (char)strtol(hex, NULL, 16);
			i += 1 + strlen(hex);
			break;
		}
		default: *o++ = *i++; break;
		}
	}
	return (size_t)(o - s);
}

static void
put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* The header into buf; its length. */
static size_t
header(unsigned char *buf, size_t cap, const char *ver, const char *src,
    unsigned sport, const char *dst, unsigned dport, size_t tlv)
{
	int v6 = strchr(src, ':') != NULL, af = v6 ? AF_INET6 : AF_INET;
	size_t alen = v6 ? 36 : 12, n;
	unsigned char *a = buf + 16;

	if (strcmp(ver, "1") == 0) {
		n = (size_t)snprintf((char *)buf, cap, "PROXY %s %s %s %u %u\r\n",
		    v6 ? "TCP6" : "TCP4", src, dst, sport, dport);
		return n;
	}
	if (cap < 16 + alen + 3 + tlv)
		usage();
	memcpy(buf, v2sig, 12);
	if (strcmp(ver, "local") == 0) {
		buf[12] = 0x20;
		buf[13] = 0x00;
		put16(buf + 14, 0);
		return 16;
	}
	buf[12] = 0x21;
	buf[13] = v6 ? 0x21 : 0x11;
	if (inet_pton(af, src, a) != 1 || inet_pton(af, dst, a + alen / 2 - 2) != 1)
		usage();
	put16(a + alen - 4, sport);
	put16(a + alen - 2, dport);
	n = 16 + alen;
	if (tlv > 0) {
		buf[n] = 0x04;	/* PP2_TYPE_NOOP */
		put16(buf + n + 1, (unsigned)tlv);
		memset(buf + n + 3, 'T', tlv);
		n += 3 + tlv;
	}
	put16(buf + 14, (unsigned)(n - 16));
	return n;
}

static int
connect_to(const char *host, const char *port, const char *from)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	int fd;

	if (strncmp(host, "unix:", 5) == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		if (strlen(host + 5) >= sizeof(sun.sun_path))
			usage();
		strcpy(sun.sun_path, host + 5);
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
			return -1;
		return fd;
	}
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd != -1 && from != NULL) {
		struct addrinfo *fr;

		if (getaddrinfo(from, "0", &hints, &fr) != 0 ||
		    bind(fd, fr->ai_addr, fr->ai_addrlen) == -1)
			return -1;
		freeaddrinfo(fr);
	}
	if (fd == -1 || connect(fd, res->ai_addr, res->ai_addrlen) == -1) {
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}

static void
sendall(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = send(fd, c, n, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1) {
			fprintf(stderr, "proxy_send: send: %s\n", strerror(errno));
			exit(errno == ECONNRESET || errno == EPIPE ? 3 : 1);
		}
		c += w;
		n -= (size_t)w;
	}
}

int
main(int argc, char **argv)
{
	const char *ver = "1", *src = "203.0.113.7", *dst = "192.0.2.1";
	const char *from = NULL;
	char *raw = NULL, *data = NULL, buf[4096];
	unsigned char hdr[70000];
	unsigned sport = 5000, dport = 7;
	size_t hlen = 0, dlen = 0, tlv = 0, i;
	int c, fd, byte_ms = 0, wait_ms = 5000, keep = 0;
	struct pollfd pfd;
	ssize_t n;

	if (argc < 3)
		usage();
	optind = 3;
	while ((c = getopt(argc, argv, "v:s:S:d:D:T:r:b:m:kw:f:")) != -1) {
		switch (c) {
		case 'v': ver = optarg; break;
		case 's': src = optarg; break;
		case 'S': sport = (unsigned)atoi(optarg); break;
		case 'd': dst = optarg; break;
		case 'D': dport = (unsigned)atoi(optarg); break;
		case 'T': tlv = (size_t)atol(optarg); break;
		case 'r': raw = optarg; break;
		case 'b': byte_ms = atoi(optarg); break;
		case 'm': data = optarg; break;
		case 'k': keep = 1; break;
		case 'w': wait_ms = atoi(optarg); break;
		case 'f': from = optarg; break;
		default: usage();
		}
	}
	alarm(60);	/* nothing here should take that long */
	if (raw != NULL) {
		hlen = unescape(raw);
		memcpy(hdr, raw, hlen);
	} else if (strcmp(ver, "none") != 0) {
		hlen = header(hdr, sizeof(hdr), ver, src, sport, dst, dport, tlv);
	}
	if (data != NULL)
		dlen = unescape(data);
	if ((fd = connect_to(argv[1], argv[2], from)) == -1) {
		fprintf(stderr, "proxy_send: connect: %s\n", strerror(errno));
		return 2;
	}
	if (byte_ms > 0) {
		struct timespec ts = { byte_ms / 1000, (byte_ms % 1000) * 1000000L };

		for (i = 0; i < hlen; i++) {
			sendall(fd, hdr + i, 1);
			nanosleep(&ts, NULL);
		}
		sendall(fd, data, dlen);
	} else {
		memcpy(hdr + hlen, data != NULL ? data : "", dlen);
		sendall(fd, hdr, hlen + dlen);
	}
	if (!keep)
		shutdown(fd, SHUT_WR);
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		int r = poll(&pfd, 1, wait_ms);

		if (r == 0)
			return 4;
		if (r == -1 && errno == EINTR)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0)
			return 0;
		if (n < 0)
			return errno == ECONNRESET ? 3 : 1;
		fwrite(buf, 1, (size_t)n, stdout);
		fflush(stdout);
	}
}
