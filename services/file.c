/*
 * file: the files under --root, to Gopher clients and to HTTP/1.1 ones.
 *
 *   concurd -s file --root DIR
 *
 * Two framings on one port, told apart by the first line.  A line that
 * reads "METHOD target HTTP/x.y" begins an HTTP/1.1 request (GET and HEAD;
 * keep-alive and pipelining; Range, If-Modified-Since; file-http.c parses
 * it); any other line is a plain request, the lab's and Gopher's (RFC
 * 1436): a path, the file's bytes back, then the close; a directory
 * answers a Gopher menu, so `curl gopher://HOST:PORT/1/` lists it.
 *
 * The file itself is never read here: the service emits the open file's
 * range (service.h) and the driver sends it -- sendfile(2) in the blocking
 * and readiness drivers, io_uring's reads in the completion driver -- so
 * the bytes go from the page cache to the socket without passing through
 * this code, and the readiness driver never waits on the disk
 * (drivers/readiness.c).
 *
 * Confinement.  Every path is resolved by openat2(2) from the root's
 * descriptor with RESOLVE_BENEATH and RESOLVE_NO_MAGICLINKS: the kernel
 * refuses a path or a symlink that leads out of the root, however it is
 * spelled.  Before that the path is checked here too, so the log can say
 * what was refused: a ".." segment (after %-decoding, and %2F counts as a
 * slash) is refused, and so is a segment beginning with a dot (hidden)
 * unless --file-dotfiles.  Files are opened O_NONBLOCK, as nginx does, so
 * opening a FIFO returns at once, and anything that is not a regular file
 * or a directory is refused.  Without openat2 (before Linux 5.6, or a
 * seccomp filter that hides it) the path is walked a component at a time
 * with O_NOFOLLOW, and every symlink is refused.  Every refusal is logged
 * with the client's address.
 *
 * A connection's state is small (about 600 bytes) and holds no buffer
 * while it is idle: a request that arrives whole is parsed in the driver's
 * buffer, and only an incomplete head or pipelined requests are kept, in
 * a buffer allocated for them and freed once they are answered.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "log.h"
#include "net.h"
#include "parse.h"
#include "service.h"

#define HDR_MAX		416	/* a response head: a 206, the longest, is under 350 */
#define PATH_MAX_REQ	1024	/* the longest path a request may name */
#define MENU_ENTRIES	10000	/* a Gopher menu lists at most these */
#define DEF_HEAD_MS	10000
#define DEF_LINE_MAX	8192
#define DEF_HEAD_MAX	16384
#define LINGER_MS	2000	/* after an error, what the client sent is read */

struct file_conf {
	const char *root;
	bool dotfiles;
	uint64_t head_ms, line_max, head_max;	/* 0: the default */
	int rootfd;
	bool openat2;		/* the kernel has it; else the walk */
};

enum { M_NEW, M_PLAIN, M_HTTP };

struct fstate {
	const struct file_conf *conf;
	const struct svc_conn *sc;
	int fd;			/* the file being sent, or -1 */
	uint8_t mode;
	bool closing;		/* close once this response is sent */
	bool at_eof;		/* the client is done sending */
	bool scanned;		/* buf holds an incomplete head, looked at */
	bool lingering;		/* an error was answered: drain, then close */
	char *buf;		/* unanswered bytes (malloc'd), or NULL */
	uint32_t blen, bcap;
	char *text;		/* a long answer (a menu) being sent */
	size_t tlen, toff;
	uint64_t head_due;	/* the head's deadline (ms), if watched */
	struct fwatch w;
	char hdr[HDR_MAX];
};

static const struct svc_option options[] = {
	{ "root", "DIR", "serve the files under DIR (needed)" },
	{ "file-dotfiles", NULL, "serve names that begin with a dot too" },
	{ "file-head-timeout", "SEC", "close a client whose request head is "
	    "not complete after SEC (10)" },
	{ "file-line-max", "BYTES", "longest HTTP request line or Gopher "
	    "selector (8k; 414)" },
	{ "file-head-max", "BYTES", "longest HTTP request head (16k; 431)" },
	{ NULL, NULL, NULL }
};

/* ---- configuration ---- */

