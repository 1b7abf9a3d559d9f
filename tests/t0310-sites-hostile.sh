# Allocation sites under what broke other profilers: dlopen/dlclose in a
# loop on 4 threads, fork while another thread unwinds, malloc in a signal
# handler, a recursion 10,000 deep; and real interpreters run unchanged.
# Each run is bounded by a timeout, so a deadlock fails instead of hanging.
. "$PP_ROOT/tests/lib.sh"
P=$PP_BUILD/perfprobe

cat > plug.c <<'C'
#include <stdlib.h>
void *volatile plugin_sink[20];
long long plugin_alloc(void)
{
    for (int i = 0; i < 20; i++)
        plugin_sink[i] = malloc(8000);
    return 20;
}
C
cc -shared -fPIC -g -O1 -o libplug.so plug.c

for mode in all sample; do
    for what in "dlloop $PWD/libplug.so" fork signal "recurse 10000"; do
        name=${what%% *}
        timeout 120 env PERFPROBE_STACKS=$mode PERFPROBE_SAMPLE_BYTES=4K \
            PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$name.$mode.jsonl LD_PRELOAD=$S \
            "$T/sites_hostile" $what
        eq "$mode: $name runs to completion" "$?" 0
        check "$mode: $name leaves a valid timeline" valid_jsonl $name.$mode.jsonl
    done
    eq "$mode: every forked child wrote its own sites at exit" \
        "$(jq -r 'select(.type == "sites" and .at == "exit") | .pid' fork.$mode.jsonl | sort -u | wc -l)" 51
    eq "$mode: a child's stacks are all written in its own image" \
        "$(jqj -s '[.[] | select(.type == "stack") | {pid, id}] as $st |
                  [.[] | select(.type == "sites") as $r | $r.rows[] | {pid: $r.pid, id: .stack}] |
                  unique | all(. as $u | $st | index([$u]) != null)' fork.$mode.jsonl)" true
done

# the handler's stacks cross the signal frame: the remembered rules leave
# those walks to libgcc, which goes on past it to main
"$P" report --json signal.all.jsonl > sig.json
eq "signal: the handler's site is unwound through the signal frame to main" \
    "$(jq '[.sites[] | select(.frames[0].fn == "on_alarm") | [.frames[].fn] | index("main") != null] | any' sig.json)" true
check "signal: those walks were libgcc's" \
    test "$(jq 'select(.type == "sites" and .at == "exit") | .walks_libgcc' signal.all.jsonl)" -gt 0
eq "signal: the program's own allocations were walked from remembered rules" \
    "$(jq 'select(.type == "sites" and .at == "exit") | .walks - .walks_libgcc >= 250000' signal.all.jsonl)" true

# the recursion's stack is cut at the depth limit (64) and says so
eq "recursion: the stack is cut at PERFPROBE_STACK_DEPTH" \
    "$(jq -s '[.[] | select(.type == "stack" and .truncated) | .frames | length] | max' recurse.all.jsonl)" 64
"$P" report --json recurse.all.jsonl > r.json
eq "recursion: symbolised as recurse called by recurse" \
    "$(jq -r '[.sites[] | select(.alloc_bytes >= 777 and .alloc_bytes < 800)][0] | .frames[0].fn + " " + .frames[1].fn + " " + (.truncated|tostring)' r.json)" \
    "recurse recurse true"
PERFPROBE_STACK_DEPTH=8 PERFPROBE_STACKS=all traced d8.jsonl "$T/sites_hostile" recurse 100
eq "PERFPROBE_STACK_DEPTH=8 keeps 8 frames" \
    "$(jq -s '[.[] | select(.type == "stack") | .frames | length] | max' d8.jsonl)" 8

# interpreters run unchanged under the default (sample)
py='import json, hashlib; d = [dict(a=i, b=str(i) * 10) for i in range(200000)]; print(hashlib.sha1(json.dumps(d).encode()).hexdigest())'
eq "python3 prints the same under sample" "$(traced py.jsonl $PY -c "$py")" "$($PY -c "$py")"
check "python3: sites recorded at exit" grep -q '"type":"sites","pid":[0-9]*,"at":"exit"' py.jsonl
if command -v node > /dev/null; then
    js='let a = []; for (let i = 0; i < 300000; i++) a.push({i, s: "x" + i}); console.log(a.length, a[12345].s)'
    eq "node prints the same under sample" "$(traced node.jsonl node -e "$js")" "$(node -e "$js")"
else
    ok "node is not installed: not run"
fi
