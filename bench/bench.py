#!/usr/bin/env python3
"""bench.py - perfprobe's overhead, measured side by side in one run.

Every configuration of a workload is run in turn, round after round
(interleaved, so that a noisy neighbour slows all of them alike), and the
median wall time of each is divided by the median of the bare run.  Also
measured: the shim's own resident memory (peak RSS with the shim minus
without, on the same workload) and how fast the timeline grows.

Usage: bench/bench.py [--rounds N] [--quick] [--growth]
"""
import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("B") or "build")   # make bench B=DIR
SHIM = os.path.join(BUILD, "libperfprobe.so")
CHURN = os.path.join(BUILD, "bench", "churn")
PROBECOST = os.path.join(BUILD, "bench", "probecost")
MANYMAPS = os.path.join(BUILD, "bench", "manymaps")
TICK = os.path.join(BUILD, "bench", "tick")
PY = "/usr/bin/python3"
TMP = tempfile.mkdtemp(prefix="perfprobe-bench.")
# seconds a child may take before it counts as hung (a hang is a failure)
RUN_TIMEOUT = 300
CALLGRIND_TIMEOUT = 600


def run(argv, timeout=RUN_TIMEOUT, capture_output=False, **kw):
    """subprocess.run in a session of its own; a child still running after
    TIMEOUT seconds has its process tree described on stderr, is killed
    with its group, and ends the bench."""
    if capture_output:
        kw.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p = subprocess.Popen(argv, start_new_session=True, **kw)
    cmd = " ".join(argv).replace("\n", "\\n")     # one line
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"bench: {cmd} still running after {timeout} s; "
              "its processes and threads:", file=sys.stderr)
        diagnose(p.pid)
        sys.exit(f"bench: {cmd} hung for {timeout} s")
    finally:
        if p.returncode is None:        # hung, or ^C (which the session does not get)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def diagnose(root):
    """ROOT and its descendants (by /proc/*/stat's ppid): each thread's state,
    wchan, kernel stack and syscall; gdb's backtraces, and vgdb's of the
    guest's threads for a process under valgrind."""
    def read(path):
        try:
            with open(path, errors="replace") as f:
                return f.read().strip()
        except OSError as e:
            return f"({e.strerror})"
    kids = {}
    for d in filter(str.isdigit, os.listdir("/proc")):
        fields = read(f"/proc/{d}/stat").rsplit(")", 1)[-1].split()
        if len(fields) > 1:
            kids.setdefault(int(fields[1]), []).append(int(d))
    pids = [root]
    for pid in pids:
        pids += kids.get(pid, [])
    err = sys.stderr
    for pid in pids:
        print(f"pid {pid}: {read(f'/proc/{pid}/cmdline').replace(chr(0), ' ')}", file=err)
        try:
            tids = sorted(os.listdir(f"/proc/{pid}/task"), key=int)
        except OSError:
            tids = []
        for tid in tids:
            t = f"/proc/{pid}/task/{tid}"
            stat = read(t + "/stat")
            name = stat[stat.find("(") + 1:stat.rfind(")")]
            state = (stat.rsplit(")", 1)[-1].split() or ["?"])[0]
            print(f"  tid {tid} ({name}) state {state} wchan {read(t + '/wchan')} "
                  f"syscall {read(t + '/syscall')}", file=err)
            for line in read(t + "/stack").splitlines():
                print(f"    {line}", file=err)
        debuggers = []
        if shutil.which("vgdb") and "valgrind" in read(f"/proc/{pid}/cmdline"):
            debuggers.append(["vgdb", f"--pid={pid}", "v.info scheduler"])
        if shutil.which("gdb"):
            debuggers.append(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"])
        for cmd in debuggers:
            print(f"  {' '.join(cmd)}:", file=err, flush=True)
            try:
                subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT,
                               timeout=60)
            except subprocess.TimeoutExpired:
                print(f"  ({cmd[0]} gave nothing in 60 s)", file=err)


