# The descriptors the shim keeps (the timeline, some /proc files, at 1000
# and above) look closed to fcntl: bash, pointing a number there at a file
# (`exec 1000>file`), asks F_GETFD first, and finding it open it saved the
# shim's and put it back, so that the script wrote into the timeline (its
# next line was not JSON) at 1000 and failed with "Bad file descriptor" at
# 1001-1004.  A C program that asks fcntl and fcntl64 about those numbers
# gets EBADF, as bare.  Ground truth: the same commands bare; every line of
# the timeline read by jq, the summary there.  Under a soft RLIMIT_NOFILE
# of 4096 or less the shim keeps its numbers above the limit instead, where
# the program gets none: one that opens files until EMFILE opens as many as
# bare (the end of this script).
. "$PP_ROOT/tests/lib.sh"

# the cases up to the last meet the shim's numbers at 1000-1004, where it
# keeps them under a soft limit above 4096
if [ "$(ulimit -S -n)" != unlimited ] && [ "$(ulimit -S -n)" -le 4096 ]; then
    ulimit -S -n 8192 2>/dev/null || ulimit -n 8192
fi
rm -f s.jsonl
traced s.jsonl ls -l /proc/self/fd > fds.out
check "under a soft limit of $(ulimit -S -n), the shim keeps 1000 (the timeline) and 1001" \
    grep -q ' 1001 -> ' fds.out
check "... and the timeline is at 1000" grep -q " 1000 -> $PWD/s.jsonl" fds.out

for n in 1000 1001 1002 1003 1004; do
    script="exec $n>f; echo a >&$n; echo b >&$n; exec $n<f; cat <&$n; /bin/true"
    rm -f f
    timeout -k 5 60 bash -c "$script" > bare.out 2> bare.err
    rb=$? fb=$(tr '\n' ' ' < f)
    rm -f f s.jsonl
    PERFPROBE_INTERVAL_MS=5 traced s.jsonl timeout -k 5 60 bash -c "$script" > shim.out 2> shim.err
    eq "bash, exec $n>file: exit status as bare" $? $rb
    eq "bash, exec $n>file: the file holds what the script wrote, as bare" "$(tr '\n' ' ' < f)" "$fb"
    eq "bash, exec $n>file: output and errors as bare" "$(cat shim.out shim.err)" "$(cat bare.out bare.err)"
    check "bash, exec $n>file: every line of the timeline is JSON" valid_jsonl s.jsonl
    # bash's last command replaces it (an exec): its summary is true's
    eq "bash, exec $n>file: bash's image after the redirection, /bin/true, has its summary" \
        "$(jq -s -r '([.[] | select(.type == "header" and (.exe | endswith("/true")))][0].pid) as $p
            | [.[] | select(.type == "summary" and .pid == $p)] | length' s.jsonl)" 1
done
eq "bare: the script wrote its file" "$fb" "a b "

cat > ask.c <<'EOS'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
    free(malloc(100));                  /* the shim's files are open by now */
    for (int fd = 1000; fd < 1008; fd++) {
        errno = 0;
        int a = fcntl(fd, F_GETFD);
        int ea = errno;
        errno = 0;
        int b = fcntl64(fd, F_GETFL);
        printf("%d %d %d %d %d\n", fd, a, ea, b, errno);
    }
    return 0;
}
EOS
cc -o ask ask.c
rm -f s.jsonl
eq "fcntl and fcntl64 on 1000-1007: closed, as bare" "$(traced s.jsonl ./ask)" "$(./ask)"

