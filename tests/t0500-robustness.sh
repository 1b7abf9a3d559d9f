# The shim is invisible: real programs and programs that do what real
# programs do behave the same bare and under the shim (exit status or
# signal, stdout), never hang, and every timeline they leave is readable.
# Each scenario is a row of docs/robustness.md.
. "$PP_ROOT/tests/lib.sh"
PP=$PP_BUILD/perfprobe
LIBDIR=/usr/lib/x86_64-linux-gnu

# same DESC CMD...: run CMD bare and under the shim (60 s at most each) and
# compare the exit status and stdout; the timeline must be readable
same() {
    local desc=$1; shift
    timeout -k 5 60 "$@" > bare.out 2> bare.err
    local rb=$?
    rm -f s.jsonl
    PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/s.jsonl LD_PRELOAD=$S timeout -k 5 60 "$@" \
        > shim.out 2> shim.err
    local rs=$?
    eq "$desc: exit status as bare" "$rs" "$rb"
    if cmp -s bare.out shim.out; then ok "$desc: stdout as bare"
    else fail "$desc: stdout differs: $(diff bare.out shim.out | head -3 | tr '\n' ' ')"; fi
    if [ -s s.jsonl ]; then
        "$PP" report --json s.jsonl > /dev/null 2> rep.err
        eq "$desc: the timeline is readable" $? 0
    else
        fail "$desc: no timeline"
    fi
}

# ---- real programs --------------------------------------------------------------
same "java -version" java -Xmx256m -version
cat > Alloc.java <<'EOF'
public class Alloc {
    public static void main(String[] a) throws Exception {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("hook ran")));
        java.util.List<int[]> keep = new java.util.ArrayList<>();
        for (int i = 0; i < 200; i++) keep.add(new int[10000]);
        Thread t = new Thread(() -> { long s = 0; for (int i = 0; i < 1000000; i++) s += i; });
        t.start(); t.join();
        System.out.println("ready " + keep.size());
        System.out.flush();
        Thread.sleep(30000);
    }
}
EOF
# java_term PRELOAD: the class's output and exit status after SIGTERM
java_term() {
    rm -f jt.out
    PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/j.jsonl LD_PRELOAD=$1 timeout -k 5 90 \
        java -Xmx256m Alloc.java > jt.out 2> jt.err &
    local pid=$! i=0
    while ! grep -q ready jt.out 2>/dev/null && [ $i -lt 1500 ]; do sleep 0.05; i=$((i + 1)); done
    kill -TERM "$(below $pid -f 'java -Xmx256m Alloc.java')" 2>/dev/null
    wait $pid
    echo "$? $(tr '\n' ' ' < jt.out)"
}
bare_java=$(java_term "")
eq "java: a class that allocates, SIGTERM runs its shutdown hook, as bare" \
    "$(java_term "$S")" "$bare_java"

same "ruby: threads" ruby -e 'ts = (1..4).map { |i| Thread.new { ("x" * 100_000 * i).size } }; p ts.map(&:value)'
same "node" node -e 'let a = []; for (let i = 0; i < 100000; i++) a.push({i}); console.log(a.length)'
same "python3: its SIGINT handler is installed (SIGINT was left at SIG_DFL)" \
    /usr/bin/python3 -c 'import signal; print(signal.getsignal(signal.SIGINT))'

