/*
 * sites.c - allocation sites in the perfprobe command: `report --sites`,
 * `report --sites --between P1 P2`, and the "sites" key of `report --json`.
 *
 * The shim writes module records, stack records (frame addresses) and
 * sites records (at each probe, at the heap peak and at exit: the top
 * sites with their figures, and a "rest" row); see docs/format.md.  Here a
 * run's records are joined: each site gets its exit figures (or those of
 * the last probe when the process was killed), its live figures at the
 * peak, and its symbolised stack (symbols_elf.c, symbols_macho.c).
 *
 * In `sample` mode every figure is an estimate; its error bar is the
 * relative standard error from the number of samples behind it, 1/sqrt(n)
 * (docs/sites.md).
 */
#define _GNU_SOURCE
#include "read/read.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INLINE 16

static json_t *last_record(json_t *recs, const char *at)
{
    json_t *o, *found = NULL;
    size_t i;
    json_array_foreach(recs, i, o) {
        const char *type = json_string_value(json_object_get(o, "type"));
        const char *a = json_string_value(json_object_get(o, "at"));
        if (type && !strcmp(type, "sites") && a && !strcmp(a, at))
            found = o;
    }
    return found;
}

/* the first probe record labelled LABEL after index FROM */
static json_t *probe_record(json_t *recs, const char *label, size_t from, size_t *at)
{
    json_t *o;
    for (size_t i = from; i < json_array_size(recs); i++) {
        o = json_array_get(recs, i);
        const char *type = json_string_value(json_object_get(o, "type"));
        const char *a = json_string_value(json_object_get(o, "at"));
        const char *l = json_string_value(json_object_get(o, "label"));
        if (type && !strcmp(type, "sites") && a && !strcmp(a, "probe") && l && !strcmp(l, label)) {
            *at = i;
            return o;
        }
    }
    return NULL;
}

/* the last dump view of each label, and how many of each (at most 4
 * labels; more are left out), in the order of their last views */
static void dump_views(struct sites *s, json_t *recs)
{
    size_t i;
    json_t *o;
    json_array_foreach(recs, i, o) {
        const char *type = json_string_value(json_object_get(o, "type"));
        const char *a = json_string_value(json_object_get(o, "at"));
        if (!type || strcmp(type, "sites") || !a || strcmp(a, "dump"))
            continue;
        const char *l = json_string_value(json_object_get(o, "label"));
        int k = 0;
        while (k < s->ndump &&
               strcmp(json_string_value(json_object_get(s->dump[k], "label")) ?: "", l ?: ""))
            k++;
        if (k == s->ndump) {
            if (k == 4)
                continue;
            s->ndump++;
            s->dumps[k] = 0;
        }
        int n = s->dumps[k] + 1;
        for (; k + 1 < s->ndump; k++) {                  /* this label's last is the latest */
            s->dump[k] = s->dump[k + 1];
            s->dumps[k] = s->dumps[k + 1];
        }
        s->dump[k] = o;
        s->dumps[k] = n;
    }
}

static struct site *site_of(struct sites *s, json_t *index, long stack)
{
    char key[32];
    snprintf(key, sizeof key, "%ld", stack);
    json_t *v = json_object_get(index, key);
    if (v)
        return &s->v[json_integer_value(v)];
    s->v = realloc(s->v, (size_t)(s->n + 1) * sizeof *s->v);
    struct site *e = &s->v[s->n];
    memset(e, 0, sizeof *e);
    e->stack = stack;
    e->resident = e->peak_resident = -1;
    e->lost_bytes = e->lost_blocks = -1;
    json_object_set_new(index, key, json_integer(s->n));
    s->n++;
    return e;
}

enum { F_FINAL, F_PEAK, F_B0, F_B1, F_DUMP };

