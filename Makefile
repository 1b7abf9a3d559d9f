# perfprobe - a native performance probe for Linux.
#
# Targets:
#   make              build/libperfprobe.so, build/libperfprobe-ns.so and build/perfprobe
#   make test         every test; ends with "N passed, N failed"
#   make bench        overhead ratios, measured side by side (BENCH_ARGS=--quick)
#   make demo         install missing packages (as root; else print the apt-get
#                     line and stop), build, run the bundled example
#   make deps         install the Debian packages the build and the tests need
#   make install      PREFIX=/usr/local DESTDIR= (library, CLI, header, .pc,
#                     the Python module where python3 finds it: PYTHONDIR)
#   make uninstall
#   make asan         the unit tests under AddressSanitizer + UBSan
#   make fuzz         libFuzzer on the timeline reader (FUZZ_SECONDS=60)
#   make macos        the shim for macOS, cross-built with Zig (mk/macos.mk,
#                     docs/macos.md); make macos-cli the command
#   make clean
#
# On a Mac (uname -s: Darwin) plain `make` builds build/libperfprobe.dylib
# and build/perfprobe for that Mac with its own cc instead (docs/macos.md);
# the other targets are Linux's.
#
# Knobs: CC, CFLAGS (extra flags), PREFIX, DESTDIR, PYTHONDIR, V=1 (show commands).

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
B       := build
VERSION := 0.1.0

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
BASE     := -std=gnu11 -O2 -g -pthread $(WARN) -MMD -MP
SHIMFLAGS := $(BASE) -Ishim -fPIC -fvisibility=hidden -fexceptions \
             -fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc \
             -fno-builtin-free -ftls-model=initial-exec -flto
