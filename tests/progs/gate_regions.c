/*
 * gate_regions.c FACTS MODE - regions whose latencies and counts are known,
 * for the region-window tests.  Every occurrence is also timed by the
 * program itself (CLOCK_MONOTONIC around begin/end), and the figures are
 * written to FACTS as "key value" lines: the ground truth.
 *
 *   phases  probe "phase_a", 200 ticks of ~1 ms, probe "phase_b", 100 ticks
 *           of ~3 ms on a second thread with three deliberately slow ones
 *           (20, 30 and 40 ms), probe "end"; 300 ms without regions around
 *           every probe, so no window holds occurrences of two phases.  The
 *           three slowest occurrences as the program timed them (on a busy
 *           machine a 1 ms sleep may be among them) are facts too.
 *   names   one snprintf buffer reused for "stage0".."stage3", stage K
 *           begun K+1 times
 *   killed  200 ticks of ~1 ms, then "ready" on stdout and sleep until killed
 */
#define _GNU_SOURCE
#include "util.h"

#include <perf_probe.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sleep_ns(long long ns)
{
    struct timespec t = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    while (nanosleep(&t, &t) != 0)
        ;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* every occurrence as the program saw it: when it began (since the probe
 * "phase_a"), how long it took, on which thread */
struct occ { long long at, dur; long tid; };
static struct occ occs[300];
static int n_occs;
static long long t_phase_a;

/* N ticks of the region "tick", the i-th sleeping durs(i) ns.  Each is
 * timed twice by the program: from before perf_region_begin to after
 * perf_region_end (OUT: never shorter than the shim's measure) and from
 * after begin to before end (IN: never longer), so that a preemption just
 * outside or just inside the region cannot make a check flaky. */
static void ticks(int n, long long (*durs)(int), long long *out, long long *in)
{
    long tid = syscall(SYS_gettid);
    for (int i = 0; i < n; i++) {
        long long t0 = now_ns();
        perf_region_begin("tick");
        long long t1 = now_ns();
        sleep_ns(durs(i));
        long long t2 = now_ns();
        perf_region_end("tick");
        out[i] = now_ns() - t0;
        in[i] = t2 - t1;
        if (n_occs < 300)
            occs[n_occs++] = (struct occ){t0 - t_phase_a, out[i], tid};
    }
}

static int slower(const void *a, const void *b)
{
    const struct occ *x = a, *y = b;
    return (x->dur < y->dur) - (x->dur > y->dur);
}

/* facts PREFIX_count, _min, _p50, _max, _total from the program's own timings */
static void summarise(const char *prefix, long long *d, int n)
{
    char k[64];
    long long total = 0;
    for (int i = 0; i < n; i++)
        total += d[i];
    qsort(d, (size_t)n, sizeof *d, cmp_ll);
    snprintf(k, sizeof k, "%s_count", prefix), fact(k, n);
    snprintf(k, sizeof k, "%s_min", prefix), fact(k, d[0]);
    snprintf(k, sizeof k, "%s_p50", prefix), fact(k, d[(n + 1) / 2 - 1]);
    snprintf(k, sizeof k, "%s_max", prefix), fact(k, d[n - 1]);
    snprintf(k, sizeof k, "%s_total", prefix), fact(k, total);
}

static long long one_ms(int i) { (void)i; return 1000000; }

/* 3 ms, except three slow ones of 20, 30 and 40 ms */
static long long three_ms(int i)
{
    return i == 10 ? 20000000 : i == 50 ? 40000000 : i == 90 ? 30000000 : 3000000;
}

static long long b_durs[100], b_in[100];

static void *phase_b(void *arg)
{
    (void)arg;
    fact("b_thread", syscall(SYS_gettid));
    ticks(100, three_ms, b_durs, b_in);
    return NULL;
}

int main(int argc, char **argv)
{
    static long long a[200], a_in[200];
    if (argc < 3)
        return 2;
    facts_open(argv[1]);
    if (!strcmp(argv[2], "phases")) {
        sleep_ns(300000000);
        t_phase_a = now_ns();
        perf_probe("phase_a");
        sleep_ns(300000000);
        ticks(200, one_ms, a, a_in);
        summarise("a", a, 200);
        summarise("a_in", a_in, 200);
        sleep_ns(300000000);
        perf_probe("phase_b");
        sleep_ns(300000000);
        pthread_t t;
        pthread_create(&t, NULL, phase_b, NULL);
        pthread_join(t, NULL);
        summarise("b", b_durs, 100);
        summarise("b_in", b_in, 100);
        qsort(occs, (size_t)n_occs, sizeof *occs, slower);
        static const char *const k[3][3] = {{"slow1_ns", "slow1_tid", "slow1_at"},
                                            {"slow2_ns", "slow2_tid", "slow2_at"},
                                            {"slow3_ns", "slow3_tid", "slow3_at"}};
        for (int i = 0; i < 3; i++) {
            fact(k[i][0], occs[i].dur);
            fact(k[i][1], occs[i].tid);
            fact(k[i][2], occs[i].at);
        }
        sleep_ns(300000000);
        perf_probe("end");
        sleep_ns(300000000);
    } else if (!strcmp(argv[2], "names")) {
        char buf[32];
        for (int k = 0; k < 4; k++)
            for (int j = 0; j <= k; j++) {
                snprintf(buf, sizeof buf, "stage%d", k);
                perf_region_begin(buf);
                sleep_ns(100000);
                perf_region_end(buf);
            }
    } else if (!strcmp(argv[2], "killed")) {
        ticks(200, one_ms, a, a_in);
        summarise("a", a, 200);
        summarise("a_in", a_in, 200);
        if (write(1, "ready\n", 6) != 6)
            return 1;
        for (;;)
            sleep_ns(1000000000);
    } else {
        return 2;
    }
    return 0;
}
