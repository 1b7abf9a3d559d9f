/*
 * perf.c - the macOS side of CPU sampling: the task's threads, and each
 * one's stack taken by the sampler thread itself.
 *
 * macOS has no perf_event and the first rule forbids a profiling signal,
 * so this file offers core/cpu.c the interface of sys/linux/perf.c (sys.h)
 * and does the kernel's part there by Mach calls from the sampler thread:
 *   - pp_task_list: task_threads, each thread's id (THREAD_IDENTIFIER_INFO,
 *     the id pthread_threadid_np and pp_tid give); the send rights are kept
 *     until the next list, so that pp_perf_open can take one of its own;
 *   - pp_perf_next, once a drain: the thread's user CPU time (THREAD_BASIC_INFO);
 *     when a whole sampling period of it has passed since the last look,
 *     thread_suspend, thread_get_state (pc, fp, sp), the frame-pointer
 *     walk (fpwalk.c) over memory read through the kernel
 *     (mach_vm_read_overwrite: an address that is not mapped is an error
 *     returned, never a fault), thread_resume.  The stack is then handed
 *     out once per period of CPU time used (the remainder carried to the
 *     next drain), so that the counts are in proportion to CPU time as the
 *     kernel's task-clock samples are on Linux; but at a rate above the
 *     sampler's tick the repeated samples share one stack.
 * While a thread is suspended nothing here allocates or takes a lock (it
 * may hold the allocator's): only Mach calls, which are messages to the
 * kernel on the thread's reply port, and the walk over the shim's own
 * buffer.  The stack is read in one piece from sp up (COPY bytes, within
 * the VM region around sp); a record beyond that piece is read alone.
 * Nothing here calls into core or hooks.
 */
#include "sys/sys.h"

#include <errno.h>
#include <mach/mach.h>
#include <string.h>
#include <unistd.h>

/* mach_vm.h is not in every SDK's headers (Zig's lacks it): MIG's prototypes */
kern_return_t mach_vm_read_overwrite(vm_map_t task, mach_vm_address_t addr, mach_vm_size_t size,
                                     mach_vm_address_t data, mach_vm_size_t *outsize);
kern_return_t mach_vm_region(vm_map_t task, mach_vm_address_t *addr, mach_vm_size_t *size,
                             vm_region_flavor_t flavor, vm_region_info_t info,
                             mach_msg_type_number_t *count, mach_port_t *object);

#define MAX_LIST 8192                 /* threads listed at once */
#define POOL     1024                 /* threads followed (core/cpu.c: 1024 at most) */
#define COPY     (16u << 10)          /* bytes of stack read in one call */

#if defined(__aarch64__) || defined(__arm64__)
#define PAC_MASK ((uintptr_t)0x0000ffffffffffffull)  /* the signature bits off */
#else
#define PAC_MASK (~(uintptr_t)0)
#endif

/* a followed thread (E->meta): a slot of POOL, the shim's own memory */
struct thr {
    int used;
    thread_act_t port;
    uint64_t period, cpu_ns, owed;    /* user CPU time: last seen, not yet sampled */
    uint32_t repeat;                  /* samples still to hand out of the stack taken */
    uintptr_t lo, hi;                 /* the VM region that held sp last */
    uint64_t time, pc, sp, fp;
    int n;
    uintptr_t chain[PP_PERF_CHAIN];
};

/* the last list (only the sampler thread, under cpu.c's lock) */
static thread_act_t *ports;
static pid_t *ids;
static int n_list;
static pid_t list_pid;                /* the process the rights belong to */
static char *copy;                    /* the piece of stack read (COPY bytes) */
static struct thr *pool;

static int thread_id(thread_act_t t, pid_t *id)
{
    thread_identifier_info_data_t info;
    mach_msg_type_number_t count = THREAD_IDENTIFIER_INFO_COUNT;
    if (thread_info(t, THREAD_IDENTIFIER_INFO, (thread_info_t)&info, &count) != KERN_SUCCESS)
        return -1;
    *id = (pid_t)info.thread_id;
    return 0;
}

/* the thread's user CPU time, ns; -1 when it is gone */
static int user_ns(thread_act_t t, uint64_t *ns)
{
    thread_basic_info_data_t info;
    mach_msg_type_number_t count = THREAD_BASIC_INFO_COUNT;
    if (thread_info(t, THREAD_BASIC_INFO, (thread_info_t)&info, &count) != KERN_SUCCESS)
        return -1;
    *ns = (uint64_t)info.user_time.seconds * 1000000000u +
          (uint64_t)info.user_time.microseconds * 1000u;
    return 0;
}

