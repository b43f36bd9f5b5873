# Sanitizer and memcheck runs (issue 7).
#
#   make asan       every program and helper with AddressSanitizer and
#                   UndefinedBehaviorSanitizer (clang), into build-asan/, then
#                   the whole test suite against those binaries (asan-ci:
#                   less the docs and RSS-bound backpressure tests)
#   make tsan       ThreadSanitizer build into build-tsan/, then the models
#                   that serve in threads (concurd --list=threads) through
#                   tests/reliability/models.t: every service's
#                   conformance checks plus a short hostile run
#   make valgrind   memcheck on the models that do not (iterative, fork,
#                   prefork*: concurd --list less --list=threads), children
#                   traced, every service's checks and
#                   VALGRIND_HOSTILE_SECS (10) of hostile clients on echo;
#                   valgrind-ci: the services' checks only (CI)
#
# "Any report fails": every sanitizer writes its reports to files under
# build-SAN/reports/ (log_path), and the run fails if one exists afterwards,
# whether or not the process that found it had its exit status checked (a
# forked child, a helper).  halt_on_error makes the first report end the
# process, so a test also fails where it happens.

SAN_CC		?= clang
ASAN_FLAGS	:= -fsanitize=address,undefined -fno-omit-frame-pointer \
		   -fno-sanitize-recover=undefined
TSAN_FLAGS	:= -fsanitize=thread -fno-omit-frame-pointer
SAN_TESTS	?= $(sort $(wildcard tests/*.t))
# The model lists come from the concurd that is tested (a new model is in
# them by its flags); TSAN_MODELS=... or VALGRIND_MODELS=... override.
MODELS_OF	= $(shell $(1) --list$(2) 2>/dev/null | sed -n 's/^model //p')
TSAN_MODELS	?= $(call MODELS_OF,build-tsan/bin/concurd,=threads)
VALGRIND_MODELS	?= $(filter-out $(call MODELS_OF,$(O)/concurd,=threads),$(call MODELS_OF,$(O)/concurd,))

# san_build NAME FLAGS: the whole tree into build-NAME/ (objects, helpers)
# and build-NAME/bin/ (programs); bin/ and build/ are not touched.
define san_build
	$(MAKE) --no-print-directory B=build-$(1) O=build-$(1)/bin CC=$(SAN_CC) \
		CFLAGS="-O1 -g $(2)" LDFLAGS="$(2)" all tools
endef

# SAN_REPORTS (shell, in the recipe's last line): fail if any sanitizer
# report was written to $$rep.  LSan's "does not work under ptrace" (a test
# that straces a program) is no report.  Runs after prove whatever prove
# said, so a report is shown even when a test failed too.
SAN_REPORTS = for f in $$rep/*; do [ -e "$$f" ] || continue; \
	  if grep -q 'does not work under ptrace' "$$f" && ! grep -q 'ERROR:' "$$f"; then \
	    rm -f "$$f"; fi; done; \
	if ls $$rep/* >/dev/null 2>&1; then \
	  echo "sanitizer reports in $$rep:" >&2; \
	  for f in $$rep/*; do echo "==== $$f" >&2; head -n 60 "$$f" >&2; done; \
	  st=1; \
	else echo "no sanitizer report"; fi; exit $$st

# Known, reported leaks not fixed yet (each line names its bug).
LSAN_SUPP	?= tests/reliability/lsan-known.supp

asan-build:
	$(call san_build,asan,$(ASAN_FLAGS))

asan: asan-build
	@rm -rf build-asan/reports; mkdir -p build-asan/reports
	st=0; rep=build-asan/reports; SANITIZER=asan; export SANITIZER; \
	BIN=$(CURDIR)/build-asan/bin HELP=$(CURDIR)/build-asan/tests \
	ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:log_path=$(CURDIR)/build-asan/reports/asan \
	REL_HOSTILE_ARGS="--mem-slack 512" \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$(CURDIR)/build-asan/reports/ubsan \
	LSAN_OPTIONS=suppressions=$(CURDIR)/$(LSAN_SUPP):print_suppressions=0 \
		$(PROVE) $(PROVEFLAGS) $(SAN_TESTS) || st=1; \
	$(SAN_REPORTS)

# CI: the suite less what says nothing under ASan: the docs checks, and
# ops-backpressure*.t, whose RSS bounds count ASan's shadow memory and
# quarantine (they fail under it; SANITIZER=asan is exported for tests that
# want to know).
ASAN_CI_SKIP	?= $(wildcard tests/docs-*.t tests/ops-backpressure*.t)
asan-ci:
	$(MAKE) --no-print-directory asan SAN_TESTS="$(filter-out $(ASAN_CI_SKIP),$(SAN_TESTS))"

tsan-build:
	$(call san_build,tsan,$(TSAN_FLAGS))

# Known, reported races that are not fixed yet: each line names its bug.
# TSAN_SUPP=/dev/null shows them.
TSAN_SUPP	?= tests/reliability/tsan-known.supp

# TSan's second_deadlock_stack and history_size help read a report; exitcode
# 66 tells a TSan abort from the server's own codes.
tsan: tsan-build
	@rm -rf build-tsan/reports; mkdir -p build-tsan/reports
	st=0; rep=build-tsan/reports; SANITIZER=tsan; export SANITIZER; \
	BIN=$(CURDIR)/build-tsan/bin HELP=$(CURDIR)/build-tsan/tests \
	REL_MODELS="$(TSAN_MODELS)" REL_HOSTILE_SECS=$(or $(TSAN_HOSTILE_SECS),3) \
	REL_HOSTILE_ARGS="--mem-slack 512" \
	TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:exitcode=66:second_deadlock_stack=1:history_size=4:suppressions=$(CURDIR)/$(TSAN_SUPP):log_path=$(CURDIR)/build-tsan/reports/tsan \
		$(PROVE) $(PROVEFLAGS) tests/reliability/models.t || st=1; \
	$(SAN_REPORTS)

# Memcheck runs the normal build (-O2 -g): what users run.
valgrind: all tools
	REL_MODELS="$(VALGRIND_MODELS)" REL_SERVICES="$(VALGRIND_SERVICES)" \
	REL_HOSTILE_SECS=$(or $(VALGRIND_HOSTILE_SECS),10) \
		$(PROVE) $(PROVEFLAGS) tests/reliability/valgrind.t

valgrind-ci: all tools
	REL_MODELS="$(VALGRIND_MODELS)" REL_HOSTILE_SECS=0 \
		$(PROVE) $(PROVEFLAGS) tests/reliability/valgrind.t

clean-san:
	rm -rf build-asan build-tsan

.PHONY: asan asan-ci asan-build tsan tsan-build valgrind valgrind-ci clean-san
