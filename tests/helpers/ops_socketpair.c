/*
 * ops_socketpair: run a program on one end of a socketpair and talk to it
 * on the other, the way inetd or systemd hand a connection over.
 *
 *   ops_socketpair [-d DATA] [-k] [-w MS] [-e] [-3] -- PROGRAM ARGS...
 *
 * The program gets the socket as standard input and output (standard error
 * stays ours; with -e it is the socket too, as under inetd), or with -3 as descriptor 3 with LISTEN_FDS=1 and LISTEN_PID
 * set to its pid, as systemd passes sockets.  We send DATA, half-close
 * (unless -k), and copy what comes back to standard output until EOF or MS
 * (default 5000) pass.  Then we wait (at most 5 s more) for the program and
 * exit with its status: its exit code, 128 + the signal that killed it, or
 * 124 when it did not end in time (it is killed).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
usage(void)
{
	fprintf(stderr, "usage: ops_socketpair [-d DATA] [-k] [-w MS] [-e] [-3] -- "
	    "PROGRAM ARGS...\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	const char *data = NULL;
	bool keep = false, fd3 = false, err2 = false;
	long wait_ms = 5000, deadline;
	int sv[2], opt, status;
	pid_t pid, w;

	while ((opt = getopt(argc, argv, "+d:kw:e3")) != -1) {
		switch (opt) {
		case 'd': data = optarg; break;
		case 'k': keep = true; break;
		case 'w': wait_ms = atol(optarg); break;
		case 'e': err2 = true; break;
		case '3': fd3 = true; break;
		default: usage();
		}
	}
	if (optind == argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		perror("ops_socketpair: socketpair");
		return 1;
	}
	if ((pid = fork()) == -1) {
		perror("ops_socketpair: fork");
		return 1;
	}
	if (pid == 0) {
		char num[32];

		close(sv[0]);
		if (fd3) {
			snprintf(num, sizeof(num), "%d", (int)getpid());
			if (dup2(sv[1], 3) == -1 || setenv("LISTEN_FDS", "1", 1) ||
			    setenv("LISTEN_PID", num, 1))
				_exit(1);
		} else if (dup2(sv[1], 0) == -1 || dup2(sv[1], 1) == -1 ||
		    (err2 && dup2(sv[1], 2) == -1)) {
			_exit(1);
		}
		if (sv[1] > 3)
			close(sv[1]);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "ops_socketpair: %s: %s\n", argv[optind],
		    strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	deadline = now_ms() + wait_ms;
	if (data != NULL && send(sv[0], data, strlen(data), MSG_NOSIGNAL) == -1)
		fprintf(stderr, "ops_socketpair: send: %s\n", strerror(errno));
	if (!keep)
		(void)shutdown(sv[0], SHUT_WR);
	for (;;) {
		struct pollfd p = { sv[0], POLLIN, 0 };
		long left = deadline - now_ms();
		char b[4096];
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) == 0)
			break;
		r = read(sv[0], b, sizeof(b));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		fwrite(b, 1, (size_t)r, stdout);
		fflush(stdout);
	}
	close(sv[0]);
	deadline = now_ms() + 5000;
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
		(void)poll(NULL, 0, 20);
	if (w != pid) {
		kill(pid, SIGKILL);
		(void)waitpid(pid, &status, 0);
		fprintf(stderr, "ops_socketpair: %s did not end; killed\n",
		    argv[optind]);
		return 124;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
