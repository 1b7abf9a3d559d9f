/*
 * region.c - perf_region_begin/end: latency of a repeated operation.
 *
 * A region is identified by its name and the region it is nested in, so
 * "tick/strategy" and a top-level "strategy" are kept apart.  Each thread
 * keeps a stack of open regions and a small direct-mapped cache from
 * (name pointer, parent) to region id: string literals have stable
 * addresses, so after the first call a begin costs a hash, a compare and a
 * timestamp, with no string comparison and no lock.  Before the cache,
 * each stack slot remembers the literal, parent and id it last held: a
 * region begun again at the same depth (a loop) costs two compares.
 *
 * The clock is most of a begin/end pair: two rdtsc, about 10.7 ns each on
 * an AMD EPYC under KVM, which other work overlaps -- except a store whose
 * address depends on an rdtsc's result, which holds the next rdtsc back
 * until that result is there (4-5 ns more per pair).  The bucket a duration
 * goes to is such a store, so a histogram whose durations mostly land in
 * the bucket of the one before ("steady", decided every 256) addresses it
 * through a predicted branch on that bucket instead; one whose durations
 * vary keeps the plain store (a mispredicted branch would cost more).
 *
 * Durations go into a per-thread, per-region log-linear histogram, written
 * only by its owner (no atomics on the hot path): values below 128 ticks
 * have a bucket each; above, every power of two is split into 64 buckets,
 * so reporting a bucket's midpoint is within 1/128 (0.8%) of any value in
 * it.  Memory is fixed (23 KiB a histogram) however many times a region
 * runs.  At exit the histograms are merged over threads for the summary.
 *
 * Names are compared by content: the cache is keyed by the name's address,
 * and a hit is trusted as it is only when that address lies in a read-only
 * segment of a loaded object (a string literal, which cannot change; asked
 * of the system layer once, on the cache miss).  A name in writable memory
 * (a reused snprintf buffer, a Python bytes object) is compared with the
 * region's stored name on every hit.
 *
 * What an occurrence allocated is the difference of the thread's own
 * counters (counters.c) between its begin and its end; the highest live
 * bytes inside it come from counters.c too (pp_counters_high_open/close,
 * kept in the allocation hooks' new-high branch), and each frame keeps the
 * enclosing region's highest so far to hand back at its end.
 *
 * Regions over time: once per window the sampler thread calls
 * pp_region_window, which diffs every per-thread histogram against a
 * snapshot it keeps beside it (the owner never sees the snapshot), merges
 * the differences over threads and writes one "regions" record.  The three
 * slowest occurrences of a window are kept by the owner in three slots per
 * histogram, reached only when a duration beats the slots' floor (one
 * compare on the hot path; a few slow-path calls per window); the merge
 * reads them under a sequence count and lowers the floor to 0 for the next
 * window.  An occurrence that ends at the very instant a window closes may
 * be missing from "slowest" (never from the counts).
 *
 * Timestamps are ticks of clock.c's clock (the TSC where the CPU says it
 * is invariant, checked against CLOCK_MONOTONIC over the run, else
 * CLOCK_MONOTONIC nanoseconds).  Ticks are converted to nanoseconds only
 * when reported, with the rate clock.c measures.
 */
#define _GNU_SOURCE
#include "core/core.h"

#define PERF_PROBE_IMPLEMENTATION
#include "../../libprobe/perf_probe.h"

#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define MAX_REGIONS 1024
#define MAX_DEPTH   64
#define CACHE       64
#define NAME_MAX_IN 256
#define PATH_MAX_IN 1024

#define SUB_BITS 6
#define SUB      (1u << SUB_BITS)
#define LINEAR   (2u * SUB)                    /* values below: exact buckets */
#define MAX_EXP  50                            /* 2^50 ticks: days */
#define NBUCKETS (LINEAR + (MAX_EXP - SUB_BITS) * SUB)

#define LOAD(x)     atomic_load_explicit(&(x), memory_order_relaxed)
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

#define NSLOW 3
#define STEADY_EVERY 256

/* one occurrence among the slowest of a window: start and duration, ticks */
struct slow { _Atomic uint64_t t0, d; };

#define RING 16

struct hist {
    _Atomic uint64_t count, sum, min, max, first, last;
    /* the last RING occurrences, begin and end in ticks (entry: count %
     * RING; the end stored last), for CPU samples (pp_region_at) */
    _Atomic uint64_t ring[RING][2];
    /* owner: a duration above the floor goes to note_slow; the window merge
     * stores 0 (a new window) */
    _Atomic uint64_t slow_floor;
    /* owner only: the last bucket, whether most durations land in the
     * bucket before them (decided every STEADY_EVERY), and how many did */
    unsigned hint, steady, agree;
    _Atomic uint32_t slow_seq;            /* odd while the owner writes slots */
    struct slow slow[NSLOW];
    _Atomic uint64_t b[NBUCKETS];
    /* the owner's own allocations in each occurrence: calls, bytes (sums,
     * maxima and histograms, laid out as b), frees, the live bytes it left
     * (net), and calls and bytes without those of nested regions (self) */
    _Atomic uint64_t a_sum, a_max, y_sum, y_max, f_sum, sa_sum, sy_sum;
    _Atomic int64_t  n_sum, n_min, n_max;
    _Atomic uint64_t ab[NBUCKETS], yb[NBUCKETS];
    /* the highest live bytes inside each occurrence above its begin: sum,
     * maximum, and a histogram whose bucket 0 is not kept (it is the
     * occurrences the others leave: no store for a region that allocates
     * nothing) */
    _Atomic uint64_t p_sum, p_max;
    _Atomic uint64_t pb[NBUCKETS];
    /* the window merge's own: the figures at the previous window */
    uint64_t snap_count, snap_sum;
    uint64_t snap[NBUCKETS];
};

