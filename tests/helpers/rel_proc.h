/*
 * rel_proc.h: what a server process holds, read from /proc, for the
 * reliability helpers (rel_hostile, rel_c10k): descriptors, threads,
 * children, zombies and memory of a process and its direct children.
 *
 * Header-only (static functions) so each helper stays one .c file that the
 * Makefile builds on its own.
 */
#ifndef REL_PROC_H
#define REL_PROC_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define REL_MAX_CHILDREN	4096

struct proc_snap {
	int ok;			/* the process exists */
	long fds;		/* main process + children */
	long main_fds;
	long threads;		/* main process only */
	long children;
	long zombies;
	long rss_kb;		/* main process VmRSS */
	long pss_kb;		/* main + children Pss (shared pages split) */
};

static long
proc_count_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	long n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* "Key:   123 kB" from a /proc file; -1 if absent. */
static long
proc_field(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Process state letter ('R', 'S', 'Z'...), or 0 if gone. */
static char
proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] == '\0' || p[2] == '\0')
		return 0;
	return p[2];
}

/* Direct children of pid (every thread's children file). */
static int
proc_children(pid_t pid, pid_t *out, int max)
{
	char path[96], buf[65536];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		FILE *f;
		char *p, *end;
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/children",
		    (int)pid, de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = '\0';
		for (p = buf; n < max; p = end) {
			long c = strtol(p, &end, 10);

			if (end == p)
				break;
			out[n++] = (pid_t)c;
		}
	}
	closedir(d);
	return n;
}

static struct proc_snap
proc_snap(pid_t pid)
{
	static pid_t kids[REL_MAX_CHILDREN];
	struct proc_snap s = { 0 };
	int i, n;

	if ((s.main_fds = proc_count_fds(pid)) < 0)
		return s;
	s.ok = 1;
	s.fds = s.main_fds;
	s.threads = proc_field(pid, "status", "Threads");
	s.rss_kb = proc_field(pid, "status", "VmRSS");
	s.pss_kb = proc_field(pid, "smaps_rollup", "Pss");
	n = proc_children(pid, kids, REL_MAX_CHILDREN);
	for (i = 0; i < n; i++) {
		long f;

		s.children++;
		if (proc_state(kids[i]) == 'Z') {
			s.zombies++;
			continue;
		}
		if ((f = proc_count_fds(kids[i])) > 0)
			s.fds += f;
		if ((f = proc_field(kids[i], "smaps_rollup", "Pss")) > 0)
			s.pss_kb += f;
	}
	return s;
}

static void
proc_print(FILE *f, const char *what, const struct proc_snap *s)
{
	fprintf(f, "%s: fds=%ld (main %ld) threads=%ld children=%ld "
	    "zombies=%ld rss=%ld KiB pss=%ld KiB\n", what, s->fds, s->main_fds,
	    s->threads, s->children, s->zombies, s->rss_kb, s->pss_kb);
}

#endif
