#!/usr/bin/env bash
# t1030 - the macOS shim's Mach-O reading (shim/sys/macos/macho.c: a symbol
# from an image's LC_SYMTAB for the Python frames, its writable segments
# for the leak check), run here on Linux (tests/unit/test_macho.c) over
# real dylibs built for macOS: a small one built here with Zig and
# ld64.lld for arm64 and x86_64 (data, zero-fill, constant pointers,
# functions, local and hidden symbols), and libperfprobe.dylib itself
# (make macos).  Each is laid out in memory at its segments' addresses plus
# a slide.  The truth: llvm-nm (every defined external symbol at its
# address; every local or hidden one not found), the arrays' declared
# sizes, the functions' sizes from llvm-objdump --macho --function-starts
# (exact; also with the local symbols stripped, llvm-strip -x, where only
# the linker's list of function starts ends a function before a local
# one), and llvm-objdump --macho --private-headers (the segments mapped
# writable, but __DATA_CONST and any marked read-only after fixups).  The
# checks are shown to fail: a name that is not there, asked to be found,
# and a segment left out of the expected list.
# Nothing here runs on a Mac: dyld's own layout (the shared cache, a real
# slide) is for a Mac to see.
. "$PP_ROOT/tests/lib.sh"

macos_tools
command -v llvm-nm >/dev/null || why="${why:+$why; }no llvm-nm (apt-get install llvm)"
if [ -n "$why" ]; then
    if [ "${CI:-}" = true ]; then fail "macOS build tools missing under CI: $why"; exit 0; fi
    ok "skipped: $why"
    exit 0
fi
U=$PP_BUILD/unit/test_macho
[ -x "$U" ] || { fail "no $U (make)"; exit 0; }
sdk=$(dirname "$ZIG")/lib/libc/darwin/libSystem.13.tbd

cat > sym.c <<'EOF'
int pp_t_counter = 3;                                   /* __DATA,__data */
char pp_t_zeros[5000];                                  /* zero-fill */
char pp_t_arr1[100] = {1};
char pp_t_arr2[300] = {2};
static char pp_t_hidden_buf[64];                        /* a local symbol */
__attribute__((visibility("hidden"))) int pp_t_private = 7;
const char *const pp_t_table[2] = {"a", "b"};           /* __DATA_CONST */
static __attribute__((noinline)) int pp_t_local(int x)
{
    return x * 3 + pp_t_hidden_buf[x & 63];
}
int pp_t_add(int a, int b)
{
    pp_t_hidden_buf[a & 63] = (char)b;
    return a + b + pp_t_private;
}
int pp_t_twice(int x)
{
    return pp_t_local(x) * 2 + pp_t_arr1[x & 63] + pp_t_arr2[x & 255] + pp_t_zeros[x & 4095];
}
EOF

# expect FILE: the expectations test_macho reads, from LLVM's tools
expect() {
    local f=$1
    # defined external symbols: found at llvm-nm's address (C names)
    llvm-nm --extern-only --defined-only "$f" | awk '$3 ~ /^_/ { print "sym", substr($3, 2), $1 }'
    # defined symbols that are not external (local, hidden): not found,
    # unless an external one has the same name
    llvm-nm --defined-only "$f" | awk '$2 ~ /^[a-z]$/ && $3 ~ /^_/ { print substr($3, 2) }' |
        sort -u | comm -23 - <(llvm-nm --extern-only --defined-only "$f" | awk '{ print substr($3, 2) }' | sort -u) |
        sed 's/^/nosym /'
    echo "nosym pp_t_nowhere"
    # segments: writable at first (initprot), not dyld's alone
    local name va vs prot flags n=0
    while read -r name va vs prot flags; do
        case $flags in *READ_ONLY*) continue ;; 0x*) (( flags & 16 )) && continue ;; esac
        [[ $prot == *w* ]] && [ "$name" != __DATA_CONST ] && [ "$name" != __AUTH_CONST ] &&
            (( vs > 0 )) || continue
        printf 'seg %x %x\n' $((va)) $((va + vs))
        n=$((n + 1))
    done < <(llvm-objdump --macho --private-headers "$f" | awk '
        $1 == "cmd" { seg = ($2 == "LC_SEGMENT_64") }
        seg && $1 == "segname" { name = $2 }
        seg && $1 == "vmaddr" { va = $2 }
        seg && $1 == "vmsize" { vs = $2 }
        seg && $1 == "initprot" { prot = $2 }
        seg && $1 == "flags" { print name, va, vs, prot, $2; seg = 0 }')
    echo "segs $n"
}

