# A process of a tree killed inside its write(2) leaves a record cut short
# with no newline; the next record another process writes is glued after
# it on the same line.  tests/progs/glue makes five such cuts on purpose
# under `perfprobe run` (children write part of a record and SIGKILL
# themselves; then the next child's header, or a record of known content,
# follows), copies the file as it is before run mends it (what a bare
# LD_PRELOAD run leaves), and with "tail" ends on a cut record with no
# newline.  Checked against the program's facts (pids, offsets, lengths):
# every complete line of the mended file is JSON (jq, Python's json line by
# line), the size is kept, each glued record is whole on its own line, each
# cut record's bytes is the length cut, no byte outside the damaged lines
# changed, the unterminated tail is untouched, and `report` reads the same
# from the unmended copy as from the mended file.  The one cut followed by a
# record the shim wrote (cut_a, then a child's header) is mended by the shim
# itself, before `run`: the copy holds it mended.  Then tests/progs/glue_probe
# under a bare LD_PRELOAD (no `run` to mend after): every cut a killed child
# leaves before a record of the shim's is mended by the shim, so that jq and
# Python read every line.
. "$PP_ROOT/tests/lib.sh"
P=$PP_BUILD/perfprobe

# check.py FILE COPY FACTS: one "ok"/"FAIL" line per check
cat > check.py <<'EOF'
import json, sys
path, copy, factsf = sys.argv[1:4]
data = open(path, 'rb').read()
orig = open(copy, 'rb').read()
facts = {}
for l in open(factsf):
    k, v = l.split()
    facts[k] = int(v)
def check(desc, cond, got=''):
    print(('ok - ' if cond else 'FAIL - ') + desc + (' (%s)' % got if got != '' else ''))
def loads(b):
    try:
        return json.loads(b.decode())
    except Exception:
        return None
def line_at(buf, at):            # the line starting at AT, newline included
    end = buf.index(b'\n', at)
    return buf[at:end + 1]
def record_at(buf, at):          # the record starting at AT, past pad records
    while True:                  # (a pad fills a page's end before a record)
        l = line_at(buf, at)
        r = loads(l)
        if not (isinstance(r, dict) and r.get('type') == 'pad'):
            return r
        at += len(l)
pid = facts['pid']
expect = {k: ('{"type":"sample","pid":%d,"t_s":%s,"rss":%d,"heap":%d}\n' % (pid, t, r, h)).encode()
          for k, t, r, h in [('glued_1', '0.25', 52428800, 1048576),
                             ('glued_2', '0.375', 41943040, 2097152),
                             ('glued_3', '0.5', 31457280, 3145728)]}
check('the file keeps its size', len(data) == len(orig), len(data))
tail = facts.get('tail_at')
body = data[:tail] if tail is not None else data
lines = body.split(b'\n')
check('the mended file ends with a newline before any tail', lines[-1] == b'')
bad = [i + 1 for i, l in enumerate(lines[:-1]) if not isinstance(loads(l + b'\n'), dict)]
check('every complete line is a JSON object for Python json.loads, none blank', bad == [],
      '%d lines' % (len(lines) - 1))
# the cut with its pid, then the next child's header on its own line
a = facts['cut_a_at']; n = facts['cut_a_len']
rec = data[a:a + n]
check('cut_a: a cut record of the cut bytes, in their place', loads(rec) ==
      {'type': 'cut', 'pid': facts['cut_a_pid'], 'bytes': n} and rec.endswith(b'\n'), rec.strip().decode())
h = record_at(data, a + n)
check('cut_a: the glued header stands on its own line', h and h.get('type') == 'header' and
      h.get('pid') == facts['b_pid'], h and h.get('pid'))
# four bytes: spaces before the record glued to them
c = facts['cut_c_at']
check('cut_c: too short for a cut record: spaces', data[c:c + 4] == b'    ')
check('glued_1: whole, after the spaces, on its own line',
      line_at(data, c) == b'    ' + expect['glued_1'] and data[c - 1:c] == b'\n')
d = facts['cut_d_at']; n = facts['cut_d_len']
rec = data[d:d + n]
check('cut_d: cut inside its pid: a cut record without one', loads(rec) ==
      {'type': 'cut', 'bytes': n} and rec.endswith(b'\n'), rec.strip().decode())
check('glued_2: whole on its own line', line_at(data, d + n) == expect['glued_2'])
e = facts['cut_e_at']; n = facts['cut_e_len']
rec = line_at(data, e)
check('cut_e: a cut line alone: a cut record before its newline', len(rec) == n + 1 and
      loads(rec) == {'type': 'cut', 'pid': facts['cut_e_pid'], 'bytes': n}, rec.strip().decode())
