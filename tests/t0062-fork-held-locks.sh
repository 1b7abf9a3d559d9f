# A fork while the sampler thread holds one of the shim's locks: the child
# has no sampler, so nothing in it may wait for one.  gdb stops the sampler
# inside each lock (a breakpoint on a line the lock guards, on any thread
# but the program's), and with the sampler held there (scheduler-locking)
# the program's own thread forks 10 children that exit at once.  A child
# that has not ended 2 s after its fork is stuck (fork_held kills it and
# counts it).  Ground truth: the 10 forks the program made, and gdb's word
# that the sampler was stopped at that line throughout.  (The program's
# line shares g.out with gdb's, which may print "[" before it and the rest
# of its own line after: the line is found by its shape.)
. "$PP_ROOT/tests/lib.sh"

if ! command -v gdb > /dev/null; then
    fail "gdb is needed to hold the sampler in a lock (tools/install-deps.sh installs it)"
    exit 0
fi
if ! gdb -q -nx -batch -ex run --args /bin/true > gdb-check.out 2>&1; then
    echo "# skip: gdb may not trace a child here: $(tail -1 gdb-check.out)"
    exit 0
fi

cat > held.py <<'PY'
import gdb, os
for c in ["set pagination off", "set confirm off", "set startup-with-shell off",
          "set detach-on-fork on", "set follow-fork-mode parent",
          "set environment LD_PRELOAD " + os.environ["HELD_SHIM"],
          "set environment PERFPROBE_INTERVAL_MS " + os.environ["HELD_INTERVAL"],
          "set environment PERFPROBE_QUIET 1",
          "set environment PERFPROBE_STACKS all",
          "set environment PERFPROBE_OUTPUT " + os.environ["HELD_OUT"]]:
    gdb.execute(c)
m = gdb.Breakpoint("main")
gdb.execute("run")                      # the shim is loaded: its lines resolve
m.delete()
b = gdb.Breakpoint(os.environ["HELD_AT"])
b.condition = "$_thread != 1"           # the sampler, not the program
done = gdb.Breakpoint("forks_done")
while not b.hit_count and not done.hit_count and gdb.selected_inferior().pid:
    gdb.execute("continue")         # until one of the two (not another stop)
if b.hit_count:
    gdb.execute("set scheduler-locking on")
    held = gdb.selected_thread().num
    gdb.execute("thread 1")
    while not done.hit_count:
        gdb.execute("continue")
    print("held: thread %d stopped at the line while the program forked" % held)
b.delete()
done.delete()
gdb.execute("set scheduler-locking off")
while gdb.selected_inferior().pid:      # to its end: a stop another thread
    try:                                # had pending ends a continue too
        gdb.execute("continue")
    except gdb.error:
        break
PY

# FILE MARKER INTERVAL [ARG]: a line inside the lock, found by its text;
# fork_held run with 10 and ARG, sampled every INTERVAL ms
held() {
    local file=$1 marker=$2 interval=$3 arg=${4:-} line
    line=$(grep -nF -- "$marker" "$PP_ROOT/$file" | cut -d: -f1)
    if [ "$(echo "$line" | wc -w)" != 1 ]; then
        fail "$file: the line '$marker' is not there once"
        return
    fi
    rm -f h.jsonl
    HELD_SHIM=$S HELD_OUT=$PWD/h.jsonl HELD_AT="$file:$line" HELD_INTERVAL=$interval \
        timeout -k 5 120 gdb -q -nx -batch -x held.py --args "$T/fork_held" 10 $arg > g.out 2> g.err
    eq "$file:$line ($marker): the sampler was held there while the program forked" \
        "$(grep -c '^held: ' g.out)" 1
    eq "$file:$line: every child ended (the program's count)" \
        "$(grep -o 'forks [0-9]* stuck [0-9]*' g.out)" "forks 10 stuck 0"
    eq "$file:$line: a header for the program and each child" \
        "$(jq -r 'select(.type == "header") | .pid' h.jsonl | sort -u | wc -l)" 11
    eq "$file:$line: every line of the timeline is JSON (jq)" \
        "$(jq -c .type h.jsonl > /dev/null 2>&1; echo $?)" 0
}

# the breakdown at the RSS peak: noted and read by the sampler, read by a
# forked child's first sample
held shim/core/parts.c 'peak_parts = *p;' 1
held shim/core/parts.c 'int ok = have_peak;' 1
# the quick breakdown's key
held shim/core/parts.c 'quick_key.valid = quick;' 1
# the shim's scan of the loader's list of modules, here on a thread of the
# program's whose allocation has a frame in a library just opened (the
# sampler scans too, after a dlopen): the
# scan holds the loader's write lock, which glibc leaves held in a forked
# child, so that the child's own scan at its probe would wait for ever.
# The fork waits 50 ms for the scan, then goes ahead; the child then never
# scans.  (The sampler ticks once a second here: with gdb stopping every
# thread but the forking one, a sampler caught inside the timeline's lock
# would hold the fork.)
printf '#include <stdlib.h>\nvoid *held_alloc(void) { return malloc(100); }\n' > held.c
gcc -shared -fPIC -O1 -o libheld.so held.c
held shim/sys/linux/modules.c 'if (*first) {' 1000 "$PWD/libheld.so"
eq "a child whose fork caught the scan wrote its probe" \
    "$(jq -r 'select(.type == "probe" and .label == "child") | .pid' h.jsonl | sort -u | wc -l)" 10
