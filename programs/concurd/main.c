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
#include "admit.h"
#include "drivers/blocking.h"
#include "io.h"
#include "log.h"
#include "loops.h"
#include "memwatch.h"
#include "net.h"
#include "parse.h"
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
"  -b, --bind ADDRESS      address to listen on (default: all, IPv4 and IPv6)\n"
"  -p, --port PORT         port number or service name; 0 = any free port\n"
"                          (default: the service's well-known port)\n"
"  -w, --workers N         pool size / event loops (default: per model)\n"
"      --max-workers N     pools grow up to N workers (default 256); event\n"
"                          loops without -w grow up to N (default: 1/CPU)\n"
"      --loop-busy PCT     event loops without -w: another loop when every\n"
"                          loop is busy PCT%% of its time and a CPU is free\n"
"                          (default 85)\n"
"      --backlog N         listen backlog (default %d)\n"
"      --defer-accept SEC  accept a connection when its first data comes\n"
"                          (TCP_DEFER_ACCEPT; a silent one is dropped\n"
"                          after SEC and the kernel's retries)\n"
"      --reuseport         event loops: a SO_REUSEPORT listener per loop\n"
"                          instead of one shared listener\n"
"  -u, --udp               serve the service over UDP (iteratively)\n"
"Limits:\n"
"      --max-conns N       at most N connections at once; more wait in the\n"
"                          backlog (the listener is not polled)\n"
"      --per-ip N          at most N connections per client address (IPv6:\n"
"                          per /64); more are closed at once\n"
"      --idle-timeout SEC  close a connection that moves no byte for SEC\n"
"      --allow CIDR        accept only from these blocks (repeatable)\n"
"      --deny CIDR         refuse these blocks (repeatable; first match wins)\n"
"      --grace SEC         on SIGTERM, let connections finish for SEC\n"
"Running:\n"
"      --inetd             serve the one connection on stdin/stdout\n"
"      --user NAME         drop privileges to NAME after binding\n"
"      --group NAME        and to group NAME (default: NAME's group)\n"
"      --daemon            detach: double fork, setsid, logs to syslog\n"
"      --pid-file FILE     write the server's pid to FILE\n"
"Logging:\n"
"  -v, --verbose           log every connection (twice: debug)\n"
"  -q, --quiet             log errors only\n"
"      --syslog            log to syslog instead of stderr\n"
"      --log-file FILE     log to FILE (SIGHUP reopens it)\n"
"      --stats-interval SEC  log a stats line every SEC (SIGUSR1: now)\n"
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
"summary line.  Started by systemd with LISTEN_FDS, it uses the socket passed.\n");
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
	log_info("summary: model=%s service=%s%s connections=%llu "
	    "bytes_in=%llu bytes_out=%llu errors=%llu resets=%llu refused=%llu "
	    "udp_dropped=%llu user=%.6f sys=%.6f cpu=%.6f "
	    "cpu_us_per_conn=%.1f workers=%d spread=%s",
	    srv->model->name, srv->svc->name,
	    srv->socktype == SOCK_DGRAM ? "/udp" : "",
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
listen_error(int e, const char *bind, const char *port)
{
	const char *where = bind ? bind : "*";

	if (e == -EACCES) {
		log_warnx("cannot listen on %s port %s: %s (ports below 1024 "
		    "need root; try -p 8007)", where, port, net_strerror(e));
		return EX_NOPERM;
	}
	log_warnx("cannot listen on %s port %s: %s", where, port,
	    net_strerror(e));
	if (NET_IS_EAI(e))
		return EX_NOHOST;
	if (e == -EADDRINUSE || e == -EADDRNOTAVAIL)
		return EX_UNAVAILABLE;
	return e == -EINVAL ? EX_USAGE : EX_OSERR;
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

/* systemd socket activation: LISTEN_PID is us, LISTEN_FDS sockets from
 * descriptor 3.  Returns the listener or -1 when not activated. */
static int
activation_socket(int socktype)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	uint64_t p, n;
	int type = 0, acc = 0;
	socklen_t len = sizeof(type);

	if (pid == NULL || fds == NULL)
		return -1;
	if (parse_uint(pid, 1, INT32_MAX, &p) == -1 || (pid_t)p != getpid())
		return -1;	/* meant for another process */
	if (parse_uint(fds, 0, 1024, &n) == -1 || n == 0)
		fatalx(EX_USAGE, "LISTEN_FDS='%s': no socket passed", fds);
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	if (n > 1)
		log_warnx("socket activation passed %llu sockets; serving the "
		    "first (one dual-stack socket covers IPv4 and IPv6)",
		    (unsigned long long)n);
	if (getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
		fatal(EX_USAGE, "socket activation: descriptor 3");
	if (type != socktype)
		fatalx(EX_USAGE, "socket activation: descriptor 3 is a %s "
		    "socket; this concurd serves %s", type == SOCK_DGRAM ?
		    "datagram" : "stream", socktype == SOCK_DGRAM ? "UDP" : "TCP");
	len = sizeof(acc);
	if (socktype == SOCK_STREAM &&
	    (getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == -1 || !acc))
		fatalx(EX_USAGE, "socket activation: descriptor 3 is not "
		    "listening (use Accept=no, or --inetd with Accept=yes)");
	if (fd_set_cloexec(3, true) == -1)
		fatal(EX_OSERR, "socket activation: fcntl");
	return 3;
}

static void
drop_privileges(const char *user, const char *group)
{
	struct passwd *pw = NULL;
	struct group *gr = NULL;
	uid_t uid;
	gid_t gid;

	if (user != NULL && (pw = getpwnam(user)) == NULL)
		fatalx(EX_NOUSER, "--user: no user '%s'", user);
	if (group != NULL && (gr = getgrnam(group)) == NULL)
		fatalx(EX_NOUSER, "--group: no group '%s'", group);
	gid = gr ? gr->gr_gid : pw ? pw->pw_gid : getgid();
	uid = pw ? pw->pw_uid : getuid();
	if (pw != NULL && initgroups(pw->pw_name, gid) == -1)
		fatal(EX_NOPERM, "--user %s: initgroups", user);
	if (pw == NULL && setgroups(1, &gid) == -1)
		fatal(EX_NOPERM, "--group %s: setgroups", group);
	if (setgid(gid) == -1)
		fatal(EX_NOPERM, "setgid %d", (int)gid);
	if (setuid(uid) == -1)
		fatal(EX_NOPERM, "setuid %d", (int)uid);
	/* Refuse to go on as root when asked not to be. */
	if (uid != 0 && (setuid(0) != -1 || geteuid() == 0 || getuid() == 0))
		fatalx(EX_NOPERM, "could not drop root privileges");
	if (gid != 0 && (getegid() == 0 || getgid() == 0))
		fatalx(EX_NOPERM, "could not drop the root group");
	log_verbose("running as uid %d gid %d", (int)getuid(), (int)getgid());
}

static void
daemonize(void)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) == -1)
		fatal(EX_OSERR, "fork");
	if (pid > 0)
		_exit(EX_OK);
	if (setsid() == -1)
		fatal(EX_OSERR, "setsid");
	if ((pid = fork()) == -1)
		fatal(EX_OSERR, "fork");
	if (pid > 0)
		_exit(EX_OK);	/* the grandchild can never regain a tty */
	if (chdir("/") == -1)
		fatal(EX_OSERR, "chdir /");
	if ((fd = open("/dev/null", O_RDWR)) == -1)
		fatal(EX_OSERR, "/dev/null");
	if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1 ||
	    dup2(fd, STDERR_FILENO) == -1)
		fatal(EX_OSERR, "dup2");
	if (fd > STDERR_FILENO)
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

