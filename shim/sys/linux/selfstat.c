/*
 * selfstat.c - the program's own /proc/self/stat and /proc/self/status as
 * it would read them without the shim.
 *
 * The sampler thread is a member of the program's thread group, so the
 * kernel counts it in field 20 (num_threads) of /proc/self/stat and in the
 * "Threads:" line of /proc/self/status, and programs read those to decide
 * what they may do: CPython 3.12 and later read stat in the parent after
 * every os.fork() and, when the count is above one, warn that "this process
 * is multi-threaded, use of fork() may lead to deadlocks in the child" (a
 * DeprecationWarning that `-W error`, or pytest's `filterwarnings = error`,
 * turns into an exception); psutil's num_threads() reads status.  A program
 * that opens either file for reading (hooks/procfs.c: fopen, open, openat
 * and their 64-bit and fortified names) is given a descriptor over a copy
 * of the file in which the count leaves out the sampler thread: a memfd
 * holding the text, reopened read-only in its place, so the program gets
 * the lowest free descriptor as the real open would give it, at offset 0,
 * read-only, with close-on-exec and O_NONBLOCK as it asked.  The copy is
 * the kernel's text of the file the program named with one number changed:
 * the thread is taken out only when it is still listed under
 * /proc/self/task after the read (a thread never comes back, so it was
 * counted), or while it is being created (HIDDEN -1: counted from its
 * clone on, before it can say its id); so is the sampler's short-lived
 * task apart (apart.c) when it is listed after the read.  Anything
 * unexpected (no memfd under a seccomp filter, a file too long, a line that
 * does not parse) gives -1 and the caller opens the real file.
 *
 * The file is read here with the openat system call itself, never through
 * the shim's own exported open (a call from inside the library binds to
 * it), so that no edit can reach the shim's own reads.
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NUM_THREADS_FIELD 20

int pp_os_own_task_entry(int fd, const char *path, const char *name, pid_t hidden)
{
    if (name[0] < '1' || name[0] > '9')
        return 0;
    long v = 0;
    for (const char *c = name; *c; c++) {
        if (*c < '0' || *c > '9' || v > (1L << 31))
            return 0;
        v = v * 10 + (*c - '0');
    }
    /* the sampler, its task apart while it runs, or such a task once
     * ended: a listing read (getdents) while it ran still names it after
     * the sampler let go of its id, and a bare program never had it */
    pid_t apart = pp_apart_tid();
    /* a task being made: the kernel lists it a moment before it writes its
     * id for the sampler (CLONE_PARENT_SETTID), so that id is waited for,
     * a few yields, while a run is under way (its count odd) */
    for (int i = 0; i < 1000 && apart <= 0 && v != hidden && (pp_apart_gen() & 1) &&
                    !pp_apart_was((pid_t)v);
         i++) {
        sched_yield();
        apart = pp_apart_tid();
    }
    if (v != hidden && (apart <= 0 || v != apart) &&
        (!pp_apart_was((pid_t)v) || !pp_tid_gone((pid_t)v)))
        return 0;
    /* the directory is this process's task list: the same inode (the open
     * directory keeps it, so a look-up now finds that one) */
    int saved = errno;
    struct stat a, b;
    int own = (path ? fstatat(fd, path, &a, 0) : fstat(fd, &a)) == 0 &&
              stat("/proc/self/task", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    errno = saved;
    return own;
}

/* the digits at *P and the '/' after them: their value, P moved past the
 * '/'; -1 (P as it was) when they are not there */
static long number_dir(const char **p)
{
    const char *d = *p, *q = d;
    long v = 0;
    while (*q >= '0' && *q <= '9' && q - d < 12)
        v = v * 10 + (*q++ - '0');
    if (q == d || *q != '/')
        return -1;
    *p = q + 1;
    return v;
}

int pp_os_self_proc_file(const char *path)
{
    static const char pre[] = "/proc/";
    if (strncmp(path, pre, sizeof pre - 1) != 0)
        return 0;
    const char *p = path + sizeof pre - 1;
    long n = -1;                        /* the N of /proc/N/, if one */
    if (strncmp(p, "thread-self/", 12) == 0) {
        p += 12;                        /* the calling thread's own */
    } else {
        if (strncmp(p, "self/", 5) == 0)
            p += 5;
        else if ((n = number_dir(&p)) < 0)
            return 0;
        /* a thread's own files of this process (task/TID/: only this
         * process's threads are there) count the process's threads too */
        if (strncmp(p, "task/", 5) == 0) {
            if (n >= 0 && n != (long)getpid())
                return 0;
            p += 5;
            if (number_dir(&p) < 0)
                return 0;
            n = -1;
        }
    }
    int which = strcmp(p, "stat") == 0     ? PP_SELF_STAT
                : strcmp(p, "status") == 0 ? PP_SELF_STATUS
                                           : 0;
    /* /proc/N/ with N this process, or one of its threads (the kernel says
     * whether N is in this thread group) */
    if (which && n >= 0 && n != (long)getpid() && pp_tid_gone((pid_t)n))
        return 0;
    return which;
}

/* Where the thread count is in TEXT (N bytes, NUL after them): its digits
 * TEXT[*at .. *at + *len), and its value; 0 when the file does not parse. */
