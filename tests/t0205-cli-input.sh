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
        peak timeout 60 "$bin" $cmd /dev/zero $out 2> err.txt
        eq "$b $cmd /dev/zero: status 2" $rc 2
        eq "$b $cmd /dev/zero: one line naming line 1" "$(cat err.txt)" \
            "perfprobe: /dev/zero:1: line longer than 16 MiB"
        le "$b $cmd /dev/zero: peak RSS under 200 MB (KiB)" "$kb" 204800
    done
    peak timeout 60 "$bin" report big.jsonl 2> err.txt
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
