/*
 * cgroup.c - the cgroup v2 memory limit the process runs under, for the
 * site view taken just before the limit is reached (peakview.c).
 *
 * The process's cgroup is the "0::PATH" line of /proc/self/cgroup; its
 * limit is /sys/fs/cgroup/PATH/memory.max and its usage memory.current.
 * No cgroup v2, no such files, or a limit of "max": nothing is done (the
 * files are looked for once, and the limit read again every LIMIT_EVERY
 * calls, since it may be changed while the program runs).  Only the
 * sampler thread calls this; the descriptor of memory.current is kept
 * high, as the shim's other kept descriptors are (os.c).
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIMIT_EVERY 100

static int state;                   /* 0 not looked, 1 found, -1 none */
static char dir[512];
static struct pp_fd cur_fd = {-1, 0, 0};
static uint64_t limit_now, calls;

static ssize_t read_path(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    dev_t dev;
    ino_t ino;
    if (fd < 0)
        return -1;
    int known = pp_fd_identity(fd, &dev, &ino);
    ssize_t n = pread(fd, buf, cap - 1, 0);
    /* not if another thread of the program closed the number meanwhile
     * and reused it */
    if (known && pp_fd_same(fd, dev, ino))
        close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    return n;
}

static void file_in(char *out, size_t cap, const char *name)
{
    size_t d = strlen(dir), k = strlen(name);
    if (d + k + 2 > cap) {
        out[0] = 0;
        return;
    }
    memcpy(out, dir, d);
    out[d] = '/';
    memcpy(out + d + 1, name, k + 1);
}

static uint64_t read_limit(void)
{
    char path[600], text[64];
    file_in(path, sizeof path, "memory.max");
    if (!path[0] || read_path(path, text, sizeof text) <= 0 || text[0] < '0' || text[0] > '9')
        return 0;                    /* "max", or unreadable */
    return strtoull(text, NULL, 10);
}

static int find(void)
{
    char text[1024];
    if (read_path("/proc/self/cgroup", text, sizeof text) <= 0)
        return -1;
    char *line = strstr(text, "0::");
    if (!line || (line != text && line[-1] != '\n'))
        return -1;
    line += 3;
    size_t n = strcspn(line, "\n");
    static const char root[] = "/sys/fs/cgroup";
    if (n + sizeof root >= sizeof dir)
        return -1;
    memcpy(dir, root, sizeof root - 1);
    memcpy(dir + sizeof root - 1, line, n);
    dir[sizeof root - 1 + n] = 0;
    if (n == 1)                      /* "/": the root has no memory.max */
        dir[sizeof root - 1] = 0;
    limit_now = read_limit();
    return 1;
}

int pp_cgroup_memory(uint64_t *limit, uint64_t *current)
{
    int saved = errno;
    if (!state)
        state = find();
    if (state < 0)
        return 0;
    if (++calls % LIMIT_EVERY == 0)
        limit_now = read_limit();
    if (!limit_now) {
        errno = saved;
        return 0;
    }
    char text[64];
    ssize_t n = -1;
    if (cur_fd.fd >= 0 && pp_fd_ok(&cur_fd))
        n = pread(cur_fd.fd, text, sizeof text - 1, 0);
    if (n <= 0) {
        char path[600];
        file_in(path, sizeof path, "memory.current");
        int fd = path[0] ? open(path, O_RDONLY | O_CLOEXEC) : -1;
        if (fd >= 0) {
            n = pread(fd, text, sizeof text - 1, 0);
            if (cur_fd.fd < 0 && pp_fd_can_keep())
                pp_fd_adopt(&cur_fd, fd);
            else
                close(fd);
        }
    }
    errno = saved;
    if (n <= 0)
        return 0;
    text[n] = 0;
    *limit = limit_now;
    *current = strtoull(text, NULL, 10);
    return 1;
}
