/*
 * procfs.c - the interposed fopen, open and openat (with their 64-bit and
 * fortified names), for two files only: the program's own /proc/self/stat
 * and /proc/self/status (or /proc/PID/...), opened for reading, are given
 * as a copy whose thread count leaves out the shim's sampler thread
 * (sys/linux/selfstat.c says why and how); and readdir and scandir,
 * whose listing of the program's own /proc/self/task leaves that thread
 * out too.  Every other call goes to the real function untouched, with its
 * arguments and errno; the test on the way there is a few byte compares
 * (of the path; of an entry's name), since open and readdir are called a
 * lot.
 *
 * The shim's own reads of these files (the sampler's, on descriptors it
 * keeps) must see the kernel's figures: it takes RSS from them, and decides
 * from the count when the program is gone.  Its code calls pp_os_open, not
 * this hook (sys.h); a call that reaches the hook all the same (glibc's
 * inline open under _FORTIFY_SOURCE binds to the exported name) is known
 * by its return address in the library's own code (pp_os_own_code) and
 * made as the openat system call itself (pp_os_open_raw): no edit, and no
 * dlsym on the sampler thread (the loader's lock) for the next open.
 *
 * Linux only: on macOS the thread count comes from task_threads, which no
 * hook here can change (docs/robustness.md).
 */
#define _GNU_SOURCE
#define PP_OPEN_HOOKS           /* open is the hook here (sys.h) */
#include "core/core.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define REAL(name) PP_REAL_FN(name)

#if defined(__linux__)
/* glibc's entry points for open under _FORTIFY_SOURCE (bits/fcntl2.h
 * declares them only then): the checked calls without a mode */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

/* "/proc/" by bytes: stops at the first that differs, so a shorter path
 * is never read past its end */
static inline int under_proc(const char *p)
{
    return p[0] == '/' && p[1] == 'p' && p[2] == 'r' && p[3] == 'o' && p[4] == 'c' &&
           p[5] == '/';
}

/* the flags of a plain read of the file: read-only, and nothing the copy
 * could not keep as the real open would (O_NOATIME, O_DIRECT, O_PATH,
 * O_DIRECTORY, O_CREAT ...: the real file) */
#define PLAIN_FLAGS (O_CLOEXEC | O_LARGEFILE | O_NOCTTY | O_NONBLOCK)

/* A descriptor over the copy when PATH, opened with FLAGS by the program,
 * is its own stat or status; -1 otherwise.  The test every open makes is
 * inline; the rest is not. */
static __attribute__((noinline)) int self_open_slow(const char *path, int flags)
{
    pid_t sampler = pp_sampler_tid();
    int which;
    if (!sampler || !(which = pp_os_self_proc_file(path)))
        return -1;
    return pp_os_self_proc_fd(path, which, flags, sampler);
}

static inline __attribute__((always_inline)) int self_open(const char *path, int flags)
{
    /* open's path is declared nonnull: kept out of the compiler's sight,
     * so that a NULL reaches the kernel (EFAULT) instead of faulting here */
    __asm__("" : "+r"(path));
    if (PP_LIKELY(!path || !under_proc(path)) || (flags & ~PLAIN_FLAGS) != O_RDONLY)
        return -1;
    return self_open_slow(path, flags);
}

/* open's third argument is read only when the call has one: with O_CREAT
 * or O_TMPFILE (as glibc reads it) */
#define NEEDS_MODE(flags) (((flags) & O_CREAT) || ((flags) & O_TMPFILE) == O_TMPFILE)
#define MODE_ARG(flags, last, mode)                                              \
    do {                                                                        \
        if (NEEDS_MODE(flags)) {                                                \
            va_list ap;                                                         \
            va_start(ap, last);                                                 \
            mode = (mode_t)va_arg(ap, int);                                     \
            va_end(ap);                                                         \
        }                                                                       \
    } while (0)

PP_HOOK(int, open, (const char *path, int flags, ...))
{
    mode_t mode = 0;
    MODE_ARG(flags, flags, mode);
    if (PP_UNLIKELY(pp_os_own_code(__builtin_return_address(0))))
        return pp_os_open_raw(AT_FDCWD, path, flags, mode);
    int fd = self_open(path, flags);
    if (fd >= 0)
        return fd;
    REAL(open);
    return real_open(path, flags, mode);
}

