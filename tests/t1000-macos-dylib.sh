#!/usr/bin/env bash
# t1000 - the shim for macOS, cross-built (mk/macos.mk; docs/macos.md),
# read with LLVM's own Mach-O reader (llvm-objdump --macho, llvm-nm).
# Every shim file that is meant to build for macOS compiles for arm64 and
# x86_64 with warnings as errors into a Mach-O object of that architecture,
# and `make macos` links build/macos-{arm64,x86_64}/libperfprobe.dylib.
# Each dylib is checked: a Mach-O dylib of its architecture that loads
# libSystem and libc++abi and nothing else; its __interpose section binds
# every function of INTERPOSED to libSystem and each C++ operator new and
# delete (the names Zig's clang gives them for macOS, compiled here) to
# libc++abi, and its entries are exactly the pairs {pp_hook_NAME, NAME} for
# those functions (the first word of each entry is the address llvm-nm
# gives pp_hook_NAME, the second is bound to NAME); it exports exactly the
# public API (the Linux library's perf_* exports); every undefined symbol
# binds to libSystem or is one of those operators (none left to dynamic
# lookup); its only __thread variables (TLVs) are three no allocator hook
# touches.
# Nothing here runs the dylib: that needs a Mac.
# Installs nothing: without Zig or ld64.lld it skips with the reason,
# unless CI=true.
. "$PP_ROOT/tests/lib.sh"

macos_tools
if [ -n "$why" ]; then
    if [ "${CI:-}" = true ]; then fail "macOS build tools missing under CI: $why"; exit 0; fi
    ok "skipped: $why"
    exit 0
fi

# the functions the dylib must interpose from libSystem (docs/macos.md), by
# C name; the C++ operators (from libc++abi) are listed further down
INTERPOSED="malloc calloc realloc free malloc_size valloc posix_memalign aligned_alloc reallocf
malloc_zone_malloc malloc_zone_calloc malloc_zone_realloc malloc_zone_free malloc_zone_memalign
malloc_zone_valloc mmap munmap vm_allocate vm_deallocate mach_vm_allocate mach_vm_deallocate
exit _exit _Exit fork execve posix_spawn posix_spawnp"

mk() { make -s -C "$PP_ROOT" B="$B" ZIG="$ZIG" ZIG_DIR="$ZIG_DIR" "$@"; }

