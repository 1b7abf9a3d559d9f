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
cat > threads1100.c <<'EOS'
#include <pthread.h>
#include <stdio.h>
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
int main(void)
{
    static pthread_t t[1100];
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 64 << 10);
    int n = 0;
    while (n < 1100 && pthread_create(&t[n], &at, wait_go, NULL) == 0)
        n++;
    usleep(300000);
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
PERFPROBE_OUTPUT=$PWD/s.jsonl LD_PRELOAD=$S timeout -k 5 60 ./threads1100 > loud.out 2> loud.err
if grep -q 'more threads than CPU sampling follows' loud.err; then
    ok "1,100 threads: the warning on stderr"
    rm -f s.jsonl
    eq "1,100 threads, PERFPROBE_QUIET=1: nothing on stderr" \
        "$(PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/s.jsonl LD_PRELOAD=$S timeout -k 5 60 ./threads1100 2>&1 >/dev/null)" ""
    eq "1,100 threads, PERFPROBE_QUIET=1: the warning is a note in the timeline" \
        "$(jq -r 'select(.type == "note") | .text' s.jsonl | grep -c 'more threads than CPU sampling follows')" 1
else
    echo "# skip: no CPU sampling here, so no warning about threads ($(head -c 200 loud.err))"
fi
