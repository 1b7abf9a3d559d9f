/*
 * process.c - the interposed functions that start, replace and end
 * processes, and nothing else: exit, _exit, _Exit, fork, the exec family,
 * posix_spawn(p), and on Linux daemon, unshare, setns, close_range and
 * the set*id family.
 *
 * Each hook tells the core what is about to happen (core/life.c: the
 * image's last records before an exec or an exit, the environment a child
 * is given) or the system layer (sys/<system>/single.c: glibc's
 * single-thread shortcuts), calls the real function, and returns its
 * result with errno as the real function left it.
 *
 * They are PP_HOOK definitions (sys.h): exported names on Linux, an
 * __interpose table on macOS, where only exit, _exit, _Exit, fork, execve,
 * posix_spawn and posix_spawnp are hooked (the other exec forms call
 * execve across images there, and the rest is glibc's or Linux's).
 */
#define _GNU_SOURCE
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#if defined(__linux__)
#include <grp.h>
#include <sched.h>
#include <sys/syscall.h>
#endif

#define REAL(name) PP_REAL_FN(name)

/* ---- exit ----------------------------------------------------------------- */

/* the summary once, whichever thread exits first (life.c: pp_exit) */
PP_HOOK(void, exit, (int status))
{
    pp_exit(status);
}

/* _exit: the probe records the timeline still holds leave first (it may be
 * called from a signal handler, or by a vfork child, which writes nothing).
 * The real _exit is one system call (pp_real_exit_now); no dlsym here. */
PP_HOOK(void, _exit, (int status))
{
    pp_exit_now_begin();
    pp_real_exit_now(status);
}

PP_HOOK(void, _Exit, (int status))
{
    PP_HOOKED(_exit)(status);
}

/* ---- exec ----------------------------------------------------------------- */

/* The environment passed is fixed first (life.c: pp_env_fixed): the copy
 * lives on the stack, or in a raw mapping for a very long environment,
 * unmapped if the exec fails. */
#define ENV_FIX(envp)                                                    \
    struct pp_env_fix fix_;                                              \
    char *fix_stack_[256];                                               \
    char fix_pre_[PP_ENV_PRE];                                           \
    fix_.pre_stack = fix_pre_;                                           \
    char *const *fixed_envp = pp_env_fixed(&fix_, envp, fix_stack_, 256)

/* Why FILE (SEARCH: looked up in PATH) will run without the shim, or NULL;
 * a program of another ELF class or machine gets the environment without
 * the shim's preload entry (its loader would say on stderr that it cannot
 * preload it).  errno as it was: a spawn that succeeds leaves it alone */
#define UNTRACED(file, search) untraced_env(&fix_, &fixed_envp, fix_stack_, file, search)

static const char *untraced_env(struct pp_env_fix *f, char *const **envp, char **stack,
                                const char *file, int search)
{
    int saved = errno;
    const char *why = pp_untraced(file, *envp, search);
    *envp = pp_env_unpreload(f, *envp, stack, 256, why);
    errno = saved;
    return why;
}

PP_HOOK(int, execve, (const char *file, char *const argv[], char *const envp[]))
{
    REAL(execve);
    ENV_FIX(envp);
    int b = pp_exec_begin(file, argv, UNTRACED(file, 0));
    int rc = real_execve(file, argv, fixed_envp);
    pp_exec_failed(b, file);
    pp_env_fix_done(&fix_);
    return rc;
}

#if defined(__linux__)
/* glibc's exec forms call execve inside libc; libSystem's call it across
 * images, through the table.  The forms that pass environ pass it fixed,
 * through the forms that take an environment (a forked child's environ
 * may hold its parent's tree: life.c, tree_export). */
PP_EXPORT int execv(const char *file, char *const argv[])
{
    REAL(execve);
    ENV_FIX(environ);
    int b = pp_exec_begin(file, argv, UNTRACED(file, 0));
    int rc = real_execve(file, argv, fixed_envp);
    pp_exec_failed(b, file);
    pp_env_fix_done(&fix_);
    return rc;
}

PP_EXPORT int execvp(const char *file, char *const argv[])
{
    REAL(execvpe);
    ENV_FIX(environ);
    int b = pp_exec_begin(file, argv, UNTRACED(file, 1));
    int rc = real_execvpe(file, argv, fixed_envp);
    pp_exec_failed(b, file);
    pp_env_fix_done(&fix_);
    return rc;
}

