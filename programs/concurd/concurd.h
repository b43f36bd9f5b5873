/*
 * concurd: what main.c and listen.c share -- the command line, as parsed,
 * beyond what struct server holds, and the listener's set-up.
 */
#ifndef CONCURD_H
#define CONCURD_H

#include <stdbool.h>
#include <sys/types.h>

#include "net.h"

struct server;

struct cmdline {
	const char *model, *service, *bind, *port;
	const char *user, *group, *pidfile, *logfile, *list;
	const char *metrics;	/* --metrics ADDRESS:PORT */
	const char *chroot;	/* --chroot DIR (a real path once checked) */
	bool inetd, daemon, use_syslog, listing;
	bool no_sandbox;	/* --no-sandbox */
	int verbosity, backlog, stats_ms;
	/* Socket options for the listener (and through it every accepted
	 * connection); tcp_opt: the first TCP-only one given, for the
	 * message when the socket is not TCP. */
	struct net_sockopts so;
	bool nodelay_off;
	bool defer_given;	/* --defer-accept, 0 included */
	const char *tcp_opt;
	/* systemd passed a datagram socket beside the stream one */
	int udp_fd;
	char udp_where[300];
	/* -b unix:PATH */
	const char *unix_path, *unix_mode, *unix_owner;
	dev_t unix_dev;
	ino_t unix_ino;
	/* Service options, applied once the service is known. */
	struct { const char *name, *arg; } sopt[64];
	int nsopt;
	char *const *operands;
	int noperands;
};

/* The listener, from systemd or made here, with the socket options; where
 * it listens, as the listening line says it ("ADDRESS port N", or
 * "unix:PATH").  Exits with a message on failure. */
void listener_open(struct cmdline *cl, struct server *srv, char *where,
    size_t len);
/* At exit: close it, and remove a Unix socket's file we made. */
void listener_close(struct cmdline *cl, struct server *srv);
/* Checks of the listener options against what the command line asked,
 * before anything is bound (exits 64). */
void listener_check(struct cmdline *cl, struct server *srv);

bool is_socket(int fd);

#endif
