/*
 * stacks.c - the threads' stacks, and how much of them is resident.
 *
 * The RSS breakdown (core/parts.c) counts thread stacks as a part of their
 * own.  Linux gives no list of a process's stacks, so each thread leaves
 * an address on its stack when it first allocates (core/counters.c), and
 * this file finds the mapping around each such address in /proc/self/maps
 * and measures it with mincore.
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

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

static uintptr_t hex(const char **p)
{
    uintptr_t v = 0;
    for (;; (*p)++) {
        char c = **p;
        if (c >= '0' && c <= '9')
            v = v * 16 + (uintptr_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v * 16 + (uintptr_t)(c - 'a' + 10);
        else
            return v;
    }
}

/* Stream /proc/self/maps and keep each mapping that holds a hint.  Called
 * with stacks_lock held. */
static void find_stacks(pp_stack_hints_fn hints_of)
{
    static uintptr_t hints[MAX_STACKS];
    static char buf[65536];
    size_t nh = hints_of(hints, MAX_STACKS), found = 0;
    if (nh == 0) {
        n_stacks = 0;
        return;
    }
    sort_uptr(hints, nh);
    int kept = pp_proc_maps_fd();
    int fd = kept >= 0 ? kept : open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    size_t have = 0, h = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = 0;
        char *line = buf, *nl;
        while ((nl = memchr(line, '\n', have - (size_t)(line - buf))) != NULL) {
            const char *p = line;
            uintptr_t start = hex(&p);
            p++;
            uintptr_t end = hex(&p);
            while (h < nh && hints[h] < start)
                h++;
            if (h < nh && hints[h] < end && found < MAX_STACKS) {
                stacks[found].start = start;
                stacks[found].end = end;
                found++;
                while (h < nh && hints[h] < end)
                    h++;
            }
            line = nl + 1;
        }
        have -= (size_t)(line - buf);
        memmove(buf, line, have);
        if (h >= nh)
            break;
    }
    if (fd != kept)
        close(fd);
    n_stacks = found;
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
