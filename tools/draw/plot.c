/*
 * plot.c - `perfprobe plot FILE|DIR... -o OUT.html|OUT.svg`: a timeline as
 * pictures, in one self-contained file.
 *
 * The runs come from the reader (timeline_read.c); this file only turns
 * their records into series and hands them to the chart writer (svg.c):
 *   memory    RSS stacked by its parts (where the timeline has a breakdown:
 *             samples on the parts stride and probes), RSS, live heap and
 *             the program's own mappings as lines, the peaks marked, every
 *             probe as a labelled marker;
 *   cpu       user and system CPU % over windows of samples;
 *   faults    minor and major page faults per second;
 *   counters  one chart per perf_counter name;
 *   latency   p50 and p99 per window of each region (from "regions"
 *             records, when the timeline has them);
 *   regions   the latency histogram of each region, summed from the window
 *             records' histograms (self-checked), else its percentiles as
 *             bars, from the summary;
 *   sites     when the file has allocation sites: the top sites table and
 *             flame graphs of bytes live at the heap peak and allocated,
 *             and of the CPU samples.
 * Several runs overlay: one colour per run.  Processes of one tree are
 * aligned on wall-clock time; unrelated runs each start at 0.
 */
#define _GNU_SOURCE
#include "draw/draw.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH 1000

/* ---- series ------------------------------------------------------------------ */

struct ts {
    double *t, *v;
    size_t n, cap;
};

static void ts_push(struct ts *s, double t, double v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->t = realloc(s->t, s->cap * sizeof *s->t);
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->t[s->n] = t;
    s->v[s->n++] = v;
}

static void ts_free(struct ts *s)
{
    free(s->t);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static double ts_max(const struct ts *s)
{
    double m = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] > m)
            m = s->v[i];
    return m;
}

double run_offset(const struct run *runs, int n, int i)
{
    if (n < 2)
        return 0;
    for (int k = 1; k < n; k++)
        if (runs[k].root_pid != runs[0].root_pid)
            return 0;                        /* unrelated runs: each from 0 */
    double first = INFINITY;
    for (int k = 0; k < n; k++) {
        double s = json_num(runs[k].header, "start_unix_s", NAN);
        if (s < first)
            first = s;
    }
    double s = json_num(runs[i].header, "start_unix_s", NAN);
    return isfinite(s) && isfinite(first) ? s - first : 0;
}

int main_run(const struct run *runs, int n)
{
    const char *why;
    int i = run_main(runs, n, run_process_choice, &why);   /* timeline_read.c */
    return i >= 0 && i < n ? i : 0;
}

static double run_end(const struct run *r)
{
    double t = json_num(r->summary, "t_s", 0);
    size_t n = json_array_size(r->samples);
    if (n) {
        double last = json_num(json_array_get(r->samples, n - 1), "t_s", 0);
        if (last > t)
            t = last;
    }
    return t;
}

static const char *run_name(const struct run *r, char *buf, size_t n)
{
    const char *prog = json_string_value(json_object_get(r->header, "program"));
    snprintf(buf, n, "%s %ld", prog ? prog : "?", r->pid);
    return buf;
}

/* "PREFIXprogram pid" for each run, for legends (which keep the pointers
 * until the chart ends) */
static char **run_names(const struct run *runs, int nr, const char *prefix)
{
    char **v = calloc((size_t)nr, sizeof *v), name[300];
    for (int k = 0; k < nr; k++)
        if (asprintf(&v[k], "%s%s", prefix, run_name(&runs[k], name, sizeof name)) < 0)
            v[k] = NULL;
    return v;
}

static void names_free(char **v, int nr)
{
    for (int k = 0; k < nr; k++)
        free(v[k]);
    free(v);
}

/* A rate (d value / d t) over windows of at least W seconds: CPU seconds
 * per second (times SCALE: 100 for %), faults per second. */
static void rate(const struct run *r, const char *key, double w, double scale, double off,
                 struct ts *out)
{
    size_t i;
    json_t *s;
    double ta = NAN, va = 0;
    json_array_foreach(r->samples, i, s) {
        double t = json_num(s, "t_s", NAN), v = json_num(s, key, NAN);
        if (isnan(t) || isnan(v))
            continue;
        if (isnan(ta)) {
            ta = t;
            va = v;
            continue;
        }
        if (t - ta >= w || i + 1 == json_array_size(r->samples)) {
            if (t > ta) {
                double rv = (v - va) / (t - ta) * scale;
                ts_push(out, off + ta, rv);       /* a step: the window's rate */
                ts_push(out, off + t, rv);
            }
            ta = t;
            va = v;
        }
    }
}

/* ---- the memory chart ----------------------------------------------------------- */

static const char *const part_names[5] = {"heap part", "mmap part", "file part", "stack part",
                                          "other part"};
static const char *const part_keys[5] = {"heap", "mmap", "file", "stack", "other"};
static const char *const part_colors[5] = {"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1",
                                           "#bab0ac"};

/* The breakdowns of one run in time order: samples carry "parts" on a
 * stride, probes carry "rss_parts" (placed on the sample clock). */
