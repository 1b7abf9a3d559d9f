/*
 * sites.c - allocation sites: which call stacks hold and allocate memory.
 *
 * PERFPROBE_STACKS chooses the mode.  `all` records the stack of every
 * allocation; `sample` (the default) only of some, chosen by a per-thread
 * Poisson process over the bytes allocated (as jemalloc and heapprofd do):
 * each thread counts down an exponentially distributed number of bytes
 * with mean R = PERFPROBE_SAMPLE_BYTES, and the block during which the
 * count crosses zero is sampled.  A block of s bytes is so sampled with
 * probability p = 1 - exp(-s/R), and a sampled block stands for s/p bytes
 * and 1/p blocks, which makes every figure an unbiased estimate
 * (docs/sites.md).  The hook's cost for an unsampled block is one
 * thread-local subtraction and a branch (pp_site_alloc in core.h).
 *
 * Three tables, all in raw mmap memory, none behind a lock:
 *  - stacks: the stack table, de-duplicated by hash (open addressing over
 *    32-bit references into a bump arena).  A new stack is written in full
 *    and then published with one compare-and-swap; two threads racing on
 *    the same new stack both succeed in finding one entry.  Each stack is a
 *    site and carries its own counters (atomic adds).  When the arena
 *    (PERFPROBE_STACK_TABLE) is full, further stacks count under one
 *    "(overflow)" site.
 *  - blocks: the live tracked blocks, address -> stack, so that a free is
 *    matched to its site (open addressing, tombstones reused).  In `sample`
 *    mode a 16-bit counting filter over the address hash answers "not
 *    tracked" for nearly every free without touching the table.
 *  - the peak copy: each site's live figures at the highest tracked live
 *    total, taken again whenever the total passes the last copy by more
 *    than 1/64 of it (so within 1.6% of the true peak).
 *
 * Records (stack, module, sites) are written at probes and at exit by
 * pp_sites_probe and pp_sites_exit(_view), and by the sampler thread as the peak
 * climbs (pp_sites_view, called by peakview.c), outside any hook.  Each sites record is
 * bounded: the top PERFPROBE_TOP sites by live bytes and by allocated
 * bytes, and one "rest" row for all the others.
 */
#define _GNU_SOURCE
#include "core/sites.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <string.h>

#ifndef MAP_STACK
#define MAP_STACK 0     /* macOS has no such flag: its thread stacks are not mmap'd here */
#endif

#define BLOCK_FP 256                   /* blocks are counted in 1/256ths */
#define TOMB     ((uintptr_t)1)
#define PROBE_LIMIT 4096

struct stack {
    uint64_t hash;
    _Atomic int64_t live_bytes, live_blocks, alloc_bytes, alloc_blocks;
    _Atomic int64_t samples, live_samples;
    int64_t peak_bytes, peak_blocks, peak_samples;
    int64_t prev_bytes, prev_blocks;    /* allocated, at the previous probe */
    int64_t nonres_bytes;               /* not resident, at the last scan */
    int64_t lost_bytes, lost_blocks;    /* at exit, unreachable (leaks.c) */
    uint32_t id, nframes;
    _Atomic uint32_t size;             /* of this entry in the arena: set first */
    _Atomic int ready, written;
    int      selected;
    uintptr_t frames[];
};

int pp_sites_mode;
_Atomic uint64_t pp_site_tracked;
#if defined(__APPLE__)
/* the hooks reach these: no TLV there (sys/macos/tls.h: PP_THREAD_BLOCK) */
struct sites_tls { int thread_ready, mapping_now; uint64_t rng; int64_t est_mine; };
PP_THREAD_BLOCK(struct sites_tls, sites_tls)
#define thread_ready (sites_tls_at()->thread_ready)
#define mapping_now  (sites_tls_at()->mapping_now)
#define rng          (sites_tls_at()->rng)
#define est_mine     (sites_tls_at()->est_mine)
#else
static __thread int thread_ready PP_TLS;
static __thread int mapping_now PP_TLS;     /* pp_site_map is sampling */
static __thread uint64_t rng PP_TLS;
#endif
static _Atomic uint64_t thread_seq;

static double mean_bytes;
static int unwind_depth;

/* the stack table */
static _Atomic uint32_t *index_slots;
static size_t index_mask;
static char *arena;
static size_t arena_size;
static _Atomic size_t arena_used;
static _Atomic uint32_t next_id = 1;
static struct stack *overflow_site;    /* the first entry of the arena */
static _Atomic int table_full, blocks_full;

/* the live blocks */
struct slot { _Atomic uintptr_t key; uint32_t ref; uint32_t size8; };  /* one access */
static struct slot *live_table;
static size_t keys_mask;
_Atomic uint16_t *pp_site_filter;    /* sample mode: tracked blocks by address hash */
static _Atomic int64_t large_tracked;  /* tracked blocks past a page: the resident scan */

/* the peak copy.  est_live, the tracked bytes, is what decides when to
 * copy; each thread adds its changes to it in steps of EST_STEP at least
 * (with `all`, a locked add per small block on a line every thread shares
 * cost more than the rest of the bookkeeping), so the copy can come up to
 * EST_STEP per thread late.  A sampled block weighs R or more: with
 * `sample` every change is added at once. */
#define EST_STEP (16 * 1024)
static _Atomic int64_t est_live, est_peak;
#if !defined(__APPLE__)
static __thread int64_t est_mine PP_TLS;
#endif
static atomic_flag snap_busy = ATOMIC_FLAG_INIT;
static uint64_t peak_t_ns;
static _Atomic int peak_dirty;

/* writing */
static pp_lock_t write_lock = PP_LOCK_INIT;
static int exiting, leaks_done;
static char *out_mem;
#define OUT_SIZE (4u << 20)
struct hent { int64_t v; size_t i; };
static struct hent *top_heap;          /* PERFPROBE_TOP entries */
static struct stack **scratch;
static size_t scratch_cap;
static int warned_full;

