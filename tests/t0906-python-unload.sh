# A program that opens libpython and closes it again (a host that looks
# whether an interpreter is there, or is done with a plugin): the
# interpreter's code and data go while the program goes on allocating, and
# the shim, which reads Python frames into allocation stacks, must never
# call into it or read it after that, nor while it is still being loaded.
# Opened with dlopen and with dlmopen (a namespace of its own), closed
# before Python runs (300 times) and after it ran and was finalized (3
# times, each time found again), with sampled stacks and with every stack.
# Ground truth: the program's exit status and output bare.
. "$PP_ROOT/tests/lib.sh"

P=$T/py_unload
pylib=$($PY -c 'import os, sysconfig as s; print(os.path.join(s.get_config_var("LIBDIR"), s.get_config_var("INSTSONAME")))')
if [ ! -f "$pylib" ]; then
    fail "no $pylib (python3-dev brings it: make deps)"
    exit 0
fi

for how in dlopen dlmopen; do
    ns=; [ $how = dlmopen ] && ns=ns
    for mode in probe run; do
        timeout -k 5 120 "$P" "$pylib" $mode $ns > bare.out 2> bare.err
        rb=$?
        for stacks in sample all; do
            tag="$how, $mode, stacks $stacks"
            rm -f s.jsonl
            PERFPROBE_STACKS=$stacks traced s.jsonl timeout -k 5 120 "$P" "$pylib" $mode $ns \
                > shim.out 2> shim.err
            eq "$tag: exit status as bare" $? $rb
            eq "$tag: output as bare" "$(cat shim.out)" "$(cat bare.out)"
            eq "$tag: nothing on stderr" "$(cat shim.err)" ""
            check "$tag: every line of the timeline is JSON" valid_jsonl s.jsonl
        done
    done
done
# a dlopen that fails after it mapped libpython (a library that needs it
# and a name nobody defines): the loader unmaps it with no dlclose; and
# libpython closed while another thread's dlclose runs a slow destructor
# (two closes at once) and a third thread allocates
printf 'extern void no_such_function(void);\nvoid bad(void) { no_such_function(); }\n' > bad.c
cc -shared -fPIC -o libbad.so bad.c -Wl,--no-as-needed "$pylib"
printf '#include <unistd.h>\n__attribute__((destructor)) static void slow(void) { usleep(150000); }\n' > slow.c
cc -shared -fPIC -o libslow.so slow.c
cat > failopen.c <<'EOF'
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
void *kept[64];
int main(int argc, char **argv)
{
    int fails = 0;
    for (int i = 0; argc > 1 && i < 300; i++) {
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!h)
            fails++;
        else
            dlclose(h);
        for (int k = 0; k < 64; k++)
            kept[k] = malloc(1000 + k * 100);
        for (int k = 0; k < 64; k++)
            free(kept[k]);
    }
    printf("fails %d\n", fails);
    return 0;
}
EOF
cat > twoclose.c <<'EOF'
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static volatile int stop;
static void *slow;
void *volatile churned;
static void *churn(void *a) { (void)a; while (!stop) { churned = malloc(100); free(churned); } return NULL; }
static void *closer(void *a) { (void)a; dlclose(slow); return NULL; }
int main(int argc, char **argv)
{
    for (int r = 0; argc > 2 && r < 10; r++) {
        void *py = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!py)
            return 1;
        for (int k = 0; k < 100; k++)
            free(malloc(1000));
        usleep(30000);
        slow = dlopen(argv[2], RTLD_NOW);
        stop = 0;
        pthread_t t3, t1;
        pthread_create(&t3, NULL, churn, NULL);
        pthread_create(&t1, NULL, closer, NULL);
        usleep(20000);
        dlclose(py);
        usleep(10000);
        stop = 1;
        pthread_join(t3, NULL);
        pthread_join(t1, NULL);
    }
    printf("done\n");
    return 0;
}
EOF
cc -o failopen failopen.c -ldl && cc -o twoclose twoclose.c -ldl -pthread
for prog in "failopen $PWD/libbad.so" "twoclose $pylib $PWD/libslow.so"; do
    set -- $prog
    timeout -k 5 120 ./"$@" > bare.out 2> bare.err
    rb=$?
    for stacks in sample all; do
        tag="$1, stacks $stacks"
        rm -f s.jsonl
        PERFPROBE_STACKS=$stacks traced s.jsonl timeout -k 5 120 ./"$@" > shim.out 2> shim.err
        eq "$tag: exit status as bare" $? $rb
        eq "$tag: output as bare" "$(cat shim.out)" "$(cat bare.out)"
        check "$tag: every line of the timeline is JSON" valid_jsonl s.jsonl
    done
