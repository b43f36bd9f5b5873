/*
 * worker: what the TCP and UDP workers share -- their thread, their
 * counters, the end of their run -- and the interval results.
 *
 * Intervals: each worker records latencies into `ilat`, this interval's
 * histogram, and at each boundary (every --interval from the start of
 * measurement) adds it and its counters' growth to the shared record of
 * that interval, under one mutex: once per interval per worker, so the
 * lock costs nothing per request.  The worker then adds `ilat` to its whole
 * run's histogram, so recording a request still touches one histogram.
 * An interval is complete when every worker still running at its start has
 * reported it; main is told through an eventfd and prints its line.
 */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* The counters an interval reports, in iv_prev's order. */
enum { IV_COMPLETED, IV_ISSUED, IV_ERRORS, IV_CONNECTS, IV_TX, IV_RX,
	IV_LOST, IV_N };

struct ivpend {
	struct ivpend *next;
	int64_t k;
	unsigned reported;
	uint64_t end;		/* latest end reported */
	uint64_t v[IV_N];
	struct hist h;
};

void
wbase_init(struct wbase *w, struct shared *sh, unsigned id, int notify_fd)
{
	w->sh = sh;
	w->cfg = sh->cfg;
	w->id = id;
	w->notify_fd = notify_fd;
	w->iv_k = -1;
	w->iv_next = UINT64_MAX;
	hist_init(&w->lat);
	hist_init(&w->ilat);
}

int
worker_start(struct wbase *w)
{
	int e = pthread_create(&w->tid, NULL, w->main, w);

	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}

void
worker_join(struct wbase *w)
{
	pthread_join(w->tid, NULL);
}

void
worker_free(struct wbase *w)
{
	if (w != NULL)
		w->free(w);
}

void
worker_done(struct wbase *w, uint64_t now)
{
	uint64_t one = 1;

	w->finished = now < w->sh->end ? now : w->sh->end;
	iv_finish(w, w->finished);
	if (write(w->notify_fd, &one, sizeof(one)) == -1)
		log_warn("worker %u: notify", w->id);
}

void
report_first(struct wbase *w, enum errkind k, uint64_t conn, const char *what)
{
	if (log_level() < LOG_VERBOSE ||
	    atomic_exchange(&w->sh->kind_reported[k], 1) != 0)
		return;
	log_verbose("first error of kind %s: connection %llu: %s",
	    errkind_name[k], (unsigned long long)conn, what);
}

/* ---- intervals ---- */

int
iv_setup(struct shared *sh, unsigned nworkers)
{
	unsigned i;

	if (pthread_mutex_init(&sh->ivlock, NULL) != 0)
		return -1;
	sh->nworkers = nworkers;
	if ((sh->final_k = calloc(nworkers, sizeof(*sh->final_k))) == NULL)
		return -1;
	for (i = 0; i < nworkers; i++)
		sh->final_k[i] = -2;
	return 0;
}

static void
snapshot(const struct wbase *w, uint64_t v[IV_N])
{
	const struct wstats *st = &w->st;
	uint64_t e = 0;
	int k;

	for (k = 0; k < ERR_NKINDS; k++)
		e += atomic_load_explicit(&st->errors[k], memory_order_relaxed);
	v[IV_COMPLETED] = st->completed;
	v[IV_ISSUED] = st->issued;
	v[IV_ERRORS] = e;
	v[IV_CONNECTS] = st->connects;
	v[IV_TX] = st->bytes_tx;
	v[IV_RX] = st->bytes_rx;
	v[IV_LOST] = st->lost;
}

void
iv_start(struct wbase *w)
{
	w->iv_k = -1;
	w->iv_next = w->sh->measure_start;
}

/* Under ivlock: turn every pending interval that all its workers have
 * reported into a record, in order, and tell main. */
static void
complete(struct shared *sh)
{
	const uint64_t I = sh->cfg->interval;
	struct ivpend *p;
	struct ivrec *r, *grown;
	uint64_t one = 1;
	unsigned need, i;
	size_t cap;

	while ((p = sh->pending) != NULL) {
		for (need = 0, i = 0; i < sh->nworkers; i++)
			if (sh->final_k[i] == -2 || sh->final_k[i] >= p->k)
				need++;
		if (p->reported < need)
			return;
		if ((size_t)p->k >= sh->ivcap) {
			cap = sh->ivcap ? sh->ivcap * 2 : 64;
			while (cap <= (size_t)p->k)
				cap *= 2;
			if ((grown = realloc(sh->iv, cap * sizeof(*grown))) ==
			    NULL) {
				log_warnx("interval %lld: out of memory",
				    (long long)p->k);
				return;
			}
			memset(grown + sh->ivcap, 0, (cap - sh->ivcap) *
			    sizeof(*grown));
			sh->iv = grown;
			sh->ivcap = cap;
		}
		r = &sh->iv[p->k];
		r->start = (uint64_t)p->k * I;
		r->len = p->end - sh->measure_start - r->start;
		r->completed = p->v[IV_COMPLETED];
		r->issued = p->v[IV_ISSUED];
		r->errors = p->v[IV_ERRORS];
		r->connects = p->v[IV_CONNECTS];
		r->bytes_tx = p->v[IV_TX];
		r->bytes_rx = p->v[IV_RX];
		r->lost = p->v[IV_LOST];
		if (shist_from(&r->lat, &p->h) == -1)
			log_warnx("interval %lld: out of memory",
			    (long long)p->k);
		if ((size_t)p->k + 1 > sh->niv)
			sh->niv = (size_t)p->k + 1;
		sh->pending = p->next;
		free(p);
		if (write(sh->iv_fd, &one, sizeof(one)) == -1)
			log_warn("interval notify");
	}
}

