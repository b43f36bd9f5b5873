/*
 * rel_hostile: attack an echo server on purpose, and check it came through.
 *
 *   rel_hostile HOST PORT [--seed N] [--secs S] [--hostile N] [--normal N]
 *               [--huge MIB] [--pid PID] [--settle S] [--mem-slack MIB]
 *               [--timeout S]
 *
 * --hostile threads each pick, from a seeded generator, one misbehaviour
 * after another for --secs seconds: reset mid-transfer (SO_LINGER 0),
 * half-close, send and never read, read one byte a second, connect and say
 * nothing, 1-byte writes, huge writes, close while the server writes, reset
 * right after connecting.  All along, --normal threads hold ordinary
 * sessions (a few messages of random sizes, random write splits) and verify
 * every echo byte-exact; any wrong byte, early EOF, reset or stall (longer
 * than --timeout) of a normal session is a failure.  Hostile clients that
 * read verify what they read too (a prefix of what they sent).
 *
 * Afterwards one more normal session checks the server still accepts.  With
 * --pid, the server's /proc is compared with a baseline taken before the
 * attack (rel_proc.h): within --settle seconds it must be back to at most
 * its descriptors, threads and children, have no zombie, and its memory
 * (PSS of it and its children) at most baseline + --mem-slack MiB + 25%.
 *
 * The seed is printed first; --seed N replays the same choices (timing
 * aside).  Exit 0: all good; 1: a failure, said on stderr; 64: usage.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
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
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "net.h"
#include "parse.h"
#include "rel_proc.h"
#define REL_PROG "rel_hostile"
#include "rel_util.h"

#define MAX_THREADS	256

static const char *host, *port;
static int secs = 5, nhostile = 16, nnormal = 4, huge_mib = 16;
static int settle_s = 15, mem_slack_mib = 16, timeout_s = 30;
static pid_t server_pid;
static uint64_t seed;
static int64_t t_end;			/* hostile phase ends (ms) */
static _Atomic uint64_t n_sessions, n_messages, n_bytes;

enum action {
	A_RESET_MID, A_HALFCLOSE, A_NEVER_READ, A_SLOW_READ, A_SILENT,
	A_ONE_BYTE, A_HUGE, A_CLOSE_IN_WRITE, A_CONNECT_RST, A_SHUT_NOREAD,
	A_COUNT
};
static const char *const action_name[A_COUNT] = {
	"reset-mid", "halfclose", "never-read", "slow-read", "silent",
	"one-byte", "huge", "close-in-write", "connect-rst", "shut-noread",
};
static _Atomic uint64_t n_action[A_COUNT];

/* xorshift64*: small, seedable, good enough to pick sizes and bytes. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static size_t
rnd_between(uint64_t *s, size_t lo, size_t hi)
{
	return lo + (size_t)(rnd(s) % (hi - lo + 1));
}

static void
rnd_fill(uint64_t *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)(rnd(s) >> 56);
}

/* A non-blocking TCP connection; -1 if none within the timeout. */
static int
tcp_connect(const char *what)
{
	int fd = net_connect(host, port, SOCK_STREAM, timeout_s * 1000,
	    NET_NONBLOCK);

	if (fd < 0) {
		failf("%s: connect: %s", what, net_strerror(fd));
		return -1;
	}
	return fd;
}

/* The echo conversation both kinds of client have, one message at a time.
 * Sends out[0..len) in pieces of at most chunk bytes while reading back;
 * every byte read must equal out[pos].  Stops when stop_after bytes are
 * sent (then does not wait for the echo), when all is echoed, or at the
 * deadline.  read_pace_ms > 0 reads one byte per that many ms.
 * Returns 0 complete, 1 stopped early on purpose, -1 failed (reason in
 * err: "wrong byte", "EOF", an errno text, "stalled"). */
struct pump {
	const char *out;
	size_t len, chunk, stop_after;
	int read_pace_ms;
	bool no_read;
	int64_t deadline;
	size_t sent, got;
	char err[128];
};

