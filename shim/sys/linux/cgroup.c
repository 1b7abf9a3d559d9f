/*
 * cgroup.c - the memory limit the process runs under, and the usage it is
 * measured against, for the site view taken just before the limit is
 * reached (peakview.c).
 *
 * The process's cgroup: cgroup v2's "0::PATH" line of /proc/self/cgroup,
 * under the cgroup2 mount, or v1's "N:...memory...:PATH" line, under the
 * mount of type cgroup whose super options name the memory controller.
 * PATH is relative to the root of the process's cgroup namespace, and a
 * mount's root field in /proc/self/mountinfo (field 4) is the cgroup
 * mounted, in the same terms: the directory is the mount point followed by
 * PATH less that root (a container that sees its own cgroup mounted at
 * /sys/fs/cgroup/memory reads "/docker/ID" in both).  A mount whose root
 * does not hold PATH cannot reach the cgroup and is passed over.  v2 is
 * used when its cgroup or an ancestor up to the mount point has a
 * memory.max (the memory controller is on there: a cgroup without it is
 * charged to the nearest ancestor with it), else v1, else nothing.
 *
 * The limit that binds is not only the cgroup's own: every ancestor's
 * limit holds too (a container's, a systemd slice's), against the usage of
 * that ancestor's whole subtree.  So each level from the cgroup up to the
 * mount point is read, v2 memory.max ("max": none) and memory.current,
 * v1 memory.limit_in_bytes and memory.memsw.limit_in_bytes (the smaller;
 * v1 says "no limit" with a huge number, 0x7FFFFFFFFFFFF000 on 4 KiB
 * pages: anything from 2^62 up is taken for none) and
 * memory.usage_in_bytes, and the level with the least room left (limit
 * less usage; the deeper one of equals) is the one watched: its limit and
 * its usage.  (v1 before kernel 5.11: a parent whose memory.use_hierarchy
 * is 0 does not charge its children, and the walk stops below it.)  v1
 * also says the limit of the whole chain, ancestors above the mount's root
 * included (a container's parents): hierarchical_memory_limit and
 * hierarchical_memsw_limit of the cgroup's memory.stat.  When
 * that is below every limit seen, it belongs to a cgroup out of sight, and
 * it is watched against the usage of the highest level in sight (a part of
 * that cgroup's usage: the view then comes late, never early).  v2 has no
 * such figure: a limit above the mount's root is not seen.
 *
 * The files are looked for once; the levels' limits and usages are read
 * again every LIMIT_EVERY calls (limits may be changed while the program
 * runs, and which level has the least room may change), and between those
 * only the watched level's usage.  At most MAX_LEVELS levels are read.
 * Only one thread calls this at a time, so the buffers are static:
 * nothing is allocated.  The program's thread calls it first, before the
 * sampler thread runs (the files are found and the kept descriptors
 * opened then); after that only the sampler does, and what it opens it
 * opens apart (apart.c): the search, each new choice of level, and a kept
 * file the program closed since, which is then read apart each time
 * rather than opened in the program's table.  The descriptor of the
 * watched usage file is kept high, as the shim's other kept descriptors
 * are (os.c); nothing is written, errno is kept.
 *
 * The watched level's own counts of the kernel meeting its limit
 * (pp_cgroup_counts), for the view taken when one moves (peakview.c): v2
 * memory.events "max" (usage would have gone over memory.max and the
 * kernel reclaimed; hierarchical) and "high" (over memory.high), and
 * memory.pressure's "some" total (microseconds some task of the cgroup
 * stalled on memory; PSI, kernel 4.20 and later, where it is on); v1
 * memory.failcnt (a charge met memory.limit_in_bytes) and, when the level
 * has a memory+swap limit, memory.memsw.failcnt (v1 charges memory+swap
 * first; on kernel 6.18 neither moved with both limits equal: t0975).  A
 * v1 limit out of sight (memory.stat's) has no count to read: the failcnt
 * of the levels in sight counts their own limits only.  Each file is read
 * whole with one pread through a descriptor kept high like the usage's
 * (two at most), at each call; a file that cannot be read (missing, or
 * memory.pressure with PSI off, which says EOPNOTSUPP) is left out (its bit
 * in `known`) and not tried again until the levels are read again.
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

static int proc_lines_open(const char *path)
{
    rd.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (rd.fd < 0)
        return -1;
    rd.known = pp_fd_identity(rd.fd, &rd.dev, &rd.ino);
    rd.eof = 0;
    rd.len = rd.pos = 0;
    return 0;
}

static void proc_lines_close(void)
{
    /* not if another thread of the program closed the number meanwhile
     * and reused it */
    if (rd.known && pp_fd_same(rd.fd, rd.dev, rd.ino))
        close(rd.fd);
    rd.fd = -1;
}

