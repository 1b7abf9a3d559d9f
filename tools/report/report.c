/*
 * report.c - `perfprobe report`: runs printed as text, JSON, CSV or Markdown.
 *
 * One walk over the data per section (summary, probes, regions, region
 * windows, samples) feeds every format, so the formats never disagree on
 * what they show.  Text and Markdown put human units on the numbers (MiB,
 * µs, /s); JSON and CSV keep the file's own numbers (bytes, seconds,
 * nanoseconds), and a CSV output is always one table, so that it loads
 * into pandas or a spreadsheet as it is.
 *
 * Region statistics of a phase (--between) or of a killed run come from
 * the per-window records, merged exactly by read/regions.c.
 */
#define _GNU_SOURCE
#include "report/report.h"
#include "export/openmetrics.h"

#include <sys/stat.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double num(json_t *o, const char *k)
{
    return json_num(o, k, NAN);
}


/* t_s of the first probe LABEL after AFTER; -1 when there is none */
static int probe_time(const struct run *r, const char *label, double after, double *t)
{
    size_t i;
    json_t *p;
    json_array_foreach(r->probes, i, p) {
        const char *l = json_string_value(json_object_get(p, "label"));
        double pt = num(p, "t_s");
        if (l && !strcmp(l, label) && pt > after) {
            *t = pt;
            return 0;
        }
    }
    return -1;
}

/* ---- derived rows --------------------------------------------------------------- */

/* the samples with hwm carried forward and the CPU share since the previous
 * sample (cpu_pct, of one core) */
static json_t *samples_filled(const struct run *r)
{
    json_t *out = json_array(), *s;
    size_t i;
    double hwm = NAN, pt = NAN, pcpu = NAN;
    json_array_foreach(r->samples, i, s) {
        json_t *c = json_deep_copy(s);
        json_object_del(c, "type");
        json_object_del(c, "pid");
        if (json_is_number(json_object_get(s, "hwm")))
            hwm = num(s, "hwm");
        if (!isnan(hwm))
            json_object_set_new(c, "hwm", json_integer((json_int_t)hwm));
        double t = num(s, "t_s"), cpu = num(s, "user_s") + num(s, "sys_s");
        if (!isnan(pt) && t > pt)
            json_object_set_new(c, "cpu_pct", json_finite((cpu - pcpu) / (t - pt) * 100.0));
        pt = t;
        pcpu = cpu;
        json_array_append_new(out, c);
    }
    return out;
}

/* one row per (window, region): latency over time */
static json_t *window_rows(const struct run *r)
{
    json_t *out = json_array(), *w, *x;
    size_t i, j;
    json_array_foreach(r->region_windows, i, w)
        json_array_foreach(json_object_get(w, "regions"), j, x) {
            json_t *row = json_pack("{s:O, s:O, s:O}", "t_s", json_object_get(w, "t_s"),
                                    "t0_s", json_object_get(w, "t0_s") ?: json_real(0),
                                    "path", json_object_get(x, "path") ?: json_string(""));
            static const char *const k[] = {"count", "total_ns", "min_ns", "p50_ns", "p90_ns",
                                            "p95_ns", "p99_ns", "max_ns", NULL};
            for (int q = 0; k[q]; q++)
                json_object_set(row, k[q], json_object_get(x, k[q]) ?: json_null());
            json_object_set(row, "slowest", json_object_get(x, "slowest") ?: json_null());
            json_array_append_new(out, row);
        }
    return out;
}

/* ---- the columns of each section ------------------------------------------ */

static const char *const summary_keys[] = {
    "wall_s", "cpu_user_s", "cpu_sys_s", "cpu_pct_mean", "cpu_pct_max", "peak_rss_bytes",
    "avg_rss_bytes", "rss_bytes_at_exit", "peak_heap_bytes", "avg_heap_bytes",
    "heap_bytes_at_exit", "peak_mmap_bytes", "mmap_anon_bytes_at_exit",
    "mmap_file_bytes_at_exit", "allocs", "frees", "reallocs", "minflt", "majflt",
    "samples", "probes", NULL};

