# Regions over time: the "regions" records written once per window, and
# what report and check make of them.  Ground truth: tests/progs/
# gate_regions.c, which times every occurrence itself and knows its counts,
# its phases and its three deliberately slow occurrences.
. "$PP_ROOT/tests/lib.sh"
PP=$PP_BUILD/perfprobe
G=$T/gate_regions
export PERFPROBE_REGION_WINDOW_MS=50

# bounded (lib.sh): LO * (1 - PCT%) <= VALUE <= HI * (1 + PCT%).
# The program times each occurrence from inside the region (LO, never
# longer than the shim's figure) and from outside it (HI, never shorter),
# so a preemption next to a begin or end call moves neither bound past the
# truth; PCT is the histogram's resolution (1%) and the TSC's rate against
# CLOCK_MONOTONIC early in a run (seen up to 0.6% on a loaded machine).

traced ph.jsonl "$G" ph.facts phases
eq "phases: status" $? 0
valid_jsonl ph.jsonl; eq "phases: every line is JSON" $? 0
nw=$(grep -c '"type":"regions"' ph.jsonl)
le "phases: several windows were written" 5 "$nw"
eq "every window's count adds up to the summary's" \
    "$(jq -s '[.[] | select(.type == "regions") | .regions[] | select(.path == "tick") | .count] | add' ph.jsonl)" \
    "$(tail -1 ph.jsonl | jq '.regions[] | select(.path == "tick") | .count')"
eq "... which is what the program ran" \
    "$(tail -1 ph.jsonl | jq '.regions[] | select(.path == "tick") | .count')" \
    $(( $(fact ph.facts a_count) + $(fact ph.facts b_count) ))
eq "every window's bucket counts add up to its count" \
    "$(jq -c 'select(.type == "regions") | .regions[] | ([.hist.b | to_entries[] | select(.key % 2 == 1) | .value] | add) == .count' ph.jsonl | sort -u)" true
eq "windows follow each other (t0_s is the previous t_s)" \
    "$(jq -s -c '[.[] | select(.type == "regions")] | [range(1; length) as $i | (.[$i].t0_s >= .[$i-1].t_s)] | all' ph.jsonl)" true

# the three slowest occurrences (as the program timed them), each with its
# thread and start: the union of every window's "slowest" holds them
pa=$(jq 'select(.type == "probe" and .label == "phase_a") | .t_s' ph.jsonl)
pb=$(jq 'select(.type == "probe" and .label == "phase_b") | .t_s' ph.jsonl)
# matched by thread and duration, not by rank: on a busy machine two of them
# may be close enough to swap places
top5=$(jq -s -c '[.[] | select(.type == "regions") | .regions[].slowest[]] | sort_by(-.dur_ns) | .[:5]' ph.jsonl)
for k in 1 2 3; do
    at=$(awk -v p="$pa" -v a="$(fact ph.facts slow${k}_at)" 'BEGIN { printf "%.6f", p + a / 1e9 }')
    eq "slowest $k: there, on its thread, as long as the program timed it, started when it started" \
        "$(jq -c --argjson d "$(fact ph.facts slow${k}_ns)" --argjson t "$(fact ph.facts slow${k}_tid)" --argjson at "$at" \
            '[.[] | select(.thread == $t and (.dur_ns - $d | fabs) <= $d * 0.03 and (.start_s - $at | fabs) < 0.01)] | length > 0' <<< "$top5")" true
done

# report --between: one phase's statistics, from the windows
$PP report --json --between phase_a phase_b ph.jsonl > a.json
eq "between a and b: status" $? 0
eq "between a and b: the count of phase a" "$(jq '.regions[0].count' a.json)" "$(fact ph.facts a_count)"
bounded "between a and b: total time as the program timed it" \
    "$(jq '.regions[0].total_s * 1e9 | round' a.json)" "$(fact ph.facts a_in_total)" "$(fact ph.facts a_total)" 1
bounded "between a and b: p50 as the program timed it (histogram within 1%)" \
    "$(jq '.regions[0].p50_ns' a.json)" "$(fact ph.facts a_in_p50)" "$(fact ph.facts a_p50)" 2
bounded "between a and b: min" "$(jq '.regions[0].min_ns' a.json)" "$(fact ph.facts a_in_min)" "$(fact ph.facts a_min)" 1
bounded "between a and b: max" "$(jq '.regions[0].max_ns' a.json)" "$(fact ph.facts a_in_max)" "$(fact ph.facts a_max)" 1
$PP report --json --between phase_b end ph.jsonl > b.json
eq "between b and end: the count of phase b" "$(jq '.regions[0].count' b.json)" "$(fact ph.facts b_count)"
bounded "between b and end: p50 of ~3 ms ticks" "$(jq '.regions[0].p50_ns' b.json)" \
    "$(fact ph.facts b_in_p50)" "$(fact ph.facts b_p50)" 2