static size_t collect_parts(const struct run *r, double off, double **t, double (**p)[5])
{
    size_t cap = json_array_size(r->samples) / 10 + json_array_size(r->probes) + 4, n = 0;
    *t = malloc(cap * sizeof **t);
    *p = malloc(cap * sizeof **p);
    size_t i = 0, j = 0, ns = json_array_size(r->samples), np = json_array_size(r->probes);
    while (i < ns || j < np) {
        json_t *s = i < ns ? json_array_get(r->samples, i) : NULL;
        json_t *q = j < np ? json_array_get(r->probes, j) : NULL;
        double ts = s ? json_num(s, "t_s", 0) : INFINITY;
        double tq = q ? json_num(q, "t_s", 0) + json_num(q, "overhead_s", 0) : INFINITY;
        double v[5];
        int have = 0;
        if (ts <= tq) {
            json_t *a = json_object_get(s, "parts");
            if (json_array_size(a) >= 5) {
                for (int k = 0; k < 5; k++)
                    v[k] = json_number_value(json_array_get(a, (size_t)k));
                have = 1;
            }
            i++;
        } else {
            json_t *o = json_object_get(q, "rss_parts");
            if (json_is_object(o)) {
                for (int k = 0; k < 5; k++)
                    v[k] = json_num(o, part_keys[k], 0);
                have = 1;
            }
            ts = tq;
            j++;
        }
        if (!have)
            continue;
        if (n == cap) {
            cap *= 2;
            *t = realloc(*t, cap * sizeof **t);
            *p = realloc(*p, cap * sizeof **p);
        }
        (*t)[n] = off + ts;
        memcpy((*p)[n], v, sizeof v);
        n++;
    }
    return n;
}

static void memory_chart(FILE *f, int html, int y, struct run *runs, int nr, double x1)
{
    struct chart c;
    struct ts *rss = calloc((size_t)nr, sizeof *rss), *heap = calloc((size_t)nr, sizeof *heap),
              *mm = calloc((size_t)nr, sizeof *mm);
    double ymax = 0;
    for (int k = 0; k < nr; k++) {
        double off = run_offset(runs, nr, k);
        size_t i;
        json_t *s;
        json_array_foreach(runs[k].samples, i, s) {
            double t = off + json_num(s, "t_s", 0);
            ts_push(&rss[k], t, json_num(s, "rss", 0));
            /* the peak between samples first, then the value now */
            double hmax = json_num(s, "heap_max", NAN);
            if (!isnan(hmax))
                ts_push(&heap[k], t, hmax);
            ts_push(&heap[k], t, json_num(s, "heap", 0));
            ts_push(&mm[k], t, json_num(s, "anon", 0) + json_num(s, "file", 0));
        }
        double m = fmax(fmax(ts_max(&rss[k]), ts_max(&heap[k])),
                        json_num(runs[k].summary, "peak_rss_bytes", 0));
        if (m > ymax)
            ymax = m;
    }
    chart_begin(&c, f, html, "memory", nr == 1 ? "Memory: RSS by part, live heap, mappings"
                : "Memory: RSS (solid) and live heap (dashed) per process", 0, y, WIDTH, 340);
    chart_axes(&c, 0, x1, 0, ymax * 1.08, AX_SEC, AX_BYTES, 0, 0);
    char **names = run_names(runs, nr, ""), **hnames = run_names(runs, nr, "heap ");
    if (nr == 1) {
        /* The stack: at each breakdown its measured parts (they add up to the
         * RSS read with them).  At each sample after one, an estimate that
         * follows the sampled RSS: file, stack and other as last measured,
         * mmap scaled with the program's own anonymous mappings (never above
         * them), heap the rest, as the shim itself defines it.  Drawn as
         * steps, like the samples. */
        double *pt, (*pp)[5];
        size_t np = collect_parts(&runs[0], 0, &pt, &pp), nb = 0, j = 0;
        size_t ns = json_array_size(runs[0].samples), cap = 2 * (np + ns) + 2;
        double *bt = malloc(cap * sizeof *bt), *tot = malloc(cap * sizeof *tot);
        double (*bv)[5] = malloc(cap * sizeof *bv), last[5] = {0}, last_anon = 0, anon = 0;
        int have = 0;
        for (size_t i = 0; i <= ns && np; i++) {
            json_t *sm = json_array_get(runs[0].samples, i);
            double t = i < ns ? json_num(sm, "t_s", 0) : INFINITY;
            if (i < ns)
                anon = json_num(sm, "anon", anon);
            while (j < np && pt[j] <= t) {
                if (nb) {                               /* the step */
                    bt[nb] = pt[j];
                    memcpy(bv[nb], bv[nb - 1], sizeof bv[nb]);
                    tot[nb] = tot[nb - 1];
                    nb++;
                }
                double sum = 0;
                for (int k = 0; k < 5; k++)
                    sum += pp[j][k];
                memcpy(last, pp[j], sizeof last);
                last_anon = anon;
                bt[nb] = pt[j];
                memcpy(bv[nb], pp[j], sizeof bv[nb]);
                tot[nb++] = sum;
                have = 1;
                j++;
            }
            if (i == ns || !have)
                continue;
            double r = json_num(sm, "rss", 0), v[5];
            v[1] = last_anon > 0 ? fmin(anon, last[1] * anon / last_anon) : 0;
            v[2] = last[2];
            v[3] = last[3];
            v[4] = last[4];
            v[0] = r - v[1] - v[2] - v[3] - v[4];
            if (v[0] < 0) {
                v[1] = fmax(0, v[1] + v[0]);
                v[0] = 0;
            }
            bt[nb] = t;
            memcpy(bv[nb], bv[nb - 1], sizeof bv[nb]);
            tot[nb] = tot[nb - 1];
            nb++;
            bt[nb] = t;
            memcpy(bv[nb], v, sizeof v);
            tot[nb++] = r;
        }
        if (nb) {
            size_t *keep = malloc(nb * sizeof *keep), m = chart_thin(&c, bt, tot, nb, keep);
            double *kt = malloc(m * sizeof *kt), *lo = calloc(m, sizeof *lo),
                   *hi = malloc(m * sizeof *hi);
            for (size_t i = 0; i < m; i++)
                kt[i] = bt[keep[i]];
            for (int k = 0; k < 5; k++) {
                for (size_t i = 0; i < m; i++)
                    hi[i] = lo[i] + bv[keep[i]][k];
                chart_area(&c, part_names[k], part_colors[k], kt, lo, hi, m);
                memcpy(lo, hi, m * sizeof *lo);
            }
            free(keep);
            free(kt);
            free(lo);
            free(hi);
        }
        free(bt);
        free(tot);
        free(bv);
        free(pt);
        free(pp);
        chart_line(&c, "RSS", "#d62728", rss[0].t, rss[0].v, rss[0].n, LINE_STEP);
        chart_line(&c, "live heap", "#1f2f5f", heap[0].t, heap[0].v, heap[0].n, LINE_STEP);
        if (ts_max(&mm[0]) > 0)
            chart_line(&c, "own mmap", "#e07b00", mm[0].t, mm[0].v, mm[0].n,
                       LINE_STEP | LINE_DASHED);
    } else {
        for (int k = 0; k < nr; k++) {
            chart_line(&c, names[k], run_color(k), rss[k].t, rss[k].v, rss[k].n, LINE_STEP);
            chart_line(&c, hnames[k], run_color(k), heap[k].t, heap[k].v, heap[k].n,
                       LINE_STEP | LINE_DASHED);
            c.nlegend--;                          /* one legend entry per run */
        }
    }
    /* peaks: at the highest sample, valued by the summary's own figure
     * (the kernel's high-water mark may be above every sample) */
    for (int k = 0; k < nr; k++) {
        if (nr > 1 && k != main_run(runs, nr))
            continue;
        size_t im = 0;
        for (size_t i = 0; i < rss[k].n; i++)
            if (rss[k].v[i] > rss[k].v[im])
                im = i;
        char v[64], lab[128];
        if (rss[k].n) {
            double pk = fmax(json_num(runs[k].summary, "peak_rss_bytes", 0), rss[k].v[im]);
            fmt_unit(v, sizeof v, AX_BYTES, pk);
            snprintf(lab, sizeof lab, "peak RSS %s", v);
            chart_dot(&c, rss[k].t[im], pk, lab, "#d62728", 0);
        }
        im = 0;
        for (size_t i = 0; i < heap[k].n; i++)
            if (heap[k].v[i] > heap[k].v[im])
                im = i;
        if (heap[k].n && heap[k].v[im] > 0) {
            double pk = fmax(json_num(runs[k].summary, "peak_heap_bytes", 0), heap[k].v[im]);
            fmt_unit(v, sizeof v, AX_BYTES, pk);
            snprintf(lab, sizeof lab, "peak heap %s", v);
            chart_dot(&c, heap[k].t[im], pk, lab, "#1f2f5f", 1);
        }
    }
    int row = 0;
    for (int k = 0; k < nr; k++) {
        double off = run_offset(runs, nr, k);
        size_t i;
        json_t *p;
        json_array_foreach(runs[k].probes, i, p) {
            const char *label = json_string_value(json_object_get(p, "label"));
            chart_vmark(&c, off + json_num(p, "t_s", 0) + json_num(p, "overhead_s", 0),
                        label ? label : "(null)", nr == 1 ? "#333" : run_color(k), row++);
        }
    }
    chart_end(&c);
    names_free(names, nr);
    names_free(hnames, nr);
    for (int k = 0; k < nr; k++) {
        ts_free(&rss[k]);
        ts_free(&heap[k]);
        ts_free(&mm[k]);
    }
    free(rss);
    free(heap);
    free(mm);
}

