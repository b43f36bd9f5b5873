# Reliability suites (issue 7): attacks, load and signals against every
# model.  Each is a TAP file under tests/reliability/ (outside `make check`),
# with a long flavour for people and a short -ci flavour that .ci/run runs.
#
#   make hostile      rel_hostile against every model, HOSTILE_SECS each (30)
#   make hostile-ci   the same, 2 s each
#   make c10k         10,000 concurrent echo connections per event-loop and
#                     io_uring model (select: 900, its FD_SETSIZE limit),
#                     1,000 per process and thread model; memory per
#                     connection reported
#   make c10k-ci      the same (it takes under a minute)
#   make soak         1 GiB of random data echoed through each model
#   make soak-ci      256 MiB per model (SOAK_BYTES= changes either)
#   make signals      SIGCHLD storm on the fork model (5,000 connections),
#                     SIGTERM under heavy load for every model
#   make signals-ci   1,000 connections in the storm
#   make workers      fork and every pool: a worker killed and others
#                     stopped (STOP_SECS, 5) mid-transfer; only their
#                     connections suffer, the lost one is logged and
#                     counted, nothing leaks
#   make workers-ci   the same (it takes about a minute and a half)
#   make badnet       a bad network in namespaces of the test's own (5%
#                     loss, 1% duplicates, 5% reordered, 50 +- 20 ms, a
#                     drop to 64 kbit/s for 20 s): every model echoes
#                     64 MiB byte-exact, concurbench -u counts what the
#                     network did, --idle-timeout spares slow connections
#                     (every model), the file service sends 256 MiB
#                     byte-exact in both framings (every model; the
#                     file part alone took 40 minutes here, some 10 MB a
#                     minute a connection); netem, or tests/helpers/net_impair
#   make badnet-ci    4 MiB, 5 s at 64 kbit/s, one model per driver for
#                     the idle timeout and the file service (about two
#                     minutes)
#
#   make memory       concurd in a 16 MiB memory cgroup of the test's own
#                     (v2, or v1 here): 1,000 never-reading and 10,000
#                     idle clients, a canary served all along, no OOM kill,
#                     the refused counted; every model but select and
#                     iterative
#   make memory-ci    a loop, io_uring, thread, fork, two pools (a minute)
#
#   make soak-long    not a test but a measurement, not in CI: an hour of
#                     mixed load (echo long, short and reset connections,
#                     hostile clients, nbytes, file over HTTP and Gopher)
#                     against epoll, uring, prefork and prethread at once,
#                     memory, descriptors and threads sampled every 10 s;
#                     writes docs/soak.md (its generated part), soak.csv,
#                     .png and .svg.  SOAK_LONG_ARGS="--secs 600" for less
#
# REL_MODELS="epoll fork" narrows any of them; REL_SEED replays a hostile
# seed; PROVEFLAGS=-v shows the figures (the -ci flavours always do).

REL_PROVE = $(PROVE) $(PROVEFLAGS)

hostile: all tools
	REL_HOSTILE_SECS=$(or $(HOSTILE_SECS),30) $(REL_PROVE) -v tests/reliability/hostile.t

hostile-ci: all tools
	REL_HOSTILE_SECS=2 $(REL_PROVE) -v tests/reliability/hostile.t

.PHONY: hostile hostile-ci

# The full C10K takes under a minute here, so CI runs it as it is.
c10k: all tools
	$(REL_PROVE) -v tests/reliability/c10k.t

c10k-ci: c10k

.PHONY: c10k c10k-ci

soak: all tools
	REL_SOAK_BYTES=$(or $(SOAK_BYTES),1G) $(REL_PROVE) -v tests/reliability/soak.t

soak-ci: all tools
	REL_SOAK_BYTES=$(or $(SOAK_BYTES),256M) $(REL_PROVE) -v tests/reliability/soak.t

.PHONY: soak soak-ci

signals: all tools
	REL_STORM_CONNS=$(or $(STORM_CONNS),5000) $(REL_PROVE) -v tests/reliability/signals.t

signals-ci: all tools
	REL_STORM_CONNS=$(or $(STORM_CONNS),1000) $(REL_PROVE) -v tests/reliability/signals.t

.PHONY: signals signals-ci

workers: all tools
	REL_STOP_SECS=$(or $(STOP_SECS),5) $(REL_PROVE) -v tests/reliability/workers.t

workers-ci: workers

.PHONY: workers workers-ci

badnet: all tools
	REL_BADNET_BYTES=$(or $(BADNET_BYTES),64M) REL_BADNET_SLOW_SECS=20 \
	REL_BADNET_IDLE_SECS=12 REL_BADNET_IDLE_MODELS="$$(bin/concurd --list | sed -n 's/^model //p')" \
	REL_BADNET_FILE_BYTES=$(or $(BADNET_FILE_BYTES),256M) \
	REL_BADNET_FILE_MODELS="$$(bin/concurd --list | sed -n 's/^model //p')" \
		$(REL_PROVE) -v tests/reliability/badnet.t

badnet-ci: all tools
	REL_BADNET_BYTES=4M REL_BADNET_SLOW_SECS=5 $(REL_PROVE) -v tests/reliability/badnet.t

.PHONY: badnet badnet-ci

memory: all tools
	REL_MEM_MODELS="$$(bin/concurd --list | sed -n 's/^model //p' | grep -vx 'select\|iterative')" \
		$(REL_PROVE) -v tests/reliability/memory.t

memory-ci: all tools
	$(REL_PROVE) -v tests/reliability/memory.t

.PHONY: memory memory-ci

soak-long: all tools
	bash bench/soak/run.sh $(SOAK_LONG_ARGS)

.PHONY: soak-long
