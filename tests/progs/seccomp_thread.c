/* seccomp_thread: a seccomp filter the program puts on one thread, or on
 * every thread with a trap its own SIGSYS handler answers, then what
 * makes the shim start a sampler thread or meet the filter there:
 *
 *   seccomp_thread fork NR       the main thread's filter kills the process on
 *                                system call NR; a forked child allocates
 *                                1 MiB, sleeps 300 ms and exits 3; prints how
 *                                the child ended
 *   seccomp_thread setgroups NR  the same filter, then setgroups(0, NULL)
 *                                (the set*id calls stop and start the
 *                                sampler), then 300 ms of allocations
 *   seccomp_thread trap NR       a filter on every thread (TSYNC) that traps
 *                                getppid and NR; the handler answers getppid
 *                                with 4242, NR with ENOSYS; 300 ms of
 *                                allocations; prints getppid's answer
 *   seccomp_thread errno NR      a filter on every thread that fails NR with
 *                                ENOSYS; 300 ms of allocations
 *
 * Bare, none of these calls NR: the filter is never met, and each exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static void answer(int sig, siginfo_t *si, void *uc_)
{
    ucontext_t *uc = uc_;
    (void)sig;
    uc->uc_mcontext.gregs[REG_RAX] = si->si_syscall == SYS_getppid ? 4242 : -ENOSYS;
}

static void busy(void)
{
    for (int i = 0; i < 300; i++) {
        free(malloc(100 + (size_t)i));
        usleep(1000);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int nr = atoi(argv[2]), trap = !strcmp(argv[1], "trap"), fails = !strcmp(argv[1], "errno");
    unsigned action = trap    ? SECCOMP_RET_TRAP
                      : fails ? SECCOMP_RET_ERRNO | ENOSYS
                              : SECCOMP_RET_KILL_PROCESS;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, trap ? SECCOMP_RET_TRAP : SECCOMP_RET_ALLOW),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, action),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof *f, f};
    if (trap) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = answer;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSYS, &sa, NULL);
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                trap || fails ? SECCOMP_FILTER_FLAG_TSYNC : 0, &prog)) {
        perror("seccomp");
        return 8;
    }
    if (!strcmp(argv[1], "fork")) {
        pid_t c = fork();
        if (c == 0) {
            char *b = malloc(1 << 20);
            memset(b, 1, 1 << 20);
            usleep(300000);
            exit(3);
        }
        int st;
        waitpid(c, &st, 0);
        printf("child: %s %d\n", WIFEXITED(st) ? "exit" : "signal",
               WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    } else if (fails) {
        busy();
        puts("done");
    } else if (!strcmp(argv[1], "setgroups")) {
        if (setgroups(0, NULL) != 0)
            perror("setgroups");
        busy();
        puts("done");
    } else {
        long pp = getppid();
        busy();
        printf("getppid %ld\n", pp);
    }
    return 0;
}
