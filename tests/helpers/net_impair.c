/*
 * net_impair: a bad network between two interfaces, in user space, for
 * kernels without netem (CONFIG_NET_SCH_NETEM).
 *
 *   net_impair IF1 IF2 [--loss PCT] [--dup PCT] [--reorder PCT]
 *              [--delay MS] [--jitter MS] [--rate KBIT] [--slow KBIT]
 *              [--limit N] [--seed N] [--log FILE]
 *
 * Run in a network namespace of its own that holds IF1 and IF2 (the inner
 * ends of two veth pairs, offloads off), it bridges them: every Ethernet
 * frame that arrives on one leaves by the other (AF_PACKET sockets,
 * promiscuous), and IP frames suffer what netem would do to them on the
 * way, each direction on its own:
 *   --loss      dropped;
 *   --dup       sent twice (each copy delayed on its own);
 *   --delay, --jitter  held DELAY +- JITTER ms, uniformly (so, as with
 *               netem, jitter alone reorders);
 *   --reorder   sent at once, without the delay (netem's "reorder": it
 *               overtakes those held);
 *   --rate      serialised at KBIT kbit/s after the delay, at most --limit
 *               frames waiting (default 1000), more are dropped;
 *   --slow      SIGUSR1 switches to KBIT kbit/s, SIGUSR2 back to --rate
 *               (the link that drops mid-transfer).
 * Other frames (ARP, neighbour discovery) pass at once.
 *
 * --log FILE: one line per UDP datagram of concurbench's (magic "cbU1")
 * that leaves, in the order they leave: "fwd|rev ID SEQ" (fwd: IF1 to IF2),
 * so a test can tell exactly what concurbench should have counted.
 *
 * SIGTERM or SIGINT: one line of counts per direction on stdout, then exit
 * 0.  Exit 64: usage; 71: a system call failed (said on stderr).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "parse.h"

#define FRAME_MAX	(64 * 1024)
#define QMAX		4096		/* frames held per direction, hard cap */
#define CB_MAGIC	0x31556263u	/* concurbench's UDP header, "cbU1" */

struct frame {
	uint64_t at;			/* send time, us */
	uint64_t order;			/* ties: first come first */
	size_t len;
	unsigned char *data;
};

struct dir {
	const char *name;
	int in, out;			/* sockets */
	struct frame q[QMAX];		/* a min-heap on (at, order) */
	int n;
	uint64_t link_free;		/* the rate's serialisation, us */
	uint64_t seen, dropped, duplicated, reordered, overflow, sent;
};

static double loss_pct, dup_pct, reorder_pct;
static int delay_ms, jitter_ms, rate_kbit, slow_kbit, limit = 1000;
static uint64_t seed = 0x6e65746dULL, order;
static FILE *log_fp;
static volatile sig_atomic_t quit, slow;