/* An open region.  A slot keeps its name and id after the end, and in memo
 * the parent when the name is a literal (else NO_MEMO): the next begin at
 * this depth with the same literal under the same parent (a loop) reuses
 * the id with two compares, without the cache. */
#define NO_MEMO (-2)
struct frame {
    const char *name;
    uint64_t t0;
    int id, memo;
    /* the thread's figures at the begin (pp_counters_self), and the calls
     * and bytes of the regions nested in this occurrence so far */
    uint64_t calls0, frees0, bytes0, in_calls, in_bytes;
    int64_t  live0;
    int64_t  outer_high;        /* the enclosing region's highest delta */
};
/* ro: the name is in read-only memory, a hit needs no content check */
struct centry { const char *ptr; int parent; int id; int ro; };

struct rthread {
    /* stack[0] is a sentinel (id -1: the parent of a top-level region);
     * the open regions are stack[1..depth] */
    struct frame stack[MAX_DEPTH + 1];
    int depth, overflow;
    struct centry cache[CACHE];
    struct hist *_Atomic h[MAX_REGIONS];
    _Atomic int in_use;
    _Atomic pid_t tid;                    /* the thread using it */
    struct rthread *next;
    /* the sampler's own (pp_region_remember): each slot's region and begin
     * as it last saw them, for CPU samples taken before they changed */
    int seen_id[MAX_DEPTH + 1];
};

struct rdef { const char *name, *path; int parent, depth; };

static struct rdef defs[MAX_REGIONS];
static _Atomic int n_defs;
static pp_lock_t defs_lock = PP_LOCK_INIT;
static _Atomic(struct rthread *) threads;
static __thread struct rthread *my_rt PP_TLS;
#if defined(__linux__)
static __thread int my_rt_dead PP_TLS;  /* pp_region_thread_dead */
#else
#define my_rt_dead 0                    /* macOS keeps to a few __thread variables */
#endif
static const char sentinel[] = "";
static pthread_key_t exit_key;
static int exit_key_ok;
static uint64_t tick0, mono0;
/* ticks at which the current window started (stale slots are older) */
static _Atomic uint64_t window_start;
static pp_lock_t window_lock = PP_LOCK_INIT;
static uint64_t window_t0_ns;            /* since start: where this window began */

/* ---- time ------------------------------------------------------------------ */

static inline uint64_t ticks(void)
{
    return pp_ticks();
}

/* ticks per nanosecond (clock.c) */
static double tick_rate(void)
{
    return pp_clock_rate();
}

static void thread_gone(void *arg)
{
    (void)arg;
    pp_region_thread_exit();
}

void pp_region_init(void)
{
    pp_clock_init();
    pp_clock_origin(&tick0, &mono0);    /* one instant, not two reads apart */
    exit_key_ok = pp_os_key_create(&exit_key, thread_gone) == 0;
}

/* ---- threads and region ids ---------------------------------------------- */

__attribute__((noinline)) static struct rthread *new_rthread(void)
{
    struct rthread *rt;
    for (rt = atomic_load(&threads); rt; rt = rt->next) {
        int zero = 0;
        if (LOAD(rt->in_use) == 0 && atomic_compare_exchange_strong(&rt->in_use, &zero, 1))
            break;
    }
    if (!rt) {
        rt = pp_os_map(sizeof *rt);
        if (!rt)
            return NULL;
        memset(rt, 0, sizeof *rt);
        STORE(rt->in_use, 1);
        struct rthread *head = atomic_load(&threads);
        do
            rt->next = head;
        while (!atomic_compare_exchange_weak(&threads, &head, rt));
    }
    rt->depth = rt->overflow = 0;
    memset(rt->cache, 0, sizeof rt->cache);
    memset(rt->stack, 0, sizeof rt->stack);
    for (int i = 0; i <= MAX_DEPTH; i++) {
        rt->stack[i].memo = NO_MEMO;
        rt->seen_id[i] = -1;
    }
    rt->stack[0].id = -1;
    rt->stack[0].name = sentinel;       /* no end matches it */
    STORE(rt->tid, pp_tid());
    my_rt = rt;
    /* not on a thread another libc made (counters.c): that libc, not this
     * one, runs its keys' destructors when it ends */
    if (exit_key_ok && !pp_counters_foreign())
        pthread_setspecific(exit_key, rt);
    return rt;
}

/* A forked child keeps only the forking thread: its regions start afresh. */
void pp_region_after_fork_child(void)
{
    pp_lock_reset(&window_lock);     /* the sampler may have held it */
    pp_lock_reset(&defs_lock);       /* ... and another thread this one */
    window_t0_ns = 0;
    STORE(window_start, ticks());
    for (struct rthread *rt = atomic_load(&threads); rt; rt = rt->next) {
        for (int i = 0; i < MAX_REGIONS; i++) {
            struct hist *h = atomic_load(&rt->h[i]);
            if (h) {
                memset(h, 0, sizeof *h);
                STORE(h->min, UINT64_MAX);
                STORE(h->n_min, INT64_MAX);
                STORE(h->n_max, INT64_MIN);
            }
        }
        if (rt != my_rt)
            STORE(rt->in_use, 0);
        else
            STORE(rt->tid, pp_tid());
    }
}

void pp_region_thread_dead(void)
{
#if defined(__linux__)
    my_rt_dead = 1;
#endif
}

