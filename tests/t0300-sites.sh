# Allocation sites against what tests/progs/sites_known did on purpose: with
# PERFPROBE_STACKS=all each site exact (bytes, blocks, function, file:line),
# including a site in a shared library, one in a plugin dlclose'd before
# exit, and one on a second thread; with `sample` the estimates within their
# statistical error; --between, the folded output and the JSON key.
. "$PP_ROOT/tests/lib.sh"
P=$PP_BUILD/perfprobe

# the shared library and the plugin, built here with debug information
cp "$PP_ROOT/tests/progs/sites_lib.c.in" siteslib.c
sed -e 's/lib_sink/plugin_sink/g; s/lib_alloc/plugin_alloc/; s/\[50\]/[20]/; s/i < 50/i < 20/; s/4000/8000/' \
    siteslib.c > sitesplug.c
cc -shared -fPIC -g -O1 -o libsiteslib.so siteslib.c
cc -shared -fPIC -g -O1 -o libsitesplug.so sitesplug.c
run_known() {   # OUT FACTS [VAR=VALUE...]
    local out=$1 facts=$2; shift 2
    env "$@" PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$out LD_PRELOAD=$S \
        "$T/sites_known" "$facts" "$PWD/libsiteslib.so" "$PWD/libsitesplug.so" ${BIG:+$BIG}
}
# site FILE FN FIELD: a field of the site whose innermost frame is FN
site() { jq -r --arg fn "$2" "[.sites[] | select(.frames[0].fn == \$fn)][0].$3" "$1"; }

# ---- all: exact ------------------------------------------------------------
run_known all.jsonl all.facts PERFPROBE_STACKS=all
"$P" report --json all.jsonl > all.json
eq "all: the sites key says exact" "$(jq '[.sites[].estimated] | unique' -c all.json)" "[false]"
# vla_site's frame has a run-time size: its caller is found through %rbp
for s in big many leak thread vla; do
    fn=${s}_site
    eq "all: $fn allocated bytes" "$(site all.json $fn alloc_bytes)" "$(fact all.facts ${s}_bytes)"
    eq "all: $fn allocations" "$(site all.json $fn allocs)" "$(fact all.facts ${s}_count)"
    eq "all: $fn source line" "$(site all.json $fn 'frames[0].line')" "$(fact all.facts ${s}_line)"
    eq "all: $fn source file" "$(site all.json $fn 'frames[0].file' | sed 's,.*/,,')" sites_known.c
    eq "all: $fn caller" "$(site all.json $fn 'frames[1].fn')" \
        "$([ $s = thread ] && echo start_thread || echo main)"
done
for s in lib plugin; do
    eq "all: ${s}_alloc allocated bytes" "$(site all.json ${s}_alloc alloc_bytes)" "$(fact all.facts ${s}_bytes)"
    eq "all: ${s}_alloc allocations" "$(site all.json ${s}_alloc allocs)" "$(fact all.facts ${s}_count)"
    eq "all: ${s}_alloc is in its module" "$(site all.json ${s}_alloc 'frames[0].module')" \
        "$PWD/libsites$([ $s = lib ] && echo lib || echo plug).so"
    eq "all: ${s}_alloc source file" "$(site all.json ${s}_alloc 'frames[0].file' | sed 's,.*/,,')" \
        "sites$([ $s = lib ] && echo lib || echo plug).c"
    eq "all: ${s}_alloc called from call_lib" "$(site all.json ${s}_alloc 'frames[1].fn')" call_lib
done
# leaks at exit: what was never freed
eq "all: leak_site leaked everything" "$(site all.json leak_site live_bytes)" "$(fact all.facts leak_bytes)"
eq "all: leak_site leaked blocks" "$(site all.json leak_site live_blocks)" 1000
eq "all: lib_alloc leaked everything" "$(site all.json lib_alloc live_bytes)" "$(fact all.facts lib_bytes)"
eq "all: plugin_alloc leaked everything (module unloaded)" "$(site all.json plugin_alloc live_bytes)" \
    "$(fact all.facts plugin_bytes)"