# ---- the shim's files, compiled for both architectures -----------------------
if mk -j2 macos-shim-objs > objs.out 2>&1; then
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
# A function is named by its C name, bound in libSystem (malloc), or as
# LIBRARY:NAME (libc++abi:_Znwm); qual gives each as llvm-objdump prints
# its bind: LIBRARY:_NAME (the Mach-O symbol has one more underscore)
qual() {
    local fn
    for fn in $*; do
        case $fn in
        *:*) echo "${fn%%:*}:_${fn#*:}" ;;
        *) echo "libSystem:_$fn" ;;
        esac
    done
}
# dylib_checks FILE CPU NAMES PUBLIC: FILE is a 64-bit Mach-O dylib for CPU
# (ARM64, X86_64); its __DATA,__interpose binds each of NAMES to its library
# (qual); every bind, now or lazy, is to libSystem or is one of NAMES bound
# in its library (flat-namespace is what -undefined dynamic_lookup leaves);
# every undefined symbol is bound so; its exports are exactly PUBLIC
# (mangled names, one a line)
dylib_checks() {
    local f=$1 cpu=$2 names=$3 public=$4 a
    a=$(basename "$(dirname "$f")")/$(basename "$f")
    eq "$a: a 64-bit Mach-O dylib of the architecture" \
       "$(llvm-objdump --macho --private-header "$f" | awk '$1 == "MH_MAGIC_64" { print $2, $5 }')" "$cpu DYLIB"
    llvm-objdump --macho --bind --lazy-bind "$f" > binds.txt
    local ipose missing= fn und bound want
    want=$(qual "$names" | sort -u)
    ipose=$(awk '$1 ~ /^__DATA/ && $2 == "__interpose" { print $(NF-1) ":" $NF }' binds.txt | sort -u)
    for fn in $names; do
        grep -qxF "$(qual "$fn")" <<< "$ipose" || missing="$missing $fn"
    done
    eq "$a: __interpose binds all $(wc -w <<< "$names") functions to their library" "$missing" ""
    # lib:symbol of every bind but libSystem's, less the functions named
    eq "$a: every bound symbol binds to libSystem, or is a named function of its library" \
       "$(awk '/^__/ && $(NF-1) != "libSystem" { print $(NF-1) ":" $NF }' binds.txt | sort -u |
          comm -23 - <(echo "$want") | tr '\n' ' ')" ""
    und=$(llvm-objdump --macho --syms "$f" | awk '$2 == "*UND*" { print $3 }' | sort -u)
    echo "$want" > want.txt
    bound=$(awk 'NR == FNR { w[$0] = 1; next }
                 /^__/ && ($(NF-1) == "libSystem" || ($(NF-1) ":" $NF) in w) { print $NF }' \
            want.txt binds.txt | sort -u)
    eq "$a: every undefined symbol binds to libSystem or a named function's library, none to dynamic lookup" \
       "$(comm -23 <(echo "$und") <(echo "$bound") | tr '\n' ' ')" ""
    eq "$a: exports exactly the public API" \
       "$(llvm-objdump --macho --exports-trie "$f" | awk '{ print $NF }' | grep '^_' | sort -u | tr '\n' ' ')" \
       "$(sort -u <<< "$public" | tr '\n' ' ')"
}

