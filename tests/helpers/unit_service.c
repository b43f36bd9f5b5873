/*
 * unit_service: the service contract (engine/service.h), held against every
 * driver.  TAP.
 *
 *   unit_service MODEL [proxy]
 *
 * A probe service, defined here, runs under MODEL in a child process (the
 * engine linked in, set up as concurd sets it up), while this process
 * drives connections that end every way a connection can: the client's
 * close, a half-close, the service's SVC_DONE and SVC_ABORT, the peer's
 * reset, an idle timeout, the stop.  The probe counts in shared memory
 * every start() and every end(), and every file it opens and closes; after
 * the stop, each start must have had exactly one end, and each file its
 * close.  The file ranges the probe emits (svc_emit_file) are checked byte
 * for byte, read at once and read slowly, and one that is longer than the
 * file must end its connection cleanly.
 *
 * With "proxy", the server runs as concurd --proxy-protocol does (the
 * wrapper of engine/proxy.c in front of the probe, or the blocking
 * driver's own header reading), every connection begins with a PROXY
 * header, and the probe greets each client first ("hi\n"), as daytime or
 * chargen would: the contract must hold through the wrapper too, and a
 * command that came in the header's segment must reach the probe after
 * its greeting.
 *
 * The probe's protocol, one command a line:
 *   echo TEXT    TEXT and a newline back
 *   file N       "FILE N\n", then bytes 0..N-1 of the test file
 *   done         "bye\n", then the service ends the connection
 *   abort        the service aborts the connection (nothing sent)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "proxy.h"
#include "server.h"
#include "service.h"
#include "stop.h"

#define FILE_SIZE	(1024 * 1024)
#define IDLE_MS		1500
#define LIVE		0x51feu
#define DEAD		0xdeadu

struct counts {
	_Atomic int starts, ends, bad_ends, opened, closed;
};

static struct counts *cnt;
static char path[256];
static int n, failed;
static const char *model;
static bool proxied;	/* "proxy": a PROXY header first, a greeting */

#define HEADER	"PROXY TCP4 203.0.113.7 192.0.2.1 5000 7\r\n"

static void
ok(int cond, const char *what)
{
	n++;
	printf("%sok %d - %s: %s\n", cond ? "" : "not ", n, model, what);
	if (!cond)
		failed++;
	fflush(stdout);
}

/* ---- the probe service ---- */

struct probe {
	unsigned magic;
	int fd;			/* the file being sent, or -1 */
	size_t linelen;
	char line[80];
	char reply[96];
};

static int
probe_start(void *st, const struct svc_conn *conn, struct svc_out *out)
{
	struct probe *p = st;

	(void)conn;
	p->magic = LIVE;
	p->fd = -1;
	atomic_fetch_add(&cnt->starts, 1);
	if (proxied)
		svc_emit(out, "hi\n", 3);
	return SVC_OK;
}

static void
file_done(struct probe *p)
{
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
		atomic_fetch_add(&cnt->closed, 1);
	}
}

/* One command; what it emits points into the state. */
static int
command(struct probe *p, struct svc_out *out)
{
	unsigned long len;

	if (strncmp(p->line, "echo ", 5) == 0) {
		snprintf(p->reply, sizeof(p->reply), "%s\n", p->line + 5);
		svc_emit(out, p->reply, strlen(p->reply));
		return SVC_OK;
	}
	if (sscanf(p->line, "file %lu", &len) == 1) {
		file_done(p);
		if ((p->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			return SVC_ABORT;
		atomic_fetch_add(&cnt->opened, 1);
		snprintf(p->reply, sizeof(p->reply), "FILE %lu\n", len);
		svc_emit(out, p->reply, strlen(p->reply));
		svc_emit_file(out, p->fd, 0, len);
		return SVC_OK;
	}
	if (strcmp(p->line, "done") == 0) {
		svc_emit(out, "bye\n", 4);
		return SVC_DONE;
	}
	return SVC_ABORT;	/* "abort", and anything else */
}

static int
probe_input(void *st, const char *buf, size_t len, struct svc_out *out)
{
	struct probe *p = st;
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] != '\n') {
			if (p->linelen + 1 >= sizeof(p->line))
				return SVC_ABORT;
			p->line[p->linelen++] = buf[i];
			continue;
		}
		p->line[p->linelen] = '\0';
		p->linelen = 0;
		/* One command per call: the test sends one at a time. */
		return command(p, out);
	}
	return SVC_OK;
}

