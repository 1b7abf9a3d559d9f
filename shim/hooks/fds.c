/*
 * fds.c - the interposed fcntl (and fcntl64): a descriptor the shim keeps
 * looks closed to it; dup, dup2 and dup3 around those numbers; setrlimit
 * and prlimit, so that the shim knows a file-size limit before it bites
 * (at the end).
 *
 * Why: the shim keeps a few descriptors of its own (the timeline, some
 * /proc files), moved to 1000 and above (sys/posix.c), and a program
 * that asks fcntl whether a number is open found them.  bash, before it
 * points a number at a file (`exec 1000>file`), asks F_GETFD; finding the
 * number open and close-on-exec, it took it for one of its own, saved it
 * and put it back after the redirection, so that the script's writes to
 * 1000 went into the timeline (its next line was not JSON) and its file
 * stayed empty; at 1001-1004 (the shim's read-only /proc files) they
 * failed with "Bad file descriptor".  Bare, the number is closed.  So
 * every fcntl call on a number the shim keeps, with the file the shim
 * kept there still there, fails with EBADF, as on a closed number; the
 * program then takes the number over (dup2), and the shim, whose check
 * before each use finds another file there, forgets it and opens its
 * file again elsewhere.  Every other call goes to the real function
 * untouched (one compare with the lowest number the shim keeps); the
 * shim's own calls (known by their return address) too.
 *
 * dup2 and dup3 onto the timeline's number move the timeline off it
 * first, under the lock its writes hold from their check to their write:
 * a write of the sampler's, checked just before the program's dup2, went
 * into the program's file (shown with gdb).  The shim's read-only /proc
 * files are not moved: a read of one that the program's dup2 met between
 * its check and its read reads the program's file, for one sample.
 *
 * dup, dup2 and dup3 from such a number fail with EBADF too (bash's
 * `exec 5>&1000` gave the script the timeline to write into).  A vfork
 * child's dup2 onto it moves nothing: the child shares the memory, not
 * the descriptor table.
 *
 * Left: listings of /proc/self/fd, and fstat or read on such a number,
 * still find it; calls made by the system call itself are not seen.
 * Linux only.
 */
#define _GNU_SOURCE
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <ulimit.h>

#define REAL(name) PP_REAL_FN(name)

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>

/* glibc reads the third argument as a pointer whatever the command */
#define THIRD(cmd, arg)                                                         \
    do {                                                                        \
        va_list ap;                                                             \
        va_start(ap, cmd);                                                      \
        arg = va_arg(ap, void *);                                               \
        va_end(ap);                                                             \
    } while (0)

/* the shim's own calls (sys/posix.c moves its files up) are the system
 * call itself: no look-up of the real function on the sampler's thread */
#define OWN(caller, fd, cmd, arg)                                               \
    do {                                                                        \
        if (PP_UNLIKELY(pp_os_own_code(caller)))                                \
            return (int)syscall(SYS_fcntl, fd, cmd, arg);                       \
        if (PP_UNLIKELY(pp_fd_kept(fd))) {                                      \
            errno = EBADF;                                                      \
            return -1;                                                          \
        }                                                                       \
    } while (0)

PP_HOOK(int, fcntl, (int fd, int cmd, ...))
{
    void *arg;
    THIRD(cmd, arg);
    OWN(__builtin_return_address(0), fd, cmd, arg);
    REAL(fcntl);
    return real_fcntl(fd, cmd, arg);
}

/* the same function in glibc (fcntl is its older name) */
PP_HOOK(int, fcntl64, (int fd, int cmd, ...))
{
    void *arg;
    THIRD(cmd, arg);
    OWN(__builtin_return_address(0), fd, cmd, arg);
    REAL(fcntl64);
    return real_fcntl64(fd, cmd, arg);
}

