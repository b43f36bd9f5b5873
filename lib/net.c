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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
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

static int
setint(int fd, int level, int name, int v, const char *label, const char **what)
{
	if (setsockopt(fd, level, name, &v, sizeof(v)) == 0)
		return 0;
	if (what != NULL)
		*what = label;
	return -errno;
}

int
net_set_sockopts(int fd, const struct net_sockopts *o, const char **what)
{
	int e = 0;

	if (o->sndbuf > 0)
		e = setint(fd, SOL_SOCKET, SO_SNDBUF, o->sndbuf, "SO_SNDBUF", what);
	if (e == 0 && o->rcvbuf > 0)
		e = setint(fd, SOL_SOCKET, SO_RCVBUF, o->rcvbuf, "SO_RCVBUF", what);
	if (e == 0 && o->nodelay)
		e = setint(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY", what);
	if (e == 0 && o->keepalive)
		e = setint(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE", what);
	if (e == 0 && o->keepalive && o->keepidle > 0)
		e = setint(fd, IPPROTO_TCP, TCP_KEEPIDLE, o->keepidle,
		    "TCP_KEEPIDLE", what);
	if (e == 0 && o->keepalive && o->keepintvl > 0)
		e = setint(fd, IPPROTO_TCP, TCP_KEEPINTVL, o->keepintvl,
		    "TCP_KEEPINTVL", what);
	if (e == 0 && o->keepalive && o->keepcnt > 0)
		e = setint(fd, IPPROTO_TCP, TCP_KEEPCNT, o->keepcnt,
		    "TCP_KEEPCNT", what);
	if (e == 0 && o->linger) {
		struct linger l = { .l_onoff = 1, .l_linger = o->linger_s };

		if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == -1) {
			e = -errno;
			if (what != NULL)
				*what = "SO_LINGER";
		}
	}
	if (e == 0 && o->fastopen > 0)
		e = setint(fd, IPPROTO_TCP, TCP_FASTOPEN, o->fastopen,
		    "TCP_FASTOPEN", what);
	if (e == 0 && o->defer_accept > 0)
		e = setint(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, o->defer_accept,
		    "TCP_DEFER_ACCEPT", what);
	return e;
}

static int
getint(int fd, int level, int name, int *v)
{
	socklen_t len = sizeof(*v);

	*v = 0;
	return getsockopt(fd, level, name, v, &len) == -1 ? -errno : 0;
}

/* A buffer size fd has: the kernel reports twice what was asked (half is
 * its bookkeeping), and a fresh socket's size means nobody asked. */
static int
buf_of(int fd, int probe, int name)
{
	int v, fresh;

	if (getint(fd, SOL_SOCKET, name, &v) < 0 ||
	    getint(probe, SOL_SOCKET, name, &fresh) < 0 || v == fresh)
		return 0;
	return v / 2;
}

int
net_get_sockopts(int fd, struct net_sockopts *o)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss), ll = sizeof(struct linger);
	struct linger l = { 0, 0 };
	int type, v, probe;
	bool tcp;

	memset(o, 0, sizeof(*o));
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1 ||
	    getint(fd, SOL_SOCKET, SO_TYPE, &type) < 0)
		return -errno;
	tcp = type == SOCK_STREAM &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
	if ((probe = socket(ss.ss_family, type | SOCK_CLOEXEC, 0)) == -1)
		return -errno;
	o->sndbuf = buf_of(fd, probe, SO_SNDBUF);
	o->rcvbuf = buf_of(fd, probe, SO_RCVBUF);
	close(probe);
	if (getint(fd, SOL_SOCKET, SO_REUSEADDR, &v) == 0)
		o->no_reuseaddr = type == SOCK_STREAM && v == 0;
	if (getint(fd, SOL_SOCKET, SO_KEEPALIVE, &v) == 0 && v)
		o->keepalive = true;
	if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &ll) == 0 && l.l_onoff) {
		o->linger = true;
		o->linger_s = l.l_linger;
	}
	if (!tcp)
		return 0;
	if (getint(fd, IPPROTO_TCP, TCP_NODELAY, &v) == 0 && v)
		o->nodelay = true;
	if (o->keepalive) {
		(void)getint(fd, IPPROTO_TCP, TCP_KEEPIDLE, &o->keepidle);
		(void)getint(fd, IPPROTO_TCP, TCP_KEEPINTVL, &o->keepintvl);
		(void)getint(fd, IPPROTO_TCP, TCP_KEEPCNT, &o->keepcnt);
	}
	(void)getint(fd, IPPROTO_TCP, TCP_FASTOPEN, &o->fastopen);
	(void)getint(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &o->defer_accept);
	return 0;
}

/* socket + options + bind + listen for one address; -errno on failure.
 * The options go on before bind: buffer sizes must be known before the
 * handshake to pick the window scale, SO_REUSEADDR before bind. */
static int
listen_one(int family, const struct sockaddr *sa, socklen_t salen,
    int socktype, int backlog, unsigned flags, bool dualstack,
    const struct net_sockopts *o, const char **failed)
{
	int type = socktype | SOCK_CLOEXEC;
	int fd, on = 1, off = 0, err;

	if (flags & NET_NONBLOCK)
		type |= SOCK_NONBLOCK;
	fd = socket(family, type, 0);
	if (fd == -1)
		return -errno;
	if (socktype == SOCK_STREAM && (o == NULL || !o->no_reuseaddr) &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	if ((flags & NET_REUSEPORT) &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
	if (family == AF_INET6 && dualstack &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == -1)
		goto fail;
	if (o != NULL && (err = net_set_sockopts(fd, o, failed)) < 0) {
		errno = -err;
		goto fail;
	}
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
	return net_listen_opts(host, port, socktype, backlog, flags, NULL, NULL);
}

int
net_listen_opts(const char *host, const char *port, int socktype, int backlog,
    unsigned flags, const struct net_sockopts *o, const char **failed)
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
		    socktype, backlog, flags, true, o, failed);
		if (fd != -EAFNOSUPPORT)
			return fd;
		memset(&s4, 0, sizeof(s4));
		s4.sin_family = AF_INET;
		s4.sin_addr.s_addr = htonl(INADDR_ANY);
		s4.sin_port = htons((uint16_t)portnum);
		return listen_one(AF_INET, (struct sockaddr *)&s4, sizeof(s4),
		    socktype, backlog, flags, false, o, failed);
	}
	e = resolve(host, portnum, socktype, true, &res);
	if (e < 0)
		return e;
	fd = -EADDRNOTAVAIL;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = listen_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen,
		    socktype, backlog, flags, false, o, failed);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	return fd;
}

