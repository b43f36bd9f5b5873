/*
 * sandbox: no_new_privs, capabilities, landlock and a seccomp allow-list
 * (see sandbox.h).
 *
 * The allow-list is what strace -f showed every model make with every
 * service (bin/concurbench driving each), plus the runtime's own: the
 * stats line and --metrics, logging to a file or to syslog (a unix socket
 * connected again after an error), signals and timers, pools that grow
 * (fork, clone3, socketpair for the fd-passing pool), event loops that grow
 * (a new SO_REUSEPORT listener), the file service's openat2, statx,
 * sendfile, splice, fadvise and cachestat, io_uring.  Everything else is
 * trapped: the SIGSYS handler writes one line naming the call, then the
 * process dies of SIGSYS (a pool's parent logs its worker's death too).  A
 * violation is never silent and never survived.
 *
 * Built with a sanitizer, the runtime's own calls are allowed as well (LSan
 * stops the world at exit with a ptrace-ing thread and reads /proc).
 * Under valgrind there is no sandbox: it emulates system calls itself and
 * loads no seccomp filter.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

const char *
sandbox_unsupported(void)
{
	const char *pre = getenv("LD_PRELOAD");

	if (pre != NULL && strstr(pre, "vgpreload") != NULL)
		return "running under valgrind";
	return NULL;
}

int
sandbox_no_new_privs(void)
{
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ? -errno : 0;
}

int
sandbox_drop_caps(void)
{
	unsigned long cap;

	for (cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 &&
		    errno != EINVAL)	/* past the kernel's last capability */
			return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		return -errno;
	return 0;
}

/* ---- landlock ---- */

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER	(1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV	(1ULL << 15)
#endif

/* Every file-system right the kernel's landlock ABI knows: all handled,
 * so all denied where no rule grants them. */
static uint64_t
handled_fs(int abi)
{
	uint64_t h = (1ULL << 13) - 1;	/* ABI 1: EXECUTE .. MAKE_SYM */

	if (abi >= 2)
		h |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		h |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		h |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return h;
}

/* A rule: access on path (O_PATH), within what the ruleset handles. */
static int
ll_allow(int rs, const char *path, uint64_t access, uint64_t handled)
{
	struct landlock_path_beneath_attr pb = { .allowed_access =
	    access & handled };
	int e = 0;

	if ((pb.parent_fd = open(path, O_PATH | O_CLOEXEC)) == -1)
		return -errno;
	if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH,
	    &pb, 0) == -1)
		e = -errno;
	close(pb.parent_fd);
	return e;
}

/* The directory that holds path (a static buffer: main's thread only). */
static const char *
dir_of(const char *path)
{
	static char dir[4096];
	char *slash;

	if (strlen(path) >= sizeof(dir))
		return ".";
	strcpy(dir, path);
	if ((slash = strrchr(dir, '/')) == NULL)
		return ".";
	if (slash == dir)
		return "/";
	*slash = '\0';
	return dir;
}

/* Sanitizer builds: the directory each runtime writes its reports to
 * (log_path= in ASAN_OPTIONS, TSAN_OPTIONS, UBSAN_OPTIONS), or a report
 * found under the sandbox is lost and the runtime dies of it. */
static int
ll_allow_sanitizer_logs(int rs, uint64_t handled)
{
	static const char *const vars[] = { "ASAN_OPTIONS", "TSAN_OPTIONS",
	    "UBSAN_OPTIONS" };
	char path[4096];
	const char *o, *p;
	size_t i, n;
	int e = 0;

	for (i = 0; e == 0 && i < sizeof(vars) / sizeof(vars[0]); i++) {
		if ((o = getenv(vars[i])) == NULL ||
		    (p = strstr(o, "log_path=")) == NULL)
			continue;
		p += strlen("log_path=");
		n = strcspn(p, ":");
		if (n == 0 || n >= sizeof(path))
			continue;
		memcpy(path, p, n);
		path[n] = '\0';
		if (access(dir_of(path), W_OK) == 0)
			e = ll_allow(rs, dir_of(path),
			    LANDLOCK_ACCESS_FS_WRITE_FILE |
			    LANDLOCK_ACCESS_FS_MAKE_REG, handled);
	}
	return e;
}

