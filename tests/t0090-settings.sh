# Bad settings and unwritable paths: one clear line on stderr, the program
# untouched.  The settings documentation matches the options table.
. "$PP_ROOT/tests/lib.sh"

bad() {  # VAR VALUE: one warning line naming VAR, program output unchanged
    env PERFPROBE_QUIET=1 "$1=$2" PERFPROBE_OUTPUT=b.jsonl LD_PRELOAD=$S \
        $PY -c 'print(6 * 7)' > out.txt 2> err.txt
    local rc=$?
    eq "$1=$2: exit status" $rc 0
    eq "$1=$2: stdout untouched" "$(cat out.txt)" 42
    eq "$1=$2: exactly one warning on stderr" "$(grep -c '^perfprobe: warning' err.txt)" 1
    [ "$1" = PERFPROBE_QUIET ] || eq "$1=$2: nothing else on stderr" "$(wc -l < err.txt)" 1
    check "$1=$2: the line names the setting" grep -q "^perfprobe: warning: $1=" err.txt
}
bad PERFPROBE_INTERVAL_MS abc
bad PERFPROBE_INTERVAL_MS 0
bad PERFPROBE_QUIET maybe
PERFPROBE_QUIET=maybe PERFPROBE_OUTPUT=q.jsonl LD_PRELOAD=$S /bin/true 2> err.txt
check "a bad PERFPROBE_QUIET keeps the default (the table is printed)" grep -q "^perfprobe: /bin/true\|^perfprobe: true" err.txt
bad PERFPROBE_BATCH 12Q
bad PERFPROBE_FOLLOW 2
PERFPROBE_INTERVAL_MS=abc traced d.jsonl /bin/true 2>/dev/null
eq "a bad value keeps the default" "$(head -1 d.jsonl | jq .interval_ms)" 10
PERFPROBE_INTERVAL_MS=25 traced d.jsonl /bin/true
eq "a good value is used" "$(head -1 d.jsonl | jq .interval_ms)" 25
PERFPROBE_BATCH=1M traced d.jsonl /bin/true
eq "sizes take K/M/G" "$(head -1 d.jsonl | jq .batch_bytes)" 1048576

PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=/nonexistent/dir/x.jsonl LD_PRELOAD=$S \
    $PY -c 'print(6 * 7)' > out.txt 2> err.txt
eq "unwritable output: exit status" $? 0
eq "unwritable output: stdout untouched" "$(cat out.txt)" 42
eq "unwritable output: one line on stderr" "$(wc -l < err.txt)" 1
check "unwritable output: the line names the path" grep -q "/nonexistent/dir/x.jsonl" err.txt

PERFPROBE_OUTPUT=out-%n-%p.jsonl LD_PRELOAD=$S PERFPROBE_QUIET=1 /bin/true
mkdir sub
(cd sub && PERFPROBE_OUTPUT=rel.jsonl LD_PRELOAD=$S PERFPROBE_QUIET=1 bash -c 'cd /; /bin/true')
eq "a relative output path is resolved where the run started (one file, both processes)" \
    "$(grep -c '"type":"header"' sub/rel.jsonl)" 2

check "%n and %p expand" bash -c 'ls out-true-[0-9]*.jsonl >/dev/null'
(LD_PRELOAD=$S PERFPROBE_QUIET=1 /bin/true)
check "default name is perfprobe.NAME.PID.jsonl" bash -c 'ls perfprobe.true.[0-9]*.jsonl >/dev/null'

"$PP_BUILD/pp-options" --markdown > gen.md
awk '/<!-- options:begin -->/{f=1; next} /<!-- options:end -->/{f=0} f' \
    "$PP_ROOT/docs/settings.md" > doc.md
check "docs/settings.md matches the options table" cmp -s gen.md doc.md

