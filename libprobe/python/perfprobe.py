"""perfprobe.py - probes and regions from Python, for perfprobe.

A drop-in for the PerformanceTracker of the benchmark suites perfprobe grew
from, using only the standard library (ctypes).  When the program runs
under libperfprobe.so (``perfprobe run -- python3 ...`` or LD_PRELOAD), every
probe is the shim's own: it lands in the timeline file, and it reports the
real native heap (C, C++, Arrow, USD ... allocations that tracemalloc never
sees) and the kernel's RSS peak between probes.  Without the shim it falls
back to RSS from /proc/self/statm and says that the heap is unknown.

    from perfprobe import PerformanceTracker

    with PerformanceTracker(name="USD Load Test") as tracker:
        stage = Usd.Stage.Open("scene.usd")
        tracker.probe("stage_opened")
        with tracker.region("compose"):
            _ = stage.GetPseudoRoot()
        tracker.probe("composition_forced")

    for p in tracker.probes:
        print(p.label, p.elapsed_since_last, p.delta_since_last, p.delta_heap_since_last)

Times exclude the cost of taking the probes themselves.  Sizes are bytes;
the table prints them in MB of 1024 * 1024 bytes, as the seed's tracker
did (``bytes / (1024**2)``), and says so.

One table: with ``verbose=True`` the tracker prints its table when the
``with`` block ends, and under the shim it then sets PERFPROBE_QUIET=1 in
the environment, which the shim reads again at exit, so the same probes are
not printed a second time; with ``verbose=False`` there is no table at all.
The timeline file keeps everything either way.
"""
import ctypes
import os
import sys
import time
from dataclasses import dataclass
from typing import List, Optional

__all__ = ["PerformanceTracker", "ProbeResult", "MemoryResult", "shim_loaded",
           "probe", "region", "counter"]


class _Info(ctypes.Structure):
    """struct perf_probe_info from libprobe/perf_probe.h"""
    _fields_ = [
        ("t_s", ctypes.c_double), ("dt_s", ctypes.c_double),
        ("rss_bytes", ctypes.c_int64),
        ("d_rss_start", ctypes.c_int64), ("d_rss_last", ctypes.c_int64),
        ("heap_bytes", ctypes.c_int64),
        ("d_heap_start", ctypes.c_int64), ("d_heap_last", ctypes.c_int64),
        ("peak_heap_since_last", ctypes.c_int64),
        ("peak_rss_since_last", ctypes.c_int64),
        ("peak_rss_exact", ctypes.c_int),
        ("allocs_since_last", ctypes.c_int64), ("frees_since_last", ctypes.c_int64),
        ("cpu_user_s_since_last", ctypes.c_double), ("cpu_sys_s_since_last", ctypes.c_double),
    ]


def _load():
    try:
        lib = ctypes.CDLL(None)
        fns = {n: getattr(lib, n) for n in
               ("perf_probe_ex", "perf_region_begin", "perf_region_end", "perf_counter")}
    except (OSError, AttributeError):
        return None
    fns["perf_probe_ex"].argtypes = [ctypes.c_char_p, ctypes.POINTER(_Info)]
    fns["perf_probe_ex"].restype = None
    for n in ("perf_region_begin", "perf_region_end"):
        fns[n].argtypes = [ctypes.c_char_p]
        fns[n].restype = None
    fns["perf_counter"].argtypes = [ctypes.c_char_p, ctypes.c_double]
    fns["perf_counter"].restype = None
    return fns


_shim = _load()
# the encoded names, kept so that each is encoded once
_names = {}


def shim_loaded() -> bool:
    """True when libperfprobe.so is in the process."""
    return _shim is not None


def _name(s: str) -> bytes:
    b = _names.get(s)
    if b is None:
        b = _names[s] = s.encode("utf-8", "replace")
    return b


_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss() -> int:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * _PAGE


_NOT_MMAP = (b"[heap]", b"[stack]", b"[vvar]", b"[vdso]", b"[vsyscall]")


