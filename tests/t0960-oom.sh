# When memory runs out: a program whose cache grows by 64 KiB every 100 us
# from one function (tests/progs/grow_cache), killed with SIGKILL at a
# random moment, leaves the live-at-peak site view in its timeline (written
# by the sampler thread as the heap climbs), naming the growing function
# with the bytes the program itself logged it had allocated by the last
# sample; report, flame and pprof say the run was killed; `run` says by
# which signal.  (Under a cgroup memory limit, the kernel's OOM killer:
# t0970.)  Bad PERFPROBE_DUMP_AT values get the usual one line;
# PERFPROBE_DUMP_AT writes a "dump" view at the size.
. "$PP_ROOT/tests/lib.sh"
P=$PP_BUILD/perfprobe

# the bytes the program had allocated when it was killed: the last of its log
final_total() { od -An -v -t u8 -j 8 "$1" | tr -s ' ' '\n' | awk '$1 > m { m = $1 } END { print m }'; }
wait_pid() {    # LOG: the program's pid, once it wrote it
    local i=0 pid=
    while [ $i -lt 500 ]; do
        pid=$(od -An -t u8 -N8 "$1" 2>/dev/null | tr -d ' ')
        [ -n "$pid" ] && [ "$pid" != 0 ] && { echo "$pid"; return; }
        sleep 0.01; i=$((i + 1))
    done
}

for k in 1 2 3; do
    ms=$((500 + RANDOM % 1500))
    rm -f g$k.log
    PERFPROBE_SAMPLE_BYTES=64K "$P" run -q --stacks sample -o g$k.jsonl -- \
        "$T/grow_cache" g$k.log 2> run$k.err &
    runpid=$!
    pid=$(wait_pid g$k.log)
    sleep "$(awk -v m=$ms 'BEGIN { printf "%.3f", m / 1000 }')"
    kill -KILL "$pid"
    wait $runpid
    eq "kill $k: run exits as the program died" $? 137
    eq "kill $k: run's last line says killed by SIGKILL" \
        "$(tail -n 1 run$k.err | sed 's/.*was killed by/killed by/')" "killed by signal 9 (SIGKILL)"
    eq "kill $k: no exit record" "$(jq -s '[.[] | select(.type == "sites" and .at == "exit")] | length' g$k.jsonl)" 0
    truth=$(final_total g$k.log)
    view=$(jq -s '[.[] | select(.type == "sites" and .at == "peak")] | last' g$k.jsonl)
    view_t=$(echo "$view" | jq .t_s)
    stack=$(echo "$view" | jq '.rows | max_by(.live_bytes) | .stack')
    bytes=$(echo "$view" | jq '.rows | max_by(.live_bytes) | .live_bytes')
    "$P" report --json g$k.jsonl > g$k.json
    eq "kill $k: the largest site of the view is grow_cache" \
        "$(jq -r --argjson s "$stack" '.sites | max_by(.peak_bytes) | .frames[0].fn' g$k.json)" grow_cache
    within "kill $k (at ${ms} ms): live at the peak (view at ${view_t} s) vs allocated when killed" \
        "$bytes" "$truth" 10
    "$P" report --sites g$k.jsonl > g$k.txt
    check "kill $k: report --sites says killed and when the view was taken" \
        grep -q "a killed run.*view taken $(printf %.3f "$view_t") s after start" g$k.txt
    check "kill $k: report --sites names grow_cache at the peak" grep -q "grow_cache (grow_cache.c" g$k.txt
    "$P" flame g$k.jsonl -o g$k.folded 2> flame$k.err
    eq "kill $k: flame gives the peak view" "$(awk '/grow_cache/ { print $NF }' g$k.folded)" "$bytes"
    check "kill $k: flame says killed" grep -q "a killed run" flame$k.err
    "$P" pprof g$k.jsonl -o g$k.pb.gz 2> pprof$k.err
    check "kill $k: pprof writes a profile and says killed" \
        sh -c "[ -s g$k.pb.gz ] && grep -q 'a killed run' pprof$k.err"
done

