# The sampler thread and the loader's lock (design.md "The loader's lock"):
# a single-threaded program that dlopens and dlcloses a library 2,000 times
# while the sampler samples every millisecond and writes peak views as the
# heap climbs.  The sampler used to walk the loader's list (dl_iterate_phdr)
# while glibc, told the process is single-threaded, freed the loader's lock
# with a plain store and no wake: 45 runs in 50 hung for good.  Each run
# must end, with its probe and its peak views: with CPU sampling off, and
# at 1,000 samples a second, whose stack walks read the call-frame tables
# of libraries unloaded meanwhile through the kernel (t0980).
. "$PP_ROOT/tests/lib.sh"

cp "$PP_ROOT/tests/progs/sites_lib.c.in" churnlib.c
cc -shared -fPIC -O1 -o libchurn.so churnlib.c
for cpu in off 1000; do
ended=0 probes=0 peaks=0 kept=0 cpus=0
for i in $(seq 1 20); do
    rm -f c.jsonl
    env PERFPROBE_INTERVAL_MS=1 PERFPROBE_CPU=$cpu PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=c.jsonl \
        LD_PRELOAD=$S timeout 60 "$T/dlchurn" c.facts "$PWD/libchurn.so" 2000
    [ $? = 0 ] && ended=$((ended + 1))
    [ "$(jq -r 'select(.type == "probe") | .label' c.jsonl 2>/dev/null)" = end ] && probes=$((probes + 1))
    [ "$(jq -c 'select(.type == "sites" and .at == "peak")' c.jsonl 2>/dev/null | wc -l)" -gt 0 ] &&
        peaks=$((peaks + 1))
    [ "$(fact c.facts kept)" = $((2000 * 65536)) ] && kept=$((kept + 1))
    [ "$(jq -c 'select(.type == "cpu")' c.jsonl 2>/dev/null | wc -l)" -gt 0 ] && cpus=$((cpus + 1))
done
eq "CPU $cpu: 20 runs of 2,000 dlopen/dlclose each ended with status 0" "$ended" 20
eq "CPU $cpu: each wrote its probe" "$probes" 20
eq "CPU $cpu: each wrote peak views" "$peaks" 20
eq "CPU $cpu: each kept what it allocated on purpose" "$kept" 20
if [ "$cpu" = off ]; then
    eq "CPU off: no CPU records" "$cpus" 0
elif [ -n "$(jq -r 'select(.type == "cpu_info" and .off) | .off' c.jsonl)" ]; then
    echo "# skip: CPU $cpu: the kernel refuses perf events here ($(jq -r 'select(.type == "cpu_info") | .off' c.jsonl))"
else
    eq "CPU $cpu: each wrote CPU records" "$cpus" 20
fi
done
