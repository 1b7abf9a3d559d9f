# The perfprobe command: run, report, diff, check, each exit code, and
# input it did not write.
. "$PP_ROOT/tests/lib.sh"
PP=$PP_BUILD/perfprobe
ASAN=$PP_BUILD/perfprobe-asan
P=$PP_ROOT/tests/progs

# ---- run ------------------------------------------------------------------------
$PP run -q -o r.jsonl -- $PY -c 'import sys; print("hi"); sys.exit(3)' > out.txt
eq "run: exits with the program's status" $? 3
eq "run: stdout is the program's" "$(cat out.txt)" hi
eq "run: -o names the timeline" "$(tail -1 r.jsonl | jq -r .type)" summary
$PP run -o r2.jsonl -i 25 -- /bin/true 2> err.txt
eq "run: -i sets the interval" "$(head -1 r2.jsonl | jq .interval_ms)" 25
check "run: the table is on stderr without -q" grep -q "^perfprobe: true" err.txt
$PP run -q -o k.jsonl -- $PY -c 'import os, signal; os.kill(os.getpid(), signal.SIGTERM)'
eq "run: a program killed by SIGTERM gives 128+15" $? 143
printf 'int main(void){return 0;}\n' > s.c
if gcc -static -o static s.c 2>/dev/null; then
    $PP run -- ./static 2> err.txt
    eq "run: refuses a static binary with status 2" $? 2
    check "run: says why" grep -q "statically linked" err.txt
else
    fail "cannot build a static test binary (libc6-dev's libc.a)"
fi
# a static PIE has no PT_INTERP and is refused; nor has the dynamic
# linker, which runs a program named after it with LD_PRELOAD honoured
if gcc -static-pie -o spie s.c 2>/dev/null; then
    $PP run -- ./spie 2> err.txt
    eq "run: refuses a static PIE with status 2" $? 2
else
    fail "cannot build a static PIE (gcc -static-pie)"
fi
# a script without a #! line runs under /bin/sh, as the shell, env and
# timeout run it (execv alone failed with ENOEXEC: status 127)
printf 'echo no-shebang "$1"\n' > nosb.sh && chmod +x nosb.sh
$PP run -q -o nosb.jsonl ./nosb.sh arg > nosb.out 2> nosb.err
eq "run: a script without #! runs under /bin/sh (status, output)" "$? $(cat nosb.out)" "0 no-shebang arg"
LDSO=$(ls /lib64/ld-linux-x86-64.so.2 2> /dev/null)
if [ -n "$LDSO" ]; then
    $PP run -q -o ldso.jsonl -- "$LDSO" /bin/echo through-the-loader > ldso.out 2> ldso.err
    eq "run: the dynamic linker as CMD runs the program (status, output)" "$? $(cat ldso.out)" "0 through-the-loader"
    eq "run: ... and traces it: a header and a summary" \
        "$(jq -r 'select(.type == "header" or .type == "summary") | .type' ldso.jsonl | tr '\n' ' ')" "header summary "
else
    echo "# skip: no /lib64/ld-linux-x86-64.so.2"
fi
mkdir lonely && cp "$PP" lonely/
lonely/perfprobe run -- /bin/true 2> err.txt
eq "run: a missing shim is status 2" $? 2
check "run: says the shim is missing" grep -q "libperfprobe.so not found" err.txt
$PP run -- no-such-command-here 2> err.txt
eq "run: an unknown command is status 2" $? 2
$PP run --stacks full -- /bin/true 2> err.txt
eq "run: --stacks other than none is refused" $? 2
$PP run --bogus -- /bin/true 2> /dev/null
eq "run: an unknown option is status 2" $? 2
printf '#!/bin/sh\necho ran > ran.txt\n' > noexec.sh
chmod 644 noexec.sh
$PP run -- ./noexec.sh 2> err.txt
eq "run: a file without execute permission is status 2" $? 2
check "run: says permission denied, not command not found" grep -q "permission denied" err.txt
$PP run -i abc -- /bin/true 2> err.txt
eq "run: -i abc is refused like -n abc" $? 2
check "run: -i says what it wants" grep -q "is not an interval" err.txt
$PP run -i 0 -- /bin/true 2> /dev/null
eq "run: -i 0 is refused" $? 2
$PP run -q -o no/such/dir/x.jsonl -- /bin/true 2> err.txt
eq "run: -o in a missing directory is status 2" $? 2
check "run: names the missing directory" grep -q "no/such/dir does not exist" err.txt
$PP run -q -o no/such/dir/x.jsonl -- /bin/sh -c 'echo ran > ran.txt' 2> /dev/null
check "run: ... and the program never ran" test ! -e ran.txt

