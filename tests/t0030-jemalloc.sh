# Under jemalloc the heap figure equals jemalloc's own stats.allocated, both
# when jemalloc is preloaded and when the program is linked with it.
. "$PP_ROOT/tests/lib.sh"

JE=$(ldconfig -p | awk '/libjemalloc.so.2 /{print $NF; exit}')
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=p.jsonl LD_PRELOAD="$S $JE" "$T/jemalloc_stats" p.facts
eq "preloaded jemalloc: exit status" $? 0
eq "preloaded jemalloc: header names the allocator" "$(head -1 p.jsonl | jq -r .allocator)" jemalloc
eq "preloaded jemalloc: sizes come from malloc_usable_size" "$(head -1 p.jsonl | jq -r .usable_size)" \
    malloc_usable_size
# the glibc chunk-header shortcut must never read before a jemalloc block
for i in $(seq 1 200); do
    PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=r.jsonl LD_PRELOAD="$S $JE" /bin/true || { echo "run $i: $?"; break; }
done > crash.txt 2>&1
eq "preloaded jemalloc: 200 start-ups without a crash" "$(cat crash.txt)" ""
within "preloaded jemalloc: peak_heap_bytes vs stats.allocated" \
    "$(summary p.jsonl peak_heap_bytes)" "$(fact p.facts allocated)" 1

traced l.jsonl "$T/jemalloc_linked" l.facts
eq "linked jemalloc: exit status" $? 0
eq "linked jemalloc: header names the allocator" "$(head -1 l.jsonl | jq -r .allocator)" jemalloc
within "linked jemalloc: peak_heap_bytes vs stats.allocated" \
    "$(summary l.jsonl peak_heap_bytes)" "$(fact l.facts allocated)" 1

# C++ operator new under jemalloc does not go through malloc
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=c.jsonl LD_PRELOAD="$S $JE" "$T/cxx_new" c.facts
within "C++ new[] and new under jemalloc" "$(summary c.jsonl peak_heap_bytes)" \
    "$(fact c.facts peak_usable)" 1
traced g.jsonl "$T/cxx_new" g.facts
within "C++ new[] and new under glibc" "$(summary g.jsonl peak_heap_bytes)" \
    "$(fact g.facts peak_usable)" 1

# Without jemalloc, a folly-style weak-reference probe must not be fooled
traced w.jsonl "$T/weak_jemalloc" w.facts
eq "weak mallctl stays NULL under the shim" "$(fact w.facts has_mallctl)" 0
eq "mallocx is there" "$(fact w.facts has_mallocx)" 1
eq "mallocx honours MALLOCX_LG_ALIGN" "$(fact w.facts aligned)" 1
eq "mallocx honours MALLOCX_ZERO" "$(fact w.facts zeroed)" 1
eq "rallocx keeps the contents" "$(fact w.facts kept)" 1
eq "xallocx reports a size that covers the block" "$(fact w.facts xallocx_size)" 1
eq "mallocx family is counted: nothing left" "$(summary w.jsonl heap_bytes_at_exit)" 0
within "mallocx family is counted: peak" "$(summary w.jsonl peak_heap_bytes)" \
    "$(( $(fact w.facts usable) + 5000 ))" 1
