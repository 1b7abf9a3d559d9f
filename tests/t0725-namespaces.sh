# A library opened with dlmopen into a link namespace of its own gets a
# copy of libc there, outside the preloaded hooks' scope.  The shim opens
# it into a namespace whose first object (hooks/nsstub.c) needs the
# namespace object (libperfprobe-ns.so, beside the shim), then the library,
# so the library's blocks, libc's own (strdup) and its mappings are
# counted; what the program sees stays as bare: its output, dlerror, how
# many namespaces the loader gives, $ORIGIN from the caller, the library's
# own definitions of libc's names, an allocator of its own, a library
# opened there later that uses the first one's names.  With
# PERFPROBE_NAMESPACES=0 the shim leaves it alone and says the heap figures
# miss it.
# Ground truth: what the library says it held, in its own allocator's
# usable sizes (tests/progs/ns_lib.c.in), the same library counted in the
# base namespace, and what an allocator of the library's own says it did
# (tests/progs/ns_alloc.c.in), bare and under the shim.
. "$PP_ROOT/tests/lib.sh"

P=$T/ns_plugin PP=$PP_BUILD/perfprobe
unset PERFPROBE_NAMESPACES
cp "$PP_ROOT/tests/progs/ns_lib.c.in" ns_lib.c && cc -shared -fPIC -O1 -o libns.so ns_lib.c
LIB=$PWD/libns.so

# same DESC ARGS...: status and stdout as bare, nothing on stderr (unless
# WARNED is set), every line of the timeline JSON; the timeline is s.jsonl.
# PROG is the program (ns_plugin).
PROG=$P
same() {
    local desc=$1; shift
    timeout -k 5 120 "$PROG" "$@" > bare.out 2> bare.err
    local rb=$?
    rm -f s.jsonl
    PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/s.jsonl LD_PRELOAD=$S timeout -k 5 120 "$PROG" "$@" \
        > shim.out 2> shim.err
    eq "$desc: exit status as bare" $? $rb
    if cmp -s bare.out shim.out; then ok "$desc: stdout as bare ($(tail -1 shim.out))"
    else fail "$desc: stdout differs: $(diff bare.out shim.out | head -4 | tr '\n' ' ')"; fi
    [ -n "${WARNED:-}" ] || eq "$desc: nothing on stderr" "$(cat shim.err)" ""
    check "$desc: every line of the timeline is JSON" valid_jsonl s.jsonl
}
# the program's own summary (timeout is traced too)
of_program() { jq -s -c --arg p "${NAME:-ns_plugin}" '(map(select(.type == "header" and .program == $p)) | .[0].pid) as $pid
    | map(select(.type == "summary" and .pid == $pid)) | .[0]' "$1"; }
sum() { of_program "$1" | jq -r ".$2"; }

# ---- the library's blocks, strings and mapping, counted ----
same "hold" hold "$LIB" new.facts
cp s.jsonl new.jsonl
held=$(fact new.facts ns_usable) calls=$(fact new.facts ns_calls)
eq "hold: the library held 1000 blocks and 1000 strdup'd strings" "$calls" 2001
eq "hold: exact (inexact is empty)" "$(sum new.jsonl 'inexact | length')" 0
# the peak holds what the library held, in its own allocator's usable
# sizes, and the program's own few blocks (under 64 KiB)
bounded "hold: the peak heap is what the library held" "$(sum new.jsonl peak_heap_bytes)" \
    "$held" $((held + 65536)) 0
le "hold: let go by the end (heap at exit under 64 KiB)" "$(sum new.jsonl heap_bytes_at_exit)" 65535
eq "hold: its 4 MiB mapping is counted" "$(sum new.jsonl peak_mmap_bytes)" $((4 << 20))
eq "hold: and unmapped" "$(sum new.jsonl mmap_anon_bytes_at_exit)" 0
# the same library in the base namespace, where the shim's own hooks count
# it: as many calls, give or take what the loader and libc do besides
same "base" base "$LIB" base.facts
cp s.jsonl base.jsonl
eq "base: exact" "$(sum base.jsonl 'inexact | length')" 0
an=$(sum new.jsonl allocs) ab=$(sum base.jsonl allocs)
check "the allocation calls in a new namespace are the base namespace's, within 64 ($an, $ab)" \
    test $((an - ab)) -le 64 -a $((ab - an)) -le 64
check "and at least the library's own ($an >= $calls)" test "$an" -ge "$calls"
within "the peak heap in a new namespace is the base namespace's" \
    "$(sum new.jsonl peak_heap_bytes)" "$(sum base.jsonl peak_heap_bytes)" 1

# ---- the library's own definitions of libc's names stay its own ----
# ns_lib defines rand(): bare, its own calls find it before libc's, and so
# under the shim (the namespace object links nothing, so libc is not ahead
# of the library in the namespace's scope)
same "a library's own rand()" rand "$LIB"
eq "a library's own rand(): its own" "$(cat shim.out)" "rand 4242"

# ---- an allocator of the library's own stays its own, and is counted ----
# Bare, the namespace's global scope is the library's: its own malloc
# family (linked in, or a dependency's, found breadth first before libc)
# serves every call there, libc's strdup included.  The namespace object
# binds each of its names to that first definition, counts with the
# allocator's own malloc_usable_size, and leaves the 256 MiB it reserves
# out of the program's mappings (as jemalloc's own are in the base
# namespace).  Its call count, bare and under the shim, is the witness.
cp "$PP_ROOT/tests/progs/ns_alloc.c.in" ns_alloc.c
cc -shared -fPIC -O1 -o libnsown.so ns_lib.c ns_alloc.c
cc -shared -fPIC -O1 -o libnsalloc.so ns_alloc.c
cc -shared -fPIC -O1 -o libnsdep.so ns_lib.c -L. -lnsalloc -Wl,-rpath,"$PWD"
for kind in own dep; do
    lib=$PWD/libns$kind.so d="an allocator of the library's own ($kind)"
    timeout -k 5 60 "$P" hold "$lib" bare$kind.facts > /dev/null
    same "$d" hold "$lib" $kind.facts
    eq "$d: bare, it serves the library's and libc's calls (and a constructor's strdup)" \
        "$(fact bare$kind.facts nsa_calls)" 2002
    eq "$d: under the shim, as many" "$(fact $kind.facts nsa_calls)" "$(fact bare$kind.facts nsa_calls)"
    eq "$d: and no block of libc's reaches its free" "$(fact $kind.facts nsa_foreign)" 0
    eq "$d: exact" "$(sum s.jsonl 'inexact | length')" 0
    bounded "$d: the peak heap is what the library held, in its allocator's sizes" \
        "$(sum s.jsonl peak_heap_bytes)" "$(fact $kind.facts ns_usable)" $(($(fact $kind.facts ns_usable) + 65536)) 0
    eq "$d: its own reservation is not the program's mapping (only the library's 4 MiB)" \
        "$(sum s.jsonl peak_mmap_bytes)" $((4 << 20))
done
# the allocator stays as long as the namespace calls it: a second library
# opened into the same namespace, whose calls find the first one's
# allocator (bare, the loader then keeps it), used after the first is
# closed; and 40 namespaces with such an allocator opened and closed
same "a second library in the namespace, after the first (its allocator) is closed" \
    second "$PWD/libnsown.so" "$LIB"
# ... and it is the allocator that stays, not the first library: bare, the
# loader unloads that one at its dlclose (its destructor runs then) and
# keeps only the allocator, which the second one's references bound into
printf '#include <unistd.h>\n__attribute__((destructor)) static void bye(void) { write(1, "the first library ends\\n", 23); }\n' > bye.c
cc -shared -fPIC -O1 -o libnsbye.so bye.c -Wl,--no-as-needed -L. -lnsalloc -Wl,-rpath,"$PWD"
same "the first library (its allocator a dependency) ends at its dlclose, as bare" \
    second "$PWD/libnsbye.so" "$LIB"
eq "... its destructor ran before dlclose returned" "$(head -2 shim.out | tr '\n' '/')" \
    "the first library ends/closed the first: 0/"
same "40 namespaces with an allocator of the library's own opened and closed" cycle "$PWD/libnsown.so" 40
le "... heap at exit under 64 KiB" "$(sum s.jsonl heap_bytes_at_exit)" 65535

# real allocators linked into a plugin (jemalloc's static TLS keeps it out
# of any namespace but the first, bare too): bare, its blocks are the
# allocator's own sizes (5120 for 5000 bytes, where glibc's are 5000)
cat > alloc_user.c <<'EOF'
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
static void *b[1000];
size_t ns_hold_real(void)
{
    size_t u = 0;
    for (int i = 0; i < 1000; i++) {
        b[i] = malloc(5000);
        memset(b[i], 1, 5000);
        u += malloc_usable_size(b[i]);
    }
    return u;
}
void ns_drop_real(void) { for (int i = 0; i < 1000; i++) free(b[i]); }
/* the same from a thread the namespace's pthread_create makes */
static void *holder(void *arg) { *(size_t *)arg = ns_hold_real(); return NULL; }
size_t ns_hold_thread(void)
{
    pthread_t t;
    size_t u = 0;
    if (pthread_create(&t, NULL, holder, &u) != 0 || pthread_join(t, NULL) != 0)
        return 0;
    return u;
}
EOF
cat > alloc_host.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    void *h = argc > 1 ? dlmopen(LM_ID_NEWLM, argv[1], RTLD_NOW) : NULL;
    if (!h) { printf("dlmopen: %s\n", dlerror()); return 1; }
    size_t (*hold)(void) = (size_t (*)(void))dlsym(h, argc > 2 ? "ns_hold_thread" : "ns_hold_real");
    void (*drop)(void) = (void (*)(void))dlsym(h, "ns_drop_real");
    printf("held %zu\n", hold());
    drop();
    return dlclose(h);
}
EOF
cc -o alloc_host alloc_host.c -ldl
for a in tcmalloc_minimal.so.4 mimalloc.so.2; do
    f=/usr/lib/$(gcc -print-multiarch)/lib$a
    [ -e "$f" ] || { fail "lib$a in a namespace: $f is not installed"; continue; }
    cc -shared -fPIC -O1 -o "libuse-$a" alloc_user.c "$f" -pthread
    NAME=alloc_host PROG=$PWD/alloc_host same "lib$a linked into a library in a namespace" "$PWD/libuse-$a"
    held=$(awk '{print $2}' shim.out) NAME=alloc_host
    eq "lib$a: its own usable sizes, as bare (not glibc's 5000 a block)" "$held" 5120000
    bounded "lib$a: the peak heap is what it held" "$(sum s.jsonl peak_heap_bytes)" "$held" $((held + 65536)) 0
    eq "lib$a: its own mappings are not the program's" "$(sum s.jsonl peak_mmap_bytes)" 0
    eq "lib$a: exact" "$(sum s.jsonl 'inexact | length')" 0
    # a thread its pthread_create made, holding the same and ending: that
    # libc's thread-specific keys share their slots with the base libc's,
    # so the shim sets none on it (before, the shim's key reached that
    # thread's own destructor of the same number: tcmalloc hung, mimalloc
    # crashed)
    NAME=alloc_host PROG=$PWD/alloc_host same "lib$a: a thread of the namespace's" "$PWD/libuse-$a" thread
    bounded "lib$a: a thread of the namespace's: the peak heap is what it held" \
        "$(sum s.jsonl peak_heap_bytes)" "$held" $((held + 65536 * 4)) 0
    NAME=ns_plugin
