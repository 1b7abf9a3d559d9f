/*
 * lock.h - the shim's own locks: the taking half, inline, over lock.c's
 * waiting half; and the try-lock the shim's walks of the loader's list take.
 * Included by sys.h, which every file of the shim includes.
 */
#ifndef PP_SYS_LOCK_H
#define PP_SYS_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

/* Not pthread mutexes: glibc locks those without an atomic instruction
 * while it believes the process single-threaded, which the shim makes it
 * believe while the program has one thread (single.c) although the sampler
 * thread takes these locks too.  0 free, 1 held, 2 held with waiters. */
typedef struct { _Atomic int v; } pp_lock_t;
#define PP_LOCK_INIT {0}
void pp_lock_wait(pp_lock_t *l);
int  pp_lock_wait_until(pp_lock_t *l, uint64_t deadline_ns);  /* CLOCK_MONOTONIC */
void pp_lock_wake(pp_lock_t *l);
static inline int pp_trylock(pp_lock_t *l)    /* 0 when taken */
{
    int free_ = 0;
    return !atomic_compare_exchange_strong_explicit(&l->v, &free_, 1, memory_order_acquire,
                                                     memory_order_relaxed);
}
static inline void pp_lock(pp_lock_t *l)
{
    if (pp_trylock(l))
        pp_lock_wait(l);
}
/* 0 when taken before DEADLINE_NS (pp_now_ns's clock), else -1 */
static inline int pp_lock_until(pp_lock_t *l, uint64_t deadline_ns)
{
    return pp_trylock(l) ? pp_lock_wait_until(l, deadline_ns) : 0;
}
/* The try-lock every walk of the loader's list by the shim takes while the
 * program runs (dl_iterate_phdr holds the loader's write lock, which glibc
 * leaves held in a forked child: a fork waits for a walk, modules.c);
 * 0: not now, the caller does without; pp_loader_walk_wait waits for it
 * NS at most (1: taken) */
int  pp_loader_walk_try(void);
int  pp_loader_walk_wait(uint64_t ns);
void pp_loader_walk_done(void);
static inline void pp_unlock(pp_lock_t *l)
{
    if (atomic_exchange_explicit(&l->v, 0, memory_order_release) == 2)
        pp_lock_wake(l);
}
/* In a forked child: free, whoever held it in the parent */
static inline void pp_lock_reset(pp_lock_t *l)
{
    atomic_store_explicit(&l->v, 0, memory_order_relaxed);
}

#endif
