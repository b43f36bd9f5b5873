/*
 * report: results as text or JSON, and the histogram file that --histogram
 * writes and --merge reads.
 *
 * The histogram file is line-oriented text, "key value" lines, so a shell
 * script or gnuplot can read it too:
 *
 *	concurbench-histogram 1
 *	mode pingpong
 *	...parameters and counts...
 *	error refused 0
 *	...
 *	hist count 1000
 *	hist min_ns 18021
 *	...
 *	bucket 18048 18175 12	(lowest ns, highest ns, samples)
 *	end
 *
 * Only non-empty buckets are listed; a reader checks that each bucket's
 * bounds are ours, so a file from a histogram with another layout is refused
 * instead of being misread.
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
	"pingpong", "connrate", "stream", "nbytes",
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
static double
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

static double
cpu_per_req(const struct results *r)
{
	return r->completed ? (double)(r->cpu_user + r->cpu_sys) /
	    (double)r->completed : 0.0;
}

static bool
is_conn_mode(enum mode m)
{
	return m == MODE_CONNRATE || m == MODE_NBYTES;
}

void
report_text(const struct results *r)
{
	const struct config *c = &r->cfg;
	uint64_t e = errors_total(r);
	size_t i;
	int k;

	printf("concurbench %s: %s, %s port %s%s\n", CONCUR_VERSION,
	    mode_name(c->mode), c->host, c->port,
	    r->runs > 1 ? "" : (r->interrupted ? " (interrupted)" : ""));
	if (r->runs > 1)
		printf("  merged from %u runs\n", r->runs);
	printf("  %s %" PRIu64 ", threads %" PRIu64 ", %s %" PRIu64 " B",
	    is_conn_mode(c->mode) ? "workers" : "connections", c->conns,
	    c->threads, c->mode == MODE_NBYTES ? "reply" : "message",
	    c->size);
	if (c->limit)
		printf(", requests %" PRIu64, c->limit);
	if (c->duration)
		printf(", duration %.3g s", secs(c->duration));
	if (c->per_worker)
		printf(", %" PRIu64 " per worker", c->per_worker);
	if (c->warmup)
		printf(", warmup %.3g s", secs(c->warmup));
	printf("\n  %s, verification %s",
	    c->rate ? "open loop" : "closed loop", c->verify ? "on" :
	    "OFF (--no-verify: replies were not checked)");
	if (is_conn_mode(c->mode))
		printf(", close %s", c->close_reset ? "reset" : "normal");
	printf("\n");
	printf("requests      %" PRIu64 " in %.3f s = %.1f req/s\n",
	    r->completed, secs(r->elapsed), req_rate(r));
	if (c->rate)
		printf("rate          target %" PRIu64 " req/s, achieved "
		    "%.1f req/s\n", c->rate, req_rate(r));
	if (r->issued != r->completed)
		printf("  %" PRIu64 " begun, %" PRIu64 " of them ended by "
		    "errors or cut off by the end of the run\n", r->issued,
		    r->issued - r->completed);
	if (c->mode == MODE_STREAM)
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
	}
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
	printf("connections   %" PRIu64 " opened\n", r->connects);
	printf("client CPU    %.2f us/request (user %.3f s, system %.3f s)\n",
	    cpu_per_req(r), (double)r->cpu_user / 1e6,
	    (double)r->cpu_sys / 1e6);
}

static void
json_str(const char *key, const char *s)
{
	printf("\"%s\":\"", key);
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
json_u64_or_null(const char *key, uint64_t v)
{
	if (v)
		printf("\"%s\":%" PRIu64, key, v);
	else
		printf("\"%s\":null", key);
}

void
report_json(const struct results *r)
{
	const struct config *c = &r->cfg;
	size_t i;
	int k;

	printf("{");
	json_str("concurbench", CONCUR_VERSION);
	printf(",");
	json_str("mode", mode_name(c->mode));
	printf(",");
	json_str("host", c->host);
	printf(",");
	json_str("port", c->port);
	printf(",\"runs\":%u,\"interrupted\":%s,", r->runs,
	    r->interrupted ? "true" : "false");
	printf("\"parameters\":{\"connections\":%" PRIu64 ",\"threads\":%"
	    PRIu64 ",\"message_size\":%" PRIu64 ",", c->conns, c->threads,
	    c->size);
	if (c->duration)
		printf("\"duration_s\":%.6f,", secs(c->duration));
	else
		printf("\"duration_s\":null,");
	json_u64_or_null("requests", c->limit);
	printf(",");
	json_u64_or_null("rate", c->rate);
	printf(",");
	json_u64_or_null("connections_per_worker", c->per_worker);
	printf(",\"warmup_s\":%.6f,\"connect_timeout_s\":%.6f,"
	    "\"io_timeout_s\":%.6f,\"verify\":%s,", secs(c->warmup),
	    secs(c->connect_timeout), secs(c->io_timeout),
	    c->verify ? "true" : "false");
	json_str("close", c->close_reset ? "reset" : "normal");
	printf("},");
	printf("\"elapsed_s\":%.6f,\"requests\":%" PRIu64 ",\"issued\":%"
	    PRIu64 ",\"connections_opened\":%" PRIu64 ",", secs(r->elapsed),
	    r->completed, r->issued, r->connects);
	printf("\"requests_per_s\":%.3f,", req_rate(r));
	printf("\"rate_target_per_s\":");
	if (c->rate)
		printf("%" PRIu64 ",", c->rate);
	else
		printf("null,");
	printf("\"bytes_sent\":%" PRIu64 ",\"bytes_received\":%" PRIu64
	    ",\"sent_bytes_per_s\":%.1f,\"received_bytes_per_s\":%.1f,",
	    r->bytes_tx, r->bytes_rx, per_sec(r->bytes_tx, r->elapsed),
	    per_sec(r->bytes_rx, r->elapsed));
	printf("\"latency_us\":{\"count\":%" PRIu64, r->lat.count);
	if (r->lat.count > 0) {
		printf(",\"min\":%.3f,\"mean\":%.3f", (double)r->lat.min / 1e3,
		    (double)r->lat.sum / (double)r->lat.count / 1e3);
		for (i = 0; i < NPCT; i++)
			printf(",\"%s\":%.3f", pct_names[i],
			    (double)hist_percentile(&r->lat, pcts[i]) / 1e3);
		printf(",\"max\":%.3f", (double)r->lat.max / 1e3);
	}
	printf("},\"errors\":{\"total\":%" PRIu64, errors_total(r));
	for (k = 0; k < ERR_NKINDS; k++)
		printf(",\"%s\":%" PRIu64, errkind_name[k], r->errors[k]);
	printf("},\"cpu\":{\"user_s\":%.6f,\"system_s\":%.6f,"
	    "\"us_per_request\":%.3f}}\n", (double)r->cpu_user / 1e6,
	    (double)r->cpu_sys / 1e6, cpu_per_req(r));
}

/* ---- the histogram file ---- */