void pp_region_thread_exit(void)
{
    if (my_rt) {
        STORE(my_rt->in_use, 0);      /* histograms stay, for the totals */
        my_rt = NULL;
    }
}

/* a + sep + b, in a bump arena of 64 KiB chunks (a mapping per name would
 * cost a page each and crowd the shim's own-mapping table); called with
 * defs_lock held */
static char *copy_str(const char *a, size_t na, const char *sep, const char *b, size_t nb)
{
    static char *chunk;
    static size_t used, cap;
    size_t ns = sep ? strlen(sep) : 0, need = na + ns + nb + 1;
    if (used + need > cap) {
        cap = need > 65536 ? need : 65536;
        chunk = pp_os_map(cap);
        used = 0;
        if (!chunk) {
            cap = 0;
            return NULL;
        }
    }
    char *s = chunk + used;
    used += need;
    memcpy(s, a, na);
    memcpy(s + na, sep ? sep : "", ns);
    memcpy(s + na + ns, b, nb);
    s[na + ns + nb] = 0;
    return s;
}

/* The id of (name, parent), created on first sight; -1 when full. */
__attribute__((noinline)) static int find_or_add(const char *name, int parent)
{
    int n = atomic_load(&n_defs);
    size_t len = strnlen(name, NAME_MAX_IN);
    for (int i = 0; i < n; i++)
        if (defs[i].parent == parent && strncmp(defs[i].name, name, len) == 0 &&
            defs[i].name[len] == 0)
            return i;
    pp_lock(&defs_lock);
    n = atomic_load(&n_defs);
    for (int i = 0; i < n; i++)                    /* another thread was quicker? */
        if (defs[i].parent == parent && strncmp(defs[i].name, name, len) == 0 &&
            defs[i].name[len] == 0) {
            pp_unlock(&defs_lock);
            return i;
        }
    int id = -1;
    if (n < MAX_REGIONS) {
        struct rdef *d = &defs[n];
        d->name = copy_str(name, len, NULL, "", 0);
        if (parent >= 0) {
            const char *pp = defs[parent].path;
            size_t npp = strnlen(pp, PATH_MAX_IN);
            d->path = copy_str(pp, npp, "/", name, len);
            d->depth = defs[parent].depth + 1;
        } else {
            d->path = d->name;
            d->depth = 0;
        }
        d->parent = parent;
        if (d->name && d->path) {
            id = n;
            atomic_store(&n_defs, n + 1);
        }
    }
    pp_unlock(&defs_lock);
    return id;
}

/* the stored name of region ID is NAME (compared as find_or_add does) */
static int same_name(int id, const char *name)
{
    return strncmp(defs[id].name, name, NAME_MAX_IN) == 0;
}

__attribute__((noinline)) static int lookup_slow(struct centry *c, const char *name, int parent)
{
    int id = find_or_add(name, parent);
    if (id >= 0) {
        c->ptr = name;
        c->parent = parent;
        c->id = id;
        c->ro = pp_os_read_only(name);
    }
    return id;
}

/* The id of NAME under PARENT through the thread's cache (a literal's
 * address, else its content), -1 when there is none to be had; *ro says
 * whether NAME is a literal. */
static int lookup(struct rthread *rt, const char *name, int parent, int *ro)
{
    unsigned slot = (unsigned)(((uintptr_t)name >> 3) ^ ((unsigned)parent * 0x9e37u)) & (CACHE - 1);
    struct centry *c = &rt->cache[slot];
    if (!(c->ptr == name && c->parent == parent && c->ptr && (c->ro || same_name(c->id, name))) &&
        lookup_slow(c, name, parent) < 0) {
        *ro = 0;
        return -1;
    }
    *ro = c->ro;
    return c->id;
}

/* ---- histograms ------------------------------------------------------------ */

static inline unsigned bucket(uint64_t v)
{
    if (v < LINEAR)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    if (e > MAX_EXP) {
        e = MAX_EXP;
        v = ((uint64_t)2 << MAX_EXP) - 1;
    }
    unsigned sub = (unsigned)(v >> (e - SUB_BITS)) & (SUB - 1);
    return LINEAR + (e - SUB_BITS - 1) * SUB + sub;
}

/* the midpoint of a bucket: within 1/128 of anything in it */
static double bucket_mid(unsigned i)
{
    if (i < LINEAR)
        return (double)i;
    unsigned k = i - LINEAR, e = k / SUB + SUB_BITS + 1, sub = k % SUB;
    double width = (double)((uint64_t)1 << (e - SUB_BITS));
    return (double)((uint64_t)1 << e) + sub * width + width / 2;
}

__attribute__((noinline)) static struct hist *new_hist(struct rthread *rt, int id)
{
    struct hist *h = pp_os_map(sizeof *h);
    if (h) {
        STORE(h->min, UINT64_MAX);
        STORE(h->n_min, INT64_MAX);
        STORE(h->n_max, INT64_MIN);
        atomic_store(&rt->h[id], h);
    }
    return h;
}

/* D beat the floor: it takes a slot that is empty, from an earlier window,
 * or the fastest of the three, and the floor becomes the fastest slot once
 * all three hold this window's occurrences.  The floor is replaced only if
 * the window merge did not reset it meanwhile. */