# ---- PERFPROBE_DUMP_AT ---------------------------------------------------
rm -f d.log
PERFPROBE_DUMP_AT=40M traced d.jsonl "$T/grow_cache" d.log 104857600 &
pid=$(wait_pid d.log)
i=0
while [ $i -lt 1000 ]; do
    jq -e -s '[.[] | select(.type == "sample" and .heap >= 100000000)] | length > 5' d.jsonl \
        > /dev/null 2>&1 && break
    sleep 0.05; i=$((i + 1))
done
kill -KILL "$pid"
wait
dumps=$(jq -s -c '[.[] | select(.type == "sites" and .at == "dump")]' d.jsonl)
first=$(echo "$dumps" | jq '.[0].t_s')
# the larger of RSS and the heap at the sample the dump followed, and at the one before
levels=$(jq -s -c --argjson t "$first" '[.[] | select(.type == "sample" and .t_s <= $t)
         | [.rss, .heap] | max] | .[-2:]' d.jsonl)
check "dump_at: the first dump view came at the sample where RSS or the heap reached 40M ($levels)" \
    jq -e -n --argjson l "$levels" '$l[0] < 41943040 and $l[1] >= 41943040'
# then one per further 5M (an eighth) up to 100M: 40, 45, ... 100 (within a sample)
# (each at the sample that first reaches the next step: a sample's overshoot can skip one)
bounded "dump_at: dumps every eighth of the size up to 100M" "$(echo "$dumps" | jq length)" 7 13 0
eq "dump_at: the dump is labelled" "$(echo "$dumps" | jq -r '.[0].label')" dump_at
"$P" report --json d.jsonl > d.json
eq "dump_at: the peak view names grow_cache" "$(jq -r '.sites | max_by(.peak_bytes) | .frames[0].fn' d.json)" grow_cache
# the same through run --dump-at
rm -f rd.log
"$P" run -q --dump-at 20M -o rd.jsonl -- "$T/grow_cache" rd.log 31457280 2> rd.err &
runpid=$!
pid=$(wait_pid rd.log)
i=0
while [ $i -lt 1000 ] && [ "$(final_total rd.log)" -lt 31457280 ]; do sleep 0.02; i=$((i + 1)); done
sleep 0.3                                # a few samples at the top
kill -KILL "$pid"
wait $runpid
check "run --dump-at 20M: dump views in the file" \
    jq -e -s '[.[] | select(.type == "sites" and .at == "dump" and .label == "dump_at")] | length >= 1' rd.jsonl
"$P" run -q --dump-at garbage -o rg.jsonl -- /bin/true 2> rg.err
eq "run --dump-at garbage: refused before the run, status 2, one line" \
    "$? $(grep -c . rg.err) $(grep -c "dump-at 'garbage' is not a size" rg.err)" "2 1 1"
for bad in garbage 12Q -5; do
    PERFPROBE_DUMP_AT=$bad PERFPROBE_OUTPUT=bad.jsonl LD_PRELOAD=$S /bin/true 2> bad.err
    eq "PERFPROBE_DUMP_AT=$bad: one warning line" "$(grep -c PERFPROBE_DUMP_AT bad.err)" 1
done

# (the kernel's OOM killer under a cgroup memory limit, v2 or v1: t0970)

# ---- resident, not only allocated ------------------------------------------
# tests/progs/resident: 1 GiB of which it touched a known number of pages,
# and 20 MB of small blocks all touched; both live at exit.  The figures
# against the pages it touched on purpose (the small blocks' with `all`,
# and with `sample` at 4 KiB, where the estimate's own error is 1.4%).
for mode in sample all; do
    traced r$mode.jsonl env PERFPROBE_STACKS=$mode PERFPROBE_SAMPLE_BYTES=4K "$T/resident" r$mode.facts 7000
    "$P" report --json r$mode.jsonl > r$mode.json
    rsite() { jq -r --arg fn "$2" "[.sites[] | select(.frames[0].fn == \$fn)][0].$3" "$1"; }
    within "$mode: big_site resident at exit vs the pages touched" \
        "$(rsite r$mode.json big_site resident_bytes)" "$(fact r$mode.facts big_resident)" 5
    within "$mode: big_site resident at the peak vs the pages touched" \
        "$(rsite r$mode.json big_site peak_resident_bytes)" "$(fact r$mode.facts big_resident)" 5
    within "$mode: small_site resident (fully touched) vs its bytes" \
        "$(rsite r$mode.json small_site resident_bytes)" "$(fact r$mode.facts small_bytes)" 5