# python3 under SIGINT: KeyboardInterrupt reaches the program's except block
py_int() {
    rm -f pi.out
    LD_PRELOAD=$1 PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/pi.jsonl perl -e \
        '$SIG{INT} = "DEFAULT"; exec @ARGV' /usr/bin/python3 -c '
import time, sys
try:
    print("ready", flush=True); time.sleep(30)
except KeyboardInterrupt:
    print("caught"); sys.exit(7)' > pi.out &
    local pid=$! i=0
    while ! grep -q ready pi.out 2>/dev/null && [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done
    kill -INT $pid
    wait $pid
    echo "$? $(tr '\n' ' ' < pi.out)"
}
eq "python3: SIGINT raises KeyboardInterrupt, as bare" "$(py_int "$S")" "$(py_int "")"
py_term() {
    LD_PRELOAD=$1 PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/pt.jsonl /usr/bin/python3 -c '
import time; print("ready", flush=True); time.sleep(30)' > pt.out &
    local pid=$! i=0
    while ! grep -q ready pt.out 2>/dev/null && [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done
    kill -TERM $pid
    wait $pid
    echo $?
}
eq "python3: SIGTERM kills it as bare" "$(py_term "$S")" "$(py_term "")"

# git under SIGTERM while it waits for its editor: its sigchain handler
# restores the previous handler with signal() and raises again
git init -q repo && (cd repo && echo a > a && git add a && git -c user.name=t -c user.email=t@t commit -qm a)
git_term() {
    (cd repo && echo b >> a && LD_PRELOAD=$1 PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/../g.jsonl \
        GIT_EDITOR="echo ready > ../gready; sleep 20;:" timeout -k 5 60 \
        git -c user.name=t -c user.email=t@t commit -qa > /dev/null 2>&1) &
    local pid=$! i=0
    while [ ! -e gready ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done
    rm -f gready
    kill -TERM "$(below $pid -x git)"       # this run's git, not another of the machine
    wait $pid
    echo $?
}
eq "git commit under SIGTERM: dies as bare (no loop)" "$(git_term "$S")" "$(git_term "")"
same "a program that saves and restores its handler with signal() dies of its raise" \
    "$T/robust_sigrestore"

same "unshare -U -r (must be single-threaded)" unshare -U -r id -u
eq "unshare -U -r: works bare here (so the comparison means something)" "$(cat bare.out)" 0

# ---- descriptors ------------------------------------------------------------------
pipes() {
    for k in 1 2 3 4 5 6 7 8 9 10; do
        LD_PRELOAD=$1 PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/p.jsonl timeout -k 5 120 \
            bash -c 'for i in $(seq 100); do seq 1000 | wc -l; done' | sort | uniq -c | tr -s ' '
    done | sort | uniq -c | tr -s ' '
}
eq "bash: 100 pipelines, 10 runs, every output line there" "$(pipes "$S")" " 10 100 1000"
LD_PRELOAD=$S PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/e.jsonl timeout -k 5 120 \
    bash -c 'exec 4>out4; for i in $(seq 50); do echo $i >&4; /bin/true; done; exec 4>&-'
eq "bash: exec 4>file keeps every write" "$(wc -l < out4)" 50
same "a daemon that closes every descriptor and reopens 0-2" "$T/robust_daemon" daemon.out
eq "the daemon's file got its own line" "$(cat daemon.out)" "fd 3"
eq "the daemon's output is nowhere in the timeline" "$(grep -c 'fd 3' s.jsonl)" 0
# the lowest free number, every millisecond for 1.5 s, while the sampler
# ticks every millisecond and a new thread (a new CPU event) comes as often:
# the sampler never holds a number of the program's, not even for a moment;
# also once the program closed every descriptor, the shim's kept ones too
for how in plain closeall; do
    rm -f low.txt low.jsonl
    if [ $how = plain ]; then
        PERFPROBE_INTERVAL_MS=1 PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/low.jsonl LD_PRELOAD=$S \
            timeout -k 5 60 "$T/fd_lowest" 1500 > low.txt 2> low.err
    else
        PERFPROBE_INTERVAL_MS=1 PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/low.jsonl LD_PRELOAD=$S \
            timeout -k 5 60 "$T/fd_lowest" 1500 closeall low.txt > /dev/null 2> low.err
    fi
    eq "lowest number ($how): every reopen got 3, status 0" \
        "$?:$(awk '$1 == "rounds" && $2 > 1000 { print $3, $4 }' low.txt)" "0:wrong 0"
    eq "lowest number ($how): every line of the timeline is JSON (jq)" \
        "$(jq -c .type low.jsonl > /dev/null 2>&1; echo $?)" 0
    eq "lowest number ($how): samples to the end, and the summary" \
        "$(jq -r 'select(.type == "sample" or .type == "summary") | .type' low.jsonl | sort -u | tr '\n' ' ')
$(jq -r 'select(.type == "sample") | .t_s' low.jsonl | sort -n | tail -1 | awk '{ print ($1 > 1.4) }')" \
        "sample summary 
1"
done
# a seccomp filter on every thread (TSYNC) that kills the process on a
# clone with flags pthread_create does not use, as browsers' sandboxes do:
# the sampler sees the filter and makes no task apart (sys/linux/apart.c),
# and the shim's syscall sees it coming, so that it never lands between
# the sampler's look and its clone (before: 9 runs in 80 killed by SIGSYS)
same "a seccomp filter that kills on unexpected clone flags" \
    env PERFPROBE_INTERVAL_MS=1 "$T/seccomp_clone"
eq "the filtered program made its 300 threads under the shim" "$(cat shim.out)" "threads 300"
killed=0
for i in $(seq 1 20); do
    PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/sc.jsonl PERFPROBE_INTERVAL_MS=1 LD_PRELOAD=$S \
        timeout -k 5 60 "$T/seccomp_clone" > sc.out 2>&1 || killed=$((killed + 1))
done
eq "the seccomp filter, 20 runs more: none killed" $killed 0
# a filter the program puts on one thread that kills on a system call the
# program never makes (getdents64, perf_event_open, prctl: the shim's look
# at the filters in the child reads a file instead), then a fork or a
# set*id call: the shim started the child's sampler, or started the
# sampler again, from that thread, and the new thread ran under the
# filter: SIGSYS.  A sampler is never started under a filter the image did
# not begin under; the image keeps its first and last samples and summary
for nr in 217 298 157; do
    same "a one-thread seccomp filter on system call $nr, then fork" "$T/seccomp_thread" fork $nr
    eq "... the child exits 3, as bare" "$(cat shim.out)" "child: exit 3"
    eq "... the parent's and the child's summaries are there" \
        "$(jq -rs '[.[] | select(.type == "header" and (.exe | endswith("/seccomp_thread"))) | .pid] as $p
                   | [.[] | select(.type == "summary" and (.pid as $x | $p | index($x)))] | length' s.jsonl)" 2
done
same "a one-thread seccomp filter on system call 217, then setgroups" "$T/seccomp_thread" setgroups 217
eq "... the program ran to its end" "$(cat shim.out)" "done"
# no filter, but 700 supplementary groups: /proc/thread-self/status's
# Groups: line pushes its Seccomp: line past the first 4 KiB, where the
# look at the filters in a forked child stopped reading (no filter seen
# means one assumed: no sampler in any child)
if command -v setpriv > /dev/null; then
    rm -f grp.jsonl
    setpriv --groups "$(seq -s, 1000 1700)" env PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/grp.jsonl \
        LD_PRELOAD=$S timeout 60 "$PY" -c 'import os, sys, time
if os.fork() == 0:
    time.sleep(0.3); sys.exit(0)
os.wait()'
    eq "700 groups, no filter: no forked child takes itself for filtered" \
        "$(jq -r 'select(.type == "note") | .text' grp.jsonl | grep -c seccomp)" 0
    child=$(jq -r 'select(.type == "header" and .image == 0) | .pid' grp.jsonl | tail -1)
    check "700 groups, no filter: the child's sampler ran while it slept (samples taken)" \
        test "$(jq -r "select(.type == \"summary\" and .pid == $child) | .samples_taken" grp.jsonl)" -ge 10
fi
# a filter on every thread (TSYNC) that traps getrusage or getdents64,
# which the program's SIGSYS handler answers: the sampler blocks every
# signal, so the trap on its call killed the process.  The sampler is
# stopped around the call and not started under the filter again
for nr in 98 217; do
    same "a seccomp filter on every thread trapping system call $nr, answered by the program" \
        "$T/seccomp_thread" trap $nr
    eq "... getppid answered by the program's handler" "$(cat shim.out)" "getppid 4242"
    check "... a summary" jq -e 'select(.type == "summary")' s.jsonl
done
# a filter that fails writev with ENOSYS: the records go out with write;
# one that fails getpid: the exit path took itself for a vfork child's
for nr in 20 39; do
    same "a seccomp filter on every thread failing system call $nr" "$T/seccomp_thread" errno $nr
    eq "... the program's summary is there" \
        "$(jq -rs '[.[] | select(.type == "header" and (.exe | endswith("/seccomp_thread"))) | .pid] as $p
                   | [.[] | select(.type == "summary" and (.pid as $x | $p | index($x)))] | length' s.jsonl)" 1
done
# a limit on tasks that lifts (a pids cgroup of the program's own): the
# task apart refused (EAGAIN) while the limit is full is tried again once it
# has room (strace -f sees the sampler's clones and what they returned)
pids_root=$(awk '$3 == "cgroup" && $4 ~ /(^|,)pids(,|$)/ { print $2; exit }' /proc/mounts)
[ -z "$pids_root" ] && grep -qw pids /sys/fs/cgroup/cgroup.controllers 2>/dev/null && pids_root=/sys/fs/cgroup
if [ "$(id -u)" = 0 ] && [ -n "$pids_root" ] && command -v strace > /dev/null &&
   mkdir -p "$pids_root/pp-tasks.$$" 2>/dev/null && [ -w "$pids_root/pp-tasks.$$/pids.max" ]; then
    cg=$pids_root/pp-tasks.$$
    PERFPROBE_INTERVAL_MS=5 PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/tl.jsonl \
        timeout -k 5 60 strace -f -qq -e trace=clone -o tl.strace sh -c \
        'echo $$ > "$1/cgroup.procs" && exec env LD_PRELOAD="$2" "$3" "$1/pids.max"' \
        sh "$cg" "$S" "$T/task_limit" > tl.out 2> tl.err
    eq "a limit on tasks that lifts: the program ran both threads" "$?:$(cat tl.out)" "0:threads 2"
    grep CLONE_VFORK tl.strace | grep CLONE_PARENT_SETTID | sed 's/.*= *//' > tl.clones
    if grep -q EAGAIN tl.clones; then
        eq "a limit on tasks that lifts: a task apart made after the one refused" \
            "$(awk '/EAGAIN/ { r = 1; next } r && $1 > 0 { n++ } END { print (n > 0) }' tl.clones)" 1
    else
        echo "# skip: no task apart was refused here ($(tr '\n' ' ' < tl.clones))"
    fi
    rmdir "$cg" 2>/dev/null
else
    echo "# skip: a limit on tasks needs root, a pids cgroup and strace"
fi
# job control: children that stop themselves with SIGSTOP 0-3 ms after they
# start (as strace's child does, or a process a shell suspends), sampled
# every millisecond with CPU sampling, so that the stop often comes while
# the child's sampler waits for its task apart: every stop completes and is
# seen by the parent, as bare (a vfork wait, which a stop cannot stop, hung
# 3 rounds in 200 and 6 in 300)
PERFPROBE_INTERVAL_MS=1 PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/stop.jsonl LD_PRELOAD=$S \
    timeout -k 5 300 "$T/stop_child" 300 > stop.out 2> stop.err
eq "300 children stopping themselves: the parent saw every stop" "$?:$(cat stop.out)" "0:rounds 300 stuck 0"
check "300 children stopping themselves: the children's CPU events were opened (cpu_info)" \
    test "$(grep -c '"type":"cpu_info"' stop.jsonl)" -gt 100
# under valgrind, whose clone takes only a thread's or a fork's flags and
# ends the program on any other ("Unsupported clone() flags"): the sampler
# makes no task apart there (its LD_PRELOAD names vgpreload_core), and a
# CPU-sampled program that starts threads runs to its end, with CPU samples
if command -v valgrind > /dev/null; then
    valgrind --tool=none -q "$T/threads" vg.bare 2 20000 > vg.bare.out 2>&1
    bare_rc=$?
    PERFPROBE_INTERVAL_MS=1 PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/vg.jsonl LD_PRELOAD=$S \
        timeout -k 5 300 valgrind --tool=none -q "$T/threads" vg.shim 2 20000 > vg.shim.out 2>&1
    eq "valgrind --tool=none, two threads CPU-sampled: status as bare, valgrind said nothing" \
        "$?:$(cat vg.shim.out)" "$bare_rc:$(cat vg.bare.out)"
    eq "valgrind: the program's summary and CPU records are there" \
        "$(jq -r 'select(.type == "summary" or .type == "cpu") | .type' vg.jsonl | sort -u | tr '\n' ' ')" "cpu summary "
else
    echo "# skip: no valgrind"
fi
same "a program started with stdout closed fails as bare" bash -c '/bin/echo hi >&-'
echo hello > small.txt
same "ulimit -n 5: cat still opens its file" bash -c 'ulimit -n 5; exec cat small.txt'
same "ulimit -n 5: a pipeline of three" bash -c 'ulimit -n 5; cat small.txt | tr a-z A-Z | cat'

# ---- exit and threads -------------------------------------------------------------
same "main calls pthread_exit: the process ends when its worker does" "$T/robust_pthread_exit"
eq "pthread_exit: the atexit handler ran" "$(cat shim.out)" atexit
# a vfork child that sets a file-size limit before its exec shares the
# parent's memory, not its limit: the parent's timeline goes on whole
printf '#include <stdlib.h>\n#include <sys/resource.h>\n#include <sys/wait.h>\n#include <unistd.h>\nint main(void) { free(malloc(10)); pid_t p = vfork(); if (p == 0) { struct rlimit r = {1000, RLIM_INFINITY}; setrlimit(RLIMIT_FSIZE, &r); execl("/bin/true", "true", (char *)0); _exit(9); } waitpid(p, 0, 0); for (int i = 0; i < 200; i++) { free(malloc(100000)); usleep(1000); } return 0; }\n' > vflim.c
cc -o vflim vflim.c
rm -f vl.jsonl
PERFPROBE_QUIET=1 PERFPROBE_INTERVAL_MS=1 PERFPROBE_OUTPUT=$PWD/vl.jsonl LD_PRELOAD=$S ./vflim 2> vl.err
# (the image the child execs has that limit, and may say its file is full)
eq "a vfork child's file-size limit: the parent runs" "$?" 0
eq "a vfork child's file-size limit: the parent's summary is there" \
    "$(jq -s --argjson p "$(jq -s '[.[] | select(.type == "header")][0].pid' vl.jsonl)" \
        '[.[] | select(.type == "summary" and .pid == $p)] | length' vl.jsonl)" 1
# pvalloc(0): glibc's smallest block, not a page (before: 4,104 usable
# bytes under the shim, 24 bare)
printf '#include <malloc.h>\n#include <stdio.h>\n#include <stdlib.h>\nint main(void) { void *p = pvalloc(0), *q = pvalloc(1); printf("%%zu %%zu\\n", malloc_usable_size(p), malloc_usable_size(q)); free(p); free(q); return 0; }\n' > pv.c
cc -o pv pv.c
same "pvalloc(0) and pvalloc(1): usable sizes as bare" ./pv
# the hooks' stack: a coroutine allocating on the smallest stack that works
# bare (to 16 bytes) runs under the shim with 64 bytes more with stacks
# off and 2 KiB more with sampled stacks (the unwinder's frames).  Before:
# 3.2 KiB and 6.7 KiB more, the shim's own first calls through the lazy
# binder and a 3.5 KiB frame for the hook's rare paths inlined into it
small=$(timeout 120 "$T/robust_small_stack" find)
check "a coroutine's smallest stack bare is found ($small bytes)" test "${small:-0}" -gt 0
for st in off sample all; do
    [ $st = off ] && more=64 || more=2048
    rm -f s.jsonl
    PERFPROBE_STACKS=$st PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/s.jsonl LD_PRELOAD=$S \
        timeout -k 5 120 "$T/robust_small_stack" at $((small + more))
    eq "a coroutine on bare's smallest stack + $more bytes, stacks $st: runs" $? 0
    check "coroutine, stacks $st: every timeline line JSON" valid_jsonl s.jsonl
done
# the main thread ending by the exit system call itself: status 3, no exit
# handler, stdio's buffer never written, as bare (before: status 0, the
# handler ran and the buffer was written: the shim ended the process with
# exit(0) as for pthread_exit)
for m in plain strict worker; do
    same "main thread ends by the exit system call ($m)" "$T/robust_raw_exit" $m
    # the worker returns last: the status is its 0 (glibc's count of
    # threads, which the main thread never left, keeps exit from running)
    [ $m = worker ] && st=0 || st=3
    eq "exit system call ($m): bare ended with status $st, no handler, no buffer" \
        "$(timeout 60 "$T/robust_raw_exit" $m > raw.out; echo $? $(cat raw.out))" "$st started"
    eq "exit system call ($m): the summary is there" \
        "$(jq -s '([.[] | select(.type == "header" and (.exe | endswith("/robust_raw_exit")))][0].pid) as $p
                  | [.[] | select(.type == "summary" and .pid == $p)] | length' s.jsonl)" 1
done
same "an atexit handler that forks a helper which exits" "$T/robust_atexit" fork
same "an atexit handler that joins a worker which calls exit" "$T/robust_atexit" join
same "vfork child calling exit after a failed exec; raw clone child" "$T/robust_vfork"
vpid=$(jq -r 'select(.type == "header" and (.exe | endswith("robust_vfork"))) | .pid' s.jsonl)
eq "vfork/clone: neither child wrote a record (only timeout and the program did)" \
    "$(jq -r 'select(.type == "header") | .exe' s.jsonl | grep -c robust_vfork)" 1
# glibc's exit in the vfork child ran (and used up) the parent's exit
# handlers: the file says so, and the parent's summary is written at its
# own exit all the same (t0700 checks it further)
eq "vfork: the parent's file notes that its exit handlers were used up" \
    "$(jq -r "select(.pid == $vpid and .type == \"note\") | .text" s.jsonl | grep -c 'vfork child called exit')" 1
eq "vfork/clone: one summary for the pid, the parent's" "$(jq -c "select(.type == \"summary\" and .pid == $vpid)" s.jsonl | wc -l)" 1
le "vfork/clone: the parent's last sample holds its 3 MiB" $((3 << 20)) \
    "$(jq -s "map(select(.pid == $vpid and .type == \"sample\")) | last | .heap" s.jsonl)"

for sig in SEGV ABRT QUIT PIPE; do
    case $sig in
    SEGV) cmd='kill -SEGV $$' ;; ABRT) cmd='kill -ABRT $$' ;; QUIT) cmd='kill -QUIT $$' ;;
    PIPE) cmd='yes | head -1 > /dev/null; kill -PIPE $$' ;;
    esac
    same "death by SIG$sig" bash -c "ulimit -c 0; /bin/true; $cmd"
