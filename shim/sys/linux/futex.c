/*
 * futex.c - sleeping on a word and waking its sleepers, on Linux: the
 * futex system call.  The shim's locks (sys/lock.c) and the sampler's
 * sleep are built on these three functions.
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
void pp_futex_wait(_Atomic int *word, int seen, uint64_t deadline_ns)
{
    int saved = errno;
    struct timespec ts, *at = NULL;
    if (deadline_ns) {
        ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
        ts.tv_nsec = (long)(deadline_ns % 1000000000u);
        at = &ts;
    }
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline */
    syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, seen, at, NULL,
            FUTEX_BITSET_MATCH_ANY);
    errno = saved;
}

static void wake(_Atomic int *word, int n)
{
    int saved = errno;
    syscall(SYS_futex, word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
    errno = saved;
}

void pp_futex_wake(_Atomic int *word)
{
    wake(word, INT_MAX);
}

void pp_futex_wake_one(_Atomic int *word)
{
    wake(word, 1);
}