/* dup, dup2 and dup3 from a kept number fail as from a closed one
 * (`exec 5>&1000` in bash wrote into the timeline); dup2 and dup3 onto
 * the timeline's number move the timeline off it first (core/timeline.c),
 * so that no write of the shim's, checked just before, lands in the
 * program's file.  dup3's own errors come first, as the kernel's do. */
static int from_kept(int oldfd, const void *caller)
{
    if (PP_UNLIKELY(pp_fd_kept(oldfd)) && !pp_os_own_code(caller)) {
        errno = EBADF;
        return 1;
    }
    return 0;
}

static void onto_kept(int newfd, const void *caller)
{
    if (PP_UNLIKELY(pp_fd_kept(newfd)) && !pp_os_own_code(caller))
        pp_timeline_fd_taken(newfd);
}

PP_HOOK(int, dup, (int oldfd))
{
    if (from_kept(oldfd, __builtin_return_address(0)))
        return -1;
    REAL(dup);
    return real_dup(oldfd);
}

PP_HOOK(int, dup2, (int oldfd, int newfd))
{
    const void *caller = __builtin_return_address(0);
    if (from_kept(oldfd, caller))
        return -1;
    onto_kept(newfd, caller);
    REAL(dup2);
    return real_dup2(oldfd, newfd);
}

PP_HOOK(int, dup3, (int oldfd, int newfd, int flags))
{
    const void *caller = __builtin_return_address(0);
    if (!(flags & ~O_CLOEXEC) && oldfd != newfd) {
        if (from_kept(oldfd, caller))
            return -1;
        onto_kept(newfd, caller);
    }
    REAL(dup3);
    return real_dup3(oldfd, newfd, flags);
}

/* ---- the file-size limit ----------------------------------------------------
 *
 * A write of the shim's past RLIMIT_FSIZE raises SIGXFSZ (`ulimit -f 16`
 * ended a program that itself wrote nothing too large), so SIGXFSZ is kept
 * from the program around each write while the soft limit is finite
 * (sys/posix.c, pp_quiet_begin).  A limit the program sets is known before
 * it takes effect (each sample looks again, for one set from outside). */
#define LIMIT_HOOK(name, params, args, sets)                                    \
    PP_HOOK(int, name, params)                                                  \
    {                                                                           \
        int fsize = (sets);                                                     \
        if (fsize)                                                              \
            pp_fsize_change_begin();                                            \
        REAL(name);                                                             \
        int rc = real_##name args;                                              \
        if (fsize)                                                              \
            pp_fsize_change_end();                                              \
        return rc;                                                              \
    }
/* the 64 names are glibc's for the same calls (a program built with
 * _FILE_OFFSET_BITS=64, bash among them, calls setrlimit64) */
LIMIT_HOOK(setrlimit, (__rlimit_resource_t res, const struct rlimit *rl), (res, rl),
           res == RLIMIT_FSIZE)
LIMIT_HOOK(setrlimit64, (__rlimit_resource_t res, const struct rlimit64 *rl), (res, rl),
           res == RLIMIT_FSIZE)
LIMIT_HOOK(prlimit, (pid_t pid, __rlimit_resource_t res, const struct rlimit *rl,
                     struct rlimit *old), (pid, res, rl, old), res == RLIMIT_FSIZE && rl)
LIMIT_HOOK(prlimit64, (pid_t pid, __rlimit_resource_t res, const struct rlimit64 *rl,
                       struct rlimit64 *old), (pid, res, rl, old), res == RLIMIT_FSIZE && rl)

/* ulimit sets the limit through glibc's own setrlimit, past the hook */
PP_EXPORT long ulimit(int cmd, ...)
{
    long arg = 0;
    int fsize = cmd == UL_SETFSIZE;
    if (fsize) {                        /* the only command with an argument */
        va_list ap;
        va_start(ap, cmd);
        arg = va_arg(ap, long);
        va_end(ap);
        pp_fsize_change_begin();
    }
    REAL(ulimit);
    long rc = real_ulimit(cmd, arg);
    if (fsize)
        pp_fsize_change_end();
    return rc;
}
#endif
