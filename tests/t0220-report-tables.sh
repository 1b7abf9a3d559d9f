# Reports people read: report --samples in every format, labels that only
# differ at the end, units in text and the file's own numbers in CSV and
# JSON.  The raw timeline, read by jq, is the independent reader.
. "$PP_ROOT/tests/lib.sh"
PP=$PP_BUILD/perfprobe

cat > labels.c <<'PROG'
#include <perf_probe.h>
#include <stdlib.h>
#include <string.h>
char *volatile sink;                  /* the compiler may not drop the malloc */
int main(void)
{
    perf_probe("Before Image Gen - file0.bin");
    char *p = malloc(3 << 20);
    memset(p, 1, 3 << 20);
    sink = p;
    perf_probe("Before Image Gen - file1.bin");
    for (int i = 0; i < 5; i++) {
        perf_region_begin("a region with a rather long name, thirty-nine");
        perf_region_end("a region with a rather long name, thirty-nine");
    }
    free(p);
    return 0;
}
PROG
gcc -O1 -I"$PP_ROOT/libprobe" labels.c -o labels -ldl
PERFPROBE_OUTPUT=l.jsonl LD_PRELOAD=$S ./labels 2> exit.txt
eq "labels: status" $? 0

# ---- labels are never cut -------------------------------------------------------------
for l in "Before Image Gen - file0.bin" "Before Image Gen - file1.bin"; do
    check "exit table: '$l' in full" grep -q "^$l " exit.txt
done
check "exit table: the long region name in full" grep -q "^a region with a rather long name, thirty-nine " exit.txt
check "exit table: min and p95 columns" grep -Eq '^Region +count +mean +min +p50 +p95 +p99 +max' exit.txt
$PP report l.jsonl > r.txt
for l in "Before Image Gen - file0.bin" "Before Image Gen - file1.bin"; do
    check "report: '$l' in full" grep -q "^$l " r.txt
done
check "report: the long region name in full" grep -q "^a region with a rather long name, thirty-nine " r.txt
long=$(printf 'x%.0s' $(seq 1 100))
{ head -1 l.jsonl; jq -c --arg l "$long" 'select(.type == "probe") | .label = $l' l.jsonl | head -1; tail -1 l.jsonl; } > long.jsonl
$PP report long.jsonl > long.txt
check "report: a 100-column label is not cut: it has a line of its own" grep -q "^$long\$" long.txt

# ---- units -----------------------------------------------------------------------------
$PP report --markdown l.jsonl > r.md
check "markdown: per_s as a rate" grep -Eq '^\| l.jsonl \| a region with a rather long name, thirty-nine \|.* [0-9.]+/s \|.*\|$' r.md
check "markdown: sizes in MiB" grep -Eq '^\| l.jsonl \| peak_heap_bytes \| 3.00 MiB \|' r.md
$PP check l.jsonl --max peak_heap_bytes=1M > c.txt
check "check: bytes in MiB, not raw" grep -Eq '^FAIL peak_heap_bytes = 3.00 MiB, above the limit 1.00 MiB' c.txt
$PP check l.jsonl --max "probe.Before Image Gen - file1.bin.peak_heap_since_last=1M" > c.txt
check "check: a probe's peak heap in MiB" grep -Eq '^FAIL probe.Before Image Gen - file1.bin.peak_heap_since_last = 3.00 MiB' c.txt

# ---- report --samples ----------------------------------------------------------------------
traced s.jsonl "$T/alloc_known" s.facts 2000 0
ns=$(grep -c '"type":"sample"' s.jsonl)
$PP report --json --samples s.jsonl > s.json
eq "--samples --json: every sample" "$(jq '.samples | length' s.json)" "$ns"
eq "--samples --json: the file's RSS values, in order" \
    "$(jq -c '[.samples[].rss]' s.json)" "$(jq -s -c '[.[] | select(.type == "sample") | .rss]' s.jsonl)"
eq "--samples --json: hwm carried forward where the file leaves it out" \
    "$(jq -c '[.samples[].hwm] | map(. != null) | all' s.json)" true
$PP report --csv --samples s.jsonl > s.csv
eq "--samples --csv: a header and a row per sample" "$(wc -l < s.csv)" $((ns + 1))
eq "--samples --csv: columns" "$(head -1 s.csv)" "file,t_s,rss,hwm,heap,heap_max,anon,file,user_s,sys_s,cpu_pct,minflt,majflt"
eq "--samples --csv: the heap column is the file's" \
    "$(tail -n +2 s.csv | cut -d, -f5 | tr '\n' ' ')" "$(jq -r 'select(.type == "sample") | .heap' s.jsonl | tr '\n' ' ')"
eq "--samples --csv: numbers as the file wrote them (no 5.6244300000000003)" \
    "$(tail -n +2 s.csv | cut -d, -f2 | tr '\n' ' ')" "$(jq -r 'select(.type == "sample") | .t_s' s.jsonl | tr '\n' ' ')"
$PP report --samples s.jsonl > s.txt
check "--samples text: a row per sample" test "$(grep -Ec '^ +[0-9]+\.[0-9]{4} ' s.txt)" -ge "$ns"
$PP report --csv --table nonsense s.jsonl 2> e.txt
eq "--table nonsense: status 2" $? 2

# ---- cpu_pct_mean: the image's own CPU -------------------------------------------------
# the summary's CPU figures are the process's from its start: the loader's
# before t_s = 0, and after an exec every earlier image's.  A shell that
# burns CPU and then execs `sleep 0.5`: the sleep's image used next to no
# CPU in its 0.5 s (before: the shell's CPU over the sleep's wall, over 100%)
$PP run -o ex.jsonl -- bash -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; exec sleep 0.5' 2> /dev/null
$PP report --json ex.jsonl > ex.json
eq "exec chain: the report is the sleep's image" "$(jq -r .summary.wall_s ex.json | cut -c1-3)" 0.5
check "exec chain: the shell burnt CPU first (over 0.1 s, the sleep's image's summary holds it)" \
    test "$(jq '.summary.cpu_user_s * 1000 | floor' ex.json)" -gt 100
le "exec chain: the sleep's cpu_pct_mean is under 10%" "$(jq '.summary.cpu_pct_mean | floor' ex.json)" 9
# a program shorter than a millisecond: the loader's CPU before t_s = 0 is
# left out (before: /bin/true read 500%); the rest is within a CPU core,
# but for the microseconds between the two clocks' reads
$PP run -o tr.jsonl -- /bin/true 2> /dev/null
le "/bin/true: cpu_pct_mean at most about one core" "$($PP report --json tr.jsonl | jq '.summary.cpu_pct_mean | floor')" 150
