# Prometheus, for real: `push` two runs to a real Pushgateway and read them
# back from a real Prometheus that scrapes it (equal to `report --json`);
# Prometheus scraping `perfprobe serve` while a program grows its RSS in
# steps (every value scraped is one of the timeline's samples); promtool on
# `report --prometheus` and `--openmetrics`; and bad input: a closed port, a
# gateway answering 500, malformed labels, a directory without timelines,
# a damaged file beside a live one.  Everything on 127.0.0.1.
. "$PP_ROOT/tests/lib.sh"
P=$PP_BUILD/perfprobe
if ! command -v prometheus >/dev/null || ! command -v prometheus-pushgateway >/dev/null; then
    bash "$PP_ROOT/tools/install-deps.sh" --if-root >&2
fi
check "prometheus, the pushgateway and promtool are installed (tools/install-deps.sh)" \
    command -v prometheus prometheus-pushgateway promtool

# everything is on 127.0.0.1: no proxy from the environment in between
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null' EXIT

# free_port: a port in a high random range that nothing listens on (the
# Debian packages' own services use 9090 and 9091, never picked here)
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}
# wait_url URL: until it answers 200 (bounded: a hang fails, not stalls)
wait_url() {
    local i
    for i in $(seq 300); do
        curl -sf -o /dev/null "$1" && return 0
        sleep 0.1
    done
    return 1
}
# query EXPR: the instant vector's values, one "labels value" line each
query() {
    curl -s "http://127.0.0.1:$PROM/api/v1/query" --data-urlencode "query=$1" |
        jq -r '.data.result[] | .value[1]'
}
# wait_query EXPR: until EXPR has a result (bounded), then its first value
wait_query() {
    local i v
    for i in $(seq 300); do
        v=$(query "$1" | head -1)
        [ -n "$v" ] && { echo "$v"; return 0; }
        sleep 0.1
    done
    return 1
}
# same A B: equal as numbers (Prometheus writes 5.3137408e+07)
same() {
    if awk -v a="$2" -v b="$3" 'BEGIN { exit !(a != "" && b != "" && a + 0 == b + 0) }'; then
        ok "$1 ($2)"
    else
        fail "$1: Prometheus has '$2', report --json '$3'"
    fi
}

# a gateway that takes the connection and never answers: push gives up after
# its 30 s total timeout (run in the background, collected at the end)
MUTE=$(free_port)
$PY -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); time.sleep(600)' "$MUTE" &
pids+=($!)
for i in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$MUTE") 2>/dev/null && break; sleep 0.1; done

(traced mute.jsonl "$T/prom_steps" mute.facts 1 1
 $P push "http://127.0.0.1:$MUTE" mute.jsonl > /dev/null 2> mute.err; echo $? > mute.rc) &
mute_push=$!

# ---- the two runs ------------------------------------------------------------------
traced r1.jsonl "$T/prom_steps" r1.facts 3 10
traced r2.jsonl "$T/prom_steps" r2.facts 5 10
$P report --json r1.jsonl > r1.json
$P report --json r2.jsonl > r2.json

# ---- promtool: the text format --------------------------------------------------------
$P report --prometheus --label commit=r1 r1.jsonl > text.txt
promtool check metrics < text.txt > promtool.txt 2>&1
eq "promtool check metrics accepts report --prometheus, no lint problem" "$?:$(cat promtool.txt)" "0:"
$P report --openmetrics --label commit=r1 r1.jsonl > om.txt
eq "report --openmetrics ends with # EOF" "$(tail -1 om.txt)" "# EOF"
check "OpenMetrics has # UNIT for the byte and second families" \
    grep -qx '# UNIT perfprobe_rss_peak_bytes bytes' om.txt
check "OpenMetrics names a counter family without _total, its samples with" \
    grep -qx '# TYPE perfprobe_cpu_seconds counter' om.txt
promtool check metrics < om.txt > promtool.txt 2>&1
# promtool reads the 0.0.4 text format: it parses the OpenMetrics text
# (status 3, lint problems, not 1) and its only complaint is that the
# OpenMetrics HELP of a counter family names it without _total
eq "promtool: OpenMetrics parses; the only lint problems are the counters' HELP names" \
    "$?:$(sort promtool.txt | tr '\n' ' ')" \
    "3:perfprobe_allocations_total no help text perfprobe_cpu_seconds_total no help text perfprobe_page_faults_total no help text perfprobe_region_occurrences_total no help text "
