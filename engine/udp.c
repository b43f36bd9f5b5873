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
#include <netinet/in.h>
#include <poll.h>
#include <string.h>

#include "accept.h"
#include "log.h"
#include "net.h"
#include "server.h"
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

int
udp_run(struct server *srv)
{
	static char in[DGRAM_MAX], out[DGRAM_MAX];
	struct pollfd pfd[2];

	pfd[0].fd = sig_fd();
	pfd[0].events = POLLIN;
	pfd[1].fd = srv->lfd;
	pfd[1].events = POLLIN;
	atomic_store(&srv->stats->nslots, 0);
	while (!server_stopping()) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ssize_t n, r;

		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[0].revents)
			(void)server_take_signals(srv);
		if (!pfd[1].revents)
			continue;
		n = recvfrom(srv->lfd, in, sizeof(in), MSG_DONTWAIT,
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
		r = srv->svc->datagram(srv->svc_conf, in, (size_t)n, out, sizeof(out));
		atomic_fetch_add(&srv->stats->bytes_in, (uint64_t)n);
		atomic_fetch_add(&srv->stats->served, 1);
		if (r < 0)
			continue;
		if (sendto(srv->lfd, out, (size_t)r, MSG_DONTWAIT | MSG_NOSIGNAL,
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
