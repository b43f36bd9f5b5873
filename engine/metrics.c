/*
 * metrics: the --metrics endpoint.  See metrics.h.
 *
 * HTTP/1.0 and 1.1 GET or HEAD of / or /metrics, answered and closed (no
 * keep-alive: Prometheus opens a connection per scrape or keeps one, and
 * both work with a close); anything else is 404 or 405.  The request is
 * read up to its blank line, at most 8 KiB; Accept naming
 * application/openmetrics-text gets OpenMetrics, anything else the
 * Prometheus text format 0.0.4.
 */
#include "metrics.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "server.h"
#include "side.h"
#include "stop.h"

#define REQ_MAX	8192

static struct {
	int lfd;
	struct side th;
	struct server *srv;
	char *buf;		/* the exposition text, grown as needed */
	size_t cap;
} mx = { .lfd = -1, .th = SIDE_INIT };

int
metrics_listen(const char *spec, char *where, size_t len)
{
	char host[256];
	const char *colon, *port;
	size_t hl;
	int fd, p;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (end == NULL || end[1] != ':')
			return -EINVAL;
		hl = (size_t)(end - spec - 1);
		memcpy(host, spec + 1, hl < sizeof(host) ? hl : 0);
		port = end + 2;
	} else {
		if ((colon = strrchr(spec, ':')) == NULL ||
		    strchr(spec, ':') != colon)
			return -EINVAL;
		hl = (size_t)(colon - spec);
		memcpy(host, spec, hl < sizeof(host) ? hl : 0);
		port = colon + 1;
	}
	if (hl >= sizeof(host) || net_parse_port(port, SOCK_STREAM) < 0)
		return -EINVAL;
	host[hl] = '\0';
	fd = net_listen(hl > 0 ? host : NULL, port, SOCK_STREAM, 16,
	    NET_NONBLOCK);
	if (fd < 0)
		return fd;
	if ((p = net_local_addr(fd, host, sizeof(host), NULL)) < 0) {
		close(fd);
		return p;
	}
	snprintf(where, len, "%s port %d", host, net_local_port(fd));
	return fd;
}

/* Read the request up to its blank line, within the deadline: its length,
 * or -1. */
static ssize_t
read_request(int fd, char *req, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t have = 0;
	ssize_t n;
	uint64_t t;

	while (have < REQ_MAX - 1) {
		if ((t = now_us()) >= deadline)
			return -1;
		if (poll(&pfd, 1, (int)((deadline - t) / 1000) + 1) <= 0)
			continue;	/* EINTR, or look at the clock again */
		n = recv(fd, req + have, REQ_MAX - 1 - have, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return -1;
		if (n < 0)
			continue;
		have += (size_t)n;
		req[have] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL || strstr(req, "\n\n") != NULL)
			return (ssize_t)have;
	}
	return (ssize_t)have;	/* headers too long: what there is */
}

static void
write_all(int fd, const char *p, size_t n, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t w;
	uint64_t t;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return;
		if ((t = now_us()) >= deadline)
			return;		/* a scraper that does not read */
		if (poll(&pfd, 1, (int)((deadline - t) / 1000) + 1) == -1 &&
		    errno != EINTR)
			return;
	}
}

/* Does a header line of req name the OpenMetrics type in Accept? */
static bool
wants_openmetrics(const char *req)
{
	const char *line = strchr(req, '\n');

	for (; line != NULL; line = strchr(line + 1, '\n')) {
		const char *h = line + 1;
		const char *end = strchr(h, '\n');
		size_t len = end ? (size_t)(end - h) : strlen(h);

		if (len > 7 && strncasecmp(h, "accept:", 7) == 0 &&
		    memmem(h, len, "application/openmetrics-text", 28) != NULL)
			return true;
	}
	return false;
}

static void
answer(int fd, const char *status, const char *type, const char *body,
    size_t blen, bool head, uint64_t deadline)
{
	char hdr[256];
	int n;

	n = snprintf(hdr, sizeof(hdr), "HTTP/1.0 %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, type,
	    blen);
	write_all(fd, hdr, (size_t)n, deadline);
	if (!head)
		write_all(fd, body, blen, deadline);
}

static void
one_request(int fd)
{
	static const char text[] = "text/plain; charset=utf-8";
	uint64_t deadline = now_us() + METRICS_DEADLINE_MS * 1000ull;
	char req[REQ_MAX], method[8], path[256];
	struct stats_snap sn;
	bool head, om;
	ssize_t n;

	if (read_request(fd, req, deadline) <= 0)
		return;
	if (sscanf(req, "%7s %255s", method, path) != 2) {
		answer(fd, "400 Bad Request", text, "bad request\n", 12, false,
		    deadline);
		return;
	}
	head = strcmp(method, "HEAD") == 0;
	if (!head && strcmp(method, "GET") != 0) {
		answer(fd, "405 Method Not Allowed", text, "GET or HEAD\n", 12,
		    false, deadline);
		return;
	}
	path[strcspn(path, "?")] = '\0';
	if (strcmp(path, "/metrics") != 0 && strcmp(path, "/") != 0) {
		answer(fd, "404 Not Found", text, "the metrics are at /metrics\n",
		    28, head, deadline);
		return;
	}
	om = wants_openmetrics(req);
	stats_snapshot(mx.srv, &sn);
	if ((n = stats_exposition(mx.srv, &sn, om, &mx.buf, &mx.cap)) < 0) {
		answer(fd, "500 Internal Server Error", text, "out of memory\n",
		    14, head, deadline);
		return;
	}
	answer(fd, "200 OK", om ? "application/openmetrics-text; "
	    "version=1.0.0; charset=utf-8" : "text/plain; version=0.0.4; "
	    "charset=utf-8", mx.buf, (size_t)n, head, deadline);
}

static void *
serve(void *arg)
{
	struct pollfd pfd[2];
	int fd;

	(void)arg;
	server_block_signals();
	pfd[0].fd = side_wake_fd(&mx.th);
	pfd[0].events = POLLIN;
	pfd[1].fd = mx.lfd;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("metrics: poll");
			server_pause_ms(100);
			continue;
		}
		if (pfd[0].revents)
			break;		/* the stop */
		fd = accept4(mx.lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				server_pause_ms(100);	/* EMFILE...: no spin */
			continue;
		}
		one_request(fd);
		close(fd);
	}
	return NULL;
}

int
metrics_start(struct server *srv, int fd)
{
	mx.srv = srv;
	mx.lfd = fd;
	return side_start(&mx.th, serve, NULL);
}

void
metrics_stop(void)
{
	side_stop(&mx.th, "metrics");
	if (mx.lfd >= 0)
		close(mx.lfd);
	mx.lfd = -1;
	free(mx.buf);
	mx.buf = NULL;
	mx.cap = 0;
}
