# Exit and exec, bare and under the shim: the table written into a pipe
# whose reader has gone raises no SIGPIPE; every image a shell, make or
# git starts gets its own (pid, image); nothing of an image follows its
# exec record; a vfork child's exit() does not cost the parent its summary;
# a forked child keeps environ where it was (perl frees it otherwise).
# Each case runs with a timeout and compares exit status and stdout.
. "$PP_ROOT/tests/lib.sh"

# every line of FILE is a JSON object
lines_ok() { jq -e -R 'fromjson | type == "object"' "$1" > /dev/null; }

# images FILE: every (pid, image) of the headers is unique, and each pid's
# images come in file order as 0, 1, ..., n-1
images_ok() {
    jq -e -s '[.[] | select(.type == "header")] as $h
        | ($h | map([.pid, .image]) | length) == ($h | map([.pid, .image]) | unique | length)
          and (reduce $h[] as $x ({}; .[$x.pid | tostring] += [$x.image])
               | all(.[]; . == [range(0; length)]))' "$1" > /dev/null
}

# after_exec FILE: records of a pid that follow its exec record and are
# neither the next image's header nor exec_failed (must be 0)
after_exec() {
    jq -s 'reduce .[] as $r ({bad: 0, last: {}};
              ($r.pid | tostring) as $p
              | (if .last[$p] == "exec" and $r.type != "header" and $r.type != "exec_failed"
                 then .bad += 1 else . end)
              | .last[$p] = $r.type) | .bad' "$1"
}

