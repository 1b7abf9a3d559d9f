# Real programs from Debian run under the shim with unchanged stdout and
# exit status.
. "$PP_ROOT/tests/lib.sh"

same() {   # DESC CMD...: stdout and status identical with and without the shim
    local desc=$1; shift
    "$@" > bare.out 2>/dev/null; local bare=$?
    PERFPROBE_OUTPUT=run.jsonl LD_PRELOAD=$S "$@" > traced.out 2>traced.err; local got=$?
    if [ $got = $bare ] && cmp -s bare.out traced.out; then
        ok "$desc: same stdout and exit status ($bare)"
    else
        fail "$desc: status $got vs $bare, stdout differs: $(diff bare.out traced.out | head -3)"
    fi
    check "$desc: timeline written" test -s run.jsonl
}
same "python3" $PY -c 'import json, zlib; d = [{"k": i} for i in range(100000)]; print(len(zlib.compress(json.dumps(d).encode())))'
same "python3 exit 3" $PY -c 'import sys; print("x"); sys.exit(3)'
same "perl" perl -e 'my %h; $h{$_} = "x" x 100 for 1..50000; print scalar(keys %h), "\n"'
same "bash" bash -c 'a=(); for i in $(seq 1 3000); do a+=("$i"); done; echo ${#a[@]}; exit 4'
same "sqlite3" sqlite3 :memory: 'create table t(x); with recursive c(i) as (select 1 union all select i+1 from c where i < 50000) insert into t select i from c; select count(*), sum(x) from t;'
awk 'BEGIN { srand(7); for (i = 0; i < 200000; i++) print int(rand() * 1000000) }' > numbers.txt
same "sort" sort -n numbers.txt
# the table goes to stderr, never stdout
PERFPROBE_OUTPUT=t.jsonl LD_PRELOAD=$S $PY -c 'print("only this")' > o.txt 2> e.txt
eq "stdout has only the program's output" "$(cat o.txt)" "only this"
check "the table is on stderr" grep -q "perfprobe: python3" e.txt
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=t.jsonl LD_PRELOAD=$S $PY -c 'pass' 2> q.txt
eq "PERFPROBE_QUIET=1 prints nothing" "$(cat q.txt)" ""
