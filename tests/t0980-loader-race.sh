# A one-threaded program that loads and unloads a library all the time,
# sampled at 1 kHz: it never hangs and never crashes under the shim.
# Before this was fixed, the same runs crashed 3-4 times in 20 (the
# sampler read the unwind tables of a library unloaded since the sample)
# and hung once in 30 (glibc's single-threaded shortcut: the program let go
# of the loader's lock with a plain store while the sampler waited for it,
# and waited for it in dlclose ever after).  The program's own count of
# rounds, and its time in zlib's crc32, are the ground truth.
. "$PP_ROOT/tests/lib.sh"

"$T/loader_race" 0.5 > bare.out
eq "bare: exit status" $? 0
ok_runs=0 statuses=""
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    PERFPROBE_CPU=1000 PERFPROBE_INTERVAL_MS=1 timeout 60 \
        env PERFPROBE_QUIET=1 PERFPROBE_OUTPUT="$PWD/r$i.jsonl" LD_PRELOAD="$S" \
        "$T/loader_race" 1.5 > r$i.out 2> r$i.err
    rc=$?
    statuses="$statuses $rc"
    [ $rc = 0 ] && grep -q '^rounds [1-9]' r$i.out && valid_jsonl r$i.jsonl && ok_runs=$((ok_runs + 1))
done
eq "12 runs under the shim: each exits 0 with its rounds and a valid timeline (statuses:$statuses)" \
    "$ok_runs" 12
# CPU samples in the library loaded and unloaded: attributed to it
top=$("$PP_BUILD/perfprobe" report --cpu r1.jsonl 2>/dev/null |
      awk '/^by self time/ { f = 1; next } f && $NF ~ /libz/ { print $NF; exit }')
eq "report --cpu: samples in zlib are attributed to it" "$top" "(libz.so.1)"
share=$("$PP_BUILD/perfprobe" report --json r1.jsonl 2>/dev/null |
        jq -r '[.cpu.functions[] | select(.function | startswith("crc32")) | .self_pct] | add // 0')
le "report --cpu: crc32 has most of the samples (the program's time is there)" 50 "${share%.*}"