def env_with(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PERFPROBE_") and k != "LD_PRELOAD"}
    env.update(extra)
    return env


def wrappers():
    """name -> (argv prefix, env) for each way of running a program."""
    w = {
        "bare": ([], env_with()),
        "perfprobe": ([], env_with(LD_PRELOAD=SHIM, PERFPROBE_QUIET="1",
                                   PERFPROBE_OUTPUT=os.path.join(TMP, "pp.%p.jsonl"))),
    }
    # allocation sites: perfprobe above is the default (sample)
    for mode in ("off", "all"):
        w["pp-" + mode] = ([], env_with(LD_PRELOAD=SHIM, PERFPROBE_QUIET="1", PERFPROBE_STACKS=mode,
                                        PERFPROBE_OUTPUT=os.path.join(TMP, "pp.%p.jsonl")))
    # CPU sampling (docs/cpu.md): perfprobe above samples at the default
    # rate; against none, and at 1 kHz
    for name, rate in (("pp-nocpu", "off"), ("pp-cpu1k", "1000")):
        w[name] = ([], env_with(LD_PRELOAD=SHIM, PERFPROBE_QUIET="1", PERFPROBE_CPU=rate,
                                PERFPROBE_OUTPUT=os.path.join(TMP, "pp.%p.jsonl")))
    if shutil.which("heaptrack"):
        w["heaptrack"] = (["heaptrack", "-o", os.path.join(TMP, "ht")], env_with())
    if shutil.which("memusage"):
        w["memusage"] = (["memusage", "--data=" + os.path.join(TMP, "mu.dat")], env_with())
    return w


def run_once(argv, env):
    t0 = time.perf_counter()
    r = run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"bench: {' '.join(argv)} exited with {r.returncode}")
    return dt


def compare(title, cmd, names, rounds):
    ws = wrappers()
    names = [n for n in names if n in ws]
    times = {n: [] for n in names}
    for _ in range(rounds):
        for n in names:
            prefix, env = ws[n]
            times[n].append(run_once(prefix + cmd, env))
    base = statistics.median(times["bare"])
    print(f"\n{title}\n  {'':<11}{'median s':>10}{'ratio':>9}   ({rounds} interleaved rounds)")
    ratios = {}
    for n in names:
        m = statistics.median(times[n])
        ratios[n] = m / base
        print(f"  {n:<11}{m:>10.4f}{m / base:>8.2f}x")
    return ratios


def peak_rss_kib(argv, env):
    """Peak RSS of one child, from a fresh helper so the maximum is its own."""
    code = ("import resource, subprocess, sys\n"
            "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = run([PY, "-c", code] + argv, env=env, capture_output=True, text=True)
    return int(out.stdout.strip())


def instructions(argv, env):
    """Instructions the program executed (callgrind's Ir, all threads)."""
    out = run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + argv,
              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
              timeout=CALLGRIND_TIMEOUT)
    got = [int(l.split()[-1]) for l in out.stderr.splitlines() if "Collected :" in l]
    if out.returncode != 0 or not got:
        sys.exit(f"bench: callgrind on {' '.join(argv)} failed")
    return got[-1]


def calls_of(path):
    """malloc-family calls in a timeline: the client's summary (valgrind's
    launcher, also preloaded, ends in exec without one)."""
    best = 0
    with open(path) as f:
        for line in f:
            if '"type":"summary"' in line:
                r = json.loads(line)
                best = max(best, r["allocs"] + r["frees"] + r["reallocs"])
    return best