/* ---- CPU and faults ------------------------------------------------------------------ */

static double window_s(const struct run *runs, int nr, double x1)
{
    double iv = 0;
    for (int k = 0; k < nr; k++)
        iv = fmax(iv, json_num(runs[k].header, "interval_ms", 10) / 1000);
    return fmax(2 * iv, x1 / 300);
}

static int rate_chart(FILE *f, int html, int y, struct run *runs, int nr, double x1,
                      const char *id, const char *title, const char *k1, const char *n1,
                      const char *k2, const char *n2, double scale, enum axis_unit u)
{
    double w = window_s(runs, nr, x1), ymax = 0;
    struct ts *a = calloc((size_t)nr, sizeof *a), *b = calloc((size_t)nr, sizeof *b);
    for (int k = 0; k < nr; k++) {
        double off = run_offset(runs, nr, k);
        rate(&runs[k], k1, w, scale, off, &a[k]);
        rate(&runs[k], k2, w, scale, off, &b[k]);
        if (nr > 1)                      /* overlay: one line per process, the sum */
            for (size_t i = 0; i < a[k].n && i < b[k].n; i++)
                a[k].v[i] += b[k].v[i];
        ymax = fmax(ymax, fmax(ts_max(&a[k]), nr == 1 ? ts_max(&b[k]) : 0));
    }
    int drawn = 0;
    if (ymax > 0 || nr == 1) {
        struct chart c;
        chart_begin(&c, f, html, id, title, 0, y, WIDTH, 200);
        chart_axes(&c, 0, x1, 0, ymax > 0 ? ymax * 1.1 : 1, AX_SEC, u, 0, 0);
        char **names = run_names(runs, nr, "");
        for (int k = 0; k < nr; k++) {
            if (nr == 1) {
                chart_line(&c, n1, "#4e79a7", a[k].t, a[k].v, a[k].n, 0);
                chart_line(&c, n2, "#e15759", b[k].t, b[k].v, b[k].n, 0);
            } else {
                chart_line(&c, names[k], run_color(k), a[k].t, a[k].v, a[k].n, 0);
            }
        }
        chart_end(&c);
        names_free(names, nr);
        drawn = 1;
    }
    for (int k = 0; k < nr; k++) {
        ts_free(&a[k]);
        ts_free(&b[k]);
    }
    free(a);
    free(b);
    return drawn;
}

/* ---- counters and regions ------------------------------------------------------------- */