static void forget_list(void)
{
    if (list_pid == getpid())         /* in a forked child the names are not ours */
        for (int i = 0; i < n_list; i++)
            mach_port_deallocate(mach_task_self(), ports[i]);
    n_list = 0;
}

/* nothing to open ahead: task_threads needs no descriptor */
int pp_task_dir_open(struct pp_fd *dir)
{
    (void)dir;
    return 0;
}

int pp_task_list(struct pp_fd *dir, pid_t *tids, int max)
{
    (void)dir;
    int saved = errno;
    if (!ports && !(ports = pp_os_map(MAX_LIST * sizeof *ports)))
        return errno = saved, -1;
    if (!ids && !(ids = pp_os_map(MAX_LIST * sizeof *ids)))
        return errno = saved, -1;
    forget_list();
    thread_act_array_t list;
    mach_msg_type_number_t n = 0;
    if (task_threads(mach_task_self(), &list, &n) != KERN_SUCCESS)
        return errno = saved, -1;
    list_pid = getpid();
    int k = 0;
    for (mach_msg_type_number_t i = 0; i < n; i++) {
        pid_t id;
        if (k < max && k < MAX_LIST && thread_id(list[i], &id) == 0) {
            ports[n_list++] = list[i];
            ids[k] = id;
            tids[k++] = id;
        } else {
            mach_port_deallocate(mach_task_self(), list[i]);
        }
    }
    vm_deallocate(mach_task_self(), (vm_address_t)list, n * sizeof *list);
    errno = saved;
    return k;
}

void pp_perf_open_many(struct pp_perf_ev *e, const pid_t *tids, int *errs, int n,
                       uint64_t period_ns, size_t data_pages, unsigned stack_bytes)
{
    for (int i = 0; i < n; i++)
        errs[i] = pp_perf_open(&e[i], tids[i], period_ns, data_pages, stack_bytes);
}

int pp_perf_open(struct pp_perf_ev *e, pid_t tid, uint64_t period_ns, size_t data_pages,
                 unsigned stack_bytes)
{
    (void)data_pages;
    (void)stack_bytes;
    memset(e, 0, sizeof *e);
    e->fd = -1;
    int i = 0;
    while (i < n_list && ids[i] != tid)
        i++;
    if (i == n_list || tid == pp_tid())
        return ESRCH;
    int saved = errno;
    if ((!copy && !(copy = pp_os_map(COPY))) || (!pool && !(pool = pp_os_map(POOL * sizeof *pool))))
        return errno = saved, ENOMEM;
    struct thr *t = pool;
    while (t < pool + POOL && t->used)
        t++;
    if (t == pool + POOL)
        return ENOMEM;
    memset(t, 0, offsetof(struct thr, chain));
    if (mach_port_mod_refs(mach_task_self(), ports[i], MACH_PORT_RIGHT_SEND, 1) != KERN_SUCCESS)
        return errno = saved, ESRCH;
    if (user_ns(ports[i], &t->cpu_ns) != 0) {
        mach_port_deallocate(mach_task_self(), ports[i]);
        errno = saved;
        return ESRCH;
    }
    t->used = 1;
    t->port = ports[i];
    t->period = period_ns ? period_ns : 1;
    e->tid = tid;
    e->id = t->port;
    e->meta = t;
    errno = saved;
    return 0;
}

void pp_perf_close(struct pp_perf_ev *e, int unmap)
{
    struct thr *t = e->meta;
    if (t) {
        if (unmap)                    /* not in a forked child: see sys.h */
            mach_port_deallocate(mach_task_self(), t->port);
        t->used = 0;
    }
    e->meta = NULL;
    e->fd = -1;
}

/* ---- one stack, the thread suspended ---------------------------------------- */

struct reader { uintptr_t base; size_t len; };

/* a record from the piece read, else from the kernel on its own */
static int read_record(void *ctx, uintptr_t addr, uintptr_t out[2])
{
    const struct reader *r = ctx;
    if (addr >= r->base && addr - r->base + 2 * sizeof(uintptr_t) <= r->len) {
        memcpy(out, copy + (addr - r->base), 2 * sizeof(uintptr_t));
        return 0;
    }
    mach_vm_size_t got = 0;
    if (mach_vm_read_overwrite(mach_task_self(), addr, 2 * sizeof(uintptr_t),
                               (mach_vm_address_t)(uintptr_t)out, &got) != KERN_SUCCESS ||
        got != 2 * sizeof(uintptr_t))
        return -1;
    return 0;
}

