/*
 * unwind.c - the call stack of an allocation, as return addresses.
 *
 * libunwind's unw_backtrace walks the stack from DWARF call-frame
 * information (.eh_frame), with the per-thread cache turned on so that a
 * stack seen before costs a few table look-ups per frame and no lock.  On a
 * cache miss libunwind looks the address up with dl_iterate_phdr, which
 * takes glibc's dl_load_write_lock: that lock is held by the loader only
 * for the few instructions that link or unlink a module (it never calls
 * malloc while holding it), so a hook waiting for it cannot deadlock with
 * the program (docs/sites.md).  Everything libunwind allocates on the
 * way goes straight to the real allocator: the caller holds pp_in_hook.
 *
 * A frame without unwind information (JIT code, hand-written assembly)
 * ends the walk: libunwind reports an error and the frames so far are kept.
 * The first walk is made at start-up, outside any allocator call, so that
 * libunwind's own one-time set-up (its caches, its TLS) is done before a
 * hook ever needs it.
 *
 * Frames inside libperfprobe.so itself (the hook, this file) are cut off
 * the top: the caller of malloc is the first frame recorded.
 */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include "internal.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <link.h>
#include <string.h>

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

int pp_unwind(uintptr_t *out, int max)
{
    void *buf[PP_STACK_MAX + 16];
    int want = max + 16;
    if (want > (int)(sizeof buf / sizeof *buf))
        want = (int)(sizeof buf / sizeof *buf);
    int n = unw_backtrace(buf, want);
    int i = 0, k = 0;
    while (i < n && (uintptr_t)buf[i] >= self_lo && (uintptr_t)buf[i] < self_hi)
        i++;
    for (; i < n && k < max; i++) {
        if (!buf[i])
            break;
        out[k++] = (uintptr_t)buf[i];
    }
    return k;
}

void pp_unwind_init(void)
{
    uintptr_t frames[4];
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&pp_unwind);
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    pp_unwind(frames, 4);
}

/* after a module was unloaded, its addresses may be reused by another */
void pp_unwind_flush(void)
{
    unw_flush_cache(unw_local_addr_space, 0, 0);
}
