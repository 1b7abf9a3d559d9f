/*
 * cpu.c - the CPU samples of a run, read from the cpu and cpu_stack records
 * the shim's core/cpu.c writes (docs/cpu.md): each stack symbolised once,
 * its samples counted, and per function the self and total samples, for the
 * commands that show them (report/cpu.c, draw/cpu_flame.c, draw/trace.c,
 * export/cpu_pprof.c).
 *
 * A sample stands for one period of its thread's CPU time (the record's
 * period_ns), so a function's estimated time is its samples times the
 * period.  Self counts the innermost frame (the innermost inlined call when
 * the address lies in inlined code); total counts a function once per
 * sample however often it recurs in the stack.  A filter keeps the samples
 * taken while the thread was inside a region (the innermost open one or one
 * around it), or those read after one probe and up to another (by the time
 * of the tick that read them: within one sampling interval of the probes).
 *
 * Two shapes of record (docs/format.md): one record a tick with its rows and
 * cpu_stack records with whole stacks (files written before the batches),
 * or one record every few ticks with each tick's time and samples and the
 * stack tree's new nodes; rows_of and frames_of read both.
 */
#define _GNU_SOURCE
#include "read/read.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INLINE 16

static double probe_time(const struct run *r, const char *label, int *found)
{
    size_t i;
    json_t *o;
    json_array_foreach(r->probes, i, o) {
        const char *l = json_string_value(json_object_get(o, "label"));
        if (l && !strcmp(l, label)) {
            *found = 1;
            return json_num(o, "t_s", 0);
        }
    }
    *found = 0;
    return 0;
}

/* is PATH ("a/b/c") inside region NAME: NAME is one of its parts, or the
 * whole of it */
static int in_region(const char *path, const char *name)
{
    if (!path)
        return 0;
    if (!strcmp(path, name))
        return 1;
    size_t n = strlen(name);
    for (const char *p = path; (p = strstr(p, name)) != NULL; p++)
        if ((p == path || p[-1] == '/') && (p[n] == 0 || p[n] == '/'))
            return 1;
    return 0;
}

typedef void row_fn(void *ctx, double t_s, long tid, long stack, const char *region, double n);

/* Each row of cpu record O: EMIT(CTX, time the samples were read, thread,
 * stack id, region or NULL, samples), in the record's order.  A batched
 * record's tick times are whole microseconds, summed as integers: the same
 * doubles as the t_s the record of each tick had. */
static void rows_of(json_t *o, row_fn *emit, void *ctx)
{
    size_t k;
    json_t *x;
    json_array_foreach(json_object_get(o, "samples"), k, x)
        emit(ctx, json_num(o, "t_s", 0), (long)json_number_value(json_array_get(x, 0)),
             (long)json_number_value(json_array_get(x, 1)), json_string_value(json_array_get(x, 2)),
             json_number_value(json_array_get(x, 3)));
    json_t *threads = json_object_get(o, "threads");
    long long us = llround(json_num(o, "t0", 0) * 1e6);
    json_array_foreach(json_object_get(o, "ticks"), k, x) {
        us += (long long)json_number_value(json_array_get(x, 0));
        double t = (double)us / 1e6;
        json_t *cur = json_array_get(threads, 0);
        for (size_t j = 1; j < json_array_size(x); j++) {
            json_t *e = json_array_get(x, j);
            double stack = json_number_value(json_is_array(e) ? json_array_get(e, 0) : e);
            double n = json_is_array(e) ? json_number_value(json_array_get(e, 1)) : 1;
            if (!json_is_array(e) && stack < 0) {       /* another thread or region */
                cur = json_array_get(threads, (size_t)(-stack - 1));
                continue;
            }
            emit(ctx, t, (long)json_number_value(json_array_get(cur, 0)), (long)stack,
                 json_string_value(json_array_get(cur, 1)), n);
        }
    }
}

/* The frames of stack ID, innermost first: a cpu_stack record's, or the
 * chain of nodes [id, up, frame] (a new array, to be freed; NULL: none). */
static json_t *frames_of(json_t *stacks, json_t *nodes, long id)
{
    char key[32];
    snprintf(key, sizeof key, "%ld", id);
    json_t *rec = json_object_get(stacks, key);
    if (rec)
        return json_incref(json_object_get(rec, "frames"));
    json_t *fr = json_array();
    for (long at = id; at > 0 && json_array_size(fr) < 4096;) {
        snprintf(key, sizeof key, "%ld", at);
        json_t *nd = json_object_get(nodes, key);
        if (!nd)
            break;
        json_array_append(fr, json_array_get(nd, 2));
        long up = (long)json_number_value(json_array_get(nd, 1));
        at = up < at ? up : 0;       /* a node's callers are older than it */
    }
    return fr;
}

