# Output files (docs/cli.md, "Output files"): every command that writes one
# (flame, flame --cpu, plot .html/.svg, trace, pprof, pprof --cpu, scale -o,
# check --junit) leaves an existing OUT byte for byte as it was when it
# fails (nothing to write, a full disk), leaves no temporary file behind,
# and refuses an OUT that is its own input.  Also scale --values' messages
# (under ASan) and the SIGPIPE status docs/cli.md gives.
. "$PP_ROOT/tests/lib.sh"
PP=$PP_BUILD/perfprobe
ASAN=$PP_BUILD/perfprobe-asan
TO="timeout 60"

# a timeline with allocation sites and CPU samples, and one with neither
$TO env PERFPROBE_QUIET=1 PERFPROBE_STACKS=all PERFPROBE_OUTPUT=in.jsonl LD_PRELOAD=$S \
    "$T/cpu_burn" ratio 2000000 > /dev/null
check "input: has allocation sites" test "$($TO $PP flame in.jsonl | wc -l)" -ge 1
check "input: has CPU samples" test "$($TO $PP flame --cpu in.jsonl | wc -l)" -ge 1
printf '%s\n' '{"type":"header","format":"perfprobe-timeline","version":2,"pid":1,"ppid":0,"root_pid":1,"image":0,"program":"x","start_unix_s":1}' \
    '{"type":"summary","pid":1,"t_s":1,"wall_s":1,"cpu_user_s":0.1,"cpu_sys_s":0,"peak_rss_bytes":1000,"regions":[]}' > none.jsonl

# listing DIR: its entries, dot files included, sorted, on one line;
# no_temp DIR DESC BEFORE [NEW...]: DIR holds what it held before (BEFORE,
# a listing) and the files NEW, and no temporary file
listing() { ls -A "$1" | LC_ALL=C sort | tr '\n' ' '; }
no_temp() {
    eq "$2: no temporary file left" "$(listing "$1")" \
       "$(printf '%s\n' $3 "${@:4}" | LC_ALL=C sort | tr '\n' ' ')"
}

# ---- nothing to write: OUT untouched --------------------------------------------
echo "yesterday's output" > old.keep
cp old.keep old.out
: > err
before=$(listing .)
for c in "flame" "flame --cpu" "pprof" "pprof --cpu"; do
    cp old.keep old.out
    $TO $PP $c -o old.out none.jsonl 2> err
    eq "$c, no data: status 2" $? 2
    check "$c, no data: OUT byte for byte as before" cmp -s old.out old.keep
    eq "$c, no data: one line on stderr" "$(wc -l < err)" 1
done
no_temp . "nothing to write" "$before"

# ---- a successful write replaces OUT whole, with a new file's mode --------------
rm -f err
before=$(listing .)
umask 022
cp old.keep new.folded
chmod 600 new.folded
$TO $PP flame -o new.folded in.jsonl
eq "flame: status 0" $? 0
check "flame: OUT is the new output" cmp -s new.folded <($TO $PP flame in.jsonl)
eq "flame: OUT has a new file's mode (0666 less the umask)" "$(stat -c %a new.folded)" 644
ln -s new.folded new.link
$TO $PP flame --cpu -o new.link in.jsonl
check "a symbolic link OUT: kept a link" test -L new.link
check "a symbolic link OUT: the file it names replaced" cmp -s new.folded <($TO $PP flame --cpu in.jsonl)
$TO $PP trace -o /dev/null in.jsonl
eq "trace -o /dev/null: status 0" $? 0
check "trace -o /dev/null: /dev/null still a device" test -c /dev/null
$TO $PP pprof -o - in.jsonl > new.pb.gz
check "pprof -o -: gzip on stdout" gzip -t new.pb.gz
no_temp . "successful writes" "$before" new.folded new.link new.pb.gz

# ---- OUT is the input: refused, the input unchanged ------------------------------
before=$(listing .)
for c in "trace -o X.jsonl X.jsonl" "plot -o X.jsonl X.jsonl" "pprof -o X.jsonl X.jsonl" \
         "pprof --cpu -o X.jsonl X.jsonl" "flame -o X.jsonl X.jsonl" \
         "flame --cpu -o X.jsonl X.jsonl" "check X.jsonl --max wall_s=100 --junit X.jsonl"; do
    cp in.jsonl X.jsonl
    sha256sum X.jsonl > X.sum
    $TO $PP $c > /dev/null 2> err
    eq "$c: status 2" $? 2
    check "$c: the input's checksum unchanged" sha256sum -c --quiet X.sum
    check "$c: says why" grep -q "the output is the input" err