# something met while the program runs (here: more threads than CPU
# sampling follows) is a warning on stderr, and with PERFPROBE_QUIET=1 a
# "note" record in the timeline only: nothing of the shim's on stderr
# (the threads wait until the file named says so, or 10 s: opening 1,024
# threads' events took longer than a fixed 300 ms on a loaded machine)
cat > threads1100.c <<'EOS'
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int go;
static void *wait_go(void *a)
{
    pthread_mutex_lock(&m);
    while (!go)
        pthread_cond_wait(&c, &m);
    pthread_mutex_unlock(&m);
    return a;
}
static int says(const char *path)
{
    static char text[1 << 20];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = 0;
    return strstr(text, "more threads than CPU sampling follows") != NULL;
}
int main(int argc, char **argv)
{
    static pthread_t t[1100];
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 64 << 10);
    int n = 0;
    while (n < 1100 && pthread_create(&t[n], &at, wait_go, NULL) == 0)
        n++;
    for (int i = 0; i < 500 && !says(argv[1]); i++)
        usleep(20000);
    pthread_mutex_lock(&m);
    go = 1;
    pthread_cond_broadcast(&c);
    pthread_mutex_unlock(&m);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    printf("%d threads\n", n);
    return 0;
}
EOS
cc -o threads1100 threads1100.c -pthread
rm -f s.jsonl
PERFPROBE_OUTPUT=$PWD/s.jsonl LD_PRELOAD=$S timeout -k 5 60 ./threads1100 loud.err > loud.out 2> loud.err
if grep -q 'more threads than CPU sampling follows' loud.err; then
    ok "1,100 threads: the warning on stderr"
    rm -f s.jsonl
    eq "1,100 threads, PERFPROBE_QUIET=1: nothing on stderr" \
        "$(PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/s.jsonl LD_PRELOAD=$S timeout -k 5 60 ./threads1100 s.jsonl 2>&1 >/dev/null)" ""
    eq "1,100 threads, PERFPROBE_QUIET=1: the warning is a note in the timeline" \
        "$(jq -r 'select(.type == "note") | .text' s.jsonl | grep -c 'more threads than CPU sampling follows')" 1
else
    echo "# skip: no CPU sampling here, so no warning about threads ($(head -c 200 loud.err))"
fi

# PERFPROBE_OUTPUT= (set, empty): no file and no warning; the program runs
# as bare, and without PERFPROBE_QUIET the exit table is still printed
mkdir empty-out
(cd empty-out && PERFPROBE_QUIET=1 PERFPROBE_OUTPUT= LD_PRELOAD=$S \
    $PY -c 'print(6 * 7)' > ../out.txt 2> ../err.txt)
eq "PERFPROBE_OUTPUT=: exit status" $? 0
eq "PERFPROBE_OUTPUT=: stdout untouched" "$(cat out.txt)" 42
eq "PERFPROBE_OUTPUT=, PERFPROBE_QUIET=1: nothing on stderr" "$(wc -c < err.txt)" 0
eq "PERFPROBE_OUTPUT=: no file written" "$(ls -A empty-out | wc -l)" 0
(cd empty-out && PERFPROBE_OUTPUT= LD_PRELOAD=$S /bin/true 2> ../err.txt)
eq "PERFPROBE_OUTPUT=: no warning" "$(grep -c '^perfprobe: warning' err.txt)" 0
check "PERFPROBE_OUTPUT=: the exit table is printed" grep -q '^perfprobe: true (pid' err.txt
eq "PERFPROBE_OUTPUT=, with the table: still no file" "$(ls -A empty-out | wc -l)" 0

# a bad value warns once a run, from the first process: not again from a
# forked child (timeout forks, the child execs), for each setting the
# shim reads, nor from the program a traced process execs
for v in PERFPROBE_CPU PERFPROBE_STACKS PERFPROBE_INTERVAL_MS; do
    for i in 1 2 3 4 5; do
        env PERFPROBE_QUIET=1 "$v=bogus" PERFPROBE_OUTPUT=$PWD/once.jsonl LD_PRELOAD=$S \
            timeout 60 $PY -c 'import time; time.sleep(0.05)' 2>> once-$v.err
    done
    eq "$v=bogus under timeout, 5 runs: one warning each" "$(grep -c "^perfprobe: warning: $v=" once-$v.err)" 5
    eq "$v=bogus under timeout, 5 runs: nothing else on stderr" "$(wc -l < once-$v.err)" 5
