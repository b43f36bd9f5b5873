/*
 * concurd: one server where any concurrency model runs any service.
 *
 * main parses the command line (the service's own options among the rest),
 * configures the service, binds the listening socket, hands it to the
 * chosen model and, when the model returns (after SIGTERM or SIGINT),
 * prints the exit summary: connections served and the CPU time of the
 * server and all its children (getrusage SELF + CHILDREN), the figure UNP
 * ch. 30 compares designs by.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "accept.h"
#include "concurd.h"
#include "admit.h"
#include "drivers/blocking.h"
#include "io.h"
#include "log.h"
#include "loops.h"
#include "memwatch.h"
#include "metrics.h"
#include "net.h"
#include "parse.h"
#include "sdnotify.h"
#include "proxy.h"
#include "sandbox.h"
#include "server.h"
#include "stop.h"
#include "udp.h"


static void
usage(FILE *f)
{
	const struct svc_option *o;
	size_t i;

	fprintf(f,
"usage: concurd [-m MODEL] [-s SERVICE] [-b ADDRESS] [-p PORT] [-w WORKERS]\n"
"               [options] [-- PROGRAM ARGS... (with -s exec)]\n"
"\n"
"  -m, --model MODEL       concurrency model (default: uring where the kernel\n"
"                          allows it, else epoll; see --list)\n"
"  -s, --service NAME      service (default echo; see --list)\n"
"  -b, --bind ADDRESS      address to listen on (default: all, IPv4 and\n"
"                          IPv6), or unix:PATH, a Unix-domain socket\n"
"  -p, --port PORT         port number or service name; 0 = any free port\n"
"                          (default: the service's well-known port)\n"
"  -w, --workers N         pool size / event loops (default: per model)\n"
"      --max-workers N     pools grow up to N workers (default 256); event\n"
"                          loops without -w grow up to N (default: 1/CPU)\n"
"      --loop-busy PCT     event loops without -w: another loop when every\n"
"                          loop is busy PCT%% of its time and a CPU is free\n"
"                          (default 85)\n"
"      --backlog N         listen backlog (default %d)\n"
"      --reuseport         select, poll, epoll: a SO_REUSEPORT listener per\n"
"                          loop instead of one shared listener\n"
"  -u, --udp               serve the service over UDP (iteratively)\n"
"      --unix-mode MODE    -b unix:PATH: the socket file's mode (e.g. 0660)\n"
"      --unix-owner USER[:GROUP]  -b unix:PATH: the socket file's owner\n"
"Socket options (on the listener; accepted connections inherit them):\n"
"      --sndbuf BYTES      SO_SNDBUF (default: the kernel's autotuning)\n"
"      --rcvbuf BYTES      SO_RCVBUF (default: the kernel's autotuning)\n"
"      --nodelay           TCP_NODELAY: small writes go at once (default)\n"
"      --no-nodelay        Nagle's algorithm: small writes wait for an ACK\n"
"      --keepalive IDLE,INTVL,CNT  SO_KEEPALIVE: probe after IDLE s idle,\n"
"                          every INTVL s, drop after CNT unanswered\n"
"      --linger SEC        SO_LINGER: close() waits SEC for unsent data\n"
"                          (0: close() resets the connection)\n"
"      --fastopen QLEN     TCP_FASTOPEN: data in the SYN (needs the\n"
"                          net.ipv4.tcp_fastopen server bit)\n"
"      --defer-accept SEC  accept a connection when its first data comes,\n"
"                          a silent one after SEC (TCP_DEFER_ACCEPT;\n"
"                          default 1 in the event loops where the client\n"
"                          speaks first; 0: off)\n"
"      --reuseaddr         SO_REUSEADDR: bind next to TIME_WAIT (default)\n"
"      --no-reuseaddr      without it: a restart may find the port in use\n"
"Limits:\n"
"      --max-conns N       at most N connections at once; more wait in the\n"
"                          backlog (the listener is not polled)\n"
"      --per-ip N          at most N connections per client address (IPv6:\n"
"                          per /64); more are closed at once\n"
"      --idle-timeout SEC  close a connection that moves no byte for SEC\n"
"      --allow CIDR        accept only from these blocks (repeatable)\n"
"      --deny CIDR         refuse these blocks (repeatable; first match wins)\n"
"Behind a load balancer:\n"
"      --proxy-protocol    every connection starts with a PROXY header (v1\n"
"                          or v2): limits, rules and logs see its client\n"
"      --proxy-from CIDR   a header is due only from these peers (the\n"
"                          balancers; repeatable); others are clients\n"
"      --proxy-timeout SEC  the whole header within SEC (default 5)\n"
"      --grace SEC         on SIGTERM, let connections finish for SEC\n"
"Running:\n"
"      --inetd             serve the one connection on stdin/stdout\n"
"      --user NAME         drop privileges to NAME after binding\n"
"      --group NAME        and to group NAME (default: NAME's group)\n"
"      --chroot DIR        serve with DIR as the root directory, once\n"
"                          listening (needs root; give --user too)\n"
"      --daemon            detach (double fork, setsid) once listening;\n"
"                          logs to syslog\n"
"      --pid-file FILE     write the server's pid to FILE\n"
"      --no-sandbox        serve without the sandbox (seccomp system-call\n"
"                          allow-list, landlock, no_new_privs)\n"
"Logging:\n"
"  -v, --verbose           log every connection (twice: debug)\n"
"  -q, --quiet             errors and warnings only (and the listening,\n"
"                          stats and summary lines)\n"
"      --syslog            log to syslog instead of stderr\n"
"      --log-file FILE     log to FILE, lines timestamped (SIGHUP reopens)\n"
"      --stats-interval SEC  log a stats line every SEC (SIGUSR1: now)\n"
"      --metrics ADDRESS:PORT  serve the stats to Prometheus over HTTP\n"
"                          (GET /metrics; ADDRESS empty: every address)\n"
"Other:\n"
"  -l, --list[=KIND]       list models, services and service options, one\n"
"                          per line; KIND: processes, threads, pools or\n"
"                          loops lists only those models\n"
"  -h, --help              this help\n"
"  -V, --version           version\n",
	    SOMAXCONN);
	fprintf(f, "Service options (with -s SERVICE):\n");
	for (i = 0; services[i] != NULL; i++)
		for (o = services[i]->options; o != NULL && o->name; o++) {
			char left[64];

			snprintf(left, sizeof(left), "--%s%s%s", o->name,
			    o->arg ? " " : "", o->arg ? o->arg : "");
			fprintf(f, "      %-18s  %s: %s\n", left,
			    services[i]->name, o->help);
		}
	fprintf(f,
"\n"
"On start concurd prints 'concurd: listening on ADDRESS port PORT (model M,\n"
"service S)'.  SIGTERM or SIGINT stop it (a second one: at once) and print a\n"
"summary line.  Started by systemd with LISTEN_FDS, it serves the sockets\n"
"passed (one stream, and one datagram beside it); with NOTIFY_SOCKET it says\n"
"READY=1, STATUS= (the stats line) and STOPPING=1 (Type=notify).\n");
}

/* --list[=KIND]: models (of a kind), services, service options. */
static int
list(const char *kind)
{
	static const struct { const char *name; unsigned flag; } kinds[] = {
		{ "processes", MODEL_PROCESS }, { "threads", MODEL_THREADS },
		{ "pools", MODEL_POOL }, { "loops", MODEL_LOOPS },
	};
	const struct svc_option *o;
	unsigned flag = 0;
	size_t i;

	for (i = 0; kind != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kind, kinds[i].name) == 0)
			flag = kinds[i].flag;
	if (kind != NULL && flag == 0)
		fatalx(EX_USAGE, "--list=%s: KIND is processes, threads, pools or "
		    "loops", kind);
	for (i = 0; models[i] != NULL; i++)
		if (flag == 0 || (models[i]->flags & flag))
			printf("model %s\n", models[i]->name);
	if (flag != 0)
		return EX_OK;
	for (i = 0; services[i] != NULL; i++) {
		printf("service %s\n", services[i]->name);
		for (o = services[i]->options; o != NULL && o->name; o++)
			printf("option %s --%s%s%s\n", services[i]->name, o->name,
			    o->arg ? " " : "", o->arg ? o->arg : "");
	}
	return EX_OK;
}

