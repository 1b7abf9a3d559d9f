/*
 * clock.c - the clock regions are timed with: the CPU's time-stamp counter
 * where the CPU says it is invariant, else CLOCK_MONOTONIC.
 *
 * A region begin/end pair reads the clock twice.  clock_gettime costs
 * 20-30 ns a call when the kernel's clocksource is not "tsc" (kvm-clock,
 * hyperv, xen: common in virtual machines, even where the TSC underneath
 * is perfectly good), rdtsc a few.  So the TSC is used when /proc/cpuinfo
 * lists both constant_tsc (it ticks at a fixed rate whatever the CPU's
 * frequency) and nonstop_tsc (it keeps ticking in deep idle states), on
 * x86-64 only.
 *
 * Ticks are converted to nanoseconds with the rate measured over the whole
 * run against CLOCK_MONOTONIC (pp_clock_rate).  The sampler thread checks
 * the two clocks against each other once a second (pp_clock_check): the
 * rate over the last second must agree with the rate over the run within
 * 0.1%, and the TSC must not go backwards.  If it does not, the shim falls
 * back for the rest of the run: "ticks" become CLOCK_MONOTONIC scaled by the
 * rate measured until then (so that durations already recorded in ticks
 * and those recorded later convert alike), and the sampler writes a "note"
 * record in the timeline that says so.  PERFPROBE_TSC is not a setting: the CPU decides.
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

_Atomic int pp_clock_tsc;

static uint64_t tick0, mono0;             /* both clocks at start-up */
static _Atomic uint64_t frozen_bits;      /* the rate after a fall back (double) */
static uint64_t frozen_tick, frozen_mono; /* both clocks at the fall back */
static uint64_t last_tick, last_mono;     /* at the previous check */
static const char *fallback_why;       /* the fall back: why, and the rates */
static double fallback_got, fallback_want;
static _Atomic int note_due;

uint64_t pp_clock_raw(void)
{
#if defined(__x86_64__)
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
#else
    return pp_now_ns();
#endif
}

/* Both clocks at (nearly) one instant: of a few tries, the one whose two
 * TSC reads around CLOCK_MONOTONIC are closest, so that a preemption
 * between the reads (milliseconds on a busy machine) never skews a rate. */
static void clock_pair(uint64_t *tick, uint64_t *mono)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 5; i++) {
        uint64_t t1 = pp_clock_raw(), m = pp_now_ns(), t2 = pp_clock_raw();
        if (t2 >= t1 && t2 - t1 < best) {
            best = t2 - t1;
            *tick = t1 + (t2 - t1) / 2;
            *mono = m;
        }
    }
    if (best == UINT64_MAX) {               /* went backwards every time */
        *mono = pp_now_ns();
        *tick = pp_clock_raw();
    }
}

static double as_double(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* After a fall back: CLOCK_MONOTONIC in the ticks of the rate measured
 * until then; without the TSC from the start, plain nanoseconds. */
uint64_t pp_clock_slow(void)
{
    uint64_t bits = atomic_load_explicit(&frozen_bits, memory_order_acquire);
    if (!bits)
        return pp_now_ns();
    return frozen_tick + (uint64_t)((double)(pp_now_ns() - frozen_mono) * as_double(bits));
}

/* Does /proc/cpuinfo list both flags (on the first processor's line)? */
static int cpu_says_invariant(void)
{
    static char buf[16384];
    int fd = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t have = 0;
    ssize_t n;
    while (have < sizeof buf - 1 && (n = read(fd, buf + have, sizeof buf - 1 - have)) > 0)
        have += (size_t)n;
    close(fd);
    buf[have] = 0;
    char *flags = strstr(buf, "\nflags");
    if (!flags)
        return 0;
    char *end = strchr(flags + 1, '\n');
    if (end)
        *end = 0;
    return strstr(flags, " constant_tsc") && strstr(flags, " nonstop_tsc");
}

void pp_clock_init(void)
{
#if defined(__x86_64__)
    int tsc = cpu_says_invariant();
#else
    int tsc = 0;
#endif
    if (tsc) {
        clock_pair(&tick0, &mono0);
    } else {
        mono0 = pp_now_ns();
        tick0 = mono0;
    }
    last_tick = tick0;
    last_mono = mono0;
    atomic_store(&pp_clock_tsc, tsc);
}

/* Both clocks at start-up, read as one instant (clock_pair): the origin
 * that ticks are turned into CLOCK_MONOTONIC nanoseconds from.  Two reads
 * one after the other could be a preemption apart (milliseconds on a busy
 * machine), and every time converted from them that much off. */
void pp_clock_origin(uint64_t *tick, uint64_t *mono)
{
    *tick = tick0;
    *mono = mono0;
}

double pp_clock_rate(void)
{
    uint64_t bits = atomic_load_explicit(&frozen_bits, memory_order_acquire);
    if (bits)
        return as_double(bits);
    if (!atomic_load_explicit(&pp_clock_tsc, memory_order_relaxed))
        return 1.0;
    uint64_t t, m;
    clock_pair(&t, &m);
    return m > mono0 && t > tick0 ? (double)(t - tick0) / (double)(m - mono0) : 1.0;
}

const char *pp_clock_name(void)
{
    if (atomic_load_explicit(&frozen_bits, memory_order_relaxed))
        return "monotonic (the TSC disagreed)";
    return atomic_load_explicit(&pp_clock_tsc, memory_order_relaxed) ? "tsc" : "monotonic";
}

static void fall_back(double rate, const char *why, double got, double want)
{
    uint64_t bits;
    frozen_mono = pp_now_ns();
    frozen_tick = last_tick + (uint64_t)((double)(frozen_mono - last_mono) * rate);
    memcpy(&bits, &rate, sizeof bits);
    atomic_store_explicit(&frozen_bits, bits, memory_order_release);
    atomic_store(&pp_clock_tsc, 0);
    fallback_why = why;
    fallback_got = got;
    fallback_want = want;
    atomic_store(&note_due, 1);
}

int pp_clock_fell_back(const char **why, double *got, double *want)
{
    if (!atomic_exchange(&note_due, 0))
        return 0;
    *why = fallback_why;
    *got = fallback_got;
    *want = fallback_want;
    return 1;
}

/* From the sampler thread: compare the clocks over the last second with
 * the run so far; fall back if they disagree (pp_clock_fell_back tells). */
void pp_clock_check(void)
{
    if (!atomic_load_explicit(&pp_clock_tsc, memory_order_relaxed))
        return;
    uint64_t m, t;
    clock_pair(&t, &m);
    if (m - last_mono < 1000000000u)
        return;
    if (t < last_tick) {
        fall_back((double)(last_tick - tick0) / (double)(last_mono - mono0), "went backwards", 0, 0);
        return;
    }
    double whole = (double)(t - tick0) / (double)(m - mono0);
    double recent = (double)(t - last_tick) / (double)(m - last_mono);
    if (last_mono != mono0 && (recent > whole * 1.001 || recent < whole * 0.999)) {
        fall_back(whole, "disagreed with it over the last second", recent, whole);
        return;
    }
    last_tick = t;
    last_mono = m;
}
