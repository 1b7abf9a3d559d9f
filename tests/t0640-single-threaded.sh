# A program with one thread of its own stays single-threaded in glibc's
# eyes under the shim, as it is bare: __libc_single_threaded (which glibc's
# malloc and pthread_mutex_lock, and libstdc++'s reference counts, read to
# skip their atomic instructions) keeps the value it has bare while the
# sampler thread runs, with the flag in libc (a PIE) or copied into the
# executable (a copy relocation, without PIE).  Meanwhile the program maps
# and unmaps memory and marks probes, under locks the sampler also takes,
# with a sample every millisecond and a breakdown at each: a lock that
# glibc took without an atomic instruction would hang it or lose records.
# As root, new credentials reach every thread, the sampler's included (the
# kernel's own Uid lines).  The program's own first thread clears the flag
# as it would bare.  Ground truth: the same binary run bare, and the
# kernel.
. "$PP_ROOT/tests/lib.sh"

cc -O2 -fno-pie -no-pie -I"$PP_ROOT/tests/progs" -I"$PP_ROOT/libprobe" \
    -o single_view_nopie "$PP_ROOT/tests/progs/single_view.c" -pthread
check "a copy-relocated build: the executable holds its own __libc_single_threaded" \
    bash -c "readelf -r single_view_nopie | grep -q 'R_X86_64_COPY.*__libc_single_threaded'"

for prog in "$T/single_view" ./single_view_nopie; do
    name=$(basename "$prog")
    "$prog" bare.facts 200
    eq "$name bare exits 0" $? 0
    PERFPROBE_INTERVAL_MS=1 PERFPROBE_PARTS_STRIDE=1 traced s.jsonl "$prog" s.facts 1500 2>err.txt
    eq "$name under the shim exits 0" $? 0
    eq "$name bare: single-threaded at start" "$(fact bare.facts start)" 1
    eq "$name bare: and all along" "$(fact bare.facts lowest)" 1
    eq "$name bare: not after a thread of its own" "$(fact bare.facts after_thread)" 0
    eq "$name under the shim: single-threaded at start, as bare" "$(fact s.facts start)" 1
    eq "$name under the shim: and all along while the sampler ran, as bare" \
        "$(fact s.facts lowest)" 1
    eq "$name under the shim: the program's own thread cleared it, as bare" \
        "$(fact s.facts after_thread)" 0
    eq "$name: every probe the program marked is in the timeline" \
        "$(jq -s '[.[] | select(.type == "probe")] | length' s.jsonl)" "$(fact s.facts probes)"
    le "$name: the sampler ran beside the program (at least 20 samples)" 20 \
        "$(summary s.jsonl samples_taken)"
    eq "$name: the sampler thread never called the allocator" \
        "$(grep -c 'sampler thread called the allocator' err.txt)" 0
done

# fork: glibc decides from the flag whether to reset the child's locks and
# thread count; with the count left at the parent's, the child's main
# calling pthread_exit would end without exit(0), so without flushing stdio
"$T/single_view" fb.facts 10 forkexit > fb.out
for follow in all none; do
    PERFPROBE_FOLLOW=$follow traced f.jsonl "$T/single_view" f.facts 10 forkexit > f.out
    eq "fork, PERFPROBE_FOLLOW=$follow: exits 0" $? 0
    eq "fork, PERFPROBE_FOLLOW=$follow: the child's pthread_exit flushed its stdout, as bare" \
        "$(grep -c 'written once' f.out)" "$(grep -c 'written once' fb.out)"
    eq "fork, PERFPROBE_FOLLOW=$follow: the child's status as bare" \
        "$(fact f.facts child_status)" "$(fact fb.facts child_status)"
done
eq "bare: the line twice" "$(grep -c 'written once' fb.out)" 2

if [ "$(id -u)" = 0 ]; then
    traced u.jsonl "$T/single_view" u.facts 100 setuid
    eq "setuid run under the shim exits 0" $? 0
    eq "two threads at the setuid: the program's and the sampler" "$(fact u.facts tasks)" 2
    eq "after setresuid(65534) every thread has uid 65534, the sampler's too" \
        "$(fact u.facts tasks_new_uid)" 2
else
    echo "# not root: the credentials part is not run (setresuid to another user needs root)"
fi