done
traced rdef.jsonl "$T/resident" rdef.facts 7000
"$P" report --json rdef.jsonl > rdef.json
within "sample at the default 512K: big_site resident vs the pages touched" \
    "$(rsite rdef.json big_site resident_bytes)" "$(fact rdef.facts big_resident)" 5
"$P" report --sites rall.jsonl > rall.txt
eq "report --sites: a resident column, big_site's" \
    "$(grep -c '^ *allocated *allocs *at peak *at exit *resident' rall.txt) $(awk '/big_site/ { print $8 " " $9; exit }' rall.txt)" \
    "1 $(awk -v b="$(rsite rall.json big_site resident_bytes)" 'BEGIN { printf "%.2f MiB", b / 1048576 }')"
"$P" flame --by resident rall.jsonl -o rall.folded
eq "flame --by resident: big_site's value" "$(awk '/;big_site / { print $NF }' rall.folded)" \
    "$(rsite rall.json big_site resident_bytes)"
if command -v protoc > /dev/null && [ -f "$PP_ROOT/tests/t0320-sites-pprof.sh" ]; then
    sed -n '/^cat > profile.proto/,/^PROTO/p' "$PP_ROOT/tests/t0320-sites-pprof.sh" > mkproto.sh
    . ./mkproto.sh
    "$P" pprof rall.jsonl -o rall.pb.gz
    zcat rall.pb.gz | protoc --decode=perftools.profiles.Profile profile.proto > rall.txt
    eq "pprof: a fifth sample type, resident_space" \
        "$(grep -c '^string_table: "resident_space"' rall.txt)" 1
    eq "pprof: resident_space totals the sites' resident bytes" \
        "$(awk '/^sample {/ { k = 0; s = 1 } s && /^  value:/ { if (k++ == 4) t += $2 } /^}/ { s = 0 }
                END { printf "%d", t }' rall.txt)" "$(jq '[.sites[].resident_bytes] | add' rall.json)"
fi

# ---- leaks that are really leaks (--stacks all) ----------------------------
# tests/progs/leaks: 100 blocks whose only pointer was overwritten, 200 on a
# global list, a list of 50 whose head was dropped, one held by a variable
# on a sleeping thread's stack.
for k in 1 2 3; do
    traced l$k.jsonl env PERFPROBE_STACKS=all "$T/leaks" l$k.facts
    "$P" report --json l$k.jsonl > l$k.json
    lsite() { jq -r --arg fn "$2" "[.sites[] | select(.frames[0].fn == \$fn)][0].$3" "$1"; }
    eq "leaks $k: overwritten pointers: all definitely lost" \
        "$(lsite l$k.json lost_site lost_blocks)/$(lsite l$k.json lost_site live_blocks)" \
        "$(fact l$k.facts lost_blocks)/$(fact l$k.facts lost_blocks)"
    eq "leaks $k: a global list: all still reachable" \
        "$(lsite l$k.json reach_site lost_blocks)/$(lsite l$k.json reach_site live_blocks)" \
        "0/$(fact l$k.facts reach_blocks)"
    eq "leaks $k: reachable only from a lost block: lost" \
        "$(lsite l$k.json chain_site lost_blocks)/$(lsite l$k.json chain_site live_blocks)" \
        "$(fact l$k.facts chain_blocks)/$(fact l$k.facts chain_blocks)"
    # thread_site's malloc is a tail call: the innermost frame is worker
    eq "leaks $k: held on a thread's stack: reachable" \
        "$(jq -r '[.sites[] | select(any(.frames[]; .fn == "worker"))][0] | "\(.lost_blocks)/\(.live_blocks)"' l$k.json)" \
        "0/$(fact l$k.facts thread_blocks)"
