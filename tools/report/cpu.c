/*
 * cpu.c - where the CPU went, as text and JSON: `report --cpu` (the
 * functions by self and by total samples, as cProfile prints them), the
 * "cpu" key of `report --json`, and the CPU part of `diff` (seconds by
 * function in two runs).  The samples are read by read/cpu.c.
 */
#define _GNU_SOURCE
#include "report/report.h"

#include <stdlib.h>
#include <string.h>

#define TOP 15

static int by_self(const void *a, const void *b)
{
    const struct cfunc *x = a, *y = b;
    return x->self != y->self ? (x->self < y->self ? 1 : -1)
                              : x->total != y->total ? (x->total < y->total ? 1 : -1)
                                                     : strcmp(x->fn, y->fn);
}

static int by_total(const void *a, const void *b)
{
    const struct cfunc *x = a, *y = b;
    return x->total != y->total ? (x->total < y->total ? 1 : -1)
                                : x->self != y->self ? (x->self < y->self ? 1 : -1)
                                                     : strcmp(x->fn, y->fn);
}

/* a Python function reads "py:name (file.py:FIRST)" (its first line, as
 * cProfile names functions), as allocation sites name Python frames */
static void func_text(const struct cfunc *f, char *buf, size_t n)
{
    const char *file = f->file ? strrchr(f->file, '/') : NULL;
    file = file ? file + 1 : f->file;
    if (f->python && file)
        snprintf(buf, n, "py:%s (%s:%d)", f->fn, file, f->first_line);
    else if (f->python)
        snprintf(buf, n, "py:%s", f->fn);
    else if (file)
        snprintf(buf, n, "%s (%s)", f->fn, file);
    else
        snprintf(buf, n, "%s", f->fn);
}

static void table(FILE *out, struct cprof *p, int total_first)
{
    if (p->nf > 0)
        qsort(p->f, (size_t)p->nf, sizeof *p->f, total_first ? by_total : by_self);
    fprintf(out, "  %9s %7s %7s %10s %7s %7s  %s\n", "self", "self%", "samples", "total",
            "total%", "samples", "function");
    for (int i = 0; i < p->nf && i < TOP; i++) {
        struct cfunc *f = &p->f[i];
        if ((total_first ? f->total : f->self) <= 0)
            break;
        char name[1024];
        func_text(f, name, sizeof name);
        fprintf(out, "  %8.3fs %6.1f%% %7.0f %9.3fs %6.1f%% %7.0f  %s\n",
                f->self * p->period_ns / 1e9, 100 * f->self / p->samples, f->self,
                f->total * p->period_ns / 1e9, 100 * f->total / p->samples, f->total, name);
    }
}

static void report_one(FILE *out, const struct run *r, struct cprof *p, const struct cfilter *fl)
{
    const char *prog = json_string_value(json_object_get(r->header, "program"));
    fprintf(out, "%s (pid %ld): ", prog ? prog : "?", r->pid);
    if (p->off) {
        fprintf(out, "no CPU samples: the kernel refused (%s)\n", p->off);
        return;
    }
    fprintf(out, "%.0f CPU samples, %.3f s of CPU in user mode (one every %.3f ms of a "
            "thread's CPU time)", p->samples, p->samples * p->period_ns / 1e9, p->period_ns / 1e6);
    if (fl->region)
        fprintf(out, ", inside region %s", fl->region);
    if (fl->from)
        fprintf(out, ", between %s and %s", fl->from, fl->to);
    fputc('\n', out);
    if (p->samples <= 0)
        return;
    fprintf(out, "\nby self time (samples in the function itself)\n");
    table(out, p, 0);
    fprintf(out, "\nby total time (samples with the function anywhere on the stack)\n");
    table(out, p, 1);
    if (p->nl) {
        fprintf(out, "\nby Python line (samples whose innermost Python frame is at the line)\n");
        fprintf(out, "  %9s %7s %7s  %s\n", "time", "%", "samples", "line");
        for (int i = 0; i < p->nl && i < TOP; i++) {
            struct sym_frame x = {.fn = p->l[i].fn, .file = p->l[i].file, .line = p->l[i].line,
                                  .python = 1};
            char name[1024];
            frame_text(&x, name, sizeof name);
            fprintf(out, "  %8.3fs %6.1f%% %7.0f  %s\n", p->l[i].samples * p->period_ns / 1e9,
                    100 * p->l[i].samples / p->samples, p->l[i].samples, name);
        }
    }
    if (json_object_size(p->threads) > 1) {
        fprintf(out, "\nby thread\n");
        const char *k;
        json_t *v;
        json_object_foreach(p->threads, k, v)
            fprintf(out, "  tid %-8s %7.0f samples %6.1f%% %9.3fs\n", k, json_number_value(v),
                    100 * json_number_value(v) / p->samples,
                    json_number_value(v) * p->period_ns / 1e9);
    }
}