done
# the interpreter that ran is read, each of the three times: the frames
# of the code each round ran (compiled as round0.py, round1.py,
# round2.py) on the allocation stacks.  The library opened again is often
# mapped where it was before, and its interpreter then makes its objects
# where the last one made them; in a namespace of its own it has a libc of
# its own, whose thread keys are numbered from 0 again, in the same slots
# of the thread as the base libc's (docs/sites.md)
for how in dlopen dlmopen; do
    ns=; [ $how = dlmopen ] && ns=ns
    for k in 1 2 3; do
        rm -f s.jsonl
        PERFPROBE_STACKS=all traced s.jsonl timeout -k 5 120 "$P" "$pylib" run $ns > shim.out 2> shim.err
        eq "$how, run, all (#$k): the rounds whose Python frames are on allocation stacks" \
            "$("$PP_BUILD/perfprobe" report --json --process py_unload s.jsonl |
               jq -r '[.sites[].frames[] | select(.python) | .file // "" | select(test("^round[0-9][.]py$"))] | unique | join(" ")')" \
            "round0.py round1.py round2.py"
    done
done

# an application that embeds Python in a namespace of its own and calls
# into it from C as CPython documents (PyGILState_Ensure): CPython keeps
# its thread state under a thread key of the namespace's libc, which
# numbers its keys from 0 again, in the same slots of the thread as the
# base libc's; the shim's own keys are numbered high (30, 31), whether
# the shim counts the namespace or not (PERFPROBE_NAMESPACES=0,
# RTLD_DEEPBIND), and the program's own keys are numbered as bare
cat > gil.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#define CALL(type, name, ...) ((type)dlsym(h, name))(__VA_ARGS__)
int main(int argc, char **argv)
{
    void *h = dlmopen(LM_ID_NEWLM, argv[1], RTLD_NOW | RTLD_LOCAL | (argc > 2 ? RTLD_DEEPBIND : 0));
    if (!h)
        return 1;
    CALL(void (*)(void), "Py_Initialize");
    void *mine = CALL(void *(*)(void), "PyGILState_GetThisThreadState");
    void *now = CALL(void *(*)(void), "PyThreadState_Get");
    printf("this thread's state is the current one: %s\n", mine == now ? "yes" : "no");
    fflush(stdout);
    void *saved = CALL(void *(*)(void), "PyEval_SaveThread");
    int g = CALL(int (*)(void), "PyGILState_Ensure");
    CALL(int (*)(const char *), "PyRun_SimpleString", "print('ran under PyGILState_Ensure')");
    CALL(void (*)(int), "PyGILState_Release", g);
    CALL(void (*)(void *), "PyEval_RestoreThread", saved);
    CALL(void (*)(void), "Py_Finalize");
    return 0;
}
EOF
cc -o gil gil.c -ldl
timeout -k 5 120 ./gil "$pylib" > bare.out 2> bare.err
rb=$?
eq "gil: bare runs the code" "$(cat bare.out)" "this thread's state is the current one: yes
ran under PyGILState_Ensure"
for how in "off" "sample" "all" "sample NAMESPACES=0" "sample deep"; do
    set -- $how
    stacks=$1 ns=1 deep=
    [ "${2:-}" = NAMESPACES=0 ] && ns=0
    [ "${2:-}" = deep ] && deep=deep
    rm -f s.jsonl
    PERFPROBE_NAMESPACES=$ns PERFPROBE_STACKS=$stacks traced s.jsonl timeout -k 5 120 ./gil "$pylib" $deep \
        > shim.out 2> shim.err
    eq "gil, stacks $how: exit status as bare" $? $rb
    eq "gil, stacks $how: output as bare" "$(cat shim.out)" "$(cat bare.out)"