static struct cstack *stack_of(struct cprof *p, json_t *stacks, json_t *nodes, json_t *pyframes,
                               long id)
{
    char key[32];
    snprintf(key, sizeof key, "%ld", id);
    json_t *i = json_object_get(p->index, key);
    if (i)
        return &p->v[json_integer_value(i)];
    p->v = realloc(p->v, (size_t)(p->n + 1) * sizeof *p->v);
    struct cstack *s = &p->v[p->n];
    memset(s, 0, sizeof *s);
    s->id = id;
    json_t *fr = frames_of(stacks, nodes, id);
    size_t nf = json_array_size(fr);
    s->frames = calloc(nf * MAX_INLINE + 1, sizeof *s->frames);
    for (size_t k = 0; k < nf; k++) {
        double v = json_number_value(json_array_get(fr, k));
        if (v < 0) {                    /* a Python frame (the shim's pyframes.c) */
            s->n += python_frame(pyframes, (long)-v, s->frames + s->n);
            continue;
        }
        s->n += symbols_lookup(p->sym, (uint64_t)v, s->frames + s->n, MAX_INLINE);
    }
    json_decref(fr);
    if (s->n == 0) {
        s->frames[0] = (struct sym_frame){.fn = "(unknown)"};
        s->n = 1;
    }
    json_object_set_new(p->index, key, json_integer(p->n));
    return &p->v[p->n++];
}

static struct cfunc *func_of(struct cprof *p, json_t *fidx, const struct sym_frame *f)
{
    char key[2048];
    snprintf(key, sizeof key, "%s\t%s\t%d", f->fn, f->file ? f->file : f->module ? f->module : "",
             f->python ? f->first_line : -1);
    json_t *i = json_object_get(fidx, key);
    if (i)
        return &p->f[json_integer_value(i)];
    p->f = realloc(p->f, (size_t)(p->nf + 1) * sizeof *p->f);
    p->f[p->nf] = (struct cfunc){f->fn, f->file ? f->file : f->module, 0, 0, -1, f->python,
                                 f->first_line};
    json_object_set_new(fidx, key, json_integer(p->nf));
    return &p->f[p->nf++];
}

static int by_samples(const void *a, const void *b)
{
    const struct cline *x = a, *y = b;
    return x->samples != y->samples ? (x->samples < y->samples ? 1 : -1) : x->line - y->line;
}

/* the samples of each Python line, by the innermost Python frame */
static void python_lines(struct cprof *p)
{
    json_t *idx = json_object();
    for (int k = 0; k < p->n; k++) {
        struct cstack *s = &p->v[k];
        int f = 0;
        while (f < s->n && !s->frames[f].python)
            f++;
        if (s->samples <= 0 || f == s->n)
            continue;
        const struct sym_frame *x = &s->frames[f];
        char key[2048];
        snprintf(key, sizeof key, "%s\t%s\t%d", x->fn, x->file ? x->file : "", x->line);
        json_t *i = json_object_get(idx, key);
        if (!i) {
            p->l = realloc(p->l, (size_t)(p->nl + 1) * sizeof *p->l);
            p->l[p->nl] = (struct cline){x->fn, x->file, x->line, 0};
            i = json_integer(p->nl++);
            json_object_set_new(idx, key, i);
        }
        p->l[json_integer_value(i)].samples += s->samples;
    }
    json_decref(idx);
    if (p->nl)
        qsort(p->l, (size_t)p->nl, sizeof *p->l, by_samples);
}

void cprof_free(struct cprof *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->v[i].frames);
    free(p->v);
    free(p->f);
    free(p->l);
    json_decref(p->index);
    json_decref(p->threads);
    if (p->sym)
        symbols_free(p->sym);
    memset(p, 0, sizeof *p);
}

struct load_ctx {
    struct cprof *p;
    const struct cfilter *fl;
    double t0, t1;
    json_t *stacks, *nodes, *pyframes;
};

static void load_row(void *ctx, double t, long tid, long stack, const char *region, double c)
{
    struct load_ctx *lc = ctx;
    struct cprof *p = lc->p;
    if (t <= lc->t0 || t > lc->t1)
        return;
    if (lc->fl && lc->fl->region && !in_region(region, lc->fl->region))
        return;
    struct cstack *s = stack_of(p, lc->stacks, lc->nodes, lc->pyframes, stack);
    s->samples += c;
    p->samples += c;
    char key[32];
    snprintf(key, sizeof key, "%ld", tid);
    json_object_set_new(p->threads, key, json_real(json_num(p->threads, key, 0) + c));
}

/* The CPU samples of run R that pass FL.  -1 with an error printed when a
 * probe label is not found; 0 when the run has no CPU records; else 1. */
