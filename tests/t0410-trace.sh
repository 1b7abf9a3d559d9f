# perfprobe trace: Chrome trace-event JSON, checked with jq: every event has
# the keys its phase needs (the published Trace Event Format), counter
# values and times are the timeline's own figures, probes are instants,
# the region exemplars are complete events, and every process of a tree is
# its own process track.
. "$PP_ROOT/tests/lib.sh"
P=$PP_BUILD/perfprobe

traced pm.jsonl "$T/pic_mem" pm.facts
"$P" trace pm.jsonl -o pm.trace.json
eq "trace exits 0" $? 0
eq "one JSON object with a traceEvents array" "$(jq '.traceEvents | type' pm.trace.json)" '"array"'

# the keys each phase needs (Trace Event Format: ph, pid, tid, ts on every
# event; name on all of these; C: args of numbers; i: scope s; X: dur;
# M: a known metadata name with args)
cat > phases.jq <<'JQ'
def has_all(ks): . as $e | all(ks[]; . as $k | $e | has($k));
[.traceEvents[] |
  (has_all(["ph", "pid", "tid", "ts", "name"]) and (.ts | type) == "number"
   and (.pid | type) == "number" and (.tid | type) == "number") and
  (if .ph == "C" then (.args | type) == "object" and (.args | length) > 0
                      and all(.args[]; type == "number")
   elif .ph == "i" then (.s == "g" or .s == "p" or .s == "t")
   elif .ph == "X" then (.dur | type) == "number" and .dur >= 0
   elif .ph == "M" then (.name == "process_name" or .name == "thread_name"
                         or .name == "process_sort_index") and (.args | type) == "object"
   else false end)
] | all
JQ
eq "every event has the keys its phase needs" "$(jq -f phases.jq pm.trace.json)" true

# counters against the timeline, value by value and time by time
eq "the RSS counter is every sample's rss" \
    "$(jq -c '[.traceEvents[] | select(.ph == "C" and .name == "RSS") | .args.rss]' pm.trace.json)" \
    "$(jq -sc '[.[] | select(.type == "sample") | .rss]' pm.jsonl)"
eq "at the sample's time, in microseconds" \
    "$(jq -c '[.traceEvents[] | select(.ph == "C" and .name == "RSS") | .ts | round]' pm.trace.json)" \
    "$(jq -sc '[.[] | select(.type == "sample") | .t_s * 1000000 | round]' pm.jsonl)"
eq "the heap counter is every sample's heap" \
    "$(jq -c '[.traceEvents[] | select(.ph == "C" and .name == "heap") | .args.heap]' pm.trace.json)" \
    "$(jq -sc '[.[] | select(.type == "sample") | .heap]' pm.jsonl)"
eq "RSS parts counters are the samples' parts" \
    "$(jq -c '[.traceEvents[] | select(.ph == "C" and .name == "RSS parts") | .args | [.heap, .mmap, .file, .stack, .other]]' pm.trace.json)" \
    "$(jq -sc '[.[] | select(.type == "sample" and has("parts")) | .parts]' pm.jsonl)"
eq "the program's counter is its own track with its values" \
    "$(jq -c '[.traceEvents[] | select(.ph == "C" and .name == "items") | .args.value]' pm.trace.json)" \
    "$(jq -sc '[.[] | select(.type == "counter") | .value]' pm.jsonl)"
jq -c '[.traceEvents[] | select(.ph == "C" and .name == "CPU %") | .args.user + .args.sys]' pm.trace.json > cpu.got
jq -sc '[.[] | select(.type == "sample")] | [range(1; length) as $i | .[$i - 1] as $a | .[$i] as $b |
        (($b.user_s - $a.user_s) + ($b.sys_s - $a.sys_s)) / ($b.t_s - $a.t_s) * 100]' pm.jsonl > cpu.want
eq "CPU % is user_s and sys_s differentiated (to 1e-9)" \
    "$(jq -n --slurpfile g cpu.got --slurpfile w cpu.want \
        '$g[0] | length == ($w[0] | length) and ([range(0; length) as $i | (.[$i] - $w[0][$i]) | fabs < 1e-9] | all)')" true
eq "probes are process-scoped instants with their labels" \
    "$(jq -c '[.traceEvents[] | select(.ph == "i" and .cat == "probe") | [.name, .s, (.ts | round)]]' pm.trace.json)" \
    "$(jq -sc '[.[] | select(.type == "probe") | [.label, "p", ((.t_s + .overhead_s) * 1000000 | round)]]' pm.jsonl)"
eq "the process track is named by program and pid" \
    "$(jq -r '.traceEvents[] | select(.ph == "M" and .name == "process_name") | .args.name' pm.trace.json)" \
    "pic_mem (pid $(jq 'select(.type == "header") | .pid' pm.jsonl))"

eq "the program's region occurrences kept by the timeline are complete events" \
    "$(jq -c '[.traceEvents[] | select(.ph == "X") | [.args.path, (.ts | round), (.dur * 1000 | round), .tid]]' pm.trace.json)" \
    "$(jq -sc '[.[] | select(.type == "regions") | .regions[] | .path as $p | (.slowest // [])[] |
               [$p, (.start_s * 1000000 | round), .dur_ns, .thread]]' pm.jsonl)"

# Region occurrences: the slowest of each window, as complete events
$PY "$PP_ROOT/tests/progs/pic_synth.py" 500 synth.jsonl
"$P" trace synth.jsonl -o synth.trace.json
eq "synthetic: every event has the keys its phase needs" "$(jq -f phases.jq synth.trace.json)" true
eq "one complete event per kept occurrence, dur in µs, ts its start" \
    "$(jq -c '[.traceEvents[] | select(.ph == "X") | [.args.path, (.ts | round), (.dur * 1000 | round), .tid]]' synth.trace.json)" \
    "$(jq -sc '[.[] | select(.type == "regions") | .regions[] | .path as $p | .slowest[] |
               [$p, (.start_s * 1000000 | round), .dur_ns, .thread]]' synth.jsonl)"

# A process tree: each process its own track, on one clock
mkdir tree
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/tree/t.%p.jsonl LD_PRELOAD=$S \
    bash -c "\"$T/pic_mem\" a.facts; \"$T/pic_mem\" b.facts; true"
"$P" trace tree -o tree.trace.json
eq "tree: every event has the keys its phase needs" "$(jq -f phases.jq tree.trace.json)" true
eq "tree: one process track per process" \
    "$(jq -c '[.traceEvents[] | select(.ph == "M" and .name == "process_name") | .pid] | sort' tree.trace.json)" \
    "$(cat tree/*.jsonl | jq -sc '[.[] | select(.type == "header") | .pid] | unique')"
eq "tree: a process that exec'd is named by its images in order" \
    "$(jq -r '[.traceEvents[] | select(.ph == "M" and .name == "process_name") | .args.name] | map(select(test("pic_mem"))) | length' tree.trace.json)" 2
eq "tree: the second child starts after the first ends, on the shared clock" \
    "$(jq '[.traceEvents[] | select(.ph == "i" and .cat == "probe")] | sort_by(.ts) | map(.name) | join(",")' tree.trace.json)" \
    '"filled,freed,filled,freed"'

"$P" trace pm.jsonl 2>err; eq "no -o: exit 2" $? 2
"$P" trace nosuch.jsonl -o x.json 2>err; eq "missing file: exit 2" $? 2