static int
pump(int fd, struct pump *p)
{
	static _Thread_local char in[65536];
	int64_t next_read = 0;

	p->sent = p->got = 0;
	p->err[0] = '\0';
	while (p->got < p->len) {
		struct pollfd pfd = { fd, 0, 0 };
		int64_t now = now_ms();
		int wait;
		bool can_read = !p->no_read && (p->read_pace_ms == 0 ||
		    now >= next_read);

		if (p->stop_after && p->sent >= p->stop_after)
			return 1;
		if (p->no_read && p->sent >= p->len)
			return 1;
		if (now >= p->deadline) {
			snprintf(p->err, sizeof(p->err), "stalled (sent %zu of "
			    "%zu, echoed %zu)", p->sent, p->len, p->got);
			return p->no_read || p->read_pace_ms ? 1 : -1;
		}
		if (p->sent < p->len)
			pfd.events |= POLLOUT;
		if (can_read)
			pfd.events |= POLLIN;
		wait = (int)(p->deadline - now);
		if (p->read_pace_ms && !can_read && next_read - now < wait)
			wait = (int)(next_read - now);
		if (wait > 200)
			wait = 200;	/* look at stop_after, deadline */
		if (poll(&pfd, 1, wait) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(p->err, sizeof(p->err), "poll: %s", strerror(errno));
			return -1;
		}
		if (pfd.revents & (POLLERR | POLLHUP) && !can_read &&
		    !(pfd.revents & POLLOUT))
			sleep_ms(wait < 50 ? wait : 50);	/* no spin */
		if (pfd.revents & (POLLIN | POLLERR | POLLHUP) && can_read) {
			size_t want = sizeof(in);
			ssize_t n;

			if (p->read_pace_ms) {
				want = 1;
				next_read = now_ms() + p->read_pace_ms;
			}
			n = recv(fd, in, want, 0);
			if (n == 0) {
				snprintf(p->err, sizeof(p->err), "EOF after %zu "
				    "of %zu echoed bytes", p->got, p->len);
				return -1;
			}
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				snprintf(p->err, sizeof(p->err), "recv after %zu "
				    "of %zu echoed bytes: %s", p->got, p->len,
				    strerror(errno));
				return -1;
			}
			if (n > 0) {
				if ((size_t)n > p->sent - p->got ||
				    memcmp(in, p->out + p->got, (size_t)n) != 0) {
					snprintf(p->err, sizeof(p->err), "wrong "
					    "byte in the echo at offset %zu..%zu",
					    p->got, p->got + (size_t)n);
					p->got += (size_t)n;
					return -2;
				}
				p->got += (size_t)n;
			}
		}
		if (pfd.revents & POLLOUT && p->sent < p->len) {
			size_t want = p->len - p->sent;
			ssize_t n;

			if (want > p->chunk)
				want = p->chunk;
			if (p->stop_after && want > p->stop_after - p->sent)
				want = p->stop_after - p->sent;
			n = send(fd, p->out + p->sent, want, MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				snprintf(p->err, sizeof(p->err), "send after %zu "
				    "of %zu bytes: %s", p->sent, p->len,
				    strerror(errno));
				return -1;
			}
			if (n > 0)
				p->sent += (size_t)n;
		}
	}
	return 0;
}

/* Wait for EOF (after our half-close); bytes must not come. */
static int
expect_eof(int fd, int64_t deadline, char *err, size_t errlen)
{
	char b[512];

	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0) {
			snprintf(err, errlen, "no EOF after the half-close");
			return -1;
		}
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
		n = recv(fd, b, sizeof(b), 0);
		if (n == 0)
			return 0;
		if (n > 0) {
			snprintf(err, errlen, "%zd bytes more than were sent", n);
			return -1;
		}
		if (errno != EAGAIN && errno != EINTR) {
			snprintf(err, errlen, "recv: %s", strerror(errno));
			return -1;
		}
	}
}

static void
close_rst(int fd)
{
	net_set_linger0(fd);
	close(fd);
}