void
iv_report(struct wbase *w, uint64_t t_end)
{
	struct shared *sh = w->sh;
	struct ivpend **pp, *p;
	uint64_t v[IV_N];
	int i;

	snapshot(w, v);
	if (w->iv_k < 0) {
		/* Measurement begins.  Only errors and connections are
		 * counted before it (the warmup's and the connect phase's);
		 * the other counters count measured requests only, from 0,
		 * some of which may have begun before this first look. */
		w->iv_prev[IV_ERRORS] = v[IV_ERRORS];
		w->iv_prev[IV_CONNECTS] = v[IV_CONNECTS];
		w->iv_k = 0;
		w->iv_next = sh->measure_start + w->cfg->interval;
		return;
	}
	pthread_mutex_lock(&sh->ivlock);
	for (pp = &sh->pending; *pp != NULL && (*pp)->k < w->iv_k;
	    pp = &(*pp)->next)
		;
	if ((p = *pp) == NULL || p->k != w->iv_k) {
		if ((p = calloc(1, sizeof(*p))) == NULL) {
			pthread_mutex_unlock(&sh->ivlock);
			log_warnx("interval: out of memory");
			goto next;
		}
		p->k = w->iv_k;
		hist_init(&p->h);
		p->next = *pp;
		*pp = p;
	}
	for (i = 0; i < IV_N; i++)
		p->v[i] += v[i] - w->iv_prev[i];
	if (w->ilat.count)
		hist_merge(&p->h, &w->ilat);
	if (t_end > p->end)
		p->end = t_end;
	p->reported++;
	complete(sh);
	pthread_mutex_unlock(&sh->ivlock);
next:
	if (w->ilat.count) {
		hist_merge(&w->lat, &w->ilat);
		hist_init(&w->ilat);
	}
	memcpy(w->iv_prev, v, sizeof(v));
	w->iv_k++;
	w->iv_next += w->cfg->interval;
}

void
iv_finish(struct wbase *w, uint64_t now)
{
	struct shared *sh = w->sh;
	uint64_t v[IV_N];

	if (w->iv_k >= 0) {
		iv_check(w, now);
		snapshot(w, v);
		/* The last, partial interval, if it has begun or holds
		 * anything. */
		if (w->ilat.count || memcmp(v, w->iv_prev, sizeof(v)) != 0 ||
		    now > w->iv_next - w->cfg->interval)
			iv_report(w, now);
	}
	pthread_mutex_lock(&sh->ivlock);
	sh->final_k[w->id] = w->iv_k < 0 ? -1 : w->iv_k - 1;
	complete(sh);
	pthread_mutex_unlock(&sh->ivlock);
	/* Requests recorded before measuring could report: none, but keep
	 * the whole-run histogram whole. */
	if (w->ilat.count) {
		hist_merge(&w->lat, &w->ilat);
		hist_init(&w->ilat);
	}
}

void
ivrec_merge(struct ivrec *dst, const struct ivrec *src)
{
	struct hist *h;

	dst->start = src->start;
	if (src->len > dst->len)
		dst->len = src->len;
	dst->completed += src->completed;
	dst->issued += src->issued;
	dst->errors += src->errors;
	dst->connects += src->connects;
	dst->bytes_tx += src->bytes_tx;
	dst->bytes_rx += src->bytes_rx;
	dst->lost += src->lost;
	if ((h = malloc(sizeof(*h))) == NULL)
		return;
	hist_init(h);
	shist_to(&dst->lat, h);
	shist_to(&src->lat, h);
	shist_free(&dst->lat);
	(void)shist_from(&dst->lat, h);
	free(h);
}

void
ivrec_free(struct ivrec *iv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		shist_free(&iv[i].lat);
	free(iv);
}

/* ---- the open-loop schedule ---- */

uint64_t
sched_time(double x, uint64_t interval, uint64_t ramp)
{
	double in = (double)interval, rp = (double)ramp;

	if (ramp == 0)
		return (uint64_t)(x * in);
	/* Rate rises linearly: requests by time t are t^2 / (2 ramp in). */
	if (x <= rp / (2 * in))
		return (uint64_t)sqrt(2 * rp * x * in);
	return (uint64_t)(x * in + rp / 2);
}

double
sched_count(uint64_t t, uint64_t interval, uint64_t ramp)
{
	double in = (double)interval, rp = (double)ramp, tt = (double)t;

	if (ramp == 0)
		return tt / in;
	if (tt <= rp)
		return tt * tt / (2 * rp * in);
	return (tt - rp / 2) / in;
}
