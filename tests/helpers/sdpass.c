/*
 * sdpass: start a program as systemd would start a socket-activated
 * Type=notify service, where no systemd runs (tests/ops-systemd.t).
 *
 *   sdpass [-N FILE] [-P FILE] SOCKET... -- PROGRAM ARGS...
 *
 * SOCKET, made and passed in LISTEN_FDS from descriptor 3 in this order
 * (LISTEN_PID is this process, which then becomes PROGRAM):
 *   tcp:PORT    a listening TCP socket on 127.0.0.1 (0: any free port)
 *   tcp6:PORT   the same on ::1
 *   udp:PORT    a UDP socket on 127.0.0.1; udp:= the previous TCP port
 *   unix:PATH   a listening Unix-domain stream socket
 * -P FILE  writes "tcp PORT", "udp PORT" lines for the ports taken
 * -N FILE  makes a notification socket (NOTIFY_SOCKET, FILE.sock) and a
 *          child that appends every notification to FILE, one line each
 *          (a datagram's newlines shown as '|'), and dies with PROGRAM
 * Exit 64 on a usage error, 71 if a socket cannot be made.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: sdpass [-N FILE] [-P FILE] SOCKET... -- "
	    "PROGRAM ARGS...\n");
	exit(64);
}

static _Noreturn void
die(const char *what)
{
	fprintf(stderr, "sdpass: %s: %s\n", what, strerror(errno));
	exit(71);
}

/* An inet socket of type on loopback (v6: ::1), bound to port, listening
 * if a stream; its port. */
static int
inet(int type, bool v6, int port, int want_fd)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, on = 1;

	memset(&ss, 0, sizeof(ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons((uint16_t)port);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->sin_port = htons((uint16_t)port);
		sl = sizeof(*a);
	}
	if ((fd = socket(ss.ss_family, type, 0)) == -1)
		die("socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1)
		die("bind");
	if (type == SOCK_STREAM && listen(fd, 64) == -1)
		die("listen");
	if (fd != want_fd && (dup2(fd, want_fd) == -1 || close(fd) == -1))
		die("dup2");
	sl = sizeof(ss);
	if (getsockname(want_fd, (struct sockaddr *)&ss, &sl) == -1)
		die("getsockname");
	return v6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
	    ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void
unix_listener(const char *path, int want_fd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		usage();
	strcpy(sun.sun_path, path);
	(void)unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 64) == -1)
		die(path);
	if (fd != want_fd && (dup2(fd, want_fd) == -1 || close(fd) == -1))
		die("dup2");
}

/* The notification socket and its recorder. */
static void
notifier(const char *file)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char path[sizeof(sun.sun_path)], buf[4096];
	pid_t parent = getpid();
	ssize_t n, i;
	int fd, out;

	if ((size_t)snprintf(path, sizeof(path), "%s.sock", file) >= sizeof(path))
		usage();
	strcpy(sun.sun_path, path);
	(void)unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die(path);
	if ((out = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) == -1)
		die(file);
	switch (fork()) {
	case -1:
		die("fork");
	case 0:
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != parent)
			_exit(0);
		alarm(300);	/* a bound, whatever happens */
		for (;;) {
			n = recv(fd, buf, sizeof(buf) - 1, 0);
			if (n <= 0) {
				if (n == -1 && errno == EINTR)
					continue;
				_exit(0);
			}
			for (i = 0; i < n; i++)
				if (buf[i] == '\n')
					buf[i] = '|';
			buf[n++] = '\n';
			if (write(out, buf, (size_t)n) != n)
				_exit(1);
		}
	}
	close(fd);
	close(out);
	if (setenv("NOTIFY_SOCKET", path, 1) == -1)
		die("setenv");
}

int
main(int argc, char **argv)
{
	const char *nfile = NULL, *pfile = NULL;
	char num[32], ports[512] = "";
	size_t plen = 0;
	FILE *pf = NULL;
	int i, c, n = 0, last_tcp = 0, port;

	while ((c = getopt(argc, argv, "+N:P:")) != -1) {
		switch (c) {
		case 'N': nfile = optarg; break;
		case 'P': pfile = optarg; break;
		default: usage();
		}
	}
	/* The sockets take descriptors 3...: the port file is written after. */
	for (i = optind; i < argc && strcmp(argv[i], "--") != 0; i++, n++) {
		const char *s = argv[i];
		int fd = 3 + n;

		if (strncmp(s, "tcp:", 4) == 0 || strncmp(s, "tcp6:", 5) == 0) {
			bool v6 = s[3] == '6';

			port = inet(SOCK_STREAM, v6, atoi(s + (v6 ? 5 : 4)), fd);
			last_tcp = port;
			plen += snprintf(ports + plen, sizeof(ports) - plen,
			    "tcp %d\n", port);
		} else if (strncmp(s, "udp:", 4) == 0) {
			port = inet(SOCK_DGRAM, false, strcmp(s + 4, "=") == 0 ?
			    last_tcp : atoi(s + 4), fd);
			plen += snprintf(ports + plen, sizeof(ports) - plen,
			    "udp %d\n", port);
		} else if (strncmp(s, "unix:", 5) == 0) {
			unix_listener(s + 5, fd);
		} else {
			usage();
		}
	}
	if (i >= argc - 1 || n == 0)
		usage();
	if (pfile != NULL && ((pf = fopen(pfile, "w")) == NULL ||
	    fputs(ports, pf) == EOF || fclose(pf) != 0))
		die(pfile);
	if (nfile != NULL)
		notifier(nfile);
	snprintf(num, sizeof(num), "%d", n);
	if (setenv("LISTEN_FDS", num, 1) == -1)
		die("setenv");
	snprintf(num, sizeof(num), "%d", (int)getpid());
	if (setenv("LISTEN_PID", num, 1) == -1)
		die("setenv");
	execvp(argv[i + 1], argv + i + 1);
	die(argv[i + 1]);
	return 71;
}