#define HIST_MAGIC	"concurbench-histogram 1"

int
hist_file_write(const char *path, const struct results *r)
{
	const struct config *c = &r->cfg;
	FILE *f;
	size_t i;
	int k, bad;

	if ((f = fopen(path, "w")) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	fprintf(f, "%s\n", HIST_MAGIC);
	fprintf(f, "mode %s\nhost %s\nport %s\n", mode_name(c->mode),
	    c->host, c->port);
	fprintf(f, "connections %" PRIu64 "\nthreads %" PRIu64 "\nsize %"
	    PRIu64 "\nduration_ns %" PRIu64 "\nlimit %" PRIu64 "\nwarmup_ns %"
	    PRIu64 "\nrate %" PRIu64 "\nper_worker %" PRIu64
	    "\nconnect_timeout_ns %" PRIu64 "\nio_timeout_ns %" PRIu64
	    "\nverify %d\nclose_reset %d\n", c->conns, c->threads, c->size,
	    c->duration, c->limit, c->warmup, c->rate, c->per_worker,
	    c->connect_timeout, c->io_timeout, c->verify, c->close_reset);
	fprintf(f, "runs %u\ninterrupted %d\nelapsed_ns %" PRIu64
	    "\nrate_sum_milli %" PRIu64 "\nissued %" PRIu64 "\ncompleted %"
	    PRIu64 "\nconnects %" PRIu64 "\nbytes_tx %" PRIu64 "\nbytes_rx %"
	    PRIu64 "\ncpu_user_us %" PRIu64 "\ncpu_sys_us %" PRIu64 "\n",
	    r->runs, r->interrupted, r->elapsed,
	    (uint64_t)(req_rate(r) * 1000.0 + 0.5), r->issued, r->completed,
	    r->connects, r->bytes_tx, r->bytes_rx, r->cpu_user, r->cpu_sys);
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
	fprintf(f, "end\n");
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
};

static int
set_field(const struct field *fl, const char *val)
{
	uint64_t v;
	char *end;

	errno = 0;
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

static int
parse_line(struct results *r, char *line, bool *ended)
{
	struct config *c = &r->cfg;
	const struct field fields[] = {
		{ "connections", &c->conns, NULL, NULL },
		{ "threads", &c->threads, NULL, NULL },
		{ "size", &c->size, NULL, NULL },
		{ "duration_ns", &c->duration, NULL, NULL },
		{ "limit", &c->limit, NULL, NULL },
		{ "warmup_ns", &c->warmup, NULL, NULL },
		{ "rate", &c->rate, NULL, NULL },
		{ "per_worker", &c->per_worker, NULL, NULL },
		{ "connect_timeout_ns", &c->connect_timeout, NULL, NULL },
		{ "io_timeout_ns", &c->io_timeout, NULL, NULL },
		{ "verify", NULL, NULL, &c->verify },
		{ "close_reset", NULL, NULL, &c->close_reset },
		{ "runs", NULL, &r->runs, NULL },
		{ "interrupted", NULL, NULL, &r->interrupted },
		{ "elapsed_ns", &r->elapsed, NULL, NULL },
		{ "rate_sum_milli", &r->rate_sum, NULL, NULL },
		{ "issued", &r->issued, NULL, NULL },
		{ "completed", &r->completed, NULL, NULL },
		{ "connects", &r->connects, NULL, NULL },
		{ "bytes_tx", &r->bytes_tx, NULL, NULL },
		{ "bytes_rx", &r->bytes_rx, NULL, NULL },
		{ "cpu_user_us", &r->cpu_user, NULL, NULL },
		{ "cpu_sys_us", &r->cpu_sys, NULL, NULL },
		{ "hist count", &r->lat.count, NULL, NULL },
		{ "hist sum_ns", &r->lat.sum, NULL, NULL },
		{ "hist min_ns", &r->lat.min, NULL, NULL },
		{ "hist max_ns", &r->lat.max, NULL, NULL },
	};
	unsigned long long lo, hi, n;
	char name[32];
	size_t i, klen;
	int k, used;

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
	if (sscanf(line, "bucket %llu %llu %llu%n", &lo, &hi, &n, &used) == 3
	    && line[used] == '\0') {
		i = hist_index(lo);
		if (hist_low(i) != lo || hist_high(i) != hi)
			return -1;
		hist_add(&r->lat, i, n);
		return 0;
	}
	if (sscanf(line, "error %31s %llu%n", name, &n, &used) == 2 &&
	    line[used] == '\0') {
		for (k = 0; k < ERR_NKINDS; k++)
			if (strcmp(name, errkind_name[k]) == 0) {
				r->errors[k] = n;
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

int
hist_file_read(const char *path, struct results *r)
{
	char line[512];
	uint64_t sum = 0;
	unsigned lineno = 0;
	bool ended = false;
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
		if (lineno == 1 ? strcmp(line, HIST_MAGIC) != 0 :
		    parse_line(r, line, &ended) == -1) {
			log_warnx("%s:%u: not a concurbench histogram line: %s",
			    path, lineno, line);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	for (i = 0; i < HIST_NBUCKETS; i++)
		sum += r->lat.b[i];
	if (!ended || sum != r->lat.count || r->runs == 0) {
		log_warnx("%s: truncated or inconsistent histogram file", path);
		return -1;
	}
	if (r->lat.count == 0)
		r->lat.min = UINT64_MAX;
	return 0;
}

void
results_merge(struct results *dst, const struct results *src)
{
	uint64_t rate = (uint64_t)(req_rate(dst) * 1000.0 + 0.5);
	int k;

	if (dst->runs == 0) {
		*dst = *src;
		return;
	}
	dst->rate_sum = rate + (uint64_t)(req_rate(src) * 1000.0 + 0.5);
	dst->runs += src->runs;
	dst->interrupted |= src->interrupted;
	/* Generators that ran side by side: their loads add up. */
	dst->cfg.conns += src->cfg.conns;
	dst->cfg.threads += src->cfg.threads;
	if (src->cfg.limit && dst->cfg.limit)
		dst->cfg.limit += src->cfg.limit;
	if (src->cfg.rate && dst->cfg.rate)
		dst->cfg.rate += src->cfg.rate;
	dst->cfg.verify &= src->cfg.verify;
	if (src->elapsed > dst->elapsed)
		dst->elapsed = src->elapsed;
	dst->issued += src->issued;
	dst->completed += src->completed;
	dst->connects += src->connects;
	dst->bytes_tx += src->bytes_tx;
	dst->bytes_rx += src->bytes_rx;
	dst->cpu_user += src->cpu_user;
	dst->cpu_sys += src->cpu_sys;
	for (k = 0; k < ERR_NKINDS; k++)
		dst->errors[k] += src->errors[k];
	hist_merge(&dst->lat, &src->lat);
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
	for (k = 0; k < ERR_NKINDS; k++)
		if (r->errors[k] && (worst < 0 || r->errors[k] >
		    r->errors[worst]))
			worst = k;
	return worst < 0 ? 0 : code[worst];
}
