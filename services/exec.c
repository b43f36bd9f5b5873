/*
 * exec: a program per connection (concurd -s exec -- PROGRAM ARGS...).
 *
 * The entry only names the service and flags it: the work is in
 * engine/exec.c, because a program that owns the socket is not a state
 * machine a driver can run.  Its hooks are never called.
 */
#include "service.h"

static int
exec_never(void *st, struct svc_out *out)
{
	(void)st;
	(void)out;
	return SVC_ABORT;
}

static int
exec_input(void *st, const char *buf, size_t len, struct svc_out *out)
{
	(void)st;
	(void)buf;
	(void)len;
	(void)out;
	return SVC_ABORT;
}

const struct service service_exec = {
	.name = "exec",
	.summary = "runs a program per connection on the socket (like tcpserver)",
	.flags = SVC_EXEC,
	.start = exec_never,
	.input = exec_input,
	.eof = exec_never,
};
