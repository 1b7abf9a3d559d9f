# Region timings with the TSC (used where /proc/cpuinfo lists constant_tsc
# and nonstop_tsc, converted with the rate measured over the run against
# CLOCK_MONOTONIC, checked once a second) against the program's own
# CLOCK_MONOTONIC around each occurrence: 60 spins of 25-31 ms, 1.7 s in
# all, so that the sampler compares the clocks at least once.  The program
# times each occurrence around the calls (never shorter than the region: it
# includes the first call's own set-up and any preemption next to a call)
# and between them (never longer); the region's figures must lie between
# the two, give or take 0.2% for the two clocks.
. "$PP_ROOT/tests/lib.sh"

traced r.jsonl "$T/cost_tsc" r.facts 60 25
eq "exit status" $? 0
reg() { jq -r "select(.type == \"summary\") | .regions[] | select(.name == \"spin\") | $1" r.jsonl; }
eq "60 occurrences" "$(reg .count)" 60
# the program's clock between the calls and around them bound the region
bounded "total time of the regions vs the program's clock" \
    "$(reg '.total_s * 1e9 | floor')" "$(fact r.facts in_total_ns)" "$(fact r.facts total_ns)" 0.2
bounded "shortest occurrence vs the program's clock" "$(reg '.min_ns | floor')" \
    "$(fact r.facts in_min_ns)" "$(fact r.facts min_ns)" 0.2
bounded "longest occurrence vs the program's clock" "$(reg '.max_ns | floor')" \
    "$(fact r.facts in_max_ns)" "$(fact r.facts max_ns)" 0.2
if grep -q ' constant_tsc' /proc/cpuinfo && grep -q ' nonstop_tsc' /proc/cpuinfo; then
    eq "the CPU says the TSC is invariant, and it agreed with CLOCK_MONOTONIC: no note of a fall back" \
        "$(jq -r 'select(.type == "note") | .text' r.jsonl | grep -c TSC)" 0
else
    ok "no invariant TSC here: regions are timed with CLOCK_MONOTONIC"
fi
