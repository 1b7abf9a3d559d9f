/*
 * sites.h - the allocation sites' fast path (sites.c), for the allocator
 * hooks: one thread-local subtraction per allocation and one load per
 * free, and a call into sites.c only for a block that is sampled or
 * tracked.
 *
 * A header of its own because these inline pieces read sites.c's own
 * variables (pp_site_tracked, pp_site_filter): only the files that count
 * blocks include it (hooks/alloc.c, sites.c), and core.h stays a list of
 * declarations (its pp_track_* are the same functions out of line).
 */
#ifndef PP_CORE_SITES_H
#define PP_CORE_SITES_H

#include "core/core.h"

#define pp_site_countdown (pp_hot.countdown)
/* sample: live tracked blocks (0: a free need not look); all: always 1 */
extern _Atomic uint64_t pp_site_tracked;
/* P was sampled: unwind, count and remember it (raises the hook flag
 * itself); returns P */
void *pp_site_sampled(void *p, size_t usable);
void pp_site_untrack(void *p, size_t usable);
/* In a hook, after the real allocator returned block P of USABLE bytes:
 * one thread-local subtraction unless the block is sampled. */
static inline void pp_site_alloc(void *p, size_t usable)
{
    if (PP_UNLIKELY((pp_site_countdown -= (int64_t)usable) < 0))
        pp_site_sampled(p, usable);
}
/* In a hook, before the real allocator frees P: one load unless blocks
 * are tracked. */
#define PP_SITE_FILTER_BITS 16
extern _Atomic uint16_t *pp_site_filter;     /* sample mode: tracked blocks by hash */
static inline size_t pp_site_filter_index(uintptr_t p)
{
    return (size_t)(((p >> 4) * 0x9e3779b97f4a7c15ull) >> (64 - PP_SITE_FILTER_BITS));
}
static inline int pp_site_free_wanted(void *p)
{
    if (PP_LIKELY(atomic_load_explicit(&pp_site_tracked, memory_order_relaxed) == 0))
        return 0;
    _Atomic uint16_t *f = pp_site_filter;
    return !f || atomic_load_explicit(&f[pp_site_filter_index((uintptr_t)p)],
                                      memory_order_relaxed) != 0;
}
static inline void pp_site_free(void *p, size_t usable)
{
    if (PP_UNLIKELY(pp_site_free_wanted(p)))
        pp_site_untrack(p, usable);
}

/* The inline forms of pp_track_alloc, pp_track_free and pp_track_realloc
 * (core.h), for the allocator hooks: the counters, then the fast path
 * above. */
static inline void pp_track_alloc_fast(void *p, size_t usable)
{
    pp_count_alloc(usable);
    pp_site_alloc(p, usable);
}
static inline void pp_track_free_fast(void *p, size_t usable)
{
    pp_count_free(usable);
    pp_site_free(p, usable);
}
/* realloc: the old block was pp_site_free'd before the call */
static inline void pp_track_realloc_fast(void *q, size_t old_usable, size_t new_usable)
{
    pp_count_realloc(old_usable, new_usable);
    pp_site_alloc(q, new_usable);
}

#endif