static void take_rows(struct sites *s, json_t *index, json_t *rec, int which)
{
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(rec, "rows"), i, row) {
        long id = (long)json_num(row, "stack", -1);
        if (id < 0)
            continue;
        struct site *e = site_of(s, index, id);
        double live = json_num(row, "live_bytes", 0), alloc = json_num(row, "alloc_bytes", 0);
        switch (which) {
        case F_FINAL:
            e->live_bytes = live;
            e->live_blocks = json_num(row, "live_blocks", 0);
            e->live_samples = json_num(row, "live_samples", 0);
            e->alloc_bytes = alloc;
            e->allocs = json_num(row, "allocs", 0);
            e->samples = json_num(row, "samples", 0);
            e->resident = json_num(row, "resident_bytes", -1);
            e->lost_bytes = json_num(row, "lost_bytes", -1);
            e->lost_blocks = json_num(row, "lost_blocks", -1);
            if (e->lost_bytes >= 0)
                s->has_lost = 1;
            break;
        case F_PEAK:
            e->peak_bytes = live;
            e->peak_blocks = json_num(row, "live_blocks", 0);
            e->peak_samples = json_num(row, "live_samples", 0);
            e->peak_resident = json_num(row, "resident_bytes", -1);
            break;
        case F_B0:
            e->v0 = live;
            e->a0 = alloc;
            e->n0 = json_num(row, "live_blocks", 0);
            e->c0 = json_num(row, "allocs", 0);
            break;
        case F_B1:
            e->v1 = live;
            e->a1 = alloc;
            break;
        case F_DUMP:
            e->dump_bytes[s->ndump] = live;
            break;
        }
    }
}

/* Python frame ID from its pyframe record; the strings live as long as
 * the run's records (also the CPU samples': read/cpu.c) */
int python_frame(json_t *pyframes, long id, struct sym_frame *out)
{
    char key[32];
    snprintf(key, sizeof key, "%ld", id);
    json_t *p = json_object_get(pyframes, key);
    memset(out, 0, sizeof *out);
    out->python = !json_is_true(json_object_get(p, "mapping"));   /* else an arena */
    out->addr = (uint64_t)-id;
    out->fn = json_string_value(json_object_get(p, "name"));
    if (!out->fn)
        out->fn = "<python: unknown frame>";
    out->file = json_string_value(json_object_get(p, "file"));
    if (out->file && !*out->file)
        out->file = NULL;
    out->line = (int)json_num(p, "line", 0);
    out->first_line = (int)json_num(p, "first_line", 0);
    return 1;
}

static void symbolise(struct sites *s, struct site *e, json_t *stacks, json_t *pyframes)
{
    char key[32];
    snprintf(key, sizeof key, "%ld", e->stack);
    json_t *st = json_object_get(stacks, key);
    json_t *fr = json_object_get(st, "frames");
    size_t n = json_array_size(fr);
    e->truncated = json_is_true(json_object_get(st, "truncated"));
    e->frames = calloc(n * MAX_INLINE + 1, sizeof *e->frames);
    if (e->stack == 0) {                /* the overflow site */
        e->frames[0].fn = "(overflow)";
        e->nframes = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double v = json_number_value(json_array_get(fr, i));
        if (v < 0) {                    /* a Python frame (pyframes.c) */
            e->nframes += python_frame(pyframes, (long)-v, e->frames + e->nframes);
            continue;
        }
        uint64_t a = (uint64_t)v;
        e->nframes += symbols_lookup(s->sym, a, e->frames + e->nframes, MAX_INLINE);
    }
    if (!e->nframes) {
        e->frames[0].fn = "(unknown)";
        e->nframes = 1;
    }
}

