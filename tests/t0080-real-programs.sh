# Real programs from Debian run under the shim with unchanged stdout and
# exit status.
. "$PP_ROOT/tests/lib.sh"

same() {   # DESC CMD...: stdout and status identical with and without the shim
    local desc=$1; shift
    "$@" > bare.out 2>/dev/null; local bare=$?
    PERFPROBE_OUTPUT=run.jsonl LD_PRELOAD=$S "$@" > traced.out 2>traced.err; local got=$?
    if [ $got = $bare ] && cmp -s bare.out traced.out; then
        ok "$desc: same stdout and exit status ($bare)"
    else
        fail "$desc: status $got vs $bare, stdout differs: $(diff bare.out traced.out | head -3)"
    fi
    check "$desc: timeline written" test -s run.jsonl
}
same "python3" $PY -c 'import json, zlib; d = [{"k": i} for i in range(100000)]; print(len(zlib.compress(json.dumps(d).encode())))'
same "python3 exit 3" $PY -c 'import sys; print("x"); sys.exit(3)'
same "perl" perl -e 'my %h; $h{$_} = "x" x 100 for 1..50000; print scalar(keys %h), "\n"'
same "bash" bash -c 'a=(); for i in $(seq 1 3000); do a+=("$i"); done; echo ${#a[@]}; exit 4'
same "sqlite3" sqlite3 :memory: 'create table t(x); with recursive c(i) as (select 1 union all select i+1 from c where i < 50000) insert into t select i from c; select count(*), sum(x) from t;'
awk 'BEGIN { srand(7); for (i = 0; i < 200000; i++) print int(rand() * 1000000) }' > numbers.txt
same "sort" sort -n numbers.txt
# the table goes to stderr, never stdout
PERFPROBE_OUTPUT=t.jsonl LD_PRELOAD=$S $PY -c 'print("only this")' > o.txt 2> e.txt
eq "stdout has only the program's output" "$(cat o.txt)" "only this"
check "the table is on stderr" grep -q "perfprobe: python3" e.txt
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=t.jsonl LD_PRELOAD=$S $PY -c 'pass' 2> q.txt
eq "PERFPROBE_QUIET=1 prints nothing" "$(cat q.txt)" ""

# The process's first malloc made inside glibc's gettext or locale lock (a
# library constructor calling bindtextdomain, as libgpg-error's does in
# procps' ps and free; one calling setlocale under a UTF-8 locale, as
# curl's does).  The shim's start-up look-ups of names no object has
# (jemalloc's mallocx) failed there, and reading the loader's message
# translated it under the same lock: glibc's rwlock was left with a
# negative reader count and the program's next bindtextdomain waited for
# ever.  The shim now asks the loader only for names another object has
cat > ctor_intl.c <<'EOF'
#include <libintl.h>
__attribute__((constructor)) static void init(void) { bindtextdomain("ctor", "/usr/share/locale"); }
void lib_touch(void) {}
EOF
cat > ctor_locale.c <<'EOF'
#include <locale.h>
__attribute__((constructor)) static void init(void) { setlocale(LC_ALL, ""); }
void lib_touch(void) {}
EOF
cat > ctor_main.c <<'EOF'
#include <libintl.h>
#include <locale.h>
#include <stdio.h>
void lib_touch(void);
int main(void)
{
    lib_touch();
    setlocale(LC_ALL, "");
    bindtextdomain("other", "/usr/share/locale");
    printf("ok %s\n", gettext("hello"));
    return 0;
}
EOF
cc -shared -fPIC -o libctor_intl.so ctor_intl.c && cc -shared -fPIC -o libctor_locale.so ctor_locale.c
cc -o ctor_intl ctor_main.c -L. -lctor_intl -Wl,-rpath,"$PWD"
cc -o ctor_locale ctor_main.c -L. -lctor_locale -Wl,-rpath,"$PWD"
for p in ctor_intl ctor_locale; do
    rm -f c.jsonl
    LANG=C.UTF-8 PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/c.jsonl LD_PRELOAD=$S timeout 60 ./$p > c.out 2> c.err
    eq "$p (first malloc under glibc's gettext lock): status, output and stderr as bare" \
        "$? $(cat c.out) $(cat c.err)" "0 ok hello "
    check "$p: the timeline has a summary" jq -e 'select(.type == "summary")' c.jsonl
done
# ... and procps, whose libraries' constructors do so
for c in "ps -o pid= -p $$" "free -b"; do
    command -v ${c%% *} > /dev/null || { fail "${c%% *} is not installed (procps)"; continue; }
    timeout 60 $c > bare.out 2> /dev/null; bare=$?
    PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/c.jsonl LD_PRELOAD=$S timeout 60 $c > traced.out 2> traced.err
    eq "$c: status as bare, nothing on stderr" "$? $(cat traced.err)" "$bare "
    check "$c: the first line as bare" test "$(head -1 bare.out | cut -c1-12)" = "$(head -1 traced.out | cut -c1-12)"
done