done

# ---- files ------------------------------------------------------------------------
mkfifo fifo
timeout -k 5 30 env PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/fifo LD_PRELOAD=$S /bin/echo ran > f.out 2> f.err
eq "a FIFO as output: no hang, the program runs" "$? $(cat f.out)" "0 ran"
check "a FIFO as output: one line says why" grep -q "is not a regular file" f.err
eq "a FIFO as output: nothing else on stderr" "$(wc -l < f.err)" 1
echo "victim's data" > victim
ln -s "$PWD/victim" link.jsonl
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/link.jsonl LD_PRELOAD=$S /bin/echo ran > l.out 2> l.err
eq "a symlink as output: the program runs" "$(cat l.out)" ran
eq "a symlink as output: the file behind it is untouched" "$(cat victim)" "victim's data"
check "a symlink as output: one line says why" grep -q "symbolic link" l.err
if [ "$(id -u)" = 0 ]; then
    echo "other's data" > other.jsonl && chown nobody other.jsonl
    PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/other.jsonl LD_PRELOAD=$S /bin/true 2> o.err
    eq "another user's file: untouched" "$(cat other.jsonl)" "other's data"
    check "another user's file: one line says why" grep -q "belongs to another user" o.err
    cp /usr/bin/id suid_id && chown nobody suid_id && chmod u+s suid_id
    "$PP" run -q -o su.jsonl -- ./suid_id -u > su.out 2> su.err
    eq "a set-user-ID program runs (as its owner)" "$(cat su.out)" "$(id -u nobody)"
    check "a set-user-ID program: perfprobe run says it cannot be traced" grep -q "set-user-ID" su.err
