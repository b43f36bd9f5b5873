/*
 * exec: the service that runs a program per connection, like tcpserver and
 * inetd.  The socket becomes the program's standard input and output; the
 * server's standard error stays its standard error, for diagnostics.  The
 * addresses travel in tcpserver's environment variables: PROTO=TCP,
 * TCPREMOTEIP, TCPREMOTEPORT, TCPLOCALIP, TCPLOCALPORT.
 *
 * It is not a state machine (the program owns the socket), so only the
 * process models run it.  Each connection's program is a child that the
 * serving process waits for, so the connection stays counted (--max-conns,
 * --per-ip, active) for as long as the program runs, and its exit status is
 * logged with the connection id.  Only --inetd, serving one connection,
 * becomes the program itself.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "accept.h"
#include "admit.h"
#include "exec.h"
#include "log.h"
#include "net.h"
#include "server.h"
#include "sig.h"
#include "stop.h"

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

/* In the process that will become the program.  Never returns. */
static _Noreturn void
exec_program(struct server *srv, int fd)
{
	sigset_t none;

	(void)setenv("PROTO", "TCP", 1);
	setenv_addr(fd, false, "TCPREMOTEIP", "TCPREMOTEPORT");
	setenv_addr(fd, true, "TCPLOCALIP", "TCPLOCALPORT");
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
	execvp(srv->exec_argv[0], srv->exec_argv);
	log_warn("exec %s", srv->exec_argv[0]);
	_exit(errno == ENOENT ? 127 : 126);
}

static void
log_status(const struct conn_meta *m, const char *prog, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_verbose("conn %llu: %s exited with status 0",
		    (unsigned long long)m->id, prog);
	else if (WIFEXITED(status))
		log_info("conn %llu: %s exited with status %d",
		    (unsigned long long)m->id, prog, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_info("conn %llu: %s killed by signal %d",
		    (unsigned long long)m->id, prog, WTERMSIG(status));
}

void
serve_exec(struct server *srv, int fd, int slot, bool in_place)
{
	struct conn_meta m;
	int status;
	pid_t pid, w, parent;

	if (conn_open(srv, fd, slot, &m) == -1) {
		close(fd);
		return;
	}
	if (in_place)
		exec_program(srv, fd);	/* --inetd: nothing to account after */
	parent = getpid();
	pid = fork();
	if (pid == 0) {
		/* If the waiting worker is killed (a stop's SIGKILL after the
		 * program ignored SIGTERM), the program must not live on as
		 * an orphan: it dies with its parent. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
			_exit(EX_OSERR);
		exec_program(srv, fd);
	}
	close(fd);
	if (pid == -1) {
		log_warn("exec: fork");
		conn_close(srv, &m, 0, 0, -1);
		server_pause_ms(ACCEPT_PAUSE_MS);
		return;
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
	log_status(&m, srv->exec_argv[0], status);
	conn_close(srv, &m, 0, 0,
	    WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1);
}
