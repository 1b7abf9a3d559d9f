# scale --values' messages, under ASan: a value that is not a number is
# named (the list it points into was freed before: a use after free), and
# a 257th value is "too many", not "not a number".
. "$PP_ROOT/tests/lib.sh"
PP=$PP_BUILD/perfprobe
ASAN=$PP_BUILD/perfprobe-asan
TO="timeout 60"

# ---- scale --values: its messages, under ASan ------------------------------------
for bin in "$PP" "$ASAN"; do
    ASAN_OPTIONS=detect_leaks=0 $TO "$bin" scale --values abcdefgh,2 -- /bin/true 2> err
    st=$?
    eq "$(basename $bin) scale --values abcdefgh: status 2" $st 2
    eq "$(basename $bin) scale --values abcdefgh: names the value" "$(cat err)" \
       "perfprobe: scale: --values: 'abcdefgh' is not a number"
    ASAN_OPTIONS=detect_leaks=0 $TO "$bin" scale --values "$(seq -s, 1 257)" -- /bin/true 2> err
    st=$?
    eq "$(basename $bin) scale: 257 values: status 2" $st 2
    eq "$(basename $bin) scale: 257 values: says too many" "$(cat err)" \
       "perfprobe: scale: --values: too many values (at most 256)"
done