int sites_load(const struct run *r, struct sites *s, const char *b0, const char *b1)
{
    memset(s, 0, sizeof *s);
    json_t *recs = r->site_records;
    json_t *final = last_record(recs, "exit");
    s->complete = final != NULL;
    if (!final)
        final = last_record(recs, "probe");
    s->has_final = final != NULL;
    json_t *peak = last_record(recs, "peak");
    s->peak_t = peak ? json_num(peak, "t_s", -1) : -1;
    dump_views(s, recs);
    json_t *r0 = NULL, *r1 = NULL;
    if (b0) {
        size_t i0 = 0, i1 = 0;
        r0 = probe_record(recs, b0, 0, &i0);
        r1 = r0 && b1 ? probe_record(recs, b1, i0 + 1, &i1) : NULL;
        if (!r0 || (b1 && !r1)) {
            error("report: %s: no sites recorded at probe '%s'%s", r->path, r0 ? b1 : b0,
                  r0 ? " after the first" : "");
            return -1;
        }
    }
    if (!final && !peak)
        return 0;
    json_t *any = final ? final : peak;
    s->estimated = !strcmp(json_string_value(json_object_get(any, "mode")) ?: "", "sample");
    s->sample_bytes = json_num(any, "sample_bytes", 0);

    json_t *index = json_object(), *stacks = json_object(), *pyframes = json_object();
    size_t i;
    json_t *o;
    json_array_foreach(recs, i, o) {
        const char *type = json_string_value(json_object_get(o, "type"));
        int py = type && !strcmp(type, "pyframe");
        if (type && (py || !strcmp(type, "stack"))) {
            char key[32];
            snprintf(key, sizeof key, "%ld", (long)json_num(o, "id", -1));
            json_object_set(py ? pyframes : stacks, key, o);
        }
    }
    if (final)
        take_rows(s, index, final, F_FINAL);
    if (peak)
        take_rows(s, index, peak, F_PEAK);
    if (r0) {
        take_rows(s, index, r0, F_B0);
        if (r1)
            take_rows(s, index, r1, F_B1);
    }
    {
        int nd = s->ndump;
        for (s->ndump = 0; s->ndump < nd; s->ndump++)     /* (take_rows reads ndump) */
            take_rows(s, index, s->dump[s->ndump], F_DUMP);
    }
    json_t *rest = json_object_get(final, "rest");
    s->rest.live_bytes = json_num(rest, "live_bytes", 0);
    s->rest.live_blocks = json_num(rest, "live_blocks", 0);
    s->rest.alloc_bytes = json_num(rest, "alloc_bytes", 0);
    s->rest.allocs = json_num(rest, "allocs", 0);
    s->rest.samples = json_num(rest, "samples", 0);
    s->rest.stack = (long)json_num(rest, "sites", 0);
    json_t *prest = json_object_get(peak, "rest");
    s->rest.peak_bytes = json_num(prest, "live_bytes", 0);

    s->sym = symbols_new(recs);
    for (int k = 0; k < s->n; k++)
        symbolise(s, &s->v[k], stacks, pyframes);
    json_decref(index);
    json_decref(stacks);
    json_decref(pyframes);
    return s->n > 0;
}

void sites_killed_note(FILE *f, const char *prefix, const struct run *r, const struct sites *s)
{
    if (s->complete)
        return;
    fprintf(f, "%s(a killed run: the process did not exit normally", prefix);
    if (s->peak_t >= 0)
        fprintf(f, "; live at the heap peak from the view taken %.3f s after start", s->peak_t);
    if (s->has_final)
        fprintf(f, "; other figures from its last probe");
    fprintf(f, ")\n");
    (void)r;
}

void sites_free(struct sites *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i].frames);
    free(s->v);
    symbols_free(s->sym);
    memset(s, 0, sizeof *s);
}

static const char *base_name(const char *p)
{
    const char *sl = p ? strrchr(p, '/') : NULL;
    return sl ? sl + 1 : p;
}

void frame_text(const struct sym_frame *f, char *buf, size_t n)
{
    if (f->python && f->file)
        snprintf(buf, n, "py:%s (%s:%d)", f->fn, base_name(f->file), f->line);
    else if (f->python)
        snprintf(buf, n, "py:%s", f->fn);
    else if (f->file && f->line)
        snprintf(buf, n, "%s (%s:%d)", f->fn, base_name(f->file), f->line);
    else if (f->module && strchr(f->fn, '+') == NULL)
        snprintf(buf, n, "%s (%s)", f->fn, base_name(f->module));
    else
        snprintf(buf, n, "%s", f->fn);
}

/* frames that say nothing about the program */
static int boring(const struct sym_frame *f)
{
    static const char *const names[] = {"__libc_start_call_main", "__libc_start_main",
                                        "__libc_start_main_impl", "_start", "start_thread",
                                        "clone", "clone3", "__clone", "__clone3", NULL};
    for (int i = 0; names[i]; i++)
        if (!strcmp(f->fn, names[i]))
            return 1;
    return 0;
}

