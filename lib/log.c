/*
 * log: stderr (or a file, or syslog) with the program name in front.
 *
 * Each call builds its whole line first and hands it to the kernel in one
 * write(2): lines from many threads or many forked children stay whole.
 * A file's lines carry a timestamp, stderr's do not (see log.h).
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

static const char *progname = "concur";
static int level = LOG_NORMAL;
static bool use_syslog;
static bool stderr_copy;
static int logfd = STDERR_FILENO;
static char logpath[4096];
static bool lost_path;	/* a log file, no name to reopen it by */
/* With syslog: a socket of our own to it, for log_signal_line() (syslog(3)
 * is not async-signal-safe); -1 without. */
static int sigsyslog_fd = -1;

void
log_init(const char *name, int lvl)
{
	const char *slash = strrchr(name, '/');

	progname = slash ? slash + 1 : name;
	level = lvl;
}

const char *
log_progname(void)
{
	return progname;
}

int
log_level(void)
{
	return level;
}

void
log_set_level(int lvl)
{
	level = lvl;
}

void
log_set_stderr_copy(bool on)
{
	stderr_copy = on;
}

void
log_set_syslog(bool on)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };

	if (on && !use_syslog) {
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		sigsyslog_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (sigsyslog_fd >= 0 && connect(sigsyslog_fd,
		    (struct sockaddr *)&a, sizeof(a)) == -1) {
			close(sigsyslog_fd);
			sigsyslog_fd = -1;
		}
	} else if (!on && use_syslog) {
		closelog();
		if (sigsyslog_fd >= 0)
			close(sigsyslog_fd);
		sigsyslog_fd = -1;
	}
	use_syslog = on;
}

size_t
log_sig_put(char *buf, size_t p, size_t cap, const char *s)
{
	while (*s != '\0' && p + 1 < cap)
		buf[p++] = *s++;
	return p;
}

const char *
log_sig_decimal(char *buf, size_t cap, unsigned long v)
{
	size_t k = cap;

	buf[--k] = '\0';
	do
		buf[--k] = (char)('0' + v % 10);
	while ((v /= 10) != 0 && k > 0);
	return buf + k;
}

void
log_signal_line(const char *msg)
{
	char line[512], num[24];
	size_t n = 0;
	int saved = errno;

	if (use_syslog && sigsyslog_fd >= 0) {
		/* RFC 3164 without a timestamp (the receiver adds it):
		 * "<PRI>TAG[PID]: MSG", PRI = daemon.err. */
		n = log_sig_put(line, n, sizeof(line), "<");
		n = log_sig_put(line, n, sizeof(line), log_sig_decimal(num, sizeof(num),
		    LOG_DAEMON | LOG_ERR));
		n = log_sig_put(line, n, sizeof(line), ">");
		n = log_sig_put(line, n, sizeof(line), progname);
		n = log_sig_put(line, n, sizeof(line), "[");
		n = log_sig_put(line, n, sizeof(line), log_sig_decimal(num, sizeof(num),
		    (unsigned long)getpid()));
		n = log_sig_put(line, n, sizeof(line), "]: ");
		n = log_sig_put(line, n, sizeof(line), msg);
		(void)!send(sigsyslog_fd, line, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		n = 0;
	}
	n = log_sig_put(line, n, sizeof(line), progname);
	n = log_sig_put(line, n, sizeof(line), ": ");
	n = log_sig_put(line, n, sizeof(line), msg);
	line[n++] = '\n';
	if (!use_syslog)
		(void)!write(logfd, line, n);
	if (use_syslog || logfd != STDERR_FILENO)
		(void)!write(STDERR_FILENO, line, n);
	errno = saved;
}

int
log_set_file(const char *path)
{
	int fd;

	if (path == NULL) {
		if (logfd != STDERR_FILENO)
			close(logfd);
		logfd = STDERR_FILENO;
		logpath[0] = '\0';
		lost_path = false;
		return 0;
	}
	if (strlen(path) >= sizeof(logpath)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	if (logfd != STDERR_FILENO)
		close(logfd);
	logfd = fd;
	strcpy(logpath, path);
	lost_path = false;
	return 0;
}

int
log_reopen(void)
{
	char path[sizeof(logpath)];

	if (lost_path) {
		errno = ENOENT;
		return -1;
	}
	if (logpath[0] == '\0')
		return 0;
	strcpy(path, logpath);
	return log_set_file(path);
}

void
log_set_path(const char *path)
{
	if (logpath[0] == '\0' && !lost_path)
		return;
	lost_path = path == NULL || strlen(path) >= sizeof(logpath);
	if (lost_path)
		logpath[0] = '\0';
	else
		strcpy(logpath, path);
}

/* "[timestamp ]PROG: message[: strerror]\n" into line; its length. */
static size_t
format(char *line, size_t cap, bool stamp, const char *msg, int err)
{
	size_t n = 0;
	int r;

	if (stamp) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n += strftime(line, cap, "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line + n, cap - n, ".%03ld ", ts.tv_nsec / 1000000);
		if (r > 0 && (size_t)r < cap - n)
			n += (size_t)r;
	}
	r = err >= 0 ? snprintf(line + n, cap - n, "%s: %s: %s", progname, msg,
	    strerror(err)) : snprintf(line + n, cap - n, "%s: %s", progname, msg);
	if (r > 0)
		n += (size_t)r < cap - n ? (size_t)r : cap - n - 1;
	if (n >= cap - 1)
		n = cap - 2;
	line[n++] = '\n';
	return n;
}

static void vlog(int, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
vlog(int prio, int err, const char *fmt, va_list ap)
{
	char msg[1900], line[2048];
	bool to_stderr = !use_syslog && logfd == STDERR_FILENO;
	int saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (use_syslog) {
		if (err >= 0)
			syslog(prio, "%s: %s", msg, strerror(err));
		else
			syslog(prio, "%s", msg);
	} else if (!to_stderr) {
		(void)io_write_all(logfd, line, format(line, sizeof(line), true,
		    msg, err));
	}
	if (to_stderr || (stderr_copy && prio <= LOG_WARNING))
		(void)io_write_all(STDERR_FILENO, line, format(line,
		    sizeof(line), false, msg, err));
	errno = saved;
}

#define LOGFN(name, lvl, prio, witherr)				\
void								\
name(const char *fmt, ...)					\
{								\
	va_list ap;						\
	int err = errno;					\
								\
	if (level < (lvl))					\
		return;						\
	va_start(ap, fmt);					\
	vlog(prio, (witherr) ? err : -1, fmt, ap);		\
	va_end(ap);						\
}

LOGFN(log_warn, LOG_QUIET, LOG_WARNING, 1)
LOGFN(log_warnx, LOG_QUIET, LOG_WARNING, 0)
LOGFN(log_info, LOG_NORMAL, LOG_NOTICE, 0)
LOGFN(log_notice, LOG_QUIET, LOG_NOTICE, 0)
LOGFN(log_verbose, LOG_VERBOSE, LOG_INFO, 0)
/* syslog.h's LOG_DEBUG (7) hides log.h's level of that name here. */
LOGFN(log_debug, LOG_VERBOSE + 1, LOG_DEBUG, 0)

void
fatal(int code, const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	va_start(ap, fmt);
	vlog(LOG_ERR, err, fmt, ap);
	va_end(ap);
	exit(code);
}

void
fatalx(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, -1, fmt, ap);
	va_end(ap);
	exit(code);
}