f = facts['cut_f_at']
check('cut_f: three bytes and their newline: spaces before the next line',
      data[f:f + 4] == b'    ' and line_at(data, f) == b'    ' + expect['glued_3'])
# no byte changed outside the damaged lines of the copy
ranges, at = [], 0
while True:
    end = orig.find(b'\n', at)
    if end < 0:
        break
    if not isinstance(loads(orig[at:end + 1]), dict):
        ranges.append((at, end + 1))
    at = end + 1
diff = [i for i in range(len(orig)) if data[i] != orig[i]]
outside = [i for i in diff if not any(lo <= i < hi for lo, hi in ranges)]
check('bytes rewritten only inside the damaged lines of the copy',
      diff and not outside, '%d bytes in %d lines' % (len(diff), len(ranges)))
check('the copy had four damaged lines (cut_a was mended by the shim that wrote the header after it)',
      len(ranges) == 4, len(ranges))
a = facts['cut_a_at']; n = facts['cut_a_len']
check('cut_a in the copy: already the cut record, by the shim', orig[a:a + n] == data[a:a + n])
if tail is not None:
    check('the unterminated tail is untouched', data[tail:] == orig[tail:] and
          len(data) - tail == facts['tail_len'] and not data.endswith(b'\n'), data[tail:].decode())
EOF

for round in 1 2 3; do
    for mode in whole tail; do
        name=$mode$round
        "$P" run -q --cpu off -i 60000 -o $name.jsonl -- "$T/glue" $name.facts $name.copy.jsonl \
            $([ $mode = tail ] && echo tail) > /dev/null 2> $name.err
        eq "$name: run exits as the program did" $? 0
        $PY check.py $name.jsonl $name.copy.jsonl $name.facts | sed "s/^\(ok\|FAIL\) - /\1 - $name: /"
        if [ $mode = whole ]; then
            check "$name: jq reads every line of the mended file" jq -c . $name.jsonl > /dev/null
            eq "$name: jq finds no line it cannot read" \
                "$(jq -R 'fromjson? // "bad"' $name.jsonl | grep -c '^"bad"$')" 0
        else
            eq "$name: jq reads every line but the unterminated tail" \
                "$(jq -R 'fromjson? // "bad"' $name.jsonl | grep -c '^"bad"$')" 1
        fi
        "$P" report --json $name.copy.jsonl > $name.copy.json 2> $name.copy.rep
        "$P" report --json $name.jsonl > $name.json 2> $name.rep
        eq "$name: report reads the same from the unmended copy and the mended file" \
            "$(jq -S -c 'del(.file)' $name.copy.json | md5sum)" "$(jq -S -c 'del(.file)' $name.json | md5sum)"
        eq "$name: report on the unmended copy has every process (the glued header recovered)" \
            "$(jq '.tree.processes | length' $name.copy.json)" "$(grep -c '"type":"header"' $name.copy.jsonl)"
        eq "$name: report on the unmended copy has the glued samples (peak RSS of glued_1)" \
            "$(jq '.tree.processes[0].peak_rss_bytes' $name.copy.json)" 52428800
        eq "$name: the unmended copy: five damaged lines, each counted" \
            "$(cat $name.copy.rep)" "perfprobe: $name.copy.jsonl: 5 damaged lines skipped"
        eq "$name: the mended file: its three cut records counted" \
            "$(cat $name.rep)" "perfprobe: $name.jsonl: 3 damaged lines skipped"
    done
done

# More shapes, written by a Python program under run (each a single write
# of known bytes, after the shim's own first records; os._exit: nothing
# after them): a blank line before a record; a cut glued to a 3 MiB record
# (lines across the 1 MiB chunks the scan reads), then another cut after
# it; a cut glued to a 17 MiB record (longer than any line the scan holds:
# passed over, as readers refuse it too); short lines at the very end, with
# no complete line after them.
cat > writes.py <<'EOF2'
import os, sys, json, shutil
case = sys.argv[1]
path = os.environ['PERFPROBE_OUTPUT']
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
pid = os.getpid()
facts = {}
def put(name, b):
    facts[name] = [os.fstat(fd).st_size, len(b)]
    os.write(fd, b)