#define LOAD(x)     atomic_load_explicit(&(x), memory_order_relaxed)
#define ADD(x, v)   atomic_fetch_add_explicit(&(x), (v), memory_order_relaxed)

/* ---- random numbers ------------------------------------------------------- */

static uint64_t splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static double uniform(void)                 /* in (0, 1] */
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    uint64_t r = rng * 0x2545f4914f6cdd1dull;
    return ((double)(r >> 11) + 1.0) / 9007199254740992.0;
}

/* The two functions of libm the sampling needs, here so that the shim
 * does not bring libm into a program that does not load it (the loader's
 * list, /proc/self/maps, its constructors).  Within a few parts in 10^14. */
#define LN2 0.69314718055994530942

static double bits_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static double ln_of(double x)                  /* x > 0 and finite */
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    int e = (int)((b >> 52) & 0x7ff) - 1023;
    if (e == -1023)                            /* subnormal: scaled up by 2^54 */
        return ln_of(x * 18014398509481984.0) - 54 * LN2;
    double m = bits_double((b & 0x000fffffffffffffull) | 0x3ff0000000000000ull);   /* [1, 2) */
    if (m > 1.41421356237309504880) {
        m *= 0.5;
        e++;
    }
    double s = (m - 1) / (m + 1), z = s * s, sum = 0;
    for (int k = 17; k >= 3; k -= 2)           /* 1/3 z + 1/5 z^2 + ... + 1/17 z^8 */
        sum = z * (1.0 / k + sum);
    return e * LN2 + 2 * s * (1 + sum);
}

static double expm1_of(double x)               /* x <= 0 */
{
    if (x > -1e-3)                             /* no cancellation: the series */
        return x * (1 + x / 2 * (1 + x / 3 * (1 + x / 4 * (1 + x / 5))));
    if (x < -745)
        return -1;
    double kf = x / LN2 - 0.5;
    int k = (int)kf;                           /* toward 0: kf rounded */
    double r = x - k * LN2, t = 1;             /* |r| <= ln 2 / 2 (and a bit) */
    for (int i = 14; i >= 1; i--)
        t = 1 + r / i * t;
    double scale = k >= -1022 ? bits_double((uint64_t)(k + 1023) << 52) : 0;
    return t * scale - 1;
}

static int64_t next_gap(void)
{
    double g = -ln_of(uniform()) * mean_bytes;
    return g > 4e18 ? (int64_t)4e18 : (int64_t)g + 1;
}

/* the first allocation of a thread: seed its generator.  With
 * PERFPROBE_SEED the n-th thread to allocate always gets the same seed. */
static void thread_start(void)
{
    uint64_t n = ADD(thread_seq, 1);
    uint64_t seed = pp_opt.seed ? pp_opt.seed : pp_now_ns() ^ ((uint64_t)pp_tid() << 32);
    rng = splitmix(seed ^ splitmix(n)) | 1;
    thread_ready = 1;
}

/* ---- the stack table ------------------------------------------------------ */

static uint64_t hash_frames(const uintptr_t *f, int n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)n;
    for (int i = 0; i < n; i++)
        h = splitmix(h ^ f[i]);
    return h;
}

static inline struct stack *at(uint32_t ref)
{
    return (struct stack *)(arena + (size_t)ref * 8);
}

/* The rare calls of the hook's path, each in a frame of its own: pp_site_sampled
 * is flattened, and what it inlines shares its one frame, which runs on the
 * program's thread, deep in the loader on a stack that may be 16 KiB; the
 * walk's buffers, the module reads and the warnings' signal masks inlined
 * made that frame 3.5 KiB, and the unwinder's own frames below it then
 * reached the guard page (t0725, one run in about eight) */
static __attribute__((noinline, cold)) void modules_look(void)
{
    pp_modules_refresh();
    pp_py_look();
}

static __attribute__((noinline, cold)) void py_after_dlopen(void)
{
    pp_py_after_dlopen();
}

static __attribute__((noinline)) int py_merge(uintptr_t *frames, int n, int max)
{
    return pp_py_merge(frames, n, max);
}

static struct stack *intern(const uintptr_t *f, int n)
{
    uint64_t h = hash_frames(f, n);
    size_t i = h & index_mask;
    uint32_t mine = 0;
    for (size_t step = 0; step <= index_mask; step++, i = (i + 1) & index_mask) {
        uint32_t ref = atomic_load_explicit(&index_slots[i], memory_order_acquire);
        if (ref) {
            struct stack *s = at(ref);
            if (s->hash == h && s->nframes == (uint32_t)n &&
                !memcmp(s->frames, f, (size_t)n * sizeof *f))
                return s;
            continue;
        }
        if (!mine) {
            size_t size = (sizeof(struct stack) + (size_t)n * sizeof *f + 7) & ~(size_t)7;
            size_t off = ADD(arena_used, size);
            if (off + size > arena_size || off / 8 > UINT32_MAX) {
                atomic_store(&table_full, 1);
                return overflow_site;
            }
            struct stack *s = (struct stack *)(arena + off);
            /* the size first, so that a reader can step over an entry left
             * half-made (by a thread that a fork did not copy) */
            atomic_store_explicit(&s->size, (uint32_t)size, memory_order_release);
            s->hash = h;
            s->nframes = (uint32_t)n;
            memcpy(s->frames, f, (size_t)n * sizeof *f);
            s->id = ADD(next_id, 1);
            /* a frame in no known module: a module loaded since the last
             * look, whose path and build id must be taken while it is here */
            for (int k = 0; k < n; k++)
                if (!PP_IS_PY_MARK(f[k]) && pp_modules_find(f[k]) < 0) {
                    modules_look();     /* before the next stack's frames */
                    break;
                }
            mine = (uint32_t)(off / 8);
            atomic_store_explicit(&s->ready, 1, memory_order_release);
        }
        uint32_t zero = 0;
        if (atomic_compare_exchange_strong(&index_slots[i], &zero, mine))
            return at(mine);
        /* someone took the slot: look at what they put there */
        i = (i - 1) & index_mask;
    }
    /* an entry was made but no slot found (cannot happen below a full
     * index): it still counts, unindexed */
    return mine ? at(mine) : overflow_site;
}