static int
num(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	uint64_t v;

	if (parse_uint(s, min, max, &v) == -1)
		fatalx(EX_USAGE, "%s: '%s' is not a number from %llu to %llu",
		    opt, s, (unsigned long long)min, (unsigned long long)max);
	return (int)v;
}

/* --sndbuf, --rcvbuf: the kernel doubles what it is given, so half of
 * INT_MAX is the most it can take. */
static int
bufsize(const char *opt, const char *s)
{
	uint64_t v;

	if (parse_size(s, INT32_MAX / 2, &v) == -1 || v == 0)
		fatalx(EX_USAGE, "%s: '%s' is not a size from 1 to 1G (e.g. "
		    "65536, 256k, 4M)", opt, s);
	return (int)v;
}

/* --keepalive IDLE,INTVL,CNT: seconds before the first probe, seconds
 * between probes, probes unanswered before the connection is dropped
 * (the kernel's bounds). */
static void
keepalive(struct net_sockopts *o, const char *s)
{
	char buf[64], *f[3], *save = NULL;
	uint64_t v[3];
	int i;

	if (strlen(s) >= sizeof(buf))
		goto bad;
	strcpy(buf, s);
	for (i = 0; i < 3; i++)
		if ((f[i] = strtok_r(i ? NULL : buf, ",", &save)) == NULL)
			goto bad;
	if (strtok_r(NULL, ",", &save) != NULL ||
	    parse_uint(f[0], 1, 32767, &v[0]) == -1 ||
	    parse_uint(f[1], 1, 32767, &v[1]) == -1 ||
	    parse_uint(f[2], 1, 127, &v[2]) == -1)
		goto bad;
	o->keepalive = true;
	o->keepidle = (int)v[0];
	o->keepintvl = (int)v[1];
	o->keepcnt = (int)v[2];
	return;
bad:
	fatalx(EX_USAGE, "--keepalive: '%s' is not IDLE,INTVL,CNT (seconds "
	    "1-32767, seconds 1-32767, probes 1-127; e.g. 60,10,5)", s);
}

static void
summary(struct server *srv)
{
	struct stats *s = srv->stats;
	uint64_t conns = atomic_load(&s->served);
	double user, sys;
	char spread[4096];
	int nslots = server_spread(srv, spread, sizeof(spread));

	if (server_cpu(&user, &sys) == -1) {
		log_warn("getrusage");
		return;
	}
	log_notice("summary: model=%s service=%s%s connections=%llu "
	    "bytes_in=%llu bytes_out=%llu errors=%llu resets=%llu refused=%llu "
	    "udp_dropped=%llu user=%.6f sys=%.6f cpu=%.6f "
	    "cpu_us_per_conn=%.1f workers=%d spread=%s",
	    srv->model->name, srv->svc->name, srv->socktype == SOCK_DGRAM ?
	    "/udp" : srv->udp_too ? "/tcp+udp" : "",
	    (unsigned long long)conns,
	    (unsigned long long)atomic_load(&s->bytes_in),
	    (unsigned long long)atomic_load(&s->bytes_out),
	    (unsigned long long)atomic_load(&s->errors),
	    (unsigned long long)atomic_load(&s->resets),
	    (unsigned long long)stats_refused(s),
	    (unsigned long long)atomic_load(&s->udp_dropped),
	    user, sys, user + sys,
	    conns ? (user + sys) * 1e6 / (double)conns : 0.0,
	    nslots, spread);
}

static int
seconds_ms(const char *opt, const char *s)
{
	uint64_t us;

	if (parse_duration_us(s, &us) == -1 || us > (uint64_t)INT32_MAX * 1000)
		fatalx(EX_USAGE, "%s: '%s' is not a duration (e.g. 30, 1.5, "
		    "250ms, 2m)", opt, s);
	return (int)((us + 999) / 1000);
}

