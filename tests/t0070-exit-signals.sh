# Exit after atexit handlers, once, whatever the threads do; signals kill
# the program exactly as they would without the shim, and the timeline is
# complete up to the signal.
. "$PP_ROOT/tests/lib.sh"

traced x.jsonl "$T/atexit_leak" x.facts
eq "the summary comes after the program's atexit handlers" \
    "$(summary x.jsonl heap_bytes_at_exit)" "$(fact x.facts late_usable)"

for i in 1 2 3 4 5; do
    traced e$i.jsonl "$T/exit_race"
    eq "exit from 9 threads at once (run $i): one summary" "$(grep -c '"type":"summary"' e$i.jsonl)" 1
done

# run_and_signal SIG OUT [ARGS]: exit status of sleeper killed by SIG
run_and_signal() {
    local sig=$1 out=$2; shift 2
    # perl restores the default action (a background job's SIGINT is
    # ignored) and sets LD_PRELOAD only for the program it execs
    PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$out perl -e \
        '$SIG{INT} = "DEFAULT"; $ENV{LD_PRELOAD} = shift; exec @ARGV' \
        "$PRELOAD" "$T/sleeper" "$@" > ready.$out &
    local pid=$! i=0
    while ! grep -q ready ready.$out 2>/dev/null && [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done
    sleep 0.05
    kill -"$sig" $pid
    wait $pid
    echo $?
}
# the same through perfprobe run, which records the signal it saw; the
# signal goes to the program (TARGET child) or to perfprobe (TARGET run),
# which passes it on
run_cli_and_signal() {
    local sig=$1 out=$2 target=$3; shift 3
    perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV' \
        "$PP_BUILD/perfprobe" run -q -o "$out" -- "$T/sleeper" "$@" > ready.$out &
    local pid=$! i=0
    while ! grep -q ready ready.$out 2>/dev/null && [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done
    sleep 0.05
    if [ "$target" = child ]; then kill -"$sig" "$(pgrep -P $pid)"; else kill -"$sig" $pid; fi
    wait $pid
    echo $?
}
for sig in TERM INT HUP KILL; do
    bare=$(PRELOAD= run_and_signal $sig bare.jsonl)
    traced_rc=$(PRELOAD=$S run_and_signal $sig s.jsonl)
    eq "SIG$sig: same exit status as without the shim" "$traced_rc" "$bare"
    check "SIG$sig: timeline is valid JSON Lines" valid_jsonl s.jsonl
    eq "SIG$sig: no summary" "$(grep -c '"type":"summary"' s.jsonl)" 0
    eq "SIG$sig: the last sample holds the program's 8 MiB" \
        "$(jq -s 'map(select(.type == "sample")) | last | .heap >= 8388608' s.jsonl)" true
    cli_rc=$(run_cli_and_signal $sig c.jsonl child)
    eq "SIG$sig: perfprobe run dies the same way" "$cli_rc" "$bare"
    eq "SIG$sig: perfprobe run records the signal" \
        "$(tail -1 c.jsonl | jq -r '.type + " " + (.signal|tostring)')" \
        "signal $(kill -l $sig >/dev/null && kill -l SIG$sig)"
    if [ $sig != KILL ]; then
        eq "SIG$sig sent to perfprobe run: passed on, same death" \
            "$(run_cli_and_signal $sig p.jsonl run)" "$bare"
    fi
done
eq "a program's own SIGTERM handler still runs" "$(PRELOAD=$S run_and_signal TERM h.jsonl handler)" 7