PP_HOOK(int, open64, (const char *path, int flags, ...))
{
    mode_t mode = 0;
    MODE_ARG(flags, flags, mode);
    if (PP_UNLIKELY(pp_os_own_code(__builtin_return_address(0))))
        return pp_os_open_raw(AT_FDCWD, path, flags, mode);
    int fd = self_open(path, flags);
    if (fd >= 0)
        return fd;
    REAL(open64);
    return real_open64(path, flags, mode);
}

/* openat: an absolute path names the same file whatever DIRFD is; a
 * relative one goes to the real function */
PP_HOOK(int, openat, (int dirfd, const char *path, int flags, ...))
{
    mode_t mode = 0;
    MODE_ARG(flags, flags, mode);
    if (PP_UNLIKELY(pp_os_own_code(__builtin_return_address(0))))
        return pp_os_open_raw(dirfd, path, flags, mode);
    int fd = self_open(path, flags);
    if (fd >= 0)
        return fd;
    REAL(openat);
    return real_openat(dirfd, path, flags, mode);
}

PP_HOOK(int, openat64, (int dirfd, const char *path, int flags, ...))
{
    mode_t mode = 0;
    MODE_ARG(flags, flags, mode);
    if (PP_UNLIKELY(pp_os_own_code(__builtin_return_address(0))))
        return pp_os_open_raw(dirfd, path, flags, mode);
    int fd = self_open(path, flags);
    if (fd >= 0)
        return fd;
    REAL(openat64);
    return real_openat64(dirfd, path, flags, mode);
}

/* The fortified names take no mode: a call that needs one is the real
 * function's to refuse (it aborts), so only a plain read is looked at. */
PP_HOOK(int, __open_2, (const char *path, int flags))
{
    if (PP_UNLIKELY(pp_os_own_code(__builtin_return_address(0))) && !NEEDS_MODE(flags))
        return pp_os_open_raw(AT_FDCWD, path, flags, 0);
    int fd = self_open(path, flags);
    if (fd >= 0)
        return fd;
    REAL(__open_2);
    return real___open_2(path, flags);
}

PP_HOOK(int, __open64_2, (const char *path, int flags))
{
    if (PP_UNLIKELY(pp_os_own_code(__builtin_return_address(0))) && !NEEDS_MODE(flags))
        return pp_os_open_raw(AT_FDCWD, path, flags, 0);
    int fd = self_open(path, flags);
    if (fd >= 0)
        return fd;
    REAL(__open64_2);
    return real___open64_2(path, flags);
}

PP_HOOK(int, __openat_2, (int dirfd, const char *path, int flags))
{
    if (PP_UNLIKELY(pp_os_own_code(__builtin_return_address(0))) && !NEEDS_MODE(flags))
        return pp_os_open_raw(dirfd, path, flags, 0);
    int fd = self_open(path, flags);
    if (fd >= 0)
        return fd;
    REAL(__openat_2);
    return real___openat_2(dirfd, path, flags);
}

PP_HOOK(int, __openat64_2, (int dirfd, const char *path, int flags))
{
    if (PP_UNLIKELY(pp_os_own_code(__builtin_return_address(0))) && !NEEDS_MODE(flags))
        return pp_os_open_raw(dirfd, path, flags, 0);
    int fd = self_open(path, flags);
    if (fd >= 0)
        return fd;
    REAL(__openat64_2);
    return real___openat64_2(dirfd, path, flags);
}

/* fopen: glibc's opens the file with its own internal open, which no hook
 * sees, so a stream is edited here once */
static FILE *self_fopen(const char *path, const char *mode, const void *ret)
{
    pid_t sampler = pp_sampler_tid();
    int which;
    if (!sampler || !path || !mode || mode[0] != 'r' || strchr(mode, '+') || pp_os_own_code(ret) ||
        !under_proc(path) || !(which = pp_os_self_proc_file(path)))
        return NULL;
    return pp_os_self_stat_stream(path, which, mode, sampler);
}

PP_HOOK(FILE *, fopen, (const char *path, const char *mode))
{
    FILE *f = self_fopen(path, mode, __builtin_return_address(0));
    if (f)
        return f;
    REAL(fopen);
    return real_fopen(path, mode);
}

PP_HOOK(FILE *, fopen64, (const char *path, const char *mode))
{
    FILE *f = self_fopen(path, mode, __builtin_return_address(0));
    if (f)
        return f;
    REAL(fopen64);
    return real_fopen64(path, mode);
}