# the histogram: cumulative, +Inf equals _count equals the region's count
cnt=$(jq '.regions[] | select(.path == "step") | .count' r1.json)
inf=$(sed -n 's/^perfprobe_region_duration_seconds_bucket{.*region="step",le="+Inf"} //p' om.txt)
c=$(sed -n 's/^perfprobe_region_duration_seconds_count{.*region="step"} //p' om.txt)
eq "histogram: +Inf bucket and _count are the region's count" "$inf $c" "$cnt $cnt"
check "histogram buckets never decrease" awk '/_bucket\{/ { if ($NF + 0 < last) exit 1; last = $NF + 0 }' om.txt
sum=$(sed -n 's/^perfprobe_region_duration_seconds_sum{.*region="step"} //p' om.txt)
within "histogram _sum is the region's total_s" "$sum" "$(jq '.regions[] | select(.path == "step") | .total_s' r1.json)" 0.01
$P report --openmetrics --label 'note=a "quoted" back\slash
newline' r1.jsonl > esc.txt
check "label values escaped: \\\\, \\\" and \\n" \
    grep -qF 'note="a \"quoted\" back\\slash\nnewline"' esc.txt

# a process tree: the root and its children, each with its own pid
PERFPROBE_QUIET=1 $P run -q -o tree.jsonl -- sh -c "$T/prom_steps t1.facts 2 1; $T/prom_steps t2.facts 1 1; true"
$P report --prometheus tree.jsonl > tree.txt
$P report --json tree.jsonl | jq -r '.tree.processes[] | "\(.pid) \(.peak_rss_bytes)"' | sort > tree_want.txt
sed -n 's/^perfprobe_rss_peak_bytes{.*pid="\([0-9]*\)"} \(.*\)/\1 \2/p' tree.txt | sort > tree_got.txt
eq "tree: a peak RSS per process, equal to report --json's tree" "$(cat tree_got.txt)" "$(cat tree_want.txt)"
eq "tree: roles" "$(sed -n 's/^perfprobe_rss_peak_bytes{program="\([a-z_]*\)",role="\([a-z]*\)".*/\1:\2/p' tree.txt | sort | tr '\n' ' ')" \
    "prom_steps:child prom_steps:child sh:root "

# ---- bad input: one line, status 2 ------------------------------------------------------
one_line_2() {   # DESC CMD...: status 2 and exactly one line on stderr
    local desc=$1; shift
    "$@" > /dev/null 2> err.txt
    eq "$desc: status 2, one line" "$?:$(wc -l < err.txt)" "2:1"
}
one_line_2 "report --openmetrics --label 9x=y" $P report --openmetrics --label 9x=y r1.jsonl
one_line_2 "report --openmetrics --label noequals" $P report --openmetrics --label noequals r1.jsonl
check "the malformed label is named" grep -q "noequals" err.txt
mkdir -p empty
one_line_2 "report --openmetrics of a directory without timelines" $P report --openmetrics empty
one_line_2 "push of a directory without timelines" $P push http://127.0.0.1:1 empty
one_line_2 "push --label 9x=y" $P push http://127.0.0.1:1 r1.jsonl --label 9x=y
closed=$(free_port)
one_line_2 "push to a closed port" $P push "http://127.0.0.1:$closed" r1.jsonl
check "push to a closed port: says it could not connect" grep -qi "connect" err.txt
# a gateway that answers 500 to everything
STUB=$(free_port)
$PY - "$STUB" > stub.log 2>&1 <<'EOF' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        self.send_response(500)
        self.send_header("Content-Length", "14")
        self.end_headers()
        self.wfile.write(b"storage full\n\n")
    do_PUT = do_POST = do_GET = answer
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
pids+=($!)
for i in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$STUB/")" = 500 ] && break
    sleep 0.1
done
one_line_2 "push to a gateway answering 500" $P push "http://127.0.0.1:$STUB" r1.jsonl
check "push: says HTTP 500 and what the gateway said" grep -q "answered HTTP 500: storage full" err.txt

# ---- the Pushgateway and Prometheus ---------------------------------------------------------
PG=$(free_port)
# its own persistence file: Debian's default is one shared file in /var/lib
prometheus-pushgateway --web.listen-address="127.0.0.1:$PG" --persistence.file="$PWD/pg.data" > pg.log 2>&1 &
pids+=($!)
check "the pushgateway is ready" wait_url "http://127.0.0.1:$PG/-/ready"
SV=$(free_port)
mkdir live
$P serve --listen "127.0.0.1:$SV" --label host=test live > serve.log 2>&1 &
serve_pid=$!
pids+=($serve_pid)
check "serve answers /metrics" wait_url "http://127.0.0.1:$SV/metrics"
PROM=$(free_port)
cat > prom.yml <<EOF
global:
  scrape_interval: 250ms
  scrape_timeout: 200ms
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    static_configs: [{targets: ['127.0.0.1:$PG']}]
  - job_name: serve
    static_configs: [{targets: ['127.0.0.1:$SV']}]
EOF
prometheus --config.file=prom.yml --storage.tsdb.path=promdata --web.listen-address="127.0.0.1:$PROM" \
    > prom.log 2>&1 &
