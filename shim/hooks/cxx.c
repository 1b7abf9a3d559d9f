/*
 * cxx.c - C++ operator new and delete, interposed from C.
 *
 * With glibc, libstdc++'s operator new calls malloc, so alloc.c sees it.
 * Allocators such as jemalloc define operator new/delete themselves and
 * never go through malloc, so a C++ program under jemalloc would be
 * invisible.  These hooks forward to the next definition (libstdc++'s or
 * the allocator's) with the re-entrancy flag set, so that whichever path
 * the memory takes it is counted exactly once.  With another allocator
 * preloaded before the shim they forward to its own operators when it has
 * them (the first definitions, as for malloc), so that a new and its delete
 * stay within one allocator: libstdc++'s new calls that allocator's malloc,
 * and tcmalloc's debug build aborts on such a block freed by its delete.
 *
 * operator new may throw std::bad_alloc through this C frame: the file is
 * built with -fexceptions and the flag is restored by a cleanup attribute,
 * which runs during unwinding as well as on return.  No C++ runtime is
 * linked on Linux: the names are plain C symbols with their Itanium-ABI
 * spellings.
 *
 * macOS: the same twenty hooks, through the __interpose table (PP_HOOK).
 * The operators are libc++abi's (/usr/lib/libc++abi.dylib defines them;
 * libc++.1.dylib, which C++ programs link, re-exports them), so the table's
 * replacees bind there: the dylib links against a stub of libc++abi that
 * names only these twenty functions (shim/sys/macos/libc++abi.tbd), and a
 * name misspelled here is a link error.  Inside the shim the name is
 * libc++abi's own function (the table does not apply to the interposing
 * image), so the real operator is called by name; it calls malloc or
 * posix_memalign through the table, and the allocator hook, finding the
 * flag set, passes the call through uncounted.
 */
#define _GNU_SOURCE
#include "core/core.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__) || defined(__APPLE__)

/* the operators, by their Itanium-ABI names (size_t is unsigned long, "m") */
void *_Znwm(size_t n);
void *_Znam(size_t n);
void *_ZnwmRKSt9nothrow_t(size_t n, const void *nt);
void *_ZnamRKSt9nothrow_t(size_t n, const void *nt);
void *_ZnwmSt11align_val_t(size_t n, size_t al);
void *_ZnamSt11align_val_t(size_t n, size_t al);
void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt);
void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt);
void _ZdlPv(void *p);
void _ZdaPv(void *p);
void _ZdlPvm(void *p, size_t n);
void _ZdaPvm(void *p, size_t n);
void _ZdlPvRKSt9nothrow_t(void *p, const void *nt);
void _ZdaPvRKSt9nothrow_t(void *p, const void *nt);
void _ZdlPvSt11align_val_t(void *p, size_t al);
void _ZdaPvSt11align_val_t(void *p, size_t al);
void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al);
void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al);
void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt);
void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt);

#if defined(__linux__)
enum {
    NW, NA, NW_NT, NA_NT, NW_AL, NA_AL, NW_AL_NT, NA_AL_NT,
    DL, DA, DL_SZ, DA_SZ, DL_NT, DA_NT, DL_AL, DA_AL, DL_SZ_AL, DA_SZ_AL,
    DL_AL_NT, DA_AL_NT, N_OPS
};

static const char *const names[N_OPS] = {
    "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
    "_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
    "_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
    "_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm",
    "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t",
    "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t",
    "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
    "_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t",
};

static void *_Atomic next_fn[N_OPS];
static _Atomic int looked_up[N_OPS];

/* NAME where the real malloc was found (pp_real_symbol): the next
 * definition, or with another allocator first the first one, if it is in a
 * library other than the shim (the executable's may be its own PLT slot:
 * other_allocator_first, real.c); else the next.  dladdr, not a walk of the
 * loader's list: the loader lock dlsym takes, not the one a fork keeps */
static void *first_definition(const char *name)
{
    Dl_info at, self;
    void *fn = pp_real_symbol(name);
    if (fn && dladdr(fn, &at) && at.dli_fname && strstr(at.dli_fname, ".so") &&
        dladdr((void *)first_definition, &self) && at.dli_fbase != self.dli_fbase)
        return fn;
    return pp_real_next(name);
}

static void *next(int op)
{
    if (PP_UNLIKELY(!atomic_load_explicit(&looked_up[op], memory_order_acquire))) {
        pp_resolve();
        int saved = pp_in_hook;
        pp_in_hook = 1;
        atomic_store(&next_fn[op], first_definition(names[op]));
        pp_in_hook = saved;
        atomic_store_explicit(&looked_up[op], 1, memory_order_release);
    }
    return atomic_load_explicit(&next_fn[op], memory_order_relaxed);
}
/* the definition SYM passes on to: found once (first_definition), NULL
 * when none */
