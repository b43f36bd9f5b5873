/*
 * uv-echo: a minimal echo server on libuv, for the peers benchmark
 * (bench/peers/run.sh).
 *
 *	uv-echo PORT [ADDRESS]	(default 127.0.0.1)
 *
 * The shape libuv's own examples teach, with the two things a careful user
 * adds: uv_try_write first (most echoes leave in the read callback, with no
 * write request and no copy), and backpressure (while a write is queued,
 * reading stops).  One loop, one thread; TCP_NODELAY on every connection.
 * libuv allocates the receive buffer through alloc_cb before each read; we
 * hand it one buffer for the whole loop while no write is queued, so an idle
 * connection holds only its uv_tcp_t.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define BUFSZ	(64 * 1024)

struct conn {
	uv_tcp_t	tcp;
	uv_write_t	req;
	char		*owed;	/* a queued write's copy */
};

static uv_loop_t *loop;
static char rbuf[BUFSZ];

static void
on_close(uv_handle_t *h)
{
	struct conn *c = h->data;

	free(c->owed);
	free(c);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)h;
	(void)suggested;
	*b = uv_buf_init(rbuf, sizeof(rbuf));
}

static void on_read(uv_stream_t *, ssize_t, const uv_buf_t *);

static void
on_written(uv_write_t *req, int status)
{
	struct conn *c = req->data;

	free(c->owed);
	c->owed = NULL;
	if (status < 0 || uv_read_start((uv_stream_t *)&c->tcp, on_alloc,
	    on_read) < 0)
		uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = s->data;
	uv_buf_t rest;
	int w;

	if (n == 0)
		return;
	if (n < 0) {
		uv_close((uv_handle_t *)s, on_close);
		return;
	}
	rest = uv_buf_init(b->base, (unsigned)n);
	w = uv_try_write(s, &rest, 1);
	if (w == n)
		return;
	if (w < 0 && w != UV_EAGAIN) {
		uv_close((uv_handle_t *)s, on_close);
		return;
	}
	if (w < 0)
		w = 0;
	/* The loop's buffer is reused by the next read: copy what is owed. */
	if ((c->owed = malloc((size_t)(n - w))) == NULL) {
		uv_close((uv_handle_t *)s, on_close);
		return;
	}
	memcpy(c->owed, b->base + w, (size_t)(n - w));
	rest = uv_buf_init(c->owed, (unsigned)(n - w));
	c->req.data = c;
	uv_read_stop(s);
	if (uv_write(&c->req, s, &rest, 1, on_written) < 0)
		uv_close((uv_handle_t *)s, on_close);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct conn *c;

	if (status < 0)
		return;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return;
	uv_tcp_init(loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		uv_close((uv_handle_t *)&c->tcp, on_close);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
		uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void
on_signal(uv_signal_t *h, int sig)
{
	(void)sig;
	uv_stop(h->loop);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	uv_tcp_t server;
	uv_signal_t sterm, sint;
	int r;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: uv-echo PORT [ADDRESS]\n");
		return 64;
	}
	signal(SIGPIPE, SIG_IGN);
	loop = uv_default_loop();
	if (uv_ip4_addr(argc > 2 ? argv[2] : "127.0.0.1", atoi(argv[1]),
	    &sin) < 0) {
		fprintf(stderr, "uv-echo: bad address\n");
		return 64;
	}
	uv_tcp_init(loop, &server);
	if ((r = uv_tcp_bind(&server, (const struct sockaddr *)&sin, 0)) < 0 ||
	    (r = uv_listen((uv_stream_t *)&server, SOMAXCONN,
	    on_connection)) < 0) {
		fprintf(stderr, "uv-echo: listen: %s\n", uv_strerror(r));
		return 71;
	}
	uv_signal_init(loop, &sterm);
	uv_signal_start(&sterm, on_signal, SIGTERM);
	uv_signal_init(loop, &sint);
	uv_signal_start(&sint, on_signal, SIGINT);
	uv_run(loop, UV_RUN_DEFAULT);
	return 0;
}
