# perfprobe plot: the SVG is well-formed XML with the series, probes and
# peaks the timeline holds (read back from the drawing's own coordinates);
# the HTML is self-contained and runs in a real browser (Debian's chromium,
# headless) without a script error, with its charts in the DOM, hover and
# zoom working, and a screenshot that is not blank; a 10-minute timeline
# (60,000 samples) gives files under 5 MB.
. "$PP_ROOT/tests/lib.sh"
P=$PP_BUILD/perfprobe
M=$((1024 * 1024))

traced pm.jsonl "$T/pic_mem" pm.facts
eq "test program ran" $? 0

# An independent reader of the SVG: Python's XML parser.  Prints
# "key value" lines: the charts, the series of the memory chart, probe
# labels, peak labels, and the highest RSS the drawing shows, converted
# back from pixels with the chart's own axis range.
cat > svgfacts.py <<'PY'
import sys, re, xml.etree.ElementTree as ET
NS = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
charts = [e for e in root.iter(NS + "svg") if "pp-chart" in (e.get("class") or "").split()] or \
         ([root] if root.get("class") == "pp-chart" else [])
print("charts", ",".join(c.get("id") for c in charts))
for c in charts:
    fr = next((g for g in c.iter(NS + "g") if g.get("class") == "pp-frame"), None)
    for p in c.iter(NS + "path"):
        if "pp-series" in (p.get("class") or ""):
            print("series", c.get("id"), p.get("data-name").replace(" ", "_"))
    for t in c.iter(NS + "text"):
        if t.get("class") == "pp-probe-label":
            print("probe", c.get("id"), t.text)
    for g in c.iter(NS + "g"):
        if g.get("class") == "pp-peak":
            print("peak", c.get("id"), next(g.iter(NS + "text")).text.replace(" ", "_"))
    if c.get("id") == "memory":
        y0, y1 = float(fr.get("data-y0")), float(fr.get("data-y1"))
        py, ph = float(fr.get("data-py")), float(fr.get("data-ph"))
        for p in c.iter(NS + "path"):
            if p.get("data-name") == "RSS":
                ys = [float(v) for v in re.findall(r"[-0-9.]+", p.get("d"))[1::2]]
                print("rss_max_drawn", round(y0 + (py + ph - min(ys)) / ph * (y1 - y0)))
PY
# "73.4 MiB" as the charts write it: 3 significant digits, zeros trimmed
mib() { awk -v b="$1" 'BEGIN { v = b / 1048576; p = v >= 100 ? 0 : v >= 10 ? 1 : 2;
        s = sprintf("%." p "f", v); if (p) { sub(/0+$/, "", s); sub(/\.$/, "", s) } print s "_MiB" }'; }

"$P" plot pm.jsonl -o pm.svg
eq "plot -o x.svg exits 0" $? 0
$PY svgfacts.py pm.svg > pm.facts.svg
eq "the SVG is well-formed XML (Python's parser)" $? 0
# what the timeline holds decides the charts: window records give latency
# over time, sites records give the flame graphs
has() { jq -s "any(.[]; $1)" pm.jsonl; }
want=memory,cpu,faults,counter-0
[ "$(has '.type == "regions"')" = true ] && want=$want,latency-0
want=$want,region-0
[ "$(has '.type == "sites"')" = true ] && want=$want,flame-peak,flame-alloc
# CPU samples (on by default where the kernel allows) give the CPU flame graph
[ "$(has '.type == "cpu" and ((.samples // .ticks) | length) > 0')" = true ] && want=$want,flame-cpu
eq "charts: memory, CPU, faults, the counter, the region (and what the file has)" \
    "$(sed -n 's/^charts //p' pm.facts.svg)" "$want"
for s in RSS live_heap heap_part file_part; do
    eq "memory chart has the series $s" "$(grep -c "^series memory $s\$" pm.facts.svg)" 1
done
eq "counter chart is the program's counter" "$(grep -c '^series counter-0 items$' pm.facts.svg)" 1
eq "probe labels are the timeline's, in order" \
    "$(awk '$1 == "probe" && $2 == "memory" { print $3 }' pm.facts.svg | paste -sd,)" \
    "$(jq -r 'select(.type == "probe") | .label' pm.jsonl | paste -sd,)"
maxrss=$(jq -s '[.[] | select(.type == "sample") | .rss] | max' pm.jsonl)
within "the RSS line's highest point, read back from pixels, is the highest sampled RSS" \
    "$(sed -n 's/^rss_max_drawn //p' pm.facts.svg)" "$maxrss" 1
