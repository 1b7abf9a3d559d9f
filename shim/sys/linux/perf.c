/*
 * perf.c - the Linux side of CPU sampling: one perf_event task-clock event
 * per thread, its ring buffer, and the list of the process's threads.
 *
 * core/cpu.c decides which threads to follow, what a sample means and what
 * the timeline says; this file only talks to the kernel: it opens an event
 * for a thread (the user registers, a copy of the top of the user stack and
 * the kernel's frame-pointer chain with each sample), maps its buffer with
 * the raw system call (never through the shim's mmap hook), hands back the
 * samples one at a time decoded into struct pp_perf_sample, closes an event
 * only while its number still is that event (PERF_EVENT_IOC_ID: every perf
 * descriptor shares one anonymous inode, so device and inode cannot tell),
 * and lists /proc/self/task through a directory descriptor kept high.
 * Nothing here calls into core or hooks.
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int still_ours(int fd, uint64_t id)
{
    uint64_t now = 0;
    int saved = errno;
    int ok = fd >= 0 && ioctl(fd, PERF_EVENT_IOC_ID, &now) == 0 && now == id;
    errno = saved;
    return ok;
}

int pp_perf_open(struct pp_perf_ev *e, pid_t tid, uint64_t period_ns, size_t data_pages,
                 unsigned stack_bytes)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    memset(e, 0, sizeof *e);
    e->fd = -1;
    a.size = sizeof a;
    a.type = PERF_TYPE_SOFTWARE;
    a.config = PERF_COUNT_SW_TASK_CLOCK;
    a.sample_period = period_ns;
    a.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
                    PERF_SAMPLE_CALLCHAIN | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
#if defined(__x86_64__)
    a.sample_regs_user = (1u << 6) | (1u << 7) | (1u << 8);      /* bp, sp, ip */
#endif
    a.sample_stack_user = stack_bytes;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    a.exclude_callchain_kernel = 1;
    a.use_clockid = 1;
    a.clockid = CLOCK_MONOTONIC;
    int saved = errno;
    long fd = syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        errno = saved;
        return err;
    }
    struct pp_fd f;
    if (pp_fd_adopt(&f, (int)fd) != 0) {
        errno = saved;
        return EMFILE;
    }
    e->tid = tid;
    e->fd = f.fd;
    if (ioctl(e->fd, PERF_EVENT_IOC_ID, &e->id) != 0) {
        close(e->fd);
        errno = saved;
        return EINVAL;
    }
    e->data_size = data_pages * 4096;
    e->map_len = e->data_size + 4096;
    long m = syscall(SYS_mmap, 0L, e->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, (long)e->fd, 0L);
    if (m < 0 && m > -4096) {
        int err = errno;
        close(e->fd);
        errno = saved;
        return err == EPERM ? ENOMEM : err;    /* the locked-memory limit */
    }
    e->meta = (void *)m;
    e->data = (char *)m + 4096;
    errno = saved;
    return 0;
}

void pp_perf_close(struct pp_perf_ev *e, int unmap)
{
    if (e->meta && unmap)
        syscall(SYS_munmap, e->meta, e->map_len);
    e->meta = NULL;
    if (still_ours(e->fd, e->id)) {
        int saved = errno;
        close(e->fd);
        errno = saved;
    }
    e->fd = -1;
}

static uint64_t u64_at(const char **p, const char *end)
{
    uint64_t v = 0;
    if (*p + 8 <= end)
        memcpy(&v, *p, 8);
    *p += 8;
    return v;
}