static void
die(const char *what)
{
	fprintf(stderr, "net_impair: %s: %s\n", what, strerror(errno));
	exit(71);
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t
rnd(void)
{
	seed ^= seed >> 12;
	seed ^= seed << 25;
	seed ^= seed >> 27;
	return seed * 2685821657736338717ULL;
}

/* True with probability pct percent. */
static bool
chance(double pct)
{
	return pct > 0 && (double)(rnd() >> 11) / 9007199254740992.0 * 100 < pct;
}

static bool
before(const struct frame *a, const struct frame *b)
{
	return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void
heap_push(struct dir *d, struct frame f)
{
	int i = d->n++;

	while (i > 0 && before(&f, &d->q[(i - 1) / 2])) {
		d->q[i] = d->q[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	d->q[i] = f;
}

static struct frame
heap_pop(struct dir *d)
{
	struct frame top = d->q[0], last = d->q[--d->n];
	int i = 0, c;

	while ((c = 2 * i + 1) < d->n) {
		if (c + 1 < d->n && before(&d->q[c + 1], &d->q[c]))
			c++;
		if (!before(&d->q[c], &last))
			break;
		d->q[i] = d->q[c];
		i = c;
	}
	if (d->n > 0)
		d->q[i] = last;
	return top;
}

/* The UDP payload of an IPv4 or IPv6 frame, or NULL. */
static const unsigned char *
udp_payload(const unsigned char *f, size_t len, size_t *plen)
{
	const struct ether_header *eh = (const void *)f;
	size_t off = sizeof(*eh), ihl;

	if (len < off + 40)
		return NULL;
	if (ntohs(eh->ether_type) == ETHERTYPE_IP) {
		const struct ip *ip = (const void *)(f + off);

		ihl = (size_t)ip->ip_hl * 4;
		if (ip->ip_p != IPPROTO_UDP || ihl < 20)
			return NULL;
		off += ihl;
	} else if (ntohs(eh->ether_type) == ETHERTYPE_IPV6) {
		const struct ip6_hdr *ip6 = (const void *)(f + off);

		if (ip6->ip6_nxt != IPPROTO_UDP)
			return NULL;
		off += sizeof(*ip6);
	} else {
		return NULL;
	}
	off += sizeof(struct udphdr);
	if (len < off)
		return NULL;
	*plen = len - off;
	return f + off;
}

static void
log_frame(const struct dir *d, const struct frame *f)
{
	const unsigned char *p;
	uint32_t magic, id;
	uint64_t seq;
	size_t plen;

	if (log_fp == NULL || (p = udp_payload(f->data, f->len, &plen)) == NULL ||
	    plen < 16)
		return;
	memcpy(&magic, p, 4);
	memcpy(&id, p + 4, 4);
	memcpy(&seq, p + 8, 8);
	if (magic == CB_MAGIC)
		fprintf(log_fp, "%s %u %llu\n", d->name, id,
		    (unsigned long long)seq);
}

static void
send_frame(struct dir *d, struct frame *f)
{
	ssize_t w;

	do
		w = send(d->out, f->data, f->len, 0);
	while (w == -1 && errno == EINTR);
	/* A full device queue is a loss on the wire, as on a real link. */
	if (w == (ssize_t)f->len) {
		d->sent++;
		log_frame(d, f);
	} else {
		d->overflow++;
	}
	free(f->data);
}

static bool
impaired(const unsigned char *f, size_t len)
{
	const struct ether_header *eh = (const void *)f;
	uint16_t t;

	if (len < sizeof(*eh))
		return false;
	t = ntohs(eh->ether_type);
	return t == ETHERTYPE_IP || t == ETHERTYPE_IPV6;
}

/* Queue one copy of a frame that arrived at now. */
static void
enqueue(struct dir *d, const unsigned char *buf, size_t len, uint64_t now,
    bool immediate)
{
	struct frame f = { .len = len, .order = order++ };
	int kbit = slow ? slow_kbit : rate_kbit;
	int64_t j;

	if (d->n >= limit || d->n >= QMAX) {
		d->overflow++;
		return;
	}
	f.at = now;
	if (!immediate && delay_ms + jitter_ms > 0) {
		j = jitter_ms > 0 ? (int64_t)(rnd() % (uint64_t)(2 * jitter_ms *
		    1000 + 1)) - jitter_ms * 1000 : 0;
		if ((int64_t)delay_ms * 1000 + j > 0)
			f.at += (uint64_t)((int64_t)delay_ms * 1000 + j);
	}
	if (kbit > 0) {
		if (f.at < d->link_free)
			f.at = d->link_free;
		d->link_free = f.at + (uint64_t)len * 8 * 1000 / (uint64_t)kbit;
	}
	if ((f.data = malloc(len)) == NULL)
		die("malloc");
	memcpy(f.data, buf, len);
	heap_push(d, f);
}

static void
arrive(struct dir *d, const unsigned char *buf, size_t len, uint64_t now)
{
	bool immediate;

	d->seen++;
	if (!impaired(buf, len)) {
		struct frame f = { .at = now, .order = order++, .len = len };

		if ((f.data = malloc(len)) == NULL)
			die("malloc");
		memcpy(f.data, buf, len);
		send_frame(d, &f);
		return;
	}
	if (chance(loss_pct)) {
		d->dropped++;
		return;
	}
	immediate = chance(reorder_pct);
	if (immediate)
		d->reordered++;
	enqueue(d, buf, len, now, immediate);
	if (chance(dup_pct)) {
		d->duplicated++;
		enqueue(d, buf, len, now, false);
	}
}

static int
open_if(const char *name)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
	    .sll_protocol = htons(ETH_P_ALL) };
	struct packet_mreq mr = { .mr_type = PACKET_MR_PROMISC };
	int fd, one = 1;

	if ((sll.sll_ifindex = (int)if_nametoindex(name)) == 0)
		die(name);
	mr.mr_ifindex = sll.sll_ifindex;
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    htons(ETH_P_ALL));
	if (fd == -1)
		die("socket(AF_PACKET)");
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) == -1)
		die("bind");
	if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr,
	    sizeof(mr)) == -1)
		die("PACKET_ADD_MEMBERSHIP");
	/* Our own sends on this interface are not arrivals. */
	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
	    sizeof(one)) == -1)
		die("PACKET_IGNORE_OUTGOING");
	return fd;
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		slow = 1;
	else if (sig == SIGUSR2)
		slow = 0;
	else
		quit = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: net_impair IF1 IF2 [--loss PCT] [--dup PCT] "
	    "[--reorder PCT] [--delay MS] [--jitter MS] [--rate KBIT] "
	    "[--slow KBIT] [--limit N] [--seed N] [--log FILE]\n");
	exit(64);
}

