# Heap figures that were never measured: a program with its own malloc
# linked in (tests/progs/own_malloc.c, as rustc has jemalloc) runs with
# "heap_counted": false, and the 0s the shim writes for its heap are not
# a program that allocated nothing.  report shows them as not counted (text,
# JSON, CSV, Markdown, the tree), check fails a gate on them with status 1
# and one line saying why (text, JSON, JUnit), diff shows no 0 and no -100%
# for them; Prometheus has no sample of them, run -n no statistics, and
# report --sites says why there are no sites.  RSS still gates, and a
# program whose heap was counted is shown and gated as before.  Ground
# truth: what the programs say they did (their own allocator's counts,
# malloc_usable_size) and the timeline read by jq.
. "$PP_ROOT/tests/lib.sh"
PP=$PP_BUILD/perfprobe
ASAN=$PP_BUILD/perfprobe-asan
N=1000 SIZE=10000
M=$((1024 * 1024))

# ---- the runs ------------------------------------------------------------------
traced own.jsonl "$T/own_malloc" own.facts $N $SIZE 2> /dev/null
eq "own malloc: status" $? 0
eq "own malloc: its own allocator served every call" "$(fact own.facts allocs)" $N
eq "own malloc: and holds the bytes asked for" "$(fact own.facts held)" $((N * SIZE))
eq "own malloc: the file says the heap was not counted" \
    "$(head -1 own.jsonl | jq -r .heap_counted) $(summary own.jsonl heap_counted)" "false false"
eq "own malloc: and writes 0 for what it did not measure" \
    "$(summary own.jsonl peak_heap_bytes) $(summary own.jsonl allocs)" "0 0"
rss=$(summary own.jsonl peak_rss_bytes)
le "own malloc: its RSS, measured, holds the $((N * SIZE)) bytes it touched" $((N * SIZE)) "$rss"

# behind sh -c exec, where the shim warns for nothing (the first image's
# malloc is glibc's)
"$PP" run -q -o exec.jsonl -- sh -c "exec \"$T/own_malloc\" exec.facts $N $SIZE" 2> exec.err
eq "behind exec: status" $? 0
eq "behind exec: sh counted, own_malloc not" \
    "$(jq -r 'select(.type == "header") | "\(.program):\(.heap_counted)"' exec.jsonl | tr '\n' ' ')" \
    "sh:true own_malloc:false "

traced norm.jsonl "$T/alloc_known" norm.facts 3000 0
eq "counted program: status" $? 0
npeak=$(summary norm.jsonl peak_heap_bytes)
le "counted program: its peak heap holds what it held (malloc_usable_size)" \
    "$(fact norm.facts peak_usable)" "$npeak"

why="the heap of own_malloc (pid $(summary own.jsonl pid)) was not counted: malloc is not the shim's: another allocator comes first (allocator own_malloc, in $T/own_malloc)"