__attribute__((noinline)) static void note_slow(struct hist *h, uint64_t t0, uint64_t d,
                                                 uint64_t floor_seen)
{
    uint64_t since = LOAD(window_start);
    int pick = 0;
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < NSLOW; i++) {
        uint64_t sd = LOAD(h->slow[i].d), st = LOAD(h->slow[i].t0);
        uint64_t rank = sd == 0 || st + sd < since ? 0 : sd;   /* free slots first */
        if (rank < best) {
            best = rank;
            pick = i;
        }
    }
    if (best < d) {
        uint32_t seq = LOAD(h->slow_seq);
        STORE(h->slow_seq, seq + 1);
        atomic_thread_fence(memory_order_release);
        STORE(h->slow[pick].t0, t0);
        STORE(h->slow[pick].d, d);
        atomic_thread_fence(memory_order_release);
        STORE(h->slow_seq, seq + 2);
    }
    uint64_t floor = UINT64_MAX;
    for (int i = 0; i < NSLOW; i++) {
        uint64_t sd = LOAD(h->slow[i].d), st = LOAD(h->slow[i].t0);
        uint64_t rank = sd == 0 || st + sd < since ? 0 : sd;
        if (rank < floor)
            floor = rank;
    }
    atomic_compare_exchange_strong(&h->slow_floor, &floor_seen, floor);
}

static inline __attribute__((always_inline)) void record(struct rthread *rt, int id, uint64_t t0, uint64_t t1)
{
    struct hist *h = atomic_load_explicit(&rt->h[id], memory_order_relaxed);
    if (PP_UNLIKELY(!h) && !(h = new_hist(rt, id)))
        return;
    uint64_t d = t1 - t0;
    uint64_t n = LOAD(h->count);
    unsigned b = bucket(d), hint = h->hint;
    if (h->steady) {
        /* the bucket the last one went to, by a branch: the store's address
         * is then known before the clock is (see the comment at the top) */
        unsigned differ = b ^ hint;
        __asm__("" : "+r"(differ));       /* no b == hint for the compiler */
        if (PP_LIKELY(!differ)) {
            STORE(h->b[hint], LOAD(h->b[hint]) + 1);
            h->agree++;
        } else {
            STORE(h->b[b], LOAD(h->b[b]) + 1);
            h->hint = b;
        }
    } else {
        STORE(h->b[b], LOAD(h->b[b]) + 1);
        h->agree += b == hint;
        h->hint = b;
    }
    if (PP_UNLIKELY((n & (STEADY_EVERY - 1)) == STEADY_EVERY - 1)) {
        h->steady = h->agree >= STEADY_EVERY - STEADY_EVERY / 8;
        h->agree = 0;
    }
    STORE(h->count, n + 1);
    STORE(h->sum, LOAD(h->sum) + d);
    if (d < LOAD(h->min))
        STORE(h->min, d);
    if (d > LOAD(h->max))
        STORE(h->max, d);
    uint64_t floor = LOAD(h->slow_floor);
    if (PP_UNLIKELY(d > floor))
        note_slow(h, t0, d, floor);
    if (n == 0)
        STORE(h->first, t0);
    STORE(h->last, t1);
    _Atomic uint64_t *e = h->ring[n & (RING - 1)];
    STORE(e[0], t0);
    atomic_store_explicit(&e[1], t1, memory_order_release);
}

/* What the thread allocated between the begin of frame F and now, into F's
 * histogram, and added to the enclosing frame UP's nested figures.  A
 * region with no allocation (a tight loop) costs a compare and two
 * increments. */
static inline __attribute__((always_inline)) void record_allocs(struct rthread *rt, struct frame *f,
                                                               struct frame *up)
{
    uint64_t calls1, frees1;
    int64_t live1;
    pp_counters_self(&calls1, &frees1, &live1);
    uint64_t bytes1 = pp_counters_self_bytes();
    struct hist *h = f->id >= 0 ? atomic_load_explicit(&rt->h[f->id], memory_order_relaxed) : NULL;
    /* a fork in between starts the counts afresh: nothing is negative */
    uint64_t calls = calls1 >= f->calls0 ? calls1 - f->calls0 : 0;
    uint64_t bytes = bytes1 >= f->bytes0 ? bytes1 - f->bytes0 : 0;
    int64_t high = pp_counters_high_close(f->outer_high);
    up->in_calls += calls;
    up->in_bytes += bytes;
    if (!h)
        return;
    int64_t net = live1 - f->live0;
    if (PP_LIKELY(calls == 0) && PP_LIKELY(frees1 == f->frees0) && PP_LIKELY(net == 0)) {
        STORE(h->ab[0], LOAD(h->ab[0]) + 1);
        STORE(h->yb[0], LOAD(h->yb[0]) + 1);
        if (0 < LOAD(h->n_min))
            STORE(h->n_min, 0);
        if (0 > LOAD(h->n_max))
            STORE(h->n_max, 0);
        return;
    }
    STORE(h->a_sum, LOAD(h->a_sum) + calls);
    STORE(h->y_sum, LOAD(h->y_sum) + bytes);
    STORE(h->f_sum, LOAD(h->f_sum) + (frees1 - f->frees0));
    STORE(h->sa_sum, LOAD(h->sa_sum) + (calls - f->in_calls));
    STORE(h->sy_sum, LOAD(h->sy_sum) + (bytes - f->in_bytes));
    STORE(h->n_sum, LOAD(h->n_sum) + net);
    if (calls > LOAD(h->a_max))
        STORE(h->a_max, calls);
    if (bytes > LOAD(h->y_max))
        STORE(h->y_max, bytes);
    if (net < LOAD(h->n_min))
        STORE(h->n_min, net);
    if (net > LOAD(h->n_max))
        STORE(h->n_max, net);
    unsigned ba = bucket(calls), by = bucket(bytes);
    STORE(h->ab[ba], LOAD(h->ab[ba]) + 1);
    STORE(h->yb[by], LOAD(h->yb[by]) + 1);
    /* an occurrence with no allocation has none: the fast path above */
    if (high > f->live0) {
        uint64_t peak = (uint64_t)(high - f->live0);
        unsigned bp = bucket(peak);
        STORE(h->p_sum, LOAD(h->p_sum) + peak);
        if (peak > LOAD(h->p_max))
            STORE(h->p_max, peak);
        STORE(h->pb[bp], LOAD(h->pb[bp]) + 1);
    }
}

