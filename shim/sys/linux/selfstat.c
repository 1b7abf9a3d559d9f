/*
 * selfstat.c - /proc/self/stat as the program would read it without the
 * shim.
 *
 * The sampler thread is a member of the program's thread group, so the
 * kernel counts it in field 20 (num_threads) of /proc/self/stat, and
 * programs read that field to decide what they may do: CPython 3.12 and
 * later read it in the parent after every os.fork() and, when it is above
 * one, warn that "this process is multi-threaded, use of fork() may lead
 * to deadlocks in the child" (a DeprecationWarning that `-W error`, or
 * pytest's `filterwarnings = error`, turns into an exception).  A program
 * that opens its own stat file with fopen (hooks/procfs.c) is given a
 * stream over a copy of the file in which that field leaves out the
 * sampler thread: a memfd holding the text, opened with the stream's mode,
 * so the program gets the lowest free descriptor as fopen would give it,
 * with close-on-exec as its mode says.  The copy is the kernel's text with
 * one number changed: the thread is taken out only when it is still listed
 * under /proc/self/task after the read (a thread never comes back, so it
 * was counted), or while it is being created (HIDDEN -1: counted from its
 * clone on, before it can say its id).  Anything unexpected (no memfd under a seccomp filter, a
 * line that does not parse) gives NULL and the caller opens the real file.
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NUM_THREADS_FIELD 20

/* "/proc/self/stat" or "/proc/PID/stat" with this process's PID */
int pp_os_is_self_stat(const char *path)
{
    static const char pre[] = "/proc/";
    if (strncmp(path, pre, sizeof pre - 1) != 0)
        return 0;
    const char *p = path + sizeof pre - 1;
    if (strncmp(p, "self/", 5) == 0) {
        p += 5;
    } else {
        unsigned long v = 0;
        const char *d = p;
        while (*p >= '0' && *p <= '9')
            v = v * 10 + (unsigned long)(*p++ - '0');
        if (p == d || *p != '/' || v != (unsigned long)getpid())
            return 0;
        p++;
    }
    return strcmp(p, "stat") == 0;
}

/* TEXT[0..N) with field NUM_THREADS_FIELD less one, into OUT (cap CAP):
 * its length, or 0 when the line does not parse or the count is below 2.
 * Fields are counted after the last ')', which ends the command name
 * whatever it holds. */
static size_t stat_less_one_thread(const char *text, size_t n, char *out, size_t cap)
{
    const char *end = text + n, *p = NULL;
    for (const char *q = text; q < end; q++)
        if (*q == ')')
            p = q;
    if (!p)
        return 0;
    p++;                                        /* " S ppid ...": field 3 next */
    for (int field = 2; field < NUM_THREADS_FIELD; field++) {
        if (p >= end || *p != ' ')
            return 0;
        p++;
        if (field + 1 < NUM_THREADS_FIELD)
            while (p < end && *p != ' ')
                p++;
    }
    const char *digits = p;
    unsigned long long v = 0;
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (unsigned long long)(*p++ - '0');
    if (p == digits || p >= end || (*p != ' ' && *p != '\n') || v < 2)
        return 0;
    char num[24];
    int len = snprintf(num, sizeof num, "%llu", v - 1);
    size_t head = (size_t)(digits - text), tail = (size_t)(end - p);
    if (len <= 0 || head + (size_t)len + tail > cap)
        return 0;
    memcpy(out, text, head);
    memcpy(out + head, num, (size_t)len);
    memcpy(out + head + (size_t)len, p, tail);
    return head + (size_t)len + tail;
}

FILE *pp_os_self_stat_stream(const char *mode, pid_t hidden)
{
    int saved = errno;
    char text[1024], fixed[1024], task[64];
    FILE *f = NULL;
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        goto out;
    ssize_t n = read(fd, text, sizeof text);
    close(fd);
    snprintf(task, sizeof task, "/proc/self/task/%d", (int)hidden);
    if (n <= 0 || (size_t)n >= sizeof text || (hidden > 0 && access(task, F_OK) != 0))
        goto out;                       /* the thread was not counted */
    size_t len = stat_less_one_thread(text, (size_t)n, fixed, sizeof fixed);
    if (!len)
        goto out;
    fd = memfd_create("stat", strchr(mode, 'e') ? MFD_CLOEXEC : 0);
    if (fd < 0)
        goto out;
    if (write(fd, fixed, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) != 0 ||
        (f = fdopen(fd, mode)) == NULL) {
        close(fd);
        f = NULL;
    }
out:
    errno = saved;
    return f;
}