/* distinct string values of KEY across ARRAY of every run, in first-seen order */
static json_t *distinct(struct run *runs, int nr, size_t off, const char *key)
{
    json_t *names = json_array(), *seen = json_object();
    for (int k = 0; k < nr; k++) {
        json_t *arr = *(json_t **)((char *)&runs[k] + off);
        size_t i;
        json_t *o;
        json_array_foreach(arr, i, o) {
            if (off == offsetof(struct run, region_windows)) {
                size_t j;
                json_t *g;
                json_array_foreach(json_object_get(o, "regions"), j, g) {
                    const char *s = json_string_value(json_object_get(g, key));
                    if (s && !json_object_get(seen, s)) {
                        json_object_set_new(seen, s, json_true());
                        json_array_append_new(names, json_string(s));
                    }
                }
                continue;
            }
            const char *s = json_string_value(json_object_get(o, key));
            if (s && !json_object_get(seen, s)) {
                json_object_set_new(seen, s, json_true());
                json_array_append_new(names, json_string(s));
            }
        }
    }
    json_decref(seen);
    return names;
}

static int counter_charts(FILE *f, int html, int y, struct run *runs, int nr, double x1)
{
    json_t *names = distinct(runs, nr, offsetof(struct run, counters), "name");
    size_t ni;
    json_t *nm;
    int h = 0;
    json_array_foreach(names, ni, nm) {
        const char *name = json_string_value(nm);
        struct ts *s = calloc((size_t)nr, sizeof *s);
        double lo = INFINITY, hi = -INFINITY;
        for (int k = 0; k < nr; k++) {
            double off = run_offset(runs, nr, k);
            size_t i;
            json_t *o;
            json_array_foreach(runs[k].counters, i, o) {
                const char *n2 = json_string_value(json_object_get(o, "name"));
                double v = json_num(o, "value", NAN);
                if (!n2 || strcmp(n2, name) || isnan(v))
                    continue;
                ts_push(&s[k], off + json_num(o, "t_s", 0), v);
                lo = fmin(lo, v);
                hi = fmax(hi, v);
            }
        }
        if (hi >= lo) {
            struct chart c;
            char id[64], title[600];
            snprintf(id, sizeof id, "counter-%zu", ni);
            snprintf(title, sizeof title, "Counter: %s", name);
            chart_begin(&c, f, html, id, title, 0, y + h, WIDTH, 200);
            double pad = (hi - lo) * 0.08 + (hi == lo ? fabs(hi) * 0.1 + 1 : 0);
            chart_axes(&c, 0, x1, lo >= 0 && lo - pad < 0 ? 0 : lo - pad, hi + pad, AX_SEC,
                       AX_NONE, 0, 0);
            char **rn = run_names(runs, nr, "");
            for (int k = 0; k < nr; k++)
                if (s[k].n)
                    chart_line(&c, nr == 1 ? name : rn[k], nr == 1 ? "#4e79a7" : run_color(k),
                               s[k].t, s[k].v, s[k].n, LINE_STEP);
            chart_end(&c);
            names_free(rn, nr);
            h += 200;
        }
        for (int k = 0; k < nr; k++)
            ts_free(&s[k]);
        free(s);
    }
    json_decref(names);
    return h;
}

/* latency over time: p50 and p99 of each window, per region */
static int latency_charts(FILE *f, int html, int y, struct run *runs, int nr, double x1)
{
    json_t *paths = distinct(runs, nr, offsetof(struct run, region_windows), "path");
    size_t pi;
    json_t *pv;
    int h = 0;
    json_array_foreach(paths, pi, pv) {
        const char *path = json_string_value(pv);
        struct ts p50 = {0}, p99 = {0};
        double hi = 0;
        struct chart c;
        char id[64], title[600];
        snprintf(id, sizeof id, "latency-%zu", pi);
        snprintf(title, sizeof title, "Latency over time: %s (p50 and p99 per window)", path);
        chart_begin(&c, f, html, id, title, 0, y + h, WIDTH, 200);
        char **names = run_names(runs, nr, "p50 "), **n99 = run_names(runs, nr, "p99 ");
        int started = 0;
        for (int k = 0; k < nr; k++) {
            double off = run_offset(runs, nr, k);
            size_t i;
            json_t *w;
            ts_free(&p50);
            ts_free(&p99);
            json_array_foreach(runs[k].region_windows, i, w) {
                size_t j;
                json_t *g;
                json_array_foreach(json_object_get(w, "regions"), j, g) {
                    const char *p = json_string_value(json_object_get(g, "path"));
                    if (!p || strcmp(p, path))
                        continue;
                    /* a window covers (t0_s, t_s]: a step over its span */
                    double t = off + json_num(w, "t_s", 0);
                    double t0 = off + json_num(w, "t0_s", json_num(w, "t_s", 0));
                    if (t0 < t) {
                        ts_push(&p50, t0, json_num(g, "p50_ns", NAN));
                        ts_push(&p99, t0, json_num(g, "p99_ns", NAN));
                    }
                    ts_push(&p50, t, json_num(g, "p50_ns", NAN));
                    ts_push(&p99, t, json_num(g, "p99_ns", NAN));
                }
            }
            if (!started) {
                /* the range over every run first: one more pass */
                for (int q = 0; q < nr; q++) {
                    size_t i2;
                    json_t *w2;
                    json_array_foreach(runs[q].region_windows, i2, w2) {
                        size_t j;
                        json_t *g;
                        json_array_foreach(json_object_get(w2, "regions"), j, g) {
                            const char *p = json_string_value(json_object_get(g, "path"));
                            if (p && !strcmp(p, path))
                                hi = fmax(hi, json_num(g, "p99_ns", 0));
                        }
                    }
                }
                chart_axes(&c, 0, x1, 0, hi > 0 ? hi * 1.1 : 1, AX_SEC, AX_NS, 0, 0);
                started = 1;
            }
            if (p50.n) {
                chart_line(&c, nr == 1 ? "p50" : names[k], nr == 1 ? "#4e79a7" : run_color(k),
                           p50.t, p50.v, p50.n, 0);
                chart_line(&c, nr == 1 ? "p99" : n99[k], nr == 1 ? "#e15759" : run_color(k),
                           p99.t, p99.v, p99.n, LINE_DASHED);
            }
        }
        chart_end(&c);
        names_free(names, nr);
        names_free(n99, nr);
        ts_free(&p50);
        ts_free(&p99);
        h += 200;
    }
    json_decref(paths);
    return h;
}

