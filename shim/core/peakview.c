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
 */
#include "core/core.h"

#define VIEW_GAP_NS (5 * 1000000000ull)
#define VIEW_STEP   32
#define VIEW_FLOOR  (1 << 20)
#define DUMP_STEP   8
#define CG_NEAR     90

static int64_t last_peak;
static uint64_t last_t, next_dump, next_cg, cg_limit;

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
    uint64_t limit, current, cg[2], *cg_now = NULL;
    if (pp_cgroup_memory(&limit, &current)) {
        if (limit != cg_limit) {     /* the first read, or another limit binds now */
            cg_limit = limit;
            next_cg = limit / 100 * CG_NEAR;
        }
        if (current >= next_cg) {
            if (!why) {
                why = "cgroup_limit";
                cg[0] = current;
                cg[1] = limit;
                cg_now = cg;
            }
            next_cg = current + limit / 100;
        }
    }
    int pending;
    int64_t peak = pp_sites_peak_bytes(&pending);
    uint64_t now = s->t_ns;
    if (!why && !pending)
        return;
    if (!why && now - last_t < VIEW_GAP_NS &&
        (peak < VIEW_FLOOR || peak <= last_peak + last_peak / VIEW_STEP))
        return;
    if (pp_sites_view(why, cg_now) || why) {
        last_peak = peak;
        last_t = now;
    }
}