done

# one without a malloc_usable_size of its own cannot be counted: passed
# through as bare, and said so
cc -shared -fPIC -O1 -DNS_NO_USABLE -DNSA_NO_USABLE -o libnspass.so ns_lib.c ns_alloc.c
WARNED=1 same "an allocator of the library's own without malloc_usable_size" hold "$PWD/libnspass.so" pass.facts
eq "... still serves every call" "$(fact pass.facts nsa_calls) $(fact pass.facts nsa_foreign)" "2002 0"
eq "... said in inexact" "$(sum s.jsonl 'inexact[]')" "dlmopen: a library in another link namespace allocates past the hooks"
eq "... and one warning" "$(grep -c 'did not count' shim.err)" 1

# ---- the namespace holds what the library brings, no more ----
# libc comes with the library, from where its scope finds it: a library
# with a libc of its own beside it (RUNPATH) gets that one, as bare; and a
# library that needs no libc takes none of the static TLS each copy of libc
# takes, so as many namespaces open as bare (before, each namespace had
# the system's libc, loaded by the shim, and the 12th open failed)
mkdir -p bundled && cp "$(gcc -print-file-name=libc.so.6)" bundled/libc.so.6
printf '#define _GNU_SOURCE\n#include <dlfcn.h>\n#include <stdio.h>\nint ns_which(void) { Dl_info i; if (!dladdr((void *)&printf, &i)) return 1; printf("printf from %%s\\n", i.dli_fname); return fflush(stdout); }\n' > which.c
cc -shared -fPIC -o bundled/libwhich.so which.c -Wl,--enable-new-dtags,-rpath,"$PWD/bundled"
printf 'int ns_nothing(void) { return 7; }\n' > nolibc.c
cc -shared -fPIC -nostdlib -o libnolibc.so nolibc.c
cat > ns_more.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
/* ns_more which LIB: LIB's ns_which() in a new namespace; ns_more many LIB:
 * LIB into 12 new namespaces, then libm.so.6 into one more */
