# RSS explained: each part of the breakdown against what the program did to
# it, the parts adding up to RSS, and CPython's arenas in the mmap part.
. "$PP_ROOT/tests/lib.sh"
M=$((1024 * 1024))
gcc -O2 -I"$PP_ROOT/tests/progs" -I"$PP_ROOT/libprobe" -o parts "$PP_ROOT/tests/progs/parts.c" -pthread
head -c $((24 * M)) /dev/urandom > data.bin
traced p.jsonl ./parts p.facts data.bin
eq "exit status" $? 0
part() { jq -r "select(.type == \"probe\" and .label == \"$1\") | .rss_parts.$2" p.jsonl; }
delta() { echo $(( $(part after "$1") - $(part before "$1") )); }
within "heap part grows by the 40 MiB touched" "$(delta heap)" $((40 * M)) 3
within "mmap part grows by the quarter of 64 MiB touched" "$(delta mmap)" $((16 * M)) 3
within "file part grows by the file mapped and read" "$(delta file)" "$(fact p.facts file_bytes)" 3
within "stack part grows by the 2 MiB the thread touched" "$(delta stack)" $((2 * M)) 3
within "heap_untouched is the 100 MiB never touched" "$(part untouched heap_untouched)" $((100 * M)) 3
for l in before after untouched; do
    eq "$l: the parts add up to rss_bytes" \
        "$(jq "select(.type == \"probe\" and .label == \"$l\") |
               .rss_parts as \$p | (\$p.heap + \$p.mmap + \$p.file + \$p.stack + \$p.other) == .rss_bytes" p.jsonl)" true
done
eq "other holds perfprobe's own memory and shared memory" \
    "$(jq 'select(.type == "probe" and .label == "after") | .rss_parts | .other == .shmem + .perfprobe' p.jsonl)" true
eq "the breakdown at exit adds up to its RSS" \
    "$(tail -1 p.jsonl | jq '.rss_parts_at_exit | .heap + .mmap + .file + .stack + .other == .rss_bytes')" true
within "the breakdown at exit was taken with the exit RSS" \
    "$(tail -1 p.jsonl | jq .rss_parts_at_exit.rss_bytes)" "$(summary p.jsonl rss_bytes_at_exit)" 1
le "the breakdown at the peak is the largest one taken" \
    "$(jq -s '[.[] | select(.type == "probe") | .rss_bytes] | max' p.jsonl)" \
    "$(tail -1 p.jsonl | jq .rss_parts_at_peak.rss_bytes)"
eq "samples carry the breakdown on a stride" \
    "$(jq -cs '[.[] | select(.type == "sample" and has("parts")) | .parts | length] | unique' p.jsonl)" "[5]"
PERFPROBE_PARTS=0 traced np.jsonl ./parts np.facts data.bin
eq "PERFPROBE_PARTS=0: no breakdown" "$(jq -s '[.[] | select(has("rss_parts") or has("parts"))] | length' np.jsonl)" 0

# jemalloc: its own figures beside the parts
JE=$(ldconfig -p | awk '/libjemalloc.so.2 /{print $NF; exit}')
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=je.jsonl LD_PRELOAD="$S $JE" ./parts je.facts data.bin
eq "jemalloc: stats beside the parts" \
    "$(jq 'select(.type == "probe" and .label == "after") | .rss_parts.jemalloc | .resident >= .active and .active >= .allocated' je.jsonl)" true
within "jemalloc: the heap part follows its resident figure" \
    "$(jq 'select(.type == "probe" and .label == "after") | .rss_parts.heap' je.jsonl)" \
    "$(jq 'select(.type == "probe" and .label == "after") | .rss_parts.jemalloc.resident' je.jsonl)" 10

# CPython: its small-object arenas come from mmap, and the mmap part holds them
cat > arenas.py <<'PY'
import os, sys
import perfprobe
keep = [str(i) * 3 for i in range(500000)]
perfprobe.probe("objects")
r, w = os.pipe()
saved = os.dup(2); os.dup2(w, 2); sys._debugmallocstats(); os.dup2(saved, 2); os.close(w)
for line in os.read(r, 1 << 20).decode().splitlines():
    if "arenas allocated current" in line or "bytes in allocated blocks" in line:
        print(line.split("=")[0].strip("# ").replace(" ", "_"), line.split("=")[1].strip().replace(",", ""))
PY
PYTHONPATH=$PP_ROOT/libprobe/python traced py.jsonl $PY arenas.py > py.facts
mmap=$(jq 'select(.type == "probe" and .label == "objects") | .rss_parts.mmap' py.jsonl)
le "python3: the mmap part holds every allocated block" "$(fact py.facts bytes_in_allocated_blocks)" "$mmap"
le "python3: and no more than the arenas (1 MiB each) plus 2 MiB" "$mmap" \
    $(( $(fact py.facts arenas_allocated_current) * M + 2 * M ))
