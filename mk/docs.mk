# Documentation (issue 9).
#
#   make docs-diagrams   render docs/models/*.dot to SVG with graphviz dot;
#                        the SVGs are committed, so pages render on a
#                        code-hosting site without a build
#   make docs-check      the docs' own tests: every command shown runs
#                        (tests/docs-commands.t), --help and man pages agree
#                        (tests/docs-options.t), haproxy in front of three
#                        concurd (tests/docs-haproxy.t); `make check` runs
#                        them too
#   make docs-stale      fail if a committed SVG is older than its source
#                        or missing (CI: the diagrams were re-rendered)

DOT		?= dot
DOC_DOTS	:= $(wildcard docs/models/*.dot)
DOC_SVGS	:= $(DOC_DOTS:.dot=.svg)

# -Gfontnames=svg keeps font names generic in the SVG, so a browser picks
# a sans-serif it has.
docs/models/%.svg: docs/models/%.dot
	$(DOT) -Tsvg -Gfontnames=svg -o $@.tmp $< && mv $@.tmp $@

docs-diagrams: $(DOC_SVGS)

docs-stale:
	@st=0; for d in $(DOC_DOTS); do s=$${d%.dot}.svg; \
		if [ ! -e "$$s" ]; then echo "missing: $$s (make docs-diagrams)"; st=1; \
		elif [ "$$d" -nt "$$s" ]; then echo "stale: $$s (make docs-diagrams)"; st=1; fi; \
	done; exit $$st

docs-check: all tools
	$(PROVE) $(PROVEFLAGS) $(wildcard tests/docs*.t)

.PHONY: docs-diagrams docs-stale docs-check
