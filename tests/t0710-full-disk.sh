# A disk that fills up and frees again: every line of the timeline is valid
# JSON (a record goes in whole or not at all), the summary's sample count is
# the number of sample lines in the file, and a "gap" record says what was
# skipped once room came back (docs/design.md, "The hazards").
. "$PP_ROOT/tests/lib.sh"
PP=$PP_BUILD/perfprobe

if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
    fail "a full disk: needs root and unshare -m to make a small filesystem"
    exit 0
fi

# run NAME FORKS: a 1 MiB tmpfs nearly filled, the filler removed at 0.4 s
# while a program allocates (FORKS children writing to the same file), each
# process until 0.6 s after it sees the filler gone: the full spell and the
# room after it are what the program waits for, never a guess of how long
# the machine takes to run the remover
run() {
    cat > enospc.sh <<'SH'
mkdir -p mnt && mount -t tmpfs -o size=1m tmpfs mnt || exit 3
head -c $((1024 * 1024 - 6000)) /dev/zero > mnt/filler 2>/dev/null
( sleep 0.4; rm -f mnt/filler ) &
PERFPROBE_QUIET=1 PERFPROBE_INTERVAL_MS=1 PERFPROBE_OUTPUT=$PWD/mnt/t.jsonl LD_PRELOAD=$1 \
    /usr/bin/python3 -c '
import os, sys, time
kids = []
for _ in range(int(sys.argv[1])):
    kids.append(os.fork())
    if kids[-1] == 0: break
x, gone = [], None
while gone is None or time.time() - gone < 0.6:
    x.append(bytearray(1000)); time.sleep(0.0005)
    if len(x) > 200: x.clear()
    if gone is None and not os.path.exists("mnt/filler"): gone = time.time()
if 0 in kids: sys.exit(0)
for k in kids: os.waitpid(k, 0)
print("ran")' "$2" > full.out 2> full.err
echo $? > full.rc
wait
cp mnt/t.jsonl "$3"
umount mnt
SH
    unshare -m bash enospc.sh "$S" "$2" "$1.jsonl"
    eq "$1: the program runs on" "$(cat full.rc) $(cat full.out)" "0 ran"
    damaged=$(damaged "$1.jsonl" | wc -l)
    eq "$1: every line is valid JSON" "$damaged" 0
    eq "$1: a summary per process" "$(jq -c 'select(.type == "summary")' "$1.jsonl" | wc -l)" $(($2 + 1))
    for pid in $(jq -r 'select(.type == "summary") | .pid' "$1.jsonl"); do
        eq "$1: pid $pid: the summary's samples are the sample lines" \
            "$(jq -r "select(.type == \"summary\" and .pid == $pid) | .samples" "$1.jsonl")" \
            "$(jq -r "select(.type == \"sample\" and .pid == $pid) | .pid" "$1.jsonl" | wc -l)"
    done
    le "$1: a gap record says what was skipped" 1 \
        "$(jq -r 'select(.type == "gap" and .records > 0 and .to_s >= .from_s) | .pid' "$1.jsonl" | wc -l)"
    "$PP" report --json "$1.jsonl" > "$1.json" 2> "$1.err"
    eq "$1: the report reads it" "$? $(jq -s 'length > 0' "$1.json")" "0 true"
    eq "$1: report --json carries the main process's gaps as written" \
        "$(jq -c '.gaps // [] | map(.records)' "$1.json")" \
        "$(jq -sc --argjson p "$(jq '.pid' "$1.json")" 'map(select(.type == "gap" and .pid == $p) | .records)' "$1.jsonl")"
    "$PP" report "$1.jsonl" > "$1.txt" 2>&1
    check "$1: report says what a full disk kept out" grep -q "lost on a full disk: [1-9][0-9]* records" "$1.txt"
    eq "$1: the header went in (the nearly full disk still took what fit)" \
        "$(jq -r 'select(.type == "header") | .pid' "$1.jsonl" | wc -l)" $(($2 + 1))
}

run "one process" 0
run "a tree of three" 2