static int
file_option(void *conf, const char *name, const char *arg, char *err,
    size_t errlen)
{
	struct file_conf *c = conf;
	uint64_t v;

	if (strcmp(name, "root") == 0) {
		c->root = arg;
	} else if (strcmp(name, "file-dotfiles") == 0) {
		c->dotfiles = true;
	} else if (strcmp(name, "file-head-timeout") == 0) {
		if (parse_duration_us(arg, &v) == -1 || v < 1000 ||
		    v > 3600ull * 1000000) {
			snprintf(err, errlen, "--file-head-timeout: '%s' is not "
			    "a time from 1ms to 1h (like 10, 2.5s, 500ms)", arg);
			return -1;
		}
		c->head_ms = v / 1000;
	} else {
		bool line = strcmp(name, "file-line-max") == 0;

		if (parse_size(arg, 1024 * 1024, &v) == -1 || v < 64) {
			snprintf(err, errlen, "--%s: '%s' is not a size from 64 "
			    "to 1M", name, arg);
			return -1;
		}
		if (line)
			c->line_max = v;
		else
			c->head_max = v;
	}
	return 0;
}

static void
fork_child(void)
{
	fwatch_atfork();
}

static void
register_atfork(void)
{
	(void)pthread_atfork(NULL, NULL, fork_child);
}

static int
openat2_how(int dirfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)flags,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

static ssize_t
file_ready(void *conf, char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct file_conf *c = conf;
	int fd;

	if (c->root == NULL) {
		snprintf(err, errlen, "-s file needs --root DIR: the directory "
		    "to serve");
		return -1;
	}
	c->rootfd = open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->rootfd == -1) {
		snprintf(err, errlen, "--root %s: %s", c->root, errno ==
		    ENOTDIR ? "not a directory" : strerror(errno));
		return -1;
	}
	if (c->head_ms == 0)
		c->head_ms = DEF_HEAD_MS;
	if (c->line_max == 0)
		c->line_max = DEF_LINE_MAX;
	if (c->head_max == 0)
		c->head_max = DEF_HEAD_MAX;
	if (c->head_max < c->line_max)
		c->head_max = c->line_max;
	/* Does the kernel confine for us? */
	fd = openat2_how(c->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	c->openat2 = fd >= 0;
	if (fd >= 0)
		close(fd);
	else
		log_info("file: no openat2 here (%s): paths are walked one "
		    "name at a time and symlinks are refused", strerror(errno));
	pthread_once(&once, register_atfork);
	return (ssize_t)sizeof(struct fstate);
}

static void
file_fini(void *conf)
{
	struct file_conf *c = conf;

	fwatch_fini();
	if (c->rootfd > 0)
		close(c->rootfd);
}

/* ---- opening, confined ---- */

/* Without openat2: a name at a time, never following a symlink (the path
 * has no "..": file_path() refused them). */
static int
walk_open(int rootfd, const char *path, int flags)
{
	char buf[PATH_MAX_REQ], *name = buf, *slash;
	int dir = rootfd, fd, e;

	snprintf(buf, sizeof(buf), "%s", path);
	while ((slash = strchr(name, '/')) != NULL) {
		*slash = '\0';
		fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		e = errno;
		if (dir != rootfd)
			close(dir);
		if (fd == -1) {
			errno = e;
			return -1;
		}
		dir = fd;
		name = slash + 1;
	}
	fd = openat(dir, name, flags | O_NOFOLLOW);
	e = errno;
	if (dir != rootfd)
		close(dir);
	errno = e;
	return fd;
}

static int
open_beneath(const struct file_conf *c, const char *path)
{
	int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

	if (c->openat2)
		return openat2_how(c->rootfd, path, flags);
	return walk_open(c->rootfd, path, flags);
}

/* ---- answers ---- */

/* For the log: what the client asked for, printable and short. */
static const char *
shown(const char *s, size_t len, char *buf, size_t size)
{
	size_t i, n = len < size - 4 ? len : size - 4;

	for (i = 0; i < n; i++)
		buf[i] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (n < len)
		memcpy(buf + n, "...", 4);
	else
		buf[n] = '\0';
	return buf;
}

static void
refused(const struct fstate *st, const char *what, size_t len, const char *why)
{
	char peer[NET_ADDRSTRLEN + 8], show[160];

	log_info("file: conn %llu from %s: refused '%s': %s",
	    (unsigned long long)svc_id(st->sc), svc_peer(st->sc, peer,
	    sizeof(peer)), shown(what, len, show, sizeof(show)), why);
}

/* A response head, built in st->hdr. */
struct hb {
	char *p;
	size_t n, cap;
};

static void
put(struct hb *b, const char *s, size_t len)
{
	if (b->n + len <= b->cap) {
		memcpy(b->p + b->n, s, len);
		b->n += len;
	} else {
		b->n = b->cap + 1;	/* too long: the caller sees it */
	}
}

