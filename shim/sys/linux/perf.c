/*
 * perf.c - the Linux side of CPU sampling: one perf_event task-clock event
 * per thread, its ring buffer, and the list of the process's threads.
 *
 * core/cpu.c decides which threads to follow, what a sample means and what
 * the timeline says; this file only talks to the kernel: it opens an event
 * for a thread (the user registers, a copy of the top of the user stack and
 * the kernel's frame-pointer chain with each sample), maps its buffer with
 * the raw system call (never through the shim's mmap hook), hands back the
 * samples one at a time decoded into struct pp_perf_sample (and notes the
 * thread's EXIT record), closes an event by unmapping its buffer (it keeps
 * no descriptor: the mapping holds it), and lists /proc/self/task through
 * a directory descriptor kept high.
 * Nothing here calls into core or hooks.
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* An event is opened, its buffer mapped and its descriptor closed: the
 * mapping holds the event, which samples on until it is unmapped.  So no
 * number of the program's table is the shim's, and a program that closes
 * every descriptor closes none of these.  On the sampler thread this is
 * done apart (apart.c), where even the moment between the open and the
 * close is outside the program's table; a forked child has no copy of the
 * mapping (the kernel maps perf buffers VM_DONTCOPY). */
struct open_job {
    struct perf_event_attr *a;
    pid_t tid;
    size_t map_len;
    void *map;
    int err;
};

static int open_map_close(void *p)
{
    struct open_job *o = p;
    long fd = syscall(SYS_perf_event_open, o->a, o->tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0) {
        o->err = errno;
        return -1;
    }
    long m = syscall(SYS_mmap, 0L, o->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0L);
    if (m < 0 && m > -4096)
        o->err = errno == EPERM ? ENOMEM : errno;      /* the locked-memory limit */
    else
        o->map = (void *)m;
    syscall(SYS_close, fd);
    return 0;
}

static void task_clock(struct perf_event_attr *a, uint64_t period_ns, unsigned stack_bytes)
{
    memset(a, 0, sizeof *a);
    a->size = sizeof *a;
    a->type = PERF_TYPE_SOFTWARE;
    a->config = PERF_COUNT_SW_TASK_CLOCK;
    a->sample_period = period_ns;
    a->sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
                     PERF_SAMPLE_CALLCHAIN | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
#if defined(__x86_64__)
    a->sample_regs_user = (1u << 6) | (1u << 7) | (1u << 8);     /* bp, sp, ip */
#endif
    a->sample_stack_user = stack_bytes;
    a->exclude_kernel = 1;
    a->exclude_hv = 1;
    a->exclude_callchain_kernel = 1;
    a->use_clockid = 1;
    a->clockid = CLOCK_MONOTONIC;
    /* an EXIT record when the thread ends: its id may be given to a new
     * thread before the next list of threads, which must get its own */
    a->task = 1;
}

/* up to OPEN_BATCH jobs in one task apart */
#define OPEN_BATCH 64
struct open_batch {
    struct open_job *jobs;
    int n;
};

static int open_all(void *p)
{
    struct open_batch *b = p;
    for (int i = 0; i < b->n; i++)
        open_map_close(&b->jobs[i]);
    return 0;
}

void pp_perf_open_many(struct pp_perf_ev *e, const pid_t *tids, int *errs, int n,
                       uint64_t period_ns, size_t data_pages, unsigned stack_bytes)
{
    struct perf_event_attr a;
    struct open_job jobs[OPEN_BATCH];
    int saved = errno, rc;
    size_t map_len = data_pages * 4096 + 4096;
    task_clock(&a, period_ns, stack_bytes);
    for (int at = 0; at < n; at += OPEN_BATCH) {
        int k = n - at < OPEN_BATCH ? n - at : OPEN_BATCH;
        for (int i = 0; i < k; i++)
            jobs[i] = (struct open_job){&a, tids[at + i], map_len, NULL, 0};
        struct open_batch b = {jobs, k};
        if (!pp_apart_here() || pp_apart_run(open_all, &b, &rc) != 0)
            open_all(&b);
        for (int i = 0; i < k; i++) {
            struct pp_perf_ev *ev = &e[at + i];
            memset(ev, 0, sizeof *ev);
            ev->fd = -1;
            errs[at + i] = jobs[i].map ? 0 : jobs[i].err ? jobs[i].err : EINVAL;
            if (!jobs[i].map)
                continue;
            ev->data_size = data_pages * 4096;
            ev->map_len = map_len;
            ev->tid = tids[at + i];
            ev->meta = jobs[i].map;
            ev->data = (char *)jobs[i].map + 4096;
        }
    }
    errno = saved;
}