/* ---- the live blocks ------------------------------------------------------ */

/* Blocks near each other in memory go to slots near each other (the
 * address itself, in 16-byte units, folded once): the table is touched
 * where the heap is, not all over, which keeps it in the caches and its
 * pages untouched where the heap is not.  glibc's blocks are 32 bytes
 * apart at least, so with glibc one slot per 32 bytes is as good and
 * touches half as much of the table (with `all`, each newly touched page
 * of it is a page fault). */
static int slot_shift = 4;

static inline size_t slot_index(uintptr_t p)
{
    return (size_t)((p >> slot_shift) ^ (p >> 30)) & keys_mask;
}

static int track(uintptr_t p, uint32_t ref, size_t usable)
{
    size_t i = slot_index(p);
    for (int step = 0; step < PROBE_LIMIT; step++, i = (i + 1) & keys_mask) {
        uintptr_t k = LOAD(live_table[i].key);
        if (k != 0 && k != TOMB)
            continue;
        if (!atomic_compare_exchange_strong(&live_table[i].key, &k, p)) {
            i = (i - 1) & keys_mask;
            continue;
        }
        live_table[i].ref = ref;
        /* for the resident scan and the leak check: the size in 8-byte
         * units (up to 32 GiB) */
        live_table[i].size8 = usable >> 3 > UINT32_MAX ? UINT32_MAX : (uint32_t)(usable >> 3);
        if (usable > 4096)
            ADD(large_tracked, 1);
        if (pp_site_filter) {
            ADD(pp_site_filter[pp_site_filter_index(p)], 1);
            ADD(pp_site_tracked, 1);
        }
        return 1;
    }
    atomic_store(&blocks_full, 1);
    return 0;
}

/* the stack a tracked block came from, and forget the block; 0 if none */
static uint32_t untrack(uintptr_t p)
{
    size_t i = slot_index(p);
    for (int step = 0; step < PROBE_LIMIT; step++, i = (i + 1) & keys_mask) {
        uintptr_t k = LOAD(live_table[i].key);
        if (k == 0)
            return 0;
        if (k != p)
            continue;
        uint32_t ref = live_table[i].ref, size8 = live_table[i].size8;
        if (!atomic_compare_exchange_strong(&live_table[i].key, &k, TOMB))
            return 0;
        if (size8 > 4096 / 8)
            ADD(large_tracked, -1);
        if (pp_site_filter) {
            ADD(pp_site_filter[pp_site_filter_index(p)], -1);
            ADD(pp_site_tracked, -1);
        }
        return ref;
    }
    return 0;
}

/* ---- the hooks' slow paths ------------------------------------------------ */

/* The next stack record in the arena that is ready, from *OFF (arena
 * offsets below USED); NULL at the end. */
static struct stack *next_stack(size_t *off, size_t used)
{
    while (*off < used && *off + sizeof(struct stack) <= arena_size) {
        struct stack *s = (struct stack *)(arena + *off);
        uint32_t sz = atomic_load_explicit(&s->size, memory_order_acquire);
        if (!sz)
            return NULL;
        *off += sz;
        if (atomic_load_explicit(&s->ready, memory_order_acquire))
            return s;
    }
    return NULL;
}

/* what a sampled block of s bytes stands for */
static void weigh(size_t s, int64_t *bytes, int64_t *blocks)
{
    if (pp_sites_mode == PP_STACKS_ALL) {
        *bytes = (int64_t)s;
        *blocks = BLOCK_FP;
        return;
    }
    double p = -expm1_of(-(double)s / mean_bytes);
    *bytes = (int64_t)((double)s / p + 0.5);
    *blocks = (int64_t)(BLOCK_FP / p + 0.5);
}

static void snapshot_peak(int64_t v)
{
    if (atomic_flag_test_and_set_explicit(&snap_busy, memory_order_acquire))
        return;
    if (v > LOAD(est_peak)) {
        size_t off = 8, used = atomic_load(&arena_used);
        struct stack *s;
        while ((s = next_stack(&off, used)) != NULL) {
            s->peak_bytes = LOAD(s->live_bytes);
            s->peak_blocks = LOAD(s->live_blocks);
            s->peak_samples = LOAD(s->live_samples);
        }
        atomic_store(&est_peak, v);
        peak_t_ns = pp_now_ns() - pp_state.start_ns;
        atomic_store(&peak_dirty, 1);
    }
    atomic_flag_clear_explicit(&snap_busy, memory_order_release);
}

/* A new countdown for this thread; what the old one counted down is kept
 * in bytes_base, so that the bytes a thread allocated stay known (regions
 * read them: pp_counters_self_bytes). */
static inline void set_countdown(int64_t v)
{
    pp_hot.bytes_base += (uint64_t)(pp_hot.cd_start - pp_site_countdown);
    pp_site_countdown = v;
    pp_hot.cd_start = v;
}

