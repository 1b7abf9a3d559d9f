# A forked child and an exec'd program each write their own file.
. "$PP_ROOT/tests/lib.sh"

traced "$PWD/f.jsonl" "$T/forker" "$PWD"
eq "exit status" $? 0
eq "three timeline files" "$(ls *.jsonl | wc -l)" 3
root=$(head -1 f.jsonl | jq -r .pid)
child=$(ls f.*.jsonl | grep -v "^f\.2\.jsonl$")
eq "the forked child's file is named by its pid" "$child" "f.$(head -1 "$child" | jq -r .pid).jsonl"
eq "the child's parent is the root" "$(head -1 "$child" | jq -r .ppid)" "$root"
eq "the child knows the root" "$(head -1 "$child" | jq -r .root_pid)" "$root"
eq "the child's file ends with its summary" "$(tail -1 "$child" | jq -r .type)" summary
le "the child holds the parent's 1 MiB and its own 2 MiB" $((3 << 20)) "$(summary "$child" peak_heap_bytes)"
eq "the child's counts start at the fork" "$(summary "$child" allocs)" 1
eq "the exec'd image keeps the pid" "$(head -1 f.2.jsonl | jq -r .pid)" "$root"
eq "the exec'd image has its own argv" "$(head -1 f.2.jsonl | jq -r '.argv[2]')" exec
le "the exec'd image holds 3 MiB" $((3 << 20)) "$(summary f.2.jsonl peak_heap_bytes)"
eq "the image before exec has no summary (exec runs no exit handlers)" \
    "$(grep -c summary f.jsonl)" 0
check "every file is valid JSON Lines" bash -c 'for f in *.jsonl; do jq -e . "$f" >/dev/null || exit 1; done'

mkdir nofollow && cd nofollow
PERFPROBE_FOLLOW=0 traced "$PWD/f.jsonl" "$T/forker" "$PWD"
eq "PERFPROBE_FOLLOW=0: the exec'd program is not traced" "$(ls *.jsonl | sort | tr '\n' ' ')" \
    "$(ls f.[0-9]*.jsonl) f.jsonl "
