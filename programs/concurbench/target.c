/*
 * target: where the load goes and where it comes from.
 *
 * Operands are "HOST PORT" (one server) or any number of "HOST:PORT"
 * ("[v6]:PORT"); connection k goes to target k % n, so each gets its
 * share.  --source gives local addresses, single or as ranges
 * (127.0.0.2-127.0.0.9); the connections to each target take them in turn,
 * so a short-connection run has a port space per (source, target) pair
 * instead of one.  A socket with a source is bound with
 * IP_BIND_ADDRESS_NO_PORT, so the kernel picks its port at connect(2),
 * knowing the whole 4-tuple, and a port can serve several targets.
 *
 * A "unix:PATH" operand is a Unix-domain stream socket (concurd -b
 * unix:PATH); its host is "unix:PATH" and it has no port.  Unix targets are
 * not mixed with TCP ones, nor with -u or --source.
 */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "net.h"

#define MAX_TARGETS	1024
#define MAX_SOURCES	65536


static void
bad_port(const char *port)
{
	die(64, "port '%s': not a port (a number from 1 to 65535, or a "
	    "service name)", port);
}

static void
set_port(struct target *t, const char *port, bool udp)
{
	int p = net_parse_port(port, udp ? SOCK_DGRAM : SOCK_STREAM);

	if (p <= 0)
		bad_port(port);
	snprintf(t->port, sizeof(t->port), "%d", p);
}

/* "HOST:PORT" or "[HOST]:PORT". */
static void
split(struct target *t, const char *s, bool udp)
{
	const char *colon;
	size_t hl;

	if (s[0] == '[') {
		colon = strchr(s, ']');
		if (colon == NULL || colon[1] != ':')
			die(64, "'%s': not HOST:PORT ([ADDRESS]:PORT for "
			    "IPv6)", s);
		hl = (size_t)(colon - s - 1);
		s++;
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || strchr(s, ':') != colon)
			die(64, "'%s': not HOST:PORT ([ADDRESS]:PORT for "
			    "IPv6)", s);
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(t->host))
		die(64, "'%s': no host, or a host name too long", s);
	memcpy(t->host, s, hl);
	t->host[hl] = '\0';
	set_port(t, colon + 1, udp);
}

static bool
looks_like_port(const char *s)
{
	if (*s == '\0' || strchr(s, ':') != NULL)
		return false;
	return true;
}

static bool
is_unix(const char *s)
{
	return strncmp(s, "unix:", 5) == 0;
}

/* Every operand "unix:PATH". */
static void
unix_targets(struct config *cfg, int n, char **args)
{
	struct sockaddr_un *sun;
	struct target *t;
	int i;

	if (n > MAX_TARGETS)
		die(64, "at most %d targets", MAX_TARGETS);
	if ((t = calloc((size_t)n, sizeof(*t))) == NULL)
		die(71, "targets: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		const char *path = args[i] + 5;

		if (!is_unix(args[i]))
			die(64, "'%s': unix:PATH targets cannot be mixed with "
			    "TCP ones", args[i]);
		sun = (struct sockaddr_un *)&t[i].addr;
		if (*path == '\0' || strlen(path) >= sizeof(sun->sun_path))
			die(64, "'%s': not unix:PATH (a path of 1 to %zu "
			    "bytes)", args[i], sizeof(sun->sun_path) - 1);
		snprintf(t[i].host, sizeof(t[i].host), "%s", args[i]);
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, path, strlen(path) + 1);
		t[i].addrlen = (socklen_t)(offsetof(struct sockaddr_un,
		    sun_path) + strlen(path) + 1);
	}
	cfg->targets = t;
	cfg->ntargets = (uint64_t)n;
	cfg->unix_socket = true;
}