/* readdir: a listing of the program's own /proc/self/task (os.listdir,
 * psutil's threads(), ls) leaves out the sampler thread and its task
 * apart, as the counts above do.  Every entry costs a compare of its first
 * byte, a number one a few more; only the sampler's own id asks the
 * kernel which directory this is */
PP_HOOK(struct dirent *, readdir, (DIR *dir))
{
    REAL(readdir);
    struct dirent *e;
    pid_t sampler = pp_sampler_tid();
    while ((e = real_readdir(dir)) != NULL && sampler > 0 &&
           pp_os_own_task_entry(dirfd(dir), NULL, e->d_name, sampler))
        ;
    return e;
}

PP_HOOK(struct dirent64 *, readdir64, (DIR *dir))
{
    REAL(readdir64);
    struct dirent64 *e;
    pid_t sampler = pp_sampler_tid();
    while ((e = real_readdir64(dir)) != NULL && sampler > 0 &&
           pp_os_own_task_entry(dirfd(dir), NULL, e->d_name, sampler))
        ;
    return e;
}

/* scandir and its kin: glibc lists through its own internal readdir, past
 * the hooks above, so the entries go through a filter of the shim's first
 * (the sampler's id and its task apart's, in this process's own task
 * list, are left out), then through the caller's.  The caller's filter is
 * kept for the thread, the one before it put back after (a filter that
 * itself lists a directory). */
struct scan {
    int fd;
    const char *path;
    pid_t sampler;
    int (*keep)(const struct dirent *);
    int (*keep64)(const struct dirent64 *);
    struct scan *was;
};
static __thread struct scan *scan_now PP_TLS;

static int scan_keep(const struct dirent *e)
{
    struct scan *s = scan_now;
    if (pp_os_own_task_entry(s->fd, s->path, e->d_name, s->sampler))
        return 0;
    return s->keep ? s->keep(e) : 1;
}

static int scan_keep64(const struct dirent64 *e)
{
    struct scan *s = scan_now;
    if (pp_os_own_task_entry(s->fd, s->path, e->d_name, s->sampler))
        return 0;
    return s->keep64 ? s->keep64(e) : 1;
}

typedef int (*keep_fn)(const struct dirent *);
typedef int (*keep64_fn)(const struct dirent64 *);
typedef int (*order_fn)(const struct dirent **, const struct dirent **);
typedef int (*order64_fn)(const struct dirent64 **, const struct dirent64 **);

/* 0 while there is no sampler to leave out: the call goes on untouched */
static int scan_begin(struct scan *s, int fd, const char *path, keep_fn keep, keep64_fn keep64)
{
    *s = (struct scan){fd, path, pp_sampler_tid(), keep, keep64, scan_now};
    if (s->sampler <= 0)
        return 0;
    scan_now = s;
    return 1;
}

static int scan_end(struct scan *s, int n)
{
    scan_now = s->was;
    return n;
}

PP_HOOK(int, scandirat, (int fd, const char *path, struct dirent ***list, keep_fn keep,
                         order_fn order))
{
    REAL(scandirat);
    struct scan s;
    if (!scan_begin(&s, fd, path, keep, NULL))
        return real_scandirat(fd, path, list, keep, order);
    return scan_end(&s, real_scandirat(fd, path, list, scan_keep, order));
}

PP_HOOK(int, scandirat64, (int fd, const char *path, struct dirent64 ***list, keep64_fn keep,
                           order64_fn order))
{
    REAL(scandirat64);
    struct scan s;
    if (!scan_begin(&s, fd, path, NULL, keep))
        return real_scandirat64(fd, path, list, keep, order);
    return scan_end(&s, real_scandirat64(fd, path, list, scan_keep64, order));
}

PP_HOOK(int, scandir, (const char *path, struct dirent ***list, keep_fn keep, order_fn order))
{
    REAL(scandir);
    struct scan s;
    if (!scan_begin(&s, AT_FDCWD, path, keep, NULL))
        return real_scandir(path, list, keep, order);
    return scan_end(&s, real_scandir(path, list, scan_keep, order));
}

PP_HOOK(int, scandir64, (const char *path, struct dirent64 ***list, keep64_fn keep,
                         order64_fn order))
{
    REAL(scandir64);
    struct scan s;
    if (!scan_begin(&s, AT_FDCWD, path, NULL, keep))
        return real_scandir64(path, list, keep, order);
    return scan_end(&s, real_scandir64(path, list, scan_keep64, order));
}
#endif
