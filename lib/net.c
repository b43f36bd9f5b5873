/*
 * net: one getaddrinfo loop for servers, one for clients, thin helpers.
 *
 * Names are resolved here and nowhere else.  Service names work where
 * /etc/services exists; the handful of services concurd itself speaks are
 * also known without it, because minimal systems ship no netbase.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"

const char *
net_strerror(int code)
{
	if (NET_IS_EAI(code))
		return gai_strerror(code + NET_EAI_BASE);
	return strerror(-code);
}

static const struct {
	const char *name;
	int port;
} known_services[] = {
	{ "echo", 7 }, { "discard", 9 }, { "daytime", 13 },
	{ "chargen", 19 }, { "time", 37 },
};

int
net_parse_port(const char *port, int socktype)
{
	struct servent *se;
	char *end;
	long v;
	size_t i;

	if (port == NULL || *port == '\0')
		return -EINVAL;
	if (*port >= '0' && *port <= '9') {
		errno = 0;
		v = strtol(port, &end, 10);
		if (errno != 0 || *end != '\0' || v < 0 || v > 65535)
			return -EINVAL;
		return (int)v;
	}
	se = getservbyname(port, socktype == SOCK_DGRAM ? "udp" : "tcp");
	if (se != NULL)
		return ntohs((uint16_t)se->s_port);
	for (i = 0; i < sizeof(known_services) / sizeof(known_services[0]); i++)
		if (strcmp(port, known_services[i].name) == 0)
			return known_services[i].port;
	return NET_EAI(EAI_SERVICE);
}

static bool
is_wildcard(const char *host)
{
	return host == NULL || *host == '\0' || strcmp(host, "*") == 0;
}

static int
resolve(const char *host, int port, int socktype, bool passive,
    struct addrinfo **res)
{
	struct addrinfo hints;
	char portstr[8];
	int e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = socktype;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : AI_ADDRCONFIG);
	snprintf(portstr, sizeof(portstr), "%d", port);
	e = getaddrinfo(host, portstr, &hints, res);
	if (e == EAI_SYSTEM)
		return -errno;
	return e == 0 ? 0 : NET_EAI(e);
}

/* socket + options + bind + listen for one address; -errno on failure. */
static int
listen_one(int family, const struct sockaddr *sa, socklen_t salen,
    int socktype, int backlog, unsigned flags, bool dualstack)
{
	int type = socktype | SOCK_CLOEXEC;
	int fd, on = 1, off = 0, err;

	if (flags & NET_NONBLOCK)
		type |= SOCK_NONBLOCK;
	fd = socket(family, type, 0);
	if (fd == -1)
		return -errno;
	if (socktype == SOCK_STREAM &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	if ((flags & NET_REUSEPORT) &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
	if (family == AF_INET6 && dualstack &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == -1)
		goto fail;
	if (bind(fd, sa, salen) == -1)
		goto fail;
	if (socktype == SOCK_STREAM && listen(fd, backlog) == -1)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	return -err;
}

int
net_listen(const char *host, const char *port, int socktype, int backlog,
    unsigned flags)
{
	struct addrinfo *res, *ai;
	int portnum, fd, e;

	portnum = net_parse_port(port, socktype);
	if (portnum < 0)
		return portnum;
	if (backlog <= 0)
		backlog = SOMAXCONN;
	if (is_wildcard(host)) {
		struct sockaddr_in6 s6;
		struct sockaddr_in s4;

		memset(&s6, 0, sizeof(s6));
		s6.sin6_family = AF_INET6;
		s6.sin6_addr = in6addr_any;
		s6.sin6_port = htons((uint16_t)portnum);
		fd = listen_one(AF_INET6, (struct sockaddr *)&s6, sizeof(s6),
		    socktype, backlog, flags, true);
		if (fd != -EAFNOSUPPORT)
			return fd;
		memset(&s4, 0, sizeof(s4));
		s4.sin_family = AF_INET;
		s4.sin_addr.s_addr = htonl(INADDR_ANY);
		s4.sin_port = htons((uint16_t)portnum);
		return listen_one(AF_INET, (struct sockaddr *)&s4, sizeof(s4),
		    socktype, backlog, flags, false);
	}
	e = resolve(host, portnum, socktype, true, &res);
	if (e < 0)
		return e;
	fd = -EADDRNOTAVAIL;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = listen_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen,
		    socktype, backlog, flags, false);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	return fd;
}

/* Non-blocking connect bounded by timeout_ms; -errno on failure. */
static int
connect_one(const struct addrinfo *ai, int timeout_ms, unsigned flags)
{
	struct pollfd pfd;
	socklen_t len;
	int fd, err, r;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol);
	if (fd == -1)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		goto done;
	if (errno != EINPROGRESS && errno != EINTR)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do
		r = poll(&pfd, 1, timeout_ms > 0 ? timeout_ms : -1);
	while (r == -1 && errno == EINTR);	/* bounded by the next try */
	if (r == -1)
		goto fail;
	if (r == 0) {
		errno = ETIMEDOUT;
		goto fail;
	}
	len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		goto fail;
	if (err != 0) {
		errno = err;
		goto fail;
	}
done:
	if (!(flags & NET_NONBLOCK) && fd_set_nonblock(fd, false) == -1)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	return -err;
}