/* A region's histogram, summed over its window records ("hist": bucket
 * and count pairs, in ticks of unit_ns).  Buckets are log-linear
 * (docs/probes.md): one per tick below 128, then 64 per power of two.
 * Returns the number of non-empty buckets, with their bounds in ns, or 0
 * when there is none or it does not agree with the region's own count,
 * min and max (then the percentile bars are drawn instead). */
static size_t region_hist(const struct run *r, const char *path, double count, double mn,
                          double mx, double **lo, double **hi, double **cnt)
{
    enum { NB = 128 + 64 * 40 };
    double *c = calloc(NB, sizeof *c), unit = NAN, total = 0;
    size_t i;
    json_t *w;
    json_array_foreach(r->region_windows, i, w) {
        size_t j;
        json_t *g;
        json_array_foreach(json_object_get(w, "regions"), j, g) {
            const char *p = json_string_value(json_object_get(g, "path"));
            json_t *h = json_object_get(g, "hist");
            if (!p || strcmp(p, path) || !json_is_object(h))
                continue;
            double u = json_num(h, "unit_ns", NAN);
            if (isnan(unit))
                unit = u;
            if (u != unit) {
                free(c);
                return 0;
            }
            json_t *b = json_object_get(h, "b");
            for (size_t k = 0; k + 1 < json_array_size(b); k += 2) {
                double bi = json_number_value(json_array_get(b, k));
                double n = json_number_value(json_array_get(b, k + 1));
                if (bi >= 0 && bi < NB) {
                    c[(size_t)bi] += n;
                    total += n;
                }
            }
        }
    }
    size_t m = 0, first = NB, last = 0;
    for (size_t b = 0; b < NB; b++)
        if (c[b] > 0) {
            m++;
            if (first == NB)
                first = b;
            last = b;
        }
    *lo = malloc((m + 1) * sizeof **lo);
    *hi = malloc((m + 1) * sizeof **hi);
    *cnt = malloc((m + 1) * sizeof **cnt);
    m = 0;
    for (size_t b = 0; b < NB; b++) {
        if (!(c[b] > 0))
            continue;
        double a, z;
        if (b < 128) {
            a = (double)b;
            z = a + 1;
        } else {
            double base = ldexp(128, (int)((b - 128) / 64));
            a = base + (double)((b - 128) % 64) * base / 64;
            z = a + base / 64;
        }
        (*lo)[m] = a * unit;
        (*hi)[m] = z * unit;
        (*cnt)[m++] = c[b];
    }
    free(c);
    /* the self-check: the same count, min and max inside the end buckets */
    int ok = m > 0 && isfinite(unit) && fabs(total - count) < 0.5 &&
             mn >= (*lo)[0] * 0.99 - 1 && mn <= (*hi)[0] * 1.01 + 1 &&
             mx >= (*lo)[m - 1] * 0.99 - 1 && mx <= (*hi)[m - 1] * 1.01 + 1;
    (void)first;
    (void)last;
    if (!ok) {
        free(*lo);
        free(*hi);
        free(*cnt);
        return 0;
    }
    return m;
}

/* the latency distribution of each region: min, percentiles and max */
static int region_charts(FILE *f, int html, int y, struct run *runs, int nr)
{
    static const char *const keys[] = {"min_ns", "p50_ns", "p90_ns", "p95_ns", "p99_ns",
                                       "p999_ns", "max_ns"};
    static const char *const labels[] = {"min", "p50", "p90", "p95", "p99", "p99.9", "max"};
    int h = 0, id = 0;
    for (int k = 0; k < nr; k++) {
        size_t i;
        json_t *g;
        json_array_foreach(runs[k].regions, i, g) {
            const char *path = json_string_value(json_object_get(g, "path"));
            double v[7], lo = INFINITY, hi = 0;
            for (int q = 0; q < 7; q++) {
                v[q] = json_num(g, keys[q], 0);
                if (v[q] > 0)
                    lo = fmin(lo, v[q]);
                hi = fmax(hi, v[q]);
            }
            if (!(hi > 0))
                continue;
            struct chart c;
            char cid[64], title[700], rn[300];
            double *bl, *bh, *bc;
            size_t nb = path ? region_hist(&runs[k], path, json_num(g, "count", 0), v[0], v[6],
                                           &bl, &bh, &bc) : 0;
            snprintf(cid, sizeof cid, "region-%d", id++);
            snprintf(title, sizeof title, "Region %s: %s, %lld occurrences%s%s",
                     path ? path : "?", nb ? "latency histogram" : "latency distribution",
                     (long long)json_num(g, "count", 0),
                     nr > 1 ? ", " : "", nr > 1 ? run_name(&runs[k], rn, sizeof rn) : "");
            chart_begin(&c, f, html, cid, title, 0, y + h, WIDTH, 200);
            if (nb) {
                double top = 0;
                for (size_t q = 0; q < nb; q++)
                    top = fmax(top, bc[q]);
                chart_axes(&c, bl[0] / 1.2, bh[nb - 1] * 1.2, 0, top * 1.15, AX_NS, AX_COUNT,
                           1, 0);
                chart_rects(&c, "occurrences", run_color(k), bl, bh, bc, nb);
                static const char *const mk[] = {"p50_ns", "p99_ns"};
                static const char *const ml[] = {"p50 ", "p99 "};
                for (int q = 0; q < 2; q++) {
                    char lab[80], val[64];
                    fmt_unit(val, sizeof val, AX_NS, json_num(g, mk[q], 0));
                    snprintf(lab, sizeof lab, "%s%s", ml[q], val);
                    chart_vmark(&c, json_num(g, mk[q], 0), lab, "#333", q);
                }
                free(bl);
                free(bh);
                free(bc);
            } else {
                chart_axes(&c, 0, 7, pow(10, floor(log10(lo / 2))),
                           pow(10, ceil(log10(hi * 1.5))), AX_NONE, AX_NS, 0, 1);
                chart_bars(&c, "latency", run_color(k), labels, v, 7);
            }
            chart_end(&c);
            h += 200;
        }
    }
    return h;
}

