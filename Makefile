# perfprobe - a native performance probe for Linux.
#
# Targets:
#   make              build/libperfprobe.so and build/perfprobe
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
#   make clean
#
# Knobs: CC, CFLAGS (extra flags), PREFIX, DESTDIR, PYTHONDIR, V=1 (show commands).

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
B       := build
VERSION := 0.1.0

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
BASE     := -std=gnu11 -O2 -g -pthread $(WARN) -MMD -MP
SHIMFLAGS := $(BASE) -fPIC -fvisibility=hidden -fexceptions \
             -fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc \
             -fno-builtin-free -ftls-model=initial-exec -flto
ALL_CFLAGS = $(CFLAGS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

# every file in shim/ is part of the library; every file in tools/ but the
# fuzz target and the options-table printer, and every file in tools/export/
# (report --openmetrics, push, serve), is part of the command
SHIM_SRC := $(sort $(wildcard shim/*.c))
SHIM_OBJ := $(SHIM_SRC:%.c=$(B)/%.o)
CLI_SRC  := $(sort $(filter-out tools/fuzz_reader.c tools/pp-options.c,$(wildcard tools/*.c))) \
            $(sort $(wildcard tools/export/*.c))
CLI_LIBS := -ljansson -lm -ldw -lelf -lz -lcurl
TEST_PROGS := $(patsubst tests/progs/%.c,$(B)/tests/%,$(wildcard tests/progs/*.c))
TEST_CXX   := $(patsubst tests/progs/%.cc,$(B)/tests/%,$(wildcard tests/progs/*.cc))
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/unit/%)

.PHONY: all test bench demo deps install uninstall asan fuzz fuzz-deps clean check-flags

all: $(B)/libperfprobe.so $(B)/perfprobe

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
	$(Q)$(CC) -shared -pthread -flto -O2 -fvisibility=hidden -Wl,-z,nodelete -Wl,--no-undefined -o $@ $^ -ldl -lgcc_s -lm

$(B)/perfprobe: $(CLI_SRC) $(wildcard tools/*.h tools/export/*.h) $(B)/.flags
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(BASE) $(ALL_CFLAGS) -DPP_VERSION='"$(VERSION)"' -o $@ $(CLI_SRC) $(CLI_LIBS)

# ---- tests -----------------------------------------------------------------

$(B)/tests/%: tests/progs/%.c $(B)/.flags
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(BASE) -Ilibprobe -o $@ $< $(shell sed -n 's,^// link: ,,p' $<)

$(B)/tests/%: tests/progs/%.cc $(B)/.flags
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $@")
	$(Q)g++ -O2 -g -Wall -Wextra -Werror -pthread -Ilibprobe -o $@ $< $(shell sed -n 's,^// link: ,,p' $<)

# Unit tests drive the shim's pure parts directly, under ASan and UBSan.
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
UNIT_LIB := shim/buf.c shim/mappings.c shim/options.c shim/os_linux.c shim/counters.c shim/lock.c \
            tests/unit/stubs.c
$(B)/unit/%: tests/unit/%.c $(UNIT_LIB) tests/unit/check.h $(B)/.flags
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@ (asan)")
	$(Q)$(CC) $(BASE) $(SAN) -Ishim -o $@ $< $(UNIT_LIB) -ldl

$(B)/pp-options: tools/pp-options.c shim/options.c shim/buf.c shim/os_linux.c shim/lock.c $(B)/.flags
	$(Q)$(CC) $(BASE) -Ishim -o $@ tools/pp-options.c shim/options.c shim/buf.c shim/os_linux.c shim/lock.c

# The CLI under ASan and UBSan, for replaying inputs that once broke it.
$(B)/perfprobe-asan: $(CLI_SRC) $(wildcard tools/*.h tools/export/*.h) $(B)/.flags
	@$(if $(Q),echo "  CC      $@ (asan)")
	$(Q)$(CC) $(BASE) $(SAN) -DPP_VERSION='"$(VERSION)"' -o $@ $(CLI_SRC) $(CLI_LIBS)

# make fuzz: libFuzzer on the timeline reader (clang), FUZZ_SECONDS long.
FUZZ_SECONDS ?= 60
FUZZ_SRC := tools/fuzz_reader.c tools/timeline_read.c tools/report.c tools/compare.c tools/sites.c tools/symbols.c \
            tools/export/openmetrics.c
$(B)/fuzz_reader: $(FUZZ_SRC) tools/cli.h $(B)/.flags
	$(Q)clang -g -O1 -fsanitize=fuzzer,address,undefined -Wall -Wextra -Werror -o $@ $(FUZZ_SRC) -ljansson -lm -ldw -lelf -lz

fuzz-deps:
	$(Q)bash tools/install-deps.sh --fuzz --if-root

fuzz: fuzz-deps $(B)/fuzz_reader
	$(Q)mkdir -p $(B)/fuzz-corpus && cp tests/fuzz/corpus/* $(B)/fuzz-corpus/
	$(Q)$(B)/fuzz_reader -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    -artifact_prefix=$(B)/fuzz- $(B)/fuzz-corpus tests/fuzz/regress

test: all $(TEST_PROGS) $(TEST_CXX) $(UNIT_BIN) $(B)/pp-options $(B)/perfprobe-asan
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
	install -m 755 $(B)/perfprobe $(DESTDIR)$(PREFIX)/bin/perfprobe
	install -m 644 libprobe/perf_probe.h $(DESTDIR)$(PREFIX)/include/perf_probe.h
	install -m 644 libprobe/python/perfprobe.py $(DESTDIR)$(PYTHONDIR)/perfprobe.py
	install -m 644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/perfprobe/
	sed -e 's,@PREFIX@,$(PREFIX),' -e 's,@LIBDIR@,$(LIBDIR),' -e 's,@VERSION@,$(VERSION),' \
	    tools/perfprobe.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/perfprobe.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libperfprobe.so $(DESTDIR)$(PREFIX)/bin/perfprobe \
	      $(DESTDIR)$(PREFIX)/include/perf_probe.h $(DESTDIR)$(LIBDIR)/pkgconfig/perfprobe.pc
	rm -f $(DESTDIR)$(PYTHONDIR)/perfprobe.py
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/perfprobe

clean:
	rm -rf $(B)

-include $(SHIM_OBJ:.o=.d)
