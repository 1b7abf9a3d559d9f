/*
 * lock.c - the waiting half of the shim's own locks (sys.h), on any system
 * that can sleep on a word (sys/<system>/futex.c), and the try-lock the
 * shim's walks of the loader's list take (modules.c says why).
 *
 * The shim cannot use pthread mutexes or condition variables: glibc takes
 * a pthread mutex with a plain store while it believes the process
 * single-threaded, and the shim keeps that belief for a program with one
 * thread of its own (linux/single.c) while its sampler thread takes the
 * same locks.  A word with atomic operations is all a lock needs here.
 */
#include "sys/lock.h"
#include "sys/sys.h"

static pp_lock_t loader_walk = PP_LOCK_INIT;

int pp_loader_walk_try(void)
{
    return pp_trylock(&loader_walk) == 0;
}

int pp_loader_walk_wait(uint64_t ns)
{
    return pp_lock_until(&loader_walk, pp_now_ns() + ns) == 0;
}

void pp_loader_walk_done(void)
{
    pp_unlock(&loader_walk);
}

/* Mark the lock contended and sleep until it is free; the holder's unlock
 * sees the 2 and wakes a sleeper. */
int pp_lock_wait_until(pp_lock_t *l, uint64_t deadline_ns)
{
    while (atomic_exchange_explicit(&l->v, 2, memory_order_acquire) != 0) {
        if (deadline_ns && pp_now_ns() >= deadline_ns)
            return -1;
        pp_futex_wait(&l->v, 2, deadline_ns);
    }
    return 0;
}

void pp_lock_wait(pp_lock_t *l)
{
    (void)pp_lock_wait_until(l, 0);
}

void pp_lock_wake(pp_lock_t *l)
{
    pp_futex_wake_one(&l->v);
}
