# Python frames of code that is compiled, run and dropped in a loop (exec
# of generated code, a module reloaded): the next round's code object and
# its file and name strings are made where the last round's were freed,
# so a frame is told by what its strings hold, not only by where they are.
# Before, rounds took an earlier round's file and line (5 of 60 right on
# Debian's 3.11).  And a file name longer than the 191 bytes kept keeps its
# end, the file's own name, after "...": two files in one long directory
# read the same before.  And objects made in a loop: 3.13 runs __init__
# under a frame of its own (_Py_InitCleanup) that the interpreter never
# shows, and 9 allocations in 10 had it between __init__ and its caller.
# Ground truth: what each round compiled, and the frames sys._getframe
# gives, on every CPython 3.8-3.13 on the machine, allocation stacks
# (every stack) and CPU samples (the caller of each round's function).
# timeout: 900
. "$PP_ROOT/tests/lib.sh"
P=$PP_BUILD/perfprobe

cat > reuse.py <<'EOF2'
import gc
for i in range(40):
    src = "def f%d():\n" % i + "\n" * (i % 7) + "    return bytearray(%d)\n" % (3_000_000 + 20_000 * i)
    src += "x = f%d()\n" % i
    g = {}
    exec(compile(src, "gen_%d.py" % i, "exec"), g)
    del g
    gc.collect()
d = "/" + "d" * 240
for name, n in (("alpha", 5_000_000), ("beta", 6_000_000)):
    g = {}
    exec(compile("def f():\n    return bytearray(%d)\nx = f()\n" % n, d + "/" + name + ".py", "exec"), g)
print("done")
EOF2

cat > reusecpu.py <<'EOF2'
import time
for i in range(12):
    src = "def burn%d():\n    t = time.monotonic() + 0.08\n    while time.monotonic() < t:\n        pass\n" % i
    src += "\n" * (i % 5) + "burn%d()\n" % i
    g = {"time": time}
    exec(compile(src, "cpu_round_%d.py" % i, "exec"), g)
    del g
print("done")
EOF2

cat > init.py <<'EOF2'
import sys
keep = []
class A:
    def __init__(self, i):
        keep.append(bytearray(11_000_000 + i))
        if i == 9:
            f, st = sys._getframe(), []
            while f:
                st.append(f.f_code.co_name)
                f = f.f_back
            print(" ".join(st))
def make():
    for i in range(10):
        A(i)
make()
EOF2

cat > initcpu.py <<'EOF2'
import time
class A:
    def __init__(self):
        t = time.perf_counter()
        while time.perf_counter() - t < 0.002:
            pass
for i in range(300):
    A()
EOF2

python_versions

one_version() {
    local name=$1 py=$2
    [ -x "$py" ] || { echo "# skip: $name: $py absent"; return; }
    "$py" reuse.py > bare.$name.out
    PERFPROBE_STACKS=all traced r.$name.jsonl "$py" reuse.py > shim.$name.out
    eq "$name: status and output as bare" "$? $(cat shim.$name.out)" "0 $(cat bare.$name.out)"
    "$P" report --json r.$name.jsonl > r.$name.json
    # each round's block: the innermost Python frame is f<i> in gen_<i>.py
    # at line 2 + i % 7 (and the round's own <module> under it)
    right=$(jq -r '[range(0; 40) as $i | (3000000 + 20000 * $i) as $n
        | [.sites[] | select(.alloc_bytes >= $n and .alloc_bytes < $n + 8192)][0]
        | [.frames[]? | select(.python)][0:2]
        | select(length == 2 and .[0].fn == "f\($i)" and .[0].file == "gen_\($i).py"
                 and .[0].line == 2 + $i % 7 and .[1].file == "gen_\($i).py")] | length' r.$name.json)
    eq "$name: the rounds whose block has their own file, function and line" "$right" 40
    eq "$name: a long path keeps the file's name" \
        "$(jq -r '[.sites[].frames[]? | select(.python) | .file | select(startswith("...")) | sub(".*/"; "")] | unique | join(" ")' r.$name.json)" \
        "alpha.py beta.py"

    # the frames of each object's allocation: those sys._getframe gives
    PERFPROBE_STACKS=all traced i.$name.jsonl "$py" init.py > i.$name.out
    eq "$name: objects made in a loop: what the interpreter shows" "$(cat i.$name.out)" "__init__ make <module>"
    eq "$name: objects made in a loop: the Python frames of all 10 allocations" \
        "$("$P" report --json i.$name.jsonl | jq -r '[.sites[] | select(.alloc_bytes >= 11000000)
            | ([.frames[] | select(.python) | .fn | sub(".*[.]"; "")] | join(" ")) as $f | range(.allocs) | $f]
            | (unique | join(",")) + " \(length)"')" "__init__ make <module> 10"

    PERFPROBE_CPU=1000 traced ic.$name.jsonl "$py" initcpu.py
    "$P" flame --cpu ic.$name.jsonl > ic.$name.txt 2> /dev/null
    check "$name: CPU samples in __init__" grep -Eq 'initcpu\.py:(A\.)?__init__:' ic.$name.txt
    eq "$name: CPU samples with a frame the interpreter never shows" \
        "$(grep -c ';__init__:__init__:' ic.$name.txt)" 0

    PERFPROBE_CPU=1000 traced c.$name.jsonl "$py" reusecpu.py > /dev/null
    # the CPU stacks of burn<i>: its caller is <module> of cpu_round_<i>.py
    # at line 5 + i % 5
    "$P" flame --cpu c.$name.jsonl > c.$name.txt 2> /dev/null
    bad=$(grep -o 'cpu_round_[0-9]*\.py:<module>:[0-9]*;cpu_round_[0-9]*\.py:burn[0-9]*' c.$name.txt |
          awk -F'[_.:;]' '{ if ($3 != $9 || $3 != substr($11, 5) || $6 != 5 + $3 % 5) bad++ } END { print bad + 0 }')
    seen=$(grep -c 'cpu_round_[0-9]*\.py:burn' c.$name.txt)
    check "$name: CPU samples in the rounds' functions ($seen stacks)" test "$seen" -gt 0
    eq "$name: CPU samples whose caller is another round's" "$bad" 0
}
each_version one_version
