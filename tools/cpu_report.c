/*
 * cpu_report.c - where the CPU went, read from the cpu and cpu_stack
 * records the shim's cpu.c writes: `report --cpu` (the functions by self
 * and by total samples, as cProfile prints them), the "cpu" key of
 * `report --json`, `flame --cpu` (folded stacks) and `pprof --cpu` (a CPU
 * profile: samples/count and cpu/nanoseconds).
 *
 * A sample stands for one period of its thread's CPU time (the record's
 * period_ns), so a function's estimated time is its samples times the
 * period.  Self counts the innermost frame (the innermost inlined call
 * when the address lies in inlined code); total counts a function once per
 * sample however often it recurs in the stack.  --region NAME keeps the
 * samples taken while the thread was inside NAME (the innermost open
 * region or one around it); --between P1 P2 the samples read after probe
 * P1 and up to probe P2 (records are written once a tick: within one
 * sampling interval of the probes).
 */
#define _GNU_SOURCE
#include "sites.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX_INLINE 16
#define TOP 15

struct cstack {
    long id;
    struct sym_frame *frames;       /* innermost first, inlined calls expanded */
    int n;
    double samples;
};

struct cfunc { const char *fn, *file; double self, total; long mark; };

struct cprof {
    struct symbols *sym;
    struct cstack *v;
    int n;
    json_t *index;                  /* stack id -> index in v */
    double samples, period_ns;
    json_t *threads;                /* tid -> samples */
    struct cfunc *f;
    int nf;
    int has;                        /* the run has CPU records */
    const char *off;                /* the shim's reason for none */
};

struct cfilter { const char *region, *from, *to; };

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

static struct cstack *stack_of(struct cprof *p, json_t *stacks, long id)
{
    char key[32];
    snprintf(key, sizeof key, "%ld", id);
    json_t *i = json_object_get(p->index, key);
    if (i)
        return &p->v[json_integer_value(i)];
    json_t *rec = json_object_get(stacks, key);
    p->v = realloc(p->v, (size_t)(p->n + 1) * sizeof *p->v);
    struct cstack *s = &p->v[p->n];
    memset(s, 0, sizeof *s);
    s->id = id;
    json_t *fr = json_object_get(rec, "frames");
    size_t nf = json_array_size(fr);
    s->frames = calloc(nf * MAX_INLINE + 1, sizeof *s->frames);
    for (size_t k = 0; k < nf; k++) {
        uint64_t a = (uint64_t)json_number_value(json_array_get(fr, k));
        s->n += symbols_lookup(p->sym, a, s->frames + s->n, MAX_INLINE);
    }
    if (!rec || s->n == 0) {
        s->frames[0] = (struct sym_frame){.fn = "(unknown)"};
        s->n = 1;
    }
    json_object_set_new(p->index, key, json_integer(p->n));
    return &p->v[p->n++];
}

static struct cfunc *func_of(struct cprof *p, json_t *fidx, const struct sym_frame *f)
{
    char key[2048];
    snprintf(key, sizeof key, "%s\t%s", f->fn, f->file ? f->file : f->module ? f->module : "");
    json_t *i = json_object_get(fidx, key);
    if (i)
        return &p->f[json_integer_value(i)];
    p->f = realloc(p->f, (size_t)(p->nf + 1) * sizeof *p->f);
    p->f[p->nf] = (struct cfunc){f->fn, f->file ? f->file : f->module, 0, 0, -1};
    json_object_set_new(fidx, key, json_integer(p->nf));
    return &p->f[p->nf++];
}

static void cprof_free(struct cprof *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->v[i].frames);
    free(p->v);
    free(p->f);
    json_decref(p->index);
    json_decref(p->threads);
    if (p->sym)
        symbols_free(p->sym);
    memset(p, 0, sizeof *p);
}

/* The CPU samples of run R that pass FL.  -1 with an error printed when a
 * probe label is not found; 0 when the run has no CPU records; else 1. */
