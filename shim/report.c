/*
 * report.c - the table printed on stderr when the program exits.
 *
 * Start, peak and end of the run for time, RSS, heap and mmap, in the
 * spirit of the PerformanceTracker table people already read, then one line
 * of CPU and call counts and where the timeline went.  Written with
 * write(2) from a stack buffer; sizes are MiB (2^20 bytes).
 */
#include "internal.h"

#include <string.h>
#include <unistd.h>

#define RULE "======================================================================\n"
#define LINE "----------------------------------------------------------------------\n"

static void cell(struct pp_buf *b, size_t width, void (*fmt)(struct pp_buf *, int64_t), int64_t v)
{
    char tmp[48];
    struct pp_buf t = {tmp, 0, sizeof tmp};
    fmt(&t, v);
    pp_buf_pad(b, width, t.p, t.len);
}

static void fmt_mib(struct pp_buf *b, int64_t bytes)
{
    /* bytes -> MiB with two decimals, via thousandths of a MiB */
    pp_buf_fixed(b, (int64_t)((double)bytes * 1000.0 / 1048576.0), 3, 2);
}

static void fmt_secs(struct pp_buf *b, int64_t ns)
{
    pp_buf_fixed(b, ns, 9, 4);
}

static void row(struct pp_buf *b, const char *name, int64_t t_ns, int64_t rss,
                int64_t heap, int64_t mmap)
{
    size_t n = strlen(name);
    pp_buf_raw(b, name, n);
    pp_buf_pad(b, 20 - (n < 20 ? n : 19), "", 0);
    if (t_ns >= 0)
        cell(b, 10, fmt_secs, t_ns);
    else
        pp_buf_pad(b, 10, "-", 1);
    cell(b, 13, fmt_mib, rss);
    cell(b, 13, fmt_mib, heap);
    cell(b, 13, fmt_mib, mmap);
    pp_buf_raw(b, "\n", 1);
}

void pp_report_table(const struct pp_sample *end)
{
    char out[4096];
    struct pp_buf b = {out, 0, sizeof out};
    const struct pp_sample *s0 = &pp_state.first;

    pp_buf_str(&b, "\n" RULE "perfprobe: ");
    pp_buf_str(&b, pp_state.program);
    pp_buf_str(&b, " (pid ");
    pp_buf_u64(&b, (uint64_t)pp_state.pid);
    pp_buf_str(&b, ")\n" RULE);
    pp_buf_str(&b, "                      Time (s)     RSS (MiB)   Heap (MiB)   mmap (MiB)\n");
    pp_buf_str(&b, LINE);
    row(&b, "start", (int64_t)s0->t_ns, (int64_t)s0->proc.rss, s0->heap.bytes,
        (int64_t)(s0->maps.anon + s0->maps.file));
    row(&b, "peak", -1, (int64_t)end->proc.hwm, end->heap.peak, (int64_t)end->maps.peak);
    row(&b, "exit", (int64_t)end->t_ns, (int64_t)end->proc.rss, end->heap.bytes,
        (int64_t)(end->maps.anon + end->maps.file));
    pp_buf_str(&b, LINE);
    pp_buf_str(&b, "CPU ");
    pp_buf_fixed(&b, (int64_t)end->cpu.user_ns, 9, 3);
    pp_buf_str(&b, " s user, ");
    pp_buf_fixed(&b, (int64_t)end->cpu.sys_ns, 9, 3);
    pp_buf_str(&b, " s sys; ");
    pp_buf_u64(&b, end->heap.allocs);
    pp_buf_str(&b, " allocs, ");
    pp_buf_u64(&b, end->heap.frees);
    pp_buf_str(&b, " frees, ");
    pp_buf_u64(&b, end->heap.reallocs);
    pp_buf_str(&b, " reallocs\n");
    if (pp_timeline_path()[0]) {
        pp_buf_str(&b, "timeline: ");
        pp_buf_str(&b, pp_timeline_path());
        pp_buf_str(&b, " (");
        pp_buf_u64(&b, pp_timeline_samples());
        pp_buf_str(&b, " samples)\n");
    }
    pp_buf_str(&b, RULE);
    pp_write_all(2, b.p, b.len);
}