/* One normal session: a few messages, verified; then half-close and EOF. */
static int
normal_session(uint64_t *rs, char *buf, const char *who)
{
	int i, nmsg = (int)rnd_between(rs, 1, 12), fd;
	char err[128];

	if ((fd = tcp_connect(who)) < 0)
		return -1;
	for (i = 0; i < nmsg; i++) {
		struct pump p = { 0 };
		int r;

		p.out = buf;
		p.len = rnd(rs) % 8 == 0 ? rnd_between(rs, 65536, 1 << 20)
		    : rnd_between(rs, 1, 16384);
		p.chunk = rnd(rs) % 4 == 0 ? rnd_between(rs, 1, 64) : p.len;
		p.deadline = now_ms() + timeout_s * 1000;
		rnd_fill(rs, buf, p.len);
		if ((r = pump(fd, &p)) != 0) {
			failf("%s: normal client, message %d of %zu bytes: %s",
			    who, i + 1, p.len, p.err);
			close(fd);
			return -1;
		}
		atomic_fetch_add(&n_messages, 1);
		atomic_fetch_add(&n_bytes, p.len);
	}
	shutdown(fd, SHUT_WR);
	if (expect_eof(fd, now_ms() + timeout_s * 1000, err, sizeof(err))) {
		failf("%s: normal client: %s", who, err);
		close(fd);
		return -1;
	}
	close(fd);
	atomic_fetch_add(&n_sessions, 1);
	return 0;
}

struct worker {
	pthread_t tid;
	int idx;
	uint64_t rs;
	char *buf;
};

static void *
normal_main(void *arg)
{
	struct worker *w = arg;
	char who[32];

	snprintf(who, sizeof(who), "normal-%d", w->idx);
	/* At least one session, then on until the hostile phase ends. */
	do {
		if (normal_session(&w->rs, w->buf, who) != 0)
			break;
	} while (now_ms() < t_end);
	return NULL;
}

/* A hostile client that reads checks what it reads: the server must never
 * send a wrong byte, even to a misbehaving peer. */
static void
hostile_verdict(const char *who, enum action a, int r, struct pump *p,
    bool strict)
{
	if (r == -2 || (strict && r < 0))
		failf("%s: %s: %s", who, action_name[a], p->err);
}

static void
hostile_one(struct worker *w, const char *who)
{
	enum action a = (enum action)(rnd(&w->rs) % A_COUNT);
	struct pump p = { 0 };
	int fd, r;
	char err[128];

	atomic_fetch_add(&n_action[a], 1);
	if ((fd = tcp_connect(who)) < 0)
		return;
	p.out = w->buf;
	p.deadline = now_ms() + timeout_s * 1000;
	p.chunk = SIZE_MAX;
	switch (a) {
	case A_RESET_MID:	/* part of a big message, then RST */
		p.len = rnd_between(&w->rs, 1024, 4 << 20);
		p.stop_after = rnd_between(&w->rs, 1, p.len);
		rnd_fill(&w->rs, w->buf, p.len);
		r = pump(fd, &p);
		hostile_verdict(who, a, r, &p, false);
		close_rst(fd);
		return;
	case A_HALFCLOSE:	/* all of it back, then EOF */
		p.len = rnd_between(&w->rs, 1, 256 << 10);
		rnd_fill(&w->rs, w->buf, p.len);
		r = pump(fd, &p);
		hostile_verdict(who, a, r, &p, true);
		if (r == 0) {
			shutdown(fd, SHUT_WR);
			if (expect_eof(fd, p.deadline, err, sizeof(err)))
				failf("%s: %s: %s", who, action_name[a], err);
		}
		break;
	case A_NEVER_READ:	/* send until the server pushes back */
		p.len = (size_t)huge_mib << 20;
		p.no_read = true;
		p.deadline = now_ms() + (int64_t)rnd_between(&w->rs, 500, 3000);
		rnd_fill(&w->rs, w->buf, 65536);	/* content is not read */
		pump(fd, &p);
		break;
	case A_SLOW_READ:	/* one byte a second */
		p.len = rnd_between(&w->rs, 64 << 10, 1 << 20);
		p.read_pace_ms = 1000;
		p.deadline = now_ms() + (int64_t)rnd_between(&w->rs, 1500, 4000);
		rnd_fill(&w->rs, w->buf, p.len);
		r = pump(fd, &p);
		hostile_verdict(who, a, r, &p, false);
		break;
	case A_SILENT:		/* connect, say nothing */
		sleep_ms((int)rnd_between(&w->rs, 200, 3000));
		if (rnd(&w->rs) & 1) {
			close_rst(fd);
			return;
		}
		break;
	case A_ONE_BYTE:	/* a message in 1-byte writes, verified */
		p.len = rnd_between(&w->rs, 1, 2048);
		p.chunk = 1;
		rnd_fill(&w->rs, w->buf, p.len);
		r = pump(fd, &p);
		hostile_verdict(who, a, r, &p, true);
		break;
	case A_HUGE:		/* megabytes in one send, verified */
		p.len = rnd_between(&w->rs, 1 << 20, (size_t)huge_mib << 20);
		rnd_fill(&w->rs, w->buf, p.len);
		r = pump(fd, &p);
		hostile_verdict(who, a, r, &p, true);
		break;
	case A_CLOSE_IN_WRITE:	/* the server is writing: close under it */
		p.len = rnd_between(&w->rs, 1 << 20, 4 << 20);
		p.no_read = true;
		p.deadline = now_ms() + (int64_t)rnd_between(&w->rs, 100, 1000);
		pump(fd, &p);
		if (rnd(&w->rs) & 1)
			shutdown(fd, SHUT_RDWR);
		break;
	case A_CONNECT_RST:
		close_rst(fd);
		return;
	case A_SHUT_NOREAD:	/* half-close, never read what comes */
		p.len = rnd_between(&w->rs, 1, 512 << 10);
		p.stop_after = p.len;
		rnd_fill(&w->rs, w->buf, 65536);
		p.no_read = true;
		p.deadline = now_ms() + 2000;
		pump(fd, &p);
		shutdown(fd, SHUT_WR);
		sleep_ms((int)rnd_between(&w->rs, 100, 1500));
		break;
	case A_COUNT:
		break;
	}
	close(fd);
}

