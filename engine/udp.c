/*
 * udp: one datagram in, at most one datagram out, one at a time.
 *
 * Every reply goes back to the datagram's source, so a forged source turns
 * a UDP service into a reflector.  The guard drops what no real client
 * sends from: source ports below 1024 (the small services themselves: echo
 * answering chargen answering echo, forever -- CVE-1999-0103), and
 * broadcast, multicast or unspecified source addresses.
 */
#include "udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "accept.h"
#include "log.h"
#include "net.h"
#include "server.h"
#include "side.h"
#include "sig.h"
#include "stop.h"

#define DGRAM_MAX	65536

bool
udp_source_refused(const struct sockaddr *sa)
{
	int port = net_sa_port(sa);
	uint32_t a4;

	if (port < 1024)
		return true;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		if (IN6_IS_ADDR_MULTICAST(a) || IN6_IS_ADDR_UNSPECIFIED(a))
			return true;
		if (!IN6_IS_ADDR_V4MAPPED(a))
			return false;
		memcpy(&a4, &a->s6_addr[12], 4);
	} else if (sa->sa_family == AF_INET) {
		a4 = ((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr;
	} else {
		return true;
	}
	a4 = ntohl(a4);
	return a4 == INADDR_ANY || a4 == INADDR_BROADCAST ||
	    IN_MULTICAST(a4);
}

/*
 * The loop.  In the main thread (udp_run: --udp) it also takes the signals;
 * in a thread of its own (udp_start: a datagram socket systemd passed
 * beside the stream one) it blocks them and ends when wake is readable.
 */
static int
serve(struct server *srv, int fd, const struct service *svc, void *conf,
    int wake)
{
	static char in[DGRAM_MAX], out[DGRAM_MAX];
	struct pollfd pfd[2];

	pfd[0].fd = wake >= 0 ? wake : sig_fd();
	pfd[0].events = POLLIN;
	pfd[1].fd = fd;
	pfd[1].events = POLLIN;
	while (!server_stopping()) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ssize_t n, r;

		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[0].revents) {
			if (wake >= 0)
				break;		/* the server has stopped */
			(void)server_take_signals(srv);
		}
		if (!pfd[1].revents)
			continue;
		n = recvfrom(fd, in, sizeof(in), MSG_DONTWAIT,
		    (struct sockaddr *)&ss, &sl);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNREFUSED)	/* ICMP from an old reply */
				continue;
			log_warn("recvfrom");
			server_pause_ms(ACCEPT_PAUSE_MS);
			continue;
		}
		if (udp_source_refused((struct sockaddr *)&ss)) {
			char addr[NET_ADDRSTRLEN];

			atomic_fetch_add(&srv->stats->udp_dropped, 1);
			log_verbose("dropped a datagram from %s port %d",
			    net_ntop((struct sockaddr *)&ss, addr, sizeof(addr)),
			    net_sa_port((struct sockaddr *)&ss));
			continue;
		}
		r = svc->datagram(conf, in, (size_t)n, out, sizeof(out));
		atomic_fetch_add(&srv->stats->bytes_in, (uint64_t)n);
		atomic_fetch_add(&srv->stats->served, 1);
		if (r < 0)
			continue;
		if (sendto(fd, out, (size_t)r, MSG_DONTWAIT | MSG_NOSIGNAL,
		    (struct sockaddr *)&ss, sl) == -1) {
			/* A full socket buffer drops the reply, as UDP may. */
			if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR)
				log_warn("sendto");
			atomic_fetch_add(&srv->stats->errors, 1);
			continue;
		}
		atomic_fetch_add(&srv->stats->bytes_out, (uint64_t)r);
	}
	return 0;
}

int
udp_run(struct server *srv)
{
	atomic_store(&srv->stats->nslots, 0);
	return serve(srv, srv->lfd, srv->svc, srv->svc_conf, -1);
}

static struct {
	struct server *srv;
	const struct service *svc;
	void *conf;
	int fd;
	struct side th;
} ut = { .th = SIDE_INIT };

static void *
thread_main(void *arg)
{
	int e;

	(void)arg;
	server_block_signals();
	if ((e = serve(ut.srv, ut.fd, ut.svc, ut.conf, side_wake_fd(&ut.th))) < 0) {
		errno = -e;
		log_warn("udp: poll");
		server_request_stop();
	}
	return NULL;
}

int
udp_start(struct server *srv, int fd)
{
	ut.srv = srv;
	ut.svc = srv->svc;	/* the service itself, whatever wraps it later */
	ut.conf = srv->svc_conf;
	ut.fd = fd;
	return side_start(&ut.th, thread_main, NULL);
}

void
udp_stop(void)
{
	side_stop(&ut.th, "udp");
}