# fsizes FILE: each exported function's size, exactly the distance to the
# next function start llvm-objdump lists (the last one's is not asked)
fsizes() {
    local f=$1 a t n i d starts
    mapfile -t starts < <(llvm-objdump --macho --function-starts "$f" | grep -E '^[0-9a-f]+$')
    llvm-nm --extern-only --defined-only "$f" | while read -r a t n; do
        [ "$t" = T ] || continue
        for ((i = 0; i + 1 < ${#starts[@]}; i++)); do
            if (( 0x${starts[i]} == 0x$a )); then
                d=$((0x${starts[i + 1]} - 0x$a))
                echo "size ${n#_} $d $((d + 1))"
            fi
        done
    done
}

for a in arm64 x86_64; do
    t=$([ $a = arm64 ] && echo aarch64 || echo x86_64)
    if ! { "$ZIG" cc -target $t-macos.11.0 -O1 -fPIC -c sym.c -o sym-$a.o &&
           "$LD64" -arch $a -dylib -platform_version macos 11.0 13.0 -o sym-$a.dylib sym-$a.o "$sdk"; } >build-$a.out 2>&1; then
        fail "$a: building the test dylib: $(tail -3 build-$a.out)"
        continue
    fi
    expect sym-$a.dylib > sym-$a.expect
    # the sizes: at least the declared bytes, less than 16 more (alignment)
    printf 'size pp_t_arr1 100 116\nsize pp_t_arr2 300 316\nsize pp_t_zeros 5000 5016\nsize pp_t_counter 4 20\n' >> sym-$a.expect
    fsizes sym-$a.dylib >> sym-$a.expect
    check "$a: ... and the sizes of two functions ($(grep -c '^size pp_t_[at][dw]' sym-$a.expect))" \
        test "$(grep -c '^size pp_t_[at][dw]' sym-$a.expect)" = 2
    eq "$a: the test dylib's expectations name its exports" \
        "$(awk '$1 == "sym" { print $2 }' sym-$a.expect | sort | tr '\n' ' ')" \
        "pp_t_add pp_t_arr1 pp_t_arr2 pp_t_counter pp_t_table pp_t_twice pp_t_zeros "
    eq "$a: ... and its local and hidden symbols" \
        "$(awk '$1 == "nosym" { print $2 }' sym-$a.expect | sort | tr '\n' ' ')" \
        "pp_t_hidden_buf pp_t_local pp_t_nowhere pp_t_private "
    check "$a: ... and __DATA as writable ($(grep -c '^seg ' sym-$a.expect) segments)" \
        grep -q '^segs [1-9]' sym-$a.expect
    "$U" sym-$a.dylib sym-$a.expect > unit-$a.out 2>&1
    rc=$?
    grep -E '^(ok|FAIL) - ' unit-$a.out
    eq "$a: test_macho on the test dylib exits 0" "$rc" 0

    # its local symbols stripped (llvm-strip -x): the functions' sizes
    # still end at the next function (LC_FUNCTION_STARTS), _pp_t_twice's
    # at the local function after it
    if llvm-strip -x sym-$a.dylib -o symx-$a.dylib 2>strip.out; then
        { expect symx-$a.dylib; fsizes symx-$a.dylib; } > symx-$a.expect
        check "$a: stripped: no local symbol left, two sizes asked" \
            test "$(grep -c '^nosym' symx-$a.expect)-$(grep -c '^size' symx-$a.expect)" = 1-2
        "$U" symx-$a.dylib symx-$a.expect > unitx-$a.out 2>&1
        rc=$?
        grep -E '^(ok|FAIL) - .*(size|FAIL)' unitx-$a.out
        eq "$a: test_macho on the stripped dylib: failures" "$(grep -c '^FAIL' unitx-$a.out)-$rc" 0-0
    else
        fail "$a: llvm-strip -x: $(head -2 strip.out)"
    fi

    # the same reader, made to fail: a name asked for that is not there,
    # and a writable segment left out of the list
    { grep -v '^segs ' sym-$a.expect; echo "sym pp_t_nowhere 1000"; } > bad1.expect
    "$U" sym-$a.dylib bad1.expect > bad1.out 2>&1
    rc=$?
    check "$a: a missing name asked for fails ($(grep -c '^FAIL' bad1.out) failure, status $rc)" \
        grep -q '^FAIL - .*pp_t_nowhere at 0x1000' bad1.out
    { grep -v '^seg' sym-$a.expect; echo "segs 0"; } > bad2.expect
    "$U" sym-$a.dylib bad2.expect > bad2.out 2>&1
    check "$a: a writable segment left out of the list fails" grep -q '^FAIL - .*writable segments' bad2.out

    # the shim's own dylib: its five exports, its hidden functions not
    d=$PP_BUILD/macos-$a/libperfprobe.dylib
    if [ ! -f "$d" ]; then
        make -s -C "$PP_ROOT" B="$B" ZIG="$ZIG" ZIG_DIR="$ZIG_DIR" macos >make.out 2>&1 ||
            fail "make macos: $(tail -3 make.out)"
    fi
    { expect "$d"; fsizes "$d"; } > shim-$a.expect
    eq "$a: libperfprobe.dylib's exports" \
        "$(awk '$1 == "sym" { print $2 }' shim-$a.expect | sort | tr '\n' ' ')" \
        "perf_counter perf_probe perf_probe_ex perf_region_begin perf_region_end "
    check "$a: ... and hundreds of its local symbols ($(grep -c '^nosym' shim-$a.expect))" \
        test "$(grep -c '^nosym' shim-$a.expect)" -gt 200
    # every check of the shim's own lines: the local ones too
    "$U" "$d" shim-$a.expect > shim-$a.out 2>&1
    rc=$?
    eq "$a: test_macho on libperfprobe.dylib: $(grep -c '^ok' shim-$a.out) checks pass, failures" \
        "$(grep -c '^FAIL' shim-$a.out)" 0
    grep '^FAIL' shim-$a.out | head -5
    eq "$a: ... exit status" "$rc" 0
done