static void sampled(void *p, size_t usable)
{
    if (PP_UNLIKELY(!thread_ready)) {
        thread_start();
        if (pp_sites_mode == PP_STACKS_OFF) {
            set_countdown(INT64_MAX / 2);
            return;
        }
        set_countdown(pp_sites_mode == PP_STACKS_SAMPLE ? next_gap() - (int64_t)usable : -1);
        if (pp_site_countdown >= 0)
            return;
    }
    if (pp_sites_mode == PP_STACKS_OFF) {
        set_countdown(INT64_MAX / 2);
        return;
    }
    set_countdown(pp_sites_mode == PP_STACKS_SAMPLE ? next_gap() : 0);
    if (PP_UNLIKELY(pp_modules_wanted()))
        modules_look();                 /* one the sampler left (modules.c),
                                         * a libpython among them */
    if (PP_UNLIKELY(!pp_py_on))
        py_after_dlopen();              /* a libpython loaded since: read now */
    if (!p)
        return;
    /* as many frames as are kept (PERFPROBE_STACK_DEPTH, at most
     * PP_STACK_MAX), with room for the Python frames: the hook's frame on
     * a thread of the program's, whose stack may be the smallest glibc
     * allows (16 KiB), deep in the loader */
    int room = pp_py_on ? PP_STACK_MAX : unwind_depth + 1;
    uintptr_t frames[room];
    int n = pp_unwind(frames, unwind_depth);
    if (pp_py_on) {
        n = py_merge(frames, n, PP_STACK_MAX - 1);
        if (mapping_now) {              /* an anonymous mapping: say so first */
            memmove(frames + 1, frames, (size_t)n * sizeof *frames);
            frames[0] = PP_MAP_MARK;
            n++;
        }
    }
    struct stack *s = intern(frames, n);
    int64_t bytes, blocks;
    weigh(usable, &bytes, &blocks);
    /* With `all` a sample is a block: the sample counts are the block
     * counts, not kept twice (each of these is a locked add on a line that
     * every thread allocating from the site shares) */
    int sampling = pp_sites_mode == PP_STACKS_SAMPLE;
    ADD(s->alloc_bytes, bytes);
    ADD(s->alloc_blocks, blocks);
    if (sampling)
        ADD(s->samples, 1);
    if (!track((uintptr_t)p, (uint32_t)(((char *)s - arena) / 8), usable))
        return;                 /* counted as allocated, not followed to its free */
    ADD(s->live_bytes, bytes);
    ADD(s->live_blocks, blocks);
    if (sampling)
        ADD(s->live_samples, 1);
    est_mine += bytes;
    if (est_mine < EST_STEP)
        return;
    int64_t d = est_mine;
    est_mine = 0;
    int64_t v = ADD(est_live, d) + d, peak = LOAD(est_peak);
    if (v > peak + (peak >> 6) + 4096)
        snapshot_peak(v);
}

/* Flattened (the walk, the table and the weights inlined), so that the
 * unwinder has one frame of the shim's to walk past instead of four: it
 * costs over a thousand instructions a frame.  A hook's fast path reaches
 * it by a tail call with the hook flag down; it raises the flag itself. */
__attribute__((flatten)) void *pp_site_sampled(void *p, size_t usable)
{
    int saved = pp_in_hook;
    pp_in_hook = 1;
    sampled(p, usable);
    pp_in_hook = saved;
    return p;
}

/* Mappings as sites, only where pymalloc makes them (pyframes.c finds
 * CPython): its arenas (256 KiB, 1 MiB from 3.10) and, from 3.11, the
 * chunks of its frame stacks are anonymous private mappings made outside
 * malloc.  Thread stacks (MAP_STACK) and fixed mappings are not. */
void pp_site_map(void *p, size_t len, int flags)
{
    if (!pp_py_on || (flags & (MAP_ANONYMOUS | MAP_PRIVATE | MAP_FIXED | MAP_STACK)) !=
                         (MAP_ANONYMOUS | MAP_PRIVATE))
        return;
    if ((pp_site_countdown -= (int64_t)len) >= 0)
        return;
    mapping_now = 1;
    pp_site_sampled(p, len);
    mapping_now = 0;
}

void pp_site_unmap(void *p, size_t len)
{
    if (pp_py_on)
        pp_site_free(p, len);
}

/* the hooks' counting of a block, out of line (core.h; cxx.c) */
void pp_track_alloc(void *p, size_t usable)
{
    pp_track_alloc_fast(p, usable);
}

void pp_track_free(void *p, size_t usable)
{
    pp_track_free_fast(p, usable);
}

void pp_track_realloc(void *q, size_t old_usable, size_t new_usable)
{
    pp_track_realloc_fast(q, old_usable, new_usable);
}

void pp_site_untrack(void *p, size_t usable)
{
    if (!p || !live_table)
        return;
    if (pp_site_filter && !LOAD(pp_site_filter[pp_site_filter_index((uintptr_t)p)]))
        return;
    uint32_t ref = untrack((uintptr_t)p);
    if (!ref)
        return;
    struct stack *s = at(ref);
    int64_t bytes, blocks;
    weigh(usable, &bytes, &blocks);
    ADD(s->live_bytes, -bytes);
    ADD(s->live_blocks, -blocks);
    if (pp_sites_mode == PP_STACKS_SAMPLE)
        ADD(s->live_samples, -1);
    est_mine -= bytes;
    if (est_mine <= -EST_STEP) {
        ADD(est_live, est_mine);
        est_mine = 0;
    }
}

/* ---- start-up ------------------------------------------------------------- */

static size_t pow2_floor(size_t v)
{
    size_t p = 1;
    while (p * 2 <= v)
        p *= 2;
    return p;
}

