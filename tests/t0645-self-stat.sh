# A program reads its own thread count as it would bare: field 20 of
# /proc/self/stat (and /proc/PID/stat), and the "Threads:" line of status,
# through fopen and fopen64, open, openat and the rest, leaves out
# the shim's sampler thread (docs/robustness.md).  Ground truth: the same
# program run bare, which starts a known number of threads; the stream is
# what fopen would give (the lowest free descriptor, close-on-exec as its
# mode says, the other fields as read by the system call), also for a
# command name holding ") " and spaces, and /proc/self/status's "Threads:"
# line through fopen; another process's stat file is untouched; a read by
# the openat system call itself, which no hook sees, still counts the
# sampler.  Then the same through open(2) and its relatives, the shim's own
# reads (never the copy), and Python reading its status as psutil does.
# Then CPython 3.12 and later, which warn after os.fork() when the count is
# above one: the warnings a script records, and its output, are as bare.
. "$PP_ROOT/tests/lib.sh"

cp "$T/self_stat" './a) b (c'
for prog in "$T/self_stat" './a) b (c'; do
    name=$(basename "$prog")
    for n in 0 3; do
        "$prog" $n > bare.$n
        eq "$name, $n threads: runs bare" $? 0
        traced s.jsonl "$prog" $n > shim.$n
        eq "$name, $n threads: runs under the shim" $? 0
        eq "$name, $n threads: bare counts itself" "$(fact bare.$n self_r_threads)" $((n + 1))
        eq "$name, $n threads: every read through fopen/fopen64 is as bare" \
            "$(grep -v '^raw_threads' shim.$n)" "$(grep -v '^raw_threads' bare.$n)"
        eq "$name, $n threads: the streams are as fopen gives them" \
            "$(grep -E '_(lowest_fd|fields_1_8_as_read|ends_in_newline) ' shim.$n | awk '{ print $2 }' | sort -u)" 1
        eq "$name, $n threads: close-on-exec as the mode says" \
            "$(grep -E '_cloexec ' shim.$n | tr '\n' ' ')" \
            "self_r_cloexec 0 self_re_cloexec 1 self64_r_cloexec 0 pid_r_cloexec 0 pid64_re_cloexec 1 status_r_cloexec 0 pid_status64_re_cloexec 1 "
        eq "$name, $n threads: bare counts itself in status too" "$(fact bare.$n status_r_threads)" $((n + 1))
        eq "$name, $n threads: another process's stat file is untouched" "$(fact shim.$n init_pid)" 1
        eq "$name, $n threads: the system call itself still counts the sampler" \
            "$(fact shim.$n raw_threads)" $((n + 2))
    done
done

# open(2) and its relatives (tests/progs/self_open.c): stat and status of
# /proc/self and /proc/PID through open, open64, openat, openat64 (AT_FDCWD
# and a directory descriptor beside an absolute path) and the fortified
# __open_2 family; the descriptor is what the real open gives (its number,
# the lowest free, close-on-exec as asked, the status flags, offset 0, the
# text as the system call reads it); another process's files (one started
# here bare, with 3 threads of its own) are read as they are.
check "self_open calls the four fortified entry points" \
    bash -c "[ \$(nm -D '$T/self_open' | grep -cE ' U __open(64)?_2@|__openat(64)?_2@') = 4 ]"
"$T/self_open" hold 3 & other=$!
for i in $(seq 200); do
    [ "$(awk '$1 == "Threads:" { print $2 }' /proc/$other/status 2>/dev/null)" = 4 ] && break
    sleep 0.05
