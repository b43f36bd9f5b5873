/*
 * service: the configuration of a service (options, operands, ready), the
 * connection facts a service may ask for, and the hooks several services
 * share where they have nothing of their own to do.
 */
#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "admit.h"
#include "log.h"
#include "net.h"

#define SENDFILE_MAX	(1 << 30)	/* per call, well within ssize_t */

int
svc_setup_init(struct svc_setup *s, const struct service *svc)
{
	s->svc = svc;
	s->conf = NULL;
	s->state_size = svc->state_size;
	if (svc->conf_size > 0 && (s->conf = calloc(1, svc->conf_size)) == NULL)
		return -1;
	return 0;
}

int
svc_setup_option(struct svc_setup *s, const char *name, const char *arg,
    char *err, size_t errlen)
{
	if (s->svc->option == NULL) {
		snprintf(err, errlen, "service %s has no option --%s",
		    s->svc->name, name);
		return -1;
	}
	return s->svc->option(s->conf, name, arg, err, errlen);
}

int
svc_setup_operands(struct svc_setup *s, char *const *argv, int argc,
    char *err, size_t errlen)
{
	if (s->svc->operands != NULL)
		return s->svc->operands(s->conf, argv, argc, err, errlen);
	if (argc > 0) {
		snprintf(err, errlen, "unexpected argument '%s' (service %s "
		    "takes none)", argv[0], s->svc->name);
		return -1;
	}
	return 0;
}

int
svc_setup_ready(struct svc_setup *s, char *err, size_t errlen)
{
	ssize_t n;

	if (s->svc->ready == NULL)
		return 0;
	if ((n = s->svc->ready(s->conf, err, errlen)) < 0)
		return -1;
	s->state_size = (size_t)n;
	return 0;
}

void
svc_setup_fini(const struct service *svc, void *conf)
{
	if (svc->fini != NULL && conf != NULL)
		svc->fini(conf);
	free(conf);
}

const struct service *
svc_option_owner(const char *name, const struct svc_option **opt)
{
	const struct svc_option *o;
	size_t i;

	for (i = 0; services[i] != NULL; i++)
		for (o = services[i]->options; o != NULL && o->name != NULL; o++)
			if (strcmp(o->name, name) == 0) {
				if (opt != NULL)
					*opt = o;
				return services[i];
			}
	return NULL;
}

uint64_t
svc_id(const struct svc_conn *c)
{
	return c->meta != NULL ? c->meta->id : 0;
}

const char *
svc_peer(const struct svc_conn *c, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (c->meta != NULL && c->meta->keyed)
		return conn_peer(c->meta, buf, len);
	if (c->fd >= 0 && getpeername(c->fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    net_ntop((struct sockaddr *)&ss, buf, len) != NULL)
		return buf;
	snprintf(buf, len, "?");
	return buf;
}

const char *
svc_local(const struct svc_conn *c, char *buf, size_t len, int *port)
{
	*port = 0;
	if (c->fd < 0 || net_local_addr(c->fd, buf, len, port) != 0) {
		snprintf(buf, len, "?");
		*port = 0;
	}
	return buf;
}

void
svc_file_short(uint64_t id, uint64_t left)
{
	log_info("conn %llu: the file ended %llu bytes early; closing",
	    (unsigned long long)id, (unsigned long long)left);
}

int
svc_file_send(int sock, struct svc_file *f, uint64_t id, uint64_t *sent)
{
	ssize_t w;

	while (f->len > 0) {
		w = sendfile(sock, f->fd, &f->off,
		    f->len > SENDFILE_MAX ? SENDFILE_MAX : (size_t)f->len);
		if (w == -1)
			return -1;
		if (w == 0) {
			/* Shorter than it was: nothing can make up the bytes
			 * promised. */
			svc_file_short(id, f->len);
			f->len = 0;
			errno = ENODATA;
			return -1;
		}
		*sent += (uint64_t)w;
		f->len -= (uint64_t)w;
	}
	return 0;
}

int
svc_start_nothing(void *st, const struct svc_conn *conn, struct svc_out *out)
{
	(void)st;
	(void)conn;
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