void pp_sites_init(void)
{
    const char *m = pp_opt.stacks;
    pp_sites_mode = PP_STACKS_SAMPLE;
    /* options.c keeps off, sample or all (and warns about anything else) */
    if (!strcmp(m, "off"))
        pp_sites_mode = PP_STACKS_OFF;
    else if (!strcmp(m, "all"))
        pp_sites_mode = PP_STACKS_ALL;
    if (pp_sites_mode == PP_STACKS_OFF)
        return;
    mean_bytes = (double)(pp_opt.sample_bytes ? pp_opt.sample_bytes : 1);
    unwind_depth = (int)pp_opt.stack_depth;
    if (unwind_depth > PP_STACK_MAX)
        unwind_depth = PP_STACK_MAX;

    /* a quarter of the budget indexes the arena; at least 4096 slots */
    size_t budget = pp_opt.stack_table;
    size_t slots = pow2_floor(budget / 4 / sizeof(uint32_t));
    if (slots < 4096)
        slots = 4096;
    size_t nkeys = pp_sites_mode == PP_STACKS_ALL ? (size_t)1 << 24 : (size_t)1 << 16;
    index_slots = pp_os_map(slots * sizeof(uint32_t));
    arena_size = budget > slots * sizeof(uint32_t) ? budget - slots * sizeof(uint32_t) : 1 << 20;
    arena = pp_os_map(arena_size);
    live_table = pp_os_map(nkeys * sizeof *live_table);
    slot_shift = strcmp(pp_usable_method(), "chunk-header") == 0 ? 5 : 4;
    if (pp_sites_mode == PP_STACKS_SAMPLE)
        pp_site_filter = pp_os_map(sizeof(uint16_t) << PP_SITE_FILTER_BITS);
    else                                  /* all: every free looks its block up */
        atomic_store(&pp_site_tracked, 1);
    out_mem = pp_os_map(OUT_SIZE);
    scratch_cap = arena_size / sizeof(struct stack) + 1;
    scratch = pp_os_map(scratch_cap * sizeof *scratch);
    top_heap = pp_os_map((size_t)pp_opt.top * sizeof *top_heap);
    if (!index_slots || !arena || !live_table || !out_mem || !scratch || !top_heap ||
        (pp_sites_mode == PP_STACKS_SAMPLE && !pp_site_filter)) {
        pp_warn("cannot map the stack tables; allocation sites are off", "", "", "");
        pp_sites_mode = PP_STACKS_OFF;
        live_table = NULL;
        return;
    }
    index_mask = slots - 1;
    keys_mask = nkeys - 1;
    /* reference 0 means none; the first entry is the overflow site */
    overflow_site = (struct stack *)(arena + 8);
    overflow_site->size = (uint32_t)sizeof(struct stack);
    atomic_store(&arena_used, 8 + sizeof(struct stack));
    atomic_store(&overflow_site->ready, 1);
    /* this thread may have allocated before the settings were read (a
     * library's constructor that runs before the shim's, as libstdc++'s
     * emergency pool does): start it afresh at its next allocation */
    thread_ready = 0;
    set_countdown(0);
    atomic_store(&thread_seq, 0);
    pp_modules_init();
    pp_unwind_init();
    pp_py_for_sites = 1;                  /* allocation stacks are on */
    pp_py_init();
}

/* ---- writing -------------------------------------------------------------- */

static void key_i(struct pp_buf *b, const char *k, int64_t v)
{
    pp_buf_key(b, k);
    pp_buf_i64(b, v);
}

static void write_stack(struct pp_buf *b, struct stack *s)
{
    if (atomic_exchange(&s->written, 1))
        return;
    b->len = 0;
    pp_buf_str(b, "{\"type\":\"stack\",\"t_s\":");
    pp_buf_fixed(b, (int64_t)(pp_now_ns() - pp_state.start_ns), 9, 6);
    pp_buf_key(b, "id");
    pp_buf_u64(b, s->id);
    pp_buf_key(b, "frames");
    pp_buf_raw(b, "[", 1);
    for (uint32_t i = 0; i < s->nframes; i++) {
        if (i)
            pp_buf_raw(b, ",", 1);
        if (PP_IS_PY_MARK(s->frames[i]))
            pp_buf_i64(b, (int64_t)s->frames[i]);
        else
            pp_buf_u64(b, s->frames[i]);
    }
    pp_buf_str(b, "]");
    /* the native walk was cut (Python frames do not count) */
    uint32_t native = 0;
    for (uint32_t i = 0; i < s->nframes; i++)
        native += !PP_IS_PY_MARK(s->frames[i]);
    if ((int)native >= unwind_depth)
        pp_buf_str(b, ",\"truncated\":true");
    pp_buf_str(b, "}");
    pp_timeline_record(b);
}

enum { AT_PROBE, AT_PEAK, AT_EXIT, AT_DUMP };

struct fig { int64_t live_bytes, live_blocks, alloc_bytes, alloc_blocks, new_bytes, new_blocks,
             samples, live_samples, resident, lost_bytes, lost_blocks; };
/* resident: -1 when not scanned; lost_*: at exit after the leak check */

static void figures(struct stack *s, int when, struct fig *f)
{
    memset(f, 0, sizeof *f);
    if (when == AT_PEAK) {
        f->live_bytes = s->peak_bytes;
        f->live_blocks = s->peak_blocks;
        f->live_samples = pp_sites_mode == PP_STACKS_ALL ? s->peak_blocks / BLOCK_FP
                                                         : s->peak_samples;
        return;
    }
    f->live_bytes = LOAD(s->live_bytes);
    f->live_blocks = LOAD(s->live_blocks);
    f->alloc_bytes = LOAD(s->alloc_bytes);
    f->alloc_blocks = LOAD(s->alloc_blocks);
    f->new_bytes = f->alloc_bytes - s->prev_bytes;
    f->new_blocks = f->alloc_blocks - s->prev_blocks;
    int all = pp_sites_mode == PP_STACKS_ALL;
    f->samples = all ? f->alloc_blocks / BLOCK_FP : LOAD(s->samples);
    f->live_samples = all ? f->live_blocks / BLOCK_FP : LOAD(s->live_samples);
}

static void add_fig(struct fig *a, const struct fig *b)
{
    a->live_bytes += b->live_bytes;
    a->live_blocks += b->live_blocks;
    a->alloc_bytes += b->alloc_bytes;
    a->alloc_blocks += b->alloc_blocks;
    a->new_bytes += b->new_bytes;
    a->new_blocks += b->new_blocks;
    a->samples += b->samples;
    a->live_samples += b->live_samples;
    if (b->resident >= 0)
        a->resident += b->resident;
    a->lost_bytes += b->lost_bytes;
    a->lost_blocks += b->lost_blocks;
}

