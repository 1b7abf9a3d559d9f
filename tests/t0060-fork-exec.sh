# A process tree writes one file: the root, a forked child and the image an
# exec starts each get a header of their own, and every record says whose
# it is.
. "$PP_ROOT/tests/lib.sh"

traced "$PWD/f.jsonl" "$T/forker" "$PWD"
eq "exit status" $? 0
eq "one timeline file for the whole tree" "$(ls | grep -c jsonl)" 1
check "the file is valid JSON Lines" valid_jsonl f.jsonl
eq "three images: root, child, exec'd root" "$(grep -c '"type":"header"' f.jsonl)" 3
root=$(head -1 f.jsonl | jq -r .pid)
child=$(jq -r "select(.type == \"header\" and .pid != $root) | .pid" f.jsonl)
eq "every record names its process" \
    "$(jq -s 'map(select(.type != "header")) | all(.pid != null)' f.jsonl)" true
eq "the child's parent is the root" "$(jq -r "select(.type == \"header\" and .pid == $child) | .ppid" f.jsonl)" "$root"
eq "the child knows the root" "$(jq -r "select(.type == \"header\" and .pid == $child) | .root_pid" f.jsonl)" "$root"
eq "the child ends with its summary" \
    "$(jq -r "select(.pid == $child) | .type" f.jsonl | tail -1)" summary
le "the child holds the parent's 1 MiB and its own 2 MiB" $((3 << 20)) \
    "$(jq -r "select(.type == \"summary\" and .pid == $child) | .peak_heap_bytes" f.jsonl)"
eq "the child's counts start at the fork" \
    "$(jq -r "select(.type == \"summary\" and .pid == $child) | .allocs" f.jsonl)" 1
eq "the exec'd image keeps the pid and is image 1" \
    "$(jq -r "select(.type == \"header\" and .image == 1) | .pid" f.jsonl)" "$root"
eq "the exec'd image has its own argv" \
    "$(jq -r 'select(.type == "header" and .image == 1) | .argv[2]' f.jsonl)" exec