void
targets_parse(struct config *cfg, int n, char **args)
{
	struct target *t;
	size_t off = 0;
	int i;

	if (n < 1)
		die(64, "HOST and PORT are needed");
	if (is_unix(args[0])) {
		unix_targets(cfg, n, args);
	} else if (n == 2 && looks_like_port(args[1]) && args[0][0] != '[') {
		/* The classic form: HOST PORT. */
		if ((t = calloc(1, sizeof(*t))) == NULL)
			die(71, "targets: %s", strerror(errno));
		if (strlen(args[0]) >= sizeof(t->host))
			die(64, "host name too long");
		snprintf(t->host, sizeof(t->host), "%s", args[0]);
		set_port(t, args[1], cfg->udp);
		cfg->targets = t;
		cfg->ntargets = 1;
	} else {
		if (n == 1 && strchr(args[0], ':') == NULL)
			die(64, "HOST and PORT are needed (HOST PORT, or "
			    "HOST:PORT...)");
		for (i = 0; i < n; i++)
			if (is_unix(args[i]))
				die(64, "'%s': unix:PATH targets cannot be "
				    "mixed with TCP ones", args[i]);
			else if (strchr(args[i], ':') == NULL)
				die(64, "too many arguments: HOST PORT, or "
				    "any number of HOST:PORT ('%s' is not "
				    "one)", args[i]);
		if (n > MAX_TARGETS)
			die(64, "at most %d targets", MAX_TARGETS);
		if ((t = calloc((size_t)n, sizeof(*t))) == NULL)
			die(71, "targets: %s", strerror(errno));
		for (i = 0; i < n; i++)
			split(&t[i], args[i], cfg->udp);
		cfg->targets = t;
		cfg->ntargets = (uint64_t)n;
	}
	snprintf(cfg->host, sizeof(cfg->host), "%s", cfg->targets[0].host);
	snprintf(cfg->port, sizeof(cfg->port), "%s", cfg->targets[0].port);
	for (i = 0; i < (int)cfg->ntargets; i++) {
		t = &cfg->targets[i];
		off += (size_t)snprintf(cfg->targets_text + off,
		    off < sizeof(cfg->targets_text) ?
		    sizeof(cfg->targets_text) - off : 0,
		    cfg->unix_socket ? "%s%s%s" : strchr(t->host, ':') ?
		    "%s[%s]:%s" : "%s%s:%s", i ? " " : "", t->host, t->port);
		if (off >= sizeof(cfg->targets_text))
			break;
	}
}

void
targets_resolve(struct config *cfg, bool udp)
{
	struct addrinfo hints, *res;
	struct target *t;
	uint64_t i;
	int e;

	if (cfg->unix_socket)
		return;		/* addresses made by targets_parse */
	for (i = 0; i < cfg->ntargets; i++) {
		t = &cfg->targets[i];
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM;
		hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
		e = getaddrinfo(t->host, t->port, &hints, &res);
		if (e == EAI_SYSTEM)
			die(71, "%s: %s", t->host, strerror(errno));
		if (e != 0)
			die(68, "%s: %s", t->host, gai_strerror(e));
		memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
		t->addrlen = res->ai_addrlen;
		freeaddrinfo(res);
		if (t->addr.ss_family == AF_INET && cfg->nsources &&
		    cfg->nsrc4 == 0)
			die(64, "%s is IPv4 and no --source is",
			    t->host);
		if (t->addr.ss_family == AF_INET6 && cfg->nsources &&
		    cfg->nsrc6 == 0)
			die(64, "%s is IPv6 and no --source is",
			    t->host);
	}
}

static int
add_source(struct config *cfg, const struct sockaddr_storage *ss)
{
	struct sockaddr_storage **list, *grown;
	size_t *n;

	if (cfg->nsources >= MAX_SOURCES) {
		log_warnx("--source: at most %d addresses", MAX_SOURCES);
		return -1;
	}
	list = ss->ss_family == AF_INET ? &cfg->src4 : &cfg->src6;
	n = ss->ss_family == AF_INET ? &cfg->nsrc4 : &cfg->nsrc6;
	/* Doubling at powers of two. */
	if ((*n & (*n - 1)) == 0) {
		grown = realloc(*list, (*n ? *n * 2 : 1) * sizeof(*grown));
		if (grown == NULL)
			die(71, "sources: %s", strerror(errno));
		*list = grown;
	}
	(*list)[(*n)++] = *ss;
	cfg->nsources++;
	return 0;
}

