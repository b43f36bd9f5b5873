# The design-comparison report (issue 4): UNP chapter 30 re-measured.
#
#   make compare           every concurd model under pingpong, connrate and
#                          nbytes, 3 rounds of 4 s cells (about 15 minutes on
#                          2 cores); writes docs/compare.md (the part between
#                          its markers), docs/compare.csv, docs/compare.png
#                          and docs/compare.svg
#   make compare QUICK=1   a smoke run of about 90 s, written under
#                          build/compare/run-DATE/ instead of docs/
#
# COMPARE_ARGS passes options to bench/compare/run.sh (see its --help), e.g.
# COMPARE_ARGS="--rounds 5 --models iterative,fork,prefork,epoll".
# Needs gnuplot (Debian: gnuplot-nox).

compare: all
	B="$(B)" O="$(O)" bash bench/compare/run.sh \
		$(if $(QUICK),--quick) $(COMPARE_ARGS)

.PHONY: compare