/* the next line, without its newline; NULL at the end */
static char *proc_lines_next(void)
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
static size_t top_v1, top_v2;                /* the mount point's length in those */

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
    if (proc_lines_open("/proc/self/cgroup") < 0)
        return;
    char *line;
    while ((line = proc_lines_next()) != NULL) {
        const char *path;
        int v = pp_cg_cgroup_line(line, &path);
        if (v == 2)
            copy_str(path_v2, sizeof path_v2, path, strlen(path));
        else if (v == 1)
            copy_str(path_v1, sizeof path_v1, path, strlen(path));
    }
    proc_lines_close();
}

static void mount_line(char *line)
{
    char *root, *point, *type, *super;
    if (pp_cg_mount_line(line, &root, &point, &type, &super) < 0)
        return;
    if (!strcmp(type, "cgroup2") && path_v2[0] && !dir_v2[0]) {
        if (pp_cg_join_under(dir_v2, sizeof dir_v2, point, root, path_v2) == 0)
            top_v2 = strlen(point);
    } else if (!strcmp(type, "cgroup") && path_v1[0] && !dir_v1[0] &&
               pp_cg_has_item(super, "memory")) {
        if (pp_cg_join_under(dir_v1, sizeof dir_v1, point, root, path_v1) == 0)
            top_v1 = strlen(point);
    }
}

/* PATH = the level D[0..LEN) followed by /NAME; 0, or -1 when too long */
static int level_file(char *path, size_t cap, const char *d, size_t len, const char *name)
{
    size_t k = strlen(name);
    if (len + k + 2 > cap)
        return -1;
    memcpy(path, d, len);
    path[len] = '/';
    memcpy(path + len + 1, name, k + 1);
    return 0;
}

static int exists_at(const char *d, size_t len, const char *name)
{
    char path[600];
    return level_file(path, sizeof path, d, len, name) == 0 && access(path, R_OK) == 0;
}

/* ---- the levels' limits and usages ----------------------------------------- */

#define MAX_LEVELS 32

/* what the chosen level's counts are (choose): its own limit, with a
 * memory+swap one (v1), or a limit out of sight (v1's chain: none) */
#define CHOSEN_OWN   1
#define CHOSEN_MEMSW 2
#define CHOSEN_CHAIN 4
static int chosen_kind;

static int version;                   /* 2 or 1 */
static char dir[512];                 /* the process's cgroup */
static size_t top;                    /* the mount point's length in dir */
static size_t watched;                /* the level watched: dir[0..watched) */
static const char *usage_file;

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

/* the number in the file NAME of level LEN: 1 with *V set; 0 for "max",
 * anything else that is not a number, or no file */
static int read_number(size_t len, const char *name, uint64_t *v)
{
    char path[600], text[64];
    if (level_file(path, sizeof path, dir, len, name) < 0 ||
        read_small(path, text, sizeof text) <= 0 || text[0] < '0' || text[0] > '9')
        return 0;
    *v = strtoull(text, NULL, 10);
    return 1;
}

/* a limit as read: 0 for none */
static uint64_t as_limit(int found, uint64_t v)
{
    return found && v < NO_LIMIT ? v : 0;
}