static void fig_json(struct pp_buf *b, const struct fig *f, int when)
{
    key_i(b, "live_bytes", f->live_bytes);
    key_i(b, "live_blocks", (f->live_blocks + BLOCK_FP / 2) / BLOCK_FP);
    key_i(b, "live_samples", f->live_samples);
    if (f->resident >= 0)
        key_i(b, "resident_bytes", f->resident);
    if (when == AT_PEAK)
        return;
    key_i(b, "alloc_bytes", f->alloc_bytes);
    key_i(b, "allocs", (f->alloc_blocks + BLOCK_FP / 2) / BLOCK_FP);
    key_i(b, "new_bytes", f->new_bytes);
    key_i(b, "new_allocs", (f->new_blocks + BLOCK_FP / 2) / BLOCK_FP);
    key_i(b, "samples", f->samples);
    if (when == AT_EXIT && leaks_done) {
        key_i(b, "lost_bytes", f->lost_bytes);
        key_i(b, "lost_blocks", f->lost_blocks);
    }
}

/* Mark the top n of scratch[0..count) by key that are not marked yet:
 * one pass with a min-heap of n entries, O(count log n). */
static void sift_down(struct hent *h, size_t n, size_t k)
{
    for (;;) {
        size_t l = 2 * k + 1, m = k;
        if (l < n && h[l].v < h[m].v)
            m = l;
        if (l + 1 < n && h[l + 1].v < h[m].v)
            m = l + 1;
        if (m == k)
            return;
        struct hent t = h[k];
        h[k] = h[m];
        h[m] = t;
        k = m;
    }
}

static void select_top(size_t count, size_t n, int when, int by_alloc)
{
    struct hent *h = top_heap;
    size_t len = 0;
    if (!h || !n)
        return;
    for (size_t i = 0; i < count; i++) {
        struct stack *s = scratch[i];
        if (s->selected)
            continue;
        int64_t v = when == AT_PEAK ? s->peak_bytes
                    : by_alloc ? LOAD(s->alloc_bytes) : LOAD(s->live_bytes);
        if (v <= 0)
            continue;
        if (len < n) {
            h[len++] = (struct hent){v, i};
            for (size_t k = len - 1; k > 0 && h[(k - 1) / 2].v > h[k].v; k = (k - 1) / 2) {
                struct hent t = h[k];
                h[k] = h[(k - 1) / 2];
                h[(k - 1) / 2] = t;
            }
        } else if (v > h[0].v) {
            h[0] = (struct hent){v, i};
            sift_down(h, len, 0);
        }
    }
    for (size_t k = 0; k < len; k++)
        scratch[h[k].i]->selected = 1;
}

/* ---- resident bytes ------------------------------------------------------ */

/* How much of each site's live memory is resident.  Each tracked block
 * past one page is asked of mincore (its whole pages; a block freed and
 * unmapped meanwhile counts as not resident); a block of a page or less counts as resident (it shares
 * touched heap pages).  A block stands for its weight (weigh), so a site's
 * resident estimate is its live bytes less, over its sampled large blocks,
 * weight x the fraction not resident: unbiased, with the error bar of its
 * live bytes.  Outside hooks only: when a sites record is written.  With
 * `all` the table has 16M slots: the peak views the sampler writes while
 * the program runs skip the scan (and carry no resident figures). */
/* Which pages of the table of tracked blocks were ever touched: the scans
 * below step over the others (with `all` the table is 256 MiB of address
 * space, mostly never touched).  A page swapped out is stepped over too. */
#define SLOTS_PER_PAGE (4096 / sizeof(struct slot))
static unsigned char *table_vec;

static void table_pages(void)
{
    size_t bytes = (keys_mask + 1) * sizeof *live_table, pages = (bytes + 4095) / 4096;
    int saved = errno;
    if (!table_vec)
        table_vec = pp_os_map(pages);
    if (table_vec && mincore(live_table, bytes, (void *)table_vec) != 0)
        memset(table_vec, 1, pages);    /* cannot tell: look at every page */
    errno = saved;
}

/* slot i starts a page never touched: the first slot of the next page */
static inline int untouched(size_t *i)
{
    if (!table_vec || *i % SLOTS_PER_PAGE || (table_vec[*i / SLOTS_PER_PAGE] & 1))
        return 0;
    *i += SLOTS_PER_PAGE - 1;           /* the loop adds the last one */
    return 1;
}

static double nonresident_fraction(uintptr_t p, size_t size)
{
    uintptr_t start = (p + 4095) & ~(uintptr_t)4095;
    uintptr_t end = (p + size) & ~(uintptr_t)4095;
    if (end <= start)
        return 0.0;
    /* the partial pages at either end are taken as resident as the rest */
    return 1.0 - (double)pp_os_resident(start, end - start) / (double)(end - start);
}

static int resident_scan(size_t count)
{
    static int at_exit;
    if (!live_table)
        return 0;
    if (exiting && at_exit++)           /* the peak and exit records share one */
        return 1;
    if (!LOAD(large_tracked)) {         /* every block resident: no scan */
        for (size_t i = 0; i < count; i++)
            scratch[i]->nonres_bytes = 0;
        return 1;
    }
    for (size_t i = 0; i < count; i++)
        scratch[i]->nonres_bytes = 0;
    size_t used = atomic_load(&arena_used);
    table_pages();
    for (size_t i = 0; i <= keys_mask; i++) {
        if (untouched(&i))
            continue;
        uintptr_t k = LOAD(live_table[i].key);
        if (k == 0 || k == TOMB || live_table[i].size8 <= 4096 / 8)
            continue;
        uint32_t ref = live_table[i].ref;
        size_t size = (size_t)live_table[i].size8 << 3;
        if (!ref || (size_t)ref * 8 >= used)
            continue;
        int64_t bytes, blocks;
        weigh(size, &bytes, &blocks);
        at(ref)->nonres_bytes += (int64_t)((double)bytes * nonresident_fraction(k, size) + 0.5);
    }
    return 1;
}

/* ---- the leak check (leaks.c) -------------------------------------------- */



