/*
 * unit_client_first: TAP checks of SVC_CLIENT_FIRST (engine/service.h).
 * A service with that flag says its start() emits nothing, and the event
 * loops then defer the accept until the client has sent something
 * (TCP_DEFER_ACCEPT).  A flagged service that greeted first would make
 * its clients wait a second for the greeting.  So every flagged service's
 * start() is called, under its default configuration, and must emit
 * nothing and go on; and a service that is not flagged and greets
 * (daytime) is seen to emit, so the check can see an emission.
 *
 * Usage: unit_client_first DIR   (a directory, the file service's root)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "service.h"

static int n, failed;

static void
ok(int cond, const char *what, const char *name)
{
	n++;
	printf("%sok %d - %s: %s\n", cond ? "" : "not ", n, name, what);
	if (!cond)
		failed++;
}

/* start() of svc under its default configuration (root: the file
 * service's directory): what it emitted, in *out; -1 if it could not be
 * set up (err says why), else start()'s result. */
static int
start_once(const struct service *svc, const char *root, struct svc_out *out,
    char *err, size_t errlen)
{
	struct conn_meta meta;
	struct svc_setup s;
	struct svc_conn sc;
	const struct svc_option *o;
	void *st;
	int r;

	if (svc_setup_init(&s, svc) == -1) {
		snprintf(err, errlen, "no memory for the configuration");
		return -1;
	}
	for (o = svc->options; o != NULL && o->name != NULL; o++)
		if (strcmp(o->name, "root") == 0 &&
		    svc_setup_option(&s, "root", root, err, errlen) == -1)
			goto fail;
	if (svc_setup_ready(&s, err, errlen) == -1)
		goto fail;
	if ((st = calloc(1, s.state_size > 0 ? s.state_size : 1)) == NULL) {
		snprintf(err, errlen, "no memory for the state");
		goto fail;
	}
	memset(&meta, 0, sizeof(meta));
	sc = (struct svc_conn){ s.conf, &meta, -1 };
	svc_out_init(out);
	r = svc->start(st, &sc, out);
	if (svc->end != NULL)
		svc->end(st);
	free(st);
	svc_setup_fini(svc, s.conf);
	return r;
fail:
	svc_setup_fini(svc, s.conf);
	return -1;
}

int
main(int argc, char **argv)
{
	const struct service *const *p;
	const struct service *day;
	struct svc_out out;
	char err[256];
	int flagged = 0, r;

	if (argc != 2) {
		fprintf(stderr, "usage: unit_client_first DIR\n");
		return 2;
	}
	for (p = services; *p != NULL; p++) {
		if (!((*p)->flags & SVC_CLIENT_FIRST))
			continue;
		flagged++;
		if ((*p)->start == NULL) {
			ok(0, "flagged, and has a start() to call", (*p)->name);
			continue;
		}
		err[0] = '\0';
		r = start_once(*p, argv[1], &out, err, sizeof(err));
		if (r == -1 && err[0] != '\0') {
			ok(0, err, (*p)->name);
			continue;
		}
		ok(r == SVC_OK, "start() goes on (SVC_OK)", (*p)->name);
		ok(out.n == 0 && out.file.len == 0,
		    "start() emits nothing: the client speaks first", (*p)->name);
	}
	/* echo, discard, nbytes, file: fewer says a flag was lost. */
	ok(flagged >= 4, "at least four services are flagged", "table");

	day = service_find("daytime");
	ok(day != NULL && !(day->flags & SVC_CLIENT_FIRST),
	    "greets first, not flagged", "daytime");
	if (day != NULL) {
		r = start_once(day, argv[1], &out, err, sizeof(err));
		ok(r != -1 && svc_out_len(&out) > 0,
		    "start() emits (the check sees an emission)", "daytime");
	}
	printf("1..%d\n", n);
	return failed > 0;
}
