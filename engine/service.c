/*
 * service: the hooks several services share, where a service has nothing
 * of its own to do at that point of the contract.
 */
#include "service.h"

int
svc_start_nothing(void *st, struct svc_out *out)
{
	(void)st;
	(void)out;
	return SVC_OK;
}

int
svc_input_ignore(void *st, const char *buf, size_t len, struct svc_out *out)
{
	(void)st;
	(void)buf;
	(void)len;
	(void)out;
	return SVC_OK;
}

int
svc_input_done(void *st, const char *buf, size_t len, struct svc_out *out)
{
	(void)st;
	(void)buf;
	(void)len;
	(void)out;
	return SVC_DONE;
}

int
svc_eof_done(void *st, struct svc_out *out)
{
	(void)st;
	(void)out;
	return SVC_DONE;
}

int
svc_eof_ignore(void *st, struct svc_out *out)
{
	(void)st;
	(void)out;
	return SVC_OK;
}