/* the thread's figures as a region begins, into its frame F */
static inline __attribute__((always_inline)) void begin_allocs(struct frame *f)
{
    pp_counters_self(&f->calls0, &f->frees0, &f->live0);
    f->bytes0 = pp_counters_self_bytes();
    f->in_calls = f->in_bytes = 0;
    f->outer_high = pp_counters_high_open(f->live0);
}

/* ---- the API ----------------------------------------------------------------- */

/* A begin the frame slot does not remember: a new thread, a full stack, a
 * name not seen at this depth under this parent, or one not in read-only
 * memory.  Ends as the fast path does, with the timestamp. */
__attribute__((noinline)) static void begin_slow(struct rthread *rt, const char *name)
{
    if (!rt && (!pp_state.active || my_rt_dead || !(rt = new_rthread())))
        return;
    if (rt->depth == MAX_DEPTH || !name) {
        rt->overflow++;
        return;
    }
    int parent = rt->stack[rt->depth].id, ro;
    struct frame *f = &rt->stack[rt->depth + 1];
    f->id = lookup(rt, name, parent, &ro);
    f->name = name;
    f->memo = ro ? parent : NO_MEMO;
    rt->depth++;
    begin_allocs(f);
    f->t0 = ticks();                       /* last: the look-up is not timed */
}

PP_EXPORT void perf_region_begin(const char *name)
{
    struct rthread *rt = my_rt;
    if (PP_UNLIKELY(!rt)) {
        begin_slow(rt, name);
        return;
    }
    int depth = rt->depth;
    struct frame *f = &rt->stack[depth + 1];
    /* at MAX_DEPTH, f is one past the stack: not read (the depth is
     * checked first) */
    if (PP_UNLIKELY(depth == MAX_DEPTH || f->name != name || f->memo != rt->stack[depth].id)) {
        begin_slow(rt, name);
        return;
    }
    rt->depth = depth + 1;
    begin_allocs(f);
    f->t0 = ticks();                       /* last: the look-up is not timed */
}

/* An end that is not the innermost open region's (by address), or one
 * while begins are being dropped. */
__attribute__((noinline)) static void end_slow(struct rthread *rt, const char *name, uint64_t t1)
{
    if (rt->overflow) {
        rt->overflow--;
        return;
    }
    /* find the matching frame by content; frames above it were never ended
     * and are dropped */
    int d = rt->depth;
    while (d > 0 && !(name && strcmp(rt->stack[d].name, name) == 0))
        d--;
    if (d == 0)
        return;                            /* an end without a begin */
    /* the dropped frames hand their highest delta on, innermost first, so
     * that frame d's covers its whole occurrence */
    for (int k = rt->depth; k > d; k--)
        pp_counters_high_close(rt->stack[k].outer_high);
    rt->depth = d - 1;
    if (rt->stack[d].id >= 0)
        record(rt, rt->stack[d].id, rt->stack[d].t0, t1);
    record_allocs(rt, &rt->stack[d], &rt->stack[d - 1]);
}

PP_EXPORT void perf_region_end(const char *name)
{
    uint64_t t1 = ticks();                 /* first: the rest is not timed */
    struct rthread *rt = my_rt;
    if (PP_UNLIKELY(!rt))
        return;
    int depth = rt->depth;
    struct frame *f = &rt->stack[depth];
    /* at depth 0, f is the sentinel, whose name no end passes */
    if (PP_UNLIKELY(f->name != name || rt->overflow)) {
        end_slow(rt, name, t1);
        return;
    }
    rt->depth = depth - 1;
    if (f->id >= 0)
        record(rt, f->id, f->t0, t1);
    record_allocs(rt, f, f - 1);
}

/* ---- merged statistics ------------------------------------------------------ */

size_t pp_region_count(void)
{
    return (size_t)atomic_load(&n_defs);
}

/* the value at quantile Q of COUNT values in histogram M, at most MAX */
static double hist_quantile(const uint64_t *m, uint64_t count, double q, uint64_t max)
{
    uint64_t rank = (uint64_t)(q * (double)count + 0.999999), seen = 0;
    if (rank < 1)
        rank = 1;
    for (unsigned b = 0; b < NBUCKETS; b++) {
        seen += m[b];
        if (seen >= rank) {
            double v = bucket_mid(b);
            return v > (double)max ? (double)max : v;
        }
    }
    return (double)max;
}