# exec_targets FILE: for each exec record, "path<TAB>exe of the next header
# of that pid", resolved; prints the pairs that differ
exec_targets() {
    jq -r -s '. as $all | range(0; length) as $i | $all[$i]
        | select(.type == "exec") | . as $e
        | ([$all[$i + 1:][] | select(.pid == $e.pid and (.type == "header" or .type == "exec_failed"))][0]) as $n
        | select($n.type == "header") | "\($e.path)\t\($n.exe)"' "$1" |
    while IFS=$'\t' read -r path exe; do
        case $path in /*) ;; *) path=$(command -v "$path") ;; esac
        [ "$(readlink -f "$path")" = "$(readlink -f "$exe")" ] || echo "$path -> $exe"
    done
}

# run_both DESC CMD...: bare and under the shim (timeline t.jsonl), 60 s at
# most each; exit status and stdout must be as bare
run_both() {
    local desc=$1; shift
    timeout -k 5 60 "$@" > bare.out 2> bare.err
    local rb=$?
    rm -f t.jsonl
    PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/t.jsonl timeout -k 5 60 env LD_PRELOAD=$S "$@" \
        > shim.out 2> shim.err
    local rs=$?
    eq "$desc: exit status as bare" "$rs" "$rb"
    if cmp -s bare.out shim.out; then ok "$desc: stdout as bare"
    else fail "$desc: stdout differs: $(diff bare.out shim.out | head -3 | tr '\n' ' ')"; fi
    check "$desc: every timeline line is a JSON object" lines_ok t.jsonl
}

# tree_checks DESC MIN_HEADERS MIN_EXECS
tree_checks() {
    local h e
    h=$(jq -s '[.[] | select(.type == "header")] | length' t.jsonl)
    e=$(jq -s '[.[] | select(.type == "exec")] | length' t.jsonl)
    le "$1: images recorded" "$2" "$h"
    le "$1: exec records" "$3" "$e"
    eq "$1: each exec is followed by a header (or exec_failed)" \
        "$(jq -s '[.[] | select(.type == "exec")] | length' t.jsonl)" \
        "$(jq -r -s '. as $a | range(0; length) as $i | $a[$i] | select(.type == "exec") | . as $x
                  | [$a[$i + 1:][] | select(.pid == $x.pid)][0].type' t.jsonl | grep -cE '^(header|exec_failed)$')"
    check "$1: (pid, image) unique, each pid's images 0..n-1 in order" images_ok t.jsonl
    eq "$1: exec records name the program of the next header" "$(exec_targets t.jsonl)" ""
    eq "$1: no record of an image after its exec record" "$(after_exec t.jsonl)" 0
}

# ---- 1. SIGPIPE at exit --------------------------------------------------------
# exit_lines prints 1000 lines at once and exits 0 once `head -1` has gone;
# the table then meets a pipe without a reader.
pipe_status() {    # LD_PRELOAD value ("" for bare); prints "status first-line"
    local first rc
    first=$(set -o pipefail; PERFPROBE_OUTPUT=$PWD/p.jsonl timeout -k 5 60 \
        env --default-signal=PIPE LD_PRELOAD="$1" "$T/exit_lines" 1000 2>&1 | head -1)
    rc=$?
    echo "$rc $first"
}
for i in 1 2 3; do
    rm -f p.jsonl
    bare=$(pipe_status "")
    shim=$(pipe_status "$S")
    eq "pipe to head -1 (run $i): status and first line as bare" "$shim" "$bare"
    eq "pipe to head -1 (run $i): bare is 0 and 'line 1'" "$bare" "0 line 1"
    check "pipe to head -1 (run $i): every timeline line is a JSON object" lines_ok p.jsonl
    eq "pipe to head -1 (run $i): one header, one summary" \
        "$(jq -r 'select(.type == "header" or .type == "summary") | .type' p.jsonl | tr '\n' ' ')" \
        "header summary "
done
# the table met a dead pipe (and was left out: no room for it, poll says):
# the same run into a file shows it, so the case above did reach the write
PERFPROBE_OUTPUT=$PWD/p2.jsonl timeout -k 5 60 env LD_PRELOAD="$S" "$T/exit_lines" 3 \
    > live.out 2>&1 < /dev/null
eq "into a file: the table is on stderr (the write the pipe case makes)" \
    "$(grep -c '^perfprobe: exit_lines' live.out)" 1

# ---- a stderr that cannot take the table now ------------------------------------
# a parent that waits for its child before it reads the child's stderr (a
# pipe): bare, the child's 65,000 bytes fit in the pipe's 64 KiB and it
# ends; the table must never make it wait (before: blocked in its exit, the
# parent waiting for it: a deadlock, here a 20 s timeout)
cat > waitfirst.py <<'EOF'
import os, subprocess, sys
env = dict(os.environ, PERFPROBE_OUTPUT=os.path.abspath("w.jsonl"))
if sys.argv[1]:
    env["LD_PRELOAD"] = sys.argv[1]
p = subprocess.Popen(["perl", "-e", 'print STDERR "x" x 65000; exit 3'], stderr=subprocess.PIPE, env=env)
try:
    print("exited", p.wait(timeout=20), "stderr bytes", len(p.stderr.read()))
except subprocess.TimeoutExpired:
    print("still running after 20 s")
    p.kill()
    p.wait()
EOF
rm -f w.jsonl
eq "a parent that waits before it reads: bare" "$(timeout 60 $PY waitfirst.py '')" "exited 3 stderr bytes 65000"
rm -f w.jsonl
eq "a parent that waits before it reads: under the shim as bare (the table left out)" \
    "$(timeout 60 $PY waitfirst.py "$S")" "exited 3 stderr bytes 65000"
eq "a parent that waits before it reads: the child's summary is in its timeline" \
    "$(jq -r 'select(.type == "summary") | .type' w.jsonl)" summary
# the same with stderr a Unix stream socket (journald's stream for a
# service) holding 60,000 unread bytes: a write does not wait there (the
# buffer has room), so the table is written; poll alone said no room and
# left it out
cat > sockfirst.py <<'EOF'
import os, socket, subprocess, sys
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
env = dict(os.environ, PERFPROBE_OUTPUT=os.path.abspath("k.jsonl"), LD_PRELOAD=sys.argv[1])
p = subprocess.Popen(["perl", "-e", 'print STDERR "x" x 60000; exit 3'], stderr=b.fileno(), env=env)
b.close()
rc = p.wait(timeout=20)
out = b""
while True:
    d = a.recv(65536)
    if not d:
        break
    out += d
print("exited", rc, "bytes", len(out) - len(out.lstrip(b"x")), "table", b"perfprobe: perl" in out)
EOF
eq "stderr a socket with 60,000 bytes unread: the child ends, the table is written" \
    "$(timeout 60 $PY sockfirst.py "$S")" "exited 3 bytes 60000 table True"
# a background job on a terminal with TOSTOP that writes nothing: bare, it
# ends; the table must not stop it with SIGTTOU (before: stopped)
bgjob() {    # LD_PRELOAD value; prints "ended" or "stopped"
    timeout 60 script -qec "stty tostop; bash -c 'set -m
        env LD_PRELOAD=$1 PERFPROBE_OUTPUT=$PWD/tt.jsonl /bin/true &
        for i in \$(seq 200); do
            case \$(ps -o stat= -p \$! 2> /dev/null) in T*) echo stopped; break ;; \"\") echo ended; break ;; esac
            sleep 0.05
        done
        kill -CONT %1 2> /dev/null; wait'" /dev/null 2>&1 | tr -d '\r' | grep -E '^(ended|stopped)$'
}
if [ "$(bgjob '')" = ended ]; then
    rm -f tt.jsonl
    eq "a background job under TOSTOP: ends as bare (the table left out)" "$(bgjob "$S")" ended
    eq "a background job under TOSTOP: its summary is in its timeline" \
        "$(jq -r 'select(.type == "summary") | .type' tt.jsonl)" summary
else
    echo "# skip: no terminal for a background job here (script: $(bgjob '' 2>&1 | head -c 100))"
fi

# ---- 2 and 3. images after a shell forks and execs; nothing after exec --------
run_both "bash -c with two commands" bash -c '/bin/true; /bin/true; echo done'
tree_checks "bash -c" 5 2
root=$(head -1 t.jsonl | jq -r .pid)
eq "bash -c: the forked child's program is that pid's image 1" \
    "$(jq -r "select(.type == \"header\" and .pid != $root and (.exe | endswith(\"/true\"))) | .image" t.jsonl | sort -u | tr '\n' ' ')" \
    "1 "

run_both "bash pipeline" bash -c 'echo hi | cat | wc -c; /bin/echo x | tr x y'
tree_checks "bash pipeline" 6 4

mkdir mk && printf 'all:\n\t@/bin/echo one; /bin/true\n\t@/bin/echo two | cat\n' > mk/Makefile
run_both "make, two recipe lines" make -s -C mk
tree_checks "make" 4 2

git init -q repo && git -C repo -c user.email=a@b -c user.name=t commit -q --allow-empty -m first
run_both "git alias through the shell" env GIT_PAGER=cat git -C repo \
    -c 'alias.both=!git log --format=%s | cat; git rev-parse --is-inside-work-tree' both
tree_checks "git" 5 3

# many short pipelines, samples every millisecond: a sampler tick between
# the exec record and execve would show as a sample after exec
PERFPROBE_INTERVAL_MS=1 run_both "60 short pipelines" \
    bash -c 'for i in $(seq 60); do echo $i | cat | wc -c > /dev/null; /bin/true; done; echo end'
tree_checks "60 short pipelines" 180 180

# ---- 4. a vfork child's exit() after a failed exec ------------------------------
run_both "vfork child exit(3)" "$T/exit_vfork"
eq "vfork: the program saw the child's status" "$(cat shim.out)" "child status 3"
vpid=$(jq -r 'select(.type == "header" and (.exe | endswith("exit_vfork"))) | .pid' t.jsonl)
eq "vfork: one summary, the parent's" "$(jq -r 'select(.type == "summary") | .pid' t.jsonl)" "$vpid"
le "vfork: the summary holds the parent's 2 MiB" $((2 << 20)) \
    "$(jq -r 'select(.type == "summary") | .peak_heap_bytes' t.jsonl)"
eq "vfork: the summary is the parent's last record" "$(tail -1 t.jsonl | jq -r .type)" summary
rm -f v.jsonl
PERFPROBE_OUTPUT=$PWD/v.jsonl timeout -k 5 60 env LD_PRELOAD="$S" "$T/exit_vfork" > v.out 2> v.err
eq "vfork, not quiet: exit status" $? 0
eq "vfork, not quiet: stdout" "$(cat v.out)" "child status 3"
eq "vfork, not quiet: the table is on stderr" "$(grep -c '^perfprobe: exit_vfork' v.err)" 1
check "vfork, not quiet: every timeline line is a JSON object" lines_ok v.jsonl

# ---- 5. a forked child's environment -------------------------------------------
# A forked child keeps environ where it was: perl frees an environ that is
# not the one it started with, and its strings, at its end (before, under
# the shim, the child's exit died with "free(): invalid pointer" and one
# that set %ENV with SIGSEGV, in every PERFPROBE_FOLLOW).  The children's
# programs still get their own (pid, image): a parent that copied its
# environment (perl's %ENV, then a fork that runs system(), which passes
# environ to exec), or C's own copy with glibc's system() in the child.
cat > envfork.c <<'EOS'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
int main(void)
{
    int n = 0;
    while (environ[n])
        n++;
    char **copy = malloc((n + 1) * sizeof *copy);
    for (int i = 0; i < n; i++)
        copy[i] = strdup(environ[i]);
    copy[n] = NULL;
    environ = copy;
    char **before = environ, *first = environ[0];
    pid_t p = fork();
    if (p == 0) {
        int same = environ == before && environ[0] == first;
        _exit(same ? 7 + system("/bin/true") : 1);
    }
    int st;
    waitpid(p, &st, 0);
    printf("child status %d\n", WEXITSTATUS(st));
    return 0;
}
EOS
cc -o envfork envfork.c
for follow in all exec none; do
    export PERFPROBE_FOLLOW=$follow
    run_both "perl, FOLLOW=$follow: a forked child's exit" \
        perl -e 'my $p = fork; if (!$p) { exit 5 } waitpid($p, 0); print "status ", $? >> 8, " sig ", $? & 127, "\n"'
    eq "perl, FOLLOW=$follow: the child's status" "$(cat shim.out)" "status 5 sig 0"
    run_both "perl, FOLLOW=$follow: a child that sets %ENV" \
        perl -MPOSIX -e 'my $p = fork; if (!$p) { $ENV{NEW} = "x"; $ENV{PATH} = "/bin"; POSIX::_exit(3) } waitpid($p, 0); print "status $?\n"'
    eq "perl, FOLLOW=$follow: that child's status" "$(cat shim.out)" "status 768"
    run_both "perl, FOLLOW=$follow: open -| and close" \
        perl -e 'my $pid = open(my $fh, "-|") // die; if (!$pid) { print "from child\n"; exit 0 } my @l = <$fh>; close $fh; print "read @l", "close status $?\n"'
    run_both "C, FOLLOW=$follow: environ and its strings stay in a forked child" ./envfork
    eq "C, FOLLOW=$follow: the child's status" "$(cat shim.out)" "child status 7"
done
unset PERFPROBE_FOLLOW
run_both "perl with %ENV changed: a child that runs system()" \
    perl -e '$ENV{CHANGED} = 1; my $p = fork; if (!$p) { system("/bin/true"); exit 0 } waitpid($p, 0); print "done\n"'
tree_checks "perl with %ENV changed" 4 1
run_both "C with its own environ: a child that runs system()" ./envfork
tree_checks "C with its own environ" 4 0
