# Python frames in allocation stacks (shim/core/pyframes.c), on every CPython
# 3.8-3.13 on the machine (Debian's python3 and pyenv's versions; an absent
# one is skipped with a line saying so).  Ground truth: what the script did
# on purpose, at lines the test finds by their markers: one 50,000,000-byte
# bytearray, N bytes(600) objects (600 + 33 bytes of header: over pymalloc's
# 512, so each is one malloc), a list grown by appends (each growth of its
# item array past 512 bytes is one realloc, of the size sys.getsizeof
# reports), two threads allocating in two functions, a generator and an
# async function.  With `all` the allocations at each line are exact (bytes
# within the allocator's rounding of each block), with `sample` within the
# error bars; flame and pprof carry the same lines; the offsets table agrees
# with each version's own headers (offsetof).  Hostile: frames made and
# unmade on 4 threads, recursion near the limit, fork, shutdown, Ctrl-C:
# output and status the same with and without the shim.
# timeout: 1800
. "$PP_ROOT/tests/lib.sh"
P=$PP_BUILD/perfprobe

cat > script.py <<'EOF'
import asyncio, sys, threading
try:
    import zlib
except ImportError:
    zlib = None

N_BIG = 50_000_000
N_SMALL = 20_000
K = 200

def make_buffer():
    return bytearray(N_BIG)  # L:buffer

def many_small(n):
    keep = [None] * n
    for i in range(n):
        keep[i] = bytes(600)  # L:small
    return keep

def grow_list(n, facts):
    lst = []
    base = sys.getsizeof([])
    last, steps, total = 0, 0, 0
    for i in range(n):
        lst.append(i)  # L:append
        size = sys.getsizeof(lst) - base
        if size != last:
            last = size
            if size > 512:
                steps += 1
                total += size
    facts.append("append_steps %d" % steps)
    facts.append("append_bytes %d" % total)
    return lst

def hold_small(n, facts):
    keep = [None] * n
    for i in range(n):
        keep[i] = (i, -i - 1000)  # L:arena
    facts.append("arena_objects %d" % (n * (sys.getsizeof(keep[0]) + 2 * sys.getsizeof(10**6))))
    return keep

def worker_a(out):
    for i in range(K):
        out[i] = bytearray(10_000)  # L:thread_a

def worker_b(out):
    for i in range(K):
        out[i] = bytearray(12_000)  # L:thread_b

def gen(n):
    for i in range(n):
        yield bytearray(20_000)  # L:gen

async def produce(n):
    out = [None] * n
    for i in range(n):
        out[i] = bytearray(30_000)  # L:async
        await asyncio.sleep(0)
    return out

def compress_some():
    if zlib is None:
        return None
    return zlib.compressobj(9)  # L:ext

def main():
    facts = []
    z = compress_some()
    b = make_buffer()
    s = many_small(N_SMALL)
    l = grow_list(100_000, facts)
    h = hold_small(200_000, facts)
    oa, ob = [None] * K, [None] * K
    ta = threading.Thread(target=worker_a, args=(oa,))
    tb = threading.Thread(target=worker_b, args=(ob,))
    ta.start(); tb.start(); ta.join(); tb.join()
    g = sum(len(x) for x in gen(50))
    a = asyncio.run(produce(40))
    with open(sys.argv[1], "w") as f:
        f.write("\n".join(facts) + "\n")
    print(len(b), len(s), len(l), g, len(a))

main()
EOF
line() { grep -n "# L:$1\$" script.py | cut -d: -f1; }

# report_json FILE: report --json of FILE, made once and kept beside it
# (a finished timeline reads the same each time)
report_json() {
    [ -s "$1.report.json" ] || "$P" report --json "$1" > "$1.report.json"
    cat "$1.report.json"
}