static void *
hostile_main(void *arg)
{
	struct worker *w = arg;
	char who[32];

	snprintf(who, sizeof(who), "hostile-%d", w->idx);
	while (now_ms() < t_end)
		hostile_one(w, who);
	return NULL;
}

static bool
settled(const struct proc_snap *b, const struct proc_snap *s, long mem_max)
{
	return s->ok && s->fds <= b->fds && s->threads <= b->threads &&
	    s->children <= b->children && s->zombies == 0 &&
	    s->pss_kb <= mem_max;
}

/* Baseline once the server has been still for half a second. */
static struct proc_snap
baseline(void)
{
	struct proc_snap a = proc_snap(server_pid), b;
	int i;

	for (i = 0; i < 20; i++) {
		sleep_ms(500);
		b = proc_snap(server_pid);
		if (b.fds == a.fds && b.threads == a.threads &&
		    b.children == a.children)
			return b;
		a = b;
	}
	return a;
}

static int
check_after(const struct proc_snap *b)
{
	long mem_max = b->pss_kb + mem_slack_mib * 1024L + b->pss_kb / 4;
	int64_t until = now_ms() + settle_s * 1000;
	struct proc_snap s;

	do {
		s = proc_snap(server_pid);
		if (settled(b, &s, mem_max))
			break;
		sleep_ms(200);
	} while (now_ms() < until);
	proc_print(stdout, "rel_hostile: after", &s);
	printf("rel_hostile: memory: pss %+ld KiB, rss %+ld KiB since the "
	    "baseline\n", s.pss_kb - b->pss_kb, s.rss_kb - b->rss_kb);
	if (!s.ok) {
		failf("the server (pid %d) is gone", (int)server_pid);
		return -1;
	}
	if (s.fds > b->fds)
		failf("descriptors: %ld, %ld at the baseline, after %d s",
		    s.fds, b->fds, settle_s);
	if (s.threads > b->threads)
		failf("threads: %ld, %ld at the baseline, after %d s",
		    s.threads, b->threads, settle_s);
	if (s.children > b->children)
		failf("children: %ld, %ld at the baseline, after %d s",
		    s.children, b->children, settle_s);
	if (s.zombies > 0)
		failf("%ld zombie children after %d s", s.zombies, settle_s);
	if (s.pss_kb > mem_max)
		failf("memory: pss %ld KiB, %ld at the baseline (allowed "
		    "%ld)", s.pss_kb, b->pss_kb, mem_max);
	return settled(b, &s, mem_max) ? 0 : -1;
}

static void
on_alarm(int sig)
{
	static const char msg[] = "rel_hostile: FAIL: hung; the alarm ended it\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: rel_hostile HOST PORT [--seed N] [--secs S] "
	    "[--hostile N] [--normal N]\n"
	    "       [--huge MIB] [--pid PID] [--settle S] [--mem-slack MIB] "
	    "[--timeout S]\n");
	exit(64);
}