def extra_instructions(title, small, large, extra_env=None):
    """Extra instructions per malloc-family call: callgrind counts bare and
    under the shim, for a small and a large run of the same workload, so
    that start-up (the shim's and the program's) cancels out.  The sampler
    interval is set long: under valgrind a sample costs the same, but far
    more of them fall into the run, and this measures the hooks."""
    extra_env = extra_env or {}
    bare = env_with(**extra_env)
    ir, calls = {}, {}
    for label, argv in (("small", small), ("large", large)):
        ir["bare", label] = instructions(argv, bare)
        for stacks in ("sample", "off"):
            out = os.path.join(TMP, f"cg-{label}-{stacks}.jsonl")
            if os.path.exists(out):
                os.unlink(out)
            shim = env_with(LD_PRELOAD=SHIM, PERFPROBE_QUIET="1", PERFPROBE_OUTPUT=out,
                            PERFPROBE_INTERVAL_MS="60000", PERFPROBE_STACKS=stacks, **extra_env)
            ir[stacks, label] = instructions(argv, shim)
            calls[stacks, label] = calls_of(out)
    bare_d = ir["bare", "large"] - ir["bare", "small"]
    res = {}
    for stacks in ("sample", "off"):
        n = calls[stacks, "large"] - calls[stacks, "small"]
        res[stacks] = ((ir[stacks, "large"] - ir[stacks, "small"]) - bare_d) / n
    print(f"\n{title}: callgrind, {n:,} malloc-family calls")
    print(f"  bare {bare_d / n:7.1f} instructions per call (the program and glibc's allocator)")
    print(f"  extra under the shim: {res['sample']:5.1f} per call (default, PERFPROBE_STACKS=sample), "
          f"{res['off']:5.1f} (PERFPROBE_STACKS=off)")
    return res


