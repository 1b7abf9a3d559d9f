# A program reads its own thread count as it would bare: field 20 of
# /proc/self/stat (and /proc/PID/stat) through fopen and fopen64 leaves out
# the shim's sampler thread (docs/robustness.md).  Ground truth: the same
# program run bare, which starts a known number of threads; the stream is
# what fopen would give (the lowest free descriptor, close-on-exec as its
# mode says, the other fields as read with open(2)), also for a command
# name holding ") " and spaces; another process's stat file is untouched;
# a read with open(2), which no hook covers, still counts the sampler.
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
            "self_r_cloexec 0 self_re_cloexec 1 self64_r_cloexec 0 pid_r_cloexec 0 pid64_re_cloexec 1 "
        eq "$name, $n threads: another process's stat file is untouched" "$(fact shim.$n init_pid)" 1
        eq "$name, $n threads: open(2) still counts the sampler" "$(fact shim.$n raw_threads)" $((n + 2))
    done
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