static unsigned long long count_at(int which, const char *text, size_t n, size_t *at,
                                   size_t *len)
{
    const char *p = NULL, *end = text + n;
    if (which == PP_SELF_STAT) {
        p = pp_stat_field(text, n, NUM_THREADS_FIELD);
    } else {
        p = strstr(text, "\nThreads:");
        if (p)
            for (p += 9; p < end && (*p == '\t' || *p == ' ');)
                p++;
    }
    if (!p)
        return 0;
    const char *digits = p;
    unsigned long long v = 0;
    while (p < end && *p >= '0' && *p <= '9' && p - digits < 18)
        v = v * 10 + (unsigned long long)(*p++ - '0');
    if (p == digits || p >= end || (*p != ' ' && *p != '\n'))
        return 0;
    *at = (size_t)(digits - text);
    *len = (size_t)(p - digits);
    return v;
}

static int raw_open(const char *path, int flags)
{
    return pp_os_open_raw(AT_FDCWD, path, flags, 0);
}

/* the library's own code, from its ELF header to the end of its text (the
 * linker's symbols, referred to here only) */
extern const char __ehdr_start[] __attribute__((visibility("hidden")));
extern const char _etext[] __attribute__((visibility("hidden")));

int pp_os_own_code(const void *addr)
{
    return (const char *)addr >= __ehdr_start && (const char *)addr < _etext;
}

/* FD opened again with FLAGS: through /proc/thread-self, since
 * /proc/self/fd is gone once the main thread has exited (pthread_exit)
 * while others run; /proc/self before Linux 3.17 */
static int reopen(int fd, int flags)
{
    char path[48];
    snprintf(path, sizeof path, "/proc/thread-self/fd/%d", fd);
    int ro = raw_open(path, flags);
    if (ro < 0) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ro = raw_open(path, flags);
    }
    return ro;
}

/* PATH read whole into TEXT (CAP bytes at most): its length, or -1 */
static ssize_t read_whole(const char *path, char *text, size_t cap)
{
    ssize_t n = 0, got;
    int in = raw_open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    while ((size_t)n < cap && ((got = read(in, text + n, cap - (size_t)n)) > 0 ||
                               (got < 0 && errno == EINTR)))
        n += got > 0 ? got : 0;
    close(in);
    return n;
}

int pp_os_self_proc_fd(const char *path, int which, int flags, pid_t hidden)
{
    int saved = errno, fd = -1, ro = -1;
    char text[4096], num[24], task[40];
    ssize_t n = -1;
    /* The sampler's task apart (apart.c) is counted while it lives: taken
     * out when the same task was there before the read (its id written)
     * and still is after it; read again when one began or ended around the
     * read (a few microseconds each), at most 8 times */
    unsigned long long minus = 1;
    for (int tries = 0; tries < 8; tries++) {
        unsigned g0 = pp_apart_gen();
        pid_t t0 = pp_apart_tid();
        n = read_whole(path, text, sizeof text);
        unsigned g1 = pp_apart_gen();
        if (g0 == g1 && !(g0 & 1))
            break;                      /* none ran during the read */
        if (g0 == g1 && t0 > 0 && pp_tid_gone(t0) == 0) {
            minus = 2;                  /* one there all along */
            break;
        }
    }
    snprintf(task, sizeof task, "/proc/self/task/%d", (int)hidden);
    if (n <= 0 || (size_t)n >= sizeof text || (hidden > 0 && access(task, F_OK) != 0))
        goto out;                       /* too long, or the thread was not counted */
    text[n] = 0;
    size_t at, len;
    unsigned long long v = count_at(which, text, (size_t)n, &at, &len);
    if (v < minus + 1)
        goto out;
    int w = snprintf(num, sizeof num, "%llu", v - minus);
    struct iovec parts[3] = {{text, at}, {num, (size_t)w}, {text + at + len, (size_t)n - at - len}};
    size_t total = (size_t)n - len + (size_t)w;
    fd = memfd_create(which == PP_SELF_STAT ? "stat" : "status", MFD_CLOEXEC);
    if (fd < 0)
        goto out;
    /* the program's descriptor is the memfd's number (the lowest free when
     * it was made), holding a read-only description of the same file */
    if (pp_writev_quiet(fd, parts, 3) == (ssize_t)total)    /* no SIGXFSZ */
        ro = reopen(fd, O_RDONLY | O_CLOEXEC | (flags & O_NONBLOCK));
    if (ro < 0 || (int)syscall(SYS_dup3, ro, fd, flags & O_CLOEXEC) != fd) {
        close(fd);
        fd = -1;
    }
    if (ro >= 0)
        close(ro);
out:
    errno = saved;
    return fd;
}

FILE *pp_os_self_stat_stream(const char *path, int which, const char *mode, pid_t hidden)
{
    int saved = errno;
    int fd = pp_os_self_proc_fd(path, which, O_RDONLY | (strchr(mode, 'e') ? O_CLOEXEC : 0),
                                hidden);
    FILE *f = fd >= 0 ? fdopen(fd, mode) : NULL;
    if (fd >= 0 && !f)
        close(fd);
    errno = saved;
    return f;
}
