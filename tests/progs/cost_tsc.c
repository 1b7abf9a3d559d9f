/* cost_tsc OUT N MS: N occurrences of region "spin", each spinning until
 * CLOCK_MONOTONIC has moved MS milliseconds (plus i x 0.1 ms, so that they
 * differ), timed by the program itself around perf_region_begin/end and
 * between them.
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
    long long total = 0, lo = -1, hi = 0, in_total = 0, in_lo = -1, in_hi = 0;
    for (long i = 0; i < n; i++) {
        long long want = ms * 1000000ll + i * 100000ll;
        long long t0 = now_ns();
        perf_region_begin("spin");
        long long t1 = now_ns();
        while (now_ns() - t0 < want)
            ;
        long long t2 = now_ns();
        perf_region_end("spin");
        long long d = now_ns() - t0, in = t2 - t1;
        total += d;
        in_total += in;
        if (lo < 0 || d < lo)
            lo = d;
        if (d > hi)
            hi = d;
        if (in_lo < 0 || in < in_lo)
            in_lo = in;
        if (in > in_hi)
            in_hi = in;
    }
    /* around the calls (never shorter than the region) and between them
     * (never longer): the first call's own set-up lies between the two */
    fact("total_ns", total);
    fact("min_ns", lo);
    fact("max_ns", hi);
    fact("in_total_ns", in_total);
    fact("in_min_ns", in_lo);
    fact("in_max_ns", in_hi);
    return 0;
}
