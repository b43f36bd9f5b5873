/*
 * fuzz/cmdline.c: concurd's command line, parsed by its real main().
 *
 * programs/concurd/main.c is compiled as it is, with main renamed
 * (-Dmain=concurd_main), and linked with the linker's --wrap so that
 * nothing past the parsing happens:
 *   exit()          (usage errors: fatalx) ends the run with the code;
 *   sysconf()       main's first call once every option is parsed and
 *                   checked: ends the run as "parsed";
 *   log_set_file(), log_set_syslog()  do nothing (no file is created).
 * Each input's main() runs on a thread of its own, which those wrappers end
 * with pthread_exit(): its whole stack goes with it.  (Jumping out of
 * main() with longjmp, as this harness once did, left ASan with a stack it
 * could not clean up, and libFuzzer's next frames tripped over it.)
 * Input: the arguments, separated by NUL bytes (argv[0] is "concurd").
 * Checked: no crash, no undefined behaviour, no out-of-bounds access
 * (ASan), and every outcome is one the man page documents: parsed, or exit
 * 0 (--help, --list, --version), 64 (usage) or 69 (model unavailable).
 * Leak detection is off for this harness: leaving main early leaves its
 * --allow/--deny table behind, which a real run frees by exiting.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int concurd_main(int argc, char **argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void __wrap_exit(int code) __attribute__((noreturn));
void __real_exit(int code) __attribute__((noreturn));
long __wrap_sysconf(int name);
long __real_sysconf(int name);
int __wrap_log_set_file(const char *path);
void __wrap_log_set_syslog(bool on);

#define PARSED	1000

static pthread_t runner;
static volatile int inside, code;
static int argc_;
static char **argv_;

static bool
in_runner(void)
{
	return inside && pthread_equal(pthread_self(), runner);
}

void
__wrap_exit(int c)
{
	if (in_runner()) {
		code = c;
		inside = 0;
		pthread_exit(NULL);
	}
	__real_exit(c);
}

long
__wrap_sysconf(int name)
{
	if (in_runner()) {
		code = PARSED;
		inside = 0;
		pthread_exit(NULL);
	}
	return __real_sysconf(name);
}

int
__wrap_log_set_file(const char *path)
{
	(void)path;
	return 0;
}

void
__wrap_log_set_syslog(bool on)
{
	(void)on;
}

static void *
run(void *arg)
{
	(void)arg;
	runner = pthread_self();	/* before anything can call exit() */
	code = concurd_main(argc_, argv_);
	inside = 0;
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[4096 + 1];
	char *argv[66];
	int argc = 1;
	size_t i, start = 0;

	if (size > 4096)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = "concurd";
	for (i = 0; i <= size && argc < 65; i++)
		if (buf[i] == '\0') {
			argv[argc++] = buf + start;
			start = i + 1;
		}
	if (size == 0)
		argc = 1;
	argv[argc] = NULL;
	argc_ = argc;
	argv_ = argv;
	optind = 0;	/* glibc: start getopt afresh */
	fflush(stdout);
	code = -1;
	inside = 1;
	if (pthread_create(&runner, NULL, run, NULL) != 0)
		abort();
	pthread_join(runner, NULL);
	inside = 0;
	if (code != PARSED && code != 0 && code != 64 && code != 69) {
		fprintf(stderr, "concurd's parser ended with %d\n", code);
		abort();
	}
	return 0;
}
