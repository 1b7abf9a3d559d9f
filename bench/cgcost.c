/*
 * cgcost.c - what the sampler's cgroup reads cost a sample, measured in
 * the cgroup the program runs in (run it inside one with a memory limit):
 *
 *   cgcost N    mean ns of N calls of pp_cgroup_memory (the usage, one
 *               pread of a kept descriptor; the levels every 100th call),
 *               then of N calls of it followed by pp_cgroup_counts (the
 *               counts' files: one pread each of their kept descriptors)
 *
 * Prints "key value" lines; "limit 0" when there is no limit to watch (the
 * figures then measure nothing).  cgroup.c is included whole, as the unit
 * test does.
 */
#include "sys/linux/cgroup.c"

#include <stdio.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    uint64_t lim = 0, cur = 0;
    struct pp_cgroup_counts c;
    memset(&c, 0, sizeof c);
    pp_cgroup_memory(&lim, &cur);
    int known = pp_cgroup_counts(&c) ? (int)c.known : 0;
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        pp_cgroup_memory(&lim, &cur);
    double t1 = now_ns();
    for (long i = 0; i < n; i++) {
        pp_cgroup_memory(&lim, &cur);
        pp_cgroup_counts(&c);
    }
    double t2 = now_ns();
    printf("limit %llu\ncounts_known %d\n", (unsigned long long)lim, known);
    for (int i = 0; i < PP_CG_COUNTS; i++)
        if (known & (1 << i))
            printf("count %s %llu\n", c.name[i], (unsigned long long)c.count[i]);
    printf("memory_ns %.0f\nmemory_and_counts_ns %.0f\ncounts_ns %.0f\n", (t1 - t0) / (double)n,
           (t2 - t1) / (double)n, (t2 - t1 - (t1 - t0)) / (double)n);
    return 0;
}