static int cprof_load(const struct run *r, const struct cfilter *fl, struct cprof *p)
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
    json_t *stacks = json_object(), *o;
    size_t i;
    json_array_foreach(r->site_records, i, o) {
        const char *type = json_string_value(json_object_get(o, "type"));
        if (!type || strncmp(type, "cpu", 3))
            continue;
        p->has = 1;
        if (!strcmp(type, "cpu_stack")) {
            char key[32];
            snprintf(key, sizeof key, "%ld", (long)json_num(o, "id", -1));
            json_object_set(stacks, key, o);
        } else if (!strcmp(type, "cpu_info") && json_object_get(o, "off")) {
            p->off = json_string_value(json_object_get(o, "off"));
        }
    }
    if (!p->has) {
        json_decref(stacks);
        return 0;
    }
    p->sym = symbols_new(r->site_records);
    p->index = json_object();
    p->threads = json_object();
    json_array_foreach(r->site_records, i, o) {
        const char *type = json_string_value(json_object_get(o, "type"));
        if (!type || strcmp(type, "cpu"))
            continue;
        double t = json_num(o, "t_s", 0);
        if (t <= t0 || t > t1)
            continue;
        p->period_ns = json_num(o, "period_ns", p->period_ns);
        size_t k;
        json_t *row;
        json_array_foreach(json_object_get(o, "samples"), k, row) {
            const char *region = json_string_value(json_array_get(row, 2));
            if (fl && fl->region && !in_region(region, fl->region))
                continue;
            double c = json_number_value(json_array_get(row, 3));
            long tid = (long)json_number_value(json_array_get(row, 0));
            struct cstack *s = stack_of(p, stacks, (long)json_number_value(json_array_get(row, 1)));
            s->samples += c;
            p->samples += c;
            char key[32];
            snprintf(key, sizeof key, "%ld", tid);
            json_object_set_new(p->threads, key,
                                json_real(json_num(p->threads, key, 0) + c));
        }
    }
    json_decref(stacks);
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
    return 1;
}

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

static void func_text(const struct cfunc *f, char *buf, size_t n)
{
    const char *file = f->file ? strrchr(f->file, '/') : NULL;
    file = file ? file + 1 : f->file;
    if (file)
        snprintf(buf, n, "%s (%s)", f->fn, file);
    else
        snprintf(buf, n, "%s", f->fn);
}

static void table(FILE *out, struct cprof *p, int total_first)
{
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
    qsort(p.f, (size_t)p.nf, sizeof *p.f, by_total);
    json_t *fs = json_array();
    for (int i = 0; i < p.nf && i < 100; i++) {
        struct cfunc *f = &p.f[i];
        json_t *x = json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:f}", "function", f->fn,
                              "self", f->self, "total", f->total,
                              "self_pct", p.samples > 0 ? 100 * f->self / p.samples : 0.0,
                              "total_pct", p.samples > 0 ? 100 * f->total / p.samples : 0.0,
                              "self_s", f->self * p.period_ns / 1e9,
                              "total_s", f->total * p.period_ns / 1e9);
        if (f->file)
            json_object_set_new(x, "file", json_string(f->file));
        json_array_append_new(fs, x);
    }
    json_object_set_new(o, "functions", fs);
    json_t *th = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(p.threads, k, v)
        json_object_set_new(th, k, json_integer((json_int_t)json_number_value(v)));
    json_object_set_new(o, "threads", th);
    cprof_free(&p);
    return o;
}

/* ---- flame --cpu ----------------------------------------------------------- */

static void fold_name(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc(*s == ';' || *s == ' ' || *s == '\n' ? '_' : *s, f);
}

static int read_one(const char *file, struct run **runs)
{
    return runs_read(1, (char **)&file, runs);
}

static void free_runs(struct run *runs, int nr)
{
    for (int i = 0; i < nr; i++)
        run_free(&runs[i]);
    free(runs);
}

