/*
 * leaks.c - which blocks still live at exit are really lost: a conservative
 * mark from the program's roots, as LeakSanitizer and Valgrind do, without
 * recompiling (docs/sites.md).  Only with PERFPROBE_STACKS=all (every live
 * block is tracked, with its size), once, at exit, outside any hook.
 *
 * Roots (a thread's stack from its stack pointer up for the exiting
 * thread, whole for the others): the writable segments of every loaded module (data, bss) but the
 * shim's own, the
 * whole mapping of each thread's stack the shim knows (the exiting thread's,
 * the main thread's, and each thread that counted an allocation:
 * pp_counters_stack_hints), with the exiting thread's callee-saved
 * registers spilled onto its stack, and the mapping of the exiting
 * thread's static TLS when no tracked block lies in it.  Every aligned
 * word in a root or in a marked block that points into a live block (its
 * start or inside it) marks that block.  What stays unmarked is
 * "definitely lost".
 *
 * Memory is read by a system call on this process (pp_os_read_own), never by loads,
 * so that a page unmapped meanwhile (another thread freed a block) or a
 * guard page gives an error to skip, never a fault.  Where the system
 * forbids the call (a seccomp filter), nothing is classified.
 *
 * The same on Linux and macOS: what differs (where the mappings, the
 * modules' segments and the pages' residency come from, which of the
 * system's own data are roots) is the system layer's (sys/sys.h).
 */
#define _GNU_SOURCE
#include "core/core.h"

#include <errno.h>
#include <setjmp.h>
#include <string.h>

#define CHUNK (64 * 1024)
#define MAX_HINTS 4096

static struct pp_block *blk;
static size_t nblk;
static uint8_t *mark;
static uint32_t *work;
static size_t nwork;
static uintptr_t *buf;
static unsigned char *vec;
static uintptr_t lo_addr, hi_addr;
static int read_failed;

static void sift(size_t n, size_t k)
{
    for (;;) {
        size_t l = 2 * k + 1, m = k;
        if (l < n && blk[l].addr > blk[m].addr)
            m = l;
        if (l + 1 < n && blk[l + 1].addr > blk[m].addr)
            m = l + 1;
        if (m == k)
            return;
        struct pp_block t = blk[k];
        blk[k] = blk[m];
        blk[m] = t;
        k = m;
    }
}

static void sort_blocks(void)
{
    for (size_t k = nblk / 2; k-- > 0;)
        sift(nblk, k);
    for (size_t n = nblk; n > 1; n--) {
        struct pp_block t = blk[0];
        blk[0] = blk[n - 1];
        blk[n - 1] = t;
        sift(n - 1, 0);
    }
}

/* the block that holds address v, or -1 */
static long find(uintptr_t v)
{
    if (v < lo_addr || v >= hi_addr)
        return -1;
    size_t a = 0, b = nblk;
    while (b - a > 1) {
        size_t m = (a + b) / 2;
        if (blk[m].addr <= v)
            a = m;
        else
            b = m;
    }
    /* not its last 8 bytes: with glibc they are the next chunk's first
     * field, and the arena's pointer to its top chunk, or a bin's to the
     * next free chunk, points there */
    size_t size = blk[a].size > 8 ? blk[a].size - 8 : blk[a].size;
    return v < blk[a].addr + size ? (long)a : -1;
}

/* Read [start, end) and mark what its words point to. */
static void scan_read(uintptr_t start, uintptr_t end)
{
    while (start + 8 <= end) {
        size_t len = end - start < CHUNK ? (end - start) & ~(size_t)7 : CHUNK;
        ssize_t got = pp_os_read_own(buf, start, len);
        if (got < 0 && (errno == ENOSYS || errno == EPERM)) {
            read_failed = 1;
            return;
        }
        if (got < 8) {               /* a page not there: the next page */
            start = (start + 4096) & ~(uintptr_t)4095;
            continue;
        }
        for (size_t i = 0; i < (size_t)got / 8; i++) {
            long b = find(buf[i]);
            if (b >= 0 && !mark[b]) {
                mark[b] = 1;
                work[nwork++] = (uint32_t)b;
            }
        }
        start += (size_t)got & ~(size_t)7;
    }
}

/* Only the resident pages of [start, end): a page never touched holds
 * zeros (reading it would map it, and mincore would then count it
 * resident), and one of a file holds what the file does, never a heap
 * address; a page swapped out is missed (docs/sites.md). */
static void scan(uintptr_t start, uintptr_t end)
{
    start = (start + 7) & ~(uintptr_t)7;
    for (uintptr_t a = start & ~(uintptr_t)4095; a < end && !read_failed;) {
        size_t pages = (end - a + 4095) / 4096;
        if (pages > CHUNK)
            pages = CHUNK;
        if (pp_os_page_vector(a, pages, vec) != 0) {
            scan_read(a < start ? start : a, a + pages * 4096 < end ? a + pages * 4096 : end);
            a += pages * 4096;
            continue;
        }
        for (size_t k = 0; k < pages;) {
            if (!(vec[k] & 1)) {
                k++;
                continue;
            }
            size_t j = k;
            while (j < pages && (vec[j] & 1))
                j++;
            uintptr_t lo = a + k * 4096, hi = a + j * 4096;
            scan_read(lo < start ? start : lo, hi < end ? hi : end);
            k = j;
        }
        a += pages * 4096;
    }
}