static void
add_rule(struct server *srv, const char *cidr, bool allow)
{
	struct acl_rule *v;

	v = realloc(srv->acl, (size_t)(srv->nacl + 1) * sizeof(*v));
	if (v == NULL)
		fatal(EX_OSERR, "rules");
	srv->acl = v;
	if (cidr_parse(cidr, &v[srv->nacl].net) == -1)
		fatalx(EX_USAGE, "%s: '%s' is not an address or address/prefix",
		    allow ? "--allow" : "--deny", cidr);
	v[srv->nacl++].allow = allow;
}

static int
metrics_error(int e, const char *spec)
{
	log_warnx("--metrics %s: cannot listen: %s", spec, net_strerror(e));
	if (NET_IS_EAI(e))
		return EX_NOHOST;
	if (e == -EACCES)
		return EX_NOPERM;
	return e == -EADDRINUSE || e == -EADDRNOTAVAIL ? EX_UNAVAILABLE :
	    EX_OSERR;
}

/* What the command line built, at exit. */
static void
free_conf(struct server *srv)
{
	free(srv->acl);
	if (srv->proxy != NULL) {
		free(srv->proxy->from);
		free(srv->proxy);
	}
}

/* --proxy-protocol and its kin: the configuration, made once. */
static struct proxy_conf *
proxy_conf(struct server *srv)
{
	if (srv->proxy == NULL) {
		if ((srv->proxy = calloc(1, sizeof(*srv->proxy))) == NULL)
			fatal(EX_OSERR, "--proxy-protocol");
		srv->proxy->timeout_ms = PROXY_TIMEOUT_MS;
	}
	return srv->proxy;
}

static void
proxy_from(struct proxy_conf *p, const char *cidr)
{
	struct cidr *v;

	v = realloc(p->from, (size_t)(p->nfrom + 1) * sizeof(*v));
	if (v == NULL)
		fatal(EX_OSERR, "--proxy-from");
	p->from = v;
	if (cidr_parse(cidr, &v[p->nfrom]) == -1)
		fatalx(EX_USAGE, "--proxy-from: '%s' is not an address or "
		    "address/prefix", cidr);
	p->nfrom++;
}

/*
 * --user/--group in two halves around --chroot: privileges_begin() looks
 * the names up and sets the groups (both read /etc, which a chroot hides);
 * privileges_end() drops the capabilities and the ids.
 */
struct ids {
	uid_t uid;
	gid_t gid;
	bool dropping;
};

static struct ids
privileges_begin(const char *user, const char *group)
{
	struct passwd *pw = NULL;
	struct group *gr = NULL;
	struct ids ids = { getuid(), getgid(), user != NULL || group != NULL };

	if (!ids.dropping)
		return ids;
	if (user != NULL && (pw = getpwnam(user)) == NULL)
		fatalx(EX_NOUSER, "--user: no user '%s'", user);
	if (group != NULL && (gr = getgrnam(group)) == NULL)
		fatalx(EX_NOUSER, "--group: no group '%s'", group);
	ids.gid = gr ? gr->gr_gid : pw ? pw->pw_gid : getgid();
	ids.uid = pw ? pw->pw_uid : getuid();
	if (pw != NULL && initgroups(pw->pw_name, ids.gid) == -1)
		fatal(EX_NOPERM, "--user %s: initgroups", user);
	if (pw == NULL && setgroups(1, &ids.gid) == -1)
		fatal(EX_NOPERM, "--group %s: setgroups", group);
	return ids;
}

static void
privileges_end(const struct ids *ids)
{
	int e;

	if (!ids->dropping)
		return;
	/* No capability can come back (emptying the bounding set takes
	 * CAP_SETPCAP: before setuid). */
	if (geteuid() == 0 && (e = sandbox_drop_caps()) < 0)
		fatalx(EX_NOPERM, "dropping capabilities: %s", strerror(-e));
	if (setgid(ids->gid) == -1)
		fatal(EX_NOPERM, "setgid %d", (int)ids->gid);
	if (setuid(ids->uid) == -1)
		fatal(EX_NOPERM, "setuid %d", (int)ids->uid);
	/* Refuse to go on as root when asked not to be. */
	if (ids->uid != 0 && (setuid(0) != -1 || geteuid() == 0 ||
	    getuid() == 0))
		fatalx(EX_NOPERM, "could not drop root privileges");
	if (ids->gid != 0 && (getegid() == 0 || getgid() == 0))
		fatalx(EX_NOPERM, "could not drop the root group");
	log_verbose("running as uid %d gid %d", (int)getuid(), (int)getgid());
}

/*
 * --daemon, in two halves around the rest of the start.  daemon_begin():
 * double fork and setsid; the process that ran concurd waits on a pipe
 * until the server is up, so a failure before that (a pid file that cannot
 * be written...) is still said on the terminal, and its exit status is the
 * server's.  daemon_ready(): the server is up; standard input, output and
 * error to /dev/null, and the waiting process exits 0.
 */
static int daemon_fd = -1;	/* the pipe's write end, until ready */
static int devnull_fd = -1;	/* opened before a chroot hides /dev */

static void
daemon_exiting(int status, void *arg)
{
	unsigned char code = (unsigned char)(status == 0 ? EX_SOFTWARE : status);

	(void)arg;
	if (daemon_fd >= 0)
		(void)io_write_all(daemon_fd, &code, 1);
}

static void
daemon_begin(void)
{
	unsigned char code;
	pid_t pid;
	int p[2];
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal(EX_OSERR, "pipe");
	if ((pid = fork()) == -1)
		fatal(EX_OSERR, "fork");
	if (pid > 0) {
		close(p[1]);
		do
			n = read(p[0], &code, 1);
		while (n == -1 && errno == EINTR);
		if (n == 1)
			_exit(code);
		if (n == -1)
			fatal(EX_OSERR, "--daemon: waiting for the server");
		fatalx(EX_SOFTWARE, "--daemon: the server ended before it was "
		    "up");
	}
	close(p[0]);
	if (setsid() == -1)
		fatal(EX_OSERR, "setsid");
	if ((pid = fork()) == -1)
		fatal(EX_OSERR, "fork");
	if (pid > 0)
		_exit(EX_OK);	/* the grandchild can never regain a tty */
	daemon_fd = p[1];
	if (on_exit(daemon_exiting, NULL) != 0)
		fatalx(EX_OSERR, "on_exit");
	(void)server_cpu_baseline(true);
	if (chdir("/") == -1)
		fatal(EX_OSERR, "chdir /");
	if ((devnull_fd = open("/dev/null", O_RDWR)) == -1)
		fatal(EX_OSERR, "/dev/null");
}

