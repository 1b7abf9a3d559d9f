# The peak RSS of a program is its own, not its launcher's.  At exec Linux
# keeps the old image's high-water mark in the process's maxrss, which
# getrusage reports: a program started by a parent holding 200 MiB (its RSS
# when it forked) reads 200 MiB there from its first instruction.  The
# program here maps at most 1 MiB at a time and marks probes; its peak must
# lie between the highest RSS the timeline recorded and far below the
# parent's 200 MiB, with a parent of 200 MiB (python3) and a small one.
. "$PP_ROOT/tests/lib.sh"

big_parent() {   # OUT: run single_view under the shim from a 200 MiB python3
    $PY - "$1" "$T/single_view" "$S" <<'PYEOF'
import os, subprocess, sys
out, prog, shim = sys.argv[1:4]
held = bytearray(200 << 20)
for i in range(0, len(held), 4096):
    held[i] = 1
env = {k: v for k, v in os.environ.items() if not k.startswith("PERFPROBE_")}
env.update(LD_PRELOAD=shim, PERFPROBE_QUIET="1", PERFPROBE_OUTPUT=out)
sys.exit(subprocess.run([prog, "facts", "300"], env=env).returncode)
PYEOF
}

big_parent big.jsonl
eq "from a 200 MiB parent: exits 0" $? 0
traced small.jsonl "$T/single_view" facts 300
eq "from the shell: exits 0" $? 0
for f in big small; do
    peak=$(summary $f.jsonl peak_rss_bytes)
    seen=$(jq -s '[.[] | (.rss // .rss_bytes // 0)] | max' $f.jsonl)
    le "$f parent: peak RSS at least the highest RSS recorded" "$seen" "$peak"
    le "$f parent: peak RSS the program's own, far below the parent's 200 MiB" "$peak" $((64 << 20))
done
