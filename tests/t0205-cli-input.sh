# The command's readers on input that would hold them: a file with no
# newline (/dev/zero, a huge single line), an endless stream, a thresholds
# file that is a directory or has long lines; limits met exactly; --json
# on paths and numbers JSON cannot hold as they are; the main process of
# an exec chain.
. "$PP_ROOT/tests/lib.sh"
PP=$PP_BUILD/perfprobe
ASAN=$PP_BUILD/perfprobe-asan
HDR='{"type":"header","format":"perfprobe-timeline","version":2,"pid":1}'

# peak CMD...: runs CMD; its status in $rc, its peak RSS (KiB, GNU time) in $kb
peak() { /usr/bin/time -f '%M' -o rss.txt "$@"; rc=$?; kb=$(tail -1 rss.txt); }

# ---- a line with no end: bounded, one line, status 2 --------------------------------
# (the 16 MiB limit, docs/cli.md; a reader that reads the whole line first
# grew to gigabytes on /dev/zero)
printf '%s\n' "$HDR" > big.jsonl
truncate -s 300M big.jsonl                  # then 300 MB of NULs, no newline
for bin in "$PP" "$ASAN"; do
    b=$(basename "$bin")
    for cmd in report plot watch; do
        out=; [ $cmd = plot ] && out="-o p.html"
        peak timeout 20 "$bin" $cmd /dev/zero $out 2> err.txt
        eq "$b $cmd /dev/zero: status 2" $rc 2
        eq "$b $cmd /dev/zero: one line naming line 1" "$(cat err.txt)" \
            "perfprobe: /dev/zero:1: line longer than 16 MiB"
        le "$b $cmd /dev/zero: peak RSS under 200 MB (KiB)" "$kb" 204800
    done
    peak timeout 20 "$bin" report big.jsonl 2> err.txt
    eq "$b a 300 MB line 2: status 2" $rc 2
    eq "$b a 300 MB line 2: one line naming line 2" "$(cat err.txt)" \
        "perfprobe: big.jsonl:2: line longer than 16 MiB"
    le "$b a 300 MB line 2: peak RSS under 200 MB (KiB)" "$kb" 204800
done
# a line of exactly 16 MiB with its newline is read (a damaged line: skipped)
{ printf '%s\n' "$HDR"; head -c $((16 * 1024 * 1024 - 1)) /dev/zero | tr '\0' x; echo
  printf '{"type":"summary","pid":1,"t_s":1,"wall_s":1}\n'; } > edge.jsonl
timeout 60 $PP report --json edge.jsonl > edge.json 2> err.txt
eq "a 16 MiB line: read (status 0)" $? 0
eq "a 16 MiB line: skipped as damaged" "$(cat err.txt)" "perfprobe: edge.jsonl: 1 damaged line skipped"
{ printf '%s\n' "$HDR"; head -c $((16 * 1024 * 1024)) /dev/zero | tr '\0' x; echo; } > edge2.jsonl
timeout 60 $PP report edge2.jsonl 2> err.txt
eq "16 MiB and a newline: status 2" $? 2
eq "16 MiB and a newline: the limit" "$(cat err.txt)" "perfprobe: edge2.jsonl:2: line longer than 16 MiB"

# ---- serve: a scrape of /dev/zero is an error, bounded; SIGTERM ends it -----------------
serve_up() {   # serve_up FILE: starts serve on FILE, sets $spid and $port
    "$PP" serve --listen 127.0.0.1:0 "$1" 2> serve.err & spid=$!
    port=
    for _ in $(seq 50); do
        port=$(grep -o '127\.0\.0\.1:[0-9]*' serve.err | head -1 | cut -d: -f2)
        [ -n "$port" ] && break
        sleep 0.1
    done
}
serve_down() {   # serve_down: SIGTERM; $src its status within 5 s (or "running")
    kill -TERM $spid
    for _ in $(seq 50); do kill -0 $spid 2>/dev/null || break; sleep 0.1; done
    if kill -0 $spid 2>/dev/null; then src=running; kill -KILL $spid; wait $spid 2>/dev/null
    else wait $spid; src=$?; fi
}
serve_up /dev/zero
timeout 20 curl -s -m 10 "http://127.0.0.1:$port/metrics" > m.txt
check "serve /dev/zero: the scrape names the reason" \
    grep -qF 'perfprobe_file_error{file="/dev/zero",reason="perfprobe: /dev/zero:1: line longer than 16 MiB"} 1' m.txt
