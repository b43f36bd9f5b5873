/*
 * udp: the iterative datagram server (the lab: "UDP servers are
 * sequential"), with the reflection guard.
 */
#ifndef CONCUR_UDP_H
#define CONCUR_UDP_H

#include <stdbool.h>
#include <sys/socket.h>

struct server;

int udp_run(struct server *srv);
/* True if a datagram from this source must be dropped: a privileged source
 * port (another small service could answer us back: the echo<->chargen loop
 * of CVE-1999-0103), or a broadcast, multicast or unspecified address. */
bool udp_source_refused(const struct sockaddr *sa);

#endif