int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "which")) {
        void *h = dlmopen(LM_ID_NEWLM, argv[2], RTLD_NOW);
        int (*which)(void) = h ? (int (*)(void))dlsym(h, "ns_which") : NULL;
        return which ? which() : 2;
    }
    for (int i = 0; argc > 2 && i < 12; i++)
        if (!dlmopen(LM_ID_NEWLM, argv[2], RTLD_NOW)) {
            printf("open %d: %s\n", i, dlerror());
            return 1;
        }
    void *m = dlmopen(LM_ID_NEWLM, "libm.so.6", RTLD_NOW);
    printf("then libm: %s\n", m ? "opened" : dlerror());
    return 0;
}
EOF
cc -o ns_more ns_more.c -ldl
NAME=ns_more PROG=$PWD/ns_more same "a library whose RUNPATH has a libc of its own" which "$PWD/bundled/libwhich.so"
eq "... calls that libc, as bare" "$(cat shim.out)" "printf from $PWD/bundled/libc.so.6"
NAME=ns_more PROG=$PWD/ns_more same "12 namespaces of a library without libc, then libm" many "$PWD/libnolibc.so"
eq "... libm opens, as bare" "$(cat shim.out)" "then libm: opened"

# the scope as the loader builds it: an allocator a library needs by
# $ORIGIN/sub/... (its DT_NEEDED names it so; the allocator, built again
# after the link, has another DT_SONAME)
mkdir -p orig/sub
cc -shared -fPIC -O1 -o orig/sub/libnsalloc2.so ns_alloc.c -Wl,-soname,'$ORIGIN/sub/libnsalloc2.so'
cc -shared -fPIC -O1 -o orig/libnsorig.so ns_lib.c orig/sub/libnsalloc2.so
cc -shared -fPIC -O1 -o orig/sub/libnsalloc2.so ns_alloc.c -Wl,-soname,libnsalloc2.so
timeout -k 5 60 "$P" hold "$PWD/orig/libnsorig.so" bareorig.facts > /dev/null
same "an allocator needed by \$ORIGIN/sub/..." hold "$PWD/orig/libnsorig.so" orig.facts
eq "... serves the library as bare" "$(fact orig.facts nsa_calls)" "$(fact bareorig.facts nsa_calls)"
# nobody waits for the binding: a library whose constructor starts a thread
# that allocates from inside a dl_iterate_phdr callback (the loader's list
# lock held) while the constructor's own first call binds, then waits for
# that thread (before, both waited for each other for good)
cat > cbwait.c <<'EOF'
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
static _Atomic int inside;
static int walked(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)info, (void)size, (void)arg;
    if (!inside) {
        inside = 1;
        nanosleep(&(struct timespec){0, 200000000}, NULL);
        free(malloc(10));
    }
    return 0;
}
static void *walker(void *arg) { (void)arg; dl_iterate_phdr(walked, NULL); return NULL; }
__attribute__((constructor)) static void start(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, walker, NULL) != 0)
        return;
    while (!inside)
        ;
    free(malloc(20));
    pthread_join(t, NULL);
}
int ns_which(void) { return 0; }
EOF
cc -shared -fPIC -o libcbwait.so cbwait.c -pthread
NAME=ns_more PROG=$PWD/ns_more same "a constructor's thread allocating in a dl_iterate_phdr callback while the binding is made" \
    which "$PWD/libcbwait.so"

# ---- allocation sites: named, and their blocks reachable ----
# The library keeps 100 blocks and 100 strings in its globals at exit.  The
# namespace's objects are modules (named frames, through the namespace
# object's own walk of its namespace), the namespace object's hook frames
# are cut off as the shim's are, and the leak check reads the library's
# globals as roots: nothing is "definitely lost".
cc -shared -fPIC -g -O1 -o libnsg.so ns_lib.c
rm -f keep.jsonl
PERFPROBE_STACKS=all PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/keep.jsonl LD_PRELOAD=$S \
    timeout -k 5 60 "$P" keep "$PWD/libnsg.so" keep.facts > keep.out
eq "keep: status and output" "$? $(cat keep.out)" "0 kept"
"$PP" report --json --process ns_plugin keep.jsonl > keep.json
nsite() { jq -r --arg fn "$1" "[.sites[] | select(.frames[0].fn == \$fn)][0].$2" keep.json; }
eq "keep: the library's own malloc calls are a site whose first frame is ns_hold" \
    "$(nsite ns_hold live_blocks) $(nsite ns_hold live_bytes)" "100 100000"
eq "keep: libc's strdup in the namespace is a site whose first frame is in libc" \
    "$(nsite __strdup live_blocks) $(nsite __strdup 'frames[1].fn')" "100 ns_hold"
eq "keep: no frame of the namespace object" \
    "$(jq '[.sites[].frames[].module // "" | select(test("libperfprobe-ns"))] | length' keep.json)" 0
eq "keep: nothing definitely lost (the library's globals are roots)" \
    "$(jq '[.sites[].lost_bytes] | add' keep.json)" 0
check "keep: what the library holds is live at exit" \
    test "$(jq '[.sites[].live_bytes] | add' keep.json)" -ge 200000

# ---- $ORIGIN: the caller stays the program ----
mkdir -p o && cp libns.so "$P" o/
(cd o && PROG=./ns_plugin same "\$ORIGIN/libns.so" hold '$ORIGIN/libns.so' o.facts)
check "\$ORIGIN/libns.so: counted" test "$(sum o/s.jsonl peak_heap_bytes)" -ge "$(fact o/o.facts ns_usable)"
eq "\$ORIGIN/libns.so: exact" "$(sum o/s.jsonl 'inexact | length')" 0

# ---- namespaces come and go as bare ----
# each closed namespace must go away: glibc gives at most 15, fewer where
# each copy of libc takes static TLS
same "40 namespaces opened and closed in turn" cycle "$LIB" 40
le "40 namespaces: heap at exit under 64 KiB" "$(sum s.jsonl heap_bytes_at_exit)" 65535
# a failed open takes the namespace made for it with it: not one fewer for
# the program, and dlerror is the loader's own message
same "30 failed opens, then one" fail "$LIB" 30
eq "30 failed opens: dlerror each time" "$(grep -c 'cannot open shared object file' shim.out)" 30
same "as many namespaces at once as bare" many "$LIB"
same "two threads opening and closing namespaces at once" threads "$LIB" 3
# a thread with a 16 KiB stack (PTHREAD_STACK_MIN) opening a library whose
# constructor allocates 1 MiB: the hook's sampled stack walk runs deep in
# the loader's frames, and must stay within such a stack (its 8 KiB of
# buffers for the sampler's copies once ran past the guard page into the
# shim's counters below: SIGSEGV in about half the runs)
printf '#include <stdlib.h>\nstatic void *kept;\n__attribute__((constructor)) static void init(void) { kept = malloc(1 << 20); }\n__attribute__((destructor)) static void fini(void) { free(kept); }\n' > big.c
cc -shared -fPIC -O1 -o libnsbig.so big.c
same "a 16 KiB stack opening a namespace whose constructor allocates 1 MiB, 10 times" small "$PWD/libnsbig.so" 10
# a dlclose made by a destructor inside the program's dlclose is deferred by
# glibc; only the outer one may close namespaces (else one is lost for good)
printf '#include <dlfcn.h>\n__attribute__((destructor)) static void bye(void) { void *h = dlopen("libm.so.6", RTLD_NOW); if (h) dlclose(h); }\n' > dtor.c
cc -shared -fPIC -o libdtor.so dtor.c
same "a dlclose inside a destructor, then as many namespaces as bare" dtor "$LIB" "$PWD/libdtor.so"

