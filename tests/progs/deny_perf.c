/*
 * deny_perf.c CMD [ARGS...] - run CMD under a seccomp filter that fails
 * perf_event_open with EACCES (every other system call is allowed), as a
 * container runtime's default profile does: the refusal path of CPU
 * sampling.  With DENY=process_vm_readv in the environment, that call
 * instead (EPERM): the refusal path of reading Python's frames.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *deny = getenv("DENY");
    int vm = deny && !strcmp(deny, "process_vm_readv");
    unsigned nr = vm ? __NR_process_vm_readv : __NR_perf_event_open;
    unsigned err = vm ? EPERM : EACCES;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("deny_perf: seccomp");
        return 125;
    }
    execvp(argv[1], argv + 1);
    perror("deny_perf: exec");
    return 127;
}