done
env PERFPROBE_QUIET=1 PERFPROBE_CPU=bogus PERFPROBE_OUTPUT=$PWD/once.jsonl LD_PRELOAD=$S \
    bash -c '/bin/true; sleep 0.1; /bin/true' 2> once-sh.err
eq "PERFPROBE_CPU=bogus, a shell and its children: one warning" "$(grep -c 'PERFPROBE_CPU' once-sh.err)" 1
eq "PERFPROBE_CPU=bogus keeps the default: cpu_info of each process" \
    "$(jq -s '[.[] | select(.type == "cpu_info")] | length > 0' once.jsonl)" true

# the words are taken in any case, as the booleans are: OFF is off
for v in OFF Off off; do
    rm -f w.jsonl
    env PERFPROBE_QUIET=1 PERFPROBE_CPU=$v PERFPROBE_STACKS=$v PERFPROBE_OUTPUT=w.jsonl LD_PRELOAD=$S \
        $PY -c 'x = [bytearray(10000) for i in range(2000)]; print(6 * 7)' > out.txt 2> err.txt
    eq "PERFPROBE_CPU=$v PERFPROBE_STACKS=$v: stdout untouched" "$(cat out.txt)" 42
    eq "PERFPROBE_CPU=$v PERFPROBE_STACKS=$v: no warning" "$(wc -c < err.txt)" 0
    eq "PERFPROBE_CPU=$v: no CPU sampling (no cpu_info record)" \
        "$(jq -s '[.[] | select(.type == "cpu_info")] | length' w.jsonl)" 0
    eq "PERFPROBE_STACKS=$v: no allocation sites (no sites record)" \
        "$(jq -s '[.[] | select(.type == "sites")] | length' w.jsonl)" 0
done
env PERFPROBE_QUIET=1 PERFPROBE_STACKS=ALL PERFPROBE_OUTPUT=w.jsonl LD_PRELOAD=$S \
    $PY -c 'x = [bytearray(10000) for i in range(2000)]' 2> err.txt
eq "PERFPROBE_STACKS=ALL: no warning" "$(wc -c < err.txt)" 0
eq "PERFPROBE_STACKS=ALL: allocation sites recorded" \
    "$(jq -s 'any(.[]; .type == "sites")' w.jsonl)" true
bad PERFPROBE_CPU bogus
bad PERFPROBE_CPU 10001
bad PERFPROBE_STACKS bogus

# numbers up to the documented maximum: PERFPROBE_SEED's is UINT64_MAX
PERFPROBE_QUIET=1 PERFPROBE_SEED=18446744073709551615 PERFPROBE_OUTPUT=n.jsonl LD_PRELOAD=$S \
    $PY -c 'print(6 * 7)' > out.txt 2> err.txt
eq "PERFPROBE_SEED=18446744073709551615 (UINT64_MAX): no warning" "$(wc -c < err.txt)" 0
eq "PERFPROBE_SEED=UINT64_MAX: stdout untouched" "$(cat out.txt)" 42
bad PERFPROBE_SEED 18446744073709551616
bad PERFPROBE_SEED 99999999999999999999

