# Records longer than a page (docs/format.md, "Records longer than a
# page"): a kill cuts a write only between pages, so a record longer than
# one is written in parts of a page or less each ("more" records with the
# last items of its longest list, then the record with the first), and the page layout
# (t0966) keeps each part within its page.  tests/progs/long_records makes
# such records on purpose: 60 allocation sites with their blocks live (a
# sites view of 60 rows and more), 40 regions (a summary and region windows
# of 40 regions), a probe label of 4,000 bytes of ASCII, two-byte UTF-8
# and tabs (escaped, over a page: the label is cut to keep the probe one
# record), and a command line of 6 KiB (the header keeps what fits a page:
# argv_cut).  Checked: every line is JSON and lies within a page, headers
# included, and each record in parts comes right after its "more" records; the
# parts, joined by the jq filter docs/format.md gives (an independent
# reader), hold what the program did: every site's live bytes as it wrote
# them (malloc_usable_size), the 40 regions by name and count, and the
# header's argv as the program got it up to the cut, as the labels are;
# perfprobe's reader joins them the same.  Then the file cut at each page
# boundary, as a kill inside a write would leave it: whole lines only, read
# with no damaged line.  Last, the program killed by SIGKILL at random
# moments: every line of what it left is JSON and within a page.
. "$PP_ROOT/tests/lib.sh"
P=$PP_BUILD/perfprobe
long_args=$($PY -c "print(' '.join('%02d' % i + 'x' * 98 for i in range(60)))")

cat > lines.py <<'PYEOF'
import json, sys
path, name = sys.argv[1], sys.argv[2]
def check(desc, cond, got=''):
    print(('ok - ' if cond else 'FAIL - ') + name + ': ' + desc + (' (%s)' % got if got != '' else ''))
data = open(path, 'rb').read()
off = bad = crossing = 0
sets, broken, wait = {}, 0, {}     # wait: pid -> the more records before their record
lines = data.split(b'\n')
for l in lines[:-1] + ([lines[-1]] if lines[-1] else []):
    n = len(l) + 1
    try:
        r = json.loads(l)
    except Exception:
        r = None
    bad += not isinstance(r, dict)
    crossing += off // 4096 != (off + n - 1) // 4096
    off += n
    if not isinstance(r, dict) or r.get('type') == 'pad':
        continue
    if r['type'] == 'more':
        wait.setdefault(r['pid'], []).append(r)
        continue
    more = wait.pop(r['pid'], [])
    if 'in_parts' in r:
        # its more records just before it: parts 2 to in_parts, of its type, one key
        k = more[0]['key'] if more else None
        ok = len(more) == r['in_parts'] - 1 and k in r and all(
            m['of'] == r['type'] and m['key'] == k and m['part'] == i + 2 and
            m['in_parts'] == r['in_parts'] and k in m for i, m in enumerate(more))
        broken += not ok
        if ok:
            sets[(r['type'], k)] = sets.get((r['type'], k), 0) + 1
    else:
        broken += len(more) > 0
check('every line is a JSON object for Python json.loads, the last too', bad == 0,
      '%d lines' % len(lines))
check('no line crosses a page, headers and parts included', crossing == 0, '%d' % crossing)
if len(sys.argv) > 3:
    check('each record in parts comes right after its "more" records, 2 to in_parts, among its pid\'s',
          broken == 0 and not wait, '%d broken, %d open' % (broken, len(wait)))
    for want in sys.argv[3:]:
        t, k = want.split('/')
        check('%s records with their %s in parts' % (t, k), sets.get((t, k), 0) > 0,
              '%d' % sets.get((t, k), 0))
PYEOF

PERFPROBE_STACKS=all PERFPROBE_STACK_DEPTH=256 PERFPROBE_INTERVAL_MS=1 PERFPROBE_QUIET=1 \
    PERFPROBE_OUTPUT=long.jsonl timeout 120 env LD_PRELOAD="$S" "$T/long_records" facts 2 $long_args > long.out
eq "long_records exits 0" $? 0
eq "long_records wrote its facts" "$(fact facts regions)" 40
$PY lines.py long.jsonl written sites/rows summary/regions regions/regions
joined long.jsonl > joined.jsonl        # (tests/lib.sh: the filter of docs/format.md)
eq "the jq join leaves no \"more\" record and no in_parts" \
    "$(jq -s '[.[] | select(.type == "more" or .in_parts)] | length' joined.jsonl)" 0
eq "a record in parts is counted once: one summary" "$(jq -c 'select(.type == "summary") | .pid' long.jsonl | wc -l)" 1

# the header: one line, a page at most, argv as the program got it up to the cut
jq -c 'select(.type == "header")' joined.jsonl > header.json
eq "one header" "$(wc -l < header.json)" 1
check "the header fits a page" test "$(wc -c < header.json)" -le 4096
eq "the header says argv was cut" "$(jq .argv_cut header.json)" true
$PY - "$long_args" <<'PYEOF'
import json, sys
want = sys.argv[1].split(' ')
h = json.load(open('header.json'))
a = h['argv'][3:]
ok = h['argv'][1:3] == ['facts', '2'] and 10 < len(a) < 60 and a[:-1] == want[:len(a) - 1] \
    and want[len(a) - 1].startswith(a[-1])
print(('ok' if ok else 'FAIL') + ' - the header argv: the program\'s arguments in order, the last one kept cut short (%d of 60)' % len(a))
PYEOF

