/*
 * gate_cpu.c FACTS - known CPU use and heap over time, for the derived
 * summary keys (cpu_pct_mean, cpu_pct_max, avg_heap_bytes).  Spins for 2 s
 * (one core), then holds 64 MiB of heap for 1 s, then idles 0.5 s; writes
 * its own view: the CPU share of the spin and how long the 64 MiB were
 * held (malloc to free) and resident (touched to free).
 */
#include "util.h"

#include <time.h>

static long long ns(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void nap(long long d)
{
    struct timespec t = {(time_t)(d / 1000000000LL), (long)(d % 1000000000LL)};
    while (nanosleep(&t, &t) != 0)
        ;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    facts_open(argv[1]);
    long long w0 = ns(CLOCK_MONOTONIC), c0 = ns(CLOCK_PROCESS_CPUTIME_ID);
    volatile unsigned long spin = 0;
    while (ns(CLOCK_MONOTONIC) - w0 < 2000000000LL)
        spin++;
    long long w1 = ns(CLOCK_MONOTONIC), c1 = ns(CLOCK_PROCESS_CPUTIME_ID);
    fact("spin_pct_x100", (c1 - c0) * 10000 / (w1 - w0));
    long long h0 = ns(CLOCK_MONOTONIC);
    char *p = malloc(64 << 20);
    memset(p, 1, 64 << 20);
    test_sink = p;
    long long touched = ns(CLOCK_MONOTONIC);
    nap(1000000000LL);
    free(p);
    long long h1 = ns(CLOCK_MONOTONIC);
    nap(500000000LL);
    fact("held_ns", h1 - h0);
    fact("touched_ns", h1 - touched);
    return 0;
}
