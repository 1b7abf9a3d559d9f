# What each region occurrence allocated: exact, deterministic, and a CI gate
# that does not flake.  Ground truth: tests/progs/region_allocs.c counts its
# own blocks and their malloc_usable_size inside each region and writes the
# totals.
. "$PP_ROOT/tests/lib.sh"
PP=$PP_BUILD/perfprobe
R=$T/region_allocs

# region FILE PATH FIELD: a field of a region of the summary
region() { joined "$1" | jq -r "select(.type == \"summary\") | .regions[] | select(.path == \"$2\") | .$3"; }

for mode in sample all off; do
    rm -f a.jsonl
    PERFPROBE_STACKS=$mode traced a.jsonl "$R" a.facts
    eq "$mode: status" $? 0
    valid_jsonl a.jsonl; eq "$mode: every line is JSON" $? 0
    eq "$mode: tick allocs per call, as the program counted" "$(region a.jsonl tick allocs_per_call)" \
        "$(awk '$1 == "tick_calls" { printf "%.10g\n", $2 / 500 }' a.facts)"
    eq "$mode: tick bytes per call (usable sizes), as the program counted" \
        "$(region a.jsonl tick bytes_per_call)" "$(awk '$1 == "tick_bytes" { printf "%.10g\n", $2 / 500 }' a.facts)"
    eq "$mode: tick net bytes per call (the blocks it kept)" "$(region a.jsonl tick net_bytes_per_call)" \
        "$(awk '$1 == "tick_net" { printf "%.10g\n", $2 / 500 }' a.facts)"
    eq "$mode: tick max allocs in one call" "$(region a.jsonl tick allocs_per_call_max)" "$(fact a.facts tick_max_calls)"
    eq "$mode: tick max bytes in one call" "$(region a.jsonl tick bytes_per_call_max)" "$(fact a.facts tick_max_bytes)"
    eq "$mode: nested tick/parse: 2 allocs per call" "$(region a.jsonl tick/parse allocs_per_call)" 2
    eq "$mode: nested tick/parse bytes per call" "$(region a.jsonl tick/parse bytes_per_call)" \
        "$(awk '$1 == "parse_bytes" { printf "%.10g\n", $2 / 500 }' a.facts)"
    eq "$mode: tick's self figures leave tick/parse out" "$(region a.jsonl tick self_allocs_per_call)" \
        "$(awk '$1 == "tick_calls" { printf "%.10g\n", $2 / 500 - 2 }' a.facts)"
    eq "$mode: io on a second thread: its own block only" "$(region a.jsonl io bytes_per_call)" \
        "$(awk '$1 == "io_bytes" { printf "%.10g\n", $2 / 100 }' a.facts)"
done
# p50 and p99 over occurrences: allocs per call is 1 + i % 4 + 2 (parse), so
# half the calls make at most 4 and 1% make 6; exact below 128
eq "tick allocs per call: p50" "$(region a.jsonl tick allocs_per_call_p50)" 4
eq "tick allocs per call: p99" "$(region a.jsonl tick allocs_per_call_p99)" 6

# the same figures for Prometheus (report --openmetrics), against the program's counts
"$PP" report --openmetrics a.jsonl > om.txt
om() { sed -n "s|^perfprobe_region_call_$1{.*region=\"$2\",stat=\"$3\"} ||p" om.txt; }
eq "openmetrics: tick allocations, mean" "$(om allocations tick mean)" \
    "$(awk '$1 == "tick_calls" { printf "%.10g\n", $2 / 500 }' a.facts)"
eq "openmetrics: tick allocations, p50 and p99" "$(om allocations tick p50) $(om allocations tick p99)" "4 6"
eq "openmetrics: tick allocations, max" "$(om allocations tick max)" "$(fact a.facts tick_max_calls)"
eq "openmetrics: tick allocated bytes, mean" "$(om allocated_bytes tick mean)" \
    "$(awk '$1 == "tick_bytes" { printf "%.10g\n", $2 / 500 }' a.facts)"
eq "openmetrics: tick allocated bytes, max" "$(om allocated_bytes tick max)" "$(fact a.facts tick_max_bytes)"
eq "openmetrics: tick net bytes, mean" "$(om net_bytes tick mean)" \
    "$(awk '$1 == "tick_net" { printf "%.10g\n", $2 / 500 }' a.facts)"
eq "openmetrics: nested tick/parse, 2 allocations per call" "$(om allocations tick/parse mean)" 2
check "openmetrics: the byte families carry their unit" \
    grep -qx '# UNIT perfprobe_region_call_allocated_bytes bytes' om.txt