static void
daemon_ready(void)
{
	unsigned char ok = EX_OK;
	int fd = devnull_fd;

	if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1 ||
	    dup2(fd, STDERR_FILENO) == -1)
		fatal(EX_OSERR, "dup2");
	if (fd > STDERR_FILENO)
		close(fd);
	devnull_fd = -1;
	fd = daemon_fd;
	daemon_fd = -1;
	if (io_write_all(fd, &ok, 1) == -1)
		log_warn("--daemon: telling the starting process");
	close(fd);
}

static void
write_pidfile(const char *path)
{
	char buf[32];
	int fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		fatal(EX_CANTCREAT, "--pid-file %s", path);
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (io_write_all(fd, buf, (size_t)n) == -1 || close(fd) == -1)
		fatal(EX_CANTCREAT, "--pid-file %s", path);
}

/* --inetd: the connection is on descriptors 0 and 1 (the same socket). */
static int
run_inetd(struct server *srv)
{
	bool owns = srv->svc->takeover != NULL;
	int fd;

	fd = dup(STDIN_FILENO);	/* keep 0/1 for a program that takes over */
	if (fd == -1)
		return -errno;
	accept_taken(srv, fd);
	serve_blocking(srv, owns ? STDIN_FILENO : fd, -1);
	if (owns)
		close(fd);
	else
		close(STDIN_FILENO);
	return 0;
}

/* path made absolute against the current directory (NULL stays NULL). */
static const char *
absolute(const char *path)
{
	char cwd[4096], *abs;

	if (path == NULL || path[0] == '/')
		return path;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		fatal(EX_OSERR, "getcwd");
	if (asprintf(&abs, "%s/%s", cwd, path) == -1)
		fatal(EX_OSERR, "asprintf");
	return abs;	/* lives as long as the process */
}

/*
 * --chroot DIR.  Checked before anything is bound; entered once every file
 * the server reads later is open (the listener, the log, /proc/stat, the
 * service's root, /dev/null for --daemon) and privileges_begin() has read
 * /etc.  The names the server still uses (the pid file and a Unix socket
 * to remove at exit, the log to reopen at SIGHUP, the sandbox's rules)
 * become their names inside DIR, or none where they lie outside it.
 */

/* PATH (absolute; whole: all of it exists, else its directory does) as
 * named inside the directory dir (a real path), allocated; NULL if it is
 * not beneath dir. */
static char *
inside(const char *dir, const char *path, bool whole)
{
	char buf[PATH_MAX], real[PATH_MAX + NAME_MAX + 2], *slash, *in;
	size_t n = strlen(dir);

	if (whole) {
		if (realpath(path, real) == NULL)
			return NULL;
	} else {
		if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf) ||
		    (slash = strrchr(buf, '/')) == NULL)
			return NULL;
		*slash = '\0';
		if (realpath(buf[0] != '\0' ? buf : "/", real) == NULL)
			return NULL;
		snprintf(real + strlen(real), sizeof(real) - strlen(real),
		    "%s%s", strcmp(real, "/") == 0 ? "" : "/", slash + 1);
	}
	if (strcmp(dir, "/") == 0)
		n = 0;
	else if (strncmp(real, dir, n) != 0 ||
	    (real[n] != '/' && real[n] != '\0'))
		return NULL;
	if ((in = strdup(real[n] != '\0' ? real + n : "/")) == NULL)
		fatal(EX_OSERR, "--chroot");
	return in;
}

/* What the names become inside the new root: chroot_check() finds them
 * while the current directory is still the one they are relative to. */
static struct {
	char *pidfile, *unix_path, *logfile, *root;
} jail;

static void
chroot_check(struct cmdline *cl, const struct server *srv, const char *root)
{
	static char real[PATH_MAX];
	struct stat st;

	if (cl->chroot == NULL)
		return;
	if (srv->svc->takeover != NULL)
		fatalx(EX_USAGE, "--chroot: -s %s runs a program, which would "
		    "need its own files (its libraries...) inside the new "
		    "root; chroot the program itself instead", srv->svc->name);
	if (realpath(cl->chroot, real) == NULL || stat(real, &st) == -1)
		fatal(EX_NOINPUT, "--chroot %s", cl->chroot);
	if (!S_ISDIR(st.st_mode))
		fatalx(EX_USAGE, "--chroot %s: not a directory", cl->chroot);
	cl->chroot = real;
	if (root != NULL && (jail.root = inside(real, root, true)) == NULL)
		fatalx(EX_USAGE, "--root %s is not beneath --chroot %s: the "
		    "service opens its files inside the new root", root, real);
	if (geteuid() == 0 && cl->user == NULL)
		log_warnx("--chroot without --user: a process that stays root "
		    "can leave a chroot; give --user too");
	if (cl->pidfile != NULL && (jail.pidfile = inside(real,
	    absolute(cl->pidfile), false)) == NULL)
		log_notice("--pid-file %s is outside --chroot %s: it stays "
		    "when the server ends", cl->pidfile, real);
	if (cl->logfile != NULL && (jail.logfile = inside(real,
	    absolute(cl->logfile), false)) == NULL)
		log_notice("--log-file %s is outside --chroot %s: SIGHUP "
		    "cannot reopen it", cl->logfile, real);
	if (cl->unix_path != NULL && getenv("LISTEN_FDS") == NULL &&
	    (jail.unix_path = inside(real, absolute(cl->unix_path), false)) ==
	    NULL)
		log_notice("unix:%s is outside --chroot %s: the socket's file "
		    "stays when the server ends", cl->unix_path, real);
}

