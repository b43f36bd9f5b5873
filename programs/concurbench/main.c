/*
 * concurbench: load generator for echo-like, nbytes and request/response
 * servers, over TCP or UDP.
 *
 * main reads the options, checks that each target answers at all (a clear
 * error now beats a run full of refused connections), starts the workers
 * (at a wall-clock time with --start-at), prints a progress line on a
 * terminal and the interval lines with -i, and reports.  SIGINT and
 * SIGTERM end the run early with the results so far; a second one kills.
 */
#include "bench.h"

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "net.h"
#include "parse.h"
#include "service.h"
#include "sig.h"

#define MAX_CONNS	1000000
#define MAX_THREADS	256
#define MAX_SIZE	(64u * 1024 * 1024)
#define UDP_MIN_SIZE	16
#define UDP_MAX_SIZE	65507
#define MAX_PAYLOAD	(1024 * 1024)
#define STREAM_WINDOW	64	/* a power of two: loop.c masks with it */
#define DEFAULT_DURATION	10000000000ull	/* 10 s */
#define UDP_IO_TIMEOUT	1000000000ull		/* 1 s */

static noreturn void
usage(int code)
{
	FILE *f = code ? stderr : stdout;

	fprintf(f,
"usage: concurbench HOST PORT [options]\n"
"       concurbench HOST:PORT... [options]\n"
"       concurbench unix:PATH... [options]   (a Unix-domain stream socket)\n"
"       concurbench --merge FILE... [--json] [--histogram FILE] [--hgrm FILE]\n"
"  -m, --mode MODE        pingpong (default), connrate, stream, nbytes, file\n"
"  -u, --udp              UDP datagrams with sequence numbers (pingpong, -r)\n"
"  -c, --connections N    connections (workers in connrate/nbytes); 64\n"
"  -s, --size BYTES       message size (nbytes: reply size); 64 (stream: 16k)\n"
"  -d, --duration TIME    measure for TIME (10s unless -n is given)\n"
"  -n, --requests N       exactly N requests, counted across threads\n"
"  -t, --threads N        worker threads; default: online CPUs (half of\n"
"                         them for a server on this machine)\n"
"      --warmup TIME      run TIME first without measuring\n"
"  -r, --rate N           open loop: N requests/s in total, on a schedule\n"
"      --ramp TIME        open loop: the rate rises from 0 to N over TIME\n"
"      --connect-rate N   open N connections a second, during the run\n"
"      --connections-per-worker N  connrate/nbytes: N connections each\n"
"      --source ADDR[-ADDR],...  local addresses to connect from\n"
"      --connect-timeout TIME  5s\n"
"      --io-timeout TIME  10s (UDP: 1s): longest wait for a request\n"
"      --close reset|normal  how connrate/nbytes close (reset: no TIME_WAIT)\n"
"      --request TEXT     send TEXT ({conn}, {req}, \\n, \\xHH) instead of\n"
"                         the pattern; the answer is its echo unless:\n"
"      --payload FILE     send the bytes of FILE instead\n"
"      --expect TEXT      the answer is exactly TEXT ({conn}, {req})\n"
"      --reply-bytes N    the answer is N bytes of anything\n"
"      --reply-until TEXT the answer ends with TEXT (like \\n)\n"
"      --no-verify        do not check the replies\n"
"      --io auto|epoll|uring  how ping-pong moves its data (auto: io_uring\n"
"                         where the kernel has it, verified, up to 4k)\n"
"File mode (-m file; a connection per request, or --http keep-alive):\n"
"      --path PATH        ask for PATH (repeatable; chosen uniformly)\n"
"      --paths FILE       the paths in FILE, one a line: PATH or WEIGHT PATH\n"
"      --http             HTTP/1.1 GET on kept-alive connections (default:\n"
"                         plain requests, PATH and CRLF, the file to EOF)\n"
"      --root DIR         check every byte against the files under DIR\n"
"      --manifest FILE    check sizes and SHA-256 (lines: SIZE SHA256 PATH)\n"
"  -i, --interval TIME    print results every TIME (JSON: always, 1s)\n"
"      --json             one JSON object on stdout\n"
"      --histogram FILE   write the latency histogram and counts to FILE\n"
"      --hgrm FILE        write the percentiles in HdrHistogram's .hgrm form\n"
"      --merge FILE...    report on histogram files of several runs\n"
"      --start-at TIME    start at a wall-clock time: EPOCH[.frac], HH:MM[:SS]\n"
"                         or +SECONDS\n"
"  -v, --verbose          say more\n"
"  -h, --help             this text\n"
"  -V, --version          the version\n"
"TIME: 10, 1.5s, 250ms, 2m.  BYTES: 64, 4k, 1M.\n");
	if (code)
		die(code, "usage error");
	exit(code);
}

static uint64_t
opt_count(const char *opt, const char *s, uint64_t max)
{
	uint64_t v;

	if (parse_uint(s, 1, max, &v) == -1)
		die(64, "%s: '%s' is not a count from 1 to %llu", opt, s,
		    (unsigned long long)max);
	return v;
}

/* Which of words (NULL-terminated) s is, or exit 64 naming them. */
static int
opt_word(const char *opt, const char *s, const char *const *words)
{
	char list[128];
	size_t n = 0;
	int i;

	for (i = 0; words[i] != NULL; i++)
		if (strcmp(s, words[i]) == 0)
			return i;
	list[0] = '\0';
	for (i = 0; words[i] != NULL && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
		    i == 0 ? "" : words[i + 1] == NULL ? " or " : ", ",
		    words[i]);
	die(64, "%s: '%s' is not %s", opt, s, list);
}
/* In the order of their values. */
static const char *const close_words[] = { "reset", "normal", NULL };
static const char *const io_words[] = { "auto", "epoll", "uring", NULL };