int
net_connect(const char *host, const char *port, int socktype, int timeout_ms,
    unsigned flags)
{
	struct addrinfo *res, *ai;
	int portnum, fd, e;

	portnum = net_parse_port(port, socktype);
	if (portnum < 0)
		return portnum;
	if (is_wildcard(host))
		host = "localhost";
	e = resolve(host, portnum, socktype, false, &res);
	if (e < 0)
		return e;
	fd = -EADDRNOTAVAIL;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = connect_one(ai, timeout_ms, flags);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	return fd;
}

const char *
net_ntop(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a;
	int family = sa->sa_family;

	if (family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		a = &s6->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			a = &s6->sin6_addr.s6_addr[12];
			family = AF_INET;
		}
	} else if (family == AF_INET) {
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else {
		snprintf(buf, len, "(family %d)", family);
		return buf;
	}
	if (inet_ntop(family, a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

int
net_sa_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	return -EAFNOSUPPORT;
}

static int
name_of(int (*fn)(int, struct sockaddr *, socklen_t *), int fd, char *buf,
    size_t len, int *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (fn(fd, (struct sockaddr *)&ss, &sl) == -1)
		return -errno;
	if (buf != NULL)
		net_ntop((struct sockaddr *)&ss, buf, len);
	if (port != NULL)
		*port = net_sa_port((struct sockaddr *)&ss);
	return 0;
}

int
net_local_addr(int fd, char *buf, size_t len, int *port)
{
	return name_of(getsockname, fd, buf, len, port);
}

int
net_peer_addr(int fd, char *buf, size_t len, int *port)
{
	return name_of(getpeername, fd, buf, len, port);
}

int
net_local_port(int fd)
{
	int port = 0, e;

	e = net_local_addr(fd, NULL, 0, &port);
	return e < 0 ? e : port;
}

int
net_set_nodelay(int fd, bool on)
{
	int v = on;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) == -1 ?
	    -errno : 0;
}

int
net_set_linger0(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == -1 ?
	    -errno : 0;
}

int
net_listen_like(int fd, int backlog, unsigned flags)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int type, v6only = 0;
	socklen_t tl = sizeof(type), vl = sizeof(v6only);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == -1)
		return -errno;
	if (ss.ss_family == AF_INET6 &&
	    getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &vl) == -1)
		return -errno;
	return listen_one(ss.ss_family, (struct sockaddr *)&ss, sl, type,
	    backlog > 0 ? backlog : SOMAXCONN, flags | NET_REUSEPORT,
	    ss.ss_family == AF_INET6 && !v6only);
}

/* One byte of data travels with the descriptor: a message with no data
 * would not be delivered on a stream socket. */
union fd_msg {
	struct cmsghdr h;
	char buf[CMSG_SPACE(sizeof(int))];
};

int
net_send_fd(int sock, int fd)
{
	union fd_msg cm;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *c;
	char b = 1;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = &b;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == 1)
		return 0;
	if (n >= 0)
		errno = EIO;
	return -1;
}

int
net_recv_fd(int sock, int *fd)
{
	union fd_msg cm;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *c;
	char b;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = &b;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return (int)n;
	*fd = -1;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	if (*fd == -1) {
		errno = EBADMSG;
		return -1;
	}
	return 1;
}