/* ARGV as flame's, with --cpu among them (and --region, --between) */
static int cpu_args(int argc, char **argv, const char *cmd, const char **out,
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

/* `flame --cpu FILE`: one line per stack, outermost first, value samples */
int cpu_flame(int argc, char **argv)
{
    const char *out = NULL, *file = NULL;
    struct cfilter fl = {0};
    if (cpu_args(argc, argv, "flame", &out, &file, &fl))
        return EXIT_USAGE;
    struct run *runs;
    int nr = read_one(file, &runs);
    if (nr < 0)
        return EXIT_USAGE;
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) {
        free_runs(runs, nr);
        return error("flame: %s: cannot write", out);
    }
    int rc = EXIT_OK, any = 0;
    for (int r = 0; r < nr && rc == EXIT_OK; r++) {
        struct cprof p;
        int got = cprof_load(&runs[r], &fl, &p);
        if (got < 0)
            rc = EXIT_USAGE;
        if (got <= 0)
            continue;
        for (int i = 0; i < p.n; i++) {
            struct cstack *s = &p.v[i];
            if (s->samples <= 0)
                continue;
            any = 1;
            if (nr > 1)
                fprintf(f, "pid %ld;", runs[r].pid);
            for (int k = s->n; k-- > 0;) {
                fold_name(f, s->frames[k].fn);
                if (k)
                    fputc(';', f);
            }
            fprintf(f, " %.0f\n", s->samples);
        }
        cprof_free(&p);
    }
    if (rc == EXIT_OK && !any)
        rc = error("flame --cpu: %s: no CPU samples recorded", file);
    if (out && fclose(f) != 0)
        rc = error("flame: %s: write failed", out);
    free_runs(runs, nr);
    return rc;
}

/* ---- pprof --cpu: profile.proto, encoded by hand --------------------------- */

struct wire { unsigned char *p; size_t n, cap; };

static void wput(struct wire *w, const void *d, size_t n)
{
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2 + 256;
        w->p = realloc(w->p, w->cap);
    }
    memcpy(w->p + w->n, d, n);
    w->n += n;
}