static int
num(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	uint64_t v;

	if (s == NULL || parse_uint(s, min, max, &v) != 0) {
		fprintf(stderr, "rel_hostile: %s: a number %llu..%llu\n", opt,
		    (unsigned long long)min, (unsigned long long)max);
		exit(64);
	}
	return (int)v;
}

int
main(int argc, char **argv)
{
	static struct worker w[MAX_THREADS];
	struct proc_snap base = { 0 };
	uint64_t rs;
	char *buf;
	int i, nw;
	bool have_seed = false;

	if (argc < 3)
		usage();
	host = argv[1];
	port = argv[2];
	for (i = 3; i < argc; i += 2) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "--seed") == 0) {
			if (v == NULL || parse_uint(v, 0, UINT64_MAX, &seed) != 0)
				usage();
			have_seed = true;
		} else if (strcmp(o, "--secs") == 0)
			secs = num(o, v, 1, 3600);
		else if (strcmp(o, "--hostile") == 0)
			nhostile = num(o, v, 0, MAX_THREADS / 2);
		else if (strcmp(o, "--normal") == 0)
			nnormal = num(o, v, 1, MAX_THREADS / 2);
		else if (strcmp(o, "--huge") == 0)
			huge_mib = num(o, v, 1, 256);
		else if (strcmp(o, "--pid") == 0)
			server_pid = num(o, v, 1, 1 << 22);
		else if (strcmp(o, "--settle") == 0)
			settle_s = num(o, v, 1, 600);
		else if (strcmp(o, "--mem-slack") == 0)
			mem_slack_mib = num(o, v, 0, 4096);
		else if (strcmp(o, "--timeout") == 0)
			timeout_s = num(o, v, 1, 600);
		else
			usage();
	}
	if (!have_seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ((uint64_t)ts.tv_sec * 1000003u) ^ (uint64_t)ts.tv_nsec ^
		    ((uint64_t)getpid() << 32);
	}
	printf("rel_hostile: seed=%llu (replay: --seed %llu)\n",
	    (unsigned long long)seed, (unsigned long long)seed);
	fflush(stdout);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm((unsigned)(secs + settle_s + 4 * timeout_s + 60));

	if (server_pid) {
		base = baseline();
		proc_print(stdout, "rel_hostile: baseline", &base);
	}
	t_end = now_ms() + secs * 1000L;
	rs = seed ? seed : 1;
	nw = nnormal + nhostile;
	for (i = 0; i < nw; i++) {
		size_t cap = i < nnormal ? 1 << 20 : (size_t)huge_mib << 20;

		w[i].idx = i < nnormal ? i : i - nnormal;
		w[i].rs = rnd(&rs) | 1;
		if ((w[i].buf = malloc(cap > 4 << 20 ? cap : 4 << 20)) == NULL) {
			fprintf(stderr, "rel_hostile: out of memory\n");
			return 1;
		}
		errno = pthread_create(&w[i].tid, NULL,
		    i < nnormal ? normal_main : hostile_main, &w[i]);
		if (errno != 0) {
			fprintf(stderr, "rel_hostile: pthread_create: %s\n",
			    strerror(errno));
			return 1;
		}
	}
	for (i = 0; i < nw; i++) {
		pthread_join(w[i].tid, NULL);
		free(w[i].buf);
	}
	printf("rel_hostile: normal: %llu sessions, %llu messages, %llu bytes "
	    "echoed byte-exact\nrel_hostile: hostile:",
	    (unsigned long long)n_sessions, (unsigned long long)n_messages,
	    (unsigned long long)n_bytes);
	for (i = 0; i < A_COUNT; i++)
		printf(" %s=%llu", action_name[i],
		    (unsigned long long)n_action[i]);
	printf("\n");
	fflush(stdout);

	/* Still accepting, still exact. */
	if ((buf = malloc(1 << 20)) == NULL)
		return 1;
	if (normal_session(&rs, buf, "after the attack") == 0)
		printf("rel_hostile: still accepting: a new session echoed "
		    "byte-exact\n");
	free(buf);
	if (server_pid)
		check_after(&base);
	if (failures > 0) {
		printf("rel_hostile: %d failure(s); replay with --seed %llu\n",
		    (int)failures, (unsigned long long)seed);
		return 1;
	}
	printf("rel_hostile: ok\n");
	return 0;
}