/* "inner (file:line) < caller < caller"; with Python frames, the Python
 * ones with their lines, then the innermost native frame:
 * "py:inner (a.py:3) < py:caller (a.py:9) [in _PyObject_Malloc]" */
static void chain_text(const struct site *e, char *buf, size_t n, int callers)
{
    size_t len = 0;
    buf[0] = 0;
    int py = 0;
    while (py < e->nframes && !e->frames[py].python)
        py++;
    if (py < e->nframes) {
        for (int i = py, shown = 0; i < e->nframes && shown <= callers; i++) {
            if (!e->frames[i].python)
                continue;
            char one[512];
            frame_text(&e->frames[i], one, sizeof one);
            len += (size_t)snprintf(buf + len, len < n ? n - len : 0, "%s%s", shown ? " < " : "",
                                    one);
            if (len >= n)
                return;
            shown++;
        }
        int in = 0;                     /* the innermost native frame with a name */
        while (in < py - 1 && strstr(e->frames[in].fn, "+0x"))
            in++;
        if (py > 0)
            snprintf(buf + len, len < n ? n - len : 0, " [in %s]", e->frames[in].fn);
        return;
    }
    for (int i = 0, shown = 0; i < e->nframes && shown <= callers; i++) {
        if (i && boring(&e->frames[i]))
            continue;
        char one[512];
        if (shown == 0)
            frame_text(&e->frames[i], one, sizeof one);
        else
            snprintf(one, sizeof one, "%s", e->frames[i].fn);
        len += (size_t)snprintf(buf + len, len < n ? n - len : 0, "%s%s", shown ? " < " : "", one);
        if (len >= n)
            break;
        shown++;
    }
}

static void bytes_text(char *buf, size_t n, double v)
{
    fmt_value(buf, n, "x_bytes", v);
}

static void rse_text(char *buf, size_t n, int estimated, double samples)
{
    if (!estimated)
        snprintf(buf, n, "exact");
    else if (samples <= 0)
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "±%.0f%%", 100.0 / sqrt(samples));
}

static int by_alloc(const void *a, const void *b)
{
    const struct site *x = a, *y = b;
    double kx = x->alloc_bytes > x->peak_bytes ? x->alloc_bytes : x->peak_bytes;
    double ky = y->alloc_bytes > y->peak_bytes ? y->alloc_bytes : y->peak_bytes;
    return kx < ky ? 1 : kx > ky ? -1 : (x->stack > y->stack) - (x->stack < y->stack);
}

static int by_live(const void *a, const void *b)
{
    const struct site *x = a, *y = b;
    return x->live_bytes < y->live_bytes ? 1 : x->live_bytes > y->live_bytes ? -1
           : (x->stack > y->stack) - (x->stack < y->stack);
}

static int dump_k;                  /* the view by_dump sorts by */
static int by_dump(const void *a, const void *b)
{
    const struct site *x = a, *y = b;
    double dx = x->dump_bytes[dump_k], dy = y->dump_bytes[dump_k];
    return dx < dy ? 1 : dx > dy ? -1 : (x->stack > y->stack) - (x->stack < y->stack);
}

#define DUMP_TOP 5

/* the last dump view of each label (docs/sites.md): what it was written
 * at, and the sites live then */
static void dump_section(FILE *f, struct sites *s)
{
    char a[32], b[32], chain[2048];
    for (int k = 0; k < s->ndump; k++) {
        json_t *d = s->dump[k];
        const char *label = json_string_value(json_object_get(d, "label"));
        fprintf(f, "\ndump view '%s' (the last of %d), %.3f s after start", label ? label : "",
                s->dumps[k], json_num(d, "t_s", 0));
        if (json_object_get(d, "cgroup_limit")) {
            bytes_text(a, sizeof a, json_num(d, "cgroup_bytes", 0));
            bytes_text(b, sizeof b, json_num(d, "cgroup_limit", 0));
            fprintf(f, ": cgroup usage %s of its limit %s", a, b);
            const char *counter = json_string_value(json_object_get(d, "cgroup_counter"));
            if (counter)
                fprintf(f, ", %s %.0f -> %.0f", counter, json_num(d, "cgroup_count_was", 0),
                        json_num(d, "cgroup_count", 0));
        }
        fprintf(f, "\n%12s  %s\n", "live then", "site");
        dump_k = k;
        qsort(s->v, (size_t)s->n, sizeof *s->v, by_dump);
        for (int i = 0; i < s->n && i < DUMP_TOP && s->v[i].dump_bytes[k] > 0; i++) {
            bytes_text(a, sizeof a, s->v[i].dump_bytes[k]);
            chain_text(&s->v[i], chain, sizeof chain, 3);
            fprintf(f, "%12s  %s\n", a, chain);
        }
    }
}

