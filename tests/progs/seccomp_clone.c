// link: -pthread
/* seccomp_clone: installs, on every thread of the process (TSYNC), a
 * seccomp filter that kills the process on a clone with CLONE_THREAD but
 * without CLONE_FILES (what a browser's sandbox does with clone flags it
 * does not expect; pthread_create's flags pass), then starts and joins a
 * thread every millisecond for 300 ms.  Prints the threads it made. */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

#include "util.h"

static void *spin(void *arg)
{
    volatile unsigned long x = 0;
    for (int i = 0; i < 100000; i++)
        x += (unsigned long)i;
    return arg;
}

int main(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, CLONE_THREAD | CLONE_FILES),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CLONE_THREAD, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof *f, f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0) {
        perror("seccomp");
        return 2;
    }
    int made = 0;
    for (int i = 0; i < 300; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, spin, NULL) == 0 && pthread_join(t, NULL) == 0)
            made++;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    printf("threads %d\n", made);
    return 0;
}
