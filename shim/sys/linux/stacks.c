/*
 * stacks.c - the threads' stacks on Linux: the mappings (maps.c) that hold
 * the addresses each thread left on its stack (sys/stacks.c keeps and
 * measures them).
 */
#define _GNU_SOURCE
#include "sys/sys.h"

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
    struct pp_range *out;
    size_t cap;
};

static int keep_stack(uintptr_t start, uintptr_t end, int main_stack, void *arg)
{
    struct finding *f = arg;
    (void)main_stack;
    while (f->h < f->nh && f->hints[f->h] < start)
        f->h++;
    if (f->h < f->nh && f->hints[f->h] < end && f->found < f->cap) {
        f->out[f->found].start = start;
        f->out[f->found].end = end;
        f->found++;
        while (f->h < f->nh && f->hints[f->h] < end)
            f->h++;
    }
    return f->h >= f->nh;            /* every hint placed: stop */
}

long pp_stacks_find(uintptr_t *hints, size_t nh, struct pp_range *out, size_t cap)
{
    sort_uptr(hints, nh);
    struct finding f = {hints, nh, 0, 0, out, cap};
    return pp_os_mappings(1, keep_stack, &f) == 0 ? (long)f.found : -1;
}
