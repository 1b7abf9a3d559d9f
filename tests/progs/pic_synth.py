#!/usr/bin/python3
"""pic_synth.py - write a synthetic timeline (docs/format.md) of a known shape.

    pic_synth.py SAMPLES OUT.jsonl [PID]

SAMPLES samples 10 ms apart (60000 is a 10-minute run at the default
interval), written as the shim writes them: every sample (a heap that never
rests), parts on every 100th, a probe every 6000 samples, a counter every
50, a "regions" window record every 100 with two regions, and a summary.
RSS follows a saw-tooth with one peak at 2/3 of the run, so the figures a
picture must show are known: the peak value and time, the probe labels.
"""
import json
import sys

n = int(sys.argv[1])
out = open(sys.argv[2], "w")
pid = int(sys.argv[3]) if len(sys.argv) > 3 else 4242
MiB = 1 << 20
w = out.write


def line(o):
    w(json.dumps(o, separators=(",", ":")) + "\n")


line({"type": "header", "format": "perfprobe-timeline", "version": 1, "pid": pid,
      "ppid": 1, "root_pid": pid, "program": "synth", "argv": ["synth"],
      "start_unix_s": 1700000000.0, "interval_ms": 10, "batch_bytes": 65536,
      "page_size": 4096, "allocator": "glibc", "usable_size": "chunk-header"})
peak_i = n * 2 // 3
user = sys_ = 0.0
minflt = 100
peak_rss = peak_heap = 0
for i in range(n):
    t = round(0.01 * (i + 1), 4)
    heap = (20 + (i % 500) // 10) * MiB + i * 16
    if i == peak_i:
        heap += 200 * MiB
    anon = 8 * MiB if (i // 1000) % 2 else 0
    rss = heap + anon + 3 * MiB
    user += 0.007
    sys_ += 0.002
    minflt += i % 7
    s = {"type": "sample", "t_s": t, "rss": rss, "heap": heap, "heap_max": heap,
         "anon": anon, "file": 0, "user_s": round(user, 3), "sys_s": round(sys_, 3),
         "minflt": minflt, "majflt": 0}
    if i == 0:
        s["hwm"] = rss
    if i % 100 == 99 or i == n - 1:
        s["parts"] = [heap + 1 * MiB, anon, 2 * MiB - 65536, 65536, rss - heap - anon - 3 * MiB]
    peak_rss = max(peak_rss, rss)
    peak_heap = max(peak_heap, heap)
    line(s)
    if i % 50 == 49:
        line({"type": "counter", "t_s": t, "name": "queue_depth", "value": i % 37, "thread": pid})
    if i % 100 == 99:
        regs = []
        for name, base in (("tick", 200000), ("tick/parse", 50000)):
            regs.append({"name": name.split("/")[-1], "path": name, "count": 100,
                         "p50_ns": base + i, "p95_ns": 2 * base + i, "p99_ns": 3 * base + i,
                         "min_ns": base // 2, "max_ns": 4 * base + i,
                         "slowest": [{"start_s": round(t - 0.009, 6), "dur_ns": 4 * base + i,
                                      "thread": pid}]})
        line({"type": "regions", "pid": pid, "t_s": t, "regions": regs})
    if i % 6000 == 5999:
        line({"type": "probe", "label": "step %d" % (i // 6000), "thread": pid, "t_s": t,
              "dt_s": 60.0, "overhead_s": 0.0, "rss_bytes": rss, "heap_bytes": heap,
              "rss_parts": {"heap": heap + 1 * MiB, "mmap": anon, "file": 2 * MiB - 65536,
                            "stack": 65536, "other": rss - heap - anon - 3 * MiB}})
line({"type": "summary", "t_s": round(0.01 * n, 6), "wall_s": round(0.01 * n, 6),
      "cpu_user_s": round(user, 6), "cpu_sys_s": round(sys_, 6), "peak_rss_bytes": peak_rss,
      "rss_bytes_at_exit": rss, "peak_heap_bytes": peak_heap, "heap_bytes_at_exit": heap,
      "peak_mmap_bytes": 8 * MiB, "mmap_anon_bytes_at_exit": anon, "mmap_file_bytes_at_exit": 0,
      "allocs": n, "frees": n - 1, "reallocs": 0, "minflt": minflt, "majflt": 0,
      "samples": n, "samples_taken": n, "probes": n // 6000,
      "regions": [{"name": "tick", "path": "tick", "depth": 0, "count": n, "total_s": 12.0,
                   "mean_ns": 200000, "min_ns": 100000, "max_ns": 900000, "p50_ns": 210000,
                   "p90_ns": 300000, "p95_ns": 400000, "p99_ns": 600000, "p999_ns": 800000,
                   "per_s": 100.0}]})
