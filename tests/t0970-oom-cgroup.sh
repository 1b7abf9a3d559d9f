# The kernel's OOM killer, for real: a child memory cgroup (v2 where the
# machine's v2 hierarchy has the memory controller, else v1's memory
# hierarchy), limited to 64 MiB with no swap, runs `perfprobe run` of
# tests/progs/grow_cache (a cache growing by 64 KiB every 100 us, each
# block touched) until the kernel kills it.  Checked against the kernel's
# own count of OOM kills in that cgroup (memory.events in v2,
# memory.oom_control in v1), the limit the test set and the bytes the
# program logged it had allocated: the program ends by SIGKILL, `run`
# survives and its last line names the OOM killer and the right file, the
# timeline holds a `dump` view labelled `cgroup_limit` written at 90-100%
# of the limit, and report --sites shows the killed run's view naming
# grow_cache with the bytes it had allocated.  Three ways in: the cgroup
# seen plainly; from inside a cgroup namespace with the hierarchy mounted
# there (its path and the mount's root are both "/"); and through a bind
# mount of the cgroup's directory with the whole hierarchy unmounted (the
# path in /proc/self/cgroup is found under the mount's root field).
# Then the limit on a parent only: the program in an unlimited child
# cgroup (v2: a child without the memory controller, charged to the
# parent), plainly (the parent in sight) and from inside a namespace rooted
# at the child with the hierarchy mounted read-only there (the parent out
# of sight: v1's memory.stat says its limit);
# the kernel's count of the kill is the child's (v1: oom_control counts
# kills in that cgroup only; v2's memory.events of the nearest cgroup with
# the controller on).
. "$PP_ROOT/tests/lib.sh"
P=$PP_BUILD/perfprobe
LIMIT=$((64 * 1024 * 1024))