ALL_CFLAGS = $(CFLAGS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

# the library: the hooks, the shared core and this system's layer (shim/sys/
# linux/); every C file in tools/ and in its rooms (tools/read/,
# tools/report/, tools/draw/, tools/export/, and any room added later) is
# part of the command, but for tools/dev/ (the fuzz target and the
# options-table printer).  docs/design.md describes the rooms.
SYS      := linux
SHIM_LIB := $(B)/libperfprobe.so
UNAME_S  ?= $(shell uname -s)
ifeq ($(UNAME_S),Darwin)
SYS      := macos
SHIM_LIB := $(B)/libperfprobe.dylib
endif
SHIM_SRC := $(sort $(wildcard shim/hooks/*.c shim/core/*.c shim/sys/*.c shim/sys/$(SYS)/*.c))
ifeq ($(SYS),macos)
# as in mk/macos.mk: no initial-exec model or LTO flags, which Mach-O's
# TLVs and the system linker do not take (ELF rebinding, bind.c, is
# sys/linux/'s)
SHIMFLAGS := $(BASE) -Ishim -fPIC -fvisibility=hidden -fexceptions -fno-builtin-malloc \
             -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free
endif
SHIM_OBJ := $(SHIM_SRC:%.c=$(B)/%.o)
# the shim's object for link namespaces (shim/ns/: opened by the shim into
# each namespace a program makes with dlmopen; x86_64 Linux, where the
# shim's dlmopen hook is)
NS_LIB   := $(if $(filter linux,$(SYS)),$(if $(filter x86_64,$(shell uname -m)),$(B)/libperfprobe-ns.so))
# it links nothing, libc included (shim/ns/nsshim.c says why): freestanding,
# no stack protector or fortified calls, which would name libc's
NSFLAGS  := -std=gnu11 -O2 -g $(WARN) -MMD -MP -Ishim -fPIC -fvisibility=hidden -ffreestanding \
            -fno-stack-protector -U_FORTIFY_SOURCE -fno-builtin-malloc -fno-builtin-calloc \
            -fno-builtin-realloc -fno-builtin-free
# The files of one system only: tools/sys/ has one per system (sys.h), and
# the symbol reader is libdw's on Linux, Mach-O symbol tables on macOS
# (mk/macos-cli.mk builds that one).
CLI_LINUX := tools/sys/linux.c tools/read/symbols_elf.c
CLI_MACOS := tools/sys/macos.c tools/sys/launch.c tools/read/symbols_macho.c tools/read/macho.c \
             tools/export/push_none.c
CLI_ALL  := $(sort $(wildcard tools/*.c) $(filter-out tools/dev/%,$(wildcard tools/*/*.c)))
CLI_SRC  := $(filter-out $(CLI_MACOS),$(CLI_ALL))
CLI_HDR  := $(wildcard tools/*.h tools/*/*.h)
CLI_INC  := -Itools
CLI_LIBS := -ljansson -lm -ldw -lelf -lz -lcurl
ifeq ($(SYS),macos)
# the macOS command: Mach-O symbols, no push (libcurl), jansson from Homebrew
BREW     := $(shell brew --prefix 2>/dev/null)
CLI_SRC  := $(filter-out $(CLI_LINUX) tools/export/push.c,$(CLI_ALL))
CLI_INC  := -Itools $(if $(BREW),-I$(BREW)/include)
CLI_LIBS := $(if $(BREW),-L$(BREW)/lib) -ljansson -lm -lz
endif
TEST_PROGS := $(patsubst tests/progs/%.c,$(B)/tests/%,$(wildcard tests/progs/*.c))
TEST_CXX   := $(patsubst tests/progs/%.cc,$(B)/tests/%,$(wildcard tests/progs/*.cc))
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/unit/%)
TEST_DEPS  := all $(TEST_PROGS) $(TEST_CXX) $(UNIT_BIN) $(B)/pp-options $(B)/perfprobe-asan
ifeq ($(SYS),macos)
# On a Mac `make test` builds what runs there: the portable test program
# (t1020); tests/lib.sh skips the Linux-only scripts with that reason.  A
# program's perf_probe.h references are left to dyld with -U: weak, looked
# up in whatever image defines them (the inserted dylib), 0 without it;
# Apple's linker refuses an undefined weak reference otherwise.
TEST_PROGS := $(B)/tests/portable_heap
TEST_DEPS  := all $(TEST_PROGS)
PROBE_LDFLAGS := $(foreach f,perf_probe perf_probe_ex perf_region_begin perf_region_end perf_counter,-Wl,-U,_$(f))
endif

.PHONY: all test bench demo deps install uninstall asan fuzz fuzz-deps clean check-flags

all: $(SHIM_LIB) $(NS_LIB) $(B)/perfprobe

# Objects are rebuilt when the flags change.
$(B)/.flags: check-flags
	@:
check-flags:
	@mkdir -p $(B)
	@echo '$(CC) $(SHIMFLAGS) $(ALL_CFLAGS)' | cmp -s - $(B)/.flags || \
	  echo '$(CC) $(SHIMFLAGS) $(ALL_CFLAGS)' > $(B)/.flags

$(B)/shim/%.o: shim/%.c $(B)/.flags
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(SHIMFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(B)/libperfprobe.so: $(SHIM_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -pthread -flto -O2 -fvisibility=hidden -Wl,-z,nodelete -Wl,-z,now -Wl,--no-undefined -o $@ $^ -ldl -lgcc_s

$(B)/libperfprobe-ns.so: shim/ns/nsshim.c shim/ns/nsbind.c shim/ns/nsbind.h shim/ns/nslink.h $(B)/.flags
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(NSFLAGS) $(ALL_CFLAGS) -shared -nostdlib -Wl,--no-undefined -o $@ $(filter %.c,$^)

# a Mac's own linker: undefined symbols are errors by default there;
# libc++abi for C++ new/delete's __interpose entries (hooks/cxx.c)
$(B)/libperfprobe.dylib: $(SHIM_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -dynamiclib -pthread -O2 -install_name @rpath/libperfprobe.dylib -o $@ $^ -lc++abi

$(B)/perfprobe: $(CLI_SRC) $(CLI_HDR) $(B)/.flags
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(BASE) $(ALL_CFLAGS) $(CLI_INC) -DPP_VERSION='"$(VERSION)"' -o $@ $(CLI_SRC) $(CLI_LIBS)

# ---- tests -----------------------------------------------------------------

$(B)/tests/%: tests/progs/%.c tests/progs/util.h $(B)/.flags
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(BASE) -Ilibprobe -o $@ $< $(PROBE_LDFLAGS) $(shell sed -n 's,^// link: ,,p' $<)

$(B)/tests/%: tests/progs/%.cc $(B)/.flags
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $@")
	$(Q)g++ -O2 -g -Wall -Wextra -Werror -pthread -Ilibprobe -o $@ $< $(shell sed -n 's,^// link: ,,p' $<)

# Unit tests drive the shim's pure parts directly, under ASan and UBSan.
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
UNIT_LIB := shim/core/buf.c shim/core/split.c shim/core/mappings.c shim/core/options.c shim/sys/linux/os.c shim/sys/posix.c shim/sys/fsize.c \
            shim/sys/linux/apart.c \
            shim/core/counters.c shim/sys/lock.c shim/sys/linux/futex.c \
            tests/unit/stubs.c
# (the shim files a test includes whole)
$(B)/unit/test_cgroup: shim/sys/linux/cgroup.c shim/sys/linux/cgroup_lines.h shim/core/peakview.c
$(B)/unit/%: tests/unit/%.c $(UNIT_LIB) tests/unit/check.h $(B)/.flags
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@ (asan)")
	$(Q)$(CC) $(BASE) $(SAN) -Ishim -o $@ $< $(UNIT_LIB) -ldl

PP_OPTIONS_SRC := tools/dev/pp-options.c shim/core/options.c shim/core/buf.c shim/sys/linux/os.c \
                  shim/sys/linux/apart.c \
                  shim/sys/posix.c shim/sys/fsize.c shim/sys/lock.c shim/sys/linux/futex.c
$(B)/pp-options: $(PP_OPTIONS_SRC) $(B)/.flags
	$(Q)$(CC) $(BASE) -Ishim -o $@ $(PP_OPTIONS_SRC)

# The CLI under ASan and UBSan, for replaying inputs that once broke it.
$(B)/perfprobe-asan: $(CLI_SRC) $(CLI_HDR) $(B)/.flags
	@$(if $(Q),echo "  CC      $@ (asan)")
	$(Q)$(CC) $(BASE) $(SAN) $(CLI_INC) -DPP_VERSION='"$(VERSION)"' -o $@ $(CLI_SRC) $(CLI_LIBS)

# make fuzz: libFuzzer on the timeline reader (clang), FUZZ_SECONDS long.
FUZZ_SECONDS ?= 60
# the reader and the report; not read/usage.c: the target has its own error()
FUZZ_SRC := tools/dev/fuzz_reader.c $(sort $(filter-out tools/read/usage.c $(CLI_MACOS),$(wildcard tools/read/*.c))) \
            tools/report/report.c tools/report/cpu.c tools/export/openmetrics.c
$(B)/fuzz_reader: $(FUZZ_SRC) $(CLI_HDR) $(B)/.flags
	$(Q)clang -g -O1 -fsanitize=fuzzer,address,undefined -Wall -Wextra -Werror $(CLI_INC) -o $@ $(FUZZ_SRC) -ljansson -lm -ldw -lelf -lz

fuzz-deps:
	$(Q)bash tools/install-deps.sh --fuzz --if-root

fuzz: fuzz-deps $(B)/fuzz_reader
	$(Q)mkdir -p $(B)/fuzz-corpus && cp tests/fuzz/corpus/* $(B)/fuzz-corpus/
	$(Q)$(B)/fuzz_reader -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    -artifact_prefix=$(B)/fuzz- $(B)/fuzz-corpus tests/fuzz/regress

test: $(TEST_DEPS)
	$(Q)B=$(B) bash tests/run.sh $(TESTS)

asan: $(UNIT_BIN)
	$(Q)for t in $(UNIT_BIN); do $$t || exit 1; done

$(B)/bench/churn: bench/churn.c $(B)/.flags
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(BASE) -o $@ $<

$(B)/bench/probecost: bench/probecost.c libprobe/perf_probe.h $(B)/.flags
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(BASE) -Ilibprobe -o $@ $<

$(B)/bench/manymaps: bench/manymaps.c libprobe/perf_probe.h $(B)/.flags
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(BASE) -Ilibprobe -o $@ $<

$(B)/bench/tick: bench/tick.c $(B)/.flags
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(BASE) -o $@ $<

# the sampler's cgroup reads, by hand inside a limited cgroup (docs/robustness.md)
CGCOST_SRC := shim/sys/posix.c shim/sys/fsize.c shim/sys/linux/os.c shim/sys/linux/apart.c shim/sys/lock.c shim/sys/linux/futex.c
$(B)/bench/cgcost: bench/cgcost.c shim/sys/linux/cgroup.c $(CGCOST_SRC) $(B)/.flags
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(BASE) -O2 -Ishim -o $@ $< $(CGCOST_SRC)

bench: all $(B)/bench/churn $(B)/bench/probecost $(B)/bench/manymaps $(B)/bench/tick
	$(Q)bash tools/install-deps.sh --bench --if-root
	$(Q)B=$(B) /usr/bin/python3 bench/bench.py $(BENCH_ARGS)

$(B)/examples/demo: examples/demo.c libprobe/perf_probe.h $(B)/.flags
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(BASE) -Ilibprobe -o $@ $<

demo: deps
	$(Q)$(MAKE) --no-print-directory all $(B)/examples/demo
	$(Q)bash examples/demo.sh

deps:
	$(Q)bash tools/install-deps.sh

# ---- install ---------------------------------------------------------------

LIBDIR := $(PREFIX)/lib
# the Python module goes where Debian's python3 looks: /usr/lib/python3/
# dist-packages for PREFIX=/usr, PREFIX/lib/python3.X/dist-packages otherwise
# (on sys.path for /usr/local; any other PREFIX needs PYTHONPATH=PYTHONDIR)
PYVER := $(shell /usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3)
PYTHONDIR ?= $(if $(filter /usr,$(PREFIX)),$(PREFIX)/lib/python3/dist-packages,$(PREFIX)/lib/python$(PYVER)/dist-packages)
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/pkgconfig \
	           $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/doc/perfprobe \
	           $(DESTDIR)$(PYTHONDIR)
	install -m 755 $(B)/libperfprobe.so $(DESTDIR)$(LIBDIR)/libperfprobe.so
	$(if $(NS_LIB),install -m 755 $(NS_LIB) $(DESTDIR)$(LIBDIR)/libperfprobe-ns.so)
	install -m 755 $(B)/perfprobe $(DESTDIR)$(PREFIX)/bin/perfprobe
	install -m 644 libprobe/perf_probe.h $(DESTDIR)$(PREFIX)/include/perf_probe.h
	install -m 644 libprobe/python/perfprobe.py $(DESTDIR)$(PYTHONDIR)/perfprobe.py
	install -m 644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/perfprobe/
	sed -e 's,@PREFIX@,$(PREFIX),' -e 's,@LIBDIR@,$(LIBDIR),' -e 's,@VERSION@,$(VERSION),' \
	    tools/perfprobe.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/perfprobe.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libperfprobe.so $(DESTDIR)$(LIBDIR)/libperfprobe-ns.so \
	      $(DESTDIR)$(PREFIX)/bin/perfprobe \
	      $(DESTDIR)$(PREFIX)/include/perf_probe.h $(DESTDIR)$(LIBDIR)/pkgconfig/perfprobe.pc
	rm -f $(DESTDIR)$(PYTHONDIR)/perfprobe.py
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/perfprobe

clean:
	rm -rf $(B)

-include $(SHIM_OBJ:.o=.d)

# macOS, cross-built here with Zig (docs/macos.md): the library, and the
# command (make macos-cli).
-include mk/macos.mk
-include mk/macos-cli.mk