done
# check --junit over an input: refused before any check is printed
cp in.jsonl X.jsonl
cp in.jsonl B.jsonl
printf 'wall_s <= 100\n' > lim.txt
for c in "check X.jsonl --max wall_s=100 --junit X.jsonl" \
         "check X.jsonl --baseline B.jsonl --max-regression 50 --junit B.jsonl" \
         "check X.jsonl --thresholds lim.txt --junit lim.txt"; do
    $TO $PP $c > out 2> err
    eq "$c: status 2, nothing on stdout, one line on stderr" "$?:$(wc -c < out):$(wc -l < err)" "2:0:1"
done
rm -f B.jsonl lim.txt out
cp in.jsonl X.jsonl
sha256sum X.jsonl > X.sum
ln X.jsonl old.hard.jsonl
$TO $PP trace -o old.hard.jsonl X.jsonl 2> /dev/null
eq "trace -o (a hard link to the input): status 2" $? 2
check "trace -o (a hard link to the input): the input unchanged" sha256sum -c --quiet X.sum
mkdir d && cp in.jsonl d/
(cd d && sha256sum in.jsonl > ../X.sum)
$TO $PP trace -o d/in.jsonl d 2> /dev/null
eq "trace -o (a file of an input DIR): status 2" $? 2
check "trace -o (a file of an input DIR): the file unchanged" sh -c 'cd d && sha256sum -c --quiet ../X.sum'
rm -rf X.jsonl old.hard.jsonl X.sum err d
no_temp . "output is the input" "$before"

# ---- a full disk: the previous good file intact, no temporary left ---------------
mkdir mnt
if mount -t tmpfs -o size=16k tmpfs mnt 2> /dev/null; then
    outs="old.folded old.cpu.folded old.html old.svg old.json old.pb.gz old.cpu.pb.gz old.xml old.sc.svg"
    for o in $outs; do echo "previous good $o" > mnt/$o; cp mnt/$o saved.$o.txt; done
    dd if=/dev/zero of=mnt/fill bs=1k count=64 2> /dev/null   # fills it: fails when full
    before=$(listing mnt)
    run_full() {    # DESC CMD...
        local desc=$1; shift
        $TO "$@" > /dev/null 2> err
        eq "full disk: $desc: status 2" $? 2
        # (scale's progress lines aside)
        eq "full disk: $desc: one line on stderr" "$(grep -v -c ': scale: value .*, run ' err)" 1
    }
    run_full "flame" $PP flame -o mnt/old.folded in.jsonl
    run_full "flame --cpu" $PP flame --cpu -o mnt/old.cpu.folded in.jsonl
    run_full "plot html" $PP plot -o mnt/old.html in.jsonl
    run_full "plot svg" $PP plot -o mnt/old.svg in.jsonl
    run_full "trace" $PP trace -o mnt/old.json in.jsonl
    run_full "pprof" $PP pprof -o mnt/old.pb.gz in.jsonl
    run_full "pprof --cpu" $PP pprof --cpu -o mnt/old.cpu.pb.gz in.jsonl
    run_full "check --junit" $PP check in.jsonl --max wall_s=100 --junit mnt/old.xml
    run_full "scale -o" $PP scale --values 1 --dir sc -o mnt/old.sc.svg -- /bin/true
    for o in $outs; do
        check "full disk: $o byte for byte as before" cmp -s mnt/$o saved.$o.txt
    done
    no_temp mnt "full disk" "$before"
    umount mnt
else
    echo "# skipped the full-disk checks: mount -t tmpfs needs root"
fi

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

# ---- SIGPIPE: killed quietly, status 141 (docs/cli.md, exit codes) --------------
# (the reader is gone before the command writes: its first write meets a
# pipe with no reader)
for c in "trace -o - in.jsonl" "report --sites in.jsonl" "report --cpu in.jsonl" "flame in.jsonl"; do
    $TO sh -c 'sleep 0.3; exec "$@"' sh $PP $c 2> err | true
    st=${PIPESTATUS[0]}
    eq "$c | (closed): killed by SIGPIPE (141)" "$st" 141
    eq "$c | (closed): nothing on stderr" "$(cat err)" ""
done