static int by_growth(const void *a, const void *b)
{
    const struct site *x = a, *y = b;
    double gx = x->v1 - x->v0, gy = y->v1 - y->v0;
    return gx < gy ? 1 : gx > gy ? -1 : (x->stack > y->stack) - (x->stack < y->stack);
}

#define TOP 20

static void report_one(FILE *f, const struct run *r, struct sites *s, const char *b0,
                       const char *b1)
{
    char a[32], b[32], c[32], d[32], e[32], chain[2048];
    const char *prog = json_string_value(json_object_get(r->header, "program"));
    fprintf(f, "== %s (pid %ld): allocation sites, ", prog ? prog : r->path, r->pid);
    if (s->estimated) {
        bytes_text(a, sizeof a, s->sample_bytes);
        fprintf(f, "sampled every %s on average (estimates, ± one relative standard error)\n", a);
    } else {
        fprintf(f, "every allocation (exact)\n");
    }
    if (!s->complete)
        sites_killed_note(f, "   ", r, s);
    if (b0) {
        qsort(s->v, (size_t)s->n, sizeof *s->v, by_growth);
        fprintf(f, "\nlive bytes that grew between probes '%s' and '%s':\n", b0, b1);
        fprintf(f, "%12s %12s %12s %12s  %s\n", "growth", "live before", "live after",
                "allocated", "site");
        for (int i = 0, shown = 0; i < s->n && shown < TOP; i++) {
            struct site *x = &s->v[i];
            if (x->v1 - x->v0 <= 0 && x->a1 - x->a0 <= 0)
                continue;
            bytes_text(a, sizeof a, x->v1 - x->v0);
            bytes_text(b, sizeof b, x->v0);
            bytes_text(c, sizeof c, x->v1);
            bytes_text(d, sizeof d, x->a1 - x->a0);
            chain_text(x, chain, sizeof chain, 3);
            fprintf(f, "%12s %12s %12s %12s  %s\n", a, b, c, d, chain);
            shown++;
        }
        return;
    }
    qsort(s->v, (size_t)s->n, sizeof *s->v, by_alloc);
    fprintf(f, "\ntop sites by allocated bytes (and live at the heap peak):\n");
    /* resident: of the live bytes at exit (at the peak for a run killed
     * before any probe) */
    fprintf(f, "%12s %10s %12s %12s %12s %6s  %s\n", "allocated", "allocs", "at peak", "at exit",
            "resident", "±", "site");
    for (int i = 0; i < s->n && i < TOP; i++) {
        struct site *x = &s->v[i];
        char rs[32];
        double res = s->has_final ? x->resident : x->peak_resident;
        bytes_text(a, sizeof a, x->alloc_bytes);
        snprintf(b, sizeof b, "%.0f", x->allocs);
        bytes_text(c, sizeof c, x->peak_bytes);
        bytes_text(d, sizeof d, x->live_bytes);
        if (res >= 0)
            bytes_text(rs, sizeof rs, res);
        else
            snprintf(rs, sizeof rs, "-");
        rse_text(e, sizeof e, s->estimated, x->samples);
        chain_text(x, chain, sizeof chain, 3);
        fprintf(f, "%12s %10s %12s %12s %12s %6s  %s\n", a, b, c, d, rs, e, chain);
    }
    if (s->rest.stack > 0) {
        bytes_text(a, sizeof a, s->rest.alloc_bytes);
        snprintf(b, sizeof b, "%.0f", s->rest.allocs);
        bytes_text(c, sizeof c, s->rest.peak_bytes);
        bytes_text(d, sizeof d, s->rest.live_bytes);
        fprintf(f, "%12s %10s %12s %12s %12s %6s  (%ld other sites)\n", a, b, c, d, "", "",
                s->rest.stack);
    }
    dump_section(f, s);
    if (!s->has_final)                  /* killed before any probe */
        return;
    qsort(s->v, (size_t)s->n, sizeof *s->v, by_live);
    double tb = 0, tn = 0;
    int nl = 0;
    for (int i = 0; i < s->n; i++)
        if (s->v[i].live_bytes > 0) {
            tb += s->v[i].live_bytes;
            tn += s->v[i].live_blocks;
            nl++;
        }
    bytes_text(a, sizeof a, tb);
    fprintf(f, "\n%s at exit: %d sites, %s in %.0f blocks%s\n",
            s->complete ? "leaked (never freed)" : "live", nl, a, tn,
            s->estimated ? " (estimated)" : "");
    if (!nl)
        return;
    if (s->complete && s->has_lost) {
        /* the leak check (--stacks all): unreachable blocks apart */
        double lb = 0, ln = 0;
        int ns = 0;
        for (int i = 0; i < s->n; i++)
            if (s->v[i].lost_bytes > 0) {
                lb += s->v[i].lost_bytes;
                ln += s->v[i].lost_blocks;
                ns++;
            }
        bytes_text(a, sizeof a, lb);
        bytes_text(b, sizeof b, tb - lb);
        fprintf(f, "definitely lost: %s in %.0f blocks (%d sites); still reachable: %s\n", a, ln,
                ns, b);
        fprintf(f, "%12s %10s %12s %10s  %s\n", "lost", "blocks", "reachable", "blocks", "site");
        for (int i = 0; i < s->n && i < TOP; i++) {
            struct site *x = &s->v[i];
            if (x->live_bytes <= 0)
                break;
            double lo = x->lost_bytes > 0 ? x->lost_bytes : 0;
            double lk = x->lost_blocks > 0 ? x->lost_blocks : 0;
            bytes_text(a, sizeof a, lo);
            snprintf(b, sizeof b, "%.0f", lk);
            bytes_text(c, sizeof c, x->live_bytes - lo);
            snprintf(d, sizeof d, "%.0f", x->live_blocks - lk);
            chain_text(x, chain, sizeof chain, 3);
            fprintf(f, "%12s %10s %12s %10s  %s\n", a, b, c, d, chain);
        }
        return;
    }
    fprintf(f, "%12s %10s %6s  %s\n", "bytes", "blocks", "±", "site");
    for (int i = 0; i < s->n && i < TOP; i++) {
        struct site *x = &s->v[i];
        if (x->live_bytes <= 0)
            break;
        bytes_text(a, sizeof a, x->live_bytes);
        snprintf(b, sizeof b, "%.0f", x->live_blocks);
        rse_text(e, sizeof e, s->estimated, x->live_samples);
        chain_text(x, chain, sizeof chain, 3);
        fprintf(f, "%12s %10s %6s  %s\n", a, b, e, chain);
    }
}