static int
unix_addr(const char *path, struct sockaddr_un *sun, socklen_t *len)
{
	size_t n = strlen(path);

	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

/* Is someone listening at the socket path?  0: nobody (stale), 1: yes,
 * -errno: cannot tell. */
static int
unix_live(const struct sockaddr_un *sun, socklen_t len, int socktype)
{
	int fd, r;

	fd = socket(AF_UNIX, socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sun, len);
	if (r == 0 || errno == EAGAIN || errno == EINPROGRESS)
		r = 1;		/* accepted, or a full backlog: alive */
	else if (errno == ECONNREFUSED || errno == ENOENT)
		r = 0;
	else if (errno == EPROTOTYPE)
		r = 1;		/* a live socket of the other type */
	else
		r = -errno;
	close(fd);
	return r;
}

int
net_listen_unix(const char *path, int socktype, int backlog, unsigned flags,
    const struct net_sockopts *o, const struct net_unix *u,
    const char **failed, dev_t *dev, ino_t *ino)
{
	struct sockaddr_un sun;
	struct stat st;
	socklen_t len;
	mode_t old = 0;
	bool perm = u != NULL && (u->mode != 0 || u->uid != (uid_t)-1 ||
	    u->gid != (gid_t)-1);
	int fd, e, type = socktype | SOCK_CLOEXEC;

	if ((e = unix_addr(path, &sun, &len)) < 0)
		return e;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if ((e = unix_live(&sun, len, socktype)) != 0)
			return e > 0 ? -EADDRINUSE : e;
		if (unlink(path) == -1 && errno != ENOENT)
			return -errno;
	} else if (errno != ENOENT) {
		return -errno;
	}
	if (flags & NET_NONBLOCK)
		type |= SOCK_NONBLOCK;
	if ((fd = socket(AF_UNIX, type, 0)) == -1)
		return -errno;
	if (o != NULL && (e = net_set_sockopts(fd, o, failed)) < 0)
		goto fail;
	/* Owner-only while it is made; the mode and owner asked for after. */
	if (perm)
		old = umask(0177);
	e = bind(fd, (struct sockaddr *)&sun, len) == -1 ? -errno : 0;
	if (perm)
		(void)umask(old);
	if (e < 0)
		goto fail;
	if ((perm && ((u->uid != (uid_t)-1 || u->gid != (gid_t)-1) &&
	    lchown(path, u->uid, u->gid) == -1)) ||
	    (perm && chmod(path, u->mode != 0 ? u->mode : 0666 & ~old) == -1) ||
	    (socktype == SOCK_STREAM && listen(fd, backlog > 0 ? backlog :
	    SOMAXCONN) == -1) || lstat(path, &st) == -1) {
		e = -errno;
		(void)unlink(path);
		goto fail;
	}
	if (dev != NULL)
		*dev = st.st_dev;
	if (ino != NULL)
		*ino = st.st_ino;
	return fd;
fail:
	close(fd);
	return e;
}

int
net_unlink_unix(const char *path, dev_t dev, ino_t ino)
{
	struct stat st;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode) || st.st_dev != dev || st.st_ino != ino)
		return 0;	/* not ours any more */
	return unlink(path) == -1 && errno != ENOENT ? -errno : 0;
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

int
net_connect_unix(const char *path, int socktype, int timeout_ms,
    unsigned flags)
{
	struct addrinfo ai;
	struct sockaddr_un sun;
	socklen_t len;
	int e;

	if ((e = unix_addr(path, &sun, &len)) < 0)
		return e;
	memset(&ai, 0, sizeof(ai));
	ai.ai_family = AF_UNIX;
	ai.ai_socktype = socktype;
	ai.ai_addr = (struct sockaddr *)&sun;
	ai.ai_addrlen = len;
	return connect_one(&ai, timeout_ms, flags);
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
	} else if (family == AF_UNIX) {
		const char *path = ((const struct sockaddr_un *)
		    (const void *)sa)->sun_path;

		/* Unnamed (a client's), abstract (@name), or a path. */
		if (path[0] == '\0' && path[1] != '\0')
			snprintf(buf, len, "unix:@%s", path + 1);
		else
			snprintf(buf, len, path[0] ? "unix:%s" : "unix", path);
		return buf;
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
	struct net_sockopts o;
	socklen_t sl = sizeof(ss);
	int type, v6only = 0, e;
	socklen_t tl = sizeof(type), vl = sizeof(v6only);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == -1)
		return -errno;
	if (ss.ss_family == AF_INET6 &&
	    getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &vl) == -1)
		return -errno;
	if ((e = net_get_sockopts(fd, &o)) < 0)
		return e;
	return listen_one(ss.ss_family, (struct sockaddr *)&ss, sl, type,
	    backlog > 0 ? backlog : SOMAXCONN, flags | NET_REUSEPORT,
	    ss.ss_family == AF_INET6 && !v6only, &o, NULL);
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