else
    ok "another user's file and set-user-ID: need root to set up (CI runs as root)"
fi
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=/dev/full LD_PRELOAD=$S /bin/echo ran > d.out 2> d.err
eq "/dev/full as output: the program runs" "$(cat d.out)" ran
eq "/dev/full as output: one line on stderr" "$(grep -c 'perfprobe: warning: cannot write the timeline to ./dev/full.: is not a regular file' d.err)" 1
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$'/nonexistent/a\nb.jsonl' LD_PRELOAD=$S /bin/true 2> n.err
eq "a newline in the path: the warning stays one line" "$(wc -l < n.err)" 1
# a file size limit: writes fail part-way (EFBIG), as on a full disk
bash -c "trap '' XFSZ; ulimit -f 8; exec env PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/big.jsonl \
    PERFPROBE_INTERVAL_MS=1 LD_PRELOAD=$S /usr/bin/python3 -c 'import time; x=[bytearray(4096*i) for i in range(300)]; time.sleep(0.3); print(len(x))'" \
    > big.out 2> big.err
eq "a full file: the program runs on" "$? $(cat big.out)" "0 300"
eq "a full file: said once" "$(grep -c 'cannot write the timeline' big.err)" 1
"$PP" report --json big.jsonl > big.json 2> /dev/null
eq "a full file: what was written is readable, the summary kept" "$? $(jq -r '.summary.complete' big.json)" "0 true"
check "a full file: the report names what was kept out" test "$(jq '[.gaps[].records] | add' big.json)" -gt 0
# ... and with SIGXFSZ at its default: a write of the shim's past the limit
# raises it, and it must never reach the program (before: killed, status
# 153).  Ground truth: the same program bare, whose own writes stay under
# the limit (its output goes to a pipe).  Cases: the limit from the start
# (16 blocks; 0, where the shim's copy of /proc/self/status cannot be
# written either), the program setting it itself part-way, and prlimit
# setting it from outside.
cat > fsz.c <<'EOS'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <ulimit.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "set") == 0) {
        for (int i = 0; i < 20; i++)
            free(malloc(1000));
        struct rlimit rl;
        getrlimit(RLIMIT_FSIZE, &rl);
        rl.rlim_cur = 4096;
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            return 9;
    }
    if (argc > 1 && strcmp(argv[1], "ulimit") == 0) {
        for (int i = 0; i < 20; i++)
            free(malloc(1000));
        if (ulimit(UL_SETFSIZE, 8L) < 0)        /* 512-byte blocks */
            return 9;
    }
    if (argc > 1 && strcmp(argv[1], "wait") == 0) {
        puts("waiting");
        fflush(stdout);
        while (access("go", F_OK) != 0)
            free(malloc(100000));
    }
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strncmp(line, "Threads:", 8) == 0;
    if (f)
        fclose(f);
    void *keep[300];
    for (int i = 0; i < 300; i++) {
        keep[i] = malloc(4096 * (size_t)(i + 1));
        memset(keep[i], 1, 4096);
        usleep(500);
    }
    for (int i = 0; i < 300; i++)
        free(keep[i]);
    printf("ran, Threads lines %d\n", n);
    return 0;
}
EOS
cc -o fsz fsz.c
# built with _FILE_OFFSET_BITS=64, setrlimit is glibc's setrlimit64
cc -D_FILE_OFFSET_BITS=64 -o fsz64 fsz.c
# (3 blocks: 1,536 bytes, inside a page, where a write was cut mid-line)
for c in "16 - fsz" "3 - fsz" "0 - fsz" "unlimited set fsz" "unlimited set fsz64" "unlimited ulimit fsz"; do
    set -- $c
    # output and errors through a pipe: only the files under test are files
    bash -c "ulimit -f $1; exec ./$3 $2" 2>&1 | cat > fb.out
    rb=${PIPESTATUS[0]}
    rm -f fs.jsonl
    bash -c "ulimit -f $1; PERFPROBE_QUIET=1 PERFPROBE_INTERVAL_MS=1 PERFPROBE_OUTPUT=$PWD/fs.jsonl \
        LD_PRELOAD=$S exec ./$3 $2" 2>&1 | cat > fs.out
    eq "file-size limit ($1, $2, $3), SIGXFSZ at its default: exit status as bare" ${PIPESTATUS[0]} $rb
    eq "file-size limit ($1, $2, $3): output as bare" "$(grep -v '^perfprobe: ' fs.out)" "$(cat fb.out)"
    eq "file-size limit ($1, $2, $3): bare ran" "$(cat fb.out)" "ran, Threads lines 1"
    eq "file-size limit ($1, $2, $3): the shim says once that its file is full" \
        "$(grep -c "^perfprobe: .*cannot write the timeline.*File too large" fs.out)" 1
    if [ ! -s fs.jsonl ] || valid_jsonl fs.jsonl; then
        ok "file-size limit ($1, $2, $3): every line written is one JSON object"
    else
        fail "file-size limit ($1, $2, $3): a line is not one JSON object: $(tail -c 120 fs.jsonl)"
    fi
    # room is kept back for the summary (half of a limit this small): it
    # ends the file, after a gap record that counts what was kept out, and
    # its count of samples is what the file holds (before: no summary)
    if [ "$1" = 16 ]; then
        eq "file-size limit 16: the file ends with the summary, after a gap record" \
            "$(jq -R -r 'fromjson? | .type' fs.jsonl | grep -v '^pad$' | tail -2 | tr '\n' ' ')" "gap summary "
        check "file-size limit 16: the gap counts records kept out" \
            test "$(jq -R 'fromjson? | select(.type == "gap") | .records' fs.jsonl)" -gt 0
        eq "file-size limit 16: the summary's samples are those in the file" \
            "$(jq -R 'fromjson? | select(.type == "summary") | .samples' fs.jsonl)" \
            "$(jq -R -c 'fromjson? | select(.type == "sample")' fs.jsonl | grep -c .)"
        le "file-size limit 16: the file is within the limit" "$(stat -c %s fs.jsonl)" 16384
    fi