bounded "between b and end: max is the 40 ms one" "$(jq '.regions[0].max_ns' b.json)" \
    "$(fact ph.facts b_in_max)" "$(fact ph.facts b_max)" 1
$PP report --between phase_a phase_b ph.jsonl > a.txt
check "between (text): says which probes and windows" grep -q "^Regions between probes 'phase_a'" a.txt
check "between (text): p95 and min columns" grep -Eq '^Region +count +mean +min +p50 +p90 +p95 +p99' a.txt
$PP report --between phase_a nowhere ph.jsonl 2> err.txt
eq "between: a probe that is not there is status 2" $? 2
eq "between: one line on stderr" "$(wc -l < err.txt)" 1

# the whole run merged from the windows equals the summary's statistics
$PP report --json --between phase_a end ph.jsonl > all.json
for k in p50_ns p99_ns max_ns; do
    within "windows merged over the run: $k as the summary's" "$(jq ".regions[0].$k" all.json)" \
        "$(tail -1 ph.jsonl | jq ".regions[] | select(.path == \"tick\") | .$k")" 0.1
done

# latency over time: every window's p50 lies within its phase's own range
$PP report --json --windows ph.jsonl > w.json
eq "windows: a row per window" "$(jq '.region_windows | length' w.json)" "$nw"
eq "windows of phase a: p50 within the program's own min..max of phase a" \
    "$(jq -c --argjson b "$pb" --argjson lo "$(fact ph.facts a_in_min)" --argjson hi "$(fact ph.facts a_max)" \
        '[.region_windows[] | select(.t_s < $b) | (.p50_ns >= $lo * 0.99 and .p50_ns <= $hi * 1.01)] | all' w.json)" true
eq "windows of phase b: p50 within the program's own min..max of phase b" \
    "$(jq -c --argjson b "$pb" --argjson lo "$(fact ph.facts b_in_min)" --argjson hi "$(fact ph.facts b_max)" \
        '[.region_windows[] | select(.t_s > $b) | (.p50_ns >= $lo * 0.99 and .p50_ns <= $hi * 1.01)] | all' w.json)" true
$PP report --csv --table windows ph.jsonl > w.csv
eq "windows as CSV: one row per window, one header" "$(wc -l < w.csv)" $((nw + 1))
$PP report --windows ph.jsonl > w.txt
check "windows as text: a latency-over-time table" grep -q "^Region latency over time" w.txt

# a killed run keeps its regions up to its last window
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=k.jsonl LD_PRELOAD=$S "$G" k.facts killed > ready.txt &
pid=$!
for i in $(seq 1 500); do grep -q ready ready.txt && break; sleep 0.02; done
# killed once the windows in the file hold every tick (at most 10 s)
for i in $(seq 1 500); do
    [ "$(jq -s '[.[] | select(.type == "regions") | .regions[].count] | add' k.jsonl 2>/dev/null)" = "$(fact k.facts a_count)" ] && break
    sleep 0.02
done
kill -KILL $pid; wait $pid 2>/dev/null
$PP report --json k.jsonl > k.json
eq "killed: status" $? 0
eq "killed: no summary" "$(jq .summary.complete k.json)" false
eq "killed: the regions are there, every tick counted" "$(jq '.regions[0].count' k.json)" "$(fact k.facts a_count)"
bounded "killed: p50 as the program timed it" "$(jq '.regions[0].p50_ns' k.json)" \
    "$(fact k.facts a_in_p50)" "$(fact k.facts a_p50)" 2
$PP check k.jsonl --allow-incomplete --max "region.tick.count=$(fact k.facts a_count)" \
    --min "region.tick.count=$(fact k.facts a_count)" > kc.txt
eq "killed: check gates on its regions" $? 0

# names by content: one reused buffer, four regions
traced n.jsonl "$G" n.facts names
eq "reused buffer: four regions, each with its own count" \
    "$(tail -1 n.jsonl | jq -c '[.regions[] | [.name, .count]]')" \
    '[["stage0",1],["stage1",2],["stage2",3],["stage3",4]]'
eq "reused buffer: the windows agree" \
    "$(jq -s -c '[.[] | select(.type == "regions") | .regions[] | {(.name): .count}] | add' n.jsonl)" \
    '{"stage0":1,"stage1":2,"stage2":3,"stage3":4}'