size_t pp_sites_block_count(void)
{
    size_t n = 0;
    if (live_table)
        table_pages();
    for (size_t i = 0; live_table && i <= keys_mask; i++) {
        if (untouched(&i))
            continue;
        uintptr_t k = LOAD(live_table[i].key);
        n += k != 0 && k != TOMB;
    }
    return n;
}

size_t pp_sites_blocks(struct pp_block *out, size_t cap)
{
    size_t n = 0, used = atomic_load(&arena_used);
    for (size_t i = 0; live_table && i <= keys_mask && n < cap; i++) {
        if (untouched(&i))
            continue;
        uintptr_t k = LOAD(live_table[i].key);
        uint32_t ref = live_table[i].ref;
        if (k == 0 || k == TOMB || !ref || (size_t)ref * 8 >= used)
            continue;
        out[n++] = (struct pp_block){k, (size_t)live_table[i].size8 << 3, ref, 0};
    }
    return n;
}

void pp_sites_lost(uint32_t ref, size_t size)
{
    struct stack *s = at(ref);
    s->lost_bytes += (int64_t)size;
    s->lost_blocks += 1;
}

/* a site's resident bytes for a record: now, or (at the peak) its live
 * bytes at the peak times its resident share now */
static int64_t resident_of(struct stack *s, int when, int64_t live_bytes)
{
    int64_t now = LOAD(s->live_bytes), res = now - s->nonres_bytes;
    if (res < 0)
        res = 0;
    if (when != AT_PEAK)
        return res;
    return now > 0 ? (int64_t)((double)live_bytes * (double)res / (double)now + 0.5) : live_bytes;
}

/* A "module" record for each module not written yet in this process image,
 * so that the stacks written next can be symbolised after the process is
 * gone. */
void pp_sites_write_modules(struct pp_buf *b)
{
    static const char hex[] = "0123456789abcdef";
    struct pp_module_info m;
    size_t n = pp_modules_count();
    for (size_t i = 0; i < n; i++) {
        if (!pp_modules_claim(i, &m))
            continue;
        b->len = 0;
        pp_buf_str(b, "{\"type\":\"module\",\"t_s\":");
        pp_buf_fixed(b, (int64_t)(pp_now_ns() - pp_state.start_ns), 9, 6);
        pp_buf_key(b, "id");
        pp_buf_u64(b, i);
        pp_buf_key(b, "path");
        pp_buf_json_str(b, m.path, m.path_len);
        pp_buf_key(b, "build_id");
        pp_buf_raw(b, "\"", 1);
        for (int k = 0; k < m.build_id_len; k++) {
            pp_buf_raw(b, &hex[m.build_id[k] >> 4], 1);
            pp_buf_raw(b, &hex[m.build_id[k] & 15], 1);
        }
        pp_buf_raw(b, "\"", 1);
        pp_buf_key(b, "base");
        pp_buf_u64(b, m.base);
        pp_buf_key(b, "ranges");
        pp_buf_raw(b, "[", 1);
        for (int k = 0; k < m.nranges; k++) {
            pp_buf_str(b, k ? ",[" : "[");
            pp_buf_u64(b, m.range[k][0]);
            pp_buf_raw(b, ",", 1);
            pp_buf_u64(b, m.range[k][1]);
            pp_buf_raw(b, "]", 1);
        }
        pp_buf_str(b, "]}");
        pp_timeline_record(b);
    }
}


/* the cgroup's {usage, limit} for the dump record being written (set by
 * the sampler thread around its write_sites: only AT_DUMP reads it) */
static const struct pp_dump_cgroup *dump_cgroup;