done
# a summary longer than the room kept for it: 200 regions make one of
# about 150 KB, under a limit of 64 KiB (32 KiB kept).  It was kept out,
# and the image ended with no summary; it now goes in without the
# regions' figures, which it counts, after a gap record for the long one
cat > manyregions.c <<'EOS'
#include <perf_probe.h>
#include <stdio.h>
int main(void)
{
    char name[200][16];
    for (int i = 0; i < 200; i++) {
        snprintf(name[i], sizeof name[i], "stage%03d", i);
        perf_region_begin(name[i]);
        perf_region_end(name[i]);
    }
    puts("done");
    return 0;
}
EOS
cc -I"$PP_ROOT/libprobe" -o manyregions manyregions.c
rm -f mr.jsonl
bash -c "ulimit -f 64; PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/mr.jsonl LD_PRELOAD=$S exec ./manyregions" > mr.out 2>&1
eq "a summary larger than the room: status and output" "$? $(grep -v '^perfprobe: ' mr.out)" "0 done"
check "a summary larger than the room: every line is JSON" valid_jsonl mr.jsonl
eq "a summary larger than the room: the file ends with a gap and the summary" \
    "$(jq -r .type mr.jsonl | grep -v '^pad$' | tail -2 | tr '\n' ' ')" "gap summary "
