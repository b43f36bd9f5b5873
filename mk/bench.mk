# The peers benchmark (issue 8): concurd's models beside the echo servers a
# user could install instead, under the same loads.
#
#   make compare-peers          install the peers (apt-get, as root), build
#                               the reference servers, run every load for a
#                               few alternating rounds and write
#                               docs/peers.md, docs/peers.svg/png (about 40
#                               minutes on 2 cores)
#   make compare-peers QUICK=1  a short smoke run (a few minutes), written
#                               under build/bench/peers/ instead of docs/
#   make peer-servers           only build the reference servers
#
# PEERS_ARGS passes options to bench/peers/run.sh (see its --help), e.g.
# PEERS_ARGS="--rounds 5 --servers epoll-ref,concurd-epoll".
# The reference servers (bench/peers/*.c) build to $(B)/bench/peers/.

PEER_SERVERS := $(patsubst bench/peers/%.c,$(B)/bench/peers/%,$(wildcard bench/peers/*.c))
PEER_LIBS_uv-echo := $(or $(shell pkg-config --libs libuv 2>/dev/null),-luv)
PEER_LIBS_event-echo := $(or $(shell pkg-config --libs libevent 2>/dev/null),-levent)

# Same warnings as the tree; no library of ours, so each file stands alone.
$(B)/bench/peers/%: bench/peers/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(PEER_LIBS_$*) $(LDLIBS)

peer-servers: $(PEER_SERVERS)

compare-peers: all
	MAKE="$(MAKE)" B="$(B)" O="$(O)" bash bench/peers/run.sh \
		$(if $(QUICK),--quick) $(PEERS_ARGS)

# Where an echo server's CPU goes (send, receive, accept, close, sleep, the
# rest), sampled with perf, and the least any server could cost:
#   make compare-floor [FLOOR_ARGS="--rounds 5 --servers epoll-ref,concurd"]
# writes build/bench/floor/run-DATE/floor.md (see bench/peers/floor.sh --help).
compare-floor: all
	MAKE="$(MAKE)" B="$(B)" O="$(O)" bash bench/peers/floor.sh $(FLOOR_ARGS)

.PHONY: peer-servers compare-peers compare-floor

# Two builds of concurd on the same loads, back to back, alternating:
#   make bench-ab A=/path/to/old/concurd [B=bin/concurd] [AB_ARGS="--rounds 5"]
# writes build/ab/run-DATE/ab.md (see bench/ab/run.sh --help).
bench-ab: all
	@[ -n "$(A)" ] || { echo "make bench-ab A=/path/to/the/baseline/concurd" >&2; exit 64; }
	bash bench/ab/run.sh -a "$(A)" -b "$(or $(B),$(O)/concurd)" $(AB_ARGS)

.PHONY: bench-ab

# How each model's cost grows with the connections it holds (1 to 10,000):
#   make scaling          writes docs/scaling.md (its generated part),
#                         docs/scaling.csv, .png and .svg (about 15 minutes)
#   make scaling QUICK=1  one round, up to 1,024 connections, in build/
scaling: all
	bash bench/scaling/run.sh $(if $(QUICK),--quick) $(SCALING_ARGS)

.PHONY: scaling

# The file benchmark: concurd -s file beside nginx-light, lighttpd and
# python3 -m http.server (wrk, ab and concurbench as clients), and the
# disk-stall experiment in a cgroup with a slow disk (root):
#   make compare-files [FILES_ARGS="--rounds 3 --secs 4 --baseline OLD"]
# writes build/bench/files/run-DATE/ (results.tsv, cold.tsv, the report
# files-results.md and the chart files.svg/png; docs/files.md is made
# from one).  About 12 minutes on 2 CPUs.
compare-files: all
	@out=build/bench/files/run-$$(date +%Y%m%d-%H%M%S); \
	O="$(O)" bash bench/files/run.sh --out $$out $(FILES_ARGS) && \
	perl bench/files/report.pl $$out $$out && echo "compare-files: $$out/files-results.md"

.PHONY: compare-files