# ---- exit and exec made inside the namespace ----
# Its libc's exit, _exit and exec family end or replace the process past
# the shim's own hooks; the namespace object's make the shim's part first:
# the summary before exit (whose handlers are the namespace's, as bare),
# the exec record before an exec, and the image going on if it failed
same "exit(5) inside the namespace" exit "$LIB" 5
check "exit inside: the summary is written, with the program's 3 MiB" \
    test "$(sum s.jsonl peak_heap_bytes)" -ge $((3 << 20))
same "_exit(6) inside the namespace" _exit "$LIB" 6
eq "_exit inside: no summary, as at the shim's own _exit" "$(of_program s.jsonl)" null
same "execvp of echo inside the namespace" exec "$LIB" echo from-the-namespace
images() { jq -r -s '(map(select(.type == "header" and .program == "ns_plugin")) | .[0].pid) as $p
    | map(select(.pid == $p and (.type == "header" or .type == "exec" or .type == "exec_failed")))
    | map("\(.type) \(.program // .path // "")") | .[index("header ns_plugin"):] | join(", ")' "$1"; }
eq "exec inside: the image ends with its exec record, then echo is the pid's next image" \
    "$(images s.jsonl)" "header ns_plugin, exec echo, header echo"
same "a failed exec inside the namespace" exec "$LIB" /nonexistent/prog
eq "failed exec inside: the image goes on, the program's errno untouched" \
    "$(images s.jsonl) / $(tail -1 shim.out)" \
    "header ns_plugin, exec /nonexistent/prog, exec_failed /nonexistent/prog / exec failed there: No such file or directory; the program's errno 0"
check "failed exec inside: the summary is written" test "$(sum s.jsonl peak_heap_bytes)" -ge $((3 << 20))
# a fork made by the namespace's libc runs none of the base libc's
# preparations: the shim makes its own part around it (its locks; the
# child records, with no sampler thread), so the child has its header, and
# its summary at an exit made there, holding the 2 MiB it allocated
child() { jq -s -c --arg w "$2" '(map(select(.type == "header" and .program == "ns_plugin"))) as $h
    | ($h[0].pid) as $p | ($h | map(select(.ppid == $p)) | .[0].pid) as $c
    | if $w == "pid" then $c else (map(select(.type == "summary" and .pid == $c)) | .[0]) end' "$1"; }
same "a fork inside the namespace, the child ending by exit" fork "$LIB" 0
check "fork inside: the child has a header of its own (a pid, its parent the program)" \
    test "$(child s.jsonl pid)" -gt 0
check "fork inside, exit: the child's summary holds its 2 MiB" \
    test "$(child s.jsonl summary | jq -r .peak_heap_bytes)" -ge $((2 << 20))
same "a fork inside the namespace, the child ending by _exit" fork "$LIB" 1
check "fork inside, _exit: the child has a header of its own" test "$(child s.jsonl pid)" -gt 0
eq "fork inside, _exit: no summary, as at the shim's own _exit" "$(child s.jsonl summary)" null


# ---- a relative LD_PRELOAD, and a program that changed directory ----
rm -f rel.jsonl
(cd "$(dirname "$S")" && PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$OLDPWD/rel.jsonl \
    LD_PRELOAD=./$(basename "$S") timeout -k 5 60 "$P" chdir "$LIB" "$OLDPWD/rel.facts" > /dev/null 2> "$OLDPWD/rel.err")
eq "relative LD_PRELOAD, chdir before dlmopen: nothing on stderr" "$(cat rel.err)" ""
check "relative LD_PRELOAD, chdir before dlmopen: counted" \
    test "$(sum rel.jsonl peak_heap_bytes)" -ge "$(fact rel.facts ns_usable)"

# ---- what cannot be counted says so ----
# RTLD_DEEPBIND: the library's own libc comes before the namespace object
WARNED=1 same "RTLD_DEEPBIND into a new namespace" deep "$LIB"
eq "RTLD_DEEPBIND into a new namespace: one warning" "$(grep -c 'did not count' shim.err)" 1
eq "RTLD_DEEPBIND into a new namespace: the summary's inexact names dlmopen" \
    "$(sum s.jsonl 'inexact[]')" "dlmopen: a library in another link namespace allocates past the hooks"
# a library inside the namespace that opens another: with dlopen into its
# own namespace, counted; with RTLD_DEEPBIND, or dlmopen for yet another
# namespace, past the hooks, and said so
cp libns.so libns2.so
WARNED=1 same "nested: dlopen from inside the namespace" nested "$LIB" "$PWD/libns2.so" plain plain.facts
eq "nested dlopen: exact, no warning" "$(sum s.jsonl 'inexact | length') $(cat shim.err)" "0 "
check "nested dlopen: counted" test "$(sum s.jsonl peak_heap_bytes)" -ge "$(fact plain.facts ns_usable)"
WARNED=1 same "nested: dlopen with RTLD_DEEPBIND from inside the namespace" nested "$LIB" "$PWD/libns2.so" deep deep.facts
eq "nested RTLD_DEEPBIND: the summary's inexact names it" \
    "$(sum s.jsonl 'inexact[]')" "RTLD_DEEPBIND: a library's allocations bypass the hooks"
eq "nested RTLD_DEEPBIND: one warning" "$(grep -c RTLD_DEEPBIND shim.err)" 1
WARNED=1 same "nested: dlmopen from inside the namespace" nested "$LIB" "$PWD/libns2.so" dlmopen dlm.facts
eq "nested dlmopen: the summary's inexact names it" \
    "$(sum s.jsonl 'inexact[]')" "dlmopen: a library in another link namespace allocates past the hooks"
eq "nested dlmopen: one warning" "$(grep -c 'did not count' shim.err)" 1

# the shim without its namespace object beside it: as before the object,
# the heap leaves the library out and says so; the RSS breakdown's heap
# (anonymous memory the shim did not map) holds the 4 MB it touched
mkdir -p alone && cp "$S" alone/
PERFPROBE_INTERVAL_MS=5 PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/alone.jsonl LD_PRELOAD=$PWD/alone/$(basename "$S") \
    timeout -k 5 60 "$P" hold "$LIB" alone.facts > alone.out 2> alone.err
eq "no namespace object: status and output" "$? $(cat alone.out)" "0 namespace new, held and dropped"
eq "no namespace object: one warning names it" "$(grep -c 'libperfprobe-ns.so missing' alone.err)" 1
eq "no namespace object: the summary's inexact names dlmopen" \
    "$(sum alone.jsonl 'inexact[]')" "dlmopen: a library in another link namespace allocates past the hooks"
le "no namespace object: the counted heap leaves the library out (under 1 MiB)" \
    "$(sum alone.jsonl peak_heap_bytes)" $(((1 << 20) - 1))
le "no namespace object: the RSS breakdown's heap at the peak holds what it touched" \
    "$(fact alone.facts ns_usable)" "$(sum alone.jsonl rss_parts_at_peak.heap)"
# a namespace object of another build (its table's version differs): it
# refuses the table, and the shim closes that namespace and goes on as
# without the object; the library's calls are served as bare
mkdir -p other && cp "$S" other/
cc -shared -nostdlib -fPIC -O2 -fvisibility=hidden -ffreestanding -fno-stack-protector \
    -DPP_NS_LINK_VERSION=99 -I"$PP_ROOT/shim" -o other/libperfprobe-ns.so "$PP_ROOT/shim/ns/nsshim.c"
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/other.jsonl LD_PRELOAD=$PWD/other/$(basename "$S") \
    timeout -k 5 60 "$P" hold "$LIB" other.facts > other.out 2> other.err
eq "an object of another build: status and output" "$? $(cat other.out)" "0 namespace new, held and dropped"
eq "an object of another build: one warning" "$(grep -c 'did not count' other.err)" 1
eq "an object of another build: the library held what it meant to" "$(fact other.facts ns_calls)" 2001

# a libpython opened with dlmopen, as embedders that want an interpreter
# apart do: its extension modules (shared objects the interpreter opens
# into the namespace) call its functions by name, found in the global
# scope; it holds 20 MB in bytearrays
pylib=$(python3 -c 'import os, sysconfig as s; print(os.path.join(s.get_config_var("LIBDIR"), s.get_config_var("INSTSONAME")))')
cat > pyns.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
/* pyns LIBPYTHON CODE: LIBPYTHON in a new namespace runs CODE */
int main(int argc, char **argv)
{
    void *h = argc > 2 ? dlmopen(LM_ID_NEWLM, argv[1], RTLD_NOW | RTLD_LOCAL) : NULL;
    if (!h) {
        printf("open: %s\n", dlerror());
        return 1;
    }
    ((void (*)(void))dlsym(h, "Py_Initialize"))();
    int rc = ((int (*)(const char *))dlsym(h, "PyRun_SimpleString"))(argv[2]);
    ((void (*)(void))dlsym(h, "Py_Finalize"))();
    printf("ran: %d\n", rc);
    return 0;
}
EOF
cc -o pyns pyns.c -ldl
py='import _ctypes, _decimal, _json
kept = [bytearray(1000) for _ in range(20000)]
print("held", sum(map(len, kept)), "from", _ctypes.__file__.endswith(".so"), _decimal.__file__.endswith(".so"))'
if [ -f "$pylib" ]; then
    NAME=pyns PROG=$PWD/pyns same "libpython in a new namespace, importing extension modules" "$pylib" "$py"
    eq "... they loaded, from their shared objects" "$(head -1 shim.out)" "held 20000000 from True True"
    eq "... exact" "$(NAME=pyns sum s.jsonl 'inexact | length')" 0
    bounded "... the peak heap holds the 20 MB" "$(NAME=pyns sum s.jsonl peak_heap_bytes)" \
        20000000 $((20000000 + (8 << 20))) 0
else
    fail "libpython in a new namespace: no $pylib (python3-dev brings it: make deps)"
fi

# a library that keeps itself open (its own dlopen of itself, from inside
# its namespace) past the program's last dlclose, then opens a plugin that
# calls it: bare, the library is still the namespace's first object and
# the plugin finds its names; the shim closes its first object only once
# the loader refuses one more dlclose of the library (no direct open left)
cat > keep_root.c <<'EOF'
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>
int host_api(void) { return 42; }
__thread int host_tls = 7;
__attribute__((destructor)) static void gone(void) { (void)!write(1, "root: gone\n", 11); }
int keep_self(const char *me) { return dlopen(me, RTLD_NOW | RTLD_NOLOAD) != NULL; }
int open_sub(const char *p)
{
    void *h = dlopen(p, RTLD_NOW);
    int (*f)(void) = h ? (int (*)(void))dlsym(h, "sub_call") : NULL;
    if (!h)
        printf("sub: %s\n", dlerror());
    return f ? f() : -1;
}
EOF
printf 'int host_api(void);\nint sub_call(void) { return host_api() + 1; }\n' > keep_sub.c
cat > ns_keep.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
/* ns_keep ROOT SUB: ROOT in a new namespace keeps itself open; the
 * program closes it; then ROOT opens SUB, which calls ROOT.
 * ns_keep ROOT SUB NEEDER: ROOT in a new namespace, then NEEDER (which
 * needs ROOT, or calls it) into it; the program closes ROOT, then opens
 * SUB there, then closes SUB and NEEDER (ROOT's destructor says when it
 * goes).  NS_KEEP_TAKE=ADDR: 1 MiB at ADDR taken first (a library
 * linked to load there goes elsewhere) */
int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (getenv("NS_KEEP_TAKE"))
        mmap((void *)strtoul(getenv("NS_KEEP_TAKE"), NULL, 0), 1 << 20, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    void *h = argc > 2 ? dlmopen(LM_ID_NEWLM, argv[1], RTLD_NOW) : NULL;
    if (!h)
        return 1;
    if (argc > 3) {
        Lmid_t ns;
        void *needer = dlinfo(h, RTLD_DI_LMID, &ns) == 0 ? dlmopen(ns, argv[3], RTLD_NOW) : NULL;
        printf("needer: %s\n", needer ? "opened" : dlerror());
        printf("closed: %d\n", dlclose(h));
        void *s = needer ? dlmopen(ns, argv[2], RTLD_NOW) : NULL;
        int (*call)(void) = s ? (int (*)(void))dlsym(s, "sub_call") : NULL;
        printf("the plugin then: %d%s%s\n", call ? call() : -1, s ? "" : " ", s ? "" : dlerror());
        if (s)
            dlclose(s);
        printf("needer closing\n");
        if (needer)
            dlclose(needer);
        printf("closed\n");
        return 0;
    }
    int (*keep)(const char *) = (int (*)(const char *))dlsym(h, "keep_self");
    int (*sub)(const char *) = (int (*)(const char *))dlsym(h, "open_sub");
    printf("kept: %d\n", keep(argv[1]));
    printf("closed: %d (%s)\n", dlclose(h), dlerror() ? "an error" : "no error");
    printf("the plugin then: %d\n", sub(argv[2]));
    return 0;
}
EOF
cc -shared -fPIC -o libkeep_root.so keep_root.c && cc -shared -fPIC -o libkeep_sub.so keep_sub.c
cc -o ns_keep ns_keep.c -ldl
NAME=ns_keep PROG=$PWD/ns_keep same "a library that keeps itself open past the program's dlclose, then opens a plugin that calls it" \
    "$PWD/libkeep_root.so" "$PWD/libkeep_sub.so"
eq "... the plugin found its names, and dlerror was the program's" "$(tr '\n' '/' < shim.out)" \
    "kept: 1/closed: 0 (no error)/the plugin then: 43/root: gone/"
# ... and the same library closed while another object opened into the
# namespace since still uses it: kept DESC ROOT USER opens ROOT, then USER
# there, closes ROOT, opens the plugin (which calls ROOT), then closes the
# others: as bare, and ROOT goes with the last that used it
kept() {
    NAME=ns_keep PROG=$PWD/ns_keep same "$1" "$2" "$PWD/libkeep_sub.so" "$3"
    eq "... the plugin found its names; the library went with the last user" \
        "$(tr '\n' '/' < shim.out)" "needer: opened/closed: 0/the plugin then: 43/needer closing/root: gone/closed/"
}
# one that needs it (DT_NEEDED)
printf 'int needer(void) { return 1; }\n' > keep_needer.c
cc -shared -fPIC -o libkeep_needer.so keep_needer.c -Wl,--no-as-needed "$PWD/libkeep_root.so"
kept "a library another one there needs, closed by the program, then a plugin that calls it" \
    "$PWD/libkeep_root.so" "$PWD/libkeep_needer.so"
# one that calls it, found through the namespace's global scope (no
# DT_NEEDED: bare, the loader keeps the library for the reference bound
# into it)
printf 'int host_api(void);\nint user(void) { return host_api(); }\n' > keep_user.c
cc -shared -fPIC -o libkeep_user.so keep_user.c
kept "a library another one there calls by name, closed by the program, then a plugin that calls it" \
    "$PWD/libkeep_root.so" "$PWD/libkeep_user.so"
# one that reads its thread variable (TLS relocations: a module and an
# offset, not an address)
printf 'extern __thread int host_tls;\nint user(void) { return host_tls; }\n' > keep_tls.c
cc -shared -fPIC -o libkeep_tls.so keep_tls.c
kept "a library another one there reads a thread variable of, closed by the program, then a plugin" \
    "$PWD/libkeep_root.so" "$PWD/libkeep_tls.so"
# but not one whose reference asks for a version the library does not
# define (foo@X_1 against its foo@@ROOT_1): bare, the loader binds it
# elsewhere, and the library goes with the program's dlclose
printf 'int foo(void) { return 1; }\n' > keep_x.c
printf 'X_1 { global: foo; };\n' > keep_x.map
printf 'ROOT_1 { global: *; };\n' > keep_root2.map
sed 's/^int host_api(void) { return 42; }$/&\nint foo(void) { return 2; }/' keep_root.c > keep_root2.c
printf 'int foo(void);\nint user(void) { return foo(); }\n' > keep_vuser.c
cc -shared -fPIC -o libkeep_x.so keep_x.c -Wl,--version-script=keep_x.map
cc -shared -fPIC -o libkeep_root2.so keep_root2.c -Wl,--version-script=keep_root2.map
cc -shared -fPIC -o libkeep_vuser.so keep_vuser.c -Wl,--no-as-needed "$PWD/libkeep_x.so"
NAME=ns_keep PROG=$PWD/ns_keep same "a library another one there asks another version of a name of, closed by the program" \
    "$PWD/libkeep_root2.so" "$PWD/libkeep_sub.so" "$PWD/libkeep_vuser.so"
eq "... it went with the program's dlclose, as bare" "$(head -3 shim.out | tr '\n' '/')" \
    "needer: opened/root: gone/closed: 0/"
# the library opened by a bare name (found on LD_LIBRARY_PATH, no
# DT_SONAME), which another one there needs by that name
cc -shared -fPIC -o libkeep_byname.so keep_needer.c -L"$PWD" -Wl,--no-as-needed -lkeep_root
LD_LIBRARY_PATH=$PWD kept "a library opened by a bare name without DT_SONAME that another needs by it, closed, then a plugin" \
    libkeep_root.so "$PWD/libkeep_byname.so"
# but not one that needs the same bare name and found another file by it
# (its own copy, on its RUNPATH): bare, the library goes with the
# program's dlclose
mkdir -p mine theirs
cp libkeep_root.so mine/libkeep_dup.so
printf 'int other(void) { return 0; }\n' > keep_dup.c
cc -shared -fPIC -o theirs/libkeep_dup.so keep_dup.c
cc -shared -fPIC -o libkeep_dupuser.so keep_needer.c -L"$PWD/theirs" -Wl,--no-as-needed -lkeep_dup \
    -Wl,--enable-new-dtags,-rpath,"$PWD/theirs"
NAME=ns_keep PROG=$PWD/ns_keep same "a library another one there needs a namesake of (another file), closed by the program" \
    "$PWD/mine/libkeep_dup.so" "$PWD/libkeep_sub.so" "$PWD/libkeep_dupuser.so"
eq "... it went with the program's dlclose, as bare" "$(head -3 shim.out | tr '\n' '/')" \
    "needer: opened/root: gone/closed: 0/"
# one whose dynamic section is read-only (the loader leaves its addresses
# as linked), linked at an address that is taken, so that it loads below
# it: its entries are not addresses, read as written
if cc -shared -fPIC -fuse-ld=lld -Wl,-z,rodynamic -Wl,--image-base=0x400000000000 \
        -o libkeep_rodyn.so keep_user.c 2> rodyn.err; then
    NS_KEEP_TAKE=0x400000000000 kept "a library with a read-only dynamic section, loaded away from its link address, calling one the program closes" \
        "$PWD/libkeep_root.so" "$PWD/libkeep_rodyn.so"
else
    fail "no lld to link a read-only dynamic section (make deps): $(head -1 rodyn.err)"
fi

# ---- what a library walking its namespace sees ----
# dl_iterate_phdr from inside the namespace (a constructor's walk, and one
# after the open): bare, the library comes first, then what it needs; the
# shim's first object and the table's holder are left out and its
# namespace object comes last.  A C++ library there throws and catches
# (its unwinder finds each frame's tables through the loader)
cat > walker.c <<'EOF'
#define _GNU_SOURCE
#include <link.h>
#include <string.h>
#include <unistd.h>
static int one(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    const char *n = info->dlpi_name && *info->dlpi_name ? info->dlpi_name : "(none)";
    strcat(arg, strrchr(n, '/') ? strrchr(n, '/') + 1 : n);
    strcat(arg, " ");
    return 0;
}
static void *caller;
static int first(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    *(const char **)arg = info->dlpi_name;
    caller = __builtin_return_address(0);
    return 7;
}
/* whether the object that called the callback is one the walk lists (an
 * unwinder that finds frames through dl_iterate_phdr needs it) */
static int holds_caller(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        char *lo = (char *)info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (char *)caller >= lo && (char *)caller < lo + ph->p_memsz)
            *(int *)arg = 1;
    }
    return 0;
}
const char *walk_names(void)
{
    static char out[4096];
    const char *f = NULL;
    out[0] = 0;
    dl_iterate_phdr(one, out);
    int rc = dl_iterate_phdr(first, &f);
    strcat(out, "| first ");
    strcat(out, f && strrchr(f, '/') ? strrchr(f, '/') + 1 : "?");
    strcat(out, rc == 7 ? " (its answer)" : " (another answer)");
    int listed = 0;
    dl_iterate_phdr(holds_caller, &listed);
    strcat(out, listed ? ", its caller listed" : ", its caller not listed");
    return out;
}
__attribute__((constructor)) static void at_open(void)
{
    const char *s = walk_names();
    (void)!write(1, "constructor: ", 13);
    (void)!write(1, s, strlen(s));
    (void)!write(1, "\n", 1);
}
EOF
cat > thrower.cc <<'EOF'
#include <stdexcept>
#include <string>
#include <vector>
extern "C" int throw_catch(int n)
{
    int caught = 0;
    for (int i = 0; i < n; i++) {
        try {
            std::vector<std::string> v(100, std::string(64, 'x'));
            throw std::runtime_error("round " + std::to_string(i));
        } catch (const std::exception &e) {
            caught += e.what()[0] == 'r';
        }
    }
    return caught;
}
EOF
cat > ns_walk.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
/* ns_walk WALKER THROWER: each in a new namespace */
int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    void *w = argc > 2 ? dlmopen(LM_ID_NEWLM, argv[1], RTLD_NOW) : NULL;
    void *t = w ? dlmopen(LM_ID_NEWLM, argv[2], RTLD_NOW) : NULL;
    if (!w || !t) {
        printf("open: %s\n", dlerror());
        return 1;
    }
    printf("after: %s\n", ((const char *(*)(void))dlsym(w, "walk_names"))());
    printf("caught: %d\n", ((int (*)(int))dlsym(t, "throw_catch"))(1000));
    return 0;
}
EOF
cc -shared -fPIC -o libwalker.so walker.c && g++ -shared -fPIC -o libthrower.so thrower.cc
cc -o ns_walk ns_walk.c -ldl
timeout -k 5 60 ./ns_walk "$PWD/libwalker.so" "$PWD/libthrower.so" > walk.bare
rm -f s.jsonl
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/s.jsonl LD_PRELOAD=$S timeout -k 5 60 ./ns_walk "$PWD/libwalker.so" "$PWD/libthrower.so" > walk.shim 2> walk.err
eq "a library walking its namespace: exit status 0" $? 0
eq "... bare, it comes first, then what it needs" "$(sed -n 1p walk.bare)" \
    "constructor: libwalker.so libc.so.6 ld-linux-x86-64.so.2 | first libwalker.so (its answer), its caller listed"
