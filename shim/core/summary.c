/*
 * summary.c - the timeline's last record, {"type":"summary"} (docs/format.md):
 * the end sample's figures, the probes' count, the RSS breakdowns at exit
 * and at the peak, every region's latency and allocation figures, and
 * whether the heap figures are exact.
 *
 * It gathers from the files that keep those figures (probe.c, region.c,
 * parts.c, allocator.c) and hands the record to timeline.c's writer, so
 * that the timeline, which those files write their own records through,
 * calls none of them.  life.c calls it at normal exit.
 */
#include "core/core.h"

#define LABEL_MAX PP_LABEL_MAX

static void key_u64(struct pp_buf *b, const char *k, uint64_t v) { pp_buf_key(b, k); pp_buf_u64(b, v); }
static void key_i64(struct pp_buf *b, const char *k, int64_t v) { pp_buf_key(b, k); pp_buf_i64(b, v); }
static void key_dbl(struct pp_buf *b, const char *k, double v) { pp_buf_key(b, k); pp_buf_double(b, v); }
static void key_s(struct pp_buf *b, const char *k, uint64_t ns, unsigned dec)
{
    pp_buf_key(b, k);
    pp_buf_fixed(b, (int64_t)ns, 9, dec);
}

static void key_ns(struct pp_buf *b, const char *k, double ns)
{
    pp_buf_key(b, k);
    pp_buf_double(b, ns < 1e15 ? (double)(int64_t)(ns + 0.5) : ns);
}

/* what each occurrence of a region allocated (docs/format.md) */
static void region_allocs_json(struct pp_buf *b, const struct pp_region_stats *st)
{
    key_dbl(b, "allocs_per_call", st->calls.mean);
    key_dbl(b, "allocs_per_call_p50", st->calls.p50);
    key_dbl(b, "allocs_per_call_p99", st->calls.p99);
    key_u64(b, "allocs_per_call_max", st->calls.max);
    key_dbl(b, "bytes_per_call", st->bytes.mean);
    key_dbl(b, "bytes_per_call_p50", st->bytes.p50);
    key_dbl(b, "bytes_per_call_p99", st->bytes.p99);
    key_u64(b, "bytes_per_call_max", st->bytes.max);
    key_dbl(b, "net_bytes_per_call", st->net_mean);
    key_i64(b, "net_bytes_min", st->net_min);
    key_i64(b, "net_bytes_max", st->net_max);
    key_u64(b, "frees", st->frees);
    key_dbl(b, "self_allocs_per_call", st->self_calls_mean);
    key_dbl(b, "self_bytes_per_call", st->self_bytes_mean);
    key_dbl(b, "peak_bytes_per_call", st->peak.mean);
    key_dbl(b, "peak_bytes_per_call_p50", st->peak.p50);
    key_dbl(b, "peak_bytes_per_call_p99", st->peak.p99);
    key_u64(b, "peak_bytes_per_call_max", st->peak.max);
}

static void regions_json(struct pp_buf *b)
{
    struct pp_region_stats st;
    pp_buf_key(b, "regions");
    pp_buf_raw(b, "[", 1);
    for (size_t i = 0; pp_region_stats(i, &st); i++) {
        if (i)
            pp_buf_raw(b, ",", 1);
        pp_buf_raw(b, "{", 1);
        pp_buf_key(b, "name");
        pp_buf_json_str(b, st.name, LABEL_MAX);
        pp_buf_key(b, "path");
        pp_buf_json_str(b, st.path, 4 * LABEL_MAX);
        key_u64(b, "depth", (uint64_t)st.depth);
        key_u64(b, "count", st.count);
        pp_buf_key(b, "total_s");
        pp_buf_double(b, st.total_ns * 1e-9);
        key_ns(b, "mean_ns", st.mean_ns);
        key_ns(b, "min_ns", st.min_ns);
        key_ns(b, "max_ns", st.max_ns);
        key_ns(b, "p50_ns", st.p50_ns);
        key_ns(b, "p90_ns", st.p90_ns);
        key_ns(b, "p95_ns", st.p95_ns);
        key_ns(b, "p99_ns", st.p99_ns);
        key_ns(b, "p999_ns", st.p999_ns);
        pp_buf_key(b, "per_s");
        pp_buf_double(b, st.span_ns > 0 ? (double)st.count / (st.span_ns * 1e-9) : 0);
        region_allocs_json(b, &st);
        pp_buf_raw(b, "}", 1);
    }
    pp_buf_raw(b, "]", 1);
}