for s in big many thread; do
    eq "all: ${s}_site left nothing at exit" "$(site all.json ${s}_site live_bytes)" 0
done
# at the heap peak the big blocks were all live
eq "all: big_site live at the peak" "$(site all.json big_site peak_bytes)" "$(fact all.facts big_bytes)"
eq "all: the shim's own frames never show" \
    "$(jq '[.sites[].frames[].module // "" | select(test("libperfprobe"))] | length' all.json)" 0
# the plugin's build id, as readelf reads it from the file
eq "all: the plugin's module record has its build id" \
    "$(jq -r --arg p "$PWD/libsitesplug.so" 'select(.type == "module" and .path == $p) | .build_id' all.jsonl | head -1)" \
    "$(readelf -n libsitesplug.so | sed -n 's/.*Build ID: //p')"
eq "all: each stack record is written once" \
    "$(jq -r 'select(.type == "stack") | .id' all.jsonl | sort | uniq -d | wc -l)" 0
check "all: timeline is valid JSON Lines" valid_jsonl all.jsonl
# every allocation of this program (plain C, no JIT, no signal frame) is
# walked once, from remembered call-frame rules: libgcc never needed
exit_sites() { joined "$1" | jq -c 'select(.type == "sites" and .at == "exit")'; }
eq "all: a walk per allocation" "$(exit_sites all.jsonl | jq .walks)" \
    "$(jq 'select(.type == "summary") | .allocs + .reallocs' all.jsonl)"
eq "all: no walk left to libgcc" "$(exit_sites all.jsonl | jq .walks_libgcc)" 0

# report --sites names the sites; --between the one that grew
"$P" report --sites all.jsonl > sites.txt
check "report --sites lists leak_site with its line" \
    grep -q "leak_site (sites_known.c:$(fact all.facts leak_line))" sites.txt
check "report --sites lists the plugin's site" grep -q "plugin_alloc (sitesplug.c:" sites.txt
"$P" report --sites --between start loaded all.jsonl > between.txt
eq "report --sites --between: big_site grew most between start and loaded" \
    "$(sed -n '/growth/{n;p;q}' between.txt | grep -o big_site)" big_site
"$P" report --sites --between start nosuch all.jsonl 2> err.txt > /dev/null
eq "report --sites --between with an unknown probe: exit 2" "$?" 2

# folded stacks: one line per site, totals equal to the JSON figures
"$P" flame all.jsonl -o all.folded
eq "flame: allocated total matches report --json" \
    "$(awk '{ s += $NF } END { printf "%d", s }' all.folded)" \
    "$(jq '[.sites[].alloc_bytes] | add' all.json)"
check "flame: main;big_site is a stack" grep -q "main;big_site $(fact all.facts big_bytes)\$" all.folded
"$P" flame --by leaked all.jsonl -o leaked.folded
eq "flame --by leaked: total matches the live bytes at exit" \
    "$(awk '{ s += $NF } END { printf "%d", s }' leaked.folded)" \
    "$(jq '[.sites[].live_bytes] | add' all.json)"

# ---- sample: estimates ------------------------------------------------------
# With mean R bytes between samples, the number of samples in B bytes of
# small blocks is Poisson with mean B/R, and the relative standard error of
# the estimate is 1/sqrt(B/R).  many_site: B = 240,000,000; at R = 128 KiB
# that is 1831 samples, RSE 2.3%: 10% is over 4 standard errors.
run_known s.jsonl s.facts PERFPROBE_SAMPLE_BYTES=128K PERFPROBE_SEED=7
"$P" report --json s.jsonl > s.json
eq "sample: the sites key says estimated" "$(site s.json many_site estimated)" true
within "sample: many_site allocated bytes (1831 samples expected)" \
    "$(site s.json many_site alloc_bytes)" "$(fact s.facts many_bytes)" 10