/* ---- allocation sites ------------------------------------------------------------------ */

/* The sites come from sites.c (symbolised, as `report --sites` shows them). */

struct fnode {
    char *name;
    double v;
    struct fnode *kid;
    int nkid, cap;
};

static struct fnode *fnode_child(struct fnode *n, const char *name)
{
    for (int i = 0; i < n->nkid; i++)
        if (!strcmp(n->kid[i].name, name))
            return &n->kid[i];
    if (n->nkid == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 4;
        n->kid = realloc(n->kid, (size_t)n->cap * sizeof *n->kid);
    }
    struct fnode *k = &n->kid[n->nkid++];
    memset(k, 0, sizeof *k);
    k->name = strdup(name);
    return k;
}

static void fnode_free(struct fnode *n)
{
    for (int i = 0; i < n->nkid; i++)
        fnode_free(&n->kid[i]);
    free(n->kid);
    free(n->name);
}

static int fnode_depth(const struct fnode *n)
{
    int d = 0;
    for (int i = 0; i < n->nkid; i++) {
        int k = fnode_depth(&n->kid[i]);
        if (k > d)
            d = k;
    }
    return d + 1;
}

#define FLAME_ROW 17
#define FLAME_MAX_DEPTH 40

static void flame_draw(FILE *f, const struct fnode *n, double x, double w, int depth,
                       double total, enum axis_unit u)
{
    if (w < 0.5 || depth >= FLAME_MAX_DEPTH)
        return;
    unsigned h = 5381;
    for (const char *p = n->name; *p; p++)
        h = h * 33 + (unsigned char)*p;
    char val[64];
    fmt_unit(val, sizeof val, u, n->v);
    fprintf(f, "<g class=\"pp-frame-box\"><title>");
    xml_text(f, n->name);
    fprintf(f, " - %s (%.1f%%)</title><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
            "fill=\"hsl(%u,75%%,%u%%)\" stroke=\"#fff\" stroke-width=\"0.5\"/>", val,
            total > 0 ? n->v / total * 100 : 0, x, 30 + depth * FLAME_ROW, w, FLAME_ROW - 1,
            strncmp(n->name, "py:", 3) ? 10 + h % 40 : 190 + h % 40, 58 + (h / 40) % 14);
    int chars = (int)(w / 6.2) - 1;
    if (chars >= 3) {
        char label[256];
        snprintf(label, sizeof label, "%s", n->name);
        if ((int)strlen(label) > chars) {
            label[chars > 2 ? chars - 2 : 0] = 0;
            strcat(label, "..");
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10.5\">", x + 3,
                30 + depth * FLAME_ROW + 12);
        xml_text(f, label);
        fprintf(f, "</text>");
    }
    fprintf(f, "</g>\n");
    double cx = x;
    for (int i = 0; i < n->nkid; i++) {
        double cw = n->v > 0 ? w * n->kid[i].v / n->v : 0;
        flame_draw(f, &n->kid[i], cx, cw, depth + 1, total, u);
        cx += cw;
    }
}

/* An icicle flame graph of KEY ("peak_bytes" or "alloc_bytes"): the whole
 * at the top, callers above their callees; returns its height. */
static int flame_chart(FILE *f, int html, int y, json_t *sites, const char *key,
                       const char *id, const char *title, enum axis_unit u)
{
    struct fnode root = {0};
    root.name = strdup("all");
    size_t i;
    json_t *s;
    json_array_foreach(sites, i, s) {
        double v = json_num(s, key, 0);
        if (!(v > 0))
            continue;
        json_t *fr = json_object_get(s, "frames");
        struct fnode *n = &root;
        root.v += v;
        for (size_t k = json_array_size(fr); k-- > 0;) {   /* outermost first */
            json_t *x = json_array_get(fr, k);
            const char *fn = json_string_value(json_object_get(x, "fn"));
            const char *file = json_string_value(json_object_get(x, "file"));
            char name[600];
            /* a frame is a function at a line: two call sites in one function
             * differ; a Python frame reads "py:" (and is drawn blue) */
            if (file && json_num(x, "line", 0) > 0)
                snprintf(name, sizeof name, "%s%s (%s:%.0f)",
                         json_is_true(json_object_get(x, "python")) ? "py:" : "", fn ? fn : "?",
                         strrchr(file, '/') ? strrchr(file, '/') + 1 : file,
                         json_num(x, "line", 0));
            else
                snprintf(name, sizeof name, "%s", fn ? fn : "?");
            n = fnode_child(n, name);
            n->v += v;
        }
        if (!json_array_size(fr))
            fnode_child(n, "(no stack)")->v += v;
    }
    int h = 0;
    if (root.v > 0) {
        int depth = fnode_depth(&root);
        if (depth > FLAME_MAX_DEPTH)
            depth = FLAME_MAX_DEPTH;
        h = 30 + depth * FLAME_ROW + 8;
        fprintf(f, "<svg class=\"pp-chart pp-flame\" id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" "
                "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\"", id, WIDTH, h, WIDTH, h);
        if (!html)
            fprintf(f, " x=\"0\" y=\"%d\"", y);
        fprintf(f, " font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"%d\" "
                "height=\"%d\" fill=\"#fff\"/>\n<text class=\"pp-title\" x=\"10\" y=\"18\" "
                "font-size=\"13\" font-weight=\"bold\">", WIDTH, h);
        char val[64];
        fmt_unit(val, sizeof val, u, root.v);
        xml_text(f, title);
        fprintf(f, ": %s</text>\n", val);
        flame_draw(f, &root, 10, WIDTH - 20, 0, root.v, u);
        fprintf(f, "</svg>\n");
    }
    fnode_free(&root);
    return h;
}

