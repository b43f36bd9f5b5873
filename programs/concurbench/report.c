/*
 * report: results as text or JSON, the histogram file that --histogram
 * writes and --merge reads, and the .hgrm file of --hgrm.
 *
 * The histogram file is line-oriented text, "key value" lines, so a shell
 * script or gnuplot can read it too:
 *
 *	concurbench-histogram 2
 *	mode pingpong
 *	...parameters and counts...
 *	error refused 0
 *	...
 *	hist count 1000
 *	hist min_ns 18021
 *	...
 *	bucket 18048 18175 12	(lowest ns, highest ns, samples)
 *	interval 0 0 1000000000 512 512 0 8 32768 32768 0
 *	ibucket 0 18048 18175 3	(interval, lowest ns, highest ns, samples)
 *	...
 *	end
 *
 * Only non-empty buckets are listed; a reader checks that each bucket's
 * bounds are ours, so a file from a histogram with another layout is refused
 * instead of being misread.  Version 1 files (no intervals) are read too.
 *
 * The JSON object has the same keys in every case -- a clean run, a failed
 * one, a merge, an error before the run -- with null where a value does
 * not apply; concurbench(1) lists them.
 */
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

const char *const errkind_name[ERR_NKINDS] = {
	"refused", "reset", "timeout", "eaddrnotavail", "verify", "eof",
	"other",
};

static const char *const mode_names[] = {
	"pingpong", "connrate", "stream", "nbytes", "file",
};

const char *
mode_name(enum mode m)
{
	return mode_names[m];
}

int
mode_parse(const char *s, enum mode *m)
{
	size_t i;

	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*m = (enum mode)i;
			return 0;
		}
	return -1;
}

static const double pcts[] = { 50, 90, 99, 99.9, 99.99 };
static const char *const pct_names[] = {
	"p50", "p90", "p99", "p99.9", "p99.99",
};
#define NPCT	(sizeof(pcts) / sizeof(pcts[0]))

/* Open loop: a run that did less than this share of its schedule missed
 * its target. */
#define RATE_MET	0.95

static double
secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

static double
per_sec(uint64_t n, uint64_t ns)
{
	return ns ? (double)n / secs(ns) : 0.0;
}

/* Requests per second: a merge of runs from several generators adds their
 * rates (they ran at the same time against one server). */
double
req_rate(const struct results *r)
{
	if (r->runs > 1)
		return (double)r->rate_sum / 1000.0;
	return per_sec(r->completed, r->elapsed);
}

static uint64_t
errors_total(const struct results *r)
{
	uint64_t n = 0;
	int k;

	for (k = 0; k < ERR_NKINDS; k++)
		n += r->errors[k];
	return n;
}

static uint64_t
cut_off(const struct results *r)
{
	uint64_t ended = r->completed + r->failed + r->lost;

	return r->issued > ended ? r->issued - ended : 0;
}

static bool
is_conn_mode(enum mode m)
{
	return m == MODE_CONNRATE || m == MODE_NBYTES;
}

/* What one request is called: connrate's are connections. */
static const char *
unit(const struct config *c)
{
	return c->mode == MODE_CONNRATE ? "conn" : "req";
}

bool
rate_missed(const struct results *r)
{
	uint64_t did = r->cfg.udp ? r->issued : r->completed;

	return r->cfg.rate && !r->interrupted && r->target_requests &&
	    (double)did < RATE_MET * (double)r->target_requests;
}

static void
print_loop(const struct config *c)
{
	if (c->mode == MODE_STREAM)
		printf("windowed (%zu messages in flight per connection)",
		    c->window ? c->window : (size_t)64);
	else if (c->rate) {
		printf("open loop at %" PRIu64 " %s/s", c->rate, unit(c));
		if (c->ramp)
			printf(" after a ramp of %.3g s", secs(c->ramp));
	} else
		printf("closed loop");
}

