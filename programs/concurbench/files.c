/*
 * files: what --mode file asks for and how each answer is checked.
 *
 * The paths come from --path (repeatable) or --paths FILE (one a line,
 * "WEIGHT PATH" or just "PATH"; # comments); each request picks one,
 * uniformly or by weight, with the connection's own random sequence (a
 * binary search in the cumulative weights).  Each path's expected content
 * is known one of two ways: --root DIR maps the local copy (the same tree
 * the server serves, or a copy), and every byte received is compared with
 * it as it comes, so a mismatch is reported at its offset; --manifest FILE
 * gives a size and a SHA-256 per path (for a server whose files are not
 * here), and each answer is hashed as it comes (nettle's sha256, a few
 * cycles a byte with the CPU's SHA extensions) and compared at its end.
 *
 * HTTP answers are parsed here too: the status line, Content-Length,
 * the blank line; anything but a 200 with the expected length is a
 * verification error.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "log.h"

#define LINE_MAX_	4096

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
add(struct fileset *fs, const char *path, uint64_t weight)
{
	struct fentry *g;

	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 16;
		if ((g = realloc(fs->e, fs->cap * sizeof(*g))) == NULL)
			die(71, "paths: %s", strerror(errno));
		fs->e = g;
	}
	memset(&fs->e[fs->n], 0, sizeof(fs->e[0]));
	if ((fs->e[fs->n].path = strdup(path)) == NULL)
		die(71, "paths: %s", strerror(errno));
	fs->e[fs->n].weight = weight;
	fs->e[fs->n].size = UINT64_MAX;
	fs->n++;
}

void
files_add_path(struct fileset *fs, const char *path)
{
	if (path[0] == '\0' || strpbrk(path, "\r\n") != NULL)
		die(64, "--path: '%s' is not a path", path);
	add(fs, path, 1);
}

void
files_read_list(struct fileset *fs, const char *list)
{
	char line[LINE_MAX_], *p, *end;
	uint64_t w;
	unsigned n = 0;
	FILE *f = fopen(list, "r");

	if (f == NULL)
		die(66, "--paths %s: %s", list, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		n++;
		line[strcspn(line, "\r\n")] = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		w = 1;
		if (*p >= '0' && *p <= '9') {
			errno = 0;
			w = strtoull(p, &end, 10);
			if (end != p && (*end == ' ' || *end == '\t')) {
				if (errno != 0 || w == 0 || w > 1000000000)
					die(64, "--paths %s:%u: the weight must "
					    "be 1 to 1000000000", list, n);
				for (p = end; *p == ' ' || *p == '\t'; p++)
					;
			} else {
				w = 1;	/* "2024.txt": a path */
			}
		}
		add(fs, p, w);
	}
	if (ferror(f))
		die(74, "--paths %s: %s", list, strerror(errno));
	fclose(f);
	if (fs->n == 0)
		die(64, "--paths %s: no path in it", list);
}

/* The local name of a request path: %-escapes decoded, the query gone. */
static void
local_name(const char *path, char *out, size_t len)
{
	size_t o = 0;
	int h, l;

	while (*path == '/')
		path++;
	for (; *path && *path != '?' && o + 1 < len; path++) {
		if (*path == '%' && (h = hexval(path[1])) >= 0 &&
		    (l = hexval(path[2])) >= 0) {
			out[o++] = (char)(h << 4 | l);
			path += 2;
		} else {
			out[o++] = *path;
		}
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, len, ".");
}

