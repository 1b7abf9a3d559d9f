# The shim's calls go down only (docs/design.md): hooks -> core -> sys.
# Read from the objects themselves (nm: what each defines and what it
# leaves undefined), each object's imports are the others that define a
# symbol it needs.  Among shim/core and shim/hooks there is no circle; no
# core object takes a symbol from a hooks object; no sys object takes one
# from core or hooks.  The check is first run on a small tree built here
# with a circle and an upward call in it, which it must find.
. "$PP_ROOT/tests/lib.sh"

cat > layout.py <<'PY'
import os, subprocess, sys
build, src = sys.argv[1], sys.argv[2]
defs, undef = {}, {}
for d, _, files in os.walk(os.path.join(build, 'shim')):
    for f in files:
        if not f.endswith('.o'):
            continue
        o = os.path.relpath(os.path.join(d, f), build)[:-2]     # shim/core/x
        if not os.path.exists(os.path.join(src, o + '.c')):
            continue                                           # a stale object
        out = subprocess.run(['nm', os.path.join(d, f)], capture_output=True, text=True).stdout
        defs[o], undef[o] = set(), set()
        for l in out.splitlines():
            p = l.split()
            if len(p) == 2 and p[0] == 'U':
                undef[o].add(p[1])
            elif len(p) == 3 and p[1] in 'TDBRCVW':
                defs[o].add(p[2])
owner = {}
for o, s in defs.items():
    for n in s:
        owner.setdefault(n, set()).add(o)
edges = {o: {t for n in undef[o] for t in owner.get(n, ()) if t != o} for o in defs}
room = lambda o: o.split('/')[1]                               # hooks, core, sys
print('objects', len(defs))
for o in sorted(edges):
    for t in sorted(edges[o]):
        if room(o) == 'core' and room(t) == 'hooks' or room(o) == 'sys' and room(t) != 'sys':
            print('up', o, t)
# circles: strongly connected components of more than one object
g = {o: [t for t in edges[o] if room(t) in ('core', 'hooks')] for o in defs if room(o) in ('core', 'hooks')}
index, low, stack, on, n = {}, {}, [], set(), [0]
def visit(v):
    index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
    for w in g[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop(); on.discard(w); c.append(w)
            if w == v:
                break
        if len(c) > 1:
            print('circle', ' '.join(sorted(c)))
for v in sorted(g):
    if v not in index:
        visit(v)
PY

# the check itself, on a tree with core/a <-> core/b and core/c -> hooks/h
mkdir -p fake/shim/core fake/shim/hooks fake/shim/sys fake/b/shim/core fake/b/shim/hooks fake/b/shim/sys
echo 'void b(void); void a(void) { b(); }' > fake/shim/core/a.c
echo 'void a(void); void b(void) { a(); }' > fake/shim/core/b.c
echo 'void h(void); void c(void) { h(); }' > fake/shim/core/c.c
echo 'void h(void) {}' > fake/shim/hooks/h.c
echo 'void c(void); void s(void) { c(); }' > fake/shim/sys/s.c
for f in core/a core/b core/c hooks/h sys/s; do cc -c fake/shim/$f.c -o fake/b/shim/$f.o; done
got=$($PY layout.py fake/b fake | grep -v '^objects' | sort | tr '\n' ';')
eq "the check finds a circle, a core object taking from a hook, a sys object taking from the core" \
   "$got" "circle shim/core/a shim/core/b;up shim/core/c shim/hooks/h;up shim/sys/s shim/core/c;"

$PY layout.py "$PP_BUILD" "$PP_ROOT" > shim.txt
n=$(awk '$1 == "objects" { print $2 }' shim.txt)
sys=linux
[ "$(uname -s)" = Darwin ] && sys=macos
eq "every source of the library has its object read" "$n" \
   "$(ls "$PP_ROOT"/shim/hooks/*.c "$PP_ROOT"/shim/core/*.c "$PP_ROOT"/shim/sys/*.c "$PP_ROOT/shim/sys/$sys"/*.c |
      wc -l | tr -d ' ')"
eq "no circle among shim/core and shim/hooks" "$(grep '^circle' shim.txt | tr '\n' ';')" ""
eq "no core object takes from a hooks object, no sys object from core or hooks" \
   "$(grep '^up' shim.txt | tr '\n' ';')" ""