void
report_text(const struct results *r)
{
	const struct config *c = &r->cfg;
	uint64_t e = errors_total(r), cut = cut_off(r);
	size_t i;
	int k;

	printf("concurbench %s: %s%s, ", CONCUR_VERSION, c->udp ? "udp " : "",
	    mode_name(c->mode));
	if (c->ntargets > 1)
		printf("%" PRIu64 " targets: %s", c->ntargets, c->targets_text);
	else if (c->port[0] != '\0')
		printf("%s port %s", c->host, c->port);
	else
		printf("%s", c->host);
	printf("%s\n", r->runs > 1 ? "" : r->interrupted ? " (interrupted)" :
	    "");
	if (r->runs > 1)
		printf("  merged from %u runs, started within %.3f s\n",
		    r->runs, secs((uint64_t)r->start_spread));
	printf("  %s %" PRIu64 ", threads %" PRIu64 ", %s %" PRIu64 " B",
	    is_conn_mode(c->mode) ? "workers" : c->udp ? "sockets" :
	    "connections", c->conns, c->threads, c->mode == MODE_NBYTES ?
	    "reply" : c->udp ? "datagram" : "message", c->size);
	if (c->limit)
		printf(", requests %" PRIu64, c->limit);
	if (c->duration)
		printf(", duration %.3g s", secs(c->duration));
	if (c->per_worker)
		printf(", %" PRIu64 " per worker", c->per_worker);
	if (c->warmup)
		printf(", warmup %.3g s", secs(c->warmup));
	if (c->nsources)
		printf(", %" PRIu64 " source addresses", c->nsources);
	if (c->connect_rate)
		printf(", connecting %" PRIu64 "/s", c->connect_rate);
	printf("\n  ");
	print_loop(c);
	if (c->io != IO_AUTO)
		printf(", %s", c->io == IO_URING ? "io_uring" : "epoll");
	printf(", verification %s", c->verify ? "on" :
	    "OFF (--no-verify: replies were not checked)");
	if (is_conn_mode(c->mode))
		printf(", close %s", c->close_reset ? "reset" : "normal");
	printf("\n");
	if (c->proto)
		printf("  request %s, answer %s\n", c->proto->req_text,
		    c->proto->rule_text);
	if (c->mode == MODE_FILE)
		printf("  files: %s requests for %zu path(s), checked %s\n",
		    c->http ? "HTTP/1.1 keep-alive" : "plain (a connection "
		    "each)", c->files ? c->files->n : (size_t)0,
		    c->files == NULL || !c->verify ? "not at all" :
		    c->files->check == FCHECK_BYTES ? "byte by byte" :
		    "by size and SHA-256");
	printf("%-13s %" PRIu64 " in %.3f s = %.1f %s/s\n",
	    c->mode == MODE_CONNRATE ? "connections" : "requests",
	    r->completed, secs(r->elapsed), req_rate(r), unit(c));
	if (c->rate)
		printf("rate          target %" PRIu64 " %s/s, achieved %.1f "
		    "%s/s%s\n", c->rate, unit(c), req_rate(r), unit(c),
		    rate_missed(r) ? " -- MISSED" : "");
	if (r->issued != r->completed) {
		printf("  %" PRIu64 " begun: %" PRIu64 " done", r->issued,
		    r->completed);
		if (r->failed)
			printf(", %" PRIu64 " ended by errors", r->failed);
		if (r->lost)
			printf(", %" PRIu64 " lost", r->lost);
		if (cut)
			printf(", %" PRIu64 " cut off by the end of the run",
			    cut);
		printf("\n");
	}
	if (c->udp)
		printf("datagrams     %" PRIu64 " sent, %" PRIu64 " answered, "
		    "%" PRIu64 " lost (%.3f%%), %" PRIu64 " duplicate, %"
		    PRIu64 " reordered, %" PRIu64 " late\n", r->issued,
		    r->completed, r->lost, r->issued ? 100.0 *
		    (double)r->lost / (double)r->issued : 0.0, r->duplicate,
		    r->reordered, r->late);
	if (c->mode == MODE_STREAM || c->mode == MODE_FILE)
		printf("throughput    sent %.2f MB/s, received %.2f MB/s\n",
		    per_sec(r->bytes_tx, r->elapsed) / 1e6,
		    per_sec(r->bytes_rx, r->elapsed) / 1e6);
	if (r->lat.count > 0) {
		printf("latency (us) ");
		for (i = 0; i < NPCT; i++)
			printf(" %s %.1f", pct_names[i],
			    (double)hist_percentile(&r->lat, pcts[i]) / 1e3);
		printf(" max %.1f mean %.1f\n", (double)r->lat.max / 1e3,
		    (double)r->lat.sum / (double)r->lat.count / 1e3);
	} else
		printf("latency (us)  none: no request was completed\n");
	if (e == 0)
		printf("errors        none\n");
	else {
		printf("errors        %" PRIu64 ":", e);
		for (k = 0; k < ERR_NKINDS; k++)
			if (r->errors[k])
				printf(" %s %" PRIu64, errkind_name[k],
				    r->errors[k]);
		printf("\n");
	}
	printf("%-13s %" PRIu64 " opened\n", c->udp ? "sockets" :
	    "connections", r->connects);
	if (r->completed)
		printf("client CPU    %.2f us/%s (user %.3f s, system %.3f s)\n",
		    (double)(r->cpu_user + r->cpu_sys) / (double)r->completed,
		    c->mode == MODE_CONNRATE ? "connection" : "request",
		    (double)r->cpu_user / 1e6, (double)r->cpu_sys / 1e6);
	else
		printf("client CPU    n/a, no request was completed (user %.3f "
		    "s, system %.3f s)\n", (double)r->cpu_user / 1e6,
		    (double)r->cpu_sys / 1e6);
}

