/*
 * syscall.c - the process's syscall(), exported (x86-64): the system call
 * made as glibc's syscall makes it, and the one call the shim must see
 * coming, a seccomp filter put on every thread.
 *
 * syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC,
 * prog) puts the filter on the sampler's thread too, and a filter that
 * does not expect the flags of the sampler's task apart kills the process
 * at its next clone (apart.c, which looks for a filter before each clone:
 * one landing between that look and the clone killed t0500's
 * seccomp_clone 9 runs in 80).  So that call forbids the task apart first
 * (pp_apart_forbid), and then goes on.  Every other call is made as it
 * would be (the instruction; errno from a result in [-4095, -1]), with no
 * look-up of the real one: the shim's own futex waits come here too, from
 * its first moment.  It lives in the system layer because the shim's own
 * system code calls it.  A filter put on by the instruction itself (no
 * libc) is seen by apart.c's look alone.
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#if defined(__x86_64__)
#include <errno.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <sys/syscall.h>

PP_EXPORT long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    if (nr == SYS_seccomp && a == SECCOMP_SET_MODE_FILTER && (b & SECCOMP_FILTER_FLAG_TSYNC))
        pp_apart_forbid();
    register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    if ((unsigned long)ret > -4096ul) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}
#endif