static void wvar(struct wire *w, uint64_t v)
{
    unsigned char t[10];
    int n = 0;
    for (;;) {
        t[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (!v)
            break;
        t[n++] |= 0x80;
    }
    wput(w, t, (size_t)n + 1);
}

static void wint(struct wire *w, int fieldno, int64_t v)      /* zero is left out */
{
    if (v) {
        wvar(w, (uint64_t)fieldno << 3);
        wvar(w, (uint64_t)v);
    }
}

static void wlen(struct wire *w, int fieldno, const void *d, size_t n)
{
    wvar(w, (uint64_t)fieldno << 3 | 2);
    wvar(w, n);
    wput(w, d, n);
}

static void wmsg(struct wire *w, int fieldno, struct wire *m)
{
    wlen(w, fieldno, m->p, m->n);
    m->n = 0;
}

struct strtab { json_t *index; struct wire w; };

static int64_t sid(struct strtab *s, const char *v)
{
    v = v ? v : "";
    json_t *i = json_object_get(s->index, v);
    if (i)
        return json_integer_value(i);
    int64_t n = (int64_t)json_object_size(s->index);
    json_object_set_new(s->index, v, json_integer(n));
    wlen(&s->w, 6, v, strlen(v));
    return n;
}

static void encode(const struct run *r, struct cprof *p, struct wire *out)
{
    struct strtab st = {json_object(), {0}};
    struct wire body = {0}, m = {0}, sub = {0}, locs = {0}, funcs = {0};
    sid(&st, "");
    wint(&m, 1, sid(&st, "samples"));
    wint(&m, 2, sid(&st, "count"));
    wmsg(&body, 1, &m);
    wint(&m, 1, sid(&st, "cpu"));
    wint(&m, 2, sid(&st, "nanoseconds"));
    wmsg(&body, 1, &m);
    /* mappings from the module records */
    json_t *o;
    size_t i;
    int nmap = 0;
    struct { uint64_t lo, hi; } *maps = NULL;
    json_array_foreach(r->site_records, i, o) {
        const char *type = json_string_value(json_object_get(o, "type"));
        if (!type || strcmp(type, "module"))
            continue;
        uint64_t lo = UINT64_MAX, hi = 0;
        size_t k;
        json_t *rg;
        json_array_foreach(json_object_get(o, "ranges"), k, rg) {
            uint64_t a = (uint64_t)json_number_value(json_array_get(rg, 0));
            uint64_t b = (uint64_t)json_number_value(json_array_get(rg, 1));
            lo = a < lo ? a : lo;
            hi = b > hi ? b : hi;
        }
        if (!hi)
            continue;
        maps = realloc(maps, (size_t)(nmap + 1) * sizeof *maps);
        maps[nmap].lo = lo;
        maps[nmap].hi = hi;
        nmap++;
        wint(&m, 1, nmap);
        wint(&m, 2, (int64_t)lo);
        wint(&m, 3, (int64_t)hi);
        wint(&m, 5, sid(&st, json_string_value(json_object_get(o, "path"))));
        wint(&m, 6, sid(&st, json_string_value(json_object_get(o, "build_id"))));
        wint(&m, 7, 1);
        wint(&m, 8, 1);
        wmsg(&body, 3, &m);
    }
    json_t *lidx = json_object(), *fidx = json_object();
    for (int k = 0; k < p->n; k++) {
        struct cstack *s = &p->v[k];
        if (s->samples <= 0)
            continue;
        struct wire sample = {0};
        for (int f = 0; f < s->n;) {
            uint64_t addr = s->frames[f].addr;
            int g = f + 1;
            while (g < s->n && s->frames[g].addr == addr && s->frames[g - 1].inlined)
                g++;
            char key[64];
            snprintf(key, sizeof key, "%llx/%s", (unsigned long long)addr, s->frames[f].fn);
            json_t *lid = json_object_get(lidx, key);
            if (!lid) {
                lid = json_integer((json_int_t)json_object_size(lidx) + 1);
                json_object_set_new(lidx, key, lid);
                wint(&m, 1, json_integer_value(lid));
                int mid = 0;
                for (int q = 0; q < nmap; q++)
                    if (addr - 1 >= maps[q].lo && addr - 1 < maps[q].hi)
                        mid = q + 1;
                wint(&m, 2, mid);
                wint(&m, 3, (int64_t)addr);
                for (int h = f; h < g; h++) {
                    char fk[1024];
                    snprintf(fk, sizeof fk, "%s\t%s", s->frames[h].fn,
                             s->frames[h].file ? s->frames[h].file : "");
                    json_t *fid = json_object_get(fidx, fk);
                    if (!fid) {
                        fid = json_integer((json_int_t)json_object_size(fidx) + 1);
                        json_object_set_new(fidx, fk, fid);
                        wint(&sub, 1, json_integer_value(fid));
                        wint(&sub, 2, sid(&st, s->frames[h].fn));
                        wint(&sub, 3, sid(&st, s->frames[h].fn));
                        wint(&sub, 4, sid(&st, s->frames[h].file));
                        wmsg(&funcs, 5, &sub);
                    }
                    wint(&sub, 1, json_integer_value(fid));
                    wint(&sub, 2, s->frames[h].line);
                    wmsg(&m, 4, &sub);
                }
                wmsg(&locs, 4, &m);
            }
            wvar(&sample, 1 << 3);
            wvar(&sample, (uint64_t)json_integer_value(lid));
            f = g;
        }
        wvar(&sample, 2 << 3);
        wvar(&sample, (uint64_t)(s->samples + 0.5));
        wvar(&sample, 2 << 3);
        wvar(&sample, (uint64_t)(s->samples * p->period_ns + 0.5));
        wmsg(&body, 2, &sample);
        free(sample.p);
    }
    wput(&body, locs.p, locs.n);
    wput(&body, funcs.p, funcs.n);
    wint(&m, 1, sid(&st, "cpu"));
    wint(&m, 2, sid(&st, "nanoseconds"));
    wmsg(&body, 11, &m);                        /* period_type */
    wint(&body, 12, (int64_t)p->period_ns);     /* period */
    wint(&body, 9, (int64_t)(json_num(r->header, "start_unix_s", 0) * 1e9));
    wput(out, st.w.p, st.w.n);
    wput(out, body.p, body.n);
    free(st.w.p);
    free(body.p);
    free(m.p);
    free(sub.p);
    free(locs.p);
    free(funcs.p);
    free(maps);
    json_decref(st.index);
    json_decref(lidx);
    json_decref(fidx);
}

/* `pprof --cpu [-o OUT] FILE`: the first process image with CPU samples */
int cpu_pprof(int argc, char **argv)
{
    const char *out = NULL, *file = NULL;
    struct cfilter fl = {0};
    if (cpu_args(argc, argv, "pprof", &out, &file, &fl))
        return EXIT_USAGE;
    char *def = NULL;
    if (!out) {
        size_t n = strlen(file);
        if (asprintf(&def, "%.*s.cpu.pb.gz", (int)(ends_with(file, ".jsonl") ? n - 6 : n),
                     file) < 0)
            return error("pprof: out of memory");
        out = def;
    }
    struct run *runs;
    int nr = read_one(file, &runs);
    if (nr < 0) {
        free(def);
        return EXIT_USAGE;
    }
    int rc = EXIT_OK, done = 0;
    struct wire w = {0};
    for (int r = 0; r < nr && !done && rc == EXIT_OK; r++) {
        struct cprof p;
        int got = cprof_load(&runs[r], &fl, &p);
        if (got < 0)
            rc = EXIT_USAGE;
        if (got > 0 && p.samples > 0) {
            encode(&runs[r], &p, &w);
            done = 1;
        }
        if (got > 0)
            cprof_free(&p);
    }
    if (rc == EXIT_OK && !done)
        rc = error("pprof --cpu: %s: no CPU samples recorded", file);
    if (rc == EXIT_OK) {
        gzFile gz = gzopen(out, "wb");
        if (!gz || gzwrite(gz, w.p, (unsigned)w.n) != (int)w.n || gzclose(gz) != Z_OK)
            rc = error("pprof: %s: cannot write", out);
    }
    free(w.p);
    free(def);
    free_runs(runs, nr);
    return rc;
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
    qsort(d, nd, sizeof *d, by_self_change);
    if (json_rows) {
        for (size_t i = 0; i < nd; i++) {
            static const char *const figs[] = {"self_s", "total_s"};
            for (int k = 0; k < 2; k++) {
                double a = k ? d[i].total[0] : d[i].self[0], b = k ? d[i].total[1] : d[i].self[1];
                char name[1200];
                snprintf(name, sizeof name, "cpu.%s.%s", d[i].key, figs[k]);
                double pct = a != 0 ? (b - a) / (a < 0 ? -a : a) * 100.0 : 0;
                json_t *o = json_pack("{s:s, s:b, s:f, s:f, s:f}", "figure", name, "marked",
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

/* ---- trace: CPU samples on each thread's track ------------------------------ */

/* For each row of each cpu record of R, in file order: EMIT(CTX, time the
 * samples were read, thread, innermost function, region or NULL, samples). */
void cpu_each_row(const struct run *r,
                  void (*emit)(void *ctx, double t_s, long tid, const char *fn,
                               const char *region, double samples),
                  void *ctx)
{
    struct cprof p;
    if (cprof_load(r, NULL, &p) <= 0)
        return;
    json_t *o;
    size_t i;
    json_array_foreach(r->site_records, i, o) {
        const char *type = json_string_value(json_object_get(o, "type"));
        if (!type || strcmp(type, "cpu"))
            continue;
        size_t k;
        json_t *row;
        json_array_foreach(json_object_get(o, "samples"), k, row) {
            char key[32];
            snprintf(key, sizeof key, "%ld", (long)json_number_value(json_array_get(row, 1)));
            json_t *at = json_object_get(p.index, key);
            const char *fn = at ? p.v[json_integer_value(at)].frames[0].fn : "(unknown)";
            emit(ctx, json_num(o, "t_s", 0), (long)json_number_value(json_array_get(row, 0)), fn,
                 json_string_value(json_array_get(row, 2)),
                 json_number_value(json_array_get(row, 3)));
        }
    }
    cprof_free(&p);
}