int pp_region_stats(size_t i, struct pp_region_stats *out)
{
    static uint64_t merged[NBUCKETS], m_calls[NBUCKETS], m_bytes[NBUCKETS], m_peak[NBUCKETS];
    uint64_t a_sum = 0, a_max = 0, y_sum = 0, y_max = 0, f_sum = 0, sa_sum = 0, sy_sum = 0;
    uint64_t p_sum = 0, p_max = 0;
    int64_t n_sum = 0, n_min = INT64_MAX, n_max = INT64_MIN;
    if (i >= (size_t)atomic_load(&n_defs))
        return 0;                       /* past the last (before the clearing) */
    memset(m_calls, 0, sizeof m_calls);
    memset(m_bytes, 0, sizeof m_bytes);
    memset(m_peak, 0, sizeof m_peak);
    uint64_t count = 0, sum = 0, min = UINT64_MAX, max = 0, first = UINT64_MAX, last = 0;
    memset(merged, 0, sizeof merged);
    for (struct rthread *rt = atomic_load(&threads); rt; rt = rt->next) {
        struct hist *h = atomic_load(&rt->h[i]);
        if (!h || LOAD(h->count) == 0)
            continue;
        count += LOAD(h->count);
        sum += LOAD(h->sum);
        if (LOAD(h->min) < min) min = LOAD(h->min);
        if (LOAD(h->max) > max) max = LOAD(h->max);
        if (LOAD(h->first) < first) first = LOAD(h->first);
        if (LOAD(h->last) > last) last = LOAD(h->last);
        for (unsigned b = 0; b < NBUCKETS; b++) {
            merged[b] += LOAD(h->b[b]);
            m_calls[b] += LOAD(h->ab[b]);
            m_bytes[b] += LOAD(h->yb[b]);
            m_peak[b] += LOAD(h->pb[b]);
        }
        a_sum += LOAD(h->a_sum);
        y_sum += LOAD(h->y_sum);
        f_sum += LOAD(h->f_sum);
        sa_sum += LOAD(h->sa_sum);
        sy_sum += LOAD(h->sy_sum);
        n_sum += LOAD(h->n_sum);
        if (LOAD(h->a_max) > a_max) a_max = LOAD(h->a_max);
        if (LOAD(h->y_max) > y_max) y_max = LOAD(h->y_max);
        if (LOAD(h->n_min) < n_min) n_min = LOAD(h->n_min);
        if (LOAD(h->n_max) > n_max) n_max = LOAD(h->n_max);
        p_sum += LOAD(h->p_sum);
        if (LOAD(h->p_max) > p_max) p_max = LOAD(h->p_max);
    }
    double rate = tick_rate();
    memset(out, 0, sizeof *out);
    out->name = defs[i].name;
    out->path = defs[i].path;
    out->depth = defs[i].depth;
    out->count = count;
    if (count == 0)
        return 1;
    out->total_ns = (double)sum / rate;
    out->mean_ns = out->total_ns / (double)count;
    out->min_ns = (double)min / rate;
    out->max_ns = (double)max / rate;
    out->span_ns = (double)(last - first) / rate;
    /* occurrences that ended with a histogram: every one but those of a
     * thread that could have no counter slot (then all are) */
    uint64_t n_alloc = 0;
    for (unsigned b = 0; b < NBUCKETS; b++)
        n_alloc += m_calls[b];
    if (n_alloc) {
        out->calls.mean = (double)a_sum / (double)n_alloc;
        out->calls.max = a_max;
        out->calls.p50 = hist_quantile(m_calls, n_alloc, 0.50, a_max);
        out->calls.p99 = hist_quantile(m_calls, n_alloc, 0.99, a_max);
        out->bytes.mean = (double)y_sum / (double)n_alloc;
        out->bytes.max = y_max;
        out->bytes.p50 = hist_quantile(m_bytes, n_alloc, 0.50, y_max);
        out->bytes.p99 = hist_quantile(m_bytes, n_alloc, 0.99, y_max);
        out->frees = f_sum;
        out->net_mean = (double)n_sum / (double)n_alloc;
        out->net_min = n_min == INT64_MAX ? 0 : n_min;
        out->net_max = n_max == INT64_MIN ? 0 : n_max;
        out->self_calls_mean = (double)sa_sum / (double)n_alloc;
        out->self_bytes_mean = (double)sy_sum / (double)n_alloc;
        uint64_t above = 0;                  /* bucket 0: the rest */
        for (unsigned b = 1; b < NBUCKETS; b++)
            above += m_peak[b];
        m_peak[0] = n_alloc > above ? n_alloc - above : 0;
        out->peak.mean = (double)p_sum / (double)n_alloc;
        out->peak.max = p_max;
        out->peak.p50 = hist_quantile(m_peak, n_alloc, 0.50, p_max);
        out->peak.p99 = hist_quantile(m_peak, n_alloc, 0.99, p_max);
    }
    static const double qs[] = {0.50, 0.90, 0.95, 0.99, 0.999};
    double *dst[] = {&out->p50_ns, &out->p90_ns, &out->p95_ns, &out->p99_ns, &out->p999_ns};
    for (int q = 0; q < 5; q++) {
        uint64_t rank = (uint64_t)(qs[q] * (double)count + 0.999999), seen = 0;
        if (rank < 1)
            rank = 1;
        for (unsigned b = 0; b < NBUCKETS; b++) {
            seen += merged[b];
            if (seen >= rank) {
                double v = bucket_mid(b);
                if (v < (double)min) v = (double)min;
                if (v > (double)max) v = (double)max;
                *dst[q] = v / rate;
                break;
            }
        }
    }
    return 1;
}

/* ---- regions over time -------------------------------------------------------- */

struct cand { uint64_t t0, d; pid_t tid; };

/* ticks -> nanoseconds since the shim started */
static double since_start_ns(uint64_t t, double rate)
{
    return (double)mono0 - (double)pp_state.start_ns + ((double)t - (double)tick0) / rate;
}

static void key_ns(struct pp_buf *b, const char *k, double ns)
{
    pp_buf_key(b, k);
    pp_buf_u64(b, ns > 0 ? (uint64_t)(ns + 0.5) : 0);
}

