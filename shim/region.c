/*
 * region.c - perf_region_begin/end: latency of a repeated operation.
 *
 * A region is identified by its name and the region it is nested in, so
 * "tick/strategy" and a top-level "strategy" are kept apart.  Each thread
 * keeps a stack of open regions and a small direct-mapped cache from
 * (name pointer, parent) to region id: string literals have stable
 * addresses, so after the first call a begin costs a hash, a compare and a
 * timestamp, with no string comparison and no lock.
 *
 * Durations go into a per-thread, per-region log-linear histogram, written
 * only by its owner (no atomics on the hot path): values below 128 ticks
 * have a bucket each; above, every power of two is split into 64 buckets,
 * so reporting a bucket's midpoint is within 1/128 (0.8%) of any value in
 * it.  Memory is fixed (23 KiB a histogram) however many times a region
 * runs.  At exit the histograms are merged over threads for the summary.
 *
 * Timestamps are TSC ticks when the kernel itself trusts the TSC (its
 * clocksource is "tsc": invariant and synchronised), else CLOCK_MONOTONIC
 * nanoseconds.  Ticks are converted to nanoseconds only when reported,
 * with a rate measured over the whole run against CLOCK_MONOTONIC.
 */
#define _GNU_SOURCE
#include "internal.h"

#define PERF_PROBE_IMPLEMENTATION
#include "../libprobe/perf_probe.h"

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

struct hist {
    _Atomic uint64_t count, sum, min, max, first, last;
    _Atomic uint64_t b[NBUCKETS];
};

struct frame { int id; uint64_t t0; const char *name; };
struct centry { const char *ptr; int parent; int id; };

struct rthread {
    struct frame stack[MAX_DEPTH];
    int depth, overflow;
    struct centry cache[CACHE];
    struct hist *_Atomic h[MAX_REGIONS];
    _Atomic int in_use;
    struct rthread *next;
};

struct rdef { const char *name, *path; int parent, depth; };

static struct rdef defs[MAX_REGIONS];
static _Atomic int n_defs;
static pthread_mutex_t defs_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct rthread *) threads;
static __thread struct rthread *my_rt PP_TLS;
static pthread_key_t exit_key;
static int use_tsc;
static uint64_t tick0, mono0;

/* ---- time ------------------------------------------------------------------ */

static inline uint64_t ticks(void)
{
#if defined(__x86_64__)
    if (PP_LIKELY(use_tsc)) {
        uint32_t lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        return ((uint64_t)hi << 32) | lo;
    }
#endif
    return pp_now_ns();
}

/* ticks per nanosecond, measured over the whole run so far (the reads of
 * the two clocks are ~30 ns apart: 1e-5 of a 3 ms run) */
static double tick_rate(void)
{
    if (!use_tsc)
        return 1.0;
    uint64_t t = ticks(), m = pp_now_ns();
    return m > mono0 && t > tick0 ? (double)(t - tick0) / (double)(m - mono0) : 1.0;
}

static void thread_gone(void *arg)
{
    (void)arg;
    pp_region_thread_exit();
}

void pp_region_init(void)
{
    char src[32] = "";
    int f = open("/sys/devices/system/clocksource/clocksource0/current_clocksource",
                 O_RDONLY | O_CLOEXEC);
    if (f >= 0) {
        ssize_t n = read(f, src, sizeof src - 1);
        src[n > 0 ? n : 0] = 0;
        close(f);
    }
#if defined(__x86_64__)
    use_tsc = strncmp(src, "tsc", 3) == 0;
#endif
    mono0 = pp_now_ns();
    tick0 = ticks();
    pthread_key_create(&exit_key, thread_gone);
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
    my_rt = rt;
    pthread_setspecific(exit_key, rt);
    return rt;
}

