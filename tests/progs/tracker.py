"""tracker.py OUT: the seed's PerformanceTracker usage, through perfprobe.py.
Holds 50 MiB in a bytearray between two probes, then a transient 80 MiB,
runs 300 regions, and writes what it saw as "key value" lines."""
import sys
import time
import perfprobe

out = open(sys.argv[1], "w")
with perfprobe.PerformanceTracker(name="Load Test") as tracker:
    data = bytearray(50 * 1024 * 1024)
    for i in range(0, len(data), 4096):
        data[i] = 1
    tracker.probe("loaded")
    tmp = bytearray(80 * 1024 * 1024)
    for i in range(0, len(tmp), 4096):
        tmp[i] = 1
    del tmp
    tracker.probe("transient")
    for i in range(300):
        with tracker.region("tick"):
            time.sleep(0.0002)
    tracker.counter("items", 300)
    tracker.probe("ticked")
    del data

p = tracker.probes
print("shim", int(perfprobe.shim_loaded()), file=out)
print("labels", ",".join(x.label for x in p), file=out)
print("loaded_drss", p[0].delta_since_last, file=out)
print("loaded_dheap", p[0].delta_heap_since_last, file=out)
print("transient_peak_heap", p[1].peak_heap_since_last, file=out)
print("transient_peak_rss", p[1].peak_rss_since_last, file=out)
print("transient_rss", p[1].total_memory_bytes, file=out)
print("elapsed_ok", int(p[2].elapsed_since_start >= p[1].elapsed_since_start + 0.06), file=out)
print("peak_bytes", tracker.result.peak_bytes, file=out)
print("current_bytes", tracker.result.current_bytes, file=out)
