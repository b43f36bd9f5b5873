/*
 * concurbench: load generator for echo-like and nbytes servers.
 *
 * main reads the options, checks that the target answers at all (a clear
 * error now beats a run full of refused connections), starts the workers,
 * prints a progress line on a terminal, and reports.  SIGINT and SIGTERM
 * end the run early with the results so far; a second one kills.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "parse.h"
#include "service.h"
#include "sig.h"

#define MAX_CONNS	1000000
#define MAX_THREADS	256
#define MAX_SIZE	(64u * 1024 * 1024)
#define STREAM_WINDOW	64
#define DEFAULT_DURATION	10000000000ull	/* 10 s */

static noreturn void
usage(int code)
{
	FILE *f = code ? stderr : stdout;

	fprintf(f,
"usage: concurbench HOST PORT [options]\n"
"       concurbench --merge FILE... [--json]\n"
"  -m, --mode MODE        pingpong (default), connrate, stream, nbytes\n"
"  -c, --connections N    connections (workers in connrate/nbytes); 64\n"
"  -s, --size BYTES       message size (nbytes: reply size); 64 (stream: 16k)\n"
"  -d, --duration TIME    measure for TIME (10s unless -n is given)\n"
"  -n, --requests N       exactly N requests, counted across threads\n"
"  -t, --threads N        worker threads; default: online CPUs\n"
"      --warmup TIME      run TIME first without measuring\n"
"  -r, --rate N           open loop: N requests/s in total, on a schedule\n"
"      --connections-per-worker N  connrate/nbytes: N connections each\n"
"      --connect-timeout TIME  5s\n"
"      --io-timeout TIME  10s: longest wait for progress on a request\n"
"      --close reset|normal  how connrate/nbytes close (reset: no TIME_WAIT)\n"
"      --no-verify        do not check the replies\n"
"      --json             one JSON object on stdout\n"
"      --histogram FILE   write the latency histogram and counts to FILE\n"
"      --merge FILE...    report on histogram files of several runs\n"
"  -v, --verbose          say more\n"
"  -h, --help             this text\n"
"  -V, --version          the version\n"
"TIME: 10, 1.5s, 250ms, 2m.  BYTES: 64, 4k, 1M.\n");
	exit(code);
}

static uint64_t
opt_count(const char *opt, const char *s, uint64_t max)
{
	uint64_t v;

	if (parse_uint(s, 1, max, &v) == -1)
		fatalx(64, "%s: '%s' is not a count from 1 to %llu", opt, s,
		    (unsigned long long)max);
	return v;
}

static uint64_t
opt_time(const char *opt, const char *s, bool zero_ok)
{
	uint64_t us;

	if (parse_duration_us(s, &us) == -1 || (!zero_ok && us == 0) ||
	    us > 100ull * 24 * 3600 * 1000000)
		fatalx(64, "%s: '%s' is not a %stime (like 10, 1.5s, 250ms, 2m)",
		    opt, s, zero_ok ? "" : "positive ");
	return us * 1000;
}

enum {
	O_WARMUP = 256, O_CPW, O_CTIMEO, O_IOTIMEO, O_CLOSE, O_NOVERIFY,
	O_JSON, O_HIST, O_MERGE,
};

