# C++ new and delete are attributed to their call sites, exactly with
# PERFPROBE_STACKS=all (ground truth: what the test program did).
. "$PP_ROOT/tests/lib.sh"
PERFPROBE_STACKS=all traced c.jsonl "$T/sites_cxx" > out.txt
eq "the program runs" "$(cat out.txt)" ok
"$PP_BUILD/perfprobe" report --json c.jsonl > c.json
site() { jq -r --arg fn "$1" "[.sites[] | select(any(.frames[]; .fn == \$fn))][0].$2" c.json; }
le "new[] in make_widgets: 100 blocks of 10000 bytes allocated there" 1000000 "$(site make_widgets alloc_bytes)"
eq "new[] in make_widgets: 100 allocations" "$(site make_widgets allocs)" 100
le "and still live at exit" 1000000 "$(site make_widgets live_bytes)"
eq "new in make_gadgets: 50 allocations" "$(site make_gadgets allocs)" 50
eq "delete: nothing of make_gadgets is live at exit" "$(site make_gadgets live_bytes)" 0