# pair_checks FILE NAMES [DYLIBS]: the __interpose entries of FILE are
# exactly the pairs {_pp_hook_NAME, _NAME} for NAMES: an entry's first word
# (its contents, rebased) is the address llvm-nm gives _pp_hook_NAME, and
# its second word is bound to _NAME of NAME's library (qual); FILE loads
# exactly DYLIBS (libSystem's path when not given)
pair_checks() {
    local f=$1 names=$2 dylibs=${3:-/usr/lib/libSystem.B.dylib} a addr rest w line got= lib k
    a=$(basename "$(dirname "$f")")/$(basename "$f")
    declare -A sym=() bind=()
    while read -r addr _ name; do
        printf -v k %x $((16#$addr))
        sym[$k]=$name
    done < <(llvm-nm "$f" | awk '$2 ~ /^[tT]$/')
    while read -r addr lib name; do
        printf -v k %x $((addr))
        bind[$k]=$lib:$name
    done < <(llvm-objdump --macho --bind "$f" |
             awk '$2 == "__interpose" { print $3, $(NF-1), $NF }')
    # rows of 16 bytes: the address, then the bytes (x86_64) or 32-bit
    # words (arm64) as llvm-objdump prints them, little-endian
    while read -r addr rest; do
        [[ $addr =~ ^[0-9a-f]+$ ]] || continue
        local -a t=($rest) hx=()
        if [ ${#t[0]} = 8 ]; then
            hx=("${t[1]}${t[0]}")
        else
            hx=("${t[7]}${t[6]}${t[5]}${t[4]}${t[3]}${t[2]}${t[1]}${t[0]}")
        fi
        local hook=${sym[$(printf %x $((16#${hx[0]})))]:-} real=${bind[$(printf %x $((16#$addr + 8)))]:-}
        if [ -n "$real" ] && [ "$hook" = "_pp_hook${real#*:}" ]; then
            got="$got $real"
        else
            got="$got bad:$hook/$real"
        fi
    done < <(llvm-objdump --macho --section=__DATA,__interpose "$f" | tail -n +3)
    eq "$a: __interpose holds exactly {pp_hook_NAME, NAME} for the $(wc -w <<< "$names") functions" \
       "$(tr ' ' '\n' <<< "$got" | grep . | sort | tr '\n' ' ')" \
       "$(qual "$names" | sort | tr '\n' ' ')"
    local id
    id=$(llvm-objdump --macho --dylib-id "$f" | awk 'NR == 2 { print $1 }')
    eq "$a: loads exactly $dylibs" \
       "$(llvm-objdump --macho --dylibs-used "$f" | awk -v id="$id" 'NR > 1 && $1 != id { print $1 }' | sort | tr '\n' ' ')" \
       "$(tr ' ' '\n' <<< "$dylibs" | grep . | sort | tr '\n' ' ')"
}

# The checks themselves, on small dylibs built here: one right (three
# functions interposed, perf_probe exported), one linked with -undefined
# dynamic_lookup, one with two replacees swapped, one that loads a library
# besides libSystem.  Each check must pass on the first; asking for a fourth
# function, another export, or reading the second must fail.
sdk=$(dirname "$ZIG")/lib/libc/darwin/libSystem.13.tbd
cat > good.c <<'C'
#include <stdlib.h>
#include <malloc/malloc.h>
struct ip { const void *repl, *orig; };
void *pp_hook_malloc(size_t n) { return malloc(n); }
void pp_hook_free(void *p) { free(p); }
size_t pp_hook_malloc_size(const void *p) { return malloc_size(p); }
__attribute__((used, section("__DATA,__interpose"))) static const struct ip table[] = {
    { (const void *)pp_hook_malloc, (const void *)malloc },
    { (const void *)pp_hook_free, (const void *)free },
    { (const void *)pp_hook_malloc_size, (const void *)malloc_size },
};
__attribute__((visibility("default"))) int perf_probe(const char *s) { return s != 0; }
C
cat > flat.c <<'C'
extern int not_in_libsystem(int);
__attribute__((visibility("default"))) int perf_probe(const char *s) { return not_in_libsystem(s != 0); }
C
# the same with two replacees swapped: pp_hook_free stands in for malloc_size
sed 's/(const void \*)free }/(const void *)malloc_size }/; t; s/(const void \*)malloc_size }/(const void *)free }/' \
    good.c > swapped.c
mkdir -p self
"$ZIG" cc -target aarch64-macos.11.0 -O2 -fvisibility=hidden -c good.c -o good.o &&
"$LD64" -arch arm64 -dylib -platform_version macos 11.0 13.0 -o self/good.dylib good.o "$sdk" &&
"$ZIG" cc -target x86_64-macos.11.0 -O2 -fvisibility=hidden -c swapped.c -o swapped.o &&
"$LD64" -arch x86_64 -dylib -platform_version macos 11.0 13.0 -o self/swapped.dylib swapped.o "$sdk" &&
"$ZIG" cc -target aarch64-macos.11.0 -O2 -fvisibility=hidden -c flat.c -o flat.o &&
"$LD64" -arch arm64 -dylib -platform_version macos 11.0 13.0 -undefined dynamic_lookup \
    -o self/flat.dylib flat.o "$sdk" &&
"$LD64" -arch arm64 -dylib -platform_version macos 11.0 13.0 -o self/extra.dylib good.o \
    self/flat.dylib "$sdk" || fail "the small dylibs did not build"
dylib_checks self/good.dylib ARM64 "malloc free malloc_size" _perf_probe > right.txt
eq "the checks pass on a right dylib" "$(grep -c '^ok' right.txt) $(grep -c '^FAIL' right.txt)" "5 0"
dylib_checks self/good.dylib X86_64 "malloc free malloc_size calloc" "$(printf '_perf_probe\n_perf_probe_ex')" > wrong.txt
eq "the checks fail on the wrong CPU, a function not interposed, a missing export" \
   "$(grep '^FAIL' wrong.txt | sed -E 's/^FAIL - [^:]*: //; s/: got .*//' | tr '\n' '|')" \
   "a 64-bit Mach-O dylib of the architecture|__interpose binds all 4 functions to their library|exports exactly the public API|"
dylib_checks self/flat.dylib ARM64 "" _perf_probe > flat.txt
eq "the checks fail on a symbol left to dynamic lookup" \
   "$(grep '^FAIL' flat.txt | sed -E 's/^FAIL - [^:]*: //; s/: got .*//' | tr '\n' '|')" \
   "every bound symbol binds to libSystem, or is a named function of its library|every undefined symbol binds to libSystem or a named function's library, none to dynamic lookup|"
pair_checks self/good.dylib "malloc free malloc_size" > pairs.txt
eq "the entry checks pass on a right dylib" "$(grep -c '^ok' pairs.txt) $(grep -c '^FAIL' pairs.txt)" "2 0"
pair_checks self/swapped.dylib "malloc free malloc_size" > pairs.txt
eq "the entry checks fail on two replacees swapped" \
   "$(grep '^FAIL' pairs.txt | sed -E 's/^FAIL - [^:]*: //; s/ \(.*//; s/: got .*//')" \
   "__interpose holds exactly {pp_hook_NAME, NAME} for the 3 functions"
pair_checks self/extra.dylib "malloc free malloc_size" > pairs.txt
eq "the entry checks fail on a dylib that loads another library too" \
   "$(grep '^FAIL' pairs.txt | sed -E 's/^FAIL - [^:]*: //; s/: got .*//')" \
   "loads exactly /usr/lib/libSystem.B.dylib"

# ---- C++ operator new and delete ---------------------------------------------
# Their names, as Zig's clang mangles them for macOS: a C++ file that calls
# each of the twenty (plain, array, nothrow, sized, aligned) compiled for
# both architectures; its undefined __Zn* and __Zd* symbols are the names.
# The dylib binds each to libc++abi (hooks/cxx.c, through the link stub
# shim/sys/macos/libc++abi.tbd, whose names must be exactly these).
cat > ops.cc <<'CC'
#include <cstddef>
#include <new>
void *keep[8];
void all(std::size_t n, std::align_val_t al)
{
    keep[0] = ::operator new(n);
    keep[1] = ::operator new[](n);
    keep[2] = ::operator new(n, std::nothrow);
    keep[3] = ::operator new[](n, std::nothrow);
    keep[4] = ::operator new(n, al);
    keep[5] = ::operator new[](n, al);
    keep[6] = ::operator new(n, al, std::nothrow);
    keep[7] = ::operator new[](n, al, std::nothrow);
    ::operator delete(keep[0]);
    ::operator delete[](keep[1]);
    ::operator delete(keep[0], n);
    ::operator delete[](keep[1], n);
    ::operator delete(keep[2], std::nothrow);
    ::operator delete[](keep[3], std::nothrow);
    ::operator delete(keep[4], al);
    ::operator delete[](keep[5], al);
    ::operator delete(keep[4], n, al);
    ::operator delete[](keep[5], n, al);
    ::operator delete(keep[6], al, std::nothrow);
    ::operator delete[](keep[7], al, std::nothrow);
}
CC
for t in aarch64 x86_64; do
    "$ZIG" c++ -target $t-macos.11.0 -std=c++17 -fsized-deallocation -c ops.cc -o ops-$t.o 2> ops.err ||
        fail "ops.cc ($t): $(head -3 ops.err)"
    llvm-nm -u ops-$t.o | awk '$NF ~ /^__Z[nd]/ { print substr($NF, 2) }' | sort > ops-$t.txt
done
CXX_OPS=$(cat ops-aarch64.txt)
eq "C++: the compiler calls twenty operators new and delete" "$(wc -w <<< "$CXX_OPS")" 20
eq "C++: the same names on arm64 and x86_64" "$(cmp -s ops-aarch64.txt ops-x86_64.txt && echo same)" same
eq "C++: the libc++abi link stub names exactly those" \
   "$(sed -n '/symbols:/,/]/p' "$PP_ROOT/shim/sys/macos/libc++abi.tbd" | tr -d '[],' |
      tr ' ' '\n' | grep '^__Z' | sed 's/^_//' | sort | tr '\n' ' ')" "$(tr '\n' ' ' <<< "$CXX_OPS")"
eq "C++: hooks/cxx.c defines a hook for each" \
   "$(for op in $CXX_OPS; do grep -qE "(NEW|DELETE)_HOOK\\($op," "$PP_ROOT/shim/hooks/cxx.c" || echo "$op"; done)" ""
CXX_INTERPOSED=$(sed 's/^/libc++abi:/' <<< "$CXX_OPS" | tr '\n' ' ')
DYLIBS="/usr/lib/libSystem.B.dylib /usr/lib/libc++abi.dylib"

# The checks on small dylibs that interpose malloc and two operators: right
# (bound to libc++abi through the stub), one with operator new misspelled
# (the stub given the same spelling, so that it links), and one whose stub
# says libc++.1.dylib instead.  The checks must pass on the first, and fail
# on the other two and on a name the dylib does not interpose.
cat > cxxgood.c <<'C'
#include <stdlib.h>
struct ip { const void *repl, *orig; };
void *_Znwm(unsigned long n);
void _ZdlPv(void *p);
void *pp_hook__Znwm(unsigned long n) { return _Znwm(n); }
void pp_hook__ZdlPv(void *p) { _ZdlPv(p); }
void *pp_hook_malloc(size_t n) { return malloc(n); }
__attribute__((used, section("__DATA,__interpose"))) static const struct ip table[] = {
    { (const void *)pp_hook__Znwm, (const void *)_Znwm },
    { (const void *)pp_hook__ZdlPv, (const void *)_ZdlPv },
    { (const void *)pp_hook_malloc, (const void *)malloc },
};
__attribute__((visibility("default"))) int perf_probe(const char *s) { return s != 0; }
C
sed 's/_Znwm/_Znwn/g' cxxgood.c > cxxbad.c
stub=$PP_ROOT/shim/sys/macos/libc++abi.tbd
sed 's/__Znwm,/__Znwm, __Znwn,/' "$stub" > misspelled.tbd
sed "s,'/usr/lib/libc++abi.dylib','/usr/lib/libc++.1.dylib'," "$stub" > libcxx.tbd
"$ZIG" cc -target aarch64-macos.11.0 -O2 -fvisibility=hidden -c cxxgood.c -o cxxgood.o &&
"$LD64" -arch arm64 -dylib -platform_version macos 11.0 13.0 -o self/cxxgood.dylib cxxgood.o "$sdk" "$stub" &&
"$ZIG" cc -target aarch64-macos.11.0 -O2 -fvisibility=hidden -c cxxbad.c -o cxxbad.o &&
"$LD64" -arch arm64 -dylib -platform_version macos 11.0 13.0 -o self/cxxbad.dylib cxxbad.o \
    "$sdk" misspelled.tbd &&
"$LD64" -arch arm64 -dylib -platform_version macos 11.0 13.0 -o self/cxxlib.dylib cxxgood.o \
    "$sdk" libcxx.tbd || fail "the small C++ dylibs did not build"
two="malloc libc++abi:_Znwm libc++abi:_ZdlPv"
{ dylib_checks self/cxxgood.dylib ARM64 "$two" _perf_probe; pair_checks self/cxxgood.dylib "$two" "$DYLIBS"; } > right.txt
eq "C++: the checks pass on a right dylib" "$(grep -c '^ok' right.txt) $(grep -c '^FAIL' right.txt)" "7 0"
for d in cxxbad cxxlib; do
    { dylib_checks self/$d.dylib ARM64 "$two" _perf_probe; pair_checks self/$d.dylib "$two" "$DYLIBS"; } > $d.txt
done
eq "C++: the checks fail on operator new misspelled" \
   "$(grep '^FAIL' cxxbad.txt | sed -E 's/^FAIL - [^:]*: //; s/: got .*//' | tr '\n' '|')" \
   "__interpose binds all 3 functions to their library|every bound symbol binds to libSystem, or is a named function of its library|every undefined symbol binds to libSystem or a named function's library, none to dynamic lookup|__interpose holds exactly {pp_hook_NAME, NAME} for the 3 functions|"
eq "C++: the checks fail on operators bound to libc++.1.dylib" \
   "$(grep '^FAIL' cxxlib.txt | sed -E 's/^FAIL - [^:]*: //; s/: got .*//' | tr '\n' '|')" \
   "__interpose binds all 3 functions to their library|every bound symbol binds to libSystem, or is a named function of its library|every undefined symbol binds to libSystem or a named function's library, none to dynamic lookup|__interpose holds exactly {pp_hook_NAME, NAME} for the 3 functions|loads exactly $DYLIBS|"
pair_checks self/cxxgood.dylib "$two libc++abi:_Znam" "$DYLIBS" > pairs.txt
eq "C++: the entry checks fail on an operator not interposed" \
   "$(grep '^FAIL' pairs.txt | sed -E 's/^FAIL - [^:]*: //; s/ \(.*//; s/: got .*//')" \
   "__interpose holds exactly {pp_hook_NAME, NAME} for the 4 functions"

# ---- the dylibs ------------------------------------------------------------
if ! mk -j2 macos > dylib.out 2>&1; then
    miss=$(grep -o 'undefined symbol: [^ ]*' dylib.out | sort -u | head -5 | sed 's/undefined symbol: //' | tr '\n' ' ')
    fail "make macos: ${miss:+undefined: $miss}$(grep -m1 -o "[a-z/]*\.c:[0-9]*:[0-9]*: [a-z ]*error: .*" dylib.out)"
    exit 0
fi
public=$(nm -D --defined-only "$PP_BUILD/libperfprobe.so" | awk '$3 ~ /^perf_/ { print "_" $3 }')
eq "the public API of the Linux library" "$(echo $public)" \
   "_perf_counter _perf_probe _perf_probe_ex _perf_region_begin _perf_region_end"
for a in arm64 x86_64; do
    dylib_checks "$PP_BUILD/macos-$a/libperfprobe.dylib" "$([ $a = arm64 ] && echo ARM64 || echo X86_64)" \
                 "$INTERPOSED $CXX_INTERPOSED" "$public"
    pair_checks "$PP_BUILD/macos-$a/libperfprobe.dylib" "$INTERPOSED $CXX_INTERPOSED" "$DYLIBS"
    # a TLV's first access on a thread calls malloc: the ones left are
    # those no allocator hook touches (timeline.c's writing and holding,
    # region.c's my_rt; docs/macos.md)
    eq "macos-$a: the only __thread variables are the three no hook touches" \
       "$(llvm-nm -m "$PP_BUILD/macos-$a/libperfprobe.dylib" |
          awk '$2 == "(__DATA,__thread_vars)" { print $NF }' | sort | tr '\n' ' ')" \
       "_holding _my_rt _writing "
    # Unwinding: a throwing operator new unwinds through its hook, whose
    # cleanup puts the re-entrancy flag back.  ld64.lld 14 copies arm64's
    # __eh_frame without relocating its FDEs' addresses (they keep the
    # object file's values), so no function may be left to DWARF unwind
    # info: each has a compact entry (mk/macos.mk builds with frame
    # pointers, which arm64's compact encoding needs, as Apple's ABI does),
    # and the eight operator new hooks have an LSDA, with libSystem's
    # ___gcc_personality_v0 as the personality.
    f=$PP_BUILD/macos-$a/libperfprobe.dylib
    llvm-objdump --macho --unwind-info "$f" > unwind-$a.txt
    dwarf=$([ $a = arm64 ] && echo 3 || echo 4)     # the mode: bits 24-27
    eq "macos-$a: every function unwinds by a compact entry, none by DWARF" \
       "$(grep -o 'encoding\[[0-9]*\]=0x[0-9a-f]*' unwind-$a.txt | sed 's/.*=0x//' |
          awk -v d=$dwarf 'length($1) == 8 && substr($1, 2, 1) == d' | sort -u | tr '\n' ' ')/$(grep -c 'encoding\[[0-9]*\]=0x' unwind-$a.txt | awk '{ print ($1 > 50) }')" "/1"
    lsda=$(sed -n '/LSDA descriptors/,/Second level/p' unwind-$a.txt | grep -o 'function offset=0x[0-9a-f]*' |
           sed 's/.*=0x//' | while read -r o; do
               llvm-nm "$f" | awk -v o="$(printf %016x $((16#$o)))" '$1 == o { print $3 }'; done | sort | tr '\n' ' ')
    eq "macos-$a: the eight operator new hooks have an LSDA (their cleanup)" "$lsda" \
       "$(grep '^_Zn' <<< "$CXX_OPS" | sed 's/^/_pp_hook_/' | sort | tr '\n' ' ')"
    pers=$(grep -A1 'Personality functions:' unwind-$a.txt | awk 'NR == 2 { print $2 }')
    eq "macos-$a: the personality is libSystem's ___gcc_personality_v0" \
       "$(llvm-objdump --macho --bind "$f" | awk -v p="$pers" '$3 == p { print $(NF-1), $NF }')" \
       "libSystem ___gcc_personality_v0"
done

# ---- CPU samples on macOS: what runs while a thread is suspended -------------
# sys/macos/perf.c suspends a thread to walk its stack; while it is
# suspended nothing may allocate or take a lock (the thread may hold the
# allocator's).  Read from the machine code: the calls in pp_perf_next from
# its first thread_suspend to its last thread_resume (in address order, as
# the compiler laid them out) are Mach calls and the walk; the walk calls
# only its reader (one indirect call), and the reader only the kernel (or
# memcpy).  Not run: that needs a Mac.
calls() {   # calls FUNCTION DISASSEMBLY: the functions it calls, in address order
    awk -v f="_$1:" '$0 == f { on = 1; next }
        on && /^_[^ ]*:$/ { exit }
        on && $2 ~ /^(bl|blr|b|callq|call|jmp|jmpq)$/ {
            if ($0 ~ /symbol stub for: /) { sub(/.*symbol stub for: _/, ""); print }
            else if ($3 ~ /^_/) print substr($3, 2)
            else if ($2 == "blr" || $3 ~ /^\*/) print "(indirect)"
        }' "$2"
}
for a in arm64 x86_64; do
    llvm-objdump --macho -d --no-show-raw-insn "$PP_BUILD/macos-$a/libperfprobe.dylib" > dis-$a.txt
    calls pp_perf_next dis-$a.txt > next-$a.txt
    eq "macos-$a: pp_perf_next suspends and resumes a thread" \
       "$(grep -cx thread_suspend next-$a.txt) $(grep -cx thread_resume next-$a.txt | awk '{ print ($1 > 0) }')" "1 1"
    eq "macos-$a: while a thread is suspended: Mach calls and the walk only" \
       "$(awk '$0 == "thread_suspend" { on = 1; next } on' next-$a.txt | tac |
          awk '$0 == "thread_resume" && !seen { seen = 1; next } seen' | tac | sort -u | tr '\n' ' ')" \
       "mach_vm_read_overwrite mach_vm_region pp_fp_walk thread_get_state thread_resume "
    eq "macos-$a: the walk calls only its reader" "$(calls pp_fp_walk dis-$a.txt | sort -u | tr '\n' ' ')" "(indirect) "
    eq "macos-$a: the reader calls only the kernel" \
       "$(calls read_record dis-$a.txt | grep -vx memcpy | sort -u | tr '\n' ' ')" "mach_vm_read_overwrite "
done