static uint64_t
opt_time(const char *opt, const char *s, bool zero_ok)
{
	uint64_t us;

	if (parse_duration_us(s, &us) == -1 || (!zero_ok && us == 0) ||
	    us > 100ull * 24 * 3600 * 1000000)
		die(64, "%s: '%s' is not a %stime (like 10, 1.5s, 250ms, 2m)",
		    opt, s, zero_ok ? "" : "positive ");
	return us * 1000;
}

enum {
	O_WARMUP = 256, O_CPW, O_CTIMEO, O_IOTIMEO, O_CLOSE, O_NOVERIFY,
	O_JSON, O_HIST, O_MERGE, O_HGRM, O_SOURCE, O_CRATE, O_RAMP,
	O_REQUEST, O_PAYLOAD, O_EXPECT, O_RBYTES, O_RUNTIL, O_START,
	O_FPATH, O_FPATHS, O_FHTTP, O_FROOT, O_FMANIFEST, O_IO,
};

static const struct option longopts[] = {
	{ "mode", required_argument, NULL, 'm' },
	{ "udp", no_argument, NULL, 'u' },
	{ "connections", required_argument, NULL, 'c' },
	{ "size", required_argument, NULL, 's' },
	{ "duration", required_argument, NULL, 'd' },
	{ "requests", required_argument, NULL, 'n' },
	{ "threads", required_argument, NULL, 't' },
	{ "rate", required_argument, NULL, 'r' },
	{ "interval", required_argument, NULL, 'i' },
	{ "warmup", required_argument, NULL, O_WARMUP },
	{ "ramp", required_argument, NULL, O_RAMP },
	{ "connect-rate", required_argument, NULL, O_CRATE },
	{ "connections-per-worker", required_argument, NULL, O_CPW },
	{ "source", required_argument, NULL, O_SOURCE },
	{ "connect-timeout", required_argument, NULL, O_CTIMEO },
	{ "io-timeout", required_argument, NULL, O_IOTIMEO },
	{ "close", required_argument, NULL, O_CLOSE },
	{ "request", required_argument, NULL, O_REQUEST },
	{ "payload", required_argument, NULL, O_PAYLOAD },
	{ "expect", required_argument, NULL, O_EXPECT },
	{ "reply-bytes", required_argument, NULL, O_RBYTES },
	{ "reply-until", required_argument, NULL, O_RUNTIL },
	{ "no-verify", no_argument, NULL, O_NOVERIFY },
	{ "io", required_argument, NULL, O_IO },
	{ "path", required_argument, NULL, O_FPATH },
	{ "paths", required_argument, NULL, O_FPATHS },
	{ "http", no_argument, NULL, O_FHTTP },
	{ "root", required_argument, NULL, O_FROOT },
	{ "manifest", required_argument, NULL, O_FMANIFEST },
	{ "json", no_argument, NULL, O_JSON },
	{ "histogram", required_argument, NULL, O_HIST },
	{ "hgrm", required_argument, NULL, O_HGRM },
	{ "merge", no_argument, NULL, O_MERGE },
	{ "start-at", required_argument, NULL, O_START },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* The options that are checked once all are read (so that the order of
 * options does not matter, and --version after them exits first). */
struct later {
	const char *hist, *hgrm, *start_at, *request, *payload, *expect,
	    *until, *paths, *root, *manifest;
	const char *sources[64];
	int nsources;
	uint64_t reply_bytes;
	bool have_size, have_threads, have_iotimeo, have_interval;
};

static struct config *gcfg;
static struct fileset files;
static bool gjson;
static bool merge;
static struct later lt;

void
die(int code, const char *fmt, ...)
{
	static struct results er;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s", msg);
	if (gjson) {
		if (gcfg != NULL)
			er.cfg = *gcfg;
		report_json(&er, msg, code);
		fflush(stdout);
	}
	exit(code);
}

static int64_t
realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --start-at: seconds since the epoch (with a fraction), HH:MM[:SS] today,
 * or +TIME from now. */
static int64_t
parse_start(const char *s)
{
	uint64_t us, whole, frac = 0, scale = 1;
	unsigned h, m, sec = 0;
	struct tm tm;
	time_t now;
	const char *p;
	int n = 0;

	if (s[0] == '+') {
		if (parse_duration_us(s + 1, &us) == -1)
			goto bad;
		return realtime_ns() + (int64_t)us * 1000;
	}
	if ((sscanf(s, "%2u:%2u:%2u%n", &h, &m, &sec, &n) == 3 ||
	    sscanf(s, "%2u:%2u%n", &h, &m, &n) == 2) && s[n] == '\0') {
		if (h > 23 || m > 59 || sec > 60)
			goto bad;
		now = time(NULL);
		if (localtime_r(&now, &tm) == NULL)
			goto bad;
		tm.tm_hour = (int)h;
		tm.tm_min = (int)m;
		tm.tm_sec = (int)sec;
		tm.tm_isdst = -1;
		return (int64_t)mktime(&tm) * 1000000000;
	}
	for (p = s, whole = 0; *p >= '0' && *p <= '9' && p - s < 12; p++)
		whole = whole * 10 + (uint64_t)(*p - '0');
	if (p == s)
		goto bad;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9' && scale < 1000000000; p++) {
			frac = frac * 10 + (uint64_t)(*p - '0');
			scale *= 10;
		}
	if (*p != '\0')
		goto bad;
	return (int64_t)(whole * 1000000000 + frac * (1000000000 / scale));
bad:
	die(64, "--start-at: '%s' is not a time (seconds since the epoch, "
	    "HH:MM[:SS] or +SECONDS)", s);
}

