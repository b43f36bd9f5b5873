/*
 * registry: the tables of models and services, in --list order.
 *
 * Adding a model or a service is one file under models/ or services/ and
 * one line here.
 */
#include <stddef.h>
#include <string.h>

#include "server.h"
#include "service.h"

extern const struct service service_echo, service_discard, service_chargen,
    service_daytime, service_time, service_nbytes, service_exec;

const struct service *const services[] = {
	&service_echo,
	&service_discard,
	&service_chargen,
	&service_daytime,
	&service_time,
	&service_nbytes,
	&service_exec,
	NULL
};

extern const struct model model_iterative, model_fork, model_thread;
extern const struct model model_prefork, model_prefork_flock,
    model_prefork_mutex, model_prefork_fdpass, model_prethread,
    model_prethread_queue;
extern const struct model model_select, model_poll, model_epoll;
extern const struct model model_uring;

const struct model *const models[] = {
	&model_iterative,
	&model_fork,
	&model_thread,
	&model_prefork,
	&model_prefork_flock,
	&model_prefork_mutex,
	&model_prefork_fdpass,
	&model_prethread,
	&model_prethread_queue,
	&model_select,
	&model_poll,
	&model_epoll,
	&model_uring,
	NULL
};

const struct service *
service_find(const char *name)
{
	size_t i;

	for (i = 0; services[i] != NULL; i++)
		if (strcmp(services[i]->name, name) == 0)
			return services[i];
	return NULL;
}

const struct model *
model_find(const char *name)
{
	size_t i;

	for (i = 0; models[i] != NULL; i++)
		if (strcmp(models[i]->name, name) == 0)
			return models[i];
	return NULL;
}