pids+=($!)
check "prometheus is ready" wait_url "http://127.0.0.1:$PROM/-/ready"

# push two runs, each its own group (commit), a branch with a '/' (base64 in the URL)
$P push "http://127.0.0.1:$PG" r1.jsonl --job t0800 --label commit=r1 --label branch=feat/x
eq "push run 1" $? 0
$P push "http://127.0.0.1:$PG/" r2.jsonl --job t0800 --label commit=r2 --label branch=feat/x
eq "push run 2" $? 0
groups=$(curl -s "http://127.0.0.1:$PG/api/v1/metrics" | jq -c '[.data[].labels] | sort_by(.commit)')
eq "the gateway holds two groups, the branch decoded" "$groups" \
    '[{"branch":"feat/x","commit":"r1","job":"t0800"},{"branch":"feat/x","commit":"r2","job":"t0800"}]'
for r in r1 r2; do
    sel="job=\"t0800\",commit=\"$r\",branch=\"feat/x\",program=\"prom_steps\",role=\"root\""
    same "$r: peak RSS" "$(wait_query "perfprobe_rss_peak_bytes{$sel}")" "$(jq .summary.peak_rss_bytes $r.json)"
    same "$r: RSS at exit" "$(query "perfprobe_rss_bytes{$sel}")" "$(jq .summary.rss_bytes_at_exit $r.json)"
    same "$r: peak heap" "$(query "perfprobe_heap_peak_bytes{$sel}")" "$(jq .summary.peak_heap_bytes $r.json)"
    same "$r: heap at exit" "$(query "perfprobe_heap_bytes{$sel}")" "$(jq .summary.heap_bytes_at_exit $r.json)"
    same "$r: RSS heap part at peak" "$(query "perfprobe_rss_peak_parts_bytes{$sel,part=\"heap\"}")" \
        "$(jq .summary.rss_parts_at_peak.heap $r.json)"
    same "$r: CPU user" "$(query "perfprobe_cpu_seconds_total{$sel,mode=\"user\"}")" "$(jq .summary.cpu_user_s $r.json)"
    same "$r: CPU system" "$(query "perfprobe_cpu_seconds_total{$sel,mode=\"system\"}")" "$(jq .summary.cpu_sys_s $r.json)"
    same "$r: minor faults" "$(query "perfprobe_page_faults_total{$sel,kind=\"minor\"}")" "$(jq .summary.minflt $r.json)"
    same "$r: allocations" "$(query "perfprobe_allocations_total{$sel,op=\"alloc\"}")" "$(jq .summary.allocs $r.json)"
    same "$r: region count" "$(query "perfprobe_region_occurrences_total{$sel,region=\"step\"}")" \
        "$(jq '.regions[] | select(.path == "step") | .count' $r.json)"
    same "$r: region histogram count" "$(query "perfprobe_region_duration_seconds_count{$sel,region=\"step\"}")" \
        "$(jq '.regions[] | select(.path == "step") | .count' $r.json)"
    same "$r: last probe's RSS" "$(query "perfprobe_probe_rss_bytes{$sel,probe=\"step\",n=\"$(jq '.probes | length' $r.json)\"}")" \
        "$(jq '.probes[-1].rss_bytes' $r.json)"
    same "$r: first probe's heap" "$(query "perfprobe_probe_heap_bytes{$sel,probe=\"step\",n=\"1\"}")" \
        "$(jq '.probes[0].heap_bytes' $r.json)"
done
eq "run 2 stepped 5 times: the heap at exit holds 5 x 8 MiB" \
    "$(query 'perfprobe_heap_bytes{commit="r2"} >= 5 * 8388608 and perfprobe_heap_bytes{commit="r2"} < 5 * 8388608 + 65536' | wc -l)" 1
# a push replaces its group: run 2's figures pushed as commit r1
$P push "http://127.0.0.1:$PG" r2.jsonl --job t0800 --label commit=r1 --label branch=feat/x
for i in $(seq 300); do
    v=$(query 'perfprobe_region_occurrences_total{commit="r1",job="t0800"}')
    [ "$v" = 5 ] && break
    sleep 0.1
done
eq "a second push to a group replaces it" "$v" 5
# values the URL path must encode: spaces, UTF-8, a literal %2F, an empty one
$P push "http://127.0.0.1:$PG" r1.jsonl --job 'odd job' --label 'host=a b é' --label 'x=%2F' --label e=
eq "push with odd values" $? 0
eq "the gateway decoded the odd values" \
    "$(curl -s "http://127.0.0.1:$PG/api/v1/metrics" | jq -c '.data[].labels | select(.job == "odd job")')" \
    '{"e":"","host":"a b é","job":"odd job","x":"%2F"}'

