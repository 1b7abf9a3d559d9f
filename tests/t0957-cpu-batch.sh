# CPU records written in batches (docs/cpu.md, docs/format.md): one cpu
# record holds the samples of up to 50 ticks (the first ones 1, 2, 4 ...).  A run killed with SIGKILL
# keeps every sample but those of its last 50 ticks and those the kernel
# took since the last tick: against the kernel's count of the thread's CPU
# time (/proc/PID/task/TID/stat) read just before the kill.  Before an exec
# the samples held are written: against the user CPU the last sample of
# the image counted.  On a batched file report's total is the shim's count
# of the samples it read from the kernel's buffers (the final record) and
# the sum of the rows as jq decodes them from the format.
. "$PP_ROOT/tests/lib.sh"
P=$PP_BUILD/perfprobe
export PERFPROBE_CPU=997

traced probe.jsonl "$T/cpu_burn" ratio 200000 > /dev/null 2> probe.err
if [ -z "$(jq -r 'select(.type == "cpu_info" and .hz) | .hz' probe.jsonl)" ]; then
    echo "# skip: the kernel refuses perf_event_open here ($(cat probe.err)); no sampled checks"
    exit 0
fi
period=$(jq -r 'select(.type == "cpu_info" and .hz) | .period_ns' probe.jsonl)
tck=$(getconf CLK_TCK)

# samples FILE [JQ-FILTER-ON-RECORDS]: the CPU samples of the records, by jq
samples() {
    jqj -s "$CPU_JQ"'[.[] | select(.type == "cpu") '"${2:-}"' | cpu_rows[][3]] | add // 0' "$1"
}

# ---- killed: every sample but those of the last 50 ticks ------------------------
# (the bound in CPU time: 51 intervals of 10 ms, the last tick's read
# included; the thread runs all the time, so no more of its CPU than that)
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=k.jsonl LD_PRELOAD=$S "$T/cpu_burn" ratio 1000000000000 > /dev/null &
pid=$!
ticks=0
for i in $(seq 1200); do           # up to 2 minutes: only against a hang
    ticks=$(awk '{ print $14 + $15 }' /proc/$pid/task/$pid/stat 2> /dev/null || echo 0)
    [ "$ticks" -ge $((3 * tck)) ] && break
    sleep 0.1
done
ticks=$(awk '{ print $14 + $15 }' /proc/$pid/task/$pid/stat)
kill -KILL $pid
wait $pid 2> /dev/null
cpu_s=$(awk -v t="$ticks" -v h="$tck" 'BEGIN { print t / h }')
kept=$(samples k.jsonl)
echo "# killed after $cpu_s s of the thread's CPU: $kept samples kept ($(jq -s '[.[] | select(.type == "cpu")] | length' k.jsonl) cpu records)"
eq "killed: no final cpu record (the run did not exit)" \
    "$(jq -s '[.[] | select(.type == "cpu" and .final)] | length' k.jsonl)" 0
bounded "killed: the samples kept are the thread's CPU but at most 51 ticks' (10%)" \
    "$(awk -v k="$kept" -v p="$period" 'BEGIN { print k * p / 1e9 }')" \
    "$(awk -v c="$cpu_s" 'BEGIN { print c - 0.51 }')" "$cpu_s" 10
check "killed: the timeline is valid JSON Lines" valid_jsonl k.jsonl
"$P" report --json k.jsonl > k.json
eq "killed: report --cpu counts the samples kept" "$(jq '.cpu.samples' k.json)" "$kept"

# ---- exec: the samples held are written before it ---------------------------------
# (0.3 s of CPU, 30 ticks: records at the 1st, 3rd, 7th and 15th, so that
# without the write before the exec about half the samples would be lost)
traced x.jsonl "$T/cpu_burn" exec 75000000 > /dev/null
main=$(jq -r 'select(.type == "header" and .image == 0) | .pid' x.jsonl)
# the image's records come before its exec record
jq -s --argjson m "$main" '(map(.type == "exec" and .pid == $m) | index(true)) as $x | .[:$x]' x.jsonl \
    | jq -c '.[]' > x0.jsonl
user=$(jq -s '[.[] | select(.type == "sample")] | last | .user_s' x0.jsonl)
sys=$(jq -s '[.[] | select(.type == "sample")] | last | .sys_s' x0.jsonl)
n=$(samples x0.jsonl "| select(.pid == $main)")
echo "# exec: $n samples before the exec, for $user s of user CPU"
bounded "exec: the samples before the exec are the image's user CPU (90% of it or more)" \
    "$(awk -v k="$n" -v p="$period" 'BEGIN { print k * p / 1e9 }')" \
    "$(awk -v u="$user" 'BEGIN { print u * 0.9 }')" "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" 5

# ---- totals on a batched file -------------------------------------------------------
traced th.jsonl "$T/cpu_burn" threads 5000000 > /dev/null
"$P" report --json th.jsonl > th.json
eq "threads: the kernel dropped no sample (no lost count)" \
    "$(jq -s '[.[] | select(.type == "cpu") | .lost // 0] | add' th.jsonl)" 0
