# Heap bytes, peak, leak and call counts against what the program allocated
# on purpose; peak RSS against the kernel's VmHWM read by the program.
. "$PP_ROOT/tests/lib.sh"

traced base.jsonl "$T/alloc_known" base.facts 0 0
for batch in 0 64K 1M; do
    PERFPROBE_BATCH=$batch traced a.jsonl "$T/alloc_known" a.facts 3000 100
    within "batch $batch: peak_heap_bytes vs usable bytes held" \
        "$(summary a.jsonl peak_heap_bytes)" "$(fact a.facts peak_usable)" 1
    eq "batch $batch: heap_bytes_at_exit is the leak" \
        "$(( $(summary a.jsonl heap_bytes_at_exit) - $(summary base.jsonl heap_bytes_at_exit) ))" \
        "$(fact a.facts leak_usable)"
    eq "batch $batch: allocs" \
        "$(( $(summary a.jsonl allocs) - $(summary base.jsonl allocs) ))" "$(fact a.facts allocs)"
    eq "batch $batch: frees" \
        "$(( $(summary a.jsonl frees) - $(summary base.jsonl frees) ))" "$(fact a.facts frees)"
done
within "peak_rss_bytes vs the program's own VmHWM" \
    "$(summary a.jsonl peak_rss_bytes)" "$(fact a.facts vmhwm)" 1
check "timeline is valid JSON Lines" valid_jsonl a.jsonl
eq "first line is the header" "$(head -1 a.jsonl | jq -r '.type + " " + .format + " " + (.version|tostring)')" \
    "header perfprobe-timeline 2"
eq "every line after the header has t_s" "$(tail -n +2 a.jsonl | jq -s 'all(.[]; has("t_s"))')" true
eq "glibc block sizes are read from the chunk header" "$(head -1 a.jsonl | jq -r .usable_size)" chunk-header
eq "last line is the summary" "$(tail -1 a.jsonl | jq -r .type)" summary
eq "summary counts the sample lines" "$(summary a.jsonl samples)" \
    "$(grep -c '"type":"sample"' a.jsonl)"
for k in wall_s cpu_user_s cpu_sys_s peak_rss_bytes rss_bytes_at_exit peak_heap_bytes \
         heap_bytes_at_exit peak_mmap_bytes allocs frees samples; do
    eq "summary has $k" "$(tail -1 a.jsonl | jq "has(\"$k\")")" true
done
# a sample's heap never exceeds the run's peak, and the peak appears in one
eq "sampled heap_max never exceeds peak_heap_bytes" \
    "$(jq -s '(map(select(.type=="summary"))[0].peak_heap_bytes) as $p |
              all(.[] | select(.type=="sample"); .heap_max <= $p)' a.jsonl)" true
# the kernel updates its high-water mark lazily; the summary's peak is never
# below an RSS the shim itself read (samples and probes), over 10 runs of a
# program whose RSS climbs fast
for i in 1 2 3 4 5 6 7 8 9 10; do
    PERFPROBE_INTERVAL_MS=1 traced h$i.jsonl "$T/alloc_known" h.facts 3000 0
done
eq "peak_rss_bytes is never below an RSS recorded in the same file (10 runs)" \
    "$(for i in 1 2 3 4 5 6 7 8 9 10; do jq -s '(map(select(.type == "summary")) | .[0].peak_rss_bytes) >= (map(.rss // .rss_bytes // 0) | max)' h$i.jsonl; done | sort -u)" true
