/*
 * concurd: one server where any concurrency model runs any service.
 *
 * main parses the command line, binds the listening socket, hands it to the
 * chosen model and, when the model returns (after SIGTERM or SIGINT), prints
 * the exit summary: connections served and the CPU time of the server and
 * all its children (getrusage SELF + CHILDREN), the figure UNP ch. 30
 * compares designs by.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "parse.h"
#include "server.h"
#include "udp.h"

#define EX_OK		0
#define EX_USAGE	64
#define EX_NOHOST	68
#define EX_UNAVAILABLE	69
#define EX_SOFTWARE	70
#define EX_OSERR	71
#define EX_NOPERM	77

static void
usage(FILE *f)
{
	fprintf(f,
"usage: concurd [-m MODEL] [-s SERVICE] [-b ADDRESS] [-p PORT] [-w WORKERS]\n"
"               [--max-workers N] [--backlog N] [-v] [-q] [--udp]\n"
"               [--list] [--help] [--version]\n"
"\n"
"  -m, --model MODEL     concurrency model (default epoll; see --list)\n"
"  -s, --service NAME    service (default echo; see --list)\n"
"  -b, --bind ADDRESS    address to listen on (default: all, IPv4 and IPv6)\n"
"  -p, --port PORT       port number or service name; 0 = any free port\n"
"                        (default: the service's well-known port)\n"
"  -w, --workers N       pool size / event loops (default: per model)\n"
"      --max-workers N   pools grow up to N workers (default 256)\n"
"      --backlog N       listen backlog (default %d)\n"
"  -u, --udp             serve the service over UDP (iteratively)\n"
"  -v, --verbose         log every connection (twice: debug)\n"
"  -q, --quiet           log errors only\n"
"  -l, --list            list models and services, one per line\n"
"  -h, --help            this help\n"
"  -V, --version         version\n"
"\n"
"On start concurd prints 'concurd: listening on ADDRESS port PORT (model M,\n"
"service S)'; SIGTERM or SIGINT stop it and print a summary line.\n",
	    SOMAXCONN);
}

static void
list(void)
{
	size_t i;

	for (i = 0; models[i] != NULL; i++)
		printf("model %s\n", models[i]->name);
	for (i = 0; services[i] != NULL; i++)
		printf("service %s\n", services[i]->name);
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

static double
tv_sec(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void
summary(struct server *srv)
{
	struct rusage self, kids;
	struct stats *s = srv->stats;
	double user, sys;
	uint64_t conns;
	char spread[4096];
	size_t off = 0;
	int i, nslots;

	if (getrusage(RUSAGE_SELF, &self) == -1 ||
	    getrusage(RUSAGE_CHILDREN, &kids) == -1) {
		log_warn("getrusage");
		return;
	}
	user = tv_sec(self.ru_utime) + tv_sec(kids.ru_utime);
	sys = tv_sec(self.ru_stime) + tv_sec(kids.ru_stime);
	conns = atomic_load(&s->served);
	spread[0] = '\0';
	nslots = atomic_load(&s->nslots);
	if (nslots > MAX_WORKER_SLOTS)
		nslots = MAX_WORKER_SLOTS;
	for (i = 0; i < nslots && off < sizeof(spread) - 32; i++)
		off += (size_t)snprintf(spread + off, sizeof(spread) - off,
		    "%s%llu", i ? "," : "",
		    (unsigned long long)atomic_load(&s->slot[i].conns));
	log_info("summary: model=%s service=%s%s connections=%llu "
	    "bytes_in=%llu bytes_out=%llu errors=%llu refused=%llu "
	    "udp_dropped=%llu user=%.6f sys=%.6f cpu=%.6f "
	    "cpu_us_per_conn=%.1f workers=%d spread=%s",
	    srv->model->name, srv->svc->name,
	    srv->socktype == SOCK_DGRAM ? "/udp" : "",
	    (unsigned long long)conns,
	    (unsigned long long)atomic_load(&s->bytes_in),
	    (unsigned long long)atomic_load(&s->bytes_out),
	    (unsigned long long)atomic_load(&s->errors),
	    (unsigned long long)atomic_load(&s->refused),
	    (unsigned long long)atomic_load(&s->udp_dropped),
	    user, sys, user + sys,
	    conns ? (user + sys) * 1e6 / (double)conns : 0.0,
	    nslots, nslots ? spread : "-");
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

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "service", required_argument, NULL, 's' },
		{ "bind", required_argument, NULL, 'b' },
		{ "port", required_argument, NULL, 'p' },
		{ "workers", required_argument, NULL, 'w' },
		{ "max-workers", required_argument, NULL, 'W' },
		{ "backlog", required_argument, NULL, 'B' },
		{ "udp", no_argument, NULL, 'u' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct server srv = { .socktype = SOCK_STREAM, .max_workers = 256 };
	const char *model = NULL, *service = "echo", *bind = NULL, *port = NULL;
	char addr[NET_ADDRSTRLEN];
	int c, verbosity = LOG_NORMAL, backlog = SOMAXCONN, lport, e;
	long ncpu;

	log_init(argv[0], LOG_NORMAL);
	while ((c = getopt_long(argc, argv, "m:s:b:p:w:uvqlhV", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 's': service = optarg; break;
		case 'b': bind = optarg; break;
		case 'p': port = optarg; break;
		case 'w': srv.workers = num("-w", optarg, 1, MAX_WORKER_SLOTS); break;
		case 'W': srv.max_workers = num("--max-workers", optarg, 1,
			      MAX_WORKER_SLOTS); break;
		case 'B': backlog = num("--backlog", optarg, 1, 65535); break;
		case 'u': srv.socktype = SOCK_DGRAM; break;
		case 'v': verbosity++; break;
		case 'q': verbosity = LOG_QUIET; break;
		case 'l': list(); return EX_OK;
		case 'h': usage(stdout); return EX_OK;
		case 'V': printf("concurd %s\n", CONCUR_VERSION); return EX_OK;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (optind != argc) {
		log_warnx("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	log_set_level(verbosity);
	if (model == NULL)
		model = srv.socktype == SOCK_DGRAM ? "iterative" : "epoll";
	if ((srv.model = model_find(model)) == NULL)
		fatalx(EX_USAGE, "unknown model '%s' (concurd --list shows them)",
		    model);
	if ((srv.svc = service_find(service)) == NULL)
		fatalx(EX_USAGE, "unknown service '%s' (concurd --list shows them)",
		    service);
	if (srv.socktype == SOCK_DGRAM) {
		if (strcmp(srv.model->name, "iterative") != 0)
			fatalx(EX_USAGE, "UDP is served iteratively: use --udp "
			    "without -m, or -m iterative");
		if (srv.svc->datagram == NULL)
			fatalx(EX_USAGE, "service %s has no UDP form",
			    srv.svc->name);
	}
	if (srv.model->unavailable != NULL) {
		const char *why = srv.model->unavailable();

		if (why != NULL)
			fatalx(EX_UNAVAILABLE, "model %s is not available: %s",
			    srv.model->name, why);
	}
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	srv.ncpu = ncpu > 0 ? (int)ncpu : 1;
	if (srv.workers > srv.max_workers)
		srv.max_workers = srv.workers;
	if (port == NULL)
		port = srv.svc->name;	/* echo, discard... are service names */
	srv.stats = mmap(NULL, sizeof(*srv.stats), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (srv.stats == MAP_FAILED)
		fatal(EX_OSERR, "mmap");
	if (server_signals_init() == -1)
		fatal(EX_OSERR, "signals");
	srv.lfd = net_listen(bind, port, srv.socktype, backlog, 0);
	if (srv.lfd < 0)
		return listen_error(srv.lfd, bind, port);
	if ((e = net_local_addr(srv.lfd, addr, sizeof(addr), &lport)) < 0)
		fatalx(EX_OSERR, "getsockname: %s", net_strerror(e));
	log_info("listening on %s port %d (model %s, service %s%s)", addr, lport,
	    srv.model->name, srv.svc->name,
	    srv.socktype == SOCK_DGRAM ? ", udp" : "");
	e = srv.socktype == SOCK_DGRAM ? udp_run(&srv) : srv.model->run(&srv);
	close(srv.lfd);
	summary(&srv);
	if (e < 0) {
		log_warnx("model %s failed: %s", srv.model->name, strerror(-e));
		return EX_OSERR;
	}
	return EX_OK;
}