static void
puts_(struct hb *b, const char *s)
{
	put(b, s, strlen(s));
}

static void
putu(struct hb *b, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do
		tmp[--i] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	put(b, tmp + i, sizeof(tmp) - i);
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Internal Server Error";
	}
}

/* The Date: field's text, made once a second per thread. */
static const char *
date_now(void)
{
	static _Thread_local char text[HTTP_DATE_LEN + 1];
	static _Thread_local time_t made = -1;
	time_t now = time(NULL);

	if (now != made) {
		http_date((int64_t)now, text);
		made = now;
	}
	return text;
}

static void
status_line(struct hb *b, int status)
{
	puts_(b, "HTTP/1.1 ");
	putu(b, (uint64_t)status);
	put(b, " ", 1);
	puts_(b, reason(status));
	puts_(b, "\r\nServer: concurd\r\nDate: ");
	put(b, date_now(), HTTP_DATE_LEN);
	put(b, "\r\n", 2);
}

/* A head built in st->hdr, emitted; one too long for it (it cannot be,
 * with the fields written here) goes as a 500 that closes. */
static void
head_emit(struct fstate *st, struct svc_out *out, struct hb *b)
{
	static const char over[] = "HTTP/1.1 500 Internal Server Error\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n";

	if (b->n > b->cap) {
		st->closing = true;
		svc_emit(out, over, sizeof(over) - 1);
		return;
	}
	svc_emit(out, b->p, b->n);
}

/* The end of a head: keep-alive or close, the blank line. */
static void
head_end(struct fstate *st, struct hb *b, const struct http_req *r)
{
	if (st->closing)
		puts_(b, "Connection: close\r\n");
	else if (r != NULL && r->minor == 0)
		puts_(b, "Connection: keep-alive\r\n");
	put(b, "\r\n", 2);
}

/*
 * After an error that closes, the client may still be sending (the rest
 * of a long head, a body): closing with unread bytes makes the kernel
 * send a reset, which can destroy the answer before the client reads it.
 * So the connection stays, reading and dropping, until the client closes
 * (it was told "Connection: close") or LINGER_MS pass (the watcher shuts
 * it), as nginx's lingering close does.
 */
static int
linger(struct fstate *st)
{
	st->lingering = true;
	free(st->buf);
	st->buf = NULL;
	st->blen = st->bcap = 0;
	if (st->sc->fd >= 0 && fwatch_add(&st->w, st->sc->fd, LINGER_MS) == 0)
		return SVC_OK;
	return SVC_DONE;
}

/* An error (or any answer with a short body of its own): the status, the
 * body text, and the close if the request cannot be followed by another. */
