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