int cprof_load(const struct run *r, const struct cfilter *fl, struct cprof *p)
{
    memset(p, 0, sizeof *p);
    double t0 = -1, t1 = 1e300;
    int found;
    if (fl && fl->from) {
        t0 = probe_time(r, fl->from, &found);
        if (!found)
            return error("no probe labelled '%s' in %s (pid %ld)", fl->from, r->path, r->pid), -1;
    }
    if (fl && fl->to) {
        t1 = probe_time(r, fl->to, &found);
        if (!found)
            return error("no probe labelled '%s' in %s (pid %ld)", fl->to, r->path, r->pid), -1;
    }
    json_t *stacks = json_object(), *nodes = json_object(), *pyframes = json_object(), *o;
    size_t i;
    json_array_foreach(r->site_records, i, o) {
        const char *type = json_string_value(json_object_get(o, "type"));
        if (type && !strcmp(type, "pyframe")) {
            char key[32];
            snprintf(key, sizeof key, "%ld", (long)json_num(o, "id", -1));
            json_object_set(pyframes, key, o);
            continue;
        }
        if (!type || strncmp(type, "cpu", 3))
            continue;
        p->has = 1;
        if (!strcmp(type, "cpu_stack")) {
            char key[32];
            snprintf(key, sizeof key, "%ld", (long)json_num(o, "id", -1));
            json_object_set(stacks, key, o);
        } else if (!strcmp(type, "cpu_info") && json_object_get(o, "off")) {
            p->off = json_string_value(json_object_get(o, "off"));
        } else if (!strcmp(type, "cpu")) {
            size_t k;
            json_t *nd;
            json_array_foreach(json_object_get(o, "stacks"), k, nd) {
                char key[32];
                snprintf(key, sizeof key, "%ld", (long)json_number_value(json_array_get(nd, 0)));
                json_object_set(nodes, key, nd);
            }
        }
    }
    if (!p->has) {
        json_decref(stacks);
        json_decref(nodes);
        json_decref(pyframes);
        return 0;
    }
    p->sym = symbols_new(r->site_records);
    p->index = json_object();
    p->threads = json_object();
    struct load_ctx lc = {p, fl, t0, t1, stacks, nodes, pyframes};
    json_array_foreach(r->site_records, i, o) {
        const char *type = json_string_value(json_object_get(o, "type"));
        if (!type || strcmp(type, "cpu"))
            continue;
        p->period_ns = json_num(o, "period_ns", p->period_ns);
        rows_of(o, load_row, &lc);
    }
    json_decref(stacks);
    json_decref(nodes);
    json_decref(pyframes);
    /* functions: self from the innermost frame, total once a stack */
    json_t *fidx = json_object();
    for (int k = 0; k < p->n; k++) {
        struct cstack *s = &p->v[k];
        if (s->samples <= 0)
            continue;
        func_of(p, fidx, &s->frames[0])->self += s->samples;
        for (int f = 0; f < s->n; f++) {
            struct cfunc *fn = func_of(p, fidx, &s->frames[f]);
            if (fn->mark != k) {
                fn->mark = k;
                fn->total += s->samples;
            }
        }
    }
    json_decref(fidx);
    python_lines(p);
    return 1;
}

int cpu_read_one(const char *file, struct run **runs)
{
    return runs_read(1, (char **)&file, runs);
}

void cpu_runs_free(struct run *runs, int nr)
{
    for (int i = 0; i < nr; i++)
        run_free(&runs[i]);
    free(runs);
}

/* ARGV as flame's, with --cpu among them (and --region, --between) */
int cpu_args(int argc, char **argv, const char *cmd, const char **out,
               const char **file, struct cfilter *fl)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cpu"))
            continue;
        if (!strcmp(argv[i], "-o") && i + 1 < argc)
            *out = argv[++i];
        else if (!strcmp(argv[i], "--region") && i + 1 < argc)
            fl->region = argv[++i];
        else if (!strcmp(argv[i], "--between") && i + 2 < argc) {
            fl->from = argv[++i];
            fl->to = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1])
            return error("%s --cpu: unknown option '%s'", cmd, argv[i]);
        else if (!*file)
            *file = argv[i];
        else
            return error("%s: one FILE only", cmd);
    }
    if (!*file)
        return error("%s: no FILE", cmd);
    return 0;
}

/* ---- trace: CPU samples on each thread's track ------------------------------ */

/* For each row of each cpu record of R, in file order: EMIT(CTX, time the
 * samples were read, thread, innermost function, region or NULL, samples). */
struct each_ctx {
    struct cprof *p;
    void (*emit)(void *ctx, double t_s, long tid, const char *fn, const char *region,
                 double samples);
    void *ctx;
};

static void each_row(void *ctx, double t, long tid, long stack, const char *region, double c)
{
    struct each_ctx *ec = ctx;
    char key[32];
    snprintf(key, sizeof key, "%ld", stack);
    json_t *at = json_object_get(ec->p->index, key);
    ec->emit(ec->ctx, t, tid, at ? ec->p->v[json_integer_value(at)].frames[0].fn : "(unknown)",
             region, c);
}

void cpu_each_row(const struct run *r,
                  void (*emit)(void *ctx, double t_s, long tid, const char *fn,
                               const char *region, double samples),
                  void *ctx)
{
    struct cprof p;
    if (cprof_load(r, NULL, &p) <= 0)
        return;
    struct each_ctx ec = {&p, emit, ctx};
    json_t *o;
    size_t i;
    json_array_foreach(r->site_records, i, o) {
        const char *type = json_string_value(json_object_get(o, "type"));
        if (type && !strcmp(type, "cpu"))
            rows_of(o, each_row, &ec);
    }
    cprof_free(&p);
}