static int
http_status(struct fstate *st, struct svc_out *out, int status,
    const struct http_req *r)
{
	static const char *const bodies[] = {
		[0] = "", [1] = "Bad Request\n", [3] = "Forbidden\n",
		[4] = "Not Found\n", [5] = "Method Not Allowed\n",
		[8] = "Request Timeout\n", [14] = "URI Too Long\n",
		[16] = "Range Not Satisfiable\n",
		[31] = "Request Header Fields Too Large\n",
	};
	struct hb b = { st->hdr, 0, sizeof(st->hdr) };
	const char *body = "Error\n";
	int k = status - 400;

	if (k >= 0 && k < (int)(sizeof(bodies) / sizeof(bodies[0])) &&
	    bodies[k] != NULL)
		body = bodies[k];
	else if (status == 503)
		body = "Service Unavailable\n";
	else if (status == 505)
		body = "HTTP Version Not Supported\n";
	/* After these the stream cannot be trusted to frame a next request. */
	if (status != 403 && status != 404 && status != 416)
		st->closing = true;
	if (r != NULL && (r->close || (r->minor == 0 && !r->keep_alive)))
		st->closing = true;
	status_line(&b, status);
	if (status == 405)
		puts_(&b, "Allow: GET, HEAD\r\n");
	puts_(&b, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
	putu(&b, strlen(body));
	put(&b, "\r\n", 2);
	head_end(st, &b, r);
	head_emit(st, out, &b);
	if (r == NULL || r->method != HTTP_HEAD)
		svc_emit(out, body, strlen(body));
	if (st->closing && status >= 400 && status != 408)
		return linger(st);
	return st->closing ? SVC_DONE : SVC_OK;
}

/* A text answer too long for st->hdr: sent from st->text by more(). */
static int
send_text(struct fstate *st, struct svc_out *out)
{
	size_t n = st->tlen - st->toff;

	if (n > SVC_EMIT_MAX)
		n = SVC_EMIT_MAX;
	svc_emit(out, st->text + st->toff, n);
	st->toff += n;
	if (st->toff < st->tlen)
		return SVC_OK;
	return st->closing ? SVC_DONE : SVC_OK;
}

static void
text_free(struct fstate *st)
{
	free(st->text);
	st->text = NULL;
	st->tlen = st->toff = 0;
}

/* A directory asked for without its '/': where it is. */
static int
http_redirect(struct fstate *st, struct svc_out *out, const struct http_req *r,
    size_t pathlen)
{
	const char *q = r->target + pathlen;
	size_t qlen = r->target_len - pathlen, cap = 256 + r->target_len;
	struct hb b;

	if ((st->text = malloc(cap)) == NULL)
		return http_status(st, out, 503, r);
	b = (struct hb){ st->text, 0, cap };
	if (r->close)
		st->closing = true;
	status_line(&b, 301);
	puts_(&b, "Location: ");
	put(&b, r->target, pathlen);
	put(&b, "/", 1);
	put(&b, q, qlen);
	puts_(&b, "\r\nContent-Length: 0\r\n");
	head_end(st, &b, r);
	if (b.n > cap) {
		text_free(st);
		return http_status(st, out, 414, r);
	}
	st->tlen = b.n;
	return send_text(st, out);
}

/* What the open and the checks of a path gave: the descriptor, or -1 and
 * the status to answer (logged if a refusal). */
static int
open_file(struct fstate *st, const char *path, const char *asked, size_t alen,
    struct stat *sb)
{
	int fd = open_beneath(st->conf, path), e = errno;
	const char *why = NULL;

	if (fd >= 0 && fstat(fd, sb) == -1) {
		e = errno;
		close(fd);
		fd = -1;
	}
	if (fd >= 0 && (S_ISREG(sb->st_mode) || S_ISDIR(sb->st_mode)))
		return fd;
	if (fd >= 0) {
		close(fd);
		refused(st, asked, alen, "not a regular file");
		return -403;
	}
	switch (e) {
	case ENOENT: case ENOTDIR: case ENAMETOOLONG:
		return -404;
	case EXDEV:
		why = "it leads out of the root";
		break;
	case ELOOP:
		why = st->conf->openat2 ? "a symlink loop, or a magic link" :
		    "a symlink (refused without openat2)";
		break;
	case EACCES: case EPERM:
		why = "permission denied";
		break;
	case ENXIO: case ENODEV: case EOPNOTSUPP:
		why = "not a regular file";
		break;
	case EMFILE: case ENFILE: case ENOMEM:
		errno = e;
		log_warn("file: conn %llu: open", (unsigned long long)
		    svc_id(st->sc));
		return -503;
	default:
		why = strerror(e);
		break;
	}
	refused(st, asked, alen, why);
	return -403;
}

/* ---- HTTP ---- */

/* The path part of a request target: origin-form "/p?q", or
 * absolute-form "http://host/p?q" (RFC 9112 3.2.2).  -1 if neither. */
static int
target_path(const struct http_req *r, size_t *start, size_t *len)
{
	const char *t = r->target, *end = t + r->target_len, *p, *q;

	if (t[0] == '/') {
		p = t;
	} else if ((r->target_len > 7 && strncasecmp(t, "http://", 7) == 0) ||
	    (r->target_len > 8 && strncasecmp(t, "https://", 8) == 0)) {
		p = memchr(t + 7, '/', (size_t)(end - t - 7));
		if (p == NULL)
			p = end;	/* "http://host": the root */
	} else {
		return -1;
	}
	for (q = p; q < end && *q != '?' && *q != '#'; q++)
		;
	*start = (size_t)(p - t);
	*len = (size_t)(q - p);
	return 0;
}

static int
http_answer(struct fstate *st, const struct http_req *r, struct svc_out *out)
{
	char path[PATH_MAX_REQ];
	struct stat sb;
	struct hb b = { st->hdr, 0, sizeof(st->hdr) };
	uint64_t off = 0, len;
	size_t ps, pl;
	bool dir;
	int fd, st_code = 200, rg;
	char lm[HTTP_DATE_LEN + 1];

	if (target_path(r, &ps, &pl) == -1)
		return http_status(st, out, 400, r);
	switch (pl == 0 ? PATH_OK : file_path(r->target + ps, pl, true,
	    st->conf->dotfiles, path, sizeof(path), &dir)) {
	case PATH_OK:
		if (pl == 0) {
			strcpy(path, ".");
			dir = true;
		}
		break;
	case PATH_BAD:
		return http_status(st, out, 400, r);
	case PATH_DOTDOT:
		refused(st, r->target, r->target_len, "a '..' in the path");
		return http_status(st, out, 403, r);
	case PATH_HIDDEN:
		refused(st, r->target, r->target_len, "a hidden name (dot-file)");
		return http_status(st, out, 404, r);
	default:
		return http_status(st, out, 414, r);
	}
	if ((fd = open_file(st, path, r->target, r->target_len, &sb)) < 0)
		return http_status(st, out, -fd, r);
	if (S_ISDIR(sb.st_mode)) {
		close(fd);
		if (!dir)
			return http_redirect(st, out, r, ps + pl);
		if (strlen(path) + sizeof("/index.html") > sizeof(path))
			return http_status(st, out, 414, r);
		strcat(path, "/index.html");
		fd = open_file(st, path, r->target, r->target_len, &sb);
		if (fd == -404) {
			refused(st, r->target, r->target_len,
			    "a directory without index.html");
			return http_status(st, out, 403, r);
		}
		if (fd < 0)
			return http_status(st, out, -fd, r);
		if (!S_ISREG(sb.st_mode)) {
			close(fd);
			refused(st, r->target, r->target_len,
			    "index.html is not a regular file");
			return http_status(st, out, 403, r);
		}
	}
	if (r->close || (r->minor == 0 && !r->keep_alive))
		st->closing = true;
	len = (uint64_t)sb.st_size;
	http_date((int64_t)sb.st_mtime, lm);
	if (r->ims >= 0 && (int64_t)sb.st_mtime <= r->ims) {
		close(fd);
		status_line(&b, 304);
		puts_(&b, "Last-Modified: ");
		put(&b, lm, HTTP_DATE_LEN);
		put(&b, "\r\n", 2);
		head_end(st, &b, r);
		head_emit(st, out, &b);
		return st->closing ? SVC_DONE : SVC_OK;
	}
	/* If-Range: the range only if the file is the one the client has. */
	rg = r->if_range == -1 || r->if_range == (int64_t)sb.st_mtime ?
	    http_range(r, len, &off, &len) : 0;
	if (rg < 0) {
		close(fd);
		st_code = 416;
		status_line(&b, 416);
		puts_(&b, "Content-Range: bytes */");
		putu(&b, (uint64_t)sb.st_size);
		puts_(&b, "\r\nContent-Type: text/plain; charset=utf-8\r\n"
		    "Content-Length: 22\r\n");
		head_end(st, &b, r);
		head_emit(st, out, &b);
		if (r->method != HTTP_HEAD)
			svc_emit(out, "Range Not Satisfiable\n", 22);
		return st->closing ? SVC_DONE : SVC_OK;
	}
	if (rg > 0)
		st_code = 206;
	status_line(&b, st_code);
	puts_(&b, "Last-Modified: ");
	put(&b, lm, HTTP_DATE_LEN);
	puts_(&b, "\r\nContent-Type: ");
	puts_(&b, file_mime(path));
	puts_(&b, "\r\nContent-Length: ");
	putu(&b, len);
	puts_(&b, "\r\nAccept-Ranges: bytes\r\n");
	if (rg > 0) {
		puts_(&b, "Content-Range: bytes ");
		putu(&b, off);
		put(&b, "-", 1);
		putu(&b, off + len - 1);
		put(&b, "/", 1);
		putu(&b, (uint64_t)sb.st_size);
		put(&b, "\r\n", 2);
	}
	head_end(st, &b, r);
	head_emit(st, out, &b);
	if (r->method == HTTP_HEAD || len == 0) {
		close(fd);
	} else {
		st->fd = fd;
		svc_emit_file(out, fd, (off_t)off, len);
	}
	return st->closing ? SVC_DONE : SVC_OK;
}

/* ---- Gopher (and the lab's plain requests) ---- */

static int
gopher_error(struct fstate *st, struct svc_out *out, const char *msg)
{
	struct hb b = { st->hdr, 0, sizeof(st->hdr) };

	puts_(&b, "3");
	puts_(&b, msg);
	puts_(&b, "\t\terror.host\t1\r\n.\r\n");
	head_emit(st, out, &b);
	st->closing = true;
	return SVC_DONE;
}

static char
gopher_type(const char *name, bool isdir)
{
	const char *t;

	if (isdir)
		return '1';
	t = file_mime(name);
	if (strncmp(t, "text/html", 9) == 0)
		return 'h';
	if (strncmp(t, "text/", 5) == 0)
		return '0';
	if (strcmp(t, "image/gif") == 0)
		return 'g';
	if (strncmp(t, "image/", 6) == 0)
		return 'I';
	return '9';
}

struct entry {
	char *name;
	bool dir;
};

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name,
	    ((const struct entry *)b)->name);
}