cut = ('{"type":"sample","pid":%d,"t_s":0.125,"rss":2097152,"hw' % pid).encode()
if case == 'long':
    put('blank', b'\n')
    put('after_blank', b'{"type":"note","pid":%d,"text":"after a blank line"}\n' % pid)
    put('cut1', cut)
    put('big', b'{"type":"note","pid":%d,"text":"%s"}\n' % (pid, b'x' * (3 << 20)))
    put('cut2', cut)
    put('after_big', b'{"type":"note","pid":%d,"text":"after the big one"}\n' % pid)
    put('cut3', cut)
    put('huge', b'{"type":"note","pid":%d,"text":"%s"}\n' % (pid, b'y' * (17 << 20)))
    put('short_end', b'ab\n')
    put('blank_end', b'\n')
elif case == 'shapes':
    # valid JSON of every shape the strict check must let through, each
    # glued after a cut (the split needs the check to accept the record)
    put('cut_v0', cut)
    put('valid_0', ('{"type":"note","pid":%d,"text":"caf\\u00e9 \\ud83d\\ude00 \u00e9 \U0001F600 \\" \\\\ \\/ \\b\\f\\n\\r\\t",'
                    '"n":-0.5e+10,"m":0,"k":1E-3,"a":[1,[2,{"b":null}],true,false],"e":{},"f":[]}\n' % pid).encode())
    put('cut_v1', cut)
    put('valid_1', b'{"type":"note" , "pid" :\t%d , "x" : [ ] , "y" : { } , "z" : "" }\r\n' % pid)
    # not JSON (each long enough for a cut record)
    bad = [b'"x":[1,2,]', b'"x":01', b'"x":"a\tb"', b'"x":"\\x41"', b'"x":"\xff\xfe"', b'"x":NaN',
           b'"x":1.', b'"x":tru', b'"x":"\\u12"', b'"x":-', b'"x":{"a"}', b'"x":[1 2]']
    for i, b in enumerate(bad):
        put('bad_%d' % i, b'{"type":"note","pid":%d,%s,"pad":"........"}\n' % (pid, b))
    put('end', b'{"type":"note","pid":%d}\n' % pid)
else:
    put('one_end', b'a\n')
facts['pid'] = pid
json.dump(facts, open(sys.argv[2], 'w'))
shutil.copyfile(path, sys.argv[3])    # in this process: nothing written after
os._exit(0)
EOF2
cat > check2.py <<'EOF2'
import json, sys
data = open(sys.argv[1], 'rb').read()
orig = open(sys.argv[2], 'rb').read()
f = json.load(open(sys.argv[3]))
def check(desc, cond, got=''):
    print(('ok - ' if cond else 'FAIL - ') + desc + (' (%s)' % got if got != '' else ''))
def part(name, buf=data):
    at, n = f[name]
    return buf[at:at + n]
def loads(b):
    try:
        return json.loads(b.decode())
    except Exception:
        return None
check('the file keeps its size', len(data) == len(orig), len(data))
if 'valid_0' in f:
    def strict(b):
        def no(c):
            raise ValueError(c)
        try:
            json.loads(b.decode('utf-8'), parse_constant=no)
            return True
        except Exception:
            return False
    for k in sorted(f):
        if k.startswith('valid_'):
            rec = part('cut_v' + k[-1])
            check('%s: JSON for Python, glued after a cut: left as it was, on its own line' % k,
                  strict(part(k, orig)) and part(k) == part(k, orig) and
                  loads(rec) == {'type': 'cut', 'pid': f['pid'], 'bytes': len(rec)}, part(k).strip().decode())
        elif k.startswith('bad_'):
            rec = part(k)
            frag = part(k, orig).split(b',', 2)[2].rsplit(b',"pad"', 1)[0]
            check('%s: not JSON for Python (%r), mended into a cut record' % (k, frag),
                  not strict(part(k, orig)) and
                  loads(rec) == {'type': 'cut', 'pid': f['pid'], 'bytes': len(rec) - 1} and rec.endswith(b'\n'),
                  rec.strip().decode())
    sys.exit(0)
if 'one_end' in f:
    check('a one-byte line at the end, nothing after it: left as it was',
          data == orig and data.endswith(b'\na\n'))
    sys.exit(0)
check('a blank line before a record: a space the record reads through',
      part('blank') == b' ' and part('after_blank') == part('after_blank', orig))
for c, nxt in [('cut1', 'big'), ('cut2', 'after_big')]:
    rec = part(c)
    check('%s: a cut record in its bytes, its last a newline' % c,
          rec.endswith(b'\n') and loads(rec) == {'type': 'cut', 'pid': f['pid'], 'bytes': len(rec)},
          rec.strip().decode())
    check('%s: the record glued after it untouched, on its own line' % c, part(nxt) == part(nxt, orig))