peak=$(jq -s --argjson m "$maxrss" '[.[] | select(.type == "summary") | .peak_rss_bytes, $m] | max' pm.jsonl)
eq "the peak RSS label is the summary's peak" \
    "$(awk '$1 == "peak" && $3 ~ /RSS/ { print $3 }' pm.facts.svg)" "peak_RSS_$(mib "$peak")"
eq "the peak heap label is the summary's peak heap" \
    "$(awk '$1 == "peak" && $3 ~ /heap/ { print $3 }' pm.facts.svg)" \
    "peak_heap_$(mib "$(summary pm.jsonl peak_heap_bytes)")"
le "the program's 48 MiB is under the peak heap" "$(fact pm.facts held)" "$(summary pm.jsonl peak_heap_bytes)"

# Region histograms and allocation sites, drawn when the timeline has them
# (per-window region records with "hist"; sites records)
if [ "$(has '.type == "regions" and any(.regions[]; .path == "work" and has("hist"))')" = true ]; then
    eq "the region chart is a histogram of the 200 occurrences" \
        "$(grep -o 'Region work: latency histogram, 200 occurrences' pm.svg | head -1)" \
        "Region work: latency histogram, 200 occurrences"
    $PY - > bars <<'PY'
import re, xml.etree.ElementTree as ET
NS = "{http://www.w3.org/2000/svg}"
for c in ET.parse("pm.svg").getroot().iter(NS + "svg"):
    if c.get("id") == "region-0":
        for p in c.iter(NS + "path"):
            if "pp-bar" in (p.get("class") or ""):
                print(p.get("d").count("M"))
PY
    eq "one bar per non-empty bucket of the windows' histograms" "$(cat bars)" \
        "$(jq -s '[.[] | select(.type == "regions") | .regions[] | select(.path == "work") | .hist.b |
                   [range(0; length; 2) as $i | {b: .[$i], n: .[$i + 1]}] | .[]] |
                  group_by(.b) | map(select(map(.n) | add > 0)) | length' pm.jsonl)"
else
    eq "no histogram in the timeline: the percentile bars" \
        "$(grep -c 'Region work: latency distribution' pm.svg)" 1
fi
if [ "$(has '.type == "sites"')" = true ]; then
    "$P" report --json pm.jsonl > pm.report.json
    for k in peak alloc; do
        key=$([ $k = peak ] && echo peak_bytes || echo alloc_bytes)
        total=$(jq "[.sites[] | .$key] | add" pm.report.json)
        eq "flame graph of $key is drawn" \
            "$(grep -o "<svg class=\"pp-chart pp-flame\" id=\"flame-$k\"" pm.svg | wc -l)" 1
        check "its total is report --json's sum over the sites, $(mib "$total" | tr _ ' ')" \
            grep -q "bytes\?[^<]*: $(mib "$total" | tr _ ' ')</text>" pm.svg
    done
else
    eq "no sites in the timeline: no flame graph" "$(grep -c 'pp-flame' pm.svg)" 0
fi

# HTML: one file, nothing fetched
"$P" plot pm.jsonl -o pm.html
eq "plot -o x.html exits 0" $? 0
eq "the page loads nothing: no src= or href=" "$(grep -cE '(src|href)=' pm.html)" 0
eq "the only URL is the SVG namespace" \
    "$(grep -oE "https?://[^\"' ]*" pm.html | sort -u | paste -sd,)" "http://www.w3.org/2000/svg"

# In a real browser.  #pp-selftest makes the page drive a drag (25% to 75%
# of the memory chart) and a hover with synthetic mouse events.
bash "$PP_ROOT/tools/browser-check.sh" "file://$PWD/pm.html#pp-selftest" html > html.check
rc=$?
eq "chromium rendered the page" $rc 0
eq "no console message or script error" "$(sed -n 's/^console //p' html.check)" 0
# the attributes of #pp-ready, read with Python's HTML parser
cat > ready.py <<'PY'
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id") == "pp-ready":
            for k in ("data-charts", "data-zoom", "data-tip"):
                print(k[5:], (a.get(k) or "").replace("\n", "|"))
P().feed(open(sys.argv[1]).read())
PY
$PY ready.py html.dom > ready
check "the script ran to its end (#pp-ready in the DOM)" grep -q '^charts ' ready
eq "the script found every chart" "$(sed -n 's/^charts //p' ready)" \
    "$(grep -o 'class="pp-chart"' pm.html | wc -l)"