# ---- run -n: cold repeats -------------------------------------------------------
gcc -O2 -I"$P" -I"$PP_ROOT/libprobe" -x c "$P/probes.c.in" -o probes -lm -pthread
$PP run -n 3 -o rep.jsonl -- ./probes rep.facts > rep.txt 2> rep.err
eq "run -n: status" $? 0
eq "run -n: one timeline per run" "$(ls rep.run*.jsonl | wc -l)" 3
check "run -n: a table across the runs" grep -q "^3 runs: mean, stdev, min, median and max" rep.txt
check "run -n: a row per probe" grep -q "^probe allocated dt_s" rep.txt
check "run -n: a row per region" grep -q "^region tick p99_ns" rep.txt
# the figures themselves, from --json, against the runs' own summaries (the
# text rounds: comparing it with another rounding of the same mean flaked
# whenever the mean fell on a half, 0.51535 -> 0.5153 or 0.5154)
$PP run -n 3 --json -o repj.jsonl -- ./probes rep.facts > repj.out 2> /dev/null
eq "run -n --json: status" $? 0
tail -1 repj.out > repj.json          # after the program's own output
mean=$(jq -s '[.[] | select(.type == "summary") | .peak_heap_bytes] | add / length' repj.run*.jsonl)
within "run -n --json: the mean peak heap is the runs' mean" \
    "$(jq '.rows[] | select(.name == "peak_heap_bytes") | .mean' repj.json)" "$mean" 0.0000001
med=$(jq -s '[.[] | select(.type == "summary") | .wall_s] | sort | .[1]' repj.run*.jsonl)
within "run -n --json: the median wall time is the middle run's" \
    "$(jq '.rows[] | select(.name == "wall_s") | .median' repj.json)" "$med" 0.0000001
eq "run -n --json: a row per region figure" \
    "$(jq -c '[.rows[] | select(.name == "region tick p99_ns") | .runs]' repj.json)" "[3]"
# the text shows the same mean, in MiB, within its rounding
shown=$(awk '$1 == "peak_heap_bytes" { print $2 }' rep.txt)
mean_txt=$(jq -s '[.[] | select(.type == "summary") | .peak_heap_bytes] | add / length / 1048576' rep.run*.jsonl)
check "run -n: the text mean is the runs' mean to its 2 decimals" \
    awk -v a="$shown" -v b="$mean_txt" 'BEGIN { d = a - b; exit !(d <= 0.005 + 1e-9 && -d <= 0.005 + 1e-9) }'

