/*
 * lock.c - the waiting half of the shim's own locks (internal.h), and the
 * futex sleep the sampler thread waits in.
 *
 * The shim cannot use pthread mutexes or condition variables: glibc takes
 * a pthread mutex with a plain store while it believes the process
 * single-threaded, and the shim keeps that belief for a program with one
 * thread of its own (single.c) while its sampler thread takes the same
 * locks.  A futex word with atomic operations is all a lock needs here.
 */
#include "sys/sys.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* One sleep on WORD while it holds SEEN, until a wake-up, a changed word,
 * a signal, or the deadline (CLOCK_MONOTONIC; 0 for none). */
static void futex_sleep(_Atomic int *word, int seen, uint64_t deadline_ns)
{
    struct timespec ts, *at = NULL;
    if (deadline_ns) {
        ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
        ts.tv_nsec = (long)(deadline_ns % 1000000000u);
        at = &ts;
    }
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline */
    syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, seen, at, NULL,
            FUTEX_BITSET_MATCH_ANY);
}

void pp_futex_wait(_Atomic int *word, int seen, uint64_t deadline_ns)
{
    int saved = errno;
    futex_sleep(word, seen, deadline_ns);
    errno = saved;
}

void pp_futex_wake(_Atomic int *word)
{
    int saved = errno;
    syscall(SYS_futex, word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, NULL, NULL, 0);
    errno = saved;
}

/* Mark the lock contended and sleep until it is free; the holder's unlock
 * sees the 2 and wakes a sleeper. */
int pp_lock_wait_until(pp_lock_t *l, uint64_t deadline_ns)
{
    int saved = errno, rc = 0;
    while (atomic_exchange_explicit(&l->v, 2, memory_order_acquire) != 0) {
        if (deadline_ns && pp_now_ns() >= deadline_ns) {
            rc = -1;
            break;
        }
        futex_sleep(&l->v, 2, deadline_ns);
    }
    errno = saved;
    return rc;
}

void pp_lock_wait(pp_lock_t *l)
{
    (void)pp_lock_wait_until(l, 0);
}

void pp_lock_wake(pp_lock_t *l)
{
    int saved = errno;
    syscall(SYS_futex, &l->v, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0);
    errno = saved;
}
