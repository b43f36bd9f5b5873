/*
 * io: read and write that mean it.
 *
 * EINTR is retried here, once, at the lowest layer, so callers never see it.
 * Short transfers are normal: io_write_all() and io_read_full() loop until the
 * whole buffer moved (or EOF).  All return -1 with errno set on error.
 *
 * Code that must notice a signal while blocked (a server that has been asked
 * to stop) cannot use these: it calls read(2)/write(2) itself and looks at its
 * stop flag on EINTR.
 */
#ifndef CONCUR_IO_H
#define CONCUR_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

ssize_t io_read(int fd, void *buf, size_t len);
ssize_t io_write(int fd, const void *buf, size_t len);
/* send(2) with MSG_NOSIGNAL: a reset peer gives EPIPE, never SIGPIPE. */
ssize_t io_send(int fd, const void *buf, size_t len);
/* 0 when all len bytes were written, -1 otherwise. */
int io_write_all(int fd, const void *buf, size_t len);
int io_send_all(int fd, const void *buf, size_t len);
/* Bytes read: len, or fewer if EOF came first; -1 on error. */
ssize_t io_read_full(int fd, void *buf, size_t len);

/* Drop the first done bytes of the n slices of iov, in place: slices sent
 * whole are removed (the rest move to the front), the first one left is
 * trimmed.  Returns how many slices are left.  This is what every short
 * writev/sendmsg is followed by. */
int iov_consume(struct iovec *iov, int n, size_t done);

int fd_set_nonblock(int fd, bool on);
int fd_set_cloexec(int fd, bool on);
/* close(2) that keeps errno (cleanup paths must not clobber the error). */
void fd_close(int fd);

#endif
