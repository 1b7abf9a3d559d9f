/* cost_tsc OUT N MS: N occurrences of region "spin", each spinning until
 * CLOCK_MONOTONIC has moved MS milliseconds (plus i x 0.1 ms, so that they
 * differ), timed by the program itself around perf_region_begin/end.
 * Reports the sum, the shortest and the longest, in nanoseconds: region
 * timings taken with the TSC must agree with CLOCK_MONOTONIC. */
#include <time.h>
#include "perf_probe.h"
#include "util.h"

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    facts_open(argv[1]);
    long n = atol(argv[2]), ms = atol(argv[3]);
    long long total = 0, lo = -1, hi = 0;
    for (long i = 0; i < n; i++) {
        long long want = ms * 1000000ll + i * 100000ll;
        long long t0 = now_ns();
        perf_region_begin("spin");
        while (now_ns() - t0 < want)
            ;
        perf_region_end("spin");
        long long d = now_ns() - t0;
        total += d;
        if (lo < 0 || d < lo)
            lo = d;
        if (d > hi)
            hi = d;
    }
    fact("total_ns", total);
    fact("min_ns", lo);
    fact("max_ns", hi);
    return 0;
}