static const char *const probe_keys[] = {
    "t_s", "dt_s", "rss_bytes", "d_rss_last", "heap_bytes", "d_heap_last",
    "peak_heap_since_last", "peak_rss_since_last", NULL};
static const char *const probe_titles[] = {
    "Time (s)", "Δt (s)", "RSS (MiB)", "ΔRSS (MiB)", "Heap (MiB)", "ΔHeap (MiB)",
    "peak heap", "peak RSS", NULL};

static const char *const region_keys[] = {
    "count", "mean_ns", "min_ns", "p50_ns", "p90_ns", "p95_ns", "p99_ns", "max_ns", "per_s",
    "allocs_per_call", "bytes_per_call", "net_bytes_per_call", "peak_bytes_per_call", NULL};
static const char *const region_titles[] = {
    "count", "mean", "min", "p50", "p90", "p95", "p99", "max", "per s",
    "allocs/call", "bytes/call", "net/call", "peak/call", NULL};

static const char *const window_keys[] = {
    "t_s", "count", "min_ns", "p50_ns", "p95_ns", "p99_ns", "max_ns", NULL};
static const char *const window_titles[] = {
    "t (s)", "count", "min", "p50", "p95", "p99", "max", NULL};

static const char *const sample_keys[] = {
    "t_s", "rss", "hwm", "heap", "heap_max", "anon", "file", "user_s", "sys_s", "cpu_pct",
    "minflt", "majflt", NULL};
static const char *const sample_titles[] = {
    "t (s)", "RSS (MiB)", "peak (MiB)", "heap (MiB)", "heap max", "mmap anon", "mmap file",
    "user (s)", "sys (s)", "CPU %", "minflt", "majflt", NULL};

/* ---- text -------------------------------------------------------------------- */

static int cols(const char *s)
{
    int c = 0;
    for (const char *p = s; *p; p++)
        c += ((unsigned char)*p & 0xc0) != 0x80;
    return c;
}

/* printf's width counts bytes; Δ and µ are two bytes and one column */
void pad(FILE *f, const char *s, int width, int right)
{
    int c = cols(s);
    if (right)
        for (int i = c; i < width; i++) fputc(' ', f);
    fputs(s, f);
    if (!right)
        for (int i = c; i < width; i++) fputc(' ', f);
}

#define LABEL_MIN 24
#define LABEL_MAX 60

/* the width of a label column: the longest label, within reason */
static int label_width(json_t *rows, const char *key, int indent_depth)
{
    int w = LABEL_MIN - 2;
    size_t i;
    json_t *p;
    json_array_foreach(rows, i, p) {
        const char *l = json_string_value(json_object_get(p, key));
        int c = (l ? cols(l) : 6) +
                (indent_depth ? 2 * (int)json_integer_value(json_object_get(p, "depth")) : 0);
        if (c > w)
            w = c;
    }
    return w + 2 > LABEL_MAX ? LABEL_MAX : w + 2;
}

/* a label cell: a longer label gets a line of its own (wrapped, never cut) */
static void label_cell(FILE *f, const char *s, int width)
{
    char clean[4096];
    size_t n = 0;
    for (const char *p = s ? s : "(null)"; *p && n < sizeof clean - 1; p++)
        clean[n++] = (unsigned char)*p < 0x20 ? '?' : *p;
    clean[n] = 0;
    if (cols(clean) > width - 1) {
        fprintf(f, "%s\n", clean);
        pad(f, "", width, 0);
    } else {
        pad(f, clean, width, 0);
    }
}

/* a cell of R's table (R NULL: a figure that is always measured); a heap
 * figure of a run whose heap was not counted reads "n/c" */
