/*
 * concur-threads: threads share memory, so a shared counter needs a mutex
 * (the lab's `threads` program).
 *
 * N threads each add 1 to one counter LOOPS times, twice:
 *
 *   without a mutex, an increment is "load the counter, then store load+1":
 *   two steps another thread can run between.  Its increments are then
 *   overwritten: lost updates.  The two steps are relaxed atomic operations,
 *   so the race is a real one without C undefined behaviour; a short pause
 *   between them widens the window so the loss shows even on one CPU (a
 *   thread preempted inside it wipes out what the others did meanwhile);
 *
 *   with a pthread mutex around the very same two steps, nothing is lost.
 *
 * Each thread ends with pthread_exit() giving the number of increments it
 * made; main collects these with pthread_join() and adds them up.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parse.h"

#define EX_USAGE	64
#define EX_OSERR	71

static _Atomic uint64_t counter;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t loops = 1000000;
static bool use_mutex;

static void
usage(FILE *f)
{
	fprintf(f, "usage: concur-threads [-t THREADS] [-n LOOPS]\n"
	    "  -t THREADS  threads incrementing the shared counter (default 4)\n"
	    "  -n LOOPS    increments per thread (default 1000000)\n"
	    "  --help, --version\n");
}

/*
 * The racy increment: a separate load and store, a pause in between.  Every
 * 1024th time the pause is a sched_yield(), which is what a timer preemption
 * inside the window does now and then: on one CPU the other threads then run
 * while this one holds a stale value.
 */
static void
increment(uint64_t i)
{
	uint64_t v = atomic_load_explicit(&counter, memory_order_relaxed);

	if (i % 1024 == 1023)
		sched_yield();
	else
		for (volatile int spin = 0; spin < 20; spin++)
			;
	atomic_store_explicit(&counter, v + 1, memory_order_relaxed);
}

static void *
worker(void *arg)
{
	uint64_t i;
	int e;

	(void)arg;
	for (i = 0; i < loops; i++) {
		if (use_mutex && (e = pthread_mutex_lock(&lock)) != 0) {
			errno = e;
			fatal(EX_OSERR, "pthread_mutex_lock");
		}
		increment(i);
		if (use_mutex && (e = pthread_mutex_unlock(&lock)) != 0) {
			errno = e;
			fatal(EX_OSERR, "pthread_mutex_unlock");
		}
	}
	/* The thread's result: how many increments it made. */
	pthread_exit((void *)(uintptr_t)i);
}

/* Run the threads once; returns the counter they leave. */
static uint64_t
run(pthread_t *tid, uint64_t nthreads, bool mutex)
{
	const char *name = mutex ? "with mutex:   " : "without mutex:";
	uint64_t i, joined = 0;
	void *ret;
	int e;

	atomic_store(&counter, 0);
	use_mutex = mutex;
	for (i = 0; i < nthreads; i++)
		if ((e = pthread_create(&tid[i], NULL, worker, NULL)) != 0) {
			errno = e;
			fatal(EX_OSERR, "pthread_create");
		}
	for (i = 0; i < nthreads; i++) {
		if ((e = pthread_join(tid[i], &ret)) != 0) {
			errno = e;
			fatal(EX_OSERR, "pthread_join");
		}
		printf("%s thread %llu joined: pthread_exit value %llu "
		    "increments\n", name, (unsigned long long)i + 1,
		    (unsigned long long)(uintptr_t)ret);
		joined += (uintptr_t)ret;
	}
	printf("%s joined threads made %llu increments, counter = %llu, "
	    "expected %llu: ", name, (unsigned long long)joined,
	    (unsigned long long)atomic_load(&counter),
	    (unsigned long long)(nthreads * loops));
	if (atomic_load(&counter) == nthreads * loops)
		printf("exact\n");
	else
		printf("%llu updates lost\n", (unsigned long long)
		    (nthreads * loops - atomic_load(&counter)));
	return atomic_load(&counter);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t nthreads = 4;
	pthread_t *tid;
	int c;

	log_init(argv[0], LOG_NORMAL);
	while ((c = getopt_long(argc, argv, "t:n:", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_uint(optarg, 1, 1024, &nthreads) == -1)
				fatalx(EX_USAGE, "-t %s: expected 1 to 1024 "
				    "threads", optarg);
			break;
		case 'n':
			if (parse_uint(optarg, 1, 1000000000, &loops) == -1)
				fatalx(EX_USAGE, "-n %s: expected 1 to "
				    "1000000000 loops", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("concur-threads (concurd) %s\n", CONCUR_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		log_warnx("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	tid = calloc(nthreads, sizeof(*tid));
	if (tid == NULL)
		fatal(EX_OSERR, "calloc");
	printf("%llu threads x %llu increments of one shared counter, "
	    "expected total %llu\n", (unsigned long long)nthreads,
	    (unsigned long long)loops, (unsigned long long)(nthreads * loops));
	run(tid, nthreads, false);
	run(tid, nthreads, true);
	free(tid);
	if (fflush(stdout) == EOF)
		fatal(EX_OSERR, "stdout");
	return 0;
}