/* One region's window: merged bucket differences in `win`, slowest in c. */
static void window_region(struct pp_buf *b, int first_region, int id, const uint64_t *win,
                          uint64_t count, uint64_t sum, const struct cand *c, int nc,
                          double rate)
{
    unsigned lo = 0, hi = NBUCKETS - 1;
    while (lo < hi && !win[lo])
        lo++;
    while (hi > lo && !win[hi])
        hi--;
    double min = bucket_mid(lo), max = nc ? (double)c[0].d : bucket_mid(hi);
    if (max < min)
        max = min;
    pp_buf_str(b, first_region ? "{" : ",{");
    pp_buf_key(b, "name");
    pp_buf_json_str(b, defs[id].name, NAME_MAX_IN);
    pp_buf_key(b, "path");
    pp_buf_json_str(b, defs[id].path, PATH_MAX_IN);
    pp_buf_key(b, "depth");
    pp_buf_u64(b, (uint64_t)defs[id].depth);
    pp_buf_key(b, "count");
    pp_buf_u64(b, count);
    key_ns(b, "total_ns", (double)sum / rate);
    key_ns(b, "min_ns", min / rate);
    key_ns(b, "max_ns", max / rate);
    static const double qs[] = {0.50, 0.90, 0.95, 0.99};
    static const char *const names[] = {"p50_ns", "p90_ns", "p95_ns", "p99_ns"};
    for (int q = 0; q < 4; q++) {
        uint64_t rank = (uint64_t)(qs[q] * (double)count + 0.999999), seen = 0;
        double v = max;
        if (rank < 1)
            rank = 1;
        for (unsigned i = lo; i <= hi; i++) {
            seen += win[i];
            if (seen >= rank) {
                v = bucket_mid(i);
                break;
            }
        }
        key_ns(b, names[q], (v < min ? min : v > max ? max : v) / rate);
    }
    /* the buckets themselves: [index, count, index, count, ...] in ticks of
     * unit_ns nanoseconds (docs/format.md has the bucket layout) */
    pp_buf_key(b, "hist");
    pp_buf_str(b, "{\"unit_ns\":");
    pp_buf_double(b, 1.0 / rate);
    pp_buf_str(b, ",\"b\":[");
    int first = 1;
    for (unsigned i = lo; i <= hi; i++)
        if (win[i]) {
            if (!first)
                pp_buf_raw(b, ",", 1);
            first = 0;
            pp_buf_u64(b, i);
            pp_buf_raw(b, ",", 1);
            pp_buf_u64(b, win[i]);
        }
    pp_buf_str(b, "]}");
    pp_buf_key(b, "slowest");
    pp_buf_raw(b, "[", 1);
    for (int k = 0; k < nc; k++) {
        pp_buf_str(b, k ? ",{" : "{");
        pp_buf_key(b, "start_s");
        double at = since_start_ns(c[k].t0, rate);
        pp_buf_fixed(b, at > 0 ? (int64_t)at : 0, 9, 6);
        key_ns(b, "dur_ns", (double)c[k].d / rate);
        pp_buf_key(b, "thread");
        pp_buf_u64(b, (uint64_t)c[k].tid);
        pp_buf_raw(b, "}", 1);
    }
    pp_buf_str(b, "]}");
}

/* keep the NSLOW slowest of the candidates, slowest first */
static void keep_slow(struct cand *c, int *nc, struct cand x)
{
    int i;
    if (*nc < NSLOW)
        i = (*nc)++;
    else if (c[NSLOW - 1].d < x.d)
        i = NSLOW - 1;
    else
        return;
    c[i] = x;
    for (; i > 0 && c[i].d > c[i - 1].d; i--) {
        struct cand t = c[i];
        c[i] = c[i - 1];
        c[i - 1] = t;
    }
}

void pp_region_window(void)
{
    static uint64_t win[NBUCKETS];
    static char *out;
    static size_t out_cap;
    pp_lock(&window_lock);
    int n = atomic_load(&n_defs);
    uint64_t start = LOAD(window_start), now = ticks();
    uint64_t t_ns = pp_now_ns() - pp_state.start_ns;
    STORE(window_start, now);
    if (n == 0) {                        /* no region yet: only the window moves */
        window_t0_ns = t_ns;
        pp_unlock(&window_lock);
        return;
    }
    double rate = tick_rate();
    /* worst case per region: escaped name and path, numbers, and a bucket
     * list of up to NBUCKETS pairs (a few hundred in practice) */
    size_t need = 256 + (size_t)n * (6 * (NAME_MAX_IN + PATH_MAX_IN) + 1024) + 64 * 1024;
    if (need > out_cap) {
        if (out)
            pp_os_unmap(out, out_cap);
        out_cap = (need + 65535) & ~(size_t)65535;
        out = pp_os_map(out_cap);
        if (!out)
            out_cap = 0;
    }
    if (!out) {
        pp_unlock(&window_lock);
        return;
    }
    struct pp_buf b = {out, 0, out_cap - 64};
    pp_buf_str(&b, "{\"type\":\"regions\"");
    pp_buf_key(&b, "t_s");
    pp_buf_fixed(&b, (int64_t)t_ns, 9, 6);
    pp_buf_key(&b, "t0_s");
    pp_buf_fixed(&b, (int64_t)window_t0_ns, 9, 6);
    pp_buf_key(&b, "regions");
    pp_buf_raw(&b, "[", 1);
    int any = 0;
    for (int id = 0; id < n; id++) {
        uint64_t count = 0, sum = 0;
        struct cand c[NSLOW];
        int nc = 0, touched = 0;
        for (struct rthread *rt = atomic_load(&threads); rt; rt = rt->next) {
            struct hist *h = atomic_load(&rt->h[id]);
            if (!h)
                continue;
            uint64_t hc = LOAD(h->count);
            if (hc != h->snap_count) {
                if (!touched)
                    memset(win, 0, sizeof win);
                touched = 1;
                h->snap_count = hc;
                uint64_t s = LOAD(h->sum);
                sum += s - h->snap_sum;
                h->snap_sum = s;
                for (unsigned i = 0; i < NBUCKETS; i++) {
                    uint64_t v = LOAD(h->b[i]);
                    if (v != h->snap[i]) {
                        win[i] += v - h->snap[i];
                        count += v - h->snap[i];
                        h->snap[i] = v;
                    }
                }
            }
            /* the slowest of this window: a consistent read of the slots */
            struct slow sl[NSLOW];
            for (int tries = 0; tries < 100; tries++) {
                uint32_t s0 = atomic_load_explicit(&h->slow_seq, memory_order_acquire);
                for (int k = 0; k < NSLOW; k++) {
                    STORE(sl[k].t0, LOAD(h->slow[k].t0));
                    STORE(sl[k].d, LOAD(h->slow[k].d));
                }
                atomic_thread_fence(memory_order_acquire);
                if (!(s0 & 1) && s0 == LOAD(h->slow_seq))
                    break;
                STORE(sl[0].d, 0);
                STORE(sl[1].d, 0);
                STORE(sl[2].d, 0);
            }
            STORE(h->slow_floor, 0);
            for (int k = 0; k < NSLOW; k++) {
                uint64_t d = LOAD(sl[k].d), t0 = LOAD(sl[k].t0);
                if (d && t0 + d >= start && t0 + d < now)
                    keep_slow(c, &nc, (struct cand){t0, d, LOAD(rt->tid)});
            }
        }
        if (!count)
            continue;
        window_region(&b, !any, id, win, count, sum, c, nc, rate);
        any = 1;
    }
    pp_buf_str(&b, "]}");
    window_t0_ns = t_ns;
    if (any && b.len < b.cap)
        pp_timeline_record(&b);
    pp_unlock(&window_lock);
}

