/*
 * region_peak.c FACTS MODE [EXTRA] - regions whose highest live heap is
 * known, for the per-region peak figures.  The program follows its own
 * blocks (their sizes as malloc_usable_size reports them) and, for each
 * open region, the highest its live bytes reached above where the region
 * began; it writes the results to FACTS as "key value" lines: the ground
 * truth.
 *
 * 200 occurrences of "tick" on the main thread.  Occurrence k allocates
 * 1 + k % 10 blocks of 1000 bytes; inside it a nested "inner" allocates
 * 1 + k % 7 blocks of 3000 bytes, frees every other one and allocates one
 * of 500; back in "tick", half of its own 1000-byte blocks are freed and
 * 1 + k % 5 blocks of 2000 allocated.  Everything is freed before the end
 * but, when k % 4 == 0, the last 2000-byte block, which "drain" frees
 * after the loop (a region that only frees: its peak is 0).  "idle"
 * allocates nothing; "outer" allocates 20000 bytes and frees them, then
 * 3000 and, in a nested "lost" that is never ended, 7000 more: outer's
 * peak is the 20000 from before "lost" began.
 * Outside any region the main thread allocates and
 * frees 5000 bytes after each tick.
 *
 * MODE threads: a second thread allocates and frees blocks of 100 KB
 * outside any region all through the ticks (no region may count them).
 * MODE single: no other thread; then "top" allocates 1 MiB in 64 KiB
 * blocks and 100 bytes more, frees it all, and "idle" follows: the run's
 * peak heap is reached inside "top" and must survive the next begin.
 * MODE plain: as single, with every region call left out (the same
 * allocations: the same peak heap).
 * EXTRA (1): each tick also allocates 4000 bytes at its highest point and
 * frees them at once (a regression of its peak, not of its net bytes).
 */
#define _GNU_SOURCE
#include "util.h"

#include <malloc.h>
#include <perf_probe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICKS 200

static int use_regions = 1;
static atomic_int stop, started;

/* the main thread's own live bytes, and per open region where it began and
 * the highest it has reached */
static int64_t live;
struct open { int64_t begin, high; };
static struct open *stack[4];
static int depth;

static void begin(const char *name, struct open *o)
{
    if (use_regions)
        perf_region_begin(name);
    o->begin = o->high = live;
    stack[depth++] = o;
}

static int64_t end(const char *name)
{
    struct open *o = stack[--depth];
    if (use_regions)
        perf_region_end(name);
    return o->high - o->begin;
}

static void *get(size_t n)
{
    char *p = malloc(n);
    if (!p)
        exit(3);
    p[0] = 1;
    live += (int64_t)malloc_usable_size(p);
    for (int i = 0; i < depth; i++)
        if (live > stack[i]->high)
            stack[i]->high = live;
    return p;
}

static void put(void *p)
{
    live -= (int64_t)malloc_usable_size(p);
    free(p);
}

static void *outsider(void *arg)
{
    (void)arg;
    atomic_store(&started, 1);
    unsigned n = 0;
    while (!atomic_load(&stop) || n < 1000) {
        char *p = malloc(100000);
        p[0] = (char)n++;
        test_sink = p;
        free(p);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *mode = argv[2];
    int extra = argc > 3 ? atoi(argv[3]) : 0;
    int threads = !strcmp(mode, "threads");
    use_regions = strcmp(mode, "plain") != 0;
    FILE *f = fopen(argv[1], "w");
    if (!f)
        return 2;
    pthread_t t;
    if (threads) {
        pthread_create(&t, NULL, outsider, NULL);
        while (!atomic_load(&started))
            ;
    }
    static void *kept[TICKS];
    static int64_t tick_peak[TICKS], inner_peak[TICKS];
    int nkept = 0;
    for (int k = 0; k < TICKS; k++) {
        struct open tk, in;
        void *a[10], *b[7], *c[5], *d;
        int na = 1 + k % 10, nb = 1 + k % 7, nc = 1 + k % 5;
        begin("tick", &tk);
        for (int i = 0; i < na; i++)
            a[i] = get(1000);
        begin("inner", &in);
        for (int i = 0; i < nb; i++)
            b[i] = get(3000);
        for (int i = 0; i < nb; i += 2)
            put(b[i]);
        d = get(500);
        inner_peak[k] = end("inner");
        for (int i = 0; i < na; i += 2)
            put(a[i]);
        for (int i = 0; i < nc; i++)
            c[i] = get(2000);
        if (extra)
            put(get(4000));
        for (int i = 1; i < na; i += 2)
            put(a[i]);
        for (int i = 1; i < nb; i += 2)
            put(b[i]);
        put(d);
        for (int i = 0; i < nc - 1; i++)
            put(c[i]);
        if (k % 4 == 0)
            kept[nkept++] = c[nc - 1];
        else
            put(c[nc - 1]);
        tick_peak[k] = end("tick");
        /* outside any region (through a local: the other thread writes
         * the shared sink too, and freeing what it holds could free that
         * thread's block) */
        void *out = malloc(5000);
        test_sink = out;
        free(out);
    }
    if (threads) {
        atomic_store(&stop, 1);
        pthread_join(t, NULL);
    }
    struct open dr, id;
    begin("drain", &dr);
    for (int i = 0; i < nkept; i++)
        put(kept[i]);
    int64_t drain_peak = end("drain");
    int64_t top_peak = 0;
    if (!threads) {
        struct open tp;
        void *m[17];
        begin("top", &tp);
        for (int i = 0; i < 16; i++)
            m[i] = get(65536);
        m[16] = get(100);
        for (int i = 0; i < 17; i++)
            put(m[i]);
        top_peak = end("top");
    }
    begin("idle", &id);
    int64_t idle_peak = end("idle");
    /* "outer" ends with "lost", nested in it, never ended: lost's highest
     * still counts in outer's */
    struct open ou, lo;
    begin("outer", &ou);
    put(get(20000));
    void *o1 = get(3000);
    begin("lost", &lo);
    put(get(7000));
    put(o1);
    depth--;                             /* "lost" is dropped, not ended */
    int64_t outer_peak = end("outer");

    int64_t tsum = 0, tmax = 0, isum = 0, imax = 0;
    for (int k = 0; k < TICKS; k++) {
        tsum += tick_peak[k];
        isum += inner_peak[k];
        if (tick_peak[k] > tmax) tmax = tick_peak[k];
        if (inner_peak[k] > imax) imax = inner_peak[k];
        fprintf(f, "tick_peak_%d %lld\ninner_peak_%d %lld\n", k, (long long)tick_peak[k], k,
                (long long)inner_peak[k]);
    }
    fprintf(f, "ticks %d\ntick_peak_sum %lld\ntick_peak_max %lld\n", TICKS, (long long)tsum,
            (long long)tmax);
    fprintf(f, "inner_peak_sum %lld\ninner_peak_max %lld\n", (long long)isum, (long long)imax);
    fprintf(f, "drain_peak %lld\nidle_peak %lld\ntop_peak %lld\nouter_peak %lld\n",
            (long long)drain_peak, (long long)idle_peak, (long long)top_peak,
            (long long)outer_peak);
    fclose(f);
    return 0;
}