done
lost=$(jq '[.sites[] | .lost_bytes] | add' l1.json)
eq "leaks: check's leaked_definitely_bytes is the lost bytes" \
    "$("$P" check l1.jsonl --max leaked_definitely_bytes=1G --json | jq '.checks[] | select(.key == "leaked_definitely_bytes") | .value | floor')" "$lost"
"$P" check l1.jsonl --max leaked_definitely_bytes=$((lost - 1)) > /dev/null
eq "leaks: check fails one byte under the lost bytes" $? 1
"$P" report --sites l1.jsonl > l1.txt
check "leaks: report --sites shows definitely lost apart from still reachable" \
    grep -q "^definitely lost: .* in 150 blocks (2 sites); still reachable" l1.txt
eq "leaks: sample mode has no leak check" \
    "$(traced ls.jsonl "$T/leaks" ls.facts; jq '[.sites[]? | select(.lost_bytes)] | length' <("$P" report --json ls.jsonl))" 0

# A kill inside a write can cut the last record short (t0970 saw it once
# in ~180 OOM kills, at a page boundary).  `run` mends a cut record of the
# killed pid in place: the same bytes become a "cut" record padded with
# spaces, so every line is JSON again.  Made on purpose here: the program
# appends a partial record of its own pid to its timeline, then SIGKILLs
# itself.  A cut of another pid, or too short to name one, is mended too (below).
cutrun() {   # NAME PARTIAL-PRINTF-FORMAT (%d: the program's pid)
    "$P" run -q -o "$1.jsonl" -- sh -c "printf '$2' \$\$ >> \"\$PERFPROBE_OUTPUT\"; kill -9 \$\$" \
        > /dev/null 2> "$1.err"
}
partial='{"type":"sample","pid":%d,"t_s":1.5,"rss":123456,"hwm":1'
cutrun cut1 "$partial"
pid=$(head -1 cut1.jsonl | jq .pid)
len=$(printf "$partial" "$pid" | wc -c)
eq "cut: every line of the file is JSON again" "$(jq -R 'fromjson? // "bad"' cut1.jsonl | grep -c '^"bad"$')" 0
eq "cut: the cut record names the pid and the bytes cut" \
    "$(jq -c 'select(.type == "cut")' cut1.jsonl)" "{\"type\":\"cut\",\"pid\":$pid,\"bytes\":$len}"
eq "cut: it takes exactly the cut bytes (the file keeps its size)" \
    "$(grep '"type":"cut"' cut1.jsonl | tr -d '\n' | wc -c)" "$len"
eq "cut: the signal record follows it" "$(tail -1 cut1.jsonl | jq -c '[.type, .signal]')" '["signal",9]'
"$P" report cut1.jsonl > /dev/null 2> cut1.rep
check "cut: report counts it as one damaged line" grep -q "cut1.jsonl: 1 damaged line skipped" cut1.rep
# Too short to name a pid, or of another pid (a live writer's, maybe): the
# last line is left as it is and the signal record goes after a newline;
# that line, now complete, is mended by the scan of the whole file (t0965):
# spaces before the next line when too short for a cut record, else a cut
# record of the pid it names.
cutrun cut2 '{"ty'
eq "cut too short for a cut record: its 4 bytes and newline are spaces before the signal record" \
    "$(tail -1 cut2.jsonl | sed 's/{.*//' | wc -c) $(tail -1 cut2.jsonl | jq -c '[.type, .signal]')" '6 ["signal",9]'
eq "cut too short: every line of the file is JSON" "$(jq -R 'fromjson? // "bad"' cut2.jsonl | grep -c '^"bad"$')" 0
cutrun cut3 "$(echo "$partial" | sed 's/%d/1/')"
eq "cut of another pid: mended after the signal record ended its line" \
    "$(jq -c 'select(.type == "cut")' cut3.jsonl)" "{\"type\":\"cut\",\"pid\":1,\"bytes\":$(printf "$partial" 1 | wc -c)}"
eq "cut of another pid: every line of the file is JSON" "$(jq -R 'fromjson? // "bad"' cut3.jsonl | grep -c '^"bad"$')" 0
