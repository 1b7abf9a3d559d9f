#!/usr/bin/env bash
# run.sh - runs every test: the unit tests (built with ASan and UBSan) and the
# numbered shell scripts t*.sh, each under a generous timeout so that a hang
# fails instead of stalling.  Each check prints "ok - ..." or "FAIL - ...";
# the last line is "N passed, N failed".
#
#   bash tests/run.sh [PATTERN]     only scripts whose name contains PATTERN
set -u
cd "$(dirname "$0")/.."
export PP_ROOT=$PWD
# B: the build directory (make test B=DIR passes it on)
export B=${B:-build}
export PP_BUILD=$PWD/$B
export S=$PP_BUILD/libperfprobe.so T=$PP_BUILD/tests
[ "$(uname -s)" = Darwin ] && S=$PP_BUILD/libperfprobe.dylib
# the hang guard: coreutils' timeout; a Mac has none unless Homebrew's
# coreutils is there (gtimeout), else perl's alarm stands in (a timed-out
# script then ends with status 142, SIGALRM, instead of 124)
if ! command -v timeout >/dev/null; then
    if command -v gtimeout >/dev/null; then
        timeout() { gtimeout "$@"; }
    else
        timeout() { local s=$1; shift; perl -e 'alarm shift; exec @ARGV or exit 127' "$s" "$@"; }
    fi
fi
export TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/perfprobe-test.XXXXXX")
trap 'rm -rf "$TMPROOT"' EXIT
# settings from the caller's environment must not change what tests see
for v in $(env | sed -n 's/^\(PERFPROBE_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
unset LD_PRELOAD

pattern=${1:-}
passed=0 failed=0
tally() {   # name, output file, exit status
    local p f
    p=$(grep -c '^ok - ' "$2")
    f=$(grep -c '^FAIL - ' "$2")
    if [ "$3" != 0 ] && [ "$f" = 0 ]; then
        echo "FAIL - $1 exited with status $3"
        f=1
    fi
    if [ "$p" = 0 ] && [ "$f" = 0 ]; then
        echo "FAIL - $1 checked nothing"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

for u in "$B"/unit/test_*; do
    [ -x "$u" ] || continue
    [ -n "$pattern" ] && [[ "$u" != *"$pattern"* ]] && continue
    echo "# $u"
    out=$TMPROOT/$(basename "$u").out
    timeout 300 "$u" >"$out" 2>&1
    rc=$?
    grep -E '^(ok|FAIL) - |ERROR|runtime error' "$out"
    tally "$u" "$out" $rc
done

for t in tests/t[0-9]*.sh; do
    [ -n "$pattern" ] && [[ "$t" != *"$pattern"* ]] && continue
    echo "# $t"
    began=$SECONDS
    out=$TMPROOT/$(basename "$t").out
    work=$TMPROOT/$(basename "$t" .sh)
    mkdir -p "$work"
    # a hang guard, not a speed limit: 600 s, or what the script's own
    # "# timeout: SECONDS" line says (one that runs many programs)
    limit=$(sed -n 's/^# timeout: \([0-9][0-9]*\)$/\1/p' "$t" | head -1)
    (cd "$work" && timeout "${limit:-600}" bash "$PP_ROOT/$t") >"$out" 2>&1
    rc=$?
    { [ $rc = 124 ] || [ $rc = 142 ]; } && echo "FAIL - $t timed out" >>"$out"
    grep -E '^(ok|FAIL) - |^#' "$out"
    tally "$t" "$out" $rc
    echo "# $t: $((SECONDS - began)) s"
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