done
for n in 0 3; do
    "$T/self_open" $n $other > obare.$n
    eq "self_open, $n threads: runs bare" $? 0
    traced o.jsonl "$T/self_open" $n $other > oshim.$n
    eq "self_open, $n threads: runs under the shim" $? 0
    eq "self_open, $n threads: bare counts itself" \
        "$(fact obare.$n open_stat_threads) $(fact obare.$n open_status_threads)" "$((n + 1)) $((n + 1))"
    eq "self_open, $n threads: every read, its counts and descriptors, is as bare" \
        "$(grep -v '^raw_threads' oshim.$n)" "$(grep -v '^raw_threads' obare.$n)"
    eq "self_open, $n threads: 15 reads, each the lowest free descriptor, at 0, the text as read" \
        "$(grep -c '_head_as_read ' oshim.$n) $(grep -E '_(lowest_fd|head_as_read) ' oshim.$n | awk '{ print $2 }' | sort -u | tr '\n' ' ')$(grep -E '_offset ' oshim.$n | awk '{ print $2 }' | sort -u)" \
        "15 1 0"
    eq "self_open, $n threads: close-on-exec as asked" \
        "$(grep -E '_cloexec ' oshim.$n | awk '{ printf "%s ", ($1 ~ /_e_cloexec$/) == $2 }')" \
        "$(printf '1 %.0s' $(seq 15))"
    eq "self_open, $n threads: status flags as the real open gives them" \
        "$(grep -E '_flags ' oshim.$n | awk '{ print $1 ~ /_nb_flags$/ ? "nb " $2 : $2 }' | sort -u | tr '\n' ' ')" \
        "0100000 nb 0104000 "
    eq "self_open, $n threads: another process's stat and status are untouched" \
        "$(fact oshim.$n other_stat_threads) $(fact oshim.$n other_status_threads)" "4 4"
    eq "self_open, $n threads: the system call itself still counts the sampler" \
        "$(fact oshim.$n raw_threads)" $((n + 2))
done
kill $other
wait $other 2>/dev/null

# The mode argument reaches the real functions: files made with O_CREAT
# and O_TMPFILE get the modes asked (umask 022 takes nothing from them).
for how in bare shim; do
    mkdir $how && (cd $how && umask 022 && if [ $how = bare ]; then "$T/self_open" create
        else traced ../c.jsonl "$T/self_open" create; fi > ../create.$how)
done
eq "create: bare, the modes asked" "$(awk '{ printf "%s ", $2 }' create.bare)" "640 604 611 444 654 "
eq "create: under the shim, as bare" "$(cat create.shim)" "$(cat create.bare)"

# The main thread gone (pthread_exit), a worker reads its status 300 ms
# later: the count as bare, and the process lives on until the worker ends
# it (the sampler ends a process whose main thread is gone and two threads
# are left; it counts them from its own reads).
"$T/self_open" exitmain > x.bare
eq "exitmain: bare" "$? $(cat x.bare | tr '\n' ' ')" "5 worker_threads 2 worker_done 1 "
PERFPROBE_INTERVAL_MS=1 traced x.jsonl "$T/self_open" exitmain > x.shim
eq "exitmain: under the shim, as bare" "$? $(cat x.shim | tr '\n' ' ')" "5 $(cat x.bare | tr '\n' ' ')"

# The shim's own reads of stat and status are never the edited copy: the
# program closes every descriptor above 2 (the shim opens its files again,
# from the sampler thread, and keeps them), then touches 64 MiB and holds
# it: every sample from the first that sees it sees it (on a kept copy RSS
# would stay at the figure of the moment the copy was made).
PERFPROBE_INTERVAL_MS=1 traced g.jsonl "$T/self_open" grow > g.out
eq "grow: closed the descriptors and touched 64 MiB" \
    "$? $(fact g.out close_range) $(fact g.out touched)" "0 0 67108864"
check "grow: RSS from the shim's own reads holds the 64 MiB in every sample after" jq -e -s '
    [.[] | select(.type == "sample") | .rss] | (map(. >= 67108864) | index(true)) as $i
    | $i != null and (.[$i:] | length > 2 and all(. >= 67108864))' g.jsonl

# Python reads its status as psutil's num_threads() does (the file opened
# "rb", the "Threads:\t" line), stat with os.open, and lists
# /proc/self/task (os.listdir: readdir, as psutil's threads()), then a
# thread's own status and stat (/proc/thread-self, /proc/self/task/TID,
# /proc/PID/task/TID, and /proc/TID of a thread that is not the first),
# which count the process's threads too: as bare.
if [ -x "$PY" ]; then
    cat > threads.py <<'PY'