int sites_report(FILE *f, struct run *runs, int n, const char *b0, const char *b1)
{
    int any = 0;
    for (int i = 0; i < n; i++) {
        struct sites s;
        int rc = sites_load(&runs[i], &s, b0, b1);
        if (rc < 0)
            return EXIT_USAGE;
        if (rc > 0) {
            if (any)
                fputc('\n', f);
            report_one(f, &runs[i], &s, b0, b1);
            any = 1;
        }
        sites_free(&s);
    }
    int uncounted = 0;
    for (int i = 0; !any && i < n; i++)
        if (!runs[i].heap_counted) {       /* the hooks, which record sites, saw nothing */
            char why[1200];
            heap_why(&runs[i], why, sizeof why);
            fprintf(f, "no allocation sites recorded: %s\n", why);
            uncounted = 1;
        }
    if (!any && !uncounted)
        fprintf(f, "no allocation sites recorded (PERFPROBE_STACKS=off, or no probe and "
                   "no normal exit)\n");
    return EXIT_OK;
}

int sites_report_files(FILE *f, struct run *runs, int n, int nfiles, int all, const char *b0,
                       const char *b1)
{
    if (nfiles != 1 || n <= 1)
        return sites_report(f, runs, n, b0, b1);
    const char *why;
    int m = run_main(runs, n, run_process_choice, &why);
    if (m < 0)
        return error("report: no process matches --process %s", run_process_choice);
    if (!all)
        return sites_report(f, runs + m, 1, b0, b1);
    struct run t = runs[0];            /* the main process first */
    runs[0] = runs[m];
    runs[m] = t;
    int rc = sites_report(f, runs, n, b0, b1);
    runs[m] = runs[0];
    runs[0] = t;
    return rc;
}