/* Append to a growing text; false when out of memory. */
static bool
grow_put(char **t, size_t *len, size_t *cap, const char *s, size_t n)
{
	char *g;

	if (*len + n > *cap) {
		size_t c = *cap ? *cap * 2 : 4096;

		while (c < *len + n)
			c *= 2;
		if ((g = realloc(*t, c)) == NULL)
			return false;
		*t = g;
		*cap = c;
	}
	memcpy(*t + *len, s, n);
	*len += n;
	return true;
}

/* The menu of the directory fd (taken), named path, into st->text. */
static int
gopher_menu(struct fstate *st, int fd, const char *path, struct svc_out *out)
{
	char host[NET_ADDRSTRLEN + 8], line[1024];
	struct entry *e = NULL, *g;
	struct dirent *d;
	size_t n = 0, cap = 0, i, tcap = 0, more = 0;
	int port = 0, k;
	DIR *dp;
	bool ok = true;

	if ((dp = fdopendir(fd)) == NULL) {
		close(fd);
		return gopher_error(st, out, "cannot read the directory");
	}
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.' && (!st->conf->dotfiles ||
		    strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0))
			continue;
		if (strpbrk(d->d_name, "\t\r\n") != NULL)
			continue;	/* a menu line cannot carry it */
		if (d->d_type != DT_REG && d->d_type != DT_DIR &&
		    d->d_type != DT_LNK && d->d_type != DT_UNKNOWN)
			continue;	/* FIFOs, devices, sockets: never sent */
		if (n == MENU_ENTRIES) {
			more++;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((g = realloc(e, cap * sizeof(*e))) == NULL) {
				ok = false;
				break;
			}
			e = g;
		}
		if ((e[n].name = strdup(d->d_name)) == NULL) {
			ok = false;
			break;
		}
		e[n++].dir = d->d_type == DT_DIR;
	}
	closedir(dp);
	if (ok && n > 0)
		qsort(e, n, sizeof(*e), by_name);
	svc_local(st->sc, host, sizeof(host), &port);
	for (i = 0; ok && i < n; i++) {
		k = snprintf(line, sizeof(line), "%c%s\t/%s%s%s\t%s\t%d\r\n",
		    gopher_type(e[i].name, e[i].dir), e[i].name,
		    strcmp(path, ".") == 0 ? "" : path,
		    strcmp(path, ".") == 0 ? "" : "/", e[i].name, host, port);
		if (k > 0 && (size_t)k < sizeof(line))
			ok = grow_put(&st->text, &st->tlen, &tcap, line,
			    (size_t)k);
	}
	if (ok && more > 0) {
		k = snprintf(line, sizeof(line), "i(%zu more not listed)\t\t"
		    "error.host\t1\r\n", more);
		ok = grow_put(&st->text, &st->tlen, &tcap, line, (size_t)k);
	}
	if (ok)
		ok = grow_put(&st->text, &st->tlen, &tcap, ".\r\n", 3);
	for (i = 0; i < n; i++)
		free(e[i].name);
	free(e);
	if (!ok) {
		text_free(st);
		return gopher_error(st, out, "out of memory");
	}
	st->closing = true;
	return send_text(st, out);
}

