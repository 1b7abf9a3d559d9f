/*
 * value.c - the figures of a run by name: a summary key (`peak_rss_bytes`),
 * `probe.LABEL.FIELD`, `region.PATH.FIELD` (split at the last dot, so
 * labels and paths may contain dots) or `tree.FIELD` (the whole process
 * tree's totals, tree.c).
 *
 * A few summary figures are derived from the samples rather than stored:
 * cpu_pct_mean and cpu_pct_max (CPU time over wall time, in % of one core,
 * the mean from the CPU the image used after its t_s = 0;
 * the max over any window of at least a second), avg_rss_bytes and
 * avg_heap_bytes (time-weighted over the samples).
 *
 * `check` and `diff` name their figures this way, `report` adds the derived
 * ones to its summary, and `run -n` tabulates them across repeats.
 */
#define _GNU_SOURCE
#include "read/read.h"

#include <math.h>
#include <string.h>

static double num(json_t *o, const char *k)
{
    return json_num(o, k, NAN);
}

/* ---- naming a figure -------------------------------------------------------- */

/* Calls fn for the field after the last dot of KEY in every element of
 * ARRAY whose NAME_KEY equals the part of KEY between PREFIX and that dot. */
static int each_named(json_t *array, const char *name_key, const char *key, size_t prefix,
                      void (*fn)(void *, const char *, double), void *ctx)
{
    const char *dot = strrchr(key, '.');
    size_t n = (size_t)(dot - key) - prefix, i;
    json_t *p;
    int found = 0;
    json_array_foreach(array, i, p) {
        const char *name = json_string_value(json_object_get(p, name_key));
        double v = num(p, dot + 1);
        if (name && strlen(name) == n && !strncmp(name, key + prefix, n) && !isnan(v)) {
            fn(ctx, key, v);
            found++;
        }
    }
    return found;
}

/* ---- figures derived from the samples ------------------------------------------ */

#define CPU_WINDOW_S 1.0

/* time-weighted mean of sample field F, each value held until the next
 * sample (the last one until the end of the run) */
static double avg_sampled(const struct run *r, const char *f)
{
    size_t n = json_array_size(r->samples);
    double end = json_num(r->summary, "wall_s", NAN), sum = 0, span = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(r->samples, i);
        double t = num(s, "t_s"), v = num(s, f);
        double next = i + 1 < n ? num(json_array_get(r->samples, i + 1), "t_s") : end;
        if (isnan(t) || isnan(v) || isnan(next) || next < t)
            continue;
        sum += v * (next - t);
        span += next - t;
    }
    if (span > 0)
        return sum / span;
    return n ? num(json_array_get(r->samples, n - 1), f) : NAN;
}

/* the highest CPU share over any window of at least CPU_WINDOW_S */
static double cpu_pct_max(const struct run *r)
{
    size_t n = json_array_size(r->samples), j = 0;
    double best = NAN;
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(r->samples, i);
        double ti = num(a, "t_s"), ci = num(a, "user_s") + num(a, "sys_s");
        while (j + 1 < i && ti - num(json_array_get(r->samples, j + 1), "t_s") >= CPU_WINDOW_S)
            j++;
        json_t *b = json_array_get(r->samples, j);
        double tj = num(b, "t_s"), cj = num(b, "user_s") + num(b, "sys_s");
        if (ti - tj >= CPU_WINDOW_S && !isnan(ci) && !isnan(cj)) {
            double pct = (ci - cj) / (ti - tj) * 100.0;
            if (isnan(best) || pct > best)
                best = pct;
        }
    }
    return best;
}

/* The bytes the leak check (--stacks all) found unreachable at exit: the
 * exit sites record's rows and its rest; NAN without one. */
static double leaked_definitely(const struct run *r)
{
    json_t *o, *found = NULL;
    size_t i;
    json_array_foreach(r->site_records, i, o)
        if (!strcmp(json_string_value(json_object_get(o, "type")) ?: "", "sites") &&
            !strcmp(json_string_value(json_object_get(o, "at")) ?: "", "exit"))
            found = o;
    json_t *rest = json_object_get(found, "rest");
    if (!found || !json_object_get(rest, "lost_bytes"))
        return NAN;
    double sum = json_num(rest, "lost_bytes", 0);
    json_array_foreach(json_object_get(found, "rows"), i, o)
        sum += json_num(o, "lost_bytes", 0);
    return sum;
}

static double derived(const struct run *r, const char *key)
{
    /* the CPU of this image's own wall time: the summary's figures are
     * the process's, from its start (the loader, and the images before an
     * exec), less what it had used at t_s = 0 (files before cpu_before_s:
     * nothing taken off) */
    double wall = num(r->summary, "wall_s");
    double before = json_num(r->header, "cpu_before_s", 0);
    double cpu = num(r->summary, "cpu_user_s") + num(r->summary, "cpu_sys_s") - before;
    double mean = wall > 0 ? (cpu > 0 ? cpu : 0) / wall * 100.0 : NAN;
    if (!strcmp(key, "cpu_pct_mean"))
        return mean;
    if (!strcmp(key, "cpu_pct_max")) {
        double m = cpu_pct_max(r);
        return isnan(m) ? mean : m;      /* a run shorter than a window */
    }
    if (!strcmp(key, "avg_rss_bytes"))
        return avg_sampled(r, "rss");
    if (!strcmp(key, "avg_heap_bytes"))
        return avg_sampled(r, "heap");
    if (!strcmp(key, "leaked_definitely_bytes"))
        return leaked_definitely(r);
    return NAN;
}

/* Every value KEY names in R (probes may repeat a label): calls fn for each;
 * returns how many there were. */
int run_each_value(const struct run *r, const char *key,
                   void (*fn)(void *, const char *, double), void *ctx)
{
    const char *dot = strrchr(key, '.');
    if (!strncmp(key, "probe.", 6) && dot > key + 6)
        return each_named(r->probes, "label", key, 6, fn, ctx);
    if (!strncmp(key, "region.", 7) && dot > key + 7)
        return each_named(r->regions, "path", key, 7, fn, ctx);
    if (!strncmp(key, "tree.", 5)) {       /* the whole process tree (tree.c) */
        double t = json_num(json_object_get(r->tree, "totals"), key + 5, NAN);
        if (isnan(t))
            return 0;
        fn(ctx, key, t);
        return 1;
    }
    double v = num(r->summary, key);
    if (isnan(v))
        v = derived(r, key);
    if (isnan(v))
        return 0;
    fn(ctx, key, v);
    return 1;
}

static void first_value(void *ctx, const char *key, double v)
{
    (void)key;
    double *out = ctx;
    if (isnan(*out))
        *out = v;
}

int run_value(const struct run *r, const char *key, double *out)
{
    *out = NAN;
    run_each_value(r, key, first_value, out);
    return isnan(*out) ? -1 : 0;
}
