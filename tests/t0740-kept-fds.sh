# The descriptors the shim keeps (the timeline, some /proc files, at 1000
# and above) look closed to fcntl: bash, pointing a number there at a file
# (`exec 1000>file`), asks F_GETFD first, and finding it open it saved the
# shim's and put it back, so that the script wrote into the timeline (its
# next line was not JSON) at 1000 and failed with "Bad file descriptor" at
# 1001-1004.  A C program that asks fcntl and fcntl64 about those numbers
# gets EBADF, as bare.  Ground truth: the same commands bare; every line of
# the timeline read by jq, the summary there.
. "$PP_ROOT/tests/lib.sh"

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
