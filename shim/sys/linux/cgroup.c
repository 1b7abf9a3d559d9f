/*
 * cgroup.c - the memory limit of the cgroup the process runs under, for
 * the site view taken just before the limit is reached (peakview.c).
 *
 * cgroup v2: the "0::PATH" line of /proc/self/cgroup, under the cgroup2
 * mount; limit memory.max ("max": none), usage memory.current.  cgroup v1:
 * the "N:...memory...:PATH" line, under the mount of type cgroup whose
 * super options name the memory controller; limit memory.limit_in_bytes
 * (v1 says "no limit" with a huge number, 0x7FFFFFFFFFFFF000 on 4 KiB
 * pages: anything from 2^62 up is taken for none), usage
 * memory.usage_in_bytes.  v2 is used when the process's v2 cgroup has a
 * memory.max (the memory controller is on there), else v1, else nothing.
 *
 * PATH is relative to the root of the process's cgroup namespace, and a
 * mount's root field in /proc/self/mountinfo (field 4) is the cgroup
 * mounted, in the same terms: the directory is the mount point followed by
 * PATH less that root (a container that sees its own cgroup mounted at
 * /sys/fs/cgroup/memory reads "/docker/ID" in both).  A mount whose root
 * does not hold PATH cannot reach the cgroup and is passed over.
 *
 * The files are looked for once, the limit is read again every LIMIT_EVERY
 * calls (it may be changed while the program runs).  Only the sampler
 * thread calls this, so the buffers are static: nothing is allocated.  The
 * descriptor of the usage file is kept high, as the shim's other kept
 * descriptors are (os.c); nothing is written, errno is kept.
 */
#define _GNU_SOURCE
#include "sys/sys.h"
#include "sys/linux/cgroup_lines.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIMIT_EVERY 100
#define NO_LIMIT    (1ull << 62)      /* v1: at or above, "no limit" */

static int state;                     /* 0 not looked, 1 found, -1 none */
static char dir[512];
static const char *limit_file, *usage_file;
static struct pp_fd cur_fd = {-1, 0, 0};
static uint64_t limit_now, calls;

/* ---- reading a file line by line, into static buffers ------------------- */

/* A line longer than the buffer is passed over whole (mountinfo lines of
 * overlay mounts can be long; a cgroup's line never is, here). */
static struct {
    int fd;
    dev_t dev;
    ino_t ino;
    int known, eof;
    size_t len, pos;
    char buf[4096];
} rd;

static int lines_open(const char *path)
{
    rd.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (rd.fd < 0)
        return -1;
    rd.known = pp_fd_identity(rd.fd, &rd.dev, &rd.ino);
    rd.eof = 0;
    rd.len = rd.pos = 0;
    return 0;
}

static void lines_close(void)
{
    /* not if another thread of the program closed the number meanwhile
     * and reused it */
    if (rd.known && pp_fd_same(rd.fd, rd.dev, rd.ino))
        close(rd.fd);
    rd.fd = -1;
}

/* the next line, without its newline; NULL at the end */
static char *lines_next(void)
{
    int skipping = 0;
    for (;;) {
        char *start = rd.buf + rd.pos;
        char *nl = memchr(start, '\n', rd.len - rd.pos);
        if (nl) {
            *nl = 0;
            rd.pos = (size_t)(nl + 1 - rd.buf);
            if (!skipping)
                return start;
            skipping = 0;
            continue;
        }
        if (rd.eof) {
            if (rd.pos < rd.len && !skipping) {   /* a last line with no newline */
                rd.buf[rd.len] = 0;
                rd.pos = rd.len;
                return start;
            }
            return NULL;
        }
        if (rd.pos == 0 && rd.len == sizeof rd.buf - 1) {
            rd.len = 0;                 /* too long: drop it up to its newline */
            skipping = 1;
        } else {
            memmove(rd.buf, start, rd.len - rd.pos);
            rd.len -= rd.pos;
        }
        rd.pos = 0;
        ssize_t n;
        do
            n = read(rd.fd, rd.buf + rd.len, sizeof rd.buf - 1 - rd.len);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
            rd.eof = 1;
        else
            rd.len += (size_t)n;
    }
}

