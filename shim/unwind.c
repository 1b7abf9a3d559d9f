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
 *
 * With PERFPROBE_STACKS=all, where every allocation is unwound, libunwind
 * (four times faster, with its per-thread cache) is used when both hazards
 * can be avoided: it is loaded with dlopen(RTLD_LOCAL), so its unwind ABI
 * interposes on nothing, and its first walk (which opens its pipe) is made
 * while every descriptor up to near the limit is held, so that the pipe
 * lands at the top of the descriptor range, far from the program's.  When
 * either cannot be done (no libunwind.so.8, a low descriptor limit), libgcc
 * is used.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
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

static int (*lu_backtrace)(void **, int);
static void (*lu_flush)(void *, uintptr_t, uintptr_t);
static void *lu_as;

int pp_unwind(uintptr_t *out, int max)
{
    struct walk w = {out, 0, max, 1};
    if (max <= 0)
        return 0;
    if (lu_backtrace) {
        void *buf[PP_STACK_MAX + 16];
        int want = max + 16 < (int)(sizeof buf / sizeof *buf) ? max + 16
                                                              : (int)(sizeof buf / sizeof *buf);
        int n = lu_backtrace(buf, want), i = 0;
        while (i < n && (uintptr_t)buf[i] >= self_lo && (uintptr_t)buf[i] < self_hi)
            i++;
        for (; i < n && w.n < max && buf[i]; i++)
            out[w.n++] = (uintptr_t)buf[i];
        return w.n;
    }
    _Unwind_Backtrace(one_frame, &w);
    return w.n;
}

/* libunwind for `all`, or nothing (see the top of the file) */
static void load_libunwind(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < 256)
        return;
    int top = rl.rlim_cur > 4096 ? 4096 : (int)rl.rlim_cur;
    void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return;
    int (*backtrace_fn)(void **, int) = (int (*)(void **, int))dlsym(h, "unw_backtrace");
    int (*policy)(void *, int) = (int (*)(void *, int))dlsym(h, "_ULx86_64_set_caching_policy");
    void **as = dlsym(h, "_ULx86_64_local_addr_space");
    if (!backtrace_fn || !policy || !as) {
        dlclose(h);
        return;
    }
    /* hold every free descriptor below top - 2: the pipe gets the last two */
    static int held[4096];
    int n = 0, ok = 0;
    for (;;) {
        int fd = fcntl(2, F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
            break;
        if (fd >= top - 2) {
            close(fd);
            ok = 1;
            break;
        }
        held[n++] = fd;
    }
    if (ok) {
        policy(*as, 2);                  /* UNW_CACHE_PER_THREAD */
        void *buf[4];
        backtrace_fn(buf, 4);
        *(void **)&lu_flush = dlsym(h, "_Ux86_64_flush_cache");
        lu_as = *as;
        lu_backtrace = backtrace_fn;
    }
    while (n > 0)
        close(held[--n]);
}

void pp_unwind_init(void)
{
    uintptr_t frames[4];
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&pp_unwind);
    if (pp_sites_mode == PP_STACKS_ALL)
        load_libunwind();
    pp_unwind(frames, 4);
}

/* After modules came or went: libunwind's cache may hold what was at a
 * reused address.  (libgcc's unwinder keeps no such cache.) */
void pp_unwind_flush(void)
{
    if (lu_flush)
        lu_flush(lu_as, 0, 0);
}
