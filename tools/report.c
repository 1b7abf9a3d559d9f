/*
 * report.c - runs printed as text, JSON, CSV or Markdown.
 *
 * One walk over the data per section (summary, probes, regions) feeds every
 * format, so the formats never disagree on what they show.  Text and
 * Markdown put units on the numbers; JSON and CSV keep the file's own
 * numbers (bytes, seconds, nanoseconds).
 */
#define _GNU_SOURCE
#include "cli.h"

#include <math.h>
#include <string.h>

static double num(json_t *o, const char *k)
{
    return json_num(o, k, NAN);
}

void fmt_value(char *buf, size_t n, const char *key, double v)
{
    if (isnan(v)) {
        snprintf(buf, n, "-");
    } else if (strstr(key, "_bytes") || !strncmp(key, "d_rss", 5) || !strncmp(key, "d_heap", 6)) {
        double a = fabs(v);
        if (a >= 1073741824.0) snprintf(buf, n, "%.2f GiB", v / 1073741824.0);
        else if (a >= 1048576.0) snprintf(buf, n, "%.2f MiB", v / 1048576.0);
        else if (a >= 1024.0) snprintf(buf, n, "%.2f KiB", v / 1024.0);
        else snprintf(buf, n, "%.0f B", v);
    } else if (ends_with(key, "_ns")) {
        double a = fabs(v);
        if (a < 1e3) snprintf(buf, n, "%.0f ns", v);
        else if (a < 1e6) snprintf(buf, n, "%.2f \xc2\xb5s", v / 1e3);
        else if (a < 1e9) snprintf(buf, n, "%.2f ms", v / 1e6);
        else snprintf(buf, n, "%.3f s", v / 1e9);
    } else if (ends_with(key, "_s")) {
        snprintf(buf, n, "%.4f s", v);
    } else if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, n, "%.0f", v);
    } else {
        snprintf(buf, n, "%.4g", v);
    }
}

/* ---- the columns of each section ------------------------------------------ */

static const char *const summary_keys[] = {
    "wall_s", "cpu_user_s", "cpu_sys_s", "peak_rss_bytes", "rss_bytes_at_exit",
    "peak_heap_bytes", "heap_bytes_at_exit", "peak_mmap_bytes", "mmap_anon_bytes_at_exit",
    "mmap_file_bytes_at_exit", "allocs", "frees", "reallocs", "minflt", "majflt",
    "samples", "probes", NULL};

static const char *const probe_keys[] = {
    "t_s", "dt_s", "rss_bytes", "d_rss_last", "heap_bytes", "d_heap_last",
    "peak_heap_since_last", "peak_rss_since_last", NULL};
static const char *const probe_titles[] = {
    "Time (s)", "Δt (s)", "RSS (MiB)", "ΔRSS (MiB)", "Heap (MiB)", "ΔHeap (MiB)",
    "peak heap", "peak RSS", NULL};

static const char *const region_keys[] = {
    "count", "mean_ns", "p50_ns", "p90_ns", "p99_ns", "max_ns", "per_s", NULL};

/* ---- text -------------------------------------------------------------------- */

/* printf's width counts bytes; Δ and µ are two bytes and one column */
void pad(FILE *f, const char *s, int width, int right)
{
    int cols = 0;
    for (const char *p = s; *p; p++)
        cols += ((unsigned char)*p & 0xc0) != 0x80;
    if (right)
        for (int i = cols; i < width; i++) fputc(' ', f);
    fputs(s, f);
    if (!right)
        for (int i = cols; i < width; i++) fputc(' ', f);
}

static void text_cell(FILE *f, const char *key, double v, int width)
{
    char b[64];
    if (isnan(v))
        snprintf(b, sizeof b, "-");
    else if (!strcmp(key, "t_s") || !strcmp(key, "dt_s"))
        snprintf(b, sizeof b, "%.4f", v);
    else if (!strncmp(key, "d_", 2))
        snprintf(b, sizeof b, "%+.2f", v / 1048576.0);
    else if (strstr(key, "_bytes") || ends_with(key, "_since_last"))
        snprintf(b, sizeof b, "%.2f", v / 1048576.0);
    else if (!strcmp(key, "per_s") || !strcmp(key, "count"))
        snprintf(b, sizeof b, "%.0f", v);
    else
        fmt_value(b, sizeof b, key, v);
    pad(f, b, width, 1);
}