json_t *sites_to_json(const struct run *r)
{
    struct sites s;
    if (sites_load(r, &s, NULL, NULL) <= 0)
        return NULL;
    qsort(s.v, (size_t)s.n, sizeof *s.v, by_alloc);
    json_t *arr = json_array();
    for (int i = 0; i < s.n; i++) {
        struct site *x = &s.v[i];
        json_t *fr = json_array();
        for (int k = 0; k < x->nframes; k++) {
            struct sym_frame *y = &x->frames[k];
            json_t *o = json_pack("{s:o}", "fn", json_text(y->fn));
            json_object_set_new(o, "file", json_text(y->file));
            json_object_set_new(o, "line", y->line ? json_integer(y->line) : json_null());
            json_object_set_new(o, "module", json_text(y->module));
            if (y->inlined)
                json_object_set_new(o, "inlined", json_true());
            if (y->python)
                json_object_set_new(o, "python", json_true());
            json_array_append_new(fr, o);
        }
        json_t *o = json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "frames", fr,
                              "live_bytes", (json_int_t)x->live_bytes,
                              "live_blocks", (json_int_t)x->live_blocks,
                              "peak_bytes", (json_int_t)x->peak_bytes,
                              "peak_blocks", (json_int_t)x->peak_blocks,
                              "alloc_bytes", (json_int_t)x->alloc_bytes,
                              "allocs", (json_int_t)x->allocs, "estimated", s.estimated);
        if (x->resident >= 0)
            json_object_set_new(o, "resident_bytes", json_integer((json_int_t)x->resident));
        if (x->lost_bytes >= 0) {
            json_object_set_new(o, "lost_bytes", json_integer((json_int_t)x->lost_bytes));
            json_object_set_new(o, "lost_blocks", json_integer((json_int_t)x->lost_blocks));
        }
        if (x->peak_resident >= 0)
            json_object_set_new(o, "peak_resident_bytes",
                                json_integer((json_int_t)x->peak_resident));
        if (s.estimated) {
            json_object_set_new(o, "samples", json_integer((json_int_t)x->samples));
            json_object_set_new(o, "rse_alloc",
                                x->samples > 0 ? json_real(1 / sqrt(x->samples)) : json_null());
            json_object_set_new(o, "rse_live", x->live_samples > 0
                                ? json_real(1 / sqrt(x->live_samples)) : json_null());
        }
        if (x->truncated)
            json_object_set_new(o, "truncated", json_true());
        if (s.ndump) {
            json_t *dv = json_object();
            for (int k = 0; k < s.ndump; k++)
                json_object_set_new(dv, json_string_value(json_object_get(s.dump[k], "label")) ?: "",
                                    json_integer((json_int_t)x->dump_bytes[k]));
            json_object_set_new(o, "dump_bytes", dv);
        }
        json_array_append_new(arr, o);
    }
    sites_free(&s);
    return arr;
}

/* ---- diff: sites matched by their symbolised stacks ------------------------ */

struct dsite { char *key; double alloc[2], live[2], peak[2]; };

static int by_change(const void *x, const void *y)
{
    const struct dsite *a = x, *b = y;
    double ca = fabs(a->alloc[1] - a->alloc[0]) + fabs(a->live[1] - a->live[0]);
    double cb = fabs(b->alloc[1] - b->alloc[0]) + fabs(b->live[1] - b->live[0]);
    return ca < cb ? 1 : ca > cb ? -1 : strcmp(a->key, b->key);
}

