/*
 * rss_parts.c - where every resident byte is: RSS split into heap, mmap,
 * file, stack and other (docs/rss.md).
 *
 * The kernel's own counters in /proc/self/status split RSS exactly into
 * anonymous, file-backed and shared-memory pages.  The anonymous part is
 * then divided with mincore over address ranges the shim knows: the
 * program's own anonymous mappings (the ones mmap hands it, tracked by
 * mappings.c), the threads' stacks (found from an address each thread leaves
 * when it first allocates)
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
#include "core/core.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* from the last full breakdown, for the quick ones */
static _Atomic uint64_t last_shmem, last_own;
static _Atomic int had_full;

/* The last quick breakdown and what it was taken against.  A probe in a
 * loop that changes nothing gets it again, without the mincore calls:
 * when resident and shared pages, the program's mappings and the set of
 * threads are all as they were, no page can have moved between parts
 * except by one part losing exactly as many pages as another gained. */
static pp_lock_t quick_lock = PP_LOCK_INIT;
static struct pp_parts quick_last;
static struct { uint64_t shared, anon, file, ranges, gen, own, shmem; int valid; } quick_key;

int pp_rss_parts(struct pp_parts *out, int64_t heap_bytes, const struct pp_proc *status)
{
    struct pp_proc proc;
    memset(out, 0, sizeof *out);
    uint64_t own;
    int quick = !status && atomic_load(&had_full);
    struct pp_maps maps;
    uint64_t shared = 0, gen = 0;
    if (quick) {
        /* statm: resident, and shared = file + shmem pages */
        uint64_t shmem = atomic_load(&last_shmem);
        if (pp_proc_statm(&proc.rss, &shared) != 0)
            return -1;
        pp_map_read(&maps, 0, 0);
        gen = pp_counters_stack_generation();
        pp_lock(&quick_lock);
        if (quick_key.valid && quick_last.rss == proc.rss && quick_key.shared == shared &&
            quick_key.anon == maps.anon && quick_key.file == maps.file &&
            quick_key.ranges == maps.ranges && quick_key.gen == gen &&
            quick_key.own == atomic_load(&last_own) && quick_key.shmem == shmem) {
            *out = quick_last;
            pp_unlock(&quick_lock);
            out->heap_untouched = heap_bytes > (int64_t)out->heap ? heap_bytes - (int64_t)out->heap : 0;
            out->has_je = pp_jemalloc_stats(&out->je_allocated, &out->je_active,
                                            &out->je_resident) == 0;
            return 0;
        }
        pp_unlock(&quick_lock);
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
    uint64_t stack = pp_stacks_resident(quick, pp_counters_stack_generation(), pp_counters_stack_hints);
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
    pp_lock(&quick_lock);
    quick_key.valid = quick;            /* a full breakdown starts afresh */
    if (quick) {
        quick_last = *out;
        quick_key.shared = shared;
        quick_key.anon = maps.anon;
        quick_key.file = maps.file;
        quick_key.ranges = maps.ranges;
        quick_key.gen = gen;
        quick_key.own = atomic_load(&last_own);
        quick_key.shmem = proc.rss_shmem;
    }
    pp_unlock(&quick_lock);
    return 0;
}

/* ---- the breakdown at the RSS peak ------------------------------------------ */

static struct pp_parts peak_parts;
static uint64_t peak_t_ns;
static int have_peak;
static pp_lock_t peak_lock = PP_LOCK_INIT;

void pp_parts_note(const struct pp_parts *p, uint64_t t_ns)
{
    pp_lock(&peak_lock);
    if (!have_peak || p->rss > peak_parts.rss) {
        peak_parts = *p;
        peak_t_ns = t_ns;
        have_peak = 1;
    }
    pp_unlock(&peak_lock);
}

int pp_parts_peak(struct pp_parts *out, uint64_t *t_ns)
{
    pp_lock(&peak_lock);
    int ok = have_peak;
    *out = peak_parts;
    *t_ns = peak_t_ns;
    pp_unlock(&peak_lock);
    return ok ? 0 : -1;
}

void pp_parts_after_fork_child(void)
{
    pp_stacks_after_fork_child();
    have_peak = 0;
    atomic_store(&had_full, 0);
    pp_lock_reset(&quick_lock);
    pp_lock_reset(&peak_lock);          /* the sampler may have held it */
    quick_key.valid = 0;
}
