/*
 * syscall.c - the process's syscall(), exported (x86-64): the system call
 * made as glibc's syscall makes it, and the calls the shim must see
 * coming: a seccomp filter put on every thread, and the calls that need
 * the process to have one thread.
 *
 * syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC,
 * prog) puts the filter on the sampler's thread too, and a filter that
 * does not expect the flags of the sampler's task apart kills the process
 * at its next clone (apart.c, which looks for a filter before each clone:
 * one landing between that look and the clone killed t0500's
 * seccomp_clone 9 runs in 80).  So that call forbids the task apart first
 * (pp_apart_forbid), and then goes on.
 *
 * unshare (CLONE_NEWUSER, CLONE_FS) and setns (into a user or mount
 * namespace) fail with EINVAL in a process with more than one thread, and
 * close_range with CLOSE_RANGE_UNSHARE leaves the old descriptor table,
 * and every descriptor it closes, open for as long as another thread
 * shares it: made through syscall() they run with the sampler thread
 * stopped, as the hooks of unshare, setns and close_range run them
 * (hooks/process.c).  The stop and the start are the core's
 * (pp_syscall_alone hands them over: this layer names nothing above it).
 * The raw set*id calls change the calling thread alone, bare too: they go
 * straight through.
 *
 * Every other call is made as it would be (the instruction; errno from a
 * result in [-4095, -1]), with no look-up of the real one: the shim's own
 * futex waits come here too, from its first moment.  It lives in the
 * system layer because the shim's own system code calls it.  A filter put
 * on by the instruction itself (no libc) is seen by apart.c's look alone.
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif

/* the core's pair (life.c), set once at start-up on the program's thread */
static int (*alone_begin)(void);
static void (*alone_end)(int);

void pp_syscall_alone(int (*begin)(void), void (*end)(int))
{
    alone_begin = begin;
    alone_end = end;
}

#if defined(__x86_64__)
static inline long raw(long nr, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* a call that needs the process to have one thread; or a seccomp filter
 * for every thread, which must not reach the sampler's (a filter that
 * traps or kills on its calls took the process down: the sampler blocks
 * every signal, so a trap's SIGSYS kills): once it is on, the caller's
 * start of the sampler finds a filter the image did not begin under, and
 * starts none (core/sampler.c) */
static int wants_alone(long nr, long a, long b, long c)
{
    return nr == SYS_unshare || nr == SYS_setns ||
           (nr == SYS_close_range && ((unsigned long)c & CLOSE_RANGE_UNSHARE)) ||
           (nr == SYS_seccomp && a == SECCOMP_SET_MODE_FILTER && (b & SECCOMP_FILTER_FLAG_TSYNC));
}

PP_EXPORT long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    if (nr == SYS_seccomp && a == SECCOMP_SET_MODE_FILTER && (b & SECCOMP_FILTER_FLAG_TSYNC))
        pp_apart_forbid();
    long ret;
    /* a file-size limit set by the system call itself (sys/posix.c) */
    if ((nr == SYS_setrlimit && a == RLIMIT_FSIZE) ||
        (nr == SYS_prlimit64 && b == RLIMIT_FSIZE && c)) {
        pp_fsize_change_begin();
        ret = raw(nr, a, b, c, d, e, f);
        pp_fsize_change_end();
    } else if (alone_begin && wants_alone(nr, a, b, c)) {
        int began = alone_begin();
        ret = raw(nr, a, b, c, d, e, f);
        alone_end(began);               /* errno as it was: set below */
    } else {
        ret = raw(nr, a, b, c, d, e, f);
    }
    if ((unsigned long)ret > -4096ul) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}
#endif
