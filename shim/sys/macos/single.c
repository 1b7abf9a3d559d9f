/*
 * single.c - glibc's single-threaded shortcuts, which macOS does not have.
 *
 * On Linux the shim keeps glibc believing a one-threaded program is
 * single-threaded beside the sampler thread (linux/single.c).  libSystem's
 * allocator and locks take no such shortcut, so on macOS there is nothing
 * to keep: these answer "nothing was changed" and the sampler's nested
 * allocations go to the allocator as any thread's do.
 */
#include "sys/sys.h"

int pp_single_before_create(int glibc_allocator)
{
    (void)glibc_allocator;
    return 0;
}

void pp_single_after_create(int was_single, int created)
{
    (void)was_single;
    (void)created;
}

int pp_single_end(void)
{
    return 0;
}

void pp_single_restore(int ended)
{
    (void)ended;
}

void pp_single_mark_sampler(int on)
{
    (void)on;
}

int pp_single_may_lock(void)
{
    return 1;
}

int pp_single_served_aside(void)
{
    return 0;
}

uint64_t pp_single_aside_count(void)
{
    return 0;
}