static int
probe_more(void *st, struct svc_out *out)
{
	(void)out;
	file_done(st);	/* all sent: the contract hands the file back */
	return SVC_OK;
}

static void
probe_end(void *st)
{
	struct probe *p = st;

	if (p->magic != LIVE)
		atomic_fetch_add(&cnt->bad_ends, 1);
	p->magic = DEAD;
	file_done(p);
	atomic_fetch_add(&cnt->ends, 1);
}

static const struct service probe = {
	.name = "probe",
	.summary = "the contract's probe",
	.state_size = sizeof(struct probe),
	.start = probe_start,
	.input = probe_input,
	.eof = svc_eof_done,
	.more = probe_more,
	.end = probe_end,
};

/* ---- the server, in a child ---- */

static _Noreturn void
serve(const struct model *m, int lfd)
{
	struct server srv = { .model = m, .svc = &probe, .lfd = lfd,
	    .socktype = SOCK_STREAM, .workers = 2, .max_workers = 64,
	    .ncpu = 2, .idle_ms = IDLE_MS, .svc_state = sizeof(struct probe),
	    .nodelay_inherited = true };
	struct proxy_conf pc = { .timeout_ms = 3000 };
	int r;

	srv.stats = mmap(NULL, sizeof(*srv.stats), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (srv.stats == MAP_FAILED || server_signals_init(&srv) == -1)
		_exit(71);
	server_set_grace(0);
	if (proxied) {
		srv.proxy = &pc;
		if (proxy_wrap(&srv) < 0)
			_exit(71);
	}
	r = m->run(&srv);
	if (proxied)
		proxy_unwrap(&srv);
	_exit(r < 0 ? 1 : 0);
}

/* ---- the client ---- */

static int port;
static bool greeted(int fd, const char *first);

static int
dial(void)
{
	char p[16];
	struct timeval tv = { 5, 0 };
	int fd;

	snprintf(p, sizeof(p), "%d", port);
	fd = net_connect("127.0.0.1", p, SOCK_STREAM, 5000, 0);
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (proxied && !greeted(fd, HEADER)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The io_uring probe of m->unavailable() leaves this process registered
 * with a ring: when the ring's teardown work runs, later, it notifies the
 * process with task work, and a blocking socket call with a timeout
 * (SO_RCVTIMEO, SO_SNDTIMEO) returns EINTR for it, without any signal.
 * Every call here retries EINTR.
 */
static int
say(int fd, const char *s)
{
	ssize_t r;

	while ((r = send(fd, s, strlen(s), MSG_NOSIGNAL)) == -1 &&
	    errno == EINTR)
		;
	return r == (ssize_t)strlen(s) ? 0 : -1;
}

static bool reply_is(int fd, const char *want);

/* "proxy": the header (and what comes with it), then the greeting. */
static bool
greeted(int fd, const char *first)
{
	return say(fd, first) == 0 && reply_is(fd, "hi\n");
}

/* Read exactly len bytes (or to EOF): how many came. */
static size_t
get(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t r;

	while (got < len) {
		r = read(fd, buf + got, len - got);
		if (r == -1 && errno == EINTR)
			continue;	/* see say() */
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* EOF next (0 bytes, not a timeout, not data). */
static bool
eof_next(int fd)
{
	char c;
	ssize_t r;

	while ((r = read(fd, &c, 1)) == -1 && errno == EINTR)
		;
	return r == 0;
}

static bool
reply_is(int fd, const char *want)
{
	char buf[128];
	size_t len = strlen(want), got, shown;
	const char *nl;
	int err;

	errno = 0;
	got = get(fd, buf, len);
	err = errno;
	if (got == len && memcmp(buf, want, len) == 0)
		return true;
	/* What came, up to its first newline: buf holds got bytes, no NUL. */
	shown = (nl = memchr(buf, '\n', got)) != NULL ? (size_t)(nl - buf) : got;
	printf("# wanted %zu bytes \"%.*s\", got %zu \"%.*s\"%s%s\n", len,
	    (int)strcspn(want, "\n"), want, got, (int)shown, buf,
	    err ? ": " : got < len ? ": EOF" : "", err ? strerror(err) : "");
	return false;
}

/* "file N" of a file of FILE_SIZE: the header, then min(N, FILE_SIZE)
 * pattern bytes.  slow: wait before reading, so the server's socket fills
 * and the driver must wait for it. */
static bool
file_is(int fd, size_t len, bool slow)
{
	char hdr[32];
	size_t want = len < FILE_SIZE ? len : FILE_SIZE, k;
	char *buf = malloc(want + 1);
	bool good;

	snprintf(hdr, sizeof(hdr), "FILE %zu\n", len);
	if (buf == NULL)
		return false;
	if (slow)
		usleep(200 * 1000);
	good = reply_is(fd, hdr) && get(fd, buf, want) == want;
	for (k = 0; good && k < want; k++)
		good = buf[k] == nbytes_pattern(k);
	free(buf);
	return good;
}

static void
reset_close(int fd)
{
	struct linger l = { 1, 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static void
scenarios(void)
{
	int fd, held[3], i;

	fd = dial();
	ok(fd >= 0 && say(fd, "echo hello\n") == 0 && reply_is(fd, "hello\n"),
	    "echo");
	close(fd);		/* the client's close: EOF, then the end */

	fd = dial();
	ok(fd >= 0 && say(fd, "echo half\n") == 0 && reply_is(fd, "half\n") &&
	    shutdown(fd, SHUT_WR) == 0 && eof_next(fd),
	    "a half-close ends the connection");
	close(fd);

	fd = dial();
	ok(fd >= 0 && say(fd, "done\n") == 0 && reply_is(fd, "bye\n") &&
	    eof_next(fd), "SVC_DONE: the reply, then the close");
	close(fd);

	fd = dial();
	ok(fd >= 0 && say(fd, "abort\n") == 0 && eof_next(fd),
	    "SVC_ABORT: closed, nothing sent");
	close(fd);

	fd = dial();
	ok(fd >= 0 && say(fd, "echo x\n") == 0 && reply_is(fd, "x\n"),
	    "echo before a reset");
	reset_close(fd);

	fd = dial();
	ok(fd >= 0 && say(fd, "file 1048576\n") == 0 && file_is(fd, 1048576, false) &&
	    say(fd, "file 1000\n") == 0 && file_is(fd, 1000, false) &&
	    say(fd, "done\n") == 0 && reply_is(fd, "bye\n") && eof_next(fd),
	    "a file range, then another, then more of the protocol");
	close(fd);

	fd = dial();
	ok(fd >= 0 && say(fd, "file 1048576\n") == 0 && file_is(fd, 1048576, true) &&
	    say(fd, "echo after\n") == 0 && reply_is(fd, "after\n"),
	    "a file range to a slow reader, byte-exact");
	close(fd);

	fd = dial();
	ok(fd >= 0 && say(fd, "file 3000000\n") == 0 &&
	    file_is(fd, 3000000, false) && eof_next(fd),
	    "a range past the file's end: what there is, then the close");
	close(fd);

	fd = dial();
	ok(fd >= 0 && say(fd, "echo idle\n") == 0 && reply_is(fd, "idle\n") &&
	    eof_next(fd), "an idle connection is closed by the timeout");
	close(fd);

	fd = dial();
	ok(fd >= 0 && say(fd, "file 1048576\n") == 0, "a file range, abandoned");
	usleep(100 * 1000);
	if (fd >= 0)
		reset_close(fd);	/* mid-send: the driver's error path */

	if (proxied) {
		/* The header and a command in one segment: the command waits
		 * for the greeting (the wrapper keeps it, then hands it over). */
		char p[16];

		snprintf(p, sizeof(p), "%d", port);
		fd = net_connect("127.0.0.1", p, SOCK_STREAM, 5000, 0);
		ok(fd >= 0 && greeted(fd, HEADER "echo with the header\n") &&
		    reply_is(fd, "with the header\n"),
		    "a command in the header's segment: after the greeting");
		if (fd >= 0)
			close(fd);
		fd = net_connect("127.0.0.1", p, SOCK_STREAM, 5000, 0);
		ok(fd >= 0 && say(fd, "echo no header\n") == 0 && eof_next(fd),
		    "no header: closed, nothing sent");
		if (fd >= 0)
			close(fd);
	}
	for (i = 0; i < 3; i++) {
		held[i] = dial();
		ok(held[i] >= 0 && say(held[i], "echo held\n") == 0 &&
		    reply_is(held[i], "held\n"), "a connection held to the stop");
	}
}

static int
make_file(void)
{
	char *buf = malloc(FILE_SIZE);
	int fd;
	size_t k;

	snprintf(path, sizeof(path), "%s/unit_service.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (buf == NULL || (fd = mkstemp(path)) == -1)
		return -1;
	for (k = 0; k < FILE_SIZE; k++)
		buf[k] = nbytes_pattern(k);
	if (write(fd, buf, FILE_SIZE) != FILE_SIZE) {
		close(fd);
		return -1;
	}
	free(buf);
	return close(fd);
}

int
main(int argc, char **argv)
{
	const struct model *m;
	int lfd, status, i;
	pid_t pid;

	if (argc < 2 || argc > 3 || (m = model_find(argv[1])) == NULL ||
	    (argc == 3 && strcmp(argv[2], "proxy") != 0)) {
		fprintf(stderr, "usage: unit_service MODEL [proxy]\n");
		return 64;
	}
	model = argv[1];
	proxied = argc == 3;
	if (m->unavailable != NULL && m->unavailable() != NULL) {
		printf("1..0 # SKIP %s: %s\n", model, m->unavailable());
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	cnt = mmap(NULL, sizeof(*cnt), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cnt == MAP_FAILED || make_file() == -1) {
		perror("unit_service: setup");
		return 1;
	}
	lfd = net_listen("127.0.0.1", "0", SOCK_STREAM, 128, 0);
	if (lfd < 0 || (port = net_local_port(lfd)) <= 0) {
		fprintf(stderr, "unit_service: listen: %s\n", net_strerror(lfd));
		return 1;
	}
	(void)net_set_nodelay(lfd, true);
	if ((pid = fork()) == 0)
		serve(m, lfd);
	close(lfd);
	scenarios();
	usleep(IDLE_MS * 1000 / 2);
	kill(pid, SIGTERM);
	for (i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; i++)
		usleep(100 * 1000);
	if (i == 100) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	ok(i < 100 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the server stops at SIGTERM and exits 0");
	ok(atomic_load(&cnt->starts) > 0 &&
	    atomic_load(&cnt->starts) == atomic_load(&cnt->ends),
	    "every start() had its end()");
	printf("# starts %d, ends %d, files opened %d, closed %d\n",
	    atomic_load(&cnt->starts), atomic_load(&cnt->ends),
	    atomic_load(&cnt->opened), atomic_load(&cnt->closed));
	ok(atomic_load(&cnt->bad_ends) == 0, "no end() twice, none before start()");
	ok(atomic_load(&cnt->opened) == atomic_load(&cnt->closed),
	    "every file the service opened was closed");
	unlink(path);
	printf("1..%d\n", n);
	return failed != 0;
}