static int
gopher_answer(struct fstate *st, const char *sel, size_t len,
    struct svc_out *out)
{
	char path[PATH_MAX_REQ];
	struct stat sb;
	const char *tab = memchr(sel, '\t', len);
	bool dir;
	int fd;

	st->closing = true;
	if (tab != NULL)
		len = (size_t)(tab - sel);	/* Gopher+ and search terms */
	switch (file_path(sel, len, false, st->conf->dotfiles, path,
	    sizeof(path), &dir)) {
	case PATH_OK:
		break;
	case PATH_DOTDOT:
		refused(st, sel, len, "a '..' in the path");
		return gopher_error(st, out, "Forbidden");
	case PATH_HIDDEN:
		refused(st, sel, len, "a hidden name (dot-file)");
		return gopher_error(st, out, "Not found");
	case PATH_LONG:
		return gopher_error(st, out, "Selector too long");
	default:
		return gopher_error(st, out, "Bad selector");
	}
	fd = open_file(st, path, sel, len, &sb);
	if (fd < 0)
		return gopher_error(st, out, fd == -404 ? "Not found" :
		    fd == -503 ? "Server busy" : "Forbidden");
	if (S_ISDIR(sb.st_mode))
		return gopher_menu(st, fd, path, out);
	if (sb.st_size == 0) {
		close(fd);
		return SVC_DONE;
	}
	st->fd = fd;
	svc_emit_file(out, fd, 0, (uint64_t)sb.st_size);
	return SVC_DONE;
}