for id in memory cpu faults counter-0 region-0; do
    eq "chart #$id is in the DOM after the scripts ran" "$(grep -c "<svg class=\"pp-chart\" id=\"$id\"" html.dom)" 1
done
x1=$(grep -o 'data-x1="[^"]*"' pm.html | head -1 | sed 's/.*="\(.*\)"/\1/')
zoom=$(sed -n 's/^zoom //p' ready)
within "drag from 25% zooms from 25% of the run" "$(echo $zoom | cut -d' ' -f1)" \
    "$(awk -v x="$x1" 'BEGIN { print x / 4 }')" 1
within "to 75% of the run" "$(echo $zoom | cut -d' ' -f2)" "$(awk -v x="$x1" 'BEGIN { print x * 3 / 4 }')" 1
# the data are stretched by the zoom's factor: 2 for half the run (within
# the 1% the drag's pixel positions allow, as above)
within "the time axis was redrawn for the zoomed span (stretched twice)" \
    "$(grep -o 'class="pp-data" transform="matrix([0-9.e+-]*' html.dom | head -1 | sed 's/.*matrix(//')" 2 1
check "hover shows the RSS at the pointer" grep -qE '^tip .*\|RSS: [0-9.]+ ([KMG]i)?B' ready
le "the screenshot is not blank (distinct colours)" 20 "$(sed -n 's/^colours //p' html.check)"

bash "$PP_ROOT/tools/browser-check.sh" "file://$PWD/pm.svg" svg > svg.check
eq "the SVG renders without a console message" "$(sed -n 's/^console //p' svg.check)" 0
eq "its charts are in the DOM" "$(grep -o 'class="pp-chart' svg.dom | wc -l)" "$(grep -o 'class="pp-chart' pm.svg | wc -l)"
le "its screenshot is not blank" 20 "$(sed -n 's/^colours //p' svg.check)"

# A 10-minute run at the default interval: 60,000 samples, regions windows.
$PY "$PP_ROOT/tests/progs/pic_synth.py" 60000 long.jsonl
"$P" plot long.jsonl -o long.svg && "$P" plot long.jsonl -o long.html
eq "plot of 60,000 samples exits 0" $? 0
le "the SVG of 10 minutes is under 5 MB" "$(stat -c %s long.svg)" 5000000
le "the HTML of 10 minutes is under 5 MB" "$(stat -c %s long.html)" 5000000
$PY svgfacts.py long.svg > long.facts
eq "10 minutes: charts with latency over time per region" "$(sed -n 's/^charts //p' long.facts)" \
    "memory,cpu,faults,counter-0,latency-0,latency-1,region-0"
eq "latency charts draw p50 and p99" "$(grep -c '^series latency-0 p\(50\|99\)$' long.facts)" 2
eq "10 probes, labelled" "$(awk '$1 == "probe" { print $3 $4 }' long.facts | paste -sd,)" \
    "$(seq -f 'step%g' 0 9 | paste -sd,)"
within "10 minutes: the single peak survives downsampling" \
    "$(sed -n 's/^rss_max_drawn //p' long.facts)" "$(jq -s '[.[] | select(.type == "sample") | .rss] | max' long.jsonl)" 1

# Overlay: two processes, one RSS line each, named by program and pid
traced pm2.jsonl "$T/pic_mem" pm2.facts
"$P" plot pm.jsonl pm2.jsonl -o two.svg
$PY svgfacts.py two.svg > two.facts
for f in pm.jsonl pm2.jsonl; do
    eq "overlay has the RSS of pid $(jq -r 'select(.type == "header") | .pid' $f)" \
        "$(grep -c "^series memory pic_mem_$(jq -r 'select(.type == "header") | .pid' $f)\$" two.facts)" 1
done

# A killed run (no summary) still draws; bad input is one line and exit 2
head -n 20 pm.jsonl > killed.jsonl
"$P" plot killed.jsonl -o killed.svg
eq "a killed run's timeline draws" $? 0
"$P" plot pm.jsonl 2> err1; eq "no -o: exit 2" $? 2
"$P" plot pm.jsonl -o x.png 2> err2; eq "-o x.png: exit 2" $? 2
eq "and says why in one line" "$(cat err2)" "perfprobe: plot: x.png: the output must end in .html or .svg"
"$P" plot nosuch.jsonl -o x.svg 2> err3; eq "missing file: exit 2" $? 2
check "missing file: says perfprobe: and the file" grep -q '^perfprobe: nosuch.jsonl' err3