le "serve /dev/zero: peak RSS under 200 MB (KiB)" \
    "$(awk '/VmHWM/ { print $2 }' /proc/$spid/status)" 204800
serve_down
eq "serve /dev/zero: SIGTERM, status 0" "$src" 0
# an endless stream (a FIFO that never ends): SIGTERM during the scrape
mkfifo endless
(printf '%s\n' "$HDR"; yes '{"type":"pad"}') > endless 2> /dev/null & gen=$!
serve_up endless
timeout 20 curl -s -m 10 "http://127.0.0.1:$port/metrics" > m.txt &
sleep 1
check "serve: still reading the endless stream" kill -0 $spid
serve_down
eq "serve: SIGTERM during an endless scrape, status 0" "$src" 0
wait %timeout 2> /dev/null
check "serve: the scrape said why it ended" grep -qF 'reason="perfprobe: endless: reading stopped by a signal"' m.txt
kill $gen 2> /dev/null; wait $gen 2> /dev/null

# ---- check --thresholds: read errors, long lines, endless files, a BOM ----------------
printf '%s\n' '{"type":"header","format":"perfprobe-timeline","version":2,"pid":1,"ppid":0,"root_pid":1,"image":0,"program":"x","start_unix_s":1}' \
    '{"type":"summary","pid":1,"t_s":1,"wall_s":1,"cpu_user_s":0.1,"cpu_sys_s":0,"peak_rss_bytes":1000,"regions":[]}' > run.jsonl
mkdir gates
for bin in "$PP" "$ASAN"; do
    b=$(basename "$bin")
    timeout 60 "$bin" check run.jsonl --thresholds gates > out.txt 2> err.txt
    eq "$b --thresholds DIR: status 2" $? 2
    eq "$b --thresholds DIR: one line, the reason" "$(cat err.txt)" "perfprobe: check: gates: Is a directory"
    eq "$b --thresholds DIR: no verdict printed" "$(grep -c 'passed' out.txt)" 0
    peak timeout 20 "$bin" check run.jsonl --thresholds /dev/zero 2> err.txt
    eq "$b --thresholds /dev/zero: status 2" $rc 2
    eq "$b --thresholds /dev/zero: one line" "$(cat err.txt)" \
        "perfprobe: check: /dev/zero:1: line longer than 1 MiB"
    le "$b --thresholds /dev/zero: peak RSS under 200 MB (KiB)" "$kb" 204800
done
# a comment line of 1021 x's then what looks like a limit: one comment, no limit
$PY -c "print('# ' + 'x' * 1021 + 'wall_s <= 1ms')" > gate.txt
timeout 60 $PP check run.jsonl --thresholds gate.txt > out.txt
eq "a 1036-byte comment line: no limit in it, passes" $? 0
eq "a 1036-byte comment line: only the completeness check" "$(grep -c '^ok ' out.txt)" 1
# a 5000-byte line with a limit and a long comment, then a bad line: its number
wall=$(jq -r 'select(.type == "summary") | .wall_s' run.jsonl)
$PY -c "print('# ' + 'x' * 3000); print('wall_s <= 2s  # ' + 'y' * 5000); print('min_this')" > gate.txt
timeout 60 $PP check run.jsonl --thresholds gate.txt 2> err.txt
eq "after long lines, the bad line's number" "$(cat err.txt)" \
    "perfprobe: check: gate.txt:$(grep -n '^min_this$' gate.txt | cut -d: -f1): 'min_this' is not KEY=VALUE"
$PY -c "print('# ' + 'x' * 3000); print('wall_s <= 2s  # ' + 'y' * 5000)" > gate.txt
timeout 60 $PP check run.jsonl --thresholds gate.txt > out.txt
eq "the limit after a 3000-byte comment is read whole and holds (wall_s $wall)" \
    "$(grep -c '^ok   wall_s = 1.0000 s (limit 2.0000 s)$' out.txt)" 1
