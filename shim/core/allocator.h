/*
 * allocator.h - the real allocator's state (allocator.c), for the
 * allocator hooks: whether it is resolved, whether its blocks carry
 * glibc's chunk header, and the bootstrap arena's bounds.
 *
 * A header of its own because these inline pieces read allocator.c's own
 * variables on the hooks' fast paths: only the files that need them
 * include it (hooks/alloc.c, allocator.c), and core.h stays a list of
 * declarations (its pp_usable is the same function out of line).
 */
#ifndef PP_CORE_ALLOCATOR_H
#define PP_CORE_ALLOCATOR_H

#include "core/core.h"

/* PP_ALLOC_READY_GLIBC: resolved, and the allocator is glibc's (blocks
 * carry its chunk header): the hooks' fast paths apply.  The state never
 * goes back from a READY state. */
enum { PP_ALLOC_UNRESOLVED, PP_ALLOC_RESOLVING, PP_ALLOC_READY, PP_ALLOC_READY_GLIBC };
extern _Atomic int pp_alloc_state;
/* pp_in_hook while pp_allocator_check calls the program's malloc: the hook,
 * if reached, sets pp_alloc_probe_hit and passes the call through */
enum { PP_IN_HOOK_PROBING = 2 };
extern int pp_alloc_probe_hit;
/* another allocator was preloaded before the shim: the real functions are
 * its (bind.c sends the program's calls to the hooks, which forward) */
extern int pp_alloc_foreign;
/* a library was loaded with RTLD_DEEPBIND (set by the dlopen hook) */
extern _Atomic int pp_deepbind_seen;
/* the program called dlmopen for a namespace of its own (the dlmopen hook) */
extern _Atomic int pp_dlmopen_seen;
/* 1: usable sizes are read from glibc's chunk header (the self-test at
 * start-up agreed with the real malloc_usable_size) */
extern int pp_usable_is_glibc;

/* ---- bootstrap arena: the calls made while the real functions are being
 * resolved (dlsym calls calloc) ---- */
#define PP_BOOT_SIZE (64 * 1024)
extern char pp_boot_buf[PP_BOOT_SIZE];
static inline int pp_is_boot(const void *p)
{
    return (const char *)p >= pp_boot_buf && (const char *)p < pp_boot_buf + PP_BOOT_SIZE;
}
/* N bytes (zeroed) from the arena, or NULL when it is full */
void *pp_boot_alloc(size_t n);
/* N bytes aligned to ALIGN (a power of two, 16 to 4096), or NULL */
void *pp_boot_aligned(size_t align, size_t n);

/* ---- usable size ---- */

/* The usable bytes of glibc block P, from its header word: the chunk size
 * less one header word, or two when the chunk was mmapped. */
static inline size_t pp_glibc_usable(void *p)
{
    size_t word = ((size_t *)p)[-1];
    return (word & ~(size_t)7) - 8 - ((word & 2) << 2);    /* IS_MMAPPED: 16 */
}

/* A glibc block's header word: 1 and its usable size in *U when the
 * chunk is a heap chunk, 0 when it is mmapped (or a boot-arena block). */
static inline int pp_heap_chunk(const void *p, size_t *u)
{
    size_t word = ((const size_t *)p)[-1];
    *u = (word & ~(size_t)7) - 8;
    return !(word & 2);
}

/* pp_usable, inline */
static inline size_t pp_usable_fast(void *p)
{
    size_t u;
    if (PP_UNLIKELY(!pp_usable_is_glibc))
        return pp_real.usable(p);
    if (PP_LIKELY(pp_heap_chunk(p, &u)))         /* not mmapped: no shifts */
        return u;
    return pp_glibc_usable(p);
}

#endif
