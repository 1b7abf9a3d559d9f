/*
 * report.c - the table printed on stderr when the program exits.
 *
 * The program's probes in the layout of the PerformanceTracker table people
 * already read (time, step time, RSS, heap and their changes, a TOTAL row),
 * then start, peak and end of the run for time, RSS, heap and mmap, the
 * regions' latency percentiles, and one line of CPU and call counts and
 * where the timeline went.  Written with write(2); sizes are MiB (2^20
 * bytes).  The label column is as wide as the longest label (up to
 * LABEL_MAX columns; a longer one gets a line of its own, never cut), so
 * that labels which differ only at the end stay apart.
 *
 * PERFPROBE_QUIET is read again here, at exit, so that a program may turn
 * the table off itself once it has printed its own (the Python tracker).
 */
#include "core/core.h"

#include <string.h>
#include <strings.h>
#include <unistd.h>

#define LABEL_MIN 24
#define LABEL_MAX 60

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

static void fmt_dmib(struct pp_buf *b, int64_t bytes)
{
    if (bytes >= 0)
        pp_buf_raw(b, "+", 1);
    fmt_mib(b, bytes);
}

/* "123 ns", "12.34 µs", "12.34 ms", "1.234 s" */
static void fmt_dur(struct pp_buf *b, int64_t ns)
{
    if (ns < 1000) {
        pp_buf_i64(b, ns);
        pp_buf_str(b, " ns");
    } else if (ns < 1000000) {
        pp_buf_fixed(b, ns, 3, 2);
        pp_buf_str(b, " \xc2\xb5s");
    } else if (ns < 1000000000) {
        pp_buf_fixed(b, ns / 1000, 3, 2);
        pp_buf_str(b, " ms");
    } else {
        pp_buf_fixed(b, ns / 1000000, 3, 3);
        pp_buf_str(b, " s");
    }
}

static void fmt_count(struct pp_buf *b, int64_t n)
{
    pp_buf_i64(b, n);
}

/* a mean in hundredths: "4.5", "2339.62", "0" */
static void fmt_mean(struct pp_buf *b, int64_t hundredths)
{
    if (hundredths % 100 == 0)
        pp_buf_i64(b, hundredths / 100);
    else
        pp_buf_fixed(b, hundredths, 2, hundredths % 10 ? 2 : 1);
}