#define REAL_OP(sym, op, type) ((type)next(op))
#else
/* libc++abi's own SYM: the shim's reference binds there, never to the hook */
#define REAL_OP(sym, op, type) (&sym)
#endif

static void restore_flag(int *saved) { pp_in_hook = *saved; }
#define HOLD_FLAG(n) \
    int pp_saved_flag __attribute__((cleanup(restore_flag), unused)) = pp_in_hook; \
    pp_hot.cxx_size = (n);                                              \
    pp_in_hook = PP_IN_HOOK_CXX

/* new: forward, then count the block the next definition returned, unless
 * its malloc failed first: the flag is down then (PP_IN_HOOK_CXX), and the
 * program's new_handler, the exception and the block of the next try
 * were counted by the hooks they went through */
#define NEW_HOOK(sym, op, params, args, fallback)                        \
    PP_HOOK(void *, sym, params)                                        \
    {                                                                   \
        void *(*real) params = REAL_OP(sym, op, void *(*) params);      \
        if (PP_UNLIKELY(!real))                                         \
            return fallback;                                            \
        if (pp_in_hook)                                                 \
            return real args;                                           \
        HOLD_FLAG(n);                                                   \
        void *p = real args;                                            \
        if (p && pp_in_hook == PP_IN_HOOK_CXX)                          \
            pp_track_alloc(p, pp_usable(p));                           \
        return p;                                                       \
    }

/* delete: count, then forward */
#define DELETE_HOOK(sym, op, params, args)                               \
    PP_HOOK(void, sym, params)                                          \
    {                                                                   \
        void (*real) params = REAL_OP(sym, op, void (*) params);        \
        if (!p)                                                         \
            return;                                                     \
        if (PP_UNLIKELY(!real)) {                                       \
            free(p);                                                    \
            return;                                                     \
        }                                                               \
        if (pp_in_hook) {                                               \
            real args;                                                  \
            return;                                                     \
        }                                                               \
        pp_in_hook = 1;                                                 \
        pp_track_free(p, pp_usable(p));                            \
        real args;                                                      \
        pp_in_hook = 0;                                                 \
    }

NEW_HOOK(_Znwm, NW, (size_t n), (n), malloc(n))
NEW_HOOK(_Znam, NA, (size_t n), (n), malloc(n))
NEW_HOOK(_ZnwmRKSt9nothrow_t, NW_NT, (size_t n, const void *nt), (n, nt), malloc(n))
NEW_HOOK(_ZnamRKSt9nothrow_t, NA_NT, (size_t n, const void *nt), (n, nt), malloc(n))
NEW_HOOK(_ZnwmSt11align_val_t, NW_AL, (size_t n, size_t al), (n, al), aligned_alloc(al, n))
NEW_HOOK(_ZnamSt11align_val_t, NA_AL, (size_t n, size_t al), (n, al), aligned_alloc(al, n))
NEW_HOOK(_ZnwmSt11align_val_tRKSt9nothrow_t, NW_AL_NT,
         (size_t n, size_t al, const void *nt), (n, al, nt), aligned_alloc(al, n))
NEW_HOOK(_ZnamSt11align_val_tRKSt9nothrow_t, NA_AL_NT,
         (size_t n, size_t al, const void *nt), (n, al, nt), aligned_alloc(al, n))

DELETE_HOOK(_ZdlPv, DL, (void *p), (p))
DELETE_HOOK(_ZdaPv, DA, (void *p), (p))
DELETE_HOOK(_ZdlPvm, DL_SZ, (void *p, size_t n), (p, n))
DELETE_HOOK(_ZdaPvm, DA_SZ, (void *p, size_t n), (p, n))
DELETE_HOOK(_ZdlPvRKSt9nothrow_t, DL_NT, (void *p, const void *nt), (p, nt))
DELETE_HOOK(_ZdaPvRKSt9nothrow_t, DA_NT, (void *p, const void *nt), (p, nt))
DELETE_HOOK(_ZdlPvSt11align_val_t, DL_AL, (void *p, size_t al), (p, al))
DELETE_HOOK(_ZdaPvSt11align_val_t, DA_AL, (void *p, size_t al), (p, al))
DELETE_HOOK(_ZdlPvmSt11align_val_t, DL_SZ_AL, (void *p, size_t n, size_t al), (p, n, al))
DELETE_HOOK(_ZdaPvmSt11align_val_t, DA_SZ_AL, (void *p, size_t n, size_t al), (p, n, al))
DELETE_HOOK(_ZdlPvSt11align_val_tRKSt9nothrow_t, DL_AL_NT,
            (void *p, size_t al, const void *nt), (p, al, nt))
DELETE_HOOK(_ZdaPvSt11align_val_tRKSt9nothrow_t, DA_AL_NT,
            (void *p, size_t al, const void *nt), (p, al, nt))
#endif /* __linux__ || __APPLE__ */