/* chroot(2), and the names inside it from now on. */
static void
chroot_enter(struct cmdline *cl, const char **root)
{
	const char *dir = cl->chroot;

	tzset();	/* the time zone is read once, from /etc/localtime */
	if (chdir(dir) == -1)
		fatal(EX_OSERR, "--chroot %s", dir);
	if (chroot(".") == -1) {
		if (errno == EPERM)
			fatalx(EX_NOPERM, "--chroot %s: only root (or "
			    "CAP_SYS_CHROOT) may change the root directory", dir);
		fatal(EX_OSERR, "--chroot %s", dir);
	}
	cl->pidfile = jail.pidfile;
	cl->unix_path = jail.unix_path;
	cl->logfile = jail.logfile;
	if (*root != NULL)
		*root = jail.root;
	log_set_path(jail.logfile);
	log_verbose("chroot %s", dir);
}

/*
 * The sandbox (engine/sandbox.h), once everything is open and privileges
 * are dropped (with the capabilities: privileges_end): no_new_privs,
 * landlock (the file service's root read-only; what the server still
 * writes or removes), the seccomp allow-list.  -s exec has none: its
 * program would inherit the filter.
 */
static void
enter_sandbox(const struct cmdline *cl, const struct server *srv,
    const char *root)
{
	struct sandbox_fs fs = { .read_root = root, .write_file = cl->logfile,
	    .remove = { cl->pidfile, cl->unix_path } };
	const char *why;
	int e;

	if (cl->no_sandbox)
		return;
	if (srv->svc->takeover != NULL) {
		log_verbose("no sandbox: -s %s runs a program of its own",
		    srv->svc->name);
		return;
	}
	if ((why = sandbox_unsupported()) != NULL) {
		log_verbose("no sandbox: %s", why);
		return;
	}
	if ((e = sandbox_no_new_privs()) < 0)
		fatalx(EX_OSERR, "sandbox: no_new_privs: %s", strerror(-e));
	if ((e = sandbox_landlock(&fs)) == -EOPNOTSUPP)
		log_verbose("sandbox: no landlock in this kernel: the file "
		    "system is not confined");
	else if (e < 0)
		fatalx(EX_OSERR, "sandbox: landlock: %s", strerror(-e));
	else
		log_debug("sandbox: landlock ABI %d", e);
	if ((e = sandbox_seccomp()) < 0)
		fatalx(EX_OSERR, "sandbox: seccomp: %s", strerror(-e));
	log_verbose("sandbox: entered (seccomp allow-list%s)",
	    root != NULL ? ", files under the root read-only" : "");
}

/* The directory a service reads files from (-s file --root), absolute:
 * --daemon changes directory. */
static const char *
service_root(const struct cmdline *cl, const struct server *srv)
{
	int i;

	if (!(srv->svc->flags & SVC_FILES))
		return NULL;
	for (i = 0; i < cl->nsopt; i++)
		if (strcmp(cl->sopt[i].name, "root") == 0)
			return absolute(cl->sopt[i].arg);
	return NULL;
}

enum { O_MAXW = 256, O_BACKLOG, O_MAXCONNS, O_PERIP, O_IDLE, O_ALLOW,
    O_DENY, O_GRACE, O_INETD, O_USER, O_GROUP, O_DAEMON, O_PIDFILE,
    O_SYSLOG, O_LOGFILE, O_STATS, O_REUSEPORT, O_LOOPBUSY, O_DEFER,
    O_SNDBUF, O_RCVBUF, O_NODELAY, O_NO_NODELAY, O_KEEPALIVE, O_LINGER,
    O_FASTOPEN, O_REUSEADDR, O_NO_REUSEADDR, O_UNIX_MODE, O_UNIX_OWNER,
    O_PROXY, O_PROXY_FROM, O_PROXY_TIMEOUT, O_METRICS, O_NO_SANDBOX,
    O_CHROOT,
    O_SERVICE = 512 };

static const struct option base_opts[] = {
	{ "model", required_argument, NULL, 'm' },
	{ "service", required_argument, NULL, 's' },
	{ "bind", required_argument, NULL, 'b' },
	{ "port", required_argument, NULL, 'p' },
	{ "workers", required_argument, NULL, 'w' },
	{ "max-workers", required_argument, NULL, O_MAXW },
	{ "loop-busy", required_argument, NULL, O_LOOPBUSY },
	{ "defer-accept", required_argument, NULL, O_DEFER },
	{ "backlog", required_argument, NULL, O_BACKLOG },
	{ "reuseport", no_argument, NULL, O_REUSEPORT },
	{ "sndbuf", required_argument, NULL, O_SNDBUF },
	{ "rcvbuf", required_argument, NULL, O_RCVBUF },
	{ "nodelay", no_argument, NULL, O_NODELAY },
	{ "no-nodelay", no_argument, NULL, O_NO_NODELAY },
	{ "keepalive", required_argument, NULL, O_KEEPALIVE },
	{ "linger", required_argument, NULL, O_LINGER },
	{ "fastopen", required_argument, NULL, O_FASTOPEN },
	{ "reuseaddr", no_argument, NULL, O_REUSEADDR },
	{ "no-reuseaddr", no_argument, NULL, O_NO_REUSEADDR },
	{ "unix-mode", required_argument, NULL, O_UNIX_MODE },
	{ "unix-owner", required_argument, NULL, O_UNIX_OWNER },
	{ "udp", no_argument, NULL, 'u' },
	{ "max-conns", required_argument, NULL, O_MAXCONNS },
	{ "per-ip", required_argument, NULL, O_PERIP },
	{ "idle-timeout", required_argument, NULL, O_IDLE },
	{ "allow", required_argument, NULL, O_ALLOW },
	{ "deny", required_argument, NULL, O_DENY },
	{ "proxy-protocol", no_argument, NULL, O_PROXY },
	{ "proxy-from", required_argument, NULL, O_PROXY_FROM },
	{ "proxy-timeout", required_argument, NULL, O_PROXY_TIMEOUT },
	{ "grace", required_argument, NULL, O_GRACE },
	{ "inetd", no_argument, NULL, O_INETD },
	{ "user", required_argument, NULL, O_USER },
	{ "group", required_argument, NULL, O_GROUP },
	{ "chroot", required_argument, NULL, O_CHROOT },
	{ "daemon", no_argument, NULL, O_DAEMON },
	{ "pid-file", required_argument, NULL, O_PIDFILE },
	{ "syslog", no_argument, NULL, O_SYSLOG },
	{ "log-file", required_argument, NULL, O_LOGFILE },
	{ "stats-interval", required_argument, NULL, O_STATS },
	{ "metrics", required_argument, NULL, O_METRICS },
	{ "no-sandbox", no_argument, NULL, O_NO_SANDBOX },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "list", optional_argument, NULL, 'l' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
};
#define NBASE	(sizeof(base_opts) / sizeof(base_opts[0]))