# the summary: the 40 regions by name, each entered 6 times
eq "the summary's 40 regions, each entered 3 times a round, read by the jq join" \
    "$(jq -s -c '[.[] | select(.type == "summary") | .regions[] | select(.name | startswith("region_")) | [.name, .count]] | [length, (map(.[1]) | unique)]' joined.jsonl)" \
    '[40,[6]]'
eq "the region names are the program's" \
    "$(jq -r 'select(.type == "summary") | .regions[].name' joined.jsonl | grep -c '^region_[0-3][0-9]_of_the_long_summary_record$')" 40
eq "every region window holds the 40 regions" \
    "$(jq -s -c '[.[] | select(.type == "regions") | [.regions[] | select(.name | startswith("region_"))] | length] | unique' joined.jsonl)" '[40]'

# the long probe label: one record, cut to fit its page, the program's own bytes
$PY - <<'PYEOF'
import json
want = open('facts.label', 'rb').read().decode('utf-8')
labels = [r.get('label') for r in map(json.loads, open('joined.jsonl')) if r['type'] == 'probe']
long_ones = [x for x in labels if x and x != 'round']
ok = len(want) > 3000 and len(long_ones) == 2 and all(len(x) > 1500 and want.startswith(x) for x in long_ones)
print(('ok' if ok else 'FAIL') + ' - both long probe labels are the start of the program\'s, byte for byte (%s of %d characters)'
      % ([len(x) for x in long_ones], len(want)))
PYEOF

# the sites: each of the 60 live blocks as the program measured it
$PY - <<'PYEOF'
import json
facts = dict(l.split() for l in open('facts'))
want = sorted(int(facts['size_%d' % d]) for d in range(1, 61))
exits = [json.loads(l) for l in open('joined.jsonl') if '"sites"' in l]
exits = [r for r in exits if r.get('type') == 'sites' and r.get('at') == 'exit']
live = sorted(r['live_bytes'] for r in exits[0]['rows']) if exits else []
ok = len(exits) == 1 and all(w in live for w in want) and 'rest' in exits[0]
print(('ok' if ok else 'FAIL') + ' - the exit sites view, joined: the 60 sites\' live bytes as the program measured them (%d rows)' % len(live))
PYEOF

# perfprobe's reader joins them the same
"$P" report --json long.jsonl > report.json 2> report.err
eq "report reads it" $? 0
eq "report: no damaged line" "$(grep -ci damaged report.err)" 0
eq "report: the 40 regions" "$(jq '[.regions[] | select(.name | startswith("region_"))] | length' report.json)" 40
eq "report: the long labels as the jq join has them" \
    "$(jq -c '[.probes[].label | select(. != "round")]' report.json | md5sum)" \
    "$(jq -s -c '[.[] | select(.type == "probe") | .label | select(. != "round")]' joined.jsonl | md5sum)"
"$P" report --sites long.jsonl > sites.txt 2>&1
eq "report --sites reads the joined view" $? 0
check "report --sites shows the program's site" grep -q 'site (long_records.c' sites.txt

# ---- cut at every page boundary ------------------------------------------
# What a kill inside a write leaves (t0966: the kernel cuts only between
# pages), at each page boundary of the file in turn: whole lines only,
# every one JSON, and perfprobe reads each cut file with no damaged line.
$PY - long.jsonl <<'PYEOF'
import json, sys
data = open(sys.argv[1], 'rb').read()
bad = inside = 0
cuts = list(range(4096, len(data), 4096))
for c in cuts:
    lines = data[:c].split(b'\n')
    for l in lines:
        if l:
            try:
                json.loads(l)
            except Exception:
                bad += 1
    inside += lines[-1] != b''
    open('cut.%d.jsonl' % (c // 4096), 'wb').write(data[:c])
ok = len(cuts) > 10 and bad == 0 and inside == 0
print(('ok' if ok else 'FAIL') + ' - cut at each of %d page boundaries: no record is cut, every line is JSON (%d not, %d cuts inside a line)' % (len(cuts), bad, inside))
PYEOF
damaged=0 failed=0
for c in cut.*.jsonl; do
    "$P" report --json "$c" > cut.json 2> cut.err || failed=$((failed + 1))
    grep -qi damaged cut.err && damaged=$((damaged + 1))
done
eq "perfprobe reads every cut file" $failed 0
eq "perfprobe finds no damaged line in any cut file" $damaged 0
rm -f cut.*.jsonl

# ---- killed while it writes them ------------------------------------------
ok_runs=0
for k in $(seq 1 10); do
    rm -f killed.jsonl
    PERFPROBE_STACKS=all PERFPROBE_STACK_DEPTH=256 PERFPROBE_INTERVAL_MS=1 PERFPROBE_QUIET=1 \
        PERFPROBE_OUTPUT=killed.jsonl timeout -s KILL "0.$((RANDOM % 4 + 1))$((RANDOM % 10))" \
        env LD_PRELOAD="$S" "$T/long_records" kfacts 0 $long_args > /dev/null
    [ $? = 137 ] || fail "killed $k: long_records was not killed by SIGKILL"
    $PY lines.py killed.jsonl "killed $k" > killed.txt
    "$P" report --json killed.jsonl > /dev/null 2> killed.err
    rc=$?
    if ! grep -q FAIL killed.txt && [ $rc = 0 ] && ! grep -qi damaged killed.err; then
        ok_runs=$((ok_runs + 1))
    else
        cat killed.txt killed.err
        cp killed.jsonl "killed.$k.jsonl"
    fi
done
eq "killed by SIGKILL at random 10 times: every line JSON and within a page, read with no damaged line" $ok_runs 10
