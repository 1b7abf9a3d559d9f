# The status each process exits with is in its summary (exit_status), as
# its parent sees it, however it ends: main's return (which goes to an
# exit inside glibc, past the exit hook), exit() from main or another
# thread, the last thread after main's pthread_exit, a forked child's
# return, past many atexit handlers; a shell's exit, Python's sys.exit
# and an uncaught exception.  Ground truth: the status bare.
. "$PP_ROOT/tests/lib.sh"

# status_of FILE PID: the exit_status of PID's summary ("" when none)
status_of() { jq -r --argjson p "$2" 'select(.type == "summary" and .pid == $p) | .exit_status // ""' "$1"; }
# root_status FILE: the first process's
root_status() { status_of "$1" "$(head -1 "$1" | jq .pid)"; }
# prog_status FILE NAME: that of the process whose header's exe ends in NAME
prog_status() {
    status_of "$1" "$(jq --arg n "/$2" 'select(.type == "header" and (.exe | endswith($n))) | .pid' "$1" | head -1)"
}

for c in "return 7" "return 0" "exit 3" "thread 9" "lastthr 0" "atexit 255" "return 300"; do
    set -- $c
    timeout -k 5 60 "$T/exit_status" $1 $2
    bare=$?
    rm -f s.jsonl
    traced s.jsonl timeout -k 5 60 "$T/exit_status" $1 $2
    eq "$1 $2: exit status as bare" $? $bare
    check "$1 $2: every line is JSON" valid_jsonl s.jsonl
    eq "$1 $2: the summary says the status" \
        "$(prog_status s.jsonl exit_status)" "$bare"
    # the shim's own entry for the exit's start, freed by glibc at exit,
    # is not counted as a free of the program's
    pid=$(jq --arg n /exit_status 'select(.type == "header" and (.exe | endswith($n))) | .pid' s.jsonl | head -1)
    eq "$1 $2: no free counted that was not allocated, nothing inexact" \
        "$(jq -r --argjson p "$pid" 'select(.type == "summary" and .pid == $p) | .frees <= .allocs and (.inexact | length) == 0' s.jsonl)" true
done

# a forked child's own status, and the parent's
rm -f f.jsonl
traced f.jsonl "$T/exit_status" fork 4
eq "fork: exit status" $? 5
eq "fork: the parent's and the child's statuses, in the order they ended" \
    "$(jq -r 'select(.type == "summary") | .exit_status' f.jsonl | tr '\n' ' ')" "4 5 "
eq "fork: report --json, the tree's statuses" \
    "$("$PP_BUILD/perfprobe" report --json f.jsonl | jq -r '[.tree.processes[].exit_status] | sort | join(" ")')" "4 5"
eq "fork: the report's tree says how each ended" \
    "$("$PP_BUILD/perfprobe" report f.jsonl | grep -o 'exited [0-9]*$' | sort | tr '\n' ' ')" "exited 4 exited 5 "

# programs that end through their runtimes
for c in "bash:exit 3:3" "bash:exit 0:0" "python3:import sys; sys.exit(5):5" "python3:raise SystemExit(2):2" \
         "python3:1/0:1"; do
    prog=${c%%:*} rest=${c#*:}
    code=${rest%:*} want=${rest##*:}
    flag=-c
    rm -f p.jsonl
    traced p.jsonl "$(command -v $prog)" $flag "$code" 2> /dev/null
    eq "$prog '$code': exit status" $? $want
    eq "$prog '$code': the summary says so" "$(root_status p.jsonl)" "$want"
done
