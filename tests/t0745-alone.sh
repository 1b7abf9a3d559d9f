# The calls a program makes that need it to have one thread, or that
# give new credentials to every thread, behave as bare although the shim
# runs a thread of its own (the sampler): it is stopped around them and
# started again by the caller (core/life.c, pp_alone_begin).
#  - setpriv and capsh as root (PR_SET_KEEPCAPS, setresuid, capset,
#    setresgid): the sampler, which kept no capabilities (they are per
#    thread), failed the setresgid glibc made it make, and glibc aborted
#    the process (SIGABRT); a C program doing the same with the raw capset;
#  - a program with two threads of its own taking uid 65534: every thread
#    has it after, as bare (the kernel's own Uid lines);
#  - close_range(3, ~0U, CLOSE_RANGE_UNSHARE) in a program with one
#    thread, through glibc and through syscall(): bare the table is its
#    own and the pipe's write end closes, so the reader sees EOF; with the
#    sampler sharing the old table the reader waited for ever;
#  - syscall(SYS_unshare, CLONE_NEWUSER): 0 as bare, not EINVAL.
# Ground truth: the same commands bare.  Every timeline line is JSON and
# the summary is there.
. "$PP_ROOT/tests/lib.sh"

# the timeline where a process that gave up root can still write it (an
# image exec'd after setpriv's setresuid appends to it)
W=$(mktemp -d /tmp/pp-t0745.XXXXXX)
trap 'rm -rf "$W"' EXIT
chmod 755 "$W"

# both DESC CMD...: CMD bare and under the shim (60 s at most each, a
# sample every millisecond): exit status and stdout as bare, every
# timeline line JSON, a summary record
both() {
    local desc=$1; shift
    timeout -k 5 60 "$@" > bare.out 2> bare.err
    local rb=$?
    rm -f "$W/s.jsonl"
    touch "$W/s.jsonl" && chmod 666 "$W/s.jsonl"
    PERFPROBE_INTERVAL_MS=1 traced "$W/s.jsonl" timeout -k 5 60 "$@" > shim.out 2> shim.err
    local rs=$?
    eq "$desc: exit status as bare" "$rs" "$rb"
    if cmp -s bare.out shim.out; then ok "$desc: stdout as bare ($(head -c 60 bare.out | tr '\n' ' '))"
    else fail "$desc: stdout differs: $(diff bare.out shim.out | head -4 | tr '\n' ' ')"; fi
    check "$desc: every line of the timeline is JSON" valid_jsonl "$W/s.jsonl"
    le "$desc: the summary is there" 1 "$(jq -s '[.[] | select(.type == "summary")] | length' "$W/s.jsonl" 2>/dev/null)"
}

# ---- credentials ----------------------------------------------------------------

cat > keepcaps.c <<'EOC'
#define _GNU_SOURCE
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
/* setpriv's order: keep the capabilities across setresuid, take
 * CAP_SETGID back into the effective set (this thread's), then setgroups
 * and setresgid, which glibc makes every thread make */
static void pause_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    for (int i = 0; i < 50; i++)
        free(malloc(1000 + i));
    nanosleep(&ts, NULL);
}
int main(void)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    pause_ms(20);
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) { perror("prctl"); return 2; }
    if (setresuid(65534, 65534, 65534) != 0) { perror("setresuid"); return 3; }
    pause_ms(20);
    memset(d, 0, sizeof d);
    d[0].effective = d[0].permitted = 1u << CAP_SETGID;
    if (syscall(SYS_capset, &h, d) != 0) { perror("capset"); return 4; }
    pause_ms(20);
    if (setgroups(0, NULL) != 0) { perror("setgroups"); return 5; }
    pause_ms(20);
    if (setresgid(65534, 65534, 65534) != 0) { perror("setresgid"); return 6; }
    pause_ms(20);
    printf("uid %d gid %d groups %d\n", (int)getuid(), (int)getgid(), getgroups(0, NULL));
    return 0;
}
EOC
cc -O1 -Wall -o keepcaps keepcaps.c

cat > twothreads.c <<'EOC'
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
/* main and one thread of its own; main takes uid and gid 65534; then the
 * threads the kernel lists (getdents64 itself: the shim's readdir leaves
 * its sampler out) and how many have uid 65534 (real, effective, saved) */