# a program that puts its own file at 1000 with dup2, again and again,
# while the sampler writes every millisecond: the timeline moves off the
# number first each time the number is the timeline's, under the lock its
# writes hold, so the program's file holds only what the program wrote,
# and the timeline goes on (samples after the first dup2)
cat > take.c <<'EOS'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void)
{
    int mine = open("mine.txt", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    for (int i = 0; i < 300; i++) {
        for (int k = 0; k < 20; k++)
            free(malloc(4096 * k + 10));
        if (dup2(mine, 1000) != 1000 || write(1000, "program\n", 8) != 8)
            return 1;
        close(1000);
        usleep(1000);
    }
    return 0;
}
EOS
cc -o take take.c
rm -f s.jsonl mine.txt
PERFPROBE_INTERVAL_MS=1 traced s.jsonl timeout -k 5 60 ./take
eq "dup2 onto 1000, 300 times: exit status" $? 0
eq "dup2 onto 1000, 300 times: the program's file holds only its 300 lines" \
    "$(sort mine.txt | uniq -c | tr -s ' ')" " 300 program"
check "dup2 onto 1000: every line of the timeline is JSON" valid_jsonl s.jsonl
le "dup2 onto 1000: the timeline goes on (samples in the 300 ms)" 20 \
    "$(jq -r 'select(.type == "sample")' s.jsonl | grep -c '"type"')"
eq "dup2 onto 1000: the program's summary is there" \
    "$(jq -s -r '([.[] | select(.type == "header" and (.exe | endswith("/take")))][0].pid) as $p
        | [.[] | select(.type == "summary" and .pid == $p)] | length' s.jsonl)" 1

# dup, dup2 and dup3 from a kept number fail as from a closed one (bash's
# `exec 5>&1000` gave the script the timeline to write into); a vfork
# child's dup2 onto 1000 leaves the parent's descriptors as they were
script='exec 5>&1000; echo "rc=$?"; echo garbage >&5; /bin/true'
timeout -k 5 60 bash -c "$script" > bare.out 2> bare.err
rb=$?
rm -f s.jsonl
traced s.jsonl timeout -k 5 60 bash -c "$script" > shim.out 2> shim.err
eq "bash, exec 5>&1000: exit status as bare" $? $rb
eq "bash, exec 5>&1000: output and errors as bare" "$(cat shim.out shim.err)" "$(cat bare.out bare.err)"
check "bash, exec 5>&1000: every line of the timeline is JSON" valid_jsonl s.jsonl
cat > dups.c <<'EOS'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void)
{
    free(malloc(100));
    for (int fd = 1000; fd < 1005; fd++) {
        errno = 0;
        int a = dup(fd), ea = errno;
        errno = 0;
        int b = dup2(fd, 7), eb = errno;
        errno = 0;
        int c = dup2(fd, fd), ec = errno;
        errno = 0;
        int d = dup3(fd, 8, O_CLOEXEC), ed = errno;
        printf("%d: %d %d %d %d %d %d %d %d\n", fd, a, ea, b, eb, c, ec, d, ed);
    }
    int mine = open("vf.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t p = vfork();
    if (p == 0) {
        dup2(mine, 1000);
        _exit(0);
    }
    waitpid(p, NULL, 0);
    free(malloc(100));
    errno = 0;
    int v = fcntl(1000, F_GETFD);
    printf("after the vfork child's dup2: %d %d\n", v, errno);
    return 0;
}
EOS
cc -o dups dups.c
rm -f s.jsonl
eq "dup, dup2, dup3 from 1000-1004, and a vfork child's dup2 onto 1000: as bare" \
    "$(traced s.jsonl ./dups)" "$(./dups)"

# Under a soft limit of 4096 or less, with room below the hard limit, the
# shim's numbers are above the soft limit (raised for the dup while the
# process has one thread, then put back): a program that opens /dev/null
# until EMFILE opens as many as bare, in a new image, after an exec, and in
# a forked child; the limit it reads is the one it was given; the timeline
# goes on.  Ground truth: the same program bare, and the numbers it counts.
cat > emfile.c <<'EOS'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
static void fill(const char *who)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    int n = 0, high = -1, fd;
    while ((fd = open("/dev/null", O_RDONLY)) >= 0) {
        n++;
        high = fd > high ? fd : high;
    }
    printf("%s: soft %llu hard %llu opened %d highest %d\n", who,
           (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, n, high);
    fflush(stdout);
}
int main(int argc, char **argv)
{
    free(malloc(100));
    if (argc > 1 && strcmp(argv[1], "fork") == 0) {
        pid_t p = fork();
        if (p == 0) {
            free(malloc(100));
            fill("child");
            exit(0);
        }
        waitpid(p, NULL, 0);
    }
    fill("main");
    usleep(30000);               /* samples after the loop */
    return 0;
}
EOS
cc -o emfile emfile.c
cat > desc.c <<'EOS'
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
/* the number in process PID's table open on PATH, or -1 */
static int find(pid_t pid, const char *path)
{
    char dir[64], link[PATH_MAX + 64], to[PATH_MAX];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = -1;
    while (d && (e = readdir(d))) {
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(link, to, sizeof to - 1);
        if (n > 0 && (to[n] = 0, strcmp(to, path) == 0))
            found = atoi(e->d_name);
    }
    if (d)
        closedir(d);
    return found;
}
int main(int argc, char **argv)
{
    free(malloc(100));
    pid_t p = fork();
    if (p == 0) {
        free(malloc(100));
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        int mine = find(getpid(), argv[1]), theirs = find(getppid(), argv[1]);
        long same = syscall(SYS_kcmp, getppid(), getpid(), KCMP_FILE, theirs, mine);
        printf("%s %s\n", mine < 0 || theirs < 0 ? "none" : same == 0 ? "shared" : same < 0 ? "error" : "own",
               mine >= (int)rl.rlim_cur ? "above" : "below");
        exit(0);
    }
    waitpid(p, NULL, 0);
    return 0;
}
EOS
cc -o desc desc.c
# a library the program links starts a thread in its constructor (which
# runs before the shim's) that reads the limit all along: it must never
# see the shim's raised one, so the shim raises none while that thread
# lives (it asks the kernel how many threads there are)
cat > watch.c <<'EOS'
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>
static volatile int stop;
static rlim_t most;
static pthread_t t;
static void *watch(void *a)
{
    struct rlimit rl;
    while (!stop)
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > most)
            most = rl.rlim_cur;
    return a;
}
__attribute__((constructor)) static void begin(void) { pthread_create(&t, NULL, watch, NULL); }
void watch_report(void)
{
    while (!most)               /* it read at least once (a loaded machine) */
        sched_yield();
    stop = 1;
    pthread_join(t, NULL);
    printf("most %llu\n", (unsigned long long)most);
}
EOS
printf 'void watch_report(void);\nint main(void) { watch_report(); return 0; }\n' > watched.c
cc -shared -fPIC -o libwatch.so watch.c -pthread && cc -o watched watched.c -L. -lwatch -Wl,-rpath,"$PWD"
hard=$(ulimit -H -n)
if [ "$hard" != unlimited ] && [ "$hard" -lt 1100 ]; then
    ulimit -H -n 4096 2>/dev/null || hard=