static uint64_t smaller_limit(uint64_t a, uint64_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

/* the limit set on level LEN itself: 0 for none; *MEMSW whether it has a
 * memory+swap limit (v1) */
static uint64_t level_limit(size_t len, int *memsw)
{
    uint64_t v = 0, w = 0;
    *memsw = 0;
    if (version == 2) {
        int f = read_number(len, "memory.max", &v);
        return as_limit(f, v);
    }
    int f = read_number(len, "memory.limit_in_bytes", &v);
    int g = read_number(len, "memory.memsw.limit_in_bytes", &w);
    *memsw = as_limit(g, w) != 0;
    return smaller_limit(as_limit(f, v), as_limit(g, w));
}

/* v1: the smallest limit of the cgroup and all its ancestors, from its
 * memory.stat; 0 for none */
static uint64_t v1_chain_limit(void)
{
    char path[600];
    uint64_t mem = 0, memsw = 0, v;
    if (level_file(path, sizeof path, dir, strlen(dir), "memory.stat") < 0 ||
        proc_lines_open(path) < 0)
        return 0;
    char *line;
    while ((line = proc_lines_next()) != NULL) {
        if (pp_cg_key_value(line, "hierarchical_memory_limit", &v))
            mem = as_limit(1, v);
        else if (pp_cg_key_value(line, "hierarchical_memsw_limit", &v))
            memsw = as_limit(1, v);
    }
    proc_lines_close();
    return smaller_limit(mem, memsw);
}

/* Every level from the cgroup up to the mount point: the one with the
 * least room left under its limit, *AT its length in dir; its limit, 0
 * when there is none.  v1: the chain's limit too, when it is below every
 * limit seen, against the highest level's usage. */
static uint64_t choose(size_t *at, uint64_t *usage)
{
    uint64_t best = 0, room = 0, lowest = 0;
    size_t len = strlen(dir), highest = len;
    chosen_kind = 0;
    for (int n = 0; len && n < MAX_LEVELS; n++) {
        int memsw;
        uint64_t lim = level_limit(len, &memsw), cur;
        if (lim && read_number(len, usage_file, &cur)) {
            uint64_t r = lim > cur ? lim - cur : 0;
            if (!best || r < room) {
                best = lim;
                room = r;
                *at = len;
                *usage = cur;
                chosen_kind = CHOSEN_OWN | (memsw ? CHOSEN_MEMSW : 0);
            }
            lowest = smaller_limit(lowest, lim);
        }
        highest = len;
        len = pp_cg_parent(dir, len, top);
        uint64_t h;
        if (len && version == 1 && read_number(len, "memory.use_hierarchy", &h) && h == 0)
            break;                  /* (before 5.11) its children are not its charge */
    }
    if (version == 1) {
        uint64_t chain = v1_chain_limit(), cur;
        if (chain && (!lowest || chain < lowest) && read_number(highest, usage_file, &cur)) {
            uint64_t r = chain > cur ? chain - cur : 0;
            if (!best || r <= room) {
                best = chain;
                *at = highest;
                *usage = cur;
                chosen_kind = CHOSEN_CHAIN;
            }
        }
    }
    return best;
}

static int find(void)
{
    read_cgroup_lines();
    if (!path_v1[0] && !path_v2[0])
        return -1;
    if (proc_lines_open("/proc/self/mountinfo") < 0)
        return -1;
    char *line;
    while ((line = proc_lines_next()) != NULL)
        mount_line(line);
    proc_lines_close();
    int v2 = 0;
    size_t len = dir_v2[0] ? strlen(dir_v2) : 0;
    for (int n = 0; len && n < MAX_LEVELS && !v2; n++) {
        v2 = exists_at(dir_v2, len, "memory.max");
        len = pp_cg_parent(dir_v2, len, top_v2);
    }
    if (v2) {
        copy_str(dir, sizeof dir, dir_v2, strlen(dir_v2));
        top = top_v2;
        version = 2;
        usage_file = "memory.current";
    } else if (dir_v1[0] && exists_at(dir_v1, strlen(dir_v1), "memory.limit_in_bytes")) {
        copy_str(dir, sizeof dir, dir_v1, strlen(dir_v1));
        top = top_v1;
        version = 1;
        usage_file = "memory.usage_in_bytes";
    } else {
        return -1;
    }
    return 1;
}

/* ---- the sampler's call ----------------------------------------------------- */

static int state;                     /* 0 not looked, 1 found, -1 none */
static struct pp_fd cur_fd = {-1, 0, 0};
static struct pp_fd count_fd[2] = {{-1, 0, 0}, {-1, 0, 0}};
static int count_off[2];              /* could not be read: not tried till the next choose */
static uint64_t limit_now, calls;
static unsigned generation;           /* moves when another level (or kind) is watched */
static int watched_kind;              /* of the level watched: CHOSEN_* */

/* the file NAME of the watched level, from its start, through the kept
 * descriptor F (opened, and kept high when it can be, when it is not): its
 * length in BUF, or -1 */
static ssize_t read_kept(struct pp_fd *f, const char *name, char *buf, size_t cap)
{
    char path[600];
    if (level_file(path, sizeof path, dir, watched, name) != 0)
        return -1;
    return pp_os_read_kept(f, path, buf, cap);
}

/* the watched level's usage */
static int read_usage(uint64_t *v)
{
    char text[64];
    if (read_kept(&cur_fd, usage_file, text, sizeof text) <= 0 || text[0] < '0' || text[0] > '9')
        return 0;
    *v = strtoull(text, NULL, 10);
    return 1;
}

/* find and choose, on the sampler thread, are run apart (apart.c): their
 * opens are then outside the program's table */
struct look_job {
    size_t at;
    uint64_t usage, limit;
};

static int find_apart(void *p)
{
    (void)p;
    return find();
}

static int choose_apart(void *p)
{
    struct look_job *j = p;
    j->limit = choose(&j->at, &j->usage);
    return 0;
}

int pp_cgroup_memory(uint64_t *limit, uint64_t *current)
{
    int saved = errno, fresh = 0, rc;
    uint64_t usage = 0;
    if (!state) {
        if (!pp_apart_here() || pp_apart_run(find_apart, NULL, &rc) != 0)
            rc = find();
        state = rc;
        calls = 0;
    }
    if (state < 0) {
        errno = saved;
        return 0;
    }
    if (calls++ % LIMIT_EVERY == 0) {
        struct look_job j = {watched, 0, 0};
        if (!pp_apart_here() || pp_apart_run(choose_apart, &j, &rc) != 0)
            j.limit = choose(&j.at, &j.usage);
        size_t at = j.at;
        usage = j.usage;
        limit_now = j.limit;
        if (limit_now && (at != watched || chosen_kind != watched_kind)) {
            if (at != watched)
                pp_fd_drop(&cur_fd);    /* another level's usage from now on */
            pp_fd_drop(&count_fd[0]);
            pp_fd_drop(&count_fd[1]);
            watched = at;
            watched_kind = chosen_kind;
            generation++;
        }
        count_off[0] = count_off[1] = 0;
        fresh = 1;
    }
    int ok = limit_now && (fresh || read_usage(&usage));
    errno = saved;
    if (!ok)
        return 0;
    *limit = limit_now;
    *current = usage;
    return 1;
}

/* ---- the watched level's counts of meeting its limit ------------------------ */

/* the value of KEY in the flat-keyed TEXT ("max 12\nhigh 0\n"): 1 with *V */
static int text_key(char *text, const char *key, uint64_t *v)
{
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        int found = pp_cg_key_value(line, key, v);
        if (nl)
            *nl = '\n';
        if (found)
            return 1;
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}

/* PSI's "some avg10=0.00 avg60=0.00 avg300=0.00 total=N" line of TEXT:
 * 1 with *V = N (microseconds) */
static int psi_some_total(const char *text, uint64_t *v)
{
    if (strncmp(text, "some ", 5))
        return 0;
    const char *nl = strchr(text, '\n'), *t = strstr(text, " total=");
    if (!t || (nl && t > nl) || t[7] < '0' || t[7] > '9')
        return 0;
    *v = strtoull(t + 7, NULL, 10);
    return 1;
}

/* count file K (NAME) of the watched level into TEXT: its length, or -1
 * (then not tried again until the next choose) */
static ssize_t read_count(int k, const char *name, char *text, size_t cap)
{
    if (count_off[k])
        return -1;
    ssize_t n = read_kept(&count_fd[k], name, text, cap);
    if (n <= 0)
        count_off[k] = 1;
    return n;
}

int pp_cgroup_counts(struct pp_cgroup_counts *c)
{
    int saved = errno;
    char text[256];
    uint64_t v;
    memset(c, 0, sizeof *c);
    if (state <= 0 || !limit_now || !(watched_kind & CHOSEN_OWN))
        return 0;
    c->level = generation;
    if (version == 2) {
        c->name[0] = "memory.events max";
        c->name[1] = "memory.events high";
        c->name[2] = "memory.pressure some";
        if (read_count(0, "memory.events", text, sizeof text) > 0) {
            if (text_key(text, "max", &v)) {
                c->count[0] = v;
                c->known |= 1u << 0;
            }
            if (text_key(text, "high", &v)) {
                c->count[1] = v;
                c->known |= 1u << 1;
            }
        }
        if (read_count(1, "memory.pressure", text, sizeof text) > 0 &&
            psi_some_total(text, &v)) {
            c->count[2] = v;
            c->known |= 1u << 2;
        }
    } else {
        c->name[0] = "memory.failcnt";
        c->name[1] = "memory.memsw.failcnt";
        if (read_count(0, "memory.failcnt", text, sizeof text) > 0 &&
            text[0] >= '0' && text[0] <= '9') {
            c->count[0] = strtoull(text, NULL, 10);
            c->known |= 1u << 0;
        }
        if ((watched_kind & CHOSEN_MEMSW) &&
            read_count(1, "memory.memsw.failcnt", text, sizeof text) > 0 &&
            text[0] >= '0' && text[0] <= '9') {
            c->count[1] = strtoull(text, NULL, 10);
            c->known |= 1u << 1;
        }
    }
    errno = saved;
    return c->known != 0;
}
