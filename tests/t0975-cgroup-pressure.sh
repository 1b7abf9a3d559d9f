# The cgroup's own pressure events, for real: a child memory cgroup (v2
# where the machine's v2 hierarchy has the memory controller, else v1's
# memory hierarchy) limited to 64 MiB with no swap runs `perfprobe run` of
# tests/progs/cg_reclaim, which holds 16 MiB of heap from hold_heap and
# then writes 192 MiB to a file on a disk file system (page cache, synced
# every 4 MiB): the kernel reclaims the cache at the limit again and
# again, and nothing is killed.  Checked against the kernel's own count of
# the cgroup meeting its limit, read by the test before and after (v1
# memory.failcnt, v2 memory.events "max"): it moved, and the timeline has
# a `dump` view labelled `cgroup_pressure` naming that count with a value
# within [before, after], written against the limit the test set with the
# usage near it; hold_heap's 16 MiB are live in it (report --json, named by
# the symbolised stack), report --sites shows it by its label, and the
# pressure views keep the rate bound (10 s apart: the run is shorter, one
# view).  v1 with a memory+swap limit equal to the memory one: whichever
# of memory.failcnt and memory.memsw.failcnt moved is named, and no view
# when neither did.  With the limit taken off: the count does not move, no
# pressure view.
. "$PP_ROOT/tests/lib.sh"
P=$PP_BUILD/perfprobe
LIMIT=$((64 * 1024 * 1024))
HELD=16                     # MiB of heap, from hold_heap
WRITE=192                   # MiB written, three times the limit

memory_cgroup
# the file written must be page cache the kernel can reclaim (tmpfs pages
# are shmem: with no swap they cannot go)
data=$PWD
case $(stat -f -c %T "$data") in tmpfs|ramfs) data=$PP_BUILD ;; esac
case $(stat -f -c %T "$data") in tmpfs|ramfs) why=${why:-"no disk file system to write page cache on ($PWD and $PP_BUILD are tmpfs)"} ;; esac
if [ -z "$why" ] && ! mkdir "$root/pp-t0975-$$" 2>/dev/null; then
    why="cannot make a cgroup in $root (read-only?)"
fi
if [ -n "$why" ]; then
    fail "the cgroup's pressure events under a memory limit: $why"
    exit 0
fi
cg=$root/pp-t0975-$$
big=$data/t0975-$$.dat

