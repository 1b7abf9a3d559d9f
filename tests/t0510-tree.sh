# One run, one story: a process tree (wrappers, exec chains, make, Python's
# multiprocessing, 200 children) is one file, and every command picks the
# main process out of it.
. "$PP_ROOT/tests/lib.sh"
PP=$PP_BUILD/perfprobe
PY=/usr/bin/python3

# a pyenv-style shim: runs helper processes, then execs the real python3
mkdir -p pyenv uv
cat > pyenv/python3 <<'SH'
#!/bin/bash
v=$(echo 3.11 | cut -d. -f1)
[ -n "$v" ] && /bin/true
exec /usr/bin/env /usr/bin/python3 "$@"
SH
# a uv-style wrapper: starts python3 as a child and waits for it
cat > uv/python3 <<'SH'
#!/bin/bash
/usr/bin/python3 "$@"
exit $?
SH
chmod +x pyenv/python3 uv/python3
cat > work.py <<'PYEOF'
import time
x = bytearray(64 << 20)
for i in range(0, len(x), 4096):
    x[i] = 1
t = time.time()
while time.time() - t < 0.3:
    sum(range(1000))
print("done")
PYEOF

mkdir run1 && cd run1
"$PP" run -o bench.jsonl -- ../pyenv/python3 ../work.py > out.txt 2> err.txt
eq "pyenv-style: status and output" "$? $(cat out.txt)" "0 done"
eq "pyenv-style: nothing but the one artifact in the directory" "$(ls | grep -v 'out.txt\|err.txt')" bench.jsonl
"$PP" report --json bench.jsonl > r.json
eq "pyenv-style: the main process is python3, the end of the exec chain" \
    "$(jq -r '.main.program' r.json)" python3
eq "pyenv-style: the root's images are bash, env, python3, joined by exec" \
    "$(jq -r --argjson p "$(jq .main.pid r.json)" '.tree.processes[] | select(.pid == $p) | .programs | join(" ")' r.json)" \
    "bash env python3"
eq "pyenv-style: no image is incomplete because it exec'd" \
    "$("$PP" report bench.jsonl | grep -c 'no summary')" 0
le "pyenv-style: the report's summary is python's (64 MiB touched)" $((64 << 20)) \
    "$(jq -r '.summary.peak_rss_bytes' r.json)"
"$PP" check bench.jsonl --min peak_rss_bytes=64M > c.txt 2>&1
eq "pyenv-style: check works on python's figures" $? 0
eq "pyenv-style: the exit table is printed once" "$(grep -c '^perfprobe: ' err.txt)" 1
check "pyenv-style: the exit table is python's" grep -q '^perfprobe: python3' err.txt
check "pyenv-style: a line per other process" grep -q 'process tree: [0-9]* processes' err.txt
cd ..

mkdir run2 && cd run2
"$PP" run -q -o uv.jsonl -- ../uv/python3 ../work.py > out.txt
"$PP" report --json uv.jsonl > r.json
eq "uv-style: the main process is the python3 child, not the wrapper" \
    "$(jq -r '.main.program' r.json)" python3
check "uv-style: the report says how it decided" grep -q "wrapper" <(jq -r .main.why r.json)
root=$(head -1 uv.jsonl | jq .pid)
check "uv-style: --process chooses the wrapper instead" \
    test "$("$PP" report --json --process "$root" uv.jsonl | jq .main.pid)" = "$root"
check "uv-style: --process by name" \
    test "$("$PP" report --json --process bash uv.jsonl | jq -r .main.program)" = bash
"$PP" run -n 2 -o rep.jsonl -- ../uv/python3 ../work.py > rep.txt 2> rep.err
eq "run -n: each run's main process is python3" "$(grep -c 'main process python3' rep.err)" 2
le "run -n: the cross-run table is python's (peak RSS mean)" $((64 << 20)) \
    "$("$PP" run -n 1 --json -o rep1.jsonl -- ../uv/python3 ../work.py 2>/dev/null | tail -1 | jq '.rows[] | select(.key == "peak_rss_bytes") | .mean | floor')"
cd ..

mkdir run3 && cd run3
PERFPROBE_FOLLOW=exec "$PP" run -q -o ex.jsonl -- ../pyenv/python3 ../work.py > /dev/null
eq "PERFPROBE_FOLLOW=exec: the exec chain only, not the wrapper's helpers" \
    "$(jq -r 'select(.type == "header") | .program' ex.jsonl | tr '\n' ' ')" "bash env python3 "
cd ..