/* "heap 10.18  mmap 0.00  file 1.37  stack 0.02  other 0.01 MiB" */
static void text_parts(FILE *f, const char *lead, json_t *p)
{
    static const char *const names[] = {"heap", "mmap", "file", "stack", "other"};
    if (!json_is_object(p))
        return;
    fprintf(f, "%s", lead);
    for (int i = 0; i < 5; i++)
        fprintf(f, "%s %.2f", names[i], num(p, names[i]) / 1048576.0), fputs(i < 4 ? "  " : "", f);
    fprintf(f, " MiB");
    double untouched = num(p, "heap_untouched");
    if (untouched > 0)
        fprintf(f, "; %.2f MiB of heap handed out but not resident", untouched / 1048576.0);
    fputc('\n', f);
}

static void text_run(FILE *f, const struct run *r)
{
    json_t *h = r->header, *s = r->summary;
    fprintf(f, "%s: %s (pid %ld, parent %ld)", r->path,
            json_string_value(json_object_get(h, "program")), r->pid, r->ppid);
    if (json_is_true(json_object_get(s, "complete")))
        fprintf(f, "\n");
    else if (json_object_get(s, "signal"))
        fprintf(f, " - killed by signal %lld: summary rebuilt from the samples\n",
                json_integer_value(json_object_get(s, "signal")));
    else
        fprintf(f, " - no summary (killed, _exit or exec): rebuilt from the samples\n");

    size_t i;
    json_t *p;
    if (json_array_size(r->probes)) {
        pad(f, "Probe", 24, 0);
        for (int k = 0; probe_keys[k]; k++)
            pad(f, probe_titles[k], 12, 1);
        fputc('\n', f);
        json_array_foreach(r->probes, i, p) {
            const char *label = json_string_value(json_object_get(p, "label"));
            char cut[24];
            snprintf(cut, sizeof cut, "%s", label ? label : "(null)");
            pad(f, cut, 24, 0);
            for (int k = 0; probe_keys[k]; k++)
                text_cell(f, probe_keys[k], num(p, probe_keys[k]), 12);
            fputc('\n', f);
            text_parts(f, "    RSS = ", json_object_get(p, "rss_parts"));
        }
    }
    for (int k = 0; summary_keys[k]; k++) {
        double v = num(s, summary_keys[k]);
        if (isnan(v))
            continue;
        char b[64];
        fmt_value(b, sizeof b, summary_keys[k], v);
        fprintf(f, "  %-26s %s\n", summary_keys[k], b);
    }
    text_parts(f, "  RSS at exit = ", json_object_get(s, "rss_parts_at_exit"));
    text_parts(f, "  RSS at peak = ", json_object_get(s, "rss_parts_at_peak"));
    if (json_array_size(r->regions)) {
        pad(f, "Region", 24, 0);
        for (int k = 0; region_keys[k]; k++)
            pad(f, region_keys[k], 12, 1);
        fputc('\n', f);
        json_array_foreach(r->regions, i, p) {
            char name[64];
            int depth = (int)json_integer_value(json_object_get(p, "depth"));
            snprintf(name, sizeof name, "%*s%s", 2 * (depth < 8 ? depth : 8), "",
                     json_string_value(json_object_get(p, "name")));
            pad(f, name, 24, 0);
            for (int k = 0; region_keys[k]; k++)
                text_cell(f, region_keys[k], num(p, region_keys[k]), 12);
            fputc('\n', f);
        }
    }
}

/* the process tree: children under their parent, by pid */
static void tree(FILE *f, const struct run *runs, int n, long parent, int depth, int *shown)
{
    for (int i = 0; i < n; i++) {
        int root = depth == 0;
        if (shown[i])
            continue;
        if (root) {
            int has_parent = 0;
            for (int j = 0; j < n; j++)
                has_parent |= runs[j].pid == runs[i].ppid && j != i;
            if (has_parent)
                continue;
        } else if (runs[i].ppid != parent) {
            continue;
        }
        shown[i] = 1;
        char rss[32], heap[32], wall[32];
        fmt_value(rss, sizeof rss, "peak_rss_bytes", num(runs[i].summary, "peak_rss_bytes"));
        fmt_value(heap, sizeof heap, "peak_heap_bytes", num(runs[i].summary, "peak_heap_bytes"));
        fmt_value(wall, sizeof wall, "wall_s", num(runs[i].summary, "wall_s"));
        fprintf(f, "%*s%ld %s%s  wall %s  peak RSS %s  peak heap %s\n", 2 * depth + 2, "",
                runs[i].pid, json_string_value(json_object_get(runs[i].header, "program")),
                json_is_true(json_object_get(runs[i].summary, "complete")) ? "" : " (incomplete)",
                wall, rss, heap);
        tree(f, runs, n, runs[i].pid, depth + 1, shown);
    }
}

/* ---- JSON -------------------------------------------------------------------- */

