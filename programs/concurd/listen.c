/*
 * listen: concurd's listening socket -- the one systemd passed (socket
 * activation), or one made here on an address and port or a Unix-domain
 * path -- with the socket options the command line asked for.
 *
 * The options go on the listener, before bind where that matters (buffer
 * sizes decide the window scale offered in the handshake; SO_REUSEADDR
 * decides whether bind succeeds next to TIME_WAIT connections).  Linux
 * copies them to every socket accept() returns, so a connection costs no
 * setsockopt (see net.h); the engine sets TCP_NODELAY per connection only
 * where the listener could not carry it.
 */
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "concurd.h"
#include "io.h"
#include "log.h"
#include "net.h"
#include "parse.h"
#include "proxy.h"
#include "server.h"

bool
is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static int
listen_error(int e, const char *where, const char *failed)
{
	if (e == -EACCES && failed == NULL) {
		log_warnx("cannot listen on %s: %s (ports below 1024 need root; "
		    "try -p 8007)", where, net_strerror(e));
		return EX_NOPERM;
	}
	if (failed != NULL)
		log_warnx("cannot listen on %s: %s: %s", where, failed,
		    net_strerror(e));
	else
		log_warnx("cannot listen on %s: %s", where, net_strerror(e));
	if (NET_IS_EAI(e))
		return EX_NOHOST;
	if (e == -EADDRINUSE || e == -EADDRNOTAVAIL)
		return EX_UNAVAILABLE;
	return e == -EINVAL ? EX_USAGE : EX_OSERR;
}

static int
unix_error(int e, const char *path)
{
	switch (e) {
	case -EADDRINUSE:
		log_warnx("cannot listen on unix:%s: a server is listening "
		    "there already", path);
		return EX_UNAVAILABLE;
	case -EEXIST:
		log_warnx("cannot listen on unix:%s: it exists and is not a "
		    "socket; not replacing it", path);
		return EX_CANTCREAT;
	case -ENAMETOOLONG:
		log_warnx("cannot listen on unix:%s: the path is longer than "
		    "a socket address holds (107 bytes)", path);
		return EX_USAGE;
	case -EACCES:
	case -EPERM:
		log_warnx("cannot listen on unix:%s: %s", path, net_strerror(e));
		return EX_NOPERM;
	}
	log_warnx("cannot listen on unix:%s: %s", path, net_strerror(e));
	return e == -ENOENT || e == -ENOTDIR ? EX_CANTCREAT : EX_OSERR;
}

/*
 * systemd socket activation: LISTEN_PID is us, LISTEN_FDS sockets from
 * descriptor 3.  What concurd serves of them at once: one stream socket
 * (TCP, or unix), through the model, and one datagram socket beside it,
 * the same service over UDP, from a thread (a unit with ListenStream=7 and
 * ListenDatagram=7); with --udp, one datagram socket.  Several of a kind
 * (an IPv4 and an IPv6 socket: BindIPv6Only=both makes one of both) are
 * refused: the models serve one listener.  Returns the listener, or -1
 * when not activated; *dgram the datagram socket beside it, or -1.
 */
static int
activation_sockets(int socktype, int *dgram)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int stream = -1, dg = -1, fd, type, acc;
	uint64_t p, n;
	socklen_t len;

	*dgram = -1;
	if (pid == NULL || fds == NULL)
		return -1;
	if (parse_uint(pid, 1, INT32_MAX, &p) == -1 || (pid_t)p != getpid())
		return -1;	/* meant for another process */
	if (parse_uint(fds, 0, 1024, &n) == -1 || n == 0)
		fatalx(EX_USAGE, "LISTEN_FDS='%s': no socket passed", fds);
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	for (fd = 3; fd < 3 + (int)n; fd++) {
		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
			fatal(EX_USAGE, "socket activation: descriptor %d", fd);
		if (fd_set_cloexec(fd, true) == -1)
			fatal(EX_OSERR, "socket activation: fcntl");
		if (type == SOCK_STREAM && stream < 0) {
			len = sizeof(acc);
			if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == -1 ||
			    !acc)
				fatalx(EX_USAGE, "socket activation: descriptor %d "
				    "is not listening (use Accept=no, or --inetd "
				    "with Accept=yes)", fd);
			stream = fd;
		} else if (type == SOCK_DGRAM && dg < 0) {
			dg = fd;
		} else {
			fatalx(EX_USAGE, "socket activation passed %llu sockets, "
			    "two of them %s: concurd serves one stream socket "
			    "and one datagram socket (one socket with "
			    "BindIPv6Only=both serves IPv4 and IPv6)",
			    (unsigned long long)n, type == SOCK_DGRAM ?
			    "datagram" : type == SOCK_STREAM ? "stream" :
			    "of another type");
		}
	}
	if (socktype == SOCK_DGRAM) {
		if (stream >= 0 || dg < 0)
			fatalx(EX_USAGE, "socket activation: --udp serves one "
			    "datagram socket (ListenDatagram=), and %s",
			    dg < 0 ? "none was passed" : "a stream socket was "
			    "passed too");
		return dg;
	}
	if (stream < 0)
		fatalx(EX_USAGE, "socket activation: no stream socket passed "
		    "(ListenStream=; for datagrams only, --udp)");
	*dgram = dg;
	return stream;
}

