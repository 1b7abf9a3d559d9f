/*
 * manymaps.c - the RSS breakdown's cost on a process with many mappings.
 *
 *   manymaps N PROBES SECONDS
 *
 * Makes N anonymous mappings of 64 KiB (each touched, every other one
 * read-only so that the kernel cannot merge them), times PROBES probes one
 * by one (touching a new page of the heap before each, so that RSS moves
 * and every probe takes a whole breakdown), then sleeps SECONDS and reports the CPU the process used while it
 * slept: the sampler's share of a core.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include "perf_probe.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    int n = atoi(argv[1]), probes = atoi(argv[2]);
    double secs = atof(argv[3]);
    for (int i = 0; i < n; i++) {
        char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return 3;
        memset(p, 1, 65536);
        if (i % 2)
            mprotect(p, 65536, PROT_READ);
    }
    double *t = calloc((size_t)probes, sizeof *t);
    char *fresh = malloc((size_t)probes * 4096 + 4096);
    for (int i = 0; i < probes; i++) {
        fresh[(size_t)i * 4096] = 1;
        double t0 = now_ns();
        perf_probe("p");
        t[i] = now_ns() - t0;
    }
    qsort(t, (size_t)probes, sizeof *t, cmp);
    double c0 = cpu_ns(), w0 = now_ns();
    struct timespec ts = {(time_t)secs, (long)((secs - (time_t)secs) * 1e9)};
    nanosleep(&ts, NULL);
    double c1 = cpu_ns(), w1 = now_ns();
    printf("probe_median_ns %.0f\nsampler_core_share %.5f\n", t[probes / 2], (c1 - c0) / (w1 - w0));
    return 0;
}