/* A forked child keeps only the forking thread: its regions start afresh. */
void pp_region_after_fork_child(void)
{
    for (struct rthread *rt = atomic_load(&threads); rt; rt = rt->next) {
        for (int i = 0; i < MAX_REGIONS; i++) {
            struct hist *h = atomic_load(&rt->h[i]);
            if (h) {
                memset(h, 0, sizeof *h);
                STORE(h->min, UINT64_MAX);
            }
        }
        if (rt != my_rt)
            STORE(rt->in_use, 0);
    }
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
    pthread_mutex_lock(&defs_lock);
    n = atomic_load(&n_defs);
    for (int i = 0; i < n; i++)                    /* another thread was quicker? */
        if (defs[i].parent == parent && strncmp(defs[i].name, name, len) == 0 &&
            defs[i].name[len] == 0) {
            pthread_mutex_unlock(&defs_lock);
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
    pthread_mutex_unlock(&defs_lock);
    return id;
}

static inline int lookup(struct rthread *rt, const char *name, int parent)
{
    unsigned slot = (unsigned)(((uintptr_t)name >> 3) ^ ((unsigned)parent * 0x9e37u)) & (CACHE - 1);
    struct centry *c = &rt->cache[slot];
    if (PP_LIKELY(c->ptr == name && c->parent == parent && c->ptr))
        return c->id;
    int id = find_or_add(name, parent);
    if (id >= 0) {
        c->ptr = name;
        c->parent = parent;
        c->id = id;
    }
    return id;
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
        atomic_store(&rt->h[id], h);
    }
    return h;
}

static inline void record(struct rthread *rt, int id, uint64_t t0, uint64_t t1)
{
    struct hist *h = atomic_load_explicit(&rt->h[id], memory_order_relaxed);
    if (PP_UNLIKELY(!h) && !(h = new_hist(rt, id)))
        return;
    uint64_t d = t1 - t0;
    unsigned b = bucket(d);
    STORE(h->b[b], LOAD(h->b[b]) + 1);
    uint64_t n = LOAD(h->count);
    STORE(h->count, n + 1);
    STORE(h->sum, LOAD(h->sum) + d);
    if (d < LOAD(h->min))
        STORE(h->min, d);
    if (d > LOAD(h->max))
        STORE(h->max, d);
    if (n == 0)
        STORE(h->first, t0);
    STORE(h->last, t1);
}

/* ---- the API ----------------------------------------------------------------- */

PP_EXPORT void perf_region_begin(const char *name)
{
    struct rthread *rt = my_rt;
    if (PP_UNLIKELY(!rt)) {
        if (!pp_state.active || !(rt = new_rthread()))
            return;
    }
    if (PP_UNLIKELY(rt->depth == MAX_DEPTH || !name)) {
        rt->overflow++;
        return;
    }
    int parent = rt->depth ? rt->stack[rt->depth - 1].id : -1;
    int id = lookup(rt, name, parent);
    struct frame *f = &rt->stack[rt->depth++];
    f->id = id;
    f->name = name;
    f->t0 = ticks();                       /* last: the look-up is not timed */
}

PP_EXPORT void perf_region_end(const char *name)
{
    uint64_t t1 = ticks();                 /* first: the rest is not timed */
    struct rthread *rt = my_rt;
    if (PP_UNLIKELY(!rt))
        return;
    if (PP_UNLIKELY(rt->overflow)) {
        rt->overflow--;
        return;
    }
    int d = rt->depth - 1;
    if (d < 0)
        return;                            /* an end without a begin */
    if (PP_UNLIKELY(rt->stack[d].name != name)) {
        /* find the matching frame by content; frames above it were never
         * ended and are dropped */
        while (d >= 0 && !(name && rt->stack[d].name &&
                           strcmp(rt->stack[d].name, name) == 0))
            d--;
        if (d < 0)
            return;
    }
    rt->depth = d;
    if (rt->stack[d].id >= 0)
        record(rt, rt->stack[d].id, rt->stack[d].t0, t1);
}

/* ---- merged statistics ------------------------------------------------------ */

size_t pp_region_count(void)
{
    return (size_t)atomic_load(&n_defs);
}

int pp_region_stats(size_t i, struct pp_region_stats *out)
{
    static uint64_t merged[NBUCKETS];
    if (i >= (size_t)atomic_load(&n_defs))
        return 0;
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
        for (unsigned b = 0; b < NBUCKETS; b++)
            merged[b] += LOAD(h->b[b]);
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
