/*
 * event-echo: a minimal echo server on libevent 2, for the peers benchmark
 * (bench/peers/run.sh).
 *
 *	event-echo PORT [ADDRESS]	(default 127.0.0.1)
 *
 * libevent's own idiom: an evconnlistener and one bufferevent per
 * connection, whose read callback moves the input buffer to the output
 * buffer (evbuffer_add_buffer moves chains, it copies nothing).  Backpressure
 * as the book teaches: when more than HIWAT bytes wait to be sent, reading
 * stops until the output drains below LOWAT.  TCP_NODELAY on every
 * connection; one loop, one thread.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HIWAT	(256 * 1024)
#define LOWAT	(64 * 1024)

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *out = bufferevent_get_output(bev);

	(void)arg;
	evbuffer_add_buffer(out, bufferevent_get_input(bev));
	if (evbuffer_get_length(out) > HIWAT) {
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(bev, EV_WRITE, LOWAT, 0);
	}
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	(void)arg;
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_enable(bev, EV_READ);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct event_base *base = evconnlistener_get_base(l);
	struct bufferevent *bev;
	int one = 1;

	(void)sa;
	(void)salen;
	(void)arg;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		evutil_closesocket(fd);
		return;
	}
	bufferevent_setcb(bev, on_read, on_write, on_event, NULL);
	if (bufferevent_enable(bev, EV_READ | EV_WRITE) == -1)
		bufferevent_free(bev);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct event_base *base;
	struct evconnlistener *l;
	struct event *sterm, *sint;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: event-echo PORT [ADDRESS]\n");
		return 64;
	}
	sin.sin_port = htons((unsigned short)atoi(argv[1]));
	if (inet_pton(AF_INET, argc > 2 ? argv[2] : "127.0.0.1",
	    &sin.sin_addr) != 1) {
		fprintf(stderr, "event-echo: bad address\n");
		return 64;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL) {
		fprintf(stderr, "event-echo: event_base_new failed\n");
		return 71;
	}
	l = evconnlistener_new_bind(base, on_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
	    (struct sockaddr *)&sin, sizeof(sin));
	if (l == NULL) {
		perror("event-echo: listen");
		return 71;
	}
	sterm = evsignal_new(base, SIGTERM, on_signal, base);
	sint = evsignal_new(base, SIGINT, on_signal, base);
	if (sterm == NULL || sint == NULL || event_add(sterm, NULL) == -1 ||
	    event_add(sint, NULL) == -1) {
		fprintf(stderr, "event-echo: signals\n");
		return 71;
	}
	event_base_dispatch(base);
	evconnlistener_free(l);
	event_free(sterm);
	event_free(sint);
	event_base_free(base);
	return 0;
}