# the bytes and allocations of the sites whose innermost Python frame is
# FN at script.py:LINE, from report --json: the malloc'd blocks, or with
# ARENA=1 pymalloc's arenas (sites whose first frame is the arena)
at_line() {  # FILE FN LINE FIELD
    report_json "$1" | jq --arg fn "$2" --argjson l "$3" --arg k "$4" --argjson a "${ARENA:-0}" '
        [.sites[] | select((.frames[0].fn | startswith("(pymalloc arena")) == ($a == 1))
         | select(([.frames[] | select(.python)][0]) as $p
                           | $p.fn == $fn and ($p.file | endswith("script.py")) and $p.line == $l)
         | .[$k]] | add // 0 | floor'
}

cat > profile.proto <<'PROTO'
syntax = "proto3";
package perftools.profiles;
message Profile {
  repeated ValueType sample_type = 1; repeated Sample sample = 2; repeated Mapping mapping = 3;
  repeated Location location = 4; repeated Function function = 5; repeated string string_table = 6;
  int64 drop_frames = 7; int64 keep_frames = 8; int64 time_nanos = 9; int64 duration_nanos = 10;
  ValueType period_type = 11; int64 period = 12; repeated int64 comment = 13;
  int64 default_sample_type = 14;
}
message ValueType { int64 type = 1; int64 unit = 2; }
message Sample { repeated uint64 location_id = 1; repeated int64 value = 2; }
message Mapping { uint64 id = 1; uint64 memory_start = 2; uint64 memory_limit = 3; uint64 file_offset = 4;
  int64 filename = 5; int64 build_id = 6; bool has_functions = 7; bool has_filenames = 8;
  bool has_line_numbers = 9; bool has_inline_frames = 10; }
message Location { uint64 id = 1; uint64 mapping_id = 2; uint64 address = 3; repeated Line line = 4; bool is_folded = 5; }
message Line { uint64 function_id = 1; int64 line = 2; }
message Function { uint64 id = 1; int64 name = 2; int64 system_name = 3; int64 filename = 4; int64 start_line = 5; }
PROTO

cat > hostile.py <<'EOF'
import os, signal, sys, threading, atexit

def churn(depth, out):
    if depth == 0:
        out.append(bytearray(1000 + len(out) % 64))
        return
    g = (bytearray(700) for _ in range(2))
    for x in g:
        out.append(x)
    churn(depth - 1, out)

def worker(n):
    for i in range(n):
        out = []
        churn(i % 30, out)