/* The shim's own mappings, sorted: never roots.  The kernel merges an
 * anonymous mapping with the one beside it when their flags agree, so one
 * of them (this scan's own list of every live block, made at exit) can sit
 * inside what /proc/self/maps shows as a thread's stack: scanned, it made
 * every block reachable (1 run in 10 of t0960's leaks). */
#define OWN_RANGES 4096
static uintptr_t own_r[OWN_RANGES][2];
static size_t n_own_r;

static void sort_own(void)
{
    for (size_t i = 1; i < n_own_r; i++)
        for (size_t j = i; j > 0 && own_r[j - 1][0] > own_r[j][0]; j--) {
            uintptr_t t0 = own_r[j][0], t1 = own_r[j][1];
            own_r[j][0] = own_r[j - 1][0];
            own_r[j][1] = own_r[j - 1][1];
            own_r[j - 1][0] = t0;
            own_r[j - 1][1] = t1;
        }
}

/* scan() of [start, end) less the shim's own mappings */
static void scan_root(uintptr_t start, uintptr_t end)
{
    for (size_t i = 0; i < n_own_r && start < end; i++) {
        if (own_r[i][1] <= start || own_r[i][0] >= end)
            continue;
        if (own_r[i][0] > start)
            scan(start, own_r[i][0]);
        start = own_r[i][1];
    }
    if (start < end)
        scan(start, end);
}

static void module_root(uintptr_t start, uintptr_t end, void *arg)
{
    (void)arg;
    scan_root(start, end);
}

static void sort_hints(uintptr_t *h, size_t n)    /* a few thousand at most */
{
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && h[k - 1] > h[k]; k--) {
            uintptr_t t = h[k];
            h[k] = h[k - 1];
            h[k - 1] = t;
        }
}

/* The mappings that hold one of the hints (sorted), each scanned whole; a
 * mapping with a tracked block in it only when it is a stack (a thread's
 * stack never holds heap blocks, but [heap] would). */
struct roots {
    const uintptr_t *hints;
    size_t nh, h;
    uintptr_t tls, sp;
};

static int mapping_root(uintptr_t s, uintptr_t e, int stack, void *arg)
{
    struct roots *r = arg;
    int hit = stack;
    while (r->h < r->nh && r->hints[r->h] < s)
        r->h++;
    if (r->h < r->nh && r->hints[r->h] < e)
        hit = 1;
    if (r->tls >= s && r->tls < e) {
        /* the static TLS: only if no block is in it */
        int any = 0;
        for (size_t k = 0; !any && k < nblk; k++)
            any = blk[k].addr >= s && blk[k].addr < e;
        hit = hit || !any;
    }
    if (hit)                         /* this thread's: from its stack pointer up
                                      * (below it, the stale copies of this
                                      * scan's own work) */
        scan_root(r->sp >= s && r->sp < e ? r->sp : s, e);
    return 0;
}

/* Classify; calls pp_sites_lost for each lost block.  0 when done. */
int pp_leaks_classify(void)
{
    int saved = errno;
    size_t cap = pp_sites_block_count();
    if (!cap)
        return 0;
    size_t bytes = cap * (sizeof *blk + 1 + sizeof *work);
    char *mem = pp_os_map(bytes);
    buf = pp_os_map(CHUNK);
    vec = pp_os_map(CHUNK);
    if (!mem || !buf || !vec) {
        if (mem)
            pp_os_unmap(mem, bytes);
        if (buf)
            pp_os_unmap(buf, CHUNK);
        if (vec)
            pp_os_unmap(vec, CHUNK);
        return -1;
    }
    blk = (struct pp_block *)mem;
    work = (uint32_t *)(mem + cap * sizeof *blk);
    mark = (uint8_t *)(mem + cap * (sizeof *blk + sizeof *work));
    nblk = pp_sites_blocks(blk, cap);
    nwork = 0;
    read_failed = 0;
    sort_blocks();
    n_own_r = pp_os_own_ranges(own_r, OWN_RANGES);
    sort_own();
    lo_addr = nblk ? blk[0].addr : 0;
    hi_addr = nblk ? blk[nblk - 1].addr + blk[nblk - 1].size : 0;

    /* the callee-saved registers, onto this stack (scanned below) */
    jmp_buf regs;
    __builtin_unwind_init();
    setjmp(regs);
    uintptr_t hints[MAX_HINTS + 1];
    size_t nh = pp_counters_stack_hints(hints, MAX_HINTS);
    hints[nh++] = (uintptr_t)&regs;
    sort_hints(hints, nh);
    pp_modules_each_writable(module_root, NULL);
    uintptr_t sp = (uintptr_t)&regs;
#if defined(__x86_64__)
    __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
#elif defined(__aarch64__)
    __asm__ volatile("mov %0, sp" : "=r"(sp));
#endif
    struct roots roots = {hints, nh, 0, (uintptr_t)&pp_in_hook, sp};
    pp_os_mappings(0, mapping_root, &roots);
    while (nwork && !read_failed) {
        struct pp_block *b = &blk[work[--nwork]];
        scan(b->addr, b->addr + b->size);
    }
    int rc = read_failed ? -1 : 0;
    if (!rc)
        for (size_t i = 0; i < nblk; i++)
            if (!mark[i])
                pp_sites_lost(blk[i].ref, blk[i].size);
    __asm__ volatile("" : : "r"(&regs) : "memory");
    pp_os_unmap(mem, bytes);
    pp_os_unmap(buf, CHUNK);
    pp_os_unmap(vec, CHUNK);
    errno = saved;
    return rc;
}
