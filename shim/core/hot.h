/*
 * hot.h - the hooks' per-thread block (hot.c): what a hook reads on every
 * call, and pp_in_hook.
 *
 * A header of its own, below core.h, because core.h's inline pieces read
 * it: it needs nothing but the system layer's thread-local storage
 * (sys.h), and hot.c, which defines the block, includes nothing else.
 */
#ifndef PP_CORE_HOT_H
#define PP_CORE_HOT_H

#include "sys/sys.h"

/* What a hook reads on every call, in one initial-exec TLS block so that
 * one GOT load finds all of it:
 *   in_hook    non-zero while this thread is inside one of the shim's hooks
 *              (or is the sampler thread): nested allocator calls go
 *              straight to the real allocator, neither counted nor tracked;
 *   slot       this thread's counter slot (counters.c), NULL until its
 *              first counted call;
 *   countdown  bytes this thread may still allocate before its next sampled
 *              block (sites.c). */
struct pp_slot;
struct pp_hot {
    int             in_hook;
    int             glibc;          /* 1: glibc's allocator is resolved (set by
                                     * this thread's first slow call); with
                                     * in_hook, one 8-byte compare */
    struct pp_slot *slot;
    int64_t         countdown;
    int             slot_dead;      /* past the slot's thread-exit destructor */
    /* bytes this thread has allocated: bytes_base + (cd_start - countdown);
     * the countdown is only ever reset through sites.c, which folds what
     * it counted down into bytes_base (regions read it, region.c) */
    int64_t         cd_start;
    uint64_t        bytes_base;
    size_t          cxx_size;       /* what the C++ operator new under way
                                     * (in_hook PP_IN_HOOK_CXX) asked for */
};
#if defined(__APPLE__)
/* a TLV would allocate on a thread's first access (sys/macos/tls.h: PP_THREAD_BLOCK) */
typedef struct pp_hot pp_hot_t;       /* the tag is hidden by the macro below */
extern struct pp_tkey pp_hot_tkey;
#define pp_hot (*(pp_hot_t *)pp_tkey_get(&pp_hot_tkey))
#else
extern __thread struct pp_hot pp_hot PP_TLS;
#endif
#define pp_in_hook (pp_hot.in_hook)
/* pp_in_hook while a C++ operator new forwards (cxx.c): a nested malloc,
 * aligned_alloc or posix_memalign of the operator's own size that fails
 * lowers it (alloc.c), since what the operator does next is the
 * program's (its new_handler, the std::bad_alloc it throws, its next
 * try), and the block the operator then returns was counted by the hook
 * that made it.  The size tells the operator's own call from a signal
 * handler's that fails meanwhile */
enum { PP_IN_HOOK_CXX = 3 };
/* pp_in_hook while glibc allocates on the shim's behalf (its exit
 * handler and TLS destructor entries, life.c): served from the shim's
 * bootstrap arena, so that glibc's free of them, wherever it comes, is
 * neither the program's nor counted */
enum { PP_IN_HOOK_OWN = 4 };

#endif
