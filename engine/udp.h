/*
 * udp: the iterative datagram server (the lab: "UDP servers are
 * sequential"), with the reflection guard.
 */
#ifndef CONCUR_UDP_H
#define CONCUR_UDP_H

#include <stdbool.h>
#include <sys/socket.h>

struct server;

/* --udp: serve srv->lfd in this (the main) thread until the stop. */
int udp_run(struct server *srv);
/* Beside a stream server: serve the datagram socket fd from a thread of
 * its own (srv's service, as it is now), until udp_stop(), which the main
 * thread calls once the stream server has stopped.  0, or -errno. */
int udp_start(struct server *srv, int fd);
void udp_stop(void);
/* True if a datagram from this source must be dropped: a privileged source
 * port (another small service could answer us back: the echo<->chargen loop
 * of CVE-1999-0103), or a broadcast, multicast or unspecified address. */
bool udp_source_refused(const struct sockaddr *sa);

#endif
