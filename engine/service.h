/*
 * service: what is said on a connection, written once for every model.
 *
 * A service is a small state machine that owns no socket.  The model's
 * driver owns the socket; it hands the service the bytes it received and
 * sends the bytes (and file ranges) the service emits.  So the blocking
 * driver (iterative, fork, threads, pools), the readiness driver (select,
 * poll, epoll) and the completion driver (io_uring) all run the same
 * service code.
 *
 * Configuration, once per server, before it starts:
 *   1. conf_size bytes of configuration are zeroed; option() is called for
 *      each of the service's options the user gave (options[] lists them
 *      for the command line, --help and --list), operands() with what
 *      follows "--" (if the service takes operands).
 *   2. ready() checks the whole configuration, builds what every
 *      connection shares (a table, an open directory), and says how many
 *      bytes of state a connection needs (no ready(): state_size).
 *   3. After the server has stopped, fini() releases what ready() built.
 *
 * The contract, for drivers:
 *   1. New connection: zero the state, call start() with the connection
 *      (valid until end()).
 *   2. Send everything emitted: the slices, then the file range, if any.
 *      Emitted slices may point into the buffer just passed to input():
 *      copy what could not be sent before reusing that buffer.  A service
 *      emits at most SVC_EMIT_MAX bytes of slices per call; a file range
 *      may be of any length, and the driver sends it without reading it
 *      into the loop (sendfile, or io_uring's own reads).  The service
 *      keeps the file open until more() or end() is called.
 *   3. Once all output is sent, call more() (if the service has one) until
 *      it emits nothing or returns SVC_DONE.
 *   4. Read, and pass the bytes to input(), only while no output is pending
 *      (that is the backpressure: a peer that never reads cannot make the
 *      server buffer more than one emission) -- except for SVC_READ_ALWAYS
 *      services, whose input() never emits, which are read and drained all
 *      the time.  A driver whose receive was already under way when output
 *      became pending (io_uring's multishot receive) keeps what it brings,
 *      stops it, and passes that on in order once the output is sent.
 *   5. Peer's EOF (half-close): call eof() once; never read again.
 *   6. SVC_DONE from any hook: send what was emitted, then close.
 *      SVC_ABORT: close now without sending (protocol error).
 *   7. end(): exactly once for every connection whose start() was called,
 *      whatever ended it -- the service's own end, the peer's EOF or reset,
 *      an I/O error, an idle timeout, the stop, a driver that could not go
 *      on.  The service releases there what its state holds.
 *
 * A service whose work is not a state machine (exec: a program per
 * connection, which owns the socket) has takeover() instead: the blocking
 * driver admits the connection and hands it the socket.  Only the models
 * that serve in processes (not in threads) run such a service.
 */
#ifndef CONCUR_SERVICE_H
#define CONCUR_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define SVC_OUT_MAX	2		/* slices per emission */
#define SVC_EMIT_MAX	(64 * 1024)	/* bytes of slices per emission */
#define SVC_RECV_MAX	(64 * 1024)	/* drivers read at most this at once */

/* A range of an open file, sent after the slices. */
struct svc_file {
	int fd;			/* the service's: it closes it */
	off_t off;		/* advanced by the driver as it sends */
	uint64_t len;		/* bytes left; 0: no file */
};

struct svc_out {
	struct iovec iov[SVC_OUT_MAX];
	int n;
	struct svc_file file;
};

enum {
	SVC_ABORT = -1,	/* close at once, send nothing more */
	SVC_OK = 0,	/* carry on */
	SVC_DONE = 1,	/* send what is emitted, then close */
};

#define SVC_READ_ALWAYS	0x1	/* input() never emits; read even when blocked */
#define SVC_FILES	0x2	/* emits file ranges: the drivers that send
				 * them with sendfile(2) serve it best */
#define SVC_CLIENT_FIRST 0x4	/* start() emits nothing: the client speaks
				 * first, so a TCP listener may hand over a
				 * connection with its first data
				 * (TCP_DEFER_ACCEPT) */

struct conn_meta;

/* What a service knows of its connection, valid from start() to end(). */
struct svc_conn {
	const void *conf;	/* the service's configuration */
	const struct conn_meta *meta;
	int fd;			/* for svc_peer() only: not the service's */
};

/* The connection's id and its peer's address, for the service's log
 * lines ("?" if unknown). */
uint64_t svc_id(const struct svc_conn *c);
const char *svc_peer(const struct svc_conn *c, char *buf, size_t len);
/* The address the client connected to ("?" if unknown) and its port (0),
 * for what a service says about itself (a Gopher menu's host). */
const char *svc_local(const struct svc_conn *c, char *buf, size_t len,
    int *port);

/* One of a service's own command-line options: --NAME [ARG]. */
struct svc_option {
	const char *name;	/* without the dashes: "nbytes-max" */
	const char *arg;	/* its argument in --help ("N"); NULL: a flag */
	const char *help;	/* one line */
};