static double
pct(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (*s == '\0' || *end != '\0' || v < 0 || v > 100)
		usage();
	return v;
}

static int
num(const char *s, uint64_t max)
{
	uint64_t v;

	if (parse_uint(s, 0, max, &v) == -1)
		usage();
	return (int)v;
}

static void
parse_args(int argc, char **argv)
{
	int i;

	if (argc < 3)
		usage();
	for (i = 3; i < argc; i++) {
		const char *o = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;

		if (a == NULL)
			usage();
		i++;
		if (strcmp(o, "--loss") == 0)
			loss_pct = pct(a);
		else if (strcmp(o, "--dup") == 0)
			dup_pct = pct(a);
		else if (strcmp(o, "--reorder") == 0)
			reorder_pct = pct(a);
		else if (strcmp(o, "--delay") == 0)
			delay_ms = num(a, 60000);
		else if (strcmp(o, "--jitter") == 0)
			jitter_ms = num(a, 60000);
		else if (strcmp(o, "--rate") == 0)
			rate_kbit = num(a, 100000000);
		else if (strcmp(o, "--slow") == 0)
			slow_kbit = num(a, 100000000);
		else if (strcmp(o, "--limit") == 0)
			limit = num(a, QMAX);
		else if (strcmp(o, "--seed") == 0)
			seed = (uint64_t)num(a, INT32_MAX) * 2654435761u + 1;
		else if (strcmp(o, "--log") == 0) {
			if ((log_fp = fopen(a, "w")) == NULL)
				die(a);
		} else
			usage();
	}
	if (jitter_ms > delay_ms)
		jitter_ms = delay_ms;
}

int
main(int argc, char **argv)
{
	static unsigned char buf[FRAME_MAX];
	struct dir d[2] = { { .name = "fwd" }, { .name = "rev" } };
	struct sigaction sa = { .sa_handler = on_signal };
	int a, b, k;

	parse_args(argc, argv);
	a = open_if(argv[1]);
	b = open_if(argv[2]);
	d[0].in = a;
	d[0].out = b;
	d[1].in = b;
	d[1].out = a;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGUSR1, &sa, NULL) == -1 ||
	    sigaction(SIGUSR2, &sa, NULL) == -1)
		die("sigaction");
	printf("net_impair: %s <-> %s: loss %g%% dup %g%% reorder %g%% delay "
	    "%d +- %d ms rate %d kbit/s (slow %d)\n", argv[1], argv[2], loss_pct,
	    dup_pct, reorder_pct, delay_ms, jitter_ms, rate_kbit, slow_kbit);
	fflush(stdout);
	while (!quit) {
		struct pollfd pfd[2] = { { a, POLLIN, 0 }, { b, POLLIN, 0 } };
		struct timespec ts, *tp = NULL;
		uint64_t now = now_us(), next = UINT64_MAX;

		for (k = 0; k < 2; k++)
			if (d[k].n > 0 && d[k].q[0].at < next)
				next = d[k].q[0].at;
		if (next != UINT64_MAX) {
			uint64_t w = next > now ? next - now : 0;

			ts.tv_sec = (time_t)(w / 1000000);
			ts.tv_nsec = (long)(w % 1000000) * 1000;
			tp = &ts;
		}
		if (ppoll(pfd, 2, tp, NULL) == -1 && errno != EINTR)
			die("ppoll");
		now = now_us();
		for (k = 0; k < 2; k++) {
			int i;

			/* A bounded batch: the other way and the due frames
			 * must not wait behind a flood. */
			for (i = 0; i < 64 && (pfd[k].revents & POLLIN); i++) {
				ssize_t n = recv(d[k].in, buf, sizeof(buf), 0);

				if (n == -1 && (errno == EAGAIN || errno == EINTR))
					break;
				if (n == -1)
					die("recv");
				arrive(&d[k], buf, (size_t)n, now);
			}
		}
		now = now_us();
		for (k = 0; k < 2; k++)
			while (d[k].n > 0 && d[k].q[0].at <= now) {
				struct frame f = heap_pop(&d[k]);

				send_frame(&d[k], &f);
			}
	}
	for (k = 0; k < 2; k++) {
		printf("%s: seen=%llu dropped=%llu duplicated=%llu "
		    "reordered=%llu overflow=%llu sent=%llu held=%d\n",
		    d[k].name, (unsigned long long)d[k].seen,
		    (unsigned long long)d[k].dropped,
		    (unsigned long long)d[k].duplicated,
		    (unsigned long long)d[k].reordered,
		    (unsigned long long)d[k].overflow,
		    (unsigned long long)d[k].sent, d[k].n);
		while (d[k].n > 0)
			free(heap_pop(&d[k]).data);
	}
	if (log_fp != NULL && fclose(log_fp) == EOF)
		die("--log");
	return 0;
}