/* ---- the state machine ---- */

/* Keep bytes [p, p + n) as the unanswered input (p may be in st->buf). */
static int
keep(struct fstate *st, const char *p, size_t n)
{
	char *g;

	if (n == 0) {
		free(st->buf);
		st->buf = NULL;
		st->blen = st->bcap = 0;
		return 0;
	}
	if (st->buf != NULL && (uintptr_t)p >= (uintptr_t)st->buf &&
	    (uintptr_t)p < (uintptr_t)st->buf + st->bcap) {
		memmove(st->buf, p, n);
		st->blen = (uint32_t)n;
		return 0;
	}
	if (n > st->bcap) {
		if ((g = realloc(st->buf, n)) == NULL)
			return -1;
		st->buf = g;
		st->bcap = (uint32_t)n;
	}
	memcpy(st->buf, p, n);
	st->blen = (uint32_t)n;
	return 0;
}

/* A request head is incomplete: watch its deadline. */
static void
head_pending(struct fstate *st)
{
	if (st->w.on)
		return;
	st->head_due = fwatch_now_ms() + st->conf->head_ms;
	if (st->sc->fd >= 0 && fwatch_add(&st->w, st->sc->fd,
	    (unsigned)st->conf->head_ms) == -1)
		log_warn("file: the head-deadline watcher");
}

static int
head_timeout(struct fstate *st, struct svc_out *out)
{
	char peer[NET_ADDRSTRLEN + 8];

	log_info("file: conn %llu from %s: no complete request within %llu ms",
	    (unsigned long long)svc_id(st->sc), svc_peer(st->sc, peer,
	    sizeof(peer)), (unsigned long long)st->conf->head_ms);
	fwatch_del(&st->w);
	keep(st, NULL, 0);
	st->closing = true;
	if (st->mode == M_PLAIN)
		return gopher_error(st, out, "Timeout");
	return http_status(st, out, 408, NULL);
}

/* Answer the first request in [p, p + n), if it is all there; keep what
 * follows it (or all of it, if not). */
static int
serve(struct fstate *st, const char *p, size_t n, struct svc_out *out)
{
	const struct file_conf *c = st->conf;
	const char *nl;
	struct http_req req;
	size_t used, ll;
	ssize_t end;
	int r, status;

	if (st->mode == M_NEW) {
		/* Empty lines before a request line are skipped (RFC 9112
		 * 2.2) -- unless nothing follows: "\r\n" alone is a Gopher
		 * client's empty selector, the root's menu. */
		for (ll = 0; ll < n && (p[ll] == '\r' || p[ll] == '\n'); ll++)
			;
		if (ll > 0 && ll < n) {
			p += ll;
			n -= ll;
		}
		if ((nl = memchr(p, '\n', n)) == NULL) {
			if (n <= c->line_max && !st->at_eof)
				goto incomplete;
			/* Too long for either; or a selector ended by EOF. */
			ll = n;
		} else {
			ll = (size_t)(nl - p);
		}
		while (ll > 0 && p[ll - 1] == '\r')
			ll--;
		st->mode = http_line_is_http(p, ll) ||
		    (ll > c->line_max && memchr(p, ' ', ll) != NULL &&
		    memcmp(p, "GET ", 4) == 0) ? M_HTTP : M_PLAIN;
	}
	if (st->mode == M_PLAIN) {
		nl = memchr(p, '\n', n);
		ll = nl != NULL ? (size_t)(nl - p) : n;
		while (ll > 0 && p[ll - 1] == '\r')
			ll--;
		fwatch_del(&st->w);
		r = ll > c->line_max ? gopher_error(st, out, "Selector too long") :
		    gopher_answer(st, p, ll, out);
		keep(st, NULL, 0);	/* one request a connection */
		return r;
	}
	end = http_head_end(p, n, c->line_max, c->head_max);
	if (end == 0)
		goto incomplete;
	fwatch_del(&st->w);
	if (end < 0) {
		keep(st, NULL, 0);
		return http_status(st, out, (int)-end, NULL);
	}
	used = (size_t)end;
	status = http_parse(p, used, &req);
	if (status != 0) {
		/* (p may be in st->buf: used before keep() frees it.) */
		if (status == 405)
			refused(st, p, (size_t)(memchr(p, ' ', used) ?
			    (const char *)memchr(p, ' ', used) - p : 8),
			    "a method other than GET and HEAD");
		req.target = NULL;
		keep(st, NULL, 0);
		return http_status(st, out, status, &req);
	}
	r = http_answer(st, &req, out);
	if (st->closing) {
		keep(st, NULL, 0);
		return r;
	}
	if (keep(st, p + used, n - used) == -1) {
		st->closing = true;
		return SVC_DONE;	/* the answer goes, then the close */
	}
	st->scanned = false;
	return r;
incomplete:
	if (st->w.on && fwatch_now_ms() >= st->head_due)
		return head_timeout(st, out);	/* a byte at a time */
	if (keep(st, p, n) == -1)
		return SVC_ABORT;
	st->scanned = true;
	head_pending(st);
	return SVC_OK;
}