struct service {
	const char *name;
	const char *summary;
	unsigned flags;
	/* Configuration (all may be NULL/0). err: a message for the user. */
	const struct svc_option *options;	/* ends with a NULL name */
	size_t conf_size;
	int (*option)(void *conf, const char *name, const char *arg,
	    char *err, size_t errlen);
	int (*operands)(void *conf, char *const *argv, int argc, char *err,
	    size_t errlen);
	/* Bytes of state per connection, or -1 with err. */
	ssize_t (*ready)(void *conf, char *err, size_t errlen);
	/* The server has stopped: release what ready() built. */
	void (*fini)(void *conf);
	size_t state_size;	/* without ready() */
	/* A connection's life (the contract above). */
	int (*start)(void *st, const struct svc_conn *conn, struct svc_out *out);
	int (*input)(void *st, const char *buf, size_t len, struct svc_out *out);
	int (*eof)(void *st, struct svc_out *out);
	int (*more)(void *st, struct svc_out *out);	/* may be NULL */
	void (*end)(void *st);				/* may be NULL */
	/* UDP: reply to one datagram into out (cap bytes).  Returns the reply
	 * length, or -1 for no reply.  NULL: the service has no UDP form. */
	ssize_t (*datagram)(const void *conf, const char *in, size_t len,
	    char *out, size_t cap);
	/* A service that owns the socket: serve fd to its end (in_place:
	 * become the program, --inetd).  0, or -1 if it failed (counted as an
	 * error).  fd is the service's to close. */
	int (*takeover)(const struct svc_conn *conn, int fd, bool in_place);
};

/* An empty emission (cheaper than zeroing the whole struct). */
static inline void
svc_out_init(struct svc_out *o)
{
	o->n = 0;
	o->file.len = 0;
}

static inline void
svc_emit(struct svc_out *o, const void *p, size_t len)
{
	if (len > 0 && o->n < SVC_OUT_MAX) {
		o->iov[o->n].iov_base = (void *)(size_t)p;
		o->iov[o->n].iov_len = len;
		o->n++;
	}
}

static inline void
svc_emit_file(struct svc_out *o, int fd, off_t off, uint64_t len)
{
	o->file.fd = fd;
	o->file.off = off;
	o->file.len = len;
}

static inline size_t
svc_out_len(const struct svc_out *o)
{
	size_t n = 0;
	int i;

	for (i = 0; i < o->n; i++)
		n += o->iov[i].iov_len;
	return n;
}

/* Output still to send: slices or a file range. */
static inline bool
svc_out_pending(const struct svc_out *o)
{
	return o->n > 0 || o->file.len > 0;
}

/* For drivers: send what the socket takes of the range f with sendfile(2),
 * advancing it and *sent.  0 when all of it is sent; -1 with errno EAGAIN
 * (the socket is full), EINTR, ENODATA (the file ended before the range:
 * logged with the connection id, f emptied) or the error. */
int svc_file_send(int sock, struct svc_file *f, uint64_t id, uint64_t *sent);
/* The log line for a file that ended before its range did. */
void svc_file_short(uint64_t id, uint64_t left);

/* Hooks for services with nothing of their own to do there
 * (engine/service.c): start emits nothing; input is dropped, or ends the
 * connection; EOF ends it, or changes nothing. */
int svc_start_nothing(void *st, const struct svc_conn *conn,
    struct svc_out *out);
int svc_input_ignore(void *st, const char *buf, size_t len, struct svc_out *out);
int svc_input_done(void *st, const char *buf, size_t len, struct svc_out *out);
int svc_eof_done(void *st, struct svc_out *out);
int svc_eof_ignore(void *st, struct svc_out *out);

/* The table, in --list order; NULL-terminated. */
extern const struct service *const services[];
const struct service *service_find(const char *name);

/*
 * A configured service, as the engine and the programs hold it: the
 * service, its configuration, the state size ready() gave.
 */
struct svc_setup {
	const struct service *svc;
	void *conf;
	size_t state_size;
};
/* Zeroed configuration for svc: 0, or -1 with errno. */
int svc_setup_init(struct svc_setup *s, const struct service *svc);
/* Apply an option / the operands / ready(): 0, or -1 with a message in
 * err. */
int svc_setup_option(struct svc_setup *s, const char *name, const char *arg,
    char *err, size_t errlen);
int svc_setup_operands(struct svc_setup *s, char *const *argv, int argc,
    char *err, size_t errlen);
int svc_setup_ready(struct svc_setup *s, char *err, size_t errlen);
/* After the server: fini(), and the configuration freed. */
void svc_setup_fini(const struct service *svc, void *conf);
/* Which service has an option of this name (NULL: none), and the option. */
const struct service *svc_option_owner(const char *name,
    const struct svc_option **opt);

/* The nbytes reply pattern: printable, so a student can look at a reply,
 * and position-dependent, so a shifted or dropped byte is caught; the
 * period is 95, like chargen's ring.  The replies on one connection are
 * consecutive bytes of it: the first reply is pattern(0..N-1), a second
 * reply of M bytes continues with pattern(N..N+M-1), and so on.  A client
 * that sends one request per connection (UNP's, concurbench's) always gets
 * pattern(0..N-1). */
static inline char
nbytes_pattern(size_t k)
{
	return (char)(' ' + (int)(k % 95));
}

#endif
