/*
 * readiness: the readiness driver -- a service run on a non-blocking
 * socket, read when readable, written when writable -- and the loop state
 * it shares with engine/evloop.c.  Private to those two files.
 */
#ifndef CONCUR_DRIVERS_READINESS_H
#define CONCUR_DRIVERS_READINESS_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <pthread.h>

#include "accept.h"
#include "admit.h"
#include "evloop.h"
#include "loops.h"

#define RD_FILE_SMALL	(16 * 1024)	/* files read, not sendfile()d */

struct djob;

struct rconn {
	int fd;
	int mask;		/* interest the backend has for fd */
	bool rd_eof;
	int err;		/* the errno that ended it, or 0 */
	int status;		/* SVC_OK, or SVC_DONE once the service ended */
	uint64_t in, out;
	bool started;		/* the service's start() was called */
	struct rconn *prev, *next;	/* idle list, oldest first */
	uint64_t last_us;	/* last activity (idle timeout) */
	uint64_t acked;		/* acknowledged at the last look (idle.h) */
	struct conn_meta meta;
	struct svc_conn sc;
	char *pend;		/* unsent slices, or NULL */
	uint32_t pend_off, pend_len;
	struct svc_file file;	/* unsent file range (len 0: none) */
	struct djob *job;	/* the disk pool reads the file for us */
	bool file_short;	/* the pool found the file ends early */
	off_t cached_to;	/* the file is in the page cache up to here */
	struct rconn *jnext;	/* the loop's connections waiting so */
	alignas(max_align_t) unsigned char st[];
};

struct evloop {
	struct loop_base base;	/* first: the loop runner's */
	const struct ev_backend *be;
	void *bs;
	struct acceptor acc;	/* the shared listener, or ours (--reuseport) */
	bool own_lfd;
	bool listening;		/* listener currently watched */
	int maxfds;
	struct rconn **conns;	/* by descriptor */
	uint64_t now_us;	/* time of this wake-up */
	struct rconn *oldest, *newest;	/* idle list */
	int nconns;
	/* Moving connections between loops (an elastic loop just started):
	 * the main thread sets give_to, then give_k (give 1/k of them); the
	 * receiving loop takes them from its inbox. */
	struct evloop *_Atomic give_to;
	_Atomic int give_k;
	pthread_mutex_t inbox_mu;
	struct rconn *inbox;		/* under inbox_mu */
	atomic_bool has_inbox;
	struct rconn *jobs;	/* waiting for the disk pool */
	char buf[SVC_RECV_MAX];
	char fbuf[RD_FILE_SMALL];	/* a small file, sent with its head */
};

/* Take a new connection (accept_burst's taker; always true). */
bool rd_conn_new(void *loop, int fd);
/* What the backend reported: the connections' events are handled, the
 * loop's own descriptors said (RD_LISTENER, RD_WOKEN). */
#define RD_LISTENER	0x1
#define RD_WOKEN	0x2
int rd_dispatch(struct evloop *l, const struct ev_fired *f, int n);
/* Close c now (expired, or the loop ends). */
void rd_conn_free(struct evloop *l, struct rconn *c);
/* Take c out of this loop (it stays open), or put it into this one:
 * -1 if the backend refused it (c is then closed). */
void rd_conn_detach(struct evloop *l, struct rconn *c);
int rd_conn_attach(struct evloop *l, struct rconn *c);
/* --idle-timeout: close who expired; when the oldest will (UINT64_MAX:
 * nobody). */
void rd_expire_idle(struct evloop *l);
uint64_t rd_next_expiry(const struct evloop *l);

#endif
