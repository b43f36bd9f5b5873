/*
 * heap: the slots that wait (an open-loop schedule, a back-off after an
 * error, a connection rate), in a binary heap keyed by their wake time.
 * A slot embeds a struct hnode, which remembers its place, so removing one
 * is O(log n) with no search.
 */
#include "bench.h"

#include <stdlib.h>

int
heap_init(struct heap *h, size_t cap)
{
	h->n = 0;
	h->a = calloc(cap ? cap : 1, sizeof(*h->a));
	return h->a ? 0 : -1;
}

void
heap_free(struct heap *h)
{
	free(h->a);
	h->a = NULL;
}

static void
swap(struct heap *h, size_t a, size_t b)
{
	struct hnode *t = h->a[a];

	h->a[a] = h->a[b];
	h->a[b] = t;
	h->a[a]->heap_i = (int)a;
	h->a[b]->heap_i = (int)b;
}

static void
up(struct heap *h, size_t i)
{
	while (i > 0 && h->a[(i - 1) / 2]->wake > h->a[i]->wake) {
		swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
down(struct heap *h, size_t i)
{
	size_t l, m;

	for (;;) {
		l = 2 * i + 1;
		m = i;
		if (l < h->n && h->a[l]->wake < h->a[m]->wake)
			m = l;
		if (l + 1 < h->n && h->a[l + 1]->wake < h->a[m]->wake)
			m = l + 1;
		if (m == i)
			return;
		swap(h, i, m);
		i = m;
	}
}

void
heap_remove(struct heap *h, struct hnode *x)
{
	size_t i = (size_t)x->heap_i;

	if (x->heap_i < 0)
		return;
	x->heap_i = -1;
	h->n--;
	if (i == h->n)
		return;
	h->a[i] = h->a[h->n];
	h->a[i]->heap_i = (int)i;
	up(h, i);
	down(h, (size_t)h->a[i]->heap_i);
}

/* The heap has room for every slot, and a slot is in it at most once. */
void
heap_push(struct heap *h, struct hnode *x, uint64_t wake)
{
	heap_remove(h, x);
	x->wake = wake;
	x->heap_i = (int)h->n;
	h->a[h->n++] = x;
	up(h, (size_t)x->heap_i);
}