within "sample: many_site allocations" "$(site s.json many_site allocs)" 2000000 10
# blocks of 1 MiB are sampled with probability 1 - exp(-8): nearly exact
within "sample: big_site allocated bytes" "$(site s.json big_site alloc_bytes)" "$(fact s.facts big_bytes)" 10
check "sample: an error bar on every site" \
    jq -e '[.sites[] | select(.samples > 0) | .rse_alloc > 0] | all' s.json
# unbiased: over 20 seeds at the default R = 512K (458 samples a run, RSE
# 4.7%) the mean estimate has an RSE of 1.05%: within 5% of the truth
for seed in $(seq 101 120); do
    run_known u.jsonl u.facts PERFPROBE_SEED=$seed
    "$P" report --json u.jsonl | jq -r '[.sites[] | select(.frames[0].fn == "many_site")][0].alloc_bytes'
done > estimates
eq "sample: 20 estimates" "$(grep -c '^[0-9]' estimates)" 20
within "sample: the mean of 20 estimates is unbiased" \
    "$(awk '{ s += $1 } END { printf "%d", s / NR }' estimates)" "$(fact u.facts many_bytes)" 5
eq "sample: different seeds give different estimates" "$(sort -u estimates | wc -l | awk '{ print ($1 > 10) }')" 1

# ---- off ----------------------------------------------------------------------
run_known off.jsonl off.facts PERFPROBE_STACKS=off 2> off.err
eq "off: the sampler thread did not allocate" \
    "$(grep -c 'the sampler thread called the allocator' off.err)" 0
eq "off: no stack or sites records" "$(grep -c '"type":"s\(tack\|ites\)"' off.jsonl)" 0

# ---- diff: sites matched by their symbolised stacks across two runs ---------
BIG=48 run_known big.jsonl big.facts PERFPROBE_STACKS=all
"$P" diff --json all.jsonl big.jsonl > diff.json
eq "diff: big_site's allocated bytes in both runs" \
    "$(jq -r '.rows[] | select(.figure | test("^site\\.big_site .*\\.alloc_bytes$")) | "\(.a) \(.b) \(.marked)"' diff.json)" \
    "$(fact all.facts big_bytes) $(fact big.facts big_bytes) true"
eq "diff: leak_site unchanged" \
    "$(jq -r '.rows[] | select(.figure | test("^site\\.leak_site .*\\.live_bytes$")) | "\(.change) \(.marked)"' diff.json)" \
    "0 false"
"$P" diff all.jsonl big.jsonl > diff.txt
check "diff: the text names big_site as changed" grep -q '^!.*+50.0%  big_site (sites_known.c:' diff.txt

# ---- bounded records: PERFPROBE_TOP --------------------------------------------
run_known top.jsonl top.facts PERFPROBE_STACKS=all PERFPROBE_TOP=2
eq "PERFPROBE_TOP=2: at most 2 by live and 2 by allocated bytes in a record" \
    "$(jq -s '[.[] | select(.type == "sites") | .rows | length] | max <= 4' top.jsonl)" true
"$P" report --json top.jsonl > top.json
eq "PERFPROBE_TOP=2: the two biggest allocators are the rows at exit" \
    "$(jq -r '[.sites[] | select(.alloc_bytes > 10000000) | .frames[0].fn] | sort | join(" ")' top.json)" \
    "big_site many_site"
eq "PERFPROBE_TOP=2: the biggest leak is a row at exit" \
    "$(jq -r '[.sites[] | select(.live_bytes > 0)] | max_by(.live_bytes) | .frames[0].fn' top.json)" leak_site
"$P" flame top.jsonl -o top.folded
eq "PERFPROBE_TOP=2: the rest row keeps the totals (folded total = all-mode total)" \
    "$(awk '{ s += $NF } END { printf "%d", s }' top.folded)" \
    "$(jqj -s '[.[] | select(.type == "sites" and .at == "exit")][0] | ([.rows[].alloc_bytes] | add) + .rest.alloc_bytes' top.jsonl)"