/* The base options and every service's own, for getopt_long.  A name two
 * services (or a service and concurd) both define is a bug: said at once. */
static const struct option *
all_options(void)
{
	static struct option all[NBASE + 128 + 1];
	const struct svc_option *o;
	size_t i, k, n = 0;

	if (all[0].name != NULL)
		return all;
	for (i = 0; i < NBASE; i++)
		all[n++] = base_opts[i];
	for (i = 0; services[i] != NULL; i++)
		for (o = services[i]->options; o != NULL && o->name; o++) {
			for (k = 0; k < n; k++)
				if (strcmp(all[k].name, o->name) == 0)
					fatalx(EX_SOFTWARE, "option --%s is "
					    "defined twice", o->name);
			if (n == NBASE + 128)
				fatalx(EX_SOFTWARE, "too many service options");
			all[n] = (struct option){ o->name, o->arg ?
			    required_argument : no_argument, NULL,
			    O_SERVICE + (int)n };
			n++;
		}
	return all;
}

static void
parse(int argc, char **argv, struct cmdline *cl, struct server *srv)
{
	const struct option *opts = all_options();
	int c, idx;

	while ((c = getopt_long(argc, argv, "+m:s:b:p:w:uvqlhV", opts,
	    &idx)) != -1) {
		switch (c) {
		case 'm': cl->model = optarg; break;
		case 's': cl->service = optarg; break;
		case 'b': cl->bind = optarg; break;
		case 'p': cl->port = optarg; break;
		case 'w': srv->workers = num("-w", optarg, 1, MAX_WORKER_SLOTS); break;
		case O_MAXW: srv->max_workers = num("--max-workers", optarg, 1,
			      MAX_WORKER_SLOTS); break;
		case O_BACKLOG: cl->backlog = num("--backlog", optarg, 1, 65535);
			break;
		case O_LOOPBUSY: loops_set_busy(num("--loop-busy", optarg, 1, 100));
			break;
		case O_DEFER: srv->defer_accept = num("--defer-accept", optarg, 0,
			      3600);
			cl->defer_given = true;
			cl->tcp_opt = "--defer-accept"; break;
		case O_SNDBUF: cl->so.sndbuf = bufsize("--sndbuf", optarg); break;
		case O_RCVBUF: cl->so.rcvbuf = bufsize("--rcvbuf", optarg); break;
		case O_NODELAY: cl->nodelay_off = false; break;
		case O_NO_NODELAY: cl->nodelay_off = true;
			cl->tcp_opt = "--no-nodelay"; break;
		case O_KEEPALIVE: keepalive(&cl->so, optarg);
			cl->tcp_opt = "--keepalive"; break;
		case O_LINGER: cl->so.linger = true;
			cl->so.linger_s = num("--linger", optarg, 0, 3600);
			cl->tcp_opt = "--linger"; break;
		case O_FASTOPEN: cl->so.fastopen = num("--fastopen", optarg, 1,
			      65535);
			cl->tcp_opt = "--fastopen"; break;
		case O_REUSEADDR: cl->so.no_reuseaddr = false; break;
		case O_NO_REUSEADDR: cl->so.no_reuseaddr = true;
			cl->tcp_opt = "--no-reuseaddr"; break;
		case O_UNIX_MODE: cl->unix_mode = optarg; break;
		case O_UNIX_OWNER: cl->unix_owner = optarg; break;
		case O_REUSEPORT: srv->reuseport = true; break;
		case 'u': srv->socktype = SOCK_DGRAM; break;
		case O_MAXCONNS: srv->max_conns = num("--max-conns", optarg, 1,
			      10000000); break;
		case O_PERIP: srv->per_ip = num("--per-ip", optarg, 1, 10000000);
			break;
		case O_IDLE: srv->idle_ms = seconds_ms("--idle-timeout", optarg);
			break;
		case O_ALLOW: add_rule(srv, optarg, true); break;
		case O_DENY: add_rule(srv, optarg, false); break;
		case O_PROXY: proxy_conf(srv); break;
		case O_PROXY_FROM: proxy_from(proxy_conf(srv), optarg); break;
		case O_PROXY_TIMEOUT: proxy_conf(srv)->timeout_ms =
			      seconds_ms("--proxy-timeout", optarg);
			if (srv->proxy->timeout_ms == 0)
				fatalx(EX_USAGE, "--proxy-timeout: more than 0, "
				    "please");
			break;
		case O_GRACE: srv->grace_ms = seconds_ms("--grace", optarg); break;
		case O_INETD: cl->inetd = true; break;
		case O_USER: cl->user = optarg; break;
		case O_GROUP: cl->group = optarg; break;
		case O_CHROOT: cl->chroot = optarg; break;
		case O_DAEMON: cl->daemon = true; break;
		case O_PIDFILE: cl->pidfile = optarg; break;
		case O_SYSLOG: cl->use_syslog = true; break;
		case O_LOGFILE: cl->logfile = optarg; break;
		case O_STATS: cl->stats_ms = seconds_ms("--stats-interval",
			      optarg); break;
		case O_METRICS: cl->metrics = optarg; break;
		case O_NO_SANDBOX: cl->no_sandbox = true; break;
		case 'v': cl->verbosity++; break;
		case 'q': cl->verbosity = LOG_QUIET; break;
		case 'l': exit(list(optarg));
		case 'h': usage(stdout); exit(EX_OK);
		case 'V': printf("concurd %s\n", CONCUR_VERSION); exit(EX_OK);
		default:
			if (c >= O_SERVICE &&
			    cl->nsopt < (int)(sizeof(cl->sopt) / sizeof(cl->sopt[0]))) {
				cl->sopt[cl->nsopt].name = opts[idx].name;
				cl->sopt[cl->nsopt++].arg = optarg;
				break;
			}
			usage(stderr);
			exit(EX_USAGE);
		}
	}
	cl->operands = argv + optind;
	cl->noperands = argc - optind;
}

