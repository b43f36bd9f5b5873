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

int net_listen(const char *host, const char *port, int socktype, int backlog,
    unsigned flags);
/* Another listening socket on fd's address and port, with SO_REUSEPORT
 * (fd must have it too): the kernel spreads new connections over them. */
int net_listen_like(int fd, int backlog, unsigned flags);
/* Connect to the first address of host that answers within timeout_ms
 * (<= 0: the kernel's own timeout).  Timing out gives -ETIMEDOUT. */
int net_connect(const char *host, const char *port, int socktype,
    int timeout_ms, unsigned flags);

/* Address text without port; an IPv4-mapped IPv6 address prints as IPv4. */
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
