/*
 * clock.c - the clock regions are timed with, on macOS: mach_absolute_time.
 *
 * It is the system's own monotonic counter, read in user space from the
 * commpage (the CPU's counter on arm64, 24 MHz on Apple silicon: a tick is
 * 41.7 ns; the TSC on x86-64, scaled to nanoseconds), so a begin/end pair
 * costs a few nanoseconds and no system call.  Ticks are converted to
 * nanoseconds with mach_timebase_info; there is nothing to check against,
 * so the clock never falls back.
 */
#include "sys/sys.h"

#include <mach/mach_time.h>

_Atomic int pp_clock_tsc;               /* never set: pp_ticks uses pp_clock_slow */
static double ticks_per_ns = 1.0;

static uint64_t tick0, mono0;

void pp_clock_init(void)
{
    mach_timebase_info_data_t tb;
    if (mach_timebase_info(&tb) == KERN_SUCCESS && tb.numer)
        ticks_per_ns = (double)tb.denom / (double)tb.numer;
    /* both clocks at one instant: of a few tries, the one whose two
     * counter reads around CLOCK_MONOTONIC are closest */
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 5; i++) {
        uint64_t t1 = mach_absolute_time(), m = pp_now_ns(), t2 = mach_absolute_time();
        if (t2 - t1 < best) {
            best = t2 - t1;
            tick0 = t1 + (t2 - t1) / 2;
            mono0 = m;
        }
    }
}

void pp_clock_origin(uint64_t *tick, uint64_t *mono)
{
    *tick = tick0;
    *mono = mono0;
}

uint64_t pp_clock_raw(void)
{
    return mach_absolute_time();
}

uint64_t pp_clock_slow(void)
{
    return mach_absolute_time();
}

double pp_clock_rate(void)
{
    return ticks_per_ns;
}

const char *pp_clock_name(void)
{
    return "mach_absolute_time";
}

void pp_clock_check(void)
{
}

int pp_clock_fell_back(const char **why, double *got, double *want)
{
    (void)why;
    (void)got;
    (void)want;
    return 0;
}