static void diff_add(json_t *rows, const char *key, const char *fig, double a, double b,
                     double noise)
{
    char name[2200];
    snprintf(name, sizeof name, "site.%s.%s", key, fig);
    double pct = a != 0 ? (b - a) / fabs(a) * 100.0 : NAN;
    json_t *o = json_pack("{s:o, s:b, s:f, s:f, s:f}", "figure", json_text(name), "marked",
                          (a == 0) != (b == 0) || (!isnan(pct) && fabs(pct) > noise), "a", a,
                          "b", b, "change", b - a);
    json_object_set_new(o, "pct", isnan(pct) ? json_null() : json_real(pct));
    json_array_append_new(rows, o);
}

void sites_diff(FILE *f, const struct run *ra, const struct run *rb, json_t *json_rows,
                double noise)
{
    struct sites s[2];
    int got[2];
    /* a heap not counted has no sites: none is "gone" or -100% */
    if (!ra->heap_counted || !rb->heap_counted) {
        if (!json_rows)
            fprintf(f, "\nallocation sites: not compared, the heap of %s was not counted\n",
                    ra->heap_counted ? "B" : rb->heap_counted ? "A" : "A and B");
        return;
    }
    got[0] = sites_load(ra, &s[0], NULL, NULL);
    got[1] = sites_load(rb, &s[1], NULL, NULL);
    if (got[0] > 0 || got[1] > 0) {
        json_t *index = json_object();
        struct dsite *d = NULL;
        size_t nd = 0;
        for (int w = 0; w < 2; w++) {
            for (int i = 0; got[w] > 0 && i < s[w].n; i++) {
                struct site *x = &s[w].v[i];
                char key[2048];
                chain_text(x, key, sizeof key, 3);
                json_t *v = json_object_get(index, key);
                if (!v) {
                    d = realloc(d, (nd + 1) * sizeof *d);
                    memset(&d[nd], 0, sizeof *d);
                    d[nd].key = strdup(key);
                    v = json_integer((json_int_t)nd++);
                    json_object_set_new(index, key, v);
                }
                struct dsite *e = &d[json_integer_value(v)];
                e->alloc[w] += x->alloc_bytes;
                e->live[w] += x->live_bytes;
                e->peak[w] += x->peak_bytes;
            }
        }
        qsort(d, nd, sizeof *d, by_change);
        if (json_rows) {
            for (size_t i = 0; i < nd; i++) {
                diff_add(json_rows, d[i].key, "alloc_bytes", d[i].alloc[0], d[i].alloc[1], noise);
                diff_add(json_rows, d[i].key, "live_bytes", d[i].live[0], d[i].live[1], noise);
                diff_add(json_rows, d[i].key, "peak_bytes", d[i].peak[0], d[i].peak[1], noise);
            }
        } else {
            fprintf(f, "\nallocation sites (matched by their symbolised stacks), the %d that "
                       "changed most:\n", nd < TOP ? (int)nd : TOP);
            fprintf(f, "  %12s %12s %12s %12s %12s  %s\n", "alloc A", "alloc B", "live A",
                    "live B", "change", "site");
            for (size_t i = 0; i < nd && i < TOP; i++) {
                char a[32], b[32], c[32], e[32], g[32];
                bytes_text(a, sizeof a, d[i].alloc[0]);
                bytes_text(b, sizeof b, d[i].alloc[1]);
                bytes_text(c, sizeof c, d[i].live[0]);
                bytes_text(e, sizeof e, d[i].live[1]);
                double pct = d[i].alloc[0] ? (d[i].alloc[1] - d[i].alloc[0]) / d[i].alloc[0] * 100
                                           : 0;
                if (!d[i].alloc[0])
                    snprintf(g, sizeof g, "new");
                else if (!d[i].alloc[1])
                    snprintf(g, sizeof g, "gone");
                else
                    snprintf(g, sizeof g, "%+.1f%%", pct);
                fprintf(f, "%s %12s %12s %12s %12s %12s  %s\n",
                        fabs(pct) > noise || !d[i].alloc[0] || !d[i].alloc[1] ? "!" : " ",
                        a, b, c, e, g, d[i].key);
            }
        }
        for (size_t i = 0; i < nd; i++)
            free(d[i].key);
        free(d);
        json_decref(index);
    }
    for (int w = 0; w < 2; w++)
        if (got[w] >= 0)
            sites_free(&s[w]);
}
