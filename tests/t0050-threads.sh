# 8 threads x 1M malloc/free, every block freed by another thread: totals
# exact, nothing left over, peak within the documented bound.
. "$PP_ROOT/tests/lib.sh"

traced base.jsonl "$T/threads" base.facts 8 0
traced t.jsonl "$T/threads" t.facts 8 1000000
eq "exit status" $? 0
pairs=$(fact t.facts pairs)
eq "allocs are exact" "$(( $(summary t.jsonl allocs) - $(summary base.jsonl allocs) ))" "$pairs"
eq "frees are exact" "$(( $(summary t.jsonl frees) - $(summary base.jsonl frees) ))" "$pairs"
eq "heap at exit is back to the baseline" "$(summary t.jsonl heap_bytes_at_exit)" \
    "$(summary base.jsonl heap_bytes_at_exit)"
# each round holds 8 x 10000 blocks of 16..520 bytes: at most ~23 MB live;
# the peak may be off by (threads - 1) x PERFPROBE_BATCH (64 KiB)
peak=$(summary t.jsonl peak_heap_bytes)
le "peak heap is at least one round's blocks" 8000000 "$peak"
le "peak heap is at most two rounds plus the bound" "$peak" $((2 * 8 * 10000 * 536 + 7 * 65536))
