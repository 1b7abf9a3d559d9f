/*
 * counters.c - live heap bytes, their peak, and call counts, without a lock
 * or a shared atomic on the allocation path.
 *
 * Each thread owns a slot and adds every allocation's usable size to the
 * slot's `pending` delta (and subtracts every free's).  The current heap is
 * the global base plus every slot's delta, exact whenever it is read; the
 * base changes only when a thread exits.  A free is a load and a store; an
 * allocation also keeps the slot's own highest delta (`pending_max`) and
 * compares the delta with the slot's alarm, `hi`.
 *
 * The peak is where the threads meet.  When a thread's delta passes its
 * alarm, it adds up every slot (relaxed loads, no read-modify-write), raises
 * the peaks to what the total reached, and sets its next alarm at its share
 * of the headroom below the lowest peak it must keep (the all-time one and
 * each window's), plus its share of a step of max(4 KiB, peak / 512 with
 * several threads, / 128 with one) (never more than PERFPROBE_BATCH; 0:
 * every allocation near a peak checks).  Far
 * below the peak a thread therefore checks rarely; near it, once per step
 * shared among the live threads, so that the growth no thread has checked
 * stays below about one step (docs/design.md has the bound and the figures).
 A check happens only at a new local maximum of the thread's delta, so
 * what it adds up is the total at that moment.  With one thread, nothing
 * else moves, so readers also count the slot's `pending_max` (its highest
 * delta since the last check or read) against the total now: the peak is
 * then exact, whatever the step.  With several threads a local maximum
 * below the alarm is not counted (the others may have moved since): that
 * is the error, less than about one step in all.
 *
 * Readers (the sampler, a probe) add up the slots the same way.  A reader
 * that starts a new peak window then sets every live slot's alarm and its
 * `pending_max` to sentinels, so that the owner's next allocation, even
 * one below its old maximum after frees, checks against the new window.
 * The owner installs its next alarm with a compare-and-swap on its own
 * slot, so a reset that lands in the middle of a check is never
 * overwritten.
 *
 * Regions (region.c) ask for the highest delta inside each occurrence, and
 * get it exactly, from the same branch: the slot's `reg_max` is raised at
 * every new local maximum, so it only has to be that pending_max never
 * exceeds the open region's highest delta so far.  A region's begin sets
 * reg_max to the delta now and lowers pending_max to it (with one thread,
 * counting the maximum it held into the peaks first, as a read would); a
 * reset only ever lowers pending_max.  A nested begin hands back the outer
 * region's reg_max, and its end restores the larger of the two.  Outside
 * any region reg_max is INT64_MAX: the compare is never true, and costs an
 * allocation that sets a new local maximum one compare of a field on the
 * line it already holds.
 *
 * Slot fields are _Atomic but written only by their owner (except the alarm
 * sentinel), with relaxed loads and stores (plain moves on x86-64).  Slots
 * come from raw mmap, are never freed, and are recycled when a thread exits
 * (a pthread key destructor folds the slot into the base and releases it).
 */
#include "core/core.h"

#include <pthread.h>
#include <string.h>

#define ALARM_RESET INT64_MIN
/* pending_max after a reset: whatever the delta, the owner's next
 * allocation is a new local maximum, and so reaches its alarm compare (a
 * delta that dipped and grew back below the old maximum would otherwise
 * pass a reset alarm unchecked, and the reset slot reserves no room) */
#define MAX_UNSET INT64_MIN
/* the counting fast paths are inlined into the hooks (-flto); the core.h
 * declaration without `inline` makes these the external definitions too */
#define PP_HOT __attribute__((always_inline)) inline        /* "check at the next allocation" */

struct pp_slot {
    /* written by the owner with plain read-modify-writes (one `add` to
     * memory each on x86-64), read by others with relaxed atomic loads */
    int64_t          pending;
    uint64_t         allocs, frees, reallocs;
    _Atomic int64_t  pending_max;    /* highest pending since the last check */
    _Atomic int64_t  hi;             /* check when pending passes this */
    int64_t          reg_max;        /* owner only: the open region's highest
                                      * pending (INT64_MAX: no region open) */
    _Atomic int      in_use;
    _Atomic uintptr_t stack_hint;  /* an address on the owner's stack */
    _Atomic pid_t    tid;
    struct pp_slot     *next;
} __attribute__((aligned(64)));    /* one cache line each: no false sharing */

