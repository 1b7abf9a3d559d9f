/*
 * peakview.c - site views that survive a kill.
 *
 * A process killed by SIGKILL (the OOM killer's signal) runs no exit code,
 * so the sites records written at exit never come.  The sampler thread
 * therefore writes the live-at-peak view (sites.c's peak copy, with the
 * stacks and modules it needs) into the timeline as the heap climbs, never
 * from a hook.  Rate limit, so that a steadily growing program writes a
 * bounded amount (docs/sites.md):
 *  - a peak view is written when the copy moved and either VIEW_GAP_NS
 *    passed since the last one, or the peak grew by more than 1/VIEW_STEP
 *    since the last one (once it is past VIEW_FLOOR);
 *  - a moved copy never waits more than VIEW_GAP_NS.
 * So at most 12 views a minute for the time rule, plus 22 for each doubling
 * of the heap past 1 MiB.
 *
 * PERFPROBE_DUMP_AT=SIZE: when RSS or the heap first reaches SIZE, the
 * peak view and the live view now ("dump") are written at once, and again
 * each time the larger of the two grows by a further SIZE/DUMP_STEP.
 * Under a cgroup memory limit (cgroup.c: v2, or v1), the same when the
 * cgroup's usage reaches CG_NEAR/100 of the limit, and again each time it
 * grows by a further 1/100 of the limit (counted afresh when the limit
 * that binds changes: set anew, or another level of the cgroup tree has
 * less room now); the dump record then carries the usage and the limit it
 * was written at.
 *
 * And when one of the kernel's own counts of the watched level meeting its
 * limit moved between two samples (cgroup.c's pp_cgroup_counts: v2
 * memory.events "max", then "high", then PSI memory.pressure's "some"
 * total; v1 memory.failcnt, then memory.memsw.failcnt: the first that
 * moved is named), the same views labelled "cgroup_pressure", with the
 * usage, the limit, the count's name and its value before and now.  A
 * cgroup full of page cache reclaims all the time, so these are rate
 * limited: one when none was written yet, then only after PRESSURE_GAP_NS,
 * or when the heap grew past PRESSURE_FLOOR by more than 1/PRESSURE_STEP
 * since the last one: at most 6 a minute, plus 6 for each doubling of the
 * heap past 1 MiB.  A move in a sample where another view was written is
 * kept for the next sample (its count before stays the one read before the
 * move); one refused by the rate limit is dropped.  The counts start afresh
 * (no view for the first read) when another level is watched, and after a
 * read that found none of them.
 */
#include "core/core.h"

#define VIEW_GAP_NS (5 * 1000000000ull)
#define VIEW_STEP   32
#define VIEW_FLOOR  (1 << 20)
#define DUMP_STEP   8
#define CG_NEAR     90
#define PRESSURE_GAP_NS (10 * 1000000000ull)
#define PRESSURE_STEP   8
#define PRESSURE_FLOOR  (1 << 20)

static int64_t last_peak;
static uint64_t last_t, next_dump, next_cg, cg_limit;
static struct pp_cgroup_counts counts_was;    /* the last counts read */
static int counts_seen, pressure_any;
static uint64_t pressure_t;
static int64_t pressure_heap;

/* the first count that moved since the last read, or -1 */
static int count_moved(const struct pp_cgroup_counts *c)
{
    if (!counts_seen || c->level != counts_was.level)
        return -1;
    for (int i = 0; i < PP_CG_COUNTS; i++)
        if ((c->known & counts_was.known & (1u << i)) && c->count[i] > counts_was.count[i])
            return i;
    return -1;
}

/* whether a pressure view may be written now (the rate limit above) */
static int pressure_may(uint64_t now, int64_t heap)
{
    return !pressure_any || now - pressure_t >= PRESSURE_GAP_NS ||
           (heap >= PRESSURE_FLOOR && heap > pressure_heap + pressure_heap / PRESSURE_STEP);
}

void pp_peakview_prime(void)
{
    uint64_t limit, current;
    struct pp_cgroup_counts c;
    if (pp_cgroup_memory(&limit, &current))
        pp_cgroup_counts(&c);
}

void pp_peakview_tick(const struct pp_sample *s)
{
    if (pp_sites_mode == PP_STACKS_OFF)
        return;
    const char *why = NULL;
    uint64_t level = s->proc.rss > (uint64_t)s->heap.bytes ? s->proc.rss
                                                            : (uint64_t)s->heap.bytes;
    if (pp_opt.dump_at) {
        if (!next_dump)
            next_dump = pp_opt.dump_at;
        if (level >= next_dump) {
            why = "dump_at";
            uint64_t step = pp_opt.dump_at / DUMP_STEP ? pp_opt.dump_at / DUMP_STEP : 1;
            next_dump = level + step;
        }
    }
    uint64_t limit, current, now = s->t_ns;
    struct pp_dump_cgroup cg, *cg_now = NULL;
    const char *pressure = NULL;
    if (pp_cgroup_memory(&limit, &current)) {
        if (limit != cg_limit) {     /* the first read, or another limit binds now */
            cg_limit = limit;
            next_cg = limit / 100 * CG_NEAR;
        }
        cg.usage = current;
        cg.limit = limit;
        cg.counter = NULL;
        if (current >= next_cg) {
            if (!why) {
                why = "cgroup_limit";
                cg_now = &cg;
            }
            next_cg = current + limit / 100;
        }
        struct pp_cgroup_counts c;
        if (pp_cgroup_counts(&c)) {
            int i = count_moved(&c), held = 0;
            if (i >= 0 && why) {
                held = 1;               /* the next sample's */
            } else if (i >= 0 && pressure_may(now, s->heap.bytes)) {
                why = pressure = "cgroup_pressure";
                cg.counter = c.name[i];
                cg.count = c.count[i];
                cg.was = counts_was.count[i];
                cg_now = &cg;
            }
            if (!held) {
                counts_was = c;
                counts_seen = 1;
            }
        } else {
            counts_seen = 0;            /* nothing to read: start afresh when there is */
        }
    } else {
        counts_seen = 0;                /* no limit now: the same */
    }
    int pending;
    int64_t peak = pp_sites_peak_bytes(&pending);
    if (!why && !pending)
        return;
    if (!why && now - last_t < VIEW_GAP_NS &&
        (peak < VIEW_FLOOR || peak <= last_peak + last_peak / VIEW_STEP))
        return;
    if (pp_sites_view(why, cg_now) || why) {
        last_peak = peak;
        last_t = now;
    }
    if (pressure) {
        pressure_any = 1;
        pressure_t = now;
        pressure_heap = s->heap.bytes;
    }
}
