/*
 * net: sockets from names, the getaddrinfo loop written once.
 *
 * Every function here returns a descriptor or a value >= 0 on success and a
 * negative error code on failure: -errno, or NET_EAI(e) when name resolution
 * failed with getaddrinfo's error e.  net_strerror() turns either into text.
 *
 * A server with no host (NULL, "" or "*") gets one IPv6 socket with
 * IPV6_V6ONLY off, so it accepts IPv4 and IPv6 alike (dual stack); where the
 * kernel has no IPv6 it falls back to 0.0.0.0.  Port "0" asks the kernel for
 * any free port; net_local_port() tells which one it gave.
 */
#ifndef CONCUR_NET_H
#define CONCUR_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define NET_NONBLOCK	0x1	/* returned socket is non-blocking */
#define NET_REUSEPORT	0x2	/* SO_REUSEPORT on a listening socket */

#define NET_EAI_BASE	100000
#define NET_EAI(e)	(-(NET_EAI_BASE - (e)))	/* e is a negative EAI_* */
#define NET_IS_EAI(c)	((c) <= -NET_EAI_BASE + 100 && (c) > -NET_EAI_BASE - 100)

/* Big enough for any address net_ntop() writes. */
#define NET_ADDRSTRLEN	INET6_ADDRSTRLEN

const char *net_strerror(int code);

/* A port number from digits or a service name ("echo"), 0..65535. */
int net_parse_port(const char *port, int socktype);

/*
 * Socket options a server sets on its listener.  Linux passes every one of
 * them on to the sockets accept() returns (checked on 6.x: buffer sizes,
 * TCP_NODELAY, SO_KEEPALIVE and its three parameters, SO_LINGER), so they
 * cost nothing per connection; TCP_FASTOPEN, TCP_DEFER_ACCEPT and
 * SO_REUSEADDR are the listener's own.  Zeroed: the kernel's defaults,
 * with SO_REUSEADDR on (stream sockets).
 */
struct net_sockopts {
	int sndbuf, rcvbuf;	/* SO_SNDBUF, SO_RCVBUF; 0: autotuning */
	bool nodelay;		/* TCP_NODELAY on */
	bool keepalive;		/* SO_KEEPALIVE, probing after: */
	int keepidle, keepintvl, keepcnt;	/* 0: the sysctl's */
	bool linger;		/* SO_LINGER {1, linger_s}: close() waits */
	int linger_s;		/* up to linger_s; 0: close() resets */
	int fastopen;		/* TCP_FASTOPEN queue length; 0: off */
	int defer_accept;	/* TCP_DEFER_ACCEPT seconds; 0: off */
	bool no_reuseaddr;	/* SO_REUSEADDR off */
};
/* Set o on fd (before bind or after).  0, or -errno with *what naming the
 * option that failed ("SO_SNDBUF"...). */
int net_set_sockopts(int fd, const struct net_sockopts *o, const char **what);
/* What of those fd has (buffers only when they differ from a fresh
 * socket's, i.e. were set). */
int net_get_sockopts(int fd, struct net_sockopts *o);

int net_listen(const char *host, const char *port, int socktype, int backlog,
    unsigned flags);
/* The same with options (NULL: none; failed, if not NULL, names the
 * option that could not be set). */
int net_listen_opts(const char *host, const char *port, int socktype,
    int backlog, unsigned flags, const struct net_sockopts *o,
    const char **failed);
/* Another listening socket on fd's address and port, with SO_REUSEPORT
 * (fd must have it too) and fd's options (net_get_sockopts): the kernel
 * spreads new connections over them. */
int net_listen_like(int fd, int backlog, unsigned flags);
/*
 * A Unix-domain listener at path.  What is at path already: nothing, or a
 * socket nobody listens on (a server that died: connecting is refused),
 * which is replaced; a socket someone listens on is -EADDRINUSE; anything
 * else (a file, a directory) is -EEXIST and left alone.  The socket file
 * gets u's mode and owner: made owner-only, then chowned, then chmodded,
 * so it is never open to more than u says.  u NULL: the umask's mode, our
 * owner.  *ino (if not NULL): the file's device and inode, for
 * net_unlink_unix().
 */
struct net_unix {
	mode_t mode;		/* 0: as the umask makes it */
	uid_t uid;		/* (uid_t)-1: ours */
	gid_t gid;		/* (gid_t)-1: ours */
};
int net_listen_unix(const char *path, int socktype, int backlog,
    unsigned flags, const struct net_sockopts *o, const struct net_unix *u,
    const char **failed, dev_t *dev, ino_t *ino);
/* Remove path if it is still the socket file net_listen_unix() made (a
 * successor may have replaced it).  0, or -errno. */
int net_unlink_unix(const char *path, dev_t dev, ino_t ino);
/* Connect to a Unix-domain socket (timeout as net_connect). */
int net_connect_unix(const char *path, int socktype, int timeout_ms,
    unsigned flags);

/* Connect to the first address of host that answers within timeout_ms
 * (<= 0: the kernel's own timeout).  Timing out gives -ETIMEDOUT. */
int net_connect(const char *host, const char *port, int socktype,
    int timeout_ms, unsigned flags);

/* Address text without port; an IPv4-mapped IPv6 address prints as IPv4,
 * a Unix-domain one as "unix:PATH" ("unix" if unnamed).  Callers that
 * print a unix path want a buffer bigger than NET_ADDRSTRLEN. */
const char *net_ntop(const struct sockaddr *sa, char *buf, size_t len);
int net_sa_port(const struct sockaddr *sa);
/* Local address of a socket, as text and port. */
int net_local_addr(int fd, char *buf, size_t len, int *port);
int net_local_port(int fd);
int net_peer_addr(int fd, char *buf, size_t len, int *port);

/* Pass a descriptor over a Unix socket (SCM_RIGHTS, beside one byte of
 * data).  send: 0, or -1 with errno (never blocks: EAGAIN if the socket is
 * full).  recv: 1 and *fd (close-on-exec), 0 at EOF, -1 with errno (EBADMSG:
 * a message without a descriptor). */
int net_send_fd(int sock, int fd);
int net_recv_fd(int sock, int *fd);

int net_set_nodelay(int fd, bool on);
/* SO_LINGER {1, 0}: close() sends RST instead of FIN. */
int net_set_linger0(int fd);

#endif
