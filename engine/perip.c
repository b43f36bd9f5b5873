/*
 * perip: how many connections each client address holds, for --per-ip.
 *
 * One open-addressing table in MAP_SHARED memory, because in the process
 * models the count is taken in one process and given back in another.  A
 * robust process-shared mutex guards it (a child killed while holding it
 * must not wedge the server: EOWNERDEAD is recovered, the table is still
 * consistent because every update is a single store).  Linear probing with
 * backward-shift deletion: no tombstones, so the table never silts up.
 * IPv6 clients are counted by /64, the unit one subscriber gets.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "admit.h"
#include "server.h"

struct perip_entry {
	uint8_t key[16];
	uint32_t count;		/* 0: empty slot */
};

struct perip {
	pthread_mutex_t mu;
	uint32_t mask;		/* capacity - 1, capacity a power of two */
	uint32_t used;		/* slots with a count */
	struct perip_entry e[];
};

struct perip *
perip_create(int max_entries)
{
	pthread_mutexattr_t ma;
	struct perip *t;
	size_t cap = 64, size;

	while (cap < (size_t)max_entries * 2)
		cap *= 2;
	size = sizeof(*t) + cap * sizeof(t->e[0]);
	t = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		return NULL;
	t->mask = (uint32_t)cap - 1;
	if ((errno = pthread_mutexattr_init(&ma)) != 0 ||
	    (errno = pthread_mutexattr_setpshared(&ma,
	    PTHREAD_PROCESS_SHARED)) != 0 ||
	    (errno = pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST)) != 0 ||
	    (errno = pthread_mutex_init(&t->mu, &ma)) != 0) {
		int e = errno;

		munmap(t, size);
		errno = e;
		return NULL;
	}
	pthread_mutexattr_destroy(&ma);
	return t;
}

static void
lock(struct perip *t)
{
	if (pthread_mutex_lock(&t->mu) == EOWNERDEAD)
		pthread_mutex_consistent(&t->mu);
}

static uint32_t
hash(const uint8_t k[16])
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	int i;

	for (i = 0; i < 16; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

/* IPv4 (mapped) keeps all 128 bits; native IPv6 keeps its /64. */
static void
unit(const uint8_t in[16], uint8_t out[16])
{
	static const uint8_t mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };

	memcpy(out, in, 16);
	if (memcmp(in, mapped, 12) != 0)
		memset(out + 8, 0, 8);
}

int
perip_take(struct perip *t, const uint8_t addr[16], int limit)
{
	uint8_t k[16];
	uint32_t i;
	int r = -1;

	unit(addr, k);
	lock(t);
	for (i = hash(k) & t->mask; t->e[i].count != 0; i = (i + 1) & t->mask)
		if (memcmp(t->e[i].key, k, 16) == 0)
			break;
	if (t->e[i].count == 0) {
		/* New address: keep the table at most half full, so probe
		 * runs stay short. */
		if (t->used >= t->mask / 2) {
			errno = ENOSPC;
			goto out;
		}
		memcpy(t->e[i].key, k, 16);
		t->used++;
	} else if (t->e[i].count >= (uint32_t)limit) {
		errno = EDQUOT;
		goto out;
	}
	t->e[i].count++;
	r = 0;
out:
	pthread_mutex_unlock(&t->mu);
	return r;
}

void
perip_give(struct perip *t, const uint8_t addr[16])
{
	uint8_t k[16];
	uint32_t i, j, home;

	unit(addr, k);
	lock(t);
	for (i = hash(k) & t->mask; t->e[i].count != 0; i = (i + 1) & t->mask)
		if (memcmp(t->e[i].key, k, 16) == 0)
			break;
	if (t->e[i].count == 0 || --t->e[i].count > 0)
		goto out;
	t->used--;
	/* Backward-shift deletion: pull later entries of the run into the
	 * hole when their home slot allows it. */
	for (j = (i + 1) & t->mask; t->e[j].count != 0; j = (j + 1) & t->mask) {
		home = hash(t->e[j].key) & t->mask;
		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			t->e[i] = t->e[j];
			t->e[j].count = 0;
			i = j;
		}
	}
out:
	pthread_mutex_unlock(&t->mu);
}