static bool
is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* What the command line asked for, beyond struct server. */
struct cmdline {
	const char *model, *service, *bind, *port;
	const char *user, *group, *pidfile, *logfile, *list;
	bool inetd, daemon, use_syslog, listing;
	int verbosity, backlog, stats_ms;
	/* Service options, applied once the service is known. */
	struct { const char *name, *arg; } sopt[64];
	int nsopt;
	char *const *operands;
	int noperands;
};

enum { O_MAXW = 256, O_BACKLOG, O_MAXCONNS, O_PERIP, O_IDLE, O_ALLOW,
    O_DENY, O_GRACE, O_INETD, O_USER, O_GROUP, O_DAEMON, O_PIDFILE,
    O_SYSLOG, O_LOGFILE, O_STATS, O_REUSEPORT, O_LOOPBUSY, O_DEFER,
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
	{ "udp", no_argument, NULL, 'u' },
	{ "max-conns", required_argument, NULL, O_MAXCONNS },
	{ "per-ip", required_argument, NULL, O_PERIP },
	{ "idle-timeout", required_argument, NULL, O_IDLE },
	{ "allow", required_argument, NULL, O_ALLOW },
	{ "deny", required_argument, NULL, O_DENY },
	{ "grace", required_argument, NULL, O_GRACE },
	{ "inetd", no_argument, NULL, O_INETD },
	{ "user", required_argument, NULL, O_USER },
	{ "group", required_argument, NULL, O_GROUP },
	{ "daemon", no_argument, NULL, O_DAEMON },
	{ "pid-file", required_argument, NULL, O_PIDFILE },
	{ "syslog", no_argument, NULL, O_SYSLOG },
	{ "log-file", required_argument, NULL, O_LOGFILE },
	{ "stats-interval", required_argument, NULL, O_STATS },
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
		case O_DEFER: srv->defer_accept = num("--defer-accept", optarg, 1,
			      3600); break;
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
		case O_GRACE: srv->grace_ms = seconds_ms("--grace", optarg); break;
		case O_INETD: cl->inetd = true; break;
		case O_USER: cl->user = optarg; break;
		case O_GROUP: cl->group = optarg; break;
		case O_DAEMON: cl->daemon = true; break;
		case O_PIDFILE: cl->pidfile = optarg; break;
		case O_SYSLOG: cl->use_syslog = true; break;
		case O_LOGFILE: cl->logfile = optarg; break;
		case O_STATS: cl->stats_ms = seconds_ms("--stats-interval",
			      optarg); break;
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
 * epoll's; iteratively for UDP.  --reuseport needs a listener per loop,
 * which the readiness loops have. */
static const char *
default_model(const struct server *srv, bool inetd)
{
	const struct model *u = model_find("uring");
	const char *why;

	if (srv->socktype == SOCK_DGRAM)
		return "iterative";
	if (inetd || srv->reuseport || u == NULL)
		return "epoll";
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

	if (cl->model == NULL)
		cl->model = default_model(srv, cl->inetd);
	if ((srv->model = model_find(cl->model)) == NULL)
		fatalx(EX_USAGE, "unknown model '%s' (concurd --list shows them)",
		    cl->model);
	if ((srv->svc = service_find(cl->service)) == NULL)
		fatalx(EX_USAGE, "unknown service '%s' (concurd --list shows them)",
		    cl->service);
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
	if (cl->port == NULL && srv->svc->takeover != NULL && !cl->inetd &&
	    getenv("LISTEN_FDS") == NULL)
		fatalx(EX_USAGE, "-s %s has no well-known port: give -p PORT",
		    srv->svc->name);
	if (cl->port == NULL)
		cl->port = srv->svc->name;
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
	if (cl->use_syslog || (cl->daemon && cl->logfile == NULL) ||
	    (cl->inetd && cl->logfile == NULL && is_socket(STDERR_FILENO)))
		log_set_syslog(true);
}

/* The listener: systemd's, or our own.  Returns its port. */
static int
open_listener(struct cmdline *cl, struct server *srv, char *addr, size_t len)
{
	int lport, e;

	srv->lfd = activation_socket(srv->socktype);
	srv->activated = srv->lfd >= 0;
	srv->backlog = cl->backlog;
	if (srv->activated && srv->reuseport) {
		log_warnx("--reuseport: ignored for a socket systemd passed");
		srv->reuseport = false;
	}
	if (srv->lfd < 0) {
		srv->lfd = net_listen(cl->bind, cl->port, srv->socktype,
		    cl->backlog, srv->reuseport ? NET_REUSEPORT : 0);
		if (srv->lfd < 0)
			exit(listen_error(srv->lfd, cl->bind, cl->port));
	}
	if ((e = net_local_addr(srv->lfd, addr, len, &lport)) < 0)
		fatalx(EX_OSERR, "getsockname: %s", net_strerror(e));
	if (srv->defer_accept > 0 && setsockopt(srv->lfd, IPPROTO_TCP,
	    TCP_DEFER_ACCEPT, &srv->defer_accept, sizeof(int)) == -1)
		fatal(EX_OSERR, "--defer-accept: setsockopt");
	/* Set once here, TCP_NODELAY is copied to every accepted socket:
	 * one setsockopt per server instead of one per connection. */
	srv->nodelay_inherited = srv->socktype == SOCK_STREAM &&
	    net_set_nodelay(srv->lfd, true) == 0;
	return lport;
}

int
main(int argc, char **argv)
{
	struct server srv = { .socktype = SOCK_STREAM, .max_workers = 256 };
	struct cmdline cl = { .service = "echo", .verbosity = LOG_NORMAL,
	    .backlog = SOMAXCONN };
	char addr[NET_ADDRSTRLEN];
	int lport, e;
	long ncpu;

	log_init(argv[0], LOG_NORMAL);
	parse(argc, argv, &cl, &srv);
	log_set_level(cl.verbosity);
	if (cl.verbosity >= LOG_VERBOSE)
		log_set_timestamps(true);
	configure(&cl, &srv);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);	/* every option is checked */
	setup_logging(&cl);
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
		if (cl.user != NULL || cl.group != NULL)
			drop_privileges(cl.user, cl.group);
		e = run_inetd(&srv);
		if (log_level() >= LOG_VERBOSE)
			summary(&srv);
		svc_setup_fini(srv.svc, srv.svc_conf);
		free(srv.acl);
		return e < 0 ? EX_OSERR : EX_OK;
	}
	lport = open_listener(&cl, &srv, addr, sizeof(addr));
	if (memwatch_init() == -1)
		fatal(EX_OSERR, "memory limit");
	if (cl.user != NULL || cl.group != NULL)
		drop_privileges(cl.user, cl.group);
	if (cl.daemon)
		daemonize();	/* the self-pipe and handlers survive fork */
	if (cl.pidfile != NULL)
		write_pidfile(cl.pidfile);
	log_notice("listening on %s port %d (model %s, service %s%s)", addr,
	    lport, srv.model->name, srv.svc->name,
	    srv.socktype == SOCK_DGRAM ? ", udp" : "");
	e = srv.socktype == SOCK_DGRAM ? udp_run(&srv) : srv.model->run(&srv);
	close(srv.lfd);
	summary(&srv);
	if (cl.pidfile != NULL && unlink(cl.pidfile) == -1 && errno != ENOENT)
		log_warn("--pid-file %s", cl.pidfile);
	svc_setup_fini(srv.svc, srv.svc_conf);
	free(srv.acl);
	if (e < 0) {
		log_warnx("model %s failed: %s", srv.model->name, strerror(-e));
		return EX_OSERR;
	}
	return EX_OK;
}