/* For CPU samples (cpu.c), from the sampler thread: the innermost region
 * thread TID was in at T_NS (CLOCK_MONOTONIC).  The owner's stack is read
 * without its knowledge (it never waits for this).  Each depth's slot
 * keeps the name, id and begin of the last region run at that depth, open
 * or ended, and each region's histogram the begin and end of its last RING
 * occurrences on the thread; the sampler also remembers which region each
 * slot held at its previous look (pp_region_remember).  A sample is in a
 * region when it falls in an open occurrence begun before it, or in one of
 * those last occurrences, of the slot's region or of the one seen there
 * before: so a region is known for a sample up to RING of its occurrences
 * back (more when the sampler thread was held up: a sample in an older one
 * gives the enclosing region, never a region the thread was not in). */
static uint64_t to_ns(uint64_t t, double rate)
{
    return t < tick0 ? 0 : mono0 + (uint64_t)((double)(t - tick0) / rate);
}

/* 1 when one of the last RING occurrences of region ID on thread RT, as
 * read whole (the end, the begin, the end again), contained T_NS */
static int ended_at(struct rthread *rt, int id, uint64_t t_ns, double rate)
{
    struct hist *h = atomic_load(&rt->h[id]);
    if (!h)
        return 0;
    for (int i = 0; i < RING; i++) {
        uint64_t e1 = atomic_load_explicit(&h->ring[i][1], memory_order_acquire);
        uint64_t e0 = atomic_load_explicit(&h->ring[i][0], memory_order_acquire);
        if (!e1 || e0 > e1 || atomic_load_explicit(&h->ring[i][1], memory_order_acquire) != e1)
            continue;                     /* empty, or rewritten meanwhile */
        if (to_ns(e0, rate) <= t_ns && t_ns <= to_ns(e1, rate))
            return 1;
    }
    return 0;
}

const char *pp_region_at(pid_t tid, uint64_t t_ns)
{
    double rate = tick_rate();
    if (rate <= 0)
        return NULL;
    for (struct rthread *rt = atomic_load(&threads); rt; rt = rt->next) {
        if (!LOAD(rt->in_use) || LOAD(rt->tid) != tid)
            continue;
        int depth = *(volatile int *)&rt->depth, n = atomic_load(&n_defs);
        if (depth > MAX_DEPTH || depth < 0)
            return NULL;
        int top = depth + 1;
        while (top <= MAX_DEPTH && *(const char *volatile *)&rt->stack[top].name)
            top++;
        for (int d = top - 1; d > 0; d--) {           /* innermost first */
            struct frame *f = &rt->stack[d];
            int id = *(volatile int *)&f->id;
            uint64_t t0 = *(volatile uint64_t *)&f->t0;
            if (id >= 0 && id < n) {
                if (d <= depth && to_ns(t0, rate) <= t_ns)
                    return defs[id].path;          /* open, begun before it */
                if (ended_at(rt, id, t_ns, rate))
                    return defs[id].path;          /* one it ran before */
            }
            int sid = rt->seen_id[d];
            if (sid >= 0 && sid < n && sid != id && ended_at(rt, sid, t_ns, rate))
                return defs[sid].path;             /* the one seen here last tick */
        }
        return NULL;
    }
    return NULL;
}

/* After each tick's samples: what every slot holds now. */
void pp_region_remember(void)
{
    for (struct rthread *rt = atomic_load(&threads); rt; rt = rt->next) {
        if (!LOAD(rt->in_use))
            continue;
        for (int d = 1; d <= MAX_DEPTH; d++) {
            if (!*(const char *volatile *)&rt->stack[d].name) {
                rt->seen_id[d] = -1;
                break;
            }
            rt->seen_id[d] = *(volatile int *)&rt->stack[d].id;
        }
    }
}