static int go[2], done[2];
static void *worker(void *arg)
{
    char c;
    (void)arg;
    if (read(go[0], &c, 1) != 1)
        return NULL;
    printf("worker uid %d euid %d\n", (int)getuid(), (int)geteuid());
    fflush(stdout);
    return write(done[1], "x", 1) == 1 ? NULL : NULL;
}
int main(void)
{
    pthread_t t;
    char c, buf[4096], path[300];
    static char dents[32768];
    if (pipe(go) || pipe(done) || pthread_create(&t, NULL, worker, NULL))
        return 2;
    usleep(20000);
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
        perror("setres*id");
        return 3;
    }
    usleep(20000);
    int tasks = 0, with = 0, d = open("/proc/self/task", O_RDONLY | O_DIRECTORY);
    long got;
    while (d >= 0 && (got = syscall(SYS_getdents64, d, dents, sizeof dents)) > 0) {
        for (long off = 0; off < got;) {
            struct { unsigned long ino; long o; unsigned short len; unsigned char type; char name[]; }
                *e = (void *)(dents + off);
            off += e->len;
            if (e->name[0] == '.')
                continue;
            tasks++;
            snprintf(path, sizeof path, "/proc/self/task/%s/status", e->name);
            int f = open(path, O_RDONLY);
            ssize_t n = f >= 0 ? read(f, buf, sizeof buf - 1) : -1;
            if (f >= 0)
                close(f);
            buf[n > 0 ? n : 0] = 0;
            if (strstr(buf, "\nUid:\t65534\t65534\t65534\t"))
                with++;
        }
    }
    printf("every thread has uid 65534: %s\n", tasks > 0 && tasks == with ? "yes" : "no");
    fflush(stdout);
    if (write(go[1], "x", 1) != 1 || read(done[0], &c, 1) != 1)
        return 4;
    pthread_join(t, NULL);
    printf("main uid %d gid %d\n", (int)getuid(), (int)getgid());
    return 0;
}
EOC
cc -O1 -Wall -pthread -o twothreads twothreads.c

if [ "$(id -u)" != 0 ]; then
    echo "# skip: not root: setpriv, capsh and the setresuid programs need root to take another uid"
else
    if command -v setpriv >/dev/null; then
        both "setpriv --reuid=65534 --regid=65534 --clear-groups id -u" \
            setpriv --reuid=65534 --regid=65534 --clear-groups id -u
        eq "setpriv: bare prints 65534" "$(cat bare.out)" 65534
    else
        echo "# skip: no setpriv (util-linux)"
    fi
    if command -v capsh >/dev/null; then
        both "capsh --keep=1 --uid=65534 --caps=cap_setgid+ep --gid=65534" \
            capsh --keep=1 --uid=65534 --caps=cap_setgid+ep --gid=65534 -- -c 'id -u'
        eq "capsh: bare prints 65534" "$(cat bare.out)" 65534
    else
        echo "# skip: no capsh (Debian's libcap2-bin)"
    fi
    both "PR_SET_KEEPCAPS, setresuid, capset, setgroups, setresgid" ./keepcaps
    eq "keepcaps: bare ends as uid and gid 65534" "$(cat bare.out)" "uid 65534 gid 65534 groups 0"
    both "two threads of its own, setresuid(65534)" ./twothreads
    eq "two threads: bare, every thread has the new uid" \
        "$(grep -c 'every thread has uid 65534: yes\|worker uid 65534 euid 65534' bare.out)" 2
fi

# ---- one descriptor table ---------------------------------------------------------

cat > unshare_fds.c <<'EOC'
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>
/* a pipe to a child that reads to EOF; the parent writes, then drops the
 * write end with close_range(3, ~0U, CLOSE_RANGE_UNSHARE): through glibc
 * ("libc") or syscall() ("syscall") */
int main(int argc, char **argv)
{
    int p[2];
    if (pipe(p))
        return 2;
    pid_t c = fork();
    if (c == 0) {
        char b[64];
        ssize_t n, t = 0;
        close(p[1]);
        while ((n = read(p[0], b, sizeof b)) > 0)
            t += n;
        printf("reader saw EOF after %zd bytes\n", t);
        return 0;
    }
    for (int i = 0; i < 100; i++)
        free(malloc(100 + i));
    usleep(20000);
    if (write(p[1], "hello", 5) != 5)
        return 3;
    int rc = argc > 1 && strcmp(argv[1], "syscall") == 0
                 ? (int)syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_UNSHARE)
                 : close_range(3u, ~0u, CLOSE_RANGE_UNSHARE);
    if (rc != 0)
        perror("close_range");
    int st;
    waitpid(c, &st, 0);
    printf("close_range %d, reader ended with status %d\n", rc, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}
EOC
cc -O1 -Wall -o unshare_fds unshare_fds.c
for how in libc syscall; do
    both "close_range(3, ~0U, CLOSE_RANGE_UNSHARE) through $how, a pipe's reader" ./unshare_fds $how
    eq "close_range through $how: bare, the reader saw EOF" \
        "$(grep -c 'reader saw EOF after 5 bytes' bare.out)" 1