eq "... a constructor's walk under the shim: bare's, the namespace object last" "$(sed -n 1p walk.shim)" \
    "constructor: libwalker.so libc.so.6 ld-linux-x86-64.so.2 libperfprobe-ns.so | first libwalker.so (its answer), its caller listed"
eq "... and one after the open" "$(sed -n 2p walk.shim)" \
    "after: libwalker.so libc.so.6 ld-linux-x86-64.so.2 libperfprobe-ns.so | first libwalker.so (its answer), its caller listed"
eq "a C++ library in a namespace throws and catches 1000 times, as bare" \
    "$(sed -n 3p walk.shim) / $(sed -n 3p walk.bare)" "caught: 1000 / caught: 1000"
eq "... nothing on stderr" "$(cat walk.err)" ""
check "... every line of the timeline is JSON" valid_jsonl s.jsonl

# ---- PERFPROBE_NAMESPACES=0: left alone, and said so ----
PERFPROBE_NAMESPACES=0 WARNED=1 same "off: dlmopen into a new namespace" hold "$LIB" def.facts
eq "off: one warning, naming the setting" "$(grep -c 'PERFPROBE_NAMESPACES=0' shim.err)" 1
eq "off: the summary's inexact names dlmopen" \
    "$(sum s.jsonl 'inexact[]')" "dlmopen: a library in another link namespace allocates past the hooks"