fi
if [ -z "$hard" ]; then
    echo "# skip: the hard limit on descriptors ($(ulimit -H -n)) leaves no room above 1024"
else
    for soft in 1024 200; do
        bare=$( (ulimit -S -n $soft; ./emfile fork) )
        rm -f s.jsonl
        shim=$( (ulimit -S -n $soft; PERFPROBE_INTERVAL_MS=5 traced s.jsonl ./emfile fork) )
        eq "soft limit $soft: opened until EMFILE, in the program and its forked child, as bare" \
            "$shim" "$bare"
        eq "soft limit $soft: bare reached the limit" \
            "$(echo "$bare" | awk '{print $9}' | sort -u)" "$((soft - 1))"
        check "soft limit $soft: every line of the timeline is JSON" valid_jsonl s.jsonl
        eq "soft limit $soft: the summaries of the program and its child are there" \
            "$(jq -s '[.[] | select(.type == "summary")] | length' s.jsonl)" 2
        rm -f s.jsonl
        shim=$( (ulimit -S -n $soft; traced s.jsonl bash -c 'true; exec ./emfile') )
        eq "soft limit $soft: in an image bash exec'd, as bare" "$shim" \
            "$(echo "$bare" | grep '^main')"
        eq "soft limit $soft: the exec'd image is bash's next (image 1)" \
            "$(jq -s -r '[.[] | select(.type == "header" and (.exe | endswith("/emfile")))][0].image' s.jsonl)" 1
        # a forked child writes the timeline through an open file of its
        # own (core/timeline.c, own_description: its lock and its offset
        # are its own), put on its number above the limit too
        rm -f s.jsonl
        eq "soft limit $soft: a thread a linked library's constructor started never sees another limit" \
            "$( (ulimit -S -n $soft; traced s.jsonl ./watched) )" "most $soft"
        rm -f s.jsonl
        eq "soft limit $soft: a forked child's timeline is an open file of its own (kcmp)" \
            "$( (ulimit -S -n $soft; traced s.jsonl ./desc "$PWD/s.jsonl") )" "own above"
    done
fi