static void
read_payload(const char *path, char **buf, size_t *len)
{
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		die(66, "--payload %s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1 || st.st_size > MAX_PAYLOAD)
		die(64, "--payload %s: %s", path, st.st_size > MAX_PAYLOAD ?
		    "more than 1 MiB" : strerror(errno));
	if ((*buf = malloc((size_t)st.st_size + 1)) == NULL)
		die(71, "--payload: %s", strerror(errno));
	n = io_read_full(fd, *buf, (size_t)st.st_size);
	if (n == -1)
		die(74, "--payload %s: %s", path, strerror(errno));
	(*buf)[n] = '\0';
	*len = (size_t)n;
	close(fd);
}

/* TEXT, shortened, for the report: "WHAT TEXT". */
static void
show(char *dst, size_t size, const char *what, const char *text)
{
	snprintf(dst, size, "%s%s%.60s%s", what, what[0] ? " " : "",
	    text[0] ? text : "(nothing)", strlen(text) > 60 ? "..." : "");
}

static void
build_proto(struct config *cfg)
{
	static struct proto p;
	char err[128], *buf = NULL;
	size_t len;
	int rules = (lt.expect != NULL) + (lt.until != NULL) +
	    (lt.reply_bytes != 0);

	if (!lt.request && !lt.payload) {
		if (rules)
			die(64, "--expect, --reply-bytes and --reply-until "
			    "need --request or --payload");
		return;
	}
	if (lt.request && lt.payload)
		die(64, "--request or --payload, not both");
	if (rules > 1)
		die(64, "one answer rule: --expect, --reply-bytes or "
		    "--reply-until");
	if (cfg->udp || cfg->mode == MODE_STREAM || cfg->mode == MODE_NBYTES)
		die(64, "--request and --payload are for TCP pingpong and "
		    "connrate");
	if (lt.request) {
		if (tmpl_parse(&p.req, lt.request, strlen(lt.request), true,
		    err, sizeof(err)) == -1)
			die(64, "--request: %s", err);
		show(p.req_text, sizeof(p.req_text), "", lt.request);
	} else {
		read_payload(lt.payload, &buf, &len);
		if (tmpl_parse(&p.req, buf, len, false, err, sizeof(err)) == -1)
			die(64, "--payload: %s", err);
		snprintf(p.req_text, sizeof(p.req_text), "the %zu bytes of %s",
		    len, lt.payload);
		free(buf);
	}
	if (lt.expect) {
		p.rule = REPLY_EXACT;
		if (tmpl_parse(&p.expect, lt.expect, strlen(lt.expect), true,
		    err, sizeof(err)) == -1)
			die(64, "--expect: %s", err);
		show(p.rule_text, sizeof(p.rule_text), "exactly", lt.expect);
		if (p.expect.maxlen == 0)
			die(64, "--expect: an empty answer is no answer");
	} else if (lt.reply_bytes) {
		p.rule = REPLY_BYTES;
		p.bytes = lt.reply_bytes;
		snprintf(p.rule_text, sizeof(p.rule_text), "%llu bytes",
		    (unsigned long long)lt.reply_bytes);
	} else if (lt.until) {
		p.rule = REPLY_UNTIL;
		if (unescape(lt.until, p.term, sizeof(p.term), &p.termlen) ==
		    -1 || p.termlen == 0)
			die(64, "--reply-until: '%s' is not 1 to %d bytes "
			    "(escapes: \\n \\r \\t \\0 \\\\ \\xHH)", lt.until,
			    TERM_MAX);
		proto_prepare(&p);
		show(p.rule_text, sizeof(p.rule_text), "up to", lt.until);
	} else {
		p.rule = REPLY_ECHO;
		if (p.req.maxlen == 0)
			die(64, "an empty request needs an answer rule "
			    "(--expect, --reply-bytes or --reply-until)");
		snprintf(p.rule_text, sizeof(p.rule_text), "its echo");
	}
	cfg->proto = &p;
}

/* --mode file: the paths, and what checks their answers. */
static void
build_files(struct config *cfg)
{
	bool any = files.n > 0 || lt.paths || lt.root || lt.manifest ||
	    cfg->http;

	if (cfg->mode != MODE_FILE) {
		if (any)
			die(64, "--path, --paths, --http, --root and --manifest "
			    "are for -m file");
		return;
	}
	if (cfg->udp || cfg->proto)
		die(64, "-m file makes its own requests (no -u, --request, "
		    "--payload)");
	if (lt.paths)
		files_read_list(&files, lt.paths);
	if (files.n == 0)
		die(64, "-m file needs the paths to ask for: --path PATH or "
		    "--paths FILE");
	if (lt.root && lt.manifest)
		die(64, "--root or --manifest, not both");
	if (lt.root)
		files_map_root(&files, lt.root);
	else if (lt.manifest)
		files_read_manifest(&files, lt.manifest);
	else if (cfg->verify)
		die(64, "-m file checks every answer against the files: give "
		    "--root DIR (a copy of them here) or --manifest FILE, or "
		    "--no-verify");
	files_ready(&files);
	cfg->files = &files;
}

/* Checks that need every option. */
static void
check_args(struct config *cfg, int nops, char **ops)
{
	int i;

	targets_parse(cfg, nops, ops);
	for (i = 0; i < lt.nsources; i++)
		if (sources_parse(cfg, lt.sources[i]) == -1)
			die(64, "--source: bad address list '%s'",
			    lt.sources[i]);
	if (cfg->unix_socket && (cfg->udp || cfg->nsources))
		die(64, "%s: for TCP and UDP targets, not unix:PATH",
		    cfg->udp ? "-u" : "--source");
	if (cfg->mode == MODE_STREAM && cfg->rate)
		die(64, "-r: stream mode has no requests to schedule");
	if (cfg->ramp && !cfg->rate)
		die(64, "--ramp: a ramp needs a rate (-r)");
	if (cfg->connect_rate && cfg->mode != MODE_PINGPONG &&
	    cfg->mode != MODE_STREAM && (cfg->mode != MODE_FILE || !cfg->http))
		die(64, "--connect-rate: in %s mode every request is a "
		    "connection; use -r", mode_name(cfg->mode));
	if (cfg->connect_rate && cfg->udp)
		die(64, "--connect-rate is for TCP");
	if (cfg->per_worker && cfg->mode != MODE_CONNRATE &&
	    cfg->mode != MODE_NBYTES && (cfg->mode != MODE_FILE || cfg->http))
		die(64, "--connections-per-worker is for connrate, nbytes and "
		    "plain file");
	if (cfg->udp && cfg->mode != MODE_PINGPONG)
		die(64, "-u: UDP runs ping-pong (closed loop) or, with -r, "
		    "open loop; not %s", mode_name(cfg->mode));
	if (cfg->mode == MODE_STREAM && !lt.have_size)
		cfg->size = 16 * 1024;
	if (cfg->udp && (cfg->size < UDP_MIN_SIZE || cfg->size > UDP_MAX_SIZE))
		die(64, "-s: a UDP datagram is %d to %d bytes (it carries a "
		    "%d-byte header)", UDP_MIN_SIZE, UDP_MAX_SIZE,
		    UDP_MIN_SIZE);
	if (cfg->udp && !lt.have_iotimeo)
		cfg->io_timeout = UDP_IO_TIMEOUT;
	build_proto(cfg);
	build_files(cfg);
	if (cfg->duration == 0 && cfg->limit == 0 && cfg->per_worker == 0)
		cfg->duration = DEFAULT_DURATION;
	if (lt.start_at)
		cfg->start_at = parse_start(lt.start_at);
	if (cfg->start_at && cfg->start_at - realtime_ns() >
	    3600ll * 1000000000)
		die(64, "--start-at: more than an hour from now");
	if (!lt.have_threads) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

		cfg->threads = ncpu > 0 ? (uint64_t)ncpu : 1;
		cfg->auto_threads = true;	/* halved for local targets */
	}
	if (cfg->threads > cfg->conns)
		cfg->threads = cfg->conns;
	cfg->window = cfg->mode == MODE_STREAM ? STREAM_WINDOW : 1;
	cfg->progress = isatty(STDERR_FILENO);
}

