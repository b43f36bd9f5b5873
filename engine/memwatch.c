/*
 * memwatch: a cgroup's memory limit and how close the server is to it.
 * See memwatch.h.
 *
 * Where the files are: /proc/self/cgroup names the cgroup (the "0::" line
 * for v2, the line listing "memory" for v1), /proc/self/mountinfo where
 * that hierarchy is mounted (and which part of it, in a container).  The
 * usage and stat files stay open, so a look is a pread() -- also in worker
 * processes, which inherit the descriptors, and inside the sandbox; the
 * last look and the episode are in shared memory, so worker processes
 * share them.
 */
#include "memwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "stop.h"

#define NO_LIMIT	(1ULL << 60)	/* v1 says "no limit" with ~2^63 */

static uint64_t limit;		/* bytes; 0: nothing watched */
static int usage_fd = -1, stat_fd = -1;
static const char *inactive_key;	/* in the stat file */

/* Shared with worker processes, so an episode is said once. */
static struct watch {
	_Atomic uint64_t next_look_us;
	_Atomic uint64_t usage;		/* at the last look */
	_Atomic bool short_now;
} *w;

/* The number in a small file (or "max"), NO_LIMIT for none; -1 with errno
 * if unreadable. */
static int
read_num(int fd, const char *path, uint64_t *v)
{
	char buf[64], *end;
	ssize_t n;
	int myfd = fd;

	if (myfd < 0 && (myfd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = pread(myfd, buf, sizeof(buf) - 1, 0);
	if (fd < 0)
		close(myfd);
	if (n <= 0) {
		if (n == 0)
			errno = EINVAL;
		return -1;
	}
	buf[n] = '\0';
	if (strncmp(buf, "max", 3) == 0) {
		*v = NO_LIMIT;
		return 0;
	}
	errno = 0;
	*v = strtoull(buf, &end, 10);
	if (errno != 0 || end == buf) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* key's value in a stat file ("key value" lines); 0 if absent. */
static uint64_t
stat_value(int fd, const char *key)
{
	char buf[8192], *p = buf;
	size_t klen = strlen(key);
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	while (p != NULL) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ' ')
			return strtoull(p + klen + 1, NULL, 10);
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return 0;
}

/* The directory of our cgroup in the hierarchy v2 (version 2) or the v1
 * one that has the memory controller: 0, or -1 if there is none. */
static int
cgroup_dir(int version, char *dir, size_t len)
{
	char line[4096], cgpath[PATH_MAX] = "", mnt[PATH_MAX] = "", root[PATH_MAX];
	FILE *f;

	if ((f = fopen("/proc/self/cgroup", "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		bool mine;

		if (c2 == NULL)
			continue;
		*c2 = '\0';
		line[strcspn(line, ":")] = '\0';
		mine = version == 2 ? strcmp(line, "0") == 0 && c1[1] == '\0' :
		    strstr(c1 + 1, "memory") != NULL;
		if (mine) {
			c2[1 + strcspn(c2 + 1, "\n")] = '\0';
			snprintf(cgpath, sizeof(cgpath), "%s", c2 + 1);
			break;
		}
	}
	fclose(f);
	if (cgpath[0] == '\0' || (f = fopen("/proc/self/mountinfo", "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		char fsroot[PATH_MAX], point[PATH_MAX], *dash = strstr(line, " - ");
		char fstype[64], opts[1024];

		if (dash == NULL || sscanf(line, "%*s %*s %*s %4095s %4095s",
		    fsroot, point) != 2 ||
		    sscanf(dash + 3, "%63s %*s %1023s", fstype, opts) != 2)
			continue;
		if (version == 2 ? strcmp(fstype, "cgroup2") == 0 :
		    strcmp(fstype, "cgroup") == 0 && strstr(opts, "memory")) {
			snprintf(mnt, sizeof(mnt), "%s", point);
			snprintf(root, sizeof(root), "%s", fsroot);
			break;
		}
	}
	fclose(f);
	if (mnt[0] == '\0')
		return -1;
	/* In a container the mount shows part of the hierarchy: strip it. */
	if (strcmp(root, "/") != 0 && strncmp(cgpath, root, strlen(root)) == 0)
		memmove(cgpath, cgpath + strlen(root), strlen(cgpath + strlen(root)) + 1);
	if ((size_t)snprintf(dir, len, "%s%s", mnt, cgpath) >= len)
		return -1;
	return 0;
}

/* v2: the tightest memory.max from our cgroup up; its directory. */
static int
init_v2(char *dir, size_t len)
{
	char path[PATH_MAX + 32], best[PATH_MAX] = "";
	uint64_t v, tight = NO_LIMIT;
	char *slash;

	if (cgroup_dir(2, dir, len) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/memory.max", dir);
	if (access(path, R_OK) == -1)
		return -1;	/* no memory controller here */
	for (;;) {
		snprintf(path, sizeof(path), "%s/memory.max", dir);
		if (read_num(-1, path, &v) == 0 && v < tight) {
			tight = v;
			snprintf(best, sizeof(best), "%s", dir);
		}
		if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
			break;
		*slash = '\0';
		snprintf(path, sizeof(path), "%s/memory.max", dir);
		if (access(path, R_OK) == -1)
			break;	/* the root has none */
	}
	if (tight >= NO_LIMIT)
		return 1;
	limit = tight;
	snprintf(dir, len, "%s", best);
	snprintf(path, sizeof(path), "%s/memory.current", dir);
	if ((usage_fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/memory.stat", dir);
	stat_fd = open(path, O_RDONLY | O_CLOEXEC);
	inactive_key = "inactive_file";
	return 0;
}

static int
init_v1(char *dir, size_t len)
{
	char path[PATH_MAX + 32];
	uint64_t v, h;

	if (cgroup_dir(1, dir, len) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", dir);
	if (read_num(-1, path, &v) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/memory.stat", dir);
	if ((stat_fd = open(path, O_RDONLY | O_CLOEXEC)) != -1 &&
	    (h = stat_value(stat_fd, "hierarchical_memory_limit")) != 0 &&
	    h < v)
		v = h;
	if (v >= NO_LIMIT)
		return 1;
	limit = v;
	snprintf(path, sizeof(path), "%s/memory.usage_in_bytes", dir);
	if ((usage_fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	inactive_key = "total_inactive_file";
	return 0;
}

static char found[PATH_MAX + 16];	/* where the limit came from */
static int found_v;

int
memwatch_init(void)
{
	char dir[PATH_MAX];
	int r, v = 2;

	if ((r = init_v2(dir, sizeof(dir))) == -1) {
		v = 1;
		r = init_v1(dir, sizeof(dir));
	}
	if (r == 0 && (w = mmap(NULL, sizeof(*w), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED) {
		w = NULL;
		r = -1;
	}
	if (r != 0) {
		limit = 0;
		return 0;
	}
	found_v = v;
	snprintf(found, sizeof(found), "%s", dir);
	return 0;
}

void
memwatch_log(void)
{
	if (limit == 0) {
		log_verbose("memory: no cgroup limit found; connections are not "
		    "refused for memory");
		return;
	}
	log_verbose("memory: cgroup v%d limit %llu MiB (%s); new connections "
	    "refused above %d%%", found_v, (unsigned long long)(limit >> 20),
	    found, MEM_HIGH_PCT);
}

uint64_t
memwatch_limit(void)
{
	return limit;
}

/* Usage that counts: less the inactive file cache, reclaimed first. */
static uint64_t
used(void)
{
	uint64_t u, inactive;

	if (read_num(usage_fd, NULL, &u) == -1)
		return 0;
	if (u < limit / 100 * MEM_NEAR_PCT || stat_fd < 0)
		return u;
	inactive = stat_value(stat_fd, inactive_key);
	return inactive < u ? u - inactive : 0;
}

/* An episode begins (a warning) or ends (a notice), said once. */
static void
episode(bool begins, uint64_t u, const char *on, const char *off)
{
	if (begins)
		log_warnx("memory: %llu of %llu MiB used (the cgroup's limit): "
		    "%s", (unsigned long long)(u >> 20),
		    (unsigned long long)(limit >> 20), on);
	else
		log_info("memory: %llu of %llu MiB used: %s",
		    (unsigned long long)(u >> 20),
		    (unsigned long long)(limit >> 20), off);
}

/* The usage as of the last look, looking again if it is due: every
 * MEM_CHECK_MS, or every call above MEM_NEAR_PCT; the episode is decided
 * and said here.  Short from MEM_HIGH_PCT up, until below MEM_RESUME_PCT:
 * not a flicker for every connection that comes and goes. */
static uint64_t
look(void)
{
	uint64_t t = now_us(), u;
	bool was, now;

	if (t < atomic_load_explicit(&w->next_look_us, memory_order_relaxed))
		return atomic_load_explicit(&w->usage, memory_order_relaxed);
	u = used();
	atomic_store_explicit(&w->usage, u, memory_order_relaxed);
	atomic_store_explicit(&w->next_look_us, u >= limit / 100 * MEM_NEAR_PCT ?
	    0 : t + MEM_CHECK_MS * 1000, memory_order_relaxed);
	was = atomic_load(&w->short_now);
	now = u >= limit / 100 * (was ? MEM_RESUME_PCT : MEM_HIGH_PCT);
	if (now != was && atomic_exchange(&w->short_now, now) == was)
		episode(now, u, "refusing new connections",
		    "taking connections again");
	return u;
}

bool
mem_short(void)
{
	if (limit == 0)
		return false;
	(void)look();
	return atomic_load_explicit(&w->short_now, memory_order_relaxed);
}

/* A worker is charged as it runs (its stack, its buffer, copies of the
 * pages it writes), not when it is made: usage read at once would not show
 * it.  So the spawner (one thread: fork's parent, the thread model's main
 * thread, a pool's manager) gets a budget from each look -- the headroom
 * below MEM_SPAWN_PCT in MEM_WORKER_COST units -- and looks again only
 * MEM_CHECK_MS after the last, when what it started has been charged. */
static int budget;
static uint64_t next_budget_us;
static bool spawn_stopped;	/* said so */

int
mem_spawn(int want)
{
	uint64_t t, u, line;
	int n;

	if (limit == 0 || want <= 0)
		return want;
	if (budget == 0) {
		t = now_us();
		if (t < next_budget_us)
			return 0;
		atomic_store_explicit(&w->next_look_us, 0, memory_order_relaxed);
		u = look();
		line = limit / 100 * MEM_SPAWN_PCT;
		budget = u < line ? (int)((line - u) / MEM_WORKER_COST) : 0;
		next_budget_us = t + MEM_CHECK_MS * 1000;
		if ((budget == 0) != spawn_stopped) {
			spawn_stopped = budget == 0;
			episode(spawn_stopped, u, "no new worker",
			    "new workers again");
		}
	}
	n = want < budget ? want : budget;
	budget -= n;
	return n;
}
