/* pic_scale N: N items, each one occurrence of the region "item" with a
 * nested "item/parse", each allocating and keeping 100 bytes: a workload
 * whose size is its argument, for `perfprobe scale`. */
#include <stdlib.h>
#include "perf_probe.h"

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    long n = atol(argv[1]);
    char **keep = malloc((size_t)(n > 0 ? n : 1) * sizeof *keep);
    volatile unsigned sum = 0;
    for (long i = 0; i < n; i++) {
        perf_region_begin("item");
        perf_region_begin("parse");
        for (int k = 0; k < 200; k++)
            sum += (unsigned)(k * i);
        perf_region_end("parse");
        keep[i] = malloc(100);
        keep[i][0] = (char)sum;
        perf_region_end("item");
    }
    return keep[n > 0 ? n - 1 : 0] == NULL && n > 0;
}