/* --unix-owner USER[:GROUP] */
static void
unix_owner(const char *s, struct net_unix *u)
{
	char user[256];
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	struct passwd *pw;
	struct group *gr;

	if (n >= sizeof(user))
		fatalx(EX_USAGE, "--unix-owner: '%s' is too long", s);
	memcpy(user, s, n);
	user[n] = '\0';
	if (n > 0) {
		if ((pw = getpwnam(user)) == NULL)
			fatalx(EX_NOUSER, "--unix-owner: no user '%s'", user);
		u->uid = pw->pw_uid;
		if (colon == NULL)
			u->gid = pw->pw_gid;
	}
	if (colon != NULL && colon[1] != '\0') {
		if ((gr = getgrnam(colon + 1)) == NULL)
			fatalx(EX_NOUSER, "--unix-owner: no group '%s'", colon + 1);
		u->gid = gr->gr_gid;
	}
}

void
listener_check(struct cmdline *cl, struct server *srv)
{
	bool tcp;

	if (cl->bind != NULL && strncmp(cl->bind, "unix:", 5) == 0) {
		cl->unix_path = cl->bind + 5;
		if (cl->unix_path[0] == '\0')
			fatalx(EX_USAGE, "-b unix:PATH: no path");
		if (cl->port != NULL)
			fatalx(EX_USAGE, "-p %s: a unix socket has no port",
			    cl->port);
		if (srv->socktype == SOCK_DGRAM)
			fatalx(EX_USAGE, "--udp: not over a unix socket");
		if (srv->reuseport)
			fatalx(EX_USAGE, "--reuseport: not for a unix socket");
		if ((srv->nacl > 0 || srv->per_ip > 0) && srv->proxy == NULL)
			fatalx(EX_USAGE, "%s: a unix socket's clients have no "
			    "address (but with --proxy-protocol, the ones its "
			    "headers name)", srv->nacl > 0 ? "--allow, --deny" :
			    "--per-ip");
		if (srv->proxy != NULL && srv->proxy->nfrom > 0)
			fatalx(EX_USAGE, "--proxy-from: a unix socket's peers "
			    "have no address (--proxy-protocol: a header from "
			    "every one)");
	} else if (cl->unix_mode != NULL || cl->unix_owner != NULL) {
		fatalx(EX_USAGE, "%s: for a unix socket (-b unix:PATH)",
		    cl->unix_mode != NULL ? "--unix-mode" : "--unix-owner");
	}
	if (srv->proxy != NULL && srv->socktype == SOCK_DGRAM)
		fatalx(EX_USAGE, "--proxy-protocol: for stream sockets (TCP or "
		    "unix), not --udp");
	tcp = cl->unix_path == NULL && srv->socktype == SOCK_STREAM;
	if (!tcp && cl->tcp_opt != NULL)
		fatalx(EX_USAGE, "%s: a TCP option (this is a %s socket)",
		    cl->tcp_opt, cl->unix_path != NULL ? "unix" : "UDP");
	/* Nagle off by default: echo and its kin are request/response. */
	srv->nodelay = tcp && !cl->nodelay_off;
	cl->so.nodelay = srv->nodelay;
	/*
	 * An event loop whose client speaks first (or whose proxy sends its
	 * header first) gets TCP_DEFER_ACCEPT by default: the kernel hands a
	 * connection over with its first data, so accepting it and reading
	 * that data take one wake-up and no wait for input.  The least the
	 * kernel takes, 1 s, is how long a client that says nothing waits to
	 * be accepted.  The process and thread models keep the plain accept:
	 * a connection is a process or thread the moment it is made, a silent
	 * one waits in the accept queue (and is reset when the server stops),
	 * and the wake-up saved is small beside a fork or a thread.
	 */
	if (!cl->defer_given)
		srv->defer_accept = tcp && !cl->inetd &&
		    (srv->model->flags & MODEL_LOOPS) &&
		    ((srv->svc->flags & SVC_CLIENT_FIRST) || srv->proxy != NULL) ?
		    1 : 0;
	cl->so.defer_accept = srv->defer_accept;
}

static void
set_where(char *where, size_t len, int fd)
{
	int port, e;

	if ((e = net_local_addr(fd, where, len, &port)) < 0)
		fatalx(EX_OSERR, "getsockname: %s", net_strerror(e));
	if (port >= 0) {
		size_t n = strlen(where);

		snprintf(where + n, len - n, " port %d", port);
	}
}