le "off: the counted heap leaves the library out (under 1 MiB)" "$(sum s.jsonl peak_heap_bytes)" $(((1 << 20) - 1))
eq "off: no namespace object was opened (no module of it)" \
    "$(jq -r 'select(.type == "module") | .path' s.jsonl | grep -c libperfprobe-ns)" 0

# ---- a library opened there later finds the first one's names ----
# Bare, a namespace's global scope is its first object's, so a library
# opened there later (a plugin's own plugin, a C extension of a libpython
# opened so) finds the first library's names.  The shim's first object
# needs the library after the namespace object, so its scope holds both,
# as an executable's holds the preloads and the program's libraries: the
# plugin's plugin loads, and the 3 MiB it holds are counted
printf 'int host_api(void) { return 42; }\n' > host.c
printf '#include <stdlib.h>\nint host_api(void);\nvoid *kept;\nint ns_which(void) { kept = malloc(3 << 20); return host_api() == 42 && kept ? 0 : 3; }\n' > sub.c
cc -shared -fPIC -o libhost.so host.c && cc -shared -fPIC -o libsub.so sub.c
printf '#include <dlfcn.h>\nint ns_which(void) { void *h = dlopen("%s", RTLD_NOW); int (*f)(void) = h ? (int (*)(void))dlsym(h, "ns_which") : 0; return f ? f() : 5; }\n' "$PWD/libsub.so" > opener.c
cc -shared -fPIC -o libopener.so opener.c -Wl,--no-as-needed libhost.so -Wl,-rpath,"$PWD"
NAME=ns_more PROG=$PWD/ns_more same "a library that opens a plugin of its own, which uses its names" \
    which "$PWD/libopener.so"