printf 'wall_s <= 1s %*s\n' 2000000 '' > gate.txt       # a 2 MB line
timeout 60 $PP check run.jsonl --thresholds gate.txt 2> err.txt
eq "a 2 MB line: status 2" $? 2
eq "a 2 MB line: names the limit" "$(cat err.txt)" "perfprobe: check: gate.txt:1: line longer than 1 MiB"
printf 'wall_s <= 2s\n\0\n' > gate.txt
timeout 60 $PP check run.jsonl --thresholds gate.txt 2> err.txt
eq "a NUL byte: status 2" $? 2
eq "a NUL byte: names line 2" "$(cat err.txt)" "perfprobe: check: gate.txt:2: a NUL byte: not a thresholds file"
printf '\xef\xbb\xbfwall_s <= 2s\r\n' > gate.txt
timeout 60 $PP check run.jsonl --thresholds gate.txt > out.txt
eq "a BOM and CRLF: the limit is read and holds" $? 0
check "a BOM and CRLF: the key is wall_s" grep -q '^ok   wall_s = ' out.txt

# ---- a figure exactly at its limit passes; a FAIL line tells the numbers apart -------------
mkrun() {   # mkrun FILE WALL_S PEAK_RSS
    printf '%s\n' '{"type":"header","format":"perfprobe-timeline","version":2,"pid":1,"ppid":0,"root_pid":1,"image":0,"program":"x","start_unix_s":1}' \
        "{\"type\":\"summary\",\"pid\":1,\"t_s\":$2,\"wall_s\":$2,\"cpu_user_s\":0.1,\"cpu_sys_s\":0,\"peak_rss_bytes\":$3,\"regions\":[]}" > "$1"
}
mkrun eq.jsonl 0.082042 1000000
eq "the file's wall_s" "$(jq -r 'select(.type == "summary") | .wall_s' eq.jsonl)" 0.082042
for lim in 0.082042 0.082042s 82.042ms 82042us 82042µs 82042000ns; do
    timeout 60 $PP check eq.jsonl --max wall_s=$lim > out.txt
    eq "--max wall_s=$lim on wall_s 0.082042: passes" $? 0
    timeout 60 $PP check eq.jsonl --min wall_s=$lim > out.txt
    eq "--min wall_s=$lim on wall_s 0.082042: passes" $? 0
done
timeout 60 $PP check eq.jsonl --max peak_rss_bytes=1000000 --max wall_s=82041.9999us > out.txt
eq "a limit below the figure still fails" $? 1
check "... with digits that tell them apart" grep -qx 'FAIL wall_s = 0.082042 s, above the limit 0.0820419999 s' out.txt
mkrun over.jsonl 0.08204201 1000001
timeout 60 $PP check over.jsonl --max peak_rss_bytes=1000000 --max wall_s=82042us > out.txt
eq "one byte and 10 ns over: both fail" "$(grep -c '^FAIL' out.txt)" 2
check "one byte over: 1000001 B above 1000000 B" grep -qx 'FAIL peak_rss_bytes = 1000001 B, above the limit 1000000 B' out.txt
check "10 ns over: 0.08204201 s above 0.082042 s" grep -qx 'FAIL wall_s = 0.08204201 s, above the limit 0.082042 s' out.txt
mkrun base.jsonl 0.3 1000000
mkrun now.jsonl 0.33 1000000
eq "now is 10% worse by jq" "$(jq -n '(0.33 - 0.3) / 0.3 * 100 | . * 1000 | round / 1000')" 10
for tol in 10% +30ms +0.03 +30000us; do
    timeout 60 $PP check now.jsonl --baseline base.jsonl --max-regression wall_s=$tol > out.txt
    eq "0.3 s -> 0.33 s within $tol: passes" $? 0
done
mkrun now.jsonl 1.21 1000000; mkrun base.jsonl 1.1 1000000
timeout 60 $PP check now.jsonl --baseline base.jsonl --max-regression wall_s=10% > out.txt
eq "1.1 s -> 1.21 s within 10%: passes" $? 0
mkrun now.jsonl 0.3300001 1000001; mkrun base.jsonl 0.3 1000000
timeout 60 $PP check now.jsonl --baseline base.jsonl --max-regression wall_s=10% \
    --max-regression wall_s=+30ms --max-regression peak_rss_bytes=+0 --max-regression peak_rss_bytes=0% > out.txt
