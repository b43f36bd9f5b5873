# The lab's experiments (issue 6), explained in lab/README.md.
#
#   make lab         every scenario, one after another, each explaining what
#                    to look for and printing what it saw (about 20 s);
#                    fails if a phenomenon did not show; a scenario that
#                    cannot run here (no root for namespaces, no tcpdump)
#                    says so and is skipped
#   make lab-check   the same scenarios as TAP tests (tests/lab-*.t), every
#                    observation asserted, including the two that `make
#                    check` skips (traffic: namespaces and tcpdump; pools:
#                    20,000 connections); .ci/run runs it
#
# One scenario alone: lab/zombies.sh (or LAB_TAP=1 lab/zombies.sh for TAP).

LAB_SCENARIOS := concurrent-vs-sequential file-server traffic zombies sigpipe \
		 processes-threads pools

lab: all tools
	@st=0; for s in $(LAB_SCENARIOS); do \
		printf '\n######## lab/%s.sh\n\n' $$s; \
		BIN="$(CURDIR)/$(O)" HELP="$(CURDIR)/$(B)/tests" lab/$$s.sh; r=$$?; \
		[ $$r = 0 ] || [ $$r = 77 ] || { st=1; echo "lab/$$s.sh: FAILED"; }; \
	done; exit $$st

lab-check: all tools
	BIN="$(CURDIR)/$(O)" HELP="$(CURDIR)/$(B)/tests" LAB_HEAVY=1 \
		$(PROVE) $(PROVEFLAGS) $(sort $(wildcard tests/lab-*.t))

.PHONY: lab lab-check
