/* pic_mem FACTS [GATE]: a program with a known memory shape, for the
 * picture tests.  Allocates and touches 48 MiB in 8 blocks (probe
 * "filled"), runs 200 occurrences of the region "work" while counting
 * "items" with perf_counter, frees it all (probe "freed").  With GATE it
 * waits after "filled" until the file GATE exists, so that a live view can
 * be looked at while the program runs.  Writes the usable bytes it held to
 * FACTS. */
#include <malloc.h>
#include <time.h>
#include "perf_probe.h"
#include "util.h"

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    facts_open(argv[1]);
    enum { N = 8, SZ = 6 << 20 };
    char *b[N];
    long long held = 0;
    for (int i = 0; i < N; i++) {
        b[i] = malloc(SZ);
        memset(b[i], i + 1, SZ);
        held += (long long)malloc_usable_size(b[i]);
        nap_ms(15);
    }
    perf_probe("filled");
    fact("held", held);
    if (argc > 2)
        while (access(argv[2], F_OK) != 0)
            nap_ms(20);
    volatile unsigned sum = 0;
    for (int i = 0; i < 200; i++) {
        perf_region_begin("work");
        for (int k = 0; k < 20000 * (1 + i % 5); k++)
            sum += (unsigned)b[k % N][k];
        perf_region_end("work");
        if (i % 20 == 0)
            perf_counter("items", i);
    }
    for (int i = 0; i < N; i++)
        free(b[i]);
    nap_ms(30);
    perf_probe("freed");
    fact("sum", sum);
    return 0;
}