int
sandbox_landlock(const struct sandbox_fs *fs)
{
	const uint64_t rd = LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR;
	struct landlock_ruleset_attr ra = { 0 };
	int abi, rs, e = 0;
	size_t i;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0)
		return errno == ENOSYS || errno == EOPNOTSUPP ? -EOPNOTSUPP :
		    -errno;
	ra.handled_access_fs = handled_fs(abi);
	if ((rs = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof(ra),
	    0)) == -1)
		return -errno;
	if (fs->read_root != NULL)
		e = ll_allow(rs, fs->read_root, rd, ra.handled_access_fs);
	/* A rotated log is created again at SIGHUP, beside the old one. */
	if (e == 0 && fs->write_file != NULL)
		e = ll_allow(rs, dir_of(fs->write_file),
		    LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG,
		    ra.handled_access_fs);
	for (i = 0; e == 0 && i < 2; i++)
		if (fs->remove[i] != NULL)
			e = ll_allow(rs, dir_of(fs->remove[i]),
			    LANDLOCK_ACCESS_FS_REMOVE_FILE,
			    ra.handled_access_fs);
	/* The sanitizers' runtime reads /proc (LSan's maps at exit), where
	 * there is one (a chroot may have none). */
	if (e == 0 && SANITIZED && access("/proc", F_OK) == 0)
		e = ll_allow(rs, "/proc", rd, ra.handled_access_fs);
	if (e == 0 && SANITIZED)
		e = ll_allow_sanitizer_logs(rs, ra.handled_access_fs);
	if (e == 0 && syscall(SYS_landlock_restrict_self, rs, 0) == -1)
		e = -errno;
	close(rs);
	return e < 0 ? e : abi;
}

/* ---- seccomp ---- */

/* Names of the system calls, looked up before the filter is loaded: the
 * SIGSYS handler cannot call libseccomp (it allocates). */
#define NNAMES	512
static char *names[NNAMES];

static const char *const allowed[] = {
	/* descriptors and I/O */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
	"pwritev", "preadv2", "pwritev2", "close", "close_range", "dup",
	"dup2", "dup3", "fcntl", "lseek", "pipe", "pipe2", "eventfd2",
	"sendfile", "splice", "tee", "fadvise64", "flock", "fsync",
	"fdatasync", "memfd_create",
	/* files (landlock decides which) */
	"open", "openat", "openat2", "stat", "fstat", "lstat", "newfstatat",
	"statx", "access", "faccessat", "faccessat2", "readlink",
	"readlinkat", "getdents", "getdents64", "getcwd", "unlink", "unlinkat",
	/* sockets (socket() itself: below, by family and type) */
	"accept", "accept4", "bind", "listen", "connect", "socketpair",
	"setsockopt", "getsockopt", "getsockname", "getpeername", "shutdown",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
	/* waiting */
	"select", "pselect6", "poll", "ppoll", "epoll_create", "epoll_create1",
	"epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	/* memory */
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk", "mincore",
	/* processes and threads */
	"clone", "clone3", "fork", "vfork", "wait4", "waitid", "exit",
	"exit_group", "kill", "tgkill", "tkill", "futex", "futex_waitv",
	"set_robust_list", "get_robust_list", "set_tid_address", "rseq",
	"membarrier", "sched_yield", "sched_getaffinity", "getcpu", "prctl",
	"getpid", "gettid", "getppid", "getpgrp", "getpgid", "getsid",
	"getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid",
	"getresgid", "getrusage", "getrlimit", "sysinfo", "uname",
	"getrandom", "umask",
	/* signals */
	"rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "rt_sigtimedwait",
	"rt_sigsuspend", "rt_sigpending", "sigaltstack", "signalfd4",
	"pause", "restart_syscall",
	/* time */
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep",
	"gettimeofday", "time", "timerfd_create", "timerfd_settime",
	"timerfd_gettime", "setitimer", "getitimer", "alarm",
	"timer_create", "timer_settime", "timer_gettime", "timer_delete",
	NULL
};

/* The sanitizers' runtime, besides: LSan's stop-the-world (a thread that
 * ptraces the others, reads their registers and /proc), TSan's and ASan's
 * bookkeeping. */
static const char *const sanitizer_allowed[] = {
	"ptrace", "process_vm_readv", "sched_setaffinity", "setrlimit",
	"prlimit64", "personality", "execve", "mlock", "munlock", "arch_prctl",
	"msync", NULL
};