/* the VM region around ADDR: 0, or -1 when ADDR is not mapped */
static int region_of(uintptr_t addr, uintptr_t *lo, uintptr_t *hi)
{
    mach_vm_address_t a = addr;
    mach_vm_size_t size = 0;
    vm_region_basic_info_data_64_t info;
    mach_msg_type_number_t count = VM_REGION_BASIC_INFO_COUNT_64;
    mach_port_t object = MACH_PORT_NULL;
    if (mach_vm_region(mach_task_self(), &a, &size, VM_REGION_BASIC_INFO_64,
                       (vm_region_info_t)&info, &count, &object) != KERN_SUCCESS || a > addr)
        return -1;
    *lo = (uintptr_t)a;
    *hi = (uintptr_t)(a + size);
    return 0;
}

/* registers of the suspended thread: 0, or -1 */
static int registers(thread_act_t port, uint64_t *pc, uint64_t *fp, uint64_t *sp)
{
#if defined(__x86_64__)
    x86_thread_state64_t st;
    mach_msg_type_number_t count = x86_THREAD_STATE64_COUNT;
    if (thread_get_state(port, x86_THREAD_STATE64, (thread_state_t)&st, &count) != KERN_SUCCESS)
        return -1;
    *pc = st.__rip;
    *fp = st.__rbp;
    *sp = st.__rsp;
#else
    arm_thread_state64_t st;
    mach_msg_type_number_t count = ARM_THREAD_STATE64_COUNT;
    if (thread_get_state(port, ARM_THREAD_STATE64, (thread_state_t)&st, &count) != KERN_SUCCESS)
        return -1;
    *pc = (uint64_t)arm_thread_state64_get_pc(st) & PAC_MASK;
    *fp = (uint64_t)arm_thread_state64_get_fp(st) & PAC_MASK;
    *sp = (uint64_t)arm_thread_state64_get_sp(st) & PAC_MASK;
#endif
    return 0;
}

/* suspend, read, walk, resume: T's stack now, 0, or -1 */
static int take(struct thr *t)
{
    if (thread_suspend(t->port) != KERN_SUCCESS)
        return -1;
    int ok = registers(t->port, &t->pc, &t->fp, &t->sp) == 0;
    if (ok && (t->sp < t->lo || t->sp >= t->hi) && region_of((uintptr_t)t->sp, &t->lo, &t->hi) != 0)
        t->lo = t->hi = 0;
    if (ok) {
        /* the piece of stack from sp up, within its region */
        struct reader r = {(uintptr_t)t->sp & ~(uintptr_t)15, 0};
        uintptr_t lo = r.base, hi = t->hi > r.base ? t->hi : r.base;
        size_t want = hi - r.base < COPY ? hi - r.base : COPY;
        mach_vm_size_t got = 0;
        if (want && mach_vm_read_overwrite(mach_task_self(), r.base, want,
                                           (mach_vm_address_t)(uintptr_t)copy, &got) == KERN_SUCCESS)
            r.len = (size_t)got;
        t->n = pp_fp_walk((uintptr_t)t->pc, (uintptr_t)t->fp, lo, hi, PAC_MASK, read_record, &r,
                          t->chain, PP_PERF_CHAIN);
    }
    thread_resume(t->port);
    return ok ? 0 : -1;
}

int pp_perf_next(struct pp_perf_ev *e, struct pp_perf_sample *s, char *scratch, size_t scratch_len)
{
    (void)scratch;
    (void)scratch_len;
    struct thr *t = e->meta;
    if (!t)
        return 0;
    if (!e->reading) {
        e->reading = 1;
        t->repeat = 0;
        uint64_t now;
        /* the calling thread is not suspended: its time is not sampled */
        if (e->tid != pp_tid() && user_ns(t->port, &now) == 0) {
            t->owed += now > t->cpu_ns ? now - t->cpu_ns : 0;
            t->cpu_ns = now;
            uint64_t k = t->owed / t->period;
            if (k && take(t) == 0) {
                t->owed -= k * t->period;
                t->repeat = k < 100000 ? (uint32_t)k : 100000;
                t->time = pp_now_ns();
            }
        }
    }
    if (!t->repeat) {
        e->reading = 0;
        return 0;
    }
    t->repeat--;
    memset(s, 0, offsetof(struct pp_perf_sample, chain));
    s->tid = e->tid;
    s->ip = s->reg_ip = t->pc;
    s->sp = t->sp;
    s->bp = t->fp;
    s->time = t->time;
    s->nchain = t->n;
    memcpy(s->chain, t->chain, (size_t)t->n * sizeof *t->chain);
    s->copy = NULL;
    s->copy_len = 0;
    return 1;
}