static void sites_table(FILE *f, json_t *sites)
{
    fputs("<table><tr><th>site (innermost frame)</th><th>live at heap peak</th>"
          "<th>allocated</th><th>allocations</th><th>live at exit</th></tr>\n", f);
    size_t i;
    json_t *s;
    json_array_foreach(sites, i, s) {
        if (i == 15)
            break;
        json_t *fr = json_array_get(json_object_get(s, "frames"), 0), *x;
        size_t k;
        json_array_foreach(json_object_get(s, "frames"), k, x)   /* the Python line, if any */
            if (json_is_true(json_object_get(x, "python"))) {
                fr = x;
                break;
            }
        const char *fn = json_string_value(json_object_get(fr, "fn"));
        const char *file = json_string_value(json_object_get(fr, "file"));
        char a[64], b[64], c[64], where[600];
        fmt_unit(a, sizeof a, AX_BYTES, json_num(s, "peak_bytes", 0));
        fmt_unit(b, sizeof b, AX_BYTES, json_num(s, "alloc_bytes", 0));
        fmt_unit(c, sizeof c, AX_BYTES, json_num(s, "live_bytes", 0));
        snprintf(where, sizeof where, "%s%s%s", fn ? fn : "(no stack)", file ? "  " : "",
                 file ? file : "");
        if (file && json_num(fr, "line", 0) > 0)
            snprintf(where + strlen(where), sizeof where - strlen(where), ":%.0f",
                     json_num(fr, "line", 0));
        fputs("<tr><td>", f);
        xml_text(f, where);
        fprintf(f, "</td><td>%s</td><td>%s</td><td>%.0f%s</td><td>%s</td></tr>\n", a, b,
                json_num(s, "allocs", 0),
                json_is_true(json_object_get(s, "estimated")) ? " (est.)" : "", c);
    }
    fputs("</table>\n", f);
}

/* flame graphs and the table for the main process, when its file has sites */
static int sites_charts(FILE *f, int html, int y, struct run *runs, int nr)
{
    json_t *sites = sites_to_json(&runs[main_run(runs, nr)]);
    if (!json_array_size(sites)) {
        json_decref(sites);
        return 0;
    }
    int h = 0;
    if (html) {
        fputs("<h2>Allocation sites</h2>\n", f);
        sites_table(f, sites);
        fputs("<p class=\"note\">Hover a frame for its bytes; callers are above their "
              "callees.</p>\n", f);
    }
    h += flame_chart(f, html, y + h, sites, "peak_bytes", "flame-peak",
                     "Allocation sites: live at the heap peak", AX_BYTES);
    h += flame_chart(f, html, y + h, sites, "alloc_bytes", "flame-alloc",
                     "Allocation sites: bytes allocated", AX_BYTES);
    json_decref(sites);
    return h;
}

/* The CPU flame graph of the main process, when its file has CPU samples
 * (read/cpu.c): its stacks as the allocation charts' sites, valued in
 * samples. */
static int cpu_charts(FILE *f, int html, int y, struct run *runs, int nr)
{
    struct cprof p;
    if (cprof_load(&runs[main_run(runs, nr)], NULL, &p) <= 0)
        return 0;
    json_t *stacks = json_array();
    for (int i = 0; i < p.n; i++) {
        const struct cstack *cs = &p.v[i];
        if (!(cs->samples > 0))
            continue;
        json_t *fr = json_array();
        for (int k = 0; k < cs->n; k++) {
            const struct sym_frame *x = &cs->frames[k];
            json_array_append_new(fr, json_pack("{s:s?, s:s?, s:i, s:b}", "fn", x->fn, "file",
                                                x->file, "line", x->line, "python",
                                                x->python));
        }
        json_array_append_new(stacks, json_pack("{s:f, s:o}", "samples", cs->samples,
                                                "frames", fr));
    }
    cprof_free(&p);
    int h = 0;
    if (json_array_size(stacks)) {
        if (html)
            fputs("<h2>CPU</h2>\n<p class=\"note\">Stacks sampled by the kernel on each "
                  "thread's CPU time (perfprobe report --cpu); hover a frame for its "
                  "samples.</p>\n", f);
        h = flame_chart(f, html, y, stacks, "samples", "flame-cpu", "CPU: samples by stack",
                        AX_COUNT);
    }
    json_decref(stacks);
    return h;
}

/* ---- the page -------------------------------------------------------------------------- */