/* width in columns of a UTF-8 string (µ and Δ are one column, two bytes) */
static size_t cols(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

static void cell_u(struct pp_buf *b, size_t width, void (*fmt)(struct pp_buf *, int64_t), int64_t v)
{
    char tmp[48];
    struct pp_buf t = {tmp, 0, sizeof tmp};
    fmt(&t, v);
    size_t c = cols(t.p, t.len);
    for (; c < width; c++)
        pp_buf_raw(b, " ", 1);
    pp_buf_raw(b, t.p, t.len);
}

/* A label padded to WIDTH columns; a longer one (up to 4 KiB) is printed
 * whole on a line of its own and the row goes on under it. */
static void label_cell(struct pp_buf *b, const char *s, size_t width)
{
    size_t n = strnlen(s, 4096), c;
    for (size_t k = 0; k < n; k++)             /* control characters as '?' */
        pp_buf_raw(b, (unsigned char)s[k] < 0x20 ? "?" : s + k, 1);
    c = cols(s, n);
    if (c > width - 1) {
        pp_buf_raw(b, "\n", 1);
        c = 0;
    }
    for (; c < width; c++)
        pp_buf_raw(b, " ", 1);
}

/* the label column: the longest label + 2, within LABEL_MIN..LABEL_MAX */
static size_t fit(size_t longest)
{
    size_t w = longest + 2;
    return w < LABEL_MIN ? LABEL_MIN : w > LABEL_MAX ? LABEL_MAX : w;
}

static void rule(struct pp_buf *b, size_t width)
{
    for (size_t i = 0; i < width; i++)
        pp_buf_raw(b, "-", 1);
    pp_buf_raw(b, "\n", 1);
}

/* the compact breakdown under a probe: where its RSS is */
static void parts_line(struct pp_buf *b, const struct pp_parts *p)
{
    static const char *const names[] = {"heap ", "  mmap ", "  file ", "  stack ", "  other "};
    uint64_t v[5] = {p->heap, p->mmap, p->file, p->stack, p->other};
    pp_buf_str(b, "    RSS =");
    for (int i = 0; i < 5; i++) {
        pp_buf_raw(b, " ", 1);
        pp_buf_str(b, names[i]);
        fmt_mib(b, (int64_t)v[i]);
    }
    pp_buf_str(b, " MiB\n");
}


static void probe_rows(struct pp_buf *b)
{
    size_t dropped, n = pp_probe_count(&dropped);
    const char *label;
    const struct pp_parts *parts;
    uint64_t t, dt, rss, last_rss = pp_state.first.proc.rss;
    int64_t heap, last_heap = pp_state.first.heap.bytes;
    if (n == 0)
        return;
    size_t longest = 0;
    for (size_t i = 0; pp_probe_rows(i, &label, &t, &dt, &rss, &heap, &parts); i++)
        if (label && cols(label, strnlen(label, 4096)) > longest)
            longest = cols(label, strnlen(label, 4096));
    size_t w = fit(longest);
    label_cell(b, "Probe", w);
    pp_buf_str(b, "  Time (s)     \xce\x94t (s)   RSS (MiB)  \xce\x94RSS (MiB)"
                  "  Heap (MiB) \xce\x94Heap (MiB)\n");
    rule(b, w + 66);
    for (size_t i = 0; pp_probe_rows(i, &label, &t, &dt, &rss, &heap, &parts); i++) {
        label_cell(b, label ? label : "(null)", w);
        cell_u(b, 10, fmt_secs, (int64_t)t);
        cell_u(b, 11, fmt_secs, (int64_t)dt);
        cell_u(b, 12, fmt_mib, (int64_t)rss);
        cell_u(b, 12, fmt_dmib, (int64_t)(rss - last_rss));
        cell_u(b, 12, fmt_mib, heap);
        cell_u(b, 12, fmt_dmib, heap - last_heap);
        pp_buf_raw(b, "\n", 1);
        if (parts)
            parts_line(b, parts);
        last_rss = rss;
        last_heap = heap;
    }
    rule(b, w + 66);
    label_cell(b, "TOTAL", w);
    cell_u(b, 10, fmt_secs, (int64_t)t);
    pp_buf_pad(b, 11 + 12, "", 0);
    cell_u(b, 12, fmt_dmib, (int64_t)(last_rss - pp_state.first.proc.rss));
    pp_buf_pad(b, 12, "", 0);
    cell_u(b, 12, fmt_dmib, last_heap - pp_state.first.heap.bytes);
    pp_buf_raw(b, "\n", 1);
    if (dropped) {
        pp_buf_str(b, "(and ");
        pp_buf_u64(b, dropped);
        pp_buf_str(b, " more probes: see the timeline)\n");
    }
    rule(b, w + 66);
}

static void region_rows(struct pp_buf *b)
{
    struct pp_region_stats st;
    if (pp_region_count() == 0)
        return;
    size_t longest = 0;
    for (size_t i = 0; pp_region_stats(i, &st); i++) {
        size_t c = cols(st.name, strnlen(st.name, 4096)) + 2 * (size_t)(st.depth < 8 ? st.depth : 8);
        if (c > longest)
            longest = c;
    }
    size_t w = fit(longest);
    label_cell(b, "Region", w);
    pp_buf_str(b, "     count        mean         min         p50         p95         p99"
                  "         max     per s  allocs/call  bytes/call\n");
    rule(b, w + 119);
    for (size_t i = 0; pp_region_stats(i, &st); i++) {
        char name[4200];
        struct pp_buf nb = {name, 0, sizeof name - 1};
        for (int d = 0; d < st.depth && d < 8; d++)
            pp_buf_raw(&nb, "  ", 2);
        pp_buf_raw(&nb, st.name, strnlen(st.name, 4096));
        name[nb.len] = 0;
        label_cell(b, name, w);
        cell_u(b, 10, fmt_count, (int64_t)st.count);
        cell_u(b, 12, fmt_dur, (int64_t)st.mean_ns);
        cell_u(b, 12, fmt_dur, (int64_t)st.min_ns);
        cell_u(b, 12, fmt_dur, (int64_t)st.p50_ns);
        cell_u(b, 12, fmt_dur, (int64_t)st.p95_ns);
        cell_u(b, 12, fmt_dur, (int64_t)st.p99_ns);
        cell_u(b, 12, fmt_dur, (int64_t)st.max_ns);
        cell_u(b, 10, fmt_count, st.span_ns > 0 ? (int64_t)((double)st.count * 1e9 / st.span_ns) : 0);
        cell_u(b, 13, fmt_mean, (int64_t)(st.calls.mean * 100 + 0.5));
        cell_u(b, 12, fmt_mean, (int64_t)(st.bytes.mean * 100 + 0.5));
        pp_buf_raw(b, "\n", 1);
    }
    rule(b, w + 119);
}

/* PERFPROBE_QUIET as it is now: 1, true, yes or on */
static int quiet_now(void)
{
    const char *q = pp_getenv("PERFPROBE_QUIET");
    return q && (!strcmp(q, "1") || !strcasecmp(q, "true") || !strcasecmp(q, "yes") ||
                 !strcasecmp(q, "on"));
}

/* The table as a record of the timeline, {"type":"table","text":...}, for
 * `perfprobe run` to print once the whole tree has ended (the main
 * process's, which the shim alone cannot tell). */
static void table_record(const char *text, size_t n)
{
    size_t cap = 6 * n + 64;
    char *line = pp_os_map(cap);
    if (!line)
        return;
    struct pp_buf b = {line, 0, cap};
    pp_buf_str(&b, "{\"type\":\"table\",\"text\":");
    pp_buf_json_str(&b, text, n);
    pp_buf_raw(&b, "}", 1);
    pp_timeline_record(&b);
    pp_os_unmap(line, cap);
}

void pp_report_table(const struct pp_sample *end, int to_record)
{
    if (quiet_now())
        return;
    /* a row is at most a 4 KiB label, its wrap and the columns */
    size_t dropped, cap = 8192 + (pp_probe_count(&dropped) + pp_region_count()) * (4096 + 256);
    char small[8192];
    char *out = cap > sizeof small ? pp_os_map(cap) : small;
    if (!out) {
        out = small;
        cap = sizeof small;
    }
    struct pp_buf b = {out, 0, cap};
    const struct pp_sample *s0 = &pp_state.first;

    pp_buf_str(&b, "\n" RULE "perfprobe: ");
    pp_buf_str(&b, pp_state.program);
    pp_buf_str(&b, " (pid ");
    pp_buf_u64(&b, (uint64_t)pp_state.pid);
    pp_buf_str(&b, ")\n" RULE);
    probe_rows(&b);
    pp_buf_str(&b, "                      Time (s)     RSS (MiB)   Heap (MiB)   mmap (MiB)\n");
    pp_buf_str(&b, LINE);
    row(&b, "start", (int64_t)s0->t_ns, (int64_t)s0->proc.rss, s0->heap.bytes,
        (int64_t)(s0->maps.anon + s0->maps.file));
    row(&b, "peak", -1, (int64_t)end->proc.hwm, end->heap.peak, (int64_t)end->maps.peak);
    row(&b, "exit", (int64_t)end->t_ns, (int64_t)end->proc.rss, end->heap.bytes,
        (int64_t)(end->maps.anon + end->maps.file));
    pp_buf_str(&b, LINE);
    region_rows(&b);
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
    if (to_record)
        table_record(b.p, b.len);
    else
        pp_write_all(2, b.p, b.len);
}