eq "just beyond each tolerance: all four fail" "$(grep -c '^FAIL' out.txt)" 4
check "the change told from the tolerance" grep -qx 'FAIL wall_s grew +10.00003%: 0.3300 s, baseline 0.3000 s (at most 10% worse)' out.txt
check "the amount told from the tolerance" grep -qx 'FAIL wall_s grew +10.0%: 0.3300 s, baseline 0.3000 s (0.0300001 s worse; at most 0.03 s worse)' out.txt
check "one byte more than +0" grep -qx 'FAIL peak_rss_bytes grew +0.0001%: 1000001 B, baseline 1000000 B (1 B worse; at most 0 B worse)' out.txt
check "one byte more than 0%" grep -qx 'FAIL peak_rss_bytes grew +0.0001%: 1000001 B, baseline 1000000 B (at most 0% worse)' out.txt

# ---- --json: never an empty line with status 0 -------------------------------------------
mkrun ok.jsonl 1 1000
lat=$(printf 'r\xe9sum\xe9').jsonl                    # a Latin-1 file name
cp ok.jsonl "$lat"
want=$($PY -c 'import sys; print(sys.argv[1].encode("utf-8", "surrogateescape").decode("utf-8", "replace"))' "$lat")
for bin in "$PP" "$ASAN"; do
    b=$(basename "$bin")
    timeout 60 "$bin" report --json "$lat" > o.json
    eq "$b report --json, Latin-1 path: status 0" $? 0
    eq "$b report --json, Latin-1 path: the file, bad bytes as U+FFFD" "$(jq -r .file o.json)" "$want"
    eq "$b report --json, Latin-1 path: the figures" "$(jq .summary.peak_rss_bytes o.json)" \
        "$(jq 'select(.type == "summary") | .peak_rss_bytes' ok.jsonl)"
    timeout 60 "$bin" check --json "$lat" --max wall_s=0 > o.json
    eq "$b check --json, Latin-1 path: status 1" $? 1
    eq "$b check --json, Latin-1 path: file and verdict" "$(jq -r '[.file, .passed, .checks[1].value] | @tsv' o.json)" \
        "$want	false	$(jq 'select(.type == "summary") | .wall_s' ok.jsonl)"
    timeout 60 "$bin" check --json ok.jsonl --max "$(printf 'w\xe9')=1" > o.json
    eq "$b check --json, a Latin-1 key: a failed check, status 1" $? 1
    eq "$b check --json, a Latin-1 key: named with U+FFFD" "$(jq -r '.checks[1].key' o.json)" "w�"
    # the JUnit XML too: Python's XML parser reads it (raw Latin-1 bytes
    # there were refused), the file name with U+FFFD
    rm -f j.xml
    timeout 60 "$bin" check "$lat" --max wall_s=0 --junit j.xml > /dev/null
    eq "$b check --junit, Latin-1 path: an XML reader takes it, the name with U+FFFD" \
        "$($PY -c 'import sys, xml.etree.ElementTree as E; r = E.parse("j.xml").getroot(); print(sys.argv[1] in E.tostring(r, encoding="unicode"))' "$want")" True
    timeout 60 "$bin" diff --json "$lat" ok.jsonl > o.json
    eq "$b diff --json, Latin-1 path: status 0" $? 0
    eq "$b diff --json, Latin-1 path: a and b" "$(jq -r '[.a, .b] | @tsv' o.json)" "$want	ok.jsonl"
done
# numbers JSON cannot hold: refused as bad values, one line, status 2
for v in inf -inf nan 1e400 infinity; do
    timeout 60 $PP diff --json --noise $v ok.jsonl ok.jsonl > o.json 2> err.txt
    eq "diff --noise $v: status 2" $? 2
    eq "diff --noise $v: one line, nothing on stdout" "$(wc -l < err.txt) $(wc -c < o.json)" "1 0"
    timeout 60 $PP check --json ok.jsonl --max wall_s=$v > o.json 2> err.txt
    eq "check --max wall_s=$v: status 2" $? 2
    eq "check --max wall_s=$v: the value named" "$(cat err.txt)" \
        "perfprobe: check: 'wall_s=$v': '$v' is not a value for wall_s"
    timeout 60 $PP check --json ok.jsonl --baseline ok.jsonl --max-regression $v > o.json 2> err.txt
    eq "check --max-regression $v: status 2" $? 2