# ---- report -------------------------------------------------------------------------
traced p.jsonl ./probes p.facts > /dev/null
$PP report p.jsonl > rep.txt
eq "report: status" $? 0
check "report: text has the probes" grep -q "^allocated " rep.txt
check "report: text has the regions" grep -q "^  work " rep.txt
$PP report --json p.jsonl > rep.json
eq "report --json: keys" "$(jq -c '[has("summary"), has("probes"), has("regions")]' rep.json)" "[true,true,true]"
eq "report --json: complete" "$(jq .summary.complete rep.json)" true
eq "report --json: the summary is the file's" "$(jq .summary.peak_heap_bytes rep.json)" "$(summary p.jsonl peak_heap_bytes)"
eq "report --json: every probe" "$(jq '.probes | length' rep.json)" 13
$PP report --csv --table probes p.jsonl > rep.csv
check "report --csv --table probes: a probe row" grep -q '^"p.jsonl","allocated",' rep.csv
eq "report --csv --table probes: one table, one header" "$(grep -c '^file,' rep.csv)" 1
$PP report --csv --table regions p.jsonl > rep.csv
check "report --csv --table regions: a region row" grep -q '^"p.jsonl","tick/work",2000,' rep.csv
$PP report --csv p.jsonl > rep.csv
eq "report --csv: the summary table alone" "$(head -1 rep.csv)" "file,key,value"
eq "report --csv: the file's own numbers" \
    "$(awk -F, '$2 == "peak_heap_bytes" { print $3 }' rep.csv)" "$(summary p.jsonl peak_heap_bytes)"
$PP report --markdown p.jsonl > rep.md
check "report --markdown: a table" grep -q '^| p.jsonl | peak_heap_bytes | ' rep.md

# a killed process: the summary rebuilt from the samples
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=killed.jsonl LD_PRELOAD=$S "$T/sleeper" > ready.txt &
pid=$!
for i in $(seq 1 250); do grep -q ready ready.txt && break; sleep 0.02; done
sleep 0.1
kill -KILL $pid; wait $pid 2>/dev/null
$PP report --json killed.jsonl > killed.json
eq "report, killed: status" $? 0
eq "report, killed: complete is false" "$(jq .summary.complete killed.json)" false
eq "report, killed: samples counted" "$(jq .summary.samples killed.json)" "$(grep -c '"type":"sample"' killed.jsonl)"
eq "report, killed: peak heap from the samples" "$(jq .summary.peak_heap_bytes killed.json)" \
    "$(jq -s '[.[] | select(.type == "sample") | .heap_max] | max' killed.jsonl)"
le "report, killed: peak heap holds the 8 MiB" 8388608 "$(jq .summary.peak_heap_bytes killed.json)"
# pads are filler readers skip (format.md), though they carry t_s
eq "report, killed: wall time so far" "$(jq .summary.wall_s killed.json)" \
    "$(jq -s '[.[] | select(.type != "pad") | .t_s // empty] | max' killed.jsonl)"
head -c -20 killed.jsonl > cut.jsonl
$PP report --json cut.jsonl > /dev/null
eq "report: a last line cut short is dropped, not an error" $? 0

# a fork tree, as a directory
mkdir tree && (cd tree && traced "$PWD/f.jsonl" "$T/forker" "$PWD")
$PP report tree > tree.txt
eq "report DIR: status" $? 0
check "report DIR: the process tree" grep -q "^process tree (3 processes)" tree.txt
eq "report DIR: the child is indented under its parent" \
    "$(sed -n '2,4p' tree.txt | grep -c '^    [0-9]')" 1
$PP report --json tree > tree.json
eq "report DIR --json: every process" "$(jq '.processes | length' tree.json)" 3

# ---- diff ---------------------------------------------------------------------------
traced a.jsonl "$T/alloc_known" a.facts 1000 0
traced b.jsonl "$T/alloc_known" b.facts 3000 0
$PP diff a.jsonl b.jsonl > diff.txt
eq "diff: status" $? 0
check "diff: marks the peak heap change" grep -q '^! peak_heap_bytes ' diff.txt
check "diff: shows the percentage" grep -Eq '^! allocs .*\+[0-9.]+%' diff.txt
$PP diff a.jsonl a.jsonl > same.txt
eq "diff: a file against itself marks nothing" "$(grep -c '^!' same.txt)" 0
$PP diff a.jsonl 2>/dev/null
eq "diff: one file is a usage error" $? 2