static const struct option longopts[] = {
	{ "mode", required_argument, NULL, 'm' },
	{ "connections", required_argument, NULL, 'c' },
	{ "size", required_argument, NULL, 's' },
	{ "duration", required_argument, NULL, 'd' },
	{ "requests", required_argument, NULL, 'n' },
	{ "threads", required_argument, NULL, 't' },
	{ "rate", required_argument, NULL, 'r' },
	{ "warmup", required_argument, NULL, O_WARMUP },
	{ "connections-per-worker", required_argument, NULL, O_CPW },
	{ "connect-timeout", required_argument, NULL, O_CTIMEO },
	{ "io-timeout", required_argument, NULL, O_IOTIMEO },
	{ "close", required_argument, NULL, O_CLOSE },
	{ "no-verify", no_argument, NULL, O_NOVERIFY },
	{ "json", no_argument, NULL, O_JSON },
	{ "histogram", required_argument, NULL, O_HIST },
	{ "merge", no_argument, NULL, O_MERGE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char *histpath;
static bool merge;

static void
parse_args(int argc, char **argv, struct config *cfg)
{
	bool have_size = false, have_threads = false;
	uint64_t v;
	long ncpu;
	int ch, verbosity = LOG_NORMAL;

	memset(cfg, 0, sizeof(*cfg));
	cfg->conns = 64;
	cfg->size = 64;
	cfg->verify = true;
	cfg->connect_timeout = 5000000000ull;
	cfg->io_timeout = 10000000000ull;
	while ((ch = getopt_long(argc, argv, "m:c:s:d:n:t:r:vhV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'm':
			if (mode_parse(optarg, &cfg->mode) == -1)
				fatalx(64, "unknown mode '%s' (pingpong, "
				    "connrate, stream, nbytes)", optarg);
			break;
		case 'c':
			cfg->conns = opt_count("-c", optarg, MAX_CONNS);
			break;
		case 's':
			if (parse_size(optarg, MAX_SIZE, &v) == -1 || v == 0)
				fatalx(64, "-s: '%s' is not a size from 1 to "
				    "64M", optarg);
			cfg->size = v;
			have_size = true;
			break;
		case 'd':
			cfg->duration = opt_time("-d", optarg, false);
			break;
		case 'n':
			cfg->limit = opt_count("-n", optarg, UINT64_MAX / 2);
			break;
		case 't':
			cfg->threads = opt_count("-t", optarg, MAX_THREADS);
			have_threads = true;
			break;
		case 'r':
			cfg->rate = opt_count("-r", optarg, 100000000);
			break;
		case O_WARMUP:
			cfg->warmup = opt_time("--warmup", optarg, true);
			break;
		case O_CPW:
			cfg->per_worker = opt_count("--connections-per-worker",
			    optarg, UINT64_MAX / 2);
			break;
		case O_CTIMEO:
			cfg->connect_timeout = opt_time("--connect-timeout",
			    optarg, false);
			break;
		case O_IOTIMEO:
			cfg->io_timeout = opt_time("--io-timeout", optarg,
			    false);
			break;
		case O_CLOSE:
			if (strcmp(optarg, "reset") == 0)
				cfg->close_reset = true;
			else if (strcmp(optarg, "normal") == 0)
				cfg->close_reset = false;
			else
				fatalx(64, "--close: '%s' is not reset or "
				    "normal", optarg);
			break;
		case O_NOVERIFY:
			cfg->verify = false;
			break;
		case O_JSON:
			cfg->json = true;
			break;
		case O_HIST:
			histpath = optarg;
			break;
		case O_MERGE:
			merge = true;
			break;
		case 'v':
			log_set_level(++verbosity);
			break;
		case 'h':
			usage(0);
		case 'V':
			printf("concurbench %s\n", CONCUR_VERSION);
			exit(0);
		default:
			usage(64);
		}
	}
	if (merge)
		return;
	if (argc - optind != 2) {
		log_warnx(argc - optind < 2 ? "HOST and PORT are needed" :
		    "too many arguments");
		usage(64);
	}
	snprintf(cfg->host, sizeof(cfg->host), "%s", argv[optind]);
	snprintf(cfg->port, sizeof(cfg->port), "%s", argv[optind + 1]);
	if (cfg->mode == MODE_STREAM && cfg->rate)
		fatalx(64, "-r: stream mode has no requests to schedule");
	if (cfg->per_worker && cfg->mode != MODE_CONNRATE &&
	    cfg->mode != MODE_NBYTES)
		fatalx(64, "--connections-per-worker is for connrate and "
		    "nbytes");
	if (cfg->mode == MODE_STREAM && !have_size)
		cfg->size = 16 * 1024;
	if (cfg->duration == 0 && cfg->limit == 0 && cfg->per_worker == 0)
		cfg->duration = DEFAULT_DURATION;
	if (!have_threads) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		cfg->threads = ncpu > 0 ? (uint64_t)ncpu : 1;
	}
	if (cfg->threads > cfg->conns)
		cfg->threads = cfg->conns;
	cfg->window = cfg->mode == MODE_STREAM ? STREAM_WINDOW : 1;
	cfg->progress = isatty(STDERR_FILENO);
}

/* The code sysexits(3) gives an error that stops us before the run. */
static int
errno_exit(int err)
{
	switch (err) {
	case ECONNREFUSED: case EHOSTUNREACH: case ENETUNREACH:
	case EADDRNOTAVAIL:
		return 69;
	case ETIMEDOUT:
		return 75;
	case ECONNRESET: case EPIPE:
		return 74;
	case EACCES: case EPERM:
		return 77;
	default:
		return 71;
	}
}

static void
resolve(struct config *cfg)
{
	struct addrinfo hints, *res;
	int port, e;

	port = net_parse_port(cfg->port, SOCK_STREAM);
	if (port < 0)
		fatalx(64, "port '%s': %s", cfg->port, net_strerror(port));
	snprintf(cfg->port, sizeof(cfg->port), "%d", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	e = getaddrinfo(cfg->host, cfg->port, &hints, &res);
	if (e == EAI_SYSTEM)
		fatal(71, "%s", cfg->host);
	if (e != 0)
		fatalx(68, "%s: %s", cfg->host, gai_strerror(e));
	memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
	cfg->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
}

/* One connection before the run: is anybody there? */
static void
probe(const struct config *cfg)
{
	char addr[NET_ADDRSTRLEN];
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, err = 0, r;

	net_ntop((const struct sockaddr *)&cfg->addr, addr, sizeof(addr));
	fd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal(71, "socket");
	if (connect(fd, (const struct sockaddr *)&cfg->addr, cfg->addrlen)
	    == -1) {
		err = errno;
		if (err == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			do
				r = poll(&pfd, 1, (int)(cfg->connect_timeout /
				    1000000));
			while (r == -1 && errno == EINTR);
			if (r == 0)
				err = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
			    &len) == -1)
				err = errno;
		}
	}
	close(fd);
	if (err != 0)
		fatalx(errno_exit(err), "%s port %s: %s", addr, cfg->port,
		    err == ECONNREFUSED ? "connection refused (is the server "
		    "running?)" : strerror(err));
}

/* Each connection needs a descriptor: take what the hard limit allows. */
static void
raise_nofile(const struct config *cfg)
{
	struct rlimit rl;
	uint64_t need = cfg->conns + cfg->threads * 2 + 32;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal(71, "getrlimit");
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		fatalx(71, "-c %llu needs %llu descriptors; the limit is %llu "
		    "(raise it with ulimit -n)", (unsigned long long)cfg->conns,
		    (unsigned long long)need, (unsigned long long)rl.rlim_cur);
}

static void
build_patterns(struct shared *sh, const struct config *cfg)
{
	unsigned char *pat, *nb;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t i, n = PAT_PERIOD + cfg->size;

	/* xorshift64*: fixed seed, so runs are repeatable byte for byte. */
	if ((pat = malloc(n)) == NULL)
		fatal(71, "pattern");
	for (i = 0; i < n; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		pat[i] = (unsigned char)((x * 0x2545f4914f6cdd1dull) >> 56);
	}
	sh->pat = pat;
	if (cfg->mode == MODE_NBYTES) {
		if ((nb = malloc(cfg->size)) == NULL)
			fatal(71, "pattern");
		for (i = 0; i < cfg->size; i++)
			nb[i] = (unsigned char)nbytes_pattern(i);
		sh->nbpat = nb;
		sh->nbreq_len = (size_t)snprintf(sh->nbreq, sizeof(sh->nbreq),
		    "%llu\n", (unsigned long long)cfg->size);
	}
}

static uint64_t
tv_us(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static void
progress(struct worker **w, uint64_t nw, const struct shared *sh,
    uint64_t now)
{
	uint64_t done = 0, errs = 0, i;
	int k;

	for (i = 0; i < nw; i++) {
		const struct wstats *st = worker_stats(w[i]);

		done += atomic_load_explicit(&st->completed,
		    memory_order_relaxed);
		for (k = 0; k < ERR_NKINDS; k++)
			errs += atomic_load_explicit(&st->errors[k],
			    memory_order_relaxed);
	}
	if (now < sh->measure_start)
		fprintf(stderr, "\r\033[Kwarming up, %llu errors",
		    (unsigned long long)errs);
	else
		fprintf(stderr, "\r\033[K%4.0f s  %llu requests  %.0f req/s  "
		    "%llu errors", (double)(now - sh->measure_start) / 1e9,
		    (unsigned long long)done, now > sh->measure_start ?
		    (double)done * 1e9 / (double)(now - sh->measure_start) : 0,
		    (unsigned long long)errs);
}

static int
run(struct config *cfg, struct results *res)
{
	static struct shared sh;
	struct worker **w;
	struct pollfd pfd[2];
	struct rusage ru0, ru1;
	sigset_t mask, old;
	uint64_t i, nw = cfg->threads, per, first, now, next_tick, fin;
	uint64_t finished = 0, cnt;
	bool measured = false, stop_sig;
	int efd, k;

	sh.cfg = cfg;
	build_patterns(&sh, cfg);
	if ((efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		fatal(71, "eventfd");
	if (pthread_barrier_init(&sh.up, NULL, (unsigned)nw + 1) != 0 ||
	    pthread_barrier_init(&sh.go, NULL, (unsigned)nw + 1) != 0)
		fatalx(71, "pthread_barrier_init failed");
	sh.measure_start = sh.end = UINT64_MAX;
	if ((w = calloc(nw, sizeof(*w))) == NULL)
		fatal(71, "workers");
	/* Signals are main's: workers inherit a mask that blocks them. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, &old);
	for (i = 0, first = 0; i < nw; i++, first += per) {
		per = cfg->conns / nw + (i < cfg->conns % nw);
		if ((w[i] = worker_new(&sh, (unsigned)i, first, per, efd)) ==
		    NULL)
			fatal(71, "worker %llu", (unsigned long long)i);
		if (worker_start(w[i]) == -1)
			fatal(71, "pthread_create");
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* Connections up (persistent modes), then the clock starts. */
	pthread_barrier_wait(&sh.up);
	for (i = 0, cnt = 0; i < nw; i++)
		cnt += atomic_load(&worker_stats(w[i])->connects);
	if (cnt == 0 && (cfg->mode == MODE_PINGPONG || cfg->mode ==
	    MODE_STREAM) && !sig_peek(SIGINT) && !sig_peek(SIGTERM)) {
		atomic_store(&sh.stop, 1);
		log_warnx("no connection could be opened");
	} else if (cnt < cfg->conns && (cfg->mode == MODE_PINGPONG ||
	    cfg->mode == MODE_STREAM))
		log_warnx("%llu of %llu connections opened; the others retry",
		    (unsigned long long)cnt, (unsigned long long)cfg->conns);
	sh.t0 = now_ns();
	sh.measure_start = sh.t0 + cfg->warmup;
	sh.end = cfg->duration ? sh.measure_start + cfg->duration : UINT64_MAX;
	pthread_barrier_wait(&sh.go);
	if (cfg->warmup == 0) {
		getrusage(RUSAGE_SELF, &ru0);
		measured = true;
	}
	pfd[0].fd = sig_fd();
	pfd[0].events = POLLIN;
	pfd[1].fd = efd;
	pfd[1].events = POLLIN;
	next_tick = sh.t0 + 1000000000u;
	while (finished < nw) {
		uint64_t until = next_tick;

		now = now_ns();
		if (!measured && sh.measure_start < until)
			until = sh.measure_start;
		if (poll(pfd, 2, until > now ? (int)((until - now + 999999) /
		    1000000) : 0) == -1 && errno != EINTR)
			fatal(71, "poll");
		/* Take both, so neither is left pending. */
		sig_drain();
		stop_sig = sig_take(SIGINT);
		if (sig_take(SIGTERM) || stop_sig) {
			atomic_store(&sh.stop, 1);
			res->interrupted = true;
			/* A second Ctrl-C kills without a report. */
			sig_default(SIGINT);
			sig_default(SIGTERM);
		}
		if (read(efd, &cnt, sizeof(cnt)) == (ssize_t)sizeof(cnt))
			finished += cnt;
		now = now_ns();
		if (!measured && now >= sh.measure_start) {
			getrusage(RUSAGE_SELF, &ru0);
			measured = true;
		}
		if (now >= next_tick) {
			if (cfg->progress)
				progress(w, nw, &sh, now);
			next_tick += 1000000000u;
		}
	}
	for (i = 0; i < nw; i++)
		worker_join(w[i]);
	getrusage(RUSAGE_SELF, &ru1);
	if (cfg->progress)
		fprintf(stderr, "\r\033[K");

	memset(res->errors, 0, sizeof(res->errors));
	res->cfg = *cfg;
	res->runs = 1;
	hist_init(&res->lat);
	fin = sh.measure_start;
	for (i = 0; i < nw; i++) {
		const struct wstats *st = worker_stats(w[i]);

		res->completed += st->completed;
		res->issued += st->issued;
		res->connects += st->connects;
		res->bytes_tx += st->bytes_tx;
		res->bytes_rx += st->bytes_rx;
		for (k = 0; k < ERR_NKINDS; k++)
			res->errors[k] += st->errors[k];
		hist_merge(&res->lat, worker_hist(w[i]));
		if (worker_finished(w[i]) > fin)
			fin = worker_finished(w[i]);
	}
	res->elapsed = fin - sh.measure_start;
	if (measured) {
		res->cpu_user = tv_us(ru1.ru_utime) - tv_us(ru0.ru_utime);
		res->cpu_sys = tv_us(ru1.ru_stime) - tv_us(ru0.ru_stime);
	}
	for (i = 0; i < nw; i++)
		worker_free(w[i]);
	free(w);
	close(efd);
	return 0;
}

static int
do_merge(int argc, char **argv, const struct config *opts)
{
	static struct results all, one;
	int i;

	if (optind >= argc) {
		log_warnx("--merge needs histogram files");
		usage(64);
	}
	for (i = optind; i < argc; i++) {
		if (hist_file_read(argv[i], &one) == -1)
			return 65;
		if (all.runs && one.cfg.mode != all.cfg.mode)
			fatalx(65, "%s: a %s run cannot merge with %s runs",
			    argv[i], mode_name(one.cfg.mode),
			    mode_name(all.cfg.mode));
		if (all.runs && one.cfg.size != all.cfg.size)
			log_warnx("%s: message size %llu differs from %llu",
			    argv[i], (unsigned long long)one.cfg.size,
			    (unsigned long long)all.cfg.size);
		results_merge(&all, &one);
	}
	if (histpath && hist_file_write(histpath, &all) == -1)
		return 74;
	if (opts->json)
		report_json(&all);
	else
		report_text(&all);
	return results_exit_code(&all);
}

int
main(int argc, char **argv)
{
	static struct config cfg;
	static struct results res;
	int code;

	log_init(argv[0], LOG_NORMAL);
	parse_args(argc, argv, &cfg);
	if (merge)
		return do_merge(argc, argv, &cfg);
	if (sig_ignore(SIGPIPE) == -1 || sig_pipe_open() == -1 ||
	    sig_watch(SIGINT, 0) == -1 || sig_watch(SIGTERM, 0) == -1)
		fatal(71, "signals");
	resolve(&cfg);
	raise_nofile(&cfg);
	probe(&cfg);
	run(&cfg, &res);
	if (histpath && hist_file_write(histpath, &res) == -1)
		return 74;
	if (cfg.json)
		report_json(&res);
	else
		report_text(&res);
	if (fflush(stdout) == EOF)
		return 74;
	code = results_exit_code(&res);
	if (res.completed == 0 && code == 0 && !res.interrupted)
		log_warnx("no request was completed");
	return code;
}
