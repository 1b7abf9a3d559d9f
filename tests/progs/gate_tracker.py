"""gate_tracker.py FACTS VERBOSE: the seed's tracker around work whose memory
is known.  "objects" holds 400,000 small tuples, which CPython keeps in its
own mmap'd arenas (not malloc'd: the heap column barely moves); "buffer"
holds a 40 MiB bytearray (malloc'd).  Writes "key value" lines."""
import sys
import perfprobe

out = open(sys.argv[1], "w")
verbose = sys.argv[2] == "1"
with perfprobe.PerformanceTracker(name="Gate", verbose=verbose) as tracker:
    objects = [(i, i + 1) for i in range(400_000)]
    tracker.probe("objects")
    buffer = bytearray(40 * 1024 * 1024)
    for i in range(0, len(buffer), 4096):
        buffer[i] = 1
    tracker.probe("buffer")
p = tracker.probes
print("objects_drss", p[0].delta_since_last, file=out)
print("objects_dheap", p[0].delta_heap_since_last, file=out)
print("objects_dmmap", p[0].mmap_bytes - tracker._start_mmap, file=out)
print("buffer_dheap", p[1].delta_heap_since_last, file=out)
