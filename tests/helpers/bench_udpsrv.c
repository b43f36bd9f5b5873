/*
 * bench_udpsrv: a UDP echo server that misbehaves on purpose, for testing
 * concurbench's loss, duplicate and reorder accounting.
 *
 *	bench_udpsrv [-l K] [-D K] [-R K] [-f K] [-p PORT]
 *
 * Datagrams are counted from 1, over all clients.
 * -l K	drops every K-th datagram (no answer: lost);
 * -D K	answers every K-th twice (a duplicate);
 * -R K	holds every K-th answer back and sends it after the next one
 *	(reordered);
 * -f K	flips a byte of every K-th answer (a verify error).
 *
 * It listens on 127.0.0.1 (port 0 unless -p), says "listening on 127.0.0.1
 * port N" on stderr, and runs until killed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "parse.h"

static uint64_t
opt(const char *s)
{
	uint64_t v;

	if (parse_uint(s, 1, UINT64_MAX, &v) == -1) {
		fprintf(stderr, "bench_udpsrv: bad count '%s'\n", s);
		exit(64);
	}
	return v;
}

int
main(int argc, char **argv)
{
	static char buf[65536], held[65536];
	struct sockaddr_storage ss, held_ss;
	socklen_t sl, held_sl = 0;
	uint64_t drop = 0, dup = 0, reorder = 0, flip = 0, n = 0;
	size_t held_len = 0;
	const char *port = "0";
	bool holding = false;
	ssize_t r;
	int fd, ch;

	while ((ch = getopt(argc, argv, "l:D:R:f:p:")) != -1) {
		switch (ch) {
		case 'l': drop = opt(optarg); break;
		case 'D': dup = opt(optarg); break;
		case 'R': reorder = opt(optarg); break;
		case 'f': flip = opt(optarg); break;
		case 'p': port = optarg; break;
		default:
			fprintf(stderr, "usage: bench_udpsrv [-l K] [-D K] "
			    "[-R K] [-f K] [-p PORT]\n");
			return 64;
		}
	}
	fd = net_listen("127.0.0.1", port, SOCK_DGRAM, 0, 0);
	if (fd < 0) {
		fprintf(stderr, "bench_udpsrv: %s\n", net_strerror(fd));
		return 71;
	}
	fprintf(stderr, "bench_udpsrv: listening on 127.0.0.1 port %d\n",
	    net_local_port(fd));
	for (;;) {
		sl = sizeof(ss);
		r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss,
		    &sl);
		if (r == -1) {
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			perror("bench_udpsrv: recvfrom");
			return 71;
		}
		n++;
		if (drop && n % drop == 0)
			continue;
		if (flip && n % flip == 0 && r > 20)
			buf[r - 1] ^= 0x55;
		if (reorder && n % reorder == 0 && !holding) {
			memcpy(held, buf, (size_t)r);
			held_len = (size_t)r;
			held_ss = ss;
			held_sl = sl;
			holding = true;
			continue;
		}
		(void)sendto(fd, buf, (size_t)r, 0, (struct sockaddr *)&ss, sl);
		if (dup && n % dup == 0)
			(void)sendto(fd, buf, (size_t)r, 0,
			    (struct sockaddr *)&ss, sl);
		if (holding) {
			(void)sendto(fd, held, held_len, 0,
			    (struct sockaddr *)&held_ss, held_sl);
			holding = false;
		}
	}
}
