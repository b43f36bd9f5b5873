/*
 * fuzz/file.c: the file service's request parsing -- HTTP heads, Gopher
 * selectors, paths -- driven through its struct service as a driver does
 * (service.h's contract), the input cut into arbitrary pieces, against a
 * small tree made once under $TMPDIR.
 *
 * Input: byte 0 seeds the split sizes; the rest is what a client sends,
 * then its EOF.  Checked: every emission is within SVC_OUT_MAX slices and
 * SVC_EMIT_MAX bytes; every HTTP answer begins "HTTP/1.1 " with a status
 * the service documents; a file range never reaches past the file; a
 * Gopher answer is the file, a menu ending ".\r\n" or an error item; the
 * service ends (SVC_DONE or quiet) after the EOF; and no file it opened is
 * left open after end().  The parser's pieces are fuzzed alone too:
 * http_head_end(), http_parse(), http_range(), http_date_parse() and
 * file_path(), with their own invariants (a path never has a ".." or, by
 * default, a dot-name; a range is within the file).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service.h"
#include "../services/file.h"

extern const struct service service_file;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct svc_setup setup;
static char root[256];

static void
remove_tree(void)
{
	static const char *const names[] = { "a.txt", ".hidden",
		"docs/index.html", "docs" };
	char p[300];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, names[i]);
		(void)remove(p);
	}
	(void)rmdir(root);
}

static void
make_tree(void)
{
	char p[300];
	const char *tmp = getenv("TMPDIR");
	int fd;

	snprintf(root, sizeof(root), "%s/fuzz-file.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(root) == NULL)
		abort();
	atexit(remove_tree);
	snprintf(p, sizeof(p), "%s/docs", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/a.txt", root);
	if ((fd = open(p, O_WRONLY | O_CREAT, 0644)) < 0 ||
	    write(fd, "0123456789", 10) != 10)
		abort();
	close(fd);
	snprintf(p, sizeof(p), "%s/docs/index.html", root);
	if ((fd = open(p, O_WRONLY | O_CREAT, 0644)) < 0)
		abort();
	close(fd);
	snprintf(p, sizeof(p), "%s/.hidden", root);
	if ((fd = open(p, O_WRONLY | O_CREAT, 0644)) < 0)
		abort();
	close(fd);
}

static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static int closed;

static void
take(const struct svc_out *o)
{
	struct stat sb;
	size_t i;

	if (o->n > SVC_OUT_MAX || svc_out_len(o) > SVC_EMIT_MAX)
		abort();
	for (i = 0; i < (size_t)o->n; i++)
		if (o->iov[i].iov_len == 0 || o->iov[i].iov_base == NULL)
			abort();
	if (o->n > 0 && o->iov[0].iov_len >= 9 &&
	    memcmp(o->iov[0].iov_base, "HTTP/1.1 ", 9) == 0) {
		const char *h = o->iov[0].iov_base;
		int st = atoi(h + 9);

		if (st != 200 && st != 206 && st != 301 && st != 304 &&
		    st != 400 && st != 403 && st != 404 && st != 405 &&
		    st != 408 && st != 414 && st != 416 && st != 431 &&
		    st != 503 && st != 505)
			abort();
	}
	if (o->file.len > 0) {
		if (fstat(o->file.fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
		    (uint64_t)o->file.off + o->file.len > (uint64_t)sb.st_size)
			abort();
	}
}

static void
drain(void *st, struct svc_out *o, int r)
{
	int guard = 0;

	for (;;) {
		take(o);
		svc_out_init(o);
		if (r != SVC_OK) {
			closed = 1;
			return;
		}
		r = service_file.more(st, o);
		if (!svc_out_pending(o) && r == SVC_OK)
			return;
		if (++guard > 100000)
			abort();
	}
}

/* The parser alone. */
static void
pieces(const uint8_t *d, size_t n)
{
	struct http_req r;
	char path[256];
	uint64_t off, len;
	ssize_t e;
	bool dir;

	e = http_head_end((const char *)d, n, 512, 2048);
	if (e > (ssize_t)n)
		abort();
	if (http_parse((const char *)d, n, &r) == 0) {
		if (r.target == NULL || r.target < (const char *)d ||
		    r.target + r.target_len > (const char *)d + n)
			abort();
		if (http_range(&r, 1000, &off, &len) > 0 &&
		    (len == 0 || off + len > 1000))
			abort();
	}
	(void)http_date_parse((const char *)d, n);
	if (file_path((const char *)d, n, n & 1, false, path, sizeof(path),
	    &dir) == PATH_OK) {
		const char *p = path;

		if (strlen(path) >= sizeof(path))
			abort();
		for (; p != NULL; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
			if (p[0] == '.' && !(p[1] == '\0' && p == path))
				abort();	/* "..", or a hidden name */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_Alignas(max_align_t) static unsigned char st[4096];
	struct svc_out o;
	struct svc_conn conn = { .fd = -1 };
	char err[256];
	uint32_t rs;
	size_t off = 1;
	int r, fds;

	if (setup.svc == NULL) {
		make_tree();
		if (svc_setup_init(&setup, &service_file) == -1 ||
		    svc_setup_option(&setup, "root", root, err, sizeof(err)) ||
		    svc_setup_option(&setup, "file-line-max", "512", err,
		    sizeof(err)) ||
		    svc_setup_option(&setup, "file-head-max", "2048", err,
		    sizeof(err)) ||
		    svc_setup_ready(&setup, err, sizeof(err)) == -1 ||
		    setup.state_size > sizeof(st)) {
			fprintf(stderr, "fuzz/file: %s\n", err);
			abort();
		}
	}
	if (size < 1)
		return 0;
	pieces(data + 1, size - 1);
	fds = open_fds();
	conn.conf = setup.conf;
	rs = data[0] * 2654435761u + 1;
	closed = 0;
	memset(st, 0, setup.state_size);
	svc_out_init(&o);
	r = service_file.start(st, &conn, &o);
	drain(st, &o, r);
	while (off < size && !closed) {
		size_t n;

		rs = rs * 1103515245u + 12345u;
		n = 1 + (rs >> 16) % 13;
		if ((rs >> 8) % 4 == 0)
			n = size - off;
		if (n > size - off)
			n = size - off;
		r = service_file.input(st, (const char *)data + off, n, &o);
		drain(st, &o, r);
		off += n;
	}
	if (!closed) {
		r = service_file.eof(st, &o);
		drain(st, &o, r);
	}
	service_file.end(st);
	if (open_fds() != fds)
		abort();	/* a file left open */
	return 0;
}