PP_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    REAL(execvpe);
    ENV_FIX(envp);
    int b = pp_exec_begin(file, argv, UNTRACED(file, 1));
    int rc = real_execvpe(file, argv, fixed_envp);
    pp_exec_failed(b, file);
    pp_env_fix_done(&fix_);
    return rc;
}

/* The file an exec relative to descriptor DIRFD names, as a path through
 * /proc/self/fd (PATH empty: the descriptor's own file) in OUT, for the
 * checks of UNTRACED; NULL when it does not fit (no check) */
static const char *through_fd(char *out, size_t cap, int dirfd, const char *path)
{
    if (dirfd == AT_FDCWD || path[0] == '/')
        return path;
    int n = snprintf(out, cap, "/proc/self/fd/%d%s%s", dirfd, path[0] ? "/" : "", path);
    return n > 0 && (size_t)n < cap ? out : NULL;
}

PP_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    REAL(fexecve);
    ENV_FIX(envp);
    char at[32];
    int b = pp_exec_begin(argv[0] ? argv[0] : "(fexecve)", argv,
                          UNTRACED(through_fd(at, sizeof at, fd, ""), 0));
    int rc = real_fexecve(fd, argv, fixed_envp);
    pp_exec_failed(b, "(fexecve)");
    pp_env_fix_done(&fix_);
    return rc;
}

/* execveat: glibc has it from 2.34; before, the system call itself. */
PP_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    REAL(execveat);
    ENV_FIX(envp);
    const char *name = path[0] ? path : argv[0] ? argv[0] : "(execveat)";
    char at[256];
    int b = pp_exec_begin(name, argv, UNTRACED(through_fd(at, sizeof at, dirfd, path), 0));
    int rc = real_execveat ? real_execveat(dirfd, path, argv, fixed_envp, flags)
                           : (int)syscall(SYS_execveat, dirfd, path, argv, fixed_envp, flags);
    pp_exec_failed(b, name);
    pp_env_fix_done(&fix_);
    return rc;
}
#endif

/* posix_spawn and posix_spawnp start a new process: no image of this one
 * ends, and the child finds its place in the tree by itself.  Only the
 * environment passed is fixed, as for execve (a shell's export list, or a
 * copy the program made earlier, holds an older PERFPROBE_TREE).  The copy
 * may live on the stack: the child has exec'd or failed when the call
 * returns. */
PP_HOOK(int, posix_spawn, (pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[]))
{
    REAL(posix_spawn);
    ENV_FIX(envp);
    const char *why = UNTRACED(path, 0);
    int rc = real_posix_spawn(pid, path, fa, attr, argv, fixed_envp);
    pp_spawned(rc, pid, path, why);
    pp_env_fix_done(&fix_);
    return rc;
}

PP_HOOK(int, posix_spawnp, (pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                            const posix_spawnattr_t *attr, char *const argv[], char *const envp[]))
{
    REAL(posix_spawnp);
    ENV_FIX(envp);
    const char *why = UNTRACED(file, 1);
    int rc = real_posix_spawnp(pid, file, fa, attr, argv, fixed_envp);
    pp_spawned(rc, pid, file, why);
    pp_env_fix_done(&fix_);
    return rc;
}

#if defined(__linux__)
/* execl, execlp, execle: the arguments are gathered into an array on the
 * stack and passed to the v-form above, as glibc itself does. */
#define GATHER(first, ap, argv, n, extra)                                  \
    size_t n = 1;                                                          \
    va_start(ap, first);                                                   \
    while (va_arg(ap, char *))                                             \
        n++;                                                               \
    va_end(ap);                                                            \
    char *argv[n + 1];                                                     \
    argv[0] = (char *)first;                                               \
    va_start(ap, first);                                                   \
    for (size_t i = 1; i <= n; i++)                                        \
        argv[i] = va_arg(ap, char *);                                      \
    extra;                                                                 \
    va_end(ap)

PP_EXPORT int execl(const char *file, const char *arg, ...)
{
    va_list ap;
    GATHER(arg, ap, argv, n, (void)0);
    return execv(file, argv);
}

PP_EXPORT int execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    GATHER(arg, ap, argv, n, (void)0);
    return execvp(file, argv);
}

PP_EXPORT int execle(const char *file, const char *arg, ...)
{
    va_list ap;
    char *const *envp;
    GATHER(arg, ap, argv, n, envp = va_arg(ap, char *const *));
    return execve(file, argv, envp);
}