/* REGIONS 0: the regions left out, their number said instead (a summary
 * that does not fit below a file-size limit with them) */
static void summary_json(struct pp_buf *b, const struct pp_sample *end, uint64_t samples,
                         uint64_t samples_taken, int regions)
{
    pp_buf_str(b, "{\"type\":\"summary\"");
    key_s(b, "t_s", end->t_ns, 6);
    key_s(b, "wall_s", end->t_ns, 6);
    key_s(b, "cpu_user_s", end->cpu.user_ns, 6);
    key_s(b, "cpu_sys_s", end->cpu.sys_ns, 6);
    key_u64(b, "peak_rss_bytes", end->proc.hwm);
    key_u64(b, "rss_bytes_at_exit", end->proc.rss);
    key_i64(b, "peak_heap_bytes", end->heap.peak);
    key_i64(b, "heap_bytes_at_exit", end->heap.bytes);
    key_u64(b, "peak_mmap_bytes", end->maps.peak);
    key_u64(b, "mmap_anon_bytes_at_exit", end->maps.anon);
    key_u64(b, "mmap_file_bytes_at_exit", end->maps.file);
    key_u64(b, "allocs", end->heap.allocs);
    key_u64(b, "frees", end->heap.frees);
    key_u64(b, "reallocs", end->heap.reallocs);
    key_u64(b, "minflt", end->cpu.minflt);
    key_u64(b, "majflt", end->cpu.majflt);
    key_u64(b, "samples", samples);
    key_u64(b, "samples_taken", samples_taken);
    uint64_t unlocked = pp_timeline_unlocked_writes();
    if (unlocked)
        key_u64(b, "writes_unlocked", unlocked);
    size_t dropped, probes = pp_probe_count(&dropped);
    key_u64(b, "probes", probes + dropped);
    if (pp_state.exit_status >= 0)
        key_u64(b, "exit_status", (uint64_t)pp_state.exit_status);
    pp_buf_key(b, "heap_counted");
    pp_buf_str(b, pp_heap_counted() ? "true" : "false");
    pp_buf_key(b, "inexact");
    pp_buf_raw(b, "[", 1);
    const char *why[8];
    int n = pp_inexact_reasons(why, 8);
    for (int i = 0; i < n; i++) {
        if (i)
            pp_buf_raw(b, ",", 1);
        pp_buf_json_str(b, why[i], 256);
    }
    pp_buf_raw(b, "]", 1);
    if (end->has_parts)
        pp_timeline_parts(b, "rss_parts_at_exit", &end->parts, NULL, 0);
    struct pp_parts peak;
    uint64_t peak_t;
    if (pp_parts_peak(&peak, &peak_t) == 0)
        pp_timeline_parts(b, "rss_parts_at_peak", &peak, &peak_t, 0);
    if (regions)
        regions_json(b);
    else
        key_u64(b, "regions_left_out", (uint64_t)pp_region_count());
    pp_buf_raw(b, "}", 1);
}

void pp_summary_write(const struct pp_sample *end)
{
    char small[4096];
    int open;
    uint64_t samples, samples_taken;
    if (!pp_timeline_summary_begin(&open, &samples, &samples_taken))
        return;
    if (!open) {
        pp_timeline_summary_end(NULL);
        return;
    }
    /* room for every region's line (a mapping of the shim's own, left to
     * the process's end) */
    size_t cap = 4096 + pp_region_count() * (2048 + 5 * LABEL_MAX);
    char *line = cap > sizeof small ? pp_os_map(cap) : NULL;
    if (!line) {
        line = small;
        cap = sizeof small;
    }
    struct pp_buf b = {line, 0, cap};
    summary_json(&b, end, samples, samples_taken, 1);
    if (!pp_timeline_summary_try(&b) && pp_region_count()) {
        /* too long for the room a file-size limit leaves: the figures of
         * the whole image go in without the regions' (the gap record
         * before it counts the long one) */
        b.len = 0;
        summary_json(&b, end, samples, samples_taken, 0);
        pp_timeline_summary_try(&b);
    }
    pp_timeline_summary_end(NULL);
}