/* `report --cpu [--region NAME] [--between P1 P2] FILE...` */
int cpu_report(FILE *out, struct run *runs, int n, const char *region, const char *from,
               const char *to)
{
    struct cfilter fl = {region, from, to};
    int any = 0;
    for (int i = 0; i < n; i++) {
        struct cprof p;
        int got = cprof_load(&runs[i], &fl, &p);
        if (got < 0)
            return EXIT_USAGE;
        if (got == 0)
            continue;
        if (any)
            fputc('\n', out);
        any = 1;
        report_one(out, &runs[i], &p, &fl);
        cprof_free(&p);
    }
    if (!any)
        return error("report --cpu: no CPU samples recorded (PERFPROBE_CPU=off?)");
    return EXIT_OK;
}

/* the "cpu" key of `report --json`: NULL when the run has no CPU records */
json_t *cpu_to_json(const struct run *r)
{
    struct cprof p;
    if (cprof_load(r, NULL, &p) <= 0)
        return NULL;
    json_t *o = json_object();
    if (p.off)
        json_object_set_new(o, "off", json_string(p.off));
    json_object_set_new(o, "samples", json_integer((json_int_t)p.samples));
    json_object_set_new(o, "period_ns", json_integer((json_int_t)p.period_ns));
    json_object_set_new(o, "cpu_s", json_real(p.samples * p.period_ns / 1e9));
    if (p.nf > 0)
        qsort(p.f, (size_t)p.nf, sizeof *p.f, by_total);
    json_t *fs = json_array();
    for (int i = 0; i < p.nf && i < 100; i++) {
        struct cfunc *f = &p.f[i];
        json_t *x = json_pack("{s:o, s:f, s:f, s:f, s:f, s:f, s:f}", "function", json_text(f->fn),
                              "self", f->self, "total", f->total,
                              "self_pct", p.samples > 0 ? 100 * f->self / p.samples : 0.0,
                              "total_pct", p.samples > 0 ? 100 * f->total / p.samples : 0.0,
                              "self_s", f->self * p.period_ns / 1e9,
                              "total_s", f->total * p.period_ns / 1e9);
        if (f->file)
            json_object_set_new(x, "file", json_text(f->file));
        if (f->python) {
            json_object_set_new(x, "python", json_true());
            json_object_set_new(x, "first_line", json_integer(f->first_line));
        }
        json_array_append_new(fs, x);
    }
    json_object_set_new(o, "functions", fs);
    json_t *ls = json_array();
    for (int i = 0; i < p.nl && i < 100; i++)
        json_array_append_new(ls, json_pack("{s:o, s:o?, s:i, s:f, s:f}", "function",
                                            json_text(p.l[i].fn), "file",
                                            p.l[i].file ? json_text(p.l[i].file) : NULL, "line", p.l[i].line,
                                            "samples", p.l[i].samples, "pct",
                                            p.samples > 0 ? 100 * p.l[i].samples / p.samples
                                                          : 0.0));
    if (p.nl)
        json_object_set_new(o, "python_lines", ls);
    else
        json_decref(ls);
    json_t *th = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(p.threads, k, v)
        json_object_set_new(th, k, json_integer((json_int_t)json_number_value(v)));
    json_object_set_new(o, "threads", th);
    cprof_free(&p);
    return o;
}