def _mmap_bytes() -> int:
    """Size of the anonymous mappings (no file, not the brk heap or a stack):
    CPython's object arenas, and malloc's large blocks (which the heap
    column counts too)."""
    total = 0
    with open("/proc/self/maps", "rb") as f:
        for line in f:
            parts = line.split(None, 5)
            name = parts[5].strip() if len(parts) > 5 else b""
            if parts[4] != b"0" or (name and (not name.startswith(b"[") or name in _NOT_MMAP)):
                continue
            lo, hi = parts[0].split(b"-")
            total += int(hi, 16) - int(lo, 16)
    return total


@dataclass
class ProbeResult:
    label: str
    elapsed_since_start: float        # seconds since the tracker was entered
    elapsed_since_last: float         # seconds since the previous probe
    total_memory_bytes: int           # process RSS
    delta_since_start: int            # RSS change since the tracker was entered
    delta_since_last: int             # RSS change since the previous probe
    mmap_bytes: int = 0               # anonymous mappings (CPython's arenas...)
    heap_bytes: Optional[int] = None  # live native heap (None: shim not loaded)
    delta_heap_since_start: Optional[int] = None
    delta_heap_since_last: Optional[int] = None
    peak_heap_since_last: Optional[int] = None
    peak_rss_since_last: Optional[int] = None
    peak_rss_exact: bool = False      # the kernel's high-water mark, not a sample
    allocs_since_last: Optional[int] = None
    frees_since_last: Optional[int] = None
    cpu_user_s_since_last: Optional[float] = None
    cpu_sys_s_since_last: Optional[float] = None


@dataclass
class MemoryResult:
    current_bytes: int                # RSS at exit minus RSS at entry
    peak_bytes: int                   # highest RSS during the block minus RSS at entry


def probe(label: str) -> Optional[_Info]:
    """A probe in the timeline (no-op without the shim); returns its figures."""
    if _shim is None:
        return None
    info = _Info()
    _shim["perf_probe_ex"](_name(label), ctypes.byref(info))
    return info


class region:
    """``with region("tick"): ...`` times one occurrence of a repeated operation."""

    def __init__(self, name: str):
        self._name = _name(name)

    def __enter__(self):
        if _shim is not None:
            _shim["perf_region_begin"](self._name)
        return self

    def __exit__(self, *exc):
        if _shim is not None:
            _shim["perf_region_end"](self._name)
        return False


def counter(name: str, value: float) -> None:
    """A user series on the timeline (queue depth, cache size...)."""
    if _shim is not None:
        _shim["perf_counter"](_name(name), float(value))