static void summary_table(FILE *f, struct run *runs, int nr)
{
    fputs("<table><tr><th>process</th><th>wall</th><th>peak RSS</th><th>peak heap</th>"
          "<th>heap at exit</th><th>CPU user</th><th>CPU sys</th><th>probes</th>"
          "<th>complete</th></tr>\n", f);
    for (int k = 0; k < nr; k++) {
        json_t *s = runs[k].summary;
        char name[300], a[64], b[64], c[64], d[64], e[64], g[64];
        fmt_unit(a, sizeof a, AX_SEC, json_num(s, "wall_s", 0));
        fmt_unit(b, sizeof b, AX_BYTES, json_num(s, "peak_rss_bytes", 0));
        fmt_unit(c, sizeof c, AX_BYTES, json_num(s, "peak_heap_bytes", 0));
        fmt_unit(d, sizeof d, AX_BYTES, json_num(s, "heap_bytes_at_exit", 0));
        fmt_unit(e, sizeof e, AX_SEC, json_num(s, "cpu_user_s", 0));
        fmt_unit(g, sizeof g, AX_SEC, json_num(s, "cpu_sys_s", 0));
        fputs("<tr><td>", f);
        xml_text(f, run_name(&runs[k], name, sizeof name));
        fprintf(f, "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                "<td>%zu</td><td>%s</td></tr>\n", a, b, c, d, e, g,
                json_array_size(runs[k].probes),
                json_is_true(json_object_get(s, "complete")) ? "yes" : "no (killed)");
    }
    fputs("</table>\n", f);
}

/* Every chart, stacked from Y down; returns the height used. */
static int all_charts(FILE *f, int html, int y0, struct run *runs, int nr)
{
    double x1 = 0;
    for (int k = 0; k < nr; k++)
        x1 = fmax(x1, run_offset(runs, nr, k) + run_end(&runs[k]));
    if (!(x1 > 0))
        x1 = 1;
    int y = y0;
    if (html) fputs("<h2>Memory</h2>\n", f);
    memory_chart(f, html, y, runs, nr, x1);
    y += 340;
    if (html) fputs("<h2>CPU and page faults</h2>\n", f);
    if (rate_chart(f, html, y, runs, nr, x1, "cpu", nr == 1 ? "CPU % (user and system)"
                   : "CPU % (user + system) per process", "user_s", "user", "sys_s", "system",
                   100, AX_PCT))
        y += 200;
    if (rate_chart(f, html, y, runs, nr, x1, "faults", nr == 1 ? "Page faults per second"
                   : "Page faults per second per process", "minflt", "minor", "majflt",
                   "major", 1, AX_RATE))
        y += 200;
    int has_counters = 0, has_windows = 0, has_regions = 0;
    for (int k = 0; k < nr; k++) {
        has_counters |= json_array_size(runs[k].counters) > 0;
        has_windows |= json_array_size(runs[k].region_windows) > 0;
        has_regions |= json_array_size(runs[k].regions) > 0;
    }
    if (has_counters && html) fputs("<h2>Counters</h2>\n", f);
    y += counter_charts(f, html, y, runs, nr, x1);
    if ((has_windows || has_regions) && html) fputs("<h2>Regions</h2>\n", f);
    y += latency_charts(f, html, y, runs, nr, x1);
    y += region_charts(f, html, y, runs, nr);
    y += sites_charts(f, html, y, runs, nr);
    y += cpu_charts(f, html, y, runs, nr);
    return y - y0;
}

static int write_plot(FILE *f, int html, struct run *runs, int nr)
{
    char name[300], title[400];
    snprintf(title, sizeof title, "perfprobe: %s%s", run_name(&runs[main_run(runs, nr)], name,
             sizeof name), nr > 1 ? " and others" : "");
    if (html) {
        html_begin(f, title);
        fputs("<h1>", f);
        xml_text(f, title);
        fputs("</h1>\n", f);
        summary_table(f, runs, nr);
        fputs("<p class=\"note\">Hover a chart for values; drag across a time chart to zoom "
              "every time chart to that span; double-click to zoom out.</p>\n", f);
        all_charts(f, 1, 0, runs, nr);
        html_end(f);
        return 0;
    }
    /* SVG: the charts nested in one root, whose height is known at the end */
    char *body = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&body, &len);
    if (!m)
        return -1;
    int h = all_charts(m, 0, 34, runs, nr);
    fclose(m);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n"
            "<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">", WIDTH, h + 34,
            WIDTH, h + 34);
    xml_text(f, title);
    fputs("</text>\n", f);
    fwrite(body, 1, len, f);
    fputs("</svg>\n", f);
    free(body);
    return 0;
}

static const char plot_usage[] =
    "usage: perfprobe plot FILE|DIR... -o OUT.html|OUT.svg\n"
    "\n"
    "Draws timelines into one self-contained file: memory over time (RSS by part,\n"
    "live heap, mappings, peaks, probes), CPU %, page faults, counters, region\n"
    "latency over time and distribution.  OUT.html is interactive (hover, drag to\n"
    "zoom); OUT.svg is static.  Several files overlay, one colour per process.\n";

int cmd_plot(int argc, char **argv)
{
    const char *out;
    char **files;
    int parse_rc, n = files_and_output(argc, argv, "plot", plot_usage, "OUT.html or OUT.svg",
                                       &files, &out, &parse_rc);
    if (n < 0)
        return parse_rc;
    int html = ends_with(out, ".html") || ends_with(out, ".htm");
    if (!html && !ends_with(out, ".svg")) {
        free(files);
        return error("plot: %s: the output must end in .html or .svg", out);
    }
    struct run *runs;
    int nr = runs_read(n, files, &runs);
    free(files);
    if (nr < 0)
        return EXIT_USAGE;
    int rc = EXIT_OK;
    struct outfile of;
    FILE *f = outfile_is_run("plot", out, runs, nr) ? NULL : outfile_open(&of, "plot", out);
    if (!f) {
        rc = EXIT_USAGE;
    } else {
        write_plot(f, html, runs, nr);
        rc = outfile_commit(&of);
    }
    for (int i = 0; i < nr; i++)
        run_free(&runs[i]);
    free(runs);
    return rc;
}
