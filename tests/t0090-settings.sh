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
