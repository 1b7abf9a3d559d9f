# An interpreter linked into the program finalizes while a daemon thread is
# in a C call that allocates: finalizing frees every thread state but its
# own (3.9 on, before the collection that runs finalizers) while the
# daemon thread's slot still holds its state, so that thread's allocations
# must not read it.  Here a finalizer run then fills freed blocks with
# pointers to nowhere (as the program's own allocations would, in time),
# and the daemon thread allocates all the while.  The finalizing thread's
# own frames are still read: a block the finalizer allocates at a known
# line has that line's frame, and so has one a sub-interpreter's exit
# handler allocates (3.12 on: finalizing runs it under a state of the
# sub-interpreter's).  A program linked with libpython finalizes and sets
# it up again, twice: each round's frames are read.  Each version found
# (Debian's python3, and pyenv's 3.8-3.13 where they are), sampled stacks
# and every stack.
# Ground truth: the program's exit status and output bare; the script's
# own line (the function's name without its class: 3.11 on give the
# qualified name).
. "$PP_ROOT/tests/lib.sh"

cat > spin.c <<'EOS'
#include <stdlib.h>
void *volatile spun;
void spin(void) { for (;;) { spun = malloc(64); free(spun); } }
EOS
cc -shared -fPIC -o libspin.so spin.c
cat > fin.py <<'EOS'
import ctypes, threading, gc, time, sys
gc.set_threshold(10**8)
lib = ctypes.CDLL(sys.argv[1])
threading.Thread(target=lib.spin, daemon=True).start()
time.sleep(0.3)
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
class Spray:
    def __del__(self):
        libc.malloc(4444444)  # L:del
        for size in range(24, 1100, 8):
            for k in range(3):
                p = libc.malloc(size)
                n = size // 8
                (ctypes.c_uint64 * n).from_address(p)[:] = [1 << 44] * n
        time.sleep(0.3)
        print("finalized")
a = Spray(); a.cyc = a; del a
print("done")
EOS
at=$(grep -n '# L:del$' fin.py | cut -d: -f1)
# a sub-interpreter's exit handler, which finalizing runs on its own
# thread under a state of the sub-interpreter's (3.12 on)
cat > sub.py <<'EOS'
try:
    import _interpreters as interpreters
except ImportError:
    import _xxsubinterpreters as interpreters
import atexit
sub = interpreters.create()
interpreters.run_string(sub, '''
import atexit
def sub_exit():
    kept = bytearray(7777777)
atexit.register(sub_exit)
''')
print("ok")
EOS

# a program that links libpython sets the interpreter up again after
# finalizing it (twice): the runtime says "finalizing" from the first
# Py_Finalize until the next set-up, so each set-up's frames are read
cat > again.c <<'EOS'
#include <Python.h>
int main(void)
{
    static const char *names[] = {"first.py", "second.py", "third.py"};
    for (int i = 0; i < 3; i++) {
        Py_Initialize();
        PyObject *c = Py_CompileString("def work():\n    return [bytearray(5000000) for _ in range(3)]\nwork()\n",
                                       names[i], Py_file_input);
        PyObject *g = PyDict_New();
        PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins());
        PyObject *r = c ? PyEval_EvalCode(c, g, g) : NULL;
        printf("%s %s\n", names[i], r ? "ran" : "failed");
        Py_XDECREF(r);
        Py_DECREF(g);
        Py_XDECREF(c);
        Py_Finalize();
    }
    return 0;
}
EOS

python_versions
# one_version NAME PATH: every check on one interpreter; its files all
# carry NAME, so that two versions can run side by side
one_version() {
    local name=$1 py=$2 tag rb stacks config
    [ -x "$py" ] || { echo "# skip: $name: $py absent"; return; }
    tag="python $("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])') ($name)"
    timeout -k 5 120 "$py" fin.py "$PWD/libspin.so" > bare.$name.out 2> bare.$name.err
    rb=$?
    eq "$tag: bare, the script ran" "$(tr '\n' ' ' < bare.$name.out)" "done finalized "
    for stacks in sample all; do
        rm -f s.$name.jsonl
        PERFPROBE_SAMPLE_BYTES=64K PERFPROBE_STACKS=$stacks traced s.$name.jsonl \
            timeout -k 5 120 "$py" fin.py "$PWD/libspin.so" > shim.$name.out 2> shim.$name.err
        eq "$tag, stacks $stacks: exit status as bare" $? $rb
        eq "$tag, stacks $stacks: output as bare" "$(tr '\n' ' ' < shim.$name.out)" "$(tr '\n' ' ' < bare.$name.out)"
        check "$tag, stacks $stacks: every line of the timeline is JSON" valid_jsonl s.$name.jsonl
        eq "$tag, stacks $stacks: the finalizer's block has its Python frame" \
            "$("$PP_BUILD/perfprobe" report --json --process "$(basename "$py")" s.$name.jsonl |
                jq -r '[.sites[] | select(.allocs == 1 and .alloc_bytes >= 4444444 and .alloc_bytes < 4444444 + 65536)
                | [.frames[] | select(.python)][0] | "\(.fn | split(".") | last) \(.file | split("/") | last):\(.line)"] | join(",")')" \
            "__del__ fin.py:$at"
    done
    config=$(dirname "$py")/python3-config
    if cc $("$config" --includes) -o again.$name again.c $("$config" --ldflags --embed) 2> cc.$name.err; then
        for stacks in sample all; do
            rm -f s.$name.jsonl
            PERFPROBE_SAMPLE_BYTES=64K PERFPROBE_STACKS=$stacks traced s.$name.jsonl timeout -k 5 120 ./again.$name > shim.$name.out
            eq "$tag, set up again, stacks $stacks: output" "$(tr '\n' ' ' < shim.$name.out)" \
                "first.py ran second.py ran third.py ran "
            eq "$tag, set up again, stacks $stacks: each set-up's blocks have its frames" \
                "$("$PP_BUILD/perfprobe" report --json s.$name.jsonl | jq -r '[.sites[] | select(.alloc_bytes >= 5000000)
                    | [.frames[] | select(.python)][0] | .file] | unique | join(",")')" \
                "first.py,second.py,third.py"
        done
    else
        fail "$tag: no embedding build ($(head -1 cc.$name.err); python3-dev brings Debian's: make deps)"
    fi
    [ "$("$py" -c 'import sys; print(sys.version_info >= (3, 12))')" = True ] || return
    rm -f s.$name.jsonl
    PERFPROBE_STACKS=all traced s.$name.jsonl timeout -k 5 120 "$py" sub.py > shim.$name.out 2> shim.$name.err
    eq "$tag: a sub-interpreter's exit handler: output" "$(cat shim.$name.out)" ok
    eq "$tag: a sub-interpreter's exit handler, run while finalizing: its block has its frame" \
        "$("$PP_BUILD/perfprobe" report --json --process "$(basename "$py")" s.$name.jsonl |
            jq -r '[.sites[] | select(.alloc_bytes >= 7777777 and .alloc_bytes < 7777777 + 65536)
            | [.frames[] | select(.python)][0] | "\(.fn | split(".") | last):\(.line)"] | join(",")')" \
        "sub_exit:4"
}

each_version one_version
