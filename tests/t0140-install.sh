# make install puts the library, the CLI, the header, the Python module and
# a pkg-config file under DESTDIR/PREFIX, and the installed CLI finds the
# installed library.
. "$PP_ROOT/tests/lib.sh"
D=$PWD/dest
make -s -C "$PP_ROOT" install DESTDIR="$D" PREFIX=/opt/pp > make.out 2>&1
eq "make install: status" $? 0
PYV=$($PY -c 'import sys; print("%d.%d" % sys.version_info[:2])')
for f in lib/libperfprobe.so lib/libperfprobe-ns.so bin/perfprobe include/perf_probe.h lib/pkgconfig/perfprobe.pc \
         lib/python$PYV/dist-packages/perfprobe.py share/doc/perfprobe/format.md; do
    check "installed $f" test -s "$D/opt/pp/$f"
done
"$D/opt/pp/bin/perfprobe" run -q -o i.jsonl -- /bin/true
eq "the installed CLI finds the installed library" "$?:$(tail -1 i.jsonl | jq -r .type)" 0:summary
# the installed shim finds the namespace object beside it: a library opened
# into a link namespace of its own is counted (t0725 has the figures)
cp "$PP_ROOT/tests/progs/ns_lib.c.in" ns_lib.c && cc -shared -fPIC -o libns.so ns_lib.c
"$D/opt/pp/bin/perfprobe" run -q -o ins.jsonl -- "$T/ns_plugin" hold "$PWD/libns.so" ins.facts > /dev/null
eq "the installed shim counts a library in a namespace of its own" \
    "$(jq -r 'select(.type == "summary") | [(.peak_heap_bytes >= '"$(fact ins.facts ns_usable)"'), (.inexact | length)] | map(tostring) | join(" ")' ins.jsonl)" \
    "true 0"
eq "pkg-config gives the header's directory" \
    "$(PKG_CONFIG_PATH=$D/opt/pp/lib/pkgconfig pkg-config --cflags perfprobe | xargs)" "-I/opt/pp/include"
make -s -C "$PP_ROOT" uninstall DESTDIR="$D" PREFIX=/opt/pp > make.out 2>&1
eq "make uninstall removes every file" "$(find "$D" -type f | wc -l)" 0

# The Python module where Debian's python3 finds it: for PREFIX=/usr/local
# the directory is on python3's own sys.path (the ground truth), and the
# installed copy imports and runs under the installed CLI.
U=$PWD/usr
make -s -C "$PP_ROOT" install DESTDIR="$U" PREFIX=/usr/local > make.out 2>&1
eq "make install PREFIX=/usr/local: status" $? 0
pydir=/usr/local/lib/python$PYV/dist-packages
check "the module is installed in $pydir" test -s "$U$pydir/perfprobe.py"
check "python3 looks in $pydir without PYTHONPATH" \
    env -u PYTHONPATH $PY -c "import sys; sys.exit('$pydir' not in sys.path)"
here=$PWD
(cd / && PYTHONPATH=$U$pydir "$U/usr/local/bin/perfprobe" run -q -o "$here/ipy.jsonl" -- \
    $PY -c 'import perfprobe; print(perfprobe.__file__); perfprobe.probe("installed")') > ipy.out
eq "the installed copy is the one imported" "$(cat ipy.out)" "$U$pydir/perfprobe.py"
eq "the installed copy reaches the installed shim" \
    "$(jq -r 'select(.type == "probe") | .label' ipy.jsonl)" installed
make -s -C "$PP_ROOT" install DESTDIR="$U" PREFIX=/usr > make.out 2>&1
check "PREFIX=/usr: the module goes to /usr/lib/python3/dist-packages" \
    test -s "$U/usr/lib/python3/dist-packages/perfprobe.py"
check "... which python3 looks in too" \
    env -u PYTHONPATH $PY -c "import sys; sys.exit('/usr/lib/python3/dist-packages' not in sys.path)"