eq "... exact" "$(NAME=ns_more sum s.jsonl 'inexact | length')" 0
check "... the plugin's plugin's 3 MiB counted" test "$(NAME=ns_more sum s.jsonl peak_heap_bytes)" -ge $((3 << 20))
PERFPROBE_NAMESPACES=0 WARNED=1 NAME=ns_more PROG=$PWD/ns_more same "off: the plugin's own plugin" \
    which "$PWD/libopener.so"
le "off: the plugin's plugin's 3 MiB left out" "$(NAME=ns_more sum s.jsonl peak_heap_bytes)" $(((1 << 20) - 1))

# threads a library in a namespace makes, one after another, each calling
# back into the program, which marks a region and allocates: the shim's
# state for each goes when the thread ends (that libc runs its own keys'
# destructors, not the shim's), whether its start routine returns
# ("return"), it calls pthread_exit ("exit"), it is cancelled ("cancel"),
# or the call back comes from a destructor of a key of that libc's run
# after the start routine returned, numbered after the shim's key there so
# that it runs after the shim's destructor in the same round ("dtor"), and
# again in each of glibc's four rounds ("rounds": a region begun in the
# last is not timed, and its state is not kept); and with 32 keys made by
# the library's constructor, so that the shim has no number left for its
# key there ("return" again, "many": given back when the start routine
# returns).  Ground truth: the program's own resident growth over the
# 2,000 threads, bare (before, under the shim: +58 to +131 MiB where bare
# grew 2, in each way but "return")
cat > pool.c <<'EOF'
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
enum { RETURN, EXIT, CANCEL, DTOR, ROUNDS };
struct job { void (*fn)(void); int how; };
static pthread_key_t late;
static struct job job;
static void late_dtor(void *v)
{
    uintptr_t round = (uintptr_t)v;
    job.fn();
    if (job.how == ROUNDS && round < 4)
        pthread_setspecific(late, (void *)(round + 1));
}
__attribute__((constructor)) static void many_keys(void)
{
    pthread_key_t k;
    int n = getenv("POOL_KEYS") ? atoi(getenv("POOL_KEYS")) : 0;
    for (int i = 0; i < n; i++)
        pthread_key_create(&k, 0);
}
static void *run(void *a)
{
    (void)a;
    if (job.how == DTOR || job.how == ROUNDS) {
        pthread_setspecific(late, (void *)1);
        return 0;
    }
    job.fn();
    if (job.how == EXIT)
        pthread_exit(0);
    if (job.how == CANCEL) {
        pthread_cancel(pthread_self());
        pthread_testcancel();
    }
    return 0;
}
int run_threads(void (*fn)(void), int n, const char *how)
{
    static const char *const hows[] = {"return", "exit", "cancel", "dtor", "rounds"};
    job.fn = fn;
    job.how = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(how, hows[i]) == 0)
            job.how = i;
    if (job.how < 0)
        return -1;
    if (job.how == DTOR || job.how == ROUNDS) {
        pthread_key_t k = 0;
        while (k < 29)                    /* the next is 31 under the shim, 30 bare */
            if (pthread_key_create(&k, 0))
                return -1;
        if (pthread_key_create(&late, late_dtor))
            return -1;
    }
    for (int i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, 0, run, 0))
            return -1;
        pthread_join(t, 0);
    }
    return 0;
}
EOF
cat > pool_host.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
static void (*begin)(const char *), (*end)(const char *);
static void work(void)
{
    if (begin)
        begin("work");
    free(malloc(100));
    if (end)
        end("work");
}
static long resident_kib(void)
{
    long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &size, &res) != 2)
        res = 0;
    if (f)
        fclose(f);
    return res * 4;
}
int main(int argc, char **argv)
{
    *(void **)&begin = dlsym(RTLD_DEFAULT, "perf_region_begin");
    *(void **)&end = dlsym(RTLD_DEFAULT, "perf_region_end");
    void *h = argc > 2 ? dlmopen(LM_ID_NEWLM, argv[1], RTLD_NOW) : NULL;
    int (*run)(void (*)(void), int, const char *) =
        h ? (int (*)(void (*)(void), int, const char *))dlsym(h, "run_threads") : NULL;
    if (!run || argc < 4)
        return 1;
    long r0 = resident_kib();
    int rc = run(work, atoi(argv[2]), argv[3]);
    printf("%d %ld\n", rc, resident_kib() - r0);
    return 0;
}
EOF
cc -shared -fPIC -o libpool.so pool.c -pthread && cc -o pool_host pool_host.c -ldl
for how in return exit cancel dtor rounds many; do
    keys=0 run=$how
    [ $how = many ] && keys=32 run=return
    read -r brc bgrow < <(POOL_KEYS=$keys timeout -k 5 120 ./pool_host "$PWD/libpool.so" 2000 $run)
    rm -f s.jsonl
    read -r src sgrow < <(POOL_KEYS=$keys traced s.jsonl timeout -k 5 120 ./pool_host "$PWD/libpool.so" 2000 $run)
    eq "2,000 namespace threads ($how): they ran, as bare" "$src" "$brc"
    eq "2,000 namespace threads ($how): bare, they ran" "$brc" 0
    le "2,000 namespace threads ($how) with a region each: resident growth within bare's + 16 MiB (bare ${bgrow} KiB)" \
        "$sgrow" $((bgrow + 16384))