eq "the image before the exec ends with an exec record naming the program" \
    "$(jq -r "select(.pid == $root and (.type == \"exec\" or .type == \"summary\")) | .type + \" \" + (.path // \"\")" f.jsonl | head -1)" \
    "exec /proc/self/exe"
eq "one summary for the root's pid: the exec'd image's (exec runs no exit handlers)" \
    "$(jq -r "select(.type == \"summary\" and .pid == $root) | .peak_heap_bytes >= $((3 << 20))" f.jsonl)" true

# the reader: three images in start order, none called incomplete for exec
"$PP_BUILD/perfprobe" report --json --all-processes f.jsonl > r.json
eq "report: the images in start order" "$(jq -r '[.processes[] | .pid] | map(tostring) | join(" ")' r.json)" \
    "$root $child $root"
eq "report: how each image ended" "$(jq -r '[.processes[] | .summary.ended] | join(" ")' r.json)" \
    "exec exit exit"

mkdir nofollow && cd nofollow
PERFPROBE_FOLLOW=none traced "$PWD/f.jsonl" "$T/forker" "$PWD" 2> err.txt
eq "PERFPROBE_FOLLOW=none: only the first process is traced" "$(grep -c '"type":"header"' f.jsonl)" 1
check "PERFPROBE_FOLLOW=none, quiet: the timeline notes that the exec'd program is not traced" \
    grep -q "PERFPROBE_FOLLOW=none: '/proc/self/exe' started by exec is not traced" f.jsonl
eq "PERFPROBE_FOLLOW=none, quiet: nothing on stderr" "$(cat err.txt)" ""
rm -f f.jsonl
PERFPROBE_FOLLOW=none PERFPROBE_OUTPUT=$PWD/f.jsonl LD_PRELOAD=$S "$T/forker" "$PWD" > /dev/null 2> err.txt
check "PERFPROBE_FOLLOW=none: says on stderr that the exec'd program is not traced" \
    grep -q "PERFPROBE_FOLLOW=none: '/proc/self/exe' started by exec is not traced" err.txt
cd .. && mkdir execonly && cd execonly
PERFPROBE_FOLLOW=exec traced "$PWD/f.jsonl" "$T/forker" "$PWD"
eq "PERFPROBE_FOLLOW=exec: the exec chain is traced, the forked child is not" \
    "$(jq -r 'select(.type == "header") | .image' f.jsonl | tr '\n' ' ')" "0 1 "

# A program that hands execveat and posix_spawn its own copy of the
# environment (as shells do), holding the first process's PERFPROBE_TREE:
# the image the forked child execs is still that child's second image.
cd .. && mkdir spawn && cd spawn
traced "$PWD/s.jsonl" "$T/spawner" > out.txt
eq "spawner: exit status" $? 0
check "spawner: the file is valid JSON Lines" valid_jsonl s.jsonl
root=$(head -1 s.jsonl | jq -r .pid)
read -r _ child _ spawned < out.txt
eq "spawner: four images (root, forked child, its execveat, the spawned one)" \
    "$(grep -c '"type":"header"' s.jsonl)" 4
eq "execveat with an old environment: the exec'd image is the child's image 1" \
    "$(jq -r 'select(.type == "header" and .argv[1] == "exec") | "\(.pid) \(.image)"' s.jsonl)" "$child 1"
eq "execveat: the child's first image ends with an exec record naming the program" \
    "$(jq -r "select(.pid == $child and (.type == \"exec\" or .type == \"summary\")) | .type + \" \" + (.path // \"\")" s.jsonl | head -1)" \
    "exec /proc/self/exe"
eq "posix_spawn: the spawned image is image 0 of its own pid, the root's child" \
    "$(jq -r 'select(.type == "header" and .argv[1] == "spawned") | "\(.pid) \(.image) \(.ppid)"' s.jsonl)" "$spawned 0 $root"
le "posix_spawn: the spawned image holds its 3 MiB" $((3 << 20)) \
    "$(jq -r "select(.type == \"summary\" and .pid == $spawned) | .peak_heap_bytes" s.jsonl)"
eq "(pid, image) names one image only" \
    "$(jq -r 'select(.type == "header") | "\(.pid):\(.image)"' s.jsonl | sort | uniq -d)" ""

# ---- a program of another ELF class -----------------------------------------------
# a 32-bit program (its own loader, /lib/ld-linux.so.2, Debian's libc6-i386)
# started by a traced process: that loader cannot preload the 64-bit shim
# and says so on stderr ("wrong ELF class: ELFCLASS64"), which bare never
# prints.  The exec and spawn hooks take the shim out of the environment it
# gets, and the timeline says it was not traced.  Started by bash's execve,
# through a script whose interpreter it is, and by posix_spawn (python's)
cd .. && mkdir elf32 && cd elf32
printf 'void _start(void) { __asm__ volatile("movl $1, %%eax; movl $5, %%ebx; int $0x80"); }\n' > s32.c
if [ -e /lib/ld-linux.so.2 ] &&
   cc -m32 -nostdlib -fpie -pie -Wl,--dynamic-linker=/lib/ld-linux.so.2 -o s32 s32.c 2> cc.err &&
   { ./s32; [ $? = 5 ]; } 2> /dev/null; then
    printf '#!%s\n' "$PWD/s32" > via && chmod +x via
    printf 'import os, sys\npid = os.posix_spawn(sys.argv[1], [sys.argv[1]], os.environ)\nprint(os.waitpid(pid, 0)[1] >> 8)\n' > spawn.py
    # fexecve (Python's os.execve of a descriptor) and execveat relative to
    # a directory's descriptor: the file is found through /proc/self/fd
    printf 'import os, sys\nif os.fork() == 0:\n    os.execve(os.open(sys.argv[1], os.O_RDONLY), [sys.argv[1]], dict(os.environ))\nprint(os.wait()[1] >> 8)\n' > byfd.py
    cat > at.c <<'EOF'
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
int main(void)
{
    int st, dir = open(".", O_RDONLY | O_DIRECTORY);
    char *argv[] = {"s32", NULL};
    if (fork() == 0) {
        execveat(dir, "s32", argv, environ, 0);
        _exit(127);
    }
    wait(&st);
    printf("%d\n", WEXITSTATUS(st));
    return 0;
}
EOF
    cc -o at at.c
    for c in "bash -c './s32; echo \$?'" "bash -c './via; echo \$?'" "$PY spawn.py ./s32" "$PY byfd.py ./s32" "./at"; do
        timeout 60 bash -c "$c" > bare.out 2> bare.err
        rm -f e.jsonl
        PERFPROBE_OUTPUT=$PWD/e.jsonl PERFPROBE_QUIET=1 LD_PRELOAD=$S timeout 60 bash -c "$c" > shim.out 2> shim.err
        eq "32-bit program ($c): output as bare (its status 5)" "$(cat shim.out)" "$(cat bare.out)"
        eq "32-bit program ($c): bare printed 5" "$(cat bare.out)" 5
        eq "32-bit program ($c): nothing on stderr, as bare" "$(cat shim.err)" "$(cat bare.err)"
        eq "32-bit program ($c): the timeline says it was not traced, and why" \
            "$(jq -r 'select((.type == "exec" and .traced == false) or .type == "untraced") | .why' e.jsonl)" \
            "another ELF class or machine"
        check "32-bit program ($c): every timeline line is JSON" valid_jsonl e.jsonl
    done
    # ... and from a vfork child (Python's subprocess execs the full path
    # from one): no line either, though that child writes no record
    rm -f e.jsonl
    PERFPROBE_OUTPUT=$PWD/e.jsonl PERFPROBE_QUIET=1 LD_PRELOAD=$S timeout 60 \
        $PY -c 'import subprocess; print(subprocess.run(["./s32"]).returncode)' > shim.out 2> shim.err
    eq "32-bit program from a vfork child (subprocess.run): status 5, nothing on stderr" \
        "$(cat shim.out) $(wc -c < shim.err)" "5 0"
else
    echo "# skip: no 32-bit program runs here ($(head -c 200 cc.err))"
fi

# ---- an exec of a FIFO ---------------------------------------------------------------
# Python's subprocess execs from a vfork child, whose check of another ELF
# class opened the file to read its header: a FIFO's open waits for a
# writer, for ever.  Bare the exec fails with EACCES at once
mkfifo fifo-exec && chmod +x fifo-exec
printf 'import subprocess\ntry:\n    subprocess.run(["./fifo-exec"])\nexcept PermissionError:\n    print("EACCES")\n' > fifo.py
timeout 60 $PY fifo.py > bare.out 2>&1
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/fifo.jsonl LD_PRELOAD=$S timeout 60 $PY fifo.py > shim.out 2>&1
eq "an exec of a FIFO from a vfork child: bare fails with EACCES" "$(cat bare.out)" "EACCES"
eq "an exec of a FIFO from a vfork child: the same under the shim, no hang" "$(cat shim.out)" "$(cat bare.out)"

# ---- an exec from a child on a small stack of its own ---------------------------
# clone(CLONE_VM | CLONE_VFORK) with a 4 KiB stack (a guard page below), the
# child calling execve: the exec hook runs on that stack.  Bare it execs;
# a hook frame 4 KiB larger (a buffer for the 32-bit case above) killed it
# with SIGSEGV
cd .. && mkdir smallclone && cd smallclone
cat > cl.c <<'C'
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
static int child(void *a) { char *av[] = {"/bin/true", 0}; (void)a; execve("/bin/true", av, environ); _exit(127); }
int main(int argc, char **argv)
{
    size_t size = strtoul(argv[1], 0, 0);
    char *st = mmap(0, size + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(st, 4096, PROT_NONE);
    pid_t p = clone(child, st + 4096 + size, CLONE_VM | CLONE_VFORK | SIGCHLD, 0);
    int s;
    waitpid(p, &s, 0);
    printf("%s %d\n", WIFSIGNALED(s) ? "signal" : "exit", WIFSIGNALED(s) ? WTERMSIG(s) : WEXITSTATUS(s));
    return 0;
}
C
cc -O1 -o cl cl.c
eq "a CLONE_VM|CLONE_VFORK child on a 4 KiB stack execs: bare" "$(timeout 60 ./cl 4096)" "exit 0"
PERFPROBE_OUTPUT=$PWD/c.jsonl PERFPROBE_QUIET=1 LD_PRELOAD=$S timeout 60 ./cl 4096 > shim.out 2>&1
eq "a CLONE_VM|CLONE_VFORK child on a 4 KiB stack execs: under the shim as bare" "$(cat shim.out)" "exit 0"
