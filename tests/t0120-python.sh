# libprobe/python/perfprobe.py: the seed's PerformanceTracker, with the
# shim (probes land in the timeline, native heap known) and without it.
. "$PP_ROOT/tests/lib.sh"
export PYTHONPATH=$PP_ROOT/libprobe/python
M=$((1024 * 1024))

$PY "$PP_ROOT/tests/progs/tracker.py" bare.facts > bare.out
eq "without the shim: exit status" $? 0
eq "without the shim: it says so" "$(fact bare.facts shim)" 0
check "without the shim: the table says the heap is unknown" grep -q "heap unknown" bare.out
eq "without the shim: heap fields are None" "$(fact bare.facts loaded_dheap)" None
within "without the shim: RSS grows by the 50 MiB held" "$(fact bare.facts loaded_drss)" $((50 * M)) 5

traced py.jsonl $PY "$PP_ROOT/tests/progs/tracker.py" py.facts > py.out
eq "with the shim: exit status" $? 0
eq "with the shim: it says so" "$(fact py.facts shim)" 1
eq "probes keep their labels" "$(fact py.facts labels)" loaded,transient,ticked
eq "the same probes are in the timeline" \
    "$(jq -r 'select(.type == "probe") | .label' py.jsonl | tr '\n' ,)" \
    "Load Test: start,loaded,transient,ticked,Load Test: end,"
within "the native heap grows by the 50 MiB bytearray" "$(fact py.facts loaded_dheap)" $((50 * M)) 1
within "RSS grows by the 50 MiB held" "$(fact py.facts loaded_drss)" $((50 * M)) 5
le "peak heap between probes saw the transient 80 MiB" $((130 * M)) "$(fact py.facts transient_peak_heap)"
le "peak RSS between probes saw the transient 80 MiB" \
    $(( $(fact py.facts transient_rss) + 78 * M )) "$(fact py.facts transient_peak_rss)"
le "the legacy result's peak covers 50 + 80 MiB" $((128 * M)) "$(fact py.facts peak_bytes)"
eq "elapsed times exclude nothing they should not" "$(fact py.facts elapsed_ok)" 1
eq "regions reach the shim" "$(tail -1 py.jsonl | jq '.regions[] | select(.name == "tick") | .count')" 300
eq "counters reach the shim" "$(jq -c 'select(.type == "counter") | .value' py.jsonl)" 300
check "the table is printed, with heap columns" grep -q "^loaded .*[0-9]" py.out

# one table, in the seed's layout and units
check "with the shim: the tracker's table is printed" grep -q "^Performance Measurement: Load Test" py.out
PERFPROBE_OUTPUT=py2.jsonl LD_PRELOAD=$S $PY "$PP_ROOT/tests/progs/gate_tracker.py" gt.facts 1 > gt.out 2> gt.err
eq "one table: the tracker's, on stdout" "$(grep -c '^Performance Measurement: Gate' gt.out)" 1
eq "one table: no second one from the shim at exit" "$(grep -c '^perfprobe: python3' gt.err)" 0
check "the table says what its MB are" grep -q "MB = 1024 \* 1024 bytes" gt.out
check "the table has the mmap column" grep -q "Δmmap (MB)" gt.out
PERFPROBE_OUTPUT=py3.jsonl LD_PRELOAD=$S $PY "$PP_ROOT/tests/progs/gate_tracker.py" gt0.facts 0 > gt0.out 2> gt0.err
eq "verbose=False: no table at all" "$(cat gt0.out gt0.err | grep -c 'Performance Measurement\|^perfprobe: ')" 0
eq "verbose=False: the probes are still in the timeline" \
    "$(jq -r 'select(.type == "probe") | .label' py3.jsonl | tr '\n' ,)" "Gate: start,objects,buffer,Gate: end,"
# CPython keeps small objects in its own mmap'd arenas: the mmap column sees
# them (the kernel's RSS is the ground truth), the heap column does not
within "mmap column: 400,000 tuples grow the anonymous mappings as RSS grows" \
    "$(fact gt.facts objects_dmmap)" "$(fact gt.facts objects_drss)" 15
le "heap column: the tuples are not malloc'd (less than a tenth)" \
    $(( $(fact gt.facts objects_dheap) * 10 )) "$(fact gt.facts objects_drss)"
within "heap column: the 40 MiB bytearray is" "$(fact gt.facts buffer_dheap)" $((40 * M)) 1
