/*
 * exec: a program per connection (concurd -s exec -- PROGRAM ARGS...),
 * like tcpserver and inetd.  The socket becomes the program's standard
 * input and output; the server's standard error stays its standard error,
 * for diagnostics.  The addresses travel in tcpserver's environment
 * variables: PROTO=TCP, TCPREMOTEIP, TCPREMOTEPORT, TCPLOCALIP,
 * TCPLOCALPORT; on a Unix-domain socket in ucspi-ipc's: PROTO=IPC,
 * IPCREMOTEEUID, IPCREMOTEEGID, IPCREMOTEPID (the client's credentials)
 * and IPCLOCALPATH.  Behind a balancer (--proxy-protocol) the TCP variables
 * are the client's and the address it connected to, from the header.
 *
 * It is not a state machine (the program owns the socket), so it takes the
 * connection over (service.h, takeover), and only the models that serve in
 * processes run it.  Each connection's program is a child that the serving
 * process waits for, so the connection stays counted (--max-conns,
 * --per-ip, active) for as long as the program runs, and its exit status is
 * logged with the connection id.  Only --inetd, serving one connection,
 * becomes the program itself.
 */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "accept.h"
#include "admit.h"
#include "log.h"
#include "net.h"
#include "service.h"
#include "sig.h"
#include "stop.h"

struct exec_conf {
	char *const *argv;	/* the program and its arguments */
};

static int
exec_operands(void *conf, char *const *argv, int argc, char *err,
    size_t errlen)
{
	struct exec_conf *c = conf;

	if (argc < 1) {
		snprintf(err, errlen, "-s exec needs a program: concurd -s exec "
		    "[options] -- PROGRAM ARGS...");
		return -1;
	}
	c->argv = argv;
	return 0;
}

static ssize_t
exec_ready(void *conf, char *err, size_t errlen)
{
	struct exec_conf *c = conf;

	if (c->argv == NULL) {
		snprintf(err, errlen, "-s exec needs a program: concurd -s exec "
		    "[options] -- PROGRAM ARGS...");
		return -1;
	}
	return 0;
}

static void
setenv_addr(int fd, bool local, const char *ipvar, const char *portvar)
{
	char addr[NET_ADDRSTRLEN] = "", port[8] = "";
	int p = 0, e;

	e = local ? net_local_addr(fd, addr, sizeof(addr), &p) :
	    net_peer_addr(fd, addr, sizeof(addr), &p);
	if (e == 0)
		snprintf(port, sizeof(port), "%d", p);
	(void)setenv(ipvar, addr, 1);
	(void)setenv(portvar, port, 1);
}

static void
setenv_int(const char *var, long v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%ld", v);
	(void)setenv(var, buf, 1);
}

/* A Unix-domain client: who it is, and the socket's path. */
static void
setenv_ipc(int fd)
{
	struct sockaddr_un sun;
	struct ucred uc;
	socklen_t len = sizeof(uc), sl = sizeof(sun);

	(void)setenv("PROTO", "IPC", 1);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0) {
		setenv_int("IPCREMOTEEUID", (long)uc.uid);
		setenv_int("IPCREMOTEEGID", (long)uc.gid);
		setenv_int("IPCREMOTEPID", (long)uc.pid);
	}
	memset(&sun, 0, sizeof(sun));
	if (getsockname(fd, (struct sockaddr *)&sun, &sl) == 0 &&
	    sl > offsetof(struct sockaddr_un, sun_path))
		(void)setenv("IPCLOCALPATH", sun.sun_path, 1);
}

static bool
is_unix(int fd)
{
	int domain = 0;
	socklen_t len = sizeof(domain);

	return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
	    domain == AF_UNIX;
}

/* --proxy-protocol: the client the header named, and where it connected
 * to on the balancer, as tcpserver would have seen them without one. */
static void
setenv_proxied(const struct conn_meta *m, int fd)
{
	char addr[NET_ADDRSTRLEN];

	(void)setenv("PROTO", "TCP", 1);
	(void)setenv("TCPREMOTEIP", conn_peer(m, addr, sizeof(addr)), 1);
	setenv_int("TCPREMOTEPORT", (long)m->port);
	if (m->dst != NULL) {
		(void)setenv("TCPLOCALIP", net_ntop(m->dst, addr, sizeof(addr)),
		    1);
		setenv_int("TCPLOCALPORT", (long)net_sa_port(m->dst));
	} else {
		setenv_addr(fd, true, "TCPLOCALIP", "TCPLOCALPORT");
	}
}

/* In the process that will become the program.  Never returns. */
static _Noreturn void
exec_program(const struct exec_conf *c, const struct conn_meta *m, int fd)
{
	sigset_t none;

	if (m != NULL && m->from_header) {
		setenv_proxied(m, fd);
	} else if (is_unix(fd)) {
		setenv_ipc(fd);
	} else {
		(void)setenv("PROTO", "TCP", 1);
		setenv_addr(fd, false, "TCPREMOTEIP", "TCPREMOTEPORT");
		setenv_addr(fd, true, "TCPLOCALIP", "TCPLOCALPORT");
	}
	/* The program gets the dispositions a program expects: SIGPIPE
	 * kills a writer to a closed socket, nothing blocked. */
	(void)sig_default(SIGPIPE);
	(void)sig_default(SIGTERM);
	(void)sig_default(SIGINT);
	(void)sig_default(SIGCHLD);
	(void)sig_default(SIGHUP);
	(void)sig_default(SIGUSR1);
	(void)sig_default(SIGUSR2);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1) {
		log_warn("exec: dup2");
		_exit(EX_OSERR);
	}
	if (fd > STDOUT_FILENO)
		close(fd);
	execvp(c->argv[0], c->argv);
	log_warn("exec %s", c->argv[0]);
	_exit(errno == ENOENT ? 127 : 126);
}

static void
log_status(uint64_t id, const char *prog, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_verbose("conn %llu: %s exited with status 0",
		    (unsigned long long)id, prog);
	else if (WIFEXITED(status))
		log_info("conn %llu: %s exited with status %d",
		    (unsigned long long)id, prog, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_info("conn %llu: %s killed by signal %d",
		    (unsigned long long)id, prog, WTERMSIG(status));
}

static int
exec_takeover(const struct svc_conn *conn, int fd, bool in_place)
{
	const struct exec_conf *c = conn->conf;
	int status;
	pid_t pid, w, parent;

	if (in_place)
		exec_program(c, conn->meta, fd);	/* --inetd: nothing after */
	parent = getpid();
	pid = fork();
	if (pid == 0) {
		/* If the waiting worker is killed (a stop's SIGKILL after the
		 * program ignored SIGTERM), the program must not live on as
		 * an orphan: it dies with its parent. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
			_exit(EX_OSERR);
		exec_program(c, conn->meta, fd);
	}
	close(fd);
	if (pid == -1) {
		log_warn("exec: fork");
		server_pause_ms(ACCEPT_PAUSE_MS);
		return -1;
	}
	/* Wait for it; a stop (EINTR, closing) ends the program too. */
	for (;;) {
		w = waitpid(pid, &status, 0);
		if (w == pid)
			break;
		if (w == -1 && errno != EINTR) {
			log_warn("exec: waitpid");
			status = 0;
			break;
		}
		if (server_closing())
			(void)kill(pid, SIGTERM);
	}
	log_status(svc_id(conn), c->argv[0], status);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

const struct service service_exec = {
	.name = "exec",
	.summary = "runs a program per connection on the socket (like tcpserver)",
	.conf_size = sizeof(struct exec_conf),
	.operands = exec_operands,
	.ready = exec_ready,
	.takeover = exec_takeover,
};
