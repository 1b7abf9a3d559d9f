# make install puts the library, the CLI, the header, the Python module and
# a pkg-config file under DESTDIR/PREFIX, and the installed CLI finds the
# installed library.
. "$PP_ROOT/tests/lib.sh"
D=$PWD/dest
make -s -C "$PP_ROOT" install DESTDIR="$D" PREFIX=/opt/pp > make.out 2>&1
eq "make install: status" $? 0
for f in lib/libperfprobe.so bin/perfprobe include/perf_probe.h lib/pkgconfig/perfprobe.pc \
         share/perfprobe/python/perfprobe.py share/doc/perfprobe/format.md; do
    check "installed $f" test -s "$D/opt/pp/$f"
done
"$D/opt/pp/bin/perfprobe" run -q -o i.jsonl -- /bin/true
eq "the installed CLI finds the installed library" "$?:$(tail -1 i.jsonl | jq -r .type)" 0:summary
eq "pkg-config gives the header's directory" \
    "$(PKG_CONFIG_PATH=$D/opt/pp/lib/pkgconfig pkg-config --cflags perfprobe | xargs)" "-I/opt/pp/include"
make -s -C "$PP_ROOT" uninstall DESTDIR="$D" PREFIX=/opt/pp > make.out 2>&1
eq "make uninstall removes every file" "$(find "$D" -type f | wc -l)" 0