import os, re, sys, threading, time
ev = threading.Event()
ts = [threading.Thread(target=ev.wait) for _ in range(int(sys.argv[1]))]
for t in ts:
    t.start()
time.sleep(0.05)
with open("/proc/%d/status" % os.getpid(), "rb", buffering=32768) as f:
    print("psutil_threads", int(re.findall(rb"Threads:\t(\d+)", f.read())[0]))
with open("/proc/self/status") as f:
    print("text_threads", [l.split()[1] for l in f if l.startswith("Threads:")][0])
fd = os.open("/proc/self/stat", os.O_RDONLY)
print("os_open_stat_threads", os.read(fd, 4096).rsplit(b")", 1)[1].split()[17].decode())
os.close(fd)
print("task_entries", len(os.listdir("/proc/self/task")))
# a thread's own files count the process's threads too
me = threading.get_native_id()
for name, path in (("thread_self", "/proc/thread-self/status"),
                   ("task_tid", "/proc/self/task/%d/status" % me),
                   ("pid_task_tid", "/proc/%d/task/%d/status" % (os.getpid(), me))):
    with open(path) as f:
        print(name + "_threads", [l.split()[1] for l in f if l.startswith("Threads:")][0])
for name, path in (("thread_self_stat", "/proc/thread-self/stat"),
                   ("task_tid_stat", "/proc/self/task/%d/stat" % me)):
    fd = os.open(path, os.O_RDONLY)
    print(name + "_threads", os.read(fd, 4096).rsplit(b")", 1)[1].split()[17].decode())
    os.close(fd)
# /proc/TID/ of a thread that is not the first: the same count
got = {}
def from_thread():
    t = threading.get_native_id()
    with open("/proc/%d/status" % t) as f:
        got["tid_dir_threads"] = [l.split()[1] for l in f if l.startswith("Threads:")][0]
    fd = os.open("/proc/%d/stat" % t, os.O_RDONLY)
    got["tid_dir_stat_threads"] = os.read(fd, 4096).rsplit(b")", 1)[1].split()[17].decode()
    os.close(fd)
look = threading.Thread(target=from_thread)
look.start()
look.join()
for k in sorted(got):
    print(k, got[k])
ev.set()
for t in ts:
    t.join()
PY
    for n in 0 3; do
        "$PY" threads.py $n > p.bare.$n
        eq "python, $n threads: bare counts itself" "$? $(fact p.bare.$n psutil_threads)" "0 $((n + 1))"
        traced p.jsonl "$PY" threads.py $n > p.shim.$n
        eq "python, $n threads: status read as psutil does, stat with os.open, the listing of /proc/self/task, thread-self, task/TID and /proc/TID, as bare" \
            "$? $(tr '\n' ' ' < p.shim.$n)" "0 $(tr '\n' ' ' < p.bare.$n)"
    done
else
    echo "# skip: no $PY"
fi

# glibc's scandir family lists through its own internal readdir, past the
# readdir hooks: /proc/self/task through scandir, scandir64, scandirat and
# scandirat64, with a filter of the caller's, and with 0 and 3 threads: the
# entries, and those the caller's filter saw, as bare
for n in 0 3; do
    "$T/scan_task" $n > sc.bare.$n
    eq "scandir, $n threads: bare lists itself" "$? $(fact sc.bare.$n scandir)" "0 $((n + 1))"
    traced sc.jsonl "$T/scan_task" $n > sc.shim.$n
    eq "scandir, $n threads: the four calls and the filter's entries as bare" \
        "$? $(tr '\n' ' ' < sc.shim.$n)" "0 $(tr '\n' ' ' < sc.bare.$n)"
done

cat > fork_warn.py <<'PY'
import os, sys, warnings, multiprocessing as mp
def sq(x): return x * x
if __name__ == "__main__":
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        _, status = os.waitpid(pid, 0)
        with mp.get_context("fork").Pool(2) as pool:
            total = sum(pool.map(sq, range(10)))
    print(os.waitstatus_to_exitcode(status), total, len(seen), [str(w.message)[:30] for w in seen])