void
files_map_root(struct fileset *fs, const char *root)
{
	char name[LINE_MAX_];
	struct stat sb;
	size_t i;
	int dir, fd;

	if ((dir = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		die(66, "--root %s: %s", root, strerror(errno));
	for (i = 0; i < fs->n; i++) {
		struct fentry *e = &fs->e[i];

		local_name(e->path, name, sizeof(name));
		if ((fd = openat(dir, name, O_RDONLY | O_CLOEXEC)) == -1 ||
		    fstat(fd, &sb) == -1)
			die(66, "--root %s: %s: %s", root, name, strerror(errno));
		if (!S_ISREG(sb.st_mode))
			die(64, "--root %s: %s is not a regular file (name the "
			    "files themselves)", root, name);
		e->size = (uint64_t)sb.st_size;
		if (e->size > 0 && (e->map = mmap(NULL, (size_t)e->size,
		    PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
			die(71, "--root %s: mmap %s: %s", root, name,
			    strerror(errno));
		close(fd);
	}
	close(dir);
	fs->check = FCHECK_BYTES;
}

void
files_read_manifest(struct fileset *fs, const char *manifest)
{
	char line[LINE_MAX_], *p, *end, name[LINE_MAX_];
	uint64_t size;
	unsigned n = 0;
	size_t i, k;
	FILE *f = fopen(manifest, "r");
	int h, l;

	if (f == NULL)
		die(66, "--manifest %s: %s", manifest, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned char sum[32];

		n++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		errno = 0;
		size = strtoull(line, &end, 10);
		if (end == line || *end != ' ' || errno != 0)
			goto bad;
		for (p = end; *p == ' '; p++)
			;
		for (k = 0; k < 32; k++, p += 2) {
			if ((h = hexval(p[0])) < 0 || (l = hexval(p[1])) < 0)
				goto bad;
			sum[k] = (unsigned char)(h << 4 | l);
		}
		if (*p != ' ')
			goto bad;
		while (*p == ' ' || *p == '*')
			p++;
		if (*p == '\0')
			goto bad;
		for (i = 0; i < fs->n; i++) {
			local_name(fs->e[i].path, name, sizeof(name));
			if (strcmp(name, p[0] == '/' ? p + 1 : p) == 0) {
				fs->e[i].size = size;
				memcpy(fs->e[i].sha, sum, 32);
			}
		}
	}
	fclose(f);
	for (i = 0; i < fs->n; i++)
		if (fs->e[i].size == UINT64_MAX)
			die(64, "--manifest %s: no line for %s", manifest,
			    fs->e[i].path);
	fs->check = FCHECK_SHA256;
	return;
bad:
	die(64, "--manifest %s:%u: not SIZE SHA256 PATH (like: 1024 "
	    "9f86d0...  docs/a.txt)", manifest, n);
}

void
files_ready(struct fileset *fs)
{
	size_t i;
	uint64_t sum = 0;

	if ((fs->cum = malloc(fs->n * sizeof(*fs->cum))) == NULL)
		die(71, "paths: %s", strerror(errno));
	for (i = 0; i < fs->n; i++) {
		sum += fs->e[i].weight;
		fs->cum[i] = sum;
		if (strlen(fs->e[i].path) > fs->maxpath)
			fs->maxpath = strlen(fs->e[i].path);
	}
	fs->total = sum;
}

size_t
files_pick(const struct fileset *fs, uint64_t *rng)
{
	uint64_t x = *rng, r;
	size_t lo = 0, hi = fs->n - 1, mid;

	if (fs->n == 1)
		return 0;
	/* xorshift64* */
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*rng = x;
	r = ((x * 0x2545f4914f6cdd1dull) >> 11) % fs->total;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (fs->cum[mid] > r)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

size_t
files_request(const struct fileset *fs, size_t k, bool http,
    const char *host, unsigned char *out)
{
	const char *p = fs->e[k].path;
	int n;

	if (!http)
		return (size_t)sprintf((char *)out, "%s\r\n", p);
	n = sprintf((char *)out, "GET %s%s HTTP/1.1\r\nHost: %s\r\n\r\n",
	    p[0] == '/' ? "" : "/", p, host);
	return (size_t)n;
}

/* Parse the head of an HTTP answer: -1 bad, 0 more needed, else its
 * length; *status and *clen (UINT64_MAX: none). */
long
files_http_head(const unsigned char *buf, size_t len, int *status,
    uint64_t *clen)
{
	const char *p = (const char *)buf, *end = p + len, *nl, *v;
	size_t ll;
	uint64_t x;
	bool first = true;

	*clen = UINT64_MAX;
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return 0;
		ll = (size_t)(nl - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (first) {
			if (ll < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
			    p[8] != ' ')
				return -1;
			*status = atoi(p + 9);
			first = false;
		} else if (ll == 0) {
			return nl + 1 - (const char *)buf;
		} else if (ll > 15 && strncasecmp(p, "content-length:", 15) ==
		    0) {
			for (v = p + 15; *v == ' ' || *v == '\t'; v++)
				;
			for (x = 0; v < p + ll && *v >= '0' && *v <= '9'; v++)
				x = x * 10 + (uint64_t)(*v - '0');
			*clen = x;
		}
		p = nl + 1;
	}
	return 0;
}