# make -j2 and Python's multiprocessing
printf 'all: a b c d\na b c d:\n\t@sleep 0.05; echo $@ > $@.out\n' > Makefile
"$PP" run -q -o make.jsonl -- make -s -j2 > /dev/null
eq "make -j2: every target built" "$(cat a.out b.out c.out d.out | tr '\n' ' ')" "a b c d "
le "make -j2: one file with make and its recipes' shells" 5 "$("$PP" report --json make.jsonl | jq '.tree.totals.processes')"
# (the pool's workers that did work, by their own pids: a worker the pool
# started but never gave a task may be terminated before it ran at all)
for method in fork spawn; do
    printf '%s\n' 'import multiprocessing as mp, os' 'def sq(x): return x * x, os.getpid()' \
        "if __name__ == '__main__':" "    mp.set_start_method('$method')" \
        '    with mp.Pool(2) as p: r = p.map(sq, range(100), chunksize=1)' \
        '    print(sum(v for v, _ in r)); print(*sorted(set(w for _, w in r)))' > mp_$method.py
    "$PP" run -q -o mp-$method.jsonl -- $PY mp_$method.py > mp.out
    eq "multiprocessing ($method): the result" "$(head -1 mp.out)" 328350
    "$PP" report --json mp-$method.jsonl > mp.json
    workers=$(sed -n 2p mp.out)
    eq "multiprocessing ($method): every worker that did work has its header in the one file" \
        "$(for w in $workers; do jq -r "select(.type == \"header\" and .pid == $w) | .pid" mp-$method.jsonl | head -1; done | tr '\n' ' ')" \
        "$(printf '%s ' $workers)"
    le "multiprocessing ($method): the report counts them with the main process" \
        $((1 + $(echo $workers | wc -w))) "$(jq '.tree.totals.processes' mp.json)"
    eq "multiprocessing ($method): the main process is the first python3" \
        "$(jq -r .main.pid mp.json)" "$(head -1 mp-$method.jsonl | jq .pid)"
done

# 200 children: the totals against the processes' own figures
"$PP" run -q -o fan.jsonl -- "$T/tree_fanout" 200
"$PP" report --json fan.jsonl > fan.json
eq "200 children: 201 processes" "$(jq .tree.totals.processes fan.json)" 201
# in microseconds, the summaries' own unit: a sum of whole microseconds is
# never near a rounding boundary there (in milliseconds a sum ending in
# .5 rounded either way, by the order of the additions)
eq "200 children: the tree's CPU is the sum of the processes' own" \
    "$(jq -s '[.[] | select(.type == "summary") | .cpu_user_s + .cpu_sys_s] | add * 1000000 | round' fan.jsonl)" \
    "$(jq '.tree.totals.cpu_s * 1000000 | round' fan.json)"
largest=$(jq -s '[.[] | select(.type == "summary") | .peak_rss_bytes] | max' fan.jsonl)
sum=$(jq -s '[.[] | select(.type == "summary") | .peak_rss_bytes] | add' fan.jsonl)
combined=$(jq '.tree.totals.peak_rss_bytes | floor' fan.json)
le "200 children: the combined peak RSS is at least the largest process's" "$largest" "$combined"
le "200 children: and at most the sum of all peaks" "$combined" "$sum"
le "200 children: parent and a child were alive at once (combined above the largest)" \
    "$((largest + (1 << 20)))" "$combined"
"$PP" check fan.jsonl --max tree.peak_rss_bytes=1G --min tree.processes=201 > /dev/null
eq "check: tree.* keys" $? 0

# two children that each make a pid namespace of their own and fork a
# process there (pid 1 to itself) that holds 20 and 40 MiB: both wrote
# "pid":1, and the reader took them for one process (4 processes, the
# 20 MiB one gone).  Records carry the pid /proc shows
cat > twons.c <<'EOF'
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void)
{
    for (int k = 0; k < 2; k++) {
        pid_t a = fork();
        if (a == 0) {
            if (unshare(CLONE_NEWPID) != 0 && unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0)
                _exit(9);
            pid_t c = fork();
            if (c == 0) {
                size_t n = (size_t)(k + 1) * (20 << 20);
                char *p = malloc(n);
                memset(p, 1, n);
                printf("pid %d holds %zu MiB\n", getpid(), n >> 20);
                fflush(stdout);
                free(p);
                exit(0);
            }
            waitpid(c, 0, 0);
            exit(0);
        }
        int st;
        waitpid(a, &st, 0);
        if (WEXITSTATUS(st) == 9) {
            puts("no pid namespace here");
            return 0;
        }
    }
    return 0;
}
EOF
cc -o twons twons.c
rm -f ns.jsonl
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/ns.jsonl LD_PRELOAD=$S timeout 60 ./twons > ns.out
if grep -q "no pid namespace" ns.out; then
    echo "# skip: no pid namespace can be made here"
else
    eq "pid namespaces: each namespace's first process is pid 1 to itself" "$(cut -d' ' -f2 ns.out | tr '\n' ' ')" "1 1 "
    # (timeout, its child that execs the program, two children, two
    # grandchildren: six pids, seven images)
    eq "pid namespaces: six pids, each (pid, image) once" \
        "$(jq -r 'select(.type == "header") | .pid' ns.jsonl | sort -u | wc -l) $(jq -r 'select(.type == "header") | "\(.pid) \(.image)"' ns.jsonl | sort -u | wc -l)" "6 7"
    eq "pid namespaces: the report counts 6 processes" \
        "$("$PP" report ns.jsonl 2>&1 | sed -n 's/^process tree: \([0-9]*\) processes.*/\1/p')" 6
    eq "pid namespaces: the 20 MiB and the 40 MiB processes both there" \
        "$(jq -rs '[.[] | select(.type == "summary") | (.peak_heap_bytes / 1048576 | floor)] | sort | .[-2:] | map(tostring) | join(" ")' ns.jsonl)" "20 40"
fi