check('cut3 glued to a 17 MiB line: passed over, as it was', part('cut3') == part('cut3', orig)
      and part('huge') == part('huge', orig))
tail = data[f['short_end'][0]:]
check('short lines at the end ("ab", a blank line): "{}" and spaces, one line', tail == b'{} \n', repr(tail))
diff = [i for b in range(0, len(orig), 65536) if data[b:b + 65536] != orig[b:b + 65536]
        for i in range(b, min(b + 65536, len(orig))) if data[i] != orig[i]]
mended = [f['blank'], f['cut1'], f['cut2'], [f['short_end'][0], len(data) - f['short_end'][0]]]
check('bytes rewritten: only those of the damaged lines',
      diff and all(any(at <= i < at + n for at, n in mended) for i in diff), len(diff))
lines = data.split(b'\n')
bad = [i + 1 for i, l in enumerate(lines[:-1]) if loads(l) is None and len(l) < (16 << 20)]
check('every line but the 17 MiB one is JSON for Python json.loads', bad == [] and lines[-1] == b'', bad)
EOF2
for case in long shapes one; do
    "$P" run -q --cpu off -i 60000 -o $case.jsonl -- $PY writes.py $case $case.facts $case.copy.jsonl \
        > /dev/null 2> $case.err
    eq "$case: run exits as the program did" $? 0
    $PY check2.py $case.jsonl $case.copy.jsonl $case.facts | sed "s/^\(ok\|FAIL\) - /\1 - $case: /"
done

# A bare LD_PRELOAD: cuts by killed children, each followed by a record the
# shim writes (a probe, or the next child's header)
cat > bare.py <<'EOF'
import json, sys
data = open(sys.argv[1], 'rb').read()
facts = dict((k, int(v)) for k, v in (l.split() for l in open(sys.argv[2])))
def check(desc, cond, got=''):
    print(('ok - ' if cond else 'FAIL - ') + 'bare: ' + desc + (' (%s)' % got if got != '' else ''))
def loads(b):
    try:
        return json.loads(b.decode())
    except Exception:
        return None
lines = data.split(b'\n')
check('the file ends with a newline', lines[-1] == b'')
bad = [i + 1 for i, l in enumerate(lines[:-1]) if not isinstance(loads(l), dict)]
check('every line is a JSON object for Python json.loads, none blank', bad == [], '%d lines' % (len(lines) - 1))
def line_at(at):
    return data[at:data.index(b'\n', at) + 1]
def record_at(at):               # past pad records, which fill a page's end
    while True:
        l = line_at(at)
        r = loads(l)
        if not (isinstance(r, dict) and r.get('type') == 'pad'):
            return r
        at += len(l)
for name, with_pid in (('long', True), ('nopid', False), ('big', True)):
    at, n = facts[name + '_at'], facts[name + '_len']
    want = {'type': 'cut', 'bytes': n}
    if with_pid:
        want['pid'] = facts[name + '_pid']
    rec = data[at:at + n]
    check(name + ': a cut record of the cut bytes, in their place, ending their line',
          loads(rec) == want and rec.endswith(b'\n') and data[at - 1:at] == b'\n', rec.strip()[:60].decode())
    nxt = record_at(at + n)
    check(name + ': the record glued after them stands whole on its own line',
          isinstance(nxt, dict) and nxt.get('type') in ('probe', 'header', 'sites', 'sample', 'module',
                                                         'cpu_info', 'cpu', 'note'),
          nxt and nxt.get('type'))
at = facts['short_at']
check('short: too few for a cut record: spaces, read through by the record after them',
      data[at:at + 4] == b'    ' and isinstance(loads(line_at(at)), dict), line_at(at)[:20])
recs = [loads(l) for l in lines[:-1]]
probes = [r['label'] for r in recs if r.get('type') == 'probe' and r.get('pid') == facts['pid']]
check('every probe of the program is there, in order', probes ==
      ['start', 'after_long', 'after_short', 'after_nopid', 'after_big', 'end'], ' '.join(probes))
check('the program\'s summary is there', any(r.get('type') == 'summary' and r.get('pid') == facts['pid'] for r in recs))
EOF
for round in 1 2 3; do
    rm -f bare.jsonl
    PERFPROBE_INTERVAL_MS=$([ $round = 1 ] && echo 60000 || echo 1) traced bare.jsonl "$T/glue_probe" bare.facts
    eq "bare $round: the program exits 0" $? 0
    $PY bare.py bare.jsonl bare.facts | sed "s/^\(ok\|FAIL\) - bare: /\1 - bare $round: /"
    check "bare $round: jq reads every line" valid_jsonl bare.jsonl
done