/* a PERF_RECORD_SAMPLE's body [p, end) into S; 0 when it is cut short */
static int decode(const char *p, const char *end, struct pp_perf_sample *s)
{
    s->ip = u64_at(&p, end);
    uint64_t pidtid = u64_at(&p, end);
    s->time = u64_at(&p, end);
    s->tid = (pid_t)(pidtid >> 32);
    uint64_t nr = u64_at(&p, end);
    s->nchain = 0;
    for (uint64_t i = 0; i < nr && p < end; i++) {
        uint64_t a = u64_at(&p, end);
        if (a >= (uint64_t)PERF_CONTEXT_MAX)
            continue;                        /* PERF_CONTEXT_USER and such */
        /* the kernel's first entry is the sampled ip; the others are
         * return addresses */
        if (s->nchain < PP_PERF_CHAIN) {
            s->chain[s->nchain] = s->nchain == 0 ? a + 1 : a;
            s->nchain++;
        }
    }
    uint64_t abi = u64_at(&p, end);
    s->has_regs = abi != 0;
    s->bp = s->sp = 0;
    s->reg_ip = s->ip;
    if (abi) {
        s->bp = u64_at(&p, end);
        s->sp = u64_at(&p, end);
        s->reg_ip = u64_at(&p, end);
    }
    uint64_t size = u64_at(&p, end), dyn = 0;
    s->copy = p;
    if (size) {
        p += size;
        dyn = u64_at(&p, end);
    }
    if (p > end)
        return 0;
    s->copy_len = (size_t)(dyn > size ? size : dyn);
    return 1;
}

int pp_perf_next(struct pp_perf_ev *e, struct pp_perf_sample *s, char *scratch, size_t scratch_len)
{
    struct perf_event_mmap_page *m = e->meta;
    if (!m)
        return 0;
    if (!e->reading) {
        e->head = __atomic_load_n(&m->data_head, __ATOMIC_ACQUIRE);
        e->tail = m->data_tail;
        e->reading = 1;
    }
    size_t mask = e->data_size - 1;
    while (e->tail + sizeof(struct perf_event_header) <= e->head) {
        struct perf_event_header h;
        size_t at = (size_t)(e->tail & mask);
        const char *rec;
        if (at + sizeof h <= e->data_size) {
            memcpy(&h, e->data + at, sizeof h);
        } else {
            size_t first = e->data_size - at;
            memcpy(&h, e->data + at, first);
            memcpy((char *)&h + first, e->data, sizeof h - first);
        }
        if (h.size < sizeof h || e->tail + h.size > e->head)
            break;
        if (at + h.size <= e->data_size) {
            rec = e->data + at;
        } else if (h.size <= scratch_len) {
            size_t first = e->data_size - at;
            memcpy(scratch, e->data + at, first);
            memcpy(scratch + first, e->data, h.size - first);
            rec = scratch;
        } else {
            rec = NULL;
        }
        e->tail += h.size;
        if (rec && h.type == PERF_RECORD_SAMPLE) {
            if (decode(rec + sizeof h, rec + h.size, s))
                return 1;
        } else if (rec && h.type == PERF_RECORD_LOST && h.size >= sizeof h + 16) {
            uint64_t n;
            memcpy(&n, rec + sizeof h + 8, 8);
            e->lost += n;
        }
    }
    /* all read: the kernel may write over it now */
    __atomic_store_n(&m->data_tail, e->tail, __ATOMIC_RELEASE);
    e->reading = 0;
    return 0;
}

static uint64_t *dents;

int pp_task_list(struct pp_fd *dir, pid_t *tids, int max)
{
    int saved = errno;
    if (!dents && !(dents = pp_os_map(32768)))
        return -1;
    if (!pp_fd_ok(dir)) {
        int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        errno = saved;
        if (fd < 0 || pp_fd_adopt(dir, fd) != 0)
            return -1;
    }
    if (lseek(dir->fd, 0, SEEK_SET) != 0) {
        errno = saved;
        return -1;
    }
    int n = 0;
    for (;;) {
        long got = syscall(SYS_getdents64, dir->fd, dents, 32768);
        if (got <= 0)
            break;
        for (long off = 0; off < got;) {
            const char *d = (const char *)dents + off;
            unsigned short reclen;
            memcpy(&reclen, d + 16, 2);
            const char *name = d + 19;
            off += reclen;
            pid_t tid = 0;
            for (const char *c = name; *c >= '0' && *c <= '9'; c++)
                tid = tid * 10 + (*c - '0');
            if (tid > 0 && n < max)
                tids[n++] = tid;
        }
    }
    errno = saved;
    return n;
}