class PerformanceTracker:
    """Time and memory from entry to exit, with probes in between."""

    def __init__(self, name: str = "Performance Measurement", verbose: bool = True):
        self.name = name
        self.verbose = verbose
        self.probes: List[ProbeResult] = []
        self.result: Optional[MemoryResult] = None
        self.heap_available = _shim is not None
        self._start = None
        self._last = None
        self._peak_rss = 0
        self._start_mmap = 0
        self._overhead = 0.0

    # -- measuring ---------------------------------------------------------
    def _measure(self, label: str):
        """(t, rss, heap, info) now; t excludes earlier probes' overhead."""
        if _shim is not None:
            info = probe(label)
            return info.t_s, info.rss_bytes, info.heap_bytes, info
        t0 = time.perf_counter()
        rss = _rss()
        t = t0 - self._overhead
        self._overhead += time.perf_counter() - t0
        return t, rss, None, None

    def __enter__(self):
        self._overhead = 0.0
        t, rss, heap, _ = self._measure(f"{self.name}: start")
        self._start = self._last = (t, rss, heap)
        self._start_mmap = _mmap_bytes()
        self._peak_rss = rss
        return self

    def probe(self, label: str) -> ProbeResult:
        t, rss, heap, info = self._measure(label)
        t0, rss0, heap0 = self._start
        tl, rssl, heapl = self._last
        r = ProbeResult(label=label, elapsed_since_start=t - t0, elapsed_since_last=t - tl,
                        total_memory_bytes=rss, delta_since_start=rss - rss0,
                        delta_since_last=rss - rssl, mmap_bytes=_mmap_bytes())
        if info is not None:
            r.heap_bytes = heap
            r.delta_heap_since_start = heap - heap0
            r.delta_heap_since_last = heap - heapl
            r.peak_heap_since_last = info.peak_heap_since_last
            r.peak_rss_since_last = info.peak_rss_since_last
            r.peak_rss_exact = bool(info.peak_rss_exact)
            r.allocs_since_last = info.allocs_since_last
            r.frees_since_last = info.frees_since_last
            r.cpu_user_s_since_last = info.cpu_user_s_since_last
            r.cpu_sys_s_since_last = info.cpu_sys_s_since_last
            self._peak_rss = max(self._peak_rss, info.peak_rss_since_last)
        self._peak_rss = max(self._peak_rss, rss)
        self._last = (t, rss, heap)
        self.probes.append(r)
        return r

    def region(self, name: str) -> region:
        return region(name)

    def counter(self, name: str, value: float) -> None:
        counter(name, value)

    def __exit__(self, *exc):
        t, rss, heap, info = self._measure(f"{self.name}: end")
        if info is not None:
            self._peak_rss = max(self._peak_rss, info.peak_rss_since_last)
        self._peak_rss = max(self._peak_rss, rss)
        self._end = (t, rss, heap)
        rss0 = self._start[1]
        self.result = MemoryResult(current_bytes=rss - rss0, peak_bytes=self._peak_rss - rss0)
        if self.verbose:
            self.print_table()
        if _shim is not None:
            # one table: the shim reads this again at exit (see the top)
            os.environ["PERFPROBE_QUIET"] = "1"
        return False

    # -- reporting ---------------------------------------------------------
    def print_table(self, file=None):
        """The seed's table, with the native heap and mmap columns.  MB are
        1024 * 1024 bytes, as in the seed (its bytes / (1024**2))."""
        out = file or sys.stdout
        mb = 1024 * 1024
        width = max([24] + [len(p.label) + 2 for p in self.probes])
        width = min(width, 60)
        w = width + 71
        print("=" * w, file=out)
        print(f"Performance Measurement: {self.name}", file=out)
        if not self.heap_available:
            print("(heap unknown: libperfprobe.so is not loaded; memory is RSS only)", file=out)
        print("=" * w, file=out)
        print(f"{'Probe':<{width}}{'Time (s)':>10}{'Δt (s)':>10}{'Mem (MB)':>12}{'ΔMem (MB)':>11}"
              f"{'Heap (MB)':>10}{'ΔHeap (MB)':>11}{'Δmmap (MB)':>11}", file=out)
        print("-" * w, file=out)
        last_mmap = self._start_mmap
        for p in self.probes:
            heap = f"{p.heap_bytes / mb:10.2f}" if p.heap_bytes is not None else f"{'n/a':>10}"
            dheap = (f"{p.delta_heap_since_last / mb:+11.2f}"
                     if p.delta_heap_since_last is not None else f"{'n/a':>11}")
            label = p.label if len(p.label) < width else p.label + "\n" + " " * width
            print(f"{label:<{width}}{p.elapsed_since_start:10.4f}{p.elapsed_since_last:10.4f}"
                  f"{p.total_memory_bytes / mb:12.2f}{p.delta_since_last / mb:+11.2f}"
                  f"{heap}{dheap}{(p.mmap_bytes - last_mmap) / mb:+11.2f}", file=out)
            last_mmap = p.mmap_bytes
        print("-" * w, file=out)
        total = self._end[0] - self._start[0]
        dheap = (f"{'':>10}{(self._end[2] - self._start[2]) / mb:+11.2f}"
                 if self._end[2] is not None else "")
        print(f"{'TOTAL':<{width}}{total:10.4f}{'':>10}{'':>12}"
              f"{(self._end[1] - self._start[1]) / mb:+11.2f}{dheap}", file=out)
        print(f"peak Mem {self._peak_rss / mb:.2f} MB "
              f"(+{self.result.peak_bytes / mb:.2f} MB over the start); "
              f"MB = 1024 * 1024 bytes", file=out)
        print("=" * w, file=out)
