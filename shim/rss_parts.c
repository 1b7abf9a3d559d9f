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
#include "internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* Threads' stacks.  Each thread leaves one address on its stack in its
 * counter slot (counters.c) when it first allocates; a full breakdown,
 * on the sampler thread, finds the mapping around each such address in
 * /proc/self/maps and remembers the ranges for the quick breakdowns. */
#define MAX_STACKS 4096

static struct { uintptr_t start, end; } stacks[MAX_STACKS];
static size_t n_stacks;
static pp_lock_t stacks_lock = PP_LOCK_INIT;

/* Shell sort: qsort may call malloc, and the sampler stays off the
 * program's heap (a thread that allocates gets an arena of its own). */
static void sort_uptr(uintptr_t *v, size_t n)
{
    for (size_t gap = n / 2; gap > 0; gap /= 2)
        for (size_t i = gap; i < n; i++) {
            uintptr_t x = v[i];
            size_t j = i;
            for (; j >= gap && v[j - gap] > x; j -= gap)
                v[j] = v[j - gap];
            v[j] = x;
        }
}

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

/* Stream /proc/self/maps and keep each mapping that holds a hint.  Called
 * with stacks_lock held. */
static void find_stacks(void)
{
    static uintptr_t hints[MAX_STACKS];
    static char buf[65536];
    size_t nh = pp_counters_stack_hints(hints, MAX_STACKS), found = 0;
    if (nh == 0) {
        n_stacks = 0;
        return;
    }
    sort_uptr(hints, nh);
    int kept = pp_proc_maps_fd();
    int fd = kept >= 0 ? kept : open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    size_t have = 0, h = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = 0;
        char *line = buf, *nl;
        while ((nl = memchr(line, '\n', have - (size_t)(line - buf))) != NULL) {
            const char *p = line;
            uintptr_t start = hex(&p);
            p++;
            uintptr_t end = hex(&p);
            while (h < nh && hints[h] < start)
                h++;
            if (h < nh && hints[h] < end && found < MAX_STACKS) {
                stacks[found].start = start;
                stacks[found].end = end;
                found++;
                while (h < nh && hints[h] < end)
                    h++;
            }
            line = nl + 1;
        }
        have -= (size_t)(line - buf);
        memmove(buf, line, have);
        if (h >= nh)
            break;
    }
    if (fd != kept)
        close(fd);
    n_stacks = found;
}

void pp_parts_after_fork_stacks(void)
{
    pp_lock_reset(&stacks_lock);
    n_stacks = 0;
}

static uint64_t resident_stacks(int quick)
{
    static uint64_t seen_generation;
    uint64_t total = pp_os_resident_main_stack(quick);
    uint64_t gen = pp_counters_stack_generation();
    /* a quick look trusts the ranges found last, unless threads came; the
     * look and the search are one step under the lock, so that a probe
     * never counts the ranges while the sampler is still finding the new
     * thread's (it read a stack part of 0 that way) */
    pp_lock(&stacks_lock);
    if (!quick || seen_generation != gen) {
        find_stacks();
        seen_generation = gen;
    }
    for (size_t i = 0; i < n_stacks; i++)
        total += pp_os_resident(stacks[i].start, stacks[i].end - stacks[i].start);
    pp_unlock(&stacks_lock);
    return total;
}

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
    pp_parts_after_fork_stacks();
    have_peak = 0;
    atomic_store(&had_full, 0);
    pp_lock_reset(&quick_lock);
    quick_key.valid = 0;
}
