/*
 * rel_soak: stream random data through an echo server, byte-exact.
 *
 *   rel_soak HOST PORT --bytes N [--conns K] [--seed S] [--timeout S]
 *
 * N bytes in all (k, M, G suffixes), split over K connections (default 4)
 * that run at once.  Each connection has a writer thread, which sends its
 * seeded pseudo-random stream in writes of random sizes (1 B .. 256 KiB)
 * and half-closes at the end, and a reader thread, which regenerates the
 * same stream on its own and compares every byte it receives, then expects
 * EOF.  A wrong byte (its offset is said), a missing or extra byte, a reset
 * or a stall of --timeout seconds (default 30) fails.
 * Prints the seed and the throughput.  Exit 0 ok, 1 failed, 64 usage.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "net.h"
#include "parse.h"

#define BLOCK	(1 << 20)	/* the stream is generated a block at a time */
#define MAXCONN	64

struct stream {
	pthread_t wr, rd;
	int fd, idx;
	uint64_t seed, total;
	uint64_t sent, verified;
	int failed;
};

static int timeout_s = 30;
static _Atomic int failures;

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* The next block of a stream: BLOCK bytes, 8 at a time. */
static void
gen_block(uint64_t *rs, unsigned char *b)
{
	size_t i;

	for (i = 0; i < BLOCK; i += 8) {
		uint64_t v = rnd(rs);

		memcpy(b + i, &v, 8);
	}
}

static void sfail(struct stream *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sfail(struct stream *s, const char *fmt, ...)
{
	va_list ap;

	if (s->failed++ == 0) {
		fprintf(stderr, "rel_soak: FAIL: connection %d: ", s->idx);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
		atomic_fetch_add(&failures, 1);
	}
}

static void *
writer(void *arg)
{
	struct stream *s = arg;
	unsigned char *b = malloc(BLOCK);
	uint64_t rs = s->seed, cs = s->seed ^ 0x9e3779b97f4a7c15ULL;

	if (b == NULL) {
		sfail(s, "out of memory");
		return NULL;
	}
	while (s->sent < s->total && !s->failed) {
		size_t off = 0, blen = s->total - s->sent < BLOCK ?
		    (size_t)(s->total - s->sent) : BLOCK;

		gen_block(&rs, b);
		while (off < blen) {
			size_t want = 1 + (size_t)(rnd(&cs) % (256 * 1024));
			ssize_t n;

			if (want > blen - off)
				want = blen - off;
			n = send(s->fd, b + off, want, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				sfail(s, "send at offset %llu: %s",
				    (unsigned long long)s->sent,
				    errno == EAGAIN ? "stalled" : strerror(errno));
				free(b);
				return NULL;
			}
			off += (size_t)n;
			s->sent += (uint64_t)n;
		}
	}
	shutdown(s->fd, SHUT_WR);
	free(b);
	return NULL;
}

static void *
reader(void *arg)
{
	struct stream *s = arg;
	unsigned char *want = malloc(BLOCK), *in = malloc(256 * 1024);
	uint64_t rs = s->seed;
	size_t woff = BLOCK;	/* consumed of the current expected block */

	if (want == NULL || in == NULL) {
		sfail(s, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t n = recv(s->fd, in, 256 * 1024, 0);
		size_t i = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			sfail(s, "recv at offset %llu: %s",
			    (unsigned long long)s->verified,
			    errno == EAGAIN ? "stalled" : strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (s->verified + (uint64_t)n > s->total) {
			sfail(s, "%llu bytes expected, more came",
			    (unsigned long long)s->total);
			goto out;
		}
		while (i < (size_t)n) {
			size_t k = (size_t)n - i;

			if (woff == BLOCK) {
				gen_block(&rs, want);
				woff = 0;
			}
			if (k > BLOCK - woff)
				k = BLOCK - woff;
			if (memcmp(in + i, want + woff, k) != 0) {
				size_t j = 0;

				while (in[i + j] == want[woff + j])
					j++;
				sfail(s, "wrong byte at offset %llu",
				    (unsigned long long)(s->verified + j));
				goto out;
			}
			i += k;
			woff += k;
			s->verified += k;
		}
	}
	if (s->verified != s->total)
		sfail(s, "EOF after %llu of %llu bytes",
		    (unsigned long long)s->verified,
		    (unsigned long long)s->total);
out:
	free(want);
	free(in);
	return NULL;
}

static void
usage(void)
{
	fprintf(stderr, "usage: rel_soak HOST PORT --bytes N [--conns K] "
	    "[--seed S] [--timeout S]\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	static struct stream st[MAXCONN];
	uint64_t total = 0, seed = 0, v, done = 0;
	struct timeval tv;
	struct timespec t0, t1;
	int i, k = 4;
	bool have_seed = false;
	double secs;

	if (argc < 3)
		usage();
	for (i = 3; i < argc; i += 2) {
		const char *o = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;

		if (a == NULL)
			usage();
		if (strcmp(o, "--bytes") == 0) {
			if (parse_size(a, UINT64_MAX / 2, &total) != 0 || total == 0)
				usage();
		} else if (strcmp(o, "--conns") == 0) {
			if (parse_uint(a, 1, MAXCONN, &v) != 0)
				usage();
			k = (int)v;
		} else if (strcmp(o, "--seed") == 0) {
			if (parse_uint(a, 0, UINT64_MAX, &seed) != 0)
				usage();
			have_seed = true;
		} else if (strcmp(o, "--timeout") == 0) {
			if (parse_uint(a, 1, 3600, &v) != 0)
				usage();
			timeout_s = (int)v;
		} else
			usage();
	}
	if (total == 0)
		usage();
	if (!have_seed)
		seed = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
	printf("rel_soak: seed=%llu\n", (unsigned long long)seed);
	fflush(stdout);
	signal(SIGPIPE, SIG_IGN);
	tv.tv_sec = timeout_s;
	tv.tv_usec = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < k; i++) {
		int fd = net_connect(argv[1], argv[2], SOCK_STREAM,
		    timeout_s * 1000, 0);

		if (fd < 0) {
			fprintf(stderr, "rel_soak: connect: %s\n", net_strerror(fd));
			return 1;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		st[i].fd = fd;
		st[i].idx = i;
		st[i].seed = (seed + (uint64_t)i * 0x9e3779b97f4a7c15ULL) | 1;
		st[i].total = total / (uint64_t)k + (i == 0 ? total % (uint64_t)k : 0);
		if ((errno = pthread_create(&st[i].wr, NULL, writer, &st[i])) ||
		    (errno = pthread_create(&st[i].rd, NULL, reader, &st[i]))) {
			perror("rel_soak: pthread_create");
			return 1;
		}
	}
	for (i = 0; i < k; i++) {
		pthread_join(st[i].wr, NULL);
		pthread_join(st[i].rd, NULL);
		close(st[i].fd);
		done += st[i].verified;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("rel_soak: %llu of %llu bytes echoed byte-exact over %d "
	    "connection(s) in %.1f s (%.0f MiB/s)\n", (unsigned long long)done,
	    (unsigned long long)total, k, secs, (double)done / 1048576 / secs);
	if (failures || done != total) {
		printf("rel_soak: FAILED (seed %llu)\n", (unsigned long long)seed);
		return 1;
	}
	printf("rel_soak: ok\n");
	return 0;
}
