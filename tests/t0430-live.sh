# The live view in a real terminal (tmux, 80x24): `run --live` and `watch`
# show the figures the timeline file holds while the program runs (it waits
# on a gate file the test creates), the last screen stays after it exits,
# nothing is drawn when stdout is not a terminal, and `watch` piped prints
# one plain screen.
. "$PP_ROOT/tests/lib.sh"
P=$PP_BUILD/perfprobe
if ! command -v tmux >/dev/null; then
    bash "$PP_ROOT/tools/install-deps.sh" --if-root >&2
fi
check "tmux is installed (tools/install-deps.sh)" command -v tmux
TM="tmux -L pp-live-$$ -f /dev/null"
trap '$TM kill-server 2>/dev/null' EXIT

# wait_for PANE TEXT: poll the pane until TEXT shows (no time limit of our
# own: the runner's timeout fails a view that never shows it); the pane is
# left in screen.txt
wait_for() {
    until $TM capture-pane -p -t "$1" > screen.txt 2>/dev/null && grep -q "$2" screen.txt; do
        sleep 0.1
    done
}
# "48 MiB" as the view writes bytes
human() { awk -v b="$1" 'BEGIN { split("B KiB MiB GiB", u, " "); i = 1; v = b;
          while (v >= 1024 && i < 4) { v /= 1024; i++ }
          p = v >= 100 ? 0 : v >= 10 ? 1 : 2; s = sprintf("%." p "f", v);
          if (p) { sub(/0+$/, "", s); sub(/\.$/, "", s) } print s " " u[i] }'; }

# ---- run --live -----------------------------------------------------------------
$TM new-session -d -s run -x 80 -y 24 \
    "cd '$PWD' && '$P' run --live -o live.jsonl -- '$T/pic_mem' live.facts gate; echo \"status \$?\" > run.status; sleep 600"
check "the live view shows the probe while the program runs" wait_for run '^filled '
cp screen.txt running.txt
check "it says the program is running" grep -q 'perfprobe live: pic_mem (pid [0-9]*) .* running' running.txt
probe_rss=$(jq 'select(.type == "probe" and .label == "filled") | .rss_bytes' live.jsonl)
probe_heap=$(jq 'select(.type == "probe" and .label == "filled") | .heap_bytes' live.jsonl)
eq "the probe's RSS and heap are the file's" \
    "$(awk '$1 == "filled" { print $4, $5, $6, $7 }' running.txt)" "$(human "$probe_rss") $(human "$probe_heap")"
heap_now=$(jq -s '[.[] | select(.type == "sample")] | last | .heap' live.jsonl)
eq "the live heap is the file's latest sample" \
    "$(sed -n 's/^heap *\([0-9.]* [KMG]*i*B\) (peak.*/\1/p' running.txt)" "$(human "$heap_now")"
le "the program's 48 MiB is in that heap" "$(fact live.facts held)" "$heap_now"
check "RSS parts are drawn as bars" grep -q '^ heap  █' running.txt
# a line of 80 characters or more would have wrapped: the view cuts at 79
le "no line wraps at 80 columns" \
    "$($PY -c 'print(max(len(l.rstrip()) for l in open("running.txt", encoding="utf-8")))')" 79

touch gate
check "after the program ends the view says so" wait_for run 'exited with status 0'
wait_for run '^work '                 # the last line of the final screen is drawn
$TM capture-pane -p -t run > final.txt
check "the last screen stays" grep -q '^freed ' final.txt
eq "regions at the end: the 200 occurrences the program ran" \
    "$(awk '$1 == "work" { print $2 }' final.txt)" 200
eq "region p50 is the summary's" "$(awk '$1 == "work" { print $3, $4 }' final.txt)" \
    "$(jq -r 'select(.type == "summary") | .regions[] | select(.path == "work") | .p50_ns' live.jsonl |
       awk '{ v = $1; u = "ns"; if (v >= 1e6) { v /= 1e6; u = "ms" } else if (v >= 1e3) { v /= 1e3; u = "µs" }
              p = v >= 100 ? 0 : v >= 10 ? 1 : 2; s = sprintf("%." p "f", v);
              if (p) { sub(/0+$/, "", s); sub(/\.$/, "", s) } print s, u }')"
eq "run --live exits with the program's status" "$(cat run.status)" "status 0"
eq "the file is complete" "$(jq -s '[.[] | select(.type == "summary")] | length' live.jsonl)" 1

# ---- piped: nothing live ----------------------------------------------------------
"$P" run --live -o piped.jsonl -- "$T/pic_mem" piped.facts > piped.out 2> piped.err
eq "run --live piped: the program's status" $? 0
eq "run --live piped: nothing on stdout (the program prints nothing)" "$(stat -c %s piped.out)" 0
eq "run --live piped: the timeline is written as usual" \
    "$(jq -s '[.[] | select(.type == "summary")] | length' piped.jsonl)" 1

"$P" watch live.jsonl > snap.txt
eq "watch piped: exit 0" $? 0
check "watch piped: one plain screen, no escape codes" test "$(grep -c $'\033' snap.txt)" = 0
check "watch piped: the state from the file" grep -q 'exited' snap.txt
eq "watch piped: the probes" "$(awk '$1 == "filled" || $1 == "freed" { print $1 }' snap.txt | paste -sd,)" "filled,freed"

# ---- watch on a file being written ----------------------------------------------------
rm -f gate2
traced w.jsonl "$T/pic_mem" w.facts gate2 &
prog=$!
until grep -q '"label":"filled"' w.jsonl 2>/dev/null; do sleep 0.1; done
$TM new-session -d -s watch -x 80 -y 24 "cd '$PWD' && '$P' watch w.jsonl; sleep 600"
check "watch shows the running program's probe" wait_for watch '^filled '
check "and says it is running" grep -q 'running' screen.txt
touch gate2
wait "$prog"
check "watch ends with the program" wait_for watch 'exited'
check "and keeps the last screen" grep -q '^freed ' screen.txt

"$P" watch nosuch.jsonl 2> err; eq "watch: a missing file is exit 2" $? 2
