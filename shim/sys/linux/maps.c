/*
 * maps.c - the process's mappings, streamed from /proc/self/maps without
 * the allocator, for the two readers that need the whole list: the
 * threads' stacks (stacks.c) and the roots of the leak check
 * (core/leaks.c).  A line is parsed as far as the start, the end and
 * whether it is the main thread's stack.
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static uintptr_t hex(const char **p)
{
    uintptr_t v = 0;
    for (;; (*p)++) {
        char c = **p;
        if (c >= '0' && c <= '9')
            v = v * 16 + (uintptr_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v * 16 + (uintptr_t)(c - 'a' + 10);
        else
            return v;
    }
}

/* FD read from where it stands to its end into BUF, one call of FN a line */
static int stream(int fd, char *buf, size_t cap, pp_mapping_fn fn, void *arg)
{
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, cap - 1 - have);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        have += (size_t)n;
        buf[have] = 0;
        char *line = buf, *nl;
        while ((nl = memchr(line, '\n', have - (size_t)(line - buf))) != NULL) {
            const char *p = line;
            uintptr_t start = hex(&p);
            p++;
            uintptr_t end = hex(&p);
            int stack = memmem(line, (size_t)(nl - line), "[stack]", 7) != NULL;
            if (fn(start, end, stack, arg))
                return 0;
            line = nl + 1;
        }
        have -= (size_t)(line - buf);
        memmove(buf, line, have);
    }
}

/* A buffer per kind of caller: the kept descriptor's (stacks.c, under its
 * lock) and the leak check's (once, at exit) may run at the same time. */
static char buf_kept[65536], buf_own[65536];

int pp_os_mappings(int kept, pp_mapping_fn fn, void *arg)
{
    int fd = kept ? pp_proc_maps_fd() : -1;
    int own = fd < 0;
    dev_t dev;
    ino_t ino;
    int known = 0;
    if (own) {
        fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        known = pp_fd_identity(fd, &dev, &ino);
    }
    int rc = kept ? stream(fd, buf_kept, sizeof buf_kept, fn, arg)
                  : stream(fd, buf_own, sizeof buf_own, fn, arg);
    /* not a number another thread of the program closed and reused */
    if (own && known && pp_fd_same(fd, dev, ino))
        close(fd);
    return rc;
}
