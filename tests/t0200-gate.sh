# perfprobe check as a CI gate: floors, per-figure regressions that know
# which way is worse, derived CPU and average figures, the thresholds file,
# JSON and JUnit output, a leak gate that works on a program that printed,
# and human units in every message.
. "$PP_ROOT/tests/lib.sh"
PP=$PP_BUILD/perfprobe
M=$((1024 * 1024))

export PERFPROBE_REGION_WINDOW_MS=100
traced ph.jsonl "$T/gate_regions" ph.facts phases
per_s=$(tail -1 ph.jsonl | jq '.regions[] | select(.path == "tick") | .per_s')

# ---- --min: a throughput floor ---------------------------------------------------
$PP check ph.jsonl --min region.tick.per_s=10 > c.txt
eq "--min below the throughput holds" $? 0
check "--min: the figure in /s" grep -Eq '^ok +region\.tick\.per_s = [0-9]+/s \(at least 10\.00/s\)' c.txt
$PP check ph.jsonl --min region.tick.per_s=1M > c.txt
eq "--min above the throughput fails" $? 1
check "--min: says below the floor" grep -q '^FAIL region.tick.per_s = .*/s, below the floor 1000000/s' c.txt
$PP check ph.jsonl --min "region.tick.count=$(( $(fact ph.facts a_count) + $(fact ph.facts b_count) ))" > c.txt
eq "--min: exactly the count the program ran holds" $? 0

# ---- per-figure regressions, each with its own tolerance and direction ----------
# B: the same run with throughput halved and p99 doubled (what we wrote)
jq -c 'if .type == "summary" then .regions |= map(.per_s /= 2 | .p99_ns *= 2) else . end' ph.jsonl > slow.jsonl
$PP check slow.jsonl --baseline ph.jsonl --max-regression region.tick.per_s=10% > c.txt
eq "throughput halved: a regression" $? 1
check "throughput halved: says it fell" grep -q '^FAIL region.tick.per_s fell -50.0%' c.txt
$PP check ph.jsonl --baseline slow.jsonl --max-regression region.tick.per_s=10% > c.txt
eq "throughput doubled: not a regression" $? 0
$PP check slow.jsonl --baseline ph.jsonl --max-regression region.tick.p99_ns=10% > c.txt
eq "p99 doubled: a regression" $? 1
check "p99 doubled: says it grew, in time units" grep -Eq '^FAIL region.tick.p99_ns grew \+100.0%: [0-9.]+ ms, baseline [0-9.]+ ms' c.txt
$PP check ph.jsonl --baseline slow.jsonl --max-regression region.tick.p99_ns=10% > c.txt
eq "p99 halved: not a regression" $? 0
$PP check slow.jsonl --baseline ph.jsonl --max-regression region.tick.p99_ns=150% \
    --max-regression region.tick.per_s=60% > c.txt
eq "each figure its own tolerance: both within" $? 0
p99=$(tail -1 ph.jsonl | jq '.regions[] | select(.path == "tick") | .p99_ns')
$PP check slow.jsonl --baseline ph.jsonl --max-regression "region.tick.p99_ns=+$(( ${p99%.*} + 1000 ))ns" > c.txt
eq "an absolute tolerance (+N ns) above the change holds" $? 0
$PP check slow.jsonl --baseline ph.jsonl --max-regression region.tick.nothing_ns=10% > c.txt
eq "a figure missing from a file fails" $? 1
$PP check slow.jsonl --baseline ph.jsonl --max-regression region.tick.p99_ns=lots 2> c.err
eq "a bad tolerance is status 2" $? 2

# ---- the leak gate ------------------------------------------------------------------
traced libc.jsonl "$T/gate_leak" l0.facts > /dev/null
traced none.jsonl "$T/gate_leak" l1.facts > /dev/null
traced leaky.jsonl "$T/gate_leak" l2.facts 10000 > /dev/null
$PP check none.jsonl --max heap_bytes_at_exit=0 > c.txt
eq "the naive leak gate fails on a program that only printed" $? 1
le "... because of what libc keeps (stdout's buffer)" 1 "$(summary none.jsonl heap_bytes_at_exit)"
$PP check none.jsonl --baseline libc.jsonl --max-regression heap_bytes_at_exit=+0 > c.txt
eq "leaks of the program's own, against a libc baseline: none" $? 0
$PP check leaky.jsonl --baseline libc.jsonl --max-regression heap_bytes_at_exit=+0 > c.txt
eq "leaks of the program's own: 10000 bytes fail" $? 1
grew=$(( $(summary leaky.jsonl heap_bytes_at_exit) - $(summary libc.jsonl heap_bytes_at_exit) ))
le "the leak seen is at least the 10000 bytes leaked" "$(fact l2.facts leaked)" "$grew"
le "... and at most their usable size (100 blocks of under 128 bytes)" "$grew" 12800
check "the leak is shown in bytes, not raw" grep -Eq '^FAIL heap_bytes_at_exit grew .*KiB, baseline [0-9.]+ (B|KiB)' c.txt