/* ---- diff: CPU by function ------------------------------------------------- */

struct dfunc { char *key; double self[2], total[2]; };

static int by_self_change(const void *x, const void *y)
{
    const struct dfunc *a = x, *b = y;
    double ca = a->self[1] - a->self[0], cb = b->self[1] - b->self[0];
    ca = ca < 0 ? -ca : ca;
    cb = cb < 0 ? -cb : cb;
    return ca < cb ? 1 : ca > cb ? -1 : strcmp(a->key, b->key);
}

/* `diff A B`: each function's self and total CPU seconds in both runs, as
 * text on F (the 15 whose self time changed most) or, with JSON_ROWS, as
 * rows "cpu.FUNCTION.self_s" and "cpu.FUNCTION.total_s" */
void cpu_diff(FILE *f, const struct run *ra, const struct run *rb, json_t *json_rows,
              double noise)
{
    struct cprof p[2];
    int got[2];
    got[0] = cprof_load(ra, NULL, &p[0]);
    got[1] = cprof_load(rb, NULL, &p[1]);
    if (got[0] <= 0 && got[1] <= 0)
        return;
    json_t *index = json_object();
    struct dfunc *d = NULL;
    size_t nd = 0;
    for (int w = 0; w < 2; w++) {
        for (int i = 0; got[w] > 0 && i < p[w].nf; i++) {
            char key[1024];
            func_text(&p[w].f[i], key, sizeof key);
            json_t *v = json_object_get(index, key);
            if (!v) {
                d = realloc(d, (nd + 1) * sizeof *d);
                memset(&d[nd], 0, sizeof *d);
                d[nd].key = strdup(key);
                v = json_integer((json_int_t)nd++);
                json_object_set_new(index, key, v);
            }
            struct dfunc *e = &d[json_integer_value(v)];
            e->self[w] += p[w].f[i].self * p[w].period_ns / 1e9;
            e->total[w] += p[w].f[i].total * p[w].period_ns / 1e9;
        }
    }
    if (nd > 1)              /* qsort of NULL is undefined, even for none */
        qsort(d, nd, sizeof *d, by_self_change);
    if (json_rows) {
        for (size_t i = 0; i < nd; i++) {
            static const char *const figs[] = {"self_s", "total_s"};
            for (int k = 0; k < 2; k++) {
                double a = k ? d[i].total[0] : d[i].self[0], b = k ? d[i].total[1] : d[i].self[1];
                char name[1200];
                snprintf(name, sizeof name, "cpu.%s.%s", d[i].key, figs[k]);
                double pct = a != 0 ? (b - a) / (a < 0 ? -a : a) * 100.0 : 0;
                json_t *o = json_pack("{s:o, s:b, s:f, s:f, s:f}", "figure", json_text(name), "marked",
                                      (a == 0) != (b == 0) || (a != 0 && (pct > noise || -pct > noise)),
                                      "a", a, "b", b, "change", b - a);
                json_object_set_new(o, "pct", a != 0 ? json_real(pct) : json_null());
                json_array_append_new(json_rows, o);
            }
        }
    } else {
        fprintf(f, "\nCPU by function (self seconds, estimated from samples), the %d that "
                   "changed most:\n", nd < TOP ? (int)nd : TOP);
        fprintf(f, "  %10s %10s %10s %10s  %s\n", "self A", "self B", "total A", "total B",
                "function");
        for (size_t i = 0; i < nd && i < TOP; i++)
            fprintf(f, "  %9.3fs %9.3fs %9.3fs %9.3fs  %s\n", d[i].self[0], d[i].self[1],
                    d[i].total[0], d[i].total[1], d[i].key);
    }
    for (size_t i = 0; i < nd; i++)
        free(d[i].key);
    free(d);
    json_decref(index);
    for (int w = 0; w < 2; w++)
        if (got[w] > 0)
            cprof_free(&p[w]);
}