static _Atomic(struct pp_slot *) slots;
static _Atomic int64_t g_heap, g_peak, g_window_peak[PP_WINDOWS];
static _Atomic int64_t g_live;       /* threads holding a slot */
static _Atomic uint64_t g_exited;    /* threads that released theirs */
/* calls made by threads whose slot is gone (late thread-exit frees) */
static _Atomic uint64_t g_allocs, g_frees, g_reallocs;

static _Atomic int went_negative;
static _Atomic uint64_t stack_generation;   /* threads that left a hint */
#define my_slot      (pp_hot.slot)
#define my_slot_dead (pp_hot.slot_dead)
static pthread_key_t exit_key;
static int exit_key_ok;
/* a thread another libc made (a dlmopen namespace's pthread_create): its
 * thread-specific slots are that libc's keys' too, and a value at the
 * shim's key would go to that libc's destructor of the same number (Linux
 * only, where the namespace object is; macOS keeps its __thread variables
 * to the few no hook touches) */
#if defined(__linux__)
static __thread int foreign_thread PP_TLS;

void pp_counters_foreign_thread(void)
{
    foreign_thread = 1;
}

int pp_counters_foreign(void)
{
    return foreign_thread;
}
#else
#define foreign_thread 0

int pp_counters_foreign(void)
{
    return 0;
}
#endif