PY
python_versions
tried=0
for v in $versions; do
    name=${v%%:*} py=${v#*:}
    minor=$("$py" -c 'import sys; print(sys.version_info[1])' 2>/dev/null)
    [ "${minor:-0}" -ge 12 ] || continue
    tried=$((tried + 1))
    "$py" fork_warn.py > py.bare 2> py.bare.err
    eq "$name: bare, os.fork and a forked pool warn of nothing" "$? $(cat py.bare)" "0 7 285 0 []"
    PERFPROBE_INTERVAL_MS=1 traced py.jsonl "$py" fork_warn.py > py.shim 2> py.shim.err
    eq "$name: under the shim, the same output" "$? $(cat py.shim)" "0 $(cat py.bare)"
    eq "$name: and the same stderr" "$(cat py.shim.err)" "$(cat py.bare.err)"
    check "$name: the sampler ran all along" jq -e -s 'map(select(.type == "sample")) | length > 0' py.jsonl
done
[ "$tried" -gt 0 ] || echo "# skip: no CPython 3.12 or later on this machine for the fork warning"

# The sampler's short-lived task apart (sys/linux/apart.c: a new thread's CPU
# event, the cgroup's levels, and at each tick once the program closed the
# shim's descriptors) is a thread while it lives: a read made then is told
# apart by the task's id and its run count, and read again when one began
# or ended around it.  A one-threaded program reads its count for a second,
# sampled every millisecond.  Before, 1-3% of the reads said 2, and 15-76%
# after closing every descriptor.  A read that comes just as a task ends
# may still see it (0 to 16 reads in 30,000-40,000 here): 1 in 200 at
# most.
for how in plain closeall; do
    rm -f cr.txt
    PERFPROBE_INTERVAL_MS=1 traced cr.jsonl timeout -k 5 60 "$T/count_reads" 1000 cr.txt \
        $([ $how = closeall ] && echo closeall) > /dev/null
    eq "reads during tasks apart ($how): exit status 0" "$?" 0
    check "reads during tasks apart ($how): one thread in 199 of 200 reads or more ($(cat cr.txt))" \
        awk '$1 == "reads" && $2 > 1000 { exit !($4 * 200 <= $2) } END { if (NR != 1) exit 1 }' cr.txt
done

# Listings of /proc/self/task through readdir during tasks apart (each
# tick, the program having closed every descriptor): the kernel lists a
# task a moment before the sampler learns its id, and a listing read while
# it ran still names it once it has ended.  Both are left out (the id is
# waited for while a task is being made; an ended task apart is known by
# its id among the last 16).  Before, 21-112 listings in about 100,000 a
# run named two tasks (and t0645's five `ls` runs below once listed 2).
# Since, none in most runs; once, on a machine loaded with two other
# suites' worth of work, 1 in 225,419: 1 in 50,000 at most.
rm -f cl.txt
PERFPROBE_INTERVAL_MS=1 traced cl.jsonl timeout -k 5 60 "$T/count_reads" 1000 cl.txt closeall list > /dev/null
eq "listings during tasks apart: exit status 0" "$?" 0
check "listings during tasks apart: one in 50,000 or fewer names two tasks ($(cat cl.txt))" \
    awk '$1 == "reads" && $2 > 1000 { exit !($4 * 50000 <= $2) } END { if (NR != 1) exit 1 }' cl.txt

# ls /proc/self/task: a listing made at once, as the program starts, while
# the sampler thread may not have run yet (its id is taken from glibc's
# thread block as pthread_create returns); and another process's listing,
# untouched (the sampler of the process listed is there)
for i in 1 2 3 4 5; do
    traced ls.jsonl ls /proc/self/task
done > ls.shim
for i in 1 2 3 4 5; do ls /proc/self/task; done > ls.bare
eq "ls /proc/self/task, 5 runs: one entry each, as bare" "$(wc -l < ls.shim) $(wc -l < ls.bare)" "5 5"
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/sl.jsonl LD_PRELOAD=$S sleep 2 &
slp=$!
sleep 0.5
eq "another process's task list (a sleep under the shim) shows its sampler" \
    "$(traced ls2.jsonl ls /proc/$slp/task | wc -l)" 2
wait $slp
