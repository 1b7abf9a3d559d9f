# The highest live heap inside each region occurrence: exact, attributed to
# the thread in the region, rolled up to the regions around it, the same on
# every run, and a gate.  Ground truth: tests/progs/region_peak.c follows
# its own blocks (malloc_usable_size) and each open region's highest.
. "$PP_ROOT/tests/lib.sh"
PP=$PP_BUILD/perfprobe
R=$T/region_peak

# region FILE PATH FIELD: a field of a region of the summary
region() { joined "$1" | jq -r "select(.type == \"summary\") | .regions[] | select(.path == \"$2\") | .$3"; }
# mean FACTS KEY: the fact divided by the number of ticks, printed as jq prints it
mean() { awk -v k="$2" '$1 == k { s = $2 } $1 == "ticks" { n = $2 } END { printf "%.10g\n", s / n }' "$1"; }
# quantile FACTS PREFIX Q: the exact Q-quantile of the per-tick figures (rank ceil(Q*n))
quantile() {
    awk -v p="$2_" 'index($1, p) == 1 && $1 ~ /_[0-9]+$/ { print $2 }' "$1" | sort -n |
        awk -v q="$3" '{ v[NR] = $1 } END { r = int(q * NR + 0.999999); if (r < 1) r = 1; print v[r] }'
}
# near GOT WANT: a histogram quantile is within 1/128 of the value (docs/probes.md)
near() { awk -v g="$1" -v w="$2" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(d <= w / 128) }'; }

for mode in sample all off; do
    rm -f a.jsonl
    PERFPROBE_STACKS=$mode traced a.jsonl "$R" a.facts threads 2> a.err
    eq "$mode: status" $? 0
    # the sampler thread never calls the allocator (sys/linux/single.c):
    # with stacks off the interpreter's symbols are read by the program's
    # thread (cpu.c); read at the sampler's first tick, a failed dlsym allocated
    eq "$mode: the sampler thread did not allocate" \
        "$(grep -c 'the sampler thread called the allocator' a.err)" 0
    valid_jsonl a.jsonl; eq "$mode: every line is JSON" $? 0
    eq "$mode: tick peak per call, as the program counted" "$(region a.jsonl tick peak_bytes_per_call)" \
        "$(mean a.facts tick_peak_sum)"
    eq "$mode: tick highest peak" "$(region a.jsonl tick peak_bytes_per_call_max)" "$(fact a.facts tick_peak_max)"
    eq "$mode: nested tick/inner peak per call" "$(region a.jsonl tick/inner peak_bytes_per_call)" \
        "$(mean a.facts inner_peak_sum)"
    eq "$mode: tick/inner highest peak" "$(region a.jsonl tick/inner peak_bytes_per_call_max)" \
        "$(fact a.facts inner_peak_max)"
    eq "$mode: a region that only frees: peak 0" "$(region a.jsonl drain peak_bytes_per_call_max)" \
        "$(fact a.facts drain_peak)"
    eq "$mode: ... while it left less behind" "$(region a.jsonl drain net_bytes_min | awk '{ print ($1 < 0) }')" 1
    eq "$mode: a region with no allocation: peak 0" "$(region a.jsonl idle peak_bytes_per_call)" 0
    eq "$mode: a region ended over a nested one left open: its own highest" \
        "$(region a.jsonl outer peak_bytes_per_call_max)" "$(fact a.facts outer_peak)"
done
# the rolled-up peak is more than the nested one's (tick holds its own
# blocks while inner runs), and more than the net bytes either leaves
eq "tick's peak includes inner's and more" \
    "$(awk '/^tick_peak_sum/ { t = $2 } /^inner_peak_sum/ { i = $2 } END { print (t > i) }' a.facts)" 1
for q in 0.50:p50 0.99:p99; do
    want=$(quantile a.facts tick_peak "${q%%:*}")
    got=$(region a.jsonl tick "peak_bytes_per_call_${q##*:}")
    near "$got" "$want"; eq "tick peak ${q##*:}: $got within 1/128 of the exact $want" $? 0
    want=$(quantile a.facts inner_peak "${q%%:*}")
    got=$(region a.jsonl tick/inner "peak_bytes_per_call_${q##*:}")
    near "$got" "$want"; eq "tick/inner peak ${q##*:}: $got within 1/128 of the exact $want" $? 0
