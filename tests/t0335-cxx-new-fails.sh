# A C++ operator new that fails: the std::bad_alloc it throws, and what the
# program's new_handler does, are the program's own allocations and are
# counted; nothing is counted freed that was not counted allocated.  The
# shim's operator new forwards to libstdc++'s with its hooks held off, and
# libstdc++ calls the handler and allocates the exception inside it: before,
# 1,001 exceptions were counted freed and none allocated (the heap clamped
# at 0), and the handler's kept block was missing while the reserve it
# freed stayed live.  Ground truth: what the program did on purpose, the
# difference between a run that fails and one that does not.
. "$PP_ROOT/tests/lib.sh"

N=1000
"$T/cxx_fail" bare.facts fail $N > bare.out 2>&1
eq "bare: every failing new caught" "$? $(fact bare.facts caught)" "0 $((N + 1))"
for mode in base fail; do
    traced $mode.jsonl "$T/cxx_fail" $mode.facts $mode $N > $mode.out 2>&1
    eq "$mode: exit status and output as bare" "$? $(cat $mode.out)" "0 $(cat bare.out)"
    check "$mode: every line of the timeline is JSON" valid_jsonl $mode.jsonl
    eq "$mode: nothing inexact" "$(summary $mode.jsonl 'inexact | length')" 0
done
eq "fail: every failing new caught" "$(fact fail.facts caught)" "$((N + 1))"
d() { echo $(( $(summary fail.jsonl "$1") - $(summary base.jsonl "$1") )); }
eq "allocations: the exceptions, the reserve and the handler's block" "$(d allocs)" "$(fact fail.facts allocs)"
eq "frees: the exceptions and the reserve" "$(d frees)" "$(fact fail.facts frees)"
eq "heap at exit: the handler's block, and not the reserve it freed" \
    "$(d heap_bytes_at_exit)" "$(fact fail.facts kept_usable)"

# a signal handler's malloc that fails while the program is inside an
# operator new is not the operator's failure: every new and delete of the
# program's is counted (lifting the hold on any failure missed about 200
# news, and the heap at exit was short)
traced sig.jsonl "$T/cxx_fail" sig.facts signal 1000000 > sig.out 2>&1
eq "signal: exit status" $? 0
eq "signal: the handler ran" "$(fact sig.facts ticks_seen)" 1
eq "signal: allocations" "$(( $(summary sig.jsonl allocs) - $(summary base.jsonl allocs) ))" "$(fact sig.facts allocs)"
eq "signal: frees" "$(( $(summary sig.jsonl frees) - $(summary base.jsonl frees) ))" "$(fact sig.facts frees)"
eq "signal: heap at exit as without" "$(summary sig.jsonl heap_bytes_at_exit)" "$(summary base.jsonl heap_bytes_at_exit)"
eq "signal: nothing inexact" "$(summary sig.jsonl 'inexact | length')" 0