json_t *run_to_json(const struct run *r)
{
    return json_pack("{s:s, s:I, s:I, s:I, s:O, s:O, s:O, s:O, s:O, s:O}",
                     "file", r->path, "pid", (json_int_t)r->pid, "ppid", (json_int_t)r->ppid,
                     "root_pid", (json_int_t)r->root_pid, "complete",
                     json_object_get(r->summary, "complete"), "header", r->header,
                     "summary", r->summary, "probes", r->probes, "regions", r->regions,
                     "counters", r->counters);
}

/* ---- CSV and Markdown ---------------------------------------------------------- */

static void csv_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void md_str(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|' || *s == '\\' || *s == '`')
            fputc('\\', f);
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
}

/* One CSV or Markdown table: a row per probe (regions = 0) or region of
 * every run, named by NAME_KEY, with the columns KEYS. */
static void table_section(FILE *f, const struct run *runs, int n, int md, int regions,
                          const char *name_key, const char *const *keys)
{
    const char *sep = md ? " | " : ",", *lead = md ? "| " : "", *tail = md ? " |" : "";
    fprintf(f, "\n%sfile%s%s", lead, sep, name_key);
    for (int k = 0; keys[k]; k++)
        fprintf(f, "%s%s", sep, keys[k]);
    fprintf(f, "%s\n", tail);
    if (md) {
        fprintf(f, "|---|---|");
        for (int k = 0; keys[k]; k++)
            fprintf(f, "---|");
        fprintf(f, "\n");
    }
    size_t j;
    json_t *p;
    for (int i = 0; i < n; i++)
        json_array_foreach(regions ? runs[i].regions : runs[i].probes, j, p) {
            const char *name = json_string_value(json_object_get(p, name_key));
            if (md) {
                fprintf(f, "| %s | ", runs[i].path);
                md_str(f, name);
            } else {
                csv_str(f, runs[i].path);
                fputc(',', f);
                csv_str(f, name);
            }
            for (int k = 0; keys[k]; k++) {
                char b[64];
                double v = num(p, keys[k]);
                if (md)
                    fmt_value(b, sizeof b, keys[k], v);
                else
                    snprintf(b, sizeof b, "%.17g", v);
                fprintf(f, "%s%s", sep, b);
            }
            fprintf(f, "%s\n", tail);
        }
}

static void table_runs(FILE *f, const struct run *runs, int n, int md)
{
    const char *sep = md ? " | " : ",";
    const char *lead = md ? "| " : "", *tail = md ? " |" : "";
    /* summary */
    fprintf(f, "%sfile%skey%svalue%s\n", lead, sep, sep, tail);
    if (md)
        fprintf(f, "|---|---|---|\n");
    for (int i = 0; i < n; i++)
        for (int k = 0; summary_keys[k]; k++) {
            double v = num(runs[i].summary, summary_keys[k]);
            if (isnan(v))
                continue;
            char b[64];
            if (md) {
                fmt_value(b, sizeof b, summary_keys[k], v);
                fprintf(f, "| %s | %s | %s |\n", runs[i].path, summary_keys[k], b);
            } else {
                csv_str(f, runs[i].path);
                fprintf(f, ",%s,%.17g\n", summary_keys[k], v);
            }
        }
    table_section(f, runs, n, md, 0, "label", probe_keys);
    table_section(f, runs, n, md, 1, "path", region_keys);
}

void report_runs(FILE *f, struct run *runs, int n, enum format fmt)
{
    if (fmt == FMT_JSON) {
        json_t *out;
        if (n == 1) {
            out = run_to_json(&runs[0]);
        } else {
            json_t *procs = json_array();
            for (int i = 0; i < n; i++)
                json_array_append_new(procs, run_to_json(&runs[i]));
            out = json_pack("{s:o}", "processes", procs);
        }
        json_dumpf(out, f, JSON_COMPACT | JSON_REAL_PRECISION(15));
        fputc('\n', f);
        json_decref(out);
        return;
    }
    if (fmt == FMT_CSV || fmt == FMT_MARKDOWN) {
        table_runs(f, runs, n, fmt == FMT_MARKDOWN);
        return;
    }
    if (n > 1) {
        int shown[n];
        memset(shown, 0, sizeof shown);
        fprintf(f, "process tree (%d processes)\n", n);
        tree(f, runs, n, 0, 0, shown);
        for (int i = 0; i < n; i++)   /* parents outside the set: show the rest flat */
            if (!shown[i])
                tree(f, runs + i, 1, 0, 0, shown + i);
        fputc('\n', f);
    }
    for (int i = 0; i < n; i++) {
        if (i)
            fputc('\n', f);
        text_run(f, &runs[i]);
    }
}