ts = [threading.Thread(target=worker, args=(300,)) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()

limit = 3000
sys.setrecursionlimit(limit)
def deep(n):
    if n == 0:
        return len(bytearray(100_000))
    return deep(n - 1)
print("deep", deep(limit - 100))

pid = os.fork()
if pid == 0:
    x = [bytearray(5000) for _ in range(100)]
    os._exit(len(x) % 7)
_, status = os.waitpid(pid, 0)
print("child", os.WEXITSTATUS(status))

import multiprocessing
def square_buffer(n):
    return len(bytearray(n * 1000))
if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool(2) as pool:
        print("pool", pool.map(square_buffer, range(6)))

try:
    keep = []
    for i in range(100_000):
        keep.append(bytearray(2000))
        if i == 5000:
            os.kill(os.getpid(), signal.SIGINT)
except KeyboardInterrupt:
    print("interrupted", len(keep) > 5000)

class Late:
    def __del__(self):
        bytearray(50_000)
        print("del at shutdown")
late = Late()
atexit.register(lambda: print("atexit", len(bytearray(60_000))))
def spin():
    while True:
        bytearray(3000)
threading.Thread(target=spin, daemon=True).start()
print("done")
EOF

python_versions

# one_version NAME PATH: every check on one interpreter; its files all
# carry NAME, so that two versions can run side by side
one_version() {
    local name=$1 py=$2
    [ -x "$py" ] || { echo "# skip: $name: $py absent"; return; }
    minor=$("$py" -c 'import sys; print(sys.version_info[1])')
    ver=$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
    tag="python $ver ($name)"

    # the offsets table against this version's headers
    inc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    if [ -f "$inc/internal/pycore_frame.h" ] || [ "$minor" -lt 11 ]; then
        cc -I"$inc" -o off.$name "$PP_ROOT/tests/python/offsets.c" 2>/dev/null &&
        cc -I"$PP_ROOT/shim/core" -DPP_TABLE -I"$inc" -o tab.$name "$PP_ROOT/tests/python/offsets.c"
        eq "$tag: the offsets table is what the headers say" "$(./tab.$name)" "$(./off.$name)"
    else
        echo "# skip: $tag: no internal headers to check the offsets against"
    fi

    # every site in the record (not the top 100): a line's figures are summed
    # over all the native stacks under it
    PERFPROBE_TOP=100000 PERFPROBE_STACKS=all traced all.$name.jsonl "$py" script.py facts.$name > out.$name 2> err.$name
    eq "$tag: exit status with the shim" $? 0
    eq "$tag: nothing on stderr" "$(cat err.$name)" ""
    eq "$tag: pyframe records are valid JSON lines" "$(valid_jsonl all.$name.jsonl && echo yes)" yes
    f=all.$name.jsonl
    eq "$tag: all: the bytearray is one allocation at make_buffer (script.py:$(line buffer))" \
        "$(at_line $f make_buffer "$(line buffer)" allocs)" 1
    bounded "$tag: all: its bytes, 50,000,001 rounded up by the allocator" \
        "$(at_line $f make_buffer "$(line buffer)" alloc_bytes)" 50000001 $((50000001 + 4096 + 16)) 0
    eq "$tag: all: bytes(600) x 20000 are 20000 allocations at many_small (script.py:$(line small))" \
        "$(at_line $f many_small "$(line small)" allocs)" 20000
    bounded "$tag: all: of 633 bytes each, rounded by at most 16" \
        "$(at_line $f many_small "$(line small)" alloc_bytes)" $((20000 * 633)) $((20000 * 649)) 0
    eq "$tag: all: the list's growth past 512 bytes is one realloc a step at grow_list (script.py:$(line append))" \
        "$(at_line $f grow_list "$(line append)" allocs)" "$(fact facts.$name append_steps)"
    steps=$(fact facts.$name append_steps)
    bounded "$tag: all: of the sizes sys.getsizeof saw" \
        "$(at_line $f grow_list "$(line append)" alloc_bytes)" "$(fact facts.$name append_bytes)" \
        $(( $(fact facts.$name append_bytes) + steps * 4112 )) 0
    arena=$(ARENA=1 at_line $f hold_small "$(line arena)" alloc_bytes)
    bounded "$tag: all: pymalloc arenas at hold_small (script.py:$(line arena)) hold its 200000 tuples" \
        "$arena" "$(fact facts.$name arena_objects)" $(( $(fact facts.$name arena_objects) * 2 + 4194304 )) 5
    eq "$tag: all: whole arenas (256 KiB or 1 MiB each)" \
        "$(( arena % 262144 ))" 0
    eq "$tag: all: thread A's 200 at worker_a, none of thread B's" \
        "$(at_line $f worker_a "$(line thread_a)" allocs)" 200
    eq "$tag: all: thread B's 200 at worker_b" "$(at_line $f worker_b "$(line thread_b)" allocs)" 200
    eq "$tag: all: the generator's 50 at gen (script.py:$(line gen))" \
        "$(at_line $f gen "$(line gen)" allocs)" 50
    eq "$tag: all: the coroutine's 40 at produce (script.py:$(line async))" \
        "$(at_line $f produce "$(line async)" allocs)" 40
    # callers: make_buffer is called from main, main from <module>
    eq "$tag: all: the bytearray's Python stack is make_buffer < main < <module>" \
        "$(report_json $f | jq -r '[.sites[] | select(.alloc_bytes > 40000000)][0]
            | [.frames[] | select(.python) | .fn] | join(" < ")')" "make_buffer < main < <module>"
    # a C extension called from Python: zlib's deflateInit2_ allocates its
    # state natively; the stack has the Python line, then the C frames
    if "$py" -c 'import zlib' 2>/dev/null; then
        eq "$tag: all: zlib.compressobj's native blocks are at compress_some (script.py:$(line ext)), inside deflateInit2_" \
            "$(report_json $f | jq -r --argjson l "$(line ext)" '[.sites[]
                | select(([.frames[] | select(.python)][0] | .fn == "compress_some" and .line == $l))
                | (.frames | map(.fn) | index("deflateInit2_")) as $c
                | (.frames | map(.python // false) | index(true)) as $p
                | select($c != null and $c < $p)] | length > 0')" true
    else
        echo "# skip: $tag has no zlib module"
    fi
    check "$tag: report --sites leads with the Python line" \
        grep -q "py:make_buffer (script.py:$(line buffer)) < py:main" <("$P" report --sites $f)

    # flame: the folded frames of that line sum to the same bytes
    "$P" flame $f > fold.$name
    eq "$tag: flame: script.py:make_buffer:$(line buffer) carries the same bytes" \
        "$(awk -v k="script.py:make_buffer:$(line buffer)" 'index($0, k) { s += $NF } END { printf "%d", s }' fold.$name)" \
        "$(at_line $f make_buffer "$(line buffer)" alloc_bytes)"
    # pprof: a function make_buffer in script.py, a location at its line
    "$P" pprof $f -o p.$name.pb.gz
    zcat p.$name.pb.gz | protoc --decode=perftools.profiles.Profile profile.proto > p.$name.txt
    eq "$tag: pprof: make_buffer's function names script.py and its first line, a location its line" \
        "$(awk -v L="$(line buffer)" -v F="$(( $(line buffer) - 1 ))" '
            /^string_table:/ { s[n++] = $2 }
            /^function {/ { inf = 1; id = name = file = start = "" } inf && /^  id:/ { id = $2 }
            inf && /^  name:/ { name = $2 } inf && /^  filename:/ { file = $2 } inf && /^  start_line:/ { start = $2 }
            inf && /^}/ { inf = 0; fn[id] = name; ff[id] = file; fs[id] = start }
            /^    function_id:/ { cur = $2 } /^    line:/ { ln[cur "," $2] = 1 }
            END { for (i in fn) if (s[fn[i]] == "\"make_buffer\"" && s[ff[i]] ~ /script.py"$/ &&
                  fs[i] == F && ((i "," L) in ln)) ok = 1; print ok ? "yes" : "no" }' p.$name.txt)" yes

    # sample mode: the big block stands for itself; the small ones are estimated
    PERFPROBE_TOP=100000 PERFPROBE_SAMPLE_BYTES=65536 traced s.$name.jsonl "$py" script.py /dev/null > /dev/null 2>&1
    within "$tag: sample: the bytearray at make_buffer" \
        "$(at_line s.$name.jsonl make_buffer "$(line buffer)" alloc_bytes)" 50003952 1
    within "$tag: sample: bytes(600) x 20000 at many_small within 4 standard errors (7%)" \
        "$(at_line s.$name.jsonl many_small "$(line small)" alloc_bytes)" $((20000 * 648)) 28

    # hostile: output and status the same with and without the shim.  (3.12
    # and later warn at os.fork() in a process with more than one thread,
    # counted from /proc/self/stat: the shim's sampler thread is counted, a
    # known difference of its own, not of the frames: the warning is off.)
    timeout 120 "$py" -W ignore::DeprecationWarning hostile.py > bare.$name 2>&1; bs=$?
    PERFPROBE_STACKS=all timeout 120 env PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=h.$name.jsonl \
        LD_PRELOAD=$S "$py" -W ignore::DeprecationWarning hostile.py > shim.$name 2>&1; ss=$?
    eq "$tag: hostile: exit status bare and with the shim" "$ss" "$bs"
    eq "$tag: hostile: output bare and with the shim" "$(cat shim.$name)" "$(cat bare.$name)"
    check "$tag: hostile: the deep recursion's stack has Python frames" \
        grep -q '"name":"deep"' h.$name.jsonl
}

each_version one_version

# a version the shim cannot read says so, once, and nothing else changes
old=$(ls -d "$HOME"/.pyenv/versions/3.7.*/bin/python3 2>/dev/null | tail -1)
if [ -n "$old" ]; then
    traced o.jsonl "$old" -c 'print(len(bytearray(10**6)))' > o.out 2> o.err
    eq "python 3.7: output unchanged" "$(cat o.out)" 1000000
    eq "python 3.7: one line on stderr says why" "$(cat o.err)" \
        "perfprobe: warning: Python frames are not read: CPython 3.7; native frames only"
else
    echo "# skip: no CPython 3.7 to check the refusal"
fi

# an application that embeds Python (libpython, Debian's): its own native
# frames around the Python ones; a thread of its own has native frames only
if cc -O1 -g $(/usr/bin/python3-config --includes) -o embed "$PP_ROOT/tests/python/embed.c" \
      $(/usr/bin/python3-config --embed --ldflags) -pthread 2>/dev/null; then
    PERFPROBE_TOP=100000 PERFPROBE_STACKS=all traced e.jsonl ./embed > e.out
    eq "embedded: exit status and output" "$?:$(cat e.out)" "0:0"
    eq "embedded: the bytearray's stack reads fill (<string>:2) < <module> (<string>:3) inside run_snippet < main" \
        "$(report_json e.jsonl | jq -r '[.sites[] | select(.alloc_bytes > 6900000 and .alloc_bytes < 7100000)][0]
            | [.frames[] | select(.python or .fn == "run_snippet" or .fn == "main")
               | if .python then "\(.fn) (\(.file):\(.line))" else .fn end] | join(" < ")')" \
        "fill (<string>:2) < <module> (<string>:3) < run_snippet < main"
    eq "embedded: the native thread's 10 blocks have no Python frame" \
        "$(report_json e.jsonl | jq '[.sites[] | select(any(.frames[]; .fn == "native_thread"))
            | select(all(.frames[]; .python | not)) | .allocs] | add')" 10
else
    echo "# skip: no libpython to embed (python3-dev)"
fi

# an application that loads libpython itself, later, with dlopen(RTLD_LOCAL):
# the shim meets the interpreter after it started, out of the global scope
lib=$(/usr/bin/python3 -c "import os, sysconfig as s; print(os.path.join(s.get_config_var('LIBDIR'), s.get_config_var('INSTSONAME')))")
if [ -f "$lib" ] && cc -O1 -g -o embed_dlopen "$PP_ROOT/tests/python/embed_dlopen.c" -ldl; then
    # at once (the interpreter starts before the sampler's next tick), and
    # 200 ms after the load; every allocation's stack, and one in 512 KiB
    for how in "all 0" "all 200" "sample 0"; do
        set -- $how
        ./embed_dlopen "$lib" "$2" > bare.out 2> bare.err
        PERFPROBE_TOP=100000 PERFPROBE_STACKS=$1 traced d.jsonl ./embed_dlopen "$lib" "$2" > d.out 2> d.err
        eq "dlopen'd ($1, $2 ms): exit status, output and stderr as bare" \
            "$?:$(cat d.out):$(cat d.err)" "0:$(cat bare.out):$(cat bare.err)"
        eq "dlopen'd ($1, $2 ms): the bytearray's stack reads fill (<string>:2) < <module> (<string>:3) < main" \
            "$("$P" report --json d.jsonl | jq -r '[.sites[] | select(.alloc_bytes > 8900000 and .alloc_bytes < 9100000)][0]
                | [.frames[] | select(.python or .fn == "main")
                   | if .python then "\(.fn) (\(.file):\(.line))" else .fn end] | join(" < ")')" \
            "fill (<string>:2) < <module> (<string>:3) < main"
    done
else
    echo "# skip: no shared libpython ($lib) to load"
fi

# a program without Python: the look-up of CPython's symbols leaves no
# dlerror() behind
eq "not Python: the program's first dlerror() reads NULL, as bare" \
    "$(traced d.jsonl "$T/dlerror_first")" "$("$T/dlerror_first")"
