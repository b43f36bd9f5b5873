/*
 * registry: the tables of models and services, in --list order.
 *
 * Adding a model or a service is one file under models/ or services/,
 * exporting model_NAME or service_NAME, and one line here.
 */
#include <stddef.h>
#include <string.h>

#include "server.h"
#include "service.h"

#define SERVICES(X)		\
	X(echo)			\
	X(discard)		\
	X(chargen)		\
	X(daytime)		\
	X(time)			\
	X(nbytes)		\
	X(file)			\
	X(exec)

#define MODELS(X)		\
	X(iterative)		\
	X(fork)			\
	X(thread)		\
	X(prefork)		\
	X(prefork_flock)	\
	X(prefork_mutex)	\
	X(prefork_fdpass)	\
	X(prethread)		\
	X(prethread_queue)	\
	X(select)		\
	X(poll)			\
	X(epoll)		\
	X(uring)

#define DECLARE_SERVICE(n)	extern const struct service service_##n;
#define DECLARE_MODEL(n)	extern const struct model model_##n;
#define ENTRY_SERVICE(n)	&service_##n,
#define ENTRY_MODEL(n)		&model_##n,

SERVICES(DECLARE_SERVICE)
MODELS(DECLARE_MODEL)

const struct service *const services[] = { SERVICES(ENTRY_SERVICE) NULL };
const struct model *const models[] = { MODELS(ENTRY_MODEL) NULL };

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