int pp_perf_open(struct pp_perf_ev *e, pid_t tid, uint64_t period_ns, size_t data_pages,
                 unsigned stack_bytes)
{
    int err;
    pp_perf_open_many(e, &tid, &err, 1, period_ns, data_pages, stack_bytes);
    return err;
}

/* the mapping is the event: unmapped, it is closed */
void pp_perf_close(struct pp_perf_ev *e, int unmap)
{
    if (e->meta && unmap)
        syscall(SYS_munmap, e->meta, e->map_len);
    e->meta = NULL;
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
        } else if (rec && h.type == PERF_RECORD_EXIT && h.size >= sizeof h + 16) {
            uint32_t tid;                     /* pid, ppid, tid, ptid, time */
            memcpy(&tid, rec + sizeof h + 8, 4);
            if ((pid_t)tid == e->tid)
                e->ended = 1;
        }
    }
    /* all read: the kernel may write over it now */
    __atomic_store_n(&m->data_tail, e->tail, __ATOMIC_RELEASE);
    e->reading = 0;
    return 0;
}

static uint64_t *dents;

/* the ids of a directory listing of /proc/self/task read from FD */
static int list_fd(int fd, pid_t *tids, int max)
{
    int n = 0;
    for (;;) {
        long got = syscall(SYS_getdents64, fd, dents, 32768);
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
    return n;
}

struct list_job {
    pid_t *tids;
    int max, n;
};

static int list_apart(void *p)
{
    struct list_job *l = p;
    long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                      0);
    if (fd < 0)
        return -1;
    l->n = list_fd((int)fd, l->tids, l->max);
    syscall(SYS_close, fd);
    return 0;
}

/* the list without the task of apart.c, ending */
static int drop_apart(pid_t *tids, int n)
{
    pid_t apart = pp_apart_tid();
    int k = 0;
    for (int i = 0; i < n; i++)
        if (tids[i] != apart)
            tids[k++] = tids[i];
    return k;
}

int pp_task_dir_open(struct pp_fd *dir)
{
    int saved = errno;
    if (pp_fd_ok(dir))
        return 0;
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 && pp_fd_adopt(dir, fd) == 0 ? 0 : -1;
    errno = saved;
    return rc;
}

/* The sampler thread keeps the directory open from the start (opened by
 * the program's thread before the sampler runs, pp_task_dir_open); when
 * the program has closed that number, the list is read apart each time
 * (apart.c) rather than opened again in the program's table. */
int pp_task_list(struct pp_fd *dir, pid_t *tids, int max)
{
    int saved = errno;
    if (!dents && !(dents = pp_os_map(32768)))
        return -1;
    if (!pp_fd_ok(dir)) {
        int rc;
        struct list_job l = {tids, max, -1};
        if (pp_apart_here() && pp_apart_run(list_apart, &l, &rc) == 0) {
            errno = saved;
            return rc == 0 ? drop_apart(tids, l.n) : -1;
        }
        if (pp_task_dir_open(dir) != 0)
            return -1;
    }
    if (lseek(dir->fd, 0, SEEK_SET) != 0) {
        errno = saved;
        return -1;
    }
    int n = drop_apart(tids, list_fd(dir->fd, tids, max));
    errno = saved;
    return n;
}