def timeline_growth(secs, runs, cpu=None):
    """Timeline growth at the default interval: MB a minute for each
    (name, argv) of RUNS, with PERFPROBE_CPU=CPU when given; the bytes by
    record type for a busy run."""
    growth = {}
    for name, argv in runs:
        out = os.path.join(TMP, f"growth-{name}.jsonl")
        extra = {"PERFPROBE_CPU": cpu} if cpu else {}
        run(argv, env=env_with(LD_PRELOAD=SHIM, PERFPROBE_QUIET="1",
                               PERFPROBE_OUTPUT=out, **extra),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        size = os.path.getsize(out)
        growth[name] = size / secs * 60 / 1e6
        print(f"timeline growth, {name} for {secs} s at 10 ms"
              f"{' (PERFPROBE_CPU=' + cpu + ')' if cpu else ''}: {size:,} bytes = "
              f"{growth[name]:.2f} MB/minute")
        by, n, views = {}, {}, []
        with open(out, "rb") as f:
            for line in f:
                t = json.loads(line).get("type", "?")
                by[t] = by.get(t, 0) + len(line)
                n[t] = n.get(t, 0) + 1
                # the live-at-peak views the sampler streams (docs/sites.md)
                if t == "sites" and b'"at":"peak"' in line:
                    views.append(len(line))
        print(f"  of which {len(views)} peak site views: {sum(views):,} bytes")
        if size > 100000:
            print("  by record: " + ", ".join(
                f"{t} {n[t]} x {by[t]:,} bytes ({by[t] / secs * 60 / 1e6:.3f} MB/minute)"
                for t in sorted(by, key=by.get, reverse=True)))
    return growth


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--quick", action="store_true", help="fewer rounds, shorter runs")
    ap.add_argument("--growth", action="store_true",
                    help="only the timeline growth on churn (20 s each: 2 threads and 1, "
                         "with CPU sampling and without)")
    a = ap.parse_args()
    if a.growth:
        for t in ("2", "1"):
            timeline_growth(20, [(f"churn{t}", [CHURN, t, "-s", "20"])])
        timeline_growth(20, [("churn1-nocpu", [CHURN, "1", "-s", "20"])], cpu="off")
        return
    rounds = 3 if a.quick else a.rounds
    n = 2_000_000 if a.quick else 5_000_000
    all4 = ["bare", "perfprobe", "pp-off", "pp-all", "heaptrack", "memusage"]
    print(f"perfprobe bench: {os.cpu_count()} cpus, {rounds} rounds, medians")

    r1 = compare(f"malloc/free churn, 1 thread, {n:,} ops", [CHURN, "1", str(n)], all4, rounds)
    r2 = compare(f"malloc/free churn, 2 threads, {n:,} ops each",
                 [CHURN, "2", str(n)], all4, rounds)
    real = {}
    progs = {
        "python3": [PY, "-c", "import json; d=[{'k': i, 'v': str(i)} for i in range(300000)];"
                    "s=json.dumps(d); json.loads(s)"],
        "perl": ["perl", "-e", "my %h; $h{$_} = 'x' x ($_ % 200) for 1..400000; "
                 "my $n = 0; $n += length($h{$_}) for keys %h; print $n"],
        "sqlite3": ["sqlite3", ":memory:", "create table t(x, y); with recursive c(i) as "
                    "(select 1 union all select i+1 from c where i < 300000) insert into t "
                    "select i, hex(randomblob(16)) from c; create index ti on t(y); "
                    "select count(*) from t;"],
    }
    for name, cmd in progs.items():
        if shutil.which(cmd[0]):
            real[name] = compare(f"real program: {name}", cmd,
                                 ["bare", "perfprobe", "pp-nocpu", "pp-cpu1k", "pp-off", "pp-all",
                                  "heaptrack"], rounds)

    # start-up: each image a shell execs opens the shim's kept descriptors on
    # its own thread and starts its sampler (docs/robustness.md)
    execs = 50
    loop = f"i=0; while [ $i -lt {execs} ]; do /bin/true; i=$((i+1)); done"
    st_names = ["bare", "perfprobe", "pp-nocpu"]
    ws0 = wrappers()
    st = {n: [] for n in st_names}
    for _ in range(rounds):
        for n in st_names:
            st[n].append(run_once(ws0[n][0] + ["sh", "-c", loop], ws0[n][1]))
    st_ms = {n: (statistics.median(st[n]) - statistics.median(st["bare"])) / (execs + 1) * 1000
             for n in st_names}
    print(f"\nstart-up: sh running /bin/true {execs} times ({rounds} interleaved rounds): "
          f"{st_ms['perfprobe']:.2f} ms more per image under the shim, "
          f"{st_ms['pp-nocpu']:.2f} ms with PERFPROBE_CPU=off")

    # the shim's own memory: same workload, peak RSS with and without
    secs = 5 if a.quick else 20
    ws = wrappers()
    cmd = [CHURN, "2", "-s", str(secs)]
    bare_kib = peak_rss_kib(cmd, ws["bare"][1])
    shim_kib = peak_rss_kib(cmd, ws["perfprobe"][1])
    print(f"\nshim's own memory ({secs} s of 2-thread churn): peak RSS {shim_kib} KiB "
          f"with, {bare_kib} KiB without: {(shim_kib - bare_kib) / 1024:+.2f} MiB")

    growth = timeline_growth(secs, [("churn", cmd), ("sleep", ["sleep", str(secs)])])

    # the probe API: what a program measures itself around the calls
    def probecost(mode, n, env):
        out = run([PROBECOST, mode, str(n)], env=env, capture_output=True, text=True)
        return dict(line.split() for line in out.stdout.splitlines())
    shim_env = ws["perfprobe"][1]
    noparts_env = dict(shim_env, PERFPROBE_PARTS="0")
    nohwm_env = dict(shim_env, PERFPROBE_PARTS="0", PERFPROBE_HWM="0")
    med = lambda xs: statistics.median(xs)
    pr = {k: [] for k in ("shim", "noparts", "nohwm", "bare")}
    rg = {k: [] for k in ("shim", "bare")}
    for _ in range(5):
        pr["shim"].append(float(probecost("probe", 20000, shim_env)["probe_median_ns"]))
        pr["noparts"].append(float(probecost("probe", 20000, noparts_env)["probe_median_ns"]))
        pr["nohwm"].append(float(probecost("probe", 20000, nohwm_env)["probe_median_ns"]))
        pr["bare"].append(float(probecost("probe", 20000, ws["bare"][1])["probe_median_ns"]))
        rg["shim"].append(float(probecost("region", 10_000_000, shim_env)["region_pair_ns"]))
        rg["bare"].append(float(probecost("region", 10_000_000, ws["bare"][1])["region_pair_ns"]))
    print(f"\nperf_probe, median of 20,000 calls timed by the program (median of 5 runs):")
    print(f"  under the shim (with the RSS breakdown)   {med(pr['shim']) / 1000:6.2f} us")
    print(f"  PERFPROBE_PARTS=0                         {med(pr['noparts']) / 1000:6.2f} us")
    print(f"  PERFPROBE_PARTS=0 PERFPROBE_HWM=0         {med(pr['nohwm']) / 1000:6.2f} us")
    print(f"  without the shim (clock only)  {med(pr['bare']) / 1000:6.3f} us")
    print(f"region begin+end pair: {med(rg['shim']):.1f} ns under the shim, "
          f"{med(rg['bare']):.2f} ns without")
    small = med([peak_rss_kib([PROBECOST, "region", "1000000"], shim_env) for _ in range(5)])
    large = med([peak_rss_kib([PROBECOST, "region", "10000000"], shim_env) for _ in range(5)])
    print(f"peak RSS after 1M region pairs {small:.0f} KiB, after 10M {large:.0f} KiB "
          f"(medians of 5)")

    # the RSS breakdown on a process with a thousand mappings
    mm = [dict(line.split() for line in run(
        [MANYMAPS, "1000", "200", "5"], env=shim_env, capture_output=True, text=True).stdout.splitlines())
        for _ in range(3)]
    mm_probe = med([float(x["probe_median_ns"]) for x in mm])
    mm_share = med([float(x["sampler_core_share"]) for x in mm])
    tick = float(dict(line.split() for line in run(
        [TICK, "5"], capture_output=True, text=True).stdout.splitlines())["wakeup_core_share"])
    print(f"\n1000 mappings: a probe with the RSS breakdown {mm_probe / 1000:.0f} us (median); "
          f"the sampler at the default interval and stride uses {mm_share * 100:.2f}% of a core "
          f"(a bare thread waking every 10 ms: {tick * 100:.2f}%) (medians of 3)")

    # instructions: exact, immune to the machine's load
    cg = {}
    if shutil.which("valgrind"):
        n_cg = 100_000 if a.quick else 400_000
        cg["churn"] = extra_instructions("instructions, churn 1 thread",
                                         [CHURN, "1", "0"], [CHURN, "1", str(n_cg)])
        items = 20_000 if a.quick else 100_000
        cg["python3"] = extra_instructions(
            "instructions, python3 (PYTHONMALLOC=malloc)",
            [PY, "-c", "import json"],
            [PY, "-c", f"import json; d=[{{'k': i, 'v': str(i)}} for i in range({items})];"
                       "s=json.dumps(d); json.loads(s)"],
            {"PYTHONMALLOC": "malloc"})

    # whole programs, in instructions: the same ratios as the wall-time ones
    # above, without the machine's noise (smaller inputs: callgrind is slow)
    cg_prog = {}
    if shutil.which("valgrind"):
        k = 20_000 if a.quick else 100_000
        small_progs = {
            "python3": [PY, "-c", f"import json; d=[{{'k': i, 'v': str(i)}} for i in range({k})];"
                        "s=json.dumps(d); json.loads(s)"],
            "perl": ["perl", "-e", f"my %h; $h{{$_}} = 'x' x ($_ % 200) for 1..{k}; "
                     "my $n = 0; $n += length($h{$_}) for keys %h; print $n"],
            "sqlite3": ["sqlite3", ":memory:", "create table t(x, y); with recursive c(i) as "
                        f"(select 1 union all select i+1 from c where i < {k}) insert into t "
                        "select i, hex(randomblob(16)) from c; create index ti on t(y); "
                        "select count(*) from t;"],
        }
        print(f"\nwhole programs in instructions (callgrind, {k:,} items), ratio to bare:")
        for name, argv in small_progs.items():
            if not shutil.which(argv[0]):
                continue
            env0 = env_with(PERL_HASH_SEED="0", PERL_PERTURB_KEYS="0")
            bare_ir = instructions(argv, env0)
            row = {}
            for stacks in ("sample", "off", "all"):
                row[stacks] = instructions(argv, dict(env0, LD_PRELOAD=SHIM, PERFPROBE_QUIET="1",
                                                      PERFPROBE_STACKS=stacks,
                                                      PERFPROBE_OUTPUT=os.path.join(TMP, "cgp.%p.jsonl"))) / bare_ir
            cg_prog[name] = row
            print(f"  {name:<10} sample {row['sample']:.3f}x   off {row['off']:.3f}x   all {row['all']:.3f}x"
                  f"   (bare {bare_ir:,})")

    print("\nsummary (goal in brackets)")
    print(f"  churn 1 thread   perfprobe {r1['perfprobe']:.2f}x [<= 1.25 with stacks sampled, "
          f"the default], {r1['pp-off']:.2f}x with stacks off [<= 1.15]"
          + (f"   heaptrack {r1['heaptrack']:.1f}x" if "heaptrack" in r1 else "")
          + (f"   memusage {r1['memusage']:.2f}x" if "memusage" in r1 else ""))
    print(f"  churn 2 threads  perfprobe {r2['perfprobe']:.2f}x [<= 1.30]"
          + (f"   heaptrack {r2['heaptrack']:.1f}x" if "heaptrack" in r2 else "")
          + (f"   memusage {r2['memusage']:.2f}x" if "memusage" in r2 else ""))
    for name, r in real.items():
        print(f"  {name:<16} perfprobe {r['perfprobe']:.2f}x [<= 1.05]"
              + (f"   in instructions {cg_prog[name]['sample']:.3f}x" if name in cg_prog else ""))
    # CPU sampling: the default rate and 1 kHz, each against the shim without it
    for name, r in real.items():
        print(f"  {name:<16} CPU sampling {r['perfprobe'] / r['pp-nocpu']:.3f}x at the default "
              f"rate [<= 1.02], {r['pp-cpu1k'] / r['pp-nocpu']:.3f}x at 1 kHz")
    # allocation sites: `sample` is the default above; `all` against heaptrack
    for name, r in [("churn 1 thread", r1), ("churn 2 threads", r2)] + list(real.items()):
        if "heaptrack" in r and r["heaptrack"] > 1:
            share = (r["pp-all"] - 1) / (r["heaptrack"] - 1)
            print(f"  {name:<16} all {r['pp-all']:.2f}x: {share:.2f} of heaptrack's slowdown "
                  f"({r['heaptrack']:.2f}x) [<= 0.5]")
    for name, r in cg.items():
        print(f"  {name:<16} {r['sample']:.1f} extra instructions per call, {r['off']:.1f} with "
              f"PERFPROBE_STACKS=off [<= 35]")
    print(f"  start-up         {st_ms['perfprobe']:.2f} ms more per exec'd image [<= 2], "
          f"{st_ms['pp-nocpu']:.2f} ms without CPU sampling")
    print(f"  shim memory      {(shim_kib - bare_kib) / 1024:+.2f} MiB [< 16]")
    print(f"  timeline         {growth['churn']:.2f} MB/minute busy, "
          f"{growth['sleep']:.3f} idle [< 1]")
    print(f"  perf_probe       {med(pr['shim']) / 1000:.2f} us; {med(pr['noparts']) / 1000:.2f} us "
          f"without the breakdown; {med(pr['nohwm']) / 1000:.2f} us without it and the HWM "
          f"reset [<= 3]")
    print(f"  region pair      {med(rg['shim']):.1f} ns [<= 20], {med(rg['bare']):.2f} ns "
          f"without the shim [<= 2]")
    print(f"  10M regions      {large - small:+.0f} KiB over 1M [0]")
    print(f"  1000 mappings    probe with breakdown {mm_probe / 1000:.0f} us [< 1000], "
          f"sampler {mm_share * 100:.2f}% of a core [< 1] (bare 10 ms wakeups {tick * 100:.2f}%)")
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
