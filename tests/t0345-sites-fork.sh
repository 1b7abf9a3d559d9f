# With every stack (PERFPROBE_STACKS=all), a forked child that exits does
# not classify its live blocks as leaks: they are mostly its parent's,
# which it shares, and reading them through the kernel pins, and so
# copies, every page still shared.  Before, each child of a program holding
# 256 MiB took 200 ms to exit (6 ms bare) and faulted in a private copy of
# the whole heap.  Ground truth: what the program did (a heap of 64 KiB
# blocks, all reachable from a global array; children that exit at once);
# the parent's own blocks are still classified.
. "$PP_ROOT/tests/lib.sh"

"$T/fork_heap" bare.facts 16 3
eq "bare: status" $? 0
PERFPROBE_STACKS=all traced f.jsonl "$T/fork_heap" f.facts 16 3
eq "every stack: status" $? 0
check "every line is JSON" valid_jsonl f.jsonl
parent=$(head -1 f.jsonl | jq .pid)
# exit_classified: "PID true|false" for each process's exit sites record
classified() {
    jq -r 'select(.type == "sites" and .at == "exit") | "\(.pid) \([.rows[] | has("lost_bytes")] | any)"' f.jsonl
}
eq "the parent's live blocks are classified" "$(classified | awk -v p="$parent" '$1 == p { print $2 }')" true
eq "the three children's are not" "$(classified | awk -v p="$parent" '$1 != p { print $2 }' | sort | uniq -c | tr -s ' ')" " 3 false"
eq "the parent's blocks are reachable: none lost" \
    "$(jq -r --argjson p "$parent" 'select(.type == "sites" and .at == "exit" and .pid == $p) | [.rows[].lost_bytes] | add' f.jsonl)" 0