eq "a summary larger than the room: it counts the 200 regions it leaves out" \
    "$(jq -r 'select(.type == "summary") | .regions_left_out' mr.jsonl)" 200
le "a summary larger than the room: the file is within the limit" "$(stat -c %s mr.jsonl)" 65536
if command -v prlimit > /dev/null; then
    rm -f fs.jsonl go
    PERFPROBE_QUIET=1 PERFPROBE_INTERVAL_MS=1 PERFPROBE_OUTPUT=$PWD/fs.jsonl LD_PRELOAD=$S \
        ./fsz wait > fp.out 2> fp.err &
    pid=$!
    for i in $(seq 200); do grep -q waiting fp.out 2> /dev/null && break; sleep 0.05; done
    prlimit --pid $pid --fsize=4096:unlimited
    sleep 0.2
    prlimit --pid $pid --fsize=unlimited:unlimited     # and lifted again
    sleep 0.2
    touch go
    timeout 60 tail --pid=$pid -f /dev/null
    wait $pid
    eq "file-size limit set from outside (prlimit): exit status 0" $? 0
    eq "file-size limit set from outside: output" "$(tail -1 fp.out)" "ran, Threads lines 1"
    check "file-size limit set from outside: every line written is one JSON object" valid_jsonl fs.jsonl
    eq "file-size limit set from outside: it bit (the shim says its file is full)" \
        "$(grep -c "cannot write the timeline.*File too large" fp.err)" 1
    eq "file-size limit lifted from outside: the records go on, the summary is there" \
        "$(jq -s '[.[] | select(.type == "summary")] | length' fs.jsonl)" 1
    rm -f go