# ---- serve, scraped while the program runs ----------------------------------------------
printf 'this is not a timeline\n' > live/damaged.jsonl
traced live/steps.jsonl "$T/prom_steps" steps.facts 12 300 &
prog=$!
wait $prog
eq "the program under the shim ran" $? 0
# the last scrape after its exit: one more interval, bounded
sel='job="serve",program="prom_steps",host="test"'
final=$(jq -r 'select(.type == "summary") | .rss_bytes_at_exit' live/steps.jsonl)
for i in $(seq 300); do
    [ "$(query "perfprobe_complete{$sel}")" = 1 ] && break
    sleep 0.1
done
eq "serve: the finished run shows complete" "$(query "perfprobe_complete{$sel}")" 1
curl -s "http://127.0.0.1:$PROM/api/v1/query" --data-urlencode "query=perfprobe_rss_bytes{$sel}[2m]" |
    jq -r '.data.result[0].values[][1]' > scraped.txt
jq -r 'select(.type == "sample") | .rss' live/steps.jsonl | sort -u > samples.txt
echo "$final" >> samples.txt
distinct=$(sort -u scraped.txt | wc -l)
check "serve: Prometheus saw the RSS grow (at least 4 distinct values in $(wc -l < scraped.txt) scrapes)" \
    test "$distinct" -ge 4
out=$(awk 'NR == FNR { s[$1 + 0] = 1; next } !(($1 + 0) in s) { print }' samples.txt scraped.txt)
eq "serve: every scraped RSS is one of the timeline's samples" "$out" ""
# the kernel's RSS dips by some 100-200 KiB between steps (pages of libc
# and the shim's buffers): the steps are 8 MiB, so 1 MiB tells them apart
check "serve: the scraped RSS never goes down by more than 1 MiB (a step is 8 MiB)" \
    awk '{ if ($1 + 1048576 < last) exit 1; last = $1 + 0 }' scraped.txt
curl -s "http://127.0.0.1:$PROM/api/v1/query" --data-urlencode "query=perfprobe_rss_peak_bytes{$sel}[2m]" |
    jq -r '.data.result[0].values[][1]' > peaks.txt
check "serve: the peak never goes down" awk '{ if ($1 + 0 < last) exit 1; last = $1 + 0 }' peaks.txt
$P report --json live/steps.jsonl > steps.json
same "serve: peak RSS once done" "$(query "perfprobe_rss_peak_bytes{$sel}")" "$(jq .summary.peak_rss_bytes steps.json)"
same "serve: region histogram count once done" \
    "$(query "perfprobe_region_duration_seconds_count{$sel,region=\"step\"}")" 12
same "serve: histogram +Inf bucket" \
    "$(query "perfprobe_region_duration_seconds_bucket{$sel,region=\"step\",le=\"+Inf\"}")" 12
eq "serve: the damaged file is counted, not fatal" "$(query 'perfprobe_file_errors{job="serve"}')" 1
check "serve: the damaged file is named" test -n "$(query 'perfprobe_file_error{job="serve",file="live/damaged.jsonl"}')"
eq "serve: Prometheus parses what serve answers (up)" "$(query 'up{job="serve"}')" 1
# a file that vanishes: removed, the next scrape has one file and no error
rm live/damaged.jsonl
curl -s "http://127.0.0.1:$SV/metrics" > after.txt
check "serve: a vanished file is simply gone" grep -qx 'perfprobe_file_errors 0' after.txt
curl -s -H 'Accept: application/openmetrics-text; version=1.0.0' "http://127.0.0.1:$SV/metrics" > om_live.txt
eq "serve: OpenMetrics when asked" "$(tail -1 om_live.txt)" "# EOF"
eq "serve: any other path is 404" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SV/nope")" 404
eq "serve: POST is 405" "$(curl -s -X POST -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SV/metrics")" 405
eq "serve: a request over 8 KiB is 431" \
    "$(curl -s -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SV/metrics")" 431
eq "serve: every series names its pid" \
    "$(grep -c '^perfprobe_rss_bytes{.*pid="[0-9]*"' after.txt)" 1
# a client that connects and says nothing does not block the next scrape for good
(exec 3<>"/dev/tcp/127.0.0.1/$SV"; sleep 8) &
silent=$!
sleep 0.2
eq "serve: a silent client is dropped after its timeout" \
    "$(curl -s -m 20 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SV/metrics")" 200
kill $silent 2>/dev/null
kill -TERM $serve_pid
wait $serve_pid
eq "serve: SIGTERM ends it with status 0" $? 0
grep -q "damaged.jsonl" serve.log
eq "serve: the damaged file said once on stderr" "$(grep -c damaged.jsonl serve.log)" 1
wait $mute_push
eq "push to a gateway that never answers: status 2, one line" "$(cat mute.rc):$(wc -l < mute.err)" "2:1"
check "push to a gateway that never answers: says it timed out" grep -qi "timed out" mute.err