# ---- check --------------------------------------------------------------------------
$PP check p.jsonl --max peak_heap_bytes=1G --max region.tick.p99_ns=10s --max probe.allocated.dt_s=10 > c.txt
eq "check: limits that hold give 0" $? 0
$PP check p.jsonl --max peak_heap_bytes=1M --max region.tick/work.p99_ns=1us > c.txt
eq "check: limits that fail give 1" $? 1
eq "check: each violation is listed" "$(grep -c '^FAIL' c.txt)" 2
$PP check p.jsonl --max probe.no_such_probe.dt_s=1 > c.txt
eq "check: a missing figure fails" $? 1
$PP check p.jsonl --max peak_heap_bytes=lots 2> c.err
eq "check: a bad value is a usage error" $? 2
printf '# limits\npeak_rss_bytes=2G\nheap_bytes_at_exit <= 0\n' > limits.txt
$PP check p.jsonl --thresholds limits.txt > c.txt
eq "check --thresholds: a leak fails heap_bytes_at_exit<=0" $? 1
$PP check b.jsonl --baseline a.jsonl --max-regression 10 > c.txt
eq "check --baseline: a grown heap fails" $? 1
check "check --baseline: says which figure grew" grep -q '^FAIL peak_heap_bytes grew' c.txt
$PP check a.jsonl --baseline a.jsonl --max-regression 10 > c.txt
eq "check --baseline: the same run passes" $? 0
$PP check killed.jsonl --max peak_heap_bytes=1G > c.txt
eq "check: an incomplete timeline fails" $? 1
$PP check killed.jsonl --max peak_heap_bytes=1G --allow-incomplete > c.txt
eq "check: --allow-incomplete accepts it" $? 0
$PP check nope.jsonl --max peak_heap_bytes=1G 2> c.err
eq "check: a missing file is status 2" $? 2

# ---- input we did not write -----------------------------------------------------------
: > empty.jsonl
head -c 4096 /dev/urandom > random.jsonl
sed 's/"version":[0-9]*/"version":99/' p.jsonl > version.jsonl
head -c 1048576 /dev/zero | tr '\0' 'a' > long.jsonl
{ head -1 p.jsonl; printf '{"type":"sample","t_s":1,"label":"\xff\xfe"}\n'; tail -1 p.jsonl; } > utf8.jsonl
{ head -1 p.jsonl; echo '{"type":"sample","t_s":'; tail -1 p.jsonl; } > broken.jsonl
for f in missing.jsonl empty.jsonl random.jsonl version.jsonl long.jsonl; do
    $ASAN report "$f" > /dev/null 2> err.txt
    eq "bad input $f: status 2" $? 2
    eq "bad input $f: one line on stderr" "$(wc -l < err.txt)" 1
done
# a damaged record (a full disk cuts one short) loses that record only
for f in utf8.jsonl broken.jsonl; do
    $ASAN report --json "$f" > rep.json 2> err.txt
    eq "damaged line in $f: status 0" $? 0
    eq "damaged line in $f: one line on stderr says so" "$(grep -c 'damaged line skipped' err.txt)" 1
    eq "damaged line in $f: the summary after it is read" "$(jq '.summary.complete' rep.json)" true
done
check "bad input: the version is named" grep -q "version 99 is not supported" \
    <($ASAN report version.jsonl 2>&1)
for f in "$PP_ROOT"/tests/fuzz/regress/* "$PP_ROOT"/tests/fuzz/corpus/*; do
    [ -e "$f" ] || continue
    $ASAN report --json "$f" > /dev/null 2>asan.err
    rc=$?
    check "replayed input $(basename "$f"): no crash (status $rc)" test $rc = 0 -o $rc = 2
done
$PP help > help.txt
check "help lists the commands" grep -q "check" help.txt
for c in run report diff check; do
    $PP $c --help > h.txt
    eq "$c --help: status" $? 0
done
$PP nonsense 2> /dev/null
eq "an unknown command is status 2" $? 2
