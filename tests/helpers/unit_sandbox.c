/*
 * unit_sandbox: a server, as concurd runs one, whose service makes the
 * calls the sandbox (engine/sandbox.h) must refuse.  For tests/sandbox.t.
 *
 *   unit_sandbox MODEL [--no-sandbox | --syslog]
 *
 * It listens on 127.0.0.1 (a free port; "listening on 127.0.0.1 port N"
 * on stderr, as concurd says it), enters the sandbox as concurd does for a
 * service that reads no file (no_new_privs, landlock with no rule, the
 * seccomp allow-list), unless --no-sandbox, and serves its probe under
 * MODEL until SIGTERM.  --syslog: the sandbox, and the log to syslog
 * (/dev/log), as concurd --syslog logs.  The probe's protocol, one command a line:
 *
 *   unshare    unshare(0), a call no model or service makes (it changes
 *              nothing): "unshare 0" back, or "unshare ERRNO"; in the
 *              sandbox the process making it is killed by SIGSYS, with a
 *              line on stderr naming the call
 *   open       open("/etc/hostname"): "open 0" or "open ERRNO" (EACCES
 *              from landlock)
 *   ping       "pong"
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "sandbox.h"
#include "server.h"
#include "service.h"
#include "stop.h"

struct probe {
	size_t linelen;
	char line[64];
	char reply[64];
};

static int
probe_start(void *st, const struct svc_conn *conn, struct svc_out *out)
{
	(void)st;
	(void)conn;
	(void)out;
	return SVC_OK;
}

static int
command(struct probe *p, struct svc_out *out)
{
	int r, fd;

	if (strcmp(p->line, "unshare") == 0) {
		r = (int)syscall(SYS_unshare, 0);
		snprintf(p->reply, sizeof(p->reply), "unshare %s\n",
		    r == 0 ? "0" : strerrorname_np(errno));
	} else if (strcmp(p->line, "open") == 0) {
		fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
		snprintf(p->reply, sizeof(p->reply), "open %s\n",
		    fd >= 0 ? "0" : strerrorname_np(errno));
		if (fd >= 0)
			close(fd);
	} else if (strcmp(p->line, "ping") == 0) {
		snprintf(p->reply, sizeof(p->reply), "pong\n");
	} else {
		return SVC_ABORT;
	}
	svc_emit(out, p->reply, strlen(p->reply));
	return SVC_OK;
}

static int
probe_input(void *st, const char *buf, size_t len, struct svc_out *out)
{
	struct probe *p = st;
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] != '\n') {
			if (p->linelen + 1 >= sizeof(p->line))
				return SVC_ABORT;
			p->line[p->linelen++] = buf[i];
			continue;
		}
		p->line[p->linelen] = '\0';
		p->linelen = 0;
		return command(p, out);	/* one command at a time */
	}
	return SVC_OK;
}

static void
probe_end(void *st)
{
	(void)st;
}

static const struct service probe = {
	.name = "probe",
	.summary = "calls the sandbox refuses",
	.state_size = sizeof(struct probe),
	.start = probe_start,
	.input = probe_input,
	.eof = svc_eof_done,
	.end = probe_end,
};

int
main(int argc, char **argv)
{
	struct server srv = { .svc = &probe, .socktype = SOCK_STREAM,
	    .workers = 2, .max_workers = 16, .ncpu = 2,
	    .svc_state = sizeof(struct probe), .nodelay_inherited = true };
	struct sandbox_fs fs = { 0 };
	bool sandbox = true, to_syslog = false;
	int e;

	if (argc < 2 || argc > 3 || (srv.model = model_find(argv[1])) == NULL ||
	    (argc == 3 && strcmp(argv[2], "--no-sandbox") != 0 &&
	    strcmp(argv[2], "--syslog") != 0)) {
		fprintf(stderr, "usage: unit_sandbox MODEL [--no-sandbox | "
		    "--syslog]\n");
		return 64;
	}
	sandbox = argc == 2 || strcmp(argv[2], "--syslog") == 0;
	to_syslog = argc == 3 && sandbox;
	log_init("unit_sandbox", LOG_NORMAL);
	if (to_syslog)
		log_set_syslog(true);
	if (srv.model->unavailable != NULL && srv.model->unavailable() != NULL) {
		fprintf(stderr, "unit_sandbox: model %s is not available: %s\n",
		    srv.model->name, srv.model->unavailable());
		return 69;
	}
	srv.lfd = net_listen("127.0.0.1", "0", SOCK_STREAM, 128, 0);
	if (srv.lfd < 0) {
		fprintf(stderr, "unit_sandbox: listen: %s\n",
		    net_strerror(srv.lfd));
		return 1;
	}
	srv.stats = mmap(NULL, sizeof(*srv.stats), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (srv.stats == MAP_FAILED || server_signals_init(&srv) == -1) {
		perror("unit_sandbox: setup");
		return 71;
	}
	server_set_grace(0);
	if (sandbox) {
		if ((e = sandbox_no_new_privs()) < 0 ||
		    ((e = sandbox_landlock(&fs)) < 0 && e != -EOPNOTSUPP) ||
		    (e = sandbox_seccomp()) < 0) {
			fprintf(stderr, "unit_sandbox: sandbox: %s\n",
			    strerror(-e));
			return 71;
		}
	}
	fprintf(stderr, "unit_sandbox: listening on 127.0.0.1 port %d "
	    "(model %s%s)\n", net_local_port(srv.lfd), srv.model->name,
	    sandbox ? ", sandbox" : "");
	e = srv.model->run(&srv);
	close(srv.lfd);
	return e < 0 ? 1 : 0;
}