/* ---- finding the cgroup's directory ---------------------------------------- */

static char path_v1[512], path_v2[512];      /* from /proc/self/cgroup */
static char dir_v1[512], dir_v2[512];        /* found under a mount */

static int copy_str(char *out, size_t cap, const char *s, size_t n)
{
    if (n + 1 > cap)
        return -1;
    memcpy(out, s, n);
    out[n] = 0;
    return 0;
}

static void read_cgroup_lines(void)
{
    if (lines_open("/proc/self/cgroup") < 0)
        return;
    char *line;
    while ((line = lines_next()) != NULL) {
        const char *path;
        int v = pp_cg_cgroup_line(line, &path);
        if (v == 2)
            copy_str(path_v2, sizeof path_v2, path, strlen(path));
        else if (v == 1)
            copy_str(path_v1, sizeof path_v1, path, strlen(path));
    }
    lines_close();
}

static void mount_line(char *line)
{
    char *root, *point, *type, *super;
    if (pp_cg_mount_line(line, &root, &point, &type, &super) < 0)
        return;
    if (!strcmp(type, "cgroup2") && path_v2[0] && !dir_v2[0])
        pp_cg_join_under(dir_v2, sizeof dir_v2, point, root, path_v2);
    else if (!strcmp(type, "cgroup") && path_v1[0] && !dir_v1[0] &&
             pp_cg_has_item(super, "memory"))
        pp_cg_join_under(dir_v1, sizeof dir_v1, point, root, path_v1);
}

static int exists_in(const char *d, const char *name)
{
    char path[600];
    size_t a = strlen(d), b = strlen(name);
    if (a + b + 2 > sizeof path)
        return 0;
    memcpy(path, d, a);
    path[a] = '/';
    memcpy(path + a + 1, name, b + 1);
    return access(path, R_OK) == 0;
}

/* ---- the limit and the usage ------------------------------------------------ */

static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    dev_t dev;
    ino_t ino;
    if (fd < 0)
        return -1;
    int known = pp_fd_identity(fd, &dev, &ino);
    ssize_t n = pread(fd, buf, cap - 1, 0);
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
    file_in(path, sizeof path, limit_file);
    if (!path[0] || read_small(path, text, sizeof text) <= 0 || text[0] < '0' || text[0] > '9')
        return 0;                    /* "max", or unreadable */
    uint64_t v = strtoull(text, NULL, 10);
    return v >= NO_LIMIT ? 0 : v;
}

static int find(void)
{
    read_cgroup_lines();
    if (!path_v1[0] && !path_v2[0])
        return -1;
    if (lines_open("/proc/self/mountinfo") < 0)
        return -1;
    char *line;
    while ((line = lines_next()) != NULL)
        mount_line(line);
    lines_close();
    const char *from;
    if (dir_v2[0] && exists_in(dir_v2, "memory.max")) {
        from = dir_v2;
        limit_file = "memory.max";
        usage_file = "memory.current";
    } else if (dir_v1[0] && exists_in(dir_v1, "memory.limit_in_bytes")) {
        from = dir_v1;
        limit_file = "memory.limit_in_bytes";
        usage_file = "memory.usage_in_bytes";
    } else {
        return -1;
    }
    if (copy_str(dir, sizeof dir, from, strlen(from)) < 0)
        return -1;
    limit_now = read_limit();
    return 1;
}

int pp_cgroup_memory(uint64_t *limit, uint64_t *current)
{
    int saved = errno;
    if (!state)
        state = find();
    if (state < 0) {
        errno = saved;
        return 0;
    }
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
        file_in(path, sizeof path, usage_file);
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
