/*
 * file: what the file service's pieces share (services/file.c, the service;
 * services/file-http.c, the request parser and paths; services/
 * file-watch.c, the request-head deadline).  Private to them and to the
 * fuzz harness.
 */
#ifndef CONCUR_SERVICES_FILE_H
#define CONCUR_SERVICES_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- HTTP/1.1 requests (RFC 9110, 9112), file-http.c ---- */

enum { HTTP_GET = 1, HTTP_HEAD, HTTP_OTHER };

#define HTTP_FIELDS_MAX	100	/* header lines in one request: 431 past */
#define HTTP_DATE_LEN	29	/* "Sun, 06 Nov 1994 08:49:37 GMT" */

struct http_req {
	int method;
	int minor;			/* HTTP/1.minor (0 or 1) */
	const char *target;		/* in the head, not terminated */
	size_t target_len;
	bool close;			/* Connection: close */
	bool keep_alive;		/* Connection: keep-alive (1.0) */
	int64_t ims;			/* If-Modified-Since, or -1 */
	int64_t if_range;		/* If-Range date; -1 none; -2 a tag */
	/* Range: one byte range, or none (a list, a unit other than bytes,
	 * or bad syntax are all ignored, as RFC 9110 14.2 allows). */
	bool range;
	bool suffix;			/* bytes=-N: the last `last` bytes */
	uint64_t first, last;		/* last == UINT64_MAX: to the end */
};

/* The end of the request head at buf (the blank line included): its
 * length, 0 if it is not all there yet, or -414 (the request line is
 * longer than line_max) or -431 (the head is longer than head_max). */
ssize_t http_head_end(const char *buf, size_t len, size_t line_max,
    size_t head_max);
/* Parse a whole head: 0, or the status that refuses it (400, 405, 431,
 * 505); r is filled as far as it got. */
int http_parse(const char *head, size_t len, struct http_req *r);
/* Does this first line (without its end) look like an HTTP request line:
 * "TOKEN SP target SP HTTP/..."?  Otherwise it is a plain selector. */
bool http_line_is_http(const char *line, size_t len);

/* The range r asks of a file of `size` bytes: 1 and [*off, *off + *len),
 * 0 when r has no range (send it all), -1 when it cannot be satisfied
 * (416). */
int http_range(const struct http_req *r, uint64_t size, uint64_t *off,
    uint64_t *len);

/* IMF-fixdate: out gets HTTP_DATE_LEN bytes and a NUL. */
void http_date(int64_t t, char *out);
/* An HTTP-date in any of its three forms (RFC 9110 5.6.7), or -1. */
int64_t http_date_parse(const char *s, size_t len);

/* ---- paths ---- */

enum {
	PATH_OK = 0,
	PATH_BAD,		/* a bad %-escape, NUL, a control byte: 400 */
	PATH_DOTDOT,		/* a ".." segment: refused */
	PATH_HIDDEN,		/* a segment starting with '.': refused */
	PATH_LONG,		/* longer than out: 414 */
};

/* The file a request names, as a path relative to the root ("." for the
 * root itself): %-escapes decoded (HTTP; a Gopher selector is taken as
 * it is), empty and "." segments dropped.  *dir: the path ended with '/'.
 * Returns PATH_OK or why not. */
int file_path(const char *in, size_t len, bool decode, bool dotfiles,
    char *out, size_t outlen, bool *dir);

/* The Content-Type for a file name, by its extension. */
const char *file_mime(const char *name);

/* ---- the request-head deadline (file-watch.c) ---- */

/* One connection whose request head is not complete yet. */
struct fwatch {
	struct fwatch *prev, *next;
	uint64_t deadline_ms;	/* CLOCK_MONOTONIC */
	int fd;			/* the connection's socket */
	uint8_t strikes;	/* 1: read side shut; 2: both */
	bool on;		/* on the list */
};

/* Watch w (fd, due in ms): when its time comes while it is still
 * watched, the socket's read side is shut (the driver then sees EOF, and
 * the service answers 408), and a second later both sides.  0, or -1 if
 * the watcher thread could not start (errno). */
int fwatch_add(struct fwatch *w, int fd, unsigned ms);
void fwatch_del(struct fwatch *w);
/* Did the watcher strike w? */
bool fwatch_struck(struct fwatch *w);
/* After a fork: this process has no watcher thread yet. */
void fwatch_atfork(void);
/* The server has stopped: end the watcher thread. */
void fwatch_fini(void);
uint64_t fwatch_now_ms(void);

#endif