cleanup() {
    local p i=0
    for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    while [ $i -lt 50 ] && [ -d "$cg" ] && ! rmdir "$cg" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
    rm -f "$big"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

if [ $ver = 1 ]; then
    echo $LIMIT > "$cg/memory.limit_in_bytes"
    echo 0 > "$cg/memory.swappiness"
    counter=memory.failcnt
    count() { cat "$cg/${1:-memory.failcnt}"; }
    limit_file=memory.limit_in_bytes
else
    echo $LIMIT > "$cg/memory.max"
    echo 0 > "$cg/memory.swap.max" 2>/dev/null
    counter="memory.events max"
    count() { awk '$1 == "max" { print $2 }' "$cg/memory.events"; }
    limit_file=memory.max
fi
eq "cgroup v$ver at $cg: the limit set" "$(cat "$cg/$limit_file")" $LIMIT
[ -n "$(count)" ] || fail "$cg: no count to read ($counter)"

# the pressure views of a timeline (the kernel does not kill here: every
# line is whole)
pressure() { jq -c 'select(.type == "sites" and .at == "dump" and .label == "cgroup_pressure")' "$1"; }

# reclaim NAME: cg_reclaim under `run` in the cgroup; its status
reclaim() {
    local n=$1 i runpid
    sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
        "$P" run -q -i 2 --stacks all -o "$n.jsonl" -- \
        "$T/cg_reclaim" "$big" $WRITE $HELD 300 > "$n.out" 2> "$n.err" &
    runpid=$!
    i=0                     # a hang guard only: the writes take a second or two
    while kill -0 $runpid 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
    [ $i -lt 1200 ] || { fail "$n: still running after 120 s"; cleanup; }
    wait $runpid
    echo $?
    rm -f "$big"
}

# ---- under the limit: the kernel reclaims, the view comes ------------------
for n in lim1 lim2 lim3; do
    before=$(count)
    st=$(reclaim $n)
    after=$(count)
    eq "$n: cg_reclaim held its heap and wrote its file, exit 0 (not killed)" \
        "$st $(tr '\n' ' ' < $n.out)" "0 held $((HELD << 20)) wrote $((WRITE << 20)) "
    check "$n: the timeline is valid JSON" valid_jsonl "$n.jsonl"
    check "$n: the kernel met the limit while it ran ($counter $before -> $after)" test "$after" -gt "$before"
    view=$(pressure $n.jsonl | head -n 1)
    check "$n: a dump view labelled cgroup_pressure" test -n "$view"
    eq "$n: the view names the count ($counter)" "$(echo "$view" | jq -r .cgroup_counter)" "$counter"
    was=$(echo "$view" | jq .cgroup_count_was)
    now=$(echo "$view" | jq .cgroup_count)
    check "$n: the count moved between two samples within the kernel's before/after ($before <= $was < $now <= $after)" \
        test "$before" -le "$was" -a "$was" -lt "$now" -a "$now" -le "$after"
    eq "$n: the view's limit is the one set" "$(echo "$view" | jq .cgroup_limit)" $LIMIT
    # the cache refills as fast as it is reclaimed: the usage stays near the
    # limit (the kernel reclaims in small batches)
    bounded "$n: the view's usage is near the limit" "$(echo "$view" | jq .cgroup_bytes)" \
        $((LIMIT / 100 * 90)) $LIMIT 0
    # the rate bound: 10 s apart while the heap does not grow (it does not here)
    eq "$n: pressure views 10 s apart or more (run $(jq -s 'map(.t_s // empty) | max' $n.jsonl) s)" \
        "$(pressure $n.jsonl | jq -s '[range(1; length) as $i | .[$i].t_s - .[$i - 1].t_s | select(. < 10)] | length')" 0
    "$P" report --json "$n.jsonl" > "$n.json"
    within "$n: hold_heap's live bytes in the pressure view vs the $HELD MiB it holds (malloc's usable sizes)" \
        "$(jq '.sites[] | select(.frames[0].fn == "hold_heap") | .dump_bytes.cgroup_pressure' "$n.json")" \
        $((HELD << 20)) 1
    "$P" report --sites "$n.jsonl" > "$n.txt"
    eq "$n: report --sites shows the view by its label and count" \
        "$(sed -n "s/^dump view 'cgroup_pressure' (the last of [0-9]*), [0-9.]* s after start: .*, \(.*\)$/\1/p" "$n.txt")" \
        "$counter $was -> $now"
    eq "$n: report --sites names hold_heap first in it" \
        "$(sed -n "/^dump view 'cgroup_pressure'/,/^\$/p" "$n.txt" | sed -n 3p | sed 's/^ *[0-9.]* [KMG]*i*B  //; s/ (.*//')" \
        hold_heap
done

# ---- v1, a memory+swap limit equal to the memory one -----------------------
# (v1 charges memory+swap first: which count moves is the kernel's affair;
# whichever did is named, and none when neither did)
if [ $ver = 1 ] && [ -f "$cg/memory.memsw.limit_in_bytes" ]; then
    echo $LIMIT > "$cg/memory.memsw.limit_in_bytes"
    b1=$(count) b2=$(count memory.memsw.failcnt)
    st=$(reclaim memsw)
    a1=$(count) a2=$(count memory.memsw.failcnt)
    eq "memsw: cg_reclaim exit 0" "$st" 0
    n=$(pressure memsw.jsonl | wc -l)
    if [ "$a1" -gt "$b1" ] || [ "$a2" -gt "$b2" ]; then
        view=$(pressure memsw.jsonl | head -n 1)
        c=$(echo "$view" | jq -r .cgroup_counter)
        case $c in
        memory.failcnt) lo=$b1 hi=$a1 ;;
        memory.memsw.failcnt) lo=$b2 hi=$a2 ;;
        *) lo=1 hi=0 ;;
        esac
        check "memsw: failcnt $b1 -> $a1, memsw.failcnt $b2 -> $a2: a view naming one that moved, within it ($c $(echo "$view" | jq -r '"\(.cgroup_count_was) -> \(.cgroup_count)"'))" \
            test "$lo" -le "$(echo "$view" | jq .cgroup_count_was)" -a "$(echo "$view" | jq .cgroup_count)" -le "$hi" \
            -a "$(echo "$view" | jq .cgroup_count_was)" -lt "$(echo "$view" | jq .cgroup_count)"
    else
        eq "memsw: neither memory.failcnt ($b1 -> $a1) nor memory.memsw.failcnt ($b2 -> $a2) moved: no pressure view" "$n" 0
    fi
    eq "memsw: the views were written against the memory+swap limit" \
        "$(jq -s -r '[.[] | select(.type == "sites" and .at == "dump") | .cgroup_limit] | unique | join(" ")' memsw.jsonl)" $LIMIT
    echo -1 > "$cg/memory.memsw.limit_in_bytes"
else
    ok "memsw: skipped (cgroup v$ver, or no memory.memsw files: swap accounting off)"
fi

# ---- no limit: the same cgroup with its limit taken off ---------------------
if [ $ver = 1 ]; then echo -1 > "$cg/memory.limit_in_bytes"; else echo max > "$cg/memory.max"; fi
before=$(count)
st=$(reclaim free)
after=$(count)
eq "no limit ($(cat "$cg/$limit_file")): cg_reclaim exit 0, the kernel's count did not move" \
    "$st $before -> $after" "0 $before -> $before"
eq "no limit: no pressure view (and no cgroup_limit view)" \
    "$(jq -s '[.[] | select(.type == "sites" and .at == "dump")] | length' free.jsonl)" 0
check "no limit: the timeline is valid JSON" valid_jsonl free.jsonl