void
listener_open(struct cmdline *cl, struct server *srv, char *where,
    size_t len)
{
	const char *failed = NULL;
	int e, v = 0;
	socklen_t vl = sizeof(v);

	srv->lfd = activation_sockets(srv->socktype, &cl->udp_fd);
	srv->activated = srv->lfd >= 0;
	if (cl->udp_fd >= 0 && srv->svc->datagram == NULL)
		fatalx(EX_USAGE, "socket activation passed a datagram socket, "
		    "and service %s has no UDP form", srv->svc->name);
	srv->backlog = cl->backlog;
	if (srv->activated && srv->reuseport) {
		log_warnx("--reuseport: ignored for a socket systemd passed");
		srv->reuseport = false;
	}
	if (srv->activated) {
		/* Bound already: SO_REUSEADDR has had its say; so has the
		 * unit's DeferAcceptSec=, unless --defer-accept is given. */
		cl->so.no_reuseaddr = false;
		if (!cl->defer_given)
			cl->so.defer_accept = 0;
		if (getsockopt(srv->lfd, SOL_SOCKET, SO_DOMAIN, &v, &vl) == -1)
			fatal(EX_OSERR, "socket activation: SO_DOMAIN");
		if (v == AF_UNIX) {
			if (cl->tcp_opt != NULL)
				fatalx(EX_USAGE, "%s: a TCP option (systemd "
				    "passed a unix socket)", cl->tcp_opt);
			srv->nodelay = cl->so.nodelay = false;
		}
		if ((e = net_set_sockopts(srv->lfd, &cl->so, &failed)) < 0)
			fatalx(EX_OSERR, "socket activation: %s: %s", failed,
			    net_strerror(e));
		if (!cl->defer_given) {
			/* The drivers read a connection at once if it is
			 * deferred: what did the unit ask for? */
			struct net_sockopts got;

			srv->defer_accept = net_get_sockopts(srv->lfd, &got) == 0 ?
			    got.defer_accept : 0;
		}
		set_where(where, len, srv->lfd);
		if (cl->udp_fd >= 0) {
			struct net_sockopts bufs = { .sndbuf = cl->so.sndbuf,
			    .rcvbuf = cl->so.rcvbuf };

			if ((e = net_set_sockopts(cl->udp_fd, &bufs, &failed)) < 0)
				fatalx(EX_OSERR, "socket activation: %s: %s",
				    failed, net_strerror(e));
			set_where(cl->udp_where, sizeof(cl->udp_where),
			    cl->udp_fd);
		}
	} else if (cl->unix_path != NULL) {
		struct net_unix u = { 0, (uid_t)-1, (gid_t)-1 };
		uint64_t mode;

		if (cl->unix_mode != NULL) {
			char *end;

			errno = 0;
			mode = strtoull(cl->unix_mode, &end, 8);
			if (errno != 0 || *end != '\0' || end == cl->unix_mode ||
			    mode == 0 || mode > 0777)
				fatalx(EX_USAGE, "--unix-mode: '%s' is not an "
				    "octal mode from 1 to 0777 (e.g. 0660)",
				    cl->unix_mode);
			u.mode = (mode_t)mode;
		}
		if (cl->unix_owner != NULL)
			unix_owner(cl->unix_owner, &u);
		srv->lfd = net_listen_unix(cl->unix_path, srv->socktype,
		    cl->backlog, 0, &cl->so, &u, &failed, &cl->unix_dev,
		    &cl->unix_ino);
		if (srv->lfd < 0)
			exit(failed != NULL ? listen_error(srv->lfd, cl->bind,
			    failed) : unix_error(srv->lfd, cl->unix_path));
		snprintf(where, len, "unix:%s", cl->unix_path);
	} else {
		char what[300];

		srv->lfd = net_listen_opts(cl->bind, cl->port, srv->socktype,
		    cl->backlog, srv->reuseport ? NET_REUSEPORT : 0, &cl->so,
		    &failed);
		snprintf(what, sizeof(what), "%s port %s",
		    cl->bind != NULL ? cl->bind : "*", cl->port);
		if (srv->lfd < 0)
			exit(listen_error(srv->lfd, what, failed));
		set_where(where, len, srv->lfd);
	}
	/* TCP_NODELAY on the listener reaches every accepted socket: one
	 * setsockopt per server instead of one per connection. */
	srv->nodelay_inherited = srv->nodelay;
}

void
listener_close(struct cmdline *cl, struct server *srv)
{
	int e;

	if (srv->lfd >= 0)
		close(srv->lfd);
	srv->lfd = -1;
	if (cl->udp_fd >= 0)
		close(cl->udp_fd);
	cl->udp_fd = -1;
	if (cl->unix_path != NULL && !srv->activated &&
	    (e = net_unlink_unix(cl->unix_path, cl->unix_dev, cl->unix_ino)) < 0)
		log_warnx("unix:%s: cannot remove it: %s", cl->unix_path,
		    net_strerror(e));
}