void
report_interval_line(const struct config *c, const struct ivrec *iv)
{
	struct hist *h = malloc(sizeof(*h));

	printf("[%7.2f-%7.2f s] %10.1f %s/s", secs(iv->start),
	    secs(iv->start + iv->len), per_sec(iv->completed, iv->len),
	    unit(c));
	if (h != NULL) {
		hist_init(h);
		shist_to(&iv->lat, h);
		if (h->count)
			printf("  p50 %.1f p99 %.1f max %.1f us",
			    (double)hist_percentile(h, 50) / 1e3,
			    (double)hist_percentile(h, 99) / 1e3,
			    (double)h->max / 1e3);
		else
			printf("  no request completed");
		free(h);
	}
	printf("  errors %" PRIu64, iv->errors);
	if (c->udp)
		printf("  lost %" PRIu64, iv->lost);
	printf("\n");
	fflush(stdout);
}

/* ---- JSON ---- */

static void
json_strval(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void
json_str(const char *key, const char *s)
{
	printf("\"%s\":", key);
	if (s)
		json_strval(s);
	else
		printf("null");
}

static void
json_u64_or_null(const char *key, uint64_t v, bool present)
{
	if (present)
		printf("\"%s\":%" PRIu64, key, v);
	else
		printf("\"%s\":null", key);
}

static void
json_f_or_null(const char *key, double v, bool present)
{
	if (present)
		printf("\"%s\":%.3f", key, v);
	else
		printf("\"%s\":null", key);
}

static void
json_latency(const struct hist *h, bool all)
{
	bool have = h->count > 0;
	size_t i;

	printf("\"latency_us\":{");
	if (all) {
		printf("\"count\":%" PRIu64 ",", h->count);
		json_f_or_null("min", (double)h->min / 1e3, have);
		printf(",");
		json_f_or_null("mean", have ? (double)h->sum /
		    (double)h->count / 1e3 : 0, have);
		printf(",");
	}
	for (i = 0; i < NPCT; i++) {
		if (!all && i != 0 && i != 1 && i != 2)
			continue;
		json_f_or_null(pct_names[i], (double)hist_percentile(h,
		    pcts[i]) / 1e3, have);
		printf(",");
	}
	json_f_or_null("max", (double)h->max / 1e3, have);
	printf("}");
}

static void
json_intervals(const struct results *r)
{
	struct hist *h = malloc(sizeof(*h));
	size_t i;

	printf("\"intervals\":[");
	for (i = 0; i < r->niv && h != NULL; i++) {
		const struct ivrec *iv = &r->iv[i];

		hist_init(h);
		shist_to(&iv->lat, h);
		printf("%s{\"start_s\":%.3f,\"end_s\":%.3f,\"requests\":%"
		    PRIu64 ",\"requests_per_s\":%.3f,\"issued\":%" PRIu64
		    ",\"errors\":%" PRIu64 ",", i ? "," : "", secs(iv->start),
		    secs(iv->start + iv->len), iv->completed,
		    per_sec(iv->completed, iv->len), iv->issued, iv->errors);
		json_u64_or_null("lost", iv->lost, r->cfg.udp);
		printf(",\"connections_opened\":%" PRIu64 ",\"bytes_sent\":%"
		    PRIu64 ",\"bytes_received\":%" PRIu64 ",", iv->connects,
		    iv->bytes_tx, iv->bytes_rx);
		json_latency(h, false);
		printf("}");
	}
	printf("]");
	free(h);
}

void
report_json(const struct results *r, const char *error, int code)
{
	const struct config *c = &r->cfg;
	bool ran = error == NULL || r->runs > 0;
	const char *p;
	size_t i;
	int k;

	printf("{");
	json_str("concurbench", CONCUR_VERSION);
	printf(",");
	json_str("error", error);
	printf(",\"exit_code\":%d,", code);
	json_str("mode", mode_name(c->mode));
	printf(",");
	json_str("protocol", c->udp ? "udp" : strncmp(c->host, "unix:", 5) ==
	    0 ? "unix" : "tcp");
	printf(",");
	json_str("host", c->host[0] ? c->host : NULL);
	printf(",");
	json_u64_or_null("port", strtoull(c->port, NULL, 10), c->port[0] !=
	    '\0');
	printf(",\"targets\":[");
	for (p = c->targets_text, i = 0; *p; i++) {
		size_t n = strcspn(p, " ");
		char one[300];

		snprintf(one, sizeof(one), "%.*s", (int)n, p);
		printf("%s", i ? "," : "");
		json_strval(one);
		p += n;
		p += *p == ' ';
	}
	printf("],\"runs\":%u,\"interrupted\":%s,", r->runs,
	    r->interrupted ? "true" : "false");
	if (r->start_unix)
		printf("\"start_unix_s\":%.6f,", (double)r->start_unix / 1e9);
	else
		printf("\"start_unix_s\":null,");
	json_f_or_null("start_spread_s", secs((uint64_t)r->start_spread),
	    r->runs > 1);
	printf(",\"parameters\":{\"connections\":%" PRIu64 ",\"threads\":%"
	    PRIu64 ",\"message_size\":%" PRIu64 ",", c->conns, c->threads,
	    c->size);
	json_f_or_null("duration_s", secs(c->duration), c->duration != 0);
	printf(",");
	json_u64_or_null("requests", c->limit, c->limit != 0);
	printf(",");
	json_u64_or_null("rate", c->rate, c->rate != 0);
	printf(",");
	json_f_or_null("ramp_s", secs(c->ramp), c->ramp != 0);
	printf(",");
	json_u64_or_null("connect_rate", c->connect_rate,
	    c->connect_rate != 0);
	printf(",");
	json_u64_or_null("connections_per_worker", c->per_worker,
	    c->per_worker != 0);
	printf(",\"warmup_s\":%.6f,\"connect_timeout_s\":%.6f,"
	    "\"io_timeout_s\":%.6f,\"interval_s\":%.6f,\"verify\":%s,",
	    secs(c->warmup), secs(c->connect_timeout), secs(c->io_timeout),
	    secs(c->interval), c->verify ? "true" : "false");
	json_str("close", c->close_reset ? "reset" : "normal");
	printf(",\"sources\":%" PRIu64 ",", c->nsources);
	json_str("request", c->proto ? c->proto->req_text : NULL);
	printf(",");
	json_str("answer", c->proto ? c->proto->rule_text : NULL);
	printf(",");
	json_str("io", c->io == IO_AUTO ? NULL : c->io == IO_URING ?
	    "io_uring" : "epoll");
	printf("},");
	printf("\"elapsed_s\":%.6f,\"requests\":%" PRIu64 ",\"issued\":%"
	    PRIu64 ",\"failed\":%" PRIu64 ",\"cut_off\":%" PRIu64
	    ",\"connections_opened\":%" PRIu64 ",", secs(r->elapsed),
	    r->completed, r->issued, r->failed, cut_off(r), r->connects);
	printf("\"requests_per_s\":%.3f,", req_rate(r));
	json_u64_or_null("rate_target_per_s", c->rate, c->rate != 0);
	printf(",\"rate_target_met\":%s,", !c->rate || !ran ? "null" :
	    rate_missed(r) ? "false" : "true");
	printf("\"bytes_sent\":%" PRIu64 ",\"bytes_received\":%" PRIu64
	    ",\"sent_bytes_per_s\":%.1f,\"received_bytes_per_s\":%.1f,",
	    r->bytes_tx, r->bytes_rx, per_sec(r->bytes_tx, r->elapsed),
	    per_sec(r->bytes_rx, r->elapsed));
	json_latency(&r->lat, true);
	printf(",\"errors\":{\"total\":%" PRIu64, errors_total(r));
	for (k = 0; k < ERR_NKINDS; k++)
		printf(",\"%s\":%" PRIu64, errkind_name[k], r->errors[k]);
	printf("},\"datagrams\":{");
	json_u64_or_null("sent", r->issued, c->udp);
	printf(",");
	json_u64_or_null("answered", r->completed, c->udp);
	printf(",");
	json_u64_or_null("lost", r->lost, c->udp);
	printf(",");
	json_u64_or_null("duplicate", r->duplicate, c->udp);
	printf(",");
	json_u64_or_null("reordered", r->reordered, c->udp);
	printf(",");
	json_u64_or_null("late", r->late, c->udp);
	printf("},\"cpu\":{\"user_s\":%.6f,\"system_s\":%.6f,",
	    (double)r->cpu_user / 1e6, (double)r->cpu_sys / 1e6);
	json_f_or_null("us_per_request", r->completed ?
	    (double)(r->cpu_user + r->cpu_sys) / (double)r->completed : 0,
	    r->completed != 0);
	printf("},");
	json_intervals(r);
	printf("}\n");
}

/* ---- what went wrong ---- */

void
results_explain(const struct results *r)
{
	static const char *const why[ERR_NKINDS] = {
		[ERR_REFUSED] = "refused: nobody listens there now, or its "
		    "listen queue is full",
		[ERR_RESET] = "reset by the server (or it refused them after "
		    "accepting: a connection limit or an access list)",
		[ERR_TIMEOUT] = "timed out: no progress within the connect "
		    "or I/O timeout",
		[ERR_EADDRNOTAVAIL] = "not opened: no local port was free "
		    "(TIME_WAIT; see --close reset and --source)",
		[ERR_VERIFY] = "answered wrongly: the reply was not what was "
		    "sent or expected",
		[ERR_EOF] = "closed by the server before the answer was "
		    "complete (is it an echo server? see --request and the "
		    "answer rules)",
		[ERR_OTHER] = "ended by another error (described above)",
	};
	uint64_t e = errors_total(r);
	int k, worst = 0;

	if (e == 0)
		return;
	for (k = 1; k < ERR_NKINDS; k++)
		if (r->errors[k] > r->errors[worst])
			worst = k;
	log_warnx("%" PRIu64 " of %" PRIu64 " errors: %s%s", r->errors[worst],
	    e, why[worst], r->completed ? "" : "; no request was completed");
	if (!r->cfg.udp)
		log_warnx("each failing slot waited before trying again: 1 ms, "
		    "doubling to 100 ms while the failures went on");
}

/* ---- the histogram file ---- */

#define HIST_MAGIC	"concurbench-histogram 2"
#define HIST_MAGIC_V1	"concurbench-histogram 1"

int
hist_file_write(const char *path, const struct results *r)
{
	const struct config *c = &r->cfg;
	FILE *f;
	size_t i, j;
	int k, bad;

	if ((f = fopen(path, "w")) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	fprintf(f, "%s\n", HIST_MAGIC);
	fprintf(f, "mode %s\nhost %s\nport %s\ntargets %s\n",
	    mode_name(c->mode), c->host, c->port, c->targets_text);
	fprintf(f, "udp %d\nconnections %" PRIu64 "\nthreads %" PRIu64
	    "\nsize %" PRIu64 "\nduration_ns %" PRIu64 "\nlimit %" PRIu64
	    "\nwarmup_ns %" PRIu64 "\nrate %" PRIu64 "\nramp_ns %" PRIu64
	    "\nconnect_rate %" PRIu64 "\nper_worker %" PRIu64
	    "\nconnect_timeout_ns %" PRIu64 "\nio_timeout_ns %" PRIu64
	    "\ninterval_ns %" PRIu64 "\nsources %" PRIu64 "\nntargets %"
	    PRIu64 "\nverify %d\nclose_reset %d\n", c->udp, c->conns,
	    c->threads, c->size, c->duration, c->limit, c->warmup, c->rate,
	    c->ramp, c->connect_rate, c->per_worker, c->connect_timeout,
	    c->io_timeout, c->interval, c->nsources, c->ntargets, c->verify,
	    c->close_reset);
	fprintf(f, "runs %u\ninterrupted %d\nstart_unix_ns %" PRId64
	    "\nstart_spread_ns %" PRId64 "\nelapsed_ns %" PRIu64
	    "\nrate_sum_milli %" PRIu64 "\ntarget_requests %" PRIu64
	    "\nissued %" PRIu64 "\ncompleted %" PRIu64 "\nfailed %" PRIu64
	    "\nconnects %" PRIu64 "\nbytes_tx %" PRIu64 "\nbytes_rx %" PRIu64
	    "\nlost %" PRIu64 "\nduplicate %" PRIu64 "\nreordered %" PRIu64
	    "\nlate %" PRIu64 "\ncpu_user_us %" PRIu64 "\ncpu_sys_us %" PRIu64
	    "\n", r->runs, r->interrupted, r->start_unix, r->start_spread,
	    r->elapsed, (uint64_t)(req_rate(r) * 1000.0 + 0.5),
	    r->target_requests, r->issued, r->completed, r->failed,
	    r->connects, r->bytes_tx, r->bytes_rx, r->lost, r->duplicate,
	    r->reordered, r->late, r->cpu_user, r->cpu_sys);
	for (k = 0; k < ERR_NKINDS; k++)
		fprintf(f, "error %s %" PRIu64 "\n", errkind_name[k],
		    r->errors[k]);
	fprintf(f, "hist count %" PRIu64 "\nhist sum_ns %" PRIu64
	    "\nhist min_ns %" PRIu64 "\nhist max_ns %" PRIu64 "\n",
	    r->lat.count, r->lat.sum, r->lat.count ? r->lat.min : 0,
	    r->lat.max);
	for (i = 0; i < HIST_NBUCKETS; i++)
		if (r->lat.b[i])
			fprintf(f, "bucket %" PRIu64 " %" PRIu64 " %" PRIu64
			    "\n", hist_low(i), hist_high(i), r->lat.b[i]);
	for (i = 0; i < r->niv; i++) {
		const struct ivrec *iv = &r->iv[i];

		fprintf(f, "interval %zu %" PRIu64 " %" PRIu64 " %" PRIu64
		    " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %"
		    PRIu64 " %" PRIu64 "\n", i, iv->start, iv->len,
		    iv->completed, iv->issued, iv->errors, iv->connects,
		    iv->bytes_tx, iv->bytes_rx, iv->lost);
		fprintf(f, "ihist %zu %" PRIu64 " %" PRIu64 " %" PRIu64 " %"
		    PRIu64 "\n", i, iv->lat.count, iv->lat.sum,
		    iv->lat.count ? iv->lat.min : 0, iv->lat.max);
		for (j = 0; j < iv->lat.nb; j++)
			fprintf(f, "ibucket %zu %" PRIu64 " %" PRIu64 " %"
			    PRIu64 "\n", i, hist_low(iv->lat.idx[j]),
			    hist_high(iv->lat.idx[j]), iv->lat.n[j]);
	}
	fprintf(f, "end\n");
	bad = ferror(f);
	if (fclose(f) == EOF || bad) {
		log_warn("%s", path);
		return -1;
	}
	return 0;
}

int
hgrm_file_write(const char *path, const struct results *r)
{
	FILE *f;
	int bad;

	if (strcmp(path, "-") == 0) {
		hist_hgrm(&r->lat, stdout);
		return 0;
	}
	if ((f = fopen(path, "w")) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	hist_hgrm(&r->lat, f);
	bad = ferror(f);
	if (fclose(f) == EOF || bad) {
		log_warn("%s", path);
		return -1;
	}
	return 0;
}

struct field {
	const char *key;
	uint64_t *u64;
	unsigned *u;
	bool *b;
	int64_t *i64;
};

static int
set_field(const struct field *fl, const char *val)
{
	uint64_t v;
	char *end;

	errno = 0;
	if (fl->i64) {
		long long s = strtoll(val, &end, 10);

		if (errno != 0 || end == val || *end != '\0')
			return -1;
		*fl->i64 = s;
		return 0;
	}
	v = strtoull(val, &end, 10);
	if (errno != 0 || end == val || *end != '\0' || *val == '-')
		return -1;
	if (fl->u64)
		*fl->u64 = v;
	else if (fl->u) {
		if (v > 1000000)
			return -1;
		*fl->u = (unsigned)v;
	} else {
		if (v > 1)
			return -1;
		*fl->b = v != 0;
	}
	return 0;
}

static int
copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/* Intervals while reading: full histograms, made sparse at the end. */
struct rdiv {
	struct ivrec *iv;
	struct hist **h;
	size_t n;
};

static struct ivrec *
rd_interval(struct rdiv *rd, unsigned long long k)
{
	struct ivrec *iv;
	struct hist **h;

	if (k > 10000000)
		return NULL;
	if (k >= rd->n) {
		iv = realloc(rd->iv, (k + 1) * sizeof(*iv));
		if (iv == NULL)
			return NULL;
		rd->iv = iv;
		h = realloc(rd->h, (k + 1) * sizeof(*h));
		if (h == NULL)
			return NULL;
		rd->h = h;
		memset(rd->iv + rd->n, 0, (k + 1 - rd->n) * sizeof(*iv));
		memset(rd->h + rd->n, 0, (k + 1 - rd->n) * sizeof(*h));
		rd->n = k + 1;
	}
	if (rd->h[k] == NULL) {
		if ((rd->h[k] = malloc(sizeof(struct hist))) == NULL)
			return NULL;
		hist_init(rd->h[k]);
	}
	return &rd->iv[k];
}

static int
parse_line(struct results *r, struct rdiv *rd, char *line, bool *ended)
{
	struct config *c = &r->cfg;
	const struct field fields[] = {
		{ "udp", NULL, NULL, &c->udp, NULL },
		{ "connections", &c->conns, NULL, NULL, NULL },
		{ "threads", &c->threads, NULL, NULL, NULL },
		{ "size", &c->size, NULL, NULL, NULL },
		{ "duration_ns", &c->duration, NULL, NULL, NULL },
		{ "limit", &c->limit, NULL, NULL, NULL },
		{ "warmup_ns", &c->warmup, NULL, NULL, NULL },
		{ "rate", &c->rate, NULL, NULL, NULL },
		{ "ramp_ns", &c->ramp, NULL, NULL, NULL },
		{ "connect_rate", &c->connect_rate, NULL, NULL, NULL },
		{ "per_worker", &c->per_worker, NULL, NULL, NULL },
		{ "connect_timeout_ns", &c->connect_timeout, NULL, NULL, NULL },
		{ "io_timeout_ns", &c->io_timeout, NULL, NULL, NULL },
		{ "interval_ns", &c->interval, NULL, NULL, NULL },
		{ "sources", &c->nsources, NULL, NULL, NULL },
		{ "ntargets", &c->ntargets, NULL, NULL, NULL },
		{ "verify", NULL, NULL, &c->verify, NULL },
		{ "close_reset", NULL, NULL, &c->close_reset, NULL },
		{ "runs", NULL, &r->runs, NULL, NULL },
		{ "interrupted", NULL, NULL, &r->interrupted, NULL },
		{ "start_unix_ns", NULL, NULL, NULL, &r->start_unix },
		{ "start_spread_ns", NULL, NULL, NULL, &r->start_spread },
		{ "elapsed_ns", &r->elapsed, NULL, NULL, NULL },
		{ "rate_sum_milli", &r->rate_sum, NULL, NULL, NULL },
		{ "target_requests", &r->target_requests, NULL, NULL, NULL },
		{ "issued", &r->issued, NULL, NULL, NULL },
		{ "completed", &r->completed, NULL, NULL, NULL },
		{ "failed", &r->failed, NULL, NULL, NULL },
		{ "connects", &r->connects, NULL, NULL, NULL },
		{ "bytes_tx", &r->bytes_tx, NULL, NULL, NULL },
		{ "bytes_rx", &r->bytes_rx, NULL, NULL, NULL },
		{ "lost", &r->lost, NULL, NULL, NULL },
		{ "duplicate", &r->duplicate, NULL, NULL, NULL },
		{ "reordered", &r->reordered, NULL, NULL, NULL },
		{ "late", &r->late, NULL, NULL, NULL },
		{ "cpu_user_us", &r->cpu_user, NULL, NULL, NULL },
		{ "cpu_sys_us", &r->cpu_sys, NULL, NULL, NULL },
		{ "hist count", &r->lat.count, NULL, NULL, NULL },
		{ "hist sum_ns", &r->lat.sum, NULL, NULL, NULL },
		{ "hist min_ns", &r->lat.min, NULL, NULL, NULL },
		{ "hist max_ns", &r->lat.max, NULL, NULL, NULL },
	};
	unsigned long long lo, hi, n, k, v[9];
	struct ivrec *iv;
	char name[32];
	size_t i, klen;
	int e, used;

	if (strcmp(line, "end") == 0) {
		*ended = true;
		return 0;
	}
	if (strncmp(line, "mode ", 5) == 0)
		return mode_parse(line + 5, &c->mode);
	if (strncmp(line, "host ", 5) == 0)
		return copy_str(c->host, sizeof(c->host), line + 5);
	if (strncmp(line, "port ", 5) == 0)
		return copy_str(c->port, sizeof(c->port), line + 5);
	if (strncmp(line, "targets ", 8) == 0)
		return copy_str(c->targets_text, sizeof(c->targets_text),
		    line + 8);
	if (sscanf(line, "bucket %llu %llu %llu%n", &lo, &hi, &n, &used) == 3
	    && line[used] == '\0') {
		i = hist_index(lo);
		if (hist_low(i) != lo || hist_high(i) != hi)
			return -1;
		hist_add(&r->lat, i, n);
		return 0;
	}
	if (sscanf(line, "ibucket %llu %llu %llu %llu%n", &k, &lo, &hi, &n,
	    &used) == 4 && line[used] == '\0') {
		i = hist_index(lo);
		if (hist_low(i) != lo || hist_high(i) != hi ||
		    rd_interval(rd, k) == NULL)
			return -1;
		hist_add(rd->h[k], i, n);
		return 0;
	}
	if (sscanf(line, "ihist %llu %llu %llu %llu %llu%n", &k, &v[0], &v[1],
	    &v[2], &v[3], &used) == 5 && line[used] == '\0') {
		if (rd_interval(rd, k) == NULL)
			return -1;
		rd->h[k]->count = v[0];
		rd->h[k]->sum = v[1];
		rd->h[k]->min = v[0] ? v[2] : UINT64_MAX;
		rd->h[k]->max = v[3];
		return 0;
	}
	if (sscanf(line, "interval %llu %llu %llu %llu %llu %llu %llu %llu "
	    "%llu %llu%n", &k, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
	    &v[6], &v[7], &v[8], &used) == 10 && line[used] == '\0') {
		if ((iv = rd_interval(rd, k)) == NULL)
			return -1;
		iv->start = v[0];
		iv->len = v[1];
		iv->completed = v[2];
		iv->issued = v[3];
		iv->errors = v[4];
		iv->connects = v[5];
		iv->bytes_tx = v[6];
		iv->bytes_rx = v[7];
		iv->lost = v[8];
		return 0;
	}
	if (sscanf(line, "error %31s %llu%n", name, &n, &used) == 2 &&
	    line[used] == '\0') {
		for (e = 0; e < ERR_NKINDS; e++)
			if (strcmp(name, errkind_name[e]) == 0) {
				r->errors[e] = n;
				return 0;
			}
		return -1;
	}
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		klen = strlen(fields[i].key);
		if (strncmp(line, fields[i].key, klen) == 0 &&
		    line[klen] == ' ')
			return set_field(&fields[i], line + klen + 1);
	}
	return -1;
}

static void
rd_free(struct rdiv *rd)
{
	size_t i;

	for (i = 0; i < rd->n; i++)
		free(rd->h[i]);
	free(rd->h);
}

int
hist_file_read(const char *path, struct results *r)
{
	struct rdiv rd = { NULL, NULL, 0 };
	char line[512];
	uint64_t sum = 0;
	unsigned lineno = 0;
	bool ended = false, bad = false;
	size_t i, len;
	FILE *f;

	memset(r, 0, sizeof(*r));
	hist_init(&r->lat);
	if ((f = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL && !ended) {
		lineno++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (lineno == 1 ? strcmp(line, HIST_MAGIC) != 0 &&
		    strcmp(line, HIST_MAGIC_V1) != 0 :
		    parse_line(r, &rd, line, &ended) == -1) {
			log_warnx("%s:%u: not a concurbench histogram line: %s",
			    path, lineno, line);
			bad = true;
			break;
		}
	}
	fclose(f);
	for (i = 0; i < HIST_NBUCKETS; i++)
		sum += r->lat.b[i];
	for (i = 0; i < rd.n && !bad; i++)
		if (shist_from(&rd.iv[i].lat, rd.h[i]) == -1)
			bad = true;
	r->iv = rd.iv;
	r->niv = rd.n;
	rd_free(&rd);
	if (bad)
		return -1;
	if (!ended || sum != r->lat.count || r->runs == 0) {
		log_warnx("%s: truncated or inconsistent histogram file", path);
		return -1;
	}
	if (r->lat.count == 0)
		r->lat.min = UINT64_MAX;
	if (r->cfg.ntargets == 0)
		r->cfg.ntargets = 1;
	if (r->cfg.interval == 0)
		r->cfg.interval = 1000000000;
	if (r->cfg.targets_text[0] == '\0')
		snprintf(r->cfg.targets_text, sizeof(r->cfg.targets_text),
		    strchr(r->cfg.host, ':') ? "[%s]:%s" : "%s:%s",
		    r->cfg.host, r->cfg.port);
	return 0;
}

void
results_merge(struct results *dst, const struct results *src)
{
	uint64_t rate = (uint64_t)(req_rate(dst) * 1000.0 + 0.5);
	int64_t lo, hi;
	struct ivrec *iv;
	size_t i;
	int k;

	if (dst->runs == 0) {
		*dst = *src;
		dst->iv = NULL;
		dst->niv = 0;
		if (src->niv && (dst->iv = calloc(src->niv,
		    sizeof(*dst->iv))) != NULL) {
			dst->niv = src->niv;
			for (i = 0; i < src->niv; i++)
				ivrec_merge(&dst->iv[i], &src->iv[i]);
		}
		return;
	}
	dst->rate_sum = rate + (uint64_t)(req_rate(src) * 1000.0 + 0.5);
	/* The spread of the start times: how far the runs overlapped. */
	lo = dst->start_unix;
	hi = dst->start_unix + dst->start_spread;
	if (src->start_unix && (lo == 0 || src->start_unix < lo))
		lo = src->start_unix;
	if (src->start_unix + src->start_spread > hi)
		hi = src->start_unix + src->start_spread;
	dst->start_unix = lo;
	dst->start_spread = lo ? hi - lo : 0;
	dst->runs += src->runs;
	dst->interrupted |= src->interrupted;
	/* Generators that ran side by side: their loads add up. */
	dst->cfg.conns += src->cfg.conns;
	dst->cfg.threads += src->cfg.threads;
	dst->cfg.nsources += src->cfg.nsources;
	if (src->cfg.limit && dst->cfg.limit)
		dst->cfg.limit += src->cfg.limit;
	if (src->cfg.rate && dst->cfg.rate)
		dst->cfg.rate += src->cfg.rate;
	dst->cfg.verify &= src->cfg.verify;
	if (src->elapsed > dst->elapsed)
		dst->elapsed = src->elapsed;
	dst->target_requests += src->target_requests;
	dst->issued += src->issued;
	dst->completed += src->completed;
	dst->failed += src->failed;
	dst->connects += src->connects;
	dst->bytes_tx += src->bytes_tx;
	dst->bytes_rx += src->bytes_rx;
	dst->lost += src->lost;
	dst->duplicate += src->duplicate;
	dst->reordered += src->reordered;
	dst->late += src->late;
	dst->cpu_user += src->cpu_user;
	dst->cpu_sys += src->cpu_sys;
	for (k = 0; k < ERR_NKINDS; k++)
		dst->errors[k] += src->errors[k];
	hist_merge(&dst->lat, &src->lat);
	/* Intervals by number: second k of every run together. */
	if (src->niv > dst->niv) {
		iv = realloc(dst->iv, src->niv * sizeof(*iv));
		if (iv == NULL)
			return;
		memset(iv + dst->niv, 0, (src->niv - dst->niv) * sizeof(*iv));
		dst->iv = iv;
		dst->niv = src->niv;
	}
	for (i = 0; i < src->niv; i++)
		ivrec_merge(&dst->iv[i], &src->iv[i]);
}

int
results_exit_code(const struct results *r)
{
	/* sysexits(3) for the most frequent kind. */
	static const int code[ERR_NKINDS] = {
		[ERR_REFUSED] = 69, [ERR_RESET] = 74, [ERR_TIMEOUT] = 75,
		[ERR_EADDRNOTAVAIL] = 71, [ERR_VERIFY] = 65, [ERR_EOF] = 74,
		[ERR_OTHER] = 71,
	};
	int k, worst = -1;

	if (r->errors[ERR_VERIFY])
		return 65;
	if (r->interrupted)
		return 130;
	for (k = 0; k < ERR_NKINDS; k++)
		if (r->errors[k] && (worst < 0 || r->errors[k] >
		    r->errors[worst]))
			worst = k;
	if (worst >= 0)
		return code[worst];
	if (rate_missed(r))
		return 75;
	if (r->cfg.udp && r->lost)
		return 75;
	return 0;
}
