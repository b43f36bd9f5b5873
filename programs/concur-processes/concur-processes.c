/*
 * concur-processes: after fork() parent and child each have their own memory
 * (the lab's `processes` program).
 *
 * The child inherits a copy of the variable `test`, changes its copy and
 * prints it; the parent waits for the child to finish, then prints its own
 * copy, unchanged.  Because the parent prints only after waitpid(), the
 * output is the same on every run apart from the pids.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

#define EX_USAGE	64
#define EX_OSERR	71

static void
usage(FILE *f)
{
	fprintf(f, "usage: concur-processes [--help] [--version]\n"
	    "Forks once: the child changes its copy of `test`, the parent's\n"
	    "copy stays as it was.\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, status, test = 1;
	pid_t pid;

	log_init(argv[0], LOG_NORMAL);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("concur-processes (concurd) %s\n", CONCUR_VERSION);
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

	printf("parent (pid %ld): test = %d before fork()\n", (long)getpid(),
	    test);
	/* Flush now, or the child would inherit the unwritten line and print
	 * it a second time. */
	if (fflush(stdout) == EOF)
		fatal(EX_OSERR, "stdout");

	pid = fork();
	if (pid == -1)
		fatal(EX_OSERR, "fork");
	if (pid == 0) {
		test = 2;	/* changes the child's copy only */
		printf("child  (pid %ld, parent %ld): test = %d after "
		    "setting it in the child\n", (long)getpid(),
		    (long)getppid(), test);
		if (fflush(stdout) == EOF)
			_exit(EX_OSERR);
		_exit(0);
	}

	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			fatal(EX_OSERR, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fatalx(EX_OSERR, "child %ld failed", (long)pid);
	printf("parent (pid %ld): test = %d after the child %ld exited: "
	    "the child changed its own copy\n", (long)getpid(), test,
	    (long)pid);
	if (fflush(stdout) == EOF)
		fatal(EX_OSERR, "stdout");
	return 0;
}