# the bytes the program had allocated when it was killed: the last of its log
final_total() { od -An -v -t u8 -j 8 "$1" | tr -s ' ' '\n' | awk '$1 > m { m = $1 } END { print m }'; }
# the bytes it had allocated MS milliseconds after it started (word 1 + MS)
total_at() { od -An -v -t u8 -j $((8 + 8 * $2)) -N 8 "$1" | tr -d ' '; }
# the records of a timeline, as readers take them: a line cut short by the
# kill is skipped (docs/format.md: a write that needs a new page of the
# page cache is charged to the cgroup, and the OOM kill can come inside it)
records() { jq -c -R 'fromjson? // empty' "$1"; }
# FILE ends with a signal record, and every other line is JSON but the one
# before it, which the kill may have cut short
only_last_cut() {
    jq -e -R -s 'split("\n") | map(select(length > 0))
        | ([to_entries[] | select(((.value | fromjson? | 1) // 0) != 1) | .key] as $bad
           | $bad == [] or $bad == [length - 2]) and (last | fromjson | .type == "signal")' "$1" > /dev/null
}

cg=
memory_cgroup
if [ -z "$why" ] && ! mkdir "$root/pp-t0970-$$" 2>/dev/null; then
    why="cannot make a cgroup in $root (read-only?)"
fi
if [ -n "$why" ]; then
    fail "the kernel's OOM killer under a cgroup memory limit: $why"
    exit 0
fi
cg=$root/pp-t0970-$$

# kill whatever is left in the cgroup (only after a hang or a failure) and remove it
kill_left() {
    local p
    for p in $(cat "$cg/kid/cgroup.procs" "$cg/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
}
cleanup() {
    kill_left
    local i=0 d
    for d in "$cg/kid" "$cg"; do
        while [ $i -lt 50 ] && [ -d "$d" ] && ! rmdir "$d" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
    done
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP        # (then the EXIT trap runs)

if [ $ver = 1 ]; then
    echo $LIMIT > "$cg/memory.limit_in_bytes"
    [ -f "$cg/memory.memsw.limit_in_bytes" ] && echo $LIMIT > "$cg/memory.memsw.limit_in_bytes"
    echo 0 > "$cg/memory.swappiness"
    events=memory.oom_control
else
    echo $LIMIT > "$cg/memory.max"
    echo 0 > "$cg/memory.swap.max" 2>/dev/null
    events=memory.events
fi
eq "cgroup v$ver at $cg: the limit set" \
    "$(cat "$cg/$([ $ver = 1 ] && echo memory.limit_in_bytes || echo memory.max)")" $LIMIT
# the kernel's count of OOM kills for the cgroup DIR (default: the limited
# one): its file, or in v2 its parent's when the controller is off in it
oom_count() {
    local d=${1:-$cg}
    [ -f "$d/$events" ] || d=$cg
    awk '$1 == "oom_kill" { print $2 }' "$d/$events"
}
[ -n "$(oom_count)" ] || fail "$cg/$events has no oom_kill line (a kernel before 4.13?)"

# the hierarchy's mount, from inside a namespace
if [ $ver = 1 ]; then mount_cg="mount -t cgroup -o memory cgroup"; else mount_cg="mount -t cgroup2 cgroup2"; fi
# the same read-only, and the run stops (status 98) unless it is
if [ $ver = 1 ]; then mount_ro="mount -t cgroup -o ro,memory cgroup"; else mount_ro="mount -t cgroup2 -o ro cgroup2"; fi
is_ro='awk -v m="$0" '"'"'$5 == m && $6 ~ /^ro(,|$)/ { f = 1 } END { exit !f }'"'"' /proc/self/mountinfo || exit 98' 

# oom NAME WAY [DIR]: run grow_cache under `run` in the cgroup DIR (the
# limited one, or a child of it) until it is killed
oom() {
    local n=$1 way=$2 in=${3:-$cg} runpid i before after st
    rm -f "$n.log"
    before=$(oom_count "$in")
    # only `run` and the program are in the cgroup; grow_cache stops at 4
    # times the limit (if the limit did not hold, it sleeps there).  With
    # --stacks all the live bytes are exact: what is left is the peak view's
    # rate limit (a view per 1/32 of growth) and the clocks' offset.
    set -- "$P" run -q -i 2 --stacks all -o "$n.jsonl" -- \
        "$T/grow_cache" "$n.log" $((4 * LIMIT))
    case $way in
    plain) ;;
    ns)    mkdir -p mnt
           set -- unshare -C -m sh -c "$mount_cg \"\$0\" && exec \"\$@\"" "$PWD/mnt" "$@" ;;
    nsro)  mkdir -p mnt
           set -- unshare -C -m sh -c "$mount_ro \"\$0\" && $is_ro && exec \"\$@\"" "$PWD/mnt" "$@" ;;
    bind)  mkdir -p bnd
           set -- unshare -m sh -c "mount --bind \"$in\" \"\$0\" && umount -l \"$root\" && exec \"\$@\"" \
               "$PWD/bnd" "$@" ;;
    esac
    sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$in" "$@" 2> "$n.err" &
    runpid=$!
    i=0                     # a hang guard only: the kill comes within a second or two
    while kill -0 $runpid 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
    [ $i -lt 1200 ] || { fail "$n: still running after 120 s"; kill_left; }
    wait $runpid
    st=$?
    after=$(oom_count "$in")
    eq "$n: run exits as the program died (SIGKILL)" $st 137
    eq "$n: the kernel counted one OOM kill in the cgroup ($events)" "$before -> $after" \
        "$before -> $((before + 1))"
    eq "$n: run's last line names the OOM killer, $events and the kernel's count" \
        "$(tail -n 1 "$n.err" | sed -n 's/.*: the kernel.s OOM killer (oom_kill in its cgroup.s \([a-z._]*\) went from \([0-9]*\) to \([0-9]*\))$/\1 \2 \3/p')" \
        "$events $before $after"
    eq "$n: the file's signal record (the program's status)" \
        "$(records "$n.jsonl" | jq -r 'select(.type == "signal") | .signal')" 9
    # a damaged line only where the kill came: the last before the signal record
    local cut
    cut=$(($(wc -l < "$n.jsonl") - $(records "$n.jsonl" | wc -l)))
    check "$n: every line is JSON but the last before the signal record, if the kill cut it ($cut cut)" \
        only_last_cut "$n.jsonl"
    local dump t_s usage limit ms
    dump=$(records "$n.jsonl" | jq -s -c '[.[] | select(.type == "sites" and .at == "dump" and .label == "cgroup_limit")] | first')
    check "$n: a dump view labelled cgroup_limit" test -n "$dump" -a "$dump" != null
    t_s=$(echo "$dump" | jq .t_s)
    usage=$(echo "$dump" | jq .cgroup_bytes)
    limit=$(echo "$dump" | jq .cgroup_limit)
    eq "$n: the limit the view was written against is the one set" "$limit" $LIMIT
    bounded "$n: the first cgroup_limit view came at 90% of the limit, below it (usage $usage at ${t_s} s)" \
        "$usage" $((LIMIT / 100 * 90)) $((LIMIT - 1)) 0
    # the program's blocks were touched: by then the cgroup held what it
    # had allocated a few ms earlier (its clock starts after the shim's)
    ms=$(awk -v t="$t_s" 'BEGIN { m = int(t * 1000) - 5; print m < 0 ? 0 : m }')
    le "$n: the usage at the view holds what grow_cache had allocated ${ms} ms in" \
        "$(total_at "$n.log" "$ms")" "$usage"
    within "$n: grow_cache's live bytes in the view vs what it had allocated by then" \
        "$(echo "$dump" | jq '[.rows[].live_bytes] | max')" "$(total_at "$n.log" "$((ms + 5))")" 5
    "$P" report --json "$n.jsonl" > "$n.json"
    "$P" report --sites "$n.jsonl" > "$n.txt"
    check "$n: report --sites shows the killed run's view" grep -q "a killed run" "$n.txt"
    check "$n: report --sites names grow_cache's allocation" grep -q "grow_cache (grow_cache.c" "$n.txt"
    eq "$n: the largest site at the peak is grow_cache" \
        "$(jq -r '.sites | max_by(.peak_bytes) | .frames[0].fn' "$n.json")" grow_cache
    within "$n: grow_cache live at the peak vs what it had allocated when killed" \
        "$(jq '.sites | max_by(.peak_bytes) | .peak_bytes' "$n.json")" "$(final_total "$n.log")" 5
    le "$n: what grow_cache had allocated when killed is within the limit" \
        "$(final_total "$n.log")" $LIMIT
}

oom plain plain
oom plain2 plain
oom ns ns
oom bind bind

# ---- the limit on a parent only: the program in an unlimited child ------------
mkdir "$cg/kid"
if [ $ver = 1 ]; then
    eq "parent only: the child has no limit of its own (the root's none)" \
        "$(cat "$cg/kid/memory.limit_in_bytes")" "$(cat "$root/memory.limit_in_bytes")"
    eq "parent only: the child's memory.stat says the chain's limit is the parent's" \
        "$(awk '$1 == "hierarchical_memory_limit" { print $2 }' "$cg/kid/memory.stat")" $LIMIT
else
    check "parent only: the child has no memory controller (charged to the parent)" \
        test ! -e "$cg/kid/memory.max"
fi
pbefore=$(oom_count)
oom parent plain "$cg/kid"
if [ $ver = 1 ]; then
    oom parent-ns nsro "$cg/kid"
else
    ok "parent only, from a namespace rooted at the child: skipped, v2 has no figure for a limit out of sight (docs/sites.md)"
fi
ok "parent only: the limited parent's own count went from $pbefore to $(oom_count) ($events)"
rmdir "$cg/kid"

# ---- a cgroup namespace without its own mount: the cgroup cannot be reached --
# (/proc/self/cgroup says "/", the hierarchy's mount has "/.." as its root):
# nothing is claimed, the kill is still counted by the kernel and named by
# its signal
rm -f bare.log
before=$(oom_count)
sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$cg" unshare -C \
    "$P" run -q -i 2 --stacks all -o bare.jsonl -- "$T/grow_cache" bare.log $((4 * LIMIT)) 2> bare.err &
runpid=$!
i=0
while kill -0 $runpid 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
[ $i -lt 1200 ] || { fail "bare: still running after 120 s"; kill_left; }
wait $runpid
eq "bare namespace: the kernel's kill, run's line names the signal only" \
    "$before -> $(oom_count): $(tail -n 1 bare.err | sed 's/.*was killed by/killed by/')" \
    "$before -> $((before + 1)): killed by signal 9 (SIGKILL)"
eq "bare namespace: no cgroup_limit view" \
    "$(records bare.jsonl | jq -s '[.[] | select(.type == "sites" and .at == "dump")] | length')" 0

# ---- no limit: the same cgroup with its limit taken off ----------------------
# (v1 writes "no limit" as a huge number, 0x7FFFFFFFFFFFF000 with 4 KiB
# pages, v2 as "max"): grow_cache grows to 80 MiB, past where the views
# came above, and is killed by the test.  No cgroup_limit view (a "none"
# taken for a limit of 0 would write one at every sample), and the peak
# views as anywhere.
if [ $ver = 1 ]; then
    [ -f "$cg/memory.memsw.limit_in_bytes" ] && echo -1 > "$cg/memory.memsw.limit_in_bytes"
    echo -1 > "$cg/memory.limit_in_bytes"
    nolimit=$(cat "$cg/memory.limit_in_bytes")
else
    echo max > "$cg/memory.max"
    nolimit=$(cat "$cg/memory.max")
fi
rm -f free.log
sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
    "$P" run -q -i 2 --stacks all -o free.jsonl -- "$T/grow_cache" free.log $((80 * 1024 * 1024)) 2> free.err &
runpid=$!
i=0
while [ $i -lt 1000 ] && [ "$(final_total free.log 2>/dev/null || echo 0)" != $((80 * 1024 * 1024)) ]; do
    sleep 0.02; i=$((i + 1))
done
sleep 0.1                                   # samples at the top
pid=$(od -An -t u8 -N8 free.log | tr -d ' ')
kill -KILL "$pid"
wait $runpid
eq "no limit ($nolimit): grow_cache reached 80 MiB and was killed by the test" \
    "$(final_total free.log) $(tail -n 1 free.err | sed 's/.*was killed by/killed by/')" \
    "$((80 * 1024 * 1024)) killed by signal 9 (SIGKILL)"
eq "no limit ($nolimit): no cgroup_limit view" \
    "$(records free.jsonl | jq -s '[.[] | select(.type == "sites" and .at == "dump")] | length')" 0
check "no limit: the peak views were written as usual" \
    sh -c "jq -c -R 'fromjson? // empty' free.jsonl | jq -e -s '[.[] | select(.type == \"sites\" and .at == \"peak\")] | length >= 3' > /dev/null"
