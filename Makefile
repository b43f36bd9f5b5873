# concurd: a toolkit for concurrent network servers.
#
#   make              every program into bin/
#   make check        the test suite (TAP, run by prove)
#   make install      PREFIX=/usr/local DESTDIR= (both honoured)
#   make CC=clang     any C17 compiler; CFLAGS, CPPFLAGS, LDFLAGS respected
#
# One Makefile for the whole tree.  Programs are found by directory: each
# programs/NAME/ with .c files becomes bin/NAME.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
CFLAGS	?= -O2 -g

VERSION	:= 0.1.0
WARN	:= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wold-style-definition -Wpointer-arith -Wwrite-strings -Wundef \
	   -Wformat=2 -Wmissing-declarations -Wcast-qual
ALL_CFLAGS = -std=c17 -D_GNU_SOURCE -pthread -Ilib -Iengine \
	     -DCONCUR_VERSION='"$(VERSION)"' $(URING_CFLAGS) $(WARN) \
	     $(CPPFLAGS) $(CFLAGS)
LDLIBS	+= -pthread -lm

# io_uring is optional: without liburing the uring model says so at run time.
HAVE_LIBURING := $(shell printf '\043include <liburing.h>\nint main(void){struct io_uring r; return io_uring_queue_init(1,&r,0);}\n' | \
	$(CC) -x c - -o /dev/null -luring >/dev/null 2>&1 && echo yes)
ifeq ($(HAVE_LIBURING),yes)
URING_CFLAGS := -DHAVE_LIBURING=1
URING_LIBS := -luring
endif

# The engine's sandbox (engine/sandbox.c) is built on libseccomp.
ENGINE_LIBS := -lseccomp

# B: objects; O: programs.  `make B=build-asan O=build-asan/bin` builds a
# second flavour beside the first.
B ?= build
O ?= bin
LIB_SRC	:= $(wildcard lib/*.c)
ENG_SRC	:= $(wildcard engine/*.c engine/*/*.c models/*.c services/*.c)
LIB_OBJ	:= $(LIB_SRC:%.c=$(B)/%.o)
ENG_OBJ	:= $(ENG_SRC:%.c=$(B)/%.o)
PROGS	:= $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard programs/*/*.c)))))
BINS	:= $(PROGS:%=$(O)/%)
TEST_HELPERS := $(patsubst tests/helpers/%.c,$(B)/tests/%,$(wildcard tests/helpers/*.c))
BENCH_TOOLS := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))

all: $(BINS)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/libconcur.a: $(LIB_OBJ)
	rm -f $@ && $(AR) rcs $@ $^

$(B)/libengine.a: $(ENG_OBJ)
	rm -f $@ && $(AR) rcs $@ $^

# Each program links what it needs; only concurd carries the engine
# (concurbench uses io_uring too, for ping-pong).
define prog_rule
$(1)_OBJ := $$(patsubst %.c,$(B)/%.o,$$(wildcard programs/$(1)/*.c))
$(O)/$(1): $$($(1)_OBJ) $(if $(filter concurd,$(1)),$(B)/libengine.a) $(B)/libconcur.a
	@mkdir -p $(O)
	$$(CC) $$(ALL_CFLAGS) $$(LDFLAGS) -o $$@ $$^ $(if $(filter concurd,$(1)),$$(URING_LIBS) $$(ENGINE_LIBS)) $(if $(filter concurbench,$(1)),$$(URING_LIBS) -lnettle) $$(LDLIBS)
endef
$(foreach p,$(PROGS),$(eval $(call prog_rule,$(p))))

$(B)/tests/%: tests/helpers/%.c $(B)/libconcur.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -MF $@.d $(LDFLAGS) -o $@ $< $(B)/libconcur.a $(LDLIBS)

# Unit tests of the engine link it too.
ENGINE_UNITS := $(B)/tests/unit_pool $(B)/tests/unit_service $(B)/tests/unit_sandbox \
	$(B)/tests/unit_client_first
$(ENGINE_UNITS): $(B)/tests/%: tests/helpers/%.c $(B)/libengine.a $(B)/libconcur.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -MF $@.d $(LDFLAGS) -o $@ $< $(B)/libengine.a $(B)/libconcur.a $(URING_LIBS) $(ENGINE_LIBS) $(LDLIBS)

$(B)/bench/%: bench/%.c $(B)/libconcur.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -MF $@.d $(LDFLAGS) -o $@ $< $(B)/libconcur.a $(LDLIBS)

tools: $(TEST_HELPERS) $(BENCH_TOOLS)

# The cheap suite.  TESTS=tests/foo.t runs one file.
TESTS	?= $(sort $(wildcard tests/*.t))
PROVE	?= prove
check: all tools
	$(PROVE) $(PROVEFLAGS) $(TESTS)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	for p in $(filter-out $(O)/concurd,$(BINS)); do \
		install -m 755 $$p $(DESTDIR)$(BINDIR)/; done
	$(if $(filter $(O)/concurd,$(BINS)),install -m 755 $(O)/concurd $(DESTDIR)$(SBINDIR)/)
	for m in man/*.1; do [ -e "$$m" ] && install -m 644 $$m $(DESTDIR)$(MANDIR)/man1/; done; true
	for m in man/*.8; do [ -e "$$m" ] && install -m 644 $$m $(DESTDIR)$(MANDIR)/man8/; done; true

uninstall:
	for p in $(PROGS); do rm -f $(DESTDIR)$(BINDIR)/$$p $(DESTDIR)$(SBINDIR)/$$p; done
	for m in man/*.[18]; do rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; done

clean:
	rm -rf $(B) $(O)

.PHONY: all tools check install uninstall clean

# Heavier suites and benchmarks live in mk/*.mk, one file per concern
# (sanitizers, soak, fuzzing, benchmarks...), each adding its own targets.
include $(sort $(wildcard mk/*.mk))
-include $(LIB_OBJ:.o=.d) $(ENG_OBJ:.o=.d) $(foreach p,$(PROGS),$($(p)_OBJ:.o=.d)) \
	$(TEST_HELPERS:=.d) $(BENCH_TOOLS:=.d)
