/*
 * region_allocs.c FACTS [EXTRA [SLEEP_US]] - regions whose allocations are
 * known, for the per-region allocation figures.  The program counts what
 * it does itself (blocks, and their sizes as malloc_usable_size reports
 * them) and writes the totals to FACTS as "key value" lines: the ground
 * truth.
 *
 * 500 occurrences of "tick" on the main thread.  Occurrence i allocates
 * 1 + i % 4 blocks of 64 * (1 + i % 3) bytes and frees all but, when
 * i % 5 == 0, the first, which it keeps (net bytes left behind); inside it
 * a nested "parse" allocates 2 blocks of 1000 bytes and frees them.  A
 * second thread runs 100 occurrences of "io", each one block of 4096 bytes
 * freed at once, while the main thread allocates outside any region (which
 * no region may count).  EXTRA adds that many more blocks to each tick (a
 * regression); SLEEP_US sleeps that long in each tick (a timing change).
 */
#define _GNU_SOURCE
#include "util.h"

#include <malloc.h>
#include <perf_probe.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *io_thread(void *arg)
{
    uint64_t *bytes = arg;
    for (int i = 0; i < 100; i++) {
        perf_region_begin("io");
        char *p = malloc(4096);
        p[0] = (char)i;
        *bytes += malloc_usable_size(p);
        free(p);
        perf_region_end("io");
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    int extra = argc > 2 ? atoi(argv[2]) : 0;
    int sleep_us = argc > 3 ? atoi(argv[3]) : 0;
    static void *kept[500];
    int nkept = 0;
    uint64_t calls = 0, bytes = 0, net = 0, inner_bytes = 0, max_calls = 0, max_bytes = 0;
    uint64_t io_bytes = 0;
    pthread_t t;
    pthread_create(&t, NULL, io_thread, &io_bytes);
    for (int i = 0; i < 500; i++) {
        uint64_t c = 0, b = 0;
        perf_region_begin("tick");
        int n = 1 + i % 4 + extra;
        size_t size = 64 * (size_t)(1 + i % 3);
        void *blk[16];
        for (int k = 0; k < n; k++) {
            blk[k] = malloc(size);
            ((char *)blk[k])[0] = 1;
            b += malloc_usable_size(blk[k]);
            c++;
        }
        perf_region_begin("parse");
        void *x = malloc(1000), *y = malloc(1000);
        uint64_t xb = malloc_usable_size(x) + malloc_usable_size(y);
        inner_bytes += xb;
        b += xb;
        c += 2;
        free(x);
        free(y);
        perf_region_end("parse");
        if (sleep_us)
            usleep((useconds_t)sleep_us);
        for (int k = (i % 5 == 0); k < n; k++)
            free(blk[k]);
        if (i % 5 == 0) {
            kept[nkept++] = blk[0];
            net += malloc_usable_size(blk[0]);
        }
        perf_region_end("tick");
        calls += c;
        bytes += b;
        if (c > max_calls) max_calls = c;
        if (b > max_bytes) max_bytes = b;
        /* outside any region: never counted by one */
        test_sink = malloc(300);
        free(test_sink);
    }
    pthread_join(t, NULL);
    FILE *f = fopen(argv[1], "w");
    if (!f)
        return 2;
    fprintf(f, "tick_calls %llu\ntick_bytes %llu\ntick_net %llu\n", (unsigned long long)calls,
            (unsigned long long)bytes, (unsigned long long)net);
    fprintf(f, "tick_max_calls %llu\ntick_max_bytes %llu\n", (unsigned long long)max_calls,
            (unsigned long long)max_bytes);
    fprintf(f, "parse_bytes %llu\nio_bytes %llu\n", (unsigned long long)inner_bytes,
            (unsigned long long)io_bytes);
    fclose(f);
    for (int k = 0; k < nkept; k++)
        free(kept[k]);
    return 0;
}
