/*
 * stacks.c - the threads' stacks, and how much of them is resident.
 *
 * The RSS breakdown (core/parts.c) counts thread stacks as a part of their
 * own.  Linux gives no list of a process's stacks, so each thread leaves
 * an address on its stack when it first allocates (core/counters.c), and
 * this file finds the mapping around each such address (maps.c) and
 * measures it with mincore.
 */
#define _GNU_SOURCE
#include "sys/sys.h"


/* Threads' stacks.  Each thread leaves one address on its stack in its
 * counter slot (counters.c) when it first allocates; a full breakdown,
 * on the sampler thread, finds the mapping around each such address in
 * /proc/self/maps and remembers the ranges for the quick breakdowns. */
#define MAX_STACKS 4096

static struct { uintptr_t start, end; } stacks[MAX_STACKS];
static size_t n_stacks;
static pp_lock_t stacks_lock = PP_LOCK_INIT;

/* Shell sort: qsort may call malloc, and the sampler stays off the
 * program's heap (a thread that allocates gets an arena of its own). */
static void sort_uptr(uintptr_t *v, size_t n)
{
    for (size_t gap = n / 2; gap > 0; gap /= 2)
        for (size_t i = gap; i < n; i++) {
            uintptr_t x = v[i];
            size_t j = i;
            for (; j >= gap && v[j - gap] > x; j -= gap)
                v[j] = v[j - gap];
            v[j] = x;
        }
}

/* the hints, sorted, against the mappings in address order */
struct finding {
    const uintptr_t *hints;
    size_t nh, h, found;
};

static int keep_stack(uintptr_t start, uintptr_t end, int main_stack, void *arg)
{
    struct finding *f = arg;
    (void)main_stack;
    while (f->h < f->nh && f->hints[f->h] < start)
        f->h++;
    if (f->h < f->nh && f->hints[f->h] < end && f->found < MAX_STACKS) {
        stacks[f->found].start = start;
        stacks[f->found].end = end;
        f->found++;
        while (f->h < f->nh && f->hints[f->h] < end)
            f->h++;
    }
    return f->h >= f->nh;            /* every hint placed: stop */
}

/* Keep each mapping that holds a hint.  Called with stacks_lock held. */
static void find_stacks(pp_stack_hints_fn hints_of)
{
    static uintptr_t hints[MAX_STACKS];
    size_t nh = hints_of(hints, MAX_STACKS);
    if (nh == 0) {
        n_stacks = 0;
        return;
    }
    sort_uptr(hints, nh);
    struct finding f = {hints, nh, 0, 0};
    if (pp_os_mappings(1, keep_stack, &f) == 0)
        n_stacks = f.found;
}

void pp_stacks_after_fork_child(void)
{
    pp_lock_reset(&stacks_lock);
    n_stacks = 0;
}

uint64_t pp_stacks_resident(int quick, uint64_t gen, pp_stack_hints_fn hints_of)
{
    static uint64_t seen_generation;
    uint64_t total = pp_os_resident_main_stack(quick);
    /* a quick look trusts the ranges found last, unless threads came; the
     * look and the search are one step under the lock, so that a probe
     * never counts the ranges while the sampler is still finding the new
     * thread's (it read a stack part of 0 that way) */
    pp_lock(&stacks_lock);
    if (!quick || seen_generation != gen) {
        find_stacks(hints_of);
        seen_generation = gen;
    }
    for (size_t i = 0; i < n_stacks; i++)
        total += pp_os_resident(stacks[i].start, stacks[i].end - stacks[i].start);
    pp_unlock(&stacks_lock);
    return total;
}