done

# ---- namespaces through syscall() ------------------------------------------------

cat > unshare_user.c <<'EOC'
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void)
{
    for (int i = 0; i < 100; i++)
        free(malloc(100 + i));
    usleep(20000);
    long r = syscall(SYS_unshare, CLONE_NEWUSER);
    printf("syscall(SYS_unshare, CLONE_NEWUSER) = %ld (%s)\n", r, r ? strerror(errno) : "ok");
    return r != 0;
}
EOC
cc -O1 -Wall -o unshare_user unshare_user.c
if ./unshare_user > /dev/null 2>&1; then
    both "syscall(SYS_unshare, CLONE_NEWUSER)" ./unshare_user
else
    echo "# skip: syscall(SYS_unshare, CLONE_NEWUSER) fails bare too here: $(./unshare_user 2>&1)"
fi

# ---- calls from a signal handler, and from a vfork child ---------------------
# A SIGALRM handler (every 200 us) makes a call that stops the sampler, or
# a set*id call, while the main thread is inside fork (the shim's prepare
# handler holds its locks, which the sampler may wait for) or inside a
# failed exec (the shim joins its sampler there, and glibc frees the
# thread's stack under a lock a set*id waits for): both hung, every run.
# set*id and unshare are async-signal-safe.  Ground truth: bare finishes.
cat > inhandler.c <<'EOS'
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
static volatile int hits, use_unshare;
static void h(int s)
{
    (void)s;
    if ((use_unshare ? unshare(0) : setresuid(getuid(), getuid(), getuid())) == 0)
        hits++;
}
int main(int argc, char **argv)
{
    use_unshare = strcmp(argv[2], "unshare") == 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, 0);
    struct itimerval it = {{0, 200}, {0, 200}};
    setitimer(ITIMER_REAL, &it, 0);
    char *a[] = {"x", 0};
    int fork_ = strcmp(argv[1], "fork") == 0;
    for (int i = 0; i < (fork_ ? 1000 : 10000); i++) {
        if (fork_) {
            pid_t p = fork();
            if (p == 0)
                _exit(0);
            while (waitpid(p, 0, 0) < 0)
                ;
        } else {
            execv("/nonexistent/x", a);
            execvp("nonexistent-cmd-xyz", a);
        }
    }
    struct itimerval z = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &z, 0);
    printf("done, the handler ran: %s\n", hits > 0 ? "yes" : "no");
    return 0;
}
EOS
cc -o inhandler inhandler.c
for c in "fork unshare" "fork setresuid" "exec unshare" "exec setresuid"; do
    bare=$(timeout 60 ./inhandler $c)
    rm -f ih.jsonl
    shim=$(traced ih.jsonl timeout 60 ./inhandler $c)
    eq "a handler's ${c#* } while the main thread is in $(echo $c | cut -d' ' -f1): finishes as bare" \
        "$?:$shim" "0:$bare"
    check "... $c: every line of the timeline is JSON" valid_jsonl ih.jsonl
done

# A vfork child that calls setuid before its exec: glibc's view of the
# parent's threads (__libc_single_threaded, shared memory) as bare
cat > vfuid.c <<'EOS'
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/single_threaded.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void)
{
    printf("before=%d ", __libc_single_threaded);
    pid_t p = vfork();
    if (p == 0) {
        setuid(getuid());
        execl("/bin/true", "true", (char *)0);
        _exit(9);
    }
    waitpid(p, 0, 0);
    printf("after=%d\n", __libc_single_threaded);
    return 0;
}
EOS
cc -o vfuid vfuid.c
rm -f vf.jsonl
eq "a vfork child's setuid: the parent's single-threaded flag as bare" \
    "$(traced vf.jsonl ./vfuid)" "$(./vfuid)"

# A set*id call whose outcome on the calling thread differs from the
# sampler's though their capabilities are the same: a seccomp filter on
# the calling thread only that fails setresuid (bare: -1 EPERM; with the
# sampler not stopped, its call succeeded, and glibc aborted)
if [ "$(id -u)" = 0 ]; then
    cat > seccid.c <<'EOS'
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void)
{
    usleep(50000);
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_setresuid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog p = {4, f};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p) != 0)
        return 7;
    int r = setresuid(-1, 0, -1);
    printf("setresuid %d %s\n", r, r ? strerror(errno) : "-");
    return 0;
}
EOS
    cc -o seccid seccid.c
    rm -f sc.jsonl
    eq "setresuid failed by the calling thread's own seccomp filter: as bare" \
        "$(traced sc.jsonl ./seccid; echo "status $?")" "$(./seccid; echo "status $?")"
else
    echo "# skip: the seccomp set*id case needs root"
fi
