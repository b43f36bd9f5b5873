/*
 * idle: is a connection that did no I/O for --idle-timeout idle, or is
 * its output still on its way?
 *
 * The event loops time a connection out when it has been through no read
 * and no write for --idle-timeout.  On a slow link (64 kbit/s) a server
 * that writes faster than the link carries fills its socket buffer and
 * then waits: the kernel keeps sending, the peer keeps acknowledging, but
 * the loop hears nothing until much of the buffer has drained -- longer
 * than the timeout, for a big buffer on a slow link.  Such a connection is
 * moving, and must not be cut.  So before a loop cuts a connection it asks
 * the kernel (TCP_INFO): if some of our output is not acknowledged yet and
 * the peer has acknowledged more bytes since the last look, it is moving,
 * and is looked at again after another --idle-timeout.  A peer that reads
 * nothing (a zero window) acknowledges nothing: it is cut, after one
 * timeout more at most (the first look counts what was acknowledged before
 * the window closed).  The blocking driver asks the same when its send
 * timeout (SO_SNDTIMEO) runs out: a blocked sender is woken only once
 * much of its buffer is free, which can take longer than the timeout.
 */
#ifndef CONCUR_IDLE_H
#define CONCUR_IDLE_H

#include <stdbool.h>
#include <stdint.h>

/* fd's output is still being acknowledged: true, and *mark (the
 * connection's, zero to start) set to what is acknowledged now. */
bool idle_moving(int fd, uint64_t *mark);

#endif
