/*
 * exec: running a program per connection (the exec service), for the
 * process models and --inetd.
 */
#ifndef CONCUR_EXEC_H
#define CONCUR_EXEC_H

#include <stdbool.h>

struct server;

/* Run srv->exec_argv with fd as stdin and stdout.  in_place: this process
 * becomes the program (--inetd); otherwise a child is forked and waited
 * for, its status logged.  Admission and accounting are done inside. */
void serve_exec(struct server *srv, int fd, int slot, bool in_place);

#endif