# ---- derived figures: CPU % and averages -----------------------------------------------
traced cpu.jsonl "$T/gate_cpu" cpu.facts
spin=$(awk '$1 == "spin_pct_x100" { printf "%.2f", $2 / 100 }' cpu.facts)
$PP report --json cpu.jsonl > cpu.json
wall=$(jq .summary.wall_s cpu.json)
cpu=$(jq -s '(.[] | select(.type == "summary") | .cpu_user_s + .cpu_sys_s) - (.[0].cpu_before_s)' cpu.jsonl)
within "cpu_pct_mean is CPU time over wall time (the CPU used after t_s = 0)" "$(jq .summary.cpu_pct_mean cpu.json)" \
    "$(awk -v c="$cpu" -v w="$wall" 'BEGIN { print c / w * 100 }')" 0.01
# the busiest window of a second or more is at least the 2 s spin's own share
# (a loaded machine may give the spin less than a core, unevenly), and one
# spinning thread is at most one core
le "cpu_pct_max is at least the 2 s spin's share, as the program measured it" \
    "$(awk -v s="$spin" 'BEGIN { printf "%d", s * 0.9 }')" "$(jq '.summary.cpu_pct_max | ceil' cpu.json)"
le "cpu_pct_max is at most one core" "$(jq '.summary.cpu_pct_max | floor' cpu.json)" 105
le "cpu_pct_max is above the run's mean" "$(jq '.summary.cpu_pct_mean | floor' cpu.json)" \
    "$(jq '.summary.cpu_pct_max | ceil' cpu.json)"
within "avg_heap_bytes: 64 MiB held for the time the program held it" \
    "$(jq .summary.avg_heap_bytes cpu.json)" \
    "$(awk -v h="$(fact cpu.facts held_ns)" -v w="$wall" -v m=$((64 * M)) 'BEGIN { print m * h / 1e9 / w }')" 5
le "avg_rss_bytes holds the 64 MiB for the time they were resident" \
    "$(awk -v h="$(fact cpu.facts touched_ns)" -v w="$wall" -v m=$((64 * M)) 'BEGIN { printf "%d", m * h / 1e9 / w }')" \
    "$(jq '.summary.avg_rss_bytes | ceil' cpu.json)"
$PP check cpu.jsonl --max cpu_pct_max=200 --min cpu_pct_max=10 --max avg_heap_bytes=64M > c.txt
eq "check on derived figures" $? 0
check "check: CPU in %" grep -Eq '^ok +cpu_pct_max = [0-9.]+% \(limit 200.0%\)' c.txt
check "check: average heap in MiB" grep -Eq '^ok +avg_heap_bytes = [0-9.]+ MiB \(limit 64.00 MiB\)' c.txt

# ---- the thresholds file --------------------------------------------------------------
cat > limits.txt <<'LIMITS'
# gate for the phases program
peak_heap_bytes = 1G          # a ceiling, spaces around =
region.tick.per_s >= 10       # a floor
region.tick.count<=1000
LIMITS
$PP check ph.jsonl --thresholds limits.txt > c.txt
eq "thresholds: comments at line ends and spaces around = and >=" $? 0
eq "thresholds: every line checked" "$(grep -c '^ok ' c.txt)" 4
printf 'peak_heap_bytes = 1G\n\nregion.tick.per_s >= fast # oops\n' > bad.txt
$PP check ph.jsonl --thresholds bad.txt > c.txt 2> c.err
eq "thresholds: a bad line is status 2" $? 2
check "thresholds: the error names the file and line" grep -q '^perfprobe: check: bad.txt:3: ' c.err

# ---- JSON and JUnit --------------------------------------------------------------------
$PP check ph.jsonl --max peak_heap_bytes=1G --min region.tick.per_s=1M --json --junit j.xml > c.json
eq "--json: status as without" $? 1
eq "--json: one object, passed false, a result per check" \
    "$(jq -c '[.passed, .failed, (.checks | length)]' c.json)" "[false,1,3]"
eq "--json: the file's own numbers" \
    "$(jq '.checks[] | select(.key == "peak_heap_bytes") | .value' c.json)" "$(summary ph.jsonl peak_heap_bytes)"
eq "--junit: a test case per check, one failure (read by Python's XML parser)" \
    "$($PY -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); s = r.find("testsuite"); print(len(s.findall("testcase")), len(s.findall("testcase/failure")), s.get("failures"))' j.xml)" "3 1 1"
$PP diff --json ph.jsonl slow.jsonl > d.json
eq "diff --json: status" $? 0
eq "diff --json: the halved throughput, marked" \
    "$(jq -c '.rows[] | select(.figure == "region.tick.per_s") | [.marked, (.pct | round)]' d.json)" "[true,-50]"
$PP diff ph.jsonl slow.jsonl > d.txt
check "diff: throughput in /s, not seconds" grep -Eq '^! region.tick.per_s +[0-9]+/s +[0-9]+/s' d.txt
check "diff: p95 and min rows" grep -q "region.tick.p95_ns" d.txt
