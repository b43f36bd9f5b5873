# libFuzzer harnesses (issue 7): fuzz/NAME.c, seeds in fuzz/corpus/NAME/,
# inputs that once crashed in fuzz/regress/NAME/ (kept forever).
#
#   make fuzz          each harness FUZZ_SECS seconds (default 60), starting
#                      from its seeds; new corpus entries go to
#                      build-fuzz/corpus/NAME/ (not the repo), crashes to
#                      build-fuzz/artifacts/NAME/: copy one to
#                      fuzz/regress/NAME/ and commit it with the fix
#   make fuzz-ci       the same, 12 s each (CI)
#   make fuzz-regress  replay every seed and regression input once (CI)
#
# Harnesses: nbytes (the nbytes request line through struct service),
# parse (parse_uint, parse_duration_us, parse_size, net_parse_port), cidr
# (cidr_parse), cmdline (concurd's main() option parsing, stopped before it
# binds anything; see fuzz/cmdline.c), file (the file service's HTTP and
# Gopher requests through struct service, and its parser's pieces alone;
# see fuzz/file.c), proxy (the PROXY protocol header parser, proxy_parse).
# clang with -fsanitize=fuzzer.

FUZZ_CC		?= clang
FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_NAMES	:= nbytes parse cidr cmdline file proxy
FUZZ_BINS	:= $(FUZZ_NAMES:%=build-fuzz/%)
FUZZ_LIBS	:= build-fuzz/libengine.a build-fuzz/libconcur.a
FUZZ_FLAGS	= -std=c17 -D_GNU_SOURCE -pthread -Ilib -Iengine -g -O1 \
		  -DCONCUR_VERSION='"$(VERSION)"' $(URING_CFLAGS) $(FUZZ_SAN)
FUZZ_SECS	?= 60
CMDLINE_WRAP	:= -Wl,--wrap=exit,--wrap=sysconf,--wrap=log_set_file,--wrap=log_set_syslog

# The libraries, instrumented for coverage, by the main Makefile's rules
# (in a sub-make with B=build-fuzz, where these rules must not exist).
ifneq ($(B),build-fuzz)
fuzz-libs:
	$(MAKE) --no-print-directory B=build-fuzz O=build-fuzz/bin CC=$(FUZZ_CC) \
		CFLAGS="-O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link" $(FUZZ_LIBS)

build-fuzz/%: fuzz/%.c fuzz-libs
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIBS) $(URING_LIBS) -lseccomp -lm

build-fuzz/concurd-main.o: programs/concurd/main.c fuzz-libs
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -Dmain=concurd_main \
		-c -o $@ $<

# concurd's other files, as they are.
CONCURD_REST	:= $(filter-out programs/concurd/main.c,$(wildcard programs/concurd/*.c))
CONCURD_REST_O	:= $(CONCURD_REST:programs/concurd/%.c=build-fuzz/concurd-%.o)
build-fuzz/concurd-%.o: programs/concurd/%.c fuzz-libs
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build-fuzz/cmdline: fuzz/cmdline.c build-fuzz/concurd-main.o $(CONCURD_REST_O) fuzz-libs
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $(CMDLINE_WRAP) -o $@ $< \
		build-fuzz/concurd-main.o $(CONCURD_REST_O) $(FUZZ_LIBS) $(URING_LIBS) -lseccomp -lm

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@for n in $(FUZZ_NAMES); do fuzz/run.sh $$n $(FUZZ_SECS) || exit 1; done

fuzz-ci: fuzz-build
	@for n in $(FUZZ_NAMES); do fuzz/run.sh $$n 12 || exit 1; done

# Every seed and every past crash, once each: a regression test.
fuzz-regress: fuzz-build
	@for n in $(FUZZ_NAMES); do fuzz/run.sh $$n replay || exit 1; done
endif

.PHONY: fuzz fuzz-ci fuzz-build fuzz-regress fuzz-libs
