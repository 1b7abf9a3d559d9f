/*
 * probecost.c - what the probe API costs, measured by the program itself.
 *
 *   probecost probe N     median and p90 of N perf_probe calls, each timed
 *   probecost region N    mean cost of a begin+end pair over N pairs
 *
 * Prints "key value" lines; bench.py runs it with and without the shim.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "perf_probe.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    long n = atol(argv[2]);
    if (strcmp(argv[1], "probe") == 0) {
        double *t = malloc((size_t)n * sizeof *t);
        for (long i = 0; i < n; i++) {
            double t0 = now_ns();
            perf_probe("step");
            t[i] = now_ns() - t0;
        }
        qsort(t, (size_t)n, sizeof *t, cmp);
        printf("probe_median_ns %.0f\nprobe_p90_ns %.0f\n", t[n / 2], t[n * 9 / 10]);
        free(t);
    } else {
        /* best of 5 batches: the floor is the cost, the rest is the machine */
        double best = 1e30;
        for (int k = 0; k < 5; k++) {
            double t0 = now_ns();
            for (long i = 0; i < n / 5; i++) {
                perf_region_begin("tick");
                perf_region_end("tick");
            }
            double per = (now_ns() - t0) / (double)(n / 5);
            if (per < best)
                best = per;
        }
        printf("region_pair_ns %.2f\n", best);
    }
    return 0;
}
