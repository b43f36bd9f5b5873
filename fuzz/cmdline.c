/*
 * fuzz/cmdline.c: concurd's command line, parsed by its real main().
 *
 * programs/concurd/main.c is compiled as it is, with main renamed
 * (-Dmain=concurd_main), and linked with the linker's --wrap so that
 * nothing past the parsing happens:
 *   exit()          (usage errors: fatalx) jumps back here with the code;
 *   sysconf()       main's first call once every option is parsed and
 *                   checked: jumps back here as "parsed";
 *   log_set_file(), log_set_syslog()  do nothing (no file is created).
 * Input: the arguments, separated by NUL bytes (argv[0] is "concurd").
 * Checked: no crash, no undefined behaviour, no out-of-bounds access
 * (ASan), and every outcome is one the man page documents: parsed, or exit
 * 0 (--help, --list, --version), 64 (usage) or 69 (model unavailable).
 * Leak detection is off for this harness: jumping out of main leaves its
 * --allow/--deny table behind, which a real run frees by exiting.
 */
#include <getopt.h>
#include <setjmp.h>
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

static jmp_buf back;
static volatile int inside;

void
__wrap_exit(int code)
{
	if (inside) {
		inside = 0;
		longjmp(back, code + 1);
	}
	__real_exit(code);
}

long
__wrap_sysconf(int name)
{
	if (inside) {
		inside = 0;
		longjmp(back, PARSED + 1);
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[4096 + 1];
	char *argv[66];
	volatile int argc = 1;
	int r;
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
	optind = 0;	/* glibc: start getopt afresh */
	fflush(stdout);
	if ((r = setjmp(back)) == 0) {
		inside = 1;
		r = concurd_main(argc, argv) + 1;
	}
	inside = 0;
	r--;
	if (r != PARSED && r != 0 && r != 64 && r != 69) {
		fprintf(stderr, "concurd's parser ended with %d\n", r);
		abort();
	}
	return 0;
}