else
    echo "# skip: no prlimit"
fi

PERFPROBE_INTERVL_MS=5 PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/t.jsonl LD_PRELOAD=$S /bin/true 2> u.err
check "an unknown PERFPROBE_ name: says so, naming the closest setting" \
    grep -q "unknown setting PERFPROBE_INTERVL_MS ignored; did you mean PERFPROBE_INTERVAL_MS" u.err

# ---- other allocators, in both orders -------------------------------------------------
for a in jemalloc:libjemalloc.so.2 tcmalloc:libtcmalloc.so.4 mimalloc:libmimalloc.so.2; do
    name=${a%%:*} lib=$LIBDIR/${a#*:}
    PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/a1.jsonl LD_PRELOAD="$S $lib" \
        "$T/alloc_known" k1.facts 300 0 > /dev/null 2> a1.err
    eq "$name after the shim: exit status" $? 0
    eq "$name after the shim: named, and counted" \
        "$(head -1 a1.jsonl | jq -r '.allocator + " " + (.heap_counted|tostring)')" "$name true"
    le "$name after the shim: the peak heap holds what the program held" \
        "$(fact k1.facts peak_usable)" "$(summary a1.jsonl peak_heap_bytes)"
    PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/a2.jsonl LD_PRELOAD="$lib $S" \
        "$T/alloc_known" k2.facts 300 0 > /dev/null 2> a2.err
    eq "$name before the shim: exit status" $? 0
    eq "$name before the shim: counted through the GOT (t0720 checks the figures)" \
        "$(head -1 a2.jsonl | jq -r '.allocator + " " + (.heap_counted|tostring) + " " + .heap_binding')" "$name true got"
    le "$name before the shim: the peak heap holds what the program held" \
        "$(fact k2.facts peak_usable)" "$(summary a2.jsonl peak_heap_bytes)"
    eq "$name before the shim: no warning" "$(grep -c 'heap figures are not recorded' a2.err)" 0
done

# ---- RTLD_DEEPBIND ---------------------------------------------------------------------
printf '#include <stdlib.h>\nvoid *lib_give(size_t n) { return malloc(n); }\n' > give.c
cc -shared -fPIC -o libgive.so give.c
# By a bare name the loader searches the caller's path (DT_RPATH,
# LD_LIBRARY_PATH, DT_RUNPATH, ld.so.cache, the system directories): the
# shim finds the file as the caller would, opens it and binds it, so the
# library's blocks are counted and the heap stays exact (t0720 checks a path).
deepbind_counted() {   # DESC PROGRAM: the summary of PROGRAM (timeout is traced too)
    local sum
    sum=$(jq -s -c --arg p "$2" '(map(select(.type == "header" and .program == $p)) | .[0].pid) as $pid
        | map(select(.type == "summary" and .pid == $pid)) | .[0]' s.jsonl)
    eq "$1: no warning" "$(grep -c RTLD_DEEPBIND shim.err)" 0
    eq "$1: exact (inexact is empty)" "$(jq -r '.inexact | length' <<< "$sum")" 0
    le "$1: the peak heap holds the 1 MiB block the library gave" $((1 << 20)) \
        "$(jq -r '.peak_heap_bytes' <<< "$sum")"
    eq "$1: frees never outnumber allocations" "$(jq -r '.frees <= .allocs' <<< "$sum")" true
}
LD_LIBRARY_PATH=$PWD same "RTLD_DEEPBIND, a bare name through LD_LIBRARY_PATH" "$T/robust_deepbind" libgive.so
deepbind_counted "RTLD_DEEPBIND through LD_LIBRARY_PATH" robust_deepbind
# through the program's own RUNPATH ($ORIGIN/sub), which the shim's own
# search does not have; a decoy of the same name in the current directory
# (never searched) would give nothing
mkdir -p rp/sub && cp libgive.so rp/sub/
printf '#include <stdlib.h>\nvoid *lib_give(size_t n) { (void)n; return NULL; }\n' > decoy.c
cc -shared -fPIC -o rp/libgive.so decoy.c
cc -o rp/deepbind "$PP_ROOT/tests/progs/robust_deepbind.c" -I"$PP_ROOT/tests/progs" -ldl \
    -Wl,-rpath,'$ORIGIN/sub' -Wl,--enable-new-dtags
(cd rp && same "RTLD_DEEPBIND, a bare name through the program's RUNPATH" ./deepbind libgive.so)
mv rp/s.jsonl rp/shim.err . 2>/dev/null
deepbind_counted "RTLD_DEEPBIND through RUNPATH" deepbind
# $ORIGIN in the name: the directory of the program, as the loader expands it
(cd rp && same "RTLD_DEEPBIND, \$ORIGIN/sub/libgive.so" ./deepbind '$ORIGIN/sub/libgive.so')
mv rp/s.jsonl rp/shim.err . 2>/dev/null
deepbind_counted "RTLD_DEEPBIND through \$ORIGIN" deepbind
(cd rp && same "RTLD_DEEPBIND, \${ORIGIN}/sub/libgive.so" ./deepbind '${ORIGIN}/sub/libgive.so')
mv rp/s.jsonl rp/shim.err . 2>/dev/null
deepbind_counted "RTLD_DEEPBIND through \${ORIGIN}" deepbind
# $PLATFORM and $LIB in the name: left for the loader to expand with its
# own values (AT_PLATFORM; the library directory built into glibc), the
# same whoever opens it.  Each candidate directory gets a library that
# says which it is as it loads: the output shows the same one opened bare
# and under the shim.
platform=$(LD_SHOW_AUXV=1 /bin/true | awk '$1 == "AT_PLATFORM:" { print $2 }')
for d in "$platform" lib lib64 lib/x86_64-linux-gnu lib/aarch64-linux-gnu lib32; do
    mkdir -p "rp/$d"
    printf '#include <stdlib.h>\n#include <unistd.h>\n__attribute__((constructor)) static void hi(void) { if (write(1, "%s\\n", %d)) {} }\nvoid *lib_give(size_t n) { return malloc(n); }\n' \
        "$d" $((${#d} + 1)) > at.c
    cc -shared -fPIC -o "rp/$d/libgive.so" at.c
done
for name in '$ORIGIN/$PLATFORM/libgive.so' '${ORIGIN}/${PLATFORM}/libgive.so' '$ORIGIN/$LIB/libgive.so'; do
    (cd rp && same "RTLD_DEEPBIND, $name" ./deepbind "$name")
    mv rp/s.jsonl rp/shim.err rp/bare.out rp/shim.out . 2>/dev/null
    # a glibc that leaves $PLATFORM unexpanded in a dlopen name (Debian's
    # 2.36-9+deb12u14 here): bare opens none, and status and output as
    # bare (above) are what there is to check
    if [ "$name" != '$ORIGIN/$LIB/libgive.so' ] && ! [ -s bare.out ]; then
        echo "# skip: this glibc's dlopen does not expand $name (bare opened none)"
        continue
    fi
    check "RTLD_DEEPBIND, $name: bare, the loader opened one of them" test -s bare.out
    deepbind_counted "RTLD_DEEPBIND through $name" deepbind
done
# a '$' that starts no token the loader knows is a character of the name
# (glibc copies it): a path through a directory named '$X', and a bare
# name with a '$' found through LD_LIBRARY_PATH, open the same library
# as bare, counted
mkdir -p 'rp/$X' && cp libgive.so 'rp/$X/' && cp libgive.so 'lib$give.so'
(cd rp && same "RTLD_DEEPBIND, \$X/libgive.so (a directory named \$X)" ./deepbind '$X/libgive.so')
mv rp/s.jsonl rp/shim.err . 2>/dev/null
deepbind_counted "RTLD_DEEPBIND through \$X/libgive.so" deepbind
LD_LIBRARY_PATH=$PWD same "RTLD_DEEPBIND, a bare name with a \$ (lib\$give.so)" "$T/robust_deepbind" 'lib$give.so'
deepbind_counted "RTLD_DEEPBIND through lib\$give.so" robust_deepbind
# a name found nowhere: the same failure and message as bare
printf '#define _GNU_SOURCE\n#include <dlfcn.h>\n#include <stdio.h>\nint main(void) { void *h = dlopen("libnone-at-all.so", RTLD_NOW | RTLD_DEEPBIND); puts(h ? "opened" : dlerror()); return h != NULL; }\n' > dbnone.c
cc -o dbnone dbnone.c -ldl
same "RTLD_DEEPBIND, a bare name found nowhere: dlerror as bare" ./dbnone

# ---- dlmopen: t0725 ------------------------------------------------------------------

# ---- a disk that fills up and frees again ------------------------------------------
# A small tmpfs in a private mount namespace (root: CI is), nearly filled;
# the filler is removed while the program runs.  The record cut short when
# the disk filled must not swallow the records written after space came back.
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
    cat > enospc.sh <<'SH'
mkdir -p mnt && mount -t tmpfs -o size=1m tmpfs mnt || exit 3
head -c $((1024 * 1024 - 6000)) /dev/zero > mnt/filler 2>/dev/null
( sleep 0.4; rm -f mnt/filler ) &
PERFPROBE_QUIET=1 PERFPROBE_INTERVAL_MS=1 PERFPROBE_OUTPUT=$PWD/mnt/t.jsonl LD_PRELOAD=$1 \
    /usr/bin/python3 -c '
import time
x, t = [], time.time()
while time.time() - t < 1.0:
    x.append(bytearray(1000)); time.sleep(0.0005)
    if len(x) > 200: x.clear()
print("ran")' > full.out 2> full.err
echo $? > full.rc
wait
cp mnt/t.jsonl full.jsonl
umount mnt
SH
    unshare -m bash enospc.sh "$S"
    eq "a full disk: the program runs on" "$(cat full.rc) $(cat full.out)" "0 ran"
    eq "a full disk: said once" "$(grep -c 'No space left on device' full.err)" 1
    damaged=$(damaged full.jsonl | wc -l)
    le "a full disk: at most the one record cut short is damaged" "$damaged" 1
    "$PP" report --json full.jsonl > full.json 2> full.rep
    eq "a full disk: the records after space came back are read, summary included" \
        "$(jq -r '.summary.complete' full.json)" true
    le "a full disk: samples from both sides of the gap" 50 "$(grep -c '"type":"sample"' full.jsonl)"
else
    fail "a full disk: needs root and unshare -m to make a small filesystem"
fi

# ---- many threads, cancelled threads ------------------------------------------------
same "100,000 short threads, then 8 cancelled while they sleep" "$T/robust_threads"
main_sum() { jq -r "select(.type == \"summary\" and .pid == $(jq -r 'select(.type == "header" and (.exe | endswith("robust_threads"))) | .pid' s.jsonl)) | .$1" s.jsonl; }
le "100,000 threads: every thread's allocation counted" 100008 "$(main_sum allocs)"
le "cancelled threads: their 8 MiB is still live at exit" $((8 << 20)) "$(main_sum heap_bytes_at_exit)"