done

# a library in a namespace that makes 32 thread keys of its own reads each
# on a thread of the program's: its 31st and 32nd have the numbers of the
# shim's keys in the base libc (30, 31), whose slots the shim sets on
# every thread of the program's that allocates; their sequence numbers
# differ (the shim's keys are made twice), so the library reads nothing
# there, as bare (before: the shim's pointer), with the namespace counted
# and not
cat > keys32.c <<'EOF2'
#include <pthread.h>
#include <stdlib.h>
static pthread_key_t ks[32];
int make(int n) { for (int i = 0; i < n; i++) if (pthread_key_create(&ks[i], 0)) return -1; return 0; }
void *get(int i) { free(malloc(10)); return pthread_getspecific(ks[i]); }
EOF2
cat > keys32_host.c <<'EOF2'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static void *(*get)(int);
static void *probe(void *a)
{
    (void)a;
    free(malloc(50));
    int set = 0;
    for (int i = 0; i < 32; i++)
        set += get(i) != NULL;
    return (void *)(long)set;
}
int main(int argc, char **argv)
{
    void *h = argc > 1 ? dlmopen(LM_ID_NEWLM, argv[1], RTLD_NOW) : NULL;
    int (*make)(int) = h ? (int (*)(int))dlsym(h, "make") : NULL;
    *(void **)&get = h ? dlsym(h, "get") : NULL;
    if (!make || !get || make(32))
        return 1;
    pthread_t t;
    void *set;
    if (pthread_create(&t, 0, probe, 0) || pthread_join(t, &set))
        return 1;
    printf("keys with a value %ld\n", (long)set);
    return 0;
}
EOF2
cc -shared -fPIC -o libkeys32.so keys32.c -pthread && cc -o keys32_host keys32_host.c -ldl -pthread
bare=$(./keys32_host "$PWD/libkeys32.so")
eq "32 keys in a namespace, bare" "$bare" "keys with a value 0"
for ns in 1 0; do
    rm -f s.jsonl
    eq "32 keys in a namespace (PERFPROBE_NAMESPACES=$ns): none reads the shim's value, as bare" \
        "$(PERFPROBE_NAMESPACES=$ns traced s.jsonl ./keys32_host "$PWD/libkeys32.so" 2>/dev/null)" "$bare"
done