# the kernel refusing perf_event_open (a seccomp filter, $T/deny_perf) is
# met at run time: one line on stderr, or with PERFPROBE_QUIET=1 a note in
# the timeline and nothing on stderr
"$T/deny_perf" $PY -c 'print(6 * 7)' > bare.out 2> bare.err
bare_rc=$?
if [ "$(cat bare.out)" = 42 ]; then
    rm -f r.jsonl
    PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=r.jsonl LD_PRELOAD=$S \
        "$T/deny_perf" $PY -c 'print(6 * 7)' > out.txt 2> err.txt
    eq "perf refused, PERFPROBE_QUIET=1: exit status as bare" $? $bare_rc
    eq "perf refused, PERFPROBE_QUIET=1: stdout as bare" "$(cat out.txt)" "$(cat bare.out)"
    eq "perf refused, PERFPROBE_QUIET=1: nothing on stderr" "$(wc -c < err.txt)" 0
    eq "perf refused, PERFPROBE_QUIET=1: the refusal is a note in the timeline" \
        "$(jq -r 'select(.type == "note") | .text' r.jsonl | grep -c 'refuses perf_event_open')" 1
    check "perf refused, PERFPROBE_QUIET=1: the timeline is valid JSON Lines" valid_jsonl r.jsonl
    rm -f r.jsonl
    PERFPROBE_OUTPUT=r.jsonl LD_PRELOAD=$S \
        "$T/deny_perf" $PY -c 'print(6 * 7)' > out.txt 2> err.txt
    eq "perf refused: stdout as bare" "$(cat out.txt)" "$(cat bare.out)"
    eq "perf refused: the line on stderr, once" "$(grep -c 'refuses perf_event_open' err.txt)" 1
    eq "perf refused: no other warning" "$(grep -c '^perfprobe: warning' err.txt)" 1
    eq "perf refused: no note (the line is on stderr)" \
        "$(jq -s '[.[] | select(.type == "note")] | length' r.jsonl)" 0
    # a shell (it sets the locale) and its children: the root says it once,
    # the others in notes; the errno's text takes nothing from the allocator
    rm -f r.jsonl
    PERFPROBE_OUTPUT=r.jsonl LD_PRELOAD=$S LANG=C.UTF-8 \
        "$T/deny_perf" bash -c '/bin/true; sleep 0.2; exit 0' 2> err.txt
    eq "perf refused, a shell and its children: one warning on stderr" \
        "$(grep -c '^perfprobe: warning' err.txt)" 1
    eq "perf refused, a shell and its children: it is the refusal" \
        "$(grep -c 'refuses perf_event_open' err.txt)" 1
    eq "perf refused, a shell and its children: each other process that was refused has a note" \
        "$(jq -r 'select(.type == "note") | .pid' r.jsonl | sort -u | wc -l)" \
        "$(jq -r 'select(.type == "cpu_info" and .off) | .pid' r.jsonl | sort -u | grep -vc "^$(jq -r 'select(.type == "header") | .root_pid' r.jsonl | head -1)\$")"
    # the kernel refusing process_vm_readv (DENY=process_vm_readv): the
    # stacks copied for CPU samples cannot be walked with the call-frame
    # tables nor Python's frames read; said as the perf refusal is (before,
    # nothing was said: the line existed only where Python frames were read,
    # which a refused walk never reaches)
    printf 'import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3:\n    pass\nprint(42)\n' > busy.py
    DENY=process_vm_readv "$T/deny_perf" $PY busy.py > bare.out 2> bare.err
    bare_rc=$?
    for q in 0 1; do
        rm -f r.jsonl
        DENY=process_vm_readv PERFPROBE_CPU=997 PERFPROBE_QUIET=$q PERFPROBE_OUTPUT=r.jsonl LD_PRELOAD=$S \
            "$T/deny_perf" $PY busy.py > out.txt 2> err.txt
        eq "process_vm_readv refused (QUIET=$q): status and stdout as bare" "$? $(cat out.txt)" "$bare_rc $(cat bare.out)"
        eq "process_vm_readv refused (QUIET=$q): lines on stderr" \
            "$(grep -c 'refuses process_vm_readv' err.txt)" $((1 - q))
        eq "process_vm_readv refused (QUIET=$q): notes in the timeline" \
            "$(jq -r 'select(.type == "note") | .text' r.jsonl | grep -c 'refuses process_vm_readv')" $q
        eq "process_vm_readv refused (QUIET=$q): no stack walked with the call-frame tables" \
            "$(jq -s '[.[] | select(.type == "cpu" and .final) | .walked_cfi] | add' r.jsonl)" 0
        check "process_vm_readv refused (QUIET=$q): stacks taken all the same" \
            test "$(jq -s '[.[] | select(.type == "cpu" and .final) | .walked_fp] | add' r.jsonl)" -gt 0
    done
else
    echo "# skip: deny_perf cannot run here ($(head -c 200 bare.err))"
fi