eq "threads: report's samples are those the shim read (the final record's total)" \
    "$(jq '.cpu.samples' th.json)" "$(jq 'select(.type == "cpu" and .final) | .total' th.jsonl)"
eq "threads: report's samples are the rows' sum as jq decodes them" \
    "$(jq '.cpu.samples' th.json)" "$(samples th.jsonl)"
eq "threads: per thread too" \
    "$(jq -c '.cpu.threads | to_entries | map([(.key | tonumber), .value]) | sort' th.json)" \
    "$(jqj -s -c "$CPU_JQ"'[.[] | select(.type == "cpu") | cpu_rows[]] | group_by(.[0])
                          | map([.[0][0], (map(.[3]) | add)]) | sort' th.jsonl)"
bounded "threads: samples x period between 85% of the user CPU and user + system" \
    "$(jq '.cpu.cpu_s' th.json)" "$(jq '.summary.cpu_user_s * 0.85' th.json)" \
    "$(jq '.summary.cpu_user_s + .summary.cpu_sys_s' th.json)" 5
eq "threads: fewer cpu records than a tenth of the ticks with samples" \
    "$(jqj -s '([.[] | select(.type == "cpu")] | length) * 10 < ([.[] | select(.type == "cpu") | .ticks[]] | length)' th.jsonl)" true
# the region of each sample, --between by each tick's time: report against jq
traced r.jsonl "$T/cpu_burn" region 5000000 > /dev/null
"$P" report --json r.jsonl > r.json
"$P" report --cpu --region hot r.jsonl > hot.txt
eq "region: report --cpu --region hot counts the rows jq finds in hot" \
    "$(sed -n 's/.*: \([0-9]*\) CPU samples.*/\1/p' hot.txt)" \
    "$(jqj -s "$CPU_JQ"'[.[] | select(.type == "cpu") | cpu_rows[] | select(.[2] == "hot") | .[3]] | add' r.jsonl)"
b0=$(jq -r 'select(.type == "probe" and .label == "begin") | .t_s' r.jsonl)
b1=$(jq -r 'select(.type == "probe" and .label == "end") | .t_s' r.jsonl)
"$P" report --cpu --between begin end r.jsonl > between.txt
eq "--between: report counts the rows jq finds read after begin and up to end" \
    "$(sed -n 's/.*: \([0-9]*\) CPU samples.*/\1/p' between.txt)" \
    "$(jqj -s --argjson a "$b0" --argjson b "$b1" "$CPU_JQ"'[.[] | select(.type == "cpu") | cpu_rows[]
        | select(.[4] / 1e6 > $a and .[4] / 1e6 <= $b) | .[3]] | add' r.jsonl)"

# ---- files written before the batches: the readers read them the same ----------
# (r.jsonl rewritten by jq in the old shape: a cpu record a tick with its
# rows, a cpu_stack record with the whole frames for each node)
jqj -c -s "$CPU_JQ"'cpu_nodes as $n | .[]
    | if .type == "cpu" and .ticks then
        . as $r
        | ((.stacks[] | {type: "cpu_stack", pid: $r.pid, t_s: $r.t_s, id: .[0],
                         frames: (.[0] | cpu_frames($n))}),
           (cpu_rows | group_by(.[4])[]
            | {type: "cpu", pid: $r.pid, t_s: (.[0][4] / 1e6), period_ns: $r.period_ns,
               samples: map(.[:4])}),
           (if $r.final then $r | del(.ticks, .threads, .stacks, .t0) + {samples: []}
            else empty end))
      else . end' r.jsonl > r.old.jsonl
eq "old shape: jq wrote a cpu record for each tick, and cpu_stack records" \
    "$(jq -s '[.[] | select(.type == "cpu" and .samples != [])] | length' r.old.jsonl) $(jq -s '[.[] | select(.type == "cpu_stack")] | length > 0' r.old.jsonl)" \
    "$(jqj -s '[.[] | select(.type == "cpu") | .ticks[]] | length' r.jsonl) true"
"$P" report --json r.old.jsonl > r.old.json
eq "old shape: report --json's cpu is the batched file's" \
    "$(jq -S -c .cpu r.old.json)" "$(jq -S -c .cpu r.json)"
"$P" report --cpu --region hot r.old.jsonl > hot.old.txt
"$P" report --cpu --between begin end r.old.jsonl > between.old.txt
check "old shape: report --cpu --region and --between print the same" \
    sh -c 'cmp -s hot.txt hot.old.txt && cmp -s between.txt between.old.txt'
"$P" trace r.jsonl -o r.trace.json
"$P" trace r.old.jsonl -o r.old.trace.json
jq -c '[.traceEvents[] | select(.cat == "cpu")]' r.trace.json > r.instants
jq -c '[.traceEvents[] | select(.cat == "cpu")]' r.old.trace.json > r.old.instants
check "old shape: trace's CPU instants are the same (time, thread, function, region, samples)" \
    cmp -s r.instants r.old.instants
eq "old shape: trace has an instant a row" \
    "$(jq length r.instants)" "$(jqj -s "$CPU_JQ"'[.[] | select(.type == "cpu") | cpu_rows[]] | length' r.jsonl)"
