# perfprobe scale: one traced run per value and repeat, {} replaced; every
# figure of its table is the mean of what `perfprobe report --json` says of
# that value's own timelines; region counts are what the program did;
# efficiency is throughput over the smallest value's; -o draws the graphs.
. "$PP_ROOT/tests/lib.sh"
P=$PP_BUILD/perfprobe

"$P" scale --values 20000,2000,100000 -n 2 --json --dir sc -- "$T/pic_scale" {} > s.json 2> s.err
eq "scale exits 0" $? 0
eq "values sorted, two runs each" "$(jq -c '[.values[] | [.value, .runs, (.files | length)]]' s.json)" \
    "[[2000,2,2],[20000,2,2],[100000,2,2]]"
eq "throughput is the top-level region's rate" "$(jq -r .throughput_of s.json)" item

# the ground truth for each value: report --json of its own two timelines
close='def close(a; b): ((a - b) | fabs) <= 1e-9 * ([(a | fabs), (b | fabs), 1] | max);'
for i in 0 1 2; do
    v=$(jq ".values[$i].value" s.json)
    for f in $(jq -r ".values[$i].files[]" s.json); do "$P" report --json "$f"; done > rep.$i.json
    eq "value $v: the program did $v items (region count)" \
        "$(jq -s '[.[] | .regions[] | select(.path == "item") | .count] | unique | .[]' rep.$i.json)" "$v"
    for key in wall_s peak_rss_bytes peak_heap_bytes; do
        eq "value $v: $key is the mean of report --json" \
            "$(jq -n --slurpfile r rep.$i.json --slurpfile s s.json "$close"' close($s[0].values['$i'].'$key'; [$r[] | .summary.'$key'] | add / length)')" true
    done
    eq "value $v: CPU % is (user + sys) / wall, averaged" \
        "$(jq -n --slurpfile r rep.$i.json --slurpfile s s.json "$close"' close($s[0].values['$i'].cpu_pct;
            [$r[] | .summary | (.cpu_user_s + .cpu_sys_s) / .wall_s * 100] | add / length)')" true
    for path in item item/parse; do
        for key in count p50_ns p95_ns p99_ns per_s; do
            eq "value $v: region $path $key is the mean of report --json" \
                "$(jq -n --slurpfile r rep.$i.json --slurpfile s s.json "$close"' close(
                    $s[0].values['$i'].regions[] | select(.path == "'$path'") | .'$key';
                    [$r[] | .regions[] | select(.path == "'$path'") | .'$key'] | add / length)')" true
        done
    done
    eq "value $v: throughput is region item's per_s" \
        "$(jq ".values[$i] | .throughput_per_s == (.regions[] | select(.path == \"item\") | .per_s)" s.json)" true
    le "value $v: the peak heap holds the 100 bytes an item keeps" $((v * 100)) \
        "$(jq ".values[$i].peak_heap_bytes | floor" s.json)"
done
eq "efficiency is throughput relative to the smallest value" \
    "$(jq "$close"' [.values[] | .throughput_per_s] as $t | [.values[] | .efficiency] as $e |
        [range(0; 3) as $i | close($e[$i]; $t[$i] / $t[0])] | all' s.json)" true

# the text table: a row per value, a table per region
"$P" scale --values 1000,3000 --dir sc2 -o s.svg -- "$T/pic_scale" {} > s.txt 2>/dev/null
eq "text: a row per value" "$(awk '$1 == 1000 || $1 == 3000' s.txt | wc -l)" 6
eq "text: a table per region" "$(grep -c '^region ' s.txt)" 2
$PY -c "
import sys, xml.etree.ElementTree as ET
r = ET.parse('s.svg').getroot()
print(','.join(e.get('id') for e in r.iter('{http://www.w3.org/2000/svg}svg') if e.get('class') == 'pp-chart'))" > ids
eq "-o: throughput, time, latency, efficiency and memory against size" "$(cat ids)" \
    "throughput,time,latency,efficiency,memory"

"$P" scale --values 1000,3000 --dir sc2 -o s.html -- "$T/pic_scale" {} > /dev/null 2>&1
bash "$PP_ROOT/tools/browser-check.sh" "file://$PWD/s.html#pp-selftest" html > html.check
eq "-o x.html: no console message or script error in Chromium" "$(sed -n 's/^console //p' html.check)" 0
check "-o x.html: the page's script ran to its end" grep -q 'id="pp-ready" data-charts="5"' html.dom

# no regions: values per second; {} inside an argument
"$P" scale --values 3,7 --json --dir sc3 -- sh -c 'test "$1" = "x3y" || test "$1" = "x7y"' sh 'x{}y' > n.json
eq "{} replaced inside an argument (the command checked it)" $? 0
eq "no regions: throughput is values per wall second" \
    "$(jq "$close"' [.values[] | close(.throughput_per_s; .value / .wall_s)] | all' n.json)" true
eq "and the wall time is the timeline's" \
    "$("$P" report --json "$(jq -r '.values[1].files[0]' n.json)" | jq .summary.wall_s)" \
    "$(jq '.values[1].wall_s' n.json)"

"$P" scale --values 1 --dir sc4 -- sh -c 'exit 3' 2> fail.err
eq "a failing run: exit 2" $? 2
check "and says which value" grep -q 'perfprobe: scale: value 1, run 1: the command exited with status 3' fail.err
"$P" scale --values 1,x -- true 2> bad.err; eq "a value that is not a number: exit 2" $? 2
"$P" scale -- true 2> bad.err; eq "no --values: exit 2" $? 2