done
cat > keys.c <<'EOF'
#include <pthread.h>
#include <stdio.h>
int main(void)
{
    pthread_key_t a, b;
    pthread_key_create(&a, NULL);
    pthread_key_create(&b, NULL);
    printf("keys %u %u\n", (unsigned)a, (unsigned)b);
    return 0;
}
EOF
cc -o keys keys.c -pthread
rm -f s.jsonl
eq "the program's first thread keys are numbered as bare" "$(traced s.jsonl ./keys)" "$(./keys)"
# an interpreter linked into the program cannot be unloaded: its frames
# are read during a dlclose too (a library's destructor, run by a dlclose
# called from Python, allocates 3,333,333 bytes at the script's line;
# a sampled site's figure is an estimate, a little above; sampled every
# 64 KiB on average, a block of 3.3 MB is missed with odds of e^-51)
cat > dtor.c <<'EOF'
#include <stdlib.h>
void *volatile dtor_kept;
__attribute__((destructor)) static void grab(void) { dtor_kept = malloc(3333333); }
EOF
cc -shared -fPIC -o libdtor.so dtor.c
cat > close.py <<'EOF'
import ctypes, _ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
_ctypes.dlclose(lib._handle)  # L:close
print("closed")
EOF
at=$(grep -n '# L:close$' close.py | cut -d: -f1)
for stacks in sample all; do
    rm -f s.jsonl
    PERFPROBE_SAMPLE_BYTES=64K PERFPROBE_STACKS=$stacks traced s.jsonl timeout -k 5 120 $PY close.py "$PWD/libdtor.so" > shim.out 2> shim.err
    eq "linked-in $PY, stacks $stacks: output" "$(cat shim.out)" "closed"
    eq "linked-in $PY, stacks $stacks: the destructor's block has the Python frame of the dlclose" \
        "$("$PP_BUILD/perfprobe" report --json --process python3 s.jsonl | jq -r '[.sites[] | select(.allocs == 1 and .alloc_bytes >= 3333333 and .alloc_bytes < 3333333 + 65536)
            | [.frames[] | select(.python)][0] | "\(.fn) \(.file | split("/") | last):\(.line)"] | join(",")')" \
        "<module> close.py:$at"
done

# a late interpreter with 300 threads besides its main one: CPython puts a
# new thread's state first in its list, so the main thread's comes last;
# the frames of its code are on the allocation stacks
crowd='import threading
ev = threading.Event()
ts = [threading.Thread(target=ev.wait) for _ in range(300)]
for t in ts: t.start()
def work():
    keep = []
    for i in range(20000):
        keep.append(bytearray(2000))
        if len(keep) > 100: keep.clear()
exec(compile("work()", "crowd.py", "exec"))
ev.set()
for t in ts: t.join()'
rm -f s.jsonl
PERFPROBE_STACKS=all traced s.jsonl timeout -k 5 300 "$P" "$pylib" once "$crowd" > shim.out 2> shim.err
eq "300 threads: the program's output" "$(cat shim.out)" "rounds 1, ran 1"
eq "300 threads: the main thread's frames are on allocation stacks" \
    "$("$PP_BUILD/perfprobe" report --json --process py_unload s.jsonl |
       jq -r '[.sites[].frames[] | select(.python) | .file // "" | select(. == "crowd.py")] | unique | join(" ")')" \
    "crowd.py"