#define LOAD(x)     atomic_load_explicit(&(x), memory_order_relaxed)
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)
/* the owner-written plain fields */
#define RD(x)       __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WR(x, v)    __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static void raise_max(_Atomic int64_t *m, int64_t v)
{
    int64_t cur = LOAD(*m);
    while (v > cur &&
           !atomic_compare_exchange_weak_explicit(m, &cur, v, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

/* v is a heap figure that was reached: raise the all-time peak and every
 * window's peak to it */
static void raise_peaks(int64_t v)
{
    raise_max(&g_peak, v);
    for (int w = 0; w < PP_WINDOWS; w++)
        raise_max(&g_window_peak[w], v);
}

/* the heap now: the base plus every slot's delta */
static int64_t total(void)
{
    int64_t sum = LOAD(g_heap);
    for (struct pp_slot *s = atomic_load(&slots); s; s = s->next)
        sum += RD(s->pending);
    return sum;
}

static void key_destructor(void *arg)
{
    (void)arg;
    pp_counters_thread_exit();
}

void pp_counters_init(void)
{
    if (!exit_key_ok && pp_os_key_create(&exit_key, key_destructor) == 0)
        exit_key_ok = 1;
}

__attribute__((noinline)) static struct pp_slot *slot_acquire(void)
{
    for (struct pp_slot *s = atomic_load(&slots); s; s = s->next) {
        int zero = 0;
        if (LOAD(s->in_use) == 0 &&
            atomic_compare_exchange_strong(&s->in_use, &zero, 1))
            return s;
    }
    /* a fresh page of slots; all but the first go on the free list */
    size_t page = 4096, n = page / sizeof(struct pp_slot);
    struct pp_slot *block = pp_os_map(page);
    if (!block)
        return NULL;
    memset(block, 0, page);
    for (size_t i = 0; i < n; i++) {
        STORE(block[i].in_use, i == 0);
        struct pp_slot *head = atomic_load(&slots);
        do
            block[i].next = head;
        while (!atomic_compare_exchange_weak(&slots, &head, &block[i]));
    }
    return &block[0];
}

__attribute__((noinline)) static struct pp_slot *new_self(void)
{
    struct pp_slot *s;
    if (my_slot_dead)
        return NULL;
    int saved = pp_in_hook;
    pp_in_hook = 1;                 /* a signal handler's malloc passes by */
    s = slot_acquire();
    my_slot = s;
    if (!s) {
        pp_in_hook = saved;
        return NULL;
    }
    WR(s->pending, 0);
    STORE(s->pending_max, 0);
    STORE(s->hi, ALARM_RESET);
    s->reg_max = INT64_MAX;
    atomic_fetch_add_explicit(&g_live, 1, memory_order_relaxed);
    /* Every alarm was set for a share of the headroom among fewer threads:
     * with one more, the shares would add up to more than the headroom, so
     * every thread checks again at its next growth */
    for (struct pp_slot *o = atomic_load(&slots); o; o = o->next)
        if (o != s && LOAD(o->in_use)) {
            STORE(o->hi, ALARM_RESET);
            STORE(o->pending_max, MAX_UNSET);
        }
    /* Where this thread's stack is, for the RSS breakdown: one address on
     * it, found by the sampler in /proc/self/maps later.  Nothing here may
     * take a lock: pthread_getattr_np, the obvious way, holds the thread's
     * lock while it calls realloc, and the JVM and Ruby make their threads'
     * first allocation inside it. */
    STORE(s->stack_hint, (uintptr_t)__builtin_frame_address(0));
    STORE(s->tid, pp_tid());
    atomic_fetch_add_explicit(&stack_generation, 1, memory_order_relaxed);
    /* pthread_setspecific for a low key uses the thread descriptor's
     * static array: it does not allocate */
    if (exit_key_ok && !foreign_thread)
        pthread_setspecific(exit_key, s);
    pp_in_hook = saved;
    return s;
}

/* The owner's check: its delta P, a new local maximum, passed its alarm. */
__attribute__((noinline)) static void check(struct pp_slot *s, int64_t p)
{
    int64_t alarm = LOAD(s->hi);
    int64_t now = total();
    raise_peaks(now);
    int64_t low = LOAD(g_peak);
    for (int w = 0; w < PP_WINDOWS; w++) {
        int64_t v = LOAD(g_window_peak[w]);
        if (v < low)
            low = v;
    }
    /* what the other threads may still grow without a check of their own
     * (up to their alarms) is not this thread's to share out: a thread that
     * freed a lot keeps its old alarm, and would regrow into the same room */
    int64_t reserved = 0;
    for (struct pp_slot *o = atomic_load(&slots); o; o = o->next) {
        int64_t h = LOAD(o->hi);
        if (o != s && LOAD(o->in_use) && h != ALARM_RESET && h > RD(o->pending))
            reserved += h - RD(o->pending);
    }
    int64_t threads = LOAD(g_live), room = low - now - reserved;
    if (threads < 1)
        threads = 1;
    /* with one thread the peak is exact whatever the step; with several,
     * what no thread has checked is about one step, more when a thread is
     * preempted between its count and its check: a finer step keeps that
     * well inside 1% */
    int64_t step = LOAD(g_peak) / (threads > 1 ? 512 : 128);
    if (step < 4096)
        step = 4096;
    if ((uint64_t)step > pp_opt.batch_bytes)
        step = (int64_t)pp_opt.batch_bytes;
    /* Room below zero: the others' alarms leave them more regrowth than
     * the headroom (each was set while the rest were lower, and a thread
     * that dipped may come back to its own maximum unchecked).  All of them
     * at their alarms would pass the peak with no one looking, so their
     * alarms are taken back and each checks at its next growth; the alarm
     * goes first, as in a reader's reset. */
    if (room < -step)
        for (struct pp_slot *o = atomic_load(&slots); o; o = o->next) {
            int64_t h = LOAD(o->hi);
            if (o != s && LOAD(o->in_use) && h != ALARM_RESET && h > RD(o->pending) &&
                atomic_compare_exchange_strong_explicit(&o->hi, &h, ALARM_RESET,
                                                        memory_order_relaxed,
                                                        memory_order_relaxed))
                STORE(o->pending_max, MAX_UNSET);
        }
    int64_t next = p + (room > 0 ? room / threads : 0) + step / threads;
    atomic_compare_exchange_strong_explicit(&s->hi, &alarm, next, memory_order_relaxed,
                                            memory_order_relaxed);
}

/* pending += d, returning the new value, in one instruction where it can
 * be: a signal handler that allocates on this thread between a load and a
 * store would otherwise have its own change overwritten. */
static inline int64_t add_pending(struct pp_slot *s, int64_t d)
{
#if defined(__x86_64__)
    int64_t old = d;
    __asm__("xaddq %0, %1" : "+r"(old), "+m"(s->pending));
    return old + d;
#else
    return s->pending += d;
#endif
}

/* fold the slot into the base (with one thread, its local maximum counted
 * first) */
static void fold(struct pp_slot *s)
{
    int64_t d = RD(s->pending), m = LOAD(s->pending_max);
    if (LOAD(g_live) <= 1 && m != MAX_UNSET)
        raise_peaks(total() - d + m);
    atomic_fetch_add_explicit(&g_heap, d, memory_order_relaxed);
    WR(s->pending, 0);
    STORE(s->pending_max, 0);
    STORE(s->hi, ALARM_RESET);
}

/* Slow path for threads past their slot's destructor. */
__attribute__((noinline, cold)) static void add_global(int64_t d)
{
    atomic_fetch_add(&g_heap, d);
    raise_peaks(total());
}

/* A growing heap sets a new high at every allocation: that is kept inline;
 * only passing the alarm (2) calls out. */
static inline int new_high(struct pp_slot *s, int64_t p)
{
    if (p > LOAD(s->pending_max)) {
        STORE(s->pending_max, p);
        if (PP_UNLIKELY(p > s->reg_max))  /* never true outside a region */
            s->reg_max = p;
        if (PP_UNLIKELY(p > LOAD(s->hi)))
            return 2;
    }
    return 1;
}

PP_HOT int pp_count_alloc_quick(size_t usable)
{
    struct pp_slot *s = my_slot;
    if (PP_UNLIKELY(!s))
        return 0;
    s->allocs++;
    return new_high(s, add_pending(s, (int64_t)usable));
}

PP_HOT int pp_count_realloc_quick(size_t old_usable, size_t new_usable)
{
    struct pp_slot *s = my_slot;
    if (PP_UNLIKELY(!s))
        return 0;
    s->reallocs++;
    int64_t d = (int64_t)new_usable - (int64_t)old_usable;
    if (d <= 0) {
        s->pending += d;                /* one instruction: see add_pending */
        return 1;
    }
    return new_high(s, add_pending(s, d));
}

PP_HOT int pp_counters_self(uint64_t *calls, uint64_t *frees, int64_t *live)
{
    struct pp_slot *s = my_slot;
    if (PP_UNLIKELY(!s) && !(s = new_self())) {
        *calls = *frees = 0;
        *live = 0;
        return 0;
    }
    *calls = s->allocs + s->reallocs;
    *frees = s->frees;
    *live = s->pending;
    return 1;
}

void pp_count_new_high(void)
{
    struct pp_slot *s = my_slot;
    int64_t p = RD(s->pending);
    if (p > LOAD(s->pending_max))
        STORE(s->pending_max, p);
    if (p > s->reg_max)
        s->reg_max = p;
    if (p > LOAD(s->hi))
        check(s, p);
}

PP_HOT int64_t pp_counters_high_open(int64_t live)
{
    struct pp_slot *s = my_slot;
    if (PP_UNLIKELY(!s))
        return INT64_MAX;
    int64_t outer = s->reg_max, m = LOAD(s->pending_max);
    s->reg_max = live;
    /* every new maximum from here on must reach new_high's branch: the
     * slot's highest delta comes down to the delta now.  With one thread,
     * readers count that highest delta against the base (the exact peak):
     * it goes into the peaks first.  With several, readers do not use it,
     * and a lower one only makes the alarm compare more often. */
    if (m > live) {
        /* the all-time peak is never below a window's: two compares */
        int64_t v = LOAD(g_heap) + m;
        if (LOAD(g_live) <= 1 &&
            (v > LOAD(g_window_peak[0]) || v > LOAD(g_window_peak[PP_WINDOWS - 1])))
            raise_peaks(v);
        STORE(s->pending_max, live);
    }
    return outer;
}

PP_HOT int64_t pp_counters_high_close(int64_t outer)
{
    struct pp_slot *s = my_slot;
    if (PP_UNLIKELY(!s))
        return INT64_MIN;
    int64_t high = s->reg_max;
    s->reg_max = high > outer ? high : outer;
    return high;
}

PP_HOT int pp_count_free_quick(size_t usable)
{
    struct pp_slot *s = my_slot;
    if (PP_UNLIKELY(!s))
        return 0;
    s->frees++;
    s->pending -= (int64_t)usable;      /* one instruction: see add_pending */
    return 1;
}

/* The same counts for a thread without a slot yet: it takes one (or, past
 * its slot's destructor, counts in the globals). */
PP_HOT void pp_count_alloc(size_t usable)
{
    int how = pp_count_alloc_quick(usable);
    if (PP_UNLIKELY(how == 0) && new_self())
        how = pp_count_alloc_quick(usable);
    if (PP_UNLIKELY(how == 0)) {
        atomic_fetch_add(&g_allocs, 1);
        add_global((int64_t)usable);
    } else if (PP_UNLIKELY(how == 2)) {
        pp_count_new_high();
    }
}

PP_HOT void pp_count_free(size_t usable)
{
    if (PP_LIKELY(pp_count_free_quick(usable)) || (new_self() && pp_count_free_quick(usable)))
        return;
    atomic_fetch_add(&g_frees, 1);
    add_global(-(int64_t)usable);
}

PP_HOT void pp_count_realloc(size_t old_usable, size_t new_usable)
{
    int how = pp_count_realloc_quick(old_usable, new_usable);
    if (PP_UNLIKELY(how == 0) && new_self())
        how = pp_count_realloc_quick(old_usable, new_usable);
    if (PP_UNLIKELY(how == 0)) {
        atomic_fetch_add(&g_reallocs, 1);
        add_global((int64_t)new_usable - (int64_t)old_usable);
    } else if (PP_UNLIKELY(how == 2)) {
        pp_count_new_high();
    }
}

void pp_counters_flush_self(void)
{
    struct pp_slot *s = my_slot;
    if (s)
        fold(s);
}

void pp_counters_thread_exit(void)
{
    struct pp_slot *s = my_slot;
    if (!s)
        return;
    fold(s);
    atomic_fetch_sub_explicit(&g_live, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&g_exited, 1, memory_order_relaxed);
    STORE(s->stack_hint, 0);
    my_slot = NULL;
    my_slot_dead = 1;
    STORE(s->in_use, 0);     /* counts stay in the slot for the totals */
}

void pp_counters_read(struct pp_heap *out, int window, int reset)
{
    int64_t pending = 0;
    uint64_t a = LOAD(g_allocs), f = LOAD(g_frees), r = LOAD(g_reallocs);
    for (struct pp_slot *s = atomic_load(&slots); s; s = s->next) {
        pending += RD(s->pending);
        a += RD(s->allocs);
        f += RD(s->frees);
        r += RD(s->reallocs);
    }
    int64_t bytes = LOAD(g_heap) + pending, best = bytes;
    /* with one thread, its local maximum since the last check or read */
    int single = LOAD(g_live) <= 1;
    for (struct pp_slot *s = atomic_load(&slots); s && (single || reset); s = s->next) {
        if (!LOAD(s->in_use))
            continue;
        int64_t p = RD(s->pending);
        int64_t m = reset ? atomic_exchange_explicit(&s->pending_max, MAX_UNSET,
                                                     memory_order_relaxed)
                          : LOAD(s->pending_max);
        if (single && m != MAX_UNSET && bytes - p + m > best)
            best = bytes - p + m;
    }
    /* frees of blocks that were allocated past the hooks (a library loaded
     * with RTLD_DEEPBIND, memory from before the shim was ready) can take
     * the figure below zero: it is clamped, and the summary says why */
    if (bytes < 0) {
        STORE(went_negative, 1);
        bytes = 0;
    }
    if (best < bytes)
        best = bytes;
    raise_peaks(best);
    out->bytes = bytes;
    out->peak = LOAD(g_peak);
    out->window_peak = reset
        ? atomic_exchange_explicit(&g_window_peak[window], bytes, memory_order_relaxed)
        : LOAD(g_window_peak[window]);
    if (out->window_peak < best)
        out->window_peak = best;
    if (reset)              /* every thread's next growth checks the new window */
        for (struct pp_slot *s = atomic_load(&slots); s; s = s->next)
            if (LOAD(s->in_use))
                STORE(s->hi, ALARM_RESET);
    out->allocs = a;
    out->frees = f;
    out->reallocs = r;
}

/* In a forked child only the forking thread survives: fold every other
 * slot (its bytes are in the child's copy of the heap) and free it.  The
 * child's call counts start from zero; its heap starts where the parent's
 * was. */
void pp_counters_after_fork_child(void)
{
    for (struct pp_slot *s = atomic_load(&slots); s; s = s->next) {
        fold(s);
        WR(s->allocs, 0);
        WR(s->frees, 0);
        WR(s->reallocs, 0);
        if (s != my_slot) {
            STORE(s->in_use, 0);
            STORE(s->stack_hint, 0);
        }
    }
    if (my_slot)
        STORE(my_slot->tid, pp_tid());
    STORE(g_live, my_slot ? 1 : 0);
    STORE(g_allocs, 0);
    STORE(g_frees, 0);
    STORE(g_reallocs, 0);
    int64_t now = LOAD(g_heap);
    STORE(g_peak, now);
    for (int w = 0; w < PP_WINDOWS; w++)
        STORE(g_window_peak[w], now);
}

uint64_t pp_counters_threads_exited(void)
{
    return LOAD(g_exited);
}

int pp_counters_went_negative(void)
{
    return LOAD(went_negative);
}

uint64_t pp_counters_stack_generation(void)
{
    return LOAD(stack_generation);
}

size_t pp_counters_stack_hints(uintptr_t *out, size_t max)
{
    size_t n = 0;
    pid_t main_tid = pp_state.own_pid;
    for (struct pp_slot *s = atomic_load(&slots); s && n < max; s = s->next) {
        uintptr_t h = LOAD(s->stack_hint);
        if (h && LOAD(s->in_use) && LOAD(s->tid) != main_tid)
            out[n++] = h;
    }
    return n;
}