done
timeout 60 $PP check --json ok.jsonl --max peak_rss_bytes=1e305T > o.json 2> err.txt
eq "check --max 1e305T (overflows): status 2" $? 2

# ---- the main process of an exec chain: a process's CPU counted once ----------------------
# CPU_BY_PID: each pid's CPU by the file alone, as [pid, cpu] pairs: its
# summary's (written by its last image: an exec'd image carries the
# running total), or without one the largest of its samples'
CPU_BY_PID='[.[] | select(.type == "summary" or .type == "sample")
  | {pid, s: (.type == "summary"),
     c: (if .type == "summary" then .cpu_user_s + .cpu_sys_s else .user_s + .sys_s end)}]
  | group_by(.pid)
  | map([.[0].pid, ((map(select(.s)) | if length > 0 then . else null end) // . | map(.c) | max)])'
main_truth() {   # main_truth FILE: "PID PCT" of the busiest non-root process
    joined "$1" | jq -s -r "($CPU_BY_PID) as \$p | (\$p | map(.[1]) | add) as \$t
        | (\$p | max_by(.[1])) | \"\(.[0]) \(.[1] / \$t * 100 | round)\""
}
H='"format":"perfprobe-timeline","version":2'
cat > chain.jsonl <<JL
{"type":"header",$H,"pid":1,"ppid":0,"root_pid":1,"image":0,"program":"sh","start_unix_s":100}
{"type":"header",$H,"pid":2,"ppid":1,"root_pid":1,"image":0,"program":"env","start_unix_s":100.01}
{"type":"sample","pid":2,"t_s":0.1,"rss":1000000,"heap":0,"heap_max":0,"user_s":0.3,"sys_s":0,"minflt":1}
{"type":"exec","pid":2,"t_s":0.1,"path":"work"}
{"type":"header",$H,"pid":2,"ppid":1,"root_pid":1,"image":1,"program":"work","start_unix_s":100.11}
{"type":"sample","pid":2,"t_s":0.1,"rss":1000000,"heap":0,"heap_max":0,"user_s":0.6,"sys_s":0,"minflt":1}
{"type":"exec","pid":2,"t_s":0.1,"path":"work2"}
{"type":"header",$H,"pid":2,"ppid":1,"root_pid":1,"image":2,"program":"work2","start_unix_s":100.21}
{"type":"summary","pid":2,"t_s":1,"wall_s":1,"cpu_user_s":0.9,"cpu_sys_s":0,"peak_rss_bytes":1000000,"peak_heap_bytes":0,"regions":[]}
{"type":"summary","pid":1,"t_s":2,"wall_s":2,"cpu_user_s":0.09,"cpu_sys_s":0,"peak_rss_bytes":500000,"peak_heap_bytes":0,"regions":[]}
JL
read -r tpid tpct <<< "$(main_truth chain.jsonl)"
eq "synthetic chain: by the file, pid 2 used 91%" "$tpid $tpct" "2 91"
timeout 60 $PP report --json chain.jsonl > o.json
eq "synthetic chain: the main process is the payload" "$(jq -r '[.main.pid, .main.program] | @tsv' o.json)" "2	work2"
eq "synthetic chain: its share of the tree's CPU" "$(jq -r .main.why o.json)" \
    "pid 2 used $tpct% of the tree's CPU while the first process, a wrapper, used $((100 - tpct))%"
# a real wrapper: bash forks (the ; true keeps it), its child execs env three times, then python
$PP run -q -o wrap.jsonl -- bash -c "env env env $PY -c 'import time
t = time.process_time()
while time.process_time() - t < 0.3: pass'; true"
read -r tpid tpct <<< "$(main_truth wrap.jsonl)"
eq "real chain: the file has the chain's 5 images of one pid" \
    "$(jq -r "select(.type == \"header\" and .pid == $tpid) | .program" wrap.jsonl | tr '\n' ' ')" \
    "bash env env env python3 "
timeout 60 $PP report --json wrap.jsonl > o.json
eq "real chain: the main process is python3, pid by the file" "$(jq -r '[.main.pid, .main.program] | @tsv' o.json)" "$tpid	python3"
# the share printed whole, the file's unrounded: at most half a point apart
exact=$(joined wrap.jsonl | jq -s "($CPU_BY_PID) as \$p | (\$p | map(.[1]) | add) as \$t
    | (\$p | max_by(.[1]) | .[1]) / \$t * 100")
shown=$(jq -r .main.why o.json | sed -n "s/^pid $tpid used \([0-9]*\)% of the tree's CPU.*/\1/p")
check "real chain: its share of the tree's CPU is the file's ($shown% vs $exact%)" \
    awk -v s="$shown" -v e="$exact" 'BEGIN { d = s - e; exit !(s != "" && d <= 0.5001 && d >= -0.5001) }'

# ---- check --repeat names the run that lacks a figure -----------------------------------
Q='{"type":"probe","pid":1,"label":"mid","t_s":0.5,"dt_s":0.5}'
mkrun rm.run1.jsonl 1 1000; mkrun rm.run2.jsonl 1 1000; mkrun rm.run3.jsonl 1 1000
for k in 1 3; do sed -i "1a $Q" rm.run$k.jsonl; done
lacks=$(for k in 1 2 3; do [ "$(jq -s 'map(select(.type == "probe")) | length' rm.run$k.jsonl)" = 0 ] && echo rm.run$k.jsonl; done)
eq "by the files, run 2 lacks the probe" "$lacks" rm.run2.jsonl
timeout 60 $PP check rm.jsonl --repeat 3 --max probe.mid.dt_s=1s > out.txt
eq "--repeat, a run lacks the probe: fails" $? 1
check "--repeat: the message names the run that lacks it" \
    grep -qx "FAIL probe.mid.dt_s: no such value in $lacks \[median of 3 runs\]" out.txt
cp rm.run1.jsonl base.jsonl
timeout 60 $PP check rm.jsonl --repeat 3 --baseline base.jsonl --max-regression probe.mid.dt_s=10% > out.txt
check "--repeat with a baseline: names the run that lacks it" \
    grep -q "^FAIL probe.mid.dt_s: no such value in $lacks " out.txt

# ---- the header's version: a number, else named as what it is -----------------------------
for v in 2.0 1; do
    printf '{"type":"header","format":"perfprobe-timeline","version":%s,"pid":1}\n%s\n' "$v" \
        '{"type":"summary","pid":1,"t_s":1,"wall_s":1}' > v.jsonl
    timeout 60 $PP report --json v.jsonl > o.json
    eq "version $v: read" "$?:$(jq .summary.wall_s o.json)" "0:1"
done
for v in '"2"' null '{}'; do
    printf '{"type":"header","format":"perfprobe-timeline","version":%s,"pid":1}\n' "$v" > v.jsonl
    timeout 60 $PP report v.jsonl 2> err.txt
    eq "version $v: status 2" $? 2
    eq "version $v: not called version 0" "$(cat err.txt)" \
        "perfprobe: v.jsonl:1: the header's \"version\" is not a number"
done
printf '{"type":"header","format":"perfprobe-timeline","pid":1}\n' > v.jsonl
timeout 60 $PP report v.jsonl 2> err.txt
eq "no version: says so" "$?:$(cat err.txt)" "2:perfprobe: v.jsonl:1: the header has no \"version\""
printf '{"type":"header","format":"perfprobe-timeline","version":2.5,"pid":1}\n' > v.jsonl
timeout 60 $PP report v.jsonl 2> err.txt
eq "version 2.5: named as 2.5" "$?:$(cat err.txt)" \
    "2:perfprobe: v.jsonl: timeline format version 2.5 is not supported (this perfprobe reads versions 1 to 2)"

# ---- --max values: decimal only; a negative limit is a limit ------------------------------
for v in 0x10 -0x1 " 0X1p3"; do
    timeout 60 $PP check ok.jsonl --max "wall_s=$v" > out.txt 2> err.txt
    eq "--max wall_s='$v' (hex): refused, status 2" "$?:$(wc -l < err.txt)" "2:1"
done
timeout 60 $PP check ok.jsonl --max wall_s=-1 > out.txt
eq "--max wall_s=-1: a ceiling below the figure fails" $? 1
check "--max wall_s=-1: says so" grep -qx 'FAIL wall_s = 1.0000 s, above the limit -1.0000 s' out.txt
timeout 60 $PP check ok.jsonl --min wall_s=-1 > out.txt
eq "--min wall_s=-1: holds" $? 0

# ---- run --dump-at: a value that is not a size is refused before CMD runs -------------
for v in abc 12X -1 "" 2000000G; do
    rm -f ran.txt
    timeout 60 $PP run -q --dump-at "$v" -- sh -c ': > ran.txt' > out.txt 2> err.txt
    eq "run --dump-at '$v': status 2, one line" "$?:$(wc -l < err.txt)" "2:1"
    check "run --dump-at '$v': says it is not a size" grep -q "^perfprobe: run: --dump-at '$v' is not a size" err.txt
    check "run --dump-at '$v': the program did not run" test ! -e ran.txt
done
timeout 60 $PP run -q --dump-at 64MiB -o d.jsonl -- sh -c ': > ran.txt' 2> err.txt
eq "run --dump-at 64MiB: runs (status 0, nothing on stderr)" "$?:$(cat err.txt)" "0:"
check "run --dump-at 64MiB: the program ran" test -e ran.txt

# ---- run -n --json: the object starts a line of its own --------------------------------
timeout 60 $PP run -n 2 --json -o nl.jsonl -- /usr/bin/printf abc > out.txt 2> /dev/null
eq "run -n --json after 'abc' with no newline: status" $? 0
eq "run -n --json: the program's bytes as they were, then a newline" "$(head -1 out.txt)" "abcabc"
eq "run -n --json: the last line is the JSON object" "$(tail -1 out.txt | jq -r .runs)" 2
eq "run -n --json: two lines in all" "$(wc -l < out.txt)" 2
timeout 60 $PP run -n 1 --json -o nl.jsonl -- /usr/bin/printf 'abc\n' > out.txt 2> /dev/null
eq "run -n --json after a whole line: no empty line added" "$(head -1 out.txt):$(wc -l < out.txt)" "abc:2"

# ---- figures near the largest double: written whole, never cut -------------------------
timeout 60 $PP run -q -o small.jsonl -- /bin/true
sed -e '0,/"type":"sample"/{s/"rss":[0-9]*/"rss":1e308/}' \
    -e '/"summary"/{s/"peak_rss_bytes":[0-9]*/"peak_rss_bytes":1e308/;s/"regions":\[\]/"regions":[{"name":"tick","path":"tick","count":3,"mean_ns":1e308,"min_ns":1,"p50_ns":1e308,"p90_ns":1e308,"p95_ns":1e308,"p99_ns":1e308,"max_ns":1e308,"total_ns":1e308}]/}' \
    small.jsonl > huge.jsonl
eq "1e308: nine values in the file" "$(grep -o 1e308 huge.jsonl | wc -l)" 9
timeout 60 $PP report --samples huge.jsonl > out.txt
eq "1e308 report: status" $? 0
eq "1e308 report: peak_rss_bytes" "$(awk '$1 == "peak_rss_bytes" { print $2, $3 }' out.txt)" "9.313e+298 GiB"
eq "1e308 report: the region's p99 (1e308 ns)" "$(awk '$1 == "tick" { print $13, $14 }' out.txt)" "1e+299 s"
check "1e308 report --samples: the RSS column" grep -qE '^ +[0-9.]+ +9\.537e\+301 ' out.txt
timeout 60 $PP diff small.jsonl huge.jsonl > out.txt
check "1e308 diff: the change in %" grep -qE '^! peak_rss_bytes .* 9\.313e\+298 GiB +\+[0-9.]+e\+30[0-9]%$' out.txt
timeout 60 $PP check huge.jsonl --max peak_rss_bytes=1G > out.txt
eq "1e308 check: the FAIL line" "$(grep FAIL out.txt)" "FAIL peak_rss_bytes = 9.313e+298 GiB, above the limit 1.00 GiB"
timeout 20 $PP plot -o huge.svg huge.jsonl
eq "1e308 plot: ends (status 0)" $? 0
check "1e308 plot: the peak in the legend" grep -q '>peak RSS 9.313e+298 GiB<' huge.svg
check "1e308 plot: no number of 20 digits or more" sh -c '! grep -qE "[0-9]{20}" huge.svg'

# ---- a pid given again to a new process of the tree: two processes, not an exec ----------
timeout 60 $PP run -q -o tree.jsonl -- sh -c '/bin/true; /bin/echo x' > /dev/null
tp=$(jq -r 'select(.type == "header" and .program == "true") | .pid' tree.jsonl)
ep=$(jq -r 'select(.type == "header" and .program == "echo") | .pid' tree.jsonl)
sed "s/\"pid\":$ep\([,}]\)/\"pid\":$tp\1/" tree.jsonl > reuse.jsonl    # echo gets true's pid
eq "pid reused: both headers image 0 with one pid" \
    "$(jq -r "select(.type == \"header\" and .pid == $tp) | .image" reuse.jsonl | tr '\n' ' ')" "0 0 "
timeout 60 $PP report --json reuse.jsonl > out.json
eq "pid reused: three processes" "$(jq .tree.totals.processes out.json)" 3
eq "pid reused: each its own program and end" \
    "$(jq -c "[.tree.processes[] | select(.pid == $tp) | [.programs, .images, .ended]]" out.json)" \
    '[[["true"],1,"exit"],[["echo"],1,"exit"]]'
timeout 60 $PP report reuse.jsonl > out.txt
check "pid reused: the tree's lines name true and echo apart" grep -qE "^    $tp echo  wall" out.txt
check "pid reused: no 'true > echo' chain" sh -c '! grep -q "true > echo" out.txt'
# ... and the later process's child is drawn under it, not under the
# earlier one (parents were matched by pid alone): a parent that forks A
# (which ends), then B, which forks C; B's pid is rewritten to A's
printf 'import os, time\nfor k in (0, 1):\n    if os.fork() == 0:\n        if k and os.fork() == 0:\n            os._exit(0)\n        time.sleep(0.05)\n        os.wait() if k else None\n        os._exit(0)\n    os.wait()\n' > forks.py
timeout 60 $PP run -q -o fk.jsonl -- $PY forks.py > /dev/null
root=$(jq -r 'select(.type == "header" and .image == 0) | .pid' fk.jsonl | head -1)
a=$(jq -r "select(.type == \"header\" and .ppid == $root) | .pid" fk.jsonl | sed -n 1p)
b=$(jq -r "select(.type == \"header\" and .ppid == $root) | .pid" fk.jsonl | sed -n 2p)
c=$(jq -r "select(.type == \"header\" and .ppid == $b) | .pid" fk.jsonl)
sed "s/\"pid\":$b\([,}]\)/\"pid\":$a\1/; s/\"ppid\":$b\([,}]\)/\"ppid\":$a\1/" fk.jsonl > fk-reuse.jsonl
timeout 60 $PP report fk-reuse.jsonl > out.txt
eq "pid reused: the later process's child drawn under it" \
    "$(grep -E "^ +($a|$c) " out.txt | sed 's/^\( *[0-9]*\).*/\1/' | tr '\n' '|')" "    $a|    $a|      $c|"

# ---- the memory a long timeline costs: 100,000 samples ---------------------------------
# (about 18 MB of file; the reader held each sample with its type, pid and
# a copy of every unchanged figure: 11.6 times the file, 9.2 now)
{ head -1 small.jsonl
  awk 'BEGIN { for (i = 0; i < 100000; i++)
      printf "{\"type\":\"sample\",\"pid\":1,\"t_s\":%.4f,\"rss\":%d,\"hwm\":%d,\"heap\":%d,\"heap_max\":%d,\"anon\":0,\"file\":0,\"user_s\":%.3f,\"sys_s\":0.000,\"minflt\":%d,\"majflt\":0}\n",
          0.001 * i, 2433024 + i, 2433024 + i, 2736 + i, 2736 + i, 0.001 * i, 176 + i }'
} | sed '1s/"pid":[0-9]*/"pid":1/' > long.jsonl
file_kb=$(( $(stat -c %s long.jsonl) / 1024 ))
peak timeout 60 $PP report long.jsonl > out.txt
eq "100,000 samples: report's status" $rc 0
eq "100,000 samples: all read" "$(awk '$1 == "samples" { print $2 }' out.txt)" 100000
le "100,000 samples: peak RSS under 10 times the file's $file_kb KiB (KiB)" "$kb" $(( 10 * file_kb ))