/* Without -m: io_uring's loops where the kernel allows them (fewer system
 * calls per message: the cheapest per request of the event models), else
 * epoll's; epoll's for a service that sends files (sendfile costs no copy;
 * io_uring reads into its buffers); iteratively for UDP.  --reuseport
 * needs a listener per loop, which the readiness loops have. */
static const char *
default_model(const struct server *srv, bool inetd)
{
	const struct model *u = model_find("uring");
	const char *why;

	if (srv->socktype == SOCK_DGRAM)
		return "iterative";
	if (inetd || srv->reuseport || u == NULL)
		return "epoll";
	if (srv->svc != NULL && (srv->svc->flags & SVC_FILES))
		return "epoll";	/* sendfile: no copy, where uring reads */
	if (u->unavailable != NULL && (why = u->unavailable()) != NULL) {
		log_verbose("io_uring is not available (%s): model epoll", why);
		return "epoll";
	}
	return "uring";
}

/* The model and the service, the service's options and operands, and what
 * the two cannot do together. */
static void
configure(struct cmdline *cl, struct server *srv)
{
	struct svc_setup setup;
	char err[256];
	int i;

	if ((srv->svc = service_find(cl->service)) == NULL)
		fatalx(EX_USAGE, "unknown service '%s' (concurd --list shows them)",
		    cl->service);
	if (cl->model == NULL)
		cl->model = default_model(srv, cl->inetd);
	if ((srv->model = model_find(cl->model)) == NULL)
		fatalx(EX_USAGE, "unknown model '%s' (concurd --list shows them)",
		    cl->model);
	if (svc_setup_init(&setup, srv->svc) == -1)
		fatal(EX_OSERR, "service %s", srv->svc->name);
	for (i = 0; i < cl->nsopt; i++) {
		const struct service *owner = svc_option_owner(cl->sopt[i].name,
		    NULL);

		if (owner != srv->svc)
			fatalx(EX_USAGE, "--%s is an option of service %s (this "
			    "is -s %s)", cl->sopt[i].name, owner->name,
			    srv->svc->name);
		if (svc_setup_option(&setup, cl->sopt[i].name, cl->sopt[i].arg,
		    err, sizeof(err)) == -1)
			fatalx(EX_USAGE, "%s", err);
	}
	if (cl->noperands > 0 && srv->svc->operands == NULL) {
		log_warnx("unexpected argument '%s'", cl->operands[0]);
		usage(stderr);
		exit(EX_USAGE);
	}
	if (svc_setup_operands(&setup, cl->operands, cl->noperands, err,
	    sizeof(err)) == -1 || svc_setup_ready(&setup, err, sizeof(err)) == -1)
		fatalx(EX_USAGE, "%s", err);
	srv->svc_conf = setup.conf;
	srv->svc_state = setup.state_size;
	if (srv->svc->takeover != NULL && !cl->inetd &&
	    (srv->model->flags & MODEL_THREADS))
		fatalx(EX_USAGE, "-s %s runs in the process models "
		    "(iterative, fork, prefork...), not in %s",
		    srv->svc->name, srv->model->name);
	if (srv->socktype == SOCK_DGRAM) {
		if (strcmp(srv->model->name, "iterative") != 0)
			fatalx(EX_USAGE, "UDP is served iteratively: use --udp "
			    "without -m, or -m iterative");
		if (srv->svc->datagram == NULL)
			fatalx(EX_USAGE, "service %s has no UDP form",
			    srv->svc->name);
	}
	if (!cl->inetd && srv->model->unavailable != NULL) {
		const char *why = srv->model->unavailable();

		if (why != NULL)
			fatalx(EX_UNAVAILABLE, "model %s is not available: %s",
			    srv->model->name, why);
	}
	listener_check(cl, srv);
	if (cl->port == NULL && !cl->inetd && getenv("LISTEN_FDS") == NULL &&
	    cl->unix_path == NULL && (srv->svc->takeover != NULL ||
	    net_parse_port(srv->svc->name, srv->socktype) < 0))
		fatalx(EX_USAGE, "-s %s has no well-known port: give -p PORT",
		    srv->svc->name);
	if (cl->port != NULL && !cl->inetd &&
	    net_parse_port(cl->port, srv->socktype) < 0)
		fatalx(EX_USAGE, "-p %s: not a port (a number from 0 to 65535, "
		    "0 for any free one, or a service name such as echo)",
		    cl->port);
	if (cl->port == NULL && cl->unix_path == NULL)
		cl->port = srv->svc->name;
	if (srv->reuseport && !(srv->model->flags & MODEL_REUSEPORT)) {
		char which[128] = "";
		size_t off = 0;

		for (i = 0; models[i] != NULL && off < sizeof(which); i++)
			if (models[i]->flags & MODEL_REUSEPORT)
				off += (size_t)snprintf(which + off,
				    sizeof(which) - off, "%s%s", off ? ", " : "",
				    models[i]->name);
		fatalx(EX_USAGE, "--reuseport: model %s has no listener per "
		    "worker (models that do: %s)", srv->model->name, which);
	}
}

/* Logging as asked: file, syslog. */
static void
setup_logging(struct cmdline *cl)
{
	if (cl->daemon) {
		/* --daemon does chdir /: keep relative paths meaning what the
		 * user meant. */
		cl->pidfile = absolute(cl->pidfile);
		cl->logfile = absolute(cl->logfile);
	}
	if (cl->logfile != NULL && log_set_file(cl->logfile) == -1)
		fatal(EX_CANTCREAT, "--log-file %s", cl->logfile);
	/* Under inetd the socket may be our stderr: never log into it. */
	if (cl->inetd && is_socket(STDERR_FILENO)) {
		if (cl->logfile == NULL)
			log_set_syslog(true);
		return;
	}
	if (cl->use_syslog || (cl->daemon && cl->logfile == NULL))
		log_set_syslog(true);
	/* Until it is up, whoever started the server hears why it failed. */
	log_set_stderr_copy(true);
}