static void
parse_args(int argc, char **argv, struct config *cfg)
{
	uint64_t v;
	int ch, i, verbosity = LOG_NORMAL;

	memset(cfg, 0, sizeof(*cfg));
	cfg->conns = 64;
	cfg->size = 64;
	cfg->verify = true;
	cfg->connect_timeout = 5000000000ull;
	cfg->io_timeout = 10000000000ull;
	cfg->interval = 1000000000ull;
	gcfg = cfg;
	/* Errors before the options are read are reported as JSON too. */
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			gjson = true;
	while ((ch = getopt_long(argc, argv, "m:uc:s:d:n:t:r:i:vhV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'm':
			if (mode_parse(optarg, &cfg->mode) == -1)
				die(64, "unknown mode '%s' (pingpong, "
				    "connrate, stream, nbytes, file)", optarg);
			break;
		case 'u':
			cfg->udp = true;
			break;
		case 'c':
			cfg->conns = opt_count("-c", optarg, MAX_CONNS);
			break;
		case 's':
			if (parse_size(optarg, MAX_SIZE, &v) == -1 || v == 0)
				die(64, "-s: '%s' is not a size from 1 to 64M",
				    optarg);
			cfg->size = v;
			lt.have_size = true;
			break;
		case 'd':
			cfg->duration = opt_time("-d", optarg, false);
			break;
		case 'n':
			cfg->limit = opt_count("-n", optarg, UINT64_MAX / 2);
			break;
		case 't':
			cfg->threads = opt_count("-t", optarg, MAX_THREADS);
			lt.have_threads = true;
			break;
		case 'r':
			cfg->rate = opt_count("-r", optarg, 100000000);
			break;
		case 'i':
			cfg->interval = opt_time("-i", optarg, false);
			if (cfg->interval < 10000000)
				die(64, "-i: '%s' is shorter than 10ms",
				    optarg);
			cfg->interval_lines = true;
			break;
		case O_WARMUP:
			cfg->warmup = opt_time("--warmup", optarg, true);
			break;
		case O_RAMP:
			cfg->ramp = opt_time("--ramp", optarg, false);
			break;
		case O_CRATE:
			cfg->connect_rate = opt_count("--connect-rate", optarg,
			    10000000);
			break;
		case O_CPW:
			cfg->per_worker = opt_count("--connections-per-worker",
			    optarg, UINT64_MAX / 2);
			break;
		case O_SOURCE:
			if (lt.nsources == (int)(sizeof(lt.sources) /
			    sizeof(lt.sources[0])))
				die(64, "--source: too many; give ranges or "
				    "lists (A-B,C)");
			lt.sources[lt.nsources++] = optarg;
			break;
		case O_CTIMEO:
			cfg->connect_timeout = opt_time("--connect-timeout",
			    optarg, false);
			break;
		case O_IOTIMEO:
			cfg->io_timeout = opt_time("--io-timeout", optarg,
			    false);
			lt.have_iotimeo = true;
			break;
		case O_CLOSE:
			cfg->close_reset = opt_word("--close", optarg,
			    close_words) == 0;
			break;
		case O_REQUEST:
			lt.request = optarg;
			break;
		case O_PAYLOAD:
			lt.payload = optarg;
			break;
		case O_EXPECT:
			lt.expect = optarg;
			break;
		case O_RBYTES:
			lt.reply_bytes = opt_count("--reply-bytes", optarg,
			    MAX_SIZE);
			break;
		case O_RUNTIL:
			lt.until = optarg;
			break;
		case O_NOVERIFY:
			cfg->verify = false;
			break;
		case O_IO:
			cfg->io = (enum io_kind)opt_word("--io", optarg,
			    io_words);
			break;
		case O_FPATH:
			files_add_path(&files, optarg);
			break;
		case O_FPATHS:
			lt.paths = optarg;
			break;
		case O_FHTTP:
			cfg->http = true;
			break;
		case O_FROOT:
			lt.root = optarg;
			break;
		case O_FMANIFEST:
			lt.manifest = optarg;
			break;
		case O_JSON:
			cfg->json = true;
			break;
		case O_HIST:
			lt.hist = optarg;
			break;
		case O_HGRM:
			lt.hgrm = optarg;
			break;
		case O_MERGE:
			merge = true;
			break;
		case O_START:
			lt.start_at = optarg;
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
	if (argc - optind < 1)
		die(64, "HOST and PORT are needed");
	check_args(cfg, argc - optind, argv + optind);
}

/* The code sysexits(3) gives an error that stops us before the run. */
static int
errno_exit(int err)
{
	switch (err) {
	case ECONNREFUSED: case EHOSTUNREACH: case ENETUNREACH:
	case EADDRNOTAVAIL: case ENOENT:	/* ENOENT: no unix socket there */
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

/* Wait up to the connect timeout for fd to be ready for `events`. */
static int
await(int fd, short events, uint64_t timeout)
{
	struct pollfd pfd;
	int r;

	pfd.fd = fd;
	pfd.events = events;
	do
		r = poll(&pfd, 1, (int)(timeout / 1000000));
	while (r == -1 && errno == EINTR);
	return r;
}

/* The UDP probe: a datagram, sent again every PROBE_RESEND_MS until one
 * is answered (a lossy network drops some) or the timeout (ns) is over.
 * 0, ETIMEDOUT, or the socket's error. */
#define PROBE_RESEND_MS	250
static int
probe_udp(int fd, const void *dgram, size_t len, void *back, size_t blen,
    uint64_t timeout)
{
	uint64_t end = now_ns() + timeout, t;
	int r;

	while ((t = now_ns()) < end) {
		uint64_t wait = end - t < PROBE_RESEND_MS * 1000000ULL ?
		    end - t : PROBE_RESEND_MS * 1000000ULL;

		if (send(fd, dgram, len, 0) == -1)
			return errno;
		if ((r = await(fd, POLLIN, wait)) == -1)
			return errno;
		if (r == 1)
			return recv(fd, back, blen, 0) == -1 ? errno : 0;
	}
	return ETIMEDOUT;
}

/* One connection (TCP) or one datagram answered (UDP) per target before
 * the run: is anybody there? */
static void
probe(const struct config *cfg)
{
	char addr[300];	/* an address, or unix:PATH */
	unsigned char dgram[UDP_MIN_SIZE] = "concurbench", back[64];
	socklen_t len = sizeof(int);
	uint64_t k;
	int fd, err, r;

	for (k = 0; k < cfg->ntargets; k++) {
		const struct target *t = &cfg->targets[k];

		if (cfg->unix_socket)
			snprintf(addr, sizeof(addr), "%s", t->host);
		else
			net_ntop((const struct sockaddr *)&t->addr, addr,
			    sizeof(addr));
		err = 0;
		fd = open_socket(t, source_for(cfg, k), cfg->udp ? SOCK_DGRAM :
		    SOCK_STREAM);
		if (fd == -1) {
			err = errno;
			if (err == EADDRNOTAVAIL && cfg->nsources)
				die(69, "--source: cannot connect from it to %s "
				    "port %s: %s (is it an address of this "
				    "host?)", addr, t->port, strerror(err));
		} else if (cfg->udp) {
			err = probe_udp(fd, dgram, sizeof(dgram), back,
			    sizeof(back), cfg->connect_timeout);
			if (err == ETIMEDOUT)
				die(75, "%s UDP port %s: no answer within the "
				    "connect timeout (is an echo server "
				    "there?)", addr, t->port);
		} else {
			r = await(fd, POLLOUT, cfg->connect_timeout);
			if (r == 0)
				err = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
			    &len) == -1)
				err = errno;
		}
		if (fd != -1)
			close(fd);
		if (err != 0)
			die(errno_exit(err), "%s%s%s: %s", addr,
			    cfg->unix_socket ? "" : cfg->udp ? " UDP port " :
			    " port ", cfg->unix_socket ? "" : t->port,
			    err == ECONNREFUSED ?
			    "connection refused (is the server running?)" :
			    err == ENOENT ? "no such socket (is the server "
			    "running?)" : strerror(err));
		if (cfg->unix_socket)
			log_verbose("target %s answers", t->host);
		else
			log_verbose("target %s port %s (%s) answers", t->host,
			    t->port, addr);
	}
}

/* Each connection needs a descriptor: take what the hard limit allows. */
static void
raise_nofile(const struct config *cfg)
{
	struct rlimit rl;
	uint64_t need = cfg->conns + cfg->threads * 2 + 32;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		die(71, "getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		die(71, "-c %llu needs %llu descriptors; the limit is %llu "
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
		die(71, "pattern: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		pat[i] = (unsigned char)((x * 0x2545f4914f6cdd1dull) >> 56);
	}
	sh->pat = pat;
	if (cfg->mode == MODE_NBYTES) {
		if ((nb = malloc(cfg->size)) == NULL)
			die(71, "pattern: %s", strerror(errno));
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

/* The progress line: the last second's rate, not the run's average, so a
 * server that slows down shows it at once. */
static void
progress(struct wbase **w, uint64_t nw, const struct shared *sh,
    uint64_t now)
{
	static uint64_t prev_done, prev_t;
	uint64_t done = 0, errs = 0, i;
	int k;

	for (i = 0; i < nw; i++) {
		const struct wstats *st = &w[i]->st;

		done += atomic_load_explicit(&st->completed,
		    memory_order_relaxed);
		for (k = 0; k < ERR_NKINDS; k++)
			errs += atomic_load_explicit(&st->errors[k],
			    memory_order_relaxed);
	}
	if (now < sh->measure_start) {
		fprintf(stderr, "\r\033[Kwarming up, %llu errors",
		    (unsigned long long)errs);
		return;
	}
	if (prev_t < sh->measure_start)
		prev_t = sh->measure_start;
	fprintf(stderr, "\r\033[K%4.0f s  %llu %s  %.0f %s/s  %llu errors",
	    (double)(now - sh->measure_start) / 1e9, (unsigned long long)done,
	    sh->cfg->mode == MODE_CONNRATE ? "connections" : "requests",
	    now > prev_t ? (double)(done - prev_done) * 1e9 /
	    (double)(now - prev_t) : 0, sh->cfg->mode == MODE_CONNRATE ?
	    "conn" : "req", (unsigned long long)errs);
	prev_done = done;
	prev_t = now;
}

/* What the open-loop schedule asked for while measuring: each slot's
 * requests from when it could start (its connection's time, with
 * --connect-rate) to the end. */
static uint64_t
scheduled(const struct config *cfg, const struct shared *sh, uint64_t fin)
{
	uint64_t interval, k, from;
	double sum = 0;

	if (!cfg->rate || fin <= sh->measure_start)
		return 0;
	interval = (uint64_t)(1e9 * (double)cfg->conns / (double)cfg->rate);
	for (k = 0; k < cfg->conns; k++) {
		from = sh->measure_start;
		if (cfg->connect_rate && sh->t0 + (uint64_t)(1e9 * (double)k /
		    (double)cfg->connect_rate) > from)
			from = sh->t0 + (uint64_t)(1e9 * (double)k /
			    (double)cfg->connect_rate);
		if (from >= fin)
			continue;
		sum += sched_count(fin - sh->t0, interval, cfg->ramp) -
		    sched_count(from - sh->t0, interval, cfg->ramp);
	}
	return (uint64_t)(sum + 0.5);
}

/* --start-at: wait for the wall clock, or a signal.  False if stopped. */
static bool
wait_start(const struct config *cfg)
{
	struct pollfd pfd;
	int64_t left;

	pfd.fd = sig_fd();
	pfd.events = POLLIN;
	while ((left = cfg->start_at - realtime_ns()) > 0) {
		if (poll(&pfd, 1, left > 1000000000 ? 1000 :
		    (int)((left + 999999) / 1000000)) == -1 && errno != EINTR)
			die(71, "poll: %s", strerror(errno));
		if (sig_peek(SIGINT) || sig_peek(SIGTERM))
			return false;
	}
	if (-left > 10000000)
		log_warnx("--start-at: started %.3f s late", (double)-left /
		    1e9);
	return true;
}

static void
print_intervals(struct shared *sh, size_t *printed)
{
	if (!sh->cfg->interval_lines || sh->cfg->json)
		return;
	pthread_mutex_lock(&sh->ivlock);
	while (*printed < sh->niv) {
		if (sh->cfg->progress)
			fprintf(stderr, "\r\033[K");
		report_interval_line(sh->cfg, &sh->iv[(*printed)++]);
	}
	pthread_mutex_unlock(&sh->ivlock);
}

static void
run(struct config *cfg, struct results *res)
{
	static struct shared sh;
	struct wbase **w;
	struct pollfd pfd[3];
	struct rusage ru0, ru1;
	sigset_t mask, old;
	uint64_t i, nw = cfg->threads, per, first, now, next_tick, fin;
	uint64_t finished = 0, cnt;
	int64_t rt0;
	size_t printed = 0;
	bool measured = false, stop_sig;
	int efd, k;

	sh.cfg = cfg;
	build_patterns(&sh, cfg);
	if ((efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1 ||
	    (sh.iv_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		die(71, "eventfd: %s", strerror(errno));
	if (pthread_barrier_init(&sh.up, NULL, (unsigned)nw + 1) != 0 ||
	    pthread_barrier_init(&sh.go, NULL, (unsigned)nw + 1) != 0 ||
	    iv_setup(&sh, (unsigned)nw) == -1)
		die(71, "pthread_barrier_init failed");
	sh.measure_start = sh.end = UINT64_MAX;
	if ((w = calloc(nw, sizeof(*w))) == NULL)
		die(71, "workers: %s", strerror(errno));
	log_verbose("%s: %llu %s over %llu threads%s%s",
	    cfg->targets_text, (unsigned long long)cfg->conns, cfg->udp ?
	    "sockets" : "connections", (unsigned long long)nw,
	    cfg->nsources ? ", from --source addresses" : "",
	    cfg->connect_rate ? ", opened during the run" : "");
	/* Signals are main's: workers inherit a mask that blocks them. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, &old);
	for (i = 0, first = 0; i < nw; i++, first += per) {
		per = cfg->conns / nw + (i < cfg->conns % nw);
		w[i] = cfg->udp ? udp_worker_new(&sh, (unsigned)i, first, per,
		    efd) : tcp_worker_new(&sh, (unsigned)i, first, per, efd);
		if (w[i] == NULL)
			die(71, "worker %llu: %s", (unsigned long long)i,
			    strerror(errno));
		if (worker_start(w[i]) == -1)
			die(71, "pthread_create: %s", strerror(errno));
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* Connections up (persistent modes), then the clock starts. */
	pthread_barrier_wait(&sh.up);
	for (i = 0, cnt = 0; i < nw; i++)
		cnt += atomic_load(&w[i]->st.connects);
	if (cnt == 0 && (cfg->mode == MODE_PINGPONG || cfg->mode ==
	    MODE_STREAM || (cfg->mode == MODE_FILE && cfg->http)) &&
	    !cfg->connect_rate && !sig_peek(SIGINT) &&
	    !sig_peek(SIGTERM)) {
		atomic_store(&sh.stop, 1);
		log_warnx("no connection could be opened");
	} else if (cnt < cfg->conns && (cfg->mode == MODE_PINGPONG ||
	    cfg->mode == MODE_STREAM) && !cfg->connect_rate)
		log_warnx("%llu of %llu connections opened; the others retry",
		    (unsigned long long)cnt, (unsigned long long)cfg->conns);
	if (cfg->start_at && !wait_start(cfg))
		atomic_store(&sh.stop, 1);
	sh.t0 = now_ns();
	rt0 = realtime_ns();
	sh.measure_start = sh.t0 + cfg->warmup;
	sh.end = cfg->duration ? sh.measure_start + cfg->duration : UINT64_MAX;
	res->start_unix = rt0 + (int64_t)cfg->warmup;
	pthread_barrier_wait(&sh.go);
	if (cfg->warmup == 0) {
		getrusage(RUSAGE_SELF, &ru0);
		measured = true;
	}
	pfd[0].fd = sig_fd();
	pfd[0].events = POLLIN;
	pfd[1].fd = efd;
	pfd[1].events = POLLIN;
	pfd[2].fd = sh.iv_fd;
	pfd[2].events = POLLIN;
	next_tick = sh.t0 + 1000000000u;
	while (finished < nw) {
		uint64_t until = next_tick;

		now = now_ns();
		if (!measured && sh.measure_start < until)
			until = sh.measure_start;
		if (poll(pfd, 3, until > now ? (int)((until - now + 999999) /
		    1000000) : 0) == -1 && errno != EINTR)
			die(71, "poll: %s", strerror(errno));
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
		if (read(sh.iv_fd, &cnt, sizeof(cnt)) == (ssize_t)sizeof(cnt))
			print_intervals(&sh, &printed);
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
	print_intervals(&sh, &printed);
	if (cfg->progress)
		fprintf(stderr, "\r\033[K");
	if (sig_peek(SIGINT) || sig_peek(SIGTERM))
		res->interrupted = true;

	memset(res->errors, 0, sizeof(res->errors));
	res->cfg = *cfg;
	/* What was used, not what was chosen: a thread whose ring could
	 * not be set up ran on epoll (and said so). */
	if (cfg->io == IO_URING && atomic_load(&sh.ring_failed) == nw)
		res->cfg.io = IO_EPOLL;
	res->runs = 1;
	hist_init(&res->lat);
	fin = sh.measure_start;
	for (i = 0; i < nw; i++) {
		const struct wstats *st = &w[i]->st;

		res->completed += st->completed;
		res->issued += st->issued;
		res->failed += st->failed;
		res->connects += st->connects;
		res->bytes_tx += st->bytes_tx;
		res->bytes_rx += st->bytes_rx;
		res->lost += st->lost;
		res->duplicate += st->duplicate;
		res->reordered += st->reordered;
		res->late += st->late;
		for (k = 0; k < ERR_NKINDS; k++)
			res->errors[k] += st->errors[k];
		hist_merge(&res->lat, &w[i]->lat);
		if (w[i]->finished > fin && sh.measure_start != UINT64_MAX)
			fin = w[i]->finished;
	}
	res->elapsed = fin - sh.measure_start;
	res->target_requests = scheduled(cfg, &sh, fin);
	/* With -n the schedule has no slot past the N-th: a run that took
	 * longer (its last answers late) was not asked for more. */
	if (cfg->limit && res->target_requests > cfg->limit)
		res->target_requests = cfg->limit;
	res->iv = sh.iv;
	res->niv = sh.niv;
	if (measured) {
		res->cpu_user = tv_us(ru1.ru_utime) - tv_us(ru0.ru_utime);
		res->cpu_sys = tv_us(ru1.ru_stime) - tv_us(ru0.ru_stime);
	}
	for (i = 0; i < nw; i++)
		worker_free(w[i]);
	free(w);
	close(efd);
	close(sh.iv_fd);
}

static int
finish(const struct results *r, bool json)
{
	int code = results_exit_code(r);

	if (lt.hist && hist_file_write(lt.hist, r) == -1)
		code = 74;
	if (lt.hgrm && hgrm_file_write(lt.hgrm, r) == -1)
		code = 74;
	if (json)
		report_json(r, NULL, code);
	else if (!lt.hgrm || strcmp(lt.hgrm, "-") != 0)
		report_text(r);
	if (fflush(stdout) == EOF)
		return 74;
	return code;
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
			die(65, "%s: not a valid histogram file", argv[i]);
		if (all.runs && one.cfg.mode != all.cfg.mode)
			die(65, "%s: a %s run cannot merge with %s runs",
			    argv[i], mode_name(one.cfg.mode),
			    mode_name(all.cfg.mode));
		if (all.runs && one.cfg.udp != all.cfg.udp)
			die(65, "%s: UDP and TCP runs do not merge", argv[i]);
		if (all.runs && one.cfg.size != all.cfg.size)
			log_warnx("%s: message size %llu differs from %llu",
			    argv[i], (unsigned long long)one.cfg.size,
			    (unsigned long long)all.cfg.size);
		if (all.runs && one.cfg.interval != all.cfg.interval)
			log_warnx("%s: intervals of %.3f s, not %.3f s: merged "
			    "by number", argv[i], (double)one.cfg.interval /
			    1e9, (double)all.cfg.interval / 1e9);
		results_merge(&all, &one);
		ivrec_free(one.iv, one.niv);
	}
	if (all.runs > 1 && all.start_unix && all.start_spread >
	    (int64_t)(all.elapsed / 10) && all.start_spread > 1000000000)
		log_warnx("the runs started %.1f s apart: they did not all "
		    "run at the same time, so their rates do not add up "
		    "(see --start-at)", (double)all.start_spread / 1e9);
	return finish(&all, opts->json);
}

static bool
loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)ss;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
		    s6->sin6_addr.s6_addr[12] == 127);
	return ss->ss_family == AF_UNIX;
}

/*
 * Without -t: a thread per CPU (never more than connections), but half as
 * many when every target is on this machine: the server needs the rest, and a generator thread that
 * competes with it for a core drives it slower, at more CPU per request
 * (measured on 2 cores: 2 threads ~107k requests/s at 9 us each, 1 thread
 * ~135k at 7.2 us).
 */
/*
 * --io: verified ping-pong with its own messages goes through io_uring
 * where the kernel has deferred task work (on 2 cores, about an eighth less
 * client CPU per request than the epoll loop); everything else, and every
 * run where the ring cannot be had, through epoll.
 */
static void
choose_io(struct config *cfg)
{
	int err;

	if (cfg->io == IO_EPOLL)
		return;
	if (!ring_fits(cfg)) {
		if (cfg->io == IO_URING)
			die(64, "--io uring: only TCP pingpong with its own "
			    "messages, verified (no -u, --request, --payload "
			    "or --no-verify, -s 4k at most), uses io_uring");
		cfg->io = IO_EPOLL;
		return;
	}
	if ((err = ring_available()) != 0) {
		if (cfg->io == IO_URING)
			die(69, "--io uring: io_uring with deferred task work "
			    "is not available here: %s", strerror(err));
		log_verbose("io_uring is not available (%s): epoll",
		    strerror(err));
		cfg->io = IO_EPOLL;
		return;
	}
	cfg->io = IO_URING;
}

static void
default_threads(struct config *cfg)
{
	bool local = true;
	uint64_t k;

	if (!cfg->auto_threads || cfg->threads < 2)
		return;
	for (k = 0; k < cfg->ntargets; k++)
		local = local && loopback(&cfg->targets[k].addr);
	if (local)
		cfg->threads = (cfg->threads + 1) / 2;
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
		die(71, "signals: %s", strerror(errno));
	targets_resolve(&cfg, cfg.udp);
	default_threads(&cfg);
	choose_io(&cfg);
	raise_nofile(&cfg);
	probe(&cfg);
	run(&cfg, &res);
	code = finish(&res, cfg.json);
	if (res.interrupted)
		log_warnx("interrupted: the results are of part of the run");
	if (rate_missed(&res))
		log_warnx("the target rate was missed: %.1f of %llu %s/s "
		    "(%.0f%% of the schedule)", req_rate(&res),
		    (unsigned long long)cfg.rate, cfg.mode == MODE_CONNRATE ?
		    "conn" : "req", 100.0 * (double)(cfg.udp ? res.issued :
		    res.completed) / (double)res.target_requests);
	if (cfg.udp && res.lost)
		log_warnx("%llu datagrams lost", (unsigned long long)res.lost);
	results_explain(&res);
	return code;
}