/* ---- moments the program must be alone ------------------------------------ *
 *
 * unshare, setns, close_range and the set*id family: Linux and glibc only
 * (macOS has no namespaces, and libSystem's set*id is per process, with no
 * single-thread shortcut to undo; its setgroups and initgroups also differ
 * in type).
 *
 * unshare(CLONE_NEWUSER), unshare(CLONE_FS) and setns into a user or mount
 * namespace fail with EINVAL in a multi-threaded process: the sampler
 * thread is stopped around them (life.c: pp_alone_begin).  So is it around
 * close_range with CLOSE_RANGE_UNSHARE: with another thread sharing the
 * descriptor table the call closes in a copy, and the old table keeps
 * every descriptor open (a pipe's write end: its reader never sees EOF).
 * The same calls made through syscall() are stopped around there
 * (sys/linux/syscall.c). */

PP_EXPORT int unshare(int flags)
{
    REAL(unshare);
    int began = pp_alone_begin();
    int rc = real_unshare(flags);
    pp_alone_end(began);
    return rc;
}

PP_EXPORT int setns(int fd, int nstype)
{
    REAL(setns);
    int began = pp_alone_begin();
    int rc = real_setns(fd, nstype);
    pp_alone_end(began);
    return rc;
}

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif
/* glibc has close_range from 2.34; before, the system call itself */
PP_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
    static int (*real_close_range)(unsigned int, unsigned int, int);
    if (!real_close_range)
        *(void **)&real_close_range = pp_real_next("close_range");
    int began = (flags & CLOSE_RANGE_UNSHARE) ? pp_alone_begin() : 0;
    int rc = real_close_range ? real_close_range(first, last, flags)
                              : (int)syscall(SYS_close_range, first, last, flags);
    pp_alone_end(began);
    return rc;
}

/* ---- credentials ---------------------------------------------------------- *
 *
 * set*id and setgroups give every thread the new credentials (glibc sends
 * each its SIGSETXID), but PR_SET_KEEPCAPS and capset are the calling
 * thread's alone: a sampler thread that lost its capabilities with
 * setresuid fails the next setresgid, and glibc aborts the process
 * (setpriv and capsh as root did so).  So the sampler is stopped around
 * each call and started again by the caller, with its credentials.  While
 * it is stopped a program with one thread of its own has one thread, as
 * glibc believes (single.c), and glibc's view is left as bare leaves it.
 * When nothing was stopped (a sampler may still run: a call from a signal
 * handler inside the shim, or after the exit's work began) glibc is made
 * to believe the process has several threads from then on, so that the
 * new credentials reach the sampler too. */
#define SETXID_HOOK(name, params, args)                                 \
    PP_EXPORT int name params                                           \
    {                                                                   \
        REAL(name);                                                     \
        int began = pp_alone_creds_begin();                             \
        if (began == 0)                                                 \
            (void)pp_single_end();                                      \
        int rc = real_##name args;                                      \
        pp_alone_end(began > 0);                                        \
        return rc;                                                      \
    }
SETXID_HOOK(setuid, (uid_t u), (u))
SETXID_HOOK(setgid, (gid_t g), (g))
SETXID_HOOK(seteuid, (uid_t u), (u))
SETXID_HOOK(setegid, (gid_t g), (g))
SETXID_HOOK(setreuid, (uid_t r, uid_t e), (r, e))
SETXID_HOOK(setregid, (gid_t r, gid_t e), (r, e))
SETXID_HOOK(setresuid, (uid_t r, uid_t e, uid_t s), (r, e, s))
SETXID_HOOK(setresgid, (gid_t r, gid_t e, gid_t s), (r, e, s))
SETXID_HOOK(setgroups, (size_t n, const gid_t *list), (n, list))
SETXID_HOOK(initgroups, (const char *user, gid_t group), (user, group))
#endif /* __linux__ */

/* ---- fork ----------------------------------------------------------------- */

/* fork, and daemon, which calls glibc's fork inside libc: see single.c (the
 * core's part of a fork is its pthread_atfork handlers, life.c) */
PP_HOOK(pid_t, fork, (void))
{
    REAL(fork);
    int ended = pp_single_end();
    pid_t pid = real_fork();
    int saved = errno;
    pp_single_restore(ended);
    errno = saved;
    return pid;
}

#if defined(__linux__)
PP_EXPORT int daemon(int nochdir, int noclose)
{
    REAL(daemon);
    int ended = pp_single_end();
    int rc = real_daemon(nochdir, noclose);
    int saved = errno;
    pp_single_restore(ended);
    errno = saved;
    return rc;
}
#endif
