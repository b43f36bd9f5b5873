/*
 * unit_pool: TAP unit tests of the pools' sizing policy (engine/pool.c):
 * pool_want() and pool_want_patient(), against a real listener whose
 * backlog holds connections nobody accepts.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "accept.h"
#include "pools/policy.h"
#include "server.h"

static int n, failed;

static void
ok(int cond, const char *what, int got)
{
	n++;
	printf("%sok %d - %s (got %d)\n", cond ? "" : "not ", n, what, got);
	if (!cond)
		failed++;
}

static struct stats st;

/* k slots busy since `ago` ms. */
static void
busy(int k, int64_t ago)
{
	int i;

	atomic_store(&st.nslots, k);
	for (i = 0; i < k; i++) {
		atomic_store(&st.slot[i].busy, SLOT_BUSY);
		atomic_store(&st.slot[i].busy_since, pool_now_ms() - ago);
	}
}

int
main(void)
{
	struct pool_policy p = { .initial = 4, .max = 64, .min_spare = 2,
	    .max_spare = 4 };
	struct server srv;
	char port[16];
	int lfd, c[10], i, w;
	bool re;

	memset(&srv, 0, sizeof(srv));
	srv.stats = &st;
	lfd = net_listen("127.0.0.1", "0", SOCK_STREAM, 64, 0);
	if (lfd < 0 || net_local_port(lfd) <= 0) {
		printf("1..0 # SKIP no loopback listener: %s\n",
		    net_strerror(lfd));
		return 0;
	}
	snprintf(port, sizeof(port), "%d", net_local_port(lfd));
	srv.lfd = lfd;

	ok(pool_want(&p, 0, 0) == 4, "an empty pool starts its initial size",
	    pool_want(&p, 0, 0));
	ok(pool_want(&p, 3, 4) == 0, "3 idle of 4: enough spares",
	    pool_want(&p, 3, 4));
	ok(pool_want(&p, 0, 4) == 2, "none idle: two more", pool_want(&p, 0, 4));
	ok(pool_want(&p, 0, 63) == 1, "never past max", pool_want(&p, 0, 63));

	busy(4, 0);
	w = pool_want_patient(&p, &srv, 0, 4, 0, &re);
	ok(w == 0 && re, "4 workers busy for 0 ms: none started, look again",
	    w);
	busy(4, 1000);
	w = pool_want_patient(&p, &srv, 0, 4, 0, &re);
	ok(w == 2 && !re, "4 workers busy for 1 s: two spares started", w);
	w = pool_want_patient(&p, &srv, 0, 4, 5, &re);
	ok(w == 7, "... and one per connection queued for the pool", w);

	for (i = 0; i < 10; i++)
		c[i] = net_connect("127.0.0.1", port, SOCK_STREAM, 2000, 0);
	w = pool_want_patient(&p, &srv, 0, 4, 0, &re);
	ok(w == 12, "10 clients in the listener's backlog: 2 + 10 started", w);
	busy(4, POOL_HELD_MS / 2);
	w = pool_want_patient(&p, &srv, 0, 4, 0, &re);
	ok(w == 2, "the same backlog, workers busy for less than the held "
	    "time: two spares, not one per client", w);
	busy(4, 0);
	w = pool_want_patient(&p, &srv, 0, 4, 0, &re);
	ok(w == 0 && re, "the same backlog with young workers: none started",
	    w);
	busy(4, 1000);
	w = pool_want_patient(&p, &srv, 0, 60, 0, &re);
	ok(w == 4, "the backlog's workers stop at max", w);
	server_overload_begin(OVERLOAD_ACCEPT, "test accept");
	w = pool_want_patient(&p, &srv, 0, 4, 0, &re);
	ok(w == 2, "not for the backlog while accept fails (EMFILE)", w);

	for (i = 0; i < 10; i++)
		if (c[i] >= 0)
			close(c[i]);
	close(lfd);
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
