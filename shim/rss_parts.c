/*
 * rss_parts.c - where every resident byte is: RSS split into heap, mmap,
 * file, stack and other (docs/rss.md).
 *
 * The kernel's own counters in /proc/self/status split RSS exactly into
 * anonymous, file-backed and shared-memory pages.  The anonymous part is
 * then divided with mincore over address ranges the shim knows: the
 * program's own anonymous mappings (the ones mmap hands it, tracked by
 * mappings.c), the threads' stacks (recorded when a thread first allocates)
 * and the main stack, and the shim's own memory.  What is left of the
 * anonymous pages is the allocator's: the brk heap, glibc's arenas and
 * mmapped chunks, jemalloc's extents (and whatever other library keeps
 * anonymous memory of its own).  The parts therefore add up to RSS by
 * construction, and each is measured, not estimated, except that last
 * residual.
 *
 * Probes take a quick breakdown: /proc/self/statm (resident, and shared =
 * file-backed + shared-memory pages) instead of status, with the
 * shared-memory and own-memory figures of the last full breakdown (the
 * sampler takes one every PERFPROBE_PARTS_STRIDE samples, and at exit).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define MAX_STACKS 1024

static struct { pid_t tid; uintptr_t addr; size_t len; } stacks[MAX_STACKS];
static size_t n_stacks;
static pthread_mutex_t stacks_lock = PTHREAD_MUTEX_INITIALIZER;

/* Called on a thread's first allocation (inside a hook): remember its stack.
 * pthread_getattr_np reads the thread descriptor for a non-main thread; the
 * main thread's stack is found from /proc/self/stat instead. */
void pp_stack_register(void)
{
    pthread_attr_t attr;
    void *addr;
    size_t len;
    pid_t tid = pp_tid();
    if (tid == getpid() || pthread_getattr_np(pthread_self(), &attr) != 0)
        return;
    int ok = pthread_attr_getstack(&attr, &addr, &len) == 0;
    pthread_attr_destroy(&attr);
    pthread_mutex_lock(&stacks_lock);
    if (ok && n_stacks < MAX_STACKS) {
        stacks[n_stacks].tid = tid;
        stacks[n_stacks].addr = (uintptr_t)addr;
        stacks[n_stacks].len = len;
        n_stacks++;
    }
    pthread_mutex_unlock(&stacks_lock);
}

void pp_stack_unregister(void)
{
    pid_t tid = pp_tid();
    pthread_mutex_lock(&stacks_lock);
    for (size_t i = 0; i < n_stacks; i++)
        if (stacks[i].tid == tid) {
            stacks[i] = stacks[--n_stacks];
            break;
        }
    pthread_mutex_unlock(&stacks_lock);
}

void pp_stacks_after_fork_child(void)
{
    n_stacks = 0;       /* only the forking thread lives on; it registers again */
    pthread_mutex_unlock(&stacks_lock);
}

void pp_stacks_lock(void) { pthread_mutex_lock(&stacks_lock); }
void pp_stacks_unlock(void) { pthread_mutex_unlock(&stacks_lock); }

static uint64_t resident_stacks(int quick)
{
    uint64_t total = pp_os_resident_main_stack(quick);
    pthread_mutex_lock(&stacks_lock);
    for (size_t i = 0; i < n_stacks; i++)
        total += pp_os_resident(stacks[i].addr, stacks[i].len);
    pthread_mutex_unlock(&stacks_lock);
    return total;
}

/* from the last full breakdown, for the quick ones */
static _Atomic uint64_t last_shmem, last_own;
static _Atomic int had_full;

int pp_rss_parts(struct pp_parts *out, int64_t heap_bytes, const struct pp_proc *status)
{
    struct pp_proc proc;
    memset(out, 0, sizeof *out);
    uint64_t own;
    int quick = !status && atomic_load(&had_full);
    if (quick) {
        /* statm: resident, and shared = file + shmem pages */
        uint64_t shared, shmem = atomic_load(&last_shmem);
        if (pp_proc_statm(&proc.rss, &shared) != 0)
            return -1;
        if (shmem > shared)
            shmem = shared;
        proc.rss_shmem = shmem;
        proc.rss_file = shared - shmem;
        proc.rss_anon = proc.rss > shared ? proc.rss - shared : 0;
        own = atomic_load(&last_own);
    } else {
        if (status)
            proc = *status;
        else if (pp_proc_read(&proc) != 0)
            return -1;
        own = pp_os_resident_own();
        atomic_store(&last_shmem, proc.rss_shmem);
        atomic_store(&last_own, own);
        atomic_store(&had_full, 1);
    }
    uint64_t mmap = pp_map_resident_anon();
    uint64_t stack = resident_stacks(quick);
    uint64_t anon = proc.rss_anon;
    /* mincore and the kernel's counters are read microseconds apart: keep
     * each measured part within the anonymous total */
    if (mmap > anon) mmap = anon;
    if (stack > anon - mmap) stack = anon - mmap;
    if (own > anon - mmap - stack) own = anon - mmap - stack;
    out->rss = proc.rss;
    out->mmap = mmap;
    out->stack = stack;
    out->perfprobe = own;
    out->heap = anon - mmap - stack - own;
    out->file = proc.rss_file;
    out->shmem = proc.rss_shmem;
    out->other = proc.rss - out->heap - out->mmap - out->stack - out->file;
    out->heap_untouched = heap_bytes > (int64_t)out->heap ? heap_bytes - (int64_t)out->heap : 0;
    out->has_je = pp_jemalloc_stats(&out->je_allocated, &out->je_active, &out->je_resident) == 0;
    return 0;
}

/* ---- the breakdown at the RSS peak ------------------------------------------ */

static struct pp_parts peak_parts;
static uint64_t peak_t_ns;
static int have_peak;
static pthread_mutex_t peak_lock = PTHREAD_MUTEX_INITIALIZER;

void pp_parts_note(const struct pp_parts *p, uint64_t t_ns)
{
    pthread_mutex_lock(&peak_lock);
    if (!have_peak || p->rss > peak_parts.rss) {
        peak_parts = *p;
        peak_t_ns = t_ns;
        have_peak = 1;
    }
    pthread_mutex_unlock(&peak_lock);
}

int pp_parts_peak(struct pp_parts *out, uint64_t *t_ns)
{
    pthread_mutex_lock(&peak_lock);
    int ok = have_peak;
    *out = peak_parts;
    *t_ns = peak_t_ns;
    pthread_mutex_unlock(&peak_lock);
    return ok ? 0 : -1;
}

void pp_parts_after_fork_child(void)
{
    have_peak = 0;
    atomic_store(&had_full, 0);
}