static int
parse_addr(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

/* The low 64 bits of an address as a number (all 32 of IPv4). */
static uint64_t
addr_low(const struct sockaddr_storage *ss)
{
	uint64_t v = 0;
	int i;

	if (ss->ss_family == AF_INET)
		return ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr);
	for (i = 8; i < 16; i++)
		v = v << 8 |
		    ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr[i];
	return v;
}

static void
set_low(struct sockaddr_storage *ss, uint64_t v)
{
	int i;

	if (ss->ss_family == AF_INET) {
		((struct sockaddr_in *)ss)->sin_addr.s_addr = htonl((uint32_t)v);
		return;
	}
	for (i = 15; i >= 8; i--, v >>= 8)
		((struct sockaddr_in6 *)ss)->sin6_addr.s6_addr[i] =
		    (uint8_t)v;
}

static int
parse_range(struct config *cfg, char *item)
{
	struct sockaddr_storage lo, hi;
	char *dash = strchr(item, '-');
	uint64_t a, b, v;

	if (dash)
		*dash = '\0';
	if (parse_addr(item, &lo) == -1 || (dash && parse_addr(dash + 1, &hi)
	    == -1)) {
		log_warnx("--source: '%s%s%s' is not an address or a range "
		    "of them (like 127.0.0.2-127.0.0.9)", item, dash ? "-" :
		    "", dash ? dash + 1 : "");
		return -1;
	}
	if (!dash)
		return add_source(cfg, &lo);
	a = addr_low(&lo);
	b = addr_low(&hi);
	if (lo.ss_family != hi.ss_family || b < a || (lo.ss_family ==
	    AF_INET6 && memcmp(&((struct sockaddr_in6 *)&lo)->sin6_addr,
	    &((struct sockaddr_in6 *)&hi)->sin6_addr, 8) != 0)) {
		log_warnx("--source: '%s-%s' is not a range from low to high "
		    "in one family", item, dash + 1);
		return -1;
	}
	if (b - a >= MAX_SOURCES) {
		log_warnx("--source: at most %d addresses", MAX_SOURCES);
		return -1;
	}
	for (v = a; v <= b; v++) {
		set_low(&lo, v);
		if (add_source(cfg, &lo) == -1)
			return -1;
	}
	return 0;
}

int
sources_parse(struct config *cfg, const char *s)
{
	char *copy, *item, *save = NULL;
	int r = 0;

	if ((copy = strdup(s)) == NULL)
		die(71, "sources: %s", strerror(errno));
	for (item = strtok_r(copy, ",", &save); item && r == 0;
	    item = strtok_r(NULL, ",", &save))
		r = parse_range(cfg, item);
	free(copy);
	if (r == 0 && cfg->nsources == 0) {
		log_warnx("--source: no address in '%s'", s);
		r = -1;
	}
	return r;
}

const struct target *
target_for(const struct config *cfg, uint64_t k)
{
	return &cfg->targets[k % cfg->ntargets];
}

const struct sockaddr_storage *
source_for(const struct config *cfg, uint64_t k)
{
	const struct target *t = &cfg->targets[k % cfg->ntargets];
	uint64_t j = k / cfg->ntargets;

	if (t->addr.ss_family == AF_INET && cfg->nsrc4)
		return &cfg->src4[j % cfg->nsrc4];
	if (t->addr.ss_family == AF_INET6 && cfg->nsrc6)
		return &cfg->src6[j % cfg->nsrc6];
	return NULL;
}
