/*
 * fds.c - the interposed fcntl (and fcntl64): a descriptor the shim keeps
 * looks closed to it.
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
 * Left: listings of /proc/self/fd, and the other calls (dup, dup2 from
 * it, fstat, read) on such a number, still find it; a dup2 by the system
 * call itself is not seen.  Linux only.
 */
#define _GNU_SOURCE
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>

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

/* dup2 and dup3 onto the timeline's number: the timeline moves off it
 * first (core/timeline.c), so that no write of the shim's, checked just
 * before, lands in the program's file */
PP_HOOK(int, dup2, (int oldfd, int newfd))
{
    if (PP_UNLIKELY(pp_fd_kept(newfd)) && !pp_os_own_code(__builtin_return_address(0)))
        pp_timeline_fd_taken(newfd);
    REAL(dup2);
    return real_dup2(oldfd, newfd);
}

PP_HOOK(int, dup3, (int oldfd, int newfd, int flags))
{
    if (PP_UNLIKELY(pp_fd_kept(newfd)) && !pp_os_own_code(__builtin_return_address(0)))
        pp_timeline_fd_taken(newfd);
    REAL(dup3);
    return real_dup3(oldfd, newfd, flags);
}
#endif