for bin in "$PP" "$ASAN"; do
    b=$(basename "$bin")
    export ASAN_OPTIONS=detect_leaks=0

    # ---- report --------------------------------------------------------------------
    "$bin" report own.jsonl > r.txt 2> err.txt
    eq "$b report: status" $? 0
    for k in peak_heap_bytes avg_heap_bytes heap_bytes_at_exit allocs frees reallocs; do
        check "$b report: $k not counted" grep -Eq "^  $k +not counted\$" r.txt
    done
    check "$b report: one line says why" grep -Fxq "  $why; the heap figures and allocation counts below were not measured" r.txt
    check "$b report: RSS still a size" grep -Eq '^  peak_rss_bytes +[0-9.]+ MiB$' r.txt
    eq "$b report: nothing on stderr" "$(cat err.txt)" ""
    "$bin" report exec.jsonl > r.txt
    check "$b report, behind exec: the tree row says not counted" \
        grep -Eq '^  [0-9]+ sh > own_malloc \[main\] .* heap not counted in own_malloc ' r.txt
    check "$b report, behind exec: the main process's figures too" \
        grep -Eq '^  peak_heap_bytes +not counted$' r.txt
    "$bin" report --json own.jsonl > r.json
    eq "$b report --json: heap_counted, inexact" \
        "$(jq -c '[.heap_counted, .inexact]' r.json)" \
        '[false,["malloc is not the shim'"'"'s: another allocator comes first"]]'
    eq "$b report --json: heap figures null" \
        "$(jq -c '.summary | [.peak_heap_bytes, .heap_bytes_at_exit, .avg_heap_bytes, .allocs, .frees, .reallocs]' r.json)" \
        "[null,null,null,null,null,null]"
    eq "$b report --json: the reason" "$(jq -r .heap_not_counted r.json)" "$why"
    eq "$b report --json: RSS as the file has it" "$(jq .summary.peak_rss_bytes r.json)" "$rss"
    "$bin" report --json --samples own.jsonl > r.json
    eq "$b report --json --samples: no sample has a heap figure" \
        "$(jq '[.samples[] | .heap, .heap_max | select(. != null)] | length' r.json)" 0
    "$bin" report --json exec.jsonl > r.json
    eq "$b report --json, behind exec: the tree's process" \
        "$(jq -c '.tree.processes[0] | [.heap_counted, .peak_heap_bytes, .heap_not_counted_in]' r.json)" \
        '[false,null,["own_malloc"]]'
    "$bin" report --csv own.jsonl > r.csv
    check "$b report --csv: an empty value, not 0" grep -Fxq '"own.jsonl",peak_heap_bytes,' r.csv
    "$bin" report --markdown own.jsonl > r.md
    check "$b report --markdown: not counted" grep -Fxq '| own.jsonl | allocs | not counted |' r.md
    "$bin" report norm.jsonl > r.txt
    check "$b report, counted program: its peak heap as a size" \
        grep -Eq '^  peak_heap_bytes +[0-9.]+ (KiB|MiB)$' r.txt
    check "$b report, counted program: no not-counted line" sh -c '! grep -q "not counted" r.txt'
    eq "$b report --json, counted program: its figures" \
        "$("$bin" report --json norm.jsonl | jq -c '[.heap_counted, .summary.peak_heap_bytes]')" "[true,$npeak]"

    # ---- check -----------------------------------------------------------------------
    for lim in peak_heap_bytes=1 allocs=0 heap_bytes_at_exit=0 avg_heap_bytes=1G; do
        "$bin" check own.jsonl --max $lim > c.txt
        eq "$b check --max $lim, not counted: fails" $? 1
        check "$b check --max $lim: says it was not measured, and why" \
            grep -Fxq "FAIL ${lim%%=*} was not measured in own.jsonl: $why" c.txt
    done
    "$bin" check exec.jsonl --max peak_heap_bytes=1 > c.txt
    eq "$b check behind exec: fails" $? 1
    "$bin" check own.jsonl --max peak_rss_bytes=1G > c.txt
    eq "$b check RSS of the uncounted program: passes" $? 0
    check "$b check RSS: the figure" grep -Eq '^ok   peak_rss_bytes = [0-9.]+ MiB \(limit 1.00 GiB\)$' c.txt
    "$bin" check own.jsonl --max peak_rss_bytes=1M > c.txt
    eq "$b check RSS above its limit: fails as before" $? 1
    check "$b check RSS: above the limit" grep -q '^FAIL peak_rss_bytes = .*, above the limit 1.00 MiB' c.txt
    "$bin" check own.jsonl --max peak_rss_bytes=1G --max peak_heap_bytes=1 --json --junit j.xml > c.json
    eq "$b check --json: status 1" $? 1
    eq "$b check --json: the heap check failed, not measured, no value" \
        "$(jq -c '.checks[] | select(.key == "peak_heap_bytes") | [.ok, .measured, has("value"), .message]' c.json)" \
        "$(jq -cn --arg m "peak_heap_bytes was not measured in own.jsonl: $why" '[false, false, false, $m]')"
    eq "$b check --json: RSS passed" \
        "$(jq -c '[.passed, .failed, (.checks[] | select(.key == "peak_rss_bytes") | .ok)]' c.json)" "[false,1,true]"
    check "$b check --junit: the failure with the message" \
        grep -Fq "<failure message=\"peak_heap_bytes was not measured in own.jsonl: $why" j.xml
    check "$b check --junit: one failure" grep -q '<testsuite name="perfprobe check own.jsonl" tests="3" failures="1">' j.xml
    "$bin" check norm.jsonl --baseline own.jsonl --max-regression heap_bytes_at_exit=+0 > c.txt
    eq "$b check, a baseline not counted: fails" $? 1
    check "$b check, a baseline not counted: says so" \
        grep -Fxq "FAIL heap_bytes_at_exit was not measured in the baseline own.jsonl: $why" c.txt
    "$bin" check own.jsonl --baseline own.jsonl --max-regression 10% > c.txt
    eq "$b check --max-regression PCT, not counted: fails" $? 1
    eq "$b check --max-regression PCT: the heap figures fail, the others hold" \
        "$(grep -c '^FAIL .* was not measured' c.txt) $(grep -c '^ok   ' c.txt)" "3 6"
    "$bin" check norm.jsonl --max peak_heap_bytes=1 > c.txt
    eq "$b check, counted program: a heap limit still fails" $? 1
    check "$b check, counted program: above the limit" grep -q '^FAIL peak_heap_bytes = .*, above the limit 1 B$' c.txt
    "$bin" check norm.jsonl --max peak_heap_bytes=$((npeak + 1)) --min allocs="$(fact norm.facts allocs)" > c.txt
    eq "$b check, counted program: within its limits" $? 0

    # ---- diff ----------------------------------------------------------------------
    "$bin" diff norm.jsonl own.jsonl > d.txt
    eq "$b diff: status" $? 0
    check "$b diff: B's peak heap not counted, no change" \
        grep -Eq '^! peak_heap_bytes +[0-9.]+ (KiB|MiB) +not counted +- +n/c$' d.txt
    check "$b diff: allocs likewise" grep -Eq '^! allocs +[0-9]+ +not counted +- +n/c$' d.txt
    check "$b diff: never -100% on a heap figure" \
        sh -c '! grep -E "^. (peak_heap_bytes|heap_bytes_at_exit|avg_heap_bytes|allocs|frees) .*(-100|0 B +-)" d.txt'
    check "$b diff: says why" grep -Fxq "B: 'not counted': $why" d.txt
    "$bin" diff --json norm.jsonl own.jsonl > d.json
    eq "$b diff --json: the row" \
        "$(jq -c '.rows[] | select(.figure == "peak_heap_bytes") | [.a, .b, .change, .pct, .b_counted, .marked]' d.json)" \
        "[$npeak,null,null,null,false,true]"
    eq "$b diff --json: which side counted" "$(jq -c '[.a_heap_counted, .b_heap_counted]' d.json)" "[true,false]"
    # A's allocation sites are not "gone" in B, whose heap has no sites
    check "$b diff: A has allocation sites" test "$("$bin" report --json norm.jsonl | jq '.sites | length')" -gt 0
    check "$b diff: the sites are not compared" \
        grep -Fxq "allocation sites: not compared, the heap of B was not counted" d.txt
    eq "$b diff --json: no site rows" "$(jq '[.rows[] | select(.figure | startswith("site."))] | length' d.json)" 0
    "$bin" diff own.jsonl own.jsonl > d.txt
    check "$b diff, neither counted: not marked, no number" \
        grep -Eq '^  peak_heap_bytes +not counted +not counted +- +n/c$' d.txt