done

# one thread: the run's peak heap is reached inside "top" and the next
# begin ("idle") must not lose it: the same peak as the same program
# without region calls (exact with one thread)
rm -f s.jsonl p.jsonl
traced s.jsonl "$R" s.facts single
eq "single: status" $? 0
traced p.jsonl "$R" p.facts plain
eq "plain: status" $? 0
eq "single: top's peak, as the program counted" "$(region s.jsonl top peak_bytes_per_call_max)" \
    "$(fact s.facts top_peak)"
eq "single: tick peak per call, as with a second thread" "$(region s.jsonl tick peak_bytes_per_call)" \
    "$(mean s.facts tick_peak_sum)"
eq "the run's peak heap is the one without regions" \
    "$(jq 'select(.type == "summary") | .peak_heap_bytes' s.jsonl)" \
    "$(jq 'select(.type == "summary") | .peak_heap_bytes' p.jsonl)"

# under jemalloc (the hooks' general path, other size classes)
rm -f j.jsonl
LD_PRELOAD="$S /usr/lib/x86_64-linux-gnu/libjemalloc.so.2" PERFPROBE_QUIET=1 \
    PERFPROBE_OUTPUT=$PWD/j.jsonl "$R" j.facts threads
eq "jemalloc: tick peak per call, as the program counted" "$(region j.jsonl tick peak_bytes_per_call)" \
    "$(mean j.facts tick_peak_sum)"

# the same figures on every run, whatever the other thread did meanwhile
for i in 1 2 3 4 5 6 7 8 9 10; do
    rm -f d.jsonl
    traced d.jsonl "$R" d.facts threads
    joined d.jsonl | jq -c 'select(.type == "summary") | [.regions[] | [.path, .peak_bytes_per_call,
        .peak_bytes_per_call_p50, .peak_bytes_per_call_p99, .peak_bytes_per_call_max]] | sort'
done > figures.txt
eq "10 runs: identical peak figures" "$(sort -u figures.txt | wc -l)" 1
eq "... and they are the program's" "$(jq -r '.[] | select(.[0] == "tick") | .[1]' figures.txt | sort -u)" \
    "$(mean d.facts tick_peak_sum)"

# the gate: 4000 bytes more at each tick's top fail with 0%, though they
# leave no byte behind
"$PP" run -q -o base.jsonl -- "$R" b.facts threads > /dev/null 2>&1
"$PP" run -q -o same.jsonl -- "$R" c.facts threads > /dev/null 2>&1
"$PP" run -q -o more.jsonl -- "$R" m.facts threads 1 > /dev/null 2>&1
"$PP" check same.jsonl --baseline base.jsonl --max-regression region.tick.peak_bytes_per_call=0% \
    --max-regression region.tick/inner.peak_bytes_per_call=0% > gate1.out
eq "another run passes the peak gate at 0%" $? 0
"$PP" check more.jsonl --baseline base.jsonl --max-regression region.tick.peak_bytes_per_call=0% \
    --max-regression region.tick.net_bytes_per_call=0% > gate2.out
eq "a higher peak fails it" $? 1
check "... naming the peak" grep -q "region.tick.peak_bytes_per_call grew" gate2.out
eq "... and not the net bytes, which did not move" "$(grep -c 'net_bytes_per_call grew' gate2.out)" 0
eq "the higher peak is the program's" "$(region more.jsonl tick peak_bytes_per_call)" \
    "$(mean m.facts tick_peak_sum)"

# report --json, report and diff carry them
eq "report --json: tick peak per call" \
    "$("$PP" report --json base.jsonl | jq '.regions[] | select(.path == "tick") | .peak_bytes_per_call')" \
    "$(region base.jsonl tick peak_bytes_per_call)"
"$PP" report base.jsonl > rep.out
check "report: a peak/call column" grep -q 'peak/call' rep.out
"$PP" diff base.jsonl more.jsonl > diff.out
check "diff shows the region peak" grep -q 'tick.peak_bytes_per_call' diff.out
