/*
 * log: the one place programs report things.
 *
 * Library code never calls these; programs (and the server engine, which is
 * part of concurd) do.  A line is formatted into a local buffer and written
 * with one write(2), so lines from threads and child processes never
 * interleave.  log_warn() appends strerror(errno), log_warnx() does not (the
 * OpenBSD convention); fatal()/fatalx() do the same and exit with a code.
 * errno is preserved across every call.
 *
 * Where a line goes decides its form, not the verbosity: on standard error
 * "PROG: message" (a terminal shows lines as they come, the journal stamps
 * them itself); in a log file a local ISO 8601 timestamp first; syslog
 * stamps its own.
 */
#ifndef CONCUR_LOG_H
#define CONCUR_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdnoreturn.h>

enum log_level {
	LOG_QUIET = 0,	/* errors only */
	LOG_NORMAL = 1,	/* + warnings and notices (default) */
	LOG_VERBOSE = 2,	/* + one line per event (-v) */
	LOG_DEBUG = 3,	/* + debugging detail (-vv) */
};

void log_init(const char *progname, int level);
const char *log_progname(void);
int log_level(void);
void log_set_level(int level);
/* Send lines to syslog(3) instead of stderr (daemons). */
void log_set_syslog(bool on);
/* While on, warnings and errors sent to syslog or a file are also written
 * to standard error: a server's start-up failures reach whoever started
 * it, wherever its logs go once it is up. */
void log_set_stderr_copy(bool on);
/* Send lines to a file (append); NULL goes back to stderr.  Returns -1 with
 * errno on failure and keeps the previous destination. */
int log_set_file(const char *path);
/* Reopen the log file after rotation (SIGHUP).  No-op without a file. */
int log_reopen(void);
/* The open log file's name is now path (after a chroot); NULL: it has none
 * here, and log_reopen() fails with ENOENT.  No-op without a file. */
void log_set_path(const char *path);
/* From a signal handler (async-signal-safe): "PROG: msg" to the log file or
 * stderr; with syslog, to syslog (through a socket of its own, connected
 * when syslog was turned on) and a copy to stderr. */
void log_signal_line(const char *msg);
/* Async-signal-safe pieces of such a line: s at p in buf of cap bytes
 * (less one for a NUL), truncated, giving the new length; and v in
 * decimal, at the end of buf. */
size_t log_sig_put(char *buf, size_t p, size_t cap, const char *s);
const char *log_sig_decimal(char *buf, size_t cap, unsigned long v);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A notice that scripts rely on: printed even with -q. */
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatal(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
noreturn void fatalx(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