done

# ---- a file from before the flag: its heap was counted ---------------------------------
jq -c 'del(.heap_counted, .inexact)' own.jsonl > old.jsonl
$PP check old.jsonl --max peak_heap_bytes=0 > c.txt
eq "a file without heap_counted: read as counted (its 0 gates)" $? 0

# ---- Prometheus and run -n: no sample, no statistics ------------------------------------
$PP report --prometheus own.jsonl > om.txt
eq "prometheus: no heap or allocation sample for the uncounted program" \
    "$(grep -cE '^perfprobe_(heap_peak_bytes|heap_bytes|allocations_total)[{ ]' om.txt)" 0
check "prometheus: its RSS is there" grep -Eq "^perfprobe_rss_peak_bytes\\{.*\\} $rss\$" om.txt
$PP report --prometheus norm.jsonl > om.txt
check "prometheus: the counted program's peak heap is there" \
    grep -Eq "^perfprobe_heap_peak_bytes\\{.*\\} $npeak\$" om.txt
"$PP" run -q -n 2 --json -o rep.jsonl -- "$T/own_malloc" rep.facts $N $SIZE > rep.out 2> /dev/null
eq "run -n: status" $? 0
eq "run -n --json: the heap rows not counted" \
    "$(tail -1 rep.out | jq -c '[.rows[] | select(.key == "peak_heap_bytes" or .key == "heap_bytes_at_exit") | [.heap_counted, .mean, .max]]')" \
    "[[false,null,null],[false,null,null]]"

# ---- report --sites: why there are none -------------------------------------------------
eq "report --sites: no sites, and why" "$($PP report --sites own.jsonl)" "no allocation sites recorded: $why"
