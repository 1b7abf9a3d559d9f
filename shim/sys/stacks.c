/*
 * stacks.c - the threads' stacks, and how much of them is resident.
 *
 * The RSS breakdown (core/parts.c) counts thread stacks as a part of their
 * own.  Neither Linux nor macOS lists a process's stacks, so each thread
 * leaves an address on its stack when it first allocates
 * (core/counters.c); each system finds the mapping around each such
 * address (pp_stacks_find: /proc/self/maps on Linux, vm_region_64 on
 * macOS), and this file remembers the ranges for the quick breakdowns and
 * measures them with mincore.
 */
#include "sys/sys.h"

#define MAX_STACKS 4096

static struct pp_range stacks[MAX_STACKS];
static size_t n_stacks;
static pp_lock_t stacks_lock = PP_LOCK_INIT;

void pp_stacks_after_fork_child(void)
{
    pp_lock_reset(&stacks_lock);
    n_stacks = 0;
}

uint64_t pp_stacks_resident(int quick, uint64_t gen, pp_stack_hints_fn hints_of)
{
    static uint64_t seen_generation;
    static uintptr_t hints[MAX_STACKS];
    uint64_t total = pp_os_resident_main_stack(quick);
    /* a quick look trusts the ranges found last, unless threads came; the
     * look and the search are one step under the lock, so that a probe
     * never counts the ranges while the sampler is still finding the new
     * thread's (it read a stack part of 0 that way) */
    pp_lock(&stacks_lock);
    if (!quick || seen_generation != gen) {
        size_t nh = hints_of(hints, MAX_STACKS);
        long found = nh ? pp_stacks_find(hints, nh, stacks, MAX_STACKS) : 0;
        if (found >= 0)              /* else the ranges found last */
            n_stacks = (size_t)found;
        seen_generation = gen;
    }
    for (size_t i = 0; i < n_stacks; i++)
        total += pp_os_resident(stacks[i].start, stacks[i].end - stacks[i].start);
    pp_unlock(&stacks_lock);
    return total;
}
