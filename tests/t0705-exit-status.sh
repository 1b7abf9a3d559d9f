# The status each process exits with is in its summary (exit_status), as
# its parent sees it, however it ends: main's return (which goes to an
# exit inside glibc, past the exit hook), exit() from main or another
# thread, the last thread after main's pthread_exit, a forked child's
# return, past many atexit handlers; a shell's exit, Python's sys.exit
# and an uncaught exception.  Ground truth: the status bare.
. "$PP_ROOT/tests/lib.sh"

# status_of FILE PID: the exit_status of PID's summary ("" when none)
status_of() { jq -r --argjson p "$2" 'select(.type == "summary" and .pid == $p) | .exit_status // ""' "$1"; }
# root_status FILE: the first process's
root_status() { status_of "$1" "$(head -1 "$1" | jq .pid)"; }
# prog_status FILE NAME: that of the process whose header's exe ends in NAME
prog_status() {
    status_of "$1" "$(jq --arg n "/$2" 'select(.type == "header" and (.exe | endswith($n))) | .pid' "$1" | head -1)"
}

for c in "return 7" "return 0" "exit 3" "thread 9" "lastthr 0" "atexit 255" "return 300"; do
    set -- $c
    timeout -k 5 60 "$T/exit_status" $1 $2
    bare=$?
    rm -f s.jsonl
    traced s.jsonl timeout -k 5 60 "$T/exit_status" $1 $2
    eq "$1 $2: exit status as bare" $? $bare
    check "$1 $2: every line is JSON" valid_jsonl s.jsonl
    eq "$1 $2: the summary says the status" \
        "$(prog_status s.jsonl exit_status)" "$bare"
    # the shim's own entry for the exit's start, freed by glibc at exit,
    # is not counted as a free of the program's
    pid=$(jq --arg n /exit_status 'select(.type == "header" and (.exe | endswith($n))) | .pid' s.jsonl | head -1)
    eq "$1 $2: no free counted that was not allocated, nothing inexact" \
        "$(jq -r --argjson p "$pid" 'select(.type == "summary" and .pid == $p) | .frees <= .allocs and (.inexact | length) == 0' s.jsonl)" true
done

# a forked child's own status, and the parent's
rm -f f.jsonl
traced f.jsonl "$T/exit_status" fork 4
eq "fork: exit status" $? 5
eq "fork: the parent's and the child's statuses, in the order they ended" \
    "$(jq -r 'select(.type == "summary") | .exit_status' f.jsonl | tr '\n' ' ')" "4 5 "
eq "fork: report --json, the tree's statuses" \
    "$("$PP_BUILD/perfprobe" report --json f.jsonl | jq -r '[.tree.processes[].exit_status] | sort | join(" ")')" "4 5"
eq "fork: the report's tree says how each ended" \
    "$("$PP_BUILD/perfprobe" report f.jsonl | grep -o 'exited [0-9]*$' | sort | tr '\n' ' ')" "exited 4 exited 5 "

# programs that end through their runtimes
for c in "bash:exit 3:3" "bash:exit 0:0" "python3:import sys; sys.exit(5):5" "python3:raise SystemExit(2):2" \
         "python3:1/0:1"; do
    prog=${c%%:*} rest=${c#*:}
    code=${rest%:*} want=${rest##*:}
    flag=-c
    rm -f p.jsonl
    traced p.jsonl "$(command -v $prog)" $flag "$code" 2> /dev/null
    eq "$prog '$code': exit status" $? $want
    eq "$prog '$code': the summary says so" "$(root_status p.jsonl)" "$want"
done

# what glibc allocates for the shim at start-up and at exit (the entry of
# the TLS destructor that registers the exit handler, and a block of
# handlers when the program's filled the static one) is never counted as
# the program's, nor is its free; the program's own frees at exit are:
#  - a TLS destructor of a library the program links (registered before
#    the shim's, so run after it) frees a block main allocated;
#  - 31 atexit handlers (with the loader's, glibc's static block is full);
#  - a vfork child that calls exit() (it frees the parent's entries).
cat > tl_lib.c <<'X'
#include <stdlib.h>
extern void *__dso_handle;
extern int __cxa_thread_atexit_impl(void (*)(void *), void *, void *);
void *tl_block;
static void tl_dtor(void *a) { (void)a; free(tl_block); }
__attribute__((constructor)) static void tl_init(void) { __cxa_thread_atexit_impl(tl_dtor, NULL, &__dso_handle); }
X
printf '#include <stdlib.h>\nextern void *tl_block;\nint main(void) { tl_block = malloc(100000); return 0; }\n' > tl_main.c
printf '#include <stdlib.h>\nstatic void h(void) {}\nint main(int c, char **v) { for (int i = 0; i < atoi(v[1]); i++) atexit(h); return 0; }\n' > many.c
printf '#include <stdlib.h>\n#include <sys/wait.h>\n#include <unistd.h>\nint main(void) { pid_t c = vfork(); if (c == 0) exit(3); int st; waitpid(c, &st, 0); return 7; }\n' > vf.c
cc -shared -fPIC -o libtl.so tl_lib.c && cc -o tl_main tl_main.c -L. -ltl -Wl,-rpath,"$PWD"
cc -o many many.c && cc -o vf vf.c
# figs FILE JQ-LIST: the summary's figures named, joined by spaces
figs() { jq -r "select(.type == \"summary\") | [$2] | map(tostring) | join(\" \")" "$1"; }
traced tl.jsonl ./tl_main
# (the library's own destructor entry is the program's: allocated and freed)
eq "a linked library's TLS destructor frees main's block: counted" \
    "$(figs tl.jsonl '.allocs - .frees, .heap_bytes_at_exit, (.inexact | length)')" "0 0 0"
for n in 30 31; do
    traced many$n.jsonl ./many $n
    eq "$n atexit handlers: nothing allocated, nothing freed" \
        "$(figs many$n.jsonl '.allocs, .frees, .peak_heap_bytes')" "0 0 0"
done
# the program's 32nd handler takes a block of glibc's: the program's own
traced many32.jsonl ./many 32
eq "32 atexit handlers: the block the last one took, allocated and freed" \
    "$(figs many32.jsonl '.allocs, .frees')" "1 1"
traced vf.jsonl ./vf
eq "a vfork child's exit(): status as bare" $? 7
eq "a vfork child's exit(): no free counted in the parent" \
    "$(figs vf.jsonl '.allocs, .frees, (.inexact | length)')" "0 0 0"
