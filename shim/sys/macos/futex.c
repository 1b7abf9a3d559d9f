/*
 * futex.c - sleeping on a word and waking its sleepers, on macOS.
 *
 * macOS has no futex system call; libSystem's __ulock_wait and __ulock_wake
 * are the same thing (a compare-and-wait on a 32-bit word, woken by its
 * address), exported by libsystem_kernel and used by libc++ and
 * os_unfair_lock themselves.  They are declared here because no public
 * header does (os_sync_wait_on_address is their public form, but only from
 * macOS 14.4 on, and the shim loads into programs for macOS 11 and later).
 */
#include "sys/sys.h"

#include <errno.h>

#define UL_COMPARE_AND_WAIT 1
#define ULF_WAKE_ALL        0x00000100

extern int __ulock_wait(uint32_t operation, void *addr, uint64_t value, uint32_t timeout_us);
extern int __ulock_wake(uint32_t operation, void *addr, uint64_t wake_value);

/* Sleep while *WORD == SEEN, until DEADLINE_NS (pp_now_ns's clock) at most:
 * __ulock_wait takes a relative timeout in microseconds, 0 for none. */
void pp_futex_wait(_Atomic int *word, int seen, uint64_t deadline_ns)
{
    uint32_t us = 0;
    if (deadline_ns) {
        uint64_t now = pp_now_ns();
        if (now >= deadline_ns)
            return;
        uint64_t left = (deadline_ns - now) / 1000 + 1;
        us = left > 0xffffffffu ? 0xffffffffu : (uint32_t)left;
    }
    int saved = errno;
    __ulock_wait(UL_COMPARE_AND_WAIT, (void *)word, (uint64_t)(uint32_t)seen, us);
    errno = saved;
}

void pp_futex_wake(_Atomic int *word)
{
    int saved = errno;
    __ulock_wake(UL_COMPARE_AND_WAIT | ULF_WAKE_ALL, (void *)word, 0);
    errno = saved;
}

void pp_futex_wake_one(_Atomic int *word)
{
    int saved = errno;
    __ulock_wake(UL_COMPARE_AND_WAIT, (void *)word, 0);
    errno = saved;
}