static void
on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char line[200], num[16];
	const char *name;
	size_t n = 0;
	int nr = si->si_syscall, saved = errno;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t set;

	(void)uc;
	/* "sandbox: system call NR (NAME) is not allowed: ..." */
	name = nr >= 0 && nr < NNAMES ? names[nr] : NULL;
	n = log_sig_put(line, n, sizeof(line), "sandbox: system call ");
	n = log_sig_put(line, n, sizeof(line), log_sig_decimal(num,
	    sizeof(num), (unsigned)nr));
	n = log_sig_put(line, n, sizeof(line), " (");
	n = log_sig_put(line, n, sizeof(line), name != NULL ? name : "unknown");
	n = log_sig_put(line, n, sizeof(line),
	    ") is not allowed: the process is killed (SIGSYS)");
	line[n] = '\0';
	log_signal_line(line);
	/* Die of SIGSYS itself: the parent (or the shell) sees why. */
	sigaction(sig, &dfl, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	errno = saved;
	_exit(70);
}

static int
allow_names(scmp_filter_ctx ctx, const char *const *list)
{
	int nr, e;

	for (; *list != NULL; list++) {
		if ((nr = seccomp_syscall_resolve_name(*list)) == __NR_SCMP_ERROR)
			continue;	/* not on this architecture */
		if (nr < 0)
			continue;	/* a multiplexed or absent call */
		if ((e = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0)
			return e;
	}
	return 0;
}

/* libseccomp's SCMP_An() leave datum_b out (clang's -Wextra says so). */
#define ARG(n, o, a, b) ((struct scmp_arg_cmp){ .arg = (n), .op = (o), \
	.datum_a = (scmp_datum_t)(a), .datum_b = (scmp_datum_t)(b) })

static int
build(scmp_filter_ctx ctx)
{
	static const int fams[] = { AF_UNIX, AF_INET, AF_INET6 };
	static const int types[] = { SOCK_STREAM, SOCK_DGRAM };
	static const unsigned long ioctls[] = { FIONBIO, FIONREAD, FIOCLEX,
	    FIONCLEX, TCGETS, TIOCOUTQ };
	int e, nr;
	size_t i, j;

	if ((e = allow_names(ctx, allowed)) < 0)
		return e;
	if (SANITIZED && (e = allow_names(ctx, sanitizer_allowed)) < 0)
		return e;
	/* A new socket: a listener for a new event loop, syslog's socket;
	 * never a raw or packet one. */
	for (i = 0; i < sizeof(fams) / sizeof(fams[0]); i++)
		for (j = 0; j < sizeof(types) / sizeof(types[0]); j++)
			if ((e = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(socket), 2, ARG(0, SCMP_CMP_EQ, fams[i], 0),
			    ARG(1, SCMP_CMP_MASKED_EQ, 0xf, types[j]))) < 0)
				return e;
	for (i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++)
		if ((e = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl),
		    1, ARG(1, SCMP_CMP_EQ, ioctls[i], 0))) < 0)
			return e;
	/* getrlimit() is prlimit64 without a new limit. */
	if (!SANITIZED && (e = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
	    SCMP_SYS(prlimit64), 1, ARG(2, SCMP_CMP_EQ, 0, 0))) < 0)
		return e;
	/* cachestat (Linux 6.5, the file service's probe of the page cache)
	 * is newer than some libseccomp: by number where the name is
	 * unknown. */
	nr = seccomp_syscall_resolve_name("cachestat");
#if defined(__x86_64__) || defined(__aarch64__)
	if (nr < 0)
		nr = 451;
#endif
	if (nr >= 0)
		(void)seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	return 0;
}

int
sandbox_seccomp(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys,
	    .sa_flags = SA_SIGINFO };
	scmp_filter_ctx ctx;
	int i, e;

	for (i = 0; i < NNAMES; i++)
		if (names[i] == NULL)
			names[i] = seccomp_syscall_resolve_num_arch(
			    SCMP_ARCH_NATIVE, i);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		return -errno;
	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL)
		return -ENOMEM;
	/* Every thread of the process, not only the caller (TSYNC). */
	if ((e = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) == 0 &&
	    (e = build(ctx)) == 0)
		e = seccomp_load(ctx);
	seccomp_release(ctx);
	return e;
}
