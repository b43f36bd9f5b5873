/*
 * service: what is said on a connection, written once for every model.
 *
 * A service is a small state machine that owns no descriptor.  The model's
 * driver owns the socket; it hands the service the bytes it received and
 * sends the bytes the service emits.  So the blocking drivers (iterative,
 * fork, threads, pools), the readiness loops (select, poll, epoll) and the
 * completion loop (io_uring) all run the same service code.
 *
 * The contract, for drivers:
 *   1. New connection: zero state_size bytes of state, call start().
 *   2. Send everything emitted.  Emitted slices may point into the buffer
 *      just passed to input(): copy what could not be sent before reusing
 *      that buffer.  A service emits at most SVC_EMIT_MAX bytes per call.
 *   3. Once all output is sent, call more() (if the service has one) until
 *      it emits nothing or returns SVC_DONE.
 *   4. Read, and pass the bytes to input(), only while no output is pending
 *      (that is the backpressure: a peer that never reads cannot make the
 *      server buffer more than one emission) -- except for SVC_READ_ALWAYS
 *      services, whose input() never emits, which are read and drained all
 *      the time.
 *   5. Peer's EOF (half-close): call eof() once; never read again.
 *   6. SVC_DONE from any hook: send what was emitted, then close.
 *      SVC_ABORT: close now without sending (protocol error).
 */
#ifndef CONCUR_SERVICE_H
#define CONCUR_SERVICE_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#define SVC_OUT_MAX	2		/* slices per emission */
#define SVC_EMIT_MAX	(64 * 1024)	/* bytes per emission */
#define SVC_STATE_MAX	128		/* bytes of per-connection state */
#define SVC_RECV_MAX	(64 * 1024)	/* drivers read at most this at once */

struct svc_out {
	struct iovec iov[SVC_OUT_MAX];
	int n;
};

enum {
	SVC_ABORT = -1,	/* close at once, send nothing more */
	SVC_OK = 0,	/* carry on */
	SVC_DONE = 1,	/* send what is emitted, then close */
};

#define SVC_READ_ALWAYS	0x1	/* input() never emits; read even when blocked */
#define SVC_EXEC	0x2	/* no state machine: a program per connection
				 * (engine/exec.c); process models only */

struct service {
	const char *name;
	const char *summary;
	size_t state_size;	/* <= SVC_STATE_MAX */
	unsigned flags;
	int (*start)(void *st, struct svc_out *out);
	int (*input)(void *st, const char *buf, size_t len, struct svc_out *out);
	int (*eof)(void *st, struct svc_out *out);
	int (*more)(void *st, struct svc_out *out);	/* may be NULL */
	/* UDP: reply to one datagram into out (cap bytes).  Returns the reply
	 * length, or -1 for no reply.  NULL: the service has no UDP form. */
	ssize_t (*datagram)(const char *in, size_t len, char *out, size_t cap);
};

static inline void
svc_emit(struct svc_out *o, const void *p, size_t len)
{
	if (len > 0 && o->n < SVC_OUT_MAX) {
		o->iov[o->n].iov_base = (void *)(size_t)p;
		o->iov[o->n].iov_len = len;
		o->n++;
	}
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

/* Hooks for services with nothing of their own to do there
 * (engine/service.c): start emits nothing; input is dropped, or ends the
 * connection; EOF ends it, or changes nothing. */
int svc_start_nothing(void *st, struct svc_out *out);
int svc_input_ignore(void *st, const char *buf, size_t len, struct svc_out *out);
int svc_input_done(void *st, const char *buf, size_t len, struct svc_out *out);
int svc_eof_done(void *st, struct svc_out *out);
int svc_eof_ignore(void *st, struct svc_out *out);

/* The table, in --list order; NULL-terminated. */
extern const struct service *const services[];
const struct service *service_find(const char *name);

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
