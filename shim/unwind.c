/*
 * unwind.c - the call stack of an allocation, as return addresses.
 *
 * The walk is libgcc's _Unwind_Backtrace: DWARF call-frame information
 * (.eh_frame), the unwinder already present in every process that uses C++
 * exceptions or pthread_cancel.  With glibc 2.35 or later and GCC 12 or
 * later it finds the unwind table of an address with _dl_find_object, which
 * takes no lock and never allocates (older ones fall back to
 * dl_iterate_phdr and glibc's dl_load_write_lock, held by the loader only
 * while it links or unlinks a module, never while it calls malloc).
 *
 * libunwind was the first choice and was measured; it was dropped for two
 * hazards found under the robustness tests: linked into a preloaded
 * library it interposes its own _Unwind_RaiseException and friends on the
 * whole program (every C++ exception would go through it), and its
 * initialisation keeps a pipe open on the two lowest free descriptors,
 * which belong to the program (a daemon that closes every descriptor, or
 * `ulimit -n 5`, then fails).  See docs/sites.md.
 *
 * A frame without unwind information (JIT code, hand-written assembly)
 * ends the walk: the unwinder reports the end of the stack and the frames
 * so far are kept; memory without CFI is never read.  The first walk is
 * made at start-up, outside any allocation, so that the unwinder's one-time
 * set-up is done before a hook needs it.
 *
 * Frames inside libperfprobe.so itself (the hook, this file) are cut off
 * the top: the caller of malloc is the first frame recorded.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>
#include <unwind.h>

static uintptr_t self_lo, self_hi;     /* the shim's own text */

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t want = (uintptr_t)arg, lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < lo)
            lo = a;
        if (a + ph->p_memsz > hi)
            hi = a + ph->p_memsz;
    }
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

int pp_unwind(uintptr_t *out, int max)
{
    struct walk w = {out, 0, max, 1};
    if (max <= 0)
        return 0;
    _Unwind_Backtrace(one_frame, &w);
    return w.n;
}

void pp_unwind_init(void)
{
    uintptr_t frames[4];
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&pp_unwind);
    pp_unwind(frames, 4);
}

/* The unwinder keeps no cache of its own to flush after a dlclose:
 * each walk looks the addresses up afresh. */
void pp_unwind_flush(void)
{
}
