/*
 * unwind.c - the call stack of an allocation, as return addresses.
 *
 * Two walkers over the same DWARF call-frame information (.eh_frame):
 *
 *  - cfi.c's, which remembers the rule of each return address, so that a
 *    stack seen before costs a few dozen instructions a frame;
 *  - libgcc's _Unwind_Backtrace, the unwinder already present in every
 *    process that uses C++ exceptions or pthread_cancel, for every stack
 *    the first cannot walk (JIT code, signal frames, unusual CFI).  With
 *    glibc 2.35 or later and GCC 12 or later it finds the unwind table of
 *    an address with _dl_find_object, which takes no lock and never
 *    allocates (older ones fall back to dl_iterate_phdr and glibc's
 *    dl_load_write_lock, held by the loader only while it links or
 *    unlinks a module, never while it calls malloc).
 *
 * libunwind was measured and dropped: linked into a preloaded library it
 * interposes its own _Unwind_RaiseException and friends on the whole
 * program, and its initialisation keeps a pipe open on the two lowest
 * free descriptors, which belong to the program.  See docs/sites.md.
 *
 * A frame without unwind information ends the walk: the unwinder reports
 * the end of the stack and the frames so far are kept; memory without CFI
 * is never read.  The first walk is made at start-up, outside any
 * allocation, so that the unwinder's one-time set-up is done before a
 * hook needs it.
 *
 * Frames inside libperfprobe.so itself (the hook, this file) are cut off
 * the top: the caller of malloc is the first frame recorded.  So are those
 * of the shim's object in a link namespace (hooks/namespace.c), whose hook
 * calls the counting here.
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <link.h>
#include <string.h>
#include <unwind.h>

static uintptr_t self_lo, self_hi;     /* the shim's own text */

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t want = (uintptr_t)arg, lo, hi;
    pp_module_range(info, &lo, &hi);
    if (want >= lo && want < hi) {
        self_lo = lo;
        self_hi = hi;
        return 1;
    }
    return 0;
}

struct walk {
    uintptr_t *out;
    int n, max, skipping;
};

static _Unwind_Reason_Code one_frame(struct _Unwind_Context *ctx, void *arg)
{
    struct walk *w = arg;
    uintptr_t ip = (uintptr_t)_Unwind_GetIP(ctx);
    if (!ip)
        return _URC_END_OF_STACK;
    if (w->skipping && ip >= self_lo && ip < self_hi)
        return _URC_NO_REASON;                   /* the shim's own frames */
    w->skipping = 0;
    w->out[w->n++] = ip;
    return w->n >= w->max ? _URC_END_OF_STACK : _URC_NO_REASON;
}

static _Atomic uint64_t walks_libgcc;

/* the namespace objects' text, by slot (PP_NS_WALKS of them) */
static _Atomic uintptr_t own_lo[PP_NS_WALKS], own_hi[PP_NS_WALKS];
static _Atomic int own_any;

void pp_unwind_own_range(int slot, uintptr_t lo, uintptr_t hi)
{
    if (slot < 0 || slot >= PP_NS_WALKS)
        return;
    atomic_store(&own_lo[slot], 0);
    atomic_store(&own_hi[slot], hi);
    atomic_store(&own_lo[slot], lo);
    if (lo < hi)
        atomic_store(&own_any, 1);
}

static int in_own_object(uintptr_t ip)
{
    for (int i = 0; i < PP_NS_WALKS; i++) {
        uintptr_t lo = atomic_load_explicit(&own_lo[i], memory_order_relaxed);
        if (lo && ip >= lo && ip < atomic_load_explicit(&own_hi[i], memory_order_relaxed))
            return 1;
    }
    return 0;
}

/* the namespace object's hook frames, off the top of N frames */
static int cut_own(uintptr_t *out, int n)
{
    int k = 0;
    while (k < n && in_own_object(out[k]))
        k++;
    if (k)
        memmove(out, out + k, (size_t)(n - k) * sizeof *out);
    return n - k;
}

int pp_unwind(uintptr_t *out, int max)
{
    struct walk w = {out, 0, max, 1};
    if (max <= 0)
        return 0;
    int fast = pp_cfi_walk(out, max, self_lo, self_hi);
    if (fast < 0) {
        atomic_fetch_add_explicit(&walks_libgcc, 1, memory_order_relaxed);
        _Unwind_Backtrace(one_frame, &w);
        fast = w.n;
    }
    if (PP_UNLIKELY(atomic_load_explicit(&own_any, memory_order_relaxed)))
        fast = cut_own(out, fast);
    return fast;
}

uint64_t pp_unwind_by_libgcc(void)
{
    return atomic_load_explicit(&walks_libgcc, memory_order_relaxed);
}

void pp_unwind_init(void)
{
    uintptr_t frames[4];
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&pp_unwind);
    pp_cfi_ready();
    pp_unwind(frames, 4);
    /* that walk (through the loader's start-up code, which libgcc walks)
     * was the unwinders' set-up, not an allocation's */
    atomic_store(&walks_libgcc, 0);
}
