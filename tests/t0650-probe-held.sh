# Probe records are held and leave with the next write (a sample, the
# summary, _exit): none may be lost by a process that ends on purpose, in
# whatever way, and a running process's probe reaches the file at the next
# sample without any exit.  Ground truth: what the program marked.
. "$PP_ROOT/tests/lib.sh"

labels() { jq -r "select(.type == \"probe\") | .label" "$1" | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' '; }

for interval in 10 60000; do
    PERFPROBE_INTERVAL_MS=$interval traced e.jsonl "$T/probe_exits" ends
    eq "interval $interval ms: exits 0" $? 0
    check "interval $interval ms: valid JSON Lines" valid_jsonl e.jsonl
    eq "interval $interval ms: every probe marked before _exit, _Exit and exit is there" \
        "$(labels e.jsonl)" "child=18 parent_a=1 parent_b=1 "
    eq "interval $interval ms: two in each of the nine children" \
        "$(jq -r 'select(.type == "probe" and .label == "child") | .pid' e.jsonl | sort | uniq -c | awk '$1 == 2' | wc -l)" 9
    eq "interval $interval ms: the parent's probes in the order marked" \
        "$(jq -r --arg p "$(jq -r 'select(.type == "header" and .image == 0) | .pid' e.jsonl | head -1)" \
            'select(.type == "probe" and (.pid | tostring) == $p) | .label' e.jsonl | tr '\n' ' ')" \
        "parent_a parent_b "
done

# a process that is still running: its probe is written at the next sample
# (polled for up to 20 s, a hang guard), then it is killed
traced w.jsonl "$T/probe_exits" wait > w.out &
pid=$!
for i in $(seq 200); do grep -q marked w.out 2>/dev/null && break; sleep 0.1; done
for i in $(seq 200); do grep -q '"before_wait"' w.jsonl 2>/dev/null && break; sleep 0.1; done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
eq "a running process's probe reached the file before it was killed" \
    "$(jq -r 'select(.type == "probe") | .label' w.jsonl)" before_wait