int
main(int argc, char **argv)
{
	struct server srv = { .socktype = SOCK_STREAM, .max_workers = 256 };
	struct cmdline cl = { .service = "echo", .verbosity = LOG_NORMAL,
	    .backlog = SOMAXCONN, .udp_fd = -1 };
	char where[512];
	const char *root;
	struct ids ids;
	int e, mfd = -1;
	long ncpu;

	(void)server_cpu_baseline(false);
	log_init(argv[0], LOG_NORMAL);
	if ((e = sdnotify_init()) < 0)
		log_warnx("NOTIFY_SOCKET: %s; not telling systemd", strerror(-e));
	parse(argc, argv, &cl, &srv);
	log_set_level(cl.verbosity);
	configure(&cl, &srv);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);	/* every option is checked */
	root = service_root(&cl, &srv);
	setup_logging(&cl);
	chroot_check(&cl, &srv, root);
	srv.ncpu = ncpu > 0 ? (int)ncpu : 1;
	srv.inetd = cl.inetd;
	if (srv.max_conns > 0 && srv.max_workers > srv.max_conns)
		srv.max_workers = srv.max_conns;	/* a pool worker = a conn */
	if (srv.workers > srv.max_workers)
		srv.max_workers = srv.workers;
	server_set_grace(srv.grace_ms);
	server_set_stats_interval(cl.stats_ms);
	srv.stats = mmap(NULL, sizeof(*srv.stats), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (srv.stats == MAP_FAILED)
		fatal(EX_OSERR, "mmap");
	server_overload_stats(srv.stats);
	if (srv.per_ip > 0 && (srv.perip = perip_create(srv.max_conns > 0 ?
	    srv.max_conns : 65536)) == NULL)
		fatal(EX_OSERR, "--per-ip table");
	if (server_signals_init(&srv) == -1)
		fatal(EX_OSERR, "signals");
	if (cl.inetd) {
		if (!is_socket(STDIN_FILENO))
			fatalx(EX_USAGE, "--inetd: standard input is not a socket "
			    "(inetd, xinetd and systemd Accept=yes pass the "
			    "connection as one)");
		ids = privileges_begin(cl.user, cl.group);
		if (cl.chroot != NULL)
			chroot_enter(&cl, &root);
		privileges_end(&ids);
		enter_sandbox(&cl, &srv, root);
		log_set_stderr_copy(false);
		if (srv.proxy != NULL && (e = proxy_wrap(&srv)) < 0)
			fatalx(EX_OSERR, "--proxy-protocol: %s", strerror(-e));
		e = run_inetd(&srv);
		if (srv.proxy != NULL)
			proxy_unwrap(&srv);
		if (log_level() >= LOG_VERBOSE)
			summary(&srv);
		svc_setup_fini(srv.svc, srv.svc_conf);
		free_conf(&srv);
		return e < 0 ? EX_OSERR : EX_OK;
	}
	listener_open(&cl, &srv, where, sizeof(where));
	if (cl.metrics != NULL) {
		char mwhere[300];

		if ((mfd = metrics_listen(cl.metrics, mwhere, sizeof(mwhere))) < 0)
			exit(mfd == -EINVAL ? (log_warnx("--metrics: '%s' is "
			    "not ADDRESS:PORT ([ADDRESS]:PORT for IPv6; :PORT "
			    "for every address)", cl.metrics), EX_USAGE) :
			    metrics_error(mfd, cl.metrics));
		log_notice("metrics on %s (GET /metrics)", mwhere);
	}
	if (memwatch_init() == -1)
		fatal(EX_OSERR, "memory limit");
	if (srv.model->flags & MODEL_LOOPS)
		loops_open_stat();
	ids = privileges_begin(cl.user, cl.group);
	if (cl.daemon)
		daemon_begin();	/* the self-pipe and handlers survive fork */
	if (cl.chroot != NULL) {
		/* A pid file outside the new root: now or never (and it
		 * stays); one inside is written as below, by its name there. */
		if (cl.pidfile != NULL && jail.pidfile == NULL)
			write_pidfile(cl.pidfile);
		chroot_enter(&cl, &root);
	}
	privileges_end(&ids);
	if (cl.pidfile != NULL)
		write_pidfile(cl.pidfile);
	log_notice("listening on %s (model %s, service %s%s)", where,
	    srv.model->name, srv.svc->name,
	    srv.socktype == SOCK_DGRAM ? ", udp" : "");
	memwatch_log();
	if (cl.udp_fd >= 0) {
		log_notice("and udp on %s", cl.udp_where);
		if ((e = udp_start(&srv, cl.udp_fd)) < 0)
			fatalx(EX_OSERR, "udp: %s", strerror(-e));
		srv.udp_too = true;
	}
	if (srv.proxy != NULL && (e = proxy_wrap(&srv)) < 0)
		fatalx(EX_OSERR, "--proxy-protocol: %s", strerror(-e));
	if (mfd >= 0 && (e = metrics_start(&srv, mfd)) < 0)
		fatalx(EX_OSERR, "--metrics: %s", strerror(-e));
	if (cl.daemon)
		daemon_ready();
	enter_sandbox(&cl, &srv, root);
	log_set_stderr_copy(false);
	if (sdnotify_enabled()) {
		char state[700];

		snprintf(state, sizeof(state), "READY=1\nMAINPID=%d\nSTATUS="
		    "listening on %s (model %s, service %s)", (int)getpid(),
		    where, srv.model->name, srv.svc->name);
		if ((e = sdnotify(state)) < 0)
			log_warnx("NOTIFY_SOCKET: %s", strerror(-e));
	}
	e = srv.socktype == SOCK_DGRAM ? udp_run(&srv) : srv.model->run(&srv);
	udp_stop();
	listener_close(&cl, &srv);
	metrics_stop();
	if (srv.proxy != NULL)
		proxy_unwrap(&srv);
	summary(&srv);
	if (cl.pidfile != NULL && unlink(cl.pidfile) == -1 && errno != ENOENT)
		log_warn("--pid-file %s", cl.pidfile);
	svc_setup_fini(srv.svc, srv.svc_conf);
	free_conf(&srv);
	if (e < 0) {
		log_warnx("model %s failed: %s", srv.model->name, strerror(-e));
		return EX_OSERR;
	}
	return EX_OK;
}