static void write_sites(int when, const char *label)
{
    if (pp_sites_mode == PP_STACKS_OFF)
        return;
    /* before write_lock, never under it: the refresh waits for the
     * loader's lock, which a thread of the program's may hold while it
     * waits for write_lock (a probe from a dl_iterate_phdr callback or a
     * constructor).  On the sampler thread it may not take it at all
     * (sys/linux/modules.c). */
    pp_modules_refresh();
    pp_py_look();
    pp_lock(&write_lock);
    struct pp_buf b = {out_mem, 0, OUT_SIZE - 64};
    if (atomic_load(&table_full) && !warned_full) {
        warned_full = 1;
        pp_warn("the stack table (PERFPROBE_STACK_TABLE) is full; new stacks count "
                "under \"(overflow)\"", "", "", "");
    }

    size_t count = 0, off = 8, used = atomic_load(&arena_used);
    struct stack *st;
    while (count < scratch_cap && (st = next_stack(&off, used)) != NULL) {
        st->selected = 0;
        scratch[count++] = st;
    }
    size_t top = pp_opt.top;
    select_top(count, top, when, 0);
    if (when != AT_PEAK)
        select_top(count, top, when, 1);

    pp_sites_write_modules(&b);
    pp_py_write(&b);
    for (size_t i = 0; i < count; i++)
        if (scratch[i]->selected)
            write_stack(&b, scratch[i]);
    int resident = !(when == AT_PEAK && pp_sites_mode == PP_STACKS_ALL && !exiting) &&
                   resident_scan(count);

    b.len = 0;
    pp_buf_str(&b, "{\"type\":\"sites\",\"at\":\"");
    pp_buf_str(&b, when == AT_PROBE ? "probe" : when == AT_PEAK ? "peak"
                   : when == AT_DUMP ? "dump" : "exit");
    pp_buf_str(&b, "\"");
    if (label) {
        pp_buf_key(&b, "label");
        pp_buf_json_str(&b, label, 256);
    }
    uint64_t t = when == AT_PEAK ? peak_t_ns : pp_now_ns() - pp_state.start_ns;
    pp_buf_key(&b, "t_s");
    pp_buf_fixed(&b, (int64_t)t, 9, 6);
    if (when == AT_DUMP && dump_cgroup) {
        pp_buf_key(&b, "cgroup_bytes");
        pp_buf_u64(&b, dump_cgroup->usage);
        pp_buf_key(&b, "cgroup_limit");
        pp_buf_u64(&b, dump_cgroup->limit);
        if (dump_cgroup->counter) {
            pp_buf_key(&b, "cgroup_counter");
            pp_buf_json_str(&b, dump_cgroup->counter, 64);
            pp_buf_key(&b, "cgroup_count");
            pp_buf_u64(&b, dump_cgroup->count);
            pp_buf_key(&b, "cgroup_count_was");
            pp_buf_u64(&b, dump_cgroup->was);
        }
    }
    pp_buf_key(&b, "mode");
    pp_buf_str(&b, pp_sites_mode == PP_STACKS_ALL ? "\"all\"" : "\"sample\"");
    if (pp_sites_mode == PP_STACKS_SAMPLE) {
        pp_buf_key(&b, "sample_bytes");
        pp_buf_u64(&b, (uint64_t)mean_bytes);
    }
    pp_buf_key(&b, "sites");
    pp_buf_u64(&b, count);
    /* a stack is walked for each sample (each block, with all) */
    int64_t walked = 0;
    for (size_t i = 0; i < count; i++)
        walked += pp_sites_mode == PP_STACKS_ALL ? LOAD(scratch[i]->alloc_blocks) / BLOCK_FP
                                                 : LOAD(scratch[i]->samples);
    pp_buf_key(&b, "walks");
    pp_buf_u64(&b, (uint64_t)walked);
    pp_buf_key(&b, "walks_libgcc");
    pp_buf_u64(&b, pp_unwind_by_libgcc());
    if (atomic_load(&table_full))
        pp_buf_str(&b, ",\"table_full\":true");
    if (atomic_load(&blocks_full))
        pp_buf_str(&b, ",\"blocks_full\":true");
    pp_buf_key(&b, "rows");
    pp_buf_raw(&b, "[", 1);
    struct fig rest, f;
    memset(&rest, 0, sizeof rest);
    rest.resident = resident ? 0 : -1;
    int first = 1, any_rest = 0;
    for (size_t i = 0; i < count; i++) {
        struct stack *s = scratch[i];
        figures(s, when, &f);
        f.resident = resident ? resident_of(s, when, f.live_bytes) : -1;
        f.lost_bytes = s->lost_bytes;
        f.lost_blocks = s->lost_blocks;
        if (when == AT_PROBE) {
            s->prev_bytes = f.alloc_bytes;
            s->prev_blocks = f.alloc_blocks;
        }
        if (!s->selected) {
            if (f.live_bytes || f.alloc_bytes) {
                add_fig(&rest, &f);
                any_rest++;
            }
            continue;
        }
        if (b.len + 512 > b.cap)
            break;
        pp_buf_str(&b, first ? "{\"stack\":" : ",{\"stack\":");
        first = 0;
        pp_buf_u64(&b, s->id);
        fig_json(&b, &f, when);
        pp_buf_raw(&b, "}", 1);
    }
    pp_buf_raw(&b, "]", 1);
    pp_buf_key(&b, "rest");
    pp_buf_raw(&b, "{", 1);
    key_i(&b, "sites", any_rest);
    fig_json(&b, &rest, when);
    pp_buf_str(&b, "}}");
    pp_timeline_record(&b);
    pp_unlock(&write_lock);
}

void pp_sites_probe(const char *label)
{
    write_sites(AT_PROBE, label ? label : "(null)");
    if (atomic_exchange(&peak_dirty, 0))
        write_sites(AT_PEAK, NULL);
}

/* At exit (life.c): the peak view; then, with `all`, the leak check
 * (leaks.c) when pp_sites_leak_check says there is a table to check; then
 * the exit view, with the check's classes when LEAKS_DONE. */
void pp_sites_exit(void)
{
    exiting = 1;
    atomic_store(&peak_dirty, 0);
    write_sites(AT_PEAK, NULL);
}

int pp_sites_leak_check(void)
{
    return pp_sites_mode == PP_STACKS_ALL && live_table;
}

void pp_sites_exit_view(int leaks_classified)
{
    leaks_done = leaks_classified;
    write_sites(AT_EXIT, NULL);
}

/* From the sampler thread (peakview.c): the peak view when the copy moved
 * since the last one was written; with WHY, also the live view now, as a
 * "dump" record labelled WHY, with the cgroup's usage and limit when
 * CGROUP is given.  Returns 1 if a peak view was written. */
int pp_sites_view(const char *why, const struct pp_dump_cgroup *cgroup)
{
    if (pp_sites_mode == PP_STACKS_OFF)
        return 0;
    int peak = atomic_exchange(&peak_dirty, 0);
    if (peak)
        write_sites(AT_PEAK, NULL);
    if (why) {
        dump_cgroup = cgroup;
        write_sites(AT_DUMP, why);
        dump_cgroup = NULL;
    }
    return peak;
}

/* the tracked live total at the last peak copy, and whether that copy is
 * newer than the last peak record */
int64_t pp_sites_peak_bytes(int *pending)
{
    *pending = atomic_load(&peak_dirty);
    return LOAD(est_peak);
}

/* The child of a fork starts its own image in the file: every stack and
 * module is written again, and its generators are new. */
void pp_sites_after_fork_child(void)
{
    pp_lock_reset(&write_lock);
    atomic_flag_clear(&snap_busy);
    size_t used = atomic_load(&arena_used);
    for (size_t off = 8; arena && off < used && off + sizeof(struct stack) <= arena_size;) {
        struct stack *s = (struct stack *)(arena + off);
        uint32_t sz = atomic_load(&s->size);
        if (!sz)
            break;
        off += sz;
        atomic_store(&s->written, 0);
    }
    pp_modules_after_fork_child();
    pp_py_after_fork_child();
    thread_ready = 0;
    peak_t_ns = 0;                     /* the child's peak so far: its start */
    atomic_store(&peak_dirty, 1);
}