# under jemalloc (the hooks' general path, other size classes)
rm -f j.jsonl
LD_PRELOAD="$S /usr/lib/x86_64-linux-gnu/libjemalloc.so.2" PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/j.jsonl "$R" j.facts
eq "jemalloc: tick bytes per call, as the program counted" "$(region j.jsonl tick bytes_per_call)" \
    "$(awk '$1 == "tick_bytes" { printf "%.10g\n", $2 / 500 }' j.facts)"

# the same figures on every run: 10 runs, one set of figures
for i in 1 2 3 4 5 6 7 8 9 10; do
    rm -f d.jsonl
    traced d.jsonl "$R" d.facts
    joined d.jsonl | jq -c 'select(.type == "summary") | [.regions[] | [.path, .allocs_per_call, .bytes_per_call,
        .net_bytes_per_call, .allocs_per_call_p99, .bytes_per_call_p99, .frees]] | sort'
done > figures.txt
eq "10 runs: identical allocation figures" "$(sort -u figures.txt | wc -l)" 1

# the gate: one more allocation a tick fails with 0%; a slower tick does not
"$PP" run -q -n 3 -o base.jsonl -- "$R" b.facts > /dev/null 2>&1
"$PP" run -q -n 3 -o slow.jsonl -- "$R" s.facts 0 200 > /dev/null 2>&1
"$PP" run -q -n 3 -o more.jsonl -- "$R" m.facts 1 > /dev/null 2>&1
"$PP" check slow.run1.jsonl --baseline base.run1.jsonl \
    --max-regression region.tick.allocs_per_call=0% --max-regression region.tick.bytes_per_call=0% \
    --max-regression region.tick.net_bytes_per_call=0% > gate1.out
eq "a timing change (200 us a tick) passes the allocation gate" $? 0
"$PP" check more.run1.jsonl --baseline base.run1.jsonl \
    --max-regression region.tick.allocs_per_call=0% > gate2.out
eq "one more allocation a tick fails it" $? 1
check "... and says by how much" grep -q 'region.tick.allocs_per_call grew +22.2%: 5.5, baseline 4.5' gate2.out
"$PP" check slow.run1.jsonl --baseline base.run1.jsonl --max-regression region.tick.mean_ns=10% > gate3.out
eq "while the timing gate sees the slower tick" $? 1

# --repeat: the median of three runs, named in the JUnit output
"$PP" check --repeat 3 more.jsonl --baseline base.jsonl \
    --max-regression region.tick.allocs_per_call=0% --junit j.xml > rep.out
eq "--repeat 3 against a repeated baseline: the regression fails" $? 1
check "--repeat: the message names the statistic" grep -q 'median of 3 runs' rep.out
check "--repeat: so does the JUnit test case" \
    grep -q 'name="regression region.tick.allocs_per_call (median of 3 runs)"' j.xml
"$PP" check --repeat 3 --stat min slow.jsonl --max region.tick.mean_ns=1s > rep2.out
eq "--repeat 3 --stat min: a ceiling on the fastest run holds" $? 0
want=$(for i in 1 2 3; do jq 'select(.type == "summary") | .regions[] | select(.path == "tick") | .mean_ns' slow.run$i.jsonl; done | sort -n | head -1)
got=$("$PP" check --repeat 3 --stat min slow.jsonl --max region.tick.mean_ns=1s --json | jq '.checks[] | select(.key == "region.tick.mean_ns") | .value')
eq "--stat min is the smallest of the three runs' figures" "$got" "$want"
"$PP" check --repeat 4 slow.jsonl --max wall_s=1s > /dev/null 2> rep3.err
eq "--repeat 4 with three runs: status 2" $? 2
eq "... one line naming the missing run" "$(wc -l < rep3.err | tr -d ' '):$(grep -c 'slow.run4.jsonl' rep3.err)" "1:1"
"$PP" check --repeat x slow.jsonl --max wall_s=1s > /dev/null 2>&1
eq "--repeat x: status 2" $? 2
"$PP" check --repeat 3 --stat mode slow.jsonl --max wall_s=1s > /dev/null 2>&1
eq "--stat mode: status 2" $? 2

# diff shows the allocation figures
"$PP" diff base.run1.jsonl more.run1.jsonl > diff.out
check "diff shows region allocs per call" grep -q 'tick.*allocs_per_call' diff.out