static int
file_start(void *st_, const struct svc_conn *conn, struct svc_out *out)
{
	struct fstate *st = st_;

	(void)out;
	st->conf = conn->conf;
	st->sc = conn;
	st->fd = -1;
	return SVC_OK;
}

/* The file of the last answer is sent: give it back. */
static void
file_done(struct fstate *st)
{
	if (st->fd >= 0) {
		close(st->fd);
		st->fd = -1;
	}
}

static int
file_input(void *st_, const char *buf, size_t len, struct svc_out *out)
{
	struct fstate *st = st_;
	char *g;

	file_done(st);
	if (st->closing)
		return SVC_OK;		/* after the answer that closes (and
					 * while lingering: dropped) */
	if (st->blen == 0)
		return serve(st, buf, len, out);
	/* After what was kept: at most a head's cap plus one read. */
	if (st->blen + len > st->bcap) {
		if ((g = realloc(st->buf, st->blen + len)) == NULL)
			return SVC_ABORT;
		st->buf = g;
		st->bcap = st->blen + (uint32_t)len;
	}
	memcpy(st->buf + st->blen, buf, len);
	st->blen += (uint32_t)len;
	return serve(st, st->buf, st->blen, out);
}

static int
file_more(void *st_, struct svc_out *out)
{
	struct fstate *st = st_;

	file_done(st);
	if (st->text != NULL) {
		if (st->toff < st->tlen)
			return send_text(st, out);
		text_free(st);
	}
	if (st->lingering)
		return SVC_OK;		/* until the client's EOF */
	if (st->closing)
		return SVC_DONE;
	if (st->blen > 0 && !st->scanned)
		return serve(st, st->buf, st->blen, out);
	if (st->at_eof)
		return SVC_DONE;	/* all answered */
	return SVC_OK;
}

static int
file_eof(void *st_, struct svc_out *out)
{
	struct fstate *st = st_;

	st->at_eof = true;
	if (st->lingering) {
		fwatch_del(&st->w);
		return SVC_DONE;
	}
	if (st->w.on && fwatch_struck(&st->w))
		return head_timeout(st, out);
	fwatch_del(&st->w);
	if (st->text != NULL || st->fd >= 0)
		return SVC_OK;		/* more() finishes the answer */
	if (st->closing)
		return SVC_DONE;
	/* Requests sent before the half-close are answered (a plain one
	 * may end with the EOF instead of a newline). */
	if (st->blen > 0 && (st->mode != M_HTTP || !st->scanned)) {
		st->scanned = false;
		return serve(st, st->buf, st->blen, out);
	}
	return SVC_DONE;
}

static void
file_end(void *st_)
{
	struct fstate *st = st_;

	fwatch_del(&st->w);
	file_done(st);
	free(st->buf);
	st->buf = NULL;
	text_free(st);
}

const struct service service_file = {
	.name = "file",
	.summary = "files under --root: Gopher menus and files, HTTP/1.1 GET",
	.flags = SVC_FILES | SVC_CLIENT_FIRST,
	.options = options,
	.conf_size = sizeof(struct file_conf),
	.option = file_option,
	.ready = file_ready,
	.fini = file_fini,
	.start = file_start,
	.input = file_input,
	.eof = file_eof,
	.more = file_more,
	.end = file_end,
};
