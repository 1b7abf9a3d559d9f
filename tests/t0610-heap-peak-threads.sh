# The heap peak with several threads, against the exact peak the program
# computes itself (cost_peak: every block's usable size added to a shared
# counter after malloc and taken off before free; the counter's maximum).
# The shim's figure also holds what the C library allocates around the
# program (thread descriptors' vectors, stdio): the same program run with
# no blocks gives that baseline.  Goal: within 1% or 4 KiB, whichever is
# larger, of baseline + exact peak; with one thread the peak is exact.
# The modes are the hard cases: a thread that freed what it allocated and
# now waits (its frees must count while another thread grows), threads
# taking turns, and four threads growing and shrinking at once.
. "$PP_ROOT/tests/lib.sh"

for mode in phases pingpong mixed; do
    traced base.jsonl "$T/cost_peak" base.facts $mode 0
    base=$(( $(summary base.jsonl peak_heap_bytes) - $(fact base.facts exact_peak) ))
    for n in 300 1000 4000; do
        traced p.jsonl "$T/cost_peak" p.facts $mode $n
        eq "$mode $n: exit status" $? 0
        want=$(( base + $(fact p.facts exact_peak) ))
        got=$(summary p.jsonl peak_heap_bytes)
        tol=$(( want / 100 > 4096 ? want / 100 : 4096 ))
        d=$(( got > want ? got - want : want - got ))
        le "$mode $n: peak_heap_bytes $got within $tol of the exact $want" $d $tol
        eq "$mode $n: heap back to the baseline at exit" \
            "$(summary p.jsonl heap_bytes_at_exit)" "$(summary base.jsonl heap_bytes_at_exit)"
    done
done
