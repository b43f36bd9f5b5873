/*
 * blocking: the blocking driver -- one connection to its end on a blocking
 * socket, in the calling thread or process.  The iterative, fork, thread
 * and pool models run every connection through it.
 */
#ifndef CONCUR_DRIVERS_BLOCKING_H
#define CONCUR_DRIVERS_BLOCKING_H

struct server;

/* Serve fd to its end, then close it.  slot: the worker slot to credit
 * (-1: none).  Admission and accounting are done inside. */
void serve_blocking(struct server *srv, int fd, int slot);

#endif