static void text_cell(FILE *f, const struct run *r, const char *key, double v, int width)
{
    char b[64];
    if (r && !figure_counted(r, key))
        snprintf(b, sizeof b, "n/c");
    else if (isnan(v))
        snprintf(b, sizeof b, "-");
    else if (!strcmp(key, "t_s") || !strcmp(key, "dt_s"))
        fmt_fixed(b, sizeof b, 4, v, 0);
    else if (!strcmp(key, "user_s") || !strcmp(key, "sys_s"))
        fmt_fixed(b, sizeof b, 3, v, 0);
    else if (!strncmp(key, "d_", 2))
        fmt_fixed(b, sizeof b, 2, v / 1048576.0, 1);
    else if (ends_with(key, "_per_call"))      /* a mean of small numbers, as it is */
        fmt_fixed(b, sizeof b, v == floor(v) ? 0 : 2, v, 0);
    else if (key_unit(key) == U_BYTES)
        fmt_fixed(b, sizeof b, 2, v / 1048576.0, 0);
    else if (!strcmp(key, "cpu_pct"))
        fmt_fixed(b, sizeof b, 1, v, 0);
    else if (!strcmp(key, "per_s") || !strcmp(key, "count"))
        fmt_fixed(b, sizeof b, 0, v, 0);
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

/* A text table: a label column then KEYS, one row per element of ROWS. */
static void text_table(FILE *f, const struct run *r, json_t *rows, const char *title,
                       const char *label_key, int indent, const char *const *keys,
                       const char *const *titles)
{
    int w = label_width(rows, label_key, indent);
    size_t i;
    json_t *p;
    pad(f, title, w, 0);
    for (int k = 0; keys[k]; k++)
        pad(f, titles[k], 12, 1);
    fputc('\n', f);
    json_array_foreach(rows, i, p) {
        char name[4096];
        const char *l = json_string_value(json_object_get(p, label_key));
        int depth = indent ? (int)json_integer_value(json_object_get(p, "depth")) : 0;
        snprintf(name, sizeof name, "%*s%s", 2 * (depth < 8 ? depth : 8), "", l ? l : "(null)");
        label_cell(f, name, w);
        for (int k = 0; keys[k]; k++)
            text_cell(f, r, keys[k], num(p, keys[k]), 12);
        fputc('\n', f);
        if (!strcmp(label_key, "label"))
            text_parts(f, "    RSS = ", json_object_get(p, "rss_parts"));
    }
}

static void text_run(FILE *f, const struct run *r, const struct report_opts *o, json_t *regions,
                     const char *regions_title)
{
    json_t *h = r->header, *s = r->summary;
    int all = !o->table;
    fprintf(f, "%s: %s (pid %ld, parent %ld)", r->path,
            json_string_value(json_object_get(h, "program")), r->pid, r->ppid);
    if (json_is_true(json_object_get(s, "complete")))
        fprintf(f, "\n");
    else if (json_object_get(s, "signal"))
        fprintf(f, " - killed by signal %lld: summary rebuilt from the samples\n",
                json_integer_value(json_object_get(s, "signal")));
    else
        fprintf(f, " - no summary (killed, _exit or exec): rebuilt from the samples\n");
    /* records a full disk kept out of the file (the shim's gap records) */
    size_t gi;
    json_t *g;
    json_array_foreach(r->gaps, gi, g)
        fprintf(f, "  lost on a full disk: %.0f records (%.0f bytes) written between %.3f s "
                   "and %.3f s (the figures below count what is in the file)\n",
                json_num(g, "records", 0), json_num(g, "bytes", 0), json_num(g, "from_s", 0),
                json_num(g, "to_s", 0));
    /* a heap not counted is said once, here; its figures below read
     * "not counted" ("n/c" in the tables), never 0 */
    if (!r->heap_counted) {
        char why[1200];
        heap_why(r, why, sizeof why);
        fprintf(f, "  %s; the heap figures and allocation counts below were not "
                   "measured\n", why);
    } else if (json_array_size(r->inexact)) {
        size_t ii;
        json_t *x;
        fprintf(f, "  heap figures not exact:");
        json_array_foreach(r->inexact, ii, x)
            fprintf(f, "%s %s", ii ? ";" : "", json_string_value(x));
        fputc('\n', f);
    }

    if ((all || !strcmp(o->table, "probes")) && json_array_size(r->probes))
        text_table(f, r, r->probes, "Probe", "label", 0, probe_keys, probe_titles);
    if (all || !strcmp(o->table, "summary")) {
        for (int k = 0; summary_keys[k]; k++) {
            double v;
            if (run_value(r, summary_keys[k], &v) < 0)
                continue;
            char b[64];
            if (figure_counted(r, summary_keys[k]))
                fmt_value(b, sizeof b, summary_keys[k], v);
            else
                snprintf(b, sizeof b, "not counted");
            fprintf(f, "  %-26s %s\n", summary_keys[k], b);
        }
        text_parts(f, "  RSS at exit = ", json_object_get(s, "rss_parts_at_exit"));
        text_parts(f, "  RSS at peak = ", json_object_get(s, "rss_parts_at_peak"));
    }
    if ((all || !strcmp(o->table, "regions")) && json_array_size(regions)) {
        if (regions_title)
            fprintf(f, "%s\n", regions_title);
        text_table(f, r, regions, "Region", "name", 1, region_keys, region_titles);
    }
    if ((o->windows || (o->table && !strcmp(o->table, "windows")))) {
        json_t *rows = window_rows(r);
        fprintf(f, "Region latency over time (one row per window and region)\n");
        text_table(f, r, rows, "Region", "path", 0, window_keys, window_titles);
        json_decref(rows);
    }
    if (o->samples || (o->table && !strcmp(o->table, "samples"))) {
        json_t *rows = samples_filled(r);
        fprintf(f, "Samples (sizes in MiB)\n");
        for (int k = 0; sample_keys[k]; k++)
            pad(f, sample_titles[k], 11, 1);
        fputc('\n', f);
        size_t i;
        json_t *p;
        json_array_foreach(rows, i, p) {
            for (int k = 0; sample_keys[k]; k++)
                text_cell(f, r, sample_keys[k], num(p, sample_keys[k]), 11);
            fputc('\n', f);
        }
        json_decref(rows);
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
        if (!runs[i].heap_counted)
            snprintf(heap, sizeof heap, "not counted");
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
    json_t *sites = sites_to_json(r), *o = json_pack("{s:o, s:I, s:I, s:I, s:O, s:O, s:O, s:O, s:O, s:O}",
                     "file", json_text(r->path), "pid", (json_int_t)r->pid, "ppid", (json_int_t)r->ppid,
                     "root_pid", (json_int_t)r->root_pid, "complete",
                     json_object_get(r->summary, "complete"), "header", r->header,
                     "summary", r->summary, "probes", r->probes, "regions", r->regions,
                     "counters", r->counters);
    if (sites)
        json_object_set_new(o, "sites", sites);
    if (json_array_size(r->gaps))
        json_object_set(o, "gaps", r->gaps);
    json_t *cpu = cpu_to_json(r);
    if (cpu)
        json_object_set_new(o, "cpu", cpu);
    json_t *untraced = tree_untraced(r, 1);
    if (json_array_size(untraced))
        json_object_set(o, "untraced", untraced);
    json_decref(untraced);
    json_object_set_new(o, "heap_counted", json_boolean(r->heap_counted));
    json_object_set(o, "inexact", r->inexact);
    if (!r->heap_counted) {
        char why[1200];
        heap_why(r, why, sizeof why);
        json_object_set_new(o, "heap_not_counted", json_text(why));
    }
    return o;
}

/* O (an object, or an array of them), with every heap figure null when
 * R's heap was not counted: a reader cannot take null for a measured 0.
 * A copy; O itself is left as it is. */
static json_t *heap_nulled(const struct run *r, json_t *o)
{
    if (r->heap_counted)
        return json_incref(o);
    json_t *c = json_deep_copy(o);
    if (json_is_array(c)) {
        size_t i;
        json_t *x;
        json_array_foreach(c, i, x)
            json_array_set_new(c, i, heap_nulled(r, x));
        return c;
    }
    const char *k;
    json_t *v;
    json_object_foreach(c, k, v)
        if (json_is_number(v) && key_from_heap(k))
            json_object_set_new(c, k, json_null());
    return c;
}

/* the summary with the derived figures (CPU %, averages) added */
static json_t *summary_json(const struct run *r)
{
    json_t *s = json_deep_copy(r->summary);
    static const char *const derived[] = {"cpu_pct_mean", "cpu_pct_max", "avg_rss_bytes",
                                          "avg_heap_bytes", NULL};
    for (int k = 0; derived[k]; k++) {
        double v;
        if (!json_object_get(s, derived[k]) && run_value(r, derived[k], &v) == 0)
            json_object_set_new(s, derived[k], json_finite(v));
    }
    return s;
}

static json_t *run_json_opts(const struct run *r, const struct report_opts *o, json_t *regions,
                             json_t *between)
{
    json_t *j = run_to_json(r), *s = summary_json(r);
    json_object_set_new(j, "summary", heap_nulled(r, s));
    json_decref(s);
    json_object_set_new(j, "probes", heap_nulled(r, r->probes));
    json_object_set_new(j, "regions", heap_nulled(r, regions));
    if (between)
        json_object_set(j, "between", between);
    if (o->windows || (o->table && !strcmp(o->table, "windows")))
        json_object_set_new(j, "region_windows", window_rows(r));
    if (o->samples || (o->table && !strcmp(o->table, "samples"))) {
        json_t *rows = samples_filled(r);
        json_object_set_new(j, "samples", heap_nulled(r, rows));
        json_decref(rows);
    }
    return j;
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

/* One CSV or Markdown table over every run: rows from ROWS_OF(run), named
 * by NAME_KEY (none when NULL), with the columns KEYS. */
static void table_section(FILE *f, const struct run *runs, json_t **rows, int n, int md,
                          const char *name_key, const char *const *keys)
{
    const char *sep = md ? " | " : ",", *lead = md ? "| " : "", *tail = md ? " |" : "";
    fprintf(f, "%sfile", lead);
    if (name_key)
        fprintf(f, "%s%s", sep, name_key);
    for (int k = 0; keys[k]; k++)
        fprintf(f, "%s%s", sep, keys[k]);
    fprintf(f, "%s\n", tail);
    if (md) {
        fprintf(f, "|---|%s", name_key ? "---|" : "");
        for (int k = 0; keys[k]; k++)
            fprintf(f, "---|");
        fprintf(f, "\n");
    }
    size_t j;
    json_t *p;
    for (int i = 0; i < n; i++)
        json_array_foreach(rows[i], j, p) {
            const char *name = name_key ? json_string_value(json_object_get(p, name_key)) : NULL;
            if (md) {
                fprintf(f, "| %s", runs[i].path);
                if (name_key) {
                    fputs(" | ", f);
                    md_str(f, name);
                }
            } else {
                csv_str(f, runs[i].path);
                if (name_key) {
                    fputc(',', f);
                    csv_str(f, name);
                }
            }
            for (int k = 0; keys[k]; k++) {
                char b[64];
                double v = num(p, keys[k]);
                if (!figure_counted(&runs[i], keys[k]))   /* not measured: no number */
                    snprintf(b, sizeof b, "%s", md ? "n/c" : "");
                else if (md)
                    fmt_value(b, sizeof b, keys[k], v);
                else
                    fmt_num_csv(b, sizeof b, v);
                fprintf(f, "%s%s", sep, b);
            }
            fprintf(f, "%s\n", tail);
        }
}

static void summary_table(FILE *f, const struct run *runs, int n, int md)
{
    const char *sep = md ? " | " : ",";
    const char *lead = md ? "| " : "", *tail = md ? " |" : "";
    fprintf(f, "%sfile%skey%svalue%s\n", lead, sep, sep, tail);
    if (md)
        fprintf(f, "|---|---|---|\n");
    for (int i = 0; i < n; i++)
        for (int k = 0; summary_keys[k]; k++) {
            double v;
            if (run_value(&runs[i], summary_keys[k], &v) < 0)
                continue;
            char b[64];
            int counted = figure_counted(&runs[i], summary_keys[k]);
            if (md) {
                if (counted)
                    fmt_value(b, sizeof b, summary_keys[k], v);
                else
                    snprintf(b, sizeof b, "not counted");
                fprintf(f, "| %s | %s | %s |\n", runs[i].path, summary_keys[k], b);
            } else {
                csv_str(f, runs[i].path);
                fmt_num_csv(b, sizeof b, counted ? v : NAN);   /* empty: not measured */
                fprintf(f, ",%s,%s\n", summary_keys[k], b);
            }
        }
}

/* the table NAME over every run; 0, or -1 for an unknown name */
static int one_table(FILE *f, const struct run *runs, json_t **regions, int n, int md,
                     const char *name)
{
    json_t *rows[n > 0 ? n : 1];
    if (!strcmp(name, "summary")) {
        summary_table(f, runs, n, md);
        return 0;
    }
    if (!strcmp(name, "probes")) {
        for (int i = 0; i < n; i++)
            rows[i] = runs[i].probes;
        table_section(f, runs, rows, n, md, "label", probe_keys);
        return 0;
    }
    if (!strcmp(name, "regions")) {
        table_section(f, runs, regions, n, md, "path", region_keys);
        return 0;
    }
    int windows = !strcmp(name, "windows");
    if (!windows && strcmp(name, "samples"))
        return -1;
    for (int i = 0; i < n; i++)
        rows[i] = windows ? window_rows(&runs[i]) : samples_filled(&runs[i]);
    table_section(f, runs, rows, n, md, windows ? "path" : NULL, windows ? window_keys : sample_keys);
    for (int i = 0; i < n; i++)
        json_decref(rows[i]);
    return 0;
}

/* ---- all formats ---------------------------------------------------------------- */

int report_runs_with(FILE *f, struct run *runs, int n, enum format fmt,
                     const struct report_opts *o)
{
    json_t *regions[n > 0 ? n : 1], *between[n > 0 ? n : 1];
    char *titles[n > 0 ? n : 1];
    int rc = 0;
    for (int i = 0; i < n; i++) {
        run_fill_regions(&runs[i]);
        regions[i] = json_incref(runs[i].regions);
        between[i] = NULL;
        titles[i] = NULL;
        if (!o->from)
            continue;
        double t1, t2, c0, c1;
        if (probe_time(&runs[i], o->from, -INFINITY, &t1) < 0 ||
            probe_time(&runs[i], o->to, t1, &t2) < 0) {
            rc = error("report: %s: no probe '%s' followed by a probe '%s'", runs[i].path,
                       o->from, o->to);
            for (int j = 0; j <= i; j++) {
                json_decref(regions[j]);
                json_decref(between[j]);
                free(titles[j]);
            }
            return rc;
        }
        json_decref(regions[i]);
        regions[i] = regions_from_windows(&runs[i], t1, t2, &c0, &c1);
        if (isinf(c0))
            c0 = c1 = NAN;
        between[i] = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "from", json_text(o->from),
                               "to", json_text(o->to), "from_s", json_finite(t1),
                               "to_s", json_finite(t2), "windows_from_s", json_finite(c0),
                               "windows_to_s", json_finite(c1));
        if (asprintf(&titles[i], "Regions between probes '%s' (%.4f s) and '%s' (%.4f s), "
                     "from the windows covering %.4f-%.4f s", o->from, t1, o->to, t2, c0, c1) < 0)
            titles[i] = NULL;
    }
    if (fmt == FMT_JSON) {
        json_t *out;
        if (n == 1) {
            out = run_json_opts(&runs[0], o, regions[0], between[0]);
        } else {
            json_t *procs = json_array();
            for (int i = 0; i < n; i++)
                json_array_append_new(procs, run_json_opts(&runs[i], o, regions[i], between[i]));
            out = json_pack("{s:o}", "processes", procs);
        }
        if (json_print(f, out, "report"))
            rc = EXIT_USAGE;
        json_decref(out);
    } else if (fmt == FMT_CSV) {
        const char *t = o->table ? o->table : o->samples ? "samples" : o->windows ? "windows"
                                                                             : "summary";
        if (one_table(f, runs, regions, n, 0, t) < 0)
            rc = error("report: --table %s: not a table (summary, probes, regions, windows, "
                       "samples)", t);
    } else if (fmt == FMT_MARKDOWN) {
        static const char *const all[] = {"summary", "probes", "regions", NULL};
        if (o->table) {
            if (one_table(f, runs, regions, n, 1, o->table) < 0)
                rc = error("report: --table %s: not a table (summary, probes, regions, "
                           "windows, samples)", o->table);
        } else {
            for (int k = 0; all[k]; k++) {
                if (k)
                    fputc('\n', f);
                one_table(f, runs, regions, n, 1, all[k]);
            }
            if (o->windows)
                fputc('\n', f), one_table(f, runs, regions, n, 1, "windows");
            if (o->samples)
                fputc('\n', f), one_table(f, runs, regions, n, 1, "samples");
        }
    } else {
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
            text_run(f, &runs[i], o, regions[i], titles[i]);
        }
    }
    for (int i = 0; i < n; i++) {
        json_decref(regions[i]);
        json_decref(between[i]);
        free(titles[i]);
    }
    return rc;
}

void report_runs(FILE *f, struct run *runs, int n, enum format fmt)
{
    struct report_opts o = {0};
    report_runs_with(f, runs, n, fmt, &o);
}

/* ---- report FILE, for a tree ------------------------------------------------------ */

int tree_report(FILE *f, const char *path, enum format fmt, const struct report_opts *o,
                int all)
{
    struct run *runs;
    const char *why;
    int n = file_read(path, &runs);
    if (n < 0)
        return EXIT_USAGE;
    int rc = EXIT_OK;
    int m = run_main(runs, n, run_process_choice, &why);
    if (m < 0) {
        rc = error("%s: no process matches --process %s", path, run_process_choice);
        goto out;
    }
    if (n == 1 || all) {
        rc = report_runs_with(f, all ? runs : runs + m, all ? n : 1, fmt, o);
        if (fmt == FMT_TEXT) {
            json_t *t = tree_build(runs, n, 0);
            untraced_print(f, t);
            json_decref(t);
        }
        goto out;
    }
    json_t *tree = tree_build(runs, n, o->samples);
    if (fmt == FMT_JSON) {
        /* the main process's object, with the tree beside it */
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        rc = report_runs_with(mem, runs + m, 1, fmt, o);
        fclose(mem);
        json_t *obj = rc ? NULL : json_loadb(buf, len, 0, NULL);
        free(buf);
        if (!obj) {
            json_decref(tree);
            rc = rc ? rc : json_print(f, NULL, "report");
            goto out;
        }
        json_object_set_new(obj, "main", json_pack("{s:I, s:i, s:s?, s:s}", "pid",
                            (json_int_t)runs[m].pid, "image", runs[m].image, "program",
                            json_string_value(json_object_get(runs[m].header, "program")),
                            "why", why));
        json_object_set_new(obj, "tree", tree);
        if (json_print(f, obj, "report"))
            rc = EXIT_USAGE;
        json_decref(obj);
    } else if (fmt == FMT_TEXT) {
        tree_print(f, tree, runs[m].pid, why, 1000000);
        untraced_print(f, tree);
        fputc('\n', f);
        json_decref(tree);
        rc = report_runs_with(f, runs + m, 1, fmt, o);
    } else {
        json_decref(tree);
        rc = report_runs_with(f, runs + m, 1, fmt, o);
    }
out:
    for (int i = 0; i < n; i++)
        run_free(&runs[i]);
    free(runs);
    return rc;
}

/* ---- the command ------------------------------------------------------------------ */

static const char report_usage[] =
    "usage: perfprobe report [--json|--csv|--markdown] [--table NAME] [--samples]\n"
    "                        [--windows] [--between PROBE1 PROBE2] FILE|DIR...\n"
    "       perfprobe report --openmetrics|--prometheus [--label K=V]... FILE|DIR...\n"
    "\n"
    "Prints timelines: the text table by default. --json prints one object with\n"
    "keys summary, probes and regions (several files: {\"processes\": [...]}).\n"
    "--csv prints one table: --table summary (the default), probes, regions,\n"
    "windows or samples. --samples adds the sampled timeline (memory and CPU over\n"
    "time), --windows the region latency of every window; --between gives region\n"
    "statistics for the phase from probe PROBE1 to the next probe PROBE2.\n"
    "A file whose process was killed gets a summary rebuilt from its samples,\n"
    "with \"complete\": false, and regions merged from its windows.\n"
    "A file that holds a process tree shows the tree (pid, programs, wall, CPU,\n"
    "peak RSS and heap, how each ended), the tree's totals (CPU, the RSS of all\n"
    "processes at once and its peak) and the main process's report (--process\n"
    "NAME|PID chooses it; --all-processes reports every process image).\n"
    "A directory means every *.jsonl in it.\n"
    "--cpu prints where the CPU went instead: the functions by self and total\n"
    "samples (--region NAME: only inside region NAME; --between: only between\n"
    "the two probes); --sites the allocation sites.\n";

int cmd_report(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--openmetrics") || !strcmp(argv[i], "--prometheus"))
            return om_report(argc, argv);   /* export/openmetrics.c */
    enum format fmt = FMT_TEXT;
    struct report_opts o = {0};
    int sites = 0, all_processes = 0, cpu = 0;
    const char *region = NULL;
    char **files = calloc((size_t)argc, sizeof *files);
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) fmt = FMT_JSON;
        else if (!strcmp(a, "--csv")) fmt = FMT_CSV;
        else if (!strcmp(a, "--markdown")) fmt = FMT_MARKDOWN;
        else if (!strcmp(a, "--samples")) o.samples = 1;
        else if (!strcmp(a, "--sites")) sites = 1;
        else if (!strcmp(a, "--cpu")) cpu = 1;
        else if (!strcmp(a, "--region") && i + 1 < argc) region = argv[++i];
        else if (!strcmp(a, "--all-processes")) all_processes = 1;
        else if (!strcmp(a, "--windows")) o.windows = 1;
        else if (!strcmp(a, "--table") && i + 1 < argc) o.table = argv[++i];
        else if (!strcmp(a, "--between") && i + 2 < argc) {
            o.from = argv[++i];
            o.to = argv[++i];
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(report_usage, stdout);
            free(files);
            return EXIT_OK;
        } else if (a[0] == '-' && a[1]) {
            fputs(report_usage, stderr);
            free(files);
            return error("report: unknown option '%s'%s", a,
                         !strcmp(a, "--table") || !strcmp(a, "--between") ? " (missing its value)"
                                                                          : "");
        } else {
            files[n++] = argv[i];
        }
    }
    static const char *const tables[] = {"summary", "probes", "regions", "windows", "samples", NULL};
    int known = !o.table;
    for (int k = 0; o.table && tables[k]; k++)
        known |= !strcmp(o.table, tables[k]);
    if (!known) {
        free(files);
        return error("report: --table %s: not a table (summary, probes, regions, windows, "
                     "samples)", o.table);
    }
    if (!n) {
        fputs(report_usage, stderr);
        free(files);
        return error("report: no FILE");
    }
    struct stat st;
    if (n == 1 && !sites && !cpu && stat(files[0], &st) == 0 && !S_ISDIR(st.st_mode)) {
        /* one file: a process tree shows as the tree and its main process */
        int rc = tree_report(stdout, files[0], fmt, &o, all_processes);
        free(files);
        return rc;
    }
    struct run *runs;
    int nr = runs_read(n, files, &runs);
    free(files);
    if (nr < 0)
        return EXIT_USAGE;
    int rc = cpu ? cpu_report(stdout, runs, nr, region, o.from, o.to)
           : sites ? sites_report_files(stdout, runs, nr, n, all_processes, o.from, o.to)
                   : report_runs_with(stdout, runs, nr, fmt, &o);
    for (int i = 0; i < nr; i++)
        run_free(&runs[i]);
    free(runs);
    return rc;
}
